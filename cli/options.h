/* cli/ internal: the parsed command line of `popek run`. */
#ifndef POPEK_CLI_OPTIONS_H
#define POPEK_CLI_OPTIONS_H

#include "machine/machine.h"

#define CLI_MAX_MODULES 32

struct cli_options {
    const char *accel;      /* auto, kvm, bt, interp */
    uint64_t ram_mib;
    const char *append;     /* kernel command line */
    struct mach_module modules[CLI_MAX_MODULES];
    unsigned nmodules;
    const char *bios;       /* ROM image, started at the reset vector */
    bool raw;               /* IMAGE is a raw binary */
    uint32_t raw_addr, raw_entry;
    enum mach_boot_kind raw_kind;
    bool stats;
    bool reboot;            /* reset and triple fault reboot instead of stopping */
    unsigned trace;
    double timeout_s;       /* 0: none */
    const char *image;
};

/* Parses argv of `popek run` (argv[0] is "run"); returns 0, 1 when help
 * was printed, or -1 with err for a bad option. */
int cli_parse_run(int argc, char **argv, struct cli_options *o, struct mach_err *err);
void cli_print_help(FILE *out);

#endif
