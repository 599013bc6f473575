/* vmm_helpers/ public interface, part 2: the guest CPU state shared by the
 * interpreter, the translator's helpers and the KVM engine's register
 * exchange, and the contract between the instruction executors and the
 * system-semantics helpers. Included only by vmm_helpers/vmm_helpers.h,
 * after the CPU model it embeds.
 *
 * Ownership of the code behind it:
 *   hlp_mem.c ...   segmented memory access (limit/type checks, softmmu)
 *   hlp_seg.c ...   descriptor loads and every protection check on them
 *   hlp_except.c    exception/interrupt delivery: IVT, interrupt/trap/task
 *                   gates, stack switches, #DF and triple fault
 *   hlp_sys*.c      the privileged and sensitive instructions (hlp_exec_system)
 *   interp*.c       the interpreter: decode cache, integer ISA, engine
 *   fpu*.c          x87 (and MMX/SSE as far as the CPU model advertises)
 *
 * Faults: a helper that finds an architectural fault calls hlp_raise(),
 * which never returns: it longjmps to the engine's catch point
 * (cpu->fault_jmp, armed with hlp_catch()). Everything an instruction
 * changes is committed only after its last possible fault, so a raised
 * fault finds the guest state exactly as before the instruction (cpu->eip
 * still at its first byte), as the SDM requires of faults (Vol. 3A 6.5).
 * The engine then calls hlp_deliver_pending(). */
#ifndef POPEK_HLP_CPU_H
#define POPEK_HLP_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "decoder/decoder.h"
#include "machine/machine.h"
#include "softmmu/softmmu.h"

/* General registers in encoding order (SDM Vol. 2A Table 2-2). */
enum hlp_gpr { HLP_EAX, HLP_ECX, HLP_EDX, HLP_EBX, HLP_ESP, HLP_EBP, HLP_ESI, HLP_EDI };

/* Segment registers in Sreg order: the same numbers as enum dec_seg. */
enum hlp_sreg { HLP_ES, HLP_CS, HLP_SS, HLP_DS, HLP_FS, HLP_GS };
_Static_assert((int)HLP_ES == (int)DEC_SEG_ES && (int)HLP_CS == (int)DEC_SEG_CS &&
                   (int)HLP_SS == (int)DEC_SEG_SS && (int)HLP_DS == (int)DEC_SEG_DS &&
                   (int)HLP_FS == (int)DEC_SEG_FS && (int)HLP_GS == (int)DEC_SEG_GS,
               "segment numbering shared with the decoder");

/* EFLAGS (SDM Vol. 1 3.4.3, Vol. 3A 2.3). */
enum {
    HLP_FL_CF = 1u << 0,
    HLP_FL_FIXED1 = 1u << 1, /* always 1 */
    HLP_FL_PF = 1u << 2,
    HLP_FL_AF = 1u << 4,
    HLP_FL_ZF = 1u << 6,
    HLP_FL_SF = 1u << 7,
    HLP_FL_TF = 1u << 8,
    HLP_FL_IF = 1u << 9,
    HLP_FL_DF = 1u << 10,
    HLP_FL_OF = 1u << 11,
    HLP_FL_IOPL = 3u << 12,
    HLP_FL_NT = 1u << 14,
    HLP_FL_RF = 1u << 16,
    HLP_FL_VM = 1u << 17,
    HLP_FL_AC = 1u << 18,
    HLP_FL_VIF = 1u << 19,
    HLP_FL_VIP = 1u << 20,
    HLP_FL_ID = 1u << 21,
};
#define HLP_FL_ARITH (HLP_FL_CF | HLP_FL_PF | HLP_FL_AF | HLP_FL_ZF | HLP_FL_SF | HLP_FL_OF)
_Static_assert(HLP_FL_IF == 0x200 && HLP_FL_IOPL == 0x3000 && HLP_FL_VM == 0x20000 &&
                   HLP_FL_ID == 0x200000,
               "EFLAGS bit positions");

