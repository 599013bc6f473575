/* Random guests on popek's engines, in process (as tests/diff/diff_engine.c
 * runs them): each program is loaded as a raw image in real mode or flat
 * 32-bit mode, run with a short guest timeout, and must end the way
 * `popek --help` documents (debug exit, power-off, reset, triple fault,
 * missing memory, timeout, unsupported; an engine error only with a
 * message). A crash, a sanitizer report or a run that outlives its timeout
 * by the watchdog's margin kills the process with the program saved. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_guest_gen.h"

#include "hwaccel/kvm/kvm.h"
#include "vmm_helpers/vmm_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef POPEK_FUZZ_HAVE_BT
#include "translator/translator.h"
#endif

static const struct mach_engine *const engines[] = {
    &interp_engine,
    &kvm_engine,
#ifdef POPEK_FUZZ_HAVE_BT
    &bt_engine,
#endif
};

struct tally {
    unsigned kind[MACH_EXIT_ENGINE_ERROR + 1];
    unsigned run_errors, bad;
};

static const char *kind_name(enum mach_exit_kind k)
{
    static const char *const names[] = {"running", "debug-exit", "power-off", "reset",
                                        "triple-fault", "bad-memory", "timeout",
                                        "unsupported", "engine-error"};
    return k <= MACH_EXIT_ENGINE_ERROR ? names[k] : "?";
}

static void save_image(const struct fg_image *img, unsigned long long seed, unsigned i)
{
    char name[96];
    snprintf(name, sizeof(name), "fuzz-guest-%llu-%u.bin", seed, i);
    FILE *f = fopen(name, "wb");
    if (f) {
        fwrite(img->bytes, 1, img->len, f);
        fclose(f);
    }
    fprintf(stderr, "  reproduce: popek run --raw 0x%x,0x%x%s --timeout 2 %s\n", img->load,
            img->load, img->real ? ",real" : "", name);
}

/* Returns false when the run ended in a way popek does not document. */
static bool run_one(const struct mach_engine *e, const struct fg_image *img, double timeout_s,
                    struct tally *t, char *why, size_t whylen)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    struct mach_config cfg = {.ram_bytes = FG_RAM_BYTES, .serial_out = sink,
                              .debugcon_out = sink, .timeout_ns = (uint64_t)(timeout_s * 1e9)};
    struct mach_err err = {{0}};
    struct machine *m = mach_create(&cfg, &err);
    if (!m)
        fuzz_fail("mach_create: %s", err.msg);
    const char *path = fuzz_memfd_path(0, img->bytes, img->len);
    if (mach_load_raw(m, path, img->load, img->load, img->real ? MACH_BOOT_REAL : MACH_BOOT_FLAT32,
                      &err) < 0)
        fuzz_fail("a generated image was refused: %s", err.msg);
    bool ok = true;
    if (e->run(m, &err) < 0) {
        /* `popek run` reports this as status 12 with the message. */
        t->run_errors++;
        ok = err.msg[0] != 0;
        snprintf(why, whylen, "run failed %s message: %s", ok ? "with" : "without", err.msg);
    } else {
        enum mach_exit_kind k = mach_exit_kind(m);
        const char *msg = mach_exit_message(m);
        t->kind[k <= MACH_EXIT_ENGINE_ERROR ? k : MACH_RUNNING]++;
        int status = mach_exit_status(m);
        ok = k != MACH_RUNNING && k <= MACH_EXIT_ENGINE_ERROR &&
             (k != MACH_EXIT_ENGINE_ERROR || msg[0]) &&
             (k == MACH_EXIT_DEBUG ? (status & 1)
                                   : status == 0 || (status >= MACH_STATUS_TRIPLE_FAULT &&
                                                     status <= MACH_STATUS_ENGINE_ERROR &&
                                                     !(status & 1)));
        snprintf(why, whylen, "%s (status %d): %s", kind_name(k), status, msg);
    }
    mach_destroy(m);
    return ok;
}

/* One case in a child process, so that a crash or a hang is reported
 * with its program and the run goes on. Returns false for a finding. */
