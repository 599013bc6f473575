/* decoder/ internal: the sensitivity class table (class_table.c).
 * Only decoder/ and its unit tests include this. */
#ifndef POPEK_DECODER_CLASS_TABLE_H
#define POPEK_DECODER_CLASS_TABLE_H

#include "decoder/decoder.h"

/* Flags an entry can carry: the public DEC_F_* properties that follow from
 * the mnemonic alone, plus two for the decoder itself. */
#define DEC_T_PUBLIC (DEC_F_STACK | DEC_F_STRING | DEC_F_FAULTS | DEC_F_PM_ONLY | \
                      DEC_F_IOPL_V86 | DEC_F_CR4_PRIV)
#define DEC_T_NOACCESS (1u << 14) /* the memory operand is only an address */
#define DEC_T_FORMS (1u << 15)    /* look in dec_forms[] for the operand form */
_Static_assert((DEC_T_PUBLIC & (DEC_T_NOACCESS | DEC_T_FORMS)) == 0,
               "table-private flags overlap public ones");
_Static_assert(DEC_T_PUBLIC <= 0xFFFF, "table flags must fit 16 bits");

struct dec_class_entry {
    uint8_t cls;     /* enum dec_class */
    uint8_t cf;      /* enum dec_cf */
    uint16_t tflags; /* DEC_T_PUBLIC bits, DEC_T_NOACCESS, DEC_T_FORMS */
};

/* Indexed by ZydisMnemonic; every entry but ZYDIS_MNEMONIC_INVALID has a
 * class other than DEC_CLASS_NONE. */
extern const struct dec_class_entry dec_class_table[ZYDIS_MNEMONIC_MAX_VALUE + 1];

/* Operand forms that change the class of a DEC_T_FORMS mnemonic. */
enum dec_form {
    DEC_FORM_PLAIN = 0, /* none of the below: the base entry applies */
    DEC_FORM_REL,       /* a relative branch target */
    DEC_FORM_FAR,       /* a far transfer (Zydis branch type FAR) */
    DEC_FORM_IMM,       /* an immediate operand */
    DEC_FORM_CR,        /* a control register operand */
    DEC_FORM_DR,        /* a debug register operand */
    DEC_FORM_SEG,       /* a segment register operand */
    DEC_FORM_STRING,    /* a one-byte-map string instruction (A4-AF) */
    DEC_FORM_COUNT_,
};

struct dec_form_entry {
    uint16_t mnemonic;
    uint8_t form; /* enum dec_form */
    struct dec_class_entry e;
};

extern const struct dec_form_entry dec_forms[];
extern const size_t dec_forms_count;

/* The entry for mnemonic in form: its dec_forms[] entry, else the base
 * entry of dec_class_table. */
const struct dec_class_entry *dec_class_lookup(uint16_t mnemonic, enum dec_form form);

#endif
