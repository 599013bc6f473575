/* String instructions under paging (strings.c has the forms): a page
 * fault in the middle of a REP leaves ECX, ESI and EDI at the faulting
 * iteration, with the flags of the one before, and the instruction
 * restarts there after the handler fixes the page (SDM Vol. 2B REP;
 * Vol. 3A 6.15 "Interrupt 14"); faults of single string instructions
 * leave every register as it was; ESI/EDI wrap around 4 GiB (32-bit
 * address size); a long REPE CMPSB lets timer interrupts in between its
 * iterations, with EIP at the instruction (SDM Vol. 2B REP: "interrupted
 * string instruction"). */
#include "guest.h"

NEEDS("paging pm-iret");

#define FL_ARITH 0x8D5u /* CF PF AF ZF SF OF */
#define FL_CHECKED (FL_ARITH | FL_DF)
#define FL_PF 0x4u
#define FL_SF 0x80u
#define PF_P 0x1u
#define PF_W 0x2u

#define VA_S 0x40000000u /* 2 zero pages, then one not present */
#define VA_B 0x40010000u /* not present, then present */
#define VA_R 0x40020000u /* read-only */
#define VA_W 0x40030000u /* writable, then read-only */
#define VA_L 0x40040000u /* present, then not present */
#define TOP 0xFFFFF000u

