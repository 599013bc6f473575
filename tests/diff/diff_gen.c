/* The case generator: initial state, operand pickers, encoder helpers and
 * the loop that assembles a sequence from the instruction families of
 * diff_gen_ops.c. Seeded per case (splitmix64 of seed and index into a
 * xorshift64* stream), so case K of seed S is the same wherever it runs. */
#include "diff_gen.h"

#include <string.h>

/* ---- randomness ---- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint32_t gen_rand(struct gen *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return (uint32_t)((g->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t gen_below(struct gen *g, uint32_t n)
{
    return n ? (uint32_t)(((uint64_t)gen_rand(g) * n) >> 32) : 0;
}

bool gen_chance(struct gen *g, unsigned percent) { return gen_below(g, 100) < percent; }

uint32_t gen_value(struct gen *g, unsigned bits)
{
    static const uint32_t edges[] = {
        0,          1,          2,          0x7F,       0x80,       0xFF,       0x7FFF,
        0x8000,     0xFFFF,     0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x80000001,
        0x100,      0x10000,    9,          10,         0x99,       0x0F,       0xF0,
        0x55555555, 0xAAAAAAAA, 0x7FFFFFFE, 0xFFFF8000, 0xFFFFFF80, 0x0000FFFE, 0x01000000};
    uint32_t v;
    switch (gen_below(g, 4)) {
    case 0:
    case 1: v = edges[gen_below(g, sizeof(edges) / sizeof(edges[0]))]; break;
    case 2: v = gen_below(g, 40) - 20; break;
    default: v = gen_rand(g); break;
    }
    return bits >= 32 ? v : v & ((1u << bits) - 1);
}

unsigned gen_size(struct gen *g)
{
    unsigned r = gen_below(g, 10);
    return r < 3 ? 8 : r < 5 ? 16 : 32;
}

uint32_t gen_pointer(struct gen *g, uint32_t below, uint32_t above)
{
    uint32_t lo = DIFF_DATA_BASE + below, hi = DIFF_DATA_END - above;
    if (hi <= lo)
        return lo;
    /* Often right at the page boundary in the middle of the data area. */
    if (gen_chance(g, 30)) {
        uint32_t p = 0x9000 - 8 + gen_below(g, 16);
        if (p >= lo && p <= hi)
            return p;
    }
    return lo + gen_below(g, hi - lo + 1);
}

/* ---- encoding ---- */

void enc_byte(struct enc *e, uint8_t b)
{
    if (e->n < sizeof(e->b))
        e->b[e->n++] = b;
}

void enc_imm(struct enc *e, uint32_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        enc_byte(e, (uint8_t)(v >> (8 * i)));
}

void enc_prefixes(struct enc *e, uint8_t first, unsigned size, const struct rm *rm)
{
    if (first)
        enc_byte(e, first);
    if (rm && rm->mem && rm->seg)
        enc_byte(e, rm->seg);
    if (size == 16)
        enc_byte(e, 0x66);
    if (rm && rm->mem && rm->a16)
        enc_byte(e, 0x67);
}

void enc_modrm(struct enc *e, unsigned regfield, const struct rm *rm)
{
    if (!rm->mem) {
        enc_byte(e, (uint8_t)(0xC0 | (regfield & 7) << 3 | (rm->reg & 7)));
        return;
    }
    enc_byte(e, (uint8_t)(rm->mod << 6 | (regfield & 7) << 3 | rm->rm));
    if (rm->has_sib)
        enc_byte(e, rm->sib);
    enc_imm(e, rm->disp, rm->disp_len);
}

int gen_emit(struct gen *g, const struct enc *e)
{
    if (g->n >= DIFF_MAX_INSNS || g->len + e->n + DIFF_END_LEN > DIFF_CODE_MAX || e->n == 0)
        return -1;
    struct diff_track t = g->t;
    const char *why;
    int len = diff_track_step(&t, e->b, e->n, &why);
    if (len != (int)e->n)
        return -1;
    g->t = t;
    memcpy(g->c->code + g->len, e->b, e->n);
    g->len += e->n;
    g->n++;
    return 0;
}

