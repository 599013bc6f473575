/* Between the runtime's own files (not for tests). */
#ifndef GUEST_RT_INTERNAL_H
#define GUEST_RT_INTERNAL_H

#include "guest.h"

/* cpu.c */
void rt_cpu_init(void);
void rt_trap_dispatch(struct trap_frame *f);

/* entry.asm */
extern const uint32_t rt_isr_stubs[256];
__attribute__((noreturn)) void rt_enter_user(uint32_t eip, uint32_t esp, uint32_t eflags);

/* rt.c, called by entry.asm */
void rt_main(uint32_t magic, uint32_t mbi);

#endif
