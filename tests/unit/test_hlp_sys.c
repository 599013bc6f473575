/* System instructions through hlp_exec_system: initial states (SDM Vol. 3A
 * Table 9-1, Multiboot), segment loads and their error codes (5.4-5.6),
 * POPF privilege rules (Vol. 2B POPF), the I/O permission bitmap (Vol. 1
 * 19.5), LAR/LSL/VERR/VERW, control-register writes and MSRs. */
#include "hlp_fixture.h"

TestSuite(hlp_sys, .init = fx_setup, .fini = fx_teardown);

#define SEG_ATTR(s) (fx_cpu.seg[s].attr)

Test(hlp_sys, flat32_boot_state)
{
    struct hlp_cpu c = fx_cpu;
    cr_assert_eq(c.cr0, HLP_CR0_PE | HLP_CR0_ET);
    cr_assert_eq(c.seg[HLP_CS].base, 0);
    cr_assert_eq(c.seg[HLP_CS].limit, 0xFFFFFFFFu);
    cr_assert(c.seg[HLP_CS].attr & HLP_SEG_DB);
    cr_assert(hlp_code32(&c));
    cr_assert_eq(c.cpl, 0);
    cr_assert_eq(c.eflags, HLP_FL_FIXED1);
    cr_assert_eq(c.tr.sel, FX_TSS_SEL);
    /* LTR marked the TSS busy (type 9 -> B) in the GDT. */
    cr_assert_eq((fx_gdt_get(FX_TSS_SEL >> 3) >> 40) & 0xF, 0xB);
    cr_assert_eq(c.ldtr.sel, FX_LDT_SEL);
    cr_assert_eq(c.ldtr.base, FX_LDT);
}

Test(hlp_sys, reset_state)
{
    hlp_cpu_reset(&fx_cpu);
    cr_assert_eq(fx_cpu.gpr[HLP_EDX], hlp_cpu_signature(&fx_cpu.model));
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, 0xF000);
    cr_assert_eq(fx_cpu.seg[HLP_CS].base, 0xFFFF0000u);
    cr_assert_eq(fx_cpu.eip, 0xFFF0);
    cr_assert_eq(fx_cpu.cr0, 0x60000010u);
    cr_assert_eq(fx_cpu.dr[HLP_DR6], 0xFFFF0FF0u);
    cr_assert_eq(fx_cpu.dr[HLP_DR7], 0x400u);
    cr_assert_eq(fx_cpu.idtr.limit, 0xFFFF);
    cr_assert(!hlp_protected(&fx_cpu));
}

Test(hlp_sys, mov_ds_checks_and_error_codes)
{
    uint8_t data0 = A_P | A_S | A_RW;
    fx_gdt_set(FX_FREE, fx_desc(0x1234, 0xFFF, data0, 0));                   /* 0x40 */
    fx_gdt_set(FX_FREE + 1, fx_desc(0, 0xFFF, data0 & ~A_P, 0));             /* 0x48 */
    fx_gdt_set(FX_FREE + 2, fx_desc(0, 0xFFF, A_P | A_S | A_CODE, 0));      /* 0x50 exec-only */
    fx_cpu.gpr[HLP_EAX] = 0x40;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), FX_OK); /* mov ds, ax */
    cr_assert_eq(fx_cpu.seg[HLP_DS].base, 0x1234);
    cr_assert_eq(fx_cpu.seg[HLP_DS].limit, 0xFFF);
    /* The accessed bit is set in the descriptor. */
    cr_assert((fx_gdt_get(FX_FREE) >> 40) & 1);
    cr_assert_eq(fx_cpu.eip, FX_CODE + 2);

    fx_cpu.gpr[HLP_EAX] = 0x48;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), HLP_VEC_NP);
    cr_assert_eq(fx_cpu.pending_error, 0x48);
    cr_assert_eq(fx_cpu.seg[HLP_DS].base, 0x1234, "state unchanged on a fault");
    cr_assert_eq(fx_cpu.eip, FX_CODE + 2, "EIP at the faulting instruction");

    fx_cpu.gpr[HLP_EAX] = 0x53;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, 0x50);

    fx_cpu.gpr[HLP_EAX] = FX_GDT_ENTRIES * 8; /* beyond the GDT limit */
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, FX_GDT_ENTRIES * 8);

    fx_cpu.gpr[HLP_EAX] = 3; /* null with RPL 3: allowed, unusable */
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), FX_OK);
    cr_assert(SEG_ATTR(HLP_DS) & HLP_SEG_UNUSABLE);
    cr_assert_eq(fx_cpu.seg[HLP_DS].sel, 3);
}