int gen_mov_imm(struct gen *g, unsigned reg, uint32_t v)
{
    struct enc e = {.n = 0};
    enc_byte(&e, (uint8_t)(0xB8 + reg));
    enc_imm(&e, v, 4);
    return gen_emit(g, &e);
}

/* ---- operand pickers ---- */

unsigned gen_gpr(unsigned code, unsigned size) { return size == 8 ? (code & 3) : code; }

int gen_pick_reg(struct gen *g, unsigned size, unsigned how, uint8_t avoid)
{
    unsigned start = gen_below(g, 8);
    for (unsigned i = 0; i < 8; i++) {
        unsigned code = (start + i) & 7, r = gen_gpr(code, size);
        if (avoid & (1u << r))
            continue;
        if ((how & PICK_WRITE) && size != 8 && r == DIFF_ESP)
            continue;
        if ((how & PICK_READ) && (g->t.poison & (1u << r)))
            continue;
        return (int)code;
    }
    return -1;
}

/* Registers whose value the tracker knows and that may form an address. */
static uint8_t addressable(const struct gen *g, uint8_t avoid)
{
    return (uint8_t)(g->t.known & ~g->t.poison & ~avoid);
}

static int pick_from(struct gen *g, uint8_t set)
{
    unsigned n = (unsigned)__builtin_popcount(set);
    if (!n)
        return -1;
    unsigned k = gen_below(g, n);
    for (int r = 0; r < 8; r++)
        if ((set & (1u << r)) && k-- == 0)
            return r;
    return -1;
}

static void set_disp32(struct rm *m, uint32_t disp, bool allow_short, bool allow_none)
{
    int32_t d = (int32_t)disp;
    if (allow_none && d == 0) {
        m->mod = 0;
        m->disp_len = 0;
    } else if (allow_short && d >= -128 && d <= 127) {
        m->mod = 1;
        m->disp_len = 1;
    } else {
        m->mod = 2;
        m->disp_len = 4;
    }
    m->disp = disp;
}

/* 32-bit addressing (SDM Vol. 2, Table 2-2 and 2-3). */
static bool pick_mem32(struct gen *g, uint32_t target, uint8_t regs, struct rm *m)
{
    const uint32_t *v = g->t.val;
    int base = pick_from(g, regs), index = pick_from(g, (uint8_t)(regs & ~(1u << DIFF_ESP)));
    bool shortd = gen_chance(g, 80), nodisp = gen_chance(g, 70);
    switch (gen_below(g, 5)) {
    case 0: /* [disp32] */
        m->mod = 0, m->rm = 5, m->disp_len = 4, m->disp = target;
        return true;
    case 1: /* [base + disp] */
    case 2:
        if (base < 0)
            return false;
        m->rm = (uint8_t)base;
        set_disp32(m, target - v[base], shortd, nodisp && base != DIFF_EBP);
        if (base == DIFF_ESP) /* ESP as base needs a SIB byte, index 100 = none */
            m->has_sib = true, m->sib = (uint8_t)(gen_below(g, 4) << 6 | 4 << 3 | 4);
        else if (gen_chance(g, 15)) /* the redundant SIB form of the same operand */
            m->rm = 4, m->has_sib = true, m->sib = (uint8_t)(gen_below(g, 4) << 6 | 4 << 3 | base);
        return true;
    case 3: { /* [base + index*scale + disp] */
        if (base < 0 || index < 0)
            return false;
        unsigned s = gen_below(g, 4);
        m->rm = 4, m->has_sib = true, m->sib = (uint8_t)(s << 6 | index << 3 | base);
        set_disp32(m, target - v[base] - (v[index] << s), shortd, nodisp && base != DIFF_EBP);
        return true;
    }
    default: { /* [index*scale + disp32] */
        if (index < 0)
            return false;
        unsigned s = gen_below(g, 4);
        m->mod = 0, m->rm = 4, m->has_sib = true, m->sib = (uint8_t)(s << 6 | index << 3 | 5);
        m->disp_len = 4, m->disp = target - (v[index] << s);
        return true;
    }
    }
}

