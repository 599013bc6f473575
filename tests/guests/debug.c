/* Debug exceptions (SDM Vol. 3A 17.2-17.3): single-step with EFLAGS.TF
 * (a trap after each instruction, DR6.BS; POPF that sets TF traps only
 * after the next instruction), INT1/ICEBP, an instruction breakpoint in
 * DR0 (a fault; RF lets the instruction run), a data write breakpoint in
 * DR1 (a trap after the write) and DR6.B0-B3. */
#include "guest.h"

NEEDS("pm-iret");

#define DR6_B0 0x1u
#define DR6_B1 0x2u
#define DR6_BS 0x4000u
#define DR6_FIXED 0xFFFF0FF0u
#define DR7_L0 0x1u
#define DR7_L1 0x4u

static inline uint32_t read_dr6(void)
{
    uint32_t v;
    __asm__ volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}
static inline void write_dr(int n, uint32_t v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" ::"r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" ::"r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" ::"r"(v)); break;
    case 7: __asm__ volatile("mov %0, %%dr7" ::"r"(v)); break;
    }
}

__asm__(".text\n"
        "d_step:\n"
        "  pushf\n"
        "  orl $0x100, (%esp)\n"
        "  popf\n"
        "d_step_1:\n"
        "  nop\n"
        "d_step_2:\n"
        "  mov $1, %eax\n"
        "d_step_3:\n"
        "  add $2, %eax\n"
        "d_step_4:\n"
        "  lea 3(%eax), %eax\n"
        "d_step_end:\n"
        "  ret\n"
        "d_icebp:\n"
        "  .byte 0xf1\n"
        "d_icebp_next:\n"
        "  ret\n"
        "d_insn_bp:\n"
        "  mov $5, %eax\n"
        "d_insn_bp_target:\n"
        "  add $1, %eax\n"
        "  ret\n"
        "d_write_bp:\n"
        "  mov d_var, %eax\n"
        "  movl $7, d_var\n"
        "d_write_bp_next:\n"
        "  ret\n"
        ".data\n"
        ".balign 4\n"
        "d_var: .long 0\n"
        ".text\n");
extern uint32_t d_step(void), d_insn_bp(void);
extern void d_icebp(void), d_write_bp(void);
extern const char d_step_1[], d_step_2[], d_step_3[], d_step_4[], d_step_end[];
extern const char d_icebp_next[], d_insn_bp_target[], d_write_bp_next[];
extern volatile uint32_t d_var;

#define MAX_HITS 8
static volatile uint32_t hit_eip[MAX_HITS], hit_dr6[MAX_HITS];
static volatile unsigned hits;

static void db_handler(struct trap_frame *f)
{
    uint32_t dr6 = read_dr6();
    if (hits < MAX_HITS) {
        hit_eip[hits] = f->eip;
        hit_dr6[hits] = dr6;
    }
    hits++;
    /* DR6 is never cleared by the processor (17.2.3). */
    write_dr(6, DR6_FIXED);
    if (f->eip == (uint32_t)d_step_end || hits >= MAX_HITS)
        f->eflags &= ~FL_TF;
    /* An instruction breakpoint is a fault: RF skips it once (17.3.1.1). */
    if (dr6 & 0xF)
        f->eflags |= FL_RF;
}

void test_main(void)
{
    idt_set_handler(VEC_DB, db_handler);
    write_dr(6, DR6_FIXED);

    hits = 0;
    uint32_t r = d_step();
    check_eq("step.result", 6, r);
    check_eq("step.hits", 4, hits);
    /* POPF set TF: the first trap follows the NOP after it. */
    check_eq("step.eip0", (uint32_t)d_step_2, hit_eip[0]);
    check_eq("step.eip1", (uint32_t)d_step_3, hit_eip[1]);
    check_eq("step.eip2", (uint32_t)d_step_4, hit_eip[2]);
    check_eq("step.eip3", (uint32_t)d_step_end, hit_eip[3]);
    check_eq("step.dr6_bs", DR6_BS, hit_dr6[0] & (DR6_BS | 0xF));
    check_eq("step.tf_clear_after", 0, read_eflags() & FL_TF);

    hits = 0;
    bool t = TRY_FAULT(d_icebp());
    check_eq("icebp.no_other_trap", 0, t);
    check_eq("icebp.hits", 1, hits);
    check_eq("icebp.eip_after", (uint32_t)d_icebp_next, hit_eip[0]);
    check_eq("icebp.dr6_b0_3_bs", 0, hit_dr6[0] & (DR6_BS | 0xF));

    hits = 0;
    write_dr(0, (uint32_t)d_insn_bp_target);
    write_dr(7, DR7_L0); /* R/W0 = 00 (execute), LEN0 = 00 */
    r = d_insn_bp();
    write_dr(7, 0);
    check_eq("insn_bp.result", 6, r);
    check_eq("insn_bp.hits", 1, hits);
    check_eq("insn_bp.eip_at_insn", (uint32_t)d_insn_bp_target, hit_eip[0]);
    check_eq("insn_bp.dr6_b0", DR6_B0, hit_dr6[0] & (DR6_BS | 0xF));

    hits = 0;
    write_dr(1, (uint32_t)&d_var);
    /* R/W1 = 01 (writes), LEN1 = 11 (4 bytes): DR7 bits 20-23. */
    write_dr(7, DR7_L1 | (0x1u << 20) | (0x3u << 22));
    d_write_bp();
    write_dr(7, 0);
    check_eq("write_bp.hits", 1, hits);
    check_eq("write_bp.eip_after_write", (uint32_t)d_write_bp_next, hit_eip[0]);
    check_eq("write_bp.dr6_b1", DR6_B1, hit_dr6[0] & (DR6_BS | 0xF));
    check_eq("write_bp.value_written", 7, d_var);
}
