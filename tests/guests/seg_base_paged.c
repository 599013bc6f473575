/* Data segments with a base under paging and at CPL 3 (seg_base.c has
 * the rest): accesses whose base puts them across the 4 GiB wrap of
 * linear addresses (SDM Vol. 3A 3.3: in 32-bit mode base + offset is
 * taken modulo 2^32): with base FFFFF000H a dword at offset FFEH covers
 * linear FFFFFFFEH..1, half in the top page, half in page 0; base
 * F0000000H reaches linear F0000F00H and, by offsets past 10000000H,
 * low memory; then GS with a base at CPL 3, as glibc's TLS. In loops,
 * so the bt engine translates them. */
#include "guest.h"

NEEDS("paging pm-iret");

enum { G_WRAP = GDT_FIRST_FREE, G_TOP, G_USER_GS };
#define SEL(i) ((uint32_t)((i) << 3))
#define N_LOOP 200u
#define WRAP_BASE 0xF0000000u
#define TOP_BASE 0xFFFFF000u

static uint32_t cells[16] __attribute__((aligned(64)));
static uint8_t top_page[4096] __attribute__((aligned(4096)));
static uint8_t low_page[4096] __attribute__((aligned(4096)));
static uint8_t wrap_page[4096] __attribute__((aligned(4096)));
static uint32_t user_area[16] __attribute__((aligned(64)));

/* seg_wrap(count, sel, off, off2): GS = sel; adds through gs:off and
 * gs:off2, returns gs:off2. */
__asm__(".text\n"
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
        "  mov $0x10, %ecx\n"
        "  mov %ecx, %gs\n"
        "  pop %esi\n"
        "  ret\n");
extern uint32_t seg_wrap(uint32_t count, uint32_t sel, uint32_t off, uint32_t off2);

static void set_based(unsigned index, uint32_t base, unsigned dpl)
{
    const uint8_t data_rw = DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED;
    gdt_set(index, desc_make(base, 0xFFFFF, data_rw | DESC_DPL(dpl), DESC_G | DESC_DB));
}

/* At CPL 3: GS with a base, as glibc's TLS. */
static uint32_t user_gs(uint32_t count)
{
    uint32_t r;
    __asm__ volatile("mov %2, %%gs\n"
                     "1:\n"
                     "addl %1, %%gs:0\n"
                     "mov %%gs:0, %%eax\n"
                     "add %%eax, %%gs:8\n"
                     "decl %1\n"
                     "jnz 1b\n"
                     "mov %%gs:8, %0\n"
                     : "=r"(r), "+r"(count)
                     : "r"(SEL(G_USER_GS) | 3)
                     : "eax", "memory", "cc");
    return r;
}

static void user(void)
{
    set_based(G_USER_GS, (uint32_t)user_area, 3);
    user_area[0] = 0;
    user_area[2] = 0;
    unsigned v = user_run(user_gs, N_LOOP, FL_FIXED1);
    uint32_t want0 = 0, want2 = 0;
    for (uint32_t i = N_LOOP; i; i--) {
        want0 += i;
        want2 += want0;
    }
    check_eq("user.vector", VEC_SYSCALL, v);
    check_eq("user.ret", want2, trap_last.eax);
    check_eq("user.gs0", want0, user_area[0]);
}


void test_main(void)
{
    pg_init();
    pg_map_4k(TOP_BASE, (uint32_t)top_page, PTE_P | PTE_W);
    pg_map_4k(0, (uint32_t)low_page, PTE_P | PTE_W);
    pg_map_4k(WRAP_BASE, (uint32_t)wrap_page, PTE_P | PTE_W);
    pg_enable(false);

    cells[0] = 10;
    cells[1] = 0x11;
    set_based(G_WRAP, WRAP_BASE, 0);
    uint32_t got = seg_wrap(N_LOOP, SEL(G_WRAP), (uint32_t)cells - WRAP_BASE, 0xF00);
    check_eq("wrap.low.add", 10 + N_LOOP, cells[0]);
    check_eq("wrap.low.rmw", 0x11 * N_LOOP, cells[2]);
    uint32_t cell;
    memcpy(&cell, wrap_page + 0xF00, 4);
    check_eq("wrap.high", N_LOOP * 0x01010101u, cell);
    check_eq("wrap.high.load", N_LOOP * 0x01010101u, got);

    set_based(G_TOP, TOP_BASE, 0);
    top_page[0xFFE] = 0x11;
    top_page[0xFFF] = 0x22;
    low_page[0] = 0x33;
    low_page[1] = 0x44;
    cells[0] = cells[1] = cells[2] = 0;
    got = seg_wrap(N_LOOP, SEL(G_TOP), (uint32_t)cells - TOP_BASE, 0xFFE);
    uint32_t want = 0x44332211u + N_LOOP * 0x01010101u;
    check_eq("straddle.load", want, got);
    check_eq("straddle.top", want & 0xFFFF, top_page[0xFFE] | (uint32_t)top_page[0xFFF] << 8);
    check_eq("straddle.low", want >> 16, low_page[0] | (uint32_t)low_page[1] << 8);
    check_eq("straddle.add", N_LOOP, cells[0]);
    user();
    pg_disable();
}
