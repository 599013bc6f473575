/* The rows of the sensitive-instruction table (bt_sensitive.h): every
 * mnemonic decoder/class_table.c classes privileged, IOPL-sensitive, I/O
 * or sensitive, with the operand forms that change the class (MOV CRn,
 * MOV DRn, segment register moves, far transfers) written out per form.
 * test_bt_sensitive fails on a class-table entry without a row. ARPL and
 * UD0/UD1/UD2 are innocuous there (ARPL computes on selector values at
 * any CPL; UD always raises #UD, and a VT-x guest's #UD exits only when
 * the exception bitmap asks) and have no row.
 *
 * VT-x column, from the Intel SDM Vol. 3C chapter "VMX Non-Root
 * Operation" (chapter 25 in older editions, 26 in newer ones; the
 * sections keep their numbers within it): 25.1.2 "Instructions That
 * Cause VM Exits Unconditionally", 25.1.3 "Instructions That Cause VM
 * Exits Conditionally", 25.2 (exceptions: the exception bitmap applies
 * to INT3, INTO, INT1 but not to INT n), 25.3 "Changes to Instruction
 * Behavior in VMX Non-Root Operation" (MOV from CR0/CR4 and SMSW read
 * the read shadows, RDTSC offsetting, RDPID and RDTSCP under "enable
 * RDTSCP") and 25.4.2 (every task switch exits). AMD-only instructions
 * (SVM, SEV-SNP, LWP, MONITORX, RDPRU) are #UD on Intel CPUs (AMD APM
 * Vol. 3, each instruction's CPUID bit). Instructions this chapter does
 * not name run without an exit. */
#include "translator/bt_sensitive.h"

