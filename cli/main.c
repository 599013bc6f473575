/* The `popek` command: parse options, build the machine, load the image,
 * pick an engine, run, report. */
#include "cli/engines.h"
#include "cli/options.h"
#include "translator/bt_sensitive.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int load_image(struct machine *m, const struct cli_options *o, struct mach_err *err)
{
    if (o->bios && mach_load_rom(m, o->bios, err) < 0)
        return -1;
    if (!o->image)
        return 0;
    if (o->raw)
        return mach_load_raw(m, o->image, o->raw_addr, o->raw_entry, o->raw_kind, err);
    return mach_load_multiboot(m, o->image, o->append, o->modules, o->nmodules, err);
}

static int report_exit(struct machine *m)
{
    enum mach_exit_kind kind = mach_exit_kind(m);
    const char *msg = mach_exit_message(m);
    if (kind != MACH_EXIT_DEBUG && kind != MACH_EXIT_POWEROFF && *msg)
        fprintf(stderr, "popek: %s\n", msg);
    return mach_exit_status(m);
}

/* Whether the machine's stop is a reset that --reboot turns into a new
 * boot: a guest reset request or a triple fault (the CPU's shutdown cycle,
 * which a PC's chipset answers with a reset). */
static bool wants_reboot(const struct machine *m, const struct cli_options *o)
{
    enum mach_exit_kind kind = mach_exit_kind(m);
    return o->reboot && (kind == MACH_EXIT_RESET || kind == MACH_EXIT_TRIPLE_FAULT);
}

/* One boot: a fresh machine (RAM, devices), the image loaded again, the
 * engine run until the guest stops. *reboot says whether to go again. */
static int boot(const struct cli_options *o, uint64_t deadline_ns, bool *reboot)
{
    struct mach_err err = {{0}};
    uint64_t now = mach_now_ns();
    struct mach_config cfg = {
        .ram_bytes = o->ram_mib << 20,
        .trace = o->trace,
        .serial_stdin = true,
        .timeout_ns = deadline_ns ? (deadline_ns > now ? deadline_ns - now : 1) : 0,
    };
    *reboot = false;
    struct machine *m = mach_create(&cfg, &err);
    if (!m) {
        fprintf(stderr, "popek: %s\n", err.msg);
        return MACH_STATUS_ENGINE_ERROR;
    }
    if (load_image(m, o, &err) < 0) {
        fprintf(stderr, "popek: %s\n", err.msg);
        mach_destroy(m);
        return MACH_STATUS_BAD_IMAGE;
    }
    const struct mach_engine *engine = cli_pick_engine(m, o->accel, &err);
    if (!engine) {
        fprintf(stderr, "popek: %s\n", err.msg);
        mach_destroy(m);
        return MACH_STATUS_UNSUPPORTED;
    }
    int status;
    if (engine->run(m, &err) < 0) {
        fprintf(stderr, "popek: %s engine: %s\n", engine->name, err.msg);
        status = MACH_STATUS_UNSUPPORTED;
    } else {
        status = report_exit(m);
        *reboot = wants_reboot(m, o);
    }
    fflush(stdout);
    if (o->stats) {
        fprintf(stderr, "popek: engine %s, exit status %d\n", engine->name, status);
        mach_print_stats(m, stderr);
        if (engine->print_stats)
            engine->print_stats(m, stderr);
    }
    mach_destroy(m);
    return status;
}

static int run(int argc, char **argv)
{
    struct cli_options o;
    struct mach_err err = {{0}};
    int r = cli_parse_run(argc, argv, &o, &err);
    if (r > 0)
        return 0;
    if (r < 0) {
        fprintf(stderr, "popek: %s\n", err.msg);
        return MACH_STATUS_USAGE;
    }
    /* --timeout bounds the whole run, reboots included. */
    uint64_t deadline = o.timeout_s > 0 ? mach_now_ns() + (uint64_t)(o.timeout_s * 1e9) : 0;
    bool again;
    int status;
    do {
        status = boot(&o, deadline, &again);
        if (again && deadline && mach_now_ns() >= deadline) {
            fprintf(stderr, "popek: timeout: the guest ran for %.3f s\n", o.timeout_s);
            return MACH_STATUS_TIMEOUT;
        }
        if (again)
            fprintf(stderr, "popek: rebooting (--reboot)\n");
    } while (again);
    return status;
}

/* `popek caps --accel ENGINE [CAP...]`: exit 0 when ENGINE runs here and
 * has every CAP; otherwise print why and exit MACH_STATUS_UNSUPPORTED. The
 * guest test runner uses it to skip tests with the reason. */
static int caps(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--accel")) {
        fprintf(stderr, "usage: popek caps --accel ENGINE [CAP...]\n");
        return MACH_STATUS_USAGE;
    }
    struct mach_err err = {{0}};
    struct mach_config cfg = {.ram_bytes = 16u << 20};
    struct machine *m = mach_create(&cfg, &err);
    if (!m) {
        fprintf(stderr, "popek: %s\n", err.msg);
        return MACH_STATUS_ENGINE_ERROR;
    }
    const struct mach_engine *e = cli_pick_engine(m, argv[2], &err);
    int status = MACH_STATUS_OK;
    if (!e) {
        printf("%s\n", err.msg);
        status = MACH_STATUS_UNSUPPORTED;
    }
    for (int i = 3; e && i < argc && status == MACH_STATUS_OK; i++) {
        if (e->has_cap && !e->has_cap(argv[i], &err)) {
            printf("%s engine lacks %s: %s\n", e->name, argv[i], err.msg);
            status = MACH_STATUS_UNSUPPORTED;
        }
    }
    mach_destroy(m);
    return status;
}

/* `popek sensitive [--markdown]`: the sensitive and privileged
 * instructions, how bt handles each (asked of the translator) and what
 * VT-x does; --markdown prints the table of
 * docs/sensitive-instructions.md. */
static int sensitive(int argc, char **argv)
{
    bool markdown = argc == 2 && !strcmp(argv[1], "--markdown");
    if (argc > 2 || (argc == 2 && !markdown)) {
        fprintf(stderr, "usage: popek sensitive [--markdown]\n");
        return MACH_STATUS_USAGE;
    }
    if (bt_sensitive_print(stdout, markdown) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "popek: cannot write the table\n");
        return MACH_STATUS_ENGINE_ERROR;
    }
    return MACH_STATUS_OK;
}

int main(int argc, char **argv)
{
    /* A closed stdout (popek run ... | head) must not kill the VMM. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        cli_print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? MACH_STATUS_USAGE : 0;
    }
    if (!strcmp(argv[1], "run"))
        return run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "caps"))
        return caps(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sensitive"))
        return sensitive(argc - 1, argv + 1);
    fprintf(stderr, "popek: unknown command '%s' (see popek --help)\n", argv[1]);
    return MACH_STATUS_USAGE;
}
