/* vmm_helpers/ internal: what the system-semantics files (hlp_init.c,
 * hlp_seg.c, hlp_except.c, hlp_far.c, hlp_iret.c, hlp_task.c, hlp_sys*.c,
 * hlp_io.c, hlp_debug.c) share. Not for engines: they use hlp_cpu.h. */
#ifndef POPEK_HLP_SYS_INTERNAL_H
#define POPEK_HLP_SYS_INTERNAL_H

#include "vmm_helpers/vmm_helpers.h"

/* ---- descriptors (SDM Vol. 3A 3.4.5, Figure 3-8; 6.11, Figure 6-2) ------------ */

/* Type field of code and data descriptors (S = 1, Table 3-1). */
enum {
    DESC_T_ACCESSED = 1u << 0,
    DESC_T_RW = 1u << 1,       /* data: writable; code: readable */
    DESC_T_DC = 1u << 2,       /* data: expand-down; code: conforming */
    DESC_T_CODE = 1u << 3,
};

/* System descriptor types (S = 0, Table 3-2). */
enum hlp_sys_type {
    SYS_TSS16_AVL = 0x1,
    SYS_LDT = 0x2,
    SYS_TSS16_BUSY = 0x3,
    SYS_CALL16 = 0x4,
    SYS_TASK = 0x5,
    SYS_INT16 = 0x6,
    SYS_TRAP16 = 0x7,
    SYS_TSS32_AVL = 0x9,
    SYS_TSS32_BUSY = 0xB,
    SYS_CALL32 = 0xC,
    SYS_INT32 = 0xE,
    SYS_TRAP32 = 0xF,
};
#define SYS_TSS_BUSY_BIT 0x2u /* type bit 1 tells busy from available TSS */

/* The access-rights word of hlp_seg.attr is descriptor bits 40-55 less
 * the limit nibble (bits 48-51): VMX layout, SDM Vol. 3C 24.4.1. */
#define DESC_ATTR_MASK 0xF0FFu
_Static_assert(HLP_SEG_P == 0x80 && HLP_SEG_DB == 0x4000 && HLP_SEG_G == 0x8000,
               "attr keeps descriptor bits 40-47 and 52-55 in place");

static inline uint32_t desc_attr(uint64_t d) { return (uint32_t)(d >> 40) & DESC_ATTR_MASK; }
static inline unsigned desc_type(uint64_t d) { return (unsigned)(d >> 40) & 0xF; }
static inline bool desc_is_seg(uint64_t d) { return (d >> 44) & 1; } /* S: code or data */
static inline unsigned desc_dpl(uint64_t d) { return (unsigned)(d >> 45) & 3; }
static inline bool desc_present(uint64_t d) { return (d >> 47) & 1; }
static inline bool desc_is_code(uint64_t d) { return desc_is_seg(d) && (desc_type(d) & DESC_T_CODE); }
static inline bool desc_conforming(uint64_t d)
{
    return desc_is_code(d) && (desc_type(d) & DESC_T_DC);
}
static inline uint32_t desc_base(uint64_t d)
{
    return (uint32_t)((d >> 16) & 0xFFFFFF) | (uint32_t)((d >> 56) << 24);
}
/* The byte limit: with G, the 20-bit limit counts 4-KByte units (3.4.5). */
static inline uint32_t desc_limit(uint64_t d)
{
    uint32_t l = (uint32_t)(d & 0xFFFF) | (uint32_t)((d >> 32) & 0xF0000);
    return (d >> 55) & 1 ? (l << 12) | 0xFFF : l;
}
/* Gates: selector 16-31, offset 0-15 and 48-63 (16-bit gates: 0-15 only),
 * call-gate parameter count 32-36. */
static inline uint16_t gate_sel(uint64_t d) { return (uint16_t)(d >> 16); }
static inline uint32_t gate_offset(uint64_t d)
{
    uint32_t off = (uint32_t)(d & 0xFFFF);
    if (desc_type(d) & 0x8) /* 32-bit gate types C, E, F */
        off |= (uint32_t)(d >> 48) << 16;
    return off;
}
static inline unsigned gate_params(uint64_t d) { return (unsigned)(d >> 32) & 0x1F; }

static inline unsigned seg_dpl(const struct hlp_seg *s) { return (s->attr >> HLP_SEG_DPL_SHIFT) & 3; }
static inline unsigned seg_type(const struct hlp_seg *s) { return s->attr & HLP_SEG_TYPE; }

/* Selector parts (3.4.2). */
#define SEL_RPL 3u
#define SEL_TI 4u
static inline bool sel_null(uint16_t sel) { return (sel & ~SEL_RPL) == 0; }

/* Error code for a selector (SDM Vol. 3A 6.13, Figure 6-7): index and TI,
 * plus EXT when the fault interrupts the delivery of an external event. */
