/* Errors and the one --trace facility: every trace line goes to stderr
 * with a "popek:" prefix so it never mixes with the guest's console. */
#include "machine/machine_internal.h"

#include <stdarg.h>
#include <string.h>

int mach_errf(struct mach_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const struct {
    const char *name;
    unsigned flag;
} trace_table[] = {
    {"pio", MACH_TRACE_PIO},       {"mmio", MACH_TRACE_MMIO},
    {"post", MACH_TRACE_POST},     {"irq", MACH_TRACE_IRQ},
    {"exit", MACH_TRACE_EXIT},     {"insn", MACH_TRACE_INSN},
    {"in_asm", MACH_TRACE_IN_ASM}, {"out_asm", MACH_TRACE_OUT_ASM},
    {"exec", MACH_TRACE_EXEC},     {"load", MACH_TRACE_LOAD},
};

const char *mach_trace_names(void)
{
    return "pio,mmio,post,irq,exit,insn,in_asm,out_asm,exec,load (or all)";
}

static int trace_lookup(const char *name, size_t len, unsigned *flag)
{
    if (len == 3 && !strncmp(name, "all", 3)) {
        *flag = ~0u;
        return 0;
    }
    for (size_t i = 0; i < sizeof(trace_table) / sizeof(trace_table[0]); i++) {
        if (strlen(trace_table[i].name) == len && !strncmp(trace_table[i].name, name, len)) {
            *flag = trace_table[i].flag;
            return 0;
        }
    }
    return -1;
}

int mach_trace_parse(const char *list, unsigned *flags, struct mach_err *err)
{
    *flags = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned flag;
        if (trace_lookup(p, len, &flag) < 0)
            return mach_errf(err, "unknown trace event '%.*s' (known: %s)", (int)len, p,
                             mach_trace_names());
        *flags |= flag;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

bool mach_tracing(const struct machine *m, unsigned flag) { return (m->cfg.trace & flag) != 0; }

void mach_trace(const struct machine *m, const char *fmt, ...)
{
    (void)m;
    va_list ap;
    va_start(ap, fmt);
    fputs("popek: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
