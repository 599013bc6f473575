/* Random guest programs. Structured ones are drawn from a table of
 * instruction forms a hostile or broken kernel would use: system-register
 * writes, descriptor-table loads with random limits and bases, far
 * transfers to random selectors, software interrupts and IRET on random
 * frames, port I/O across the board's devices, HLT, stores anywhere
 * (above RAM, into the code ahead) and junk bytes. Every form is written
 * with 32-bit operands and addresses; in real mode 66/67 prefixes make
 * them so (SDM Vol1 3.6, "Operand-size and address-size attributes"). */
#include "tests/fuzz/fuzz_guest_gen.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

struct gen {
    struct fg_image *img;
    uint64_t rng;
};

/* Room kept at the end for the closing debug-exit write. */
#define TAIL_ROOM 16
#define SCRATCH 0x700u  /* descriptor-table operands */
#define COUNTER 0x6F0u  /* the handler's event count */
#define IDT_BASE 0x800u /* 256 gates of 8 bytes; in real mode the IVT is at 0 */
#define GDT_BASE 0x1000u /* flat32 only: the image is at 0x10000 */
#define DEBUG_EXIT_PORT 0xF4

static uint32_t rnd(struct gen *g) { return (uint32_t)fuzz_rand(&g->rng); }
static uint32_t below(struct gen *g, uint32_t n) { return fuzz_below(&g->rng, n); }
static uint32_t pick(struct gen *g, const uint32_t *v, size_t n) { return v[below(g, (uint32_t)n)]; }
#define PICK(g, arr) pick(g, arr, sizeof(arr) / sizeof(arr[0]))

static void b(struct gen *g, uint8_t v)
{
    if (g->img->len < FG_MAX_IMAGE)
        g->img->bytes[g->img->len++] = v;
}
static void w16(struct gen *g, uint32_t v) { b(g, (uint8_t)v); b(g, (uint8_t)(v >> 8)); }
static void w32(struct gen *g, uint32_t v) { w16(g, v); w16(g, v >> 16); }
static void o32(struct gen *g) { if (g->img->real) b(g, 0x66); }
static void a32(struct gen *g) { if (g->img->real) b(g, 0x67); }
static uint32_t here(const struct gen *g) { return g->img->load + (uint32_t)g->img->len; }

static void mov_r_imm(struct gen *g, unsigned r, uint32_t v) { o32(g); b(g, 0xB8 + r); w32(g, v); }

/* mov dword [cs:addr], v: CS has base 0 in both starting modes. */
static void store32(struct gen *g, uint32_t addr, uint32_t v)
{
    b(g, 0x2E); o32(g); a32(g); b(g, 0xC7); b(g, 0x05); w32(g, addr); w32(g, v);
}

static const uint32_t addrs[] = {0, 0x400, 0x7FC, 0xFFFC, 0x9FFFC, 0xA0000, 0xB8000, 0xFFFF0,
                                 0x100000, FG_RAM_BYTES - 4, FG_RAM_BYTES, 0xFEC00000,
                                 0xFEE00000, 0xFFFFFFF0, 0xFFFFFFFE};

static uint32_t any_addr(struct gen *g)
{
    switch (below(g, 3)) {
    case 0: return PICK(g, addrs);
    case 1: return rnd(g);
    default: return g->img->load + below(g, FG_MAX_IMAGE + 64); /* code: self-modifying */
    }
}

static void gen_cr_write(struct gen *g)
{
    static const uint32_t cr0s[] = {0x11, 0x10, 0x80000011, 0x80000001, 0x60000011, 0x31,
                                    0x1, 0x40000011, 0x80010011};
    static const uint32_t crs[] = {0, 0, 0, 2, 3, 3, 4, 4, 1, 5, 8};
    unsigned cr = PICK(g, crs);
    uint32_t v = cr == 0 ? PICK(g, cr0s) : cr == 3 ? (below(g, 2) ? rnd(g) & ~0xFFFu : 0x9000)
                                                   : rnd(g) & (below(g, 2) ? 0x7FF : ~0u);
    mov_r_imm(g, 0, v);
    b(g, 0x0F); b(g, 0x22); b(g, (uint8_t)(0xC0 | (cr & 7) << 3));
}

