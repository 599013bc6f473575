/* Port I/O: IN, OUT, INS, OUTS with the protection of SDM Vol. 1 19.5
 * (IOPL, then the TSS I/O permission bitmap) and Vol. 3A 20.2.8 (in
 * virtual-8086 mode only the bitmap counts), dispatched to the board's
 * port bus (mach_pio). */
#include "vmm_helpers/hlp_sys_internal.h"

/* The I/O map base is the upper word of the doubleword at offset 64H of a
 * 32-bit TSS (the T flag is the lower); a 16-bit TSS has no bitmap
 * (19.5.2). */
#define TSS_T_IOMAP 0x64

void hlp_check_io(struct hlp_cpu *cpu, uint16_t port, unsigned size)
{
    if (!hlp_protected(cpu))
        return;
    if (!hlp_v86(cpu) && cpu->cpl <= hlp_iopl(cpu))
        return;
    const struct hlp_seg *tr = &cpu->tr;
    bool tss32 = !(tr->attr & HLP_SEG_S) && (seg_type(tr) & 0x8) &&
                 (seg_type(tr) & ~SYS_TSS_BUSY_BIT) == SYS_TSS32_AVL;
    if (!tss32 || tr->limit < TSS_T_IOMAP + 3)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint32_t base = hlp_read_sys32(cpu, tr->base + TSS_T_IOMAP) >> 16;
    /* Two bytes are read so an access may straddle a byte of the map;
     * both must lie within the TSS limit. */
    uint32_t off = base + port / 8;
    if (off + 1 > tr->limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint32_t bits = hlp_read_sys32(cpu, tr->base + off) & 0xFFFF;
    if ((bits >> (port & 7)) & ((1u << size) - 1))
        hlp_raise(cpu, HLP_VEC_GP, 0);
}

static uint16_t port_of(const struct hlp_cpu *cpu, const struct dec_op *op)
{
    if (op->kind == DEC_OP_IMM)
        return op->imm & 0xFF;
    return (uint16_t)cpu->gpr[HLP_EDX];
}

static unsigned string_size(const struct dec_insn *d)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_OUTSB: return 1;
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_OUTSW: return 2;
    default: return 4;
    }
}

/* Iterations one call performs before returning with EIP still at a REP
 * instruction, so the engine can take interrupts between them (as the
 * processor may, Vol. 2B REP). */
#define REP_BATCH 4096u

/* INS/OUTS: one element per iteration through ES:(E)DI or seg:(E)SI,
 * (E)CX counting with REP, DF choosing the direction. Each completed
 * iteration is committed, so a fault mid-way restarts where it stopped. */
static void io_string(struct hlp_cpu *cpu, const struct dec_insn *d, bool out, uint32_t next)
{
    unsigned size = string_size(d), as = d->addrsize;
    bool rep = d->prefixes & (DEC_P_REP | DEC_P_REPNE);
    uint16_t port = (uint16_t)cpu->gpr[HLP_EDX];
    unsigned src_seg = HLP_DS;
    for (unsigned i = 0; i < d->n_ops; i++)
        if (d->ops[i].kind == DEC_OP_MEM && out)
            src_seg = d->ops[i].mem.seg;
    uint32_t delta = (cpu->eflags & HLP_FL_DF) ? (uint32_t)-size : size;
    hlp_check_io(cpu, port, size);
    for (unsigned n = 0; n < REP_BATCH; n++) {
        if (rep && hlp_areg_get(cpu, HLP_ECX, as) == 0)
            break;
        uint32_t data = 0;
        if (out) {
            uint32_t esi = hlp_areg_get(cpu, HLP_ESI, as);
            data = size == 1 ? hlp_read8(cpu, src_seg, esi)
                 : size == 2 ? hlp_read16(cpu, src_seg, esi) : hlp_read32(cpu, src_seg, esi);
            mach_pio(cpu->m, port, &data, size, true);
            hlp_areg_set(cpu, HLP_ESI, as, esi + delta);
        } else {
            /* The destination is checked before the port is read: a port
             * read may have side effects that must not be lost. */
            uint32_t edi = hlp_areg_get(cpu, HLP_EDI, as);
            hlp_check_write(cpu, HLP_ES, edi, size);
            mach_pio(cpu->m, port, &data, size, false);
            if (size == 1)
                hlp_write8(cpu, HLP_ES, edi, (uint8_t)data);
            else if (size == 2)
                hlp_write16(cpu, HLP_ES, edi, (uint16_t)data);
            else
                hlp_write32(cpu, HLP_ES, edi, data);
            hlp_areg_set(cpu, HLP_EDI, as, edi + delta);
        }
        if (!rep) {
            cpu->eip = next;
            return;
        }
        hlp_areg_set(cpu, HLP_ECX, as, hlp_areg_get(cpu, HLP_ECX, as) - 1);
        if (mach_exit_requested(cpu->m))
            break;
    }
    if (hlp_areg_get(cpu, HLP_ECX, as) == 0)
        cpu->eip = next;
}

bool hlp_exec_io(struct hlp_cpu *cpu, const struct dec_insn *d, uint32_t next)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_IN: {
        unsigned size = d->ops[0].reg.width / 8;
        uint16_t port = port_of(cpu, &d->ops[1]);
        hlp_check_io(cpu, port, size);
        uint32_t data = 0;
        mach_pio(cpu->m, port, &data, size, false);
        hlp_gpr_set(cpu, &d->ops[0].reg, data);
        cpu->eip = next;
        return true;
    }
    case ZYDIS_MNEMONIC_OUT: {
        unsigned size = d->ops[1].reg.width / 8;
        uint16_t port = port_of(cpu, &d->ops[0]);
        hlp_check_io(cpu, port, size);
        uint32_t data = hlp_gpr_get(cpu, &d->ops[1].reg);
        mach_pio(cpu->m, port, &data, size, true);
        cpu->eip = next;
        return true;
    }
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
        io_string(cpu, d, false, next);
        return true;
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
        io_string(cpu, d, true, next);
        return true;
    default:
        return false;
    }
}
