/* The interpreter as a library for other engines: the translator runs
 * real-mode, V86 and 16-bit code here, and single instructions it does
 * not translate (its fallback). The engine owns interrupts, halt, device
 * polling and the machine hooks; this file only executes instructions
 * and delivers the faults they raise. */
#include "vmm_helpers/interp_internal.h"

#include <stdlib.h>

struct hlp_interp {
    struct interp ix;
};
_Static_assert(offsetof(struct hlp_interp, ix) == 0, "hlp_interp wraps struct interp");

struct hlp_interp *hlp_interp_create(struct machine *m, struct mach_err *err)
{
    struct hlp_interp *h = calloc(1, sizeof *h);
    if (!h) {
        mach_errf(err, "interp: out of memory");
        return NULL;
    }
    if (ix_init(&h->ix, m, err) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

void hlp_interp_destroy(struct hlp_interp *h)
{
    if (!h)
        return;
    ix_fini(&h->ix);
    free(h);
}

struct hlp_cpu *hlp_interp_cpu(struct hlp_interp *h) { return &h->ix.cpu; }

void hlp_interp_code_written(struct hlp_cpu *cpu, uint64_t paddr, uint64_t len)
{
    ix_code_written(ix_of(cpu), paddr, len);
}

void hlp_interp_tlb_flushed(struct hlp_cpu *cpu, enum mmu_flush scope, uint32_t lin)
{
    ix_tlb_flushed(ix_of(cpu), scope, lin);
}

uint64_t hlp_interp_blocks_decoded(const struct hlp_cpu *cpu)
{
    const struct interp *ix = (const struct interp *)((const char *)cpu -
                                                      offsetof(struct interp, cpu));
    return ix->stats.cache_misses;
}

static bool at_code32(const struct hlp_cpu *cpu) { return hlp_code32(cpu); }

uint64_t hlp_interp_run(struct hlp_cpu *cpu, uint64_t max_insns, bool until_code32)
{
    struct interp *ix = ix_of(cpu);
    jmp_buf *outer = cpu->fault_jmp;
    jmp_buf jb;
    volatile uint64_t done = 0;
    cpu->fault_jmp = &jb;
    ix_refresh(ix);
    int why = setjmp(jb);
    if (why == HLP_UNWIND_FAULT) {
        done++;
        ix->stats.exceptions++;
        ix->stats.by_vector[cpu->pending_vector & 31]++;
        ix->abort = false;
        cpu->dbg_hits = 0; /* a faulting instruction reports no data breakpoint */
        hlp_deliver_pending(cpu);
        ix_refresh(ix);
    }
    while (why != HLP_UNWIND_STOP && done < max_insns && !cpu->halted &&
           !mach_exit_requested(ix->m) && !(until_code32 && at_code32(cpu))) {
        /* Instruction granularity for the debug contract (hlp_cpu.h) and
         * for a budget smaller than a block. */
        if (ix_stepping(ix) || max_insns - done < IX_MAX_BLOCK) {
            ix_step(ix);
            done++;
        } else {
            done += ix_run_block(ix, ix_block_at(ix));
        }
        /* System instructions may have enabled interrupts or changed the
         * mode: let the engine look. */
        if (ix->attention) {
            ix->attention = 0;
            break;
        }
    }
    cpu->fault_jmp = outer;
    return done;
}
