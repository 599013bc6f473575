/* The guest runtime of the differential test: a raw 32-bit image loaded at
 * DIFF_GUEST_LOAD and started in flat protected mode with paging off.
 *
 * For each case in the table the harness wrote (struct diff_guest_hdr,
 * struct diff_case), it copies the case's data into the data area, loads
 * EFLAGS and the eight registers, and jumps to the case's code slot. The
 * code ends with `jmp [DIFF_END_VEC]` into `capture`; an exception inside
 * the sequence enters a stub through the IDT. Either way the state is
 * stored as a struct diff_result and the loop goes on with the next case
 * by reloading ESP and jumping: no IRET, which the host KVM's emulator
 * (kvm_pvm) does not implement in protected mode. At the end the runtime
 * writes 0 to the debug-exit port 0xF4.
 *
 * The case runs at CPL 0 with IF=0, so no interrupt frame lands on its
 * stack. An exception frame does (SDM Vol. 3A, 6.12.1: no stack switch
 * without a privilege change): the 12 or 16 bytes below the faulting ESP
 * are the one place where guest memory may differ from the native run,
 * and the harness leaves them out of the comparison. */
#include "diff_case.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10

    .code32
    .text
    .globl _start
_start:
    cli
    cld
    lgdt gdt_desc
    ljmp $SEL_CODE, $1f
1:  mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov $DIFF_GUEST_STACK, %esp
    /* CR0.NE: an unmasked x87 exception is #MF, as for the Linux oracle
     * (SDM Vol. 1 8.7); CR0.EM and CR0.TS are clear. */
    mov %cr0, %eax
    or $0x20, %eax
    mov %eax, %cr0

    /* 32 interrupt gates, P=1 DPL=0 type 0xE (SDM Vol. 3A, 6.11). */
    mov $idt, %edi
    mov $stubs, %esi
    mov $32, %ecx
2:  lodsl
    mov %ax, (%edi)
    movw $SEL_CODE, 2(%edi)
    movw $0x8E00, 4(%edi)
    shr $16, %eax
    mov %ax, 6(%edi)
    add $8, %edi
    loop 2b
    lidt idt_desc
    movl $capture, DIFF_END_VEC

next_case:
    mov $DIFF_GUEST_STACK, %esp
    cld
    mov DIFF_GUEST_HDR + DIFF_HDR_NEXT, %eax
    cmp DIFF_GUEST_HDR + DIFF_HDR_COUNT, %eax
    jae all_done
    imul $DIFF_CASE_SIZE, %eax, %ebx
    add $DIFF_GUEST_CASES, %ebx
    mov %ebx, cur_case

    lea DIFF_CASE_DATA(%ebx), %esi
    mov $DIFF_DATA_BASE, %edi
    mov $DIFF_DATA_SIZE / 4, %ecx
    rep movsl

    mov DIFF_CASE_SLOT(%ebx), %eax
    imul $DIFF_SLOT_SIZE, %eax, %eax
    add $DIFF_CODE_BASE, %eax
    mov %eax, entry

    lea DIFF_CASE_GPR(%ebx), %esi
    mov $case_in, %edi
    mov $DIFF_NGPR, %ecx
    rep movsl

    fninit /* the x87 as the oracle starts it */
    mov DIFF_CASE_EFLAGS(%ebx), %eax
    and $DIFF_FL_COMPARED, %eax
    or $DIFF_FL_FIXED, %eax
    push %eax
    popfl
    mov case_in + 0, %eax
    mov case_in + 4, %ecx
    mov case_in + 8, %edx
    mov case_in + 12, %ebx
    mov case_in + 20, %ebp
    mov case_in + 24, %esi
    mov case_in + 28, %edi
    mov case_in + 16, %esp
    jmp *entry

capture:
    mov %eax, res_out + 0
    mov %ecx, res_out + 4
    mov %edx, res_out + 8
    mov %ebx, res_out + 12
    mov %esp, res_out + 16
    mov %ebp, res_out + 20
    mov %esi, res_out + 24
    mov %edi, res_out + 28
    mov $DIFF_GUEST_STACK, %esp
    pushfl
    popl res_out + DIFF_RES_EFLAGS
    mov cur_case, %ebx
    mov entry, %eax
    add DIFF_CASE_CODE_LEN(%ebx), %eax
    sub $DIFF_END_LEN, %eax
    mov %eax, res_out + DIFF_RES_EIP
    movl $DIFF_VEC_END, res_out + DIFF_RES_VECTOR
    movl $0, res_out + DIFF_RES_ERROR
    jmp store

/* Registers first, before anything can change them. */
.macro save_gprs
    mov %eax, res_out + 0
    mov %ecx, res_out + 4
    mov %edx, res_out + 8
    mov %ebx, res_out + 12
    mov %ebp, res_out + 20
    mov %esi, res_out + 24
    mov %edi, res_out + 28
.endm

/* Frame without an error code: EIP, CS, EFLAGS. */
fault_noerr:
    save_gprs
    movl $0, res_out + DIFF_RES_ERROR
    mov 0(%esp), %eax
    mov %eax, res_out + DIFF_RES_EIP
    mov 8(%esp), %eax
    mov %eax, res_out + DIFF_RES_EFLAGS
    lea 12(%esp), %eax
    mov %eax, res_out + 16
    jmp store

/* Frame with an error code: ERR, EIP, CS, EFLAGS. */
fault_err:
    save_gprs
    mov 0(%esp), %eax
    mov %eax, res_out + DIFF_RES_ERROR
    mov 4(%esp), %eax
    mov %eax, res_out + DIFF_RES_EIP
    mov 12(%esp), %eax
    mov %eax, res_out + DIFF_RES_EFLAGS
    lea 16(%esp), %eax
    mov %eax, res_out + 16
    jmp store

store:
    mov $DIFF_GUEST_STACK, %esp
    cld
    mov DIFF_GUEST_HDR + DIFF_HDR_NEXT, %eax
    imul $DIFF_RES_SIZE, %eax, %edi
    add $DIFF_GUEST_RESULTS, %edi
    mov $res_out, %esi
    mov $DIFF_RES_DATA / 4, %ecx
    rep movsl
    mov $DIFF_DATA_BASE, %esi
    mov $DIFF_DATA_SIZE / 4, %ecx
    rep movsl
    incl DIFF_GUEST_HDR + DIFF_HDR_NEXT
    jmp next_case

all_done:
    xor %eax, %eax
    out %al, $0xF4
3:  hlt
    jmp 3b

/* One stub per vector: it records the vector with a store to memory (no
 * push, so the case's stack gets only the CPU's own frame). The vectors
 * that push an error code are those of SDM Vol. 3A, 6.13. */
.macro stub vec
stub_\vec:
    movl $\vec, res_out + DIFF_RES_VECTOR
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
        (\vec == 21) || (\vec == 29) || (\vec == 30)
    jmp fault_err
    .else
    jmp fault_noerr
    .endif
.endm

.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    stub \v
.endr

    .balign 4
stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long stub_\v
.endr

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08: code, base 0, limit 4 GiB, 32-bit */
    .quad 0x00CF92000000FFFF /* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
    .balign 8
idt:
    .fill 32 * 8, 1, 0
idt_desc:
    .word 32 * 8 - 1
    .long idt

    .balign 4
cur_case: .long 0
entry: .long 0
case_in: .fill DIFF_NGPR, 4, 0
/* The first DIFF_RES_DATA bytes of a struct diff_result. */
res_out: .fill DIFF_RES_DATA / 4, 4, 0
