; A BIOS-style ROM (popek run --bios bios_reset.rom; QEMU -bios): 64 KiB
; mapped to end at 4 GiB with its last 64 KiB aliased at 0xF0000. Checks
; the RESET state (SDM Vol. 3A 9.1.1, Table 9-1), the A20 gate of port
; 0x92, real-mode interrupts and exceptions through the IVT (Vol. 3A 20.1.4),
; 16-bit addressing, unreal mode (Vol. 3A 9.9.2: real mode keeps the cached
; segment limits) and a round trip through 32-bit protected mode.
bits 16
org 0

SAVE        equ 0x0600          ; reset-state values, saved at 0000:0600
SAVE_EDX    equ SAVE + 0
SAVE_EFL    equ SAVE + 4
SAVE_CR0    equ SAVE + 8
SAVE_IP     equ SAVE + 12
SAVE_CS     equ SAVE + 14
SAVE_SMSW   equ SAVE + 16
SAVE_ESP    equ SAVE + 20
STACK_TOP   equ 0x7000
VEC_SOFT    equ 0x60
PROBE       equ 0x00000700      ; A20 probe, and its alias at 1 MiB
HIGH        equ 0x00200000      ; RAM above 1 MiB reached in unreal mode
ROM_LINEAR  equ 0x000F0000

; ---- Real-mode start, reached from the reset vector with CS base FFFF0000 --
reset_cont:
    ; The CALL at the reset vector pushed the IP after it (0xFFF6) on the
    ; reset SS:SP (0000:0000, wrapping to FFFE).
    pop ax
    mov [SAVE_IP], ax           ; DS base is 0 at reset
    pushfd                      ; CALL and POP change no flags
    pop dword [SAVE_EFL]
    mov eax, cr0
    mov [SAVE_CR0], eax
    smsw [SAVE_SMSW]
    mov [SAVE_EDX], ebp
    mov [SAVE_ESP], esp
    mov word [SAVE_CS], cs
    ; Out of the high alias: CS base becomes F000 << 4.
    jmp 0xF000:main

%include "lib/real16.inc"

main:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, STACK_TOP
    mov ds, ax
    mov es, ax
    cld
    ; Mask both 8259As before any STI (OCW1 works before ICW1 too).
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    call r_serial_init
    call uart_checks
    call reset_checks
    call a20_checks
    call ivt_checks
    call string_checks
    call addressing_checks
    call unreal_checks
    call pm_roundtrip_checks
    jmp r_finish

uart_checks:
    mov dx, COM1 + 5
    in al, dx
    movzx eax, al
    CHECK "uart.lsr_idle", 0x60         ; THRE and TEMT, nothing received
    mov dx, COM1 + 2
    in al, dx
    movzx eax, al
    CHECK "uart.iir_fifo", 0xC1         ; FIFOs enabled, no interrupt pending
    mov dx, COM1 + 7
    mov al, 0xA5
    out dx, al
    in al, dx
    movzx eax, al
    CHECK "uart.scratch", 0xA5
    ret

; Table 9-1: EFLAGS 2, CR0 60000010H, CS F000 (base FFFF0000), IP FFF0,
; EDX the processor signature, ESP 0.
reset_checks:
    mov eax, [SAVE_EFL]
    CHECK "reset.eflags", 0x00000002
    mov eax, [SAVE_CR0]
    CHECK "reset.cr0", 0x60000010
    movzx eax, word [SAVE_SMSW]
    CHECK "reset.smsw", 0x0010
    movzx eax, word [SAVE_IP]
    CHECK "reset.ip_after_call", 0xFFF6
    movzx eax, word [SAVE_CS]
    CHECK "reset.cs", 0xF000
    mov eax, [SAVE_ESP]
    CHECK "reset.esp_after_pop", 0x00000000
    ; EDX: type, family, model, stepping as CPUID.01H:EAX reports them
    ; (Vol. 3A 9.1.4): compare extended family/model, family, model.
    mov eax, 1
    cpuid
    and eax, 0x0FFF0FF0
    mov ebx, [SAVE_EDX]
    and ebx, 0x0FFF0FF0
    xor eax, ebx
    CHECK "reset.edx_signature_xor_cpuid", 0
    mov eax, [SAVE_EDX]
    shr eax, 8
    and eax, 0x0F
    cmp al, 0x0F                ; family 6 (P6 and later) or 15 (extended)
    je .family_known
    cmp al, 6
