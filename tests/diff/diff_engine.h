/* tests/diff/ internal: running cases on popek's engines. */
#ifndef POPEK_DIFF_ENGINE_H
#define POPEK_DIFF_ENGINE_H

#include "diff.h"
#include "machine/machine.h"

/* The engines built into diff_run. */
size_t diff_engine_count(void);
const struct mach_engine *diff_engine_at(size_t i);
const struct mach_engine *diff_engine_find(const char *name);

/* A machine sized for the guest runtime, its console output discarded. */
struct machine *diff_engine_machine(uint64_t timeout_ns, struct mach_err *err);

/* The runner context for diff_engine_run (struct diff_runner.ctx). */
struct diff_engine_ctx {
    const struct mach_engine *engine;
    const char *image; /* diff_guest.bin */
};

int diff_engine_run(void *ctx, const struct diff_case *cases, size_t n,
                    struct diff_result *results, char *msg, size_t msglen);
/* The result of a case the engine stopped on: error_code holds the
 * enum mach_exit_kind, data the engine's message as a C string. */
void diff_engine_stop_result(struct diff_result *r, enum mach_exit_kind kind, const char *msg);

/* True when `got` differs from `want` only by a known bug of the host
 * KVM's instruction emulator (used for kvm without hardware assist); *note
 * names it. */
bool diff_engine_known_deviation(const struct diff_case *c, const struct diff_meta *m,
                                 const struct diff_result *want, const struct diff_result *got,
                                 const char **note);

#endif
