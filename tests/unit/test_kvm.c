/* The kvm engine on the real board: tiny raw guests (their source is in
 * the comment above each byte array, assembled with nasm) run through
 * mach_load_raw/mach_load_rom and kvm_engine.run. Every test skips with
 * the engine's reason where /dev/kvm cannot be used; the ones that depend
 * on what the host's KVM can emulate check the hardware-assisted result or
 * the kvm_pvm one. */
#define _GNU_SOURCE
#include "hwaccel/kvm/kvm.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOAD_ADDR 0x100000u

static char image_path[64];
static struct machine *vm_machine;
static FILE *debugcon;

static void teardown(void)
{
    if (vm_machine)
        mach_destroy(vm_machine);
    vm_machine = NULL;
    if (debugcon)
        fclose(debugcon);
    debugcon = NULL;
    if (image_path[0])
        unlink(image_path);
    image_path[0] = '\0';
}

TestSuite(kvm, .fini = teardown);

static const char *write_image(const uint8_t *bytes, size_t len)
{
    strcpy(image_path, "/tmp/popek-test-kvm-XXXXXX");
    int fd = mkstemp(image_path);
    cr_assert_geq(fd, 0, "mkstemp");
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    return image_path;
}

static struct machine *new_machine(uint64_t timeout_ns)
{
    debugcon = tmpfile();
    cr_assert_not_null(debugcon);
    struct mach_config cfg = {.ram_bytes = 16 << 20, .timeout_ns = timeout_ns,
                              .debugcon_out = debugcon};
    struct mach_err err;
    vm_machine = mach_create(&cfg, &err);
    cr_assert_not_null(vm_machine, "mach_create: %s", err.msg);
    struct mach_err why;
    if (!kvm_engine.available(vm_machine, &why))
        cr_skip_test("kvm engine unavailable: %s", why.msg);
    return vm_machine;
}

static struct machine *load(const uint8_t *bytes, size_t len, uint32_t addr,
                            enum mach_boot_kind kind, uint64_t timeout_ns)
{
    struct machine *m = new_machine(timeout_ns);
    struct mach_err err;
    cr_assert_eq(mach_load_raw(m, write_image(bytes, len), addr, addr, kind, &err), 0,
                 "mach_load_raw: %s", err.msg);
    return m;
}

static void run(struct machine *m)
{
    struct mach_err err;
    cr_assert_eq(kvm_engine.run(m, &err), 0, "run: %s", err.msg);
    cr_assert(mach_exit_requested(m));
}

static bool hw(void) { return kvm_engine.hw_assisted && kvm_engine.hw_assisted(); }

/* mov al, 0x21 / out 0xF4, al */
static const uint8_t guest_exit[] = {0xb0, 0x21, 0xe6, 0xf4};

Test(kvm, debug_exit_status)
{
    struct machine *m = load(guest_exit, sizeof(guest_exit), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_DEBUG, "%s", mach_exit_message(m));
    cr_expect_eq(mach_exit_status(m), (0x21 << 1) | 1);
}

/* mov esi, msg / mov ecx, 5 / mov dx, 0xE9 / rep outsb / mov al, 1 /
 * out 0xF4, al / msg: db "popek" */
static const uint8_t guest_string[] = {
    0xbe, 0x14, 0x00, 0x10, 0x00, 0xb9, 0x05, 0x00, 0x00, 0x00, 0x66, 0xba, 0xe9,
    0x00, 0xf3, 0x6e, 0xb0, 0x01, 0xe6, 0xf4, 0x70, 0x6f, 0x70, 0x65, 0x6b};

