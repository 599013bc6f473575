/* Shadow windows: set-up and the fault path.
 *
 * A host fault in a window is a guest access that the window could not
 * serve. It is walked like the access it is (kind from the host's error
 * code, privilege from the window), which sets the guest's accessed and
 * dirty flags exactly as the processor would (SDM Vol. 3A 4.8), and then
 * either mapped, or reported: #PF, write to a code page, MMIO, unassigned
 * memory. What gets mapped on one fault: the page; with paging off, the
 * contiguous run around it within its aligned MiB (linear = physical, so
 * the run is free to compute and A20 cannot split it); for a 2/4 MiB guest
 * page, the contiguous run around it within that page (one TLB entry on
 * the processor covers the whole page, so mapping it whole is what a TLB
 * may do); for a 4 KiB page, neighbours in its page table whose
 * translations continue the run and need no flag write (map_ahead). See
 * softmmu.h for the model and its costs. */
#define _GNU_SOURCE
#include "softmmu/shadow_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define DEFAULT_MAX_MAP_COUNT 65530u
#define RUN_CAP 32768u
#define PAGING_OFF_CHUNK 256u /* pages: 1 MiB, the span A20 leaves contiguous */
#define MAP_AHEAD 16u         /* pages each way (map_ahead) */

_Static_assert(MMU_SHADOW_GUARD >= 2 * MMU_PAGE_SIZE,
               "the mirror of page 0 plus at least one page that is never mapped");

/* ---- set-up ---- */

static uint32_t host_max_map_count(void)
{
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return DEFAULT_MAX_MAP_COUNT;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return DEFAULT_MAX_MAP_COUNT;
    buf[n] = '\0';
    unsigned long v = strtoul(buf, NULL, 10);
    return v > 1024 && v < UINT32_MAX ? (uint32_t)v : DEFAULT_MAX_MAP_COUNT;
}

static void *anon(size_t len, int prot)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int init_window(struct mmu_shadow *s, struct mmu_shadow_window *w, struct mach_err *err)
{
    w->base = anon(MMU_SHADOW_SPAN + MMU_SHADOW_GUARD, PROT_NONE);
    w->state = anon(SHW_INDEXES * sizeof(uint32_t), PROT_READ | PROT_WRITE);
    w->rnext = anon(SHW_INDEXES * sizeof(uint32_t), PROT_READ | PROT_WRITE);
    w->rhead = anon((s->ram_pages + 1) * sizeof(uint32_t), PROT_READ | PROT_WRITE);
    w->runs = calloc(s->run_cap, sizeof(*w->runs));
    if (!w->base || !w->state || !w->rnext || !w->rhead || !w->runs)
        return mach_errf(err, "cannot reserve a 4 GiB shadow window: %s", strerror(errno));
    return 0;
}

/* The ROM lives in malloc'd memory; windows need a file to map it from. */
static int copy_rom(struct mmu_shadow *s, struct mach_err *err)
{
    uint64_t size, base;
    const uint8_t *rom = mach_rom(s->m, &size, &base);
    if (!rom || size == 0)
        return 0;
    s->rom_fd = memfd_create("popek-shadow-rom", MFD_CLOEXEC);
    if (s->rom_fd < 0 || ftruncate(s->rom_fd, (off_t)size) != 0)
        return mach_errf(err, "shadow ROM copy: %s", strerror(errno));
    for (uint64_t done = 0; done < size;) {
        ssize_t n = pwrite(s->rom_fd, rom + done, size - done, (off_t)done);
        if (n <= 0)
            return mach_errf(err, "shadow ROM copy: %s", strerror(errno));
        done += (uint64_t)n;
    }
    s->rom = rom;
    s->rom_size = size;
    return 0;
}

