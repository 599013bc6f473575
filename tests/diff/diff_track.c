/* The tracker: decides whether an instruction sequence is a valid
 * differential-test case and what the comparison must mask.
 *
 * Each instruction is decoded with Zydis; the registers and flags it reads
 * and writes come from the decoder's operand list and flag table (hidden
 * operands included), the undefined flags from diff_undefined_flags.c, and
 * the memory it touches from the values the tracker knows. Values are
 * known only where the tracker can compute them (MOV immediate, register
 * copies, LEA, the stack pointer, string-instruction pointers); an address
 * that depends on an unknown register makes the instruction invalid. An
 * undefined value (flag or register) may be overwritten but never read:
 * it could otherwise flow into defined results, and no mask could follow
 * it. */
#include "diff.h"

#include <string.h>

enum kind {
    K_GENERIC,
    K_PUSH,
    K_POP,
    K_PUSHA,
    K_POPA,
    K_ENTER,
    K_LEAVE,
    K_STRING,
    K_XLAT,
    K_BITOP,
    K_BITSCAN,
    K_TRAP, /* always raises an exception: UD2, INT3 */
    K_X87,
    K_INVALID,
};

static enum kind kind_of(const ZydisDecodedInstruction *in)
{
    switch (in->mnemonic) {
    case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_SBB: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_XCHG:
    case ZYDIS_MNEMONIC_XADD: case ZYDIS_MNEMONIC_CMPXCHG: case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_BSWAP: case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV: case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS: case ZYDIS_MNEMONIC_AAA: case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_AAM: case ZYDIS_MNEMONIC_AAD: case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_LAHF: case ZYDIS_MNEMONIC_SAHF: case ZYDIS_MNEMONIC_CLC:
    case ZYDIS_MNEMONIC_STC: case ZYDIS_MNEMONIC_CMC: case ZYDIS_MNEMONIC_CLD:
    case ZYDIS_MNEMONIC_STD: case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_BOUND:
    case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVLE: case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVNL: case ZYDIS_MNEMONIC_CMOVNLE: case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVNP: case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVZ:
    case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETNLE: case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
        return K_GENERIC;
    case ZYDIS_MNEMONIC_PUSH: return K_PUSH;
    case ZYDIS_MNEMONIC_POP: return K_POP;
    case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: return K_PUSHA;
    case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: return K_POPA;
    case ZYDIS_MNEMONIC_ENTER: return K_ENTER;
    case ZYDIS_MNEMONIC_LEAVE: return K_LEAVE;
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        /* MOVSD/CMPSD are also SSE2 mnemonics (F2 0F 10, F2 0F C2). */
        return in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT ? K_STRING : K_INVALID;
    case ZYDIS_MNEMONIC_XLAT: return K_XLAT;
    case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        return K_BITOP;
    case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: return K_BITSCAN;
    case ZYDIS_MNEMONIC_UD2: case ZYDIS_MNEMONIC_INT3: return K_TRAP;
    case ZYDIS_MNEMONIC_FLD: case ZYDIS_MNEMONIC_FST: case ZYDIS_MNEMONIC_FSTP:
    case ZYDIS_MNEMONIC_FILD: case ZYDIS_MNEMONIC_FIST: case ZYDIS_MNEMONIC_FISTP:
    case ZYDIS_MNEMONIC_FBLD: case ZYDIS_MNEMONIC_FBSTP: case ZYDIS_MNEMONIC_FADD:
    case ZYDIS_MNEMONIC_FADDP: case ZYDIS_MNEMONIC_FIADD: case ZYDIS_MNEMONIC_FSUB:
    case ZYDIS_MNEMONIC_FSUBP: case ZYDIS_MNEMONIC_FISUB: case ZYDIS_MNEMONIC_FSUBR:
    case ZYDIS_MNEMONIC_FSUBRP: case ZYDIS_MNEMONIC_FISUBR: case ZYDIS_MNEMONIC_FMUL:
    case ZYDIS_MNEMONIC_FMULP: case ZYDIS_MNEMONIC_FIMUL: case ZYDIS_MNEMONIC_FDIV:
    case ZYDIS_MNEMONIC_FDIVP: case ZYDIS_MNEMONIC_FIDIV: case ZYDIS_MNEMONIC_FDIVR:
    case ZYDIS_MNEMONIC_FDIVRP: case ZYDIS_MNEMONIC_FIDIVR: case ZYDIS_MNEMONIC_FCOM:
    case ZYDIS_MNEMONIC_FCOMP: case ZYDIS_MNEMONIC_FCOMPP: case ZYDIS_MNEMONIC_FICOM:
    case ZYDIS_MNEMONIC_FICOMP: case ZYDIS_MNEMONIC_FUCOM: case ZYDIS_MNEMONIC_FUCOMP:
    case ZYDIS_MNEMONIC_FUCOMPP: case ZYDIS_MNEMONIC_FCOMI: case ZYDIS_MNEMONIC_FCOMIP:
    case ZYDIS_MNEMONIC_FUCOMI: case ZYDIS_MNEMONIC_FUCOMIP: case ZYDIS_MNEMONIC_FTST:
    case ZYDIS_MNEMONIC_FCHS: case ZYDIS_MNEMONIC_FABS: case ZYDIS_MNEMONIC_FSQRT:
    case ZYDIS_MNEMONIC_FRNDINT: case ZYDIS_MNEMONIC_FSCALE: case ZYDIS_MNEMONIC_FXTRACT:
    case ZYDIS_MNEMONIC_FPREM: case ZYDIS_MNEMONIC_FPREM1: case ZYDIS_MNEMONIC_FXCH:
    case ZYDIS_MNEMONIC_FCMOVB: case ZYDIS_MNEMONIC_FCMOVE: case ZYDIS_MNEMONIC_FCMOVBE:
    case ZYDIS_MNEMONIC_FCMOVU: case ZYDIS_MNEMONIC_FCMOVNB: case ZYDIS_MNEMONIC_FCMOVNE:
    case ZYDIS_MNEMONIC_FCMOVNBE: case ZYDIS_MNEMONIC_FCMOVNU: case ZYDIS_MNEMONIC_FLD1:
    case ZYDIS_MNEMONIC_FLDZ: case ZYDIS_MNEMONIC_FLDPI: case ZYDIS_MNEMONIC_FLDL2E:
    case ZYDIS_MNEMONIC_FLDL2T: case ZYDIS_MNEMONIC_FLDLG2: case ZYDIS_MNEMONIC_FLDLN2:
    case ZYDIS_MNEMONIC_FLDCW: case ZYDIS_MNEMONIC_FNSTCW: case ZYDIS_MNEMONIC_FNSTSW:
    case ZYDIS_MNEMONIC_FNCLEX: case ZYDIS_MNEMONIC_FWAIT: case ZYDIS_MNEMONIC_FINCSTP:
    case ZYDIS_MNEMONIC_FDECSTP: case ZYDIS_MNEMONIC_FFREE:
        return K_X87;
    default: return K_INVALID;
    }
}

