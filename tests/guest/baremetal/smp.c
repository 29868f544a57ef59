/* Two harts (run with smp=2): hart 1 sleeps in WFI until hart 0 sends it a machine software interrupt
 * through the CLINT; both harts then increment shared counters with amoadd.d and with an LR/SC loop;
 * hart 1 wakes hart 0 (sleeping in WFI) with an IPI when it is done; hart 0 reports the totals. */
#include "bm.h"

#define N 20000

static volatile ulong counter_amo, counter_lrsc;
static volatile ulong hart1_ready, hart1_done, hart1_wfi_loops, hart1_id, hart1_arg;

static void amo_add(volatile ulong *p, ulong v)
{
    asm volatile("amoadd.d zero, %1, (%0)" :: "r"(p), "r"(v) : "memory");
}

static void lrsc_add(volatile ulong *p, ulong v)
{
    ulong tmp, fail;
    asm volatile("1: lr.d %0, (%2)\n"
                 "add %0, %0, %3\n"
                 "sc.d %1, %0, (%2)\n"
                 "bnez %1, 1b\n"
                 : "=&r"(tmp), "=&r"(fail) : "r"(p), "r"(v) : "memory");
}

static void work(void)
{
    for (int i = 0; i < N; i++) {
        amo_add(&counter_amo, 1);
        lrsc_add(&counter_lrsc, 2);
    }
}

void secondary_main(ulong hartid)
{
    if (hartid != 1) {
        for (;;)
            asm volatile("wfi");
    }
    hart1_arg = hartid;
    hart1_id = csr_read(mhartid);
    csr_write(mie, MIP_MSIP); /* mstatus.MIE stays clear: WFI wakes, no trap is taken */
    amo_add(&hart1_ready, 1);
    ulong loops = 0;
    while (!(csr_read(mip) & MIP_MSIP)) {
        asm volatile("wfi" ::: "memory");
        loops++;
    }
    hart1_wfi_loops = loops;
    set_msip(1, 0);
    work();
    amo_add(&hart1_done, 1);
    set_msip(0, 1); /* wake hart 0 */
    csr_write(mie, 0);
    for (;;)
        asm volatile("wfi");
}

static int wait_flag(volatile ulong *flag, ulong ms)
{
    ulong end = mtime() + ms * TICKS_PER_MS;
    while (!*flag && mtime() < end)
        ;
    return *flag != 0;
}

void test_main(void)
{
    check("hart1_ready", wait_flag(&hart1_ready, 2000));
    check_eq("hart1_a0_is_hartid", hart1_arg, 1);
    check_eq("hart1_mhartid", hart1_id, 1);
    /* let hart 1 sleep a while: if WFI did not sleep it would loop many times */
    ulong t = mtime() + 5 * TICKS_PER_MS;
    while (mtime() < t)
        ;
    set_msip(1, 1);
    work();
    /* sleep until hart 1's IPI, with a timer as a backstop */
    csr_write(mie, MIP_MSIP | MIP_MTIP);
    set_mtimecmp(0, mtime() + 2000 * TICKS_PER_MS);
    ulong wakes = 0;
    while (!hart1_done && !(csr_read(mip) & MIP_MTIP)) {
        asm volatile("wfi" ::: "memory");
        wakes++;
    }
    set_mtimecmp(0, ~0UL);
    check("hart0_woken_by_ipi", hart1_done && (csr_read(mip) & MIP_MSIP) != 0);
    set_msip(0, 0);
    csr_write(mie, 0);
    check("hart1_slept_in_wfi", hart1_wfi_loops >= 1 && hart1_wfi_loops <= 3);
    puts_("INFO: counters: amo=");
    put_dec(counter_amo);
    puts_(" lrsc=");
    put_dec(counter_lrsc);
    puts_(" hart1 wfi loops=");
    put_dec(hart1_wfi_loops);
    puts_(" hart0 wfi loops=");
    put_dec(wakes);
    putc_('\n');
    check_eq("amoadd_total", counter_amo, 2 * N);
    check_eq("lrsc_total", counter_lrsc, 2 * 2 * N);
}
