/* A 64 KiB firmware image for -bios: the vCPU starts at the reset vector (F000:FFF0, the image's last
 * 16 bytes), prints over COM1 in real mode and ends the run through isa-debug-exit at 0xf4. */
    .code16
    .text
    .globl _start
_start:
    cli
    mov %cs, %ax
    mov %ax, %ds            /* DS = F000: the image's copy at 0xF0000 */
    mov $msg, %si
    .include "print16.inc"
msg:
    .asciz "hello from real mode at the reset vector\n"
    . = 0xfff0
reset_vector:
    ljmp $0xf000, $_start
    . = 0x10000
