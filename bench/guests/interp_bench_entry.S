/* Multiboot 1 entry for the CPU-bound benchmark guests: a stack, then
 * bench_main(), then the debug-exit port with its return value. Nothing
 * here needs a system instruction but the final OUT, so the workload
 * measures the integer core of an engine. */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003 /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
_start:
    movl $stack_top, %esp
    call bench_main
    outb %al, $0xF4
1:  jmp 1b

    .bss
    .align 16
    .space 65536
stack_top:
