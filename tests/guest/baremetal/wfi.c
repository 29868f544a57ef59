/* WFI: the hart sleeps until an interrupt is pending and enabled in mie (even with mstatus.MIE clear),
 * then continues with the next instruction; with MIE set the interrupt is taken with mepc pointing
 * after the WFI.  The test also sleeps 200 ms so that the host side can check it did not spin. */
#include "bm.h"

long probe_wfi(void);
asm(".pushsection .utext, \"ax\"\nprobe_wfi:\n  wfi\n  ret\n.popsection\n");

static ulong wfi_until_timer(ulong ticks, ulong *iterations)
{
    ulong n = 0;
    csr_write(mie, MIP_MTIP);
    ulong t0 = mtime();
    set_mtimecmp(0, t0 + ticks);
    while (!(csr_read(mip) & MIP_MTIP) && n < 100000000) {
        asm volatile("wfi" ::: "memory");
        n++;
    }
    ulong t1 = mtime();
    set_mtimecmp(0, ~0UL);
    csr_write(mie, 0);
    *iterations = n;
    return t1 - t0;
}

void test_main(void)
{
    ulong n;
    trap_clear();
    ulong slept = wfi_until_timer(10 * TICKS_PER_MS, &n);
    puts_("INFO: 10 ms wfi: ticks=");
    put_dec(slept);
    puts_(" wfi executions=");
    put_dec(n);
    putc_('\n');
    check("wfi_wakes_on_timer", slept >= 10 * TICKS_PER_MS && slept < 200 * TICKS_PER_MS);
    check("wfi_sleeps_until_interrupt", n >= 1 && n <= 2);
    expect_no_trap("wfi_no_trap_with_mie_clear");

    /* with mstatus.MIE set the interrupt is taken; mepc = the instruction after the WFI */
    ulong after;
    trap_clear();
    csr_write(mie, MIP_MTIP);
    set_mtimecmp(0, mtime() + TICKS_PER_MS);
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("la %0, 1f\n"
                 "wfi\n"
                 "1: nop\n"
                 : "=&r"(after)::"memory");
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    expect_trap("wfi_interrupt_taken", &mtrap, INTR | IRQ_MTI, after, 0);

    /* a software interrupt raised before the WFI: it does not sleep at all */
    trap_clear();
    csr_write(mie, MIP_MSIP);
    set_msip(0, 1);
    ulong t0 = mtime();
    asm volatile("wfi" ::: "memory");
    ulong t1 = mtime();
    set_msip(0, 0);
    csr_write(mie, 0);
    check("wfi_pending_interrupt_returns_at_once", t1 - t0 < 50 * TICKS_PER_MS);

    /* WFI below M-mode with mstatus.TW = 1, and in U-mode, raises an illegal instruction exception when
     * it does not complete in bounded time (no interrupt can end these waits) */
    csr_set(mstatus, MSTATUS_TW);
    trap_clear();
    call_in_mode(PRV_S, probe_wfi, 0, 0);
    expect_trap("wfi_in_s_with_tw_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_wfi, ANY);
    csr_clear(mstatus, MSTATUS_TW);
    trap_clear();
    call_in_mode(PRV_U, probe_wfi, 0, 0);
    expect_trap("wfi_in_u_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_wfi, ANY);

    slept = wfi_until_timer(200 * TICKS_PER_MS, &n);
    puts_("INFO: 200 ms wfi: ticks=");
    put_dec(slept);
    puts_(" wfi executions=");
    put_dec(n);
    putc_('\n');
    check("wfi_long_sleep", slept >= 200 * TICKS_PER_MS && n <= 2);
    check("continues_after_wfi", 1);
}
