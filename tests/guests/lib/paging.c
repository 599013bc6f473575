/* 32-bit two-level paging helpers (SDM Vol. 3A 4.3): one page directory and
 * a small pool of page tables, all in .bss. */
#include "guest.h"

#define POOL_TABLES 8

uint32_t pg_dir[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t pool[POOL_TABLES][1024] __attribute__((aligned(PAGE_SIZE)));
static unsigned pool_used;

static uint32_t *new_table(void)
{
    if (pool_used == POOL_TABLES) {
        fail("paging: out of page tables");
        finish();
    }
    uint32_t *t = pool[pool_used++];
    memset(t, 0, PAGE_SIZE);
    return t;
}

volatile uint32_t *pg_pte(uint32_t va)
{
    uint32_t *pde = &pg_dir[va >> 22];
    if (!(*pde & PTE_P) || (*pde & PDE_PS))
        *pde = (uint32_t)new_table() | PTE_P | PTE_W | PTE_U;
    uint32_t *table = (uint32_t *)(*pde & ~0xFFFu);
    return &table[(va >> 12) & 0x3FF];
}

void pg_map_4k(uint32_t va, uint32_t pa, uint32_t flags)
{
    *pg_pte(va) = (pa & ~0xFFFu) | flags;
}

/* A 4 MiB page needs CR4.PSE (SDM Vol. 3A 4.3, Table 4-4). */
void pg_map_4m(uint32_t va, uint32_t pa, uint32_t flags)
{
    pg_dir[va >> 22] = (pa & 0xFFC00000u) | flags | PDE_PS;
}

volatile uint32_t *pg_leaf(uint32_t va)
{
    uint32_t *pde = &pg_dir[va >> 22];
    if (*pde & PDE_PS)
        return pde;
    return pg_pte(va);
}

void pg_update(uint32_t va, uint32_t set, uint32_t clear)
{
    volatile uint32_t *e = pg_leaf(va);
    *e = (*e | set) & ~clear;
    invlpg(va);
}

void pg_init(void)
{
    memset(pg_dir, 0, sizeof(pg_dir));
    pool_used = 0;
    for (uint32_t pa = 0; pa < PG_IDENTITY_END; pa += PAGE_SIZE)
        pg_map_4k(pa, pa, PTE_P | PTE_W | PTE_U);
}

void pg_enable(bool pse)
{
    uint32_t cr4 = read_cr4();
    write_cr4(pse ? cr4 | CR4_PSE : cr4 & ~CR4_PSE);
    write_cr3((uint32_t)pg_dir);
    write_cr0(read_cr0() | CR0_PG);
}

void pg_disable(void)
{
    write_cr0(read_cr0() & ~CR0_PG);
}