int mmu_shadow_init(struct mmu_shadow *s, struct mmu *mmu, struct machine *m,
                    struct mach_err *err)
{
    memset(s, 0, sizeof(*s));
    s->mmu = mmu;
    s->m = m;
    s->ram_fd = mach_ram_fd(m);
    s->rom_fd = -1;
    s->ram_pages = mach_ram_size(m) / MMU_PAGE_SIZE;
    s->vma_budget = host_max_map_count() / 2;
    s->run_cap = RUN_CAP;
    for (unsigned k = 0; k < 2; k++) {
        if (init_window(s, &s->win[k], err) != 0) {
            mmu_shadow_destroy(s);
            return -1;
        }
    }
    if (copy_rom(s, err) != 0) {
        mmu_shadow_destroy(s);
        return -1;
    }
    mmu->shadow = s;
    return 0;
}

void mmu_shadow_destroy(struct mmu_shadow *s)
{
    for (unsigned k = 0; k < 2; k++) {
        struct mmu_shadow_window *w = &s->win[k];
        if (w->base)
            munmap(w->base, MMU_SHADOW_SPAN + MMU_SHADOW_GUARD);
        if (w->state)
            munmap(w->state, SHW_INDEXES * sizeof(uint32_t));
        if (w->rnext)
            munmap(w->rnext, SHW_INDEXES * sizeof(uint32_t));
        if (w->rhead)
            munmap(w->rhead, (s->ram_pages + 1) * sizeof(uint32_t));
        free(w->runs);
        *w = (struct mmu_shadow_window){0};
    }
    if (s->rom_fd >= 0)
        close(s->rom_fd);
    s->rom_fd = -1;
    if (s->mmu && s->mmu->shadow == s)
        s->mmu->shadow = NULL;
}

uint8_t *mmu_shadow_window_base(const struct mmu_shadow *s, unsigned cpl)
{
    return s->win[cpl == 3].base;
}

bool mmu_shadow_sig_is_write(const void *ucontext)
{
    /* The page-fault error code's W/R bit (SDM Vol. 3A 4.7). */
    const ucontext_t *uc = ucontext;
    return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
}

void mmu_shadow_set_vma_budget(struct mmu_shadow *s, uint32_t units)
{
    s->vma_budget = units < 4 ? 4 : units;
}

void mmu_shadow_print_stats(const struct mmu_shadow *s, FILE *out)
{
    const char *sep = "shadow: ";
#define MMU_SHADOW_STAT_PRINT(name, desc)                                               \
    fprintf(out, "%s%s %llu", sep, desc, (unsigned long long)s->stats.name);            \
    sep = ", ";
    MMU_SHADOW_STATS(MMU_SHADOW_STAT_PRINT)
#undef MMU_SHADOW_STAT_PRINT
    fputc('\n', out);
}

/* ---- the fault path (signal context: see softmmu.h) ---- */

/* The state a window page gets for physical page phys, 0 if it cannot be
 * mapped (MMIO, unassigned, a partial page). */
static uint32_t page_state(const struct mmu_shadow *s, uint64_t phys, uint32_t flags)
{
    uint8_t *host;
    uint64_t run;
    enum mach_phys_kind kind = mach_phys_lookup(s->m, phys, &host, &run);
    if (run < MMU_PAGE_SIZE)
        return 0;
    if (kind == MACH_PHYS_RAM) {
        uint32_t st = SHW_VALID | flags | (uint32_t)(phys >> 12);
        if ((flags & SHW_GUEST_W) && !mmu_code_page_test(s->mmu, phys))
            st |= SHW_WRITE;
        return st;
    }
    if (kind == MACH_PHYS_ROM && s->rom_fd >= 0 && host >= s->rom &&
        host < s->rom + s->rom_size)
        return SHW_VALID | SHW_ROM | (flags & ~SHW_GUEST_W) |
               (uint32_t)((uint64_t)(host - s->rom) >> 12);
    return 0;
}