/* ---- registers ---- */

static int gpr_of(ZydisRegister r)
{
    switch (ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, r)) {
    case ZYDIS_REGISTER_EAX: return DIFF_EAX;
    case ZYDIS_REGISTER_ECX: return DIFF_ECX;
    case ZYDIS_REGISTER_EDX: return DIFF_EDX;
    case ZYDIS_REGISTER_EBX: return DIFF_EBX;
    case ZYDIS_REGISTER_ESP: return DIFF_ESP;
    case ZYDIS_REGISTER_EBP: return DIFF_EBP;
    case ZYDIS_REGISTER_ESI: return DIFF_ESI;
    case ZYDIS_REGISTER_EDI: return DIFF_EDI;
    default: return -1;
    }
}

static bool is_high8(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
           r == ZYDIS_REGISTER_BH;
}

static unsigned reg_bits(ZydisRegister r)
{
    return ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, r);
}

/* The value of a (sub)register whose GPR is known. */
static uint32_t reg_get(const struct diff_track *t, ZydisRegister r)
{
    uint32_t v = t->val[gpr_of(r)];
    if (is_high8(r))
        return (v >> 8) & 0xFF;
    unsigned bits = reg_bits(r);
    return bits == 32 ? v : v & ((1u << bits) - 1);
}

/* Writes a (sub)register value when the result is computable: a 32-bit
 * write always is, a partial one only over a known register. */
static void reg_set(struct diff_track *t, const struct diff_track *pre, ZydisRegister r,
                    uint32_t v)
{
    int g = gpr_of(r);
    unsigned bits = reg_bits(r);
    if (bits == 32) {
        t->val[g] = v;
        t->known |= 1u << g;
        return;
    }
    if (!(pre->known & (1u << g)))
        return;
    uint32_t old = pre->val[g];
    if (is_high8(r))
        t->val[g] = (old & ~0xFF00u) | ((v & 0xFF) << 8);
    else
        t->val[g] = (old & ~((1u << bits) - 1)) | (v & ((1u << bits) - 1));
    t->known |= 1u << g;
}

static bool reg_known(const struct diff_track *t, ZydisRegister r)
{
    int g = gpr_of(r);
    return g >= 0 && (t->known & (1u << g));
}

