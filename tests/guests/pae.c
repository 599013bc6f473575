/* PAE paging (SDM Vol. 3A 4.4): the PDPTE registers loaded by MOV to CR3
 * (4.4.1) and their reserved bits, 2 MiB and 4 KiB pages, accessed and
 * dirty flags (4.8), and the XD bit, which is reserved while IA32_EFER.NXE
 * is 0 (4.4.2) and here cannot be set: the CPU advertises PAE but neither
 * NX nor long mode, so IA32_EFER does not exist (Vol. 4 Table 2-2). */
#include "guest.h"

NEEDS("paging pae");

#define CR4_PAE (1u << 5)
#define MSR_EFER 0xC0000080u
#define EFER_NXE (1ull << 11)
#define PTE_XD (1ull << 63)
/* #PF error code (Figure 4-12): RSVD is bit 3. */
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_RSVD 0x8u

#define VA_4K 0x40000000u  /* PDPTE 1, PDE 0: a page table */
#define VA_2M 0x40200000u  /* PDPTE 1, PDE 1: a 2 MiB page */
#define VA_XD4K (VA_4K + PAGE_SIZE)
#define VA_XD2M 0x40400000u /* PDE 2: a 2 MiB page with XD */
#define VA_RSVD2M 0x40600000u /* PDE 3: a 2 MiB page with bit 13 set */
#define VA_NO_PDPTE 0x80000000u
#define PA_2M 0x00400000u
#define SIZE_2M 0x200000u

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pd0[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd1[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd1_alt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt1[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt1_alt[512] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_b[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

__asm__(".text\n"
        "pae_read:\n"
        "pae_read_insn:\n"
        "  mov (%eax), %eax\n"
        "  ret\n"
        "pae_write:\n"
        "pae_write_insn:\n"
        "  movl $0x5a5a5a5a, (%eax)\n"
        "  ret\n"
        "pae_load_cr3:\n"
        "pae_load_cr3_insn:\n"
        "  mov %eax, %cr3\n"
        "  ret\n");
extern uint32_t pae_read(uint32_t va) __attribute__((regparm(1)));
extern void pae_write(uint32_t va) __attribute__((regparm(1)));
extern void pae_load_cr3(uint32_t v) __attribute__((regparm(1)));
extern const char pae_read_insn[], pae_write_insn[], pae_load_cr3_insn[];

static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }
static uint32_t ad(volatile uint64_t *e) { return (uint32_t)*e & (PTE_A | PTE_D); }

static void cpuid_and_efer(void)
{
    check_eq("cpuid.pae", 1, (cpuid(1, 0).edx >> 6) & 1);
    uint32_t max_ext = cpuid(0x80000000u, 0).eax;
    uint32_t ext_edx = max_ext >= 0x80000001u ? cpuid(0x80000001u, 0).edx : 0;
    check_eq("cpuid.nx", 0, (ext_edx >> 20) & 1);
    check_eq("cpuid.lm", 0, (ext_edx >> 29) & 1);
    /* Without NX or LM there is no IA32_EFER: RDMSR/WRMSR #GP(0). */
    bool t = TRY_FAULT((void)rdmsr(MSR_EFER));
    check_eq("efer.rdmsr.trapped", 1, t);
    check_eq("efer.rdmsr.vector", VEC_GP, trap_last.vector);
    t = TRY_FAULT(wrmsr(MSR_EFER, EFER_NXE));
    check_eq("efer.wrmsr_nxe.trapped", 1, t);
    check_eq("efer.wrmsr_nxe.vector", VEC_GP, trap_last.vector);
}

static void pae_enable(void)
{
    for (unsigned i = 0; i < PG_IDENTITY_END / SIZE_2M; i++)
        pd0[i] = (uint64_t)i * SIZE_2M | PTE_P | PTE_W | PDE_PS;
    pd1[0] = (uint32_t)pt1 | PTE_P | PTE_W;
    pt1[0] = (uint32_t)page_a | PTE_P | PTE_W;
    pd1[1] = PA_2M | PTE_P | PTE_W | PDE_PS;
    /* PDPTEs have no R/W, U/S or A bits: bits 2:1 and 8:5 are reserved. */
    pdpt[0] = (uint32_t)pd0 | PTE_P;
    pdpt[1] = (uint32_t)pd1 | PTE_P;
    write_cr4(read_cr4() | CR4_PAE);
    write_cr3((uint32_t)pdpt);
    write_cr0(read_cr0() | CR0_PG);
    check_eq("enable.cr4_pae", CR4_PAE, read_cr4() & CR4_PAE);
    check_eq("enable.cr3", (uint32_t)pdpt, read_cr3());
    wr((uint32_t)page_b, 0x600DC0DE);
    check_eq("enable.identity_2m", 0x600DC0DE, rd((uint32_t)page_b));
}

static void pages_and_ad(void)
{
    wr((uint32_t)page_a + 8, 0xAAAA0008);
    check_eq("4k.fresh_pte_ad", 0, ad(&pt1[0]));
    check_eq("4k.read", 0xAAAA0008, rd(VA_4K + 8));
    check_eq("4k.read_sets_pte_a", PTE_A, ad(&pt1[0]));
    check_eq("4k.read_sets_pde_a", PTE_A, ad(&pd1[0]));
    wr(VA_4K + 12, 0xAAAA000C);
    check_eq("4k.write_reaches_page", 0xAAAA000C, rd((uint32_t)page_a + 12));
    check_eq("4k.write_sets_pte_d", PTE_A | PTE_D, ad(&pt1[0]));
    check_eq("4k.pde_no_d", PTE_A, ad(&pd1[0]));

    wr(PA_2M + 0x1234, 0x2222AAAA);
    check_eq("2m.fresh_pde_ad", 0, ad(&pd1[1]));
    check_eq("2m.read_low", 0x2222AAAA, rd(VA_2M + 0x1234));
    check_eq("2m.read_sets_a", PTE_A, ad(&pd1[1]));
    wr(VA_2M + SIZE_2M - 4, 0x2222BBBB);
    check_eq("2m.write_high", 0x2222BBBB, rd(PA_2M + SIZE_2M - 4));
    check_eq("2m.write_sets_d", PTE_A | PTE_D, ad(&pd1[1]));
}

static void check_pf(const char *name, bool t, uint32_t error, uint32_t eip, uint32_t cr2)
{
    check_trap(name, t, VEC_PF, error, eip);
    check_eqf(cr2, trap_last.cr2, "%s.cr2", name);
}

static void reserved_bits(void)
{
    /* XD (bit 63) is reserved with NXE = 0: a present entry with it set
     * gives #PF with P and RSVD, reads and writes alike. */
    pt1[1] = (uint32_t)page_a | PTE_P | PTE_W | PTE_XD;
    bool t = TRY_FAULT(pae_read(VA_XD4K + 0x10));
    check_pf("xd_pte.read", t, PF_P | PF_RSVD, (uint32_t)pae_read_insn, VA_XD4K + 0x10);
    t = TRY_FAULT(pae_write(VA_XD4K + 0x20));
    check_pf("xd_pte.write", t, PF_P | PF_W | PF_RSVD, (uint32_t)pae_write_insn,
             VA_XD4K + 0x20);
    check_eq("xd_pte.not_written", 0, rd((uint32_t)page_a + 0x20));
    pd1[2] = PA_2M | PTE_P | PTE_W | PDE_PS | PTE_XD;
    t = TRY_FAULT(pae_read(VA_XD2M + 0x30));
    check_pf("xd_pde_2m.read", t, PF_P | PF_RSVD, (uint32_t)pae_read_insn, VA_XD2M + 0x30);
    /* Bits 20:13 of a 2 MiB PDE are reserved (Table 4-9). */
    pd1[3] = PA_2M | PTE_P | PTE_W | PDE_PS | (1u << 13);
    t = TRY_FAULT(pae_read(VA_RSVD2M + 0x40));
    check_pf("rsvd_pde_2m.read", t, PF_P | PF_RSVD, (uint32_t)pae_read_insn, VA_RSVD2M + 0x40);
    /* A not-present PDPTE: #PF, not present, nothing reserved. */
    t = TRY_FAULT(pae_read(VA_NO_PDPTE + 0x50));
    check_pf("no_pdpte.read", t, 0, (uint32_t)pae_read_insn, VA_NO_PDPTE + 0x50);
}

static void pdpte_registers(void)
{
    wr((uint32_t)page_b, 0xBBBB0000);
    pd1_alt[0] = (uint32_t)pt1_alt | PTE_P | PTE_W;
    pt1_alt[0] = (uint32_t)page_b | PTE_P | PTE_W;
    check_eq("pdpte.before", 0xAAAA0008, rd(VA_4K + 8));
    /* A new PDPTE in memory is used once CR3 is written again: the PDPTE
     * registers are loaded only by MOV to CR3 (and CR0/CR4), not by INVLPG
     * or a TLB miss (4.4.1, 4.10.4.1). */
    pdpt[1] = (uint32_t)pd1_alt | PTE_P;
    invlpg(VA_4K);
    check_eq("pdpte.stale_after_invlpg", 0xAAAA0008, rd(VA_4K + 8));
    write_cr3((uint32_t)pdpt);
    check_eq("pdpte.reloaded_by_cr3", 0xBBBB0000, rd(VA_4K));
    pdpt[1] = (uint32_t)pd1 | PTE_P;
    write_cr3((uint32_t)pdpt);
    check_eq("pdpte.back", 0xAAAA0008, rd(VA_4K + 8));

    /* A present PDPTE with a reserved bit (R/W, bit 1): MOV to CR3 gives
     * #GP(0) and CR3 keeps its value; a not-present one may have any. */
    pdpt[2] = (uint32_t)pd1 | PTE_P | PTE_W;
    bool t = TRY_FAULT(pae_load_cr3((uint32_t)pdpt));
    check_trap("pdpte_rsvd.cr3", t, VEC_GP, 0, (uint32_t)pae_load_cr3_insn);
    check_eq("pdpte_rsvd.cr3_unchanged", (uint32_t)pdpt, read_cr3());
    pdpt[2] = PTE_W | 0x1E0;
    t = TRY_FAULT(pae_load_cr3((uint32_t)pdpt));
    check_eq("pdpte_not_present_any_bits.trapped", 0, t);
    pdpt[2] = 0;
    write_cr3((uint32_t)pdpt);
    check_eq("pdpte.final", 0xAAAA0008, rd(VA_4K + 8));
}

void test_main(void)
{
    cpuid_and_efer();
    pae_enable();
    pages_and_ad();
    reserved_bits();
    pdpte_registers();
}