uint32_t mmu_shadow_span_state(const struct mmu_shadow *s, const struct mmu_shadow_span *sp,
                               uint32_t idx)
{
    return page_state(s, sp->phys_lo + (uint64_t)(idx - sp->lo) * MMU_PAGE_SIZE, sp->flags);
}

/* Whether window page idx maps, or is parked on, the file page of st. */
static bool on_file_page(const struct mmu_shadow_window *w, uint32_t idx, uint32_t st)
{
    const uint32_t file = SHW_PPN | SHW_ROM;
    return (w->state[idx] & (SHW_VALID | SHW_PARKED)) && (w->state[idx] & file) == (st & file);
}

/* What a run being grown must stay: mappable by one call. When the page
 * that faulted already sits on its file page (parked, or mapped read-only
 * before its first write), that call is an mprotect (1 us, and the host
 * keeps its page-table entry), so only neighbours parked likewise join
 * it; otherwise any unmapped neighbour that continues the file run does. */
struct run {
    uint32_t first, n;
    uint32_t st_first, st_last; /* states of pages first and first+n-1 */
    bool in_place;
};

static bool takes(const struct mmu_shadow_window *w, const struct run *r, uint32_t idx,
                  uint32_t st, uint32_t want)
{
    return (st & SHW_VALID) && st == want && !(w->state[idx] & SHW_VALID) &&
           (!r->in_place || on_file_page(w, idx, st));
}

/* Grows the run over neighbours in the span of one translation (paging
 * off, a large page). */
static void grow(const struct mmu_shadow *s, const struct mmu_shadow_window *w,
                 const struct mmu_shadow_span *sp, struct run *r)
{
    if (!sp->contiguous)
        return;
    while (r->first > sp->lo) {
        uint32_t prev = mmu_shadow_span_state(s, sp, r->first - 1);
        if (!takes(w, r, r->first - 1, prev, r->st_first - 1))
            break;
        r->st_first = prev;
        r->first--, r->n++;
    }
    while (r->first + r->n < sp->hi) {
        uint32_t next = mmu_shadow_span_state(s, sp, r->first + r->n);
        if (!takes(w, r, r->first + r->n, next, r->st_last + 1))
            break;
        r->st_last = next;
        r->n++;
    }
}

/* Grows a 4 KiB page's run over neighbours in the same page table whose
 * translations continue it in the file and need no flag write: a peek
 * finds them only if their accessed flags are set, and gives the state of
 * a read, writable only with the dirty flag set, so the run's single
 * protection never lets a write skip the walk that sets D (SDM Vol. 3A
 * 4.8). The processor may cache such translations at any time (4.10.2.3);
 * one mmap maps them with the page. At most MAP_AHEAD pages each way. */
static void map_ahead(struct mmu_shadow *s, const struct mmu_shadow_window *w, struct run *r)
{
    uint32_t table = (s->mmu->regs.cr4 & MMU_CR4_PAE) ? 512 : 1024;
    uint32_t lo = r->first & ~(table - 1), hi = lo + table;
    struct mmu_shadow_span sp = {0};
    uint32_t n0 = r->n;
    for (uint32_t k = 0; k < MAP_AHEAD && r->first > lo; k++) {
        uint32_t prev = mmu_shadow_peek_state(s, w, r->first - 1, &sp);
        if (!takes(w, r, r->first - 1, prev, r->st_first - 1))
            break;
        r->st_first = prev;
        r->first--, r->n++;
    }
    for (uint32_t k = 0; k < MAP_AHEAD && r->first + r->n < hi; k++) {
        uint32_t next = mmu_shadow_peek_state(s, w, r->first + r->n, &sp);
        if (!takes(w, r, r->first + r->n, next, r->st_last + 1))
            break;
        r->st_last = next;
        r->n++;
    }
    s->stats.prefetched += r->n - n0;
}

