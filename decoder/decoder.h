/* decoder/ public interface: x86 instruction bytes -> struct dec_insn.
 *
 * Decoding is Zydis 4.0.0 (ZydisDecoderDecodeFull, once per instruction) in
 * ZYDIS_MACHINE_MODE_LEGACY_16 or LEGACY_32, turned into popek's compact
 * record: length, opcode bytes, prefixes, effective sizes, up to four
 * operands with popek's own register numbering, the memory operand's parts,
 * a control-flow kind and a sensitivity class with flags. Everything the
 * interpreter, the translator and the helpers need is in the record; the
 * translator, which re-encodes instructions with the Zydis encoder, can get
 * Zydis's own structures from the same decode (dec_decode_zydis).
 *
 * The decoder accepts everything Zydis decodes in these modes (i686, x87,
 * MMX, SSE..AVX-512, AMD extensions); the record says which ISA extension an
 * instruction needs (dec_insn.isa) and the interpreter raises #UD for what
 * popek's CPU model does not advertise. Encodings whose meaning changes
 * with a CPU feature rather than becoming #UD (F3 0F BD is BSR without
 * LZCNT, 0F 1E is a hint NOP without CET, ...) follow the features given to
 * dec_init.
 *
 * The mnemonic is Zydis's own ZydisMnemonic (compare with ZYDIS_MNEMONIC_*;
 * dec_mnemonic_name gives the text). Records live in memory only, never in
 * files or across processes, and decoder.c pins Zydis 4.0.0 at compile
 * time, so the values are stable wherever a record can travel.
 *
 * The caller allocates the context once (dec_init); dec_decode allocates
 * nothing and keeps no state, so one context can serve several threads. */
#ifndef POPEK_DECODER_H
#define POPEK_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Zydis/Decoder.h>
#include <Zydis/Formatter.h>
#include <Zydis/Mnemonic.h>

/* ---- context ------------------------------------------------------------ */

/* The code-segment size decides: real mode, 16-bit protected mode and V86
 * mode decode as DEC_MODE_16, 32-bit protected mode as DEC_MODE_32 (CS.D,
 * SDM Vol3 3.4.5). */
enum dec_mode {
    DEC_MODE_16 = 0,
    DEC_MODE_32 = 1,
};

/* CPU features that change what an encoding means (not just whether it is
 * #UD). Without them the decoder reads these bytes as an i686-class CPU
 * with SSE2 does. */
enum dec_feature {
    DEC_FEAT_LZCNT = 1u << 0,    /* F3 0F BD: LZCNT, else BSR */
    DEC_FEAT_TZCNT = 1u << 1,    /* F3 0F BC: TZCNT (BMI1), else BSF */
    DEC_FEAT_MPX = 1u << 2,      /* 0F 1A/1B: BND*, F2 on branches: BND; else hint
                                  * NOPs and an ignored F2 */
    DEC_FEAT_CET = 1u << 3,      /* 0F 1E: ENDBR32/64, RDSSPD; 3E on indirect
                                  * branches: NOTRACK; else hint NOPs and a DS
                                  * prefix. The other CET instructions always
                                  * decode (isa ZYDIS_ISA_EXT_CET). */
    DEC_FEAT_CLDEMOTE = 1u << 4, /* 0F 1C /0: CLDEMOTE, else hint NOP */
};
/* (F3 0F 09 decodes as WBINVD either way: Zydis 4.0 has no WBNOINVD.) */

/* A register in popek's numbering. */
struct dec_reg {
    uint8_t cls;    /* enum dec_reg_class */
    uint8_t num;    /* number within the class (GPR: 0-7 = EAX..EDI, SDM Table 2-2) */
    uint8_t high;   /* GPR only: AH, CH, DH, BH, i.e. bits 8-15 of GPR num */
    uint8_t pad_;
    uint16_t width; /* bits */
};

struct dec_ctx {
    ZydisDecoder zd[2]; /* by enum dec_mode */
    ZydisFormatter fmt;
    unsigned features;  /* enum dec_feature bits */
    struct dec_reg regs[ZYDIS_REGISTER_MAX_VALUE + 1]; /* by ZydisRegister */
    uint16_t reg_state[ZYDIS_REGISTER_MAX_VALUE + 1];  /* DEC_F_X87 / DEC_F_SIMD
                                                        * of an operand in it */
};