static uint8_t pgs[10][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t pg_top[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t pg_zero[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t zbuf[12288];
static uint8_t dbuf[64] __attribute__((aligned(16)));

__asm__(".text\n"
        "s_repe_cmpsb:\n  repe cmpsb\n  ret\n"
        "s_repe_cmpsd:\n  repe cmpsl\n  ret\n"
        "s_repne_scasb:\n  repne scasb\n  ret\n"
        "s_movsd:\n  movsl\n  ret\n"
        "s_movsw:\n  movsw\n  ret\n"
        "s_stosb:\n  stosb\n  ret\n"
        "s_cmpsb:\n  cmpsb\n  ret\n"
        "s_lodsd:\n  lodsl\n  ret\n"
        "s_scasd:\n  scasl\n  ret\n"
        "s_rep_stosd:\n  rep stosl\n  ret\n"
        "s_rep_lodsd:\n  rep lodsl\n  ret\n"
        "s_rep_movsb:\n  rep movsb\n  ret\n"
        /* str_exec(r): EAX ECX ESI EDI EFLAGS from *r, call str_fn, back. */
        "str_exec:\n"
        "  push %ebp\n  push %ebx\n  push %esi\n  push %edi\n"
        "  mov 20(%esp), %ebp\n"
        "  push %ebp\n"
        "  pushl 16(%ebp)\n"
        "  mov 0(%ebp), %eax\n"
        "  mov 4(%ebp), %ecx\n"
        "  mov 8(%ebp), %esi\n"
        "  mov 12(%ebp), %edi\n"
        "  popf\n"
        "  call *str_fn\n"
        "  pushf\n"
        "  mov 4(%esp), %ebp\n"
        "  popl 16(%ebp)\n"
        "  mov %eax, 0(%ebp)\n"
        "  mov %ecx, 4(%ebp)\n"
        "  mov %esi, 8(%ebp)\n"
        "  mov %edi, 12(%ebp)\n"
        "  cld\n"
        "  pop %ebp\n"
        "  pop %edi\n  pop %esi\n  pop %ebx\n  pop %ebp\n"
        "  ret\n");
extern void s_repe_cmpsb(void), s_repe_cmpsd(void), s_repne_scasb(void), s_movsd(void),
    s_movsw(void), s_stosb(void), s_cmpsb(void), s_lodsd(void), s_scasd(void),
    s_rep_stosd(void), s_rep_lodsd(void), s_rep_movsb(void);

struct sregs {
    uint32_t eax, ecx, esi, edi, eflags;
};
extern void str_exec(struct sregs *r);
void (*volatile str_fn)(void);

static struct sregs run(void (*insn)(void), uint32_t eax, uint32_t ecx, uint32_t esi,
                        uint32_t edi, uint32_t flags)
{
    struct sregs r = {eax, ecx, esi, edi, (read_eflags() & ~FL_CHECKED) | flags};
    str_fn = insn;
    str_exec(&r);
    return r;
}

/* The flags of CMP a, b at size (SDM Vol. 1 Appendix A). */
static uint32_t cmp_flags(uint32_t a, uint32_t b, unsigned size)
{
    uint32_t m = size == 4 ? ~0u : (1u << (8 * size)) - 1, sign = 1u << (8 * size - 1);
    a &= m;
    b &= m;
    uint32_t r = (a - b) & m, f = 0, p = r & 0xFF;
    p ^= p >> 4;
    p ^= p >> 2;
    p ^= p >> 1;
    f |= a < b ? FL_CF : 0;
    f |= !(p & 1) ? 0x4u : 0;
    f |= (a ^ b ^ r) & 0x10;
    f |= r == 0 ? FL_ZF : 0;
    f |= r & sign ? 0x80u : 0;
    f |= (a ^ b) & (a ^ r) & sign ? FL_OF : 0;
    return f;
}

/* ---- page faults ------------------------------------------------------------ */

static volatile struct {
    uint32_t n, eip, ecx, esi, edi, flags, cr2, error;
} pf;
static volatile uint32_t pf_fix; /* PTE bits the handler sets */

/* Records the first fault, then makes the page usable: IRET restarts
 * the instruction. */
static void pf_handler(struct trap_frame *f)
{
    uint32_t cr2 = read_cr2();
    if (pf.n++ == 0) {
        pf.eip = f->eip;
        pf.ecx = f->ecx;
        pf.esi = f->esi;
        pf.edi = f->edi;
        pf.flags = f->eflags & FL_CHECKED;
        pf.cr2 = cr2;
        pf.error = f->error;
    }
    if (pf.n > 4) {
        fail("page fault loop at eip 0x%08x cr2 0x%08x", f->eip, cr2);
        finish();
    }
    pg_update(cr2 & ~0xFFFu, pf_fix, 0);
}

static void arm(uint32_t fix)
{
    pf.n = 0;
    pf_fix = fix;
}

/* The flags a fault in the middle of REP CMPS/SCAS leaves in the frame
 * are the processor's business (SDM Vol. 2B REP names only ECX, ESI
 * and EDI): the Xeon this was written on shows those from before the
 * instruction, QEMU's TCG and popek's interpreter those of the last
 * iteration; either way the restarted instruction runs an iteration
 * and writes them. Not compared there. */
#define FLAGS_ANY 0xFFFFFFFFu

static void check_fault(const char *name, void (*insn)(void), uint32_t ecx, uint32_t esi,
                        uint32_t edi, uint32_t flags, uint32_t cr2, uint32_t error)
{
    check_eqf(1, pf.n, "%s.faults", name);
    check_eqf((uint32_t)insn, pf.eip, "%s.eip", name);
    check_eqf(ecx, pf.ecx, "%s.ecx", name);
    check_eqf(esi, pf.esi, "%s.esi", name);
    check_eqf(edi, pf.edi, "%s.edi", name);
    if (flags != FLAGS_ANY)
        check_eqf(flags, pf.flags, "%s.flags", name);
    check_eqf(cr2, pf.cr2, "%s.cr2", name);
    check_eqf(error, pf.error, "%s.error", name);
}

static void check_end(const char *name, const struct sregs *r, uint32_t ecx, uint32_t esi,
                      uint32_t edi, uint32_t flags)
{
    check_eqf(ecx, r->ecx, "%s.end.ecx", name);
    check_eqf(esi, r->esi, "%s.end.esi", name);
    check_eqf(edi, r->edi, "%s.end.edi", name);
    check_eqf(flags, r->eflags & FL_CHECKED, "%s.end.flags", name);
}

static void map(uint32_t va, void *page, uint32_t flags)
{
    pg_map_4k(va, (uint32_t)page, flags);
    invlpg(va);
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* REPE CMPSB over zeros into a page not present at iteration 5000 of
 * 9000: in the second chunk of a translated REP, with a third to come,
 * whose ECX must still be the guest's. */
static void rep_compare_faults(void)
{
    map(VA_S, pgs[0], PTE_P | PTE_W);
    map(VA_S + 0x1000, pgs[1], PTE_P | PTE_W);
    map(VA_S + 0x2000, pgs[2], PTE_W);
    arm(PTE_P);
    uint32_t esi = VA_S + 0x2000 - 5000, edi = (uint32_t)zbuf;
    struct sregs r = run(s_repe_cmpsb, 0, 9000, esi, edi, FL_CF | FL_OF);
    check_fault("repe_cmpsb.long", s_repe_cmpsb, 4000, VA_S + 0x2000, edi + 5000, FLAGS_ANY,
                VA_S + 0x2000, 0);
    check_end("repe_cmpsb.long", &r, 0, esi + 9000, edi + 9000, 0x44);

    /* REPE CMPSD: the source crosses into a page not present at
     * iteration 4; after the restart element 6 differs. */
    map(VA_L, pgs[8], PTE_P | PTE_W);
    map(VA_L + 0x1000, pgs[9], PTE_W);
    for (unsigned i = 0; i < 32; i++) {
        uint8_t v = (uint8_t)(0x31 * i + 7);
        if (i < 16)
            pgs[8][4080 + i] = v;
        else
            pgs[9][i - 16] = v;
        dbuf[i] = v;
    }
    dbuf[25] ^= 0x80;
    arm(PTE_P);
    esi = VA_L + 0x1000 - 16;
    edi = (uint32_t)dbuf;
    r = run(s_repe_cmpsd, 0, 10, esi, edi, FL_SF);
    check_fault("repe_cmpsd", s_repe_cmpsd, 6, VA_L + 0x1000, edi + 16, FLAGS_ANY, VA_L + 0x1000,
                0);
    check_end("repe_cmpsd", &r, 3, esi + 28, edi + 28,
              cmp_flags(rd32(&pgs[9][8]), rd32(&dbuf[24]), 4));

    /* REPNE SCASB with DF = 1: the destination walks down into a page
     * not present at iteration 6; AL matches at iteration 8. */
    map(VA_B, pgs[3], PTE_W);
    map(VA_B + 0x1000, pgs[4], PTE_P | PTE_W);
    for (unsigned i = 0; i < 6; i++)
        pgs[4][i] = (uint8_t)(0x11 * (i + 1));
    pgs[3][0xFFF] = 0x01;
    pgs[3][0xFFE] = 0xFF;
    pgs[3][0xFFD] = 0x5A;
    arm(PTE_P);
    edi = VA_B + 0x1000 + 5;
    r = run(s_repne_scasb, 0x12345A5A, 20, 0, edi, FL_DF);
    check_fault("repne_scasb.df1", s_repne_scasb, 14, 0, VA_B + 0xFFF, FLAGS_ANY, VA_B + 0xFFF, 0);
    check_end("repne_scasb.df1", &r, 11, 0, VA_B + 0xFFC, FL_DF | 0x44);
}

/* Single string instructions that fault change nothing; REP STOSD and
 * REP LODSD stop at the faulting element. */
static void other_faults(void)
{
    write_cr0(read_cr0() | CR0_WP);
    map(VA_R, pgs[5], PTE_P);
    memcpy(dbuf, "\x78\x56\x34\x12\xEF\xCD\xAB\x90", 8);
    arm(PTE_W);
    struct sregs r = run(s_movsd, 0, 0x77, (uint32_t)dbuf, VA_R + 8, FL_CF | FL_ZF);
    check_fault("movsd.ro", s_movsd, 0x77, (uint32_t)dbuf, VA_R + 8, FL_CF | FL_ZF, VA_R + 8,
                PF_P | PF_W);
    check_end("movsd.ro", &r, 0x77, (uint32_t)dbuf + 4, VA_R + 12, FL_CF | FL_ZF);
    check_eq("movsd.ro.stored", 0x12345678, rd32(&pgs[5][8]));

    pg_update(VA_R, 0, PTE_W);
    arm(PTE_W);
    r = run(s_stosb, 0xAB, 0, 0, VA_R + 16, FL_DF | FL_OF);
    check_fault("stosb.ro.df1", s_stosb, 0, 0, VA_R + 16, FL_DF | FL_OF, VA_R + 16, PF_P | PF_W);
    check_end("stosb.ro.df1", &r, 0, 0, VA_R + 15, FL_DF | FL_OF);
    check_eq("stosb.ro.stored", 0xAB, pgs[5][16]);

    pg_update(VA_L + 0x1000, 0, PTE_P);
    pgs[9][0] = 0x40;
    dbuf[0] = 0x41;
    arm(PTE_P);
    r = run(s_cmpsb, 0, 0, VA_L + 0x1000, (uint32_t)dbuf, FL_ZF);
    check_fault("cmpsb.np", s_cmpsb, 0, VA_L + 0x1000, (uint32_t)dbuf, FL_ZF, VA_L + 0x1000, 0);
    check_end("cmpsb.np", &r, 0, VA_L + 0x1001, (uint32_t)dbuf + 1, cmp_flags(0x40, 0x41, 1));

    pg_update(VA_L + 0x1000, 0, PTE_P);
    arm(PTE_P);
    r = run(s_lodsd, 0, 0, VA_L + 0x1004, 0, FL_DF | FL_PF);
    check_fault("lodsd.np.df1", s_lodsd, 0, VA_L + 0x1004, 0, FL_DF | FL_PF, VA_L + 0x1004, 0);
    check_end("lodsd.np.df1", &r, 0, VA_L + 0x1000, 0, FL_DF | FL_PF);
    check_eq("lodsd.np.df1.eax", rd32(&pgs[9][4]), r.eax);

    /* REP STOSD into a read-only page at iteration 2. */
    map(VA_W, pgs[6], PTE_P | PTE_W);
    map(VA_W + 0x1000, pgs[7], PTE_P);
    arm(PTE_W);
    r = run(s_rep_stosd, 0xA5A5F00D, 6, 0, VA_W + 0x1000 - 8, FL_ZF);
    check_fault("rep_stosd.ro", s_rep_stosd, 4, 0, VA_W + 0x1000, FL_ZF, VA_W + 0x1000,
                PF_P | PF_W);
    check_end("rep_stosd.ro", &r, 0, 0, VA_W + 0x1000 + 16, FL_ZF);
    check_eq("rep_stosd.ro.first", 0xA5A5F00D, rd32(&pgs[6][4092]));
    check_eq("rep_stosd.ro.last", 0xA5A5F00D, rd32(&pgs[7][12]));

    /* REP LODSD into a page not present at iteration 2. */
    pg_update(VA_L + 0x1000, 0, PTE_P);
    arm(PTE_P);
    r = run(s_rep_lodsd, 0, 5, VA_L + 0x1000 - 8, 0, FL_CF);
    check_fault("rep_lodsd.np", s_rep_lodsd, 3, VA_L + 0x1000, 0, FL_CF, VA_L + 0x1000, 0);
    check_end("rep_lodsd.np", &r, 0, VA_L + 0x1000 + 12, 0, FL_CF);
    check_eq("rep_lodsd.np.eax", rd32(&pgs[9][8]), r.eax);
    write_cr0(read_cr0() & ~CR0_WP);
}

/* ---- the 4 GiB wrap ----------------------------------------------------------- */

/* Linear FFFFF000H maps pg_top, linear 0 pg_zero: ESI and EDI wrap
 * (32-bit address size, SDM Vol. 1 3.3.7). No access straddles 4 GiB:
 * through a segment with base 0 that is beyond the limit (SDM Vol. 3A
 * 5.3, #GP), which popek's interpreter checks and QEMU's TCG does not. */
static void wrap(void)
{
    for (unsigned i = 0; i < PAGE_SIZE; i++) {
        pg_top[i] = (uint8_t)(i * 7 + 1);
        pg_zero[i] = (uint8_t)(i * 5 + 3);
    }
    uint8_t want[16];
    memcpy(want, &pg_top[0xFF8], 8);
    memcpy(want + 8, pg_zero, 8);

    memset(dbuf, 0, sizeof dbuf);
    struct sregs r = run(s_rep_movsb, 0, 16, 0xFFFFFFF8, (uint32_t)dbuf, 0);
    check_end("wrap.rep_movsb", &r, 0, 8, (uint32_t)dbuf + 16, 0);
    check_eq("wrap.rep_movsb.data", 0, (uint32_t)memcmp(dbuf, want, 16));

    r = run(s_repe_cmpsb, 0, 16, 0xFFFFFFF8, (uint32_t)dbuf, FL_CF);
    check_end("wrap.repe_cmpsb", &r, 0, 8, (uint32_t)dbuf + 16, 0x44);

    r = run(s_lodsd, 0, 0, 0xFFFFFFFC, 0, 0);
    check_end("wrap.lodsd", &r, 0, 0, 0, 0);
    check_eq("wrap.lodsd.eax", rd32(&pg_top[0xFFC]), r.eax);

    r = run(s_scasd, rd32(pg_zero), 0, 0, 0, FL_DF);
    check_end("wrap.scasd.df1", &r, 0, 0, 0xFFFFFFFC, FL_DF | 0x44);
    r = run(s_scasd, 0, 0, 0, 0xFFFFFFFC, FL_DF);
    check_end("wrap.scasd.df1.top", &r, 0, 0, 0xFFFFFFF8,
              FL_DF | cmp_flags(0, rd32(&pg_top[0xFFC]), 4));

    memcpy(dbuf, "\x34\x12", 2);
    r = run(s_movsw, 0, 0, (uint32_t)dbuf, 0xFFFFFFFE, 0);
    check_end("wrap.movsw", &r, 0, (uint32_t)dbuf + 2, 0, 0);
    check_eq("wrap.movsw.data", 0x1234, pg_top[0xFFE] | (uint32_t)pg_top[0xFFF] << 8);

    r = run(s_stosb, 0x99, 0, 0, 0xFFFFFFFF, 0);
    check_end("wrap.stosb", &r, 0, 0, 0, 0);
    check_eq("wrap.stosb.data", 0x99, pg_top[0xFFF]);

    dbuf[0] = pg_top[0xFFF];
    r = run(s_cmpsb, 0, 0, 0xFFFFFFFF, (uint32_t)dbuf, 0);
    check_end("wrap.cmpsb", &r, 0, 0, (uint32_t)dbuf + 1, 0x44);

    r = run(s_rep_stosd, 0xC0DEC0DE, 3, 0, 4, FL_DF);
    check_end("wrap.rep_stosd.df1", &r, 0, 0, 0xFFFFFFF8, FL_DF);
    check_eq("wrap.rep_stosd.df1.low", 0xC0DEC0DE, rd32(pg_zero));
    check_eq("wrap.rep_stosd.df1.top", 0xC0DEC0DE, rd32(&pg_top[0xFFC]));
}

/* ---- interrupts in the middle of a long REPE CMPSB --------------------------- */

#define PIT_DIVISOR 119 /* ~10 kHz */
#define LONG_START 0x100000u
#define LONG_BYTES 0x600000u

static volatile uint32_t ticks, ticks_inside;

static void irq0_handler(struct trap_frame *f)
{
    ticks++;
    if (f->eip == (uint32_t)s_repe_cmpsb && f->ecx != 0 && f->ecx < LONG_BYTES)
        ticks_inside++;
    pic_eoi(0);
}

static void long_rep(void)
{
    idt_set_handler(VEC_IRQ0, irq0_handler);
    pit_periodic(PIT_DIVISOR);
    pic_unmask(0);
    /* The source is the destination: every element is equal. */
    struct sregs r = run(s_repe_cmpsb, 0, LONG_BYTES, LONG_START, LONG_START, FL_IF | FL_CF);
    pic_mask(0);
    check_end("long.repe_cmpsb", &r, 0, LONG_START + LONG_BYTES, LONG_START + LONG_BYTES, 0x44);
    check_true("long.interrupted_inside", ticks_inside > 0);
}

void test_main(void)
{
    idt_set_handler(VEC_PF, pf_handler);
    pg_init();
    map(TOP, pg_top, PTE_P | PTE_W);
    map(0, pg_zero, PTE_P | PTE_W);
    pg_enable(false);
    rep_compare_faults();
    other_faults();
    wrap();
    long_rep();
    pg_disable();
}
