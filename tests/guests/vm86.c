/* Virtual-8086 mode (SDM Vol. 3A chapter 20) without CR4.VME: entered
 * from ring 0 by IRET with VM set in a 32-bit frame that carries ES, DS,
 * FS and GS (Figure 20-2); 8086 addressing; INT n with IOPL 3 through the
 * protected-mode IDT to ring 0 with the frame of Figure 6-5 (the v86
 * segment registers pushed, DS..GS zero in the handler) and back by IRET;
 * the IOPL-sensitive instructions at IOPL < 3 (#GP(0), 20.2.7); I/O
 * through the TSS I/O permission bitmap whatever IOPL (20.2.8.1); and the
 * way out for good, an INT to a ring-0 handler that does not return. */
#include "guest.h"

NEEDS("v86 pm-iret");

enum {
    G_IOTSS = GDT_FIRST_FREE, /* a TSS with an I/O permission bitmap */
};
#define SEL(i) ((uint16_t)((i) << 3))

/* Where the 8086 code and data live, below 1 MiB (paging is off). */
#define V86_CS 0x2000u
#define V86_DS 0x2100u
#define V86_ES 0x2200u
#define V86_FS 0x2300u
#define V86_GS 0x2400u
#define V86_SS 0x3000u
#define V86_SP 0x0FF0u
#define LIN(seg, off) ((uint32_t)(seg) * 16 + (off))
#define VEC_V86_CALL 0x40 /* returns to v86 with AX = 0xBEEF */
#define VEC_V86_EXIT 0x41 /* leaves v86 for good */
#define PORT_OK 0xA1      /* slave 8259A IMR: allowed in the bitmap */
#define PORT_DENIED 0x21  /* master 8259A IMR: denied */
#define FL_PF 0x4u
#define IOMAP_BYTES 0x80  /* ports 0..3FFH, then the 0FFH terminator */

__asm__(".text\n"
        ".code16\n"
        "v86_blob:\n"
        /* IOPL 3: segments, flags instructions, INT n, then out. */
        "v86_main:\n"
        "  mov $0x1234, %ax\n"
        "  mov %ax, 0x10\n"
        "  mov %es:0x20, %bx\n"
        "  mov %bx, 0x12\n"
        "  mov %fs:0x30, %bx\n"
        "  mov %bx, 0x14\n"
        "  mov %gs:0x40, %bx\n"
        "  mov %bx, 0x16\n"
        "  cli\n"
        "  sti\n"
        "  cli\n"
        "  pushf\n"
        "  pop %bx\n"
        "  mov %bx, 0x18\n"
        "  push %bx\n"
        "  popf\n"
        "  mov $0xC0DE, %ax\n"
        "  cmp %ax, %ax\n"
        "  int $0x40\n"
        "v86_after_call:\n"
        "  mov %ax, 0x1A\n"
        "  mov %sp, 0x1C\n"
        "  mov %ss, 0x1E\n"
        "  mov $0x600D, %ax\n"
        "  int $0x41\n"
        "v86_after_exit:\n"
        "  hlt\n"
        /* One instruction each, #GP(0) at IOPL < 3. */
        "v86_cli:  cli\n"
        "v86_sti:  sti\n"
        "v86_pushf: pushf\n"
        "v86_popf: popf\n"
        "v86_int:  int $0x40\n"
        "v86_iret: iret\n"
        /* I/O: an allowed port works (BL: what was read back), the run
         * ends with the #GP of HLT. */
        "v86_io_ok:\n"
        "  mov $0x5A, %al\n"
        "  out %al, $0xA1\n"
        "  mov $0, %al\n"
        "  in $0xA1, %al\n"
        "  mov %al, %bl\n"
        "  mov $0xFF, %al\n"
        "  mov $0xA1, %dx\n"
        "  out %al, (%dx)\n"
        "  in (%dx), %al\n"
        "v86_io_ok_end:\n"
        "  hlt\n"
        "v86_in_denied: in $0x21, %al\n"
        "v86_out_denied: out %al, $0x21\n"
        /* A word at A0H needs A0H too, which is denied. */
        "v86_in_word: in $0xA0, %ax\n"
        "v86_in_beyond:\n"
        "  mov $0x1000, %dx\n"
        "v86_in_beyond_insn:\n"
        "  in (%dx), %al\n"
        "v86_blob_end:\n"
        ".code32\n");