/* Prepares ctx for decoding with the given enum dec_feature bits.
 * Returns 0, or -1 if Zydis refuses (a build problem, not a guest one). */
int dec_init(struct dec_ctx *ctx, unsigned features);

/* ---- the instruction record --------------------------------------------- */

enum dec_reg_class {
    DEC_RC_NONE = 0,
    DEC_RC_GPR,   /* num 0-7, width 8/16/32, high for AH..BH */
    DEC_RC_SEG,   /* num = enum dec_seg */
    DEC_RC_CR,    /* CR0-CR15 (num) */
    DEC_RC_DR,    /* DR0-DR15 */
    DEC_RC_ST,    /* x87 ST(i), relative to TOP */
    DEC_RC_MMX,
    DEC_RC_XMM,
    DEC_RC_YMM,
    DEC_RC_ZMM,
    DEC_RC_K,     /* AVX-512 opmask */
    DEC_RC_BND,   /* MPX bounds */
    DEC_RC_TMM,   /* AMX tiles */
    DEC_RC_OTHER, /* flags, EIP, GDTR.., x87 control/status/tag, MXCSR, XCR0,
                   * PKRU, test registers: never a visible operand in the
                   * legacy modes (test_decoder_table checks it) */
};

/* Segment registers in their architectural order (Sreg field, SDM Vol2
 * 3.1.1.3). */
enum dec_seg {
    DEC_SEG_ES = 0,
    DEC_SEG_CS = 1,
    DEC_SEG_SS = 2,
    DEC_SEG_DS = 3,
    DEC_SEG_FS = 4,
    DEC_SEG_GS = 5,
    DEC_SEG_NONE = 0xFF,
};

#define DEC_NOREG 0xFF /* no base or index register */

enum dec_op_kind {
    DEC_OP_NONE = 0,
    DEC_OP_REG,
    DEC_OP_MEM,
    DEC_OP_IMM,
    DEC_OP_REL, /* relative branch displacement: see dec_rel_target */
    DEC_OP_PTR, /* far pointer seg:off encoded in the instruction (9A, EA) */
};

/* dec_op.flags */
enum {
    DEC_OPF_READ = 1u << 0,
    DEC_OPF_WRITE = 1u << 1,
    DEC_OPF_COND = 1u << 2,         /* the read or write is conditional (CMOVcc, ...) */
    DEC_OPF_SEG_OVERRIDE = 1u << 3, /* memory: seg comes from a prefix */
    DEC_OPF_AGEN = 1u << 4,         /* memory: address only, no access, no fault
                                     * (LEA, NOP r/m, PREFETCHh) */
    DEC_OPF_VSIB = 1u << 5,         /* memory: index is a vector register number */
    DEC_OPF_IMPLICIT = 1u << 6,     /* implied by the opcode, not encoded
                                     * (AL in IN AL,DX; the 1 of SHL r/m,1) */
    DEC_OPF_SIGNED = 1u << 7,       /* immediate: a shorter encoding sign-extended
                                     * to the operand size (imm8 of 83 /r, 6A, 6B) */
};

/* A memory operand. The effective address is
 * (base + index * scale + disp) mod 2^addrsize of the instruction; 16-bit
 * forms keep their registers ([bp+di+disp8]: base 5 (BP), index 7 (DI),
 * scale 1). */
struct dec_mem {
    int32_t disp;  /* sign-extended displacement; moffs: the offset */
    uint8_t seg;   /* enum dec_seg: the segment actually used */
    uint8_t base;  /* GPR number or DEC_NOREG */
    uint8_t index; /* GPR number, vector register (DEC_OPF_VSIB) or DEC_NOREG */
    uint8_t scale; /* 1, 2, 4, 8; 0 without index */
};

struct dec_op {
    uint8_t kind;  /* enum dec_op_kind */
    uint8_t flags; /* DEC_OPF_* */
    uint16_t size; /* bits, as the instruction uses the operand (a
                    * sign-extended imm8: the operand size; DEC_OP_REL:
                    * the encoded displacement) */
    union {
        struct dec_reg reg;
        struct dec_mem mem;
        uint32_t imm; /* as the instruction uses it: sign-extended to 32 bits
                       * when DEC_OPF_SIGNED; mask with size */
        int32_t rel;  /* DEC_OP_REL: displacement from the next instruction */
        struct {
            uint32_t off;
            uint16_t seg;
        } ptr;
    };
};

