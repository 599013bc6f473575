/* The VM: /dev/kvm, the VM and its one vCPU, guest memory as KVM memory
 * slots, the popek CPU's CPUID, and the initial CPU state from the boot
 * descriptor the loader left (Documentation/virt/kvm/api.rst). */
#define _GNU_SOURCE
#include "hwaccel/kvm/kvm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>


/* VMX without unrestricted guest runs real mode in vm86 and needs a
 * three-page TSS and a one-page identity-mapped page table somewhere in
 * the guest's physical space that nothing else uses: QEMU's addresses,
 * below the largest ROM popek loads (16 MiB ending at 4 GiB). */
#define IDENTITY_MAP_ADDR 0xFEFFC000ull
#define TSS_ADDR 0xFEFFD000ull
#define HIDDEN_PAGES 4

/* Architectural constants of the initial states (Intel SDM Vol. 3A). */
#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
_Static_assert(CR0_PE == 0x1 && CR0_ET == 0x10, "CR0.PE bit 0, CR0.ET bit 4 (2.5)");
_Static_assert((CR0_CD | CR0_NW | CR0_ET) == 0x60000010u, "CR0 at reset (Table 9-1)");
#define EFLAGS_FIXED 0x2u /* reserved bit 1 is always 1 (Vol. 1 3.4.3, Figure 3-8) */
/* Segment descriptor types (3.4.5.1, Table 3-1), accessed bit set. */
#define SEG_TYPE_DATA_RW 0x3
#define SEG_TYPE_CODE_XR 0xB
#define SEG_TYPE_LDT 0x2
#define SEG_TYPE_TSS32_BUSY 0xB
/* x87 and SSE state at power-up and reset (Table 9-1): FCW 0040H, tag
 * word 5555H (all registers hold +0.0, so all are valid in the abridged
 * FXSAVE tag), MXCSR 1F80H. */
#define RESET_FCW 0x0040
#define RESET_FTWX 0xFF
#define RESET_MXCSR 0x1F80
#define RESET_DR6 0xFFFF0FF0ull
#define RESET_DR7 0x00000400ull

static int set_vmx_real_mode_pages(struct kvm_vm *vm, struct mach_err *err)
{
    for (unsigned i = 0; i < HIDDEN_PAGES; i++) {
        uint8_t *host;
        uint64_t run;
        uint64_t pa = IDENTITY_MAP_ADDR + i * 0x1000ull;
        if (mach_phys_lookup(vm->m, pa, &host, &run) != MACH_PHYS_UNASSIGNED)
            return mach_errf(err, "the KVM real-mode TSS at 0x%llx overlaps guest memory",
                             (unsigned long long)pa);
    }
    uint64_t idmap = IDENTITY_MAP_ADDR;
    if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
        ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
        return mach_errf(err, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
    if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR) < 0)
        return mach_errf(err, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    return 0;
}

/* The popek CPU's leaves, all of them: KVM answers CPUID from this table
 * (and for a leaf beyond it returns the highest basic leaf, as the model
 * does for an Intel vendor string). */
static int set_cpuid(struct kvm_vm *vm, struct mach_err *err)
{
    uint32_t max = hlp_cpuid_max_leaf(&vm->cpu);
    uint32_t max_ext = hlp_cpuid_max_ext_leaf(&vm->cpu);
    uint32_t n = (max + 1) + (max_ext - 0x80000000u + 1);
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
    if (!cpuid)
        return mach_errf(err, "out of memory");
    uint32_t i = 0;
    for (uint32_t leaf = 0; leaf <= max_ext; leaf++) {
        if (leaf == max + 1)
            leaf = 0x80000000u;
        struct hlp_cpuid_regs r = hlp_cpuid(&vm->cpu, leaf, 0);
        cpuid->entries[i++] = (struct kvm_cpuid_entry2){
            .function = leaf, .eax = r.eax, .ebx = r.ebx, .ecx = r.ecx, .edx = r.edx};
    }
    cpuid->nent = i;
    int rc = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid);
    free(cpuid);
    if (rc < 0)
        return mach_errf(err, "KVM_SET_CPUID2: %s", strerror(errno));
    return 0;
}

static struct kvm_segment segment(uint16_t selector, uint64_t base, uint32_t limit,
                                  uint8_t type, bool flat32)
{
    return (struct kvm_segment){
        .base = base,
        .limit = limit,
        .selector = selector,
        .type = type,
        .present = 1,
        .s = 1,
        .db = flat32,
        .g = flat32,
    };
}

/* Table 9-1 ("IA-32 and Intel 64 Processor States Following Power-up,
 * Reset, or INIT"): CS F000H with base FFFF0000H, the other segments 0
 * with limit FFFFH, GDTR/IDTR base 0 limit FFFFH, CR0 60000010H. */
static void reset_sregs(struct kvm_sregs *s)
{
    struct kvm_segment data = segment(0, 0, 0xFFFF, SEG_TYPE_DATA_RW, false);
    s->cs = segment(0xF000, 0xFFFF0000ull, 0xFFFF, SEG_TYPE_CODE_XR, false);
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->ldt = segment(0, 0, 0xFFFF, SEG_TYPE_LDT, false);
    s->ldt.s = 0;
    s->tr = segment(0, 0, 0xFFFF, SEG_TYPE_TSS32_BUSY, false);
    s->tr.s = 0;
    s->gdt = (struct kvm_dtable){.base = 0, .limit = 0xFFFF};
    s->idt = (struct kvm_dtable){.base = 0, .limit = 0xFFFF};
    s->cr0 = CR0_CD | CR0_NW | CR0_ET;
    s->cr2 = s->cr3 = s->cr4 = 0;
    s->efer = 0;
    memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
}

