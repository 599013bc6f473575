/* The native oracle: runs differential-test cases on the host CPU in 32-bit
 * user mode. Built -m32 -static; reads struct diff_case records on stdin
 * and writes one struct diff_result per case on stdout.
 *
 * Each case's code and data are placed at the same fixed addresses the
 * guest runtime uses. A trampoline loads EFLAGS and the eight registers and
 * jumps to the code; the code ends with `jmp [DIFF_END_VEC]`, which lands
 * in a capture routine that stores the registers without touching the
 * case's stack. An exception inside the sequence arrives as a signal on an
 * alternate stack: the handler takes the vector from the trap number the
 * kernel saved (ucontext REG_TRAPNO, REG_ERR), records the state at the
 * fault and resumes the trampoline's caller by rewriting EIP/ESP in the
 * ucontext, so no longjmp is needed and the signal mask is restored by
 * sigreturn. The x87 starts every case as FNINIT leaves it, as in the
 * guest, and is initialized again after it, so that an exception the case
 * left pending cannot surface in the C code (built for the x87 by -m32). */
#define _GNU_SOURCE
#include "diff_case.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ucontext.h>
#include <unistd.h>

#ifndef __i386__
#error "diff_native is built with -m32"
#endif

/* Shared with the assembly below; the names carry the module prefix. */
struct diff_native_state {
    uint32_t gpr[DIFF_NGPR];
    uint32_t eflags;
    uint32_t entry;
};
struct diff_native_state diff_native_in, diff_native_out;
uint32_t diff_native_saved_esp;
int diff_native_enter(void);
void diff_native_capture(void);
void diff_native_resume(void);

/* The offsets below are those of struct diff_native_state. */
__asm__(".text\n"
        ".globl diff_native_enter\n"
        "diff_native_enter:\n"
        "  push %ebp\n  push %ebx\n  push %esi\n  push %edi\n"
        "  mov %esp, diff_native_saved_esp\n"
        "  fninit\n"
        "  pushl diff_native_in+32\n"
        "  popfl\n"
        "  mov diff_native_in+0, %eax\n"
        "  mov diff_native_in+4, %ecx\n"
        "  mov diff_native_in+8, %edx\n"
        "  mov diff_native_in+12, %ebx\n"
        "  mov diff_native_in+20, %ebp\n"
        "  mov diff_native_in+24, %esi\n"
        "  mov diff_native_in+28, %edi\n"
        "  mov diff_native_in+16, %esp\n"
        "  jmp *diff_native_in+36\n"
        ".globl diff_native_capture\n"
        "diff_native_capture:\n"
        "  mov %eax, diff_native_out+0\n"
        "  mov %ecx, diff_native_out+4\n"
        "  mov %edx, diff_native_out+8\n"
        "  mov %ebx, diff_native_out+12\n"
        "  mov %esp, diff_native_out+16\n"
        "  mov %ebp, diff_native_out+20\n"
        "  mov %esi, diff_native_out+24\n"
        "  mov %edi, diff_native_out+28\n"
        "  mov diff_native_saved_esp, %esp\n"
        "  pushfl\n"
        "  popl diff_native_out+32\n"
        "  cld\n"
        "  xor %eax, %eax\n"
        "  jmp 1f\n"
        ".globl diff_native_resume\n"
        "diff_native_resume:\n"
        "  mov $1, %eax\n"
        "1:\n"
        "  fninit\n" /* no pending x87 exception for the C code after */
        "  pop %edi\n  pop %esi\n  pop %ebx\n  pop %ebp\n"
        "  ret\n");

_Static_assert(sizeof(struct diff_native_state) == 40, "offsets used by the trampoline");

static struct diff_result fault;

/* Async-signal-safe: touches only static memory and the ucontext. */
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)si;
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    uint32_t eip = (uint32_t)g[REG_EIP];
    if (eip < DIFF_CODE_BASE || eip >= DIFF_CODE_BASE + DIFF_MAX_BATCH * DIFF_SLOT_SIZE) {
        /* The oracle itself faulted: die with the signal's default action. */
        signal(sig, SIG_DFL);
        return;
    }
    static const int order[DIFF_NGPR] = {REG_EAX, REG_ECX, REG_EDX, REG_EBX,
                                         REG_ESP, REG_EBP, REG_ESI, REG_EDI};
    for (int i = 0; i < DIFF_NGPR; i++)
        fault.gpr[i] = (uint32_t)g[order[i]];
    fault.eflags = (uint32_t)g[REG_EFL];
    fault.eip = eip;
    fault.vector = (uint32_t)g[REG_TRAPNO];
    fault.error_code = (uint32_t)g[REG_ERR];
    g[REG_EIP] = (greg_t)(uintptr_t)diff_native_resume;
    g[REG_ESP] = (greg_t)diff_native_saved_esp;
    g[REG_EFL] = 0x202;
}