/* Control-register bits not already in softmmu.h (SDM Vol. 3A 2.5). */
enum {
    HLP_CR0_PE = 1u << 0,
    HLP_CR0_MP = 1u << 1,
    HLP_CR0_EM = 1u << 2,
    HLP_CR0_TS = 1u << 3,
    HLP_CR0_ET = 1u << 4,
    HLP_CR0_NE = 1u << 5,
    HLP_CR0_AM = 1u << 18,
    HLP_CR4_VME = 1u << 0,
    HLP_CR4_PVI = 1u << 1,
    HLP_CR4_TSD = 1u << 2,
    HLP_CR4_DE = 1u << 3,
    HLP_CR4_OSFXSR = 1u << 9,
    HLP_CR4_OSXMMEXCPT = 1u << 10,
};
_Static_assert(HLP_CR4_OSFXSR == 0x200 && HLP_CR4_OSXMMEXCPT == 0x400,
               "CR4.OSFXSR is bit 9, OSXMMEXCPT bit 10");

/* Debug registers (SDM Vol. 3A 17.2): indexes into hlp_cpu.dr and DR6 bits. */
enum { HLP_DR6 = 6, HLP_DR7 = 7 };
enum {
    HLP_DR6_B0 = 1u << 0, /* B0-B3: breakpoint n matched */
    HLP_DR6_BD = 1u << 13, /* debug-register access with DR7.GD */
    HLP_DR6_BS = 1u << 14, /* single step */
    HLP_DR6_BT = 1u << 15, /* task switch to a TSS with the T flag */
};

/* Exception vectors (SDM Vol. 3A Table 6-1). */
enum hlp_vector {
    HLP_VEC_DE = 0, HLP_VEC_DB = 1, HLP_VEC_NMI = 2, HLP_VEC_BP = 3, HLP_VEC_OF = 4,
    HLP_VEC_BR = 5, HLP_VEC_UD = 6, HLP_VEC_NM = 7, HLP_VEC_DF = 8, HLP_VEC_TS = 10,
    HLP_VEC_NP = 11, HLP_VEC_SS = 12, HLP_VEC_GP = 13, HLP_VEC_PF = 14, HLP_VEC_MF = 16,
    HLP_VEC_AC = 17, HLP_VEC_MC = 18, HLP_VEC_XM = 19,
};
#define HLP_NO_ERROR_CODE (-1)

/* A segment register with its hidden part (SDM Vol. 3A 3.4.3). attr uses
 * the VMX access-rights layout (SDM Vol. 3C 24.4.1): bits 0-3 type, 4 S,
 * 5-6 DPL, 7 P, 12 AVL, 14 D/B, 15 G, 16 "unusable" (a null selector was
 * loaded in protected mode). limit is the expanded byte limit. */
struct hlp_seg {
    uint16_t sel;
    uint32_t base;
    uint32_t limit;
    uint32_t attr;
};
enum {
    HLP_SEG_TYPE = 0xF,
    HLP_SEG_S = 1u << 4,
    HLP_SEG_DPL_SHIFT = 5,
    HLP_SEG_P = 1u << 7,
    HLP_SEG_AVL = 1u << 12,
    HLP_SEG_DB = 1u << 14,
    HLP_SEG_G = 1u << 15,
    HLP_SEG_UNUSABLE = 1u << 16,
};

struct hlp_dtr {
    uint32_t base;
    uint16_t limit;
};

/* x87/MMX/SSE state in the FXSAVE layout (SDM Vol. 1 Table 10-2), so the
 * translator can FXRSTOR it natively and the interpreter reads the same
 * bytes. */
struct hlp_fxstate {
    _Alignas(16) uint8_t bytes[512];
};

/* An engine that keeps the live x87 registers outside cpu->fx (the
 * translator runs x87 code natively, with the state in the host FPU)
 * points cpu->fx_owner at one of these while cpu->fx is stale; sync
 * writes the state back and clears cpu->fx_owner (hlp_fx_sync). */
struct hlp_cpu;
struct hlp_fx_owner {
    void (*sync)(struct hlp_fx_owner *owner, struct hlp_cpu *cpu);
};

