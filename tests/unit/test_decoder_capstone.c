/* popek's decoder against Capstone 4 (CS_ARCH_X86, CS_MODE_32/CS_MODE_16):
 * lengths and mnemonics over the i386 libc's .text, the guest kit's
 * objects and seeded random byte streams, each walked linearly.
 *
 * The two libraries spell some mnemonics differently (spellings[]) and
 * disagree on some encodings; every disagreement must match a rule in
 * exceptions[] that says why, or the test fails and prints the bytes. */
#include <capstone/capstone.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/decoder.h"
#include "elf32_text.h"

#ifndef POPEK_GUEST_DIR
#define POPEK_GUEST_DIR ""
#endif
#define LIBC32 "/usr/lib32/libc.so.6"
#define RANDOM_INSNS 200000u
#define RANDOM_SEED 0x706f70656bull

/* ---- spellings ------------------------------------------------------------ */

/* Zydis name -> Capstone name of the same instruction. far: only for far
 * transfers (Capstone writes LJMP/LCALL/RETF, Zydis JMP/CALL/RET FAR). */
#define S(z, c) { z, c, false },
#define FAR(z, c) { z, c, true },
static const struct {
    const char *zydis, *capstone;
    bool far;
} spellings[] = {
    S("jnb", "jae") S("jz", "je") S("jnz", "jne") S("jnbe", "ja")
    S("jnl", "jge") S("jnle", "jg")
    S("setnb", "setae") S("setz", "sete") S("setnz", "setne") S("setnbe", "seta")
    S("setnl", "setge") S("setnle", "setg")
    S("cmovnb", "cmovae") S("cmovz", "cmove") S("cmovnz", "cmovne")
    S("cmovnbe", "cmova") S("cmovnl", "cmovge") S("cmovnle", "cmovg")
    S("fwait", "wait") S("xlat", "xlatb") S("fsetpm287_nop", "fsetpm")
    S("pusha", "pushaw") S("pushad", "pushal") S("popa", "popaw") S("popad", "popal")
    S("xstore", "xstorerng") S("xcrypt_ecb", "xcryptecb") S("xcrypt_cbc", "xcryptcbc")
    S("xcrypt_cfb", "xcryptcfb") S("xcrypt_ofb", "xcryptofb")
    S("xcrypt_ctr", "xcryptctr")
    /* Zydis 4.0 misspells 3DNow! A6h PFRCPIT1 and 97h PFRSQRT (AMD 3DNow! manual). */
    S("pfcpit1", "pfrcpit1") S("pfsqrt", "pfrsqrt") S("pfcpit1", "pfrcpit1")
    FAR("jmp", "ljmp") FAR("call", "lcall") FAR("ret", "retf")
};

/* Capstone puts prefixes into the mnemonic ("rep movsb", "lock add"). */
static const char *capstone_base(const char *m)
{
    static const char *const prefixes[] = { "lock ", "rep ", "repe ", "repz ", "repne ",
                                            "repnz ", "bnd ", "notrack ", "xacquire ",
                                            "xrelease ", "data16 ", "addr32 " };
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t n = strlen(prefixes[i]);
            if (strncmp(m, prefixes[i], n) == 0) {
                m += n;
                again = true;
            }
        }
    }
    return m;
}

static bool same_mnemonic(const struct dec_insn *d, const char *cs)
{
    const char *z = dec_mnemonic_name(d);
    if (strcmp(z, cs) == 0)
        return true;
    bool far = d->cf == DEC_CF_JMP_FAR || d->cf == DEC_CF_CALL_FAR || d->cf == DEC_CF_RET_FAR;
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        if (strcmp(spellings[i].zydis, z) == 0 && strcmp(spellings[i].capstone, cs) == 0 &&
            spellings[i].far == far)
            return true;
    }
    return false;
}

/* ---- what the bytes look like, independent of either decoder --------------- */

struct bytes_view {
    const uint8_t *b;
    size_t avail;
    bool lock, rep, opsize, addrsize; /* F0; F2 or F3; 66; 67 among the prefixes */
    size_t op;              /* index of the first opcode byte */
};

