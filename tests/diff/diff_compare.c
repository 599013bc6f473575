/* Comparing an engine's result with the native one, printing a case, and
 * shrinking a failing case. */
#include "diff.h"

#include <stdarg.h>
#include <string.h>

static const char *const gpr_names[DIFF_NGPR] = {"eax", "ecx", "edx", "ebx",
                                                 "esp", "ebp", "esi", "edi"};

/* Vectors that push an error code (SDM Vol. 3A, 6.13). */
static bool has_error_code(uint32_t v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

/* The instruction boundary a result's EIP is at (faults report the
 * faulting instruction, traps the next one), or -1. */
static int boundary_of(const struct diff_case *c, const struct diff_meta *m, uint32_t eip)
{
    uint32_t base = DIFF_CODE_BASE + c->slot * DIFF_SLOT_SIZE;
    for (unsigned j = 0; j <= m->n; j++)
        if (base + m->off[j] == eip)
            return (int)j;
    return -1;
}

static void add(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *why, size_t len, const char *fmt, ...)
{
    size_t used = strlen(why);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, len - used, fmt, ap);
    va_end(ap);
}

static void flag_names(uint32_t bits, char *out, size_t len)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } f[] = {{DIFF_FL_CF, "CF"}, {DIFF_FL_PF, "PF"}, {DIFF_FL_AF, "AF"}, {DIFF_FL_ZF, "ZF"},
             {DIFF_FL_SF, "SF"}, {DIFF_FL_DF, "DF"}, {DIFF_FL_OF, "OF"}};
    out[0] = 0;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (bits & f[i].bit)
            add(out, len, "%s%s", out[0] ? " " : "", f[i].name);
}

static const char *vector_name(uint32_t v, char *buf, size_t len)
{
    static const char *const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                        "#DF", "?9",  "#TS", "#NP", "#SS", "#GP", "#PF", "?15",
                                        "#MF", "#AC", "#MC", "#XM"};
    if (v == DIFF_VEC_END)
        return "end of sequence";
    if (v == DIFF_VEC_ENGINE_STOP)
        return "engine stopped";
    if (v < sizeof(names) / sizeof(names[0]))
        snprintf(buf, len, "%s (vector %u)", names[v], v);
    else
        snprintf(buf, len, "vector %u", v);
    return buf;
}

static void compare_data(const struct diff_result *want, const struct diff_result *got,
                         char *why, size_t len)
{
    /* The guest's exception frame lands below the faulting ESP; the
     * native oracle's signal frame does not (diff_guest.S). */
    uint32_t skip_lo = 0, skip_hi = 0;
    if (want->vector != DIFF_VEC_END) {
        skip_hi = want->gpr[DIFF_ESP];
        skip_lo = skip_hi - (has_error_code(want->vector) ? 16 : 12);
    }
    unsigned shown = 0;
    for (uint32_t i = 0; i < DIFF_DATA_SIZE; i++) {
        uint32_t a = DIFF_DATA_BASE + i;
        if (want->data[i] == got->data[i] || (a >= skip_lo && a < skip_hi))
            continue;
        if (shown++ < 8)
            add(why, len, "  memory [%#06x]: native %02x, engine %02x\n", a, want->data[i],
                got->data[i]);
    }
    if (shown > 8)
        add(why, len, "  ... %u bytes of memory differ\n", shown);
}

bool diff_compare(const struct diff_case *c, const struct diff_meta *m,
                  const struct diff_result *want, const struct diff_result *got, char *why,
                  size_t whylen)
{
    char a[64], b[64];
    why[0] = 0;
    if (want->flags & DIFF_RES_OUTSIDE_WRITE)
        add(why, whylen, "  native run wrote outside the data area (generator bug)\n");
    if (want->vector != got->vector) {
        add(why, whylen, "  outcome: native %s, engine %s\n",
            vector_name(want->vector, a, sizeof(a)), vector_name(got->vector, b, sizeof(b)));
        return false;
    }
    if (want->eip != got->eip)
        add(why, whylen, "  eip: native %#010x, engine %#010x\n", want->eip, got->eip);
    int j = boundary_of(c, m, want->eip);
    if (j < 0)
        add(why, whylen, "  native eip %#010x is not an instruction boundary\n", want->eip);
    uint8_t undef_regs = j >= 0 ? m->undef_regs[j] : 0;
    uint16_t undef_flags = j >= 0 ? m->undef_flags[j] : 0;
    for (int r = 0; r < DIFF_NGPR; r++)
        if (!(undef_regs & (1u << r)) && want->gpr[r] != got->gpr[r])
            add(why, whylen, "  %s: native %#010x, engine %#010x\n", gpr_names[r], want->gpr[r],
                got->gpr[r]);
    uint32_t mask = DIFF_FL_COMPARED & ~(uint32_t)undef_flags;
    uint32_t diff = (want->eflags ^ got->eflags) & mask;
    if (diff) {
        char names[64];
        flag_names(diff, names, sizeof(names));
        add(why, whylen, "  eflags: native %#06x, engine %#06x (differ: %s; compared mask %#06x)\n",
            want->eflags & DIFF_FL_COMPARED, got->eflags & DIFF_FL_COMPARED, names, mask);
    }
    if (has_error_code(want->vector) && want->error_code != got->error_code)
        add(why, whylen, "  error code: native %#x, engine %#x\n", want->error_code,
            got->error_code);
    compare_data(want, got, why, whylen);
    return why[0] == 0;
}

