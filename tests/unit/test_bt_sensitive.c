/* The sensitive-instruction table (translator/bt_sensitive*.c): a row for
 * every mnemonic and operand form the decoder's class table makes
 * non-innocuous, examples that decode to their instruction, a bt column
 * that is the translator's own choice, and a VT-x column whose
 * unconditional exits are exactly the SDM's list. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "decoder/class_table.h"
#include "translator/bt_sensitive.h"

static bool non_innocuous(unsigned cls)
{
    return cls == DEC_CLASS_PRIVILEGED || cls == DEC_CLASS_SENSITIVE || cls == DEC_CLASS_IO ||
           cls == DEC_CLASS_IOPL;
}

static const char *mn_name(unsigned m)
{
    return ZydisMnemonicGetString((ZydisMnemonic)m);
}

Test(bt_sensitive, every_non_innocuous_mnemonic_has_a_row)
{
    unsigned missing = 0;
    for (unsigned m = 1; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) {
        if (!non_innocuous(dec_class_table[m].cls))
            continue;
        bool found = false;
        for (size_t i = 0; i < bt_sensitive_count && !found; i++)
            found = bt_sensitive_table[i].mnemonic == m;
        if (!found) {
            fprintf(stderr, "no row for %s (translator/bt_sensitive_table.c)\n", mn_name(m));
            missing++;
        }
    }
    cr_assert_eq(missing, 0, "%u sensitive or privileged mnemonics without a row", missing);
}

/* Whether the decoded example d is in the operand form f (the decoder's
 * enum dec_form, class_table.h). */
static bool in_form(const struct dec_insn *d, enum dec_form f)
{
    unsigned want = f == DEC_FORM_CR ? DEC_RC_CR : f == DEC_FORM_DR ? DEC_RC_DR : DEC_RC_SEG;
    switch (f) {
    case DEC_FORM_FAR:
        return d->cf == DEC_CF_JMP_FAR || d->cf == DEC_CF_CALL_FAR || d->cf == DEC_CF_RET_FAR;
    case DEC_FORM_CR:
    case DEC_FORM_DR:
    case DEC_FORM_SEG:
        for (unsigned i = 0; i < d->n_ops; i++)
            if (d->ops[i].kind == DEC_OP_REG && d->ops[i].reg.cls == want)
                return true;
        return false;
    default:
        return false;
    }
}

Test(bt_sensitive, every_non_innocuous_operand_form_has_a_row)
{
    for (size_t f = 0; f < dec_forms_count; f++) {
        const struct dec_form_entry *fe = &dec_forms[f];
        if (!non_innocuous(fe->e.cls))
            continue;
        bool found = false;
        for (size_t i = 0; i < bt_sensitive_count && !found; i++) {
            const struct bt_sensitive *row = &bt_sensitive_table[i];
            struct bt_sens_eval e;
            if (row->mnemonic != fe->mnemonic)
                continue;
            bt_sensitive_eval(row, &e);
            found = e.decoded && e.d.cls == fe->e.cls && in_form(&e.d, (enum dec_form)fe->form);
        }
        cr_expect(found, "no row for %s in operand form %u", mn_name(fe->mnemonic), fe->form);
    }
}

/* The mnemonic Zydis decodes from bytes in a 64-bit mode, 0 if none. */
static unsigned zydis64(const struct bt_sensitive *row)
{
    ZydisDecoder dec;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_KNC, row->enc == BT_ENC_64_KNC);
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, row->bytes, row->len, &zi, ops)) ||
        zi.length != row->len)
        return 0;
    return zi.mnemonic;
}

Test(bt_sensitive, examples_decode_to_their_instruction)
{
    struct dec_ctx plain, cet;
    cr_assert_eq(dec_init(&plain, 0), 0);
    cr_assert_eq(dec_init(&cet, DEC_FEAT_CET), 0);
    for (size_t i = 0; i < bt_sensitive_count; i++) {
        const struct bt_sensitive *row = &bt_sensitive_table[i];
        struct dec_insn d;
        cr_assert(row->len > 0 && row->len <= DEC_MAX_LEN, "%s", row->name);
        if (row->enc == BT_ENC_64 || row->enc == BT_ENC_64_KNC) {
            cr_expect_eq(zydis64(row), row->mnemonic, "%s: 64-bit example", row->name);
            /* Never this instruction in popek's 32-bit code. */
            cr_expect(dec_decode(&plain, DEC_MODE_32, row->bytes, row->len, &d) != DEC_OK ||
                          d.mnemonic != row->mnemonic,
                      "%s decodes in 32-bit code: give it a 32-bit example", row->name);
            continue;
        }
        const struct dec_ctx *ctx = row->enc == BT_ENC_32_CET ? &cet : &plain;
        cr_assert_eq(dec_decode(ctx, DEC_MODE_32, row->bytes, row->len, &d), DEC_OK, "%s",
                     row->name);
        cr_expect_eq(d.len, row->len, "%s: the example is one instruction", row->name);
        cr_expect_eq(d.mnemonic, row->mnemonic, "%s decodes as %s", row->name,
                     dec_mnemonic_name(&d));
        cr_expect(non_innocuous(d.cls), "%s: the example is %s", row->name,
                  dec_class_name(d.cls));
        if (row->enc == BT_ENC_32_CET) {
            cr_expect(dec_decode(&plain, DEC_MODE_32, row->bytes, row->len, &d) != DEC_OK ||
                          d.mnemonic != row->mnemonic,
                      "%s: not a CET-only encoding", row->name);
        }
    }
}