extern const char v86_blob[], v86_blob_end[], v86_main[], v86_after_call[], v86_after_exit[];
extern const char v86_cli[], v86_sti[], v86_pushf[], v86_popf[], v86_int[], v86_iret[];
extern const char v86_io_ok[], v86_io_ok_end[], v86_in_denied[], v86_out_denied[];
extern const char v86_in_word[], v86_in_beyond_insn[], v86_in_beyond[];
#define OFF(label) ((uint32_t)((label) - v86_blob))

static struct {
    struct tss32 t;
    uint8_t map[IOMAP_BYTES + 1];
} iotss __attribute__((aligned(128)));

static struct rt_jmp_buf v86_buf;
/* The IRET frame into v86: EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS. */
static uint32_t v86_frame[9];
/* What the last trap from v86 pushed (the CPU's frame, 9 dwords), the
 * selectors the handler started with, its error code and EAX/EBX. */
static struct {
    uint32_t eip, cs, eflags, esp, ss, es, ds, fs, gs;
    uint32_t h_ds, h_es, h_fs, h_gs, error, eax, ebx, frame, count;
} seen;

static void record(struct trap_frame *f)
{
    const uint32_t *v86_segs = &f->ss + 1;
    seen.eip = f->eip;
    seen.cs = f->cs;
    seen.eflags = f->eflags;
    seen.esp = f->esp;
    seen.ss = f->ss;
    seen.es = v86_segs[0];
    seen.ds = v86_segs[1];
    seen.fs = v86_segs[2];
    seen.gs = v86_segs[3];
    seen.h_ds = f->ds;
    seen.h_es = f->es;
    seen.h_fs = f->fs;
    seen.h_gs = f->gs;
    seen.error = f->error;
    seen.eax = f->eax;
    seen.ebx = f->ebx;
    seen.frame = (uint32_t)&f->eip;
    seen.count++;
}

/* INT 40H: answers in AX and returns to v86 by IRET. */
static void on_call(struct trap_frame *f)
{
    record(f);
    f->eax = (f->eax & 0xFFFF0000u) | 0xBEEF;
}

/* INT 41H and #GP: v86 is over; back to v86_run. */
static void on_exit(struct trap_frame *f)
{
    record(f);
    if (!(f->eflags & FL_VM)) {
        fail("gp-outside-v86 eip=0x%08x error=0x%x", f->eip, f->error);
        finish();
    }
    rt_longjmp(&v86_buf, (int)f->vector + 1);
}

/* Runs the 8086 code at ip with the given IOPL until a trap ends it;
 * returns that trap's vector. */
static unsigned v86_run(uint32_t ip, unsigned iopl)
{
    const uint32_t frame[9] = {ip, V86_CS, FL_VM | (iopl << FL_IOPL_SHIFT) | FL_FIXED1,
                               V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS};
    memcpy(v86_frame, frame, sizeof(frame));
    seen.count = 0;
    int v = rt_setjmp(&v86_buf);
    if (v)
        return (unsigned)(v - 1);
    __asm__ volatile("mov %0, %%esp\n\tiret" ::"r"(v86_frame) : "memory");
    __builtin_unreachable();
}

static void check_v86_frame(const char *name, uint32_t eip)
{
    check_eqf(eip, seen.eip, "%s.eip", name);
    check_eqf(V86_CS, seen.cs, "%s.cs", name);
    check_eqf(FL_VM, seen.eflags & FL_VM, "%s.eflags_vm", name);
    check_eqf(V86_SS, seen.ss, "%s.ss", name);
    check_eqf(V86_ES, seen.es, "%s.es", name);
    check_eqf(V86_DS, seen.ds, "%s.ds", name);
    check_eqf(V86_FS, seen.fs, "%s.fs", name);
    check_eqf(V86_GS, seen.gs, "%s.gs", name);
}

