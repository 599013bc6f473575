/* tests/diff/ internal: the generator's state, encoder helpers and operand
 * pickers, shared by diff_gen.c (core) and diff_gen_ops.c (instruction
 * families). Instructions are hand-encoded (prefixes, opcode, ModRM, SIB,
 * displacement, immediate) so that every encoding form appears, including
 * the redundant ones an assembler never picks (SIB without index, disp32
 * where disp8 fits, opcode 82, 16-bit addressing); the tracker decodes the
 * result with Zydis and is the judge of validity. */
#ifndef POPEK_DIFF_GEN_H
#define POPEK_DIFF_GEN_H

#include "diff.h"

struct gen {
    uint64_t rng;
    struct diff_case *c;
    struct diff_track t; /* the state after the instructions so far */
    unsigned len;        /* code bytes so far */
    unsigned n;          /* instructions so far */
};

/* ---- randomness ---- */
uint32_t gen_rand(struct gen *g);
uint32_t gen_below(struct gen *g, uint32_t n); /* 0..n-1 */
bool gen_chance(struct gen *g, unsigned percent);
/* An interesting value for an operand of `bits`: sign and overflow edges,
 * small numbers, BCD digits, or random. */
uint32_t gen_value(struct gen *g, unsigned bits);
/* A random operand size: 8, 16 or 32 (32 most often). */
unsigned gen_size(struct gen *g);

/* ---- encoding ---- */
struct enc {
    uint8_t b[16];
    unsigned n;
};

/* A ModRM r/m operand: a register or a memory form. */
struct rm {
    bool mem;
    unsigned reg; /* register code (for !mem) */
    bool a16;     /* 16-bit addressing: needs the 0x67 prefix */
    uint8_t mod, rm;
    bool has_sib;
    uint8_t sib;
    unsigned disp_len;
    uint32_t disp;
    uint8_t seg;   /* segment-override prefix, or 0 */
    uint32_t addr; /* the address a memory operand was aimed at */
};

void enc_byte(struct enc *e, uint8_t b);
void enc_imm(struct enc *e, uint32_t v, unsigned bytes);
/* Prefixes for an instruction with operand size `size` (8/16/32) and r/m
 * operand rm (may be NULL): `first` (LOCK/REP, or 0), segment, 66, 67. */
void enc_prefixes(struct enc *e, uint8_t first, unsigned size, const struct rm *rm);
void enc_modrm(struct enc *e, unsigned regfield, const struct rm *rm);

/* Runs the instruction through the tracker and appends it; -1 when the
 * tracker rejects it or the case is full. */
int gen_emit(struct gen *g, const struct enc *e);
/* `mov r32, imm32` (B8+r) as a setup instruction. */
int gen_mov_imm(struct gen *g, unsigned reg, uint32_t v);

/* ---- operand pickers ----
 * Register codes are ModRM codes for the given size: for 8 bits 4-7 are
 * AH, CH, DH, BH. */
enum { PICK_READ = 1, PICK_WRITE = 2 };
/* A register usable as `how` (never ESP as a 16/32-bit destination, never
 * an undefined register as a source); -1 when none. `avoid`: GPR bit mask. */
int gen_pick_reg(struct gen *g, unsigned size, unsigned how, uint8_t avoid);
/* A memory operand of `size` bytes inside the data area, addressed from
 * registers the tracker knows (none in `avoid`). */
bool gen_pick_mem(struct gen *g, unsigned size, uint8_t avoid, struct rm *out);
/* A register or (when allow_mem) memory r/m operand. */
bool gen_pick_rm(struct gen *g, unsigned size, unsigned how, bool allow_mem, uint8_t avoid,
                 struct rm *out);
/* An address-generation operand for LEA: any defined registers. */
bool gen_pick_agen(struct gen *g, struct rm *out);
/* The GPR behind a register code of the given size. */
unsigned gen_gpr(unsigned code, unsigned size);
/* A pointer into the data area with `below` bytes free below and `above`
 * bytes free above it. */
uint32_t gen_pointer(struct gen *g, uint32_t below, uint32_t above);

/* ---- families (diff_gen_ops.c, diff_gen_mem.c) ---- */
int gen_fam_alu(struct gen *g);
int gen_fam_unary(struct gen *g);
int gen_fam_shift(struct gen *g);
int gen_fam_double_shift(struct gen *g);
int gen_fam_muldiv(struct gen *g);
int gen_fam_imul(struct gen *g);
int gen_fam_bcd(struct gen *g);
int gen_fam_bitop(struct gen *g);
int gen_fam_bitscan(struct gen *g);
int gen_fam_movx(struct gen *g);
int gen_fam_condition(struct gen *g);
/* diff_gen_x87.c */
int gen_fam_x87_load(struct gen *g);
int gen_fam_x87_arith(struct gen *g);
int gen_fam_x87_store(struct gen *g);
int gen_fam_x87_compare(struct gen *g);
int gen_fam_x87_control(struct gen *g);

typedef int (*gen_family_fn)(struct gen *g);
struct gen_family {
    const char *name;
    gen_family_fn fn;
    unsigned weight;
    bool last_only; /* always faults: only as the last instruction */
};
extern const struct gen_family gen_families[];
extern const size_t gen_nfamilies;

#endif
