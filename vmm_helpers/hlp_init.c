/* The CPU's life cycle: the power-up/RESET state (SDM Vol. 3A 9.1.1,
 * Table 9-1) and the states the loaders' boot descriptors ask for. */
#include "vmm_helpers/hlp_sys_internal.h"

#include <string.h>

/* Table 9-1 values. */
#define RESET_CR0 0x60000010u /* CD, NW, ET */
#define RESET_EIP 0xFFF0u
#define RESET_CS_SEL 0xF000u
#define RESET_CS_BASE 0xFFFF0000u
#define RESET_DR6 0xFFFF0FF0u
#define RESET_DR7 0x00000400u
#define RESET_FCW 0x0040u
#define FNINIT_FCW 0x037Fu /* the FNINIT state firmware leaves (Vol. 1 8.1.5) */
#define RESET_MXCSR 0x1F80u
_Static_assert(RESET_CR0 == (MMU_CR0_CD | MMU_CR0_NW | HLP_CR0_ET), "Table 9-1 CR0");

/* FXSAVE image offsets (Vol. 1 Table 10-2). */
enum { FX_FCW = 0, FX_FSW = 2, FX_FTW = 4, FX_MXCSR = 24 };

/* Present, S, accessed; code: execute/read, data: read/write. */
#define ATTR_DATA (HLP_SEG_P | HLP_SEG_S | DESC_T_RW | DESC_T_ACCESSED)
#define ATTR_CODE (ATTR_DATA | DESC_T_CODE)
#define ATTR_FLAT (HLP_SEG_DB | HLP_SEG_G)

static void set_seg(struct hlp_seg *s, uint16_t sel, uint32_t base, uint32_t limit, uint32_t attr)
{
    *s = (struct hlp_seg){.sel = sel, .base = base, .limit = limit, .attr = attr};
}

/* The x87/SSE state: tag word "all empty" after FNINIT, all-valid (5555H,
 * zero tags) after RESET, which the abridged FXSAVE tag byte writes as FFH
 * (Table 9-1; Vol. 1 10.5.1.1). */
static void set_fpu(struct hlp_cpu *cpu, bool reset)
{
    uint16_t fcw = reset ? RESET_FCW : FNINIT_FCW;
    uint32_t mxcsr = RESET_MXCSR;
    hlp_fx_sync(cpu); /* the state held elsewhere is gone too */
    memset(cpu->fx.bytes, 0, sizeof cpu->fx.bytes);
    memcpy(cpu->fx.bytes + FX_FCW, &fcw, 2);
    cpu->fx.bytes[FX_FTW] = reset ? 0xFF : 0x00;
    memcpy(cpu->fx.bytes + FX_MXCSR, &mxcsr, 4);
}

static void sync_mmu(struct hlp_cpu *cpu)
{
    struct mmu_regs r = {.cr0 = cpu->cr0, .cr3 = cpu->cr3, .cr4 = cpu->cr4, .nxe = false};
    struct mmu_fault f;
    /* Paging is off in every initial state: no PDPTE load, no fault. */
    (void)mmu_set_regs(&cpu->mmu, &r, &f);
}

void hlp_cpu_reset(struct hlp_cpu *cpu)
{
    memset(cpu->gpr, 0, sizeof cpu->gpr);
    cpu->gpr[HLP_EDX] = hlp_cpu_signature(&cpu->model);
    cpu->eip = RESET_EIP;
    cpu->eflags = HLP_FL_FIXED1;
    struct hlp_seg cs;
    set_seg(&cs, RESET_CS_SEL, RESET_CS_BASE, 0xFFFF, ATTR_CODE);
    hlp_set_cs(cpu, &cs, 0);
    for (unsigned s = HLP_ES; s <= HLP_GS; s++)
        if (s != HLP_CS)
            set_seg(&cpu->seg[s], 0, 0, 0xFFFF, ATTR_DATA);
    set_seg(&cpu->ldtr, 0, 0, 0xFFFF, HLP_SEG_P | SYS_LDT);
    set_seg(&cpu->tr, 0, 0, 0xFFFF, HLP_SEG_P | SYS_TSS32_BUSY);
    cpu->gdtr = (struct hlp_dtr){.base = 0, .limit = 0xFFFF};
    cpu->idtr = (struct hlp_dtr){.base = 0, .limit = 0xFFFF};
    cpu->cr0 = RESET_CR0;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
    memset(cpu->dr, 0, sizeof cpu->dr);
    cpu->dr[HLP_DR6] = RESET_DR6;
    cpu->dr[HLP_DR7] = RESET_DR7;
    cpu->efer = 0;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->misc_enable = HLP_MISC_ENABLE_RESET;
    cpu->tsc_offset = 0 - (uint64_t)mach_now_ns();
    cpu->halted = false;
    cpu->intr_shadow = false;
    cpu->dbg_hits = 0;
    cpu->dbg_keep_rf = cpu->dbg_event = false;
    cpu->delivering = -1;
    cpu->pending_vector = 0;
    cpu->pending_error = HLP_NO_ERROR_CODE;
    set_fpu(cpu, true);
    if (cpu->m)
        sync_mmu(cpu);
}

