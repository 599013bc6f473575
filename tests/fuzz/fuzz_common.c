/* What the fuzz targets and drivers share: memfd-backed input files,
 * invariant failures, and saving the input that killed the process. */
#define _GNU_SOURCE
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#define FUZZ_MEMFD_SLOTS 4

static int memfds[FUZZ_MEMFD_SLOTS] = {-1, -1, -1, -1};
static char memfd_paths[FUZZ_MEMFD_SLOTS][40];

const char *fuzz_memfd_path(unsigned slot, const void *data, size_t size)
{
    if (slot >= FUZZ_MEMFD_SLOTS)
        fuzz_fail("memfd slot %u out of range", slot);
    if (memfds[slot] < 0) {
        memfds[slot] = memfd_create("popek-fuzz", MFD_CLOEXEC);
        if (memfds[slot] < 0)
            fuzz_fail("memfd_create failed");
        snprintf(memfd_paths[slot], sizeof(memfd_paths[slot]), "/proc/self/fd/%d",
                 memfds[slot]);
    }
    int fd = memfds[slot];
    if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        fuzz_fail("cannot write %zu bytes to the memfd", size);
    return memfd_paths[slot];
}

/* ---- the current input, saved when the process dies ---- */

static const char *cur_what = "input";
static const void *cur_data;
static size_t cur_size;

void fuzz_set_current(const char *what, const void *data, size_t size)
{
    cur_what = what;
    cur_data = data;
    cur_size = size;
}

/* Async-signal-safe: open, write and a fixed-size name buffer only. */
static void save_current(const char *why)
{
    char name[128] = "fuzz-crash-";
    size_t n = strlen(name);
    for (const char *p = cur_what; *p && n < sizeof(name) - 5; p++)
        name[n++] = (*p == '/' ? '_' : *p);
    memcpy(name + n, ".bin", 5);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (cur_size && write(fd, cur_data, cur_size) < 0)
            cur_size = 0;
        close(fd);
    }
    const char *parts[] = {"fuzz: ", why, ": input saved to ", name, "\n"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (write(2, parts[i], strlen(parts[i])) < 0)
            break;
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: invariant broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    abort();
}

static void on_signal(int sig)
{
    save_current(sig == SIGALRM ? "watchdog expired (hang)" : "fatal signal");
    signal(sig, SIG_DFL);
    if (sig == SIGALRM)
        sig = SIGABRT;
    raise(sig);
}

#ifdef __SANITIZE_ADDRESS__
static void on_sanitizer_death(void) { save_current("sanitizer report"); }
#endif

static unsigned watchdog_seconds;

void fuzz_install_crash_hooks(unsigned seconds)
{
    watchdog_seconds = seconds;
    signal(SIGALRM, on_signal);
    signal(SIGABRT, on_signal);
#ifdef __SANITIZE_ADDRESS__
    /* ASan owns SIGSEGV/SIGBUS/SIGFPE and reports them; it calls back. */
    __sanitizer_set_death_callback(on_sanitizer_death);
#else
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGILL, on_signal);
#endif
    fuzz_watchdog_kick();
}

void fuzz_watchdog_kick(void)
{
    if (watchdog_seconds)
        alarm(watchdog_seconds);
}
