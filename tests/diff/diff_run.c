/* diff_run: generates instruction sequences, runs them on the host CPU
 * (diff_native) and on a popek engine, and compares the outcomes.
 *
 *   diff_run --engine kvm|interp|bt|native|all [--seed S] [--cases N|auto]
 *            [--first K] [--case K] [--max-report N] [--no-minimise]
 *            [--native PATH] [--image PATH] [--print-table]
 *
 * Exit status: 0 all cases agree, 1 a mismatch or harness failure, 2 bad
 * command line, 77 the engine is not built or cannot run here (ctest
 * SKIP_RETURN_CODE). */
#define _GNU_SOURCE
#include "diff_engine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 8192
#define CASES_FAST 100000
#define CASES_SLOW 1000
#define EXIT_SKIP 77

struct options {
    const char *engine;
    uint64_t seed, first, cases;
    bool cases_auto, minimise, print_table, allow_unsupported;
    unsigned max_report;
    char native[PATH_MAX], image[PATH_MAX];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: diff_run [--engine NAME] [--seed S] [--cases N|auto] [--first K] [--case K]\n"
            "                [--max-report N] [--no-minimise] [--native PATH] [--image PATH]\n"
            "                [--allow-unsupported] [--print-table]\n"
            "  --engine NAME  kvm, interp, bt, native (a second native run) or all (default)\n"
            "  --cases auto   %d cases, or %d on an engine that emulates in software (KVM\n"
            "                 without hardware assist)\n"
            "  --case K       only case K of the seed (to reproduce a report)\n"
            "  --allow-unsupported  cases the engine reports it cannot run here\n"
            "                 (MACH_EXIT_UNSUPPORTED) are skipped, not failed\n",
            CASES_FAST, CASES_SLOW);
}

/* Files built next to this executable. */
static void beside_self(const char *name, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = 0;
    snprintf(out, len, "%s%s", slash ? self : "./", name);
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s)
        return false;
    *v = strtoull(s, &end, 0);
    return *end == 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.engine = "all", .seed = 1, .cases_auto = true, .minimise = true,
                          .max_report = 5};
    beside_self("diff_native", o->native, sizeof(o->native));
    beside_self("diff_guest.bin", o->image, sizeof(o->image));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--engine") && v)
            o->engine = argv[++i];
        else if (!strcmp(a, "--seed") && parse_u64(v, &o->seed))
            i++;
        else if (!strcmp(a, "--cases") && v && !strcmp(v, "auto"))
            o->cases_auto = true, i++;
        else if (!strcmp(a, "--cases") && parse_u64(v, &o->cases))
            o->cases_auto = false, i++;
        else if (!strcmp(a, "--first") && parse_u64(v, &o->first))
            i++;
        else if (!strcmp(a, "--case") && parse_u64(v, &o->first))
            o->cases = 1, o->cases_auto = false, i++;
        else if (!strcmp(a, "--max-report") && parse_u64(v, &n))
            o->max_report = (unsigned)n, i++;
        else if (!strcmp(a, "--no-minimise"))
            o->minimise = false;
        else if (!strcmp(a, "--native") && v)
            snprintf(o->native, sizeof(o->native), "%s", argv[++i]);
        else if (!strcmp(a, "--image") && v)
            snprintf(o->image, sizeof(o->image), "%s", argv[++i]);
        else if (!strcmp(a, "--allow-unsupported"))
            o->allow_unsupported = true;
        else if (!strcmp(a, "--print-table"))
            o->print_table = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "diff_run: bad argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

struct run {
    const struct options *o;
    const char *name;
    struct diff_runner native, engine;
    bool host_emulated; /* kvm on a host KVM that emulates instructions */
    uint64_t passed, failed, reported, unsupported, known;
    uint64_t outcomes[34]; /* vectors 0-31, end, engine stop */
};

static void count_outcome(struct run *r, uint32_t v)
{
    r->outcomes[v < 32 ? v : v == DIFF_VEC_END ? 32 : 33]++;
}