/* ---- memory ---- */

struct access {
    uint32_t addr, len;
    bool write;
};

struct accesses {
    struct access a[4];
    unsigned n;
};

static void add_access(struct accesses *acc, uint32_t addr, uint32_t len, bool write)
{
    if (acc->n < sizeof(acc->a) / sizeof(acc->a[0]))
        acc->a[acc->n++] = (struct access){addr, len, write};
}

static bool in_data(uint64_t addr, uint64_t len)
{
    return addr >= DIFF_DATA_BASE && addr + len <= DIFF_DATA_END;
}

static bool is_dirty(const struct diff_track *t, uint32_t addr, uint32_t len)
{
    for (uint32_t i = addr - DIFF_DATA_BASE; i < addr - DIFF_DATA_BASE + len; i++)
        if (t->dirty[i / 8] & (1u << (i % 8)))
            return true;
    return false;
}

static void mark_dirty(struct diff_track *t, uint32_t addr, uint32_t len)
{
    for (uint32_t i = addr - DIFF_DATA_BASE; i < addr - DIFF_DATA_BASE + len; i++)
        t->dirty[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Effective address of a memory operand; esp_bias is added when ESP is
 * the base (POP computes its destination after incrementing ESP, SDM
 * Vol. 2 "POP"). FS and GS are excluded: their bases differ between the
 * Linux oracle (TLS) and the guest; so is CS, where a store is #GP. */
static int effective_address(const struct diff_track *t, const ZydisDecodedInstruction *in,
                             const ZydisDecodedOperand *op, uint32_t esp_bias, uint32_t *out,
                             const char **why)
{
    if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS ||
        op->mem.segment == ZYDIS_REGISTER_CS) {
        *why = "FS, GS or CS segment";
        return -1;
    }
    uint32_t a = (uint32_t)op->mem.disp.value;
    if (op->mem.base != ZYDIS_REGISTER_NONE) {
        if (!reg_known(t, op->mem.base)) {
            *why = "address from an unknown base register";
            return -1;
        }
        a += reg_get(t, op->mem.base) + (gpr_of(op->mem.base) == DIFF_ESP ? esp_bias : 0);
    }
    if (op->mem.index != ZYDIS_REGISTER_NONE) {
        if (!reg_known(t, op->mem.index)) {
            *why = "address from an unknown index register";
            return -1;
        }
        a += reg_get(t, op->mem.index) * op->mem.scale;
    }
    *out = in->address_width == 16 ? (a & 0xFFFF) : a;
    return 0;
}

/* ---- reads ---- */

static int check_reads(const struct diff_track *t, const ZydisDecodedInstruction *in,
                       const ZydisDecodedOperand *ops, const char **why)
{
    for (unsigned i = 0; i < in->operand_count; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            (op->actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD))) {
            int g = gpr_of(op->reg.value);
            if (g >= 0 && (t->poison & (1u << g))) {
                *why = "reads an undefined register";
                return -1;
            }
        }
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            int b = gpr_of(op->mem.base), x = gpr_of(op->mem.index);
            if ((b >= 0 && (t->poison & (1u << b))) || (x >= 0 && (t->poison & (1u << x)))) {
                *why = "address from an undefined register";
                return -1;
            }
        }
    }
    if (in->cpu_flags->tested & t->flag_poison & DIFF_FL_ARITH) {
        *why = "reads an undefined flag";
        return -1;
    }
    return 0;
}

/* ---- memory accesses per kind ---- */

static int generic_accesses(const struct diff_track *t, const ZydisDecodedInstruction *in,
                            const ZydisDecodedOperand *ops, struct accesses *acc, const char **why)
{
    for (unsigned i = 0; i < in->operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
            continue;
        uint32_t a;
        if (effective_address(t, in, op, 0, &a, why) < 0)
            return -1;
        add_access(acc, a, op->size / 8,
                   op->actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE));
    }
    return 0;
}

/* BT/BTS/BTR/BTC m, r: the register is a signed bit offset that may reach
 * beyond the operand (SDM Vol. 2 "BT": EA + size * (offset DIV bits)). */
