/* tests/diff/ host side: generator, tracker, undefined-flag table, runners
 * and the comparison. See README.md in this folder for the design. */
#ifndef POPEK_DIFF_H
#define POPEK_DIFF_H

#include "diff_case.h"

#include <Zydis/Zydis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Instructions in one case, setup instructions included (the end marker
 * is not counted). */
#define DIFF_MAX_INSNS 24

/* ---- the undefined-flags table (diff_undefined_flags.c) ----------------- */

/* What one instruction does to the arithmetic flags, given what is known
 * about its shift/rotate count. */
struct diff_flag_effect {
    uint16_t written;    /* arithmetic flags the instruction writes */
    uint16_t undefined;  /* the subset the SDM leaves undefined */
    bool dest_undefined; /* the destination operand itself is undefined */
};

/* count: the count operand as executed (before masking), or -1 when not
 * known; ignored by instructions without one. zydis_written: the flags
 * Zydis says the instruction may write. opsize: operand size in bits. */
void diff_flag_effect(ZydisMnemonic mn, unsigned opsize, int64_t count, uint16_t zydis_written,
                      struct diff_flag_effect *out);
/* Number of table rows, and one row as text (for the README check). */
size_t diff_undef_rows(void);
const char *diff_undef_row(size_t i, char *buf, size_t len);

/* ---- the tracker (diff_track.c) -----------------------------------------
 * An abstract execution of a case that knows, at each instruction
 * boundary, which register values the generator can predict, which
 * registers and flags hold architecturally undefined values, and which
 * data-area bytes have been written. It rejects any instruction that would
 * touch memory outside the data area, move ESP out of it, or consume an
 * undefined value; it is the single judge of what a valid case is, for the
 * generator and for the minimiser alike. */
struct diff_track {
    uint32_t val[DIFF_NGPR];
    uint8_t known;  /* bit i: val[i] is the register's value */
    uint8_t poison; /* bit i: the register's value is undefined */
    uint16_t flag_poison;
    uint8_t x87_cc_poison; /* x87 condition codes C0-C3 (bits 0-3) undefined */
    bool df;
    uint8_t dirty[DIFF_DATA_SIZE / 8];
    uint8_t data[DIFF_DATA_SIZE]; /* the initial data area */
};

void diff_track_init(struct diff_track *t, const struct diff_case *c);
/* Checks the instruction at code[0..avail) against the state; on success
 * applies its effects and returns its length, else returns -1 with *why. */
int diff_track_step(struct diff_track *t, const uint8_t *code, size_t avail, const char **why);

/* What the comparison needs to know about a case, derived from its bytes. */
struct diff_meta {
    unsigned n;                               /* instructions */
    uint8_t off[DIFF_MAX_INSNS + 1];          /* off[n]: the end marker */
    uint16_t undef_flags[DIFF_MAX_INSNS + 1]; /* at each boundary */
    uint8_t undef_regs[DIFF_MAX_INSNS + 1];
};

/* Runs the tracker over a whole case; -1 with *why (and *bad_insn) when the
 * case is not valid. */
int diff_analyse(const struct diff_case *c, struct diff_meta *m, const char **why,
                 unsigned *bad_insn);

/* ---- the generator (diff_gen.c, diff_gen_ops.c) ------------------------- */

/* Case `index` of the run with `seed`: the same pair always gives the same
 * case, independent of the cases around it. Fills c (slot 0) and m. */
void diff_gen_case(uint64_t seed, uint64_t index, struct diff_case *c, struct diff_meta *m);

/* ---- running cases (diff_native_run.c; engines in diff_engine.c) -------- */

/* A way to run cases: results[i] for cases[i]. -1 with msg on a failure
 * of the runner itself (not of a case). */
struct diff_runner {
    const char *name;
    int (*run)(void *ctx, const struct diff_case *cases, size_t n, struct diff_result *results,
               char *msg, size_t msglen);
    void *ctx;
};

/* result.vector values that are not CPU vectors. */
#define DIFF_VEC_ENGINE_STOP 0xFFFFFFFEu /* the engine stopped on this case */

/* The native runner: `oracle` is the path of diff_native. */
int diff_native_run(void *oracle_path, const struct diff_case *cases, size_t n,
                    struct diff_result *results, char *msg, size_t msglen);

/* ---- comparison and report (diff_compare.c) ----------------------------- */

/* True when `got` matches `want` (the native result) within what the SDM
 * defines; otherwise describes the first differences in why. */
bool diff_compare(const struct diff_case *c, const struct diff_meta *m,
                  const struct diff_result *want, const struct diff_result *got, char *why,
                  size_t whylen);

/* Prints the case: initial state and the disassembled sequence. */
void diff_print_case(FILE *out, const struct diff_case *c, const struct diff_meta *m);

/* Drops instructions while the case stays valid and `engine` still
 * disagrees with `native`; rewrites *c and *m. Returns the number of runs. */
unsigned diff_minimise(struct diff_case *c, struct diff_meta *m, const struct diff_runner *native,
                       const struct diff_runner *engine);

#endif
