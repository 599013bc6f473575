/* tests/fuzz/: robustness tests. Parser targets are libFuzzer-style
 * LLVMFuzzerTestOneInput functions; fuzz_driver.c replays a corpus and
 * runs seeded mutations of it with gcc (no libFuzzer needed), and the same
 * targets link against real libFuzzer under POPEK_LIBFUZZER. */
#ifndef POPEK_TESTS_FUZZ_H
#define POPEK_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding that is not a crash (a broken invariant): prints it with the
 * input that caused it and aborts, so libFuzzer and the driver both keep
 * the input as a reproducer. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* splitmix64: small, seedable, the same on every host. */
static inline uint64_t fuzz_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint32_t fuzz_below(uint64_t *state, uint32_t n)
{
    return n ? (uint32_t)(fuzz_rand(state) % n) : 0;
}

/* The bytes as a file path the loaders can open: a memfd seen through
 * /proc/self/fd, rewritten in place for each input (no disk I/O). The
 * path stays valid until the next call with the same slot. */
const char *fuzz_memfd_path(unsigned slot, const void *data, size_t size);

/* Records what is running so that a crash, sanitizer report or watchdog
 * expiry writes it to `fuzz-crash-<what>.bin` in the working directory
 * (and says so on stderr) before the process dies. */
void fuzz_set_current(const char *what, const void *data, size_t size);
/* Installs the crash hooks; the watchdog fires after `seconds` without a
 * fuzz_watchdog_kick (0: off). */
void fuzz_install_crash_hooks(unsigned seconds);
void fuzz_watchdog_kick(void);

#endif