static int bitop_accesses(const struct diff_track *t, const ZydisDecodedInstruction *in,
                          const ZydisDecodedOperand *ops, struct accesses *acc, const char **why)
{
    if (ops[0].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER)
        return generic_accesses(t, in, ops, acc, why);
    if (!reg_known(t, ops[1].reg.value)) {
        *why = "memory bit offset from an unknown register";
        return -1;
    }
    uint32_t ea;
    if (effective_address(t, in, &ops[0], 0, &ea, why) < 0)
        return -1;
    unsigned bits = in->operand_width;
    uint32_t raw = reg_get(t, ops[1].reg.value);
    int64_t off = bits == 16 ? (int16_t)raw : (int32_t)raw;
    int64_t units = off >= 0 ? off / bits : -((-off + bits - 1) / bits);
    uint32_t a = (uint32_t)(ea + (uint32_t)(units * (bits / 8)));
    add_access(acc, a, bits / 8, in->mnemonic != ZYDIS_MNEMONIC_BT);
    return 0;
}

static int xlat_accesses(const struct diff_track *t, const ZydisDecodedInstruction *in,
                         struct accesses *acc, const char **why)
{
    if (!(t->known & (1u << DIFF_EBX)) || !(t->known & (1u << DIFF_EAX))) {
        *why = "XLAT with an unknown EBX or AL";
        return -1;
    }
    uint32_t al = t->val[DIFF_EAX] & 0xFF, a = t->val[DIFF_EBX] + al;
    if (in->address_width == 16)
        a = ((t->val[DIFF_EBX] & 0xFFFF) + al) & 0xFFFF;
    add_access(acc, a, 1, false);
    return 0;
}

/* ---- stack instructions: ESP is always known ---- */

static int stack_op(struct diff_track *t, enum kind k, const ZydisDecodedInstruction *in,
                    const ZydisDecodedOperand *ops, struct accesses *acc, uint32_t *new_esp,
                    const char **why)
{
    uint32_t esp = t->val[DIFF_ESP], s = in->operand_width / 8, a;
    switch (k) {
    case K_PUSH:
        if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (effective_address(t, in, &ops[0], 0, &a, why) < 0)
                return -1;
            add_access(acc, a, s, false);
        }
        add_access(acc, esp - s, s, true);
        *new_esp = esp - s;
        return 0;
    case K_POP:
        if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_of(ops[0].reg.value) == DIFF_ESP) {
            *why = "POP into ESP";
            return -1;
        }
        add_access(acc, esp, s, false);
        if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (effective_address(t, in, &ops[0], s, &a, why) < 0)
                return -1;
            add_access(acc, a, s, true);
        }
        *new_esp = esp + s;
        return 0;
    case K_PUSHA:
        add_access(acc, esp - 8 * s, 8 * s, true);
        *new_esp = esp - 8 * s;
        return 0;
    case K_POPA:
        add_access(acc, esp, 8 * s, false);
        *new_esp = esp + 8 * s;
        return 0;
    case K_ENTER: {
        /* SDM Vol. 2 "ENTER": push EBP, copy level-1 frame pointers from
         * the old frame, push the new frame pointer, allocate. */
        if (s != 4 || !(t->known & (1u << DIFF_EBP))) {
            *why = "ENTER with 16-bit operands or an unknown EBP";
            return -1;
        }
        uint32_t size = (uint32_t)ops[0].imm.value.u & 0xFFFF;
        uint32_t level = (uint32_t)ops[1].imm.value.u & 31;
        uint32_t pushes = level == 0 ? 1 : level + 1;
        if (level > 1)
            add_access(acc, t->val[DIFF_EBP] - 4 * (level - 1), 4 * (level - 1), false);
        add_access(acc, esp - 4 * pushes, 4 * pushes, true);
        *new_esp = esp - 4 * pushes - size;
        return 0;
    }
    case K_LEAVE:
        if (s != 4 || !(t->known & (1u << DIFF_EBP))) {
            *why = "LEAVE with 16-bit operands or an unknown EBP";
            return -1;
        }
        add_access(acc, t->val[DIFF_EBP], 4, false);
        *new_esp = t->val[DIFF_EBP] + 4;
        return 0;
    default:
        *why = "not a stack instruction";
        return -1;
    }
}

/* ---- string instructions ---- */

struct string_op {
    bool rep, reads_si, writes_di, reads_di, compares, deterministic;
    uint32_t count, size;
    int dir;
};

