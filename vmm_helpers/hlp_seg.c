/* Segment registers and descriptor tables: descriptor reads, the checks of
 * a segment load (SDM Vol. 3A 3.4, 5.4-5.6, and the MOV, POP, LDS pages of
 * Vol. 2) and the caches real and virtual-8086 mode give. */
#include "vmm_helpers/hlp_sys_internal.h"

uint32_t hlp_descriptor_addr(struct hlp_cpu *cpu, uint16_t sel, unsigned err_vec, unsigned ext)
{
    uint32_t base, limit;
    if (sel & SEL_TI) {
        /* A null or unusable LDTR makes every LDT selector invalid (3.5.1). */
        if (cpu->ldtr.attr & HLP_SEG_UNUSABLE)
            hlp_raise(cpu, err_vec, sel_err(sel, ext));
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    uint32_t off = sel & ~7u;
    if (off + 7 > limit)
        hlp_raise(cpu, err_vec, sel_err(sel, ext));
    return base + off;
}

uint64_t hlp_fetch_descriptor(struct hlp_cpu *cpu, uint16_t sel, unsigned err_vec, unsigned ext)
{
    return hlp_read_sys64(cpu, hlp_descriptor_addr(cpu, sel, err_vec, ext));
}

uint64_t hlp_read_descriptor(struct hlp_cpu *cpu, uint16_t sel, unsigned vec)
{
    return hlp_fetch_descriptor(cpu, sel, vec, 0);
}

void hlp_seg_from_descriptor(struct hlp_seg *s, uint16_t sel, uint64_t desc)
{
    s->sel = sel;
    s->base = desc_base(desc);
    s->limit = desc_limit(desc);
    s->attr = desc_attr(desc);
}

void hlp_seg_null(struct hlp_seg *s, uint16_t sel)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0;
    s->attr = HLP_SEG_UNUSABLE;
}

void hlp_set_accessed(struct hlp_cpu *cpu, uint16_t sel, uint64_t desc)
{
    if (desc_type(desc) & DESC_T_ACCESSED)
        return;
    uint32_t addr = hlp_descriptor_addr(cpu, sel, HLP_VEC_GP, 0);
    hlp_write_sys32(cpu, addr + 4, (uint32_t)(desc >> 32) | (DESC_T_ACCESSED << 8));
}

void hlp_set_tss_busy(struct hlp_cpu *cpu, uint16_t sel, bool busy)
{
    uint32_t addr = cpu->gdtr.base + (sel & ~7u);
    uint32_t hi = hlp_read_sys32(cpu, addr + 4);
    hi = busy ? hi | (SYS_TSS_BUSY_BIT << 8) : hi & ~(SYS_TSS_BUSY_BIT << 8);
    hlp_write_sys32(cpu, addr + 4, hi);
}

/* Real mode changes only the selector and base, so limits and attributes
 * set in protected mode survive ("unreal mode", 9.9.2); V86 mode gives
 * fixed 64-KByte DPL-3 segments (20.1.1). */
void hlp_seg_real(struct hlp_cpu *cpu, struct hlp_seg *s, unsigned sreg, uint16_t sel)
{
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    if (hlp_v86(cpu)) {
        s->limit = 0xFFFF;
        s->attr = HLP_SEG_P | HLP_SEG_S | (3u << HLP_SEG_DPL_SHIFT) | DESC_T_RW | DESC_T_ACCESSED;
        if (sreg == HLP_CS)
            s->attr |= DESC_T_CODE;
    } else {
        s->attr = (s->attr & ~HLP_SEG_UNUSABLE) | HLP_SEG_P;
    }
}

struct hlp_seg hlp_check_data_seg(struct hlp_cpu *cpu, uint16_t sel, unsigned cpl, unsigned vec,
                                  unsigned ext)
{
    struct hlp_seg s;
    if (sel_null(sel)) {
        hlp_seg_null(&s, sel);
        return s;
    }
    uint64_t d = hlp_fetch_descriptor(cpu, sel, vec, ext);
    /* Data or readable code only (Vol. 2A MOV: "segment is not a data or
     * readable code segment"). */
    if (!desc_is_seg(d) || (desc_is_code(d) && !(desc_type(d) & DESC_T_RW)))
        hlp_raise(cpu, vec, sel_err(sel, ext));
    /* Data and non-conforming code: DPL >= max(CPL, RPL) (5.6). */
    if (!desc_conforming(d) && ((sel & SEL_RPL) > desc_dpl(d) || cpl > desc_dpl(d)))
        hlp_raise(cpu, vec, sel_err(sel, ext));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, ext));
    hlp_set_accessed(cpu, sel, d);
    hlp_seg_from_descriptor(&s, sel, d | (1ull << 40));
    return s;
}

struct hlp_seg hlp_check_stack_seg(struct hlp_cpu *cpu, uint16_t sel, unsigned cpl, unsigned vec,
                                   unsigned ext)
{
    if (sel_null(sel))
        hlp_raise(cpu, vec, (int32_t)ext);
    uint64_t d = hlp_fetch_descriptor(cpu, sel, vec, ext);
    /* 5.7: RPL = DPL = CPL, a writable data segment. */
    if ((sel & SEL_RPL) != cpl || desc_dpl(d) != cpl || !desc_is_seg(d) || desc_is_code(d) ||
        !(desc_type(d) & DESC_T_RW))
        hlp_raise(cpu, vec, sel_err(sel, ext));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_SS, sel_err(sel, ext));
    hlp_set_accessed(cpu, sel, d);
    struct hlp_seg s;
    hlp_seg_from_descriptor(&s, sel, d | (1ull << 40));
    return s;
}

void hlp_load_sreg(struct hlp_cpu *cpu, unsigned seg, uint16_t sel)
{
    if (!hlp_protected(cpu) || hlp_v86(cpu)) {
        hlp_seg_real(cpu, &cpu->seg[seg], seg, sel);
        return;
    }
    struct hlp_seg s;
    if (seg == HLP_SS)
        s = hlp_check_stack_seg(cpu, sel, cpu->cpl, HLP_VEC_GP, 0);
    else
        s = hlp_check_data_seg(cpu, sel, cpu->cpl, HLP_VEC_GP, 0);
    cpu->seg[seg] = s;
}

void hlp_set_cs(struct hlp_cpu *cpu, const struct hlp_seg *cs, unsigned cpl)
{
    cpu->seg[HLP_CS] = *cs;
    cpu->cpl = (uint8_t)cpl;
}

/* RET and IRET to an outer level: "IF (SegmentSelector = NULL) OR
 * (tempDesc(DPL) < CPL AND tempDesc(Type) is (data or non-conforming
 * code)) THEN SegmentSelector <- 0" (SDM Vol. 2A IRET, RET). The cached
 * descriptor is the one tested, as the processor does. */
void hlp_null_inaccessible_segs(struct hlp_cpu *cpu)
{
    static const unsigned segs[] = {HLP_ES, HLP_DS, HLP_FS, HLP_GS};
    for (unsigned i = 0; i < 4; i++) {
        struct hlp_seg *s = &cpu->seg[segs[i]];
        if (s->attr & HLP_SEG_UNUSABLE)
            continue;
        bool conforming = (s->attr & DESC_T_CODE) && (s->attr & DESC_T_DC);
        if (!conforming && seg_dpl(s) < cpu->cpl)
            hlp_seg_null(s, 0);
    }
}