static void gen_dt_load(struct gen *g)
{
    static const uint32_t limits[] = {0, 1, 7, 0xF, 0x17, 0xFF, 0x7FF, 0xFFFF};
    uint32_t limit = below(g, 4) ? PICK(g, limits) : rnd(g) & 0xFFFF;
    uint32_t base = below(g, 2) ? any_addr(g) : IDT_BASE;
    store32(g, SCRATCH, (base << 16) | limit);
    store32(g, SCRATCH + 4, base >> 16);
    static const uint8_t ops[] = {0x15 /* LGDT */, 0x1D /* LIDT */, 0x05 /* SGDT */,
                                  0x0D /* SIDT */};
    b(g, 0x2E); o32(g); a32(g); b(g, 0x0F); b(g, 0x01); b(g, ops[below(g, 4)]);
    w32(g, SCRATCH);
    if (below(g, 2)) /* a descriptor there, so some loads find one */
        for (unsigned i = 0; i < 2; i++)
            store32(g, base + 8 * below(g, 4) + 4 * i, i ? 0x00CF9A00 | (rnd(g) & 0x6000) : 0xFFFF);
}

static uint16_t any_sel(struct gen *g)
{
    static const uint32_t sels[] = {0, 3, 8, 0x10, 0x18, 0x1B, 0x20, 0x28, 0xFFFF};
    return (uint16_t)(below(g, 2) ? PICK(g, sels) : rnd(g));
}

static void gen_far(struct gen *g)
{
    uint32_t off = below(g, 2) ? here(g) + 7 + below(g, 32) : rnd(g);
    switch (below(g, 4)) {
    case 0: case 1: /* EA / 9A ptr16:16 or ptr16:32 */
        b(g, below(g, 2) ? 0xEA : 0x9A);
        if (g->img->real) w16(g, off); else w32(g, off);
        w16(g, any_sel(g));
        break;
    case 2: /* RETF on a random frame */
        o32(g); b(g, 0x68); w32(g, any_sel(g));
        o32(g); b(g, 0x68); w32(g, off);
        o32(g); b(g, 0xCB);
        break;
    default: /* mov Sreg, ax */
        mov_r_imm(g, 0, any_sel(g));
        b(g, 0x8E); b(g, (uint8_t)(0xC0 | (below(g, 6) << 3)));
        break;
    }
}

static void gen_int_iret(struct gen *g)
{
    switch (below(g, 5)) {
    case 0: b(g, 0xCD); b(g, (uint8_t)rnd(g)); break;
    case 1: b(g, 0xCC); break;
    case 2: b(g, below(g, 2) ? 0xCE : 0xF1); break;
    default: /* IRET on a random frame: EFLAGS, CS, EIP */
        o32(g); b(g, 0x68); w32(g, rnd(g) & (below(g, 2) ? 0x3FFFFF : 0x202));
        o32(g); b(g, 0x68); w32(g, any_sel(g));
        o32(g); b(g, 0x68); w32(g, below(g, 2) ? here(g) + 8 : rnd(g));
        if (below(g, 2)) o32(g);
        b(g, 0xCF);
        break;
    }
}

static void gen_io(struct gen *g)
{
    static const uint32_t ports[] = {0x20, 0x21, 0xA0, 0xA1, 0x40, 0x41, 0x42, 0x43, 0x61,
                                     0x60, 0x64, 0x70, 0x71, 0x80, 0x92, 0xE9, 0x3F8, 0x3F9,
                                     0x3FA, 0x3FB, 0x3FC, 0x3FD, 0xCF8, 0xCFC, 0xCFE, 0xCF9,
                                     0x600, 0x604, 0x608, 0x4D0, 0x4D1, 0xFFFF};
    uint32_t port = below(g, 4) ? PICK(g, ports) : rnd(g) & 0xFFFF;
    mov_r_imm(g, 0, rnd(g));
    mov_r_imm(g, 2, port);
    switch (below(g, 4)) {
    case 0: b(g, (uint8_t)(0xEC + below(g, 4))); break;                  /* in/out dx */
    case 1: if (below(g, 2)) b(g, 0x66); b(g, (uint8_t)(0xE4 + below(g, 4))); b(g, (uint8_t)port); break;
    case 2: /* rep ins/outs through ES:EDI / DS:ESI */
        mov_r_imm(g, 1, below(g, 64));
        mov_r_imm(g, 6, any_addr(g));
        mov_r_imm(g, 7, any_addr(g));
        a32(g); b(g, 0xF3); b(g, (uint8_t)(0x6C + below(g, 4)));
        break;
    default: b(g, 0xEE); break;
    }
}

