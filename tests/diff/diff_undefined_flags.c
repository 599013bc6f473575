/* The one table of EFLAGS bits the Intel SDM leaves undefined, per
 * instruction ("Flags Affected" of each instruction in SDM Vol. 2), with the
 * rules by which a shift or rotate count changes it. The comparison masks
 * exactly these bits, through the tracker, for the instruction that last
 * wrote them. Where AMD documents a bit that Intel leaves undefined (or
 * the reverse), the row covers the union: the oracle may be either vendor.
 * Instructions not listed leave no flag undefined. */
#include "diff.h"

enum count_rule {
    COUNT_NONE,
    /* SHL/SHR/SAR: count masked to 5 bits; 0 affects no flag; OF only for
     * a count of 1; CF undefined for SHL/SHR when count >= operand size. */
    COUNT_SHIFT,
    COUNT_SHIFT_LOGICAL,
    /* ROL/ROR/RCL/RCR: masked count 0 affects no flag; OF only for 1. */
    COUNT_ROTATE,
    /* SHLD/SHRD: masked count 0 affects no flag; OF only for 1; a count
     * above the operand size leaves the result and every flag undefined. */
    COUNT_DOUBLE,
};

#define CF DIFF_FL_CF
#define PF DIFF_FL_PF
#define AF DIFF_FL_AF
#define ZF DIFF_FL_ZF
#define SF DIFF_FL_SF
#define OF DIFF_FL_OF

static const struct undef_row {
    ZydisMnemonic mn;
    uint16_t undefined;
    enum count_rule rule;
    const char *sdm; /* the SDM Vol. 2 entry */
} rows[] = {
    {ZYDIS_MNEMONIC_AND, AF, COUNT_NONE, "AND"},
    {ZYDIS_MNEMONIC_OR, AF, COUNT_NONE, "OR"},
    {ZYDIS_MNEMONIC_XOR, AF, COUNT_NONE, "XOR"},
    {ZYDIS_MNEMONIC_TEST, AF, COUNT_NONE, "TEST"},
    {ZYDIS_MNEMONIC_MUL, SF | ZF | AF | PF, COUNT_NONE, "MUL"},
    {ZYDIS_MNEMONIC_IMUL, SF | ZF | AF | PF, COUNT_NONE, "IMUL"},
    {ZYDIS_MNEMONIC_DIV, CF | OF | SF | ZF | AF | PF, COUNT_NONE, "DIV"},
    {ZYDIS_MNEMONIC_IDIV, CF | OF | SF | ZF | AF | PF, COUNT_NONE, "IDIV"},
    {ZYDIS_MNEMONIC_SHL, AF, COUNT_SHIFT_LOGICAL, "SAL/SAR/SHL/SHR"},
    {ZYDIS_MNEMONIC_SHR, AF, COUNT_SHIFT_LOGICAL, "SAL/SAR/SHL/SHR"},
    {ZYDIS_MNEMONIC_SAR, AF, COUNT_SHIFT, "SAL/SAR/SHL/SHR"},
    {ZYDIS_MNEMONIC_ROL, 0, COUNT_ROTATE, "RCL/RCR/ROL/ROR"},
    {ZYDIS_MNEMONIC_ROR, 0, COUNT_ROTATE, "RCL/RCR/ROL/ROR"},
    {ZYDIS_MNEMONIC_RCL, 0, COUNT_ROTATE, "RCL/RCR/ROL/ROR"},
    {ZYDIS_MNEMONIC_RCR, 0, COUNT_ROTATE, "RCL/RCR/ROL/ROR"},
    {ZYDIS_MNEMONIC_SHLD, AF, COUNT_DOUBLE, "SHLD"},
    {ZYDIS_MNEMONIC_SHRD, AF, COUNT_DOUBLE, "SHRD"},
    {ZYDIS_MNEMONIC_DAA, OF, COUNT_NONE, "DAA"},
    {ZYDIS_MNEMONIC_DAS, OF, COUNT_NONE, "DAS"},
    {ZYDIS_MNEMONIC_AAA, OF | SF | ZF | PF, COUNT_NONE, "AAA"},
    {ZYDIS_MNEMONIC_AAS, OF | SF | ZF | PF, COUNT_NONE, "AAS"},
    {ZYDIS_MNEMONIC_AAM, OF | AF | CF, COUNT_NONE, "AAM"},
    {ZYDIS_MNEMONIC_AAD, OF | AF | CF, COUNT_NONE, "AAD"},
    {ZYDIS_MNEMONIC_BT, OF | SF | AF | PF, COUNT_NONE, "BT"},
    {ZYDIS_MNEMONIC_BTS, OF | SF | AF | PF, COUNT_NONE, "BTS"},
    {ZYDIS_MNEMONIC_BTR, OF | SF | AF | PF, COUNT_NONE, "BTR"},
    {ZYDIS_MNEMONIC_BTC, OF | SF | AF | PF, COUNT_NONE, "BTC"},
    /* ZF is defined; the destination is undefined for a zero source, which
     * the tracker decides because it needs the source value. */
    {ZYDIS_MNEMONIC_BSF, CF | OF | SF | AF | PF, COUNT_NONE, "BSF"},
    {ZYDIS_MNEMONIC_BSR, CF | OF | SF | AF | PF, COUNT_NONE, "BSR"},
};

