/* Data segments with a non-zero base and a 4 GiB limit (SDM Vol. 3A
 * 3.4.5.1, 3.3: linear = base + offset, modulo 2^32 in 32-bit mode), as
 * Linux uses FS for per-CPU data at CPL 0 and glibc GS for TLS at CPL
 * 3: loads, stores, read-modify-writes, PUSH m32 and CALL m32 through
 * FS in a hot loop that reloads FS with another based segment between
 * accesses; a base that wraps around 4 GiB; DS, ES and SS with a
 * base. Expected values come from the same operations on the flat
 * view. Neither paging nor CPL 3 (seg_base_paged.c): the kvm engine
 * runs it too. */
#include "guest.h"

enum { G_FS_A = GDT_FIRST_FREE, G_FS_B, G_WRAP, G_DS, G_SS };
#define SEL(i) ((uint32_t)((i) << 3))

#define N_HOT 1000u
#define N_LOOP 200u
#define WRAP_BASE 0xF0000000u
#define DS_BASE 0x80000000u
#define SS_BASE 0x00100000u

static uint32_t area[1024] __attribute__((aligned(4096)));
uint32_t seg_bumps;

/* seg_hot(count, sel_a, sel_b): with A = FS:sel_a and B = FS:sel_b,
 * for i = count..1 (see ref_hot); returns the EDI sum. */
__asm__(".text\n"
        "seg_hot:\n"
        "  push %ebx\n  push %esi\n  push %edi\n  push %ebp\n"
        "  mov 20(%esp), %ecx\n"
        "  mov 24(%esp), %esi\n"
        "  mov 28(%esp), %ebp\n"
        "  xor %edi, %edi\n"
        "  mov %si, %fs\n"
        "1:\n"
        "  mov %fs:0, %eax\n"
        "  add %eax, %fs:4\n"
        "  incl %fs:8\n"
        "  mov %ecx, %edx\n"
        "  and $7, %edx\n"
        "  mov %ecx, %fs:0x10(,%edx,4)\n"
        "  mov $4, %ebx\n"
        "  addl $3, %fs:0xC(%ebx,%edx,4)\n"
        "  movzbl %fs:0xC, %edx\n"
        "  add %edx, %edi\n"
        "  sub %edx, %fs:0\n"
        "  pushl %fs:4\n"
        "  pop %ebx\n"
        "  xor %ebx, %fs:0xC\n"
        "  mov %bp, %fs\n"
        "  add %ecx, %fs:4\n"
        "  add %fs:0, %edi\n"
        "  mov %si, %fs\n"
        "  call *%fs:0x30\n"
        "  dec %ecx\n"
        "  jnz 1b\n"
        "  mov %edi, %eax\n"
        "  pop %ebp\n  pop %edi\n  pop %esi\n  pop %ebx\n"
        "  ret\n"
        "seg_bump:\n"
        "  incl seg_bumps\n"
        "  ret\n"
        /* seg_wrap(count, sel, off, off2): GS = sel; adds through
         * gs:off and gs:off2, returns gs:off2. */
        "seg_wrap:\n"
        "  push %esi\n"
        "  mov 8(%esp), %ecx\n"
        "  mov 12(%esp), %eax\n"
        "  mov 16(%esp), %edx\n"
        "  mov 20(%esp), %esi\n"
        "  mov %ax, %gs\n"
        "1:\n"
        "  addl $1, %gs:(%edx)\n"
        "  mov %gs:4(%edx), %eax\n"
        "  add %eax, %gs:8(%edx)\n"
        "  addl $0x01010101, %gs:(%esi)\n"
        "  dec %ecx\n"
        "  jnz 1b\n"
        "  mov %gs:(%esi), %eax\n"
        "  pop %esi\n"
        "  ret\n"
        /* seg_ds(count, sel, off): DS = ES = sel for the loop. */
        "seg_ds:\n"
        "  push %ds\n  push %es\n"
        "  mov 12(%esp), %ecx\n"
        "  mov 16(%esp), %eax\n"
        "  mov 20(%esp), %edx\n"
        "  mov %ax, %ds\n"
        "  mov %ax, %es\n"
        "1:\n"
        "  mov (%edx), %eax\n"
        "  add %eax, 4(%edx)\n"
        "  mov %ecx, %es:8(%edx)\n"
        "  incl 12(%edx)\n"
        "  dec %ecx\n"
        "  jnz 1b\n"
        "  mov 4(%edx), %eax\n"
        "  pop %es\n  pop %ds\n"
        "  ret\n"
        /* seg_ss(count, sel, base): SS = sel with ESP moved by -base, so
         * the stack stays at the same linear address; interrupts off. */
        "seg_ss:\n"
        "  push %ebx\n  push %ebp\n  pushf\n  cli\n"
        "  mov 16(%esp), %ecx\n"
        "  mov 20(%esp), %eax\n"
        "  mov 24(%esp), %edx\n"
        "  mov %ss, %ebx\n"
        "  sub %edx, %esp\n"
        "  mov %ax, %ss\n"
        "  sub $16, %esp\n"
        "  movl $5, (%esp)\n"
        "  movl $0, 8(%esp)\n"
        "  movl $0, 12(%esp)\n"
        "  mov %esp, %ebp\n"
        "1:\n"
        "  add %ecx, (%esp)\n"
        "  mov 0(%ebp), %eax\n"
        "  add %eax, 8(%esp)\n"
        "  push %ecx\n"
        "  pop %eax\n"
        "  xor %eax, 12(%ebp)\n"
        "  dec %ecx\n"
        "  jnz 1b\n"
        "  mov (%esp), %eax\n"
        "  add 8(%esp), %eax\n"
        "  add 12(%esp), %eax\n"
        "  add $16, %esp\n"
        "  mov %bx, %ss\n"
        "  add %edx, %esp\n"
        "  popf\n  pop %ebp\n  pop %ebx\n"
        "  ret\n");

