/* translator/ internal: the host-code primitives every emitter file
 * uses (bt_asm.c). Register numbers are host encodings: guest EAX..EDI
 * stay in rax..rdi (bt_internal.h), guest ESP is r8. */
#ifndef POPEK_BT_ASM_H
#define POPEK_BT_ASM_H

#include "translator/bt_internal.h"

enum { R_R8 = 8, R_R9 = 9, R_R10 = 10, R_R11 = 11, R_R12 = 12 };
enum { P_GS = 0x65, P_ADDR32 = 0x67, P_OPSIZE = 0x66 };

void bt_b1(struct bt_asm *a, uint8_t v);
void bt_d32(struct bt_asm *a, uint32_t v);
void bt_bytes(struct bt_asm *a, const void *v, size_t n);
/* RX address of the write position. */
const uint8_t *bt_rx_here(const struct bt_asm *a, const uint8_t *rx_start);
/* A rel32 at the write position reaching target (an RX address). */
void bt_rel32_to(struct bt_asm *a, const uint8_t *rx_start, const uint8_t *target);
/* The host register holding guest GPR guest (enum hlp_gpr). */
unsigned bt_host_reg(unsigned guest);
/* ModRM (+SIB, disp) for reg field reg and guest memory m. */
void bt_modrm_mem(struct bt_asm *a, unsigned reg, const struct dec_mem *m);
/* [gs:] addr32 [66] [REX] op modrm..: an access to guest memory m (or,
 * gs false, the address arithmetic of a LEA) with host register hreg
 * in the reg field. */
void bt_mem_insn(struct bt_asm *a, bool o16, const uint8_t *op, size_t n, unsigned hreg,
                 const struct dec_mem *m, bool gs);
/* m <- [ESP + disp] in SS. */
const struct dec_mem *bt_stack_at(struct dec_mem *m, int32_t disp);
/* lea r8d, [r8d + n]: moves ESP without touching the flags. */
void bt_add_esp(struct bt_asm *a, int32_t n);
/* mov dst32, src32 between host registers. */
void bt_mov_rr(struct bt_asm *a, unsigned dst, unsigned src);
/* mov dword [r15 + BT_RT_EIP], eip */
void bt_set_eip_imm(struct bt_asm *a, uint32_t eip);
/* The first memory operand of d that is accessed (not a LEA's), or NULL. */
const struct dec_op *bt_mem_operand(const struct dec_insn *d);
/* Whether data segment seg (enum hlp_sreg) is flat in a block's mode. */
bool bt_seg_flat(uint32_t mode, unsigned seg);
/* Whether data segment seg is based in a block's mode (bt_emit_seg.c). */
bool bt_seg_based(uint32_t mode, unsigned seg);
/* r9d <- the linear address of m through a based segment, flag-free
 * (r10 scratch); the access is then gs:[r9d] (bt_emit_seg.c). */
void bt_seg_lin_r9(struct bt_asm *a, const struct dec_mem *m);
/* r9d <- the 32-bit value of op, memory through a based segment. */
bool bt_seg_load_r9(struct bt_asm *a, const struct dec_op *op, uint32_t mode);
/* r9d <- the 32-bit value of op (a GPR, flat or based memory); false if not. */
bool bt_load_r9(struct bt_asm *a, const struct dec_op *op, uint32_t mode);
/* The inline indirect lookup of the target in r9d (jumps away). */
void bt_jmp_ind_lookup(struct bt_asm *a);
/* jcc rel32 with a zero displacement; returns its block offset, which
 * bt_jcc32_fix later points at the write position. */
size_t bt_jcc32(struct bt_asm *a, uint8_t cc);
void bt_jcc32_fix(struct bt_asm *a, size_t at);

#endif
