/* Stacks the system instructions build before they commit: the frame of an
 * interrupt, a call gate or a far call goes onto a stack that becomes SS:ESP
 * only once every check has passed (SDM Vol. 3A 6.12.1, 5.8.5). Limit
 * checks follow 5.3 (expand-down stack segments included); the stores go
 * through the softmmu at the privilege of the new stack. */
#include "vmm_helpers/hlp_sys_internal.h"

void hlp_stack_current(struct hlp_cpu *cpu, struct hlp_stack *st)
{
    st->ss = cpu->seg[HLP_SS];
    st->esp = cpu->gpr[HLP_ESP];
    st->cpl = cpu->cpl;
    st->err = 0;
}

uint32_t hlp_stack_adjust(const struct hlp_seg *ss, uint32_t esp, uint32_t delta)
{
    if (ss->attr & HLP_SEG_DB)
        return esp + delta;
    return (esp & 0xFFFF0000u) | ((esp + delta) & 0xFFFFu);
}

/* Whether bytes [off, off + len) lie within the stack segment; offsets of
 * a 16-bit stack wrap at 64 KiB, so each byte is tested where it lands. */
static bool stack_fits(const struct hlp_seg *ss, uint32_t off, uint32_t len)
{
    bool big = ss->attr & HLP_SEG_DB;
    uint32_t top = big ? 0xFFFFFFFFu : 0xFFFFu;
    bool down = (ss->attr & DESC_T_DC) && !(ss->attr & DESC_T_CODE);
    if (ss->attr & HLP_SEG_UNUSABLE)
        return false;
    if (!big && (off & 0xFFFF) + len - 1 > 0xFFFF)
        return stack_fits(ss, off & 0xFFFF, 0x10000 - (off & 0xFFFF)) &&
               stack_fits(ss, 0, len - (0x10000 - (off & 0xFFFF)));
    off &= top;
    uint32_t last = off + len - 1;
    if (last < off)
        return false;
    if (down)
        return off > ss->limit && last <= top;
    return last <= ss->limit;
}

void hlp_stack_room(struct hlp_cpu *cpu, const struct hlp_stack *st, uint32_t bytes)
{
    if (!bytes)
        return;
    uint32_t low = hlp_stack_adjust(&st->ss, st->esp, (uint32_t)-bytes);
    if (!(st->ss.attr & HLP_SEG_DB))
        low &= 0xFFFF;
    /* Real and V86 mode have no stack-fault error code (20.1.4). */
    if (!stack_fits(&st->ss, low, bytes))
        hlp_raise(cpu, HLP_VEC_SS, hlp_protected(cpu) && !hlp_v86(cpu) ? st->err : 0);
}

void hlp_stack_push(struct hlp_cpu *cpu, struct hlp_stack *st, uint32_t v, unsigned size)
{
    hlp_stack_room(cpu, st, size);
    uint32_t esp = hlp_stack_adjust(&st->ss, st->esp, (uint32_t)-size);
    uint32_t off = st->ss.attr & HLP_SEG_DB ? esp : esp & 0xFFFF;
    struct mmu_fault f;
    enum mmu_result r = mmu_write_n(&cpu->mmu, st->ss.base + off, &v, size,
                                    mmu_acc(st->cpl, MMU_ACC_WRITE), &f);
    if (r != MMU_OK)
        hlp_raise_mmu(cpu, r, &f);
    st->esp = esp;
}

uint32_t hlp_stack_peek(struct hlp_cpu *cpu, uint32_t off, unsigned size)
{
    const struct hlp_seg *ss = &cpu->seg[HLP_SS];
    uint32_t esp = hlp_stack_adjust(ss, cpu->gpr[HLP_ESP], off);
    if (!(ss->attr & HLP_SEG_DB))
        esp &= 0xFFFF;
    return size == 2 ? hlp_read16(cpu, HLP_SS, esp) : hlp_read32(cpu, HLP_SS, esp);
}

void hlp_stack_commit(struct hlp_cpu *cpu, const struct hlp_stack *st)
{
    cpu->seg[HLP_SS] = st->ss;
    cpu->gpr[HLP_ESP] = st->esp;
}