static int string_accesses(const struct diff_track *t, const ZydisDecodedInstruction *in,
                           struct string_op *so, struct accesses *acc, const char **why)
{
    ZydisMnemonic mn = in->mnemonic;
    bool movs =
        mn == ZYDIS_MNEMONIC_MOVSB || mn == ZYDIS_MNEMONIC_MOVSW || mn == ZYDIS_MNEMONIC_MOVSD;
    bool stos =
        mn == ZYDIS_MNEMONIC_STOSB || mn == ZYDIS_MNEMONIC_STOSW || mn == ZYDIS_MNEMONIC_STOSD;
    bool lods =
        mn == ZYDIS_MNEMONIC_LODSB || mn == ZYDIS_MNEMONIC_LODSW || mn == ZYDIS_MNEMONIC_LODSD;
    bool cmps =
        mn == ZYDIS_MNEMONIC_CMPSB || mn == ZYDIS_MNEMONIC_CMPSW || mn == ZYDIS_MNEMONIC_CMPSD;
    bool a16 = in->address_width == 16;
    *so = (struct string_op){.size = in->operand_width / 8, .dir = t->df ? -1 : 1};
    so->compares = cmps || !(movs || stos || lods);
    so->reads_si = movs || lods || cmps;
    so->writes_di = movs || stos;
    so->reads_di = cmps || !(movs || stos || lods);
    bool repne = in->attributes & ZYDIS_ATTRIB_HAS_REPNE;
    so->rep =
        in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    if (repne && !so->compares) {
        *why = "REPNE on a non-comparing string instruction";
        return -1;
    }
    if (so->rep && !(t->known & (1u << DIFF_ECX))) {
        *why = "REP with an unknown count";
        return -1;
    }
    so->count = !so->rep ? 1 : a16 ? (t->val[DIFF_ECX] & 0xFFFF) : t->val[DIFF_ECX];
    so->deterministic = !so->rep || !so->compares || so->count == 0;
    if (so->count == 0)
        return 0;
    if (so->count > DIFF_DATA_SIZE) {
        *why = "string count larger than the data area";
        return -1;
    }
    for (int which = 0; which < 2; which++) {
        int g = which ? DIFF_EDI : DIFF_ESI;
        bool used = which ? (so->writes_di || so->reads_di) : so->reads_si;
        if (!used)
            continue;
        if (!(t->known & (1u << g))) {
            *why = "string pointer unknown";
            return -1;
        }
        int64_t p = a16 ? (t->val[g] & 0xFFFF) : t->val[g];
        int64_t span = (int64_t)(so->count - 1) * so->size;
        int64_t lo = so->dir > 0 ? p : p - span;
        if (lo < 0) {
            *why = "string range wraps";
            return -1;
        }
        add_access(acc, (uint32_t)lo, so->count * so->size, which && so->writes_di);
    }
    return 0;
}

/* ESI/EDI/ECX after a string instruction whose iteration count is known. */
static void string_regs(struct diff_track *t, const struct diff_track *pre,
                        const ZydisDecodedInstruction *in, const struct string_op *so)
{
    const int regs[2] = {DIFF_ESI, DIFF_EDI};
    const bool used[2] = {so->reads_si, so->writes_di || so->reads_di};
    if (!so->deterministic) {
        /* REPE/REPNE CMPS/SCAS stop on data; Zydis does not list their
         * ESI/EDI writes, so forget the pointers here. */
        for (int i = 0; i < 2; i++)
            if (used[i])
                t->known &= (uint8_t)~(1u << regs[i]);
        t->known &= (uint8_t)~(1u << DIFF_ECX);
        return;
    }
    bool a16 = in->address_width == 16;
    uint32_t mask = a16 ? 0xFFFF : 0xFFFFFFFF;
    uint32_t step = (uint32_t)(so->dir * (int64_t)so->count * so->size);
    for (int i = 0; i < 2; i++) {
        int g = regs[i];
        if (!(pre->known & (1u << g)))
            continue;
        uint32_t v = pre->val[g];
        if (used[i])
            v = (v & ~mask) | ((v + step) & mask);
        t->val[g] = v;
        t->known |= 1u << g;
    }
    if (so->rep && (pre->known & (1u << DIFF_ECX))) {
        t->val[DIFF_ECX] = pre->val[DIFF_ECX] & ~mask;
        t->known |= 1u << DIFF_ECX;
    }
}

/* ---- effects ---- */

/* The count a shift or rotate executes with, or -1 when unknown. */
static int64_t count_of(const struct diff_track *t, const ZydisDecodedInstruction *in,
                        const ZydisDecodedOperand *ops)
{
    unsigned i =
        (in->mnemonic == ZYDIS_MNEMONIC_SHLD || in->mnemonic == ZYDIS_MNEMONIC_SHRD) ? 2 : 1;
    if (i >= in->operand_count_visible)
        return -1;
    if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return (int64_t)(ops[i].imm.value.u & 0xFF);
    if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && reg_known(t, ops[i].reg.value))
        return reg_get(t, ops[i].reg.value) & 0xFF;
    return -1;
}

/* BSF/BSR leave the destination undefined for a zero source (SDM Vol. 2
 * "BSF"; AMD leaves it unchanged): true unless the source is known to be
 * non-zero. */