#define ROW(nm, mn, enc, b, t, v, h) \
    {nm, ZYDIS_MNEMONIC_##mn, BT_ENC_##enc, sizeof(b) - 1, b, t, BT_VTX_##v, h},
#define P(mn, b, t, v, h) ROW(#mn, mn, 32, b, t, v, h)
#define P64(mn, b, t, v, h) ROW(#mn, mn, 64, b, t, v, h)

#define DESC_TABLE "with \"descriptor-table exiting\""
#define IO_EXIT "with \"unconditional I/O exiting\", or by port in the I/O bitmaps " \
                "(\"use I/O bitmaps\")"
#define MSR_EXIT "unless \"use MSR bitmaps\" is set and the MSR's bit is clear"
#define CR0_MASK "when it writes a bit the CR0 guest/host mask gives the host " \
                 "differently from the read shadow"
#define VMX_INSN "VMX instruction"
#define AMD_ONLY "AMD instruction"
#define UWAIT "\"RDTSC exiting\" with \"enable user wait and pause\" (#UD without it)"
#define TASK_SWITCH "through a task gate or to a TSS it exits (task switch, 25.4.2)"
#define X87_IP "x87 instruction and operand pointers (host addresses under translation)"

const struct bt_sensitive bt_sensitive_table[] = {
    /* ---- Privileged: #GP(0) or #UD at CPL > 0 (SDM Vol. 3A 2.8) ---- */
    P(LGDT, "\x0F\x01\x10", "GDTR: the guest's segments", CONTROL, DESC_TABLE)
    P(LIDT, "\x0F\x01\x18", "IDTR: where interrupts go", CONTROL, DESC_TABLE)
    P(LLDT, "\x0F\x00\xD0", "LDTR", CONTROL, DESC_TABLE)
    P(LTR, "\x0F\x00\xD8", "TR: the TSS's stacks and I/O bitmap", CONTROL, DESC_TABLE)
    P(LMSW, "\x0F\x01\xF0", "CR0.PE, MP, EM, TS", CONTROL, CR0_MASK)
    P(CLTS, "\x0F\x06", "CR0.TS (lazy FPU switching)", CONTROL,
      "when CR0.TS is host-owned (guest/host mask) and set in the read shadow")
    ROW("MOV to CR0", MOV, 32, "\x0F\x22\xC0", "paging, protection, FPU control", CONTROL,
        CR0_MASK)
    ROW("MOV from CR0", MOV, 32, "\x0F\x20\xC0", "CR0", NO_EXIT,
        "host-owned bits read from the CR0 read shadow")
    ROW("MOV to CR2", MOV, 32, "\x0F\x22\xD0", "the page-fault address", NO_EXIT, NULL)
    ROW("MOV from CR2", MOV, 32, "\x0F\x20\xD0", "the page-fault address", NO_EXIT, NULL)
    ROW("MOV to CR3", MOV, 32, "\x0F\x22\xD8", "the page tables", CONTROL,
        "with \"CR3-load exiting\" unless the value is one of the CR3-target values "
        "(clear with EPT)")
    ROW("MOV from CR3", MOV, 32, "\x0F\x20\xD8", "the page tables' address", CONTROL,
        "with \"CR3-store exiting\" (clear with EPT)")
    ROW("MOV to CR4", MOV, 32, "\x0F\x22\xE0", "paging and feature enables", CONTROL,
        "when it writes a bit the CR4 guest/host mask gives the host differently "
        "from the read shadow")
    ROW("MOV from CR4", MOV, 32, "\x0F\x20\xE0", "CR4", NO_EXIT,
        "host-owned bits read from the CR4 read shadow")
    ROW("MOV to DRn", MOV, 32, "\x0F\x23\xF8", "breakpoints (the host's too)", CONTROL,
        "with \"MOV-DR exiting\"")
    ROW("MOV from DRn", MOV, 32, "\x0F\x21\xF0", "breakpoint status", CONTROL,
        "with \"MOV-DR exiting\"")
    P(INVD, "\x0F\x08", "caches, dropped without write-back", ALWAYS, NULL)
    P(WBINVD, "\x0F\x09", "caches", CONTROL, "with \"WBINVD exiting\"")
    P(INVLPG, "\x0F\x01\x38", "the TLB: the VMM's shadow mappings", CONTROL,
      "with \"INVLPG exiting\" (clear with EPT)")
    P(INVPCID, "\x66\x0F\x38\x82\x00", "the TLB, by PCID", CONTROL,
      "with \"INVLPG exiting\" and \"enable INVPCID\" (#UD without the latter)")
    P(HLT, "\xF4", "the CPU's run state", CONTROL, "with \"HLT exiting\"")
    P(RDMSR, "\x0F\x32", "model-specific registers", CONTROL, MSR_EXIT " in the read bitmap")
    P(WRMSR, "\x0F\x30", "model-specific registers", CONTROL, MSR_EXIT " in the write bitmap")
    P(SYSEXIT, "\x0F\x35", "CS, SS from IA32_SYSENTER_CS; CPL 3", NO_EXIT, NULL)
    P(SYSRET, "\x0F\x07", "CS, SS from IA32_STAR; CPL 3", NO_EXIT,
      "#UD outside 64-bit mode on Intel CPUs")
    P(XSETBV, "\x0F\x01\xD1", "XCR0: the enabled state components", ALWAYS, NULL)
    P(XSAVES, "\x0F\xC7\x28", "supervisor state components (IA32_XSS)", CONTROL,
      "by the XSS-exiting bitmap with \"enable XSAVES/XRSTORS\" (#UD without it)")
    P(XRSTORS, "\x0F\xC7\x18", "supervisor state components (IA32_XSS)", CONTROL,
      "by the XSS-exiting bitmap with \"enable XSAVES/XRSTORS\" (#UD without it)")
    P(CLAC, "\x0F\x01\xCA", "EFLAGS.AC (SMAP)", NO_EXIT, NULL)
    P(STAC, "\x0F\x01\xCB", "EFLAGS.AC (SMAP)", NO_EXIT, NULL)
    P(MONITOR, "\x0F\x01\xC8", "address monitoring", CONTROL, "with \"MONITOR exiting\"")
    P(MWAIT, "\x0F\x01\xC9", "the CPU's run state", CONTROL, "with \"MWAIT exiting\"")
    P(HRESET, "\xF3\x0F\x3A\xF0\xC0\x00", "prediction history (IA32_HRESET_ENABLE)", NO_EXIT,
      NULL)
    P(PCONFIG, "\x0F\x01\xC5", "platform configuration (memory encryption keys)", CONTROL,
      "by the PCONFIG-exiting bitmap with \"enable PCONFIG\" (#UD without it)")
    P(ENQCMDS, "\xF3\x0F\x38\xF8\x00", "device work queues, supervisor PASID", NO_EXIT,
      "with \"PASID translation\" the PASID is translated")
    P(LOADIWKEY, "\xF3\x0F\x38\xDC\xC1", "the Key Locker wrapping key", CONTROL,
      "with \"LOADIWKEY exiting\"")
    P(SETSSBSY, "\xF3\x0F\x01\xE8", "the supervisor shadow stack", NO_EXIT, NULL)
    P(CLRSSBSY, "\xF3\x0F\xAE\x30", "the supervisor shadow stack", NO_EXIT, NULL)
    P(WRUSSD, "\x66\x0F\x38\xF5\x00", "the user shadow stack", NO_EXIT, NULL)
    P(VMXON, "\xF3\x0F\xC7\x30", "VMX operation", ALWAYS, VMX_INSN)
    P(VMXOFF, "\x0F\x01\xC4", "VMX operation", ALWAYS, VMX_INSN)
    P(VMCLEAR, "\x66\x0F\xC7\x30", "a VMCS", ALWAYS, VMX_INSN)
    P(VMPTRLD, "\x0F\xC7\x30", "the current VMCS", ALWAYS, VMX_INSN)
    P(VMPTRST, "\x0F\xC7\x38", "the current VMCS", ALWAYS, VMX_INSN)
    P(VMREAD, "\x0F\x78\x00", "a VMCS field", CONTROL,
      "unless \"VMCS shadowing\" is set and the VMREAD bitmap passes the field")
    P(VMWRITE, "\x0F\x79\x00", "a VMCS field", CONTROL,
      "unless \"VMCS shadowing\" is set and the VMWRITE bitmap passes the field")
    P(VMLAUNCH, "\x0F\x01\xC2", "enters a guest", ALWAYS, VMX_INSN)
    P(VMRESUME, "\x0F\x01\xC3", "enters a guest", ALWAYS, VMX_INSN)
    P(INVEPT, "\x66\x0F\x38\x80\x00", "EPT TLB entries", ALWAYS, VMX_INSN)
    P(INVVPID, "\x66\x0F\x38\x81\x00", "VPID TLB entries", ALWAYS, VMX_INSN)
    P(GETSEC, "\x0F\x37", "SMX (measured launch)", ALWAYS, NULL)
    P(ENCLS, "\x0F\x01\xCF", "SGX enclave pages (EPC)", CONTROL,
      "by the ENCLS-exiting bitmap with \"enable ENCLS exiting\"")
    P(ENCLV, "\x0F\x01\xC0", "SGX enclave pages (EPC), oversubscription", CONTROL,
      "by the ENCLV-exiting bitmap with \"enable ENCLV exiting\"")
    P(VMRUN, "\x0F\x01\xD8", "enters an SVM guest", UD, AMD_ONLY " (SVM)")
    P(VMLOAD, "\x0F\x01\xDA", "hidden state from a VMCB", UD, AMD_ONLY " (SVM)")
    P(VMSAVE, "\x0F\x01\xDB", "hidden state to a VMCB", UD, AMD_ONLY " (SVM)")
    P(CLGI, "\x0F\x01\xDD", "the global interrupt flag", UD, AMD_ONLY " (SVM)")
    P(STGI, "\x0F\x01\xDC", "the global interrupt flag", UD, AMD_ONLY " (SVM)")
    P(SKINIT, "\x0F\x01\xDE", "secure launch", UD, AMD_ONLY " (SVM)")
    P(INVLPGA, "\x0F\x01\xDF", "the TLB, by ASID", UD, AMD_ONLY " (SVM)")
    P(INVLPGB, "\x0F\x01\xFE", "the TLBs of every CPU", UD, AMD_ONLY)
    P(TLBSYNC, "\x0F\x01\xFF", "the TLBs of every CPU", UD, AMD_ONLY)
    P(PVALIDATE, "\xF2\x0F\x01\xFF", "the SEV-SNP page state", UD, AMD_ONLY " (SEV-SNP)")
    P(TDCALL, "\x66\x0F\x01\xCC", "calls the TDX module", ALWAYS, "TDX")
    P64(SWAPGS, "\x0F\x01\xF8", "GS base and IA32_KERNEL_GS_BASE", NO_EXIT, NULL)
    P64(XSAVES64, "\x48\x0F\xC7\x28", "supervisor state components (IA32_XSS)", CONTROL,
        "by the XSS-exiting bitmap with \"enable XSAVES/XRSTORS\" (#UD without it)")
    P64(XRSTORS64, "\x48\x0F\xC7\x18", "supervisor state components (IA32_XSS)", CONTROL,
        "by the XSS-exiting bitmap with \"enable XSAVES/XRSTORS\" (#UD without it)")
    P64(WRUSSQ, "\x66\x48\x0F\x38\xF5\x00", "the user shadow stack", NO_EXIT, NULL)
    P64(PSMASH, "\xF3\x0F\x01\xFF", "the SEV-SNP reverse map", UD, AMD_ONLY " (SEV-SNP)")
    P64(RMPADJUST, "\xF3\x0F\x01\xFE", "the SEV-SNP reverse map", UD, AMD_ONLY " (SEV-SNP)")
    P64(RMPUPDATE, "\xF2\x0F\x01\xFE", "the SEV-SNP reverse map", UD, AMD_ONLY " (SEV-SNP)")
    P64(SEAMCALL, "\x66\x0F\x01\xCF", "calls the TDX module", ALWAYS, "TDX")
    P64(SEAMOPS, "\x66\x0F\x01\xCE", "TDX module services", UD, "SEAM VMX root operation only")
    P64(SEAMRET, "\x66\x0F\x01\xCD", "returns from the TDX module", UD,
        "SEAM VMX root operation only")

    /* ---- I/O and IOPL-sensitive: #GP when CPL > IOPL (and, for I/O, the
     * TSS I/O bitmap denies: SDM Vol. 1 19.5) ---- */
    P(IN, "\xE4\x60", "devices", CONTROL, IO_EXIT)
    P(OUT, "\xE6\x80", "devices", CONTROL, IO_EXIT)
    P(INSB, "\x6C", "devices", CONTROL, IO_EXIT)
    P(INSW, "\x66\x6D", "devices", CONTROL, IO_EXIT)
    P(INSD, "\x6D", "devices", CONTROL, IO_EXIT)
    P(OUTSB, "\x6E", "devices", CONTROL, IO_EXIT)
    P(OUTSW, "\x66\x6F", "devices", CONTROL, IO_EXIT)
    P(OUTSD, "\x6F", "devices", CONTROL, IO_EXIT)
    P(CLI, "\xFA", "EFLAGS.IF", NO_EXIT, "IF is the guest's own")
    P(STI, "\xFB", "EFLAGS.IF", NO_EXIT,
      "IF is the guest's own; \"interrupt-window exiting\" catches the window it opens")

    /* ---- Sensitive but unprivileged: the Popek-Goldberg gap ---- */
    P(SGDT, "\x0F\x01\x00", "GDTR (the host's, without a VMM)", CONTROL,
      DESC_TABLE "; else the guest's own GDTR")
    P(SIDT, "\x0F\x01\x08", "IDTR (the host's, without a VMM)", CONTROL,
      DESC_TABLE "; else the guest's own IDTR")
    P(SLDT, "\x0F\x00\xC0", "LDTR", CONTROL, DESC_TABLE)
    P(STR, "\x0F\x00\xC8", "TR", CONTROL, DESC_TABLE)
    P(SMSW, "\x0F\x01\xE0", "CR0's low bits", NO_EXIT,
      "host-owned bits read from the CR0 read shadow")
    P(LAR, "\x0F\x02\xC0", "a descriptor's rights, checked against CPL", NO_EXIT, NULL)
    P(LSL, "\x0F\x03\xC0", "a descriptor's limit, checked against CPL", NO_EXIT, NULL)
    P(VERR, "\x0F\x00\xE0", "a descriptor's DPL against CPL", NO_EXIT, NULL)
    P(VERW, "\x0F\x00\xE8", "a descriptor's DPL against CPL", NO_EXIT, NULL)
    P(PUSHF, "\x66\x9C", "EFLAGS.IF, IOPL (the real ones)", NO_EXIT, NULL)
    P(PUSHFD, "\x9C", "EFLAGS.IF, IOPL, VM (the real ones)", NO_EXIT, NULL)
    P(POPF, "\x66\x9D", "EFLAGS.IF, IOPL: dropped silently at CPL > 0", NO_EXIT, NULL)
    P(POPFD, "\x9D", "EFLAGS.IF, IOPL: dropped silently at CPL > 0", NO_EXIT, NULL)
    ROW("MOV to Sreg", MOV, 32, "\x8E\xD8", "a descriptor, checked against CPL", NO_EXIT, NULL)
    ROW("MOV to SS", MOV, 32, "\x8E\xD0", "a descriptor, DPL = CPL", NO_EXIT, NULL)
    ROW("MOV from Sreg", MOV, 32, "\x8C\xC8", "CS.RPL or SS.RPL: the CPL", NO_EXIT, NULL)
    ROW("PUSH Sreg", PUSH, 32, "\x0E", "CS.RPL or SS.RPL: the CPL", NO_EXIT, NULL)
    ROW("POP Sreg", POP, 32, "\x1F", "a descriptor, checked against CPL", NO_EXIT, NULL)
    ROW("POP SS", POP, 32, "\x17", "a descriptor, DPL = CPL", NO_EXIT, NULL)
    P(LDS, "\xC5\x00", "a descriptor, checked against CPL", NO_EXIT, NULL)
    P(LES, "\xC4\x00", "a descriptor, checked against CPL", NO_EXIT, NULL)
    P(LFS, "\x0F\xB4\x00", "a descriptor, checked against CPL", NO_EXIT, NULL)
    P(LGS, "\x0F\xB5\x00", "a descriptor, checked against CPL", NO_EXIT, NULL)
    P(LSS, "\x0F\xB2\x00", "a descriptor, DPL = CPL", NO_EXIT, NULL)
    P(CPUID, "\x0F\xA2", "the CPU model", ALWAYS, NULL)
    P(RDTSC, "\x0F\x31", "time", CONTROL,
      "with \"RDTSC exiting\"; else offset (and scaled) by the VMCS")
    P(RDTSCP, "\x0F\x01\xF9", "time, IA32_TSC_AUX", CONTROL,
      "with \"RDTSC exiting\" and \"enable RDTSCP\" (#UD without the latter)")
    P(RDPMC, "\x0F\x33", "performance counters", CONTROL, "with \"RDPMC exiting\"")
    P(RDPID, "\xF3\x0F\xC7\xF8", "IA32_TSC_AUX (the CPU number)", NO_EXIT,
      "#UD without \"enable RDTSCP\"")
    P(RDPRU, "\x0F\x01\xFD", "performance registers", UD, AMD_ONLY)
    P(XGETBV, "\x0F\x01\xD0", "XCR0", NO_EXIT, NULL)
    P(FNSTENV, "\xD9\x30", X87_IP, NO_EXIT, NULL)
    P(FNSAVE, "\xDD\x30", X87_IP, NO_EXIT, NULL)
    P(FXSAVE, "\x0F\xAE\x00", X87_IP "; CR4.OSFXSR", NO_EXIT, NULL)
    P(FXRSTOR, "\x0F\xAE\x08", X87_IP "; CR4.OSFXSR", NO_EXIT, NULL)
    P(XSAVE, "\x0F\xAE\x20", X87_IP "; XCR0", NO_EXIT, NULL)
    P(XSAVEC, "\x0F\xC7\x20", X87_IP "; XCR0", NO_EXIT, NULL)
    P(XSAVEOPT, "\x0F\xAE\x30", X87_IP "; XCR0", NO_EXIT, NULL)
    P(XRSTOR, "\x0F\xAE\x28", X87_IP "; XCR0", NO_EXIT, NULL)
    P(RSM, "\x0F\xAA", "leaves SMM", UD,
      "outside SMM; in SMM it exits (25.1.3)")
    P(VMCALL, "\x0F\x01\xC1", "calls the hypervisor", ALWAYS, VMX_INSN)
    P(VMMCALL, "\x0F\x01\xD9", "calls the hypervisor", UD, AMD_ONLY " (SVM)")
    P(VMFUNC, "\x0F\x01\xD4", "EPTP switching", CONTROL,
      "for a function the VM-function controls do not enable (#UD without "
      "\"enable VM functions\")")
    P(ENCLU, "\x0F\x01\xD7", "SGX enclaves", NO_EXIT, NULL)
    P(RDPKRU, "\x0F\x01\xEE", "PKRU (protection keys)", NO_EXIT, NULL)
    P(WRPKRU, "\x0F\x01\xEF", "PKRU (protection keys)", NO_EXIT, NULL)
    P(UMONITOR, "\xF3\x0F\xAE\xF0", "address monitoring", NO_EXIT,
      "#UD without \"enable user wait and pause\"")
    P(UMWAIT, "\xF2\x0F\xAE\xF0", "the CPU's run state, bounded by IA32_UMWAIT_CONTROL",
      CONTROL, "with " UWAIT)
    P(TPAUSE, "\x66\x0F\xAE\xF0", "the CPU's run state, bounded by IA32_UMWAIT_CONTROL",
      CONTROL, "with " UWAIT)
    P(MONITORX, "\x0F\x01\xFA", "address monitoring", UD, AMD_ONLY)
    P(MWAITX, "\x0F\x01\xFB", "the CPU's run state", UD, AMD_ONLY)
    P(PTWRITE, "\xF3\x0F\xAE\x20", "the processor trace", NO_EXIT, NULL)
    P(ENQCMD, "\xF2\x0F\x38\xF8\x00", "device work queues (IA32_PASID)", NO_EXIT,
      "with \"PASID translation\" the PASID is translated")
    P(LLWPCB, "\x8F\xE9\x78\x12\xC0", "the LWP control block", UD, AMD_ONLY " (LWP)")
    P(SLWPCB, "\x8F\xE9\x78\x12\xC8", "the LWP control block", UD, AMD_ONLY " (LWP)")
    P(LWPINS, "\x8F\xEA\x78\x12\xC0\x00\x00\x00\x00", "the LWP ring buffer", UD,
      AMD_ONLY " (LWP)")
    P(LWPVAL, "\x8F\xEA\x78\x12\xC8\x00\x00\x00\x00", "the LWP ring buffer", UD,
      AMD_ONLY " (LWP)")
    P(INCSSPD, "\xF3\x0F\xAE\xE8", "SSP (CET shadow stack)", NO_EXIT, NULL)
    ROW("RDSSPD", RDSSPD, 32_CET, "\xF3\x0F\x1E\xC8", "SSP (CET shadow stack)", NO_EXIT, NULL)
    P(WRSSD, "\x0F\x38\xF6\x00", "the shadow stack", NO_EXIT, NULL)
    P(SAVEPREVSSP, "\xF3\x0F\x01\xEA", "the shadow stack", NO_EXIT, NULL)
    P(RSTORSSP, "\xF3\x0F\x01\x28", "SSP (CET shadow stack)", NO_EXIT, NULL)
    P(AESDEC128KL, "\xF3\x0F\x38\xDD\x00", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESDEC256KL, "\xF3\x0F\x38\xDF\x00", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESENC128KL, "\xF3\x0F\x38\xDC\x00", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESENC256KL, "\xF3\x0F\x38\xDE\x00", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESDECWIDE128KL, "\xF3\x0F\x38\xD8\x08", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESDECWIDE256KL, "\xF3\x0F\x38\xD8\x18", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESENCWIDE128KL, "\xF3\x0F\x38\xD8\x00", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(AESENCWIDE256KL, "\xF3\x0F\x38\xD8\x10", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(ENCODEKEY128, "\xF3\x0F\x38\xFA\xC0", "the Key Locker wrapping key", NO_EXIT, NULL)
    P(ENCODEKEY256, "\xF3\x0F\x38\xFB\xC0", "the Key Locker wrapping key", NO_EXIT, NULL)
    P64(PUSHFQ, "\x9C", "RFLAGS.IF, IOPL (the real ones)", NO_EXIT, NULL)
    P64(POPFQ, "\x9D", "RFLAGS.IF, IOPL: dropped silently at CPL > 0", NO_EXIT, NULL)
    P64(FXSAVE64, "\x48\x0F\xAE\x00", X87_IP, NO_EXIT, NULL)
    P64(FXRSTOR64, "\x48\x0F\xAE\x08", X87_IP, NO_EXIT, NULL)
    P64(XSAVE64, "\x48\x0F\xAE\x20", X87_IP "; XCR0", NO_EXIT, NULL)
    P64(XSAVEC64, "\x48\x0F\xC7\x20", X87_IP "; XCR0", NO_EXIT, NULL)
    P64(XSAVEOPT64, "\x48\x0F\xAE\x30", X87_IP "; XCR0", NO_EXIT, NULL)
    P64(XRSTOR64, "\x48\x0F\xAE\x28", X87_IP "; XCR0", NO_EXIT, NULL)
    P64(RDFSBASE, "\xF3\x0F\xAE\xC0", "the FS base", NO_EXIT, NULL)
    P64(RDGSBASE, "\xF3\x0F\xAE\xC8", "the GS base", NO_EXIT, NULL)
    P64(WRFSBASE, "\xF3\x0F\xAE\xD0", "the FS base", NO_EXIT, NULL)
    P64(WRGSBASE, "\xF3\x0F\xAE\xD8", "the GS base", NO_EXIT, NULL)
    P64(CLUI, "\xF3\x0F\x01\xEE", "UIF (user interrupts)", NO_EXIT, NULL)
    P64(STUI, "\xF3\x0F\x01\xEF", "UIF (user interrupts)", NO_EXIT, NULL)
    P64(TESTUI, "\xF3\x0F\x01\xED", "UIF (user interrupts)", NO_EXIT, NULL)
    P64(UIRET, "\xF3\x0F\x01\xEC", "UIF, returns from a user interrupt", NO_EXIT, NULL)
    P64(SENDUIPI, "\xF3\x0F\xC7\xF0", "the user-interrupt target table, IPIs", NO_EXIT, NULL)
    P64(INCSSPQ, "\xF3\x48\x0F\xAE\xE8", "SSP (CET shadow stack)", NO_EXIT, NULL)
    P64(RDSSPQ, "\xF3\x48\x0F\x1E\xC8", "SSP (CET shadow stack)", NO_EXIT, NULL)
    P64(WRSSQ, "\x48\x0F\x38\xF6\x00", "the shadow stack", NO_EXIT, NULL)
    ROW("SPFLT", SPFLT, 64_KNC, "\xC4\x01\x7B\xAE\xF0", "performance-monitor filtering", UD,
        "Knights Corner has no VMX")

    /* ---- Control transfers through descriptors, gates and MSRs ---- */
    ROW("JMP far ptr16:32", JMP, 32, "\xEA\x00\x10\x00\x00\x08\x00",
        "CS: privilege checks, call gates, task switches", NO_EXIT, TASK_SWITCH)
    ROW("JMP far m16:32", JMP, 32, "\xFF\x28",
        "CS: privilege checks, call gates, task switches", NO_EXIT, TASK_SWITCH)
    ROW("CALL far ptr16:32", CALL, 32, "\x9A\x00\x10\x00\x00\x08\x00",
        "CS: privilege checks, call gates, task switches", NO_EXIT, TASK_SWITCH)
    ROW("CALL far m16:32", CALL, 32, "\xFF\x18",
        "CS: privilege checks, call gates, task switches", NO_EXIT, TASK_SWITCH)
    ROW("RET far", RET, 32, "\xCB", "CS, SS: returns to an outer privilege level", NO_EXIT,
        "never switches tasks")
    ROW("RET far imm16", RET, 32, "\xCA\x08\x00", "CS, SS: returns to an outer privilege level",
        NO_EXIT, "never switches tasks")
    P(INT, "\xCD\x80", "the guest IDT: gate DPL against CPL, stack switch", NO_EXIT,
      "the exception bitmap does not apply to INT n; through a task gate it exits "
      "(task switch, 25.4.2)")
    P(INT3, "\xCC", "the guest IDT (#BP)", CONTROL, "by exception-bitmap bit 3 (#BP)")
    P(INTO, "\xCE", "the guest IDT (#OF when OF = 1)", CONTROL,
      "by exception-bitmap bit 4 (#OF) when OF = 1")
    P(INT1, "\xF1", "the guest IDT (#DB)", CONTROL, "by exception-bitmap bit 1 (#DB)")
    P(IRET, "\x66\xCF", "CS, SS, EFLAGS: privilege levels, NMI blocking", NO_EXIT,
      "a nested-task return (NT = 1) exits (task switch, 25.4.2)")
    P(IRETD, "\xCF", "CS, SS, EFLAGS: privilege levels, NMI blocking", NO_EXIT,
      "a nested-task return (NT = 1) exits (task switch, 25.4.2)")
    P(SYSENTER, "\x0F\x34", "CS, SS, ESP from IA32_SYSENTER_*; CPL 0", NO_EXIT, NULL)
    P(SYSCALL, "\x0F\x05", "CS, SS from IA32_STAR; CPL 0", NO_EXIT,
      "#UD outside 64-bit mode on Intel CPUs")
    P64(IRETQ, "\x48\xCF", "CS, SS, RFLAGS: privilege levels, NMI blocking", NO_EXIT, NULL)
};

const size_t bt_sensitive_count = sizeof bt_sensitive_table / sizeof bt_sensitive_table[0];