.family_known:
    sete al
    movzx eax, al
    CHECK "reset.edx_family_6_or_15", 1
    ; CS base FFFF0000: the bytes at the reset vector, read through the
    ; F000 alias, are the ones at linear FFFFFFF0 (read in unreal mode below).
    ret

; A20 is enabled while the 8042's output port bit 1 or port 0x92 bit 1
; (the "fast A20" of system control port A) is high (Intel ICH datasheets,
; A20M#: asserted when both ALT_A20_GATE and A20GATE are 0). With both
; low, linear 0x100000+x reads and writes x.
a20_checks:
    push ds
    push es
    mov ax, 0xFFFF
    mov es, ax                  ; ES:PROBE+0x10 is linear 0x100000 + PROBE
    mov bl, 0xDD                ; output port: A20 low, reset (bit 0) inactive
    call kbc_write_output
    mov al, 0xD0                ; read the output port back
    call kbc_command
    call kbc_wait_output
    in al, 0x60
    and eax, 0x03
    CHECK "a20.kbc_output_port", 0x01
    in al, 0x92
    and al, ~0x03               ; bit 0 would reset the CPU
    out 0x92, al
    in al, 0x92
    and eax, 2
    CHECK "a20.off.port92_bit1", 0
    mov byte [PROBE], 0x11
    mov byte [es:PROBE + 0x10], 0x22
    movzx eax, byte [PROBE]
    CHECK "a20.off.low_sees_high_write", 0x22
    in al, 0x92
    or al, 0x02
    and al, ~0x01
    out 0x92, al
    in al, 0x92
    and eax, 2
    CHECK "a20.on.port92_bit1", 2
    mov byte [PROBE], 0x11
    mov byte [es:PROBE + 0x10], 0x22
    movzx eax, byte [PROBE]
    CHECK "a20.on.low_kept", 0x11
    movzx eax, byte [es:PROBE + 0x10]
    CHECK "a20.on.high", 0x22
    mov bl, 0xDF
    call kbc_write_output
    pop es
    pop ds
    ret

kbc_wait_input:                 ; until the 8042 input buffer is empty
    in al, 0x64
    test al, 0x02
    jnz kbc_wait_input
    ret

kbc_wait_output:                ; until the 8042 output buffer is full
    in al, 0x64
    test al, 0x01
    jz kbc_wait_output
    ret

kbc_command:                    ; AL
    push ax
    call kbc_wait_input
    pop ax
    out 0x64, al
    ret

kbc_write_output:               ; BL: command D1, then the output port byte
    mov al, 0xD1
    call kbc_command
    call kbc_wait_input
    mov al, bl
    out 0x60, al
    jmp kbc_wait_input

; INT n and a fault through the IVT (Vol. 3A 20.1.4): FLAGS, CS, IP
; pushed; IF, TF, AC cleared; IRET pops them.
ivt_checks:
    mov word [VEC_SOFT * 4], soft_handler
    mov word [VEC_SOFT * 4 + 2], cs
    mov word [0 * 4], de_handler
    mov word [0 * 4 + 2], cs
    mov dword [SAVE + 32], 0
    mov ax, 0x1234
    stc
    sti
    int VEC_SOFT
.after_int:
    cli
    pushf
    pop bx
    movzx eax, ax
    CHECK "ivt.int.result", 0x1235
    mov ax, [SAVE + 32]         ; the handler's own FLAGS & IF
    movzx eax, ax
    CHECK "ivt.int.if_in_handler", 0
    movzx eax, word [SAVE + 34] ; pushed IP
    CHECK "ivt.int.pushed_ip", .after_int
    movzx eax, word [SAVE + 36] ; pushed CS
    CHECK "ivt.int.pushed_cs", 0xF000
    movzx eax, word [SAVE + 38] ; pushed FLAGS: IF and CF as before INT
    and eax, 0x0201
    CHECK "ivt.int.pushed_flags_if_cf", 0x0201
    movzx eax, bx
    and eax, 0x0001
    CHECK "ivt.iret.cf_restored", 1
    ; #DE is a fault: the pushed IP is that of the DIV (Vol. 3A 6.5).
    mov ax, 7
    xor dx, dx
    xor cx, cx
.div_insn:
    div cx                      ; F7 F1: the handler skips 2 bytes
    mov bx, ax
    movzx eax, word [SAVE + 40]
    CHECK "ivt.de.pushed_ip", .div_insn
    movzx eax, bx
    CHECK "ivt.de.ax_kept", 7
    ret

soft_handler:
    push bp
    mov bp, sp
    push ax
    pushf
    pop ax
    and ax, 0x0200
    mov [SAVE + 32], ax
    mov ax, [bp + 2]
    mov [SAVE + 34], ax
    mov ax, [bp + 4]
    mov [SAVE + 36], ax
    mov ax, [bp + 6]
    mov [SAVE + 38], ax
    pop ax
    inc ax
    pop bp
    iret

de_handler:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 2]
    mov [SAVE + 40], ax
    add word [bp + 2], 2
    pop ax
    pop bp
    iret