/* 16-bit addressing (SDM Vol. 2, Table 2-1): the effective address wraps
 * at 64 KiB, so any displacement reaches the data area below it. */
static bool pick_mem16(struct gen *g, uint32_t target, uint8_t regs, struct rm *m)
{
    static const int8_t r1[8] = {DIFF_EBX, DIFF_EBX, DIFF_EBP, DIFF_EBP,
                                 DIFF_ESI, DIFF_EDI, DIFF_EBP, DIFF_EBX};
    static const int8_t r2[8] = {DIFF_ESI, DIFF_EDI, DIFF_ESI, DIFF_EDI, -1, -1, -1, -1};
    unsigned rm = gen_below(g, 9);
    m->a16 = true;
    if (rm == 8) { /* [disp16] */
        m->mod = 0, m->rm = 6, m->disp_len = 2, m->disp = target;
        return true;
    }
    if (!(regs & (1u << r1[rm])) || (r2[rm] >= 0 && !(regs & (1u << r2[rm]))))
        return false;
    uint32_t sum = g->t.val[r1[rm]] + (r2[rm] >= 0 ? g->t.val[r2[rm]] : 0);
    uint16_t d = (uint16_t)(target - sum);
    m->rm = (uint8_t)rm;
    if (d == 0 && rm != 6 && gen_chance(g, 70))
        m->mod = 0, m->disp_len = 0;
    else if ((int16_t)d >= -128 && (int16_t)d <= 127 && gen_chance(g, 80))
        m->mod = 1, m->disp_len = 1;
    else
        m->mod = 2, m->disp_len = 2;
    m->disp = d;
    return true;
}

static uint8_t pick_segment(struct gen *g)
{
    /* ES, SS, DS overrides: flat and writable on both sides. CS is not
     * writable (a store through it is #GP), FS/GS bases differ. */
    static const uint8_t segs[] = {0x26, 0x36, 0x3E};
    return gen_chance(g, 8) ? segs[gen_below(g, 3)] : 0;
}

bool gen_pick_mem(struct gen *g, unsigned size, uint8_t avoid, struct rm *out)
{
    uint8_t regs = addressable(g, avoid);
    for (int tries = 0; tries < 8; tries++) {
        struct rm m = {.mem = true};
        uint32_t target;
        int near = pick_from(g, regs);
        if (near >= 0 && gen_chance(g, 40) && g->t.val[near] >= DIFF_DATA_BASE &&
            g->t.val[near] < DIFF_DATA_END)
            target = g->t.val[near] + gen_below(g, 33) - 16;
        else
            target = gen_pointer(g, 0, size);
        if (target < DIFF_DATA_BASE || target + size > DIFF_DATA_END)
            continue;
        bool ok =
            gen_chance(g, 12) ? pick_mem16(g, target, regs, &m) : pick_mem32(g, target, regs, &m);
        if (!ok)
            continue;
        m.seg = pick_segment(g);
        m.addr = target;
        *out = m;
        return true;
    }
    return false;
}

bool gen_pick_rm(struct gen *g, unsigned size, unsigned how, bool allow_mem, uint8_t avoid,
                 struct rm *out)
{
    if (allow_mem && gen_chance(g, 45) && gen_pick_mem(g, size / 8, avoid, out))
        return true;
    int r = gen_pick_reg(g, size, how, avoid);
    if (r < 0)
        return false;
    *out = (struct rm){.reg = (unsigned)r};
    return true;
}

