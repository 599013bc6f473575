/* The sensitivity class table is complete and consistent: every Zydis
 * mnemonic has an explicit class, and every instruction reachable through
 * the legacy, 0F, 0F 38, 0F 3A, 3DNow!, VEX, EVEX and XOP opcode maps in
 * 16- and 32-bit mode (with and without the feature-dependent encodings)
 * decodes to a record whose class agrees with architectural facts that do
 * not come from the table: operands in segment/control/debug registers and
 * descriptor-table registers, system EFLAGS bits, far branches, relative
 * targets, Zydis's own privileged attribute and instruction category. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "decoder/class_table.h"
#include "decoder/decoder.h"

#define ALL_FEATURES (DEC_FEAT_LZCNT | DEC_FEAT_TZCNT | DEC_FEAT_MPX | DEC_FEAT_CET | \
                      DEC_FEAT_CLDEMOTE)

/* EFLAGS bits that are virtual under popek: TF, IF, IOPL, NT, RF, VM, AC,
 * VIF, VIP, ID (SDM Vol1 3.4.3.3, Vol3 2.3). */
#define SYSTEM_EFLAGS 0x3F7300u

Test(decoder_table, every_mnemonic_has_an_explicit_class)
{
    unsigned missing = 0;
    for (unsigned m = 1; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) {
        const struct dec_class_entry *e = &dec_class_table[m];
        if (e->cls == DEC_CLASS_NONE || e->cls >= DEC_CLASS_COUNT_ || e->cf >= DEC_CF_COUNT_) {
            fprintf(stderr, "no class for %s\n", ZydisMnemonicGetString((ZydisMnemonic)m));
            missing++;
        }
        /* The class and the STRING flag say the same thing (INS/OUTS are
         * I/O first). */
        bool str = (e->tflags & DEC_F_STRING) != 0;
        cr_expect(str == (e->cls == DEC_CLASS_STRING) || (str && e->cls == DEC_CLASS_IO),
                  "%s: STRING class and flag disagree", ZydisMnemonicGetString((ZydisMnemonic)m));
    }
    cr_assert_eq(missing, 0, "%u mnemonics without a class", missing);
    cr_assert_eq(dec_class_table[ZYDIS_MNEMONIC_INVALID].cls, DEC_CLASS_NONE);
}

Test(decoder_table, form_rules_refine_form_mnemonics_only)
{
    for (size_t i = 0; i < dec_forms_count; i++) {
        const struct dec_form_entry *f = &dec_forms[i];
        const char *name = ZydisMnemonicGetString((ZydisMnemonic)f->mnemonic);
        cr_assert(dec_class_table[f->mnemonic].tflags & DEC_T_FORMS,
                  "%s has form rules but no DEC_T_FORMS", name);
        cr_assert(f->form != DEC_FORM_PLAIN && f->form < DEC_FORM_COUNT_, "%s", name);
        cr_assert(f->e.cls != DEC_CLASS_NONE && f->e.cls < DEC_CLASS_COUNT_, "%s", name);
        for (size_t j = 0; j < i; j++)
            cr_assert(dec_forms[j].mnemonic != f->mnemonic || dec_forms[j].form != f->form,
                      "%s: duplicate form rule", name);
    }
}

/* ---- the sweep ------------------------------------------------------------ */

struct sweep {
    struct dec_ctx ctx;
    enum dec_mode mode;
    unsigned decoded, failures;
    bool seen[ZYDIS_MNEMONIC_MAX_VALUE + 1];
    bool reported[ZYDIS_MNEMONIC_MAX_VALUE + 1];
};

static struct sweep sw;

/* Zydis categories of system instructions: an innocuous record in one of
 * them needs a reason (allowed_innocuous). */
static bool system_category(ZydisInstructionCategory c)
{
    switch (c) {
    case ZYDIS_CATEGORY_SYSTEM: case ZYDIS_CATEGORY_SEGOP: case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_IO: case ZYDIS_CATEGORY_IOSTRINGOP: case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET: case ZYDIS_CATEGORY_VTX: case ZYDIS_CATEGORY_SGX:
    case ZYDIS_CATEGORY_PCONFIG: case ZYDIS_CATEGORY_RDPID: case ZYDIS_CATEGORY_RDPRU:
    case ZYDIS_CATEGORY_RDWRFSGS: case ZYDIS_CATEGORY_UINTR: case ZYDIS_CATEGORY_XSAVE:
    case ZYDIS_CATEGORY_XSAVEOPT: case ZYDIS_CATEGORY_PT: case ZYDIS_CATEGORY_KEYLOCKER:
    case ZYDIS_CATEGORY_KEYLOCKER_WIDE: case ZYDIS_CATEGORY_PKU: case ZYDIS_CATEGORY_SMAP:
    case ZYDIS_CATEGORY_HRESET: case ZYDIS_CATEGORY_ENQCMD:
        return true;
    default:
        return false;
    }
}