static void report(struct run *r, uint64_t index, struct diff_case *c, struct diff_meta *m,
                   const char *why, const struct diff_result *got)
{
    if (r->reported++ >= r->o->max_report)
        return;
    printf("MISMATCH engine %s, seed %llu, case %llu (reproduce: diff_run --engine %s --seed "
           "%llu --case %llu)\n",
           r->name, (unsigned long long)r->o->seed, (unsigned long long)index, r->name,
           (unsigned long long)r->o->seed, (unsigned long long)index);
    if (got->vector == DIFF_VEC_ENGINE_STOP)
        printf("  engine stopped: %.*s\n", (int)sizeof(got->data), (const char *)got->data);
    fputs(why, stdout);
    diff_print_case(stdout, c, m);
    if (!r->o->minimise || m->n <= 1)
        return;
    unsigned before = m->n, runs = diff_minimise(c, m, &r->native, &r->engine);
    if (m->n == before) {
        printf("  (no shorter sequence fails; %u runs)\n", runs);
        return;
    }
    struct diff_result want, now;
    char msg[256], text[4096];
    printf("  minimised to %u of %u instructions (%u runs):\n", m->n, before, runs);
    if (r->native.run(r->native.ctx, c, 1, &want, msg, sizeof(msg)) == 0 &&
        r->engine.run(r->engine.ctx, c, 1, &now, msg, sizeof(msg)) == 0 &&
        !diff_compare(c, m, &want, &now, text, sizeof(text)))
        fputs(text, stdout);
    diff_print_case(stdout, c, m);
}

/* Cases that disagree for a reason outside popek: the engine says it
 * cannot run the instruction on this host (--allow-unsupported), or the
 * host KVM's emulator has a known bug (diff_engine_known_deviation). */
static bool skip_case(struct run *r, uint64_t index, const struct diff_case *c,
                      const struct diff_meta *m, const struct diff_result *want,
                      const struct diff_result *got)
{
    const char *note;
    if (got->vector == DIFF_VEC_ENGINE_STOP && got->error_code == MACH_EXIT_UNSUPPORTED &&
        r->o->allow_unsupported) {
        if (r->unsupported++ < 8)
            printf("unsupported here (case %llu): %.*s\n", (unsigned long long)index,
                   (int)sizeof(got->data), (const char *)got->data);
        return true;
    }
    if (r->host_emulated && diff_engine_known_deviation(c, m, want, got, &note)) {
        if (r->known++ < 8)
            printf("known host deviation (case %llu): %s\n", (unsigned long long)index, note);
        return true;
    }
    return false;
}

