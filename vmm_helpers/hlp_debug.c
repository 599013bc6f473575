/* The debug architecture an engine drives (SDM Vol. 3A 17.2-17.3):
 * instruction breakpoints (faults, suppressed by RF), data breakpoints and
 * single steps (traps after the instruction), DR6 status and RF clearing.
 * I/O breakpoints need CR4.DE, which the popek CPU does not have. */
#include "vmm_helpers/hlp_sys_internal.h"

/* DR7 fields of breakpoint n (17.2.4): enable bits L/G at 2n and 2n+1,
 * R/W at 16 + 4n (00 execute, 01 write, 11 read/write), LEN at 18 + 4n
 * (00 1 byte, 01 2, 11 4, 10 8). */
static bool bp_enabled(uint32_t dr7, unsigned n) { return (dr7 >> (2 * n)) & 3; }
static unsigned bp_rw(uint32_t dr7, unsigned n) { return (dr7 >> (16 + 4 * n)) & 3; }
static uint32_t bp_len(uint32_t dr7, unsigned n)
{
    static const uint32_t len[4] = {1, 2, 8, 4};
    return len[(dr7 >> (18 + 4 * n)) & 3];
}

void hlp_check_code_breakpoint(struct hlp_cpu *cpu)
{
    if (cpu->eflags & HLP_FL_RF)
        return;
    uint32_t dr7 = cpu->dr[HLP_DR7], lin = cpu->seg[HLP_CS].base + cpu->eip, hits = 0;
    for (unsigned n = 0; n < 4; n++)
        if (bp_enabled(dr7, n) && bp_rw(dr7, n) == 0 && cpu->dr[n] == lin)
            hits |= HLP_DR6_B0 << n;
    if (!hits)
        return;
    cpu->dr[HLP_DR6] = (cpu->dr[HLP_DR6] & ~0xFu) | hits;
    hlp_raise(cpu, HLP_VEC_DB, HLP_NO_ERROR_CODE);
}

void hlp_check_data_breakpoint(struct hlp_cpu *cpu, uint32_t lin, unsigned len, bool is_write)
{
    uint32_t dr7 = cpu->dr[HLP_DR7];
    for (unsigned n = 0; n < 4; n++) {
        unsigned rw = bp_rw(dr7, n);
        if (!bp_enabled(dr7, n) || rw == 0 || rw == 2 || (rw == 1 && !is_write))
            continue;
        /* The breakpoint covers its LEN-aligned range (17.2.5). */
        uint32_t blen = bp_len(dr7, n), start = cpu->dr[n] & ~(blen - 1);
        if (lin - start < blen || start - lin < len)
            cpu->dbg_hits |= (uint8_t)(HLP_DR6_B0 << n);
    }
}

void hlp_after_insn(struct hlp_cpu *cpu, uint32_t eflags_at_start)
{
    uint32_t status = cpu->dbg_hits;
    if ((eflags_at_start & HLP_FL_TF) && !cpu->dbg_event)
        status |= HLP_DR6_BS;
    /* RF is cleared once an instruction completes, except by one that
     * loaded it (IRET, a task switch) (17.3.1.1). */
    if (!cpu->dbg_keep_rf)
        cpu->eflags &= ~HLP_FL_RF;
    cpu->dbg_hits = 0;
    cpu->dbg_keep_rf = false;
    cpu->dbg_event = false;
    if (!status)
        return;
    cpu->dr[HLP_DR6] = (cpu->dr[HLP_DR6] & ~0xFu) | status;
    hlp_deliver(cpu, HLP_VEC_DB, HLP_NO_ERROR_CODE, HLP_EVENT_EXCEPTION);
}
