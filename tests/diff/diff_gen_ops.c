/* The arithmetic instruction families of the generator (the memory,
 * stack, string and fault families are in diff_gen_mem.c). Each emits its setup
 * instructions (MOV of chosen values, flag setup) and one instruction of
 * its family in a random form, and returns 0, or -1 when the tracker
 * rejected something (the caller rolls the case back and picks again).
 * Opcodes: SDM Vol. 2, Appendix A. */
#include "diff_gen.h"

static uint8_t opw(uint8_t op, unsigned size) { return size == 8 ? op : (uint8_t)(op + 1); }

/* LOCK on a memory destination of an instruction that allows it, when
 * the operand stays inside one cache line (the tracker rejects split
 * locks). */
static uint8_t maybe_lock(struct gen *g, const struct rm *dst, unsigned size)
{
    bool split = (dst->addr & 63) + size / 8 > 64;
    return dst->mem && !split && gen_chance(g, 15) ? 0xF0 : 0;
}

static const unsigned shift_counts[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 255};

static unsigned pick_count(struct gen *g)
{
    if (gen_chance(g, 25))
        return gen_below(g, 256);
    return shift_counts[gen_below(g, sizeof(shift_counts) / sizeof(shift_counts[0]))];
}

/* CL = count, through ECX (random upper bits: only CL may matter). */
static int set_cl(struct gen *g, unsigned count)
{
    if ((g->t.known & (1u << DIFF_ECX)) && (g->t.val[DIFF_ECX] & 0xFF) == count)
        return 0;
    return gen_mov_imm(g, DIFF_ECX, (gen_rand(g) & ~0xFFu) | count);
}

/* ADD OR ADC SBB AND SUB XOR CMP (k = 0-7), TEST (8), MOV (9). */
int gen_fam_alu(struct gen *g)
{
    unsigned size = gen_size(g), k = gen_below(g, 10), imm_len = size / 8;
    bool writes = k != 7 && k != 8;
    unsigned dst_how = k == 9 ? PICK_WRITE : writes ? PICK_READ | PICK_WRITE : PICK_READ;
    struct enc e = {.n = 0};
    struct rm rm;
    int reg;
    switch (gen_below(g, 4)) {
    case 0: /* r/m, reg */
        if (!gen_pick_rm(g, size, dst_how, true, 0, &rm) ||
            (reg = gen_pick_reg(g, size, PICK_READ, 0)) < 0)
            return -1;
        enc_prefixes(&e, k < 7 ? maybe_lock(g, &rm, size) : 0, size, &rm);
        enc_byte(&e, k == 8   ? opw(0x84, size)
                     : k == 9 ? opw(0x88, size)
                              : opw((uint8_t)(k << 3), size));
        enc_modrm(&e, (unsigned)reg, &rm);
        break;
    case 1: /* reg, r/m */
        if ((reg = gen_pick_reg(g, size, dst_how, 0)) < 0 ||
            !gen_pick_rm(g, size, PICK_READ, true, 0, &rm))
            return -1;
        enc_prefixes(&e, 0, size, &rm);
        enc_byte(&e, k == 8 ? opw(0x84, size) : k == 9 ? opw(0x8A, size)
                                                       : opw((uint8_t)(k << 3 | 2), size));
        enc_modrm(&e, (unsigned)reg, &rm);
        break;
    case 2: /* accumulator or register, immediate; MOV also moffs */
        if (k == 9 && gen_chance(g, 30)) {
            if (!gen_pick_mem(g, size / 8, 0, &rm))
                return -1;
            bool store = gen_chance(g, 50);
            rm.a16 = gen_chance(g, 20);
            enc_prefixes(&e, 0, size, &rm);
            enc_byte(&e, opw(store ? 0xA2 : 0xA0, size));
            enc_imm(&e, rm.addr, rm.a16 ? 2 : 4);
            break;
        }
        if (k == 9) {
            if ((reg = gen_pick_reg(g, size, PICK_WRITE, 0)) < 0)
                return -1;
            enc_prefixes(&e, 0, size, NULL);
            enc_byte(&e, (uint8_t)((size == 8 ? 0xB0 : 0xB8) + reg));
        } else {
            enc_prefixes(&e, 0, size, NULL);
            enc_byte(&e, k == 8 ? opw(0xA8, size) : opw((uint8_t)(k << 3 | 4), size));
        }
        enc_imm(&e, gen_value(g, size), imm_len);
        break;
    default: { /* r/m, immediate */
        if (!gen_pick_rm(g, size, dst_how, true, 0, &rm))
            return -1;
        uint8_t op;
        if (k == 8 || k == 9) {
            op = k == 8 ? opw(0xF6, size) : opw(0xC6, size);
        } else if (size == 8) {
            op = gen_chance(g, 10) ? 0x82 : 0x80; /* 82: the 32-bit-only alias of 80 */
        } else if (gen_chance(g, 50)) {
            op = 0x83;
            imm_len = 1;
        } else {
            op = 0x81;
        }
        enc_prefixes(&e, k < 7 ? maybe_lock(g, &rm, size) : 0, size, &rm);
        enc_byte(&e, op);
        enc_modrm(&e, k >= 8 ? 0 : k, &rm);
        enc_imm(&e, gen_value(g, imm_len * 8), imm_len);
        break;
    }
    }
    return gen_emit(g, &e);
}