/* How an instruction transfers control. */
enum dec_cf {
    DEC_CF_NONE = 0,
    DEC_CF_JMP_REL,  /* E9, EB */
    DEC_CF_JCC,      /* 7x, 0F 8x */
    DEC_CF_CALL_REL, /* E8 */
    DEC_CF_JMP_IND,  /* FF /4 */
    DEC_CF_CALL_IND, /* FF /2 */
    DEC_CF_RET,      /* C3 */
    DEC_CF_RET_IMM,  /* C2 iw: ops[0] is the byte count */
    DEC_CF_JMP_FAR,  /* EA ptr (DEC_OP_PTR), FF /5 m16:16/32 (DEC_OP_MEM) */
    DEC_CF_CALL_FAR, /* 9A ptr, FF /3 m */
    DEC_CF_RET_FAR,  /* CB, CA iw (ops[0] then is the byte count) */
    DEC_CF_LOOP,     /* LOOP, LOOPE, LOOPNE: count register by address size */
    DEC_CF_JCXZ,     /* JCXZ/JECXZ: register by address size */
    DEC_CF_INT,      /* CD ib */
    DEC_CF_INT3,     /* CC */
    DEC_CF_INTO,     /* CE */
    DEC_CF_INT1,     /* F1 (ICEBP) */
    DEC_CF_IRET,
    DEC_CF_SYSENTER,
    DEC_CF_SYSEXIT,
    DEC_CF_SYSCALL,
    DEC_CF_SYSRET,
    DEC_CF_HLT,
    DEC_CF_UD,       /* UD0, UD1, UD2: always #UD */
    DEC_CF_XBEGIN,   /* RTM: ops[0] is the relative abort target */
    DEC_CF_XEND,     /* RTM XEND, XABORT: may resume at the abort target */
    DEC_CF_COUNT_,
};

/* Sensitivity classes, in terms of Popek and Goldberg (CACM 17(7), 1974):
 * an instruction is *sensitive* if it changes (control-sensitive) or
 * depends on (behaviour-sensitive) the machine's configuration: privilege
 * level, memory map, I/O, interrupt state; it is *privileged* if it traps
 * when executed outside supervisor mode. Trap-and-emulate works when the
 * sensitive instructions are a subset of the privileged ones; on x86 they
 * are not. popek never runs a sensitive instruction natively.
 *
 * Each mnemonic has one class (decoder/class_table.c, which explains every
 * entry against the SDM). MOV, PUSH, POP, JMP, CALL, RET, MOVSD and CMPSD
 * are refined by operand form (MOV CRn is privileged, PUSH ES sensitive,
 * JMP ptr16:32 sensitive, ...). */
enum dec_class {
    DEC_CLASS_NONE = 0,   /* never produced: the table covers every Zydis
                           * mnemonic (test_decoder_table proves it); treat
                           * like DEC_CLASS_SENSITIVE if it ever appears */
    DEC_CLASS_INNOCUOUS,  /* neither sensitive nor a control transfer: runs
                           * natively once memory operands are rewritten */
    DEC_CLASS_CONTROL,    /* near transfers inside the code segment (JMP,
                           * Jcc, CALL, RET, LOOP, JCXZ): innocuous, but the
                           * translator owns them */
    DEC_CLASS_STRING,     /* MOVS, CMPS, STOS, LODS, SCAS (and VIA PadLock):
                           * innocuous, but implicit ES:EDI and REP need a
                           * rewrite */
    DEC_CLASS_IO,         /* IN, OUT, INS, OUTS: control-sensitive; trap only
                           * when CPL > IOPL and the I/O bitmap denies */
    DEC_CLASS_IOPL,       /* CLI, STI: control-sensitive; trap only when
                           * CPL > IOPL */
    DEC_CLASS_PRIVILEGED, /* #GP/#UD whenever CPL > 0: LGDT, MOV CRn, HLT, ... */
    DEC_CLASS_SENSITIVE,  /* sensitive but unprivileged: POPF, PUSHF, SGDT,
                           * SIDT, SLDT, SMSW, STR, LAR, LSL, VERR, VERW,
                           * PUSH/POP/MOV Sreg, LDS.., far CALL/JMP/RET,
                           * INT n, IRET, SYSENTER, CPUID, RDTSC, FXSAVE, ... */
    DEC_CLASS_COUNT_,
};

