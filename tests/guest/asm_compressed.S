// build: -nostdlib -static
/*
 * asm_compressed: RVC coverage without libc.  Every computation below uses explicit c.*
 * instructions (c.li, c.lui, c.addi, c.addiw, c.addi16sp, c.addi4spn, c.mv, c.add, c.sub,
 * c.xor, c.or, c.and, c.subw, c.addw, c.slli, c.srli, c.srai, c.andi, c.sd/c.ld, c.sw/c.lw,
 * c.sdsp/c.ldsp, c.swsp/c.lwsp, c.fsd/c.fld, c.fsdsp/c.fldsp, c.j, c.jr, c.jalr, c.beqz,
 * c.bnez), including
 *   - a loop whose backward branch targets its own first instruction (a one-block self-loop),
 *   - a 32-bit instruction that starts 2 bytes before a page boundary (straddles two pages),
 *   - 32-bit instructions at 2-byte aligned (not 4-byte aligned) addresses.
 * Each result is printed as "name: 0x<16 hex digits>" and compared with the expected value;
 * the program exits 0 if all matched, else 1.
 */
    .option rvc

    .section .rodata
hexdigits:
    .ascii "0123456789abcdef"
name_sum:       .asciz "sum"
name_alu:       .asciz "alu"
name_addw:      .asciz "addw"
name_mem:       .asciz "mem"
name_fp:        .asciz "fp"
name_jump:      .asciz "jump"
name_straddle:  .asciz "straddle"
name_sp:        .asciz "sp"
mismatch:       .asciz " MISMATCH"
msg_ok:         .ascii "OK asm_compressed\n"
    .equ    msg_ok_len, . - msg_ok

    .data
    .p2align 3
scratch:
    .dword 0, 0, 0, 0
dbl_in:
    .dword 0x4009000000000000       // 3.125
fails:
    .dword 0

    .bss
    .p2align 4
outbuf:
    .skip 64

    .text
    .globl _start
_start:
    c.mv    s1, sp                  // keep the initial sp to check the stack is restored

    // 1. one-block self-loop: sum 1..100 (backward c.bnez to its own block start)
    c.li    a0, 0
    li      a1, 100
1:  c.add   a0, a1
    c.addi  a1, -1
    c.bnez  a1, 1b
    la      a1, name_sum
    li      a2, 5050
    jal     check

    // 2. ALU mix: c.lui, c.addiw, c.slli/c.srli/c.srai, c.andi, c.xor/c.or/c.and/c.sub, c.addw/c.subw
    c.lui   a0, 0x12                // 0x12000
    c.addiw a0, 0x15                // 0x12015
    c.slli  a0, 36                  // 0x0120150000000000
    c.mv    s0, a0
    c.srai  a0, 12                  // 0x0000120150000000
    c.li    a1, -1
    c.srli  a1, 8                   // 0x00ffffffffffffff
    c.and   a0, a1
    c.xor   a0, s0
    c.li    a3, 0x1f
    c.or    a0, a3
    c.andi  a0, -17                 // clear bit 4
    c.mv    a4, a0
    c.sub   a4, a3
    c.addw  a4, a3                  // 32-bit add, sign-extended
    c.subw  a4, a3
    c.add   a0, a4
    la      a1, name_alu
    li      a2, 0x12007029ffffff
    jal     check

    // 3. c.addw overflow: 0x7fffffff + 1 -> sign-extended 0xffffffff80000000
    li      a0, 0x7fffffff
    c.li    a3, 1
    c.addw  a0, a3
    la      a1, name_addw
    li      a2, 0xffffffff80000000
    jal     check

    // 4. stack and memory: c.addi16sp, c.addi4spn, c.sdsp/c.ldsp, c.swsp/c.lwsp, c.sd/c.ld, c.sw/c.lw
    c.addi16sp sp, -64
    c.addi4spn a5, sp, 16           // a5 = sp + 16
    li      a0, 0x1122334455667788
    c.sdsp  a0, 8(sp)
    c.sd    a0, 8(a5)               // sp + 24
    li      a1, -2
    c.swsp  a1, 0(sp)
    c.sw    a1, 0(a5)
    c.ldsp  a2, 8(sp)
    c.ld    a3, 8(a5)
    c.lwsp  a4, 0(sp)               // sign-extended -2
    c.lw    a0, 0(a5)
    c.add   a0, a4                  // -4
    c.add   a0, a2
    c.add   a0, a3                  // -4 + 2 * 0x1122334455667788
    c.addi16sp sp, 64
    la      a1, name_mem
    li      a2, 0x1122334455667788 * 2 - 4
    jal     check

    // 5. FP through compressed loads/stores: c.fld, c.fsd, c.fldsp, c.fsdsp
    la      a5, dbl_in
    c.fld   fa0, 0(a5)              // 3.125
    fadd.d  fa1, fa0, fa0           // 6.25
    c.addi16sp sp, -16
    c.fsdsp fa1, 0(sp)
    c.fldsp fa2, 0(sp)
    c.addi16sp sp, 16
    la      a4, scratch
    c.fsd   fa2, 8(a4)
    c.ld    a0, 8(a4)
    la      a1, name_fp
    li      a2, 0x4019000000000000  // 6.25
    jal     check

    // 6. c.jalr / c.jr / c.j / c.beqz
    la      t1, leaf
    c.li    a0, 7
    c.jalr  t1                      // leaf: a0 = a0 * 8 + 3 (via c.slli/c.addi), returns with c.jr
    c.beqz  a0, 2f
    c.j     3f
