/* Guest memory as KVM memory slots: the layout of machine/physmem.c (RAM
 * from 0, split around the ROM's alias at 0xF0000 when a ROM is loaded,
 * the ROM ending at 4 GiB), rebuilt when the A20 gate changes.
 *
 * With A20 disabled, physical address bit 20 is forced to 0 (the PC/AT's
 * 8086 wrap-around): every odd megabyte shows the even one below it. KVM
 * has no A20 mask, so the odd megabytes become slots aliasing the even
 * ones. Slots are finite (KVM_CAP_NR_MEMSLOTS); when RAM has more
 * megabytes than slots allow, the aliases cover the lowest megabytes,
 * which are all that real-mode and 16-bit code can reach. */
#define _GNU_SOURCE
#include "hwaccel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define ROM_ALIAS_SIZE 0x10000ull
#define ONE_MIB 0x100000ull
#define ROM_SLOT 0      /* the ROM at the top of 4 GiB; its alias is a RAM piece */
#define FIRST_RAM_SLOT 1

struct kvm_mem_piece {
    uint64_t gpa, size;
    uint8_t *host;
    bool read_only;
};

static int set_slot(struct kvm_vm *vm, uint32_t slot, const struct kvm_mem_piece *p,
                    struct mach_err *err)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot,
        .flags = p->read_only ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = p->gpa,
        .memory_size = p->size,
        .userspace_addr = (uint64_t)(uintptr_t)p->host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return mach_errf(err, "KVM_SET_USER_MEMORY_REGION slot %u 0x%llx+0x%llx: %s", slot,
                         (unsigned long long)p->gpa, (unsigned long long)p->size,
                         strerror(errno));
    return 0;
}

/* Appends [gpa, gpa+size) backed by host, merging with the previous piece
 * when both are contiguous. */
static void add_piece(struct kvm_mem_piece *list, unsigned *n, uint64_t gpa, uint64_t size,
                      uint8_t *host, bool ro)
{
    struct kvm_mem_piece *last = *n ? &list[*n - 1] : NULL;
    if (last && last->gpa + last->size == gpa && last->host + last->size == host &&
        last->read_only == ro) {
        last->size += size;
        return;
    }
    list[(*n)++] = (struct kvm_mem_piece){gpa, size, host, ro};
}

/* RAM seen at [gpa, gpa+size) when it shows physical [src, src+size):
 * the ROM's low alias (mach_rom_alias) replaces RAM below 1 MiB when a
 * ROM is loaded. */
static void add_ram(struct kvm_vm *vm, struct kvm_mem_piece *list, unsigned *n, uint64_t gpa,
                    uint64_t src, uint64_t size)
{
    uint8_t *ram = mach_ram(vm->m);
    uint64_t end = src + size, alias_base, alias_size;
    mach_rom_alias(vm->m, &alias_base, &alias_size);
    if (!vm->rom || end <= alias_base || src >= ONE_MIB) {
        add_piece(list, n, gpa, size, ram + src, false);
        return;
    }
    if (src < alias_base)
        add_piece(list, n, gpa, alias_base - src, ram + src, false);
    add_piece(list, n, gpa + (alias_base - src), alias_size,
              vm->rom + vm->rom_size - alias_size, vm->rom_read_only);
    if (end > ONE_MIB)
        add_piece(list, n, gpa + (ONE_MIB - src), end - ONE_MIB, ram + ONE_MIB, false);
}

