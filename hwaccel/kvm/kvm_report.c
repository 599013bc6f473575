/* Guest state for fatal exits and traces: registers, the CPU mode, the
 * instruction bytes at CS:EIP, and the names of the instructions kvm_pvm's
 * emulator is known to lack (kvm_host.c). */
#include "hwaccel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define EFLAGS_VM (1ull << 17)
_Static_assert(CR0_PG == 0x80000000ull, "CR0.PG is bit 31 (SDM Vol. 3A 2.5)");
_Static_assert(EFLAGS_VM == 0x20000ull, "EFLAGS.VM is bit 17 (SDM Vol. 1 3.4.3)");

#define MAX_INSN 15 /* longest x86 instruction (SDM Vol. 2A 2.3.11) */

struct guest_state {
    struct kvm_regs r;
    struct kvm_sregs s;
};

static bool get_state(struct kvm_vm *vm, struct guest_state *g)
{
    return ioctl(vm->vcpu_fd, KVM_GET_REGS, &g->r) == 0 &&
           ioctl(vm->vcpu_fd, KVM_GET_SREGS, &g->s) == 0;
}

static const char *mode_name(const struct guest_state *g)
{
    if (!(g->s.cr0 & CR0_PE))
        return "real mode";
    if (g->r.rflags & EFLAGS_VM)
        return "virtual-8086 mode";
    return g->s.cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

/* Bytes at CS:EIP from RAM or ROM only (reading MMIO would have side
 * effects), through the guest's page tables when paging is on. */
static size_t fetch_insn(struct kvm_vm *vm, const struct guest_state *g, uint8_t *buf)
{
    uint32_t linear = (uint32_t)(g->s.cs.base + g->r.rip);
    size_t n = 0;
    for (; n < MAX_INSN; n++) {
        uint64_t pa = (uint32_t)(linear + n);
        if (g->s.cr0 & CR0_PG) {
            struct kvm_translation t = {.linear_address = pa};
            if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
                break;
            pa = t.physical_address;
        }
        uint8_t *host;
        uint64_t run;
        enum mach_phys_kind kind = mach_phys_lookup(vm->m, pa, &host, &run);
        if (kind != MACH_PHYS_RAM && kind != MACH_PHYS_ROM)
            break;
        buf[n] = *host;
    }
    return n;
}

static bool is_prefix(uint8_t b)
{
    return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
           b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

/* Two-byte opcodes (SDM Vol. 2D, Table A-3). */
static const char *insn_name_0f(const uint8_t *b, size_t n)
{
    if (n < 2)
        return NULL;
    uint8_t op = b[1];
    uint8_t modrm = n > 2 ? b[2] : 0;
    unsigned reg = (modrm >> 3) & 7;
    if (op == 0x00 && (reg == 4 || reg == 5))
        return "VERR/VERW";
    if (op == 0x01 && modrm == 0xD0)
        return "XGETBV";
    if (op == 0x02 || op == 0x03)
        return "LAR/LSL";
    if (op == 0x22 && reg == 0)
        return "MOV to CR0";
    if (op == 0xB8)
        return "POPCNT";
    if (op == 0xC7 && (modrm >> 6) == 3 && reg >= 6)
        return reg == 6 ? "RDRAND" : "RDSEED";
    if ((op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2F) || (op >= 0x50 && op <= 0x7F) ||
        (op >= 0xC2 && op <= 0xC6) || op >= 0xD0)
        return "an MMX/SSE instruction";
    return NULL;
}

/* One-byte opcodes (SDM Vol. 2D, Table A-2) that kvm_pvm cannot emulate. */
static const char *insn_name(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && is_prefix(b[i]))
        i++;
    if (i == n)
        return NULL;
    switch (b[i]) {
    case 0xCF:
        return "IRET";
    case 0xCD:
        return "INT n";
    case 0xCC:
        return "INT3";
    case 0xCE:
        return "INTO";
    case 0x62:
        return "BOUND";
    case 0x27:
    case 0x2F:
    case 0x37:
    case 0x3F:
    case 0xD4:
    case 0xD5:
        return "a decimal-adjust instruction";
    case 0x9B:
    case 0xD8 ... 0xDF:
        return "an x87 instruction";
    case 0x9A:
    case 0xEA:
        return "a far JMP/CALL through a gate or TSS";
    case 0x0F:
        return insn_name_0f(b + i, n - i);
    default:
        return NULL;
    }
}

static void format_bytes(const uint8_t *b, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 4 < len; i++)
        used += (size_t)snprintf(out + used, len - used, i ? " %02x" : "%02x", b[i]);
    if (n == 0)
        snprintf(out, len, "unreadable");
}

static void format_regs(const struct guest_state *g, char *out, size_t len)
{
    const struct kvm_regs *r = &g->r;
    const struct kvm_sregs *s = &g->s;
    snprintf(out, len,
             "  EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
             "  EIP=%08x EFLAGS=%08x CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n"
             "  CS=%04x DS=%04x ES=%04x FS=%04x GS=%04x SS=%04x",
             (uint32_t)r->rax, (uint32_t)r->rbx, (uint32_t)r->rcx, (uint32_t)r->rdx,
             (uint32_t)r->rsi, (uint32_t)r->rdi, (uint32_t)r->rbp, (uint32_t)r->rsp,
             (uint32_t)r->rip, (uint32_t)r->rflags, (uint32_t)s->cr0, (uint32_t)s->cr2,
             (uint32_t)s->cr3, (uint32_t)s->cr4, s->cs.selector, s->ds.selector,
             s->es.selector, s->fs.selector, s->gs.selector, s->ss.selector);
}