/* Innocuous instructions in a system category, and why that is right. */
static bool allowed_innocuous(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_ARPL:  /* selector arithmetic on operands (DEC_F_PM_ONLY) */
    case ZYDIS_MNEMONIC_BOUND: /* #BR through the IDT like any exception */
        return true;
    default:
        return false;
    }
}

static bool privileged_or_sensitive(const struct dec_insn *d)
{
    return d->cls == DEC_CLASS_PRIVILEGED || d->cls == DEC_CLASS_SENSITIVE;
}

/* Reports the first failure of each mnemonic and counts the rest. */
static void fail(const struct dec_insn *d, const char *why)
{
    sw.failures++;
    if (!sw.reported[d->mnemonic]) {
        sw.reported[d->mnemonic] = true;
        fprintf(stderr, "%s %s (%s):", sw.mode == DEC_MODE_32 ? "32" : "16",
                dec_mnemonic_name(d), dec_class_name(d->cls));
        for (unsigned i = 0; i < d->len; i++)
            fprintf(stderr, " %02x", d->bytes[i]);
        fprintf(stderr, ": %s\n", why);
    }
}

static void check_operands(const struct dec_insn *d, const ZydisDecodedInstruction *zi,
                           const ZydisDecodedOperand *zo)
{
    for (unsigned i = 0; i < d->n_ops; i++) {
        const struct dec_op *op = &d->ops[i];
        if (op->kind == DEC_OP_NONE)
            fail(d, "visible operand without a kind");
        if (op->kind == DEC_OP_REG && (op->reg.cls == DEC_RC_NONE || op->reg.cls == DEC_RC_OTHER))
            fail(d, "visible register outside popek's classes");
        if (op->kind == DEC_OP_REL && d->cf == DEC_CF_NONE)
            fail(d, "relative target without a control-flow kind");
    }
    for (unsigned i = 0; i < zi->operand_count; i++) {
        if (zo[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
            continue;
        ZydisRegisterClass rc = ZydisRegisterGetClass(zo[i].reg.value);
        if ((rc == ZYDIS_REGCLASS_SEGMENT || rc == ZYDIS_REGCLASS_CONTROL ||
             rc == ZYDIS_REGCLASS_DEBUG || rc == ZYDIS_REGCLASS_TABLE ||
             rc == ZYDIS_REGCLASS_TEST) &&
            !privileged_or_sensitive(d))
            fail(d, "touches a segment/control/debug/table register");
    }
}

static void check(const struct dec_insn *d, const ZydisDecodedInstruction *zi,
                  const ZydisDecodedOperand *zo)
{
    sw.decoded++;
    sw.seen[zi->mnemonic] = true;
    if (d->cls == DEC_CLASS_NONE || d->cls >= DEC_CLASS_COUNT_)
        fail(d, "no class");
    check_operands(d, zi, zo);
    if (zi->cpu_flags && (zi->cpu_flags->undefined >> 16))
        fail(d, "undefined EFLAGS bits above 15");
    bool plain = d->cls == DEC_CLASS_INNOCUOUS || d->cls == DEC_CLASS_CONTROL ||
                 d->cls == DEC_CLASS_STRING;
    if (plain && ((d->eflags_read | d->eflags_written) & SYSTEM_EFLAGS))
        fail(d, "touches system EFLAGS bits");
    if ((zi->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) && !privileged_or_sensitive(d))
        fail(d, "Zydis marks it privileged");
    if (d->cls == DEC_CLASS_INNOCUOUS && system_category(zi->meta.category) &&
        !allowed_innocuous(zi->mnemonic))
        fail(d, "system category");
    if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR &&
        (d->cls != DEC_CLASS_SENSITIVE ||
         (d->cf != DEC_CF_JMP_FAR && d->cf != DEC_CF_CALL_FAR && d->cf != DEC_CF_RET_FAR)))
        fail(d, "far transfer not sensitive");
    if (zi->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE && d->cf == DEC_CF_NONE)
        fail(d, "branch without a control-flow kind");
    bool str = (d->flags & DEC_F_STRING) != 0;
    if (str != (d->cls == DEC_CLASS_STRING) && !(str && d->cls == DEC_CLASS_IO))
        fail(d, "STRING class and flag disagree");
}

static void try_bytes(const uint8_t *b, size_t n)
{
    struct dec_insn d;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
    if (dec_decode_zydis(&sw.ctx, sw.mode, b, n, &d, &zi, zo) == DEC_OK)
        check(&d, &zi, zo);
}

static const uint8_t sample_modrm[] = { 0x00, 0x0D, 0x14, 0x1C, 0x24, 0x2D, 0x35, 0x3F,
                                        0x44, 0x4C, 0x94, 0xBC, 0xC0, 0xC9, 0xD2, 0xDB,
                                        0xE4, 0xED, 0xF6, 0xFF };

/* Every ModRM byte after prefix + opcode bytes, then filler for SIB,
 * displacement and immediates. */
static void all_modrm(uint8_t *b, size_t pos)
{
    for (unsigned m = 0; m < 256; m++) {
        b[pos] = (uint8_t)m;
        for (size_t k = 1; k <= 10; k++)
            b[pos + k] = (uint8_t)(0x11 * k);
        try_bytes(b, pos + 11);
    }
}

static void some_modrm(uint8_t *b, size_t pos)
{
    for (size_t i = 0; i < sizeof sample_modrm; i++) {
        b[pos] = sample_modrm[i];
        for (size_t k = 1; k <= 10; k++)
            b[pos + k] = (uint8_t)(0x11 * k);
        try_bytes(b, pos + 11);
    }
}

static void sweep_legacy_maps(void)
{
    static const uint8_t prefixes[] = { 0x00, 0x66, 0xF2, 0xF3 };
    uint8_t b[32];
    for (size_t p = 0; p < sizeof prefixes; p++) {
        size_t n = prefixes[p] ? 1 : 0;
        b[0] = prefixes[p];
        for (unsigned op = 0; op < 256; op++) {
            b[n] = (uint8_t)op;
            all_modrm(b, n + 1);
            b[n] = 0x0F, b[n + 1] = (uint8_t)op;
            all_modrm(b, n + 2);
            b[n + 1] = 0x38, b[n + 2] = (uint8_t)op;
            all_modrm(b, n + 3);
            b[n + 1] = 0x3A, b[n + 2] = (uint8_t)op;
            all_modrm(b, n + 3);
            /* 3DNow!: 0F 0F /r, the opcode byte after the operands. */
            b[n + 1] = 0x0F, b[n + 2] = 0xC1, b[n + 3] = (uint8_t)op;
            try_bytes(b, n + 4);
        }
    }
}

/* VEX (C4/C5), XOP (8F) and EVEX (62) with the register-form bits that
 * legacy modes require (SDM Vol2 2.3.5, 2.6.1). */
static void sweep_vector_maps(void)
{
    uint8_t b[32];
    for (unsigned op = 0; op < 256; op++) {
        for (unsigned lpp = 0; lpp < 8; lpp++) {
            b[0] = 0xC5, b[1] = (uint8_t)(0xF8 | lpp), b[2] = (uint8_t)op;
            some_modrm(b, 3);
            for (unsigned map = 1; map <= 3; map++) {
                for (unsigned w = 0; w < 2; w++) {
                    b[0] = 0xC4, b[1] = (uint8_t)(0xE0 | map);
                    b[2] = (uint8_t)((w << 7) | 0x78 | lpp), b[3] = (uint8_t)op;
                    some_modrm(b, 4);
                }
            }
            for (unsigned map = 8; map <= 10; map++) {
                b[0] = 0x8F, b[1] = (uint8_t)(0xE0 | map);
                b[2] = (uint8_t)(0x78 | lpp), b[3] = (uint8_t)op;
                some_modrm(b, 4);
            }
        }
        static const uint8_t evex_maps[] = { 1, 2, 3, 5, 6 };
        for (size_t mi = 0; mi < sizeof evex_maps; mi++) {
            for (unsigned wpp = 0; wpp < 8; wpp++) {
                for (unsigned ll = 0; ll < 3; ll++) {
                    b[0] = 0x62, b[1] = (uint8_t)(0xF0 | evex_maps[mi]);
                    b[2] = (uint8_t)(((wpp & 4) << 5) | 0x7C | (wpp & 3));
                    b[3] = (uint8_t)(0x08 | (ll << 5)), b[4] = (uint8_t)op;
                    some_modrm(b, 5);
                }
            }
        }
    }
}

static void sweep(unsigned features, enum dec_mode mode)
{
    cr_assert_eq(dec_init(&sw.ctx, features), 0);
    sw.mode = mode;
    sweep_legacy_maps();
    sweep_vector_maps();
}

Test(decoder_table, every_decoded_instruction_is_classified_consistently, .timeout = 60)
{
    memset(&sw, 0, sizeof sw);
    sweep(0, DEC_MODE_16);
    sweep(0, DEC_MODE_32);
    sweep(ALL_FEATURES, DEC_MODE_16);
    sweep(ALL_FEATURES, DEC_MODE_32);
    unsigned mnemonics = 0;
    for (unsigned m = 1; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
        mnemonics += sw.seen[m];
    cr_log_info("decoded %u instructions, %u of %u mnemonics", sw.decoded, mnemonics,
                (unsigned)ZYDIS_MNEMONIC_MAX_VALUE);
    cr_assert_eq(sw.failures, 0, "%u inconsistent records", sw.failures);
    /* The sweep reaches everything Zydis decodes outside 64-bit mode and
     * Knights Corner: about 1600 mnemonics. */
    cr_assert_gt(mnemonics, 1550);
}
