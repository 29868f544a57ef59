// build: -nostdlib -static
/*
 * asm_hello: no libc at all.  _start writes a message with the write syscall (64) and exits
 * with exit_group (94), status 0.  Exercises ELF loading of a minimal static binary, the
 * initial stack pointer, auipc/addi address formation and ecall.
 */
    .section .rodata
msg:
    .ascii "Hello from assembly\n"
    .ascii "OK asm_hello\n"
    .equ    msg_len, . - msg

    .text
    .globl _start
_start:
    li      a0, 1                   // fd = stdout
    la      a1, msg                 // buf
    li      a2, msg_len       // len
    li      a7, 64                  // __NR_write
    ecall
    li      t0, msg_len
    bne     a0, t0, fail            // short write -> exit 1
    li      a0, 0
    li      a7, 94                  // __NR_exit_group
    ecall
fail:
    li      a0, 1
    li      a7, 93                  // __NR_exit
    ecall