struct hlp_cpu {
    uint32_t gpr[8];
    uint32_t eip;      /* first byte of the current instruction while it runs */
    uint32_t eflags;   /* all of EFLAGS; engines with lazy flags sync it */
    struct hlp_seg seg[6];
    struct hlp_seg ldtr, tr;
    struct hlp_dtr gdtr, idtr;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];    /* dr[n] is DRn: DR0-DR3, DR6 (dr[HLP_DR6]), DR7 (dr[HLP_DR7]);
                        * dr[4], dr[5] unused (DR4/DR5 alias DR6/DR7 without CR4.DE) */
    uint64_t efer;
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t misc_enable; /* IA32_MISC_ENABLE (hlp_sys_msr.c) */
    uint64_t tsc_offset; /* guest TSC = host-derived counter + offset */
    uint8_t cpl;
    bool halted;
    bool intr_shadow;  /* after STI, MOV SS, POP SS: no interrupt before the
                        * next instruction completes (SDM Vol. 3A 6.8.3) */
    uint8_t a20;       /* unused by the CPU, mirrors mmu state for traces */
    struct hlp_fxstate fx;
    struct hlp_fx_owner *fx_owner; /* non-NULL: cpu->fx is stale (hlp_fx_sync) */

    /* Debug bookkeeping of the current instruction (SDM Vol. 3A 17.3),
     * consumed by hlp_after_insn. */
    uint8_t dbg_hits;    /* DR6.B0-B3 of data breakpoints the instruction hit */
    bool dbg_keep_rf;    /* it loaded EFLAGS.RF (IRET, task switch) */
    bool dbg_event;      /* it delivered an event: no single-step trap */

    /* Exception bookkeeping for double/triple fault (SDM Vol. 3A Table 6-5). */
    int16_t delivering;  /* vector being delivered, -1 when none */
    uint8_t pending_vector;
    int32_t pending_error;

    struct machine *m;
    struct mmu mmu;
    struct hlp_cpu_model model;
    struct dec_ctx dec;
    jmp_buf *fault_jmp;  /* where hlp_raise goes */
};

/* Mode tests (SDM Vol. 3A 2.2, 20.1). */
static inline bool hlp_protected(const struct hlp_cpu *c) { return c->cr0 & HLP_CR0_PE; }
static inline bool hlp_v86(const struct hlp_cpu *c) { return c->eflags & HLP_FL_VM; }
static inline bool hlp_code32(const struct hlp_cpu *c)
{
    return hlp_protected(c) && !hlp_v86(c) && (c->seg[HLP_CS].attr & HLP_SEG_DB);
}
static inline unsigned hlp_iopl(const struct hlp_cpu *c) { return (c->eflags >> 12) & 3; }

/* ---- life cycle ------------------------------------------------------------
 * Initialises cpu for machine m: the softmmu, the decoder context, the CPU
 * model with the given hlp_cpu_option bits, and the state the machine's
 * boot descriptor asks for (reset state, multiboot, flat32, real). */
int hlp_cpu_init(struct hlp_cpu *cpu, struct machine *m, unsigned model_options,
                 struct mach_err *err);
void hlp_cpu_destroy(struct hlp_cpu *cpu);
/* The SDM's power-up/RESET state (Vol. 3A 9.1.1, Table 9-1). */
void hlp_cpu_reset(struct hlp_cpu *cpu);

/* Loads CS (selector and cache) and the CPL together: the one place the
 * privilege level changes, so the softmmu's user/supervisor checks
 * (mmu_acc(cpu->cpl, ...)) always follow CS. Real mode: CPL 0; V86: 3. */
void hlp_set_cs(struct hlp_cpu *cpu, const struct hlp_seg *cs, unsigned cpl);

/* ---- faults -------------------------------------------------------------------
 * The engine arms the catch point around guest execution:
 *     jmp_buf jb; cpu->fault_jmp = &jb;
 *     int why = setjmp(jb);   // 0 first time, else enum hlp_unwind
 * hlp_raise records the exception in pending_vector/pending_error and
 * longjmps with HLP_UNWIND_FAULT; hlp_stop (a VM error already recorded in
 * the machine's exit state, e.g. an access to missing memory) longjmps with
 * HLP_UNWIND_STOP. */
enum hlp_unwind { HLP_UNWIND_NONE = 0, HLP_UNWIND_FAULT = 1, HLP_UNWIND_STOP = 2 };
_Noreturn void hlp_raise(struct hlp_cpu *cpu, unsigned vector, int32_t error_code);
_Noreturn void hlp_stop(struct hlp_cpu *cpu);
/* Raises the fault an mmu_result describes (#PF with CR2, #GP from a PDPTE
 * load) or stops the VM for MMU_BAD_PHYS. */
_Noreturn void hlp_raise_mmu(struct hlp_cpu *cpu, enum mmu_result r, const struct mmu_fault *f);

