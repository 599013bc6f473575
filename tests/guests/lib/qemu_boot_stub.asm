; For run_on_qemu.sh only: a 64 KiB -bios ROM standing in for the BIOS
; that loads a boot sector. QEMU's generic loader has put the image at
; 0x7c00; the reset vector jumps to 0000:7C00 in real mode, as popek's
; `--raw 0x7c00,0x7c00,real` starts it.
bits 16
org 0
    times 0xFFF0 - ($ - $$) db 0xF4
    jmp 0x0000:0x7C00
    times 0x10000 - ($ - $$) db 0xF4