Test(hlp_sys, mov_ds_privilege)
{
    fx_enter_ring3(FX_USTACK);
    fx_cpu.gpr[HLP_EAX] = FX_KDATA;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), HLP_VEC_GP); /* DPL 0 < CPL 3 */
    cr_assert_eq(fx_cpu.pending_error, FX_KDATA);
    fx_cpu.gpr[HLP_EAX] = FX_UDATA;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), FX_OK);
    /* A DPL-3 data segment with RPL 3 is fine; one from the LDT (DPL 0) is not. */
    fx_wr32(FX_LDT + 8, 0x0000FFFF);
    fx_wr32(FX_LDT + 12, 0x00CF9200);
    fx_cpu.gpr[HLP_EAX] = 0x0F; /* LDT index 1, RPL 3 */
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, 0x0C, "TI kept, RPL dropped");
}

Test(hlp_sys, mov_ss_checks_and_shadow)
{
    fx_cpu.gpr[HLP_EAX] = 0;
    cr_assert_eq(FX_EXEC(0x8E, 0xD0), HLP_VEC_GP); /* null SS */
    cr_assert_eq(fx_cpu.pending_error, 0);
    fx_cpu.gpr[HLP_EAX] = FX_UDATA; /* RPL 3 != CPL 0 */
    cr_assert_eq(FX_EXEC(0x8E, 0xD0), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, FX_UDATA & ~3);
    fx_cpu.gpr[HLP_EAX] = FX_KCODE; /* code */
    cr_assert_eq(FX_EXEC(0x8E, 0xD0), HLP_VEC_GP);
    fx_gdt_set(FX_FREE, fx_desc(0, 0xFFFFF, A_S | A_RW, F_G | F_DB)); /* not present */
    fx_cpu.gpr[HLP_EAX] = 0x40;
    cr_assert_eq(FX_EXEC(0x8E, 0xD0), HLP_VEC_SS);
    cr_assert_eq(fx_cpu.pending_error, 0x40);
    fx_cpu.intr_shadow = false;
    fx_cpu.gpr[HLP_EAX] = FX_KDATA;
    cr_assert_eq(FX_EXEC(0x8E, 0xD0), FX_OK);
    cr_assert(fx_cpu.intr_shadow);
    cr_assert(!hlp_intr_window(&fx_cpu));
}

Test(hlp_sys, pop_ds_and_push_sreg)
{
    uint32_t esp = fx_cpu.gpr[HLP_ESP];
    fx_wr32(FX_KSTACK - 0x200, 0xFFFF0000u);
    cr_assert_eq(FX_EXEC(0x1E), FX_OK); /* push ds: 16-bit store, ESP - 4 */
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], esp - 4);
    cr_assert_eq(fx_rd16(esp - 4), FX_KDATA);
    /* pop ds of a DPL-3 data segment at CPL 0 (DPL >= CPL and RPL). */
    fx_wr32(esp - 4, FX_UDATA);
    cr_assert_eq(FX_EXEC(0x1F), FX_OK);
    cr_assert_eq(fx_cpu.seg[HLP_DS].sel, FX_UDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], esp);
    /* pop ss with RPL != CPL faults before ESP moves. */
    fx_cpu.gpr[HLP_ESP] = esp - 4;
    cr_assert_eq(FX_EXEC(0x17), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], esp - 4);
}