/* ---- delivery (hlp_except.c) ----------------------------------------------------
 * Delivers an exception or interrupt through the IVT (real mode), the IDT
 * (interrupt, trap and task gates, with privilege and stack switches, V86
 * exits) as SDM Vol. 3A 6.12 / 20.3 say, turning a fault during delivery
 * into #DF and a fault during #DF into a triple fault (the machine stops
 * with MACH_EXIT_TRIPLE_FAULT and hlp_stop). cpu->eip is the return
 * address pushed: the faulting instruction for faults, the next one for
 * traps and INT n. */
enum hlp_event_kind {
    HLP_EVENT_EXCEPTION, /* fault or trap raised by an instruction */
    HLP_EVENT_EXTERNAL,  /* INTR from the PIC (no error code, IDT gate DPL ignored) */
    HLP_EVENT_SOFTWARE,  /* INT n, INT3, INTO: gate DPL checked against CPL,
                          * V86 IOPL rules */
    HLP_EVENT_ICEBP,     /* INT1 (F1): like an exception, no DPL check */
};
void hlp_deliver(struct hlp_cpu *cpu, unsigned vector, int32_t error_code,
                 enum hlp_event_kind kind);
/* Delivers cpu->pending_vector/pending_error after HLP_UNWIND_FAULT. */
void hlp_deliver_pending(struct hlp_cpu *cpu);
/* Whether an external interrupt may be taken now (IF, interrupt shadow). */
bool hlp_intr_window(const struct hlp_cpu *cpu);

/* ---- segmented memory access (hlp_mem.c) -------------------------------------------
 * seg is enum hlp_sreg; off the offset within it. Checks the segment's
 * limit (expand-up/down, 16/32-bit), type (write to read-only data or code,
 * read of execute-only code), usability, then pages through the softmmu at
 * the current CPL. #GP(0) or #SS(0) as SDM Vol. 3A 5.3 / 6.15 say. */
uint8_t hlp_read8(struct hlp_cpu *cpu, unsigned seg, uint32_t off);
uint16_t hlp_read16(struct hlp_cpu *cpu, unsigned seg, uint32_t off);
uint32_t hlp_read32(struct hlp_cpu *cpu, unsigned seg, uint32_t off);
uint64_t hlp_read64(struct hlp_cpu *cpu, unsigned seg, uint32_t off);
void hlp_write8(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint8_t v);
void hlp_write16(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint16_t v);
void hlp_write32(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint32_t v);
void hlp_write64(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint64_t v);
/* Checks that [off, off+len) of seg may be written (read-modify-write and
 * multi-part stores check everything before the first byte moves). */
void hlp_check_write(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint32_t len);
/* Linear accesses for system structures (GDT, LDT, IDT, TSS): supervisor
 * accesses whatever the CPL (SDM Vol. 3A 4.6). */
uint32_t hlp_read_sys32(struct hlp_cpu *cpu, uint32_t lin);
uint64_t hlp_read_sys64(struct hlp_cpu *cpu, uint32_t lin);
void hlp_write_sys32(struct hlp_cpu *cpu, uint32_t lin, uint32_t v);
/* Stack helpers at the current SS with its B bit deciding ESP vs SP;
 * size 2 or 4. Push checks before it stores and only then moves ESP. */
void hlp_push(struct hlp_cpu *cpu, uint32_t v, unsigned size);
uint32_t hlp_pop(struct hlp_cpu *cpu, unsigned size);

/* ---- segments (hlp_seg.c) ------------------------------------------------------------
 * MOV/POP to a segment register, LDS.., with every check of SDM Vol. 3A
 * 5.4-5.6 and the instruction pages (null selectors, type, DPL/RPL/CPL,
 * present -> #NP/#SS, limits -> #GP(selector)). Real and V86 mode: base =
 * sel << 4 and the rest kept (unreal mode works). */
void hlp_load_sreg(struct hlp_cpu *cpu, unsigned seg, uint16_t sel);
/* Reads the 8-byte descriptor for sel from the GDT or LDT; #GP(sel & ~3)
 * (or vector `vec`) beyond the table's limit. */
uint64_t hlp_read_descriptor(struct hlp_cpu *cpu, uint16_t sel, unsigned vec);
/* The hidden part a descriptor gives (base, expanded limit, attr). */
void hlp_seg_from_descriptor(struct hlp_seg *s, uint16_t sel, uint64_t desc);

