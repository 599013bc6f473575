/* translator/ observability: the text of --trace in_asm / out_asm for a
 * hand-made block, and the perf map's lines and file. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <capstone/capstone.h>

#include "translator/bt_internal.h"

#define BT_OBS_TEST_LINE 160
struct lines {
    char text[32][BT_OBS_TEST_LINE];
    unsigned n;
};

static void collect(void *opaque, const char *line)
{
    struct lines *l = opaque;
    cr_assert_lt(l->n, 32u);
    snprintf(l->text[l->n++], BT_OBS_TEST_LINE, "%s", line);
}

static struct tc_block *make_block(unsigned n_insns)
{
    struct tc_block *b = calloc(1, sizeof *b + n_insns * sizeof(struct tc_insn_map));
    cr_assert(b);
    b->n_insns = (uint16_t)n_insns;
    return b;
}

Test(bt_obs, perfmap_line_is_hex_start_size_and_guest_eip)
{
    char buf[96];
    int n = bt_perfmap_format(buf, sizeof buf, (const void *)(uintptr_t)0x7f0000001040ull, 0x2a,
                              0x00100180);
    cr_assert_str_eq(buf, "7f0000001040 2a popek-guest-0x00100180\n");
    cr_assert_eq(n, (int)strlen(buf));
}

Test(bt_obs, perfmap_file_gets_trampolines_then_blocks_at_close)
{
    char path[] = "/tmp/popek-test-perfmap-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    struct bt_obs o = {0};
    struct mach_err err;
    cr_assert_eq(bt_perfmap_open(&o, path, (const void *)(uintptr_t)0x5000, 0x80, &err), 0);
    static uint8_t code[48];
    struct tc_block *b = make_block(0);
    b->code = code;
    b->code_len = sizeof code;
    b->key.eip = 0xC0100000u;
    bt_perfmap_block(&o, b);
    /* Nothing reaches the file before the close (one buffer). */
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char line[128];
    cr_assert_null(fgets(line, sizeof line, f));
    fclose(f);
    bt_perfmap_close(&o);
    cr_assert_null(o.perf);
    f = fopen(path, "r");
    cr_assert(f);
    cr_assert(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "5000 80 popek-bt-trampolines\n");
    cr_assert(fgets(line, sizeof line, f));
    char want[96];
    bt_perfmap_format(want, sizeof want, code, sizeof code, 0xC0100000u);
    cr_assert_str_eq(line, want);
    cr_assert_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    free(b);
}

Test(bt_obs, in_asm_lists_each_guest_insn_and_marks_the_handoff)
{
    struct dec_ctx dec;
    cr_assert_eq(dec_init(&dec, 0), 0);
    /* mov eax, [ebx+ecx*4+8]; inc eax; cli (handed to the interpreter) */
    static const uint8_t guest[] = {0x8B, 0x44, 0x8B, 0x08, 0x40, 0xFA};
    struct tc_block *b = make_block(2);
    b->key = (struct tc_key){.phys = 0x123000, .eip = 0x00401000, .mode = 0x3e8};
    b->guest_len = sizeof guest;
    b->flags = BT_BLOCK_HASHCHECK | BT_BLOCK_PROLOGUE | BT_BLOCK_HANDOFF;
    b->map[1].guest_off = 4; /* the side table: mov at 0, inc at 4 */
    struct lines l = {.n = 0};
    bt_trace_format_in(&dec, b, guest, collect, &l);
    cr_assert_eq(l.n, 4u);
    cr_assert_str_eq(l.text[0], "IN: eip 0x00401000 phys 0x000123000 mode 0x3e8: 6 bytes, "
                                "2 translated, hash-checked");
    cr_assert(strstr(l.text[1], "0x00401000:  mov eax, "), "%s", l.text[1]);
    cr_assert_null(strstr(l.text[1], "interpreter"));
    cr_assert_str_eq(l.text[2], "  0x00401004:  inc eax");
    cr_assert_str_eq(l.text[3], "  0x00401005:  cli  ; interpreter");
    /* Without the hand-over, an instruction outside the table is a helper call. */
    b->flags &= ~(uint32_t)BT_BLOCK_HANDOFF;
    l.n = 0;
    bt_trace_format_in(&dec, b, guest, collect, &l);
    cr_assert_str_eq(l.text[3], "  0x00401005:  cli  ; helper call");
    free(b);
}

Test(bt_obs, out_asm_marks_prologue_guest_boundaries_and_exits)
{
    csh cs;
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
    /* A prologue-sized filler, then guest insn 0 (mov eax, gs:[ebx]),
     * guest insn 1 (inc eax), then an exit stub: jmp +0; ret. */
    uint8_t code[BT_OBS_PROLOGUE_LEN + 16];
    memset(code, 0x90, BT_OBS_PROLOGUE_LEN);
    static const uint8_t body[] = {0x65, 0x67, 0x8B, 0x03, 0xFF, 0xC0,
                                   0xE9, 0x00, 0x00, 0x00, 0x00, 0xC3};
    memcpy(code + BT_OBS_PROLOGUE_LEN, body, sizeof body);
    struct tc_block *b = make_block(2);
    b->key.eip = 0x2000;
    b->code = code;
    b->code_len = BT_OBS_PROLOGUE_LEN + sizeof body;
    b->flags = BT_BLOCK_PROLOGUE;
    b->map[0] = (struct tc_insn_map){.host_off = BT_OBS_PROLOGUE_LEN, .guest_off = 0};
    b->map[1] = (struct tc_insn_map){.host_off = BT_OBS_PROLOGUE_LEN + 4, .guest_off = 2};
    b->n_exits = 1;
    b->exits[0] = (struct tc_exit){.patch_off = BT_OBS_PROLOGUE_LEN + 7,
                                   .stub_off = BT_OBS_PROLOGUE_LEN + 11, .target_eip = 0x2003};
    struct lines l = {.n = 0};
    bt_trace_format_out(cs, b, collect, &l);
    cs_close(&cs);
    unsigned nops = BT_OBS_PROLOGUE_LEN;
    cr_assert_eq(l.n, 2 + nops + 2 + 2 + 2 + 1, "%u lines", l.n);
    cr_assert(strncmp(l.text[0], "OUT: eip 0x00002000: 31 bytes at ", 33) == 0, "%s", l.text[0]);
    cr_assert_str_eq(l.text[1], "  -- prologue: enter through the dispatcher");
    cr_assert(strstr(l.text[2], ":  nop"), "%s", l.text[2]);
    unsigned i = 2 + nops;
    cr_assert_str_eq(l.text[i], "  -- guest 0x00002000");
    cr_assert(strstr(l.text[i + 1], ":  mov eax, dword ptr gs:[ebx]"), "%s", l.text[i + 1]);
    cr_assert_str_eq(l.text[i + 2], "  -- guest 0x00002002");
    cr_assert(strstr(l.text[i + 3], ":  inc eax"), "%s", l.text[i + 3]);
    cr_assert_str_eq(l.text[i + 4], "  -- exit 0 to 0x00002003");
    cr_assert(strstr(l.text[i + 5], ":  jmp "), "%s", l.text[i + 5]);
    cr_assert(strstr(l.text[i + 6], ":  ret"), "%s", l.text[i + 6]);
    free(b);
}