static void gen_store(struct gen *g)
{
    uint32_t addr = any_addr(g);
    switch (below(g, 4)) {
    case 0: o32(g); a32(g); b(g, 0xC7); b(g, 0x05); w32(g, addr); w32(g, rnd(g)); break;
    case 1: a32(g); b(g, 0xC6); b(g, 0x05); w32(g, addr); b(g, (uint8_t)rnd(g)); break;
    case 2: /* rep movs/stos with random pointers and count */
        mov_r_imm(g, 1, below(g, 2) ? below(g, 4096) : rnd(g));
        mov_r_imm(g, 6, any_addr(g));
        mov_r_imm(g, 7, any_addr(g));
        a32(g); b(g, 0xF3); b(g, below(g, 2) ? 0xA5 : 0xAB);
        break;
    default: /* a load */
        o32(g); a32(g); b(g, 0x8B); b(g, 0x05); w32(g, addr); break;
    }
}

static void gen_system(struct gen *g)
{
    static const uint32_t msrs[] = {0x10, 0x1B, 0x174, 0x175, 0x176, 0x277, 0x2FF,
                                    0xC0000080, 0xC0000081, 0xC0000100};
    switch (below(g, 12)) {
    case 0: mov_r_imm(g, 1, below(g, 2) ? PICK(g, msrs) : rnd(g));
            b(g, 0x0F); b(g, below(g, 2) ? 0x30 : 0x32); break;               /* WRMSR/RDMSR */
    case 1: mov_r_imm(g, 0, below(g, 2) ? below(g, 0x20) : 0x80000000 + below(g, 10));
            b(g, 0x0F); b(g, 0xA2); break;                                     /* CPUID */
    case 2: mov_r_imm(g, 0, any_sel(g)); b(g, 0x0F); b(g, 0x00);
            b(g, (uint8_t)(0xC0 | (below(g, 6) << 3))); break;                 /* SLDT..VERW */
    case 3: b(g, 0x0F); b(g, 0x01); b(g, 0x3D); w32(g, any_addr(g)); break;    /* INVLPG */
    case 4: b(g, 0x0F); b(g, (uint8_t)PICK(g, ((const uint32_t[]){0x06, 0x08, 0x09, 0x31, 0x34, 0x35, 0x0B})));
            break;                                      /* CLTS INVD WBINVD RDTSC SYSENTER SYSEXIT UD2 */
    case 5: mov_r_imm(g, 0, rnd(g)); b(g, 0x0F); b(g, 0x01); b(g, 0xF0); break; /* LMSW */
    case 6: mov_r_imm(g, 0, rnd(g)); b(g, 0x0F); b(g, below(g, 2) ? 0x23 : 0x21);
            b(g, (uint8_t)(0xC0 | (below(g, 8) << 3))); break;                 /* MOV DRn */
    case 7: b(g, below(g, 2) ? 0xFA : 0xFB); break;                            /* CLI/STI */
    case 8: o32(g); b(g, 0x68); w32(g, rnd(g)); b(g, 0x9D); break;             /* POPF */
    case 9: mov_r_imm(g, 1, 0); o32(g); b(g, 0xF7); b(g, 0xF1); break;         /* #DE */
    case 10: b(g, 0xF4); break;                                                /* HLT */
    default: b(g, 0x0F); b(g, 0x20); b(g, (uint8_t)(0xC0 | (below(g, 5) << 3))); break;
    }
}

static void gen_flow(struct gen *g)
{
    switch (below(g, 3)) {
    case 0: b(g, (uint8_t)(0x70 + below(g, 16))); b(g, (uint8_t)below(g, 24)); break;
    case 1: b(g, 0xEB); b(g, (uint8_t)(below(g, 8) ? below(g, 24) : rnd(g))); break;
    default: o32(g); b(g, 0xE8); w32(g, below(g, 2) ? below(g, 32) : rnd(g)); break;
    }
}

static void gen_junk(struct gen *g)
{
    unsigned n = 1 + below(g, 8);
    for (unsigned i = 0; i < n; i++)
        b(g, (uint8_t)rnd(g));
}

/* An IDT (or real-mode IVT) whose every vector goes to one handler that
 * counts events and IRETs, and ends the run after 40 of them. */