static bool bitscan_dest_undefined(const struct diff_track *t, const ZydisDecodedInstruction *in,
                                   const ZydisDecodedOperand *src)
{
    uint32_t v = 0;
    if (src->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (!reg_known(t, src->reg.value))
            return true;
        v = reg_get(t, src->reg.value);
    } else {
        const char *why;
        uint32_t a;
        unsigned n = in->operand_width / 8;
        if (effective_address(t, in, src, 0, &a, &why) < 0 || !in_data(a, n) || is_dirty(t, a, n))
            return true;
        for (unsigned i = 0; i < n; i++)
            v |= (uint32_t)t->data[a - DIFF_DATA_BASE + i] << (8 * i);
    }
    return v == 0;
}

/* Register values the tracker can compute, from the state before. */
static void model_values(struct diff_track *t, const struct diff_track *pre,
                         const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
    const ZydisDecodedOperand *d = &ops[0], *s = &ops[1];
    if (in->operand_count_visible < 2 || d->type != ZYDIS_OPERAND_TYPE_REGISTER)
        return;
    switch (in->mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        if (s->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
            reg_set(t, pre, d->reg.value, (uint32_t)s->imm.value.u);
        else if (s->type == ZYDIS_OPERAND_TYPE_REGISTER && reg_known(pre, s->reg.value))
            reg_set(t, pre, d->reg.value, reg_get(pre, s->reg.value));
        break;
    case ZYDIS_MNEMONIC_LEA: {
        uint32_t a;
        const char *why;
        if (effective_address(pre, in, s, 0, &a, &why) == 0)
            reg_set(t, pre, d->reg.value, a);
        break;
    }
    case ZYDIS_MNEMONIC_XCHG:
        if (s->type == ZYDIS_OPERAND_TYPE_REGISTER && reg_known(pre, s->reg.value) &&
            reg_known(pre, d->reg.value)) {
            uint32_t a = reg_get(pre, d->reg.value), b = reg_get(pre, s->reg.value);
            reg_set(t, pre, d->reg.value, b);
            struct diff_track mid = *t;
            reg_set(t, &mid, s->reg.value, a);
        }
        break;
    default:
        break;
    }
}

/* Registers written: unknown from now on, and defined again after an
 * unconditional 32-bit write. Only the stack instructions may write ESP. */
static int apply_reg_writes(struct diff_track *t, enum kind k, const ZydisDecodedInstruction *in,
                            const ZydisDecodedOperand *ops, const char **why)
{
    for (unsigned i = 0; i < in->operand_count; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_REGISTER ||
            !(op->actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE)))
            continue;
        int g = gpr_of(op->reg.value);
        if (g < 0)
            continue;
        if (g == DIFF_ESP && !(k >= K_PUSH && k <= K_LEAVE)) {
            *why = "writes ESP";
            return -1;
        }
        t->known &= (uint8_t)~(1u << g);
        if ((op->actions & ZYDIS_OPERAND_ACTION_WRITE) && reg_bits(op->reg.value) == 32)
            t->poison &= (uint8_t)~(1u << g);
    }
    return 0;
}

static int apply_effects(struct diff_track *t, enum kind k, const ZydisDecodedInstruction *in,
                         const ZydisDecodedOperand *ops, const struct string_op *so,
                         uint32_t new_esp, const char **why)
{
    const struct diff_track pre = *t;
    bool dest_undef = false;
    if (k == K_BITSCAN)
        dest_undef = bitscan_dest_undefined(&pre, in, &ops[1]);
    if (in->mnemonic == ZYDIS_MNEMONIC_BSWAP && in->operand_width == 16)
        dest_undef = true; /* SDM Vol. 2 "BSWAP": undefined for 16-bit registers */

    const ZydisAccessedFlags *f = in->cpu_flags;
    uint16_t zw = (uint16_t)((f->modified | f->set_0 | f->set_1 | f->undefined) & DIFF_FL_ARITH);
    if (k == K_STRING && so->count == 0)
        zw = 0;
    struct diff_flag_effect eff;
    diff_flag_effect(in->mnemonic, in->operand_width, count_of(&pre, in, ops), zw, &eff);
    t->flag_poison = (uint16_t)((t->flag_poison & ~eff.written) | eff.undefined);
    dest_undef |= eff.dest_undefined;
    if (in->mnemonic == ZYDIS_MNEMONIC_CLD || in->mnemonic == ZYDIS_MNEMONIC_STD)
        t->df = in->mnemonic == ZYDIS_MNEMONIC_STD;

    if (apply_reg_writes(t, k, in, ops, why) < 0)
        return -1;
    model_values(t, &pre, in, ops);
    if (k == K_STRING)
        string_regs(t, &pre, in, so);
    if (k >= K_PUSH && k <= K_LEAVE) {
        t->val[DIFF_ESP] = new_esp;
        t->known |= 1u << DIFF_ESP;
        t->poison &= (uint8_t)~(1u << DIFF_ESP);
        if (k == K_ENTER) {
            t->val[DIFF_EBP] = pre.val[DIFF_ESP] - 4;
            t->known |= 1u << DIFF_EBP;
        }
    }
    if (dest_undef) {
        if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER) {
            *why = "undefined result stored to memory";
            return -1;
        }
        int g = gpr_of(ops[0].reg.value);
        t->poison |= (uint8_t)(1u << g);
        t->known &= (uint8_t)~(1u << g);
    }
    return 0;
}

