/* translator/ public interface: the `bt` engine, lazy basic-block binary
 * translation of 32-bit protected-mode guest code to x86-64 host code
 * (design: shared DESIGN.md "The translator"; state: docs/bt-status.md).
 *
 * Guest code runs natively once rewritten: guest registers in host
 * registers, guest memory through the softmmu's shadow windows at the GS
 * base, guest arithmetic flags in host RFLAGS. Sensitive and privileged
 * instructions, and everything the emitter does not rewrite, run on the
 * interpreter (vmm_helpers/), as do real-mode, V86 and 16-bit code. */
#ifndef POPEK_TRANSLATOR_H
#define POPEK_TRANSLATOR_H

#include <stddef.h>
#include <stdint.h>

#include "decoder/decoder.h"
#include "machine/machine.h"

extern const struct mach_engine bt_engine;

/* The emitter on its own, for tests and tools: rewrites the one 32-bit
 * instruction at bytes (guest EIP eip, flat segments, CPL 0) and writes
 * its host code to out. Returns the host code's length, 0 when the
 * instruction would be handed to the interpreter, -1 when it does not
 * decode or out is too small (cap >= 192 always suffices). Control
 * transfers give only their code before the exit stubs. */
int bt_rewrite_one(const uint8_t *bytes, size_t len, uint32_t eip, uint8_t *out, size_t cap);

/* What a block of 32-bit flat protected-mode code at CPL 0 does with an
 * instruction (16-bit, real-mode and V86 code runs on the interpreter
 * whole). */
enum bt_handling {
    BT_HANDLE_UNDECODED,  /* no instruction in 32-bit code: #UD (#GP past 15 bytes) */
    BT_HANDLE_TRANSLATED, /* the emitter's host code runs it inside the block */
    BT_HANDLE_HELPER,     /* a call from the block to the helper, which runs it
                           * on the interpreter's semantics; the block goes on
                           * unless the mode, the code or the interrupt window
                           * changed. On a page checked by hash for
                           * self-modifying code it ends the block instead. */
    BT_HANDLE_ENDS_BLOCK, /* the block ends before it and the dispatcher has the
                           * interpreter run it: control transfers, HLT */
};

/* The block builder's choice for the 32-bit instruction at bytes, asked
 * of the emitter and the builder themselves (bt_rewrite.c); d receives
 * its decode unless BT_HANDLE_UNDECODED. */
enum bt_handling bt_handling_of(const uint8_t *bytes, size_t len, struct dec_insn *d);

#endif
