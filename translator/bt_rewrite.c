/* bt_rewrite_one and bt_handling_of: the emitter and the block builder's
 * choice on one instruction, outside any engine. */
#include "translator/bt_internal.h"

#include <string.h>

/* The decoder as the bt engine's CPU has it: no optional features
 * (hlp_init.c). */
static const struct dec_ctx *one_ctx(void)
{
    static struct dec_ctx ctx;
    static bool ready;
    if (!ready) {
        if (dec_init(&ctx, 0) < 0)
            return NULL;
        ready = true;
    }
    return &ctx;
}

/* Room for one instruction's code beyond the emitter's contract
 * (BT_MAX_INSN_CODE): a longer sequence comes back as too long for cap
 * (test_bt_sensitive) rather than running over the stack. */
#define SCRATCH (4 * BT_MAX_INSN_CODE)

/* Decodes the 32-bit instruction at bytes into d and emits it into buf
 * (SCRATCH bytes) as in a block of flat CPL-0 code at eip.
 * Returns -1 when it does not decode, else the emitter's result (enum
 * bt_emit_result) with *code_len the code's length. */
static int emit_one(const uint8_t *bytes, size_t len, uint32_t eip, uint8_t *buf,
                    struct dec_insn *d, size_t *code_len)
{
    const struct dec_ctx *ctx = one_ctx();
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ctx || dec_decode_zydis(ctx, DEC_MODE_32, bytes, len, d, &zi, zops) != DEC_OK)
        return -1;
    /* Exits go to addresses of no interest here: the buffer itself. */
    uint32_t mode = BT_MODE_VALID | 0x3Fu << BT_MODE_FLAT_SHIFT;
    struct bt_asm a = {.p = buf, .start = buf, .end = buf + SCRATCH, .rx_start = buf,
                       .exit_next = buf, .exit_common = buf, .exit_chain = buf,
                       .ind_miss = buf, .helper = buf, .block_eip = eip, .mode = mode};
    struct bt_exits ex = {.n = 0};
    enum bt_emit_result r = bt_emit_insn(&a, d, &zi, zops, eip, mode, &ex);
    *code_len = (size_t)(a.p - buf);
    return (int)r;
}

int bt_rewrite_one(const uint8_t *bytes, size_t len, uint32_t eip, uint8_t *out, size_t cap)
{
    uint8_t buf[SCRATCH];
    struct dec_insn d;
    size_t n;
    int r = emit_one(bytes, len, eip, buf, &d, &n);
    if (r < 0)
        return -1;
    if (r == BT_EMIT_FALLBACK)
        return 0;
    if (n > cap)
        return -1;
    memcpy(out, buf, n);
    return (int)n;
}

enum bt_handling bt_handling_of(const uint8_t *bytes, size_t len, struct dec_insn *d)
{
    uint8_t buf[SCRATCH];
    size_t n;
    int r = emit_one(bytes, len, 0x1000, buf, d, &n);
    if (r < 0)
        return BT_HANDLE_UNDECODED;
    if (r != BT_EMIT_FALLBACK)
        return BT_HANDLE_TRANSLATED;
    /* The block builder's choice for what the emitter hands over
     * (bt_block.c, untranslated). */
    return bt_helper_call_fits(d) ? BT_HANDLE_HELPER : BT_HANDLE_ENDS_BLOCK;
}
