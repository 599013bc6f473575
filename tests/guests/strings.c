/* String instructions (SDM Vol. 2A CMPS, LODS, MOVS; Vol. 2B SCAS, STOS,
 * REP/REPE/REPZ/REPNE/REPNZ): every form, byte, word and dword, with
 * DF clear and set, without REP, with REP, and REPE/REPNE stopping on
 * the condition and on ECX reaching 0; ECX = 0 at the start (nothing
 * happens, the flags stay); overlapping MOVS in both directions. The
 * expected registers, flags and memory come from a model of the
 * iterations in C; the paged cases (faults inside REP, the 4 GiB wrap,
 * interrupts during a long REP) are in strings_pf.c. No paging and no
 * IRET: the kvm engine runs it too. */
#include "guest.h"

enum { K_MOVS, K_CMPS, K_STOS, K_LODS, K_SCAS };
enum { R_NONE, R_REP, R_REPE, R_REPNE };

/* name, instruction, kind, size, prefix */
#define FORMS(X)                                                                     \
    X(lodsb, "lodsb", K_LODS, 1, R_NONE) X(lodsw, "lodsw", K_LODS, 2, R_NONE)         \
    X(lodsd, "lodsl", K_LODS, 4, R_NONE) X(stosb, "stosb", K_STOS, 1, R_NONE)         \
    X(stosw, "stosw", K_STOS, 2, R_NONE) X(stosd, "stosl", K_STOS, 4, R_NONE)         \
    X(movsb, "movsb", K_MOVS, 1, R_NONE) X(movsw, "movsw", K_MOVS, 2, R_NONE)         \
    X(movsd, "movsl", K_MOVS, 4, R_NONE) X(cmpsb, "cmpsb", K_CMPS, 1, R_NONE)         \
    X(cmpsw, "cmpsw", K_CMPS, 2, R_NONE) X(cmpsd, "cmpsl", K_CMPS, 4, R_NONE)         \
    X(scasb, "scasb", K_SCAS, 1, R_NONE) X(scasw, "scasw", K_SCAS, 2, R_NONE)         \
    X(scasd, "scasl", K_SCAS, 4, R_NONE)                                              \
    X(rep_lodsb, "rep lodsb", K_LODS, 1, R_REP) X(rep_lodsw, "rep lodsw", K_LODS, 2, R_REP) \
    X(rep_lodsd, "rep lodsl", K_LODS, 4, R_REP) X(rep_stosb, "rep stosb", K_STOS, 1, R_REP) \
    X(rep_stosw, "rep stosw", K_STOS, 2, R_REP) X(rep_stosd, "rep stosl", K_STOS, 4, R_REP) \
    X(rep_movsb, "rep movsb", K_MOVS, 1, R_REP) X(rep_movsw, "rep movsw", K_MOVS, 2, R_REP) \
    X(rep_movsd, "rep movsl", K_MOVS, 4, R_REP)                                       \
    X(repe_cmpsb, "repe cmpsb", K_CMPS, 1, R_REPE) X(repe_cmpsw, "repe cmpsw", K_CMPS, 2, R_REPE) \
    X(repe_cmpsd, "repe cmpsl", K_CMPS, 4, R_REPE)                                    \
    X(repne_cmpsb, "repne cmpsb", K_CMPS, 1, R_REPNE)                                 \
    X(repne_cmpsw, "repne cmpsw", K_CMPS, 2, R_REPNE)                                 \
    X(repne_cmpsd, "repne cmpsl", K_CMPS, 4, R_REPNE)                                 \
    X(repe_scasb, "repe scasb", K_SCAS, 1, R_REPE) X(repe_scasw, "repe scasw", K_SCAS, 2, R_REPE) \
    X(repe_scasd, "repe scasl", K_SCAS, 4, R_REPE)                                    \
    X(repne_scasb, "repne scasb", K_SCAS, 1, R_REPNE)                                 \
    X(repne_scasw, "repne scasw", K_SCAS, 2, R_REPNE)                                 \
    X(repne_scasd, "repne scasl", K_SCAS, 4, R_REPNE)

#define STUB_ASM(name, insn, k, s, r) "s_" #name ":\n  " insn "\n  ret\n"
/* str_exec(r): loads EAX ECX ESI EDI and EFLAGS from *r, calls str_fn,
 * stores them back, clears DF. */