uint32_t mmu_shadow_peek_state(struct mmu_shadow *s, const struct mmu_shadow_window *w,
                               uint32_t idx, struct mmu_shadow_span *sp)
{
    if (sp->contiguous && idx >= sp->lo && idx < sp->hi)
        return mmu_shadow_span_state(s, sp, idx);
    sp->hi = 0;
    unsigned cpl = w == &s->win[1] ? 3 : 0;
    struct mmu_walk walk;
    uint32_t lin = idx == SHW_MIRROR ? 0 : idx << 12;
    if (mmu_walk_peek(s->mmu, lin, mmu_acc(cpl, MMU_ACC_READ), &walk) != MMU_OK)
        return 0;
    struct mmu_xlat x = {
        .phys = walk.phys,
        .allowed = walk.allowed,
        .page_size = (walk.flags & MMU_TLBF_4M)   ? 4u << 20
                     : (walk.flags & MMU_TLBF_2M) ? 2u << 20
                                                  : MMU_PAGE_SIZE,
        .global = (walk.flags & MMU_TLBF_GLOBAL) != 0,
    };
    mmu_shadow_describe(s->mmu, idx, &x, cpl, sp);
    return mmu_shadow_span_state(s, sp, idx);
}

void mmu_shadow_describe(const struct mmu *mmu, uint32_t idx, const struct mmu_xlat *x,
                         unsigned cpl, struct mmu_shadow_span *sp)
{
    uint64_t phys_page = x->phys & ~(uint64_t)0xFFF;
    bool paging = mmu->regs.cr0 & MMU_CR0_PG;
    *sp = (struct mmu_shadow_span){.lo = idx, .hi = idx + 1, .phys_lo = phys_page};
    if (x->allowed & MMU_CLASS(mmu_acc(cpl, MMU_ACC_WRITE)))
        sp->flags |= SHW_GUEST_W;
    /* With paging off nothing but PG and A20 changes, which flush all. */
    if (x->global || !paging)
        sp->flags |= SHW_GLOBAL;
    if (x->page_size > MMU_PAGE_SIZE)
        sp->flags |= SHW_LARGE;
    if (idx == SHW_MIRROR)
        return;
    uint32_t pages = !paging ? PAGING_OFF_CHUNK : x->page_size / MMU_PAGE_SIZE;
    /* Without A20, physical bit 20 is forced to 0: only paging-off chunks
     * (1 MiB) stay contiguous. */
    if (pages == 1 || (paging && mmu->a20_mask != ~0ull))
        return;
    sp->lo = idx & ~(pages - 1);
    sp->hi = sp->lo + pages;
    sp->phys_lo = phys_page - (uint64_t)(idx - sp->lo) * MMU_PAGE_SIZE;
    sp->contiguous = true;
}

void mmu_shadow_prefault(struct mmu_shadow *s, unsigned cpl, uint32_t lin)
{
    struct mmu_shadow_window *w = &s->win[cpl == 3];
    uint32_t idx = lin >> 12;
    if (!(s->mmu->regs.cr0 & MMU_CR0_PG) || (w->state[idx] & SHW_VALID))
        return;
    struct mmu_shadow_span sp = {0};
    uint32_t st = mmu_shadow_peek_state(s, w, idx, &sp);
    if (!(st & SHW_VALID))
        return;
    mmu_shadow_make_room(s, w);
    if (mmu_shadow_map(s, w, idx, 1, st) == 0)
        s->stats.prefaulted++;
}