static void check_gp(const char *name, unsigned vec, uint32_t eip)
{
    check_eqf(VEC_GP, vec, "%s.vector", name);
    check_eqf(0, seen.error, "%s.error", name);
    check_v86_frame(name, eip);
}

static void iopl3_program(void)
{
    *(volatile uint16_t *)LIN(V86_ES, 0x20) = 0xE5E5;
    *(volatile uint16_t *)LIN(V86_FS, 0x30) = 0xF5F5;
    *(volatile uint16_t *)LIN(V86_GS, 0x40) = 0x6565;
    idt_set_handler(VEC_V86_CALL, on_call);
    unsigned v = v86_run(OFF(v86_main), 3);
    check_eq("exit.vector", VEC_V86_EXIT, v);
    check_v86_frame("exit", OFF(v86_after_exit));
    check_eq("exit.eax", 0x600D, seen.eax & 0xFFFF);
    check_eq("exit.esp", V86_SP, seen.esp);
    check_eq("exit.iopl", FL_IOPL, seen.eflags & FL_IOPL);
    /* The v86 program's stores, through DS with data read through ES, FS
     * and GS: linear = segment * 16 + offset. */
    const volatile uint16_t *out = (const volatile uint16_t *)LIN(V86_DS, 0);
    check_eq("seg.ds_store", 0x1234, out[0x10 / 2]);
    check_eq("seg.es_load", 0xE5E5, out[0x12 / 2]);
    check_eq("seg.fs_load", 0xF5F5, out[0x14 / 2]);
    check_eq("seg.gs_load", 0x6565, out[0x16 / 2]);
    /* PUSHF at IOPL 3: IOPL in the image, IF clear after CLI/STI/CLI. */
    check_eq("iopl3.pushf_image", FL_IOPL | FL_FIXED1, out[0x18 / 2]);
    /* Back from INT 40H: AX from the handler, the stack balanced. */
    check_eq("call.ax_after_iret", 0xBEEF, out[0x1A / 2]);
    check_eq("call.sp_after_iret", V86_SP, out[0x1C / 2]);
    check_eq("call.ss_after_iret", V86_SS, out[0x1E / 2]);
}

/* INT 40H once more, stopping in the handler to look at its frame. */
static void on_call_stop(struct trap_frame *f)
{
    record(f);
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    seen.cs |= (uint32_t)cs << 16;
    rt_longjmp(&v86_buf, (int)f->vector + 1);
}

static void int_frame(void)
{
    idt_set_handler(VEC_V86_CALL, on_call_stop);
    unsigned v = v86_run(OFF(v86_main), 3);
    idt_set_handler(VEC_V86_CALL, on_call);
    check_eq("int.vector", VEC_V86_CALL, v);
    check_eq("int.handler_cs", SEL_KCODE, seen.cs >> 16);
    seen.cs &= 0xFFFF;
    check_v86_frame("int", OFF(v86_after_call));
    /* The EFLAGS of the INT: VM, IOPL 3, ZF and PF from the CMP. */
    check_eq("int.eflags", FL_VM | FL_IOPL | FL_ZF | FL_PF | FL_FIXED1, seen.eflags);
    check_eq("int.esp", V86_SP, seen.esp);
    check_eq("int.eax", 0xC0DE, seen.eax & 0xFFFF);
    /* The handler starts with null DS, ES, FS and GS (6.12.1). */
    check_eq("int.handler_ds", 0, seen.h_ds & 0xFFFF);
    check_eq("int.handler_es", 0, seen.h_es & 0xFFFF);
    check_eq("int.handler_fs", 0, seen.h_fs & 0xFFFF);
    check_eq("int.handler_gs", 0, seen.h_gs & 0xFFFF);
    /* On the ring-0 stack of the TSS: 9 dwords below ESP0. */
    check_eq("int.frame_on_esp0", iotss.t.esp0 - 9 * 4, seen.frame);
}

