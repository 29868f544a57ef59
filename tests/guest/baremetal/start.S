/* Start code, trap entries and privilege-switch helpers of the bare-metal test runtime.
 *
 * Every hart enters _start in M-mode with a0 = mhartid.  Hart 0 clears .bss and runs test_main();
 * the others wait for it and run secondary_main(hartid).  Trap entries swap sp with mscratch /
 * sscratch (which hold the top of the hart's trap stack), save all registers in a struct trap_frame
 * and call m_trap_handler / s_trap_handler (runtime.c), then restore and mret / sret. */

#define STACK_SHIFT 14       /* 16 KiB per hart */
#define TRAP_STACK_SHIFT 13  /* 8 KiB per hart and mode */
#define FRAME 272
#define VEC_OFF 256
#define MAX_HARTS 4
#define MAGIC_RET 0x7e57

    .section .text.start, "ax"
    .globl _start
_start:
    li t0, MAX_HARTS
    bgeu a0, t0, park
    /* stack, trap stacks, trap vector */
    addi t1, a0, 1
    la t0, stacks
    slli t2, t1, STACK_SHIFT
    add sp, t0, t2
    slli t2, t1, TRAP_STACK_SHIFT
    la t0, m_trap_stacks
    add t0, t0, t2
    csrw mscratch, t0
    la t0, s_trap_stacks
    add t0, t0, t2
    csrw sscratch, t0
    la t0, m_trap_entry
    csrw mtvec, t0
    csrw mie, zero
    /* PMP entry 0: NAPOT over the whole address space, RWX, so that S and U can run (with no PMP entry
       at all, S/U accesses fail: pmp.c checks that) */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    /* mtimecmp resets to 0, which asserts MTIP: push it to the far future */
    li t0, 0x2004000
    slli t1, a0, 3
    add t0, t0, t1
    li t1, -1
    sd t1, 0(t0)
    bnez a0, secondary
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  fence rw, rw
    la t0, boot_done
    li t1, 1
    sw t1, 0(t0)
    call test_main
    call finish
secondary:
    la t1, boot_done
1:  lw t0, 0(t1)
    beqz t0, 1b
    fence rw, rw
    call secondary_main
park:
    csrw mie, zero
1:  wfi
    j 1b

/* -- trap entries ------------------------------------------------------------------------------------ */
    .text
.macro SAVE_REST
    sd x1, 1*8(sp)
    sd x3, 3*8(sp)
    sd x4, 4*8(sp)
    .irp r, 6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\r, \r*8(sp)
    .endr
.endm
.macro RESTORE_ALL
    ld x1, 1*8(sp)
    .irp r, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\r, \r*8(sp)
    .endr
.endm

/* m = m or s */
.macro TRAP_COMMON m, ret
\m\()_trap_common:
    sd t0, VEC_OFF(sp)
    SAVE_REST
    csrr t0, \m\()scratch
    sd t0, 2*8(sp)              /* the interrupted sp */
    addi t0, sp, FRAME
    csrw \m\()scratch, t0       /* the trap stack top again, whatever the handler does */
    mv a0, sp
    call \m\()_trap_handler
    ld t0, 2*8(sp)
    csrw \m\()scratch, t0
    RESTORE_ALL
    addi sp, sp, FRAME
    csrrw sp, \m\()scratch, sp  /* sp = interrupted sp, scratch = trap stack top */
    \ret
.endm

.macro TRAP_ENTRY m, n
    csrrw sp, \m\()scratch, sp
    addi sp, sp, -FRAME
    sd t0, 5*8(sp)
    li t0, \n
    j \m\()_trap_common
.endm

    .balign 4
    .globl m_trap_entry
m_trap_entry:
    TRAP_ENTRY m, -1
    TRAP_COMMON m, mret

    .balign 4
    .globl s_trap_entry
s_trap_entry:
    TRAP_ENTRY s, -1
    TRAP_COMMON s, sret

.macro VECTOR_TABLE m
    .balign 256
    .globl \m\()_vector_table
