; Guest test runtime: Multiboot entry, interrupt stubs, setjmp/longjmp and
; the IRET into ring 3. Everything else is C (rt.c, cpu.c, ...).

bits 32

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000003      ; bit 0: page-align modules, bit 1: memory info
KERNEL_DS   equ 0x10
STACK_BYTES equ 16384

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

section .data
; Machine state at the Multiboot hand-off (Multiboot 0.6.96 section 3.2),
; recorded before the runtime changes anything.
global rt_boot_eax, rt_boot_ebx, rt_boot_eflags, rt_boot_cr0, rt_boot_bss_dirty
rt_boot_eax:       dd 0
rt_boot_ebx:       dd 0
rt_boot_eflags:    dd 0
rt_boot_cr0:       dd 0
rt_boot_bss_dirty: dd 0
boot_stack:        times 4 dd 0
boot_stack_top:

section .bss
alignb 16
rt_kernel_stack:   resb STACK_BYTES
global rt_kernel_stack_top
rt_kernel_stack_top:

section .text
global _start
extern rt_main, __bss_start, __bss_end
_start:
    mov [rt_boot_eax], eax
    mov [rt_boot_ebx], ebx
    ; Multiboot leaves ESP undefined: a stack of our own before the first
    ; push (MOV changes no flags, so EFLAGS is still the loader's), outside
    ; .bss, which is checked below.
    mov esp, boot_stack_top
    pushfd
    pop dword [rt_boot_eflags]
    mov eax, cr0
    mov [rt_boot_cr0], eax
    cld
    ; The ELF loader must zero .bss (memsz beyond filesz); record whether it
    ; did, then zero it regardless so the tests below start from a known state.
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    repe scasd
    setne al
    mov [rt_boot_bss_dirty], eax
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd
    mov esp, rt_kernel_stack_top
    push dword [rt_boot_ebx]
    push dword [rt_boot_eax]
    call rt_main
.hang:
    cli
    hlt
    jmp .hang

; ---- interrupt and exception stubs ---------------------------------------
; One stub per vector, so the common code knows the vector. The CPU pushes
; an error code only for vectors 8, 10-14, 17, 21, 29 and 30 (SDM Vol. 3A
; 6.13, Table 6-1); the other stubs push a zero so every frame has one shape
; (struct trap_frame in guest.h).

%macro STUB 1
stub_%1:
%if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17 || %1 == 21 || %1 == 29 || %1 == 30
    push dword %1
%else
    push dword 0
    push dword %1
%endif
    jmp isr_common
%endmacro

%assign v 0
%rep 256
    STUB v
%assign v v + 1
%endrep

section .rodata
global rt_isr_stubs
rt_isr_stubs:
%assign v 0
%rep 256
    dd stub_ %+ v
%assign v v + 1
%endrep

section .text
extern rt_trap_dispatch
isr_common:
    pushad
    push ds
    push es
    push fs
    push gs
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    cld
    push esp
    call rt_trap_dispatch
    add esp, 4
    pop gs
    pop fs
    pop es
    pop ds
    popad
    add esp, 8                  ; vector and error code
    iretd

; ---- setjmp / longjmp ------------------------------------------------------
; struct rt_jmp_buf { eip, esp, ebx, esi, edi, ebp, eflags }.

global rt_setjmp
rt_setjmp:
    mov edx, [esp + 4]
    mov eax, [esp]
    mov [edx + 0], eax
    lea eax, [esp + 4]
    mov [edx + 4], eax
    mov [edx + 8], ebx
    mov [edx + 12], esi
    mov [edx + 16], edi
    mov [edx + 20], ebp
    pushfd
    pop dword [edx + 24]
    xor eax, eax
    ret

; rt_longjmp(buf, value): value must be non-zero. Called from trap context
; (possibly on the TSS ring-0 stack); the kernel data segments are loaded.
global rt_longjmp
rt_longjmp:
    mov edx, [esp + 4]
    mov eax, [esp + 8]
    mov ebx, [edx + 8]
    mov esi, [edx + 12]
    mov edi, [edx + 16]
    mov ebp, [edx + 20]
    mov esp, [edx + 4]
    push dword [edx + 24]
    popfd
    jmp [edx + 0]

; ---- ring 3 ----------------------------------------------------------------
; rt_enter_user(eip, esp, eflags): IRET to CPL 3 with the user code and data
; selectors (SDM Vol. 3A 6.12.1: IRET to an outer level pops SS:ESP too).
; DS and ES get the user data selector; FS and GS keep the kernel's, which
; IRET must null because their DPL is below the new CPL (SDM Vol. 2A IRET,
; RETURN-TO-OUTER-PRIVILEGE-LEVEL).
USER_CS equ 0x1B
USER_DS equ 0x23
global rt_enter_user
rt_enter_user:
    mov eax, [esp + 4]
    mov ecx, [esp + 8]
    mov edx, [esp + 12]
    push dword USER_DS
    push ecx
    push edx
    push dword USER_CS
    push eax
    mov ax, USER_DS
    mov ds, ax
    mov es, ax
    mov ax, KERNEL_DS
    mov fs, ax
    mov gs, ax
    iretd

; Where a user function returns to: INT 0x80 with the return value in EAX
; ends user mode (see user_run in cpu.c).
global rt_user_exit_stub
rt_user_exit_stub:
    int 0x80
    ud2
