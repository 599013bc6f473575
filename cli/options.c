/* Options of `popek run`, in the spirit of qemu-system-i386 where they
 * overlap (-m, --append, --bios, --accel). */
#define _GNU_SOURCE
#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void cli_print_help(FILE *out)
{
    fprintf(out,
"usage: popek run [options] IMAGE\n"
"       popek run [options] --bios ROM\n"
"       popek caps --accel ENGINE [CAP...]\n"
"       popek sensitive [--markdown]\n"
"       popek --help\n"
"\n"
"Runs a 32-bit x86 guest. IMAGE is a Multiboot 1 kernel (ELF32 or a.out\n"
"kludge) unless --raw says it is a raw binary.\n"
"\n"
"options:\n"
"  --accel ENGINE      auto (default), kvm, bt or interp. auto picks kvm when\n"
"                      the host's KVM runs 32-bit guests with hardware assist,\n"
"                      bt otherwise.\n"
"  -m, --mem MIB       guest RAM in MiB (default 128, at most 3072)\n"
"  --append CMDLINE    the kernel command line (multiboot)\n"
"  --module 'FILE ARGS'\n"
"                      a multiboot module; repeatable. The module's string is\n"
"                      the whole argument, FILE is up to the first space.\n"
"  --bios FILE         a ROM image (a multiple of 64 KiB, at most 16 MiB) mapped\n"
"                      to end at 4 GiB, last 64 KiB aliased at 0xF0000; the CPU\n"
"                      starts in its reset state at F000:FFF0. IMAGE is then\n"
"                      optional.\n"
"  --raw ADDR[,ENTRY[,real]]\n"
"                      IMAGE is a raw binary loaded at physical ADDR; the CPU\n"
"                      starts at ENTRY (default ADDR) in 32-bit flat protected\n"
"                      mode, or in real mode at 0:ENTRY with ',real'.\n"
"  --reboot            a guest reset request or a triple fault restarts the\n"
"                      machine (fresh RAM and devices, image loaded again), as\n"
"                      a PC does; without it they stop popek (QEMU's\n"
"                      -no-reboot behaviour) with status 0 or 6\n"
"  --stats             print the machine's and the engine's counters at exit\n"
"                      (kvm: exits by reason with count, total and mean time)\n"
"  --trace LIST        comma-separated events on stderr: %s\n"
"  --timeout SECONDS   stop the guest after this long (status 10)\n"
"  -h, --help          this text\n"
"\n"
"devices: 16550A UART at 0x3F8/IRQ4 (stdout; stdin when a terminal), 8259A\n"
"PIC pair, 8254 PIT, CMOS RTC at 0x70/0x71, debug-exit at 0xF4, debug console\n"
"at 0xE9, POST codes at 0x80, A20 and reset via port 0x92 and the i8042 at\n"
"0x60/0x64, reset via 0xCF9, ACPI power-off via port 0x604 (write 0x2000),\n"
"PCI configuration mechanism #1 at 0xCF8/0xCFC with no devices. Unassigned\n"
"ports read all ones; writes to them are dropped.\n"
"\n"
"environment: POPEK_PERF_MAP=1 makes bt write /tmp/perf-PID.map (one line\n"
"per translated block, named popek-guest-0xEIP) for perf report.\n"
"\n"
"popek caps exits 0 when ENGINE can run here with every CAP (paging, pae,\n"
"pm-iret, real-mode, v86), else prints why and exits 12.\n"
"\n"
"popek sensitive prints the sensitive and privileged instructions: why each\n"
"is sensitive, how bt handles it (asked of the translator) and what VT-x\n"
"does with it; --markdown prints the table of docs/sensitive-instructions.md.\n"
"\n"
"exit status:\n"
"  0        the guest powered off (port 0x604) or asked for a reset\n"
"  odd      the guest wrote V to the debug-exit port 0xF4: (V << 1) | 1\n"
"  2        bad command line\n"
"  4        the image could not be loaded (missing, malformed, too large)\n"
"  6        triple fault (the guest's registers are printed)\n"
"  8        the guest touched physical memory that does not exist\n"
"  10       --timeout expired\n"
"  12       the engine or the host cannot run this guest (reason printed)\n"
"  14       internal VM error in the engine (reason printed)\n",
            mach_trace_names());
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || v > 0xFFFFFFFFull)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_raw(const char *arg, struct cli_options *o, struct mach_err *err)
{
    char buf[128];
    if (strlen(arg) >= sizeof(buf))
        return mach_errf(err, "--raw: argument too long");
    strcpy(buf, arg);
    char *save = NULL;
    char *addr = strtok_r(buf, ",", &save);
    char *entry = strtok_r(NULL, ",", &save);
    char *mode = strtok_r(NULL, ",", &save);
    if (!addr || parse_u32(addr, &o->raw_addr) < 0)
        return mach_errf(err, "--raw: '%s' is not ADDR[,ENTRY[,real]]", arg);
    o->raw_entry = o->raw_addr;
    if (entry && parse_u32(entry, &o->raw_entry) < 0)
        return mach_errf(err, "--raw: bad entry '%s'", entry);
    o->raw_kind = MACH_BOOT_FLAT32;
    if (mode) {
        if (strcmp(mode, "real"))
            return mach_errf(err, "--raw: unknown mode '%s' (only 'real')", mode);
        o->raw_kind = MACH_BOOT_REAL;
    }
    o->raw = true;
    return 0;
}

