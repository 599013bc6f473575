/* LAR, LSL, VERR and VERW: descriptor checks without a fault, reported in
 * ZF, with the destination unchanged on failure (SDM Vol. 2A LAR, Vol. 2B
 * LSL, VERR/VERW; the tables of valid descriptor types are on those pages:
 * gates pass LAR but not LSL, interrupt and trap gates pass neither). The
 * privilege rule is DPL >= max(CPL, RPL), except for conforming code. Bits
 * 19:16 of LAR's result are undefined (mask 00FxFF00H), so they are masked
 * here. These need CPL 3, hence pm-iret. */
#include "guest.h"

NEEDS("pm-iret");

#define UNCHANGED 0xDEADBEEFu
#define LAR_MASK 0x00F0FF00u

enum {
    G_BYTE_LIMIT = GDT_FIRST_FREE, /* data, DPL 0, limit 0x1234 bytes */
    G_PAGE_LIMIT,                  /* data, DPL 0, G = 1, limit 5 pages */
    G_EXEC_ONLY,                   /* code, DPL 0, not readable */
    G_CONFORMING,                  /* code, DPL 0, conforming, readable */
    G_CALL_GATE,                   /* 32-bit call gate, DPL 3 */
    G_INT_GATE,                    /* 32-bit interrupt gate: not for LAR */
    G_NOT_PRESENT,                 /* data, DPL 0, P = 0 */
    G_USER_READ_ONLY,              /* data, DPL 3, not writable */
};
#define SEL(i) ((uint32_t)(i) << 3)
#define LDT_SEL(i) (((uint32_t)(i) << 3) | 4)

struct zf_value {
    uint32_t zf, value;
};

static struct zf_value lar(uint32_t sel)
{
    struct zf_value r = {0, UNCHANGED};
    uint8_t z;
    __asm__ volatile("lar %w2, %0; setz %1" : "+r"(r.value), "=q"(z) : "r"(sel) : "cc");
    r.zf = z;
    if (r.zf)
        r.value &= LAR_MASK;
    return r;
}

static struct zf_value lsl(uint32_t sel)
{
    struct zf_value r = {0, UNCHANGED};
    uint8_t z;
    __asm__ volatile("lsl %w2, %0; setz %1" : "+r"(r.value), "=q"(z) : "r"(sel) : "cc");
    r.zf = z;
    return r;
}