/* dec_insn.prefixes: the prefixes that take effect */
enum {
    DEC_P_LOCK = 1u << 0,
    DEC_P_REP = 1u << 1,      /* F3 on a string/IO-string instruction: REP, or REPE for CMPS/SCAS */
    DEC_P_REPNE = 1u << 2,    /* F2 on one: REPNE for CMPS/SCAS; MOVS, STOS, LODS,
                               * INS, OUTS repeat with it as with F3 */
    DEC_P_OPSIZE = 1u << 3,   /* 66 changes the operand size (not a mandatory prefix) */
    DEC_P_ADDRSIZE = 1u << 4, /* 67 */
    DEC_P_SEG = 1u << 5,      /* a segment prefix: seg_override */
};

/* dec_insn.flags */
enum {
    DEC_F_MODRM = 1u << 0,     /* modrm is valid */
    DEC_F_SIB = 1u << 1,       /* sib is valid */
    DEC_F_MEM_READ = 1u << 2,  /* reads memory (explicit, string or stack operand) */
    DEC_F_MEM_WRITE = 1u << 3, /* writes memory */
    DEC_F_STACK = 1u << 4,     /* pushes or pops through SS:ESP (or SP: SS.B
                                * decides, which the record does not know) */
    DEC_F_STRING = 1u << 5,    /* string instruction: implicit DS:ESI / ES:EDI, REP */
    DEC_F_FAULTS = 1u << 6,    /* may raise an exception not caused by a memory
                                * operand, x87/SIMD state or the class's own
                                * privilege check: #DE, #BR, #OF, #UD, #MF at FWAIT */
    DEC_F_PM_ONLY = 1u << 7,   /* #UD in real-address and V86 mode (ARPL, LAR,
                                * LSL, LLDT, SLDT, LTR, STR, VERR, VERW) */
    DEC_F_IOPL_V86 = 1u << 8,  /* IOPL-sensitive in V86 mode: CLI, STI, PUSHF,
                                * POPF, INT n, IRET (SDM Vol3 20.2.7) */
    DEC_F_CR4_PRIV = 1u << 9,  /* #GP at CPL > 0 only under a CR4 bit: UMIP
                                * (SGDT, SIDT, SLDT, SMSW, STR), TSD (RDTSC,
                                * RDTSCP), PCE clear (RDPMC) */
    DEC_F_NO64 = 1u << 10,     /* opcode invalid or different in 64-bit mode
                                * (SDM Vol2 Table A-2 "i64", 40-4F, 63) */
    DEC_F_X87 = 1u << 11,      /* uses x87 FPU or MMX state: #NM under CR0.TS
                                * (FWAIT: TS and MP) or CR0.EM, MMX #UD under
                                * CR0.EM, pending #MF (SDM Vol3 2.5, 9.2) */
    DEC_F_SIMD = 1u << 12,     /* uses XMM/YMM/ZMM/opmask registers or MXCSR:
                                * #UD without CR4.OSFXSR or under CR0.EM, #NM
                                * under CR0.TS (SDM Vol3 13.1) */
    DEC_F_CODE32 = 1u << 13,   /* decoded as DEC_MODE_32 */
    DEC_F_VEX = 1u << 14,      /* VEX-encoded (C4/C5); like EVEX and XOP, #UD in
                                * real-address and V86 mode (SDM Vol2 2.3.2) */
    DEC_F_EVEX = 1u << 15,     /* EVEX-encoded (62) */
    DEC_F_XOP = 1u << 16,      /* AMD XOP (8F) */
    DEC_F_MORE_OPS = 1u << 17, /* more than DEC_MAX_OPS visible operands (some
                                * AMD XOP/FMA4 forms): ops[] holds the first four */
};

/* dec_insn.map */
enum dec_map {
    DEC_MAP_1B = 0, /* one-byte opcodes */
    DEC_MAP_0F,
    DEC_MAP_0F38,
    DEC_MAP_0F3A,
    DEC_MAP_3DNOW,  /* 0F 0F /r ib: opcode is the trailing byte */
    DEC_MAP_OTHER,  /* EVEX maps 5/6, XOP maps 8-10 */
};

#define DEC_MAX_OPS 4
#define DEC_MAX_LEN 15 /* SDM Vol2 2.3.11 */

