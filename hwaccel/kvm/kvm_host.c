/* What the host's KVM can run: available(), hw_assisted(), has_cap().
 *
 * On a host with VT-x or AMD-V the guest runs on the CPU and KVM runs
 * everything. The development machines have neither: /dev/kvm belongs to
 * kvm_pvm, which emulates a guest that is not PVM-aware one instruction at
 * a time with KVM's instruction emulator (arch/x86/kvm/emulate.c). Probed
 * there with small raw guests (kvm_pvm on Linux 6.18, Intel Xeon host, KVM
 * API 12; READONLY_MEM, IMMEDIATE_EXIT, SET_TSS_ADDR, SET_IDENTITY_MAP_ADDR
 * and SYNC_REGS present):
 *
 *   works   real mode (incl. INT n/IRET through the IVT), real <-> protected
 *           mode switches, unpaged 32-bit protected mode: ALU, string ops,
 *           far JMP/CALL/RETF, LGDT/LIDT/LLDT, MOV CRn/DRn, CLI/STI,
 *           PUSHF/POPF, CPUID (answered from KVM_SET_CPUID2), RDTSC,
 *           RDMSR/WRMSR, SYSENTER, CMPXCHG8B; string I/O arrives as one
 *           KVM_EXIT_IO with count > 1; writes to a KVM_MEM_READONLY slot
 *           arrive as KVM_EXIT_MMIO; injected external interrupts
 *           (KVM_INTERRUPT) and exceptions (#DE, #UD, #GP) are delivered
 *           through the protected-mode IDT. About 0.2-0.4 us per guest
 *           instruction, 1.5 us per CPUID, ~6 us per OUT round trip through
 *           user space; a timer signal interrupts KVM_RUN (EINTR) even in a
 *           tight guest loop.
 *   paging  MOV to CR0 with PG=1 raises #GP(0) at that MOV, CR0 keeps
 *           PG=0; without a #GP handler that ends in KVM_EXIT_SHUTDOWN
 *           with EIP at the MOV CR0 (CR4.PAE alone can be set).
 *   pm-iret IRET, INT n, INT3 and INTO in protected mode stop with
 *           KVM_EXIT_INTERNAL_ERROR, suberror 1 (KVM_INTERNAL_ERROR_EMULATION)
 *           with the instruction bytes in kvm_run (flags bit 0, insn_size
 *           15). So does a task switch (JMP to a TSS).
 *   x87/SIMD every x87 instruction but FNINIT/FNSTCW (FLD1, FADD, FSTP,
 *           FNSTSW, FWAIT, FNSAVE ...), MMX and most SSE (XORPS, PADDD;
 *           MOVUPS/MOVDQA move data) stop the same way, as do BOUND,
 *           AAM/DAA, LAR/LSL/VERR, POPCNT, XGETBV and RDRAND.
 *   nested  a fault while delivering an exception: #NP on the not-present
 *           code segment of #DE's gate comes out as #GP instead of #DF;
 *           #NP on the not-present gate of #UD (benign) becomes #DF.
 *   v86     runs with EFLAGS.VM set, but INT3 raises #UD instead of going
 *           through the IDT, OUT ignores the TSS I/O permission bitmap,
 *           an exception from v86 pushes 0 for ES/DS/FS/GS and leaves the
 *           old DS in place, and only IRET (unsupported) returns to v86.
 */
#include "hwaccel/kvm/kvm_internal.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* CPUID.01H:ECX.VMX[5] (Intel SDM Vol. 3C 24.6) and CPUID.80000001H:ECX.SVM[2]
 * (AMD APM Vol. 2 15.4), as this process sees them. */
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)
_Static_assert(CPUID_1_ECX_VMX == 0x20u, "VMX is CPUID.01H:ECX bit 5");
_Static_assert(CPUID_80000001_ECX_SVM == 0x4u, "SVM is CPUID.80000001H:ECX bit 2");

static bool host_has_kvm_pvm(void)
{
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}

bool kvm_host_hw_assisted(void)
{
    unsigned eax, ebx, ecx, edx;
    bool vmx = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & CPUID_1_ECX_VMX);
    bool svm = __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) &&
               (ecx & CPUID_80000001_ECX_SVM);
    if (!vmx && !svm)
        return false;
    /* /dev/kvm belongs to one vendor module: with kvm_pvm loaded and
     * neither kvm_intel nor kvm_amd, VT-x/AMD-V go unused. */
    if (host_has_kvm_pvm() && access("/sys/module/kvm_intel", F_OK) != 0 &&
        access("/sys/module/kvm_amd", F_OK) != 0)
        return false;
    return true;
}

const char *kvm_host_limits(void)
{
    return host_has_kvm_pvm() ? "kvm_pvm, no VT-x/AMD-V" : "no VT-x/AMD-V";
}

bool kvm_host_available(struct machine *m, struct mach_err *why)
{
    (void)m;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        mach_errf(why, "/dev/kvm: %s", strerror(errno));
        return false;
    }
    bool ok = false;
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        mach_errf(why, "/dev/kvm: KVM API version %d, popek needs %d", version,
                  KVM_API_VERSION);
    } else {
        int vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (vm < 0) {
            mach_errf(why, "/dev/kvm: KVM_CREATE_VM: %s", strerror(errno));
        } else {
            close(vm);
            ok = true;
        }
    }
    close(fd);
    return ok;
}

/* What kvm_pvm lacks, from the experiments above (NULL: it runs). Guests
 * name the capabilities they need. */
static const struct {
    const char *cap;
    const char *pvm_reason;
} caps[] = {
    {"real-mode", NULL},
    {"paging", "cannot run a 32-bit guest with paging (MOV to CR0 with PG=1 raises #GP)"},
    {"pae", "cannot run a 32-bit guest with paging, PAE included (MOV to CR0 with PG=1 "
            "raises #GP)"},
    {"pm-iret", "cannot emulate IRET, INT n, INT3 or INTO in protected mode "
                "(KVM_EXIT_INTERNAL_ERROR, emulation failure)"},
    {"v86", "cannot run virtual-8086 mode (no IRET into or out of it; INT3, the I/O "
            "permission bitmap and the segment frame of exceptions are wrong)"},
    {"nested-exceptions", "delivers a fault raised while delivering another exception wrongly "
                          "(a not-present gate code segment gives #GP, not #DF; #NP on the gate "
                          "of a benign #UD gives #DF)"},
    {"bcd", "cannot emulate the decimal-adjust instructions (AAA, DAA, AAM, ...)"},
    {"x87", "cannot emulate x87 instructions beyond FNINIT/FNSTCW"},
    {"mmx", "cannot emulate MMX instructions"},
    {"sse", "cannot emulate SSE arithmetic (XORPS, PADDD, ...)"},
};

bool kvm_host_has_cap(const char *cap, struct mach_err *why)
{
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        if (strcmp(cap, caps[i].cap))
            continue;
        if (!caps[i].pvm_reason || kvm_host_hw_assisted())
            return true;
        mach_errf(why, "the host's KVM (%s) %s", kvm_host_limits(), caps[i].pvm_reason);
        return false;
    }
    mach_errf(why, "unknown capability '%s'", cap);
    return false;
}
