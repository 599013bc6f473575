/* The guest test runtime: everything a guest test (tests/guests/NAME.c)
 * uses. A test defines `void test_main(void)`; the runtime has then set up
 * the serial port, a GDT with ring 0/3 segments, a TSS and an LDT, an IDT
 * with a stub for every vector, and the PIC (remapped to 0x20/0x28, all
 * lines masked). test_main makes checks; the runtime calls finish() after
 * it, which reports and leaves through the debug-exit port.
 *
 * Output contract (read by run_guest_test.sh): one line per check,
 *   CHECK <name> expected=0x<8 hex> actual=0x<8 hex> ok|FAIL
 * and one summary line, SUMMARY checks=N failed=M PASS|FAIL. Checks must
 * compare values that are the same on every engine (no TSC readings, no
 * CPUID vendor strings): the runner diffs CHECK lines between engines. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine capabilities a test needs, as a space-separated list of the
 * names of struct mach_engine.has_cap ("paging", "pae", "pm-iret",
 * "real-mode", "v86"). Kept in the non-loaded ELF section .popek.needs,
 * where the runner reads it. Use once per test, at file scope. */
#define NEEDS(caps)                                                          \
    __asm__(".pushsection .popek.needs,\"\",@progbits\n\t.ascii \"" caps     \
            " \"\n\t.popsection")

/* The exit status of popek the runner expects when it is not 1 (debug-exit
 * 0), e.g. EXIT_STATUS("6") for a test that ends in a deliberate triple
 * fault after summary_print(). Kept in the non-loaded section
 * .popek.status. Use at most once per test, at file scope. */
#define EXIT_STATUS(status)                                                  \
    __asm__(".pushsection .popek.status,\"\",@progbits\n\t.ascii \"" status \
            "\"\n\t.popsection")

/* ---- report ------------------------------------------------------------- */
void check_eq(const char *name, uint32_t expected, uint32_t actual);
static inline void check_true(const char *name, bool cond)
{
    check_eq(name, 1, cond ? 1 : 0);
}
/* check_eq with a printf-formatted name. */
void check_eqf(uint32_t expected, uint32_t actual, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Checks that a trap happened (`trapped`) and that trap_last holds the
 * given vector, error code and saved EIP: NAME.trapped, NAME.vector, ... */
void check_trap(const char *name, bool trapped, uint32_t vector, uint32_t error,
                uint32_t eip);
/* A failure without a value comparison (e.g. an unexpected trap). */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void finish(void);
/* Prints the SUMMARY line without leaving; true when every check passed.
 * For tests that end some other way (EXIT_STATUS). */
bool summary_print(void);

void test_main(void);

/* ---- console: 16550 UART at 0x3F8 ---------------------------------------- */
void serial_init(void);
void serial_putc(char c);
/* %d %u %x %X %s %c %p and %%, with '0' and '-' flags and a width. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* ---- port I/O and CPU instructions ---------------------------------------- */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

#define DEFINE_CR(n)                                                         \
    static inline uint32_t read_cr##n(void)                                  \
    {                                                                        \
        uint32_t v;                                                          \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                    \
        return v;                                                            \
    }                                                                        \
    static inline void write_cr##n(uint32_t v)                               \
    {                                                                        \
        __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory");             \
    }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

/* CR0 and CR4 bits (SDM Vol. 3A 2.5). */
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_TSD (1u << 2)
#define CR4_PSE (1u << 4)
_Static_assert(CR0_PG == 0x80000000u && CR0_WP == 0x10000u && CR4_PSE == 0x10u, "CR bits");

/* EFLAGS bits (SDM Vol. 1 3.4.3). */
#define FL_CF (1u << 0)
#define FL_FIXED1 (1u << 1)
#define FL_ZF (1u << 6)
#define FL_TF (1u << 8)
#define FL_IF (1u << 9)
#define FL_DF (1u << 10)
#define FL_OF (1u << 11)
#define FL_IOPL_SHIFT 12
#define FL_IOPL (3u << 12)
#define FL_NT (1u << 14)
#define FL_RF (1u << 16)
#define FL_VM (1u << 17)
#define FL_AC (1u << 18)
#define FL_ID (1u << 21)
_Static_assert(FL_IF == 0x200 && FL_IOPL == 0x3000 && FL_VM == 0x20000, "EFLAGS layout");

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}
static inline void write_eflags(uint32_t v)
{
    __asm__ volatile("pushl %0; popfl" ::"r"(v) : "memory", "cc");
}
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
}

