/* Interrupts: the CLINT machine timer (mtimecmp/mtime, MTIE/MIE) and software interrupt (msip), a
 * delegated supervisor software interrupt (sip.SSIP), a supervisor timer interrupt injected by M-mode
 * through mip.STIP, global enables per privilege level, and the priority order of pending interrupts
 * (MEI > MSI > MTI > SEI > SSI > STI). */
#include "bm.h"

#define PLIC 0x0c000000UL
#define PLIC_PRIORITY(src) (PLIC + 4 * (src))
#define PLIC_ENABLE(ctx) (PLIC + 0x2000 + 0x80 * (ctx))
#define PLIC_THRESHOLD(ctx) (PLIC + 0x200000 + 0x1000 * (ctx))
#define PLIC_CLAIM(ctx) (PLIC + 0x200004 + 0x1000 * (ctx))
#define UART_IRQ 10
#define UART_IER (UART0 + 1)

static volatile ulong timer_fired_at;

static int timer_hook(struct trap_frame *f, ulong cause, ulong epc, ulong tval)
{
    if (cause != (INTR | IRQ_MTI))
        return 0;
    timer_fired_at = mtime();
    set_mtimecmp(0, ~0UL);
    return 1;
}

static int wait_for_trap(volatile struct trap_rec *t, ulong ms)
{
    ulong end = mtime() + ms * TICKS_PER_MS;
    while (t->count == 0 && mtime() < end)
        ;
    return t->count != 0;
}

static void test_machine_timer(void)
{
    csr_write(mie, 0);
    set_mtimecmp(0, 0);
    check("mtip_pending_when_mtime_reaches_mtimecmp", csr_read(mip) & MIP_MTIP);
    set_mtimecmp(0, ~0UL);
    check("mtip_clear_when_mtimecmp_ahead", !(csr_read(mip) & MIP_MTIP));
    csr_set(mip, MIP_MTIP);
    check("mip_mtip_read_only", !(csr_read(mip) & MIP_MTIP));

    ulong t0 = mtime();
    ulong t1 = mtime();
    check("mtime_advances", t1 >= t0);

    m_hook = timer_hook;
    trap_clear();
    ulong start = mtime();
    ulong deadline = start + 2 * TICKS_PER_MS;
    set_mtimecmp(0, deadline);
    csr_write(mie, MIP_MTIP);
    csr_set(mstatus, MSTATUS_MIE);
    int fired = wait_for_trap(&mtrap, 1000);
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    m_hook = 0;
    check("timer_interrupt_taken", fired);
    expect_trap("timer_interrupt_cause", &mtrap, INTR | IRQ_MTI, ANY, 0);
    check("timer_not_early", timer_fired_at >= deadline);
    check("timer_mpie_set", mtrap.status & MSTATUS_MPIE);
    check("timer_mie_cleared_in_handler", !(mtrap.status & MSTATUS_MIE));
}

