/* A CPU on a small machine for the system-semantics tests: flat 32-bit
 * protected mode (MACH_BOOT_FLAT32), a GDT, IDT and TSS written into RAM
 * at fixed addresses, and helpers that execute one instruction given as
 * bytes (through hlp_exec_system) or deliver an event, catching what they
 * raise. */
#ifndef TEST_HLP_FIXTURE_H
#define TEST_HLP_FIXTURE_H

#include <criterion/criterion.h>

#include "vmm_helpers/vmm_helpers.h"

/* Guest-physical layout (paging off, so linear = physical). */
#define FX_GDT 0x1000u
#define FX_IDT 0x2000u
#define FX_TSS 0x3000u   /* 32-bit TSS of the running task, I/O bitmap at +0x68 */
#define FX_TSS2 0x3800u  /* a second task */
#define FX_LDT 0x4000u
#define FX_HANDLER 0x5000u
#define FX_KSTACK 0x9000u /* TSS ESP0 */
#define FX_USTACK 0x8000u
#define FX_CODE 0x10000u

/* GDT selectors. */
enum {
    FX_KCODE = 0x08, FX_KDATA = 0x10, FX_UCODE = 0x1B, FX_UDATA = 0x23,
    FX_TSS_SEL = 0x28, FX_TSS2_SEL = 0x30, FX_LDT_SEL = 0x38,
    FX_FREE = 8, /* first free GDT index */
    FX_GDT_ENTRIES = 32,
};

/* Access bytes (SDM Vol. 3A Table 3-1, 3-2). */
#define A_P 0x80
#define A_DPL(n) ((n) << 5)
#define A_S 0x10
#define A_CODE 0x08
#define A_CONF 0x04
#define A_RW 0x02
#define A_ACC 0x01
#define F_G 0x8
#define F_DB 0x4

extern struct machine *fx_m;
extern struct hlp_cpu fx_cpu;
extern uint8_t *fx_ram;

void fx_setup(void);
void fx_teardown(void);

uint64_t fx_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
uint64_t fx_gate(uint32_t offset, uint16_t sel, unsigned type, unsigned dpl, unsigned params);
void fx_gdt_set(unsigned index, uint64_t d);
uint64_t fx_gdt_get(unsigned index);
void fx_idt_set(unsigned vector, uint64_t gate);

void fx_wr8(uint32_t pa, uint8_t v);
void fx_wr16(uint32_t pa, uint16_t v);
void fx_wr32(uint32_t pa, uint32_t v);
uint32_t fx_rd32(uint32_t pa);
uint16_t fx_rd16(uint32_t pa);

/* Makes the CPU run at CPL 3 with the flat user segments and ESP. */
void fx_enter_ring3(uint32_t esp);

/* Outcome of an instruction or delivery. */
#define FX_OK (-1)
#define FX_STOPPED (-2)
/* Executes the instruction `bytes` at cpu->eip (decoded in the current
 * mode); returns FX_OK, FX_STOPPED, or the vector raised (error code in
 * fx_cpu.pending_error). */
int fx_exec(const uint8_t *bytes, size_t len);
#define FX_EXEC(...)                                                         \
    ({                                                                       \
        const uint8_t fx_b_[] = {__VA_ARGS__};                               \
        fx_exec(fx_b_, sizeof fx_b_);                                        \
    })
/* hlp_deliver under a catch point: FX_OK or FX_STOPPED. */
int fx_deliver(unsigned vector, int32_t error, enum hlp_event_kind kind);

#endif