Test(bt_sensitive, names_are_unique)
{
    for (size_t i = 0; i < bt_sensitive_count; i++)
        for (size_t j = 0; j < i; j++)
            cr_expect(strcmp(bt_sensitive_table[i].name, bt_sensitive_table[j].name),
                      "two rows named %s", bt_sensitive_table[i].name);
}

/* SDM Vol. 3C 25.1.2 (26.1.2 in later editions), plus the TDX calls
 * (exit reasons SEAMCALL and TDCALL, SDM Vol. 3D Appendix C). */
Test(bt_sensitive, unconditional_exits_are_the_sdm_list)
{
    static const uint16_t sdm[] = {
        ZYDIS_MNEMONIC_CPUID,   ZYDIS_MNEMONIC_GETSEC,   ZYDIS_MNEMONIC_INVD,
        ZYDIS_MNEMONIC_XSETBV,  ZYDIS_MNEMONIC_INVEPT,   ZYDIS_MNEMONIC_INVVPID,
        ZYDIS_MNEMONIC_VMCALL,  ZYDIS_MNEMONIC_VMCLEAR,  ZYDIS_MNEMONIC_VMLAUNCH,
        ZYDIS_MNEMONIC_VMPTRLD, ZYDIS_MNEMONIC_VMPTRST,  ZYDIS_MNEMONIC_VMRESUME,
        ZYDIS_MNEMONIC_VMXOFF,  ZYDIS_MNEMONIC_VMXON,    ZYDIS_MNEMONIC_TDCALL,
        ZYDIS_MNEMONIC_SEAMCALL,
    };
    for (size_t i = 0; i < bt_sensitive_count; i++) {
        const struct bt_sensitive *row = &bt_sensitive_table[i];
        bool listed = false;
        for (size_t k = 0; k < sizeof sdm / sizeof sdm[0]; k++)
            listed |= sdm[k] == row->mnemonic;
        cr_expect_eq(row->vtx == BT_VTX_ALWAYS, listed, "%s: VT-x column", row->name);
        cr_expect(row->vtx != BT_VTX_CONTROL || row->vtx_how, "%s: which control?", row->name);
    }
}

Test(bt_sensitive, bt_column_is_the_translators_choice)
{
    struct dec_insn d;
    cr_expect_eq(bt_handling_of((const uint8_t *)"\x01\xD8", 2, &d), BT_HANDLE_TRANSLATED);
    cr_expect_eq(bt_handling_of((const uint8_t *)"\xF4", 1, &d), BT_HANDLE_ENDS_BLOCK);
    cr_expect_eq(bt_handling_of((const uint8_t *)"\x0F\xA2", 2, &d), BT_HANDLE_HELPER);
    cr_expect_eq(bt_handling_of((const uint8_t *)"\x0F\xFF", 2, &d), BT_HANDLE_UNDECODED);
    for (size_t i = 0; i < bt_sensitive_count; i++) {
        struct bt_sens_eval e;
        bt_sensitive_eval(&bt_sensitive_table[i], &e);
        /* A control transfer cannot continue the block after a call. */
        if (e.decoded && e.d.cf != DEC_CF_NONE)
            cr_expect_neq(e.handling, BT_HANDLE_HELPER, "%s", bt_sensitive_table[i].name);
    }
}

/* translator.h: bt_rewrite_one's code fits 192 bytes, the emitter's
 * contract with the block builder (BT_MAX_INSN_CODE). */
Test(bt_sensitive, inline_sequences_fit_the_emitter_contract)
{
    for (size_t i = 0; i < bt_sensitive_count; i++) {
        const struct bt_sensitive *row = &bt_sensitive_table[i];
        uint8_t out[192];
        if (row->enc != BT_ENC_32)
            continue;
        cr_expect_geq(bt_rewrite_one(row->bytes, row->len, 0x1000, out, sizeof out), 0,
                      "%s: host code longer than 192 bytes", row->name);
    }
}

Test(bt_sensitive, markdown_has_one_line_per_row)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cr_assert_eq(bt_sensitive_print(f, true), 0);
    fclose(f);
    size_t rows = 0, sections = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "### ", 4))
            sections++;
        else if (!strncmp(line, "| ", 2) && strncmp(line, "| instruction |", 15))
            rows++;
    }
    free(buf);
    cr_expect_eq(rows, bt_sensitive_count);
    cr_expect_eq(sections, BT_SENS_KIND_COUNT_);
}
