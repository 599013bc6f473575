/* Descriptor tables, trap dispatch and ring-3 entry. */
#include "rt_internal.h"

uint64_t rt_gdt[GDT_ENTRIES] __attribute__((aligned(8)));
uint64_t rt_ldt[LDT_ENTRIES] __attribute__((aligned(8)));
struct tss32 rt_tss __attribute__((aligned(128)));
static uint64_t idt[256] __attribute__((aligned(8)));
static trap_handler handlers[256];

static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
uint8_t *const rt_ring0_stack_end = ring0_stack + sizeof(ring0_stack);
static uint8_t user_stack[8192] __attribute__((aligned(16)));
uint8_t *const rt_user_stack_end = user_stack + sizeof(user_stack);

volatile struct trap_record trap_last;
struct rt_jmp_buf rt_catch_buf;
volatile int rt_catch_armed;
static struct rt_jmp_buf user_buf;
static volatile int user_active;


/* Segment descriptor layout: SDM Vol. 3A 3.4.5, Figure 3-8. */
uint64_t desc_make(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = limit & 0xFFFFu;
    d |= (uint64_t)(base & 0xFFFFFFu) << 16;
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xFu) << 48;
    d |= (uint64_t)(flags & 0xFu) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

void gdt_set(unsigned index, uint64_t desc)
{
    if (index < GDT_ENTRIES)
        rt_gdt[index] = desc;
}

void ldt_set(unsigned index, uint64_t desc)
{
    if (index < LDT_ENTRIES)
        rt_ldt[index] = desc;
}

/* Gate descriptor layout: SDM Vol. 3A 6.11, Figure 6-2. */
void idt_set_gate(unsigned vector, uint32_t offset, uint16_t sel, unsigned type,
                  unsigned dpl, bool present)
{
    uint64_t g = offset & 0xFFFFu;
    g |= (uint64_t)sel << 16;
    g |= (uint64_t)((type & 0xFu) | ((dpl & 3u) << 5) | (present ? 0x80u : 0)) << 40;
    g |= (uint64_t)(offset >> 16) << 48;
    idt[vector & 0xFF] = g;
}

uint32_t idt_stub(unsigned vector) { return rt_isr_stubs[vector & 0xFF]; }

void idt_set_handler(unsigned vector, trap_handler h) { handlers[vector & 0xFF] = h; }

static void load_tables(void)
{
    struct dtr gdtr = {sizeof(rt_gdt) - 1, (uint32_t)rt_gdt};
    struct dtr idtr = {sizeof(idt) - 1, (uint32_t)idt};
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%fs\n\t"
                     "mov %2, %%gs\n\t"
                     "mov %2, %%ss\n\t"
                     "lidt %3\n\t"
                     "ltr %w4\n\t"
                     "lldt %w5"
                     :
                     : "m"(gdtr), "i"(SEL_KCODE), "r"(SEL_KDATA), "m"(idtr),
                       "r"(SEL_TSS), "r"(SEL_LDT)
                     : "memory");
}

void rt_cpu_init(void)
{
    const uint8_t code = DESC_P | DESC_S | DESC_CODE | DESC_READABLE | DESC_ACCESSED;
    const uint8_t data = DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED;
    rt_gdt[SEL_KCODE >> 3] = desc_make(0, 0xFFFFF, code, DESC_G | DESC_DB);
    rt_gdt[SEL_KDATA >> 3] = desc_make(0, 0xFFFFF, data, DESC_G | DESC_DB);
    rt_gdt[SEL_UCODE >> 3] = desc_make(0, 0xFFFFF, code | DESC_DPL(3), DESC_G | DESC_DB);
    rt_gdt[SEL_UDATA >> 3] = desc_make(0, 0xFFFFF, data | DESC_DPL(3), DESC_G | DESC_DB);
    /* Type 9: available 32-bit TSS; 2: LDT (SDM Vol. 3A 3.5, Table 3-2). */
    rt_gdt[SEL_TSS >> 3] = desc_make((uint32_t)&rt_tss, sizeof(rt_tss) - 1, DESC_P | 0x9, 0);
    rt_gdt[SEL_LDT >> 3] = desc_make((uint32_t)rt_ldt, sizeof(rt_ldt) - 1, DESC_P | 0x2, 0);
    rt_ldt[0] = desc_make(0, 0xFFFFF, data, DESC_G | DESC_DB);
    rt_ldt[1] = desc_make(0, 0xFFFFF, code, DESC_G | DESC_DB);

    rt_tss.esp0 = (uint32_t)rt_ring0_stack_end;
    rt_tss.ss0 = SEL_KDATA;
    /* An I/O map base beyond the TSS limit: no I/O permission bitmap, so
     * IN/OUT at CPL > IOPL raise #GP (SDM Vol. 1 19.5.2). */
    rt_tss.iomap_base = sizeof(rt_tss);

    for (unsigned v = 0; v < 48; v++)
        idt_set_gate(v, rt_isr_stubs[v], SEL_KCODE, GATE_INT32, 0, true);
    idt_set_gate(VEC_SYSCALL, rt_isr_stubs[VEC_SYSCALL], SEL_KCODE, GATE_INT32, 3, true);
    idt_set_gate(VEC_SYSCALL_TRAP, rt_isr_stubs[VEC_SYSCALL_TRAP], SEL_KCODE, GATE_TRAP32,
                 3, true);
    load_tables();
}

static void record(const struct trap_frame *f)
{
    trap_last.vector = f->vector;
    trap_last.error = f->error;
    trap_last.eip = f->eip;
    trap_last.cs = f->cs;
    trap_last.eflags = f->eflags;
    trap_last.cr2 = read_cr2();
    trap_last.esp = (f->cs & 3) ? f->esp : 0;
    trap_last.ss = (f->cs & 3) ? f->ss : 0;
    trap_last.eax = f->eax;
    trap_last.frame = (uint32_t)&f->eip;
    trap_last.count++;
}

void rt_trap_dispatch(struct trap_frame *f)
{
    unsigned v = f->vector;
    record(f);
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if ((f->cs & 3) && user_active) {
        user_active = 0;
        rt_longjmp(&user_buf, (int)v + 1);
    }
    if (!(f->cs & 3) && rt_catch_armed) {
        rt_catch_armed = 0;
        rt_longjmp(&rt_catch_buf, (int)v + 1);
    }
    /* IRQ 7 and 15 without a handler are the 8259A's spurious interrupts
     * (8259A datasheet, "Interrupt sequence"): no EOI is owed. */
    if (v == 0x27 || v == 0x2F)
        return;
    fail("unexpected-trap vector=0x%x error=0x%x eip=0x%08x cs=0x%x eflags=0x%08x cr2=0x%08x",
         v, f->error, f->eip, f->cs, f->eflags, trap_last.cr2);
    finish();
}

unsigned user_run(user_fn fn, uint32_t arg, uint32_t eflags)
{
    uint32_t *sp = (uint32_t *)rt_user_stack_end;
    *--sp = arg;
    *--sp = (uint32_t)rt_user_exit_stub;
    int v = rt_setjmp(&user_buf);
    if (v)
        return (unsigned)(v - 1);
    user_active = 1;
    rt_enter_user((uint32_t)fn, (uint32_t)sp, eflags | FL_FIXED1);
}