static void test_machine_software(void)
{
    csr_write(mie, 0);
    set_msip(0, 1);
    check_eq("msip_register_reads_back", MMIO32(CLINT_MSIP), 1);
    check("mip_msip_follows_clint", csr_read(mip) & MIP_MSIP);
    set_msip(0, 0);
    check("mip_msip_cleared", !(csr_read(mip) & MIP_MSIP));

    trap_clear();
    csr_write(mie, MIP_MSIP);
    set_msip(0, 1);
    for (volatile int i = 0; i < 100; i++)
        ;
    expect_no_trap("msi_masked_by_mstatus_mie_in_m");
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    expect_trap("msi_taken", &mtrap, INTR | IRQ_MSI, ANY, 0);

    /* below M, M-level interrupts are enabled whatever mstatus.MIE says */
    trap_clear();
    set_msip(0, 1);
    call_in_mode(PRV_U, probe_spin, 1000, 0);
    expect_trap("msi_taken_in_u_with_mie_clear", &mtrap, INTR | IRQ_MSI, ANY, 0);
    check_eq("msi_taken_in_u_mpp", (mtrap.status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_U);
    trap_clear();
    set_msip(0, 1);
    call_in_mode(PRV_S, probe_spin, 1000, 0);
    expect_trap("msi_taken_in_s_with_mie_clear", &mtrap, INTR | IRQ_MSI, ANY, 0);
    csr_write(mie, 0);
    set_msip(0, 0);
}

/* runs in S-mode */
static long s_enable_and_raise_ssip(long a0, long a1)
{
    csr_set(sie, MIP_SSIP);
    csr_set(sstatus, MSTATUS_SIE);
    csr_set(sip, MIP_SSIP);
    asm volatile("nop; nop; nop");
    csr_clear(sstatus, MSTATUS_SIE);
    return csr_read(sip);
}

static long s_enable_stie(long a0, long a1)
{
    csr_set(sip, MIP_STIP); /* read-only in sip: no effect */
    csr_clear(sip, MIP_STIP);
    long seen = csr_read(sip) & MIP_STIP;
    csr_set(sie, MIP_STIP);
    csr_set(sstatus, MSTATUS_SIE);
    asm volatile("nop; nop; nop");
    csr_clear(sstatus, MSTATUS_SIE);
    return seen;
}

static void test_supervisor_interrupts(void)
{
    csr_write(stvec, (ulong)s_trap_entry);
    csr_write(mideleg, MIP_SSIP | MIP_STIP);
    csr_write(mie, 0);

    trap_clear();
    long sip_after = call_in_mode(PRV_S, s_enable_and_raise_ssip, 0, 0);
    expect_trap("ssi_delegated_to_s", &strap, INTR | IRQ_SSI, ANY, 0);
    check("ssi_spp_s", strap.status & MSTATUS_SPP);
    check("ssi_spie_set", strap.status & MSTATUS_SPIE);
    check("ssi_cleared_by_handler", !(sip_after & MIP_SSIP));

    /* a delegated interrupt is never taken in M-mode, even with mstatus.SIE and MIE set */
    trap_clear();
    csr_write(mie, MIP_SSIP);
    csr_set(mip, MIP_SSIP);
    csr_set(mstatus, MSTATUS_SIE | MSTATUS_MIE);
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    expect_no_trap("delegated_ssi_not_taken_in_m");
    /* ... but it is in U-mode, whatever sstatus.SIE says */
    csr_clear(mstatus, MSTATUS_SIE);
    call_in_mode(PRV_U, probe_spin, 1000, 0);
    expect_trap("delegated_ssi_taken_in_u_with_sie_clear", &strap, INTR | IRQ_SSI, ANY, 0);
    check("delegated_ssi_taken_in_u_spp", !(strap.status & MSTATUS_SPP));
    csr_write(mie, 0);

    /* stvec in vectored mode: SSI enters at base + 4 * 1 */
    csr_write(stvec, (ulong)s_vector_table | 1);
    trap_clear();
    call_in_mode(PRV_S, s_enable_and_raise_ssip, 0, 0);
    expect_trap("ssi_vectored_stvec_cause", &strap, INTR | IRQ_SSI, ANY, 0);
    check_eq("ssi_vectored_stvec_entry", strap.vector, IRQ_SSI);
    csr_write(stvec, (ulong)s_trap_entry);
    csr_write(mie, 0);

    /* STIP: set by M-mode (as an SBI timer would), taken in S */
    trap_clear();
    csr_set(mip, MIP_STIP);
    check("mip_stip_writable_by_m", csr_read(mip) & MIP_STIP);
    long seen = call_in_mode(PRV_S, s_enable_stie, 0, 0);
    check("sip_stip_visible_and_read_only_in_s", seen);
    expect_trap("sti_delegated_to_s", &strap, INTR | IRQ_STI, ANY, 0);
    csr_clear(mip, MIP_STIP);
    check("mip_stip_cleared_by_m", !(csr_read(mip) & MIP_STIP));
    csr_write(mie, 0);
    csr_write(mideleg, 0);
}

static int plic_hook(struct trap_frame *f, ulong cause, ulong epc, ulong tval)
{
    if (cause != (INTR | IRQ_MEI))
        return 0;
    uint src = MMIO32(PLIC_CLAIM(0));
    *(volatile uchar *)UART_IER = 0;
    MMIO32(PLIC_CLAIM(0)) = src;
    return 1;
}

static void test_priority(void)
{
    csr_write(mideleg, 0);
    csr_write(mie, 0);
    /* MEIP: the UART's THR-empty interrupt through the PLIC, M-mode context of hart 0 */
    MMIO32(PLIC_PRIORITY(UART_IRQ)) = 1;
    MMIO32(PLIC_ENABLE(0)) = 1U << UART_IRQ;
    MMIO32(PLIC_THRESHOLD(0)) = 0;
    *(volatile uchar *)UART_IER = 0x02;
    check("meip_pending_from_plic", csr_read(mip) & MIP_MEIP);
    set_msip(0, 1);
    set_mtimecmp(0, 0);
    csr_set(mip, MIP_SEIP | MIP_SSIP | MIP_STIP);
    check_eq("all_six_pending", csr_read(mip) & 0xaaa, 0xaaa);

    m_hook = plic_hook;
    trap_clear();
    csr_write(mie, 0xaaa);
    csr_set(mstatus, MSTATUS_MIE); /* all six are taken one after the other, highest priority first */
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    m_hook = 0;
    csr_write(mie, 0);
    csr_clear(mip, MIP_SEIP);
    MMIO32(PLIC_ENABLE(0)) = 0;
    check_eq("priority_count", mtrap.count, 6);
    check_eq("priority_1_mei", mtrap.causes[0], INTR | IRQ_MEI);
    check_eq("priority_2_msi", mtrap.causes[1], INTR | IRQ_MSI);
    check_eq("priority_3_mti", mtrap.causes[2], INTR | IRQ_MTI);
    check_eq("priority_4_sei", mtrap.causes[3], INTR | IRQ_SEI);
    check_eq("priority_5_ssi", mtrap.causes[4], INTR | IRQ_SSI);
    check_eq("priority_6_sti", mtrap.causes[5], INTR | IRQ_STI);
}

/* mip.SEIP reads as the OR of the software bit and the PLIC's S-context line, but CSRRS/CSRRC use
 * only the software bit (spec 3.1.9) */
static void test_seip(void)
{
    csr_write(mideleg, 0);
    csr_write(mie, 0);
    csr_clear(mip, MIP_SEIP);
    MMIO32(PLIC_PRIORITY(UART_IRQ)) = 1;
    MMIO32(PLIC_ENABLE(0)) = 0;
    MMIO32(PLIC_ENABLE(1)) = 1U << UART_IRQ; /* hart 0's S-mode context */
    MMIO32(PLIC_THRESHOLD(1)) = 0;
    *(volatile uchar *)UART_IER = 0x02;
    check("mip_seip_reflects_plic", csr_read(mip) & MIP_SEIP);
    csr_set(mip, MIP_SSIP); /* read-modify-writes of mip while the PLIC asserts SEIP */
    csr_clear(mip, MIP_SSIP);
    uint src = MMIO32(PLIC_CLAIM(1)); /* the claim drops the PLIC's SEIP */
    check_eq("plic_s_context_claim", src, UART_IRQ);
    check("mip_seip_rmw_ignores_plic_line", !(csr_read(mip) & MIP_SEIP));
    *(volatile uchar *)UART_IER = 0;
    MMIO32(PLIC_CLAIM(1)) = src;
    csr_clear(mip, MIP_SEIP);
    csr_set(mip, MIP_SEIP);
    check("mip_seip_software_writable", csr_read(mip) & MIP_SEIP);
    csr_clear(mip, MIP_SEIP);
    check("mip_seip_software_clear", !(csr_read(mip) & MIP_SEIP));
    MMIO32(PLIC_ENABLE(1)) = 0;
}

/* PLIC gateway (PLIC spec, "Interrupt Gateways"): a level-triggered request that was accepted stays
 * pending even if the device drops its line before the claim */
static void test_plic_gateway(void)
{
    volatile uint *pending = (volatile uint *)(PLIC + 0x1000);
    MMIO32(PLIC_PRIORITY(UART_IRQ)) = 1;
    MMIO32(PLIC_ENABLE(1)) = 1U << UART_IRQ;
    *(volatile uchar *)UART_IER = 0x02;
    check("plic_pending_while_line_high", pending[0] & (1U << UART_IRQ));
    *(volatile uchar *)UART_IER = 0;
    check("plic_pending_latched_after_line_drops", pending[0] & (1U << UART_IRQ));
    uint src = MMIO32(PLIC_CLAIM(1));
    check_eq("plic_latched_request_claimed", src, UART_IRQ);
    MMIO32(PLIC_CLAIM(1)) = src;
    check("plic_no_pending_after_complete", !(pending[0] & (1U << UART_IRQ)));
    MMIO32(PLIC_ENABLE(1)) = 0;
}

void test_main(void)
{
    test_machine_timer();
    test_machine_software();
    test_supervisor_interrupts();
    test_priority();
    test_seip();
    test_plic_gateway();
}
