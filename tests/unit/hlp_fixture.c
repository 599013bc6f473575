/* The system-semantics test machine (hlp_fixture.h). */
#include "hlp_fixture.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct machine *fx_m;
struct hlp_cpu fx_cpu;
uint8_t *fx_ram;
static jmp_buf fx_jb;

void fx_wr8(uint32_t pa, uint8_t v) { fx_ram[pa] = v; }
void fx_wr16(uint32_t pa, uint16_t v) { memcpy(fx_ram + pa, &v, 2); }
void fx_wr32(uint32_t pa, uint32_t v) { memcpy(fx_ram + pa, &v, 4); }
uint32_t fx_rd32(uint32_t pa)
{
    uint32_t v;
    memcpy(&v, fx_ram + pa, 4);
    return v;
}
uint16_t fx_rd16(uint32_t pa)
{
    uint16_t v;
    memcpy(&v, fx_ram + pa, 2);
    return v;
}

/* SDM Vol. 3A Figure 3-8. */
uint64_t fx_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = limit & 0xFFFFu;
    d |= (uint64_t)(base & 0xFFFFFFu) << 16;
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xFu) << 48;
    d |= (uint64_t)(flags & 0xFu) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

/* SDM Vol. 3A Figure 5-8 (call gate) and 6-2 (IDT gates). */
uint64_t fx_gate(uint32_t offset, uint16_t sel, unsigned type, unsigned dpl, unsigned params)
{
    uint64_t g = offset & 0xFFFFu;
    g |= (uint64_t)sel << 16;
    g |= (uint64_t)(params & 0x1F) << 32;
    g |= (uint64_t)((type & 0xFu) | ((dpl & 3u) << 5) | 0x80u) << 40;
    g |= (uint64_t)(offset >> 16) << 48;
    return g;
}

void fx_gdt_set(unsigned index, uint64_t d) { memcpy(fx_ram + FX_GDT + index * 8, &d, 8); }
uint64_t fx_gdt_get(unsigned index)
{
    uint64_t d;
    memcpy(&d, fx_ram + FX_GDT + index * 8, 8);
    return d;
}
void fx_idt_set(unsigned vector, uint64_t gate) { memcpy(fx_ram + FX_IDT + vector * 8, &gate, 8); }

static void load_seg(unsigned sreg, uint16_t sel)
{
    uint64_t d;
    memcpy(&d, fx_ram + FX_GDT + (sel & ~7u), 8);
    hlp_seg_from_descriptor(&fx_cpu.seg[sreg], sel, d);
}

void fx_enter_ring3(uint32_t esp)
{
    uint64_t d;
    memcpy(&d, fx_ram + FX_GDT + (FX_UCODE & ~7u), 8);
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, FX_UCODE, d);
    hlp_set_cs(&fx_cpu, &cs, 3);
    for (unsigned s = HLP_ES; s <= HLP_GS; s++)
        if (s != HLP_CS)
            load_seg(s, FX_UDATA);
    fx_cpu.gpr[HLP_ESP] = esp;
}