static const struct undef_row *find(ZydisMnemonic mn)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].mn == mn)
            return &rows[i];
    return NULL;
}

static void apply_count(const struct undef_row *row, unsigned opsize, int64_t count,
                        struct diff_flag_effect *out)
{
    if (count < 0) {
        /* Unknown count: any written flag may be undefined or unchanged. */
        out->undefined = out->written;
        out->dest_undefined = row->rule == COUNT_DOUBLE && opsize == 16;
        return;
    }
    unsigned c = (unsigned)count & 31;
    if (c == 0) {
        out->written = 0;
        out->undefined = 0;
        return;
    }
    if (c != 1)
        out->undefined |= OF;
    if (row->rule == COUNT_SHIFT_LOGICAL && c >= opsize)
        out->undefined |= CF;
    if (row->rule == COUNT_DOUBLE && c > opsize) {
        out->undefined = out->written;
        out->dest_undefined = true;
    }
}

void diff_flag_effect(ZydisMnemonic mn, unsigned opsize, int64_t count, uint16_t zydis_written,
                      struct diff_flag_effect *out)
{
    *out = (struct diff_flag_effect){.written = zydis_written & DIFF_FL_ARITH};
    const struct undef_row *row = find(mn);
    if (!row)
        return;
    out->undefined = row->undefined & out->written;
    if (row->rule != COUNT_NONE)
        apply_count(row, opsize, count, out);
    out->undefined &= out->written;
}

size_t diff_undef_rows(void) { return sizeof(rows) / sizeof(rows[0]); }

const char *diff_undef_row(size_t i, char *buf, size_t len)
{
    static const struct {
        uint16_t bit;
        const char *name;
    } names[] = {{CF, "CF"}, {PF, "PF"}, {AF, "AF"}, {ZF, "ZF"}, {SF, "SF"}, {OF, "OF"}};
    static const char *const rules[] = {"", " (+count rule: shift)", " (+count rule: shift, CF)",
                                        " (+count rule: rotate)", " (+count rule: double shift)"};
    size_t n = (size_t)snprintf(buf, len, "%-6s", ZydisMnemonicGetString(rows[i].mn));
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && n < len; k++)
        if (rows[i].undefined & names[k].bit)
            n += (size_t)snprintf(buf + n, len - n, " %s", names[k].name);
    if (n < len)
        snprintf(buf + n, len - n, "%s", rules[rows[i].rule]);
    return buf;
}