bool gen_pick_agen(struct gen *g, struct rm *out)
{
    /* LEA computes an address without touching memory: any defined
     * register and any displacement will do. */
    uint8_t regs = (uint8_t)~g->t.poison;
    struct diff_track saved = g->t;
    g->t.known = 0xFF; /* the pickers only use the values to aim at a target */
    bool ok = false;
    for (int tries = 0; tries < 8 && !ok; tries++) {
        struct rm m = {.mem = true};
        uint32_t target = gen_chance(g, 50) ? gen_rand(g) : gen_pointer(g, 0, 1);
        ok = gen_chance(g, 20) ? pick_mem16(g, target, regs, &m) : pick_mem32(g, target, regs, &m);
        if (ok) {
            if (gen_chance(g, 30)) /* an arbitrary displacement, not aimed */
                m.disp = gen_value(g, 32) & (m.disp_len == 4   ? 0xFFFFFFFF
                                             : m.disp_len == 2 ? 0xFFFF
                                                               : 0xFF);
            *out = m;
        }
    }
    g->t = saved;
    return ok;
}

/* ---- the case ---- */

static void init_state(struct gen *g, struct diff_case *c)
{
    for (int r = 0; r < DIFF_NGPR; r++) {
        if (r == DIFF_ESP)
            c->gpr[r] = gen_pointer(g, 0x180, 0x40) - (gen_chance(g, 10) ? gen_below(g, 4) : 0);
        else if (gen_chance(g, 35))
            c->gpr[r] = gen_pointer(g, 0, 4);
        else
            c->gpr[r] = gen_value(g, 32);
    }
    c->eflags =
        (gen_rand(g) & DIFF_FL_ARITH) | (gen_chance(g, 25) ? DIFF_FL_DF : 0) | DIFF_FL_FIXED;
    for (unsigned i = 0; i < DIFF_DATA_SIZE; i += 4) {
        uint32_t v = gen_chance(g, 30) ? gen_value(g, 32) : gen_rand(g);
        if (gen_chance(g, 10))
            v = 0; /* zero runs: BSF/BSR sources, REPE SCAS stops */
        memcpy(c->data + i, &v, 4);
    }
}

static const struct gen_family *pick_family(struct gen *g, bool last)
{
    unsigned total = 0;
    for (size_t i = 0; i < gen_nfamilies; i++)
        if (last || !gen_families[i].last_only)
            total += gen_families[i].weight;
    unsigned k = gen_below(g, total);
    for (size_t i = 0; i < gen_nfamilies; i++) {
        if (!last && gen_families[i].last_only)
            continue;
        if (k < gen_families[i].weight)
            return &gen_families[i];
        k -= gen_families[i].weight;
    }
    return &gen_families[0];
}

static void append_end(struct gen *g)
{
    static const uint8_t marker[DIFF_END_LEN] = {0xFF, 0x25, DIFF_END_VEC & 0xFF,
                                                 (DIFF_END_VEC >> 8) & 0xFF,
                                                 (DIFF_END_VEC >> 16) & 0xFF, DIFF_END_VEC >> 24};
    memcpy(g->c->code + g->len, marker, DIFF_END_LEN);
    g->c->code_len = g->len + DIFF_END_LEN;
}

void diff_gen_case(uint64_t seed, uint64_t index, struct diff_case *c, struct diff_meta *m)
{
    memset(c, 0, sizeof(*c));
    struct gen g = {.rng = splitmix64(seed ^ splitmix64(index)) | 1, .c = c};
    init_state(&g, c);
    diff_track_init(&g.t, c);
    unsigned want = 1 + gen_below(&g, 8);
    for (unsigned main = 0; main < want; main++) {
        for (int attempt = 0; attempt < 64; attempt++) {
            struct gen saved = g;
            const struct gen_family *f = pick_family(&g, main + 1 == want);
            if (f->fn(&g) == 0)
                break;
            uint64_t rng = g.rng;
            g = saved;
            g.rng = rng;
        }
    }
    append_end(&g);
    const char *why;
    unsigned bad;
    if (diff_analyse(c, m, &why, &bad) < 0) {
        /* The tracker accepted each step; a whole-case rejection means the
         * two disagree, which must never happen: make it loud. */
        fprintf(stderr, "diff_gen: seed %llu case %llu: instruction %u rejected (%s)\n",
                (unsigned long long)seed, (unsigned long long)index, bad, why);
        memset(m, 0, sizeof(*m));
        c->code_len = 0;
    }
}
