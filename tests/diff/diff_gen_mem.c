/* The generator's exchange, address, stack, string, flag and fault
 * families, and the table of all families with their weights. */
#include "diff_gen.h"

#include <string.h>

static uint8_t opw(uint8_t op, unsigned size) { return size == 8 ? op : (uint8_t)(op + 1); }

/* The little-endian value at a data-area address, when nothing has
 * written it yet. */
static bool data_value(const struct gen *g, uint32_t addr, unsigned n, uint64_t *v)
{
    for (uint32_t i = addr - DIFF_DATA_BASE; i < addr - DIFF_DATA_BASE + n; i++)
        if (g->t.dirty[i / 8] & (1u << (i % 8)))
            return false;
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v |= (uint64_t)g->t.data[addr - DIFF_DATA_BASE + i] << (8 * i);
    return true;
}

/* CMPXCHG/CMPXCHG8B compare with the accumulator: make them equal half of
 * the time so both outcomes occur. */
static int match_accumulator(struct gen *g, const struct rm *rm, unsigned size)
{
    uint64_t v;
    if (!gen_chance(g, 50))
        return 0;
    if (rm->mem) {
        if (!data_value(g, rm->addr, size / 8, &v))
            return 0;
    } else {
        unsigned r = gen_gpr(rm->reg, size);
        if (!(g->t.known & (1u << r)))
            return 0;
        v = g->t.val[r];
        if (size == 8 && rm->reg >= 4)
            v >>= 8;
    }
    uint32_t a = (g->t.known & 1) ? g->t.val[DIFF_EAX] : gen_rand(g);
    uint32_t mask = size >= 32 ? 0xFFFFFFFF : (1u << size) - 1;
    if (gen_mov_imm(g, DIFF_EAX, (a & ~mask) | ((uint32_t)v & mask)) < 0)
        return -1;
    return size == 64 ? gen_mov_imm(g, DIFF_EDX, (uint32_t)(v >> 32)) : 0;
}

/* XCHG XADD CMPXCHG CMPXCHG8B BSWAP. */
static int fam_exchange(struct gen *g)
{
    unsigned size = gen_size(g), form = gen_below(g, 6);
    struct enc e = {.n = 0};
    struct rm rm;
    int reg;
    if (form == 4) { /* CMPXCHG8B m64 (0F C7 /1) */
        if (!gen_pick_mem(g, 8, (1u << DIFF_EAX) | (1u << DIFF_EDX), &rm) ||
            match_accumulator(g, &rm, 64) < 0)
            return -1;
        enc_prefixes(&e, gen_chance(g, 30) ? 0xF0 : 0, 32, &rm);
        enc_byte(&e, 0x0F);
        enc_byte(&e, 0xC7);
        enc_modrm(&e, 1, &rm);
        return gen_emit(g, &e);
    }
    if (form == 5) { /* BSWAP r32, rarely r16 (undefined result) */
        size = gen_chance(g, 10) ? 16 : 32;
        if ((reg = gen_pick_reg(g, size, PICK_READ | PICK_WRITE, 0)) < 0)
            return -1;
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, 0x0F);
        enc_byte(&e, (uint8_t)(0xC8 + reg));
        return gen_emit(g, &e);
    }
    if (form == 3 && size != 8) { /* XCHG eAX, r (90+r) */
        if ((reg = gen_pick_reg(g, size, PICK_READ | PICK_WRITE, 1u << DIFF_EAX)) < 0)
            return -1;
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, (uint8_t)(0x90 + reg));
        return gen_emit(g, &e);
    }
    if ((reg = gen_pick_reg(g, size, PICK_READ | PICK_WRITE, 0)) < 0 ||
        !gen_pick_rm(g, size, PICK_READ | PICK_WRITE, true, 0, &rm))
        return -1;
    if (form == 2 && match_accumulator(g, &rm, size) < 0)
        return -1;
    enc_prefixes(&e, rm.mem && gen_chance(g, 20) ? 0xF0 : 0, size, &rm);
    if (form == 0 || form == 3) {
        enc_byte(&e, opw(0x86, size));
    } else {
        enc_byte(&e, 0x0F);
        enc_byte(&e, form == 1 ? opw(0xC0, size) : opw(0xB0, size));
    }
    enc_modrm(&e, (unsigned)reg, &rm);
    return gen_emit(g, &e);
}