/* The RAM pieces for the A20 state, at most max of them. */
static unsigned ram_layout(struct kvm_vm *vm, bool a20, struct kvm_mem_piece *list, unsigned max)
{
    uint64_t ram_size = mach_ram_size(vm->m);
    unsigned n = 0;
    for (uint64_t mib = 0; mib * ONE_MIB < ram_size; mib++) {
        uint64_t gpa = mib * ONE_MIB;
        uint64_t size = ram_size - gpa < ONE_MIB ? ram_size - gpa : ONE_MIB;
        /* Two pieces per megabyte at worst (a ROM alias split): stop
         * aliasing while two more and the identity rest still fit. */
        bool alias = !a20 && (mib & 1) && n + 6 <= max;
        if (!alias && !a20 && (mib & 1)) {
            add_ram(vm, list, &n, gpa, gpa, ram_size - gpa);
            break;
        }
        add_ram(vm, list, &n, gpa, alias ? gpa - ONE_MIB : gpa, size);
    }
    return n;
}

int kvm_mem_layout(struct kvm_vm *vm, bool a20, struct mach_err *err)
{
    struct kvm_mem_piece *list = vm->mem_pieces;
    unsigned n = ram_layout(vm, a20, list, vm->mem_max_pieces);
    for (unsigned i = 0; i < vm->mem_slots_used; i++) {
        struct kvm_mem_piece gone = {0};
        if (set_slot(vm, FIRST_RAM_SLOT + i, &gone, err) < 0)
            return -1;
    }
    vm->mem_slots_used = 0;
    for (unsigned i = 0; i < n; i++) {
        if (set_slot(vm, FIRST_RAM_SLOT + i, &list[i], err) < 0)
            return -1;
        vm->mem_slots_used = i + 1;
    }
    return 0;
}

/* The ROM gets its own page-aligned copy (KVM maps whole host pages; the
 * machine's copy is malloc'd). With KVM_CAP_READONLY_MEM guest writes to
 * it exit as MMIO and are dropped; without it the slots are ordinary RAM
 * and a guest could change its copy of the ROM. */
static int add_rom(struct kvm_vm *vm, struct mach_err *err)
{
    uint64_t size, base;
    const uint8_t *rom = mach_rom(vm->m, &size, &base);
    if (size < ROM_ALIAS_SIZE || (size & 0xFFF))
        return mach_errf(err, "BIOS ROM of %llu bytes: not a multiple of 4 KiB holding 64 KiB",
                         (unsigned long long)size);
    void *copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED)
        return mach_errf(err, "mapping the ROM: %s", strerror(errno));
    memcpy(copy, rom, size);
    vm->rom = copy;
    vm->rom_size = size;
    vm->rom_read_only = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    struct kvm_mem_piece top = {base, size, vm->rom, vm->rom_read_only};
    return set_slot(vm, ROM_SLOT, &top, err);
}

static void a20_changed(void *opaque, bool enabled)
{
    struct kvm_vm *vm = opaque;
    struct mach_err err;
    if (kvm_mem_layout(vm, enabled, &err) < 0)
        mach_request_exit(vm->m, MACH_EXIT_ENGINE_ERROR, 0, "A20 %s: %s",
                          enabled ? "on" : "off", err.msg);
}

int kvm_mem_create(struct kvm_vm *vm, struct mach_err *err)
{
    int slots = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    if (slots <= 0)
        slots = 32; /* the minimum KVM has ever had */
    if (slots > 1024)
        slots = 1024;
    vm->mem_max_pieces = (unsigned)slots - FIRST_RAM_SLOT;
    vm->mem_pieces = calloc(vm->mem_max_pieces, sizeof(struct kvm_mem_piece));
    if (!vm->mem_pieces)
        return mach_errf(err, "out of memory");
    if (mach_rom(vm->m, NULL, NULL) && add_rom(vm, err) < 0)
        return -1;
    if (kvm_mem_layout(vm, mach_a20_enabled(vm->m), err) < 0)
        return -1;
    mach_set_hooks(vm->m, &(struct mach_hooks){.opaque = vm, .a20_changed = a20_changed});
    return 0;
}

void kvm_mem_destroy(struct kvm_vm *vm)
{
    free(vm->mem_pieces);
    vm->mem_pieces = NULL;
    if (vm->rom)
        munmap(vm->rom, vm->rom_size);
    vm->rom = NULL;
}
