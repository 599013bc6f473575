/* cli/ internal: the engines popek knows and how --accel picks one. */
#ifndef POPEK_CLI_ENGINES_H
#define POPEK_CLI_ENGINES_H

#include "machine/machine.h"

/* The engine for --accel NAME ("auto" chooses), or NULL with err saying
 * why it cannot run here. */
const struct mach_engine *cli_pick_engine(struct machine *m, const char *name,
                                          struct mach_err *err);

#endif