static struct bytes_view view_of(const uint8_t *b, size_t avail)
{
    struct bytes_view v = { .b = b, .avail = avail };
    for (; v.op < avail && v.op < DEC_MAX_LEN; v.op++) {
        uint8_t p = b[v.op];
        if (p == 0xF0)
            v.lock = true;
        else if (p == 0xF2 || p == 0xF3)
            v.rep = true;
        else if (p == 0x66)
            v.opsize = true;
        else if (p == 0x67)
            v.addrsize = true;
        else if (p != 0x26 && p != 0x2E && p != 0x36 && p != 0x3E && p != 0x64 && p != 0x65)
            break;
    }
    return v;
}

static int byte_at(const struct bytes_view *v, size_t i)
{
    return v->op + i < v->avail ? v->b[v->op + i] : -1;
}

static int modrm_reg_after(const struct bytes_view *v, size_t opcode_len)
{
    int m = byte_at(v, opcode_len);
    return m < 0 ? -1 : (m >> 3) & 7;
}

/* ---- exceptions --------------------------------------------------------------- */

enum disagreement {
    ZYDIS_UD,    /* popek/Zydis: invalid (#UD); Capstone decodes */
    CAPSTONE_UD, /* Capstone rejects; popek decodes */
    MNEMONIC,    /* same length, another instruction */
    LENGTH,      /* both decode, lengths differ */
};

/* Conditions on the bytes alone. */
enum when {
    ALWAYS,
    LOCK_PREFIX,      /* F0 present */
    OPSIZE_AND_REP,   /* 66 together with F2/F3 */
    REP_PREFIX,       /* F2/F3 present */
    ADDRSIZE,         /* 67 present */
    MOV_TO_CS,        /* 8E /1 */
    MOV_CR_RESERVED,  /* 0F 20 / 0F 22 with CR1, CR5, CR6, CR7 */
    GROUP2_SLASH6,    /* C0, C1, D0-D3 with ModRM.reg 6 */
    VECTOR,           /* VEX (C4/C5), XOP (8F) or EVEX (62) in register form */
    HINT_NOP_MAP,     /* 0F 0D, 0F 18-0F 1F */
    AMD_3DNOW,        /* 0F 0F */
    MOFFS,            /* A0-A3 */
    PADLOCK_NO_REP,   /* 0F A6, 0F A7 without F3 */
    SSE_PREFIX_0F,    /* 66, F2 or F3, then a 0F-map opcode */
    SSE_PREFIX_SPLIT, /* the same with another prefix between them and 0F */
};

static bool holds(enum when w, const struct bytes_view *v)
{
    int b0 = byte_at(v, 0), b1 = byte_at(v, 1);
    switch (w) {
    case ALWAYS: return true;
    case LOCK_PREFIX: return v->lock;
    case OPSIZE_AND_REP: return v->opsize && v->rep;
    case REP_PREFIX: return v->rep;
    case MOV_TO_CS: return b0 == 0x8E && modrm_reg_after(v, 1) == 1;
    case MOV_CR_RESERVED: {
        int reg = modrm_reg_after(v, 2);
        return b0 == 0x0F && (b1 == 0x20 || b1 == 0x22) &&
               (reg == 1 || reg == 5 || reg == 6 || reg == 7);
    }
    case ADDRSIZE: return v->addrsize;
    case GROUP2_SLASH6:
        return (b0 == 0xC0 || b0 == 0xC1 || (b0 >= 0xD0 && b0 <= 0xD3)) &&
               modrm_reg_after(v, 1) == 6;
    case VECTOR:
        return ((b0 == 0xC4 || b0 == 0xC5 || b0 == 0x62) && b1 >= 0xC0) ||
               (b0 == 0x8F && b1 >= 0 && (b1 & 0x1F) >= 8);
    case HINT_NOP_MAP: return b0 == 0x0F && (b1 == 0x0D || (b1 >= 0x18 && b1 <= 0x1F));
    case AMD_3DNOW: return b0 == 0x0F && b1 == 0x0F;
    case MOFFS: return b0 >= 0xA0 && b0 <= 0xA3;
    case PADLOCK_NO_REP: return !v->rep && b0 == 0x0F && (b1 == 0xA6 || b1 == 0xA7);
    case SSE_PREFIX_0F: return (v->opsize || v->rep) && b0 == 0x0F;
    case SSE_PREFIX_SPLIT:
        return (v->opsize || v->rep) && b0 == 0x0F && v->op > 0 &&
               v->b[v->op - 1] != 0x66 && v->b[v->op - 1] != 0xF2 && v->b[v->op - 1] != 0xF3;
    }
    return false;
}