static bool run_forked(const struct mach_engine *e, const struct fg_image *img, double timeout_s,
                       struct tally *t, char *why, size_t whylen)
{
    int fds[2];
    if (pipe(fds) < 0)
        fuzz_fail("pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fuzz_fail("fork failed");
    if (pid == 0) {
        close(fds[0]);
        struct tally ct = {0};
        bool ok = run_one(e, img, timeout_s, &ct, why, whylen);
        if (write(fds[1], &ct, sizeof(ct)) < 0 || write(fds[1], why, whylen) < 0)
            _exit(4);
        _exit(ok ? 0 : 3);
    }
    close(fds[1]);
    /* The guest's timeout plus engine start-up; ten seconds more means
     * the engine ignored the deadline. */
    uint64_t deadline = mach_now_ns() + (uint64_t)((timeout_s + 10) * 1e9);
    int status = 0;
    bool hung = false;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (mach_now_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung = true;
            break;
        }
        usleep(1000);
    }
    struct tally ct = {0};
    bool got = read(fds[0], &ct, sizeof(ct)) == (ssize_t)sizeof(ct) &&
               read(fds[0], why, whylen) == (ssize_t)whylen;
    close(fds[0]);
    why[whylen - 1] = 0;
    if (hung) {
        snprintf(why, whylen, "HANG: still running %.0f s after its %.1f s timeout", 10.0,
                 timeout_s);
        return false;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "CRASH: killed by signal %d", WTERMSIG(status));
        return false;
    }
    if (!got || !WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)) {
        snprintf(why, whylen, "CRASH: exit status %d (a sanitizer report is above)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return false;
    }
    for (unsigned k = 0; k <= MACH_EXIT_ENGINE_ERROR; k++)
        t->kind[k] += ct.kind[k];
    t->run_errors += ct.run_errors;
    return WEXITSTATUS(status) == 0;
}
static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--engine interp|kvm|bt] [--cases N] [--seed S] [--timeout SECONDS]\n"
            "          [--first I] [--verbose] [--no-fork]\n"
            "Runs N seeded random guests (random bytes, random instructions, random\n"
            "instructions under a counting IDT; real and flat 32-bit mode in turn).\n"
            "Exits 0 when every one ends as `popek --help` documents, 1 otherwise, 77\n"
            "when the engine cannot run here. Each case runs in a child process unless\n"
            "--no-fork (then the first crash or hang ends the run, its program saved).\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *engine = "interp";
    unsigned long long cases = 300, seed = 1, first = 0;
    double timeout_s = 0.1;
    bool verbose = false, forked = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--engine") && i + 1 < argc)
            engine = argv[++i];
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc)
            cases = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout_s = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else if (!strcmp(argv[i], "--no-fork"))
            forked = false;
        else
            return usage(argv[0]);
    }
    const struct mach_engine *e = NULL;
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
        if (!strcmp(engines[i]->name, engine))
            e = engines[i];
    if (!e) {
        printf("fuzz_guests: no %s engine in this build (skipped)\n", engine);
        return 77;
    }
    struct mach_config probe_cfg = {.ram_bytes = FG_RAM_BYTES};
    struct mach_err why = {{0}};
    struct machine *probe = mach_create(&probe_cfg, &why);
    bool can = probe && e->available(probe, &why);
    mach_destroy(probe);
    if (!can) {
        printf("fuzz_guests: %s engine cannot run here: %s (skipped)\n", engine, why.msg);
        return 77;
    }
    if (!forked)
        fuzz_install_crash_hooks((unsigned)timeout_s + 10);
    static struct fg_image img;
    struct tally t = {0};
    for (unsigned long long i = first; i < first + cases; i++) {
        uint64_t s = seed * 0x100000001B3ull + i;
        enum fg_style style = (enum fg_style)(i % FG_STYLE_COUNT_);
        bool real = (i / FG_STYLE_COUNT_) % 2;
        fg_generate(fuzz_rand(&s), style, real, &img);
        fuzz_set_current(real ? "guest-real" : "guest-flat32", img.bytes, img.len);
        char msg[700];
        bool ok = forked ? run_forked(e, &img, timeout_s, &t, msg, sizeof(msg))
                         : run_one(e, &img, timeout_s, &t, msg, sizeof(msg));
        fuzz_watchdog_kick();
        if (verbose || !ok)
            fprintf(ok ? stdout : stderr, "%s case %llu (%s, style %d): %s\n",
                    ok ? "ok" : "BAD", i, real ? "real" : "flat32", style, msg);
        if (!ok) {
            t.bad++;
            save_image(&img, seed, (unsigned)i);
        }
    }
    printf("fuzz_guests: %s, seed %llu, cases %llu-%llu:", engine, seed, first,
           first + cases - 1);
    for (unsigned k = 1; k <= MACH_EXIT_ENGINE_ERROR; k++)
        if (t.kind[k])
            printf(" %s %u", kind_name((enum mach_exit_kind)k), t.kind[k]);
    printf("; run errors %u; undocumented endings %u\n", t.run_errors, t.bad);
    return t.bad ? 1 : 0;
}