/* ---- segments: GDT, LDT, TSS ---------------------------------------------- */
enum {
    SEL_KCODE = 0x08, /* flat 32-bit code, DPL 0 */
    SEL_KDATA = 0x10, /* flat data, DPL 0 */
    SEL_UCODE = 0x1B, /* flat 32-bit code, DPL 3 (RPL 3) */
    SEL_UDATA = 0x23, /* flat data, DPL 3 (RPL 3) */
    SEL_TSS = 0x28,
    SEL_LDT = 0x30,
    GDT_FIRST_FREE = 7, /* entries 7..GDT_ENTRIES-1 are for tests */
    GDT_ENTRIES = 16,
    LDT_ENTRIES = 4,
};

/* Descriptor access bytes (SDM Vol. 3A 3.4.5, Table 3-1 and 3-2). */
#define DESC_P 0x80
#define DESC_DPL(n) ((n) << 5)
#define DESC_S 0x10
#define DESC_CODE 0x08
#define DESC_CONFORMING 0x04
#define DESC_READABLE 0x02
#define DESC_WRITABLE 0x02
#define DESC_EXPAND_DOWN 0x04
#define DESC_ACCESSED 0x01
/* Flags nibble (descriptor bits 52-55). */
#define DESC_G 0x8
#define DESC_DB 0x4

extern uint64_t rt_gdt[GDT_ENTRIES];
extern uint64_t rt_ldt[LDT_ENTRIES];

uint64_t desc_make(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void gdt_set(unsigned index, uint64_t desc);
void ldt_set(unsigned index, uint64_t desc);

/* 32-bit TSS (SDM Vol. 3A 7.2.1, Figure 7-2). */
struct tss32 {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
};
_Static_assert(sizeof(struct tss32) == 104, "32-bit TSS is 104 bytes");
extern struct tss32 rt_tss;
/* The top of the stack the TSS gives ring 0 (the default rt_tss.esp0). */
extern uint8_t *const rt_ring0_stack_end;

struct dtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));
_Static_assert(sizeof(struct dtr) == 6, "SGDT/SIDT store 6 bytes (SDM Vol. 2B SGDT)");
static inline struct dtr sgdt(void)
{
    struct dtr d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d;
}
static inline struct dtr sidt(void)
{
    struct dtr d;
    __asm__ volatile("sidt %0" : "=m"(d));
    return d;
}

/* ---- interrupts and exceptions ------------------------------------------------ */
/* The stack as isr_common in entry.asm leaves it. esp/ss exist only when the
 * trap came from CPL 3 (SDM Vol. 3A 6.12.1, Figure 6-4). */
struct trap_frame {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t esp, ss;
};
_Static_assert(offsetof(struct trap_frame, vector) == 12 * 4, "pushed by entry.asm: 4 + 8");
_Static_assert(offsetof(struct trap_frame, eip) == 14 * 4, "CPU frame after vector, error");

/* The last trap taken, recorded for every vector before anything else. */
struct trap_record {
    uint32_t vector, error, eip, cs, eflags, cr2;
    uint32_t esp, ss;      /* from CPL 3 only */
    uint32_t eax;          /* EAX at the trap (INT 0x80 argument) */
    uint32_t frame;        /* address of the saved EIP: ring-0 ESP after the push */
    uint32_t count;        /* traps taken so far */
};
extern volatile struct trap_record trap_last;

enum {
    VEC_DE = 0, VEC_DB = 1, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5, VEC_UD = 6,
    VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12, VEC_GP = 13, VEC_PF = 14,
    VEC_IRQ0 = 0x20, VEC_SYSCALL = 0x80, VEC_SYSCALL_TRAP = 0x81,
};
/* IDT gate types (SDM Vol. 3A 6.11, Figure 6-2). */
#define GATE_INT32 0xE
#define GATE_TRAP32 0xF

typedef void (*trap_handler)(struct trap_frame *f);
/* A handler runs in place of the default action; returning resumes the
 * interrupted code by IRET (it may change the frame, e.g. f->eip). */
void idt_set_handler(unsigned vector, trap_handler h);
void idt_set_gate(unsigned vector, uint32_t offset, uint16_t sel, unsigned type,
                  unsigned dpl, bool present);
/* The runtime's stub for a vector (gates set up by idt_set_gate may use it). */
uint32_t idt_stub(unsigned vector);

/* Catching an expected fault at CPL 0, setjmp-style:
 *
 *   if (!fault_catch()) { ...code that should fault...; fault_uncatch(); }
 *   else { trap_last says which fault, at which EIP; }
 *
 * A trap at CPL 0 with no handler while the catcher is armed resumes at the
 * fault_catch() call, which then returns non-zero, with IF and the other
 * EFLAGS as they were at the call. TRY_FAULT(stmt) gives 1 when stmt
 * trapped, 0 when it ran to its end. */