/* ---- printing ---- */

void diff_print_case(FILE *out, const struct diff_case *c, const struct diff_meta *m)
{
    char fl[64];
    flag_names(c->eflags & DIFF_FL_COMPARED, fl, sizeof(fl));
    fprintf(out, "  initial:");
    for (int r = 0; r < DIFF_NGPR; r++)
        fprintf(out, " %s=%08x", gpr_names[r], c->gpr[r]);
    fprintf(out, " eflags=%04x [%s]\n", c->eflags, fl);
    ZydisDecoder dec;
    ZydisFormatter fmt;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
    uint32_t base = DIFF_CODE_BASE + c->slot * DIFF_SLOT_SIZE;
    for (unsigned i = 0; i <= m->n; i++) {
        unsigned off = m->off[i], len = (i < m->n ? m->off[i + 1] : c->code_len) - off;
        char text[128] = "(undecodable: #UD)", hex[48] = "";
        ZydisDecodedInstruction in;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, c->code + off, len, &in, ops)))
            ZydisFormatterFormatInstruction(&fmt, &in, ops, in.operand_count_visible, text,
                                            sizeof(text), base + off, NULL);
        else if (c->code[off] == 0xF0)
            snprintf(text, sizeof(text), "lock on a register operand (#UD)");
        for (unsigned k = 0; k < len && k < 15; k++)
            snprintf(hex + 3 * k, sizeof(hex) - 3 * k, "%02x ", c->code[off + k]);
        char undef[64];
        flag_names(m->undef_flags[i], undef, sizeof(undef));
        fprintf(out, "    %08x  %-33s %-40s%s%s%s\n", base + off, hex,
                i == m->n ? "(end marker) jmp [0x7000]" : text, undef[0] ? " ; undefined: " : "",
                undef, m->undef_regs[i] ? " +regs" : "");
    }
}

/* ---- shrinking ---- */

static bool still_fails(const struct diff_case *c, const struct diff_meta *m,
                        const struct diff_runner *native, const struct diff_runner *engine)
{
    struct diff_result want, got;
    char msg[256], why[2048];
    if (native->run(native->ctx, c, 1, &want, msg, sizeof(msg)) < 0 ||
        engine->run(engine->ctx, c, 1, &got, msg, sizeof(msg)) < 0)
        return false;
    if (want.flags & DIFF_RES_OUTSIDE_WRITE)
        return false;
    return !diff_compare(c, m, &want, &got, why, sizeof(why));
}

static void drop_insn(struct diff_case *c, const struct diff_meta *m, unsigned i)
{
    unsigned from = m->off[i], to = m->off[i + 1];
    memmove(c->code + from, c->code + to, c->code_len - to);
    c->code_len -= to - from;
    memset(c->code + c->code_len, 0, DIFF_CODE_MAX - c->code_len);
}

unsigned diff_minimise(struct diff_case *c, struct diff_meta *m, const struct diff_runner *native,
                       const struct diff_runner *engine)
{
    unsigned runs = 0;
    bool changed = true;
    while (changed && m->n > 1) {
        changed = false;
        for (unsigned i = m->n; i-- > 0 && m->n > 1;) {
            struct diff_case cand = *c;
            struct diff_meta cm;
            const char *why;
            unsigned bad;
            drop_insn(&cand, m, i);
            if (diff_analyse(&cand, &cm, &why, &bad) < 0)
                continue;
            runs++;
            if (still_fails(&cand, &cm, native, engine)) {
                *c = cand;
                *m = cm;
                changed = true;
            }
        }
    }
    return runs;
}