Test(kvm, string_io_reaches_every_element)
{
    struct machine *m = load(guest_string, sizeof(guest_string), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    cr_expect_eq(mach_exit_status(m), 3, "%s", mach_exit_message(m));
    char out[16] = {0};
    fflush(debugcon);
    rewind(debugcon);
    cr_expect_eq(fread(out, 1, sizeof(out) - 1, debugcon), 5u);
    cr_expect_str_eq(out, "popek");
}

/* org 0x7C00: mov ax, cs / test ax, ax / jnz bad / mov al, 0x11 /
 * out 0xF4, al / bad: mov al, 0x55 / out 0xF4, al */
static const uint8_t guest_real[] = {0x8c, 0xc8, 0x85, 0xc0, 0x75, 0x04, 0xb0,
                                     0x11, 0xe6, 0xf4, 0xb0, 0x55, 0xe6, 0xf4};

Test(kvm, real_mode_boot_sector)
{
    struct machine *m = load(guest_real, sizeof(guest_real), 0x7C00, MACH_BOOT_REAL, 0);
    run(m);
    cr_expect_eq(mach_exit_status(m), (0x11 << 1) | 1, "%s", mach_exit_message(m));
}

/* mov eax, 0x12345678 / lidt [idtr] / ud2 / idtr: dw 0, dd 0 */
static const uint8_t guest_triple[] = {0xb8, 0x78, 0x56, 0x34, 0x12, 0x0f, 0x01,
                                       0x1d, 0x0e, 0x00, 0x10, 0x00, 0x0f, 0x0b,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

Test(kvm, triple_fault_reports_registers)
{
    struct machine *m = load(guest_triple, sizeof(guest_triple), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_TRIPLE_FAULT, "%s", mach_exit_message(m));
    cr_expect_eq(mach_exit_status(m), MACH_STATUS_TRIPLE_FAULT);
    cr_expect_not_null(strstr(mach_exit_message(m), "EAX=12345678"), "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(mach_exit_message(m), "EIP=0010000c"), "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(mach_exit_message(m), "CS=0008"), "%s", mach_exit_message(m));
}

/* mov eax, [0xE0000000] / mov al, 1 / out 0xF4, al */
static const uint8_t guest_badmem[] = {0xa1, 0x00, 0x00, 0x00, 0xe0, 0xb0, 0x01, 0xe6, 0xf4};

Test(kvm, missing_memory)
{
    struct machine *m = load(guest_badmem, sizeof(guest_badmem), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_BAD_MEMORY, "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(mach_exit_message(m), "0xe0000000"), "%s", mach_exit_message(m));
}

/* jmp $ */
static const uint8_t guest_spin[] = {0xeb, 0xfe};

Test(kvm, timeout_stops_a_spinning_guest)
{
    struct machine *m = load(guest_spin, sizeof(guest_spin), LOAD_ADDR, MACH_BOOT_FLAT32,
                             50 * 1000 * 1000);
    uint64_t start = mach_now_ns();
    run(m);
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_TIMEOUT, "%s", mach_exit_message(m));
    cr_expect_lt(mach_now_ns() - start, 2000000000ull, "the kick timer ended KVM_RUN late");
}

/* mov esp, 0x300000; PIC remapped to 0x20 with only IRQ 0 unmasked, GDT[1] and IDT[0x20] built
 * at 0x200000/0x201000, PIT channel 0 in mode 2 at ~1 kHz, STI, then
 * `jmp $`: only the kick timer ends KVM_RUN so the interrupt can go in.
 * The handler writes the pushed CS (0x08) to the debug-exit port. */
static const uint8_t guest_pit[] = {
    0xbc, 0x00, 0x00, 0x30, 0x00, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0,
    0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xfe, 0xe6, 0x21, 0xc7, 0x05, 0x08,
    0x00, 0x20, 0x00, 0xff, 0xff, 0x00, 0x00, 0xc7, 0x05, 0x0c, 0x00, 0x20, 0x00, 0x00,
    0x9a, 0xcf, 0x00, 0xb8, 0x70, 0x00, 0x10, 0x00, 0x66, 0xa3, 0x00, 0x11, 0x20, 0x00,
    0x66, 0xc7, 0x05, 0x02, 0x11, 0x20, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x05, 0x04, 0x11,
    0x20, 0x00, 0x00, 0x8e, 0xc1, 0xe8, 0x10, 0x66, 0xa3, 0x06, 0x11, 0x20, 0x00, 0x0f,
    0x01, 0x15, 0x76, 0x00, 0x10, 0x00, 0x0f, 0x01, 0x1d, 0x7c, 0x00, 0x10, 0x00, 0xb0,
    0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40, 0xfb, 0xeb, 0xfe,
    0x8a, 0x44, 0x24, 0x04, 0xe6, 0xf4, 0x0f, 0x00, 0x00, 0x00, 0x20, 0x00, 0x07, 0x01,
    0x00, 0x10, 0x20, 0x00};

Test(kvm, pit_interrupt_reaches_a_spinning_guest)
{
    struct machine *m = load(guest_pit, sizeof(guest_pit), LOAD_ADDR, MACH_BOOT_FLAT32,
                             5000ull * 1000 * 1000);
    run(m);
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_DEBUG, "%s", mach_exit_message(m));
    cr_expect_eq(mach_exit_status(m), (0x08 << 1) | 1);
}

/* The same set-up as guest_pit, but with IF=0 while IRQ 0 becomes pending
 * (3000 x OUT 0x80 with `loop`), then STI: the interrupt can only go in
 * through a KVM_EXIT_IRQ_WINDOW_OPEN requested while IF was 0. */
static const uint8_t guest_window[] = {
    0xbc, 0x00, 0x00, 0x30, 0x00, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0,
    0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xfe, 0xe6, 0x21, 0xc7, 0x05, 0x08,
    0x00, 0x20, 0x00, 0xff, 0xff, 0x00, 0x00, 0xc7, 0x05, 0x0c, 0x00, 0x20, 0x00, 0x00,
    0x9a, 0xcf, 0x00, 0xb8, 0x79, 0x00, 0x10, 0x00, 0x66, 0xa3, 0x00, 0x11, 0x20, 0x00,
    0x66, 0xc7, 0x05, 0x02, 0x11, 0x20, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x05, 0x04, 0x11,
    0x20, 0x00, 0x00, 0x8e, 0xc1, 0xe8, 0x10, 0x66, 0xa3, 0x06, 0x11, 0x20, 0x00, 0x0f,
    0x01, 0x15, 0x7f, 0x00, 0x10, 0x00, 0x0f, 0x01, 0x1d, 0x85, 0x00, 0x10, 0x00, 0xb0,
    0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40, 0xb9, 0xb8, 0x0b,
    0x00, 0x00, 0xe6, 0x80, 0xe2, 0xfc, 0xfb, 0xeb, 0xfe, 0x8a, 0x44, 0x24, 0x04, 0xe6,
    0xf4, 0x0f, 0x00, 0x00, 0x00, 0x20, 0x00, 0x07, 0x01, 0x00, 0x10, 0x20, 0x00};

Test(kvm, interrupt_window_opens_at_sti)
{
    struct machine *m = load(guest_window, sizeof(guest_window), LOAD_ADDR, MACH_BOOT_FLAT32,
                             5000ull * 1000 * 1000);
    run(m);
    cr_expect_eq(mach_exit_status(m), (0x08 << 1) | 1, "%s", mach_exit_message(m));
    char *stats = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&stats, &len);
    kvm_engine.print_stats(m, out);
    fclose(out);
    cr_expect_not_null(strstr(stats, "kvm: irq-window "), "%s", stats);
    cr_expect_not_null(strstr(stats, "interrupts injected             1\n"), "%s", stats);
    free(stats);
}

