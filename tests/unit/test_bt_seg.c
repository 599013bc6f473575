/* translator/bt_emit_seg.c: which data segments count as based, and the
 * linear address the emitted LEA/MOV sequence forms, run on the host
 * for every addressing form against base + effective address mod 2^32. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "translator/bt_asm.h"

/* Loads the guest registers from regs[] (rsi) with r15 = rt (rdi), runs
 * the sequence, returns r9d; keeps the callee-saved registers. */
static const uint8_t head[] = {
    0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push rbx..r15 */
    0x49, 0x89, 0xFF, 0x49, 0x89, 0xF3,                         /* mov r15, rdi; mov r11, rsi */
    0x41, 0x8B, 0x03, 0x41, 0x8B, 0x4B, 0x04, 0x41, 0x8B, 0x53, 0x08, /* eax, ecx, edx */
    0x41, 0x8B, 0x5B, 0x0C, 0x45, 0x8B, 0x43, 0x10,             /* ebx, r8d (ESP) */
    0x41, 0x8B, 0x6B, 0x14, 0x41, 0x8B, 0x73, 0x18, 0x41, 0x8B, 0x7B, 0x1C, /* ebp, esi, edi */
};
static const uint8_t tail[] = {
    0x44, 0x89, 0xC8,                                           /* mov eax, r9d */
    0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, /* pop r15..rbx */
    0xC3,
};

typedef uint32_t (*lin_fn)(struct bt_rt *rt, const uint32_t *regs);

static uint32_t run_lin(struct bt_rt *rt, const uint32_t *regs, const struct dec_mem *m)
{
    uint8_t *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(buf, MAP_FAILED);
    struct bt_asm a = {.p = buf, .start = buf, .end = buf + 4096, .rx_start = buf};
    bt_bytes(&a, head, sizeof head);
    bt_seg_lin_r9(&a, m);
    bt_bytes(&a, tail, sizeof tail);
    lin_fn fn;
    void *p = buf;
    memcpy(&fn, &p, sizeof fn);
    uint32_t r = fn(rt, regs);
    munmap(buf, 4096);
    return r;
}

Test(bt_seg, linear_address_every_form)
{
    struct bt_rt *rt = calloc(1, sizeof *rt);
    cr_assert_not_null(rt);
    static const uint32_t regs[8] = {0x11111111, 0x00000100, 0x80000000, 0xFFFFFFF0,
                                     0x0000FFF0, 0x12345678, 0xFFFFFFFF, 0x00000007};
    static const uint32_t bases[] = {0x00001000, 0xC0000000, 0xFFFFF000};
    static const int32_t disps[] = {0, 8, -128, 127, 0x1000, -0x1000, 0x7FFFFFFF};
    static const uint8_t scales[] = {1, 2, 4, 8};
    unsigned cases = 0;
    for (unsigned s = 0; s < 6; s++) {
        if (s == HLP_CS)
            continue;
        for (unsigned bi = 0; bi < 3; bi++) {
            rt->seg_base[s] = bases[bi] + s;
            for (unsigned base = 0; base <= 8; base++) {
                for (unsigned index = 0; index <= 8; index++) {
                    if (index == HLP_ESP) /* no ESP index in 32-bit addressing */
                        continue;
                    for (unsigned di = 0; di < 7; di++) {
                        for (unsigned sc = 0; sc < 4; sc++) {
                            struct dec_mem m = {
                                .disp = disps[di], .seg = (uint8_t)s,
                                .base = base == 8 ? DEC_NOREG : (uint8_t)base,
                                .index = index == 8 ? DEC_NOREG : (uint8_t)index,
                                .scale = index == 8 ? 0 : scales[sc]};
                            if (index == 8 && sc)
                                continue;
                            uint32_t ea = (uint32_t)m.disp;
                            if (base != 8)
                                ea += regs[base];
                            if (index != 8)
                                ea += regs[index] * m.scale;
                            uint32_t want = rt->seg_base[s] + ea;
                            cr_assert_eq(run_lin(rt, regs, &m), want,
                                         "seg %u base %u index %u*%u disp %d", s, base, index,
                                         m.scale, m.disp);
                            cases++;
                        }
                    }
                }
            }
        }
    }
    cr_assert_gt(cases, 5000);
    free(rt);
}

static struct hlp_seg data_seg(uint32_t base, uint32_t limit, unsigned type)
{
    return (struct hlp_seg){.sel = 0x10, .base = base, .limit = limit,
                            .attr = type | HLP_SEG_S | HLP_SEG_P | HLP_SEG_DB | HLP_SEG_G};
}

Test(bt_seg, based_bits)
{
    struct hlp_cpu *cpu = calloc(1, sizeof *cpu);
    cr_assert_not_null(cpu);
    cpu->seg[HLP_ES] = data_seg(0x1000, 0xFFFFFFFF, 0x3);  /* RW accessed: based */
    cpu->seg[HLP_CS] = data_seg(0x1000, 0xFFFFFFFF, 0x3);  /* CS never */
    cpu->seg[HLP_SS] = data_seg(0, 0xFFFFFFFF, 0x3);       /* flat: not based */
    cpu->seg[HLP_DS] = data_seg(0x1000, 0xFFFFF, 0x3);     /* small limit */
    cpu->seg[HLP_FS] = data_seg(0x1000, 0xFFFFFFFF, 0x1);  /* read-only */
    cpu->seg[HLP_GS] = data_seg(0x1000, 0xFFFFFFFF, 0x7);  /* expand-down */
    cr_assert_eq(bt_seg_based_bits(cpu), 1u << (BT_MODE_BASED_SHIFT + HLP_ES));
    cpu->seg[HLP_GS] = data_seg(0xFFFFF000, 0xFFFFFFFF, 0x2);
    cpu->seg[HLP_ES].attr |= HLP_SEG_UNUSABLE;
    cr_assert_eq(bt_seg_based_bits(cpu), 1u << (BT_MODE_BASED_SHIFT + HLP_GS));
    cpu->seg[HLP_GS].attr &= ~(uint32_t)HLP_SEG_P;
    cr_assert_eq(bt_seg_based_bits(cpu), 0);
    cr_assert(bt_seg_based(1u << (BT_MODE_BASED_SHIFT + HLP_FS), HLP_FS));
    cr_assert(!bt_seg_based(1u << (BT_MODE_BASED_SHIFT + HLP_FS), HLP_GS));
    cr_assert(!bt_seg_based(~0u, DEC_SEG_NONE));

    struct bt_rt *rt = calloc(1, sizeof *rt);
    cr_assert_not_null(rt);
    bt_seg_sync(rt, cpu);
    for (unsigned s = 0; s < 6; s++)
        cr_assert_eq(rt->seg_base[s], cpu->seg[s].base);
    free(rt);
    free(cpu);
}