/* ---- x87 condition codes ---- */

/* The condition codes C0-C3 after an x87 instruction (SDM Vol. 2 "FPU
 * Flags Affected"): the compares and partial remainders define all four,
 * most instructions define only C1 (C0, C2, C3 undefined), the control
 * instructions that do not store the status word leave all four
 * undefined. FCOMI and its kin leave C0, C2, C3 alone; the SDM has them
 * clear C1, Intel processors keep it (docs/fpu-status.md), so C1 counts
 * as undefined there. Reading undefined ones (FNSTSW) is refused. */
enum { CC_C1 = 1u << 1, CC_ALL = 0xF, CC_BUT_C1 = CC_ALL & ~CC_C1 };

static int x87_cc(struct diff_track *t, ZydisMnemonic mn, const char **why)
{
    switch (mn) {
    case ZYDIS_MNEMONIC_FNSTSW:
        if (t->x87_cc_poison) {
            *why = "reads undefined x87 condition codes";
            return -1;
        }
        return 0;
    case ZYDIS_MNEMONIC_FNSTCW: case ZYDIS_MNEMONIC_FWAIT:
        return 0;
    case ZYDIS_MNEMONIC_FCOM: case ZYDIS_MNEMONIC_FCOMP: case ZYDIS_MNEMONIC_FCOMPP:
    case ZYDIS_MNEMONIC_FUCOM: case ZYDIS_MNEMONIC_FUCOMP: case ZYDIS_MNEMONIC_FUCOMPP:
    case ZYDIS_MNEMONIC_FICOM: case ZYDIS_MNEMONIC_FICOMP: case ZYDIS_MNEMONIC_FTST:
    case ZYDIS_MNEMONIC_FPREM: case ZYDIS_MNEMONIC_FPREM1:
        t->x87_cc_poison = 0;
        return 0;
    case ZYDIS_MNEMONIC_FCOMI: case ZYDIS_MNEMONIC_FCOMIP: case ZYDIS_MNEMONIC_FUCOMI:
    case ZYDIS_MNEMONIC_FUCOMIP:
        t->x87_cc_poison |= CC_C1;
        return 0;
    case ZYDIS_MNEMONIC_FLDCW: case ZYDIS_MNEMONIC_FNCLEX: case ZYDIS_MNEMONIC_FFREE:
        t->x87_cc_poison = CC_ALL;
        return 0;
    default:
        t->x87_cc_poison = CC_BUT_C1;
        return 0;
    }
}

/* ---- one instruction ---- */

static ZydisDecoder decoder;
static bool decoder_ready;

static int decode(const uint8_t *code, size_t avail, ZydisDecodedInstruction *in,
                  ZydisDecodedOperand *ops, bool *raises_ud)
{
    if (!decoder_ready) {
        ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
        decoder_ready = true;
    }
    *raises_ud = false;
    ZyanStatus st = ZydisDecoderDecodeFull(&decoder, code, avail, in, ops);
    if (st == ZYDIS_STATUS_ILLEGAL_LOCK && avail > 1 && code[0] == 0xF0) {
        /* LOCK on an instruction that cannot take it raises #UD (SDM
         * Vol. 2 "LOCK"): valid as a case, it has no other effect. */
        st = ZydisDecoderDecodeFull(&decoder, code + 1, avail - 1, in, ops);
        *raises_ud = true;
        if (ZYAN_SUCCESS(st))
            in->length++;
    }
    return ZYAN_SUCCESS(st) ? in->length : -1;
}