static void gen_handler(struct gen *g)
{
    b(g, 0xEB); b(g, 0); /* jmp over the handler: patched below */
    size_t jmp_at = g->img->len - 1;
    uint32_t handler = here(g);
    b(g, 0x2E); o32(g); a32(g); b(g, 0xFF); b(g, 0x05); w32(g, COUNTER);        /* inc */
    b(g, 0x2E); o32(g); a32(g); b(g, 0x81); b(g, 0x3D); w32(g, COUNTER); w32(g, 40); /* cmp */
    b(g, 0x72); b(g, 4);                                                          /* jb */
    b(g, 0xB0); b(g, 0x7F); b(g, 0xE6); b(g, DEBUG_EXIT_PORT);                   /* exit */
    b(g, 0xCF);                                                                   /* iret */
    g->img->bytes[jmp_at] = (uint8_t)(here(g) - handler);
    if (g->img->real) {
        /* IVT entries seg:off = 0:handler (SDM Vol3 21.1.4). */
        mov_r_imm(g, 0, handler);
        mov_r_imm(g, 7, 0);
    } else {
        mov_r_imm(g, 0, 0x00080000u | (handler & 0xFFFF));
        mov_r_imm(g, 2, (handler & 0xFFFF0000u) | 0x8E00); /* 32-bit interrupt gate, DPL0 */
        mov_r_imm(g, 7, IDT_BASE);
    }
    mov_r_imm(g, 1, 256);
    uint32_t loop = here(g);
    a32(g); o32(g); b(g, 0x89); b(g, 0x07);                                       /* mov [edi], eax */
    if (!g->img->real) {
        b(g, 0x89); b(g, 0x57); b(g, 0x04);                                       /* mov [edi+4], edx */
        b(g, 0x83); b(g, 0xC7); b(g, 0x08);                                       /* add edi, 8 */
    } else {
        o32(g); b(g, 0x83); b(g, 0xC7); b(g, 0x04);                               /* add edi, 4 */
    }
    a32(g); b(g, 0xE2); b(g, (uint8_t)(loop - (here(g) + 1)));                   /* loop */
    if (!g->img->real) {
        /* Flat code 0x08 and data 0x10 behind the gates' selector. */
        store32(g, GDT_BASE + 8, 0xFFFF);
        store32(g, GDT_BASE + 12, 0x00CF9A00);
        store32(g, GDT_BASE + 16, 0xFFFF);
        store32(g, GDT_BASE + 20, 0x00CF9200);
        store32(g, SCRATCH, (GDT_BASE << 16) | 0x17);
        store32(g, SCRATCH + 4, 0);
        b(g, 0x2E); b(g, 0x0F); b(g, 0x01); b(g, 0x15); w32(g, SCRATCH);          /* lgdt */
        store32(g, SCRATCH, (IDT_BASE << 16) | 0x7FF);
        store32(g, SCRATCH + 4, 0);
        b(g, 0x2E); b(g, 0x0F); b(g, 0x01); b(g, 0x1D); w32(g, SCRATCH);          /* lidt */
    }
}

void fg_generate(uint64_t seed, enum fg_style style, bool real, struct fg_image *img)
{
    memset(img, 0, sizeof(*img));
    img->real = real;
    img->load = real ? FG_LOAD_REAL : FG_LOAD_FLAT32;
    struct gen g = {img, seed};
    if (style == FG_RANDOM_BYTES) {
        img->len = 16 + below(&g, FG_MAX_IMAGE - 16);
        for (size_t i = 0; i < img->len; i++)
            img->bytes[i] = (uint8_t)rnd(&g);
        return;
    }
    if (below(&g, 8))
        mov_r_imm(&g, 4, img->load - 0x10); /* a stack below the image */
    if (style == FG_WITH_HANDLER)
        gen_handler(&g);
    static void (*const forms[])(struct gen *) = {
        gen_cr_write, gen_dt_load, gen_far, gen_int_iret, gen_io, gen_io, gen_store,
        gen_store, gen_system, gen_system, gen_flow, gen_junk,
    };
    unsigned n = 4 + below(&g, 60);
    for (unsigned i = 0; i < n && img->len + 48 + TAIL_ROOM < FG_MAX_IMAGE; i++) {
        if (below(&g, 3) == 0)
            mov_r_imm(&g, below(&g, 8), below(&g, 2) ? rnd(&g) : PICK(&g, addrs));
        forms[below(&g, sizeof(forms) / sizeof(forms[0]))](&g);
    }
    b(&g, 0xB0); b(&g, 0x00); b(&g, 0xE6); b(&g, DEBUG_EXIT_PORT); /* exit status 1 */
    b(&g, 0xF4); b(&g, 0xEB); b(&g, 0xFD);
}