Test(hlp_sys, lds_loads_pointer)
{
    fx_gdt_set(FX_FREE, fx_desc(0x100000, 0xFFFF, A_P | A_S | A_RW, 0));
    fx_wr32(0x6000, 0xCAFEBABE);
    fx_wr16(0x6004, 0x40);
    const uint8_t lds[] = {0xC5, 0x05, 0x00, 0x60, 0x00, 0x00}; /* lds eax, [0x6000] */
    cr_assert_eq(fx_exec(lds, sizeof lds), FX_OK);
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0xCAFEBABE);
    cr_assert_eq(fx_cpu.seg[HLP_DS].base, 0x100000);
}

Test(hlp_sys, popf_at_cpl0_and_cpl3)
{
    uint32_t esp = fx_cpu.gpr[HLP_ESP];
    fx_wr32(esp, 0x3202 | HLP_FL_AC | HLP_FL_ID | HLP_FL_VM);
    cr_assert_eq(FX_EXEC(0x9D), FX_OK);
    cr_assert_eq(fx_cpu.eflags, 0x3202 | HLP_FL_AC | HLP_FL_ID, "IOPL, IF set; VM untouched");
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], esp + 4);

    /* CPL 3 with IOPL 0: IF and IOPL silently kept. */
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF;
    fx_enter_ring3(FX_USTACK);
    fx_wr32(FX_USTACK, 0x3000 | HLP_FL_CF | HLP_FL_FIXED1);
    cr_assert_eq(FX_EXEC(0x9D), FX_OK);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_CF);

    /* CPL 3 with IOPL 3: IF changes, IOPL does not. */
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_IOPL;
    fx_wr32(FX_USTACK + 4, HLP_FL_FIXED1);
    cr_assert_eq(FX_EXEC(0x9D), FX_OK);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_IOPL);

    /* 16-bit POPF touches only the low word. */
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_AC | HLP_FL_IOPL;
    fx_wr16(FX_USTACK + 8, 0x0001 | HLP_FL_FIXED1);
    cr_assert_eq(FX_EXEC(0x66, 0x9D), FX_OK);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_AC | HLP_FL_IOPL | HLP_FL_CF);
}

Test(hlp_sys, pushf_clears_vm_rf_in_image)
{
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_RF | HLP_FL_IF;
    uint32_t esp = fx_cpu.gpr[HLP_ESP];
    cr_assert_eq(FX_EXEC(0x9C), FX_OK);
    cr_assert_eq(fx_rd32(esp - 4), HLP_FL_FIXED1 | HLP_FL_IF);
}

Test(hlp_sys, cli_sti_iopl)
{
    fx_enter_ring3(FX_USTACK);
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF;
    cr_assert_eq(FX_EXEC(0xFA), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, 0);
    fx_cpu.eflags |= HLP_FL_IOPL;
    cr_assert_eq(FX_EXEC(0xFA), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_IF));
    cr_assert_eq(FX_EXEC(0xFB), FX_OK);
    cr_assert(fx_cpu.eflags & HLP_FL_IF);
    cr_assert(fx_cpu.intr_shadow, "STI that sets IF shadows one instruction");
    fx_cpu.intr_shadow = false;
    cr_assert_eq(FX_EXEC(0xFB), FX_OK);
    cr_assert(!fx_cpu.intr_shadow, "no shadow when IF was already set");
}