static uint32_t verr(uint32_t sel)
{
    uint8_t z;
    __asm__ volatile("verr %w1; setz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

static uint32_t verw(uint32_t sel)
{
    uint8_t z;
    __asm__ volatile("verw %w1; setz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

static void check_zv(const char *name, uint32_t zf, uint32_t value, struct zf_value r)
{
    check_eqf(zf, r.zf, "%s.zf", name);
    check_eqf(value, r.value, "%s.value", name);
}

static void setup(void)
{
    const uint8_t data = DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED;
    const uint8_t code = DESC_P | DESC_S | DESC_CODE | DESC_ACCESSED;
    gdt_set(G_BYTE_LIMIT, desc_make(0x1000, 0x1234, data, DESC_DB));
    gdt_set(G_PAGE_LIMIT, desc_make(0, 5, data, DESC_G | DESC_DB));
    gdt_set(G_EXEC_ONLY, desc_make(0, 0xFFFFF, code, DESC_G | DESC_DB));
    gdt_set(G_CONFORMING,
            desc_make(0, 0xFFFFF, code | DESC_CONFORMING | DESC_READABLE, DESC_G | DESC_DB));
    /* Gates: selector in bits 16-31, offset split, type in the access byte
     * (SDM Vol. 3A 5.8.3, Figure 5-8). */
    gdt_set(G_CALL_GATE, ((uint64_t)(DESC_P | DESC_DPL(3) | 0xC) << 40) | (SEL_KCODE << 16));
    gdt_set(G_INT_GATE, ((uint64_t)(DESC_P | 0xE) << 40) | (SEL_KCODE << 16));
    gdt_set(G_NOT_PRESENT, desc_make(0, 0xFFFFF, data & ~DESC_P, DESC_G | DESC_DB));
    gdt_set(G_USER_READ_ONLY,
            desc_make(0, 0xFFFFF, (data & ~DESC_WRITABLE) | DESC_DPL(3), DESC_G | DESC_DB));
    ldt_set(2, desc_make(0, 0xABC, data, DESC_DB));
}

static void lar_cpl0(void)
{
    check_zv("lar.kernel_code", 1, 0x00C09B00, lar(SEL_KCODE));
    check_zv("lar.kernel_data", 1, 0x00C09300, lar(SEL_KDATA));
    check_zv("lar.user_code", 1, 0x00C0FB00, lar(SEL_UCODE));
    check_zv("lar.user_data", 1, 0x00C0F300, lar(SEL_UDATA));
    check_zv("lar.busy_tss", 1, 0x00008B00, lar(SEL_TSS));
    check_zv("lar.ldt", 1, 0x00008200, lar(SEL_LDT));
    check_zv("lar.byte_granular", 1, 0x00409300, lar(SEL(G_BYTE_LIMIT)));
    check_zv("lar.call_gate", 1, 0x0000EC00, lar(SEL(G_CALL_GATE)));
    check_zv("lar.not_present", 1, 0x00C01300, lar(SEL(G_NOT_PRESENT)));
    check_zv("lar.ldt_entry", 1, 0x00409300, lar(LDT_SEL(2)));
    check_zv("lar.conforming_rpl3", 1, 0x00C09F00, lar(SEL(G_CONFORMING) | 3));
    check_zv("lar.null", 0, UNCHANGED, lar(0));
    check_zv("lar.beyond_gdt_limit", 0, UNCHANGED, lar(SEL(GDT_ENTRIES)));
    check_zv("lar.beyond_ldt_limit", 0, UNCHANGED, lar(LDT_SEL(LDT_ENTRIES)));
    check_zv("lar.interrupt_gate", 0, UNCHANGED, lar(SEL(G_INT_GATE)));
    check_zv("lar.dpl0_rpl3", 0, UNCHANGED, lar(SEL_KDATA | 3));
}

static void lsl_cpl0(void)
{
    check_zv("lsl.flat", 1, 0xFFFFFFFF, lsl(SEL_KDATA));
    check_zv("lsl.byte_granular", 1, 0x1234, lsl(SEL(G_BYTE_LIMIT)));
    check_zv("lsl.page_granular", 1, 0x5FFF, lsl(SEL(G_PAGE_LIMIT)));
    check_zv("lsl.tss", 1, sizeof(struct tss32) - 1, lsl(SEL_TSS));
    check_zv("lsl.ldt", 1, sizeof(rt_ldt) - 1, lsl(SEL_LDT));
    check_zv("lsl.ldt_entry", 1, 0xABC, lsl(LDT_SEL(2)));
    check_zv("lsl.call_gate", 0, UNCHANGED, lsl(SEL(G_CALL_GATE)));
    check_zv("lsl.null", 0, UNCHANGED, lsl(0));
    check_zv("lsl.dpl0_rpl3", 0, UNCHANGED, lsl(SEL(G_BYTE_LIMIT) | 3));
}

static void verr_verw_cpl0(void)
{
    check_eq("verr.kernel_code_readable", 1, verr(SEL_KCODE));
    check_eq("verr.execute_only", 0, verr(SEL(G_EXEC_ONLY)));
    check_eq("verr.kernel_data", 1, verr(SEL_KDATA));
    check_eq("verr.tss", 0, verr(SEL_TSS));
    check_eq("verr.null", 0, verr(0));
    check_eq("verr.user_data", 1, verr(SEL_UDATA));
    check_eq("verr.conforming_rpl3", 1, verr(SEL(G_CONFORMING) | 3));
    check_eq("verw.kernel_data", 1, verw(SEL_KDATA));
    check_eq("verw.kernel_code", 0, verw(SEL_KCODE));
    check_eq("verw.read_only", 0, verw(SEL(G_USER_READ_ONLY)));
    check_eq("verw.user_data", 1, verw(SEL_UDATA));
    check_eq("verw.dpl0_rpl3", 0, verw(SEL_KDATA | 3));
}

/* At CPL 3 the same instructions apply CPL in the privilege rule. */
static struct {
    struct zf_value lar_kcode, lar_ucode, lar_conforming, lar_call_gate, lar_tss;
    struct zf_value lsl_udata, lsl_kdata;
    uint32_t verr_kdata, verr_udata, verr_conforming, verw_udata, verw_read_only;
} volatile cpl3;

static uint32_t cpl3_checks(uint32_t arg)
{
    (void)arg;
    cpl3.lar_kcode = lar(SEL_KCODE);
    cpl3.lar_ucode = lar(SEL_UCODE);
    cpl3.lar_conforming = lar(SEL(G_CONFORMING) | 3);
    cpl3.lar_call_gate = lar(SEL(G_CALL_GATE) | 3);
    cpl3.lar_tss = lar(SEL_TSS);
    cpl3.lsl_udata = lsl(SEL_UDATA);
    cpl3.lsl_kdata = lsl(SEL_KDATA);
    cpl3.verr_kdata = verr(SEL_KDATA);
    cpl3.verr_udata = verr(SEL_UDATA);
    cpl3.verr_conforming = verr(SEL(G_CONFORMING));
    cpl3.verw_udata = verw(SEL_UDATA);
    cpl3.verw_read_only = verw(SEL(G_USER_READ_ONLY) | 3);
    return 0;
}

static void at_cpl3(void)
{
    check_eq("cpl3.ran", VEC_SYSCALL, user_run(cpl3_checks, 0, 0));
    check_zv("cpl3.lar.kernel_code", 0, UNCHANGED, cpl3.lar_kcode);
    check_zv("cpl3.lar.user_code", 1, 0x00C0FB00, cpl3.lar_ucode);
    check_zv("cpl3.lar.conforming_dpl0", 1, 0x00C09F00, cpl3.lar_conforming);
    check_zv("cpl3.lar.call_gate_dpl3", 1, 0x0000EC00, cpl3.lar_call_gate);
    check_zv("cpl3.lar.tss", 0, UNCHANGED, cpl3.lar_tss);
    check_zv("cpl3.lsl.user_data", 1, 0xFFFFFFFF, cpl3.lsl_udata);
    check_zv("cpl3.lsl.kernel_data", 0, UNCHANGED, cpl3.lsl_kdata);
    check_eq("cpl3.verr.kernel_data", 0, cpl3.verr_kdata);
    check_eq("cpl3.verr.user_data", 1, cpl3.verr_udata);
    check_eq("cpl3.verr.conforming_dpl0", 1, cpl3.verr_conforming);
    check_eq("cpl3.verw.user_data", 1, cpl3.verw_udata);
    check_eq("cpl3.verw.read_only", 0, cpl3.verw_read_only);
}

void test_main(void)
{
    setup();
    lar_cpl0();
    lsl_cpl0();
    verr_verw_cpl0();
    at_cpl3();
}