static inline int32_t sel_err(uint16_t sel, unsigned ext) { return (int32_t)((sel & 0xFFFC) | ext); }
#define ERR_IDT 2u

/* ---- descriptor tables (hlp_seg.c) ------------------------------------------------ */

/* Like hlp_read_descriptor with an error code of choice (EXT set) for a
 * selector beyond its table: err_vec with sel_err(sel, ext). */
uint64_t hlp_fetch_descriptor(struct hlp_cpu *cpu, uint16_t sel, unsigned err_vec, unsigned ext);
/* Linear address of sel's descriptor (GDT or LDT), after the limit check. */
uint32_t hlp_descriptor_addr(struct hlp_cpu *cpu, uint16_t sel, unsigned err_vec, unsigned ext);
/* Sets the accessed bit (type bit 0) of a code or data descriptor in its
 * table, as the processor does on a segment load (3.4.5.1). */
void hlp_set_accessed(struct hlp_cpu *cpu, uint16_t sel, uint64_t desc);
/* Sets or clears a TSS descriptor's busy bit in the GDT (7.2.2). */
void hlp_set_tss_busy(struct hlp_cpu *cpu, uint16_t sel, bool busy);
/* A segment cache for real and V86 mode: base = sel << 4, and in V86 a
 * 64-KByte DPL-3 read/write data segment (SDM Vol. 3A 20.1.1). */
void hlp_seg_real(struct hlp_cpu *cpu, struct hlp_seg *s, unsigned sreg, uint16_t sel);
/* Protected-mode data-segment load checks for DS, ES, FS, GS (MOV, POP,
 * LDS.., far RET/IRET reloads are different): returns the cache to commit.
 * Raises #GP(sel)/#NP(sel) with the given EXT bit. */
struct hlp_seg hlp_check_data_seg(struct hlp_cpu *cpu, uint16_t sel, unsigned cpl, unsigned vec,
                                  unsigned ext);
/* SS load checks for the new CPL (MOV SS, task switch, stack switches):
 * RPL = DPL = cpl, writable data, present; bad ones raise `vec` (#GP for
 * MOV/POP SS, #TS for stack switches and task switches) and not present
 * #SS. */
struct hlp_seg hlp_check_stack_seg(struct hlp_cpu *cpu, uint16_t sel, unsigned cpl, unsigned vec,
                                   unsigned ext);
/* After a return to an outer level (RET far, IRET): ES, DS, FS, GS that
 * the new CPL may not use become null (SDM Vol. 2A RET, IRET). */
void hlp_null_inaccessible_segs(struct hlp_cpu *cpu);
/* The unusable cache a null selector gives in protected mode. */
void hlp_seg_null(struct hlp_seg *s, uint16_t sel);

/* ---- stacks being built (hlp_stack.c) -------------------------------------------
 * A stack that is not (yet) SS:ESP: the new stack of a privilege change, or
 * the current one before ESP is committed. Writes are at `cpl` (a ring-0
 * stack gets supervisor writes). */
struct hlp_stack {
    struct hlp_seg ss;
    uint32_t esp;    /* all 32 bits; with ss B = 0 only SP moves */
    unsigned cpl;
    int32_t err;     /* #SS error code when the stack has no room */
};
void hlp_stack_current(struct hlp_cpu *cpu, struct hlp_stack *st);
/* Raises #SS(err) unless `bytes` more can be pushed (5.3, expand-down). */
void hlp_stack_room(struct hlp_cpu *cpu, const struct hlp_stack *st, uint32_t bytes);
void hlp_stack_push(struct hlp_cpu *cpu, struct hlp_stack *st, uint32_t v, unsigned size);
/* The value `off` bytes above ESP of the current stack (not popped). */
uint32_t hlp_stack_peek(struct hlp_cpu *cpu, uint32_t off, unsigned size);
/* ESP after the stack pointer moved by delta, with SS.B deciding ESP/SP. */
uint32_t hlp_stack_adjust(const struct hlp_seg *ss, uint32_t esp, uint32_t delta);
/* Commits a stack: SS cache (when given) and ESP. */
void hlp_stack_commit(struct hlp_cpu *cpu, const struct hlp_stack *st);

/* ---- delivery, transfers and task switches ------------------------------------- */

/* Delivers a software interrupt (INT n, INT3, INTO, INT1 by kind) whose
 * return address is ret_eip, cpu->eip staying at the instruction for the
 * faults of the delivery (hlp_except.c). */
void hlp_deliver_soft(struct hlp_cpu *cpu, unsigned vector, enum hlp_event_kind kind,
                      uint32_t ret_eip);

/* Task switches (hlp_task.c, SDM Vol. 3A 7.3). */
enum hlp_task_reason { TASK_JMP, TASK_CALL, TASK_IRET, TASK_INT };
/* Switches to the task whose TSS selector is sel and descriptor desc; the
 * old task resumes at ret_eip. error_code (>= 0) is pushed on the new
 * task's stack for an exception. ext is the EXT bit of fault error codes. */