/* At F000:FF00 of a 64 KiB ROM filled with 0xAB, reached from the reset
 * vector's jmp 0xF000:0xFF00: mov ax, 0xF000 / mov ds, ax /
 * mov byte [0], 0 / cmp byte [0], 0xAB / jne bad / cmp edx, 0x6D8 /
 * jne bad / mov eax, cr0 / cmp eax, 0x60000010 / jne bad / mov al, 0x2A /
 * out 0xF4, al / bad: mov al, 0x55 / out 0xF4, al */
static const uint8_t rom_code[] = {
    0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0xc6, 0x06, 0x00, 0x00, 0x00, 0x80, 0x3e,
    0x00, 0x00, 0xab, 0x75, 0x18, 0x66, 0x81, 0xfa, 0xd8, 0x06, 0x00, 0x00,
    0x75, 0x0f, 0x0f, 0x20, 0xc0, 0x66, 0x3d, 0x10, 0x00, 0x00, 0x60, 0x75,
    0x04, 0xb0, 0x2a, 0xe6, 0xf4, 0xb0, 0x55, 0xe6, 0xf4};
static const uint8_t reset_vector[] = {0xea, 0x00, 0xff, 0x00, 0xf0};

Test(kvm, reset_state_and_read_only_rom)
{
    static uint8_t rom[0x10000];
    memset(rom, 0xAB, sizeof(rom));
    memcpy(rom + 0xFF00, rom_code, sizeof(rom_code));
    memcpy(rom + 0xFFF0, reset_vector, sizeof(reset_vector));
    struct machine *m = new_machine(0);
    struct mach_err err;
    cr_assert_eq(mach_load_rom(m, write_image(rom, sizeof(rom)), &err), 0, "%s", err.msg);
    run(m);
    cr_expect_eq(mach_exit_status(m), (0x2A << 1) | 1, "%s", mach_exit_message(m));
}