/* INC DEC NOT NEG. */
int gen_fam_unary(struct gen *g)
{
    unsigned size = gen_size(g), op = gen_below(g, 4);
    struct enc e = {.n = 0};
    if (size != 8 && op < 2 && gen_chance(g, 30)) { /* 40+r, 48+r */
        int reg = gen_pick_reg(g, size, PICK_READ | PICK_WRITE, 0);
        if (reg < 0)
            return -1;
        enc_prefixes(&e, 0, size, NULL);
        enc_byte(&e, (uint8_t)((op ? 0x48 : 0x40) + reg));
        return gen_emit(g, &e);
    }
    struct rm rm;
    if (!gen_pick_rm(g, size, PICK_READ | PICK_WRITE, true, 0, &rm))
        return -1;
    enc_prefixes(&e, maybe_lock(g, &rm, size), size, &rm);
    enc_byte(&e, op < 2 ? opw(0xFE, size) : opw(0xF6, size));
    enc_modrm(&e, op, &rm);
    return gen_emit(g, &e);
}

/* ROL ROR RCL RCR SHL SHR SAR by 1, imm8 and CL. */
int gen_fam_shift(struct gen *g)
{
    static const unsigned ops[] = {0, 1, 2, 3, 4, 5, 7};
    unsigned size = gen_size(g), op = ops[gen_below(g, 7)], form = gen_below(g, 3);
    unsigned count = pick_count(g);
    if (form == 2 && set_cl(g, count) < 0)
        return -1;
    struct rm rm;
    if (!gen_pick_rm(g, size, PICK_READ | PICK_WRITE, true, 0, &rm))
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    enc_byte(&e, form == 0 ? opw(0xD0, size) : form == 1 ? opw(0xC0, size) : opw(0xD2, size));
    enc_modrm(&e, op, &rm);
    if (form == 1)
        enc_imm(&e, count, 1);
    return gen_emit(g, &e);
}

/* SHLD SHRD with imm8 and CL. */
int gen_fam_double_shift(struct gen *g)
{
    unsigned size = gen_chance(g, 40) ? 16 : 32, count = pick_count(g);
    bool by_cl = gen_chance(g, 50), right = gen_chance(g, 50);
    if (by_cl && set_cl(g, count) < 0)
        return -1;
    struct rm rm;
    int reg;
    if (!gen_pick_rm(g, size, PICK_READ | PICK_WRITE, true, 0, &rm) ||
        (reg = gen_pick_reg(g, size, PICK_READ, 0)) < 0)
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    enc_byte(&e, 0x0F);
    enc_byte(&e, (uint8_t)((right ? 0xAC : 0xA4) + by_cl));
    enc_modrm(&e, (unsigned)reg, &rm);
    if (!by_cl)
        enc_imm(&e, count, 1);
    return gen_emit(g, &e);
}