2:  c.li    a0, 0
3:  la      a1, name_jump
    li      a2, 59
    jal     check

    // 7. a 32-bit instruction straddling a page boundary, and misaligned 32-bit instructions
    call    straddle
    la      a1, name_straddle
    li      a2, 5 + 1 + 1000 + 0x40
    jal     check

    // 8. sp restored
    sub     a0, sp, s1
    la      a1, name_sp
    c.li    a2, 0
    jal     check

    la      a5, fails
    c.ld    a0, 0(a5)
    bnez    a0, 9f
    la      a1, msg_ok
    li      a2, msg_ok_len
    jal     write_str
    li      a0, 0
    li      a7, 94                  // exit_group(0)
    ecall
9:  li      a0, 1
    li      a7, 94                  // exit_group(1)
    ecall

leaf:
    c.slli  a0, 3
    c.addi  a0, 3
    c.jr    ra

/*
 * check: a0 = value, a1 = NUL-terminated name, a2 = expected.
 * Prints "name: 0x<value>" plus " MISMATCH" if value != expected (and counts the failure).
 */
check:
    c.addi16sp sp, -32
    c.sdsp  ra, 0(sp)
    c.sdsp  a0, 8(sp)
    c.sdsp  a2, 16(sp)
    la      a3, outbuf
    c.mv    a4, a3
    // copy the name
4:  lbu     a5, 0(a1)
    c.beqz  a5, 5f
    sb      a5, 0(a4)
    c.addi  a1, 1
    c.addi  a4, 1
    c.j     4b
5:  li      a5, ':'
    sb      a5, 0(a4)
    li      a5, ' '
    sb      a5, 1(a4)
    li      a5, '0'
    sb      a5, 2(a4)
    li      a5, 'x'
    sb      a5, 3(a4)
    c.addi  a4, 4
    // 16 hex digits, most significant first
    la      t2, hexdigits
    li      t0, 60
6:  srl     t1, a0, t0
    andi    t1, t1, 15
    c.add   t1, t2
    lbu     t1, 0(t1)
    sb      t1, 0(a4)
    c.addi  a4, 1
    addi    t0, t0, -4
    bgez    t0, 6b
    c.ldsp  a2, 16(sp)
    beq     a0, a2, 7f
    la      s0, fails               // (clobbers s0)
    c.ld    a5, 0(s0)
    c.addi  a5, 1
    c.sd    a5, 0(s0)
    la      a1, mismatch
8:  lbu     a5, 0(a1)
    c.beqz  a5, 7f
    sb      a5, 0(a4)
    c.addi  a1, 1
    c.addi  a4, 1
    c.j     8b
7:  li      a5, '\n'
    sb      a5, 0(a4)
    c.addi  a4, 1
    c.mv    a1, a3
    sub     a2, a4, a3
    jal     write_str
    c.ldsp  ra, 0(sp)
    c.addi16sp sp, 32
    c.jr    ra

/* write_str: a1 = buffer, a2 = length */
write_str:
    li      a0, 1
    li      a7, 64
    ecall
    c.jr    ra

/*
 * straddle: lives in its own page-aligned section so that the 32-bit "addi a0, a0, 1000"
 * starts 2 bytes before a page boundary and ends in the next page.  The c.addi before it
 * makes the following 32-bit instructions 2-byte (not 4-byte) aligned.
 */
    .section .text.straddle, "ax", @progbits
    .p2align 12
straddle_page:
    .skip   4096 - 6
straddle:
    c.li    a0, 5                   // page offset 4090
    c.addi  a0, 1                   // 4092
    .option push
    .option norvc
    addi    a0, a0, 1000            // straddles the page boundary
    addi    a0, a0, 0x40            // 2-byte aligned 32-bit instruction in the next page
    .option pop
    c.jr    ra