/* LEA with every addressing form, 16- and 32-bit. */
static int fam_lea(struct gen *g)
{
    unsigned size = gen_chance(g, 20) ? 16 : 32;
    int reg = gen_pick_reg(g, size, PICK_WRITE, 0);
    struct rm rm;
    if (reg < 0 || !gen_pick_agen(g, &rm))
        return -1;
    rm.seg = 0;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    enc_byte(&e, 0x8D);
    enc_modrm(&e, (unsigned)reg, &rm);
    return gen_emit(g, &e);
}

/* EBP as a frame pointer near ESP, for LEAVE and nested ENTER. */
static int set_frame(struct gen *g, uint32_t below)
{
    uint32_t esp = g->t.val[DIFF_ESP];
    uint32_t lo = esp > DIFF_DATA_BASE + below + 8 ? esp - 8 : DIFF_DATA_BASE + below;
    uint32_t hi = DIFF_DATA_END - 8;
    if (lo < DIFF_DATA_BASE + below)
        lo = DIFF_DATA_BASE + below;
    if (hi <= lo)
        return -1;
    return gen_mov_imm(g, DIFF_EBP, lo + gen_below(g, (hi - lo) < 64 ? hi - lo : 64));
}

/* PUSH POP (register, r/m, immediate) PUSHA POPA ENTER LEAVE. */
static int fam_stack(struct gen *g)
{
    unsigned size = gen_chance(g, 15) ? 16 : 32;
    struct enc e = {.n = 0};
    struct rm rm;
    int reg;
    switch (gen_below(g, 8)) {
    case 0: /* PUSH r */
        if ((reg = gen_pick_reg(g, size, PICK_READ, 0)) < 0)
            return -1;
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, (uint8_t)(0x50 + reg));
        break;
    case 1: /* POP r */
        if ((reg = gen_pick_reg(g, size, PICK_WRITE, 0)) < 0)
            return -1;
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, (uint8_t)(0x58 + reg));
        break;
    case 2: /* PUSH r/m (FF /6), POP r/m (8F /0) */
        if (!gen_pick_rm(g, size, PICK_READ | PICK_WRITE, true, 0, &rm))
            return -1;
        enc_prefixes(&e, 0, size, &rm);
        bool push = gen_chance(g, 50);
        enc_byte(&e, push ? 0xFF : 0x8F);
        enc_modrm(&e, push ? 6 : 0, &rm);
        break;
    case 3: /* PUSH imm8 (sign-extended) / imm16/32 */
        enc_prefixes(&e, 0, size, NULL);
        if (gen_chance(g, 50)) {
            enc_byte(&e, 0x6A);
            enc_imm(&e, gen_value(g, 8), 1);
        } else {
            enc_byte(&e, 0x68);
            enc_imm(&e, gen_value(g, size), size / 8);
        }
        break;
    case 4: /* PUSHA / POPA */
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, gen_chance(g, 50) ? 0x60 : 0x61);
        break;
    case 5:
    case 6: { /* ENTER imm16, imm8 */
        unsigned level = gen_chance(g, 60) ? 0 : 1 + gen_below(g, 3);
        if (level > 1 && set_frame(g, 4 * level) < 0)
            return -1;
        enc_byte(&e, 0xC8);
        enc_imm(&e, gen_chance(g, 50) ? 0 : gen_below(g, 17) * 4 + gen_below(g, 2), 2);
        enc_byte(&e, (uint8_t)(level | (gen_chance(g, 10) ? 0x20 : 0))); /* level is mod 32 */
        break;
    }
    default: /* LEAVE */
        if (gen_chance(g, 60) && set_frame(g, 0) < 0)
            return -1;
        enc_byte(&e, 0xC9);
        break;
    }
    return gen_emit(g, &e);
}

