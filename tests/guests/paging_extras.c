/* More of 32-bit paging (SDM Vol. 3A 4.3-4.10): global pages and what
 * invalidates them (4.10.2.4, 4.10.4.1), CR0.WP and supervisor writes to
 * read-only pages (4.6.1), the PS bit of a PDE with and without CR4.PSE,
 * and where page faults leave a REP MOVSB, an instruction fetch and an
 * access that crosses into a not-present page (4.7, 6.15 "Interrupt 14":
 * faults are taken before the faulting iteration or access changes
 * anything, CR2 holding the linear address that could not be translated). */
#include "guest.h"

NEEDS("paging pm-iret");

#define CR4_PGE (1u << 7)
#define PTE_G (1u << 8)
#define PF_W 0x2u
#define PF_P 0x1u

#define VA_G 0x40000000u     /* global pages */
#define VA_RO 0x40002000u    /* supervisor read-only page */
#define VA_MOVS 0x40004000u  /* present; the next page is not, at first */
#define VA_FETCH 0x40006000u /* not present */
#define VA_CODE 0x40008000u  /* code page; the next page is not present */
#define VA_CROSS 0x4000A000u /* present; the next page is not */
#define VA_4M 0x80000000u
#define PA_4M 0x00400000u    /* identity-mapped too; holds a page table */
#define MOVS_LEN 0x20u
#define MOVS_SPLIT 0x10u     /* bytes that fit before the page boundary */