\m\()_vector_table:
    .option push
    .option norvc
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j \m\()_vec\n
    .endr
    .option pop
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
\m\()_vec\n:
    TRAP_ENTRY \m, \n
    .endr
.endm
    VECTOR_TABLE m
    VECTOR_TABLE s

/* long call_in_mode(int mode, void *fn, long a0, long a1) */
    .globl call_in_mode
call_in_mode:
    la t0, mode_ctx
    sd ra, 0(t0)
    sd sp, 8(t0)
    sd s0, 16(t0)
    sd s1, 24(t0)
    .irp r, 2,3,4,5,6,7,8,9,10,11
    sd s\r, (16+8*\r)(t0)
    .endr
    csrr t1, mstatus
    sd t1, 112(t0)
    li t1, 0x1800
    csrc mstatus, t1
    andi a0, a0, 3
    slli a0, a0, 11
    csrs mstatus, a0
    la t1, lower_trampoline_s   /* S cannot execute U pages: S-mode code uses its own trampoline */
    li t2, 1 << 11              /* a0 = mode << 11 */
    beq a0, t2, 2f
    la t1, lower_trampoline
2:  csrw mepc, t1
    la t1, lower_sp
    ld t1, 0(t1)
    beqz t1, 1f
    mv sp, t1
1:  mv t1, a1
    mv a0, a2
    mv a1, a3
    li a7, 0                    /* a7 = MAGIC_RET would end the call at the first ecall */
    mret

/* the same for S-mode, and probes S-mode code can run under paging (not in U pages) */
    .globl lower_trampoline_s
lower_trampoline_s:
    jalr t1
    li a7, MAGIC_RET
    ecall
1:  j 1b
    .globl sprobe_ld, sprobe_sd, sprobe_exec, sexec_target
sprobe_ld:
    ld a0, 0(a0)
    ret
sprobe_sd:
    sd a1, 0(a0)
    ret
sprobe_exec:
    jr a0
    .balign 64
sexec_target:
    li a0, 0x5a
    ret

/* -- user-accessible code ---------------------------------------------------------------------------- */
    .section .utext, "ax"
    .globl lower_trampoline
lower_trampoline:
    jalr t1
    li a7, MAGIC_RET
    ecall
1:  j 1b

    .globl probe_ld, probe_lw, probe_lbu, probe_sd, probe_sb, probe_amoadd_w, probe_exec, probe_ecall
    .globl probe_csrr_sstatus, probe_csrr_mstatus, probe_spin, exec_target
probe_ld:
    ld a0, 0(a0)
    ret
probe_lw:
    lw a0, 0(a0)
    ret
probe_lbu:
    lbu a0, 0(a0)
    ret
probe_sd:
    sd a1, 0(a0)
    ret
probe_sb:
    sb a1, 0(a0)
    ret
probe_amoadd_w:
    amoadd.w a0, a1, (a0)
    ret
probe_exec:
    jr a0
probe_ecall:
    ecall
    ret
probe_csrr_sstatus:
    csrr a0, sstatus
    ret
probe_csrr_mstatus:
    csrr a0, mstatus
    ret
probe_spin:
1:  beqz a0, 2f
    addi a0, a0, -1
    j 1b
2:  ret
    .balign 64
exec_target:
    li a0, 0x5a
    ret

/* -- data ------------------------------------------------------------------------------------------------ */
    .section .udata, "aw"
    .balign 4096
    .globl udata_page
udata_page:
    .space 4096
    .globl ustack_top
    .space 4096
ustack_top:

    .data
    .balign 8
boot_done:
    .word 0

    .bss
    .balign 16
    .globl mode_ctx
mode_ctx:
    .space 8 * 15
    .balign 4096
stacks:
    .space MAX_HARTS << STACK_SHIFT
m_trap_stacks:
    .space MAX_HARTS << TRAP_STACK_SHIFT
s_trap_stacks:
    .space MAX_HARTS << TRAP_STACK_SHIFT