/* Multiboot 1 spec 3.2 "Machine state" (and a flat raw image): flat 4-GByte
 * segments, CR0.PE set and PG clear, IF clear; the GDTR is the guest's
 * business, so no GDT backs the selectors until it loads one. */
static void boot_flat32(struct hlp_cpu *cpu, const struct mach_boot *b)
{
    struct hlp_seg cs;
    set_seg(&cs, 0x08, 0, 0xFFFFFFFFu, ATTR_CODE | ATTR_FLAT);
    hlp_set_cs(cpu, &cs, 0);
    for (unsigned s = HLP_ES; s <= HLP_GS; s++)
        if (s != HLP_CS)
            set_seg(&cpu->seg[s], 0x10, 0, 0xFFFFFFFFu, ATTR_DATA | ATTR_FLAT);
    cpu->cr0 = HLP_CR0_PE | HLP_CR0_ET;
    cpu->eip = b->eip;
    cpu->gpr[HLP_EDX] = 0;
    cpu->gpr[HLP_EAX] = b->eax;
    cpu->gpr[HLP_EBX] = b->ebx;
    cpu->gpr[HLP_ESP] = b->esp;
}

/* machine.h MACH_BOOT_REAL: CS = (eip >> 4) & 0xF000, IP = eip & 0xFFFF,
 * caches enabled (CR0 = ET), as a BIOS leaves the CPU for a boot sector. */
static void boot_real(struct hlp_cpu *cpu, const struct mach_boot *b)
{
    uint16_t sel = (uint16_t)((b->eip >> 4) & 0xF000);
    struct hlp_seg cs;
    set_seg(&cs, sel, (uint32_t)sel << 4, 0xFFFF, ATTR_CODE);
    hlp_set_cs(cpu, &cs, 0);
    cpu->cr0 = HLP_CR0_ET;
    cpu->eip = b->eip & 0xFFFF;
    cpu->gpr[HLP_EDX] = 0;
    cpu->gpr[HLP_ESP] = b->esp & 0xFFFF;
}

int hlp_cpu_init(struct hlp_cpu *cpu, struct machine *m, unsigned model_options,
                 struct mach_err *err)
{
    memset(cpu, 0, sizeof *cpu);
    if (hlp_cpu_model_init(&cpu->model, model_options) < 0)
        return mach_errf(err, "CPU model: invalid option set 0x%x", model_options);
    if (dec_init(&cpu->dec, 0) < 0)
        return mach_errf(err, "decoder initialisation failed");
    if (mmu_init(&cpu->mmu, m, err) < 0)
        return -1;
    cpu->m = m;
    cpu->a20 = mach_a20_enabled(m);
    hlp_cpu_reset(cpu);
    const struct mach_boot *b = mach_boot_state(m);
    switch (b->kind) {
    case MACH_BOOT_RESET:
        break;
    case MACH_BOOT_MULTIBOOT:
    case MACH_BOOT_FLAT32:
        boot_flat32(cpu, b);
        set_fpu(cpu, false);
        break;
    case MACH_BOOT_REAL:
        boot_real(cpu, b);
        set_fpu(cpu, false);
        break;
    case MACH_BOOT_NONE:
    default:
        mmu_destroy(&cpu->mmu);
        return mach_errf(err, "no guest loaded: nothing to boot");
    }
    sync_mmu(cpu);
    return 0;
}

void hlp_cpu_destroy(struct hlp_cpu *cpu)
{
    if (cpu->m)
        mmu_destroy(&cpu->mmu);
    cpu->m = NULL;
}