#define M16 1u
#define M32 2u
#define NEWER(m) { CAPSTONE_UD, M16 | M32, m, NULL, ALWAYS, "newer than Capstone 4.0.2's tables" },
#define CMP_PSEUDO "Capstone 4 names the compare predicate (CMPLTPS for CMPPS ..., 1); Zydis " \
                   "keeps it as the immediate"
#define FENCE_RM "0F AE /5, /6, /7 with mod = 11 are LFENCE, MFENCE, SFENCE whatever the " \
                 "r/m field (AMD APM Vol3); Capstone 4 accepts r/m 0 only"
#define CBW_CWD "98/99 with a 16-bit operand size are CBW/CWD (SDM CBW, CWD); Capstone 4 " \
                "says CWDE/CDQ in 16-bit mode and when 66 comes with another prefix"
#define SSE16 "Capstone 4's 16-bit mode mishandles the mandatory 66/F2/F3 prefix of many " \
              "SSE opcodes (66 0F 58 ADDPD read as ADDPS, F2 0F 51 SQRTSD as SQRTPS, " \
              "66 0F 53 accepted as RCPPS)"
#define JCXZ_SIZE "the address size picks CX or ECX for JCXZ/JECXZ (SDM Jcc); Capstone 4 " \
                  "ignores a 67 prefix there"

struct exception {
    enum disagreement kind;
    unsigned modes;         /* M16 | M32 */
    const char *zydis;      /* popek's mnemonic, NULL: any */
    const char *capstone;   /* Capstone's (prefixes stripped), NULL: any */
    enum when when;
    const char *reason;
};

