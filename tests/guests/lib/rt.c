/* Start-up, the report API and the few libc routines the compiler may call. */
#include "rt_internal.h"

#define DEBUG_EXIT_PORT 0xF4

static unsigned checks_run, checks_failed;

static void report(uint32_t expected, uint32_t actual)
{
    bool ok = expected == actual;
    checks_run++;
    if (!ok)
        checks_failed++;
    kprintf(" expected=0x%08x actual=0x%08x %s\n", expected, actual, ok ? "ok" : "FAIL");
}

void check_eq(const char *name, uint32_t expected, uint32_t actual)
{
    kprintf("CHECK %s", name);
    report(expected, actual);
}

void check_eqf(uint32_t expected, uint32_t actual, const char *fmt, ...)
{
    va_list ap;
    kprintf("CHECK ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    report(expected, actual);
}

void check_trap(const char *name, bool trapped, uint32_t vector, uint32_t error,
                uint32_t eip)
{
    check_eqf(1, trapped, "%s.trapped", name);
    check_eqf(vector, trap_last.vector, "%s.vector", name);
    check_eqf(error, trap_last.error, "%s.error", name);
    check_eqf(eip, trap_last.eip, "%s.eip", name);
}

void fail(const char *fmt, ...)
{
    va_list ap;
    checks_run++;
    checks_failed++;
    kprintf("CHECK ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf(" FAIL\n");
}

bool summary_print(void)
{
    if (!checks_run) {
        kprintf("no checks ran\n");
        checks_failed++;
    }
    kprintf("SUMMARY checks=%u failed=%u %s\n", checks_run, checks_failed,
            checks_failed ? "FAIL" : "PASS");
    return checks_failed == 0;
}

void finish(void)
{
    cli();
    summary_print();
    /* isa-debug-exit: a write of V stops the machine with status (V << 1) | 1. */
    outb(DEBUG_EXIT_PORT, checks_failed ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void rt_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    /* A known CR0/CR4 on every engine: Multiboot leaves all CR0 bits but PE
     * and PG undefined (Multiboot 0.6.96 section 3.2). ET is fixed to 1 on
     * P6 and later (SDM Vol. 3A 2.5); CD/NW clear enables caching. */
    write_cr0(CR0_PE | CR0_ET | CR0_NE);
    write_cr4(0);
    rt_cpu_init();
    pic_remap(0x20, 0x28);
    test_main();
    finish();
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