struct rt_jmp_buf {
    uint32_t eip, esp, ebx, esi, edi, ebp, eflags;
};
int rt_setjmp(struct rt_jmp_buf *b) __attribute__((returns_twice));
__attribute__((noreturn)) void rt_longjmp(struct rt_jmp_buf *b, int value);
extern struct rt_jmp_buf rt_catch_buf;
extern volatile int rt_catch_armed;
#define fault_catch() (rt_catch_armed = 1, rt_setjmp(&rt_catch_buf))
static inline void fault_uncatch(void) { rt_catch_armed = 0; }
#define TRY_FAULT(stmt)                                                      \
    ({                                                                       \
        trap_last.vector = ~0u;                                              \
        int try_trap_ = fault_catch();                                       \
        if (!try_trap_) {                                                    \
            stmt;                                                            \
            fault_uncatch();                                                 \
        }                                                                    \
        try_trap_ != 0;                                                      \
    })

/* ---- ring 3 ------------------------------------------------------------------ */
/* Runs fn(arg) at CPL 3 on the user stack (entered by IRET with the given
 * EFLAGS, to which bit 1 is added) until it returns or traps. Returning
 * executes INT 0x80 with fn's result in EAX. Any trap from CPL 3 without a
 * handler ends user mode: user_run returns its vector (0x80 for a normal
 * return), and trap_last has the details (trap_last.eax is fn's result). */
typedef uint32_t (*user_fn)(uint32_t arg);
unsigned user_run(user_fn fn, uint32_t arg, uint32_t eflags);
/* The top of the user stack: fn starts with ESP = end - 8 (its return
 * address, then arg). */
extern uint8_t *const rt_user_stack_end;
extern void rt_user_exit_stub(void);

/* ---- paging (SDM Vol. 3A 4.3, 32-bit paging) ------------------------------------ */
#define PTE_P (1u << 0)
#define PTE_W (1u << 1)
#define PTE_U (1u << 2)
#define PTE_A (1u << 5)
#define PTE_D (1u << 6)
#define PDE_PS (1u << 7)
#define PAGE_SIZE 4096u
#define BIG_PAGE_SIZE 0x400000u
_Static_assert(PTE_A == 0x20 && PTE_D == 0x40 && PDE_PS == 0x80, "SDM Vol. 3A Table 4-6");
/* Identity-mapped with 4 KiB pages by pg_init: 0 .. PG_IDENTITY_END. */
#define PG_IDENTITY_END 0x800000u

extern uint32_t pg_dir[1024];
/* Identity-maps 0..PG_IDENTITY_END with P|W|U 4 KiB pages; other PDEs empty. */
void pg_init(void);
/* Loads CR3 with pg_dir and sets CR0.PG (CR4.PSE as asked). */
void pg_enable(bool pse);
void pg_disable(void);
/* The PTE for va, creating its page table (P|W|U in the PDE) if needed. */
volatile uint32_t *pg_pte(uint32_t va);
static inline volatile uint32_t *pg_pde(uint32_t va) { return &pg_dir[va >> 22]; }
void pg_map_4k(uint32_t va, uint32_t pa, uint32_t flags);
void pg_map_4m(uint32_t va, uint32_t pa, uint32_t flags);
/* The entry that maps va: its PDE for a 4 MiB page, else its PTE. */
volatile uint32_t *pg_leaf(uint32_t va);
/* Sets, then clears, flag bits (PTE_U, PTE_W, PTE_A, ...) in va's leaf
 * entry and invalidates its TLB entry. */
void pg_update(uint32_t va, uint32_t set, uint32_t clear);
static inline uint32_t pg_accessed_dirty(uint32_t va) { return *pg_leaf(va) & (PTE_A | PTE_D); }
static inline void invlpg(uint32_t va)
{
    __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}
static inline void pg_flush_all(void) { write_cr3(read_cr3()); }

/* ---- 8259A PIC and 8254 PIT ---------------------------------------------------- */
/* Remaps the master to base1, the slave to base2 (ICW1-4, 8259A datasheet)
 * and masks every line. */
void pic_remap(uint8_t base1, uint8_t base2);
void pic_mask(unsigned irq);
void pic_unmask(unsigned irq);
void pic_eoi(unsigned irq);
uint16_t pic_read_irr(void);
uint16_t pic_read_isr(void);
uint16_t pic_read_imr(void);
#define PIT_HZ 1193182u
/* Channel 0, mode 2 (rate generator), binary, LSB then MSB. */
void pit_periodic(uint16_t divisor);
/* The current channel-0 count, by a counter-latch command. */
uint16_t pit_read_count0(void);

/* ---- Multiboot hand-off ---------------------------------------------------------- */
extern uint32_t rt_boot_eax, rt_boot_ebx, rt_boot_eflags, rt_boot_cr0, rt_boot_bss_dirty;
struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr;
};

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