/* ---- system instructions (hlp_sys*.c) ------------------------------------------------
 * Executes one instruction of class DEC_CLASS_PRIVILEGED, _SENSITIVE,
 * _IOPL or _IO (and the far control transfers, INT n/INT3/INTO/INT1, IRET,
 * SYSENTER/SYSEXIT, HLT, segment register moves, LAR/LSL/VERR/VERW, POPF,
 * PUSHF, CPUID, RDTSC, RDMSR, WRMSR, ...) with cpu->eip at its first byte;
 * on return cpu->eip and everything else reflect its completion (or a
 * delivered software interrupt). Faults are raised (hlp_raise). The
 * interpreter and the translator's helper calls both come here: one
 * implementation of the virtualization-sensitive semantics.
 * Returns false when d is not a system instruction (the caller executes
 * it). */
bool hlp_exec_system(struct hlp_cpu *cpu, const struct dec_insn *d);

/* Full EFLAGS write with the privilege rules of POPF/IRET (SDM Vol. 2B
 * POPF: IOPL only at CPL 0, IF only when CPL <= IOPL, VM/RF/VIP/VIF
 * untouched, V86 with IOPL < 3 and CR4.VME rules). size 2 or 4. */
void hlp_write_eflags_popf(struct hlp_cpu *cpu, uint32_t value, unsigned size);

/* I/O permission (SDM Vol. 1 19.5): CPL <= IOPL, else the TSS I/O bitmap;
 * raises #GP(0) when denied. */
void hlp_check_io(struct hlp_cpu *cpu, uint16_t port, unsigned size);

/* ---- debug (hlp_debug.c) ----------------------------------------------------------------
 * The engine's side of the debug architecture (SDM Vol. 3A 17.2-17.3):
 *  - before each instruction: cpu->intr_shadow = false after the interrupt
 *    window was tested (the shadow covers exactly one instruction), and
 *    hlp_check_code_breakpoint(cpu) when hlp_dbg_armed(cpu) (it raises the
 *    #DB fault of an enabled instruction breakpoint at cpu->eip unless
 *    EFLAGS.RF is set);
 *  - on every data access with hlp_dbg_armed(cpu):
 *    hlp_check_data_breakpoint(cpu, lin, len, is_write) (records the hit;
 *    the trap comes after the instruction);
 *  - after each instruction that completed (not one that faulted), with
 *    cpu->eip at the next instruction: hlp_after_insn(cpu, eflags before the
 *    instruction), which clears RF, and delivers the #DB trap for a single
 *    step (TF at the start) or data breakpoint hits. */
static inline bool hlp_dbg_armed(const struct hlp_cpu *cpu) { return (cpu->dr[7] & 0xFF) != 0; }
void hlp_check_code_breakpoint(struct hlp_cpu *cpu);
void hlp_check_data_breakpoint(struct hlp_cpu *cpu, uint32_t lin, unsigned len, bool is_write);
void hlp_after_insn(struct hlp_cpu *cpu, uint32_t eflags_at_start);

/* ---- x87, MMX and SSE (fpu*.c) --------------------------------------------------------
 * Executes one instruction with DEC_F_X87 or DEC_F_SIMD that is not a
 * system instruction, with cpu->eip at its first byte; raises #UD for what
 * the CPU model does not advertise, #NM/#MF/#XM as the SDM says; on return
 * cpu->eip is past it. Returns false when d is not such an instruction.
 * FNSTENV, FNSAVE, FXSAVE and FXRSTOR are DEC_CLASS_SENSITIVE but are
 * executed here too: whoever receives them (hlp_exec_system) forwards
 * DEC_F_X87/DEC_F_SIMD instructions to this function. */
bool hlp_exec_fpu(struct hlp_cpu *cpu, const struct dec_insn *d);
/* Brings cpu->fx up to date before anything reads or writes it (the
 * fpu*.c entry points, reset). */
static inline void hlp_fx_sync(struct hlp_cpu *cpu)
{
    if (cpu->fx_owner)
        cpu->fx_owner->sync(cpu->fx_owner, cpu);
}

/* ---- the interpreter engine (interp*.c) ----------------------------------------------- */
extern const struct mach_engine interp_engine;

#endif