/* A 4 MiB PSE page at 0 through a page directory at 0x200000, CR4.PSE,
 * CR3, CR0.PG, then mov al, 1 / out 0xF4, al. */
static const uint8_t guest_paging[] = {
    0xc7, 0x05, 0x00, 0x00, 0x20, 0x00, 0x83, 0x00, 0x00, 0x00, 0x0f, 0x20, 0xe0, 0x83,
    0xc8, 0x10, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x00, 0x20, 0x00, 0x0f, 0x22, 0xd8, 0x0f,
    0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xb0, 0x01, 0xe6, 0xf4};

Test(kvm, paging_runs_or_is_reported_unsupported)
{
    struct machine *m = load(guest_paging, sizeof(guest_paging), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    struct mach_err why = {{0}};
    bool can = kvm_engine.has_cap("paging", &why);
    cr_expect_eq(can, hw());
    if (can) {
        cr_expect_eq(mach_exit_status(m), 3, "%s", mach_exit_message(m));
        return;
    }
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_UNSUPPORTED, "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(mach_exit_message(m), "cannot run a 32-bit guest with paging"),
                       "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(why.msg, "cannot run a 32-bit guest with paging"), "%s", why.msg);
}

/* mov esp, 0x300000 / pushfd / push dword 8 / push dword next / iretd /
 * next: mov al, 1 / out 0xF4, al */
static const uint8_t guest_iret[] = {
    0xbc, 0x00, 0x00, 0x30, 0x00, 0x9c, 0x6a, 0x08, 0x68, 0x0e, 0x00, 0x10, 0x00, 0xcf,
    0xb0, 0x01, 0xe6, 0xf4};

Test(kvm, protected_mode_iret_runs_or_is_reported_unsupported)
{
    struct machine *m = load(guest_iret, sizeof(guest_iret), LOAD_ADDR, MACH_BOOT_FLAT32, 0);
    run(m);
    struct mach_err why = {{0}};
    bool can = kvm_engine.has_cap("pm-iret", &why);
    cr_expect_eq(can, hw());
    if (can) {
        cr_expect_eq(mach_exit_status(m), 3, "%s", mach_exit_message(m));
        return;
    }
    cr_expect_eq(mach_exit_kind(m), MACH_EXIT_UNSUPPORTED, "%s", mach_exit_message(m));
    cr_expect_not_null(strstr(mach_exit_message(m), "cannot emulate IRET in 32-bit protected mode"
                                                    " at 0008:0010000d (bytes cf"),
                       "%s", mach_exit_message(m));
}

Test(kvm, capabilities)
{
    struct mach_err why = {{0}};
    cr_expect(kvm_engine.has_cap("real-mode", &why), "%s", why.msg);
    cr_expect_not(kvm_engine.has_cap("no-such-thing", &why));
    cr_expect_not_null(strstr(why.msg, "unknown capability"), "%s", why.msg);
    const char *pvm_lacks[] = {"paging", "pae", "pm-iret", "v86"};
    for (size_t i = 0; i < sizeof(pvm_lacks) / sizeof(pvm_lacks[0]); i++) {
        why.msg[0] = '\0';
        bool can = kvm_engine.has_cap(pvm_lacks[i], &why);
        cr_expect_eq(can, hw(), "%s: %s", pvm_lacks[i], why.msg);
        if (!can)
            cr_expect_not_null(strstr(why.msg, "the host's KVM"), "%s", why.msg);
    }
}
