/* What CR3 loads and INVLPG must make visible, and the accessed and dirty
 * flags around them (SDM Vol. 3A 4.8, 4.10.2.3, 4.10.4): after an
 * invalidation every access uses the paging structures as they are, a
 * flush sets no flag by itself, a read sets A and never D, the first write
 * sets D. Only what any correct TLB gives is checked, whatever it caches
 * and when. On bt each case takes a path of the shadow windows
 * (softmmu/shadow_flush.c, shadow.c): mappings kept, refreshed or dropped
 * by a CR3 load or an INVLPG, and pages mapped ahead of a fault. */
#include "guest.h"

NEEDS("paging pm-iret");

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define VA_AS 0x40000000u    /* mapped differently by the two directories */
#define VA_INV 0x40400000u   /* INVLPG cases */
#define VA_AHEAD 0x40800000u /* eight pages over eight contiguous frames */
#define AHEAD 8u
#define VA_DEMAND 0x40c00000u /* not present until the #PF handler maps it */

static uint32_t dir2[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t table2[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frames[AHEAD][1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frame_a[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frame_b[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frame_c[1024] __attribute__((aligned(PAGE_SIZE)));

/* A store whose faults have a known EIP: its first instruction. */
__asm__(".text\n"
        "store_insn_fn:\n"
        "  mov %edx, (%eax)\n"
        "  ret\n");
extern void store_insn_fn(uint32_t va, uint32_t v) __attribute__((regparm(2)));

static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }
static uint32_t ad(volatile uint32_t *pte) { return *pte & (PTE_A | PTE_D); }
static uint32_t user_read(uint32_t va) { return *(volatile uint32_t *)va; }

static void check_pf(const char *name, bool trapped, uint32_t error, uint32_t cr2)
{
    check_trap(name, trapped, VEC_PF, error, (uint32_t)store_insn_fn);
    check_eqf(cr2, trap_last.cr2, "%s.cr2", name);
}

/* Two directories sharing everything but VA_AS: pg_dir's page table maps
 * it to frame_a, dir2's own table2 to frame_b. */
static void address_spaces(void)
{
    volatile uint32_t *pte1 = pg_pte(VA_AS), *pte2 = &table2[0];
    frame_a[0] = 0xA, frame_b[0] = 0xB, frame_c[0] = 0xC;
    for (unsigned i = 0; i < 1024; i++)
        dir2[i] = pg_dir[i];
    dir2[VA_AS >> 22] = (uint32_t)table2 | PTE_P | PTE_W | PTE_U | PTE_A;
    *pte1 = (uint32_t)frame_a | PTE_P | PTE_W;
    *pte2 = (uint32_t)frame_b | PTE_P | PTE_W | PTE_A;
    write_cr3((uint32_t)pg_dir);
    check_eq("as.first", 0xA, rd(VA_AS));
    write_cr3((uint32_t)dir2);
    check_eq("as.other", 0xB, rd(VA_AS));
    write_cr3((uint32_t)pg_dir);
    check_eq("as.back", 0xA, rd(VA_AS));

    /* Changed while its directory was not current: the load sees it. */
    write_cr3((uint32_t)dir2);
    *pte1 = (uint32_t)frame_c | PTE_P | PTE_W | PTE_A;
    write_cr3((uint32_t)pg_dir);
    check_eq("as.changed_while_away", 0xC, rd(VA_AS));

    /* A cleared while away: the load sets nothing, the read sets A. */
    *pte2 = (uint32_t)frame_a | PTE_P | PTE_W;
    write_cr3((uint32_t)dir2);
    check_eq("as.load_sets_no_a", 0, ad(pte2));
    check_eq("as.new_frame", 0xA, rd(VA_AS));
    check_eq("as.read_sets_a", PTE_A, ad(pte2));

    /* D cleared while away: reads keep it clear, the first write sets it. */
    wr(VA_AS + 4, 1);
    check_eq("as.write_sets_d", PTE_A | PTE_D, ad(pte2));
    write_cr3((uint32_t)pg_dir);
    *pte2 &= ~PTE_D;
    write_cr3((uint32_t)dir2);
    check_eq("as.read_after_d_clear", 1, rd(VA_AS + 4));
    check_eq("as.read_leaves_d", PTE_A, ad(pte2));
    wr(VA_AS + 4, 2);
    check_eq("as.write_sets_d_again", PTE_A | PTE_D, ad(pte2));
    check_eq("as.stored", 2, frame_a[1]);

    /* Write right taken away while away (CR0.WP=1: binds CPL 0 too). */
    write_cr0(read_cr0() | CR0_WP);
    write_cr3((uint32_t)pg_dir);
    *pte2 = (uint32_t)frame_a | PTE_P | PTE_A | PTE_D;
    write_cr3((uint32_t)dir2);
    bool t = TRY_FAULT(store_insn_fn(VA_AS + 8, 3));
    check_pf("as.read_only", t, PF_P | PF_W, VA_AS + 8);
    write_cr0(read_cr0() & ~CR0_WP);

    /* Not present any more. */
    write_cr3((uint32_t)pg_dir);
    *pte2 = 0;
    write_cr3((uint32_t)dir2);
    t = TRY_FAULT(store_insn_fn(VA_AS + 12, 4));
    check_pf("as.not_present", t, PF_W, VA_AS + 12);
    write_cr3((uint32_t)pg_dir);
}

static void invlpg_cases(void)
{
    volatile uint32_t *pte = pg_pte(VA_INV);
    frame_b[2] = 0xB2, frame_c[2] = 0xC2;
    *pte = (uint32_t)frame_b | PTE_P | PTE_W | PTE_U;
    invlpg(VA_INV);
    check_eq("inv.first", 0xB2, rd(VA_INV + 8));
    /* Another frame, A and D already set. */
    *pte = (uint32_t)frame_c | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    invlpg(VA_INV);
    check_eq("inv.new_frame", 0xC2, rd(VA_INV + 8));
    /* Another frame with A clear: INVLPG sets nothing, the read sets A. */
    *pte = (uint32_t)frame_b | PTE_P | PTE_W | PTE_U;
    invlpg(VA_INV);
    check_eq("inv.sets_no_a", 0, ad(pte));
    check_eq("inv.new_frame_a_clear", 0xB2, rd(VA_INV + 8));
    check_eq("inv.read_sets_a", PTE_A, ad(pte));
    /* The same frame, dirty, made read-only. */
    wr(VA_INV + 8, 0xB3);
    check_eq("inv.write_sets_d", PTE_A | PTE_D, ad(pte));
    *pte &= ~PTE_W;
    invlpg(VA_INV);
    write_cr0(read_cr0() | CR0_WP);
    bool t = TRY_FAULT(store_insn_fn(VA_INV + 8, 0xB4));
    check_pf("inv.read_only", t, PF_P | PF_W, VA_INV + 8);
    write_cr0(read_cr0() & ~CR0_WP);
    check_eq("inv.read_only.value", 0xB3, rd(VA_INV + 8));
    /* Made supervisor-only: CPL 3 faults. */
    check_eq("inv.user_read", VEC_SYSCALL, user_run(user_read, VA_INV + 8, 0));
    *pte &= ~PTE_U;
    invlpg(VA_INV);
    check_eq("inv.supervisor_only", VEC_PF, user_run(user_read, VA_INV + 8, 0));
    check_eq("inv.supervisor_only.error", PF_P | PF_U, trap_last.error);
    /* Made not present, then present again on the same frame. */
    *pte = 0;
    invlpg(VA_INV);
    t = TRY_FAULT(store_insn_fn(VA_INV + 8, 0xB5));
    check_pf("inv.not_present", t, PF_W, VA_INV + 8);
    *pte = (uint32_t)frame_b | PTE_P | PTE_W | PTE_U;
    check_eq("inv.present_again", 0xB3, rd(VA_INV + 8));
}

/* Neighbours of a faulting page: what their flags say, nothing more. */
static void neighbours(void)
{
    static const uint32_t flags[AHEAD] = {
        PTE_P | PTE_W | PTE_U | PTE_A,         /* 0 */
        PTE_P | PTE_W | PTE_U,                 /* 1: touched first */
        PTE_P | PTE_W | PTE_U | PTE_A,         /* 2 */
        PTE_P | PTE_W | PTE_A,                 /* 3: supervisor */
        PTE_P | PTE_W | PTE_U | PTE_A | PTE_D, /* 4: dirty */
        PTE_P | PTE_W | PTE_U,                 /* 5: A clear */
        PTE_P | PTE_U | PTE_A,                 /* 6: read-only */
        PTE_W | PTE_U | PTE_A,                 /* 7: not present */
    };
    volatile uint32_t *pte[AHEAD];
    for (unsigned i = 0; i < AHEAD; i++) {
        frames[i][0] = 0xF0 + i;
        pte[i] = pg_pte(VA_AHEAD + i * PAGE_SIZE);
        *pte[i] = (uint32_t)frames[i] | flags[i];
        invlpg(VA_AHEAD + i * PAGE_SIZE);
    }
    check_eq("ahead.touch", 0xF1, rd(VA_AHEAD + PAGE_SIZE));
    for (unsigned i = 0; i < AHEAD; i++) {
        uint32_t want = (flags[i] & (PTE_A | PTE_D)) | (i == 1 ? PTE_A : 0);
        check_eqf(want, ad(pte[i]), "ahead.flags_%u", i);
    }
    check_eq("ahead.read_2", 0xF2, rd(VA_AHEAD + 2 * PAGE_SIZE));
    check_eq("ahead.read_2_no_d", PTE_A, ad(pte[2]));
    wr(VA_AHEAD + 2 * PAGE_SIZE + 4, 2);
    check_eq("ahead.write_2_sets_d", PTE_A | PTE_D, ad(pte[2]));
    check_eq("ahead.read_5", 0xF5, rd(VA_AHEAD + 5 * PAGE_SIZE));
    check_eq("ahead.read_5_sets_a", PTE_A, ad(pte[5]));
    check_eq("ahead.user_3", VEC_PF, user_run(user_read, VA_AHEAD + 3 * PAGE_SIZE, 0));
    check_eq("ahead.user_3.error", PF_P | PF_U, trap_last.error);
    write_cr0(read_cr0() | CR0_WP);
    bool t = TRY_FAULT(store_insn_fn(VA_AHEAD + 6 * PAGE_SIZE, 6));
    check_pf("ahead.read_only_6", t, PF_P | PF_W, VA_AHEAD + 6 * PAGE_SIZE);
    write_cr0(read_cr0() & ~CR0_WP);
    t = TRY_FAULT(store_insn_fn(VA_AHEAD + 7 * PAGE_SIZE, 7));
    check_pf("ahead.not_present_7", t, PF_W, VA_AHEAD + 7 * PAGE_SIZE);
    /* A neighbour's PTE changed, then INVLPG. */
    *pte[0] = (uint32_t)frames[5] | PTE_P | PTE_W | PTE_U | PTE_A;
    invlpg(VA_AHEAD);
    check_eq("ahead.invlpg_neighbour", 0xF5, rd(VA_AHEAD));
}

/* Demand paging as an OS does it: the #PF handler maps the page (with A
 * and D set, as Linux's entries are) and returns to the faulting access,
 * which then completes (SDM Vol. 3A 6.15 #PF: a fault, restartable). On
 * bt the page is mapped before the retry (softmmu mmu_shadow_prefault). */
static volatile uint32_t demand_faults;

static void demand_handler(struct trap_frame *f)
{
    (void)f;
    uint32_t cr2 = read_cr2();
    if ((cr2 & ~(PAGE_SIZE - 1)) != VA_DEMAND || demand_faults++ > 4)
        return; /* not ours: retried, it faults again and the count says so */
    pg_map_4k(VA_DEMAND, (uint32_t)frame_c, PTE_P | PTE_W | PTE_A | PTE_D);
}

static void demand(void)
{
    frame_c[1] = 0x5EED;
    idt_set_handler(VEC_PF, demand_handler);
    uint32_t sum = 0;
    for (unsigned i = 0; i < 1000; i++) {
        sum += rd(VA_DEMAND + 4);
        wr(VA_DEMAND + 8, i);
    }
    check_eq("demand.faults", 1, demand_faults);
    check_eq("demand.sum", 1000 * 0x5EED, sum);
    check_eq("demand.last_store", 999, frame_c[2]);
    check_eq("demand.ad", PTE_A | PTE_D, ad(pg_pte(VA_DEMAND)));
    idt_set_handler(VEC_PF, NULL);
}

void test_main(void)
{
    pg_init();
    pg_enable(false);
    address_spaces();
    invlpg_cases();
    neighbours();
    demand();
    pg_disable();
}
