/* tests/diff/: the layout every side of the differential test shares.
 *
 * The same file is compiled three ways: into the host harness (x86-64),
 * into the native oracle (-m32 -static, a Linux user process) and into the
 * guest runtime (-m32 -ffreestanding, run by an engine). A case's code and
 * data sit at the SAME linear addresses on the native and the guest side,
 * so register values that hold addresses (pointers, LEA results, ESP after
 * PUSH) and fault EIPs compare directly. Only fixed-width fields, no
 * pointers: the structs cross a pipe and guest RAM as raw bytes. */
#ifndef POPEK_DIFF_CASE_H
#define POPEK_DIFF_CASE_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* The data area: 1 KiB that straddles the page boundary at 0x9000, so a
 * misaligned operand near the middle crosses pages. It lies below 64 KiB
 * so that 16-bit addressing (string instructions with a 0x67 prefix,
 * [bx+si] forms) reaches it; Linux allows user mappings from
 * vm.mmap_min_addr (4096 here, 65536 on some distributions: the oracle
 * says so when the mapping fails). The stack of a case lives in it too. */
#define DIFF_DATA_BASE 0x00008E00
#define DIFF_DATA_SIZE 0x400
#define DIFF_DATA_END (DIFF_DATA_BASE + DIFF_DATA_SIZE)
#define DIFF_DATA_PAGES_BASE 0x00008000 /* the two pages around it */
#define DIFF_DATA_PAGES_SIZE 0x2000

/* A case ends with `jmp dword [DIFF_END_VEC]` (FF 25 imm32): each side
 * stores the address of its own capture routine there. An indirect jump
 * neither touches the case's stack nor needs a trap. */
#define DIFF_END_VEC 0x00007000
#define DIFF_END_LEN 6

/* Code slots: case `slot` runs at DIFF_CODE_BASE + slot * DIFF_SLOT_SIZE. */
#define DIFF_CODE_BASE 0x00100000
#define DIFF_SLOT_SIZE 256
#define DIFF_MAX_BATCH 4096
#define DIFF_CODE_MAX DIFF_SLOT_SIZE

/* Guest-only layout (paging off: linear = physical). The harness writes
 * the header, the cases and the code slots into guest RAM, the runtime
 * writes the results. */
#define DIFF_GUEST_LOAD 0x00010000   /* the runtime image and its entry */
#define DIFF_GUEST_STACK 0x00010000  /* runtime stack grows down from here */
#define DIFF_GUEST_HDR 0x003FF000
#define DIFF_GUEST_CASES 0x00400000
#define DIFF_GUEST_RESULTS 0x00C00000
#define DIFF_GUEST_RAM (32 << 20)
#define DIFF_GUEST_MAGIC 0x46464944 /* "DIFF" */

/* EFLAGS bits the cases set and the comparison looks at: the six
 * arithmetic flags and DF (SDM Vol. 1, 3.4.3). IF, IOPL, TF, AC and the
 * rest differ between a Linux user process (IF=1, IOPL=0) and the guest
 * runtime at CPL 0 (IF=0, so no interrupt frame lands on the case's
 * stack) and are not part of what an unprivileged instruction computes. */
#define DIFF_FL_CF 0x0001
#define DIFF_FL_PF 0x0004
#define DIFF_FL_AF 0x0010
#define DIFF_FL_ZF 0x0040
#define DIFF_FL_SF 0x0080
#define DIFF_FL_DF 0x0400
#define DIFF_FL_OF 0x0800
#define DIFF_FL_ARITH (DIFF_FL_CF | DIFF_FL_PF | DIFF_FL_AF | DIFF_FL_ZF | DIFF_FL_SF | DIFF_FL_OF)
#define DIFF_FL_COMPARED (DIFF_FL_ARITH | DIFF_FL_DF)
#define DIFF_FL_FIXED 0x0002 /* EFLAGS bit 1 reads as 1 */

/* General registers in ModRM/PUSHAD order. */
#define DIFF_EAX 0
#define DIFF_ECX 1
#define DIFF_EDX 2
#define DIFF_EBX 3
#define DIFF_ESP 4
#define DIFF_EBP 5
#define DIFF_ESI 6
#define DIFF_EDI 7
#define DIFF_NGPR 8

/* result.vector when the sequence reached its end marker. */
#define DIFF_VEC_END 0xFFFFFFFF
/* result.flags: the oracle saw a write outside the data area (a generator
 * bug: the tracker promised every access stays inside). */
#define DIFF_RES_OUTSIDE_WRITE 0x1