/* A dividend/divisor pair that exercises quotient overflow, division by
 * zero, sign edges and the ordinary case. */
static int set_dividend(struct gen *g, unsigned size)
{
    uint32_t lo = gen_value(g, 32), hi;
    switch (gen_below(g, 4)) {
    case 0: hi = 0; break;
    case 1: hi = (lo & 0x80000000) ? 0xFFFFFFFF : 0; break;
    case 2: hi = gen_below(g, 4); break;
    default: hi = gen_value(g, 32); break;
    }
    if (gen_mov_imm(g, DIFF_EAX, lo) < 0)
        return -1;
    return size == 8 ? 0 : gen_mov_imm(g, DIFF_EDX, hi);
}

/* MUL IMUL DIV IDIV r/m (F6/F7 /4-/7). */
int gen_fam_muldiv(struct gen *g)
{
    unsigned size = gen_size(g), op = 4 + gen_below(g, 4);
    if (gen_chance(g, 60) && set_dividend(g, size) < 0)
        return -1;
    struct rm rm;
    if (gen_chance(g, 35)) {
        if (!gen_pick_mem(g, size / 8, 0, &rm))
            return -1;
    } else {
        int reg = gen_pick_reg(g, size, PICK_READ, 0);
        if (reg < 0)
            return -1;
        unsigned gpr = gen_gpr((unsigned)reg, size);
        if (gen_chance(g, 50) && gpr != DIFF_ESP && gpr != DIFF_EAX && gpr != DIFF_EDX) {
            static const uint32_t divisors[] = {0, 1, 0xFFFFFFFF, 2, 3, 10, 0x80000000, 0x7FFFFFFF};
            uint32_t v = gen_chance(g, 60) ? divisors[gen_below(g, 8)] : gen_value(g, 32);
            if (size == 8 && reg >= 4)
                v <<= 8;
            if (gen_mov_imm(g, gpr, v) < 0)
                return -1;
        }
        rm = (struct rm){.reg = (unsigned)reg};
    }
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    enc_byte(&e, opw(0xF6, size));
    enc_modrm(&e, op, &rm);
    return gen_emit(g, &e);
}

/* IMUL r, r/m (0F AF); IMUL r, r/m, imm (69, 6B). */
int gen_fam_imul(struct gen *g)
{
    unsigned size = gen_chance(g, 30) ? 16 : 32, form = gen_below(g, 3);
    int reg = gen_pick_reg(g, size, form == 0 ? PICK_READ | PICK_WRITE : PICK_WRITE, 0);
    struct rm rm;
    if (reg < 0 || !gen_pick_rm(g, size, PICK_READ, true, 0, &rm))
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    if (form == 0) {
        enc_byte(&e, 0x0F);
        enc_byte(&e, 0xAF);
        enc_modrm(&e, (unsigned)reg, &rm);
    } else {
        enc_byte(&e, form == 1 ? 0x69 : 0x6B);
        enc_modrm(&e, (unsigned)reg, &rm);
        unsigned n = form == 1 ? size / 8 : 1;
        enc_imm(&e, gen_value(g, n * 8), n);
    }
    return gen_emit(g, &e);
}