extern uint32_t seg_hot(uint32_t count, uint32_t sel_a, uint32_t sel_b);
extern void seg_bump(void);
extern uint32_t seg_wrap(uint32_t count, uint32_t sel, uint32_t off, uint32_t off2);
extern uint32_t seg_ds(uint32_t count, uint32_t sel, uint32_t off);
extern uint32_t seg_ss(uint32_t count, uint32_t sel, uint32_t base);

static const uint8_t data_rw = DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED;

static void set_based(unsigned index, uint32_t base, unsigned dpl)
{
    gdt_set(index, desc_make(base, 0xFFFFF, data_rw | DESC_DPL(dpl), DESC_G | DESC_DB));
}

/* What seg_hot does, on the flat view: a and b are A:0 and B:0. */
static uint32_t ref_hot(uint32_t *a, uint32_t *b, uint32_t count, uint32_t *bumps)
{
    uint32_t edi = 0;
    for (uint32_t i = count; i; i--) {
        a[1] += a[0];
        a[2]++;
        a[4 + (i & 7)] = i;
        a[4 + (i & 7)] += 3;
        uint32_t edx = a[3] & 0xFF;
        edi += edx;
        a[0] -= edx;
        a[3] ^= a[1];
        b[1] += i;
        edi += b[0];
        (*bumps)++;
    }
    return edi;
}

static void init_hot(uint32_t *a, uint32_t *b)
{
    for (unsigned k = 0; k < 16; k++)
        a[k] = 0x01020304u * (k + 1);
    a[12] = (uint32_t)seg_bump; /* A:0x30, the CALL target */
    b[0] = 7;
    b[1] = 0x100;
}