__asm__(".text\n" FORMS(STUB_ASM)
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

struct sregs {
    uint32_t eax, ecx, esi, edi, eflags;
};
extern void str_exec(struct sregs *r);
void (*volatile str_fn)(void);

struct form {
    const char *name;
    void (*stub)(void);
    uint8_t kind, size, rep;
};
#define STUB_DECL(name, insn, k, s, r) extern void s_##name(void);
FORMS(STUB_DECL)
#define FORM_ROW(name, insn, k, s, r) {#name, s_##name, k, s, r},
static const struct form forms[] = {FORMS(FORM_ROW)};

/* CF PF AF ZF SF OF and DF (SDM Vol. 1 3.4.3). */
#define FL_ARITH 0x8D5u
#define FL_CHECKED (FL_ARITH | FL_DF)

/* Source area arena[0..512), destination area arena[512..1024): the
 * pointers start in the middle of each. */
static uint8_t arena[1024] __attribute__((aligned(64)));
static uint8_t model_mem[1024];
#define SRC_START 256u
#define DST_START 768u

static uint32_t lcg_state;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static uint32_t mask_of(unsigned size) { return size == 4 ? ~0u : (1u << (8 * size)) - 1; }

static uint32_t mrd(uint32_t addr, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)model_mem[(addr + i - (uint32_t)arena) & 1023] << (8 * i);
    return v;
}

static void mwr(uint32_t addr, uint32_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        model_mem[(addr + i - (uint32_t)arena) & 1023] = (uint8_t)(v >> (8 * i));
}

/* The flags of CMP a, b at size (SDM Vol. 1 Appendix A; Vol. 2A CMP). */
static uint32_t cmp_flags(uint32_t a, uint32_t b, unsigned size)
{
    uint32_t m = mask_of(size), sign = 1u << (8 * size - 1);
    a &= m;
    b &= m;
    uint32_t r = (a - b) & m, f = 0;
    if (a < b)
        f |= FL_CF;
    uint32_t p = r & 0xFF;
    p ^= p >> 4;
    p ^= p >> 2;
    p ^= p >> 1;
    if (!(p & 1))
        f |= 0x4; /* PF: even parity of the low byte */
    if ((a ^ b ^ r) & 0x10)
        f |= 0x10; /* AF */
    if (r == 0)
        f |= FL_ZF;
    if (r & sign)
        f |= 0x80; /* SF */
    if ((a ^ b) & (a ^ r) & sign)
        f |= FL_OF;
    return f;
}

/* The iterations as the SDM describes them, on model_mem. */
static void model(struct sregs *r, const struct form *f)
{
    unsigned size = f->size;
    uint32_t step = (r->eflags & FL_DF) ? (uint32_t)-size : size, m = mask_of(size);
    if (f->rep != R_NONE && r->ecx == 0)
        return;
    for (;;) {
        switch (f->kind) {
        case K_LODS:
            r->eax = (r->eax & ~m) | mrd(r->esi, size);
            r->esi += step;
            break;
        case K_STOS:
            mwr(r->edi, r->eax, size);
            r->edi += step;
            break;
        case K_MOVS:
            mwr(r->edi, mrd(r->esi, size), size);
            r->esi += step;
            r->edi += step;
            break;
        case K_CMPS:
            r->eflags = (r->eflags & ~FL_ARITH) |
                        cmp_flags(mrd(r->esi, size), mrd(r->edi, size), size);
            r->esi += step;
            r->edi += step;
            break;
        default:
            r->eflags = (r->eflags & ~FL_ARITH) | cmp_flags(r->eax, mrd(r->edi, size), size);
            r->edi += step;
            break;
        }
        if (f->rep == R_NONE || --r->ecx == 0)
            return;
        bool zf = r->eflags & FL_ZF;
        if ((f->rep == R_REPE && !zf) || (f->rep == R_REPNE && zf))
            return;
    }
}

static uint32_t fnv(uint32_t h, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        h = (h ^ ((v >> (8 * i)) & 0xFF)) * 16777619u;
    return h;
}

static uint32_t regs_hash(const struct sregs *r)
{
    uint32_t h = 2166136261u;
    h = fnv(h, r->eax);
    h = fnv(h, r->ecx);
    h = fnv(h, r->esi - (uint32_t)arena);
    return fnv(h, r->edi - (uint32_t)arena);
}

static uint32_t mem_hash(const uint8_t *m)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < sizeof arena; i++)
        h = (h ^ m[i]) * 16777619u;
    return h;
}

/* Element i of a pointer's walk: ptr + i * step. */
static uint32_t elem(uint32_t ptr, unsigned i, const struct form *f, bool df)
{
    return df ? ptr - i * f->size : ptr + i * f->size;
}