/* DAA DAS AAA AAS AAM AAD, with AF/CF set up through SAHF. */
int gen_fam_bcd(struct gen *g)
{
    static const uint8_t ops[] = {0x27, 0x2F, 0x37, 0x3F, 0xD4, 0xD5};
    static const uint8_t vals[] = {0x00, 0x09, 0x0A, 0x0F, 0x10, 0x19, 0x1A, 0x6F, 0x7F,
                                   0x80, 0x99, 0x9A, 0x9F, 0xA0, 0xF9, 0xFA, 0xFF};
    uint8_t op = ops[gen_below(g, 6)];
    if (gen_chance(g, 60)) {
        uint32_t ah = (gen_rand(g) & 0xD5) | 0x02;
        if (gen_mov_imm(g, DIFF_EAX, ah << 8 | (gen_rand(g) & 0xFF)) < 0)
            return -1;
        struct enc s = {.n = 0};
        enc_byte(&s, 0x9E); /* SAHF */
        if (gen_emit(g, &s) < 0)
            return -1;
    }
    if (gen_chance(g, 70)) {
        uint32_t al = gen_chance(g, 70) ? vals[gen_below(g, sizeof(vals))] : gen_rand(g) & 0xFF;
        uint32_t ah = gen_chance(g, 50) ? vals[gen_below(g, sizeof(vals))] : gen_rand(g) & 0xFF;
        struct enc s = {.n = 0};
        enc_byte(&s, 0x66); /* MOV AX, imm16: the flags stay as set */
        enc_byte(&s, 0xB8);
        enc_imm(&s, ah << 8 | al, 2);
        if (gen_emit(g, &s) < 0)
            return -1;
    }
    struct enc e = {.n = 0};
    enc_byte(&e, op);
    if (op == 0xD4 || op == 0xD5) {
        static const uint8_t bases[] = {10, 0, 16, 1, 2, 0xFF, 7};
        enc_byte(&e, gen_chance(g, 60) ? bases[gen_below(g, 7)] : (uint8_t)gen_rand(g));
    }
    return gen_emit(g, &e);
}

/* BT BTS BTR BTC with an imm8 or register offset; a register offset with
 * a memory operand may address far outside the operand. */
int gen_fam_bitop(struct gen *g)
{
    unsigned size = gen_chance(g, 30) ? 16 : 32, op = gen_below(g, 4), bits = size;
    bool by_reg = gen_chance(g, 60);
    unsigned how = op == 0 ? PICK_READ : PICK_READ | PICK_WRITE;
    struct rm rm;
    int reg = -1;
    if (by_reg) {
        if ((reg = gen_pick_reg(g, size, PICK_READ, 0)) < 0)
            return -1;
        unsigned r32 = gen_gpr((unsigned)reg, size);
        if (gen_chance(g, 50) && r32 != DIFF_ESP) {
            if (!gen_pick_mem(g, size / 8, (uint8_t)(1u << r32), &rm))
                return -1;
            int64_t bytes = size / 8, lo = -(int64_t)((rm.addr - DIFF_DATA_BASE) / bytes),
                    hi = (int64_t)((DIFF_DATA_END - bytes - rm.addr) / bytes);
            int64_t units = lo + gen_below(g, (uint32_t)(hi - lo + 1));
            uint32_t off = (uint32_t)(units * bits + gen_below(g, bits));
            if (size == 16)
                off = (gen_rand(g) & 0xFFFF0000) | (off & 0xFFFF);
            if (gen_mov_imm(g, r32, off) < 0)
                return -1;
        } else if (!gen_pick_rm(g, size, how, false, 0, &rm)) {
            return -1;
        }
    } else if (!gen_pick_rm(g, size, how, true, 0, &rm)) {
        return -1;
    }
    struct enc e = {.n = 0};
    enc_prefixes(&e, op ? maybe_lock(g, &rm, size) : 0, size, &rm);
    enc_byte(&e, 0x0F);
    if (by_reg) {
        enc_byte(&e, (uint8_t)(0xA3 + 8 * op));
        enc_modrm(&e, (unsigned)reg, &rm);
    } else {
        enc_byte(&e, 0xBA);
        enc_modrm(&e, 4 + op, &rm);
        enc_byte(&e, gen_chance(g, 50) ? (uint8_t)gen_rand(g)
                                       : (uint8_t)(gen_below(g, 3) * 16 + bits - 1));
    }
    return gen_emit(g, &e);
}