struct dec_insn {
    uint32_t flags;            /* DEC_F_* */
    uint32_t eflags_read;      /* EFLAGS bits the instruction tests */
    uint32_t eflags_written;   /* EFLAGS bits it modifies, sets, clears or
                                * leaves undefined */
    uint16_t eflags_undefined; /* EFLAGS bits it leaves undefined (all within
                                * bits 0-15) */
    uint16_t mnemonic;         /* ZydisMnemonic (see below) */
    uint8_t len;
    uint8_t map;               /* enum dec_map */
    uint8_t opcode;            /* the opcode byte within its map */
    uint8_t modrm;             /* if DEC_F_MODRM */
    uint8_t sib;               /* if DEC_F_SIB */
    uint8_t prefixes;          /* DEC_P_* */
    uint8_t seg_override;      /* enum dec_seg, DEC_SEG_NONE without prefix */
    uint8_t opsize;            /* effective operand size: 8 (byte ops), 16, 32 */
    uint8_t addrsize;          /* effective address size: 16, 32 */
    uint8_t n_ops;             /* visible operands in ops[], in Intel order */
    uint8_t cls;               /* enum dec_class */
    uint8_t cf;                /* enum dec_cf */
    uint8_t isa;               /* ZydisISAExt: the extension that defines it */
    uint8_t bytes[DEC_MAX_LEN]; /* the instruction, len bytes */
    struct dec_op ops[DEC_MAX_OPS];
};

/* ---- decoding ---------------------------------------------------------- */

enum dec_status {
    DEC_OK = 0,
    DEC_NEED_MORE, /* the instruction continues past bytes + avail: fetch
                    * the next page and decode again with more bytes */
    DEC_INVALID,   /* #UD: no such instruction, bad prefix (LOCK where not
                    * allowed), bad register (MOV CS,r) */
    DEC_TOO_LONG,  /* #GP(0): longer than 15 bytes (SDM Vol2 2.3.11) */
};

/* Decodes the instruction at bytes[0..avail) in mode. On DEC_OK fills out;
 * otherwise out is unspecified. Pass at least DEC_MAX_LEN bytes when they
 * are available so that DEC_NEED_MORE means a real page crossing. */
enum dec_status dec_decode(const struct dec_ctx *ctx, enum dec_mode mode,
                           const uint8_t *bytes, size_t avail, struct dec_insn *out);

/* The same, also leaving Zydis's own decode in zi and zops (for the Zydis
 * encoder: ZydisEncoderDecodedInstructionToEncoderRequest). */
enum dec_status dec_decode_zydis(const struct dec_ctx *ctx, enum dec_mode mode,
                                 const uint8_t *bytes, size_t avail,
                                 struct dec_insn *out, ZydisDecodedInstruction *zi,
                                 ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT]);

/* Intel-syntax text of insn (Zydis formatter) as it would run at eip, for
 * --trace insn. Returns 0, or -1 when buf is too small. */
int dec_format(const struct dec_ctx *ctx, const struct dec_insn *insn,
               uint32_t eip, char *buf, size_t len);

const char *dec_mnemonic_name(const struct dec_insn *insn);
const char *dec_class_name(enum dec_class cls);
const char *dec_cf_name(enum dec_cf cf);

/* ModRM fields (SDM Vol2 2.1.5); reg is the opcode extension of group
 * opcodes ("/digit"). Valid when DEC_F_MODRM. */
static inline unsigned dec_modrm_mod(const struct dec_insn *d) { return d->modrm >> 6; }
static inline unsigned dec_modrm_reg(const struct dec_insn *d) { return (d->modrm >> 3) & 7; }
static inline unsigned dec_modrm_rm(const struct dec_insn *d) { return d->modrm & 7; }

/* Target of a DEC_OP_REL operand for the instruction at eip: with a 16-bit
 * operand size the result wraps to 16 bits (SDM JMP, Jcc, CALL: "IF
 * OperandSize = 16 THEN EIP <- tempEIP AND 0000FFFFH"). */
static inline uint32_t dec_rel_target(const struct dec_insn *d, const struct dec_op *op,
                                      uint32_t eip)
{
    uint32_t t = eip + d->len + (uint32_t)op->rel;
    return d->opsize == 16 ? (t & 0xFFFFu) : t;
}

#endif
