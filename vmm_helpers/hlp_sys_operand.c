/* Operands of the system instructions, from the decoder's record: general
 * registers by width (AH..BH included), effective addresses with the
 * instruction's address size (SDM Vol. 2A 2.1.5, Tables 2-1/2-2), memory
 * through the segmented accessors of hlp_mem.c. */
#include "vmm_helpers/hlp_sys_internal.h"

uint32_t hlp_gpr_get(const struct hlp_cpu *cpu, const struct dec_reg *r)
{
    uint32_t v = cpu->gpr[r->num & 7];
    if (r->high)
        return (v >> 8) & 0xFF;
    switch (r->width) {
    case 8: return v & 0xFF;
    case 16: return v & 0xFFFF;
    default: return v;
    }
}

void hlp_gpr_set(struct hlp_cpu *cpu, const struct dec_reg *r, uint32_t v)
{
    uint32_t *g = &cpu->gpr[r->num & 7];
    if (r->high)
        *g = (*g & ~0xFF00u) | ((v & 0xFF) << 8);
    else if (r->width == 8)
        *g = (*g & ~0xFFu) | (v & 0xFF);
    else if (r->width == 16)
        *g = (*g & ~0xFFFFu) | (v & 0xFFFF);
    else
        *g = v;
}

uint32_t hlp_areg_get(const struct hlp_cpu *cpu, unsigned reg, unsigned addrsize)
{
    return addrsize == 16 ? cpu->gpr[reg] & 0xFFFF : cpu->gpr[reg];
}

void hlp_areg_set(struct hlp_cpu *cpu, unsigned reg, unsigned addrsize, uint32_t v)
{
    if (addrsize == 16)
        cpu->gpr[reg] = (cpu->gpr[reg] & 0xFFFF0000u) | (v & 0xFFFF);
    else
        cpu->gpr[reg] = v;
}

uint32_t hlp_op_ea(const struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op)
{
    const struct dec_mem *m = &op->mem;
    uint32_t ea = (uint32_t)m->disp;
    if (m->base != DEC_NOREG)
        ea += cpu->gpr[m->base & 7];
    if (m->index != DEC_NOREG)
        ea += cpu->gpr[m->index & 7] * (m->scale ? m->scale : 1);
    return d->addrsize == 16 ? ea & 0xFFFF : ea;
}

uint32_t hlp_op_read(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op)
{
    switch (op->kind) {
    case DEC_OP_REG:
        if (op->reg.cls == DEC_RC_SEG)
            return cpu->seg[op->reg.num].sel;
        return hlp_gpr_get(cpu, &op->reg);
    case DEC_OP_IMM:
        return op->size >= 32 ? op->imm : op->imm & ((1u << op->size) - 1);
    case DEC_OP_MEM: {
        uint32_t ea = hlp_op_ea(cpu, d, op);
        switch (op->size) {
        case 8: return hlp_read8(cpu, op->mem.seg, ea);
        case 16: return hlp_read16(cpu, op->mem.seg, ea);
        default: return hlp_read32(cpu, op->mem.seg, ea);
        }
    }
    default:
        return 0;
    }
}

void hlp_op_write(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op,
                  uint32_t v)
{
    if (op->kind == DEC_OP_REG) {
        hlp_gpr_set(cpu, &op->reg, v);
        return;
    }
    if (op->kind != DEC_OP_MEM)
        return;
    uint32_t ea = hlp_op_ea(cpu, d, op);
    switch (op->size) {
    case 8: hlp_write8(cpu, op->mem.seg, ea, (uint8_t)v); break;
    case 16: hlp_write16(cpu, op->mem.seg, ea, (uint16_t)v); break;
    default: hlp_write32(cpu, op->mem.seg, ea, v); break;
    }
}

void hlp_op_check_write(struct hlp_cpu *cpu, const struct dec_insn *d, const struct dec_op *op)
{
    if (op->kind == DEC_OP_MEM)
        hlp_check_write(cpu, op->mem.seg, hlp_op_ea(cpu, d, op), op->size / 8);
}