Test(hlp_sys, io_bitmap)
{
    /* Ports 0x80 allowed, 0x81 denied; IOPL 0, CPL 3. */
    fx_ram[FX_TSS + 0x68 + 0x10] = 0x02;
    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(FX_EXEC(0xE6, 0x80), FX_OK);       /* out 0x80, al */
    cr_assert_eq(FX_EXEC(0xE6, 0x81), HLP_VEC_GP);  /* out 0x81, al */
    cr_assert_eq(fx_cpu.pending_error, 0);
    cr_assert_eq(FX_EXEC(0x66, 0xE7, 0x80), HLP_VEC_GP, "a word at 0x80 covers 0x81");
    cr_assert_eq(FX_EXEC(0xE4, 0x7F), FX_OK);       /* in al, 0x7F */
    /* Port 0x100 lies beyond the bitmap (and the TSS limit). */
    fx_cpu.gpr[HLP_EDX] = 0x100;
    cr_assert_eq(FX_EXEC(0xEC), HLP_VEC_GP);        /* in al, dx */
    /* With IOPL 3 the bitmap is not consulted. */
    fx_cpu.eflags |= HLP_FL_IOPL;
    cr_assert_eq(FX_EXEC(0xEC), FX_OK);
    cr_assert_eq(fx_cpu.gpr[HLP_EAX] & 0xFF, 0xFF, "unassigned port reads all ones");
}

Test(hlp_sys, rep_outsb_and_insb)
{
    fx_wr32(0x6000, 0x44434241);
    fx_cpu.gpr[HLP_ESI] = 0x6000;
    fx_cpu.gpr[HLP_ECX] = 4;
    fx_cpu.gpr[HLP_EDX] = 0x80;
    cr_assert_eq(FX_EXEC(0xF3, 0x6E), FX_OK); /* rep outsb */
    cr_assert_eq(fx_cpu.gpr[HLP_ECX], 0);
    cr_assert_eq(fx_cpu.gpr[HLP_ESI], 0x6004);
    cr_assert_eq(fx_cpu.eip, FX_CODE + 2);
    fx_cpu.eip = FX_CODE;
    fx_cpu.gpr[HLP_EDI] = 0x6100;
    fx_cpu.gpr[HLP_ECX] = 2;
    fx_cpu.gpr[HLP_EDX] = 0x5555; /* unassigned: reads 0xFF */
    fx_cpu.eflags |= HLP_FL_DF;
    cr_assert_eq(FX_EXEC(0xF3, 0x6C), FX_OK); /* rep insb, backwards */
    cr_assert_eq(fx_cpu.gpr[HLP_EDI], 0x60FE);
    cr_assert_eq(fx_ram[0x6100], 0xFF);
    cr_assert_eq(fx_ram[0x60FF], 0xFF);
}

Test(hlp_sys, lar_lsl_verr_verw)
{
    fx_cpu.gpr[HLP_ECX] = FX_KDATA;
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK); /* lar eax, ecx */
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);
    /* Access byte 92H, flags CH, limit 19:16 FH (kept, as Intel does). */
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0x00CF9200u);
    cr_assert_eq(FX_EXEC(0x0F, 0x03, 0xC1), FX_OK); /* lsl eax, ecx */
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0xFFFFFFFFu);
    fx_cpu.gpr[HLP_ECX] = FX_TSS_SEL;
    cr_assert_eq(FX_EXEC(0x0F, 0x03, 0xC1), FX_OK);
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0x88);
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);

    /* An interrupt gate is not valid for LAR; the destination is kept. */
    fx_gdt_set(FX_FREE, fx_gate(0x1000, FX_KCODE, 0xE, 0, 0));
    fx_cpu.gpr[HLP_ECX] = 0x40;
    fx_cpu.gpr[HLP_EAX] = 0x1234;
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_ZF));
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0x1234);
    /* A call gate is (LAR), but not for LSL. */
    fx_gdt_set(FX_FREE, fx_gate(0x1000, FX_KCODE, 0xC, 0, 0));
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK);
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0x00008C00u);
    cr_assert_eq(FX_EXEC(0x0F, 0x03, 0xC1), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_ZF));

    /* At CPL 3, DPL-0 segments fail; conforming code does not. */
    fx_gdt_set(FX_FREE + 1, fx_desc(0, 0xFFFFF, A_P | A_S | A_CODE | A_CONF | A_RW, F_G | F_DB));
    fx_enter_ring3(FX_USTACK);
    fx_cpu.gpr[HLP_ECX] = FX_KDATA;
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_ZF));
    fx_cpu.gpr[HLP_ECX] = 0x4B;
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK);
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);
    /* Beyond the GDT: ZF = 0, no fault. */
    fx_cpu.gpr[HLP_ECX] = 0xFFF8;
    cr_assert_eq(FX_EXEC(0x0F, 0x02, 0xC1), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_ZF));

    fx_cpu.gpr[HLP_EAX] = FX_UDATA;
    cr_assert_eq(FX_EXEC(0x0F, 0x00, 0xE8), FX_OK); /* verw ax */
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);
    fx_cpu.gpr[HLP_EAX] = FX_UCODE;
    cr_assert_eq(FX_EXEC(0x0F, 0x00, 0xE8), FX_OK);
    cr_assert(!(fx_cpu.eflags & HLP_FL_ZF));
    cr_assert_eq(FX_EXEC(0x0F, 0x00, 0xE0), FX_OK); /* verr ax: readable code */
    cr_assert(fx_cpu.eflags & HLP_FL_ZF);
}