static enum mmu_shadow_result map_fault(struct mmu_shadow *s, struct mmu_shadow_window *w,
                                        uint32_t idx, const struct mmu_xlat *x, unsigned cpl,
                                        struct mmu_shadow_fault *out)
{
    struct mmu_shadow_span sp;
    bool was_valid = w->state[idx] & SHW_VALID;
    for (int attempt = 0; attempt < 2; attempt++) {
        mmu_shadow_make_room(s, w);
        mmu_shadow_describe(s->mmu, idx, x, cpl, &sp);
        uint32_t st = mmu_shadow_span_state(s, &sp, idx);
        if (!(st & SHW_VALID)) {
            /* A ROM loaded after mmu_shadow_init has no copy to map from:
             * its reads are emulated like its writes. */
            if (x->kind == MACH_PHYS_ROM) {
                s->stats.mmio++;
                return MMU_SHADOW_MMIO;
            }
            out->fault.paddr = x->phys;
            return MMU_SHADOW_BAD_PHYS;
        }
        struct run r = {idx, 1, st, st, on_file_page(w, idx, st)};
        grow(s, w, &sp, &r);
        if (!sp.contiguous && idx != SHW_MIRROR && (s->mmu->regs.cr0 & MMU_CR0_PG))
            map_ahead(s, w, &r);
        int e = mmu_shadow_map(s, w, r.first, r.n, r.st_first);
        if (e == 0) {
            if (was_valid)
                s->stats.dirty_upgrades++;
            return MMU_SHADOW_RETRY;
        }
        out->host_errno = e;
        if (e != ENOMEM)
            break;
        /* The count missed something: start both windows afresh. */
        mmu_shadow_wipe(s, &s->win[0]);
        mmu_shadow_wipe(s, &s->win[1]);
    }
    return MMU_SHADOW_HOST_ERROR;
}

static enum mmu_shadow_result handle(struct mmu_shadow *s, const void *host_addr, bool is_write,
                                     struct mmu_shadow_fault *out)
{
    *out = (struct mmu_shadow_fault){0};
    const uint8_t *a = host_addr;
    unsigned k = 0;
    while (k < 2 && !(a >= s->win[k].base && a < s->win[k].base + MMU_SHADOW_SPAN +
                                                      MMU_SHADOW_GUARD))
        k++;
    if (k == 2)
        return MMU_SHADOW_NOT_OURS;
    struct mmu_shadow_window *w = &s->win[k];
    uint64_t off = (uint64_t)(a - w->base);
    uint32_t idx = (uint32_t)(off >> 12);
    if (idx > SHW_MIRROR)
        return MMU_SHADOW_NOT_OURS;
    s->stats.faults++;
    unsigned cpl = k ? 3 : 0;
    out->cpl = cpl;
    out->lin = (uint32_t)off; /* the mirror wraps to linear page 0 */
    struct mmu_xlat x;
    unsigned acc = mmu_acc(cpl, is_write ? MMU_ACC_WRITE : MMU_ACC_READ);
    switch (mmu_translate(s->mmu, out->lin, acc, &x, &out->fault)) {
    case MMU_OK:
        break;
    case MMU_FAULT:
        s->stats.guest_faults++;
        return MMU_SHADOW_GUEST_FAULT;
    default: /* a paging structure in unassigned memory */
        out->paddr = out->fault.paddr;
        return MMU_SHADOW_BAD_PHYS;
    }
    out->paddr = x.phys;
    switch (x.kind) {
    case MACH_PHYS_RAM:
        if (is_write && mmu_code_page_test(s->mmu, x.phys)) {
            s->stats.smc++;
            return MMU_SHADOW_SMC;
        }
        break;
    case MACH_PHYS_ROM:
        if (!is_write && s->rom_fd >= 0)
            break;
        s->stats.mmio++; /* ROM writes are dropped by the emulated access */
        return MMU_SHADOW_MMIO;
    case MACH_PHYS_MMIO:
        s->stats.mmio++;
        return MMU_SHADOW_MMIO;
    default:
        out->fault.paddr = x.phys;
        return MMU_SHADOW_BAD_PHYS;
    }
    return map_fault(s, w, idx, &x, cpl, out);
}

enum mmu_shadow_result mmu_shadow_fault(struct mmu_shadow *s, const void *host_addr,
                                        bool is_write, struct mmu_shadow_fault *out)
{
    int saved_errno = errno;
    enum mmu_shadow_result r = handle(s, host_addr, is_write, out);
    errno = saved_errno;
    return r;
}
