/* bt_rewrite_one: the emitter on one instruction, outside any engine. */
#include "translator/bt_internal.h"

#include <string.h>

int bt_rewrite_one(const uint8_t *bytes, size_t len, uint32_t eip, uint8_t *out, size_t cap)
{
    static struct dec_ctx ctx;
    static bool ready;
    if (!ready) {
        if (dec_init(&ctx, 0) < 0)
            return -1;
        ready = true;
    }
    uint8_t buf[BT_MAX_INSN_CODE];
    struct dec_insn d;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    if (dec_decode_zydis(&ctx, DEC_MODE_32, bytes, len, &d, &zi, zops) != DEC_OK)
        return -1;
    /* Exits go to addresses of no interest here: the buffer itself. */
    struct bt_asm a = {.p = buf, .start = buf, .end = buf + sizeof buf, .rx_start = buf,
                       .exit_next = buf, .exit_common = buf, .exit_chain = buf,
                       .ind_miss = buf, .helper = buf};
    uint32_t flat = 0x3Fu << BT_MODE_FLAT_SHIFT;
    struct bt_exits ex = {.n = 0};
    if (bt_emit_insn(&a, &d, &zi, zops, eip, BT_MODE_VALID | flat, &ex) == BT_EMIT_FALLBACK)
        return 0;
    size_t n = (size_t)(a.p - buf);
    if (n > cap)
        return -1;
    memcpy(out, buf, n);
    return (int)n;
}