Test(hlp_sys, control_register_writes)
{
    fx_cpu.gpr[HLP_EAX] = HLP_CR4_VME;
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xE0), HLP_VEC_GP, "CR4.VME is reserved: no VME in CPUID");
    fx_cpu.gpr[HLP_EAX] = 1u << 6; /* MCE */
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xE0), HLP_VEC_GP);
    fx_cpu.gpr[HLP_EAX] = MMU_CR4_PSE | HLP_CR4_OSFXSR | (1u << 8);
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xE0), FX_OK);
    cr_assert_eq(fx_cpu.cr4, MMU_CR4_PSE | HLP_CR4_OSFXSR | (1u << 8));
    cr_assert_eq(fx_cpu.mmu.regs.cr4, fx_cpu.cr4, "softmmu follows");

    fx_cpu.gpr[HLP_EAX] = MMU_CR0_PG;
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xC0), HLP_VEC_GP, "PG without PE");
    fx_cpu.gpr[HLP_EAX] = HLP_CR0_PE | MMU_CR0_NW;
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xC0), HLP_VEC_GP, "NW without CD");
    fx_cpu.gpr[HLP_EAX] = HLP_CR0_PE | MMU_CR0_WP;
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xC0), FX_OK);
    cr_assert_eq(fx_cpu.cr0, HLP_CR0_PE | MMU_CR0_WP | HLP_CR0_ET, "ET hardwired");

    fx_cpu.gpr[HLP_EAX] = 0x7000;
    cr_assert_eq(FX_EXEC(0x0F, 0x22, 0xD8), FX_OK); /* mov cr3, eax */
    cr_assert_eq(fx_cpu.cr3, 0x7000);
    cr_assert_eq(FX_EXEC(0x0F, 0x20, 0xD9), FX_OK); /* mov ecx, cr3 */
    cr_assert_eq(fx_cpu.gpr[HLP_ECX], 0x7000);
    cr_assert_eq(FX_EXEC(0x0F, 0x01, 0xE2), FX_OK); /* smsw edx */
    cr_assert_eq(fx_cpu.gpr[HLP_EDX], fx_cpu.cr0);

    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(FX_EXEC(0x0F, 0x20, 0xD9), HLP_VEC_GP, "MOV from CR at CPL 3");
    cr_assert_eq(FX_EXEC(0xF4), HLP_VEC_GP, "HLT at CPL 3");
}