/* A string pointer for `count` elements of `size` bytes in direction df;
 * with 16-bit addressing the upper half is random (the CPU ignores it). */
static uint32_t string_pointer(struct gen *g, unsigned count, unsigned size, bool df, bool a16)
{
    uint32_t span = count ? (count - 1) * size : 0;
    uint32_t p = df ? gen_pointer(g, span, size) : gen_pointer(g, 0, span + size);
    return a16 ? (gen_rand(g) & 0xFFFF0000) | p : p;
}

/* MOVS STOS LODS CMPS SCAS, byte/word/dword, REP/REPE/REPNE, either
 * direction, 32- or 16-bit addressing, with or without a segment
 * override. */
static int fam_string(struct gen *g)
{
    static const uint8_t ops[] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE};
    unsigned which = gen_below(g, 5), size = gen_size(g);
    bool compares = which >= 3, a16 = gen_chance(g, 20);
    uint8_t rep = gen_chance(g, 30) ? 0 : compares && gen_chance(g, 50) ? 0xF2 : 0xF3;
    if (gen_chance(g, 35)) {
        struct enc s = {.n = 0};
        enc_byte(&s, g->t.df ? 0xFC : 0xFD); /* flip DF */
        if (gen_emit(g, &s) < 0)
            return -1;
    }
    unsigned count = gen_chance(g, 10) ? 0 : 1 + gen_below(g, 12);
    if (rep && gen_mov_imm(g, DIFF_ECX, a16 ? (gen_rand(g) & 0xFFFF0000) | count : count) < 0)
        return -1;
    unsigned n = rep ? count : 1, bytes = size / 8;
    bool si = which == 0 || which == 2 || which == 3, di = which != 2;
    uint32_t esi = string_pointer(g, n, bytes, g->t.df, a16);
    uint32_t edi = string_pointer(g, n, bytes, g->t.df, a16);
    /* So that REPE/REPNE also stop on the data after some elements, not
     * only at the first or at the end: CMPS with one pointer for both
     * operands (every element equal), SCAS with the accumulator equal to
     * element k, when the case has not written it. */
    if (which == 3 && gen_chance(g, 30))
        edi = esi;
    if (si && gen_mov_imm(g, DIFF_ESI, esi) < 0)
        return -1;
    if (di && gen_mov_imm(g, DIFF_EDI, edi) < 0)
        return -1;
    uint64_t v;
    uint32_t k = n ? gen_below(g, n) : 0, di_eff = a16 ? edi & 0xFFFF : edi;
    uint32_t elem = g->t.df ? di_eff - k * bytes : di_eff + k * bytes;
    if (which == 4 && n && gen_chance(g, 50) && data_value(g, elem, bytes, &v)) {
        uint32_t mask = size == 32 ? ~0u : (1u << size) - 1;
        if (gen_mov_imm(g, DIFF_EAX, (gen_rand(g) & ~mask) | ((uint32_t)v & mask)) < 0)
            return -1;
    }
    struct enc e = {.n = 0};
    if (rep)
        enc_byte(&e, rep);
    /* A segment override, flat in the guest and in the Linux oracle (ES,
     * SS, DS; FS and GS are not, CS is not writable): on the source of
     * MOVS, CMPS and LODS it is used, on STOS and SCAS ignored. */
    if (gen_chance(g, 20))
        enc_byte(&e, (const uint8_t[]){0x26, 0x36, 0x3E}[gen_below(g, 3)]);
    if (size == 16)
        enc_byte(&e, 0x66);
    if (a16)
        enc_byte(&e, 0x67);
    enc_byte(&e, opw(ops[which], size));
    return gen_emit(g, &e);
}

