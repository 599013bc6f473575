; A boot-sector-style real-mode image (popek run --raw 0x7c00,0x7c00,real;
; QEMU: a stub ROM jumps to it): 16-bit code as real-mode software uses it,
; with expected values from the SDM (Vol. 2 instruction pages; Vol. 3A
; 20.1 real-address mode) and the 286+ behaviour where the 8086 differed.
bits 16
org 0x7C00

STACK_TOP   equ 0x7000
VEC_VIDEO   equ 0x10

start:
    cli
    jmp 0x0000:.cs_known        ; whatever CS:IP pair reached 7C00
.cs_known:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STACK_TOP
    cld
    call r_serial_init
    call quirk_checks
    call arith_checks
    call bcd_checks
    call int_checks
    jmp r_finish

%include "lib/real16.inc"

; What an engine must run for this image (read by run_guest_test.sh).
    db "POPEK-NEEDS: real-mode bcd", 0

; PUSH SP pushes the value before the push on the 286 and later (the 8086
; pushed the decremented one): Vol. 2B PUSH, "IA-32 architecture
; compatibility". Also POP SP, XLAT and LOOP.
quirk_checks:
    push sp
    pop ax
    movzx eax, ax
    CHECK "push_sp.old_value", STACK_TOP - 2
    mov bx, sp
    push word 0x1234
    mov bp, sp
    pop sp                      ; SP = the popped value, not incremented
    mov cx, sp
    mov sp, bx
    movzx eax, cx
    CHECK "pop_sp.loaded", 0x1234
    mov bx, xlat_table
    mov al, 3
    xlatb
    movzx eax, al
    CHECK "xlat", 0x5E
    xor ax, ax
    mov cx, 5
.loop:
    add ax, cx
    loop .loop
    movzx eax, ax
    CHECK "loop.sum", 15
    movzx eax, cx
    CHECK "loop.cx", 0
    mov cx, 10
    xor dx, dx
.loopnz:
    inc dx
    cmp dx, 4
    loopnz .loopnz
    movzx eax, cx
    CHECK "loopnz.cx", 6
    ret

xlat_table: db 0x5B, 0x5C, 0x5D, 0x5E, 0x5F

arith_checks:
    mov ax, -300
    mov bx, 200
    imul bx                     ; DX:AX = -60000
    pushf
    shl edx, 16
    mov dx, ax
    mov eax, edx
    CHECK "imul16.dx_ax", 0xFFFF15A0
    pop ax
    and eax, 0x0801
    CHECK "imul16.of_cf", 0x0801
    mov bx, 7
    imul cx, bx, -3
    movzx eax, cx
    CHECK "imul16.three_operand", 0xFFEB
    mov dx, 0x0001
    mov ax, 0x0000
    mov cx, 0x0010
    div cx                      ; 0x10000 / 0x10
    shl edx, 16
    mov dx, ax
    mov eax, edx
    CHECK "div16.dx_ax", 0x00001000
    mov ax, -1000
    cwd
    mov cx, 7
    idiv cx                     ; quotient rounds toward zero
    shl edx, 16
    mov dx, ax
    mov eax, edx
    CHECK "idiv16.rem_quot", 0xFFFAFF72
    ret

bcd_checks:
    mov ax, 0x000B
    aaa                         ; AL > 9: AL = (AL + 6) & 0FH, AH + 1, AF = CF = 1
    pushf
    movzx eax, ax
    CHECK "aaa.ax", 0x0101
    pop ax
    and eax, 0x0011
    CHECK "aaa.af_cf", 0x0011
    mov al, 0x79
    add al, 0x35
    daa
    pushf
    movzx eax, al
    CHECK "daa.al", 0x14
    pop ax
    and eax, 0x0001
    CHECK "daa.cf", 1
    mov al, 0x10
    sub al, 0x01
    das
    movzx eax, al
    CHECK "das.al", 0x09
    ret

; BIOS-style services through a vector the image installs itself.
int_checks:
    mov word [VEC_VIDEO * 4], video_handler
    mov word [VEC_VIDEO * 4 + 2], cs
    mov ax, 0x0E21              ; teletype '!'
    mov bx, 0x0007
    clc
    int VEC_VIDEO
    pushf
    mov dx, ax
    mov al, 10
    call r_putc
    movzx eax, dx
    CHECK "int10.teletype_ret", 0x0E21
    pop ax
    and eax, 1
    CHECK "int10.cf_clear", 0
    mov ah, 0x7F                ; unknown function: CF set in the FLAGS image
    int VEC_VIDEO
    pushf
    movzx eax, ah
    CHECK "int10.unknown_ah", 0x86
    pop ax
    and eax, 1
    CHECK "int10.unknown_cf", 1
    movzx eax, bx
    CHECK "int10.bx_kept", 0x0007
    ret

video_handler:
    cmp ah, 0x0E
    jne .unknown
    call r_putc
    iret
.unknown:
    mov ah, 0x86
    push bp
    mov bp, sp
    or word [bp + 6], 1         ; CF in the FLAGS image IRET pops
    pop bp
    iret