int diff_track_step(struct diff_track *t, const uint8_t *code, size_t avail, const char **why)
{
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    bool raises_ud;
    int len = decode(code, avail, &in, ops, &raises_ud);
    if (len < 0) {
        *why = "undecodable";
        return -1;
    }
    enum kind k = kind_of(&in);
    if (k == K_INVALID) {
        *why = "instruction not modelled";
        return -1;
    }
    if (in.attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS)) {
        *why = "FS/GS prefix";
        return -1;
    }
    if (raises_ud || k == K_TRAP)
        return len;
    if (check_reads(t, &in, ops, why) < 0)
        return -1;

    struct accesses acc = {.n = 0};
    struct string_op so = {.count = 1};
    uint32_t new_esp = t->val[DIFF_ESP];
    int r;
    switch (k) {
    case K_PUSH: case K_POP: case K_PUSHA: case K_POPA: case K_ENTER: case K_LEAVE:
        r = stack_op(t, k, &in, ops, &acc, &new_esp, why);
        break;
    case K_STRING: r = string_accesses(t, &in, &so, &acc, why); break;
    case K_XLAT: r = xlat_accesses(t, &in, &acc, why); break;
    case K_BITOP: r = bitop_accesses(t, &in, ops, &acc, why); break;
    default: r = generic_accesses(t, &in, ops, &acc, why); break;
    }
    if (r < 0)
        return -1;
    /* A locked access split across cache lines is a bus lock: Linux's
     * split-lock mitigation then sleeps the oracle ~10 ms per instruction
     * (split_lock_mitigate) or kills it (split_lock_detect=fatal). */
    bool locked = (in.attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
                  (in.mnemonic == ZYDIS_MNEMONIC_XCHG && acc.n > 0);
    for (unsigned i = 0; i < acc.n; i++) {
        if (!in_data(acc.a[i].addr, acc.a[i].len)) {
            *why = "memory access outside the data area";
            return -1;
        }
        if (locked && (acc.a[i].addr & 63) + acc.a[i].len > 64) {
            *why = "split lock";
            return -1;
        }
    }
    if (k == K_X87 && x87_cc(t, in.mnemonic, why) < 0)
        return -1;
    if (apply_effects(t, k, &in, ops, &so, new_esp, why) < 0)
        return -1;
    for (unsigned i = 0; i < acc.n; i++)
        if (acc.a[i].write)
            mark_dirty(t, acc.a[i].addr, acc.a[i].len);
    /* Room below ESP for the guest's exception frame (diff_guest.S). */
    uint32_t esp = t->val[DIFF_ESP];
    if (!(t->known & (1u << DIFF_ESP)) || esp < DIFF_DATA_BASE + 16 || esp > DIFF_DATA_END) {
        *why = "ESP leaves the data area";
        return -1;
    }
    return len;
}

void diff_track_init(struct diff_track *t, const struct diff_case *c)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->val, c->gpr, sizeof(t->val));
    t->known = 0xFF;
    t->df = c->eflags & DIFF_FL_DF;
    memcpy(t->data, c->data, sizeof(t->data));
}

static const uint8_t end_marker[DIFF_END_LEN] = {0xFF, 0x25, DIFF_END_VEC & 0xFF,
                                                 (DIFF_END_VEC >> 8) & 0xFF,
                                                 (DIFF_END_VEC >> 16) & 0xFF, DIFF_END_VEC >> 24};

int diff_analyse(const struct diff_case *c, struct diff_meta *m, const char **why,
                 unsigned *bad_insn)
{
    *bad_insn = 0;
    if (c->code_len < DIFF_END_LEN || c->code_len > DIFF_CODE_MAX ||
        memcmp(c->code + c->code_len - DIFF_END_LEN, end_marker, DIFF_END_LEN)) {
        *why = "no end marker";
        return -1;
    }
    uint32_t esp = c->gpr[DIFF_ESP];
    if (esp < DIFF_DATA_BASE + 16 || esp > DIFF_DATA_END) {
        *why = "initial ESP outside the data area";
        return -1;
    }
    struct diff_track t;
    diff_track_init(&t, c);
    unsigned end = c->code_len - DIFF_END_LEN, off = 0, n = 0;
    memset(m, 0, sizeof(*m));
    while (off < end) {
        if (n == DIFF_MAX_INSNS) {
            *why = "too many instructions";
            *bad_insn = n;
            return -1;
        }
        m->off[n] = (uint8_t)off;
        m->undef_flags[n] = t.flag_poison;
        m->undef_regs[n] = t.poison;
        int len = diff_track_step(&t, c->code + off, end - off, why);
        if (len < 0) {
            *bad_insn = n;
            return -1;
        }
        off += (unsigned)len;
        n++;
    }
    m->n = n;
    m->off[n] = (uint8_t)off;
    m->undef_flags[n] = t.flag_poison;
    m->undef_regs[n] = t.poison;
    return 0;
}