/* CBW CWDE CWD CDQ LAHF SAHF CLC STC CMC CLD STD XLAT NOP. */
static int fam_flags_misc(struct gen *g)
{
    static const uint8_t simple[] = {0x98, 0x99, 0x9F, 0x9E, 0xF8, 0xF9, 0xF5, 0xFC, 0xFD, 0x90};
    struct enc e = {.n = 0};
    unsigned k = gen_below(g, 12);
    if (k < 10) {
        if (k < 2 && gen_chance(g, 40))
            enc_byte(&e, 0x66); /* CBW, CWD */
        enc_byte(&e, simple[k]);
        return gen_emit(g, &e);
    }
    /* XLAT: AL indexes a 256-byte window that must lie in the data area. */
    bool a16 = gen_chance(g, 25);
    uint32_t al = gen_below(g, 256);
    if (gen_mov_imm(g, DIFF_EAX, (gen_rand(g) & ~0xFFu) | al) < 0)
        return -1;
    uint32_t bx = gen_pointer(g, 0, al + 1);
    if (gen_mov_imm(g, DIFF_EBX, a16 ? (gen_rand(g) & 0xFFFF0000) | bx : bx) < 0)
        return -1;
    if (a16)
        enc_byte(&e, 0x67);
    enc_byte(&e, 0xD7);
    return gen_emit(g, &e);
}

/* Instructions that raise an exception (or may): UD2, INT3, INTO, BOUND,
 * LOCK on a register operand (#UD). */
static int fam_fault(struct gen *g)
{
    struct enc e = {.n = 0};
    switch (gen_below(g, 5)) {
    case 0:
        enc_byte(&e, 0x0F);
        enc_byte(&e, 0x0B);
        break;
    case 1: enc_byte(&e, 0xCC); break;
    case 2: enc_byte(&e, 0xCE); break;
    case 3: { /* BOUND r, m16&16 / m32&32 */
        unsigned size = gen_chance(g, 30) ? 16 : 32;
        struct rm rm;
        int reg = gen_pick_reg(g, size, PICK_READ, 0);
        if (reg < 0 || !gen_pick_mem(g, size / 4, 0, &rm))
            return -1;
        enc_prefixes(&e, 0, size, &rm);
        enc_byte(&e, 0x62);
        enc_modrm(&e, (unsigned)reg, &rm);
        break;
    }
    default: /* LOCK ADD/OR/... reg, reg */
        enc_byte(&e, 0xF0);
        enc_byte(&e, (uint8_t)(gen_below(g, 7) << 3 | 1));
        enc_byte(&e, (uint8_t)(0xC0 | gen_below(g, 64)));
        break;
    }
    return gen_emit(g, &e);
}

const struct gen_family gen_families[] = {
    {"alu", gen_fam_alu, 14, false},
    {"unary", gen_fam_unary, 5, false},
    {"shift", gen_fam_shift, 10, false},
    {"double-shift", gen_fam_double_shift, 5, false},
    {"muldiv", gen_fam_muldiv, 7, false},
    {"imul", gen_fam_imul, 4, false},
    {"bcd", gen_fam_bcd, 5, false},
    {"bitop", gen_fam_bitop, 6, false},
    {"bitscan", gen_fam_bitscan, 4, false},
    {"movx", gen_fam_movx, 3, false},
    {"condition", gen_fam_condition, 5, false},
    {"exchange", fam_exchange, 6, false},
    {"lea", fam_lea, 5, false},
    {"stack", fam_stack, 7, false},
    {"string", fam_string, 8, false},
    {"flags-misc", fam_flags_misc, 5, false},
    {"x87-load", gen_fam_x87_load, 4, false},
    {"x87-arith", gen_fam_x87_arith, 4, false},
    {"x87-store", gen_fam_x87_store, 3, false},
    {"x87-compare", gen_fam_x87_compare, 2, false},
    {"x87-control", gen_fam_x87_control, 1, false},
    {"fault", fam_fault, 6, true},
};
const size_t gen_nfamilies = sizeof(gen_families) / sizeof(gen_families[0]);