/* Offsets the assembly runtime uses; checked against the structs. */
#define DIFF_CASE_GPR 0
#define DIFF_CASE_EFLAGS 32
#define DIFF_CASE_SLOT 36
#define DIFF_CASE_CODE_LEN 40
#define DIFF_CASE_DATA 304
#define DIFF_CASE_SIZE 1328
#define DIFF_RES_EFLAGS 32
#define DIFF_RES_EIP 36
#define DIFF_RES_VECTOR 40
#define DIFF_RES_ERROR 44
#define DIFF_RES_DATA 64
#define DIFF_RES_SIZE 1088
#define DIFF_HDR_COUNT 4
#define DIFF_HDR_NEXT 8

#ifndef __ASSEMBLER__
struct diff_case {
    uint32_t gpr[DIFF_NGPR];
    uint32_t eflags;
    uint32_t slot;
    uint32_t code_len; /* including the end marker */
    uint32_t reserved;
    uint8_t code[DIFF_CODE_MAX];
    uint8_t data[DIFF_DATA_SIZE];
};

struct diff_result {
    uint32_t gpr[DIFF_NGPR];
    uint32_t eflags;
    uint32_t eip;        /* faulting/trap EIP, or the end marker's address */
    uint32_t vector;     /* exception vector, or DIFF_VEC_END */
    uint32_t error_code; /* for vectors that push one, else 0 */
    uint32_t flags;      /* DIFF_RES_* */
    uint32_t reserved[3];
    uint8_t data[DIFF_DATA_SIZE];
};

/* The guest's batch header at DIFF_GUEST_HDR: the runtime runs cases
 * [next, count) and bumps `next` after storing each result, so a harness
 * that sees the engine stop knows which case it stopped on. */
struct diff_guest_hdr {
    uint32_t magic;
    uint32_t count;
    uint32_t next;
    uint32_t reserved;
};

_Static_assert(sizeof(struct diff_case) == DIFF_CASE_SIZE, "diff_case layout");
_Static_assert(__builtin_offsetof(struct diff_case, eflags) == DIFF_CASE_EFLAGS, "case eflags");
_Static_assert(__builtin_offsetof(struct diff_case, slot) == DIFF_CASE_SLOT, "case slot");
_Static_assert(__builtin_offsetof(struct diff_case, code_len) == DIFF_CASE_CODE_LEN, "case len");
_Static_assert(__builtin_offsetof(struct diff_case, data) == DIFF_CASE_DATA, "case data");
_Static_assert(sizeof(struct diff_result) == DIFF_RES_SIZE, "diff_result layout");
_Static_assert(__builtin_offsetof(struct diff_result, eflags) == DIFF_RES_EFLAGS, "res eflags");
_Static_assert(__builtin_offsetof(struct diff_result, eip) == DIFF_RES_EIP, "res eip");
_Static_assert(__builtin_offsetof(struct diff_result, vector) == DIFF_RES_VECTOR, "res vector");
_Static_assert(__builtin_offsetof(struct diff_result, error_code) == DIFF_RES_ERROR, "res error");
_Static_assert(__builtin_offsetof(struct diff_result, data) == DIFF_RES_DATA, "res data");
_Static_assert(__builtin_offsetof(struct diff_guest_hdr, count) == DIFF_HDR_COUNT, "hdr count");
_Static_assert(__builtin_offsetof(struct diff_guest_hdr, next) == DIFF_HDR_NEXT, "hdr next");
_Static_assert(DIFF_GUEST_CASES + DIFF_MAX_BATCH * DIFF_CASE_SIZE <= DIFF_GUEST_RESULTS,
               "case table overlaps the results");
_Static_assert(DIFF_GUEST_RESULTS + DIFF_MAX_BATCH * DIFF_RES_SIZE <= DIFF_GUEST_RAM,
               "results overflow guest RAM");
_Static_assert(DIFF_DATA_PAGES_BASE <= DIFF_DATA_BASE &&
                   DIFF_DATA_END <= DIFF_DATA_PAGES_BASE + DIFF_DATA_PAGES_SIZE,
               "data area inside its pages");
_Static_assert(DIFF_DATA_END <= 0x10000, "16-bit addressing must reach the data area");
_Static_assert((DIFF_FL_ARITH & 0x8D5) == 0x8D5 && DIFF_FL_DF == 1 << 10,
               "EFLAGS bits (SDM Vol. 1, 3.4.3)");

#endif /* __ASSEMBLER__ */

#endif
