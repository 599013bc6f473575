/* Zydis decode -> struct dec_insn. */
#include "decoder/decoder.h"

#include <stddef.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "decoder/class_table.h"

/* ZydisMnemonic values are stored in records: pin the Zydis they come from,
 * so that upgrading Zydis is a deliberate change (the class table, the
 * Capstone mapping and this file all name its mnemonics). */
_Static_assert(ZYDIS_VERSION == 0x0004000000000000ULL, "decoder is written for Zydis 4.0.0");
_Static_assert(ZYDIS_MNEMONIC_MAX_VALUE <= UINT16_MAX, "mnemonic must fit dec_insn.mnemonic");
_Static_assert(ZYDIS_ISA_EXT_MAX_VALUE <= UINT8_MAX, "ISA extension must fit dec_insn.isa");
_Static_assert(ZYDIS_MAX_INSTRUCTION_LENGTH == DEC_MAX_LEN, "SDM Vol2 2.3.11: 15 bytes");
_Static_assert(sizeof(struct dec_op) == 12, "dec_op layout");
_Static_assert(sizeof(struct dec_insn) <= 96, "dec_insn must stay compact");
/* ES..GS are consecutive in ZydisRegister in the architectural Sreg order. */
_Static_assert(ZYDIS_REGISTER_CS - ZYDIS_REGISTER_ES == DEC_SEG_CS &&
               ZYDIS_REGISTER_SS - ZYDIS_REGISTER_ES == DEC_SEG_SS &&
               ZYDIS_REGISTER_DS - ZYDIS_REGISTER_ES == DEC_SEG_DS &&
               ZYDIS_REGISTER_FS - ZYDIS_REGISTER_ES == DEC_SEG_FS &&
               ZYDIS_REGISTER_GS - ZYDIS_REGISTER_ES == DEC_SEG_GS,
               "segment register order");

/* ---- context ------------------------------------------------------------ */

/* dec_ctx.reg_state: DEC_F_X87 and DEC_F_SIMD for the state a register
 * belongs to, and this bit for SP/ESP. */
#define REG_STACK_POINTER 1u
_Static_assert((REG_STACK_POINTER & (DEC_F_X87 | DEC_F_SIMD)) == 0, "reg_state bits overlap");

/* popek's numbering of Zydis's registers, by consecutive ranges. */
static const struct {
    ZydisRegister first, last;
    uint8_t cls, num0, high;
    uint16_t width;
} reg_ranges[] = {
    { ZYDIS_REGISTER_AL, ZYDIS_REGISTER_BL, DEC_RC_GPR, 0, 0, 8 },
    { ZYDIS_REGISTER_AH, ZYDIS_REGISTER_BH, DEC_RC_GPR, 0, 1, 8 },
    { ZYDIS_REGISTER_SPL, ZYDIS_REGISTER_DIL, DEC_RC_GPR, 4, 0, 8 },
    { ZYDIS_REGISTER_R8B, ZYDIS_REGISTER_R15B, DEC_RC_GPR, 8, 0, 8 },
    { ZYDIS_REGISTER_AX, ZYDIS_REGISTER_R15W, DEC_RC_GPR, 0, 0, 16 },
    { ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_R15D, DEC_RC_GPR, 0, 0, 32 },
    { ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_R15, DEC_RC_GPR, 0, 0, 64 },
    { ZYDIS_REGISTER_ST0, ZYDIS_REGISTER_ST7, DEC_RC_ST, 0, 0, 80 },
    { ZYDIS_REGISTER_MM0, ZYDIS_REGISTER_MM7, DEC_RC_MMX, 0, 0, 64 },
    { ZYDIS_REGISTER_XMM0, ZYDIS_REGISTER_XMM31, DEC_RC_XMM, 0, 0, 128 },
    { ZYDIS_REGISTER_YMM0, ZYDIS_REGISTER_YMM31, DEC_RC_YMM, 0, 0, 256 },
    { ZYDIS_REGISTER_ZMM0, ZYDIS_REGISTER_ZMM31, DEC_RC_ZMM, 0, 0, 512 },
    { ZYDIS_REGISTER_TMM0, ZYDIS_REGISTER_TMM7, DEC_RC_TMM, 0, 0, 8192 },
    { ZYDIS_REGISTER_ES, ZYDIS_REGISTER_GS, DEC_RC_SEG, 0, 0, 16 },
    { ZYDIS_REGISTER_CR0, ZYDIS_REGISTER_CR15, DEC_RC_CR, 0, 0, 32 },
    { ZYDIS_REGISTER_DR0, ZYDIS_REGISTER_DR15, DEC_RC_DR, 0, 0, 32 },
    { ZYDIS_REGISTER_K0, ZYDIS_REGISTER_K7, DEC_RC_K, 0, 0, 64 },
    { ZYDIS_REGISTER_BND0, ZYDIS_REGISTER_BND3, DEC_RC_BND, 0, 0, 128 },
};

static const struct {
    unsigned feature;
    ZydisDecoderMode mode;
} feature_modes[] = {
    { DEC_FEAT_LZCNT, ZYDIS_DECODER_MODE_LZCNT },
    { DEC_FEAT_TZCNT, ZYDIS_DECODER_MODE_TZCNT },
    { DEC_FEAT_MPX, ZYDIS_DECODER_MODE_MPX },
    { DEC_FEAT_CET, ZYDIS_DECODER_MODE_CET },
    { DEC_FEAT_CLDEMOTE, ZYDIS_DECODER_MODE_CLDEMOTE },
};

static int init_decoder(ZydisDecoder *zd, ZydisMachineMode mm, ZydisStackWidth sw,
                        unsigned features)
{
    if (!ZYAN_SUCCESS(ZydisDecoderInit(zd, mm, sw)))
        return -1;
    /* Zydis enables some of these by default; state every one. */
    for (size_t i = 0; i < sizeof feature_modes / sizeof feature_modes[0]; i++) {
        bool on = (features & feature_modes[i].feature) != 0;
        if (!ZYAN_SUCCESS(ZydisDecoderEnableMode(zd, feature_modes[i].mode, on)))
            return -1;
    }
    return 0;
}

int dec_init(struct dec_ctx *ctx, unsigned features)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->features = features;
    if (init_decoder(&ctx->zd[DEC_MODE_16], ZYDIS_MACHINE_MODE_LEGACY_16,
                     ZYDIS_STACK_WIDTH_16, features) < 0 ||
        init_decoder(&ctx->zd[DEC_MODE_32], ZYDIS_MACHINE_MODE_LEGACY_32,
                     ZYDIS_STACK_WIDTH_32, features) < 0 ||
        !ZYAN_SUCCESS(ZydisFormatterInit(&ctx->fmt, ZYDIS_FORMATTER_STYLE_INTEL)) ||
        !ZYAN_SUCCESS(ZydisFormatterSetProperty(&ctx->fmt, ZYDIS_FORMATTER_PROP_FORCE_SCALE_ONE,
                                                ZYAN_FALSE)))
        return -1;

    for (unsigned r = 0; r <= ZYDIS_REGISTER_MAX_VALUE; r++) {
        struct dec_reg *d = &ctx->regs[r];
        d->cls = r == ZYDIS_REGISTER_NONE ? DEC_RC_NONE : DEC_RC_OTHER;
        d->width = (uint16_t)ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, r);
    }
    for (size_t i = 0; i < sizeof reg_ranges / sizeof reg_ranges[0]; i++) {
        for (unsigned r = reg_ranges[i].first; r <= reg_ranges[i].last; r++) {
            struct dec_reg *d = &ctx->regs[r];
            d->cls = reg_ranges[i].cls;
            d->num = (uint8_t)(reg_ranges[i].num0 + (r - reg_ranges[i].first));
            d->high = reg_ranges[i].high;
            d->width = reg_ranges[i].width;
            if (d->cls == DEC_RC_ST || d->cls == DEC_RC_MMX)
                ctx->reg_state[r] = DEC_F_X87;
            if (d->cls == DEC_RC_XMM || d->cls == DEC_RC_YMM || d->cls == DEC_RC_ZMM ||
                d->cls == DEC_RC_K)
                ctx->reg_state[r] = DEC_F_SIMD;
        }
    }
    ctx->reg_state[ZYDIS_REGISTER_SP] = REG_STACK_POINTER;
    ctx->reg_state[ZYDIS_REGISTER_ESP] = REG_STACK_POINTER;
    ctx->reg_state[ZYDIS_REGISTER_RSP] = REG_STACK_POINTER;
    ctx->reg_state[ZYDIS_REGISTER_X87CONTROL] = DEC_F_X87;
    ctx->reg_state[ZYDIS_REGISTER_X87STATUS] = DEC_F_X87;
    ctx->reg_state[ZYDIS_REGISTER_X87TAG] = DEC_F_X87;
    ctx->reg_state[ZYDIS_REGISTER_MXCSR] = DEC_F_SIMD;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

/* One-byte opcodes that are invalid or mean another instruction in 64-bit
 * mode: "i64" in SDM Vol2 Table A-2, the REX range 40-4F, ARPL -> MOVSXD. */
static const bool no64_opcode[256] = {
    [0x06] = true, [0x07] = true, [0x0E] = true, [0x16] = true, [0x17] = true,
    [0x1E] = true, [0x1F] = true, [0x27] = true, [0x2F] = true, [0x37] = true,
    [0x3F] = true, [0x40 ... 0x4F] = true, [0x60] = true, [0x61] = true,
    [0x62] = true, [0x63] = true, [0x82] = true, [0x9A] = true, [0xC4] = true,
    [0xC5] = true, [0xCE] = true, [0xD4] = true, [0xD5] = true, [0xD6] = true,
    [0xEA] = true,
};

static const struct {
    ZydisInstructionAttributes attr;
    uint8_t seg;
} seg_prefixes[] = {
    { ZYDIS_ATTRIB_HAS_SEGMENT_ES, DEC_SEG_ES }, { ZYDIS_ATTRIB_HAS_SEGMENT_CS, DEC_SEG_CS },
    { ZYDIS_ATTRIB_HAS_SEGMENT_SS, DEC_SEG_SS }, { ZYDIS_ATTRIB_HAS_SEGMENT_DS, DEC_SEG_DS },
    { ZYDIS_ATTRIB_HAS_SEGMENT_FS, DEC_SEG_FS }, { ZYDIS_ATTRIB_HAS_SEGMENT_GS, DEC_SEG_GS },
};

static uint8_t map_of(const ZydisDecodedInstruction *zi)
{
    switch (zi->opcode_map) {
    case ZYDIS_OPCODE_MAP_DEFAULT: return DEC_MAP_1B;
    case ZYDIS_OPCODE_MAP_0F: return DEC_MAP_0F;
    case ZYDIS_OPCODE_MAP_0F38: return DEC_MAP_0F38;
    case ZYDIS_OPCODE_MAP_0F3A: return DEC_MAP_0F3A;
    case ZYDIS_OPCODE_MAP_0F0F: return DEC_MAP_3DNOW;
    default: return DEC_MAP_OTHER;
    }
}

static uint32_t encoding_flags(const ZydisDecodedInstruction *zi)
{
    switch (zi->encoding) {
    case ZYDIS_INSTRUCTION_ENCODING_VEX: return DEC_F_VEX;
    case ZYDIS_INSTRUCTION_ENCODING_EVEX: return DEC_F_EVEX;
    case ZYDIS_INSTRUCTION_ENCODING_XOP: return DEC_F_XOP;
    default: return 0;
    }
}

static uint8_t reg_num_or_none(const struct dec_ctx *ctx, ZydisRegister r)
{
    return r == ZYDIS_REGISTER_NONE ? DEC_NOREG : ctx->regs[r].num;
}

static void convert_mem(const struct dec_ctx *ctx, const struct dec_insn *d,
                        const ZydisDecodedOperand *zo, struct dec_op *op)
{
    const ZydisDecodedOperandMem *m = &zo->mem;
    op->kind = DEC_OP_MEM;
    op->mem.seg = ctx->regs[m->segment].cls == DEC_RC_SEG ? ctx->regs[m->segment].num
                                                          : DEC_SEG_DS;
    op->mem.base = reg_num_or_none(ctx, m->base);
    op->mem.index = reg_num_or_none(ctx, m->index);
    op->mem.scale = m->index == ZYDIS_REGISTER_NONE ? 0 : m->scale;
    op->mem.disp = (int32_t)(uint32_t)(uint64_t)m->disp.value;
    if (m->type == ZYDIS_MEMOP_TYPE_AGEN || m->type == ZYDIS_MEMOP_TYPE_MIB)
        op->flags = (uint8_t)((op->flags & ~(DEC_OPF_READ | DEC_OPF_WRITE)) | DEC_OPF_AGEN);
    if (m->type == ZYDIS_MEMOP_TYPE_VSIB)
        op->flags |= DEC_OPF_VSIB;
    if ((d->prefixes & DEC_P_SEG) && op->mem.seg == d->seg_override)
        op->flags |= DEC_OPF_SEG_OVERRIDE;
}

/* What convert_op saw that can change a DEC_T_FORMS mnemonic's class. */
enum {
    SAW_REL = 1u << 0,
    SAW_IMM = 1u << 1,
    SAW_CR = 1u << 2,
    SAW_DR = 1u << 3,
    SAW_SEG = 1u << 4,
};

/* DEC_OPF_* by ZydisOperandActions, as a lookup: these bits vary from one
 * instruction to the next and branches on them mispredict. */
#define ACTION_FLAGS(a)                                                  \
    (((a) & ZYDIS_OPERAND_ACTION_MASK_READ ? DEC_OPF_READ : 0) |        \
     ((a) & ZYDIS_OPERAND_ACTION_MASK_WRITE ? DEC_OPF_WRITE : 0) |      \
     ((a) & (ZYDIS_OPERAND_ACTION_CONDREAD | ZYDIS_OPERAND_ACTION_CONDWRITE) ? DEC_OPF_COND : 0))
static const uint8_t action_flags[16] = {
    ACTION_FLAGS(0),  ACTION_FLAGS(1),  ACTION_FLAGS(2),  ACTION_FLAGS(3),
    ACTION_FLAGS(4),  ACTION_FLAGS(5),  ACTION_FLAGS(6),  ACTION_FLAGS(7),
    ACTION_FLAGS(8),  ACTION_FLAGS(9),  ACTION_FLAGS(10), ACTION_FLAGS(11),
    ACTION_FLAGS(12), ACTION_FLAGS(13), ACTION_FLAGS(14), ACTION_FLAGS(15),
};
_Static_assert(ZYDIS_OPERAND_ACTION_REQUIRED_BITS <= 4, "action_flags covers every action");

static const uint8_t saw_reg_class[DEC_RC_OTHER + 1] = {
    [DEC_RC_CR] = SAW_CR, [DEC_RC_DR] = SAW_DR, [DEC_RC_SEG] = SAW_SEG,
};

/* Fills op from zo; returns SAW_* bits. */
static unsigned convert_op(const struct dec_ctx *ctx, const struct dec_insn *d,
                           const ZydisDecodedOperand *zo, struct dec_op *op)
{
    op->size = zo->size;
    op->flags = (uint8_t)(action_flags[zo->actions & 15] |
                          (zo->visibility == ZYDIS_OPERAND_VISIBILITY_IMPLICIT ? DEC_OPF_IMPLICIT
                                                                                : 0));

    switch (zo->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        op->kind = DEC_OP_REG;
        op->reg = ctx->regs[zo->reg.value];
        return saw_reg_class[op->reg.cls];
    case ZYDIS_OPERAND_TYPE_MEMORY:
        convert_mem(ctx, d, zo, op);
        return 0;
    case ZYDIS_OPERAND_TYPE_POINTER:
        op->kind = DEC_OP_PTR;
        op->ptr.seg = zo->ptr.segment;
        op->ptr.off = zo->ptr.offset;
        return 0;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (zo->imm.is_relative) {
            op->kind = DEC_OP_REL;
            op->rel = (int32_t)(uint32_t)zo->imm.value.u;
            return SAW_REL;
        }
        op->kind = DEC_OP_IMM;
        op->imm = (uint32_t)zo->imm.value.u;
        /* An imm8 sign-extended to the operand size (83 /r, 6A, 6B) is
         * used at that size. */
        if (zo->imm.is_signed && op->size < d->opsize) {
            op->flags |= DEC_OPF_SIGNED;
            op->size = d->opsize;
        }
        return SAW_IMM;
    default:
        return 0;
    }
}

/* Memory traffic, stack use and x87/SIMD state over all operands, hidden
 * ones included (string operands, the pushes of CALL, ST0 of FSIN, MXCSR of
 * LDMXCSR, ...). */
static uint32_t access_flags(const struct dec_ctx *ctx, const ZydisDecodedInstruction *zi,
                             const ZydisDecodedOperand *zo, bool noaccess)
{
    uint32_t f = 0;
    for (unsigned i = 0; i < zi->operand_count; i++) {
        const ZydisDecodedOperand *o = &zo[i];
        bool hidden = o->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN;
        bool writes = (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
        if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            unsigned st = ctx->reg_state[o->reg.value];
            f |= st & (DEC_F_X87 | DEC_F_SIMD);
            if (hidden && writes && (st & REG_STACK_POINTER))
                f |= DEC_F_STACK;
        } else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (hidden && (ctx->reg_state[o->mem.base] & REG_STACK_POINTER))
                f |= DEC_F_STACK;
            if (noaccess || o->mem.type == ZYDIS_MEMOP_TYPE_AGEN ||
                o->mem.type == ZYDIS_MEMOP_TYPE_MIB)
                continue;
            if (o->actions & ZYDIS_OPERAND_ACTION_MASK_READ)
                f |= DEC_F_MEM_READ;
            if (writes)
                f |= DEC_F_MEM_WRITE;
        }
    }
    return f;
}

/* saw: the SAW_* bits of the visible operands. A system register decides
 * before an immediate (MOV Sreg has none, but PUSH imm must stay plain). */
static enum dec_form form_of(const ZydisDecodedInstruction *zi, const struct dec_insn *d,
                             unsigned saw)
{
    if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        return DEC_FORM_FAR;
    if (d->map == DEC_MAP_1B && zi->meta.category == ZYDIS_CATEGORY_STRINGOP)
        return DEC_FORM_STRING;
    if (saw & SAW_REL)
        return DEC_FORM_REL;
    if (saw & SAW_CR)
        return DEC_FORM_CR;
    if (saw & SAW_DR)
        return DEC_FORM_DR;
    if (saw & SAW_SEG)
        return DEC_FORM_SEG;
    if (saw & SAW_IMM)
        return DEC_FORM_IMM;
    return DEC_FORM_PLAIN;
}

static void fill_prefixes(const ZydisDecodedInstruction *zi, struct dec_insn *d)
{
    ZydisInstructionAttributes a = zi->attributes;
    d->seg_override = DEC_SEG_NONE;
    if (a & ZYDIS_ATTRIB_HAS_LOCK)
        d->prefixes |= DEC_P_LOCK;
    if (a & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
        d->prefixes |= DEC_P_REP;
    if (a & ZYDIS_ATTRIB_HAS_REPNE)
        d->prefixes |= DEC_P_REPNE;
    if (a & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
        d->prefixes |= DEC_P_OPSIZE;
    if (a & ZYDIS_ATTRIB_HAS_ADDRESSSIZE)
        d->prefixes |= DEC_P_ADDRSIZE;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT) {
        for (size_t i = 0; i < sizeof seg_prefixes / sizeof seg_prefixes[0]; i++) {
            if (a & seg_prefixes[i].attr) {
                d->prefixes |= DEC_P_SEG;
                d->seg_override = seg_prefixes[i].seg;
            }
        }
    }
}

/* NOP r/m and PREFETCHh name memory they never touch. */
static void mark_agen(struct dec_insn *d)
{
    for (unsigned i = 0; i < d->n_ops; i++) {
        struct dec_op *op = &d->ops[i];
        if (op->kind == DEC_OP_MEM)
            op->flags = (uint8_t)((op->flags & ~(DEC_OPF_READ | DEC_OPF_WRITE)) | DEC_OPF_AGEN);
    }
}

static void fill(const struct dec_ctx *ctx, enum dec_mode mode, const uint8_t *bytes,
                 const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo,
                 struct dec_insn *d)
{
    /* Two halves: GCC expands one 92-byte memset into REP STOSQ, whose
     * start-up costs more than the rest of this function. */
    memset(d, 0, offsetof(struct dec_insn, ops));
    memset(d->ops, 0, sizeof d->ops);
    d->mnemonic = (uint16_t)zi->mnemonic;
    d->len = zi->length;
    memcpy(d->bytes, bytes, zi->length);
    d->map = map_of(zi);
    d->opcode = zi->opcode;
    d->opsize = zi->operand_width;
    d->addrsize = zi->address_width;
    d->isa = (uint8_t)zi->meta.isa_ext;
    d->flags = encoding_flags(zi) | (mode == DEC_MODE_32 ? DEC_F_CODE32 : 0);
    if (zi->attributes & ZYDIS_ATTRIB_HAS_MODRM) {
        d->flags |= DEC_F_MODRM;
        d->modrm = bytes[zi->raw.modrm.offset];
    }
    if (zi->attributes & ZYDIS_ATTRIB_HAS_SIB) {
        d->flags |= DEC_F_SIB;
        d->sib = bytes[zi->raw.sib.offset];
    }
    /* Zydis marks only state save/restore (FXSAVE, EMMS, ...) with these
     * attributes; x87 instructions without operands (FNOP, FWAIT, FNINIT)
     * come by their ISA extension, the rest by their registers. */
    if ((zi->attributes & (ZYDIS_ATTRIB_FPU_STATE_CR | ZYDIS_ATTRIB_FPU_STATE_CW)) ||
        zi->meta.isa_ext == ZYDIS_ISA_EXT_X87 || zi->meta.isa_ext == ZYDIS_ISA_EXT_MMX ||
        zi->meta.isa_ext == ZYDIS_ISA_EXT_AMD3DNOW)
        d->flags |= DEC_F_X87;
    if (zi->attributes & (ZYDIS_ATTRIB_XMM_STATE_CR | ZYDIS_ATTRIB_XMM_STATE_CW))
        d->flags |= DEC_F_SIMD;
    if (d->map == DEC_MAP_1B && zi->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
        no64_opcode[d->opcode])
        d->flags |= DEC_F_NO64;
    if (zi->cpu_flags) {
        const ZydisAccessedFlags *cf = zi->cpu_flags;
        d->eflags_read = cf->tested;
        d->eflags_written = cf->modified | cf->set_0 | cf->set_1 | cf->undefined;
        d->eflags_undefined = (uint16_t)cf->undefined;
    }
    fill_prefixes(zi, d);

    unsigned nvis = zi->operand_count_visible;
    if (nvis > DEC_MAX_OPS) {
        d->flags |= DEC_F_MORE_OPS;
        nvis = DEC_MAX_OPS;
    }
    d->n_ops = (uint8_t)nvis;
    unsigned saw = 0;
    for (unsigned i = 0; i < nvis; i++)
        saw |= convert_op(ctx, d, &zo[i], &d->ops[i]);

    const struct dec_class_entry *e = &dec_class_table[zi->mnemonic];
    if (e->tflags & DEC_T_FORMS)
        e = dec_class_lookup(d->mnemonic, form_of(zi, d, saw));
    d->cls = e->cls;
    d->cf = e->cf;
    d->flags |= (e->tflags & DEC_T_PUBLIC) |
                access_flags(ctx, zi, zo, (e->tflags & DEC_T_NOACCESS) != 0);
    if (e->tflags & DEC_T_NOACCESS)
        mark_agen(d);
}

static enum dec_status status_of(ZyanStatus st)
{
    switch (st) {
    case ZYDIS_STATUS_NO_MORE_DATA: return DEC_NEED_MORE;
    case ZYDIS_STATUS_INSTRUCTION_TOO_LONG: return DEC_TOO_LONG;
    default: return DEC_INVALID;
    }
}

enum dec_status dec_decode_zydis(const struct dec_ctx *ctx, enum dec_mode mode,
                                 const uint8_t *bytes, size_t avail,
                                 struct dec_insn *out, ZydisDecodedInstruction *zi,
                                 ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT])
{
    if (avail == 0)
        return DEC_NEED_MORE;
    ZyanStatus st = ZydisDecoderDecodeFull(&ctx->zd[mode], bytes, avail, zi, zops);
    if (!ZYAN_SUCCESS(st))
        return status_of(st);
    fill(ctx, mode, bytes, zi, zops, out);
    return DEC_OK;
}

enum dec_status dec_decode(const struct dec_ctx *ctx, enum dec_mode mode,
                           const uint8_t *bytes, size_t avail, struct dec_insn *out)
{
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    return dec_decode_zydis(ctx, mode, bytes, avail, out, &zi, zops);
}

/* ---- text ------------------------------------------------------------------ */

int dec_format(const struct dec_ctx *ctx, const struct dec_insn *insn, uint32_t eip,
               char *buf, size_t len)
{
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    enum dec_mode mode = (insn->flags & DEC_F_CODE32) ? DEC_MODE_32 : DEC_MODE_16;

    if (len == 0)
        return -1;
    buf[0] = '\0';
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&ctx->zd[mode], insn->bytes, insn->len, &zi, zops)))
        return -1;
    ZyanStatus st = ZydisFormatterFormatInstruction(&ctx->fmt, &zi, zops,
                                                    zi.operand_count_visible, buf, len,
                                                    eip, NULL);
    return ZYAN_SUCCESS(st) ? 0 : -1;
}

const char *dec_mnemonic_name(const struct dec_insn *insn)
{
    const char *s = ZydisMnemonicGetString((ZydisMnemonic)insn->mnemonic);
    return s ? s : "?";
}

static const char *const class_names[DEC_CLASS_COUNT_] = {
    [DEC_CLASS_NONE] = "none",
    [DEC_CLASS_INNOCUOUS] = "innocuous",
    [DEC_CLASS_CONTROL] = "control",
    [DEC_CLASS_STRING] = "string",
    [DEC_CLASS_IO] = "io",
    [DEC_CLASS_IOPL] = "iopl",
    [DEC_CLASS_PRIVILEGED] = "privileged",
    [DEC_CLASS_SENSITIVE] = "sensitive",
};

const char *dec_class_name(enum dec_class cls)
{
    return (unsigned)cls < DEC_CLASS_COUNT_ ? class_names[cls] : "?";
}

static const char *const cf_names[DEC_CF_COUNT_] = {
    [DEC_CF_NONE] = "none", [DEC_CF_JMP_REL] = "jmp-rel", [DEC_CF_JCC] = "jcc",
    [DEC_CF_CALL_REL] = "call-rel", [DEC_CF_JMP_IND] = "jmp-ind",
    [DEC_CF_CALL_IND] = "call-ind", [DEC_CF_RET] = "ret", [DEC_CF_RET_IMM] = "ret-imm",
    [DEC_CF_JMP_FAR] = "jmp-far", [DEC_CF_CALL_FAR] = "call-far",
    [DEC_CF_RET_FAR] = "ret-far", [DEC_CF_LOOP] = "loop", [DEC_CF_JCXZ] = "jcxz",
    [DEC_CF_INT] = "int", [DEC_CF_INT3] = "int3", [DEC_CF_INTO] = "into",
    [DEC_CF_INT1] = "int1", [DEC_CF_IRET] = "iret", [DEC_CF_SYSENTER] = "sysenter",
    [DEC_CF_SYSEXIT] = "sysexit", [DEC_CF_SYSCALL] = "syscall", [DEC_CF_SYSRET] = "sysret",
    [DEC_CF_HLT] = "hlt", [DEC_CF_UD] = "ud", [DEC_CF_XBEGIN] = "xbegin",
    [DEC_CF_XEND] = "xend",
};

const char *dec_cf_name(enum dec_cf cf)
{
    return (unsigned)cf < DEC_CF_COUNT_ && cf_names[cf] ? cf_names[cf] : "?";
}