/* BSF BSR, often on a zero source. */
int gen_fam_bitscan(struct gen *g)
{
    unsigned size = gen_chance(g, 30) ? 16 : 32;
    int dst = gen_pick_reg(g, size, PICK_WRITE, 0);
    struct rm rm;
    if (dst < 0)
        return -1;
    if (gen_chance(g, 40)) {
        int src = gen_pick_reg(g, size, 0, (uint8_t)(1u << DIFF_ESP));
        if (src < 0)
            return -1;
        uint32_t v = gen_chance(g, 40)   ? 0
                     : gen_chance(g, 50) ? 1u << gen_below(g, 32)
                                         : gen_value(g, 32);
        if (gen_mov_imm(g, (unsigned)src, v) < 0)
            return -1;
        rm = (struct rm){.reg = (unsigned)src};
    } else if (!gen_pick_rm(g, size, PICK_READ, true, 0, &rm)) {
        return -1;
    }
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, size, &rm);
    enc_byte(&e, 0x0F);
    enc_byte(&e, gen_chance(g, 50) ? 0xBC : 0xBD);
    enc_modrm(&e, (unsigned)dst, &rm);
    return gen_emit(g, &e);
}

/* MOVZX MOVSX. */
int gen_fam_movx(struct gen *g)
{
    bool from16 = gen_chance(g, 40), sign = gen_chance(g, 50);
    unsigned dsize = gen_chance(g, 20) ? 16 : 32;
    int dst = gen_pick_reg(g, dsize, PICK_WRITE, 0);
    struct rm rm;
    if (dst < 0 || !gen_pick_rm(g, from16 ? 16 : 8, PICK_READ, true, 0, &rm))
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, dsize, &rm);
    enc_byte(&e, 0x0F);
    enc_byte(&e, (uint8_t)((sign ? 0xBE : 0xB6) + from16));
    enc_modrm(&e, (unsigned)dst, &rm);
    return gen_emit(g, &e);
}

/* CMOVcc SETcc, sometimes after a CMP that defines every flag. */
int gen_fam_condition(struct gen *g)
{
    if (gen_chance(g, 30)) {
        int a = gen_pick_reg(g, 32, PICK_READ, 0), b = gen_pick_reg(g, 32, PICK_READ, 0);
        struct enc s = {.n = 0};
        if (a < 0 || b < 0)
            return -1;
        enc_byte(&s, 0x39);
        enc_modrm(&s, (unsigned)b, &(struct rm){.reg = (unsigned)a});
        if (gen_emit(g, &s) < 0)
            return -1;
    }
    unsigned cc = gen_below(g, 16);
    struct enc e = {.n = 0};
    struct rm rm;
    if (gen_chance(g, 50)) {
        unsigned size = gen_chance(g, 30) ? 16 : 32;
        int dst = gen_pick_reg(g, size, PICK_READ | PICK_WRITE, 0);
        if (dst < 0 || !gen_pick_rm(g, size, PICK_READ, true, 0, &rm))
            return -1;
        enc_prefixes(&e, 0, size, &rm);
        enc_byte(&e, 0x0F);
        enc_byte(&e, (uint8_t)(0x40 + cc));
        enc_modrm(&e, (unsigned)dst, &rm);
    } else {
        if (!gen_pick_rm(g, 8, PICK_WRITE, true, 0, &rm))
            return -1;
        enc_prefixes(&e, 0, 8, &rm);
        enc_byte(&e, 0x0F);
        enc_byte(&e, (uint8_t)(0x90 + cc));
        enc_modrm(&e, 0, &rm);
    }
    return gen_emit(g, &e);
}