static const struct exception exceptions[] = {
    /* popek is right to raise #UD. */
    { ZYDIS_UD, M16 | M32, NULL, NULL, LOCK_PREFIX, "LOCK on an instruction that is not "
      "lockable or has a register destination is #UD (SDM LOCK); Capstone 4 accepts it" },
    { ZYDIS_UD, M16 | M32, NULL, "mov", MOV_TO_CS, "MOV CS, r/m is #UD (SDM MOV: loading CS "
      "with MOV); Capstone 4 accepts it" },
    { ZYDIS_UD, M16 | M32, NULL, "mov", MOV_CR_RESERVED, "MOV to/from CR1, CR5, CR6, CR7 is "
      "#UD (SDM MOV-Move to/from Control Registers); Capstone 4 accepts it" },
    { ZYDIS_UD, M16 | M32, NULL, NULL, SSE_PREFIX_0F, "66/F2/F3 on a 0F-map opcode that has "
      "no such form: #UD or another instruction (SDM Vol2 3.1.1.1, \"NP\"); Capstone 4 "
      "ignores the prefix" },
    { ZYDIS_UD, M16 | M32, NULL, NULL, VECTOR, "VEX/XOP/EVEX reserved fields (vvvv, W, L, "
      "EVEX.b/z on forms without them) make the encoding #UD (SDM Vol2 2.3, 2.7); "
      "Capstone 4 does not check them. popek's CPU model has no AVX/XOP/AVX-512, so a "
      "guest gets #UD either way" },
    { ZYDIS_UD, M16 | M32, NULL, "femms", AMD_3DNOW, "0F 0F /r with an undefined 3DNow! "
      "suffix byte is #UD (AMD 3DNow! manual); Capstone 4 calls it FEMMS" },
    { ZYDIS_UD, M16 | M32, NULL, "swapgs", ALWAYS, "SWAPGS is #UD outside 64-bit mode (SDM "
      "SWAPGS); Capstone 4 decodes it" },
    { ZYDIS_UD, M16 | M32, NULL, NULL, PADLOCK_NO_REP, "VIA PadLock XCRYPT and MONTMUL need "
      "the REP prefix (VIA PadLock Programming Guide); Capstone 4 decodes them without" },
    /* Capstone 4 predates or lacks these encodings. */
    { CAPSTONE_UD, M16 | M32, NULL, NULL, HINT_NOP_MAP, "0F 0D /r and 0F 18-0F 1F /r "
      "(register forms included) are prefetch hints and reserved NOPs on P6 and later (SDM "
      "Vol2 Table A-3 and NOP; AMD PREFETCH/PREFETCHW aliases); Capstone 4 knows only some" },
    NEWER("rdpkru") NEWER("wrpkru") NEWER("rdpru") NEWER("rdpid") NEWER("pvalidate")
    NEWER("tlbsync") NEWER("invlpgb") NEWER("serialize") NEWER("pconfig") NEWER("enclv")
    NEWER("monitorx") NEWER("mwaitx") NEWER("clzero") NEWER("movdiri") NEWER("movdir64b")
    NEWER("enqcmd") NEWER("enqcmds") NEWER("tpause") NEWER("umonitor") NEWER("umwait")
    NEWER("xsusldtrk") NEWER("xresldtrk") NEWER("hreset") NEWER("mcommit") NEWER("ptwrite")
    NEWER("tdcall") NEWER("loadiwkey") NEWER("encodekey128") NEWER("encodekey256")
    { CAPSTONE_UD, M16 | M32, "lfence", NULL, ALWAYS, FENCE_RM },
    { CAPSTONE_UD, M16 | M32, "mfence", NULL, ALWAYS, FENCE_RM },
    { CAPSTONE_UD, M16 | M32, "sfence", NULL, ALWAYS, FENCE_RM },
    { CAPSTONE_UD, M16 | M32, "ud0", NULL, ALWAYS, "UD0 is 0F FF /r (SDM UD); Capstone 4 "
      "decodes a 2-byte form and rejects it after a prefix" },
    { CAPSTONE_UD, M16 | M32, NULL, NULL, VECTOR, "AVX-512/VEX encodings newer than "
      "Capstone 4 (AVX512-FP16, VEX-encoded mask ops in 16-bit mode) or reserved-field "
      "readings it rejects; popek's CPU model has no AVX/AVX-512, so a guest gets #UD "
      "either way" },
    { CAPSTONE_UD, M32, "mov", NULL, MOFFS, "Capstone 4 rejects F2/F3 before MOV moffs "
      "(A0-A3); the CPU ignores them" },
    /* Same length, another name. */
    { MNEMONIC, M32, "nop", "endbr32", ALWAYS, "F3 0F 1E FB is a hint NOP without CET "
      "(popek decodes as a CPU without DEC_FEAT_CET); Capstone 4 always says ENDBR32" },
    { MNEMONIC, M16 | M32, "bsf", "tzcnt", ALWAYS, "F3 0F BC is BSF without BMI1 (popek "
      "decodes without DEC_FEAT_TZCNT); Capstone 4 always says TZCNT" },
    { MNEMONIC, M16 | M32, "bsr", "lzcnt", ALWAYS, "F3 0F BD is BSR without LZCNT" },
    { MNEMONIC, M16 | M32, "shl", "sal", GROUP2_SLASH6, "shift group /6 is an undocumented "
      "alias of /4 (SHL); Capstone 4 calls it SAL" },
    { MNEMONIC, M16 | M32, "cmpps", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "cmppd", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "cmpss", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "cmpsd", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "vcmpps", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "vcmppd", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "vcmpss", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "vcmpsd", NULL, ALWAYS, CMP_PSEUDO },
    { MNEMONIC, M16 | M32, "jcxz", "jecxz", ADDRSIZE, JCXZ_SIZE },
    { MNEMONIC, M16 | M32, "jecxz", "jcxz", ADDRSIZE, JCXZ_SIZE },
    { MNEMONIC, M16 | M32, NULL, NULL, OPSIZE_AND_REP, "Capstone 4 drops the 66 operand-size "
      "prefix when F2/F3 is also present (66 F2 AF is REPNE SCASW); the CPU applies it" },
    { MNEMONIC, M16 | M32, "cbw", "cwde", ALWAYS, CBW_CWD },
    { MNEMONIC, M16 | M32, "cwd", "cdq", ALWAYS, CBW_CWD },
    { MNEMONIC, M16 | M32, "pause", "nop", REP_PREFIX, "F3 90 is PAUSE with any other prefix "
      "(SDM PAUSE); Capstone 4 says NOP in 16-bit mode or when another prefix follows F3" },
    { MNEMONIC, M16, NULL, NULL, SSE_PREFIX_0F, SSE16 },
    { CAPSTONE_UD, M16, NULL, NULL, SSE_PREFIX_0F, SSE16 },
    { MNEMONIC, M32, NULL, NULL, SSE_PREFIX_SPLIT, "a mandatory 66/F2/F3 selects the SSE form "
      "wherever it stands among the prefixes (F3 2E 0F 11 is MOVSS); Capstone 4 needs it "
      "right before 0F" },
    { MNEMONIC, M16 | M32, NULL, NULL, VECTOR, "AVX-512 encodings Capstone 4 reads as "
      "another instruction; popek's CPU model has no AVX-512" },
    /* Another length. */
    { LENGTH, M16 | M32, NULL, NULL, OPSIZE_AND_REP, "Capstone 4 drops the 66 operand-size "
      "prefix when F2/F3 is also present (66 F2 E8 has a rel16); the CPU applies it" },
    { LENGTH, M16 | M32, "ud0", "ud0", ALWAYS, "UD0 is 0F FF /r with a ModRM byte (SDM "
      "UD); Capstone 4 decodes the older 2-byte form" },
    { LENGTH, M16 | M32, "ud1", "ud2b", ALWAYS, "UD1 is 0F B9 /r with a ModRM byte (SDM "
      "UD); Capstone 4 decodes a 2-byte UD2B" },
};