/* Makes a REPE/REPNE run stop on its condition at element stop (or
 * never, stop = ~0u): REPE sees equal elements before it, REPNE
 * different ones. */
static void shape(const struct form *f, const struct sregs *r, bool df, unsigned n, unsigned stop)
{
    bool repe = f->rep == R_REPE;
    for (unsigned i = 0; i < n; i++) {
        uint32_t d = elem(r->edi, i, f, df);
        uint32_t want = f->kind == K_SCAS ? r->eax : mrd(elem(r->esi, i, f, df), f->size);
        bool equal = (i == stop) != repe;
        uint32_t v = equal ? want : want ^ (1u + (lcg() & 0x7F));
        mwr(d, v, f->size);
    }
}

static void run_case(const struct form *f, bool df, uint32_t ecx, unsigned stop, const char *tag)
{
    lcg_state = (uint32_t)(f - forms) * 977u + ecx * 31u + df * 7u + stop;
    for (unsigned i = 0; i < sizeof arena; i++)
        model_mem[i] = (uint8_t)lcg();
    struct sregs r = {.eax = lcg() ^ lcg() << 8, .ecx = ecx,
                      .esi = (uint32_t)arena + SRC_START, .edi = (uint32_t)arena + DST_START};
    r.eflags = (read_eflags() & ~FL_CHECKED) | (lcg() & FL_ARITH) | (df ? FL_DF : 0);
    if (f->rep == R_REPE || f->rep == R_REPNE)
        shape(f, &r, df, ecx, stop);
    memcpy(arena, model_mem, sizeof arena);
    struct sregs want = r;
    model(&want, f);
    str_fn = f->stub;
    str_exec(&r);
    check_eqf(regs_hash(&want), regs_hash(&r), "%s.df%u.%s.regs", f->name, df, tag);
    check_eqf(want.eflags & FL_CHECKED, r.eflags & FL_CHECKED, "%s.df%u.%s.flags", f->name, df,
              tag);
    check_eqf(mem_hash(model_mem), mem_hash(arena), "%s.df%u.%s.mem", f->name, df, tag);
}

/* Overlapping MOVS moves element by element (SDM Vol. 2A MOVS: one
 * element per iteration): a destination one element past the source
 * replicates the first element, DF = 1 with the destination below the
 * source the last one. */
static void overlap(void)
{
    static const struct {
        const char *name;
        unsigned form, df;
        int32_t dst_minus_src;
        uint32_t ecx;
    } cases[] = {
        {"overlap.movsb.up1", 21, 0, 1, 40},    {"overlap.movsd.up2", 23, 0, 2, 17},
        {"overlap.movsw.up3", 22, 0, 3, 19},    {"overlap.movsb.down1", 21, 1, -1, 40},
        {"overlap.movsd.down4", 23, 1, -4, 16}, {"overlap.movsb.single", 6, 0, 1, 0},
    };
    for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct form *f = &forms[cases[k].form];
        lcg_state = 4242 + k;
        for (unsigned i = 0; i < sizeof arena; i++)
            model_mem[i] = (uint8_t)lcg();
        memcpy(arena, model_mem, sizeof arena);
        uint32_t src = (uint32_t)arena + 400;
        struct sregs r = {.eax = 0, .ecx = cases[k].ecx, .esi = src,
                          .edi = src + (uint32_t)cases[k].dst_minus_src};
        r.eflags = (read_eflags() & ~FL_CHECKED) | (cases[k].df ? FL_DF : 0);
        struct sregs want = r;
        model(&want, f);
        str_fn = f->stub;
        str_exec(&r);
        check_eqf(regs_hash(&want), regs_hash(&r), "%s.regs", cases[k].name);
        check_eqf(mem_hash(model_mem), mem_hash(arena), "%s.mem", cases[k].name);
    }
}

void test_main(void)
{
    _Static_assert(sizeof forms / sizeof forms[0] == 36, "the overlap table's form indexes");
    for (unsigned k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        const struct form *f = &forms[k];
        for (unsigned df = 0; df < 2; df++) {
            if (f->rep == R_NONE) {
                run_case(f, df, 0x55, ~0u, "one");
            } else if (f->rep == R_REP) {
                run_case(f, df, 7, ~0u, "n7");
            } else {
                run_case(f, df, 9, 3, "stop3");
                run_case(f, df, 6, ~0u, "exhaust");
                run_case(f, df, 1, 0, "one");
            }
            if (f->rep != R_NONE && !df)
                run_case(f, df, 0, ~0u, "start0");
        }
    }
    overlap();
}
