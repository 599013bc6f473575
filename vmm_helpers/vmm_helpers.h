/* vmm_helpers/ public interface: the guest CPU's system semantics shared by
 * every engine.
 *
 * Sections, one per concern (each implemented in its own file):
 *   - CPUID: the "popek CPU" model (cpuid.c)
 * The interpreter and the helpers for privileged and sensitive
 * instructions add their sections here. */
#ifndef POPEK_VMM_HELPERS_H
#define POPEK_VMM_HELPERS_H

#include <stdint.h>

/* ---- CPUID: the popek CPU ------------------------------------------------
 * One model of the virtual CPU that every engine presents, so a guest sees
 * the same processor on `kvm`, `bt` and `interp`: GenuineIntel, family 6
 * model 13 stepping 8 (the signature of a Pentium M, the last P6-class
 * core, which is exactly the P6 feature set plus SSE2), brand string
 * "popek virtual CPU", no local APIC. The base features are those every
 * engine implements; the SIMD extensions are options an engine leaves out
 * when it cannot execute them. cpuid.c documents each bit. */

/* CPUID.01H:EDX feature flags (Intel SDM Vol. 2A, CPUID, Table 3-11). */
enum hlp_cpuid_edx1 {
    HLP_CPUID_FPU = 1u << 0,
    HLP_CPUID_VME = 1u << 1,
    HLP_CPUID_DE = 1u << 2,
    HLP_CPUID_PSE = 1u << 3,
    HLP_CPUID_TSC = 1u << 4,
    HLP_CPUID_MSR = 1u << 5,
    HLP_CPUID_PAE = 1u << 6,
    HLP_CPUID_MCE = 1u << 7,
    HLP_CPUID_CX8 = 1u << 8,
    HLP_CPUID_APIC = 1u << 9,
    HLP_CPUID_SEP = 1u << 11,
    HLP_CPUID_MTRR = 1u << 12,
    HLP_CPUID_PGE = 1u << 13,
    HLP_CPUID_MCA = 1u << 14,
    HLP_CPUID_CMOV = 1u << 15,
    HLP_CPUID_PAT = 1u << 16,
    HLP_CPUID_PSE36 = 1u << 17,
    HLP_CPUID_CLFSH = 1u << 19,
    HLP_CPUID_MMX = 1u << 23,
    HLP_CPUID_FXSR = 1u << 24,
    HLP_CPUID_SSE = 1u << 25,
    HLP_CPUID_SSE2 = 1u << 26,
};

/* Parts of the popek CPU an engine may leave out. Each implies the ones
 * it builds on: SSE needs MMX (SSE adds instructions on MMX registers,
 * SDM Vol. 1 10.4.4) and FXSR (only FXSAVE saves the XMM state, SDM Vol. 1
 * 10.5); SSE2 needs SSE. */
enum hlp_cpu_option {
    HLP_CPU_MMX = 1u << 0,  /* CPUID.01H:EDX.MMX */
    HLP_CPU_FXSR = 1u << 1, /* FXSAVE/FXRSTOR, CR4.OSFXSR */
    HLP_CPU_SSE = 1u << 2,  /* CPUID.01H:EDX.SSE */
    HLP_CPU_SSE2 = 1u << 3, /* CPUID.01H:EDX.SSE2 */
};
/* The whole popek CPU: what an engine presents when it can. */
#define HLP_CPU_ALL_OPTIONS (HLP_CPU_MMX | HLP_CPU_FXSR | HLP_CPU_SSE | HLP_CPU_SSE2)
/* What every engine presents today: the parts all three implement. The
 * interpreter has no MMX/SSE yet (docs/fpu-status.md), and a guest that
 * sees a feature in CPUID must find it on every engine, so they stay out
 * of the model until it does. */
#define HLP_CPU_POPEK_OPTIONS (HLP_CPU_FXSR)

struct hlp_cpu_model {
    unsigned options;   /* enum hlp_cpu_option bits */
    uint32_t edx1;      /* CPUID.01H:EDX */
};

/* Builds the popek CPU with the given options; -1 (model untouched) when
 * an option lacks one it needs or is unknown. */
int hlp_cpu_model_init(struct hlp_cpu_model *model, unsigned options);

struct hlp_cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

/* What CPUID returns for EAX = leaf, ECX = subleaf on this model, out-of-
 * range leaves included (they return the highest basic leaf, as Intel
 * CPUs do). */
struct hlp_cpuid_regs hlp_cpuid(const struct hlp_cpu_model *model, uint32_t leaf,
                                uint32_t subleaf);
/* The highest basic leaf and the highest extended leaf (0x8000000x). */
uint32_t hlp_cpuid_max_leaf(const struct hlp_cpu_model *model);
uint32_t hlp_cpuid_max_ext_leaf(const struct hlp_cpu_model *model);
/* The processor signature (CPUID.01H:EAX), also EDX after reset (SDM Vol. 3A
 * 9.1.4, Table 9-1). */
uint32_t hlp_cpu_signature(const struct hlp_cpu_model *model);

/* The CPU state and the system-semantics contract (needs the model above). */
#include "vmm_helpers/hlp_cpu.h"

/* ---- the interpreter as a library (interp_step.c) ---------------------------------------
 * For an engine that runs most guest code itself (the translator) and
 * hands the interpreter what it does not: real-mode, V86 and 16-bit code
 * and single instructions. The engine owns interrupts, halt, device
 * polling and the machine hooks; the interpreter executes instructions
 * and delivers the faults they raise. hlp_interp_create initialises the
 * CPU (hlp_cpu_init) inside the interpreter and installs the
 * interpreter's softmmu hooks; an engine that installs its own must
 * chain to hlp_interp_code_written and hlp_interp_tlb_flushed. */
struct hlp_interp;
struct hlp_interp *hlp_interp_create(struct machine *m, struct mach_err *err);
void hlp_interp_destroy(struct hlp_interp *ix);
struct hlp_cpu *hlp_interp_cpu(struct hlp_interp *ix);
/* Executes up to max_insns instructions from cpu->eip and returns how many
 * ran (a delivered fault counts as one). Returns early when the CPU halts,
 * the machine's exit is requested, a system instruction or an event ran
 * (the engine must look at interrupts and the mode), and, with
 * until_code32, as soon as the CPU is in 32-bit protected-mode code. */
uint64_t hlp_interp_run(struct hlp_cpu *cpu, uint64_t max_insns, bool until_code32);
void hlp_interp_code_written(struct hlp_cpu *cpu, uint64_t paddr, uint64_t len);
void hlp_interp_tlb_flushed(struct hlp_cpu *cpu, enum mmu_flush scope, uint32_t lin);
/* Blocks the interpreter has decoded so far: when it moves, the
 * interpreter marked new code pages (mmu_code_page_set). */
uint64_t hlp_interp_blocks_decoded(const struct hlp_cpu *cpu);

#endif