static int map_fixed(uint32_t addr, uint32_t len, int prot)
{
    void *p = mmap((void *)(uintptr_t)addr, len, prot,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != (void *)(uintptr_t)addr) {
        fprintf(stderr,
                "diff_native: cannot map %#x-%#x: %s (the data area must lie below 64 KiB "
                "for 16-bit addressing: is vm.mmap_min_addr above %#x?)\n",
                addr, addr + len, p == MAP_FAILED ? strerror(errno) : "placed elsewhere", addr);
        return -1;
    }
    return 0;
}

static int setup(void)
{
    if (map_fixed(DIFF_END_VEC & ~0xFFFu, DIFF_DATA_PAGES_BASE + DIFF_DATA_PAGES_SIZE -
                                              (DIFF_END_VEC & ~0xFFFu),
                  PROT_READ | PROT_WRITE) < 0 ||
        map_fixed(DIFF_CODE_BASE, DIFF_MAX_BATCH * DIFF_SLOT_SIZE,
                  PROT_READ | PROT_WRITE | PROT_EXEC) < 0)
        return -1;
    *(volatile uint32_t *)(uintptr_t)DIFF_END_VEC = (uint32_t)(uintptr_t)diff_native_capture;

    static uint8_t altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    if (sigaltstack(&ss, NULL) < 0) {
        perror("diff_native: sigaltstack");
        return -1;
    }
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0) {
            perror("diff_native: sigaction");
            return -1;
        }
    return 0;
}

/* True when the bytes of the data pages outside the data area are still
 * zero: the tracker promises every access of a case stays inside. */
static int outside_clean(void)
{
    const uint8_t *p = (const uint8_t *)(uintptr_t)DIFF_DATA_PAGES_BASE;
    for (uint32_t a = DIFF_DATA_PAGES_BASE; a < DIFF_DATA_PAGES_BASE + DIFF_DATA_PAGES_SIZE; a++)
        if ((a < DIFF_DATA_BASE || a >= DIFF_DATA_END) && p[a - DIFF_DATA_PAGES_BASE])
            return 0;
    return 1;
}

static void run_case(const struct diff_case *c, struct diff_result *r)
{
    uint32_t entry = DIFF_CODE_BASE + c->slot * DIFF_SLOT_SIZE;
    memcpy((void *)(uintptr_t)entry, c->code, c->code_len);
    memcpy((void *)(uintptr_t)DIFF_DATA_BASE, c->data, DIFF_DATA_SIZE);
    memcpy(diff_native_in.gpr, c->gpr, sizeof(c->gpr));
    diff_native_in.eflags = (c->eflags & DIFF_FL_COMPARED) | DIFF_FL_FIXED;
    diff_native_in.entry = entry;

    memset(r, 0, sizeof(*r));
    if (diff_native_enter() == 0) {
        memcpy(r->gpr, diff_native_out.gpr, sizeof(r->gpr));
        r->eflags = diff_native_out.eflags;
        r->eip = entry + c->code_len - DIFF_END_LEN;
        r->vector = DIFF_VEC_END;
    } else {
        memcpy(r->gpr, fault.gpr, sizeof(r->gpr));
        r->eflags = fault.eflags;
        r->eip = fault.eip;
        r->vector = fault.vector;
        /* Only these vectors push an error code (SDM Vol. 3A, 6.13). */
        int has_err = r->vector == 8 || (r->vector >= 10 && r->vector <= 14) || r->vector == 17;
        r->error_code = has_err ? fault.error_code : 0;
    }
    memcpy(r->data, (const void *)(uintptr_t)DIFF_DATA_BASE, DIFF_DATA_SIZE);
    if (!outside_clean()) {
        r->flags |= DIFF_RES_OUTSIDE_WRITE;
        memset((void *)(uintptr_t)DIFF_DATA_PAGES_BASE, 0, DIFF_DATA_PAGES_SIZE);
    }
}

int main(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: %s < cases > results (run by diff_run)\n", argv[0]);
        return 2;
    }
    if (setup() < 0)
        return 1;
    static struct diff_case c;
    static struct diff_result r;
    for (unsigned long n = 0;; n++) {
        size_t got = fread(&c, 1, sizeof(c), stdin);
        if (got == 0 && feof(stdin))
            break;
        if (got != sizeof(c)) {
            fprintf(stderr, "diff_native: case %lu: short read (%zu bytes)\n", n, got);
            return 1;
        }
        if (c.slot >= DIFF_MAX_BATCH || c.code_len < DIFF_END_LEN || c.code_len > DIFF_CODE_MAX) {
            fprintf(stderr, "diff_native: case %lu: bad slot %u or code length %u\n", n, c.slot,
                    c.code_len);
            return 1;
        }
        run_case(&c, &r);
        if (fwrite(&r, sizeof(r), 1, stdout) != 1) {
            perror("diff_native: writing results");
            return 1;
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