static void hot(void)
{
    uint32_t *a = &area[16], *b = &area[80];
    set_based(G_FS_A, (uint32_t)a, 0);
    set_based(G_FS_B, (uint32_t)b, 0);
    uint32_t ref[16], ref_b[2], ref_bumps = 0;
    init_hot(a, b);
    memcpy(ref, a, sizeof ref);
    memcpy(ref_b, b, sizeof ref_b);
    uint32_t want = ref_hot(ref, ref_b, N_HOT, &ref_bumps);
    seg_bumps = 0;
    uint32_t got = seg_hot(N_HOT, SEL(G_FS_A), SEL(G_FS_B));
    check_eq("hot.edi", want, got);
    for (unsigned k = 0; k < 13; k++)
        check_eqf(ref[k], a[k], "hot.a%u", k);
    check_eq("hot.b0", ref_b[0], b[0]);
    check_eq("hot.b1", ref_b[1], b[1]);
    check_eq("hot.calls", ref_bumps, seg_bumps);
    /* Again with the roles of the two segments swapped (same kinds: the
     * blocks stay, the bases change). */
    init_hot(b + 32, a + 32);
    set_based(G_FS_A, (uint32_t)(b + 32), 0);
    set_based(G_FS_B, (uint32_t)(a + 32), 0);
    memcpy(ref, b + 32, sizeof ref);
    memcpy(ref_b, a + 32, sizeof ref_b);
    want = ref_hot(ref, ref_b, N_HOT / 4, &ref_bumps);
    got = seg_hot(N_HOT / 4, SEL(G_FS_A), SEL(G_FS_B));
    check_eq("hot2.edi", want, got);
    check_eq("hot2.a1", ref[1], b[32 + 1]);
    check_eq("hot2.a3", ref[3], b[32 + 3]);
    check_eq("hot2.b1", ref_b[1], a[32 + 1]);
    check_eq("hot2.calls", ref_bumps, seg_bumps);
}

/* GS base F0000000H: offsets from 10000000H up wrap around 4 GiB to
 * low linear addresses (seg_base_wrap.c crosses the wrap inside one
 * access, under paging). */
static void wrap(void)
{
    uint32_t *w = &area[512];
    w[0] = 10;
    w[1] = 0x11;
    w[2] = 0;
    w[8] = 0x01020304;
    set_based(G_WRAP, WRAP_BASE, 0);
    uint32_t got = seg_wrap(N_LOOP, SEL(G_WRAP), (uint32_t)w - WRAP_BASE,
                            (uint32_t)&w[8] - WRAP_BASE);
    check_eq("wrap.add", 10 + N_LOOP, w[0]);
    check_eq("wrap.rmw", 0x11 * N_LOOP, w[2]);
    check_eq("wrap.cell", 0x01020304 + N_LOOP * 0x01010101u, w[8]);
    check_eq("wrap.cell.load", 0x01020304 + N_LOOP * 0x01010101u, got);
}

static void ds_es_ss(void)
{
    uint32_t *d = &area[128];
    d[0] = 3;
    d[1] = 100;
    d[2] = 0;
    d[3] = 0;
    set_based(G_DS, DS_BASE, 0);
    uint32_t got = seg_ds(N_LOOP, SEL(G_DS), (uint32_t)d - DS_BASE);
    check_eq("ds.ret", 100 + 3 * N_LOOP, got);
    check_eq("ds.rmw", 100 + 3 * N_LOOP, d[1]);
    check_eq("es.store", 1, d[2]);
    check_eq("ds.inc", N_LOOP, d[3]);

    set_based(G_SS, SS_BASE, 0);
    uint32_t want0 = 5, want8 = 0, want12 = 0;
    for (uint32_t i = N_LOOP; i; i--) {
        want0 += i;
        want8 += want0;
        want12 ^= i;
    }
    check_eq("ss.sum", want0 + want8 + want12, seg_ss(N_LOOP, SEL(G_SS), SS_BASE));
}

void test_main(void)
{
    hot();
    wrap();
    ds_es_ss();
}
