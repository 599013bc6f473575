/* translator/: the table of sensitive and privileged instructions (issue
 * #4): for each, what makes it sensitive, how `bt` handles it and what
 * VT-x does with it (`popek sensitive`, docs/sensitive-instructions.md).
 *
 * The first and last columns are facts typed in with their sources; the
 * class and the bt column are asked of the decoder and the translator
 * (bt_handling_of) on each row's example encoding, so they follow the
 * code. */
#ifndef POPEK_BT_SENSITIVE_H
#define POPEK_BT_SENSITIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decoder/decoder.h"
#include "translator/translator.h"

/* Where a row's example encoding means its instruction. */
enum bt_sens_enc {
    BT_ENC_32,     /* 32-bit code, as the popek CPU decodes it */
    BT_ENC_32_CET, /* 32-bit code on a CPU with CET (DEC_FEAT_CET) */
    BT_ENC_64,     /* 64-bit mode only */
    BT_ENC_64_KNC, /* 64-bit mode of Knights Corner (Xeon Phi) only */
};

/* What VT-x does when a guest runs it in VMX non-root operation (SDM
 * Vol. 3C "VMX Non-Root Operation": 25.1-25.3 in older editions,
 * 26.1-26.3 in newer ones). */
enum bt_vtx {
    BT_VTX_NO_EXIT, /* runs on the guest's own state (maybe changed, 25.3) */
    BT_VTX_ALWAYS,  /* exits unconditionally (25.1.2) */
    BT_VTX_CONTROL, /* exits as a VM-execution control says (25.1.3) */
    BT_VTX_UD,      /* #UD in a guest: not an Intel VMX-guest instruction */
};

struct bt_sensitive {
    const char *name;       /* "MOV to CR3": the mnemonic and, where it matters,
                             * the form */
    uint16_t mnemonic;      /* ZydisMnemonic */
    uint8_t enc;            /* enum bt_sens_enc */
    uint8_t len;
    uint8_t bytes[DEC_MAX_LEN];
    const char *touches;    /* the state the VMM owns that it reads or changes */
    uint8_t vtx;            /* enum bt_vtx */
    const char *vtx_how;    /* BT_VTX_CONTROL: "with|when|unless ...", the
                             * control; otherwise a note or NULL */
};

extern const struct bt_sensitive bt_sensitive_table[];
extern const size_t bt_sensitive_count;

/* Why an instruction is sensitive, from the decoder's class of the
 * example (enum dec_class): the table's sections. */
enum bt_sens_kind {
    BT_SENS_PRIVILEGED,   /* DEC_CLASS_PRIVILEGED: traps at CPL > 0 */
    BT_SENS_IOPL,         /* DEC_CLASS_IO, _IOPL: traps when CPL > IOPL */
    BT_SENS_UNPRIVILEGED, /* DEC_CLASS_SENSITIVE: runs at CPL 3 without
                           * trapping, the Popek-Goldberg gap */
    BT_SENS_TRANSFER,     /* DEC_CLASS_SENSITIVE control transfers through
                           * descriptors, gates or MSRs */
    BT_SENS_ELSEWHERE,    /* not this instruction in 16/32-bit code on the
                           * popek CPU (64-bit mode, a feature it lacks) */
    BT_SENS_KIND_COUNT_,
};

/* A row as the code sees it: the decode of its example in 32-bit code
 * and the translator's choice (both unset for BT_ENC_64/_KNC rows). */
struct bt_sens_eval {
    enum bt_sens_kind kind;
    bool decoded; /* the example decoded, as whatever instruction */
    enum bt_handling handling;
    struct dec_insn d;
};
void bt_sensitive_eval(const struct bt_sensitive *row, struct bt_sens_eval *out);

/* Prints the table, as aligned text or as the markdown of
 * docs/sensitive-instructions.md. Returns 0, or -1 when out fails. */
int bt_sensitive_print(FILE *out, bool markdown);

#endif