; 16-bit string instructions (Vol. 1 7.3.9): REP MOVSW forwards and
; backwards, REPE CMPSB stopping at a difference, REPNE SCASB.
string_checks:
    mov si, str_src
    mov di, 0x0800
    push cs
    pop ds
    mov cx, 4
    rep movsw
    xor ax, ax
    mov ds, ax
    movzx eax, di
    CHECK "str.movsw.di", 0x0808
    movzx eax, cx
    CHECK "str.movsw.cx", 0
    mov eax, [0x0804]
    CHECK "str.movsw.data", 0x88776655
    std
    mov si, 0x0806
    mov di, 0x0816
    mov cx, 4
    rep movsw
    cld
    movzx eax, si
    CHECK "str.movsw_down.si", 0x07FE
    mov eax, [0x0810]
    CHECK "str.movsw_down.data", 0x44332211
    mov byte [0x0803], 0x99
    mov si, 0x0800
    mov di, 0x0810
    mov cx, 8
    repe cmpsb
    pushf
    movzx eax, cx
    CHECK "str.cmpsb.cx", 4
    movzx eax, si
    CHECK "str.cmpsb.si", 0x0804
    pop ax
    and eax, 0x40
    CHECK "str.cmpsb.zf", 0
    mov di, 0x0800
    mov al, 0x66
    mov cx, 8
    repne scasb
    movzx eax, di
    CHECK "str.scasb.di", 0x0806
    movzx eax, cx
    CHECK "str.scasb.cx", 2
    ret

str_src: db 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88

; 16-bit effective addresses wrap at 64 KiB; segment:offset pairs alias.
addressing_checks:
    push ds
    mov ax, 0x1000
    mov ds, ax
    mov byte [0x0010], 0x5A     ; linear 0x10010
    mov bx, 0xFFF0
    mov si, 0x0020
    movzx eax, byte [bx + si]   ; offset 0x10010 wraps to 0x0010
    CHECK "addr16.wrap", 0x5A
    mov ax, 0x1001
    mov ds, ax
    movzx eax, byte [0x0000]    ; 1001:0000 = 1000:0010
    CHECK "addr16.alias", 0x5A
    mov si, 0xFFFF
    mov ax, 0x1000
    mov ds, ax
    lodsb
    movzx eax, si
    CHECK "addr16.si_wraps", 0
    pop ds
    ret

