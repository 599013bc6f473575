/* Control and debug registers: MOV to/from CR0, CR2, CR3, CR4 and DR0-DR7,
 * LMSW, SMSW, CLTS, INVLPG, INVD, WBINVD (SDM Vol. 3A 2.5, 17.2; Vol. 2A/2B
 * instruction pages). A paging change goes to the softmmu before the
 * register is committed, so a PDPTE fault leaves the old value. */
#include "vmm_helpers/hlp_sys_internal.h"

/* CR0 bits a P6 implements (2.5): PE MP EM TS ET NE WP AM NW CD PG; the
 * others are reserved, ignored on writes in 32-bit mode, and ET is
 * hardwired to 1. */
#define CR0_DEFINED                                                                          \
    (HLP_CR0_PE | HLP_CR0_MP | HLP_CR0_EM | HLP_CR0_TS | HLP_CR0_ET | HLP_CR0_NE | MMU_CR0_WP | \
     HLP_CR0_AM | MMU_CR0_NW | MMU_CR0_CD | MMU_CR0_PG)
#define HLP_CR4_PCE (1u << 8)
_Static_assert(HLP_CR4_PCE == 0x100, "CR4.PCE is bit 8");

/* The CR4 bits the popek CPU's CPUID allows (Vol. 3A 2.5; a bit whose
 * feature CPUID does not report is reserved): TSD (TSC), PSE, PAE, PGE, PCE (every P6), and
 * OSFXSR / OSXMMEXCPT with FXSR / SSE. VME, PVI, DE and MCE are reserved
 * since their features are not reported. */
static uint32_t cr4_valid(const struct hlp_cpu *cpu)
{
    uint32_t v = HLP_CR4_TSD | MMU_CR4_PSE | MMU_CR4_PAE | MMU_CR4_PGE | HLP_CR4_PCE;
    if (cpu->model.options & HLP_CPU_FXSR)
        v |= HLP_CR4_OSFXSR;
    if (cpu->model.options & HLP_CPU_SSE)
        v |= HLP_CR4_OSXMMEXCPT;
    return v;
}

static void set_paging_regs(struct hlp_cpu *cpu, uint32_t cr0, uint32_t cr4)
{
    struct mmu_regs r = {.cr0 = cr0, .cr3 = cpu->cr3, .cr4 = cr4, .nxe = false};
    struct mmu_fault f;
    enum mmu_result res = mmu_set_regs(&cpu->mmu, &r, &f);
    if (res != MMU_OK)
        hlp_raise_mmu(cpu, res, &f);
    cpu->cr0 = cr0;
    cpu->cr4 = cr4;
}

static void write_cr0(struct hlp_cpu *cpu, uint32_t v)
{
    v = (v & CR0_DEFINED) | HLP_CR0_ET;
    /* Vol. 2A MOV CR: #GP(0) for PG without PE and for NW without CD. */
    if ((v & MMU_CR0_PG) && !(v & HLP_CR0_PE))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    if ((v & MMU_CR0_NW) && !(v & MMU_CR0_CD))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    set_paging_regs(cpu, v, cpu->cr4);
}

static void write_cr(struct hlp_cpu *cpu, unsigned n, uint32_t v)
{
    switch (n) {
    case 0:
        write_cr0(cpu, v);
        return;
    case 2:
        cpu->cr2 = v;
        return;
    case 3: {
        struct mmu_fault f;
        enum mmu_result r = mmu_write_cr3(&cpu->mmu, v, &f);
        if (r != MMU_OK)
            hlp_raise_mmu(cpu, r, &f);
        cpu->cr3 = v;
        return;
    }
    case 4:
        if (v & ~cr4_valid(cpu))
            hlp_raise(cpu, HLP_VEC_GP, 0);
        set_paging_regs(cpu, cpu->cr0, v);
        return;
    default:
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    }
}

static uint32_t read_cr(struct hlp_cpu *cpu, unsigned n)
{
    switch (n) {
    case 0: return cpu->cr0;
    case 2: return cpu->cr2;
    case 3: return cpu->cr3;
    case 4: return cpu->cr4;
    default: hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    }
}

/* DR4/DR5 alias DR6/DR7 while CR4.DE is clear (always here, 17.2.2);
 * DR8 and up do not exist. General detect (DR7.GD) turns the access into
 * a #DB fault with DR6.BD, GD cleared for the handler (17.2.4). */
