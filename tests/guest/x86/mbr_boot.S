/* A boot sector: the firmware (SeaBIOS) loads it at 0x7C00 from the first disk it can boot and jumps
 * to it in real mode; it prints over COM1 and ends the run through isa-debug-exit at 0xf4. */
    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov $(msg - _start + 0x7c00), %si
    .include "print16.inc"
msg: .asciz "booted from the disk's MBR by the firmware\n"
    . = 510
    .byte 0x55, 0xaa