void kvm_report_location(struct kvm_vm *vm, char *buf, size_t len)
{
    struct guest_state g;
    if (!get_state(vm, &g)) {
        snprintf(buf, len, "an unknown location (%s)", strerror(errno));
        return;
    }
    snprintf(buf, len, "%04x:%08x (%s)", g.s.cs.selector, (uint32_t)g.r.rip, mode_name(&g));
}

/* kvm_pvm refuses MOV to CR0 with PG=1 with #GP(0) at that instruction;
 * a guest without a #GP handler then shuts down right there. */
static bool paging_refused(struct kvm_vm *vm, const struct guest_state *g)
{
    if (g->s.cr0 & CR0_PG)
        return true;
    uint8_t b[MAX_INSN];
    size_t n = fetch_insn(vm, g, b);
    if (n < 3 || b[0] != 0x0F || b[1] != 0x22 || ((b[2] >> 3) & 7) != 0)
        return false;
    /* ModRM.rm names the source register, in the encoding order. */
    const uint64_t gpr[8] = {g->r.rax, g->r.rcx, g->r.rdx, g->r.rbx,
                             g->r.rsp, g->r.rbp, g->r.rsi, g->r.rdi};
    return (gpr[b[2] & 7] & CR0_PG) != 0;
}

void kvm_report_shutdown(struct kvm_vm *vm)
{
    struct guest_state g;
    if (!get_state(vm, &g)) {
        mach_request_exit(vm->m, MACH_EXIT_TRIPLE_FAULT, 0,
                          "triple fault (KVM_EXIT_SHUTDOWN); registers unavailable: %s",
                          strerror(errno));
        return;
    }
    char regs[320];
    format_regs(&g, regs, sizeof(regs));
    if (!vm->hw && paging_refused(vm, &g)) {
        mach_request_exit(vm->m, MACH_EXIT_UNSUPPORTED, 0,
                          "the host's KVM (%s) cannot run a 32-bit guest with paging "
                          "(the guest set CR0.PG at %04x:%08x)",
                          kvm_host_limits(), g.s.cs.selector, (uint32_t)g.r.rip);
        return;
    }
    mach_request_exit(vm->m, MACH_EXIT_TRIPLE_FAULT, 0,
                      "triple fault at %04x:%08x in %s (KVM_EXIT_SHUTDOWN)\n%s",
                      g.s.cs.selector, (uint32_t)g.r.rip, mode_name(&g), regs);
}

static const char *internal_error_name(uint32_t suberror)
{
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "exit while delivering an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
        return "unexpected hardware exit";
    default:
        return "unknown";
    }
}

/* The instruction KVM could not emulate: from kvm_run when KVM provides
 * it (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES), else from
 * guest memory. */
static size_t failed_insn(struct kvm_vm *vm, const struct guest_state *g, bool have_state,
                          uint8_t *buf)
{
    struct kvm_run *run = vm->run;
    if (run->emulation_failure.ndata >= 3 &&
        (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
        size_t n = run->emulation_failure.insn_size;
        if (n > MAX_INSN)
            n = MAX_INSN;
        memcpy(buf, run->emulation_failure.insn_bytes, n);
        return n;
    }
    return have_state ? fetch_insn(vm, g, buf) : 0;
}

void kvm_report_internal_error(struct kvm_vm *vm)
{
    struct kvm_run *run = vm->run;
    uint32_t suberror = run->internal.suberror;
    struct guest_state g;
    memset(&g, 0, sizeof(g));
    bool have = get_state(vm, &g);
    char regs[320] = "  registers unavailable";
    if (have)
        format_regs(&g, regs, sizeof(regs));
    if (suberror != KVM_INTERNAL_ERROR_EMULATION) {
        mach_request_exit(vm->m, MACH_EXIT_ENGINE_ERROR, 0,
                          "KVM internal error %u (%s) at %04x:%08x in %s\n%s", suberror,
                          internal_error_name(suberror), g.s.cs.selector, (uint32_t)g.r.rip,
                          mode_name(&g), regs);
        return;
    }
    uint8_t insn[MAX_INSN];
    size_t n = failed_insn(vm, &g, have, insn);
    char bytes[3 * MAX_INSN + 1];
    format_bytes(insn, n, bytes, sizeof(bytes));
    const char *name = insn_name(insn, n);
    char host[64] = "";
    if (!vm->hw)
        snprintf(host, sizeof(host), " (%s)", kvm_host_limits());
    mach_request_exit(vm->m, MACH_EXIT_UNSUPPORTED, 0,
                      "the host's KVM%s cannot emulate %s in %s at %04x:%08x (bytes %s)\n%s",
                      host, name ? name : "the instruction", mode_name(&g), g.s.cs.selector,
                      (uint32_t)g.r.rip, bytes, regs);
}

void kvm_report_fail_entry(struct kvm_vm *vm)
{
    struct guest_state g;
    char regs[320] = "  registers unavailable";
    if (get_state(vm, &g))
        format_regs(&g, regs, sizeof(regs));
    mach_request_exit(vm->m, MACH_EXIT_ENGINE_ERROR, 0,
                      "KVM could not enter the guest: hardware entry failure reason 0x%llx "
                      "on host CPU %u\n%s",
                      (unsigned long long)vm->run->fail_entry.hardware_entry_failure_reason,
                      vm->run->fail_entry.cpu, regs);
}