static void sensitive(void)
{
    static const struct {
        const char *name;
        const char *insn;
    } insns[] = {
        {"iopl0.cli", v86_cli},     {"iopl0.sti", v86_sti},   {"iopl0.pushf", v86_pushf},
        {"iopl0.popf", v86_popf},   {"iopl0.int", v86_int},   {"iopl0.iret", v86_iret},
    };
    for (unsigned i = 0; i < sizeof(insns) / sizeof(insns[0]); i++)
        check_gp(insns[i].name, v86_run(OFF(insns[i].insn), 0), OFF(insns[i].insn));
}

static void io_bitmap(unsigned iopl)
{
    char name[32];
    const char *pfx = iopl ? "io.iopl3" : "io.iopl0";
    unsigned v = v86_run(OFF(v86_io_ok), iopl);
    check_eqf(VEC_GP, v, "%s.allowed.vector", pfx);
    check_eqf(OFF(v86_io_ok_end), seen.eip, "%s.allowed.ends_at_hlt", pfx);
    check_eqf(0x5A, seen.ebx & 0xFF, "%s.allowed.read_back", pfx);
    check_eqf(0xFF, seen.eax & 0xFF, "%s.allowed.read_dx", pfx);
    static const struct {
        const char *name;
        const char *start, *insn;
    } denied[] = {
        {"in_denied", v86_in_denied, v86_in_denied},
        {"out_denied", v86_out_denied, v86_out_denied},
        {"in_word_half_denied", v86_in_word, v86_in_word},
        {"in_beyond_map", v86_in_beyond, v86_in_beyond_insn},
    };
    for (unsigned i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        unsigned n = 0;
        for (const char *s = pfx; *s && n < sizeof(name) - 1;)
            name[n++] = *s++;
        name[n++] = '.';
        for (const char *s = denied[i].name; *s && n < sizeof(name) - 1;)
            name[n++] = *s++;
        name[n] = 0;
        check_gp(name, v86_run(OFF(denied[i].start), iopl), OFF(denied[i].insn));
    }
}

static void use_iotss(void)
{
    iotss.t.esp0 = (uint32_t)rt_ring0_stack_end;
    iotss.t.ss0 = SEL_KDATA;
    iotss.t.iomap_base = offsetof(__typeof__(iotss), map);
    memset(iotss.map, 0xFF, sizeof(iotss.map));
    iotss.map[PORT_OK / 8] &= (uint8_t) ~(1u << (PORT_OK % 8));
    gdt_set(G_IOTSS, desc_make((uint32_t)&iotss, sizeof(iotss.t) + sizeof(iotss.map) - 1,
                               DESC_P | 0x9, 0));
    __asm__ volatile("ltr %w0" ::"r"(SEL(G_IOTSS)));
}

/* Back to the runtime's TSS: LTR needs it marked available. */
static void restore_tss(void)
{
    rt_gdt[SEL_TSS >> 3] &= ~(2ull << 40);
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

void test_main(void)
{
    memcpy((void *)LIN(V86_CS, 0), v86_blob, (size_t)(v86_blob_end - v86_blob));
    use_iotss();
    idt_set_gate(VEC_V86_CALL, idt_stub(VEC_V86_CALL), SEL_KCODE, GATE_INT32, 3, true);
    idt_set_gate(VEC_V86_EXIT, idt_stub(VEC_V86_EXIT), SEL_KCODE, GATE_INT32, 3, true);
    idt_set_handler(VEC_V86_EXIT, on_exit);
    idt_set_handler(VEC_GP, on_exit);

    iopl3_program();
    int_frame();
    sensitive();
    io_bitmap(0);
    io_bitmap(3);

    idt_set_handler(VEC_GP, NULL);
    restore_tss();
    check_eq("pic_slave_mask_restored", 0xFF, inb(PORT_OK));
    /* The denied OUT to the master's IMR did not happen. */
    check_eq("io.denied_out_not_done", 0xFF, inb(PORT_DENIED));
}
