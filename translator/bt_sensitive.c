/* The sensitive-instruction table as `popek sensitive` prints it: the
 * rows of bt_sensitive_table.c, each example decoded by popek's decoder
 * and given to the translator (bt_handling_of) for the class and the bt
 * column. */
#include "translator/bt_sensitive.h"

#include <string.h>

void bt_sensitive_eval(const struct bt_sensitive *row, struct bt_sens_eval *out)
{
    memset(out, 0, sizeof *out);
    out->kind = BT_SENS_ELSEWHERE;
    out->handling = BT_HANDLE_UNDECODED;
    if (row->enc == BT_ENC_64 || row->enc == BT_ENC_64_KNC)
        return;
    out->handling = bt_handling_of(row->bytes, row->len, &out->d);
    out->decoded = out->handling != BT_HANDLE_UNDECODED;
    if (!out->decoded || out->d.mnemonic != row->mnemonic)
        return;
    switch (out->d.cls) {
    case DEC_CLASS_PRIVILEGED:
        out->kind = BT_SENS_PRIVILEGED;
        break;
    case DEC_CLASS_IO:
    case DEC_CLASS_IOPL:
        out->kind = BT_SENS_IOPL;
        break;
    case DEC_CLASS_SENSITIVE:
        out->kind = out->d.cf != DEC_CF_NONE ? BT_SENS_TRANSFER : BT_SENS_UNPRIVILEGED;
        break;
    default:
        break;
    }
}

static const char *const kind_title[BT_SENS_KIND_COUNT_] = {
    [BT_SENS_PRIVILEGED] = "Privileged: #GP(0) or #UD whenever CPL > 0",
    [BT_SENS_IOPL] = "I/O and IOPL-sensitive: #GP only when CPL > IOPL (I/O: and the TSS "
                     "I/O bitmap denies the port)",
    [BT_SENS_UNPRIVILEGED] = "Sensitive but unprivileged: no trap at CPL 3 (the "
                             "Popek-Goldberg gap)",
    [BT_SENS_TRANSFER] = "Control transfers through descriptors, gates and MSRs (sensitive, "
                         "unprivileged)",
    [BT_SENS_ELSEWHERE] = "Not instructions of popek's 32-bit CPU (64-bit mode, features "
                          "it lacks)",
};

/* The example in Intel syntax, decoded where its encoding means the
 * row's instruction. */
static void format_example(const struct bt_sensitive *row, char *buf, size_t len)
{
    bool wide = row->enc == BT_ENC_64 || row->enc == BT_ENC_64_KNC;
    ZydisDecoder dec;
    ZydisFormatter fmt;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    bool ok = ZYAN_SUCCESS(ZydisDecoderInit(&dec, wide ? ZYDIS_MACHINE_MODE_LONG_64
                                                       : ZYDIS_MACHINE_MODE_LEGACY_32,
                                            wide ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32)) &&
              ZYAN_SUCCESS(ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_KNC,
                                                  row->enc == BT_ENC_64_KNC)) &&
              ZYAN_SUCCESS(ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_CET,
                                                  row->enc == BT_ENC_32_CET)) &&
              ZYAN_SUCCESS(ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL)) &&
              ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, row->bytes, row->len, &zi, ops)) &&
              ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&fmt, &zi, ops,
                                                           zi.operand_count_visible, buf, len,
                                                           ZYDIS_RUNTIME_ADDRESS_NONE, NULL));
    if (ok)
        return;
    size_t n = 0;
    for (unsigned i = 0; i < row->len && n + 3 < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? " %02X" : "%02X", row->bytes[i]);
}

static void format_bt(const struct bt_sensitive *row, const struct bt_sens_eval *e, char *buf,
                      size_t len)
{
    static const char *const how[] = {
        [BT_HANDLE_UNDECODED] = "#UD",
        [BT_HANDLE_TRANSLATED] = "translated inline",
        [BT_HANDLE_HELPER] = "helper call, block goes on",
        [BT_HANDLE_ENDS_BLOCK] = "ends block; interpreter",
    };
    if (row->enc == BT_ENC_64)
        snprintf(buf, len, "64-bit mode only");
    else if (row->enc == BT_ENC_64_KNC)
        snprintf(buf, len, "Knights Corner only");
    else if (!e->decoded)
        snprintf(buf, len, "#UD: no such instruction in 32-bit code");
    else if (e->d.mnemonic != row->mnemonic)
        snprintf(buf, len, "decodes as %s%s: %s", dec_mnemonic_name(&e->d),
                 row->enc == BT_ENC_32_CET ? " (no CET)" : "", how[e->handling]);
    else
        snprintf(buf, len, "%s", how[e->handling]);
}

static void format_vtx(const struct bt_sensitive *row, char *buf, size_t len)
{
    const char *h = row->vtx_how;
    switch (row->vtx) {
    case BT_VTX_NO_EXIT:
        snprintf(buf, len, "no exit%s%s", h ? "; " : "", h ? h : "");
        return;
    case BT_VTX_ALWAYS:
        snprintf(buf, len, "exits unconditionally%s%s%s", h ? " (" : "", h ? h : "", h ? ")" : "");
        return;
    case BT_VTX_CONTROL:
        snprintf(buf, len, "exits %s", h ? h : "under a VM-execution control");
        return;
    default:
        snprintf(buf, len, "#UD%s%s", h ? ": " : "", h ? h : "");
        return;
    }
}

static int print_kind(FILE *out, bool markdown, enum bt_sens_kind kind)
{
    bool any = false;
    for (size_t i = 0; i < bt_sensitive_count; i++) {
        const struct bt_sensitive *row = &bt_sensitive_table[i];
        struct bt_sens_eval e;
        bt_sensitive_eval(row, &e);
        if (e.kind != kind)
            continue;
        if (!any && markdown)
            fprintf(out, "### %s\n\n| instruction | example | bt | VT-x | touches |\n"
                         "|---|---|---|---|---|\n", kind_title[kind]);
        else if (!any)
            fprintf(out, "%s\n", kind_title[kind]);
        any = true;
        char ex[96], bt[96], vtx[256];
        format_example(row, ex, sizeof ex);
        format_bt(row, &e, bt, sizeof bt);
        format_vtx(row, vtx, sizeof vtx);
        if (markdown)
            fprintf(out, "| %s | `%s` | %s | %s | %s |\n", row->name, ex, bt, vtx, row->touches);
        else
            fprintf(out, "  %-18s %-30s %-28s %s\n  %-18s touches %s\n", row->name, ex, bt,
                    vtx, "", row->touches);
    }
    if (any)
        fputc('\n', out);
    return ferror(out) ? -1 : 0;
}

int bt_sensitive_print(FILE *out, bool markdown)
{
    for (int k = 0; k < BT_SENS_KIND_COUNT_; k++) {
        if (print_kind(out, markdown, (enum bt_sens_kind)k) < 0)
            return -1;
    }
    return 0;
}