static bool name_matches(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

static const struct exception *explain(enum disagreement kind, enum dec_mode mode,
                                       const char *z, const char *c,
                                       const struct bytes_view *v)
{
    for (size_t i = 0; i < sizeof exceptions / sizeof exceptions[0]; i++) {
        const struct exception *e = &exceptions[i];
        if (e->kind == kind && (e->modes & (mode == DEC_MODE_32 ? M32 : M16)) &&
            name_matches(e->zydis, z) && name_matches(e->capstone, c) && holds(e->when, v))
            return e;
    }
    return NULL;
}

/* ---- the walk -------------------------------------------------------------------- */

struct walk {
    struct dec_ctx ctx;
    csh cs[2];
    cs_insn *ci[2];
    unsigned insns, agreed, explained, unexplained;
    unsigned hits[sizeof exceptions / sizeof exceptions[0]];
};

static struct walk w;

static void setup(void)
{
    memset(&w, 0, sizeof w);
    cr_assert_eq(dec_init(&w.ctx, 0), 0);
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_16, &w.cs[DEC_MODE_16]), CS_ERR_OK);
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_32, &w.cs[DEC_MODE_32]), CS_ERR_OK);
    w.ci[DEC_MODE_16] = cs_malloc(w.cs[DEC_MODE_16]);
    w.ci[DEC_MODE_32] = cs_malloc(w.cs[DEC_MODE_32]);
    cr_assert(w.ci[0] && w.ci[1]);
}

static void teardown(void)
{
    for (int m = 0; m < 2; m++) {
        cs_free(w.ci[m], 1);
        cs_close(&w.cs[m]);
    }
}

TestSuite(decoder_capstone, .init = setup, .fini = teardown, .timeout = 60);

static void report(const char *src, size_t off, enum dec_mode mode, const struct bytes_view *v,
                   const char *z, unsigned zlen, const char *c, unsigned clen)
{
    if (++w.unexplained > 50)
        return;
    fprintf(stderr, "%s+%#zx (%d-bit): popek %s/%u, capstone %s/%u:", src, off,
            mode == DEC_MODE_32 ? 32 : 16, z ? z : "#UD", zlen, c ? c : "invalid", clen);
    for (size_t i = 0; i < v->avail && i < DEC_MAX_LEN; i++)
        fprintf(stderr, " %02x", v->b[i]);
    fprintf(stderr, "\n");
}

