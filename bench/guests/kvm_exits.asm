; KVM exit nanobenchmark: a Multiboot 1 kernel that times three loops with
; the TSC, calibrated against the 8254 PIT, and prints one line per loop on
; the debug console (port 0xE9):
;   out    OUT to port 0x80: an exit to user space and back per iteration
;   cpuid  CPUID: an exit handled inside KVM (no user space)
;   hlt    STI; HLT woken by PIT IRQ 0: a HLT exit, the wake-up, an injected
;          interrupt and the EOI's OUT per iteration
; then leaves through the debug-exit port (0xF4 <- 0: status 1).
;
; It uses no IRET: the IRQ 0 handler drops its frame and jumps back into
; the loop, because kvm_pvm's emulator cannot execute IRET in protected
; mode. The instructions used are those kvm_pvm emulates.
;
; Sources: Multiboot 1 spec 3.1-3.2; SDM Vol. 3A 3.4.5 (descriptors), 6.11
; (IDT gates); 8259A datasheet (ICW1-4, OCW1-2); 82C54 datasheet (control
; word, counter latch).

bits 32

N_OUT       equ 100000
N_CPUID     equ 100000
N_HLT       equ 20000
PIT_HZ      equ 1193182
CAL_TICKS   equ PIT_HZ / 100        ; calibrate over 10 ms
HLT_DIVISOR equ 24                  ; ~50 kHz, about one HLT round trip
IRQ0_VECTOR equ 0x20

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0

; The header opens .text, which the link puts first in the file (it must
; lie in the first 8 KiB).
section .text
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

global _start
_start:
    mov esp, stack_top
    ; The loader's GDTR may be invalid (Multiboot 3.2): load our own.
    lgdt [gdtr]
    jmp 0x08:.flat
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    call pic_init
    call idt_init
    call calibrate

    mov esi, name_out
    rdtsc
    mov [t0], eax
    mov [t0 + 4], edx
    mov ecx, N_OUT
.out_loop:
    out 0x80, al
    dec ecx
    jnz .out_loop
    mov ecx, N_OUT
    call report

    mov esi, name_cpuid
    rdtsc
    mov [t0], eax
    mov [t0 + 4], edx
    mov edi, N_CPUID
.cpuid_loop:
    xor eax, eax
    cpuid
    dec edi
    jnz .cpuid_loop
    mov ecx, N_CPUID
    call report

    ; PIT channel 0, mode 2 (rate generator), binary, at HLT_DIVISOR.
    mov al, 0x34
    out 0x43, al
    mov al, HLT_DIVISOR
    out 0x40, al
    xor al, al
    out 0x40, al
    mov al, 0xFE                    ; OCW1: unmask IRQ 0 only
    out 0x21, al
    rdtsc
    mov [t0], eax
    mov [t0 + 4], edx
    mov ecx, N_HLT
hlt_loop:
    sti
    hlt
    jmp hlt_loop                    ; only an interrupt leaves HLT: see irq0

; IRQ 0 through an interrupt gate (IF now 0). Drops EIP/CS/EFLAGS instead
; of IRET and counts the wake-up; STI at hlt_loop reopens the window.
irq0:
    mov al, 0x20                    ; OCW2: non-specific EOI
    out 0x20, al
    add esp, 12
    dec ecx
    jnz hlt_loop
    mov al, 0xFF
    out 0x21, al                    ; mask IRQ 0 again
    mov esi, name_hlt
    mov ecx, N_HLT
    call report

    xor al, al
    out 0xF4, al                    ; debug exit, status (0 << 1) | 1
.stop:
    cli
    hlt
    jmp .stop

; 8259A pair: ICW1 edge/cascade/ICW4, vectors 0x20/0x28, slave on IR2,
; 8086 mode; everything masked.
pic_init:
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, IRQ0_VECTOR
    out 0x21, al
    mov al, IRQ0_VECTOR + 8
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    ret

; One 32-bit interrupt gate (type 0xE, P=1, DPL 0) for IRQ 0.
idt_init:
    mov eax, irq0
    mov edi, idt + IRQ0_VECTOR * 8
    mov [edi], ax
    mov word [edi + 2], 0x08
    mov word [edi + 4], 0x8E00
    shr eax, 16
    mov [edi + 6], ax
    lidt [idtr]
    ret

; Latches and reads PIT channel 0's count into AX.
pit_read:
    xor al, al
    out 0x43, al                    ; counter latch, channel 0
    in al, 0x40
    mov ah, al
    in al, 0x40
    xchg al, ah
    ret

; TSC cycles in 10 ms -> [tsc_10ms]: counts PIT input clocks while the
; counter runs in mode 2 with the full 65536 reload, as Linux's
; pit_calibrate_tsc does with channel 2.
calibrate:
    mov al, 0x34
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al
    call pit_read
    movzx ebx, ax                   ; previous count
    xor ebp, ebp                    ; elapsed PIT clocks
    rdtsc
    mov [t0], eax
    mov [t0 + 4], edx
.wait:
    call pit_read
    movzx eax, ax
    mov edx, ebx
    sub edx, eax                    ; the count goes down, wrapping at 16 bits
    and edx, 0xFFFF
    add ebp, edx
    mov ebx, eax
    cmp ebp, CAL_TICKS
    jb .wait
    rdtsc
    sub eax, [t0]
    sbb edx, [t0 + 4]               ; cycles for ebp PIT clocks (< 2^32)
    mov ecx, CAL_TICKS
    mul ecx                         ; edx:eax = cycles * CAL_TICKS
    div ebp
    mov [tsc_10ms], eax
    ret

; Prints "<name>: <ecx> iterations, <c> cycles, <n.n> ns per iteration"
; for the TSC interval from [t0] to now.
report:
    rdtsc
    sub eax, [t0]
    sbb edx, [t0 + 4]
    div ecx                         ; eax = cycles per iteration
    mov [cycles], eax
    push ecx
    call puts
    mov esi, str_colon
    call puts
    pop eax
    call putu
    mov esi, str_iter
    call puts
    mov eax, [cycles]
    call putu
    mov esi, str_cycles
    call puts
    mov eax, [cycles]
    mov ecx, 100000000              ; tenths of ns: cycles * 1e8 / tsc_10ms
    mul ecx
    div dword [tsc_10ms]
    xor edx, edx
    mov ecx, 10
    div ecx
    push edx
    call putu
    mov al, '.'
    out 0xE9, al
    pop eax
    call putu
    mov esi, str_ns
    call puts
    ret

; Writes the NUL-terminated string at ESI to the debug console.
puts:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp puts
.done:
    ret

; Writes EAX in decimal.
putu:
    mov ecx, 10
    xor ebx, ebx
.digits:
    xor edx, edx
    div ecx
    push edx
    inc ebx
    test eax, eax
    jnz .digits
.print:
    pop eax
    add al, '0'
    out 0xE9, al
    dec ebx
    jnz .print
    ret

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: code, base 0, limit 4 GiB, D=1
    dq 0x00CF92000000FFFF           ; 0x10: data, base 0, limit 4 GiB, B=1
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd gdt
idtr:
    dw 256 * 8 - 1
    dd idt
name_out:   db "out", 0
name_cpuid: db "cpuid", 0
name_hlt:   db "hlt", 0
str_colon:  db ": ", 0
str_iter:   db " iterations, ", 0
str_cycles: db " cycles, ", 0
str_ns:     db " ns per iteration", 10, 0

section .bss
align 8
t0:       resq 1
tsc_10ms: resd 1
cycles:   resd 1
idt:      resb 256 * 8
          resb 4096
stack_top:
