/* Fuzz target: the decoder and the formatter on arbitrary bytes, as a
 * guest's code is. Input: byte 0 selects the enum dec_feature bits (bits
 * 0-4) and byte 1 the formatter's buffer size; the rest is code, decoded
 * at each of its first offsets in both modes. Besides not crashing, the
 * record must be self-consistent and a decode must not depend on bytes
 * past the instruction: the same bytes with exactly len available decode
 * the same, and with fewer ask for more (DEC_NEED_MORE), which is what
 * the engines rely on at a page crossing. */
#include "tests/fuzz/fuzz.h"

#include "decoder/decoder.h"

#include <string.h>

#define MAX_OFFSETS 16

static const struct dec_ctx *context(unsigned features)
{
    static struct dec_ctx ctx[32];
    static bool ready[32];
    features &= 31;
    if (!ready[features]) {
        if (dec_init(&ctx[features], features) < 0)
            fuzz_fail("dec_init(0x%x) failed", features);
        ready[features] = true;
    }
    return &ctx[features];
}

static void check_record(const struct dec_insn *d, const uint8_t *code, size_t avail,
                         enum dec_mode mode)
{
    if (d->len == 0 || d->len > DEC_MAX_LEN || d->len > avail)
        fuzz_fail("length %u with %zu bytes available", d->len, avail);
    if (memcmp(d->bytes, code, d->len))
        fuzz_fail("record bytes differ from the code");
    if (d->n_ops > DEC_MAX_OPS || d->cls == DEC_CLASS_NONE || d->cls >= DEC_CLASS_COUNT_ ||
        d->cf >= DEC_CF_COUNT_)
        fuzz_fail("record: %u operands, class %u, cf %u", d->n_ops, d->cls, d->cf);
    if (!!(d->flags & DEC_F_CODE32) != (mode == DEC_MODE_32))
        fuzz_fail("DEC_F_CODE32 does not match the mode");
    if ((d->opsize != 8 && d->opsize != 16 && d->opsize != 32 && d->opsize != 64 &&
         d->opsize != 0) ||
        (d->addrsize != 16 && d->addrsize != 32))
        fuzz_fail("operand size %u, address size %u", d->opsize, d->addrsize);
    for (unsigned i = 0; i < d->n_ops; i++) {
        const struct dec_op *op = &d->ops[i];
        if (op->kind == DEC_OP_NONE || op->kind > DEC_OP_PTR)
            fuzz_fail("operand %u has kind %u", i, op->kind);
        if (op->kind == DEC_OP_MEM && op->mem.seg > DEC_SEG_GS)
            fuzz_fail("memory operand %u has segment %u", i, op->mem.seg);
        if (op->kind == DEC_OP_REG && op->reg.cls > DEC_RC_OTHER)
            fuzz_fail("register operand %u has class %u", i, op->reg.cls);
    }
    if (!dec_mnemonic_name(d) || !dec_class_name(d->cls) || !dec_cf_name(d->cf))
        fuzz_fail("a name is missing");
}

static void decode_at(const struct dec_ctx *ctx, enum dec_mode mode, const uint8_t *code,
                      size_t avail, size_t fmt_len)
{
    struct dec_insn d, e;
    enum dec_status st = dec_decode(ctx, mode, code, avail, &d);
    if (st > DEC_TOO_LONG)
        fuzz_fail("status %d", st);
    if (st == DEC_NEED_MORE && avail >= DEC_MAX_LEN)
        fuzz_fail("DEC_NEED_MORE with %zu bytes available", avail);
    if (st != DEC_OK)
        return;
    check_record(&d, code, avail, mode);
    if (dec_decode(ctx, mode, code, d.len, &e) != DEC_OK || e.len != d.len ||
        e.mnemonic != d.mnemonic)
        fuzz_fail("decoding the same %u bytes alone gives a different result", d.len);
    if (dec_decode(ctx, mode, code, d.len - 1u, &e) != DEC_NEED_MORE)
        fuzz_fail("%u of a %u-byte instruction do not ask for more", d.len - 1u, d.len);
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    if (dec_decode_zydis(ctx, mode, code, avail, &e, &zi, zops) != DEC_OK || e.len != d.len ||
        zi.length != d.len)
        fuzz_fail("dec_decode_zydis disagrees with dec_decode");
    char big[256], small[64];
    if (dec_format(ctx, &d, 0xFFFFFFF0u, big, sizeof(big)) < 0 || !memchr(big, 0, sizeof(big)))
        fuzz_fail("cannot format a decoded instruction");
    /* A short buffer may fail but must come back terminated. */
    if (dec_format(ctx, &d, (uint32_t)avail, small, fmt_len) == 0 && !memchr(small, 0, fmt_len))
        fuzz_fail("formatted text not terminated in %zu bytes", fmt_len);
    if (fmt_len && !memchr(small, 0, fmt_len))
        fuzz_fail("a failed format left the buffer unterminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const struct dec_ctx *ctx = context(data[0]);
    size_t fmt_len = data[1] % 64;
    const uint8_t *code = data + 2;
    size_t len = size - 2;
    for (size_t off = 0; off < len && off < MAX_OFFSETS; off++) {
        decode_at(ctx, DEC_MODE_16, code + off, len - off, fmt_len);
        decode_at(ctx, DEC_MODE_32, code + off, len - off, fmt_len);
    }
    return 0;
}