void hlp_task_switch(struct hlp_cpu *cpu, uint16_t sel, uint64_t desc, enum hlp_task_reason why,
                     uint32_t ret_eip, int32_t error_code, unsigned ext);

/* The stack pointer a TSS gives for privilege level cpl (7.2.1): #TS(TR)
 * when it lies beyond the TSS limit. */
void hlp_tss_stack(struct hlp_cpu *cpu, unsigned cpl, uint16_t *ss, uint32_t *esp, unsigned ext);

/* Far transfers (hlp_far.c) and returns (hlp_iret.c). */
void hlp_far_jmp(struct hlp_cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize,
                 uint32_t next_eip);
void hlp_far_call(struct hlp_cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize,
                  uint32_t next_eip);
void hlp_far_ret(struct hlp_cpu *cpu, unsigned opsize, uint16_t imm);
void hlp_iret(struct hlp_cpu *cpu, unsigned opsize, uint32_t next_eip);
/* The checks of the CS a far RET or IRET returns to (#GP(sel), #NP(sel)). */
uint64_t hlp_check_return_cs(struct hlp_cpu *cpu, uint16_t sel);
/* The outer-level SS of such a return: #GP(sel) unless RPL = DPL = rpl. */
struct hlp_seg hlp_check_return_ss(struct hlp_cpu *cpu, uint16_t ss_sel, unsigned rpl);

/* EFLAGS writes by IRET in protected mode (SDM Vol. 2A IRET): IF when
 * CPL <= IOPL, IOPL at CPL 0, VM/VIF/VIP at CPL 0 with 32 bits. cpl is the
 * CPL the IRET ran at. */
void hlp_write_eflags_iret(struct hlp_cpu *cpu, uint32_t value, unsigned size, unsigned cpl);

/* EFLAGS bits that exist on the popek CPU: a P6 with CPUID (ID) and
 * alignment checking (AC); no VME, so VIF/VIP exist only as IRET/task
 * images load them (SDM Vol. 1 3.4.3). */
#define HLP_FL_LIVE                                                                         \
    (HLP_FL_ARITH | HLP_FL_TF | HLP_FL_IF | HLP_FL_DF | HLP_FL_IOPL | HLP_FL_NT | HLP_FL_RF | \
     HLP_FL_VM | HLP_FL_AC | HLP_FL_VIF | HLP_FL_VIP | HLP_FL_ID)
static inline uint32_t hlp_eflags_fix(uint32_t v) { return (v & HLP_FL_LIVE) | HLP_FL_FIXED1; }

/* ---- operands of system instructions (hlp_sys_operand.c) ------------------------- */
uint32_t hlp_op_ea(const struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op);
uint32_t hlp_op_read(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op);
void hlp_op_write(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op,
                  uint32_t v);
/* Checks that op could be written, before anything else commits. */
void hlp_op_check_write(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op);
uint32_t hlp_gpr_get(const struct hlp_cpu *cpu, const struct dec_reg *r);
void hlp_gpr_set(struct hlp_cpu *cpu, const struct dec_reg *r, uint32_t v);
/* The address-size register (SI/ESI, CX/ECX...) and its update. */
uint32_t hlp_areg_get(const struct hlp_cpu *cpu, unsigned reg, unsigned addrsize);
void hlp_areg_set(struct hlp_cpu *cpu, unsigned reg, unsigned addrsize, uint32_t v);

/* ---- instruction groups of hlp_exec_system ---------------------------------------
 * Each returns false when d is not one of its instructions. */
bool hlp_exec_cr(struct hlp_cpu *cpu, const struct dec_insn *d);    /* hlp_sys_cr.c */
bool hlp_exec_desc(struct hlp_cpu *cpu, const struct dec_insn *d);  /* hlp_sys_desc.c */
/* I/O instructions set EIP themselves: a REP INS/OUTS may stop between
 * iterations with EIP still at the instruction. */
bool hlp_exec_io(struct hlp_cpu *cpu, const struct dec_insn *d, uint32_t next); /* hlp_io.c */
bool hlp_exec_msr(struct hlp_cpu *cpu, const struct dec_insn *d);   /* hlp_sys_msr.c */

/* Raises #GP(0) unless CPL is 0 (the privileged instructions, 2.8). */
void hlp_require_cpl0(struct hlp_cpu *cpu);

/* IA32_MISC_ENABLE after reset: fast strings enabled (bit 0), branch
 * trace storage and PEBS unavailable (bits 11, 12), performance
 * monitoring not available (bit 7 clear): Vol. 4 Table 2-2. */
#define HLP_MISC_ENABLE_RESET 0x1801u

/* The guest TSC (RDTSC, IA32_TSC). */
uint64_t hlp_tsc_read(const struct hlp_cpu *cpu);

#endif