static unsigned dr_index(struct hlp_cpu *cpu, unsigned n)
{
    if (n > 7)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    if (cpu->dr[HLP_DR7] & (1u << 13)) {
        cpu->dr[HLP_DR6] |= HLP_DR6_BD;
        cpu->dr[HLP_DR7] &= ~(1u << 13);
        hlp_raise(cpu, HLP_VEC_DB, HLP_NO_ERROR_CODE);
    }
    return n == 4 ? HLP_DR6 : n == 5 ? HLP_DR7 : n;
}

/* Reserved bits (17.2.3, 17.2.4): DR6 bits 4-11 and 16-31 read as 1, bit
 * 12 as 0; DR7 bit 10 reads as 1, bits 11, 12, 14, 15 as 0. */
#define DR6_FIXED1 0xFFFF0FF0u
#define DR6_WRITABLE 0x0000E00Fu
#define DR7_FIXED1 0x00000400u
#define DR7_WRITABLE 0xFFFF23FFu

static void write_dr(struct hlp_cpu *cpu, unsigned n, uint32_t v)
{
    unsigned i = dr_index(cpu, n);
    if (i == HLP_DR6)
        v = (v & DR6_WRITABLE) | DR6_FIXED1;
    else if (i == HLP_DR7)
        v = (v & DR7_WRITABLE) | DR7_FIXED1;
    cpu->dr[i] = v;
}

static bool mov_cr_dr(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    if (d->n_ops < 2)
        return false;
    const struct dec_op *dst = &d->ops[0], *src = &d->ops[1];
    bool to = dst->kind == DEC_OP_REG && (dst->reg.cls == DEC_RC_CR || dst->reg.cls == DEC_RC_DR);
    bool from = src->kind == DEC_OP_REG && (src->reg.cls == DEC_RC_CR || src->reg.cls == DEC_RC_DR);
    if (!to && !from)
        return false;
    /* CPL 0 only: V86 mode runs at CPL 3 (Vol. 2A MOV CR, MOV DR). */
    hlp_require_cpl0(cpu);
    if (to) {
        uint32_t v = cpu->gpr[src->reg.num & 7];
        if (dst->reg.cls == DEC_RC_CR)
            write_cr(cpu, dst->reg.num, v);
        else
            write_dr(cpu, dst->reg.num, v);
    } else {
        uint32_t v = src->reg.cls == DEC_RC_CR ? read_cr(cpu, src->reg.num)
                                               : cpu->dr[dr_index(cpu, src->reg.num)];
        cpu->gpr[dst->reg.num & 7] = v;
    }
    return true;
}

bool hlp_exec_cr(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        return mov_cr_dr(cpu, d);
    case ZYDIS_MNEMONIC_LMSW: {
        hlp_require_cpl0(cpu);
        /* Loads MP, EM, TS and can set PE but never clear it (Vol. 2A LMSW). */
        uint32_t v = hlp_op_read(cpu, d, &d->ops[0]) & 0xF;
        write_cr0(cpu, (cpu->cr0 & ~0xEu) | v);
        return true;
    }
    case ZYDIS_MNEMONIC_SMSW: {
        /* No UMIP on the popek CPU: allowed at any CPL. To memory a word;
         * to a 32-bit register all of CR0, as P6 processors store it. */
        const struct dec_op *op = &d->ops[0];
        hlp_op_write(cpu, d, op, op->kind == DEC_OP_MEM ? cpu->cr0 & 0xFFFF : cpu->cr0);
        return true;
    }
    case ZYDIS_MNEMONIC_CLTS:
        hlp_require_cpl0(cpu);
        cpu->cr0 &= ~HLP_CR0_TS;
        return true;
    case ZYDIS_MNEMONIC_INVLPG: {
        hlp_require_cpl0(cpu);
        const struct dec_op *op = &d->ops[0];
        if (op->kind != DEC_OP_MEM)
            hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
        mmu_invlpg(&cpu->mmu, cpu->seg[op->mem.seg].base + hlp_op_ea(cpu, d, op));
        return true;
    }
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_WBINVD:
        /* Caches are not modelled: guest memory is always coherent. */
        hlp_require_cpl0(cpu);
        return true;
    default:
        return false;
    }
}