/* Generates, runs and compares cases [first, first + n). */
static int run_chunk(struct run *r, uint64_t first, size_t n, struct diff_case *cases,
                     struct diff_meta *metas, struct diff_result *want, struct diff_result *got)
{
    char msg[512];
    for (size_t i = 0; i < n; i++) {
        diff_gen_case(r->o->seed, first + i, &cases[i], &metas[i]);
        if (cases[i].code_len == 0) {
            fprintf(stderr, "diff_run: the generator produced an invalid case\n");
            return -1;
        }
        cases[i].slot = (uint32_t)((first + i) % DIFF_MAX_BATCH);
    }
    if (r->native.run(r->native.ctx, cases, n, want, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "diff_run: native run: %s\n", msg);
        return -1;
    }
    if (r->engine.run(r->engine.ctx, cases, n, got, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "diff_run: %s: %s\n", r->name, msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char why[4096];
        count_outcome(r, want[i].vector);
        /* A general-protection or page fault natively means a case left
         * its sandbox: a harness bug, reported like a mismatch. */
        bool sane = want[i].vector != 13 && want[i].vector != 14;
        if (diff_compare(&cases[i], &metas[i], &want[i], &got[i], why, sizeof(why)) && sane) {
            r->passed++;
            continue;
        }
        if (sane && skip_case(r, first + i, &cases[i], &metas[i], &want[i], &got[i]))
            continue;
        if (!sane)
            snprintf(why + strlen(why), sizeof(why) - strlen(why),
                     "  native run raised #GP/#PF: the case is not sandboxed\n");
        r->failed++;
        report(r, first + i, &cases[i], &metas[i], why, &got[i]);
    }
    return 0;
}

static void print_summary(const struct run *r)
{
    static const char *const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD"};
    printf("outcomes (native):");
    for (int v = 0; v < 34; v++) {
        if (!r->outcomes[v])
            continue;
        if (v == 32)
            printf(" end %llu", (unsigned long long)r->outcomes[v]);
        else if (v == 33)
            printf(" engine-stop %llu", (unsigned long long)r->outcomes[v]);
        else if (v < 7)
            printf(" %s %llu", names[v], (unsigned long long)r->outcomes[v]);
        else
            printf(" vector%d %llu", v, (unsigned long long)r->outcomes[v]);
    }
    uint64_t total = r->passed + r->failed + r->unsupported + r->known;
    printf("\ndiff/%s: seed %llu, %llu cases from case %llu\n", r->name,
           (unsigned long long)r->o->seed, (unsigned long long)total,
           (unsigned long long)r->o->first);
    if (r->unsupported || r->known)
        printf("skipped: %llu cases the engine cannot run here, %llu known deviations of the "
               "host's KVM\n",
               (unsigned long long)r->unsupported, (unsigned long long)r->known);
    printf("%llu passed, %llu failed, %llu skipped\n", (unsigned long long)r->passed,
           (unsigned long long)r->failed, (unsigned long long)(r->unsupported + r->known));
}

static int run_cases(struct run *r, uint64_t count)
{
    struct diff_case *cases = calloc(CHUNK, sizeof(*cases));
    struct diff_meta *metas = calloc(CHUNK, sizeof(*metas));
    struct diff_result *want = calloc(CHUNK, sizeof(*want)), *got = calloc(CHUNK, sizeof(*got));
    int status = 1;
    if (!cases || !metas || !want || !got) {
        fprintf(stderr, "diff_run: out of memory\n");
        goto out;
    }
    for (uint64_t done = 0; done < count;) {
        size_t n = count - done < CHUNK ? (size_t)(count - done) : CHUNK;
        if (run_chunk(r, r->o->first + done, n, cases, metas, want, got) < 0)
            goto out;
        done += n;
    }
    print_summary(r);
    status = r->failed ? 1 : 0;
out:
    free(cases);
    free(metas);
    free(want);
    free(got);
    return status;
}

/* 0: runnable; EXIT_SKIP with the reason printed otherwise. */
static int check_engine(const struct mach_engine *e, const char *name)
{
    if (!e) {
        printf("diff/%s: SKIP: the %s engine is not built into diff_run (add it to "
               "tests/diff/diff_engine.c when it lands)\n",
               name, name);
        return EXIT_SKIP;
    }
    struct mach_err err = {.msg = ""};
    struct machine *m = diff_engine_machine(0, &err);
    if (!m) {
        fprintf(stderr, "diff_run: cannot create a machine: %s\n", err.msg);
        return 1;
    }
    bool ok = e->available(m, &err);
    mach_destroy(m);
    if (!ok) {
        printf("diff/%s: SKIP: %s\n", name, err.msg);
        return EXIT_SKIP;
    }
    return 0;
}

static int run_engine(const struct options *o, const char *name)
{
    struct run r = {.o = o, .name = name};
    r.native = (struct diff_runner){"native", diff_native_run, (void *)o->native};
    static struct diff_engine_ctx ectx;
    const struct mach_engine *e = NULL;
    bool slow = false;
    if (!strcmp(name, "native")) {
        r.engine = (struct diff_runner){"native", diff_native_run, (void *)o->native};
    } else {
        e = diff_engine_find(name);
        int st = check_engine(e, name);
        if (st)
            return st;
        ectx = (struct diff_engine_ctx){.engine = e, .image = o->image};
        r.engine = (struct diff_runner){name, diff_engine_run, &ectx};
        /* KVM without hardware assist is the host emulating each
         * instruction (~1.5 us): a small batch there. */
        slow = r.host_emulated = !strcmp(name, "kvm") && !(e->hw_assisted && e->hw_assisted());
    }
    uint64_t count = o->cases_auto ? (slow ? CASES_SLOW : CASES_FAST) : o->cases;
    return run_cases(&r, count);
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) < 0)
        return 2;
    if (o.print_table) {
        char row[128];
        for (size_t i = 0; i < diff_undef_rows(); i++)
            printf("%s\n", diff_undef_row(i, row, sizeof(row)));
        return 0;
    }
    if (access(o.native, X_OK) < 0) {
        fprintf(stderr, "diff_run: the native oracle %s is missing (build target diff_helpers)\n",
                o.native);
        return 1;
    }
    if (strcmp(o.engine, "all"))
        return run_engine(&o, o.engine);
    int worst = EXIT_SKIP;
    for (size_t i = 0; i < diff_engine_count(); i++) {
        int st = run_engine(&o, diff_engine_at(i)->name);
        if (st != EXIT_SKIP && (worst == EXIT_SKIP || st > worst))
            worst = st;
    }
    return worst;
}