; Unreal mode: a 4 GiB limit loaded into FS's descriptor cache in protected
; mode stays after the return to real mode (Vol. 3A 9.9.2).
unreal_checks:
    cli
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp .pm                     ; serialise after setting PE
.pm:
    mov bx, SEL_DATA32
    mov fs, bx
    and al, ~1
    mov cr0, eax
    jmp .rm
.rm:
    xor ax, ax
    mov fs, ax                  ; real-mode load: base 0, limit kept
    mov ebx, HIGH
    mov dword [fs:ebx], 0xCAFEF00D
    mov dword [fs:ebx + 4], 0x12345678
    mov eax, [fs:ebx]
    CHECK "unreal.high_rw", 0xCAFEF00D
    mov eax, [fs:ebx + 4]
    CHECK "unreal.high_rw2", 0x12345678
    ; The reset vector's bytes at linear FFFFFFF0 are those at F000:FFF0.
    mov ebx, 0xFFFFFFF0
    mov eax, [fs:ebx]
    xor eax, [cs:0xFFF0]
    CHECK "unreal.rom_top_equals_alias", 0
    mov eax, [fs:ebx + 12]
    xor eax, [cs:0xFFFC]
    CHECK "unreal.rom_top_equals_alias2", 0
    ret

; Real -> 32-bit protected mode -> 16-bit protected mode -> real mode
; (Vol. 3A 9.9.1 and 9.9.2).
pm_roundtrip_checks:
    cli
    mov [SAVE + 44], sp
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword SEL_CODE32:(ROM_LINEAR + pm32)
bits 32
pm32:
    mov ax, SEL_DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, HIGH + 0x1000
    push dword 0x600DF00D
    mov eax, [HIGH + 0x0FFC]
    mov [HIGH + 0x10], eax
    mov eax, 0x80000000
    add eax, eax                ; CF and ZF through 32-bit arithmetic
    setc [HIGH + 0x14]
    mov ecx, cr0
    mov [HIGH + 0x18], ecx
    mov ax, cs
    mov [HIGH + 0x1C], ax
    jmp SEL_CODE16:pm16
bits 16
pm16:
    mov ax, SEL_DATA16
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and al, ~1
    mov cr0, eax
    jmp 0xF000:.real
.real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, [SAVE + 44]
    ; FS keeps the 4 GiB limit of unreal mode: the protected-mode code
    ; did not reload it.
    mov ebx, HIGH
    mov eax, [fs:ebx + 0x10]
    CHECK "pm32.stack_push", 0x600DF00D
    movzx eax, byte [fs:ebx + 0x14]
    CHECK "pm32.carry", 1
    mov eax, [fs:ebx + 0x18]
    and eax, 0x8000001F
    CHECK "pm32.cr0_pe", 0x00000011
    movzx eax, word [fs:ebx + 0x1C]
    CHECK "pm32.cs", SEL_CODE32
    mov eax, cr0
    and eax, 1
    CHECK "real.cr0_pe_clear", 0
    mov ax, cs
    movzx eax, ax
    CHECK "real.cs", 0xF000
    ret

SEL_CODE32  equ 0x08
SEL_DATA32  equ 0x10
SEL_CODE16  equ 0x18
SEL_DATA16  equ 0x20
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF       ; flat 32-bit code
    dq 0x00CF93000000FFFF       ; flat data, 4 GiB
    dq 0x00009B0F0000FFFF       ; 16-bit code, base F0000, limit FFFF
    dq 0x000093000000FFFF       ; 16-bit data, base 0, limit FFFF
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd ROM_LINEAR + gdt

; ---- the reset vector: F000:FFF0 = linear FFFFFFF0 ---------------------
    times 0xFFF0 - ($ - $$) db 0xF4
reset_vector:
    mov ebp, edx                ; EDX holds the signature at reset
    call reset_cont
    times 0x10000 - ($ - $$) db 0xF4