void fx_setup(void)
{
    struct mach_err err;
    struct mach_config cfg = {.ram_bytes = 4u << 20};
    fx_m = mach_create(&cfg, &err);
    cr_assert_not_null(fx_m, "%s", err.msg);
    char path[] = "/tmp/popek_hlp_fixture_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const uint8_t nops[16] = {0x90, 0x90, 0x90, 0x90};
    cr_assert_eq(write(fd, nops, sizeof nops), (ssize_t)sizeof nops);
    close(fd);
    int rc = mach_load_raw(fx_m, path, FX_CODE, FX_CODE, MACH_BOOT_FLAT32, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    fx_ram = mach_ram(fx_m);
    cr_assert_eq(hlp_cpu_init(&fx_cpu, fx_m, HLP_CPU_ALL_OPTIONS, &err), 0, "%s", err.msg);
    fx_cpu.fault_jmp = &fx_jb;

    uint8_t code = A_P | A_S | A_CODE | A_RW, data = A_P | A_S | A_RW;
    fx_gdt_set(FX_KCODE >> 3, fx_desc(0, 0xFFFFF, code, F_G | F_DB));
    fx_gdt_set(FX_KDATA >> 3, fx_desc(0, 0xFFFFF, data, F_G | F_DB));
    fx_gdt_set(FX_UCODE >> 3, fx_desc(0, 0xFFFFF, code | A_DPL(3), F_G | F_DB));
    fx_gdt_set(FX_UDATA >> 3, fx_desc(0, 0xFFFFF, data | A_DPL(3), F_G | F_DB));
    /* TSS with an I/O bitmap of 32 bytes (ports 0-255) and its end byte. */
    fx_gdt_set(FX_TSS_SEL >> 3, fx_desc(FX_TSS, 0x68 + 32, A_P | 0x9, 0));
    fx_gdt_set(FX_TSS2_SEL >> 3, fx_desc(FX_TSS2, 0x67, A_P | 0x9, 0));
    fx_gdt_set(FX_LDT_SEL >> 3, fx_desc(FX_LDT, 0x1F, A_P | 0x2, 0));
    fx_wr32(FX_TSS + 4, FX_KSTACK);
    fx_wr32(FX_TSS + 8, FX_KDATA);
    fx_wr16(FX_TSS + 0x66, 0x68);
    fx_ram[FX_TSS + 0x68 + 32] = 0xFF;
    fx_cpu.gdtr = (struct hlp_dtr){.base = FX_GDT, .limit = FX_GDT_ENTRIES * 8 - 1};
    fx_cpu.idtr = (struct hlp_dtr){.base = FX_IDT, .limit = 256 * 8 - 1};
    for (unsigned v = 0; v < 256; v++)
        fx_idt_set(v, fx_gate(FX_HANDLER + v * 16, FX_KCODE, 0xE, 0, 0));
    fx_cpu.gpr[HLP_EAX] = FX_TSS_SEL;
    fx_cpu.eip = FX_CODE;
    cr_assert_eq(FX_EXEC(0x0F, 0x00, 0xD8), FX_OK);              /* ltr ax */
    fx_cpu.gpr[HLP_EAX] = FX_LDT_SEL;
    cr_assert_eq(FX_EXEC(0x0F, 0x00, 0xD0), FX_OK);              /* lldt ax */
    fx_cpu.gpr[HLP_ESP] = FX_KSTACK - 0x100;
    fx_cpu.eip = FX_CODE;
}

void fx_teardown(void)
{
    hlp_cpu_destroy(&fx_cpu);
    mach_destroy(fx_m);
}

int fx_exec(const uint8_t *bytes, size_t len)
{
    struct dec_insn d;
    enum dec_mode mode = hlp_code32(&fx_cpu) ? DEC_MODE_32 : DEC_MODE_16;
    cr_assert_eq(dec_decode(&fx_cpu.dec, mode, bytes, len, &d), DEC_OK, "decode");
    int why = setjmp(fx_jb);
    if (why == HLP_UNWIND_FAULT)
        return fx_cpu.pending_vector;
    if (why == HLP_UNWIND_STOP)
        return FX_STOPPED;
    cr_assert(hlp_exec_system(&fx_cpu, &d), "not a system instruction");
    return FX_OK;
}

int fx_deliver(unsigned vector, int32_t error, enum hlp_event_kind kind)
{
    int why = setjmp(fx_jb);
    if (why == HLP_UNWIND_FAULT)
        cr_assert_fail("a fault escaped hlp_deliver: vector %u", fx_cpu.pending_vector);
    if (why == HLP_UNWIND_STOP)
        return FX_STOPPED;
    hlp_deliver(&fx_cpu, vector, error, kind);
    return FX_OK;
}
