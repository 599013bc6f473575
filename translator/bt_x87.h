/* translator/ internal: x87 instructions in translated code (bt_x87.c).
 * Included by bt_internal.h; the state lives in struct bt (x87).
 *
 * Translated x87 instructions run on the host FPU, which then holds the
 * guest's x87 registers; cpu->fx (the FXSAVE image the interpreter and
 * fpu*.c use) is stale meanwhile and cpu->fx_owner says so. Ownership:
 *   - the dispatcher loads the state (FXRSTOR) before it enters a block
 *     of a BT_MODE_X87 key when the host FPU does not hold it; chained
 *     blocks and inline lookups keep the key's mode, so every block a
 *     run reaches finds the state loaded;
 *   - anything that reads or writes cpu->fx calls hlp_fx_sync first
 *     (the fpu*.c entry, reset; the engine at the end of a run), which
 *     writes it back (FXSAVE) and leaves the host FPU initialized
 *     (FNINIT); a helper call that did so reloads before it returns into
 *     translated code.
 * popek's C code has no x87 instructions (the libraries it calls neither
 * for what it calls), so the guest's registers may stay in the host FPU
 * while the dispatcher and the devices run; the guest's MXCSR never
 * reaches the host (the image keeps the host's).
 *
 * The x87 last-instruction pointers (SDM Vol. 1 8.1.8-8.1.9) the host
 * FPU records are host addresses. Translated code stores the guest's
 * where a group of x87 instructions ends (struct bt_x87_rec); the
 * selectors are taken at the next exit from translated code, before
 * anything can load a segment register. The write-back puts them into
 * cpu->fx exactly as fpu.c (record_last) does. */
#ifndef POPEK_BT_X87_H
#define POPEK_BT_X87_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder/decoder.h"
#include "vmm_helpers/vmm_helpers.h"

struct bt;
struct bt_asm;

/* The last-instruction pointers as translated code leaves them (r15-
 * relative through struct bt). A group is a run of consecutive natively
 * translated x87 instructions; registers do not change inside one
 * (FNSTSW AX ends it). Its code stores the pointers of its last
 * non-control instruction once, where it ends (bt_x87_flush), and marks
 * itself running before its second one: a fault inside it (#PF on an operand,
 * #MF at a waiting instruction) leaves with group set, and the engine
 * then takes the pointers from the instructions between group_eip and the
 * faulting one (bt_x87_exited). */
struct bt_x87_rec {
    uint32_t fip;
    uint16_t fop;       /* as fpu.c records it: (opcode - D8H) << 8 | ModRM */
    uint8_t fcs_new;    /* 1: fip was set since the last exit */
    uint8_t group;      /* 1: a group from group_eip on has not stored them */
    uint32_t group_eip;
    uint32_t fdp;       /* effective address of the last memory operand */
    uint8_t fds_seg;    /* its segment (enum hlp_sreg) */
    uint8_t fds_new;    /* 1: fdp was set since the last exit */
};
_Static_assert(offsetof(struct bt_x87_rec, fcs_new) == offsetof(struct bt_x87_rec, fop) + 2 &&
                   offsetof(struct bt_x87_rec, group) == offsetof(struct bt_x87_rec, fop) + 3 &&
                   offsetof(struct bt_x87_rec, group_eip) == offsetof(struct bt_x87_rec, fop) + 4 &&
                   offsetof(struct bt_x87_rec, fds_new) == offsetof(struct bt_x87_rec, fds_seg) + 1,
               "one store writes a value with its flags (bt_x87.c)");

/* The emitter's view of the group being translated (struct bt_asm). */
struct bt_x87_pending {
    bool group;       /* a non-control x87 instruction since the last flush */
    bool marked;      /* its code has set bt_x87_rec.group */
    bool mem;         /* ... with a memory operand: m */
    uint16_t fop;
    uint32_t fip, first;
    struct dec_mem m;
};

struct bt_x87 {
    struct hlp_fx_owner owner; /* cpu->fx_owner while the host FPU holds the state */
    struct bt_x87_rec rec;
    uint16_t fcs, fds;          /* the selectors of rec, taken at exits */
    _Alignas(16) uint8_t img[512]; /* FXSAVE/FXRSTOR image; MXCSR is the host's */
};

/* The key bit: x87 instructions are translated (CR0.EM and CR0.TS clear,
 * so none raises #NM; CR0.NE set, so an unmasked exception is the #MF
 * the host raises too, not the FERR#/IRQ 13 of SDM Vol. 1 D.2). */
uint32_t bt_x87_mode(const struct hlp_cpu *cpu);
void bt_x87_init(struct bt *bt);
/* Loads the guest x87 state into the host FPU. */
void bt_x87_load(struct bt *bt);
/* At every exit from translated code (dispatcher, helper call): the
 * pointers of a group a fault interrupted, the selectors of what
 * translated code recorded. */
void bt_x87_exited(struct bt *bt);
/* The block builder's side: whether d is translated as part of the
 * current group (else the group ends before it), and the store of the
 * group's pointers. bt_x87_emit, the emitter, is declared next to
 * bt_emit_insn. */
bool bt_x87_continues(const struct dec_insn *d, uint32_t mode);
void bt_x87_flush(struct bt_asm *a);

#endif