static int boot_state(struct kvm_vm *vm, const struct mach_boot *boot, struct kvm_sregs *s,
                      struct kvm_regs *r, struct mach_err *err)
{
    reset_sregs(s);
    memset(r, 0, sizeof(*r));
    r->rflags = EFLAGS_FIXED;
    switch (boot->kind) {
    case MACH_BOOT_RESET:
        r->rip = 0xFFF0;
        r->rdx = hlp_cpu_signature(&vm->cpu);
        return 0;
    case MACH_BOOT_MULTIBOOT:
    case MACH_BOOT_FLAT32:
        /* Multiboot 1 spec 3.2 "Machine state": flat 4 GiB segments,
         * CR0.PE=1, PG=0, IF=0, EAX magic, EBX info. The same for a flat
         * raw image; the GDTR is the guest's business. */
        s->cs = segment(0x08, 0, 0xFFFFFFFFu, SEG_TYPE_CODE_XR, true);
        s->ds = s->es = s->fs = s->gs = s->ss =
            segment(0x10, 0, 0xFFFFFFFFu, SEG_TYPE_DATA_RW, true);
        s->cr0 = CR0_PE | CR0_ET;
        r->rip = boot->eip;
        r->rax = boot->eax;
        r->rbx = boot->ebx;
        r->rsp = boot->esp;
        return 0;
    case MACH_BOOT_REAL: {
        /* machine.h: CS = (eip >> 4) & 0xF000, IP = eip & 0xFFFF; caches
         * on (CR0 = ET), as a BIOS leaves the CPU for a boot sector. */
        uint16_t cs = (boot->eip >> 4) & 0xF000;
        s->cs = segment(cs, (uint64_t)cs << 4, 0xFFFF, SEG_TYPE_CODE_XR, false);
        s->cr0 = CR0_ET;
        r->rip = boot->eip & 0xFFFF;
        r->rsp = boot->esp & 0xFFFF;
        return 0;
    }
    case MACH_BOOT_NONE:
        break;
    }
    return mach_errf(err, "no guest loaded: nothing to boot");
}

static int set_initial_state(struct kvm_vm *vm, struct mach_err *err)
{
    const struct mach_boot *boot = mach_boot_state(vm->m);
    struct kvm_sregs s;
    struct kvm_regs r;
    /* KVM's own fields (APIC base) come from its reset state. */
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return mach_errf(err, "KVM_GET_SREGS: %s", strerror(errno));
    if (boot_state(vm, boot, &s, &r, err) < 0)
        return -1;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
        return mach_errf(err, "KVM_SET_SREGS: %s", strerror(errno));
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return mach_errf(err, "KVM_SET_REGS: %s", strerror(errno));
    struct kvm_debugregs dbg = {.dr6 = RESET_DR6, .dr7 = RESET_DR7};
    if (ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &dbg) < 0)
        return mach_errf(err, "KVM_SET_DEBUGREGS: %s", strerror(errno));
    if (boot->kind == MACH_BOOT_RESET) {
        /* Other boots keep KVM's FNINIT state, as firmware leaves it. */
        struct kvm_fpu fpu = {.fcw = RESET_FCW, .ftwx = RESET_FTWX, .mxcsr = RESET_MXCSR};
        if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
            return mach_errf(err, "KVM_SET_FPU: %s", strerror(errno));
    }
    return 0;
}

static int create_vcpu(struct kvm_vm *vm, struct mach_err *err)
{
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        return mach_errf(err, "KVM_CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        return mach_errf(err, "KVM_GET_VCPU_MMAP_SIZE: %s",
                         size < 0 ? strerror(errno) : "smaller than struct kvm_run");
    void *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (run == MAP_FAILED)
        return mach_errf(err, "mapping kvm_run: %s", strerror(errno));
    vm->run = run;
    vm->run_size = (size_t)size;
    return 0;
}

static int open_kvm(struct kvm_vm *vm, struct mach_err *err)
{
    vm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->sys_fd < 0)
        return mach_errf(err, "/dev/kvm: %s", strerror(errno));
    int version = ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        return mach_errf(err, "/dev/kvm: KVM API version %d, popek needs %d", version,
                         KVM_API_VERSION);
    vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return mach_errf(err, "KVM_CREATE_VM: %s", strerror(errno));
    return 0;
}

int kvm_vm_create(struct kvm_vm *vm, struct machine *m, struct kvm_stats *stats,
                  struct mach_err *err)
{
    *vm = (struct kvm_vm){.m = m, .sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .stats = stats};
    vm->hw = kvm_host_hw_assisted();
    if (hlp_cpu_model_init(&vm->cpu, HLP_CPU_POPEK_OPTIONS) < 0)
        return mach_errf(err, "the popek CPU model rejects its own options");
    if (open_kvm(vm, err) < 0)
        return -1;
    vm->immediate_exit = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
    /* The identity map must be placed before the vCPU exists. */
    if (set_vmx_real_mode_pages(vm, err) < 0 || kvm_mem_create(vm, err) < 0 ||
        create_vcpu(vm, err) < 0 || set_cpuid(vm, err) < 0 || set_initial_state(vm, err) < 0)
        return -1;
    return 0;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->sys_fd >= 0)
        close(vm->sys_fd);
    kvm_mem_destroy(vm);
    *vm = (struct kvm_vm){.sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1};
}