static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_b[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_c[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_d[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

__asm__(".text\n"
        "movs_run:\n"
        "  push %esi\n"
        "  push %edi\n"
        "  mov %eax, %esi\n"
        "  mov %edx, %edi\n"
        "movs_insn:\n"
        "  rep movsb\n"
        "  pop %edi\n"
        "  pop %esi\n"
        "  ret\n"
        "cross_write:\n"
        "cross_write_insn:\n"
        "  movl $0x11223344, (%eax)\n"
        "  ret\n"
        "cross_read:\n"
        "  mov %eax, %edx\n"
        "  mov $0x0BADBEEF, %eax\n"
        "cross_read_insn:\n"
        "  mov (%edx), %eax\n"
        "  ret\n");
extern void movs_run(const void *src, uint32_t dst, uint32_t n) __attribute__((regparm(3)));
extern void cross_write(uint32_t va) __attribute__((regparm(1)));
extern uint32_t cross_read(uint32_t va) __attribute__((regparm(1)));
extern const char movs_insn[], cross_write_insn[], cross_read_insn[];

static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

static void map(uint32_t va, const void *pa, uint32_t flags)
{
    pg_map_4k(va, (uint32_t)pa, flags);
    invlpg(va);
}

static void check_pf(const char *name, bool t, uint32_t error, uint32_t eip, uint32_t cr2)
{
    check_trap(name, t, VEC_PF, error, eip);
    check_eqf(cr2, trap_last.cr2, "%s.cr2", name);
}

/* Only what is architecturally defined is checked: a stale global
 * translation may or may not be used after the CR3 write. */
static void global_pages(void)
{
    check_eq("pge.cpuid", 1, (cpuid(1, 0).edx >> 13) & 1);
    write_cr4(read_cr4() | CR4_PGE);
    check_eq("pge.cr4", CR4_PGE, read_cr4() & CR4_PGE);
    wr((uint32_t)page_a, 0xAAAA0000);
    wr((uint32_t)page_b, 0xBBBB0000);
    map(VA_G, page_a, PTE_P | PTE_W | PTE_G);
    check_eq("pge.first", 0xAAAA0000, rd(VA_G));
    pg_map_4k(VA_G, (uint32_t)page_b, PTE_P | PTE_W | PTE_G);
    pg_flush_all();
    invlpg(VA_G);
    check_eq("pge.after_invlpg", 0xBBBB0000, rd(VA_G));
    /* Clearing CR4.PGE invalidates global entries too. */
    pg_map_4k(VA_G, (uint32_t)page_a, PTE_P | PTE_W | PTE_G);
    pg_flush_all();
    write_cr4(read_cr4() & ~CR4_PGE);
    check_eq("pge.after_pge_clear", 0xAAAA0000, rd(VA_G));
    write_cr4(read_cr4() | CR4_PGE);
    /* A non-global page does not survive the CR3 write. */
    map(VA_G + PAGE_SIZE, page_a, PTE_P | PTE_W);
    check_eq("nonglobal.first", 0xAAAA0000, rd(VA_G + PAGE_SIZE));
    pg_map_4k(VA_G + PAGE_SIZE, (uint32_t)page_b, PTE_P | PTE_W);
    pg_flush_all();
    check_eq("nonglobal.after_cr3", 0xBBBB0000, rd(VA_G + PAGE_SIZE));
    write_cr4(read_cr4() & ~CR4_PGE);
}

static void write_protect(void)
{
    map(VA_RO, page_c, PTE_P);
    wr((uint32_t)page_c + 4, 0xC0C0C0C0);
    write_cr0(read_cr0() & ~CR0_WP);
    bool t = TRY_FAULT(wr(VA_RO + 4, 0x0000C0DE));
    check_eq("wp0.supervisor_ro_write.trapped", 0, t);
    check_eq("wp0.supervisor_ro_write.stored", 0x0000C0DE, rd((uint32_t)page_c + 4));
    check_eq("wp0.supervisor_ro_write.dirty", PTE_A | PTE_D, pg_accessed_dirty(VA_RO));
    write_cr0(read_cr0() | CR0_WP);
    t = TRY_FAULT(cross_write(VA_RO + 4));
    check_pf("wp1.supervisor_ro_write", t, PF_P | PF_W, (uint32_t)cross_write_insn, VA_RO + 4);
    check_eq("wp1.supervisor_ro_write.not_stored", 0x0000C0DE, rd((uint32_t)page_c + 4));
    check_eq("wp1.supervisor_ro_read", 0x0000C0DE, rd(VA_RO + 4));
    write_cr0(read_cr0() & ~CR0_WP);
}

/* PS in a PDE makes a 4 MiB page only with CR4.PSE; without it the bit is
 * ignored and the PDE references a page table (Table 4-4, 4-5). The
 * 4 MiB frame at PA_4M holds such a table, so the two readings differ. */
static void pse_bit(void)
{
    volatile uint32_t *table = (volatile uint32_t *)PA_4M;
    wr((uint32_t)page_d, 0xDDDD0000);
    table[0] = (uint32_t)page_d | PTE_P | PTE_W;
    write_cr4(read_cr4() | CR4_PSE);
    pg_map_4m(VA_4M, PA_4M, PTE_P | PTE_W);
    invlpg(VA_4M);
    check_eq("pse1.reads_frame", (uint32_t)page_d | PTE_P | PTE_W, rd(VA_4M));
    wr(PA_4M + BIG_PAGE_SIZE - 4, 0x4444FFFC);
    check_eq("pse1.reads_frame_end", 0x4444FFFC, rd(VA_4M + BIG_PAGE_SIZE - 4));
    /* A change of CR4.PSE invalidates every TLB entry (4.10.4.1). */
    write_cr4(read_cr4() & ~CR4_PSE);
    check_eq("pse0.reads_through_table", 0xDDDD0000, rd(VA_4M));
    check_eq("pse0.table_entry_accessed", PTE_A, table[0] & PTE_A);
    pg_dir[VA_4M >> 22] = 0;
    invlpg(VA_4M);
}

/* The #PF handler for the REP MOVSB: records, maps the page, resumes. */
static struct {
    uint32_t ecx, esi, edi, error, cr2, eip, stored_low, count;
} movs_seen;

static void movs_pf(struct trap_frame *f)
{
    movs_seen.ecx = f->ecx;
    movs_seen.esi = f->esi;
    movs_seen.edi = f->edi;
    movs_seen.error = f->error;
    movs_seen.cr2 = read_cr2();
    movs_seen.eip = f->eip;
    movs_seen.stored_low = rd((uint32_t)page_b + PAGE_SIZE - 4);
    movs_seen.count++;
    map(VA_MOVS + PAGE_SIZE, page_c, PTE_P | PTE_W);
}

static void rep_movsb(void)
{
    uint8_t *src = page_a + 0x100;
    for (unsigned i = 0; i < MOVS_LEN; i++)
        src[i] = (uint8_t)(0x40 + i);
    memset(page_b, 0, PAGE_SIZE);
    memset(page_c, 0, PAGE_SIZE);
    map(VA_MOVS, page_b, PTE_P | PTE_W);
    map(VA_MOVS + PAGE_SIZE, page_c, PTE_W);
    uint32_t dst = VA_MOVS + PAGE_SIZE - MOVS_SPLIT;
    idt_set_handler(VEC_PF, movs_pf);
    movs_run(src, dst, MOVS_LEN);
    idt_set_handler(VEC_PF, NULL);
    /* Faulted at the first byte of the second page, with the registers of
     * that iteration; the bytes before it were stored. */
    check_eq("movs.faults", 1, movs_seen.count);
    check_eq("movs.error", PF_W, movs_seen.error);
    check_eq("movs.cr2", VA_MOVS + PAGE_SIZE, movs_seen.cr2);
    check_eq("movs.eip", (uint32_t)movs_insn, movs_seen.eip);
    check_eq("movs.ecx", MOVS_LEN - MOVS_SPLIT, movs_seen.ecx);
    check_eq("movs.esi", (uint32_t)src + MOVS_SPLIT, movs_seen.esi);
    check_eq("movs.edi", VA_MOVS + PAGE_SIZE, movs_seen.edi);
    check_eq("movs.first_part_stored", 0x4F4E4D4C, movs_seen.stored_low);
    /* Resumed by IRET, it finished the copy. */
    check_eq("movs.resumed_low", 0x43424140, rd((uint32_t)page_b + PAGE_SIZE - MOVS_SPLIT));
    check_eq("movs.resumed_high", 0x53525150, rd((uint32_t)page_c));
    check_eq("movs.resumed_end", 0x5F5E5D5C, rd((uint32_t)page_c + MOVS_SPLIT - 4));
    check_eq("movs.past_end", 0, rd((uint32_t)page_c + MOVS_SPLIT));
}

static void fetch(void)
{
    map(VA_FETCH, page_d, 0);
    bool t = TRY_FAULT(((void (*)(void))VA_FETCH)());
    check_pf("fetch.not_present", t, 0, VA_FETCH, VA_FETCH);
    /* MOV EAX, imm32 (B8 + 4 bytes) starting 2 bytes before the end of a
     * page: the fetch of its tail faults, CR2 at the next page, EIP at the
     * instruction. */
    page_a[PAGE_SIZE - 2] = 0xB8;
    page_a[PAGE_SIZE - 1] = 0x11;
    map(VA_CODE, page_a, PTE_P);
    map(VA_CODE + PAGE_SIZE, page_d, 0);
    t = TRY_FAULT(((void (*)(void))(VA_CODE + PAGE_SIZE - 2))());
    check_pf("fetch.straddle", t, 0, VA_CODE + PAGE_SIZE - 2, VA_CODE + PAGE_SIZE);
}

static void crossing(void)
{
    map(VA_CROSS, page_d, PTE_P | PTE_W);
    map(VA_CROSS + PAGE_SIZE, page_c, PTE_W);
    wr((uint32_t)page_d + PAGE_SIZE - 4, 0xABCDEF01);
    wr((uint32_t)page_c, 0x01020304);
    bool t = TRY_FAULT(cross_write(VA_CROSS + PAGE_SIZE - 2));
    check_pf("cross.write", t, PF_W, (uint32_t)cross_write_insn, VA_CROSS + PAGE_SIZE);
    check_eq("cross.write.first_page_unchanged", 0xABCDEF01,
             rd((uint32_t)page_d + PAGE_SIZE - 4));
    check_eq("cross.write.second_page_unchanged", 0x01020304, rd((uint32_t)page_c));
    t = TRY_FAULT(cross_read(VA_CROSS + PAGE_SIZE - 1));
    check_pf("cross.read", t, 0, (uint32_t)cross_read_insn, VA_CROSS + PAGE_SIZE);
    check_eq("cross.read.eax_unchanged", 0x0BADBEEF, trap_last.eax);
    /* Once present, the same write lands in both pages. */
    map(VA_CROSS + PAGE_SIZE, page_c, PTE_P | PTE_W);
    cross_write(VA_CROSS + PAGE_SIZE - 2);
    check_eq("cross.write_present.low", 0x3344EF01, rd((uint32_t)page_d + PAGE_SIZE - 4));
    check_eq("cross.write_present.high", 0x01021122, rd((uint32_t)page_c));
}

void test_main(void)
{
    pg_init();
    pg_enable(false);
    global_pages();
    write_protect();
    pse_bit();
    rep_movsb();
    fetch();
    crossing();
}