Test(hlp_sys, debug_registers)
{
    fx_cpu.gpr[HLP_EAX] = 0;
    cr_assert_eq(FX_EXEC(0x0F, 0x23, 0xF0), FX_OK); /* mov dr6, eax */
    cr_assert_eq(fx_cpu.dr[HLP_DR6], 0xFFFF0FF0u);
    fx_cpu.gpr[HLP_EAX] = 1u << 13; /* GD */
    cr_assert_eq(FX_EXEC(0x0F, 0x23, 0xF8), FX_OK); /* mov dr7, eax */
    cr_assert_eq(fx_cpu.dr[HLP_DR7], 0x2400u);
    cr_assert_eq(FX_EXEC(0x0F, 0x21, 0xC0), HLP_VEC_DB, "general detect"); /* mov eax, dr0 */
    cr_assert(fx_cpu.dr[HLP_DR6] & HLP_DR6_BD);
    cr_assert(!(fx_cpu.dr[HLP_DR7] & (1u << 13)), "GD cleared for the handler");
}

Test(hlp_sys, msrs_and_tsc)
{
    fx_cpu.gpr[HLP_ECX] = 0x174;
    fx_cpu.gpr[HLP_EAX] = FX_KCODE;
    fx_cpu.gpr[HLP_EDX] = 0;
    cr_assert_eq(FX_EXEC(0x0F, 0x30), FX_OK); /* wrmsr */
    cr_assert_eq(fx_cpu.sysenter_cs, FX_KCODE);
    fx_cpu.gpr[HLP_ECX] = 0x1B; /* IA32_APIC_BASE: no APIC */
    cr_assert_eq(FX_EXEC(0x0F, 0x32), HLP_VEC_GP);
    fx_cpu.gpr[HLP_ECX] = 0xC0000080u; /* EFER: not on a P6 */
    cr_assert_eq(FX_EXEC(0x0F, 0x32), HLP_VEC_GP);
    fx_cpu.gpr[HLP_ECX] = 0x10;
    fx_cpu.gpr[HLP_EAX] = 0;
    fx_cpu.gpr[HLP_EDX] = 5;
    cr_assert_eq(FX_EXEC(0x0F, 0x30), FX_OK);
    cr_assert_eq(FX_EXEC(0x0F, 0x31), FX_OK); /* rdtsc */
    cr_assert_eq(fx_cpu.gpr[HLP_EDX], 5);
    fx_cpu.cr4 |= HLP_CR4_TSD;
    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(FX_EXEC(0x0F, 0x31), HLP_VEC_GP);
    cr_assert_eq(FX_EXEC(0x0F, 0x32), HLP_VEC_GP, "RDMSR at CPL 3");
    fx_cpu.gpr[HLP_EAX] = 1;
    cr_assert_eq(FX_EXEC(0x0F, 0xA2), FX_OK); /* cpuid */
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], hlp_cpu_signature(&fx_cpu.model));
}

Test(hlp_sys, lgdt_sgdt_16bit_base)
{
    fx_wr16(0x6000, 0x7F);
    fx_wr32(0x6002, 0xAB123456);
    const uint8_t lgdt16[] = {0x66, 0x0F, 0x01, 0x15, 0x00, 0x60, 0x00, 0x00};
    cr_assert_eq(fx_exec(lgdt16, sizeof lgdt16), FX_OK);
    cr_assert_eq(fx_cpu.gdtr.base, 0x123456, "24-bit base with a 16-bit operand size");
    cr_assert_eq(fx_cpu.gdtr.limit, 0x7F);
    const uint8_t sgdt[] = {0x0F, 0x01, 0x05, 0x10, 0x60, 0x00, 0x00};
    cr_assert_eq(fx_exec(sgdt, sizeof sgdt), FX_OK);
    cr_assert_eq(fx_rd16(0x6010), 0x7F);
    cr_assert_eq(fx_rd32(0x6012), 0x123456);
    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(fx_exec(lgdt16, sizeof lgdt16), HLP_VEC_GP);
    cr_assert_eq(fx_exec(sgdt, sizeof sgdt), FX_OK, "SGDT at CPL 3 without UMIP");
}