/* Compares one position; returns how far to advance. */
static size_t compare_at(const char *src, size_t off, enum dec_mode mode, const uint8_t *b,
                         size_t avail)
{
    struct dec_insn d;
    bool zok = dec_decode(&w.ctx, mode, b, avail, &d) == DEC_OK;
    const uint8_t *p = b;
    size_t size = avail;
    uint64_t addr = 0x1000;
    bool cok = cs_disasm_iter(w.cs[mode], &p, &size, &addr, w.ci[mode]);
    const char *z = zok ? dec_mnemonic_name(&d) : NULL;
    const char *c = cok ? capstone_base(w.ci[mode]->mnemonic) : NULL;
    unsigned zlen = zok ? d.len : 0, clen = cok ? w.ci[mode]->size : 0;
    size_t step = zok ? d.len : 1;

    w.insns++;
    if (!zok && !cok)
        return 1;
    if (zok && cok && zlen == clen && same_mnemonic(&d, c)) {
        w.agreed++;
        return step;
    }
    enum disagreement kind = !zok ? ZYDIS_UD : !cok ? CAPSTONE_UD
                           : zlen != clen ? LENGTH : MNEMONIC;
    struct bytes_view v = view_of(b, avail);
    const struct exception *e = explain(kind, mode, z, c, &v);
    if (e) {
        w.hits[e - exceptions]++;
        w.explained++;
    } else {
        report(src, off, mode, &v, z, zlen, c, clen);
    }
    return step;
}

static void walk_bytes(const char *src, enum dec_mode mode, const uint8_t *b, size_t len,
                       unsigned max_insns)
{
    unsigned start = w.insns;
    for (size_t off = 0; off < len && w.insns - start < max_insns;) {
        size_t avail = len - off < DEC_MAX_LEN ? len - off : DEC_MAX_LEN;
        off += compare_at(src, off, mode, b + off, avail);
    }
}

static void summary(const char *what)
{
    cr_log_info("%s: %u positions, %u agree, %u explained, %u unexplained", what, w.insns,
                w.agreed, w.explained, w.unexplained);
    for (size_t i = 0; i < sizeof exceptions / sizeof exceptions[0]; i++) {
        if (w.hits[i])
            cr_log_info("  %6u x %s", w.hits[i], exceptions[i].reason);
    }
}

static bool walk_elf(const char *path, enum dec_mode mode, unsigned max_insns)
{
    uint8_t *text;
    size_t len;
    uint32_t addr;
    char why[512];
    if (elf32_read_text(path, &text, &len, &addr, why, sizeof why) < 0) {
        cr_log_info("%s", why);
        return false;
    }
    walk_bytes(path, mode, text, len, max_insns);
    free(text);
    return true;
}

Test(decoder_capstone, libc_text_32_and_16)
{
    if (!walk_elf(LIBC32, DEC_MODE_32, UINT32_MAX))
        cr_skip_test("no i386 libc (%s, from gcc-multilib)", LIBC32);
    /* The same bytes as 16-bit code: a different but real-looking stream. */
    walk_elf(LIBC32, DEC_MODE_16, RANDOM_INSNS);
    summary("libc");
    cr_assert_gt(w.insns, 100000);
    cr_assert_eq(w.unexplained, 0, "%u unexplained disagreements", w.unexplained);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static unsigned walk_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!has_suffix(de->d_name, ".elf") && !has_suffix(de->d_name, ".o"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        files += walk_elf(path, DEC_MODE_32, UINT32_MAX);
    }
    closedir(dp);
    return files;
}

Test(decoder_capstone, guest_kit_objects)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/lib", POPEK_GUEST_DIR);
    unsigned files = walk_dir(POPEK_GUEST_DIR) + walk_dir(lib);
    if (files == 0)
        cr_skip_test("no guest kit objects under %s (build the guests target)", POPEK_GUEST_DIR);
    summary("guest kit");
    cr_assert_eq(w.unexplained, 0, "%u unexplained disagreements", w.unexplained);
}

/* xorshift64 (Marsaglia 2003): reproducible bytes from a fixed seed. */
static void random_bytes(uint8_t *b, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        b[i] = (uint8_t)(seed >> 24);
    }
}

Test(decoder_capstone, random_streams_32_and_16)
{
    size_t len = 8u << 20; /* ample for RANDOM_INSNS positions */
    uint8_t *b = malloc(len);
    cr_assert(b);
    random_bytes(b, len, RANDOM_SEED);
    walk_bytes("random", DEC_MODE_32, b, len, RANDOM_INSNS);
    cr_assert_eq(w.insns, RANDOM_INSNS);
    random_bytes(b, len, RANDOM_SEED + 1);
    walk_bytes("random", DEC_MODE_16, b, len, RANDOM_INSNS);
    cr_assert_eq(w.insns, 2 * RANDOM_INSNS);
    free(b);
    summary("random");
    cr_assert_eq(w.unexplained, 0, "%u unexplained disagreements", w.unexplained);
}