static int add_module(const char *arg, struct cli_options *o, struct mach_err *err)
{
    if (o->nmodules == CLI_MAX_MODULES)
        return mach_errf(err, "--module: at most %d modules", CLI_MAX_MODULES);
    size_t len = strcspn(arg, " ");
    char *path = strndup(arg, len);
    if (!path || !*path) {
        free(path);
        return mach_errf(err, "--module: empty file name");
    }
    o->modules[o->nmodules++] = (struct mach_module){path, arg};
    return 0;
}

static int parse_one(int c, const char *arg, struct cli_options *o, struct mach_err *err)
{
    uint32_t v;
    char *end;
    switch (c) {
    case 'a':
        if (strcmp(arg, "auto") && strcmp(arg, "kvm") && strcmp(arg, "bt") && strcmp(arg, "interp"))
            return mach_errf(err, "--accel: unknown engine '%s' (auto, kvm, bt, interp)", arg);
        o->accel = arg;
        return 0;
    case 'm':
        if (parse_u32(arg, &v) < 0 || v < 1 || v > 3072)
            return mach_errf(err, "--mem: '%s' is not a size in MiB between 1 and 3072", arg);
        o->ram_mib = v;
        return 0;
    case 'A':
        o->append = arg;
        return 0;
    case 'M':
        return add_module(arg, o, err);
    case 'b':
        o->bios = arg;
        return 0;
    case 'r':
        return parse_raw(arg, o, err);
    case 's':
        o->stats = true;
        return 0;
    case 'R':
        o->reboot = true;
        return 0;
    case 't':
        return mach_trace_parse(arg, &o->trace, err);
    case 'T':
        o->timeout_s = strtod(arg, &end);
        if (end == arg || *end || !(o->timeout_s > 0) || o->timeout_s > 1e6)
            return mach_errf(err, "--timeout: '%s' is not a number of seconds", arg);
        return 0;
    }
    return mach_errf(err, "unknown option (see popek --help)");
}

int cli_parse_run(int argc, char **argv, struct cli_options *o, struct mach_err *err)
{
    static const struct option longopts[] = {
        {"accel", required_argument, NULL, 'a'},  {"mem", required_argument, NULL, 'm'},
        {"append", required_argument, NULL, 'A'}, {"module", required_argument, NULL, 'M'},
        {"bios", required_argument, NULL, 'b'},   {"raw", required_argument, NULL, 'r'},
        {"stats", no_argument, NULL, 's'},        {"reboot", no_argument, NULL, 'R'},        {"trace", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct cli_options){.accel = "auto", .ram_mib = 128, .append = ""};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cli_print_help(stdout);
            return 1;
        }
        if (c == '?' || c == ':')
            return mach_errf(err, "bad option '%s' (see popek --help)", argv[optind - 1]);
        if (parse_one(c, optarg, o, err) < 0)
            return -1;
    }
    if (optind < argc)
        o->image = argv[optind++];
    if (optind < argc)
        return mach_errf(err, "unexpected argument '%s' (one IMAGE only)", argv[optind]);
    if (!o->image && !o->bios)
        return mach_errf(err, "no IMAGE and no --bios: nothing to run (see popek --help)");
    if (o->raw && !o->image)
        return mach_errf(err, "--raw needs an IMAGE");
    if (o->raw && o->nmodules)
        return mach_errf(err, "--module needs a multiboot IMAGE, not --raw");
    return 0;
}
