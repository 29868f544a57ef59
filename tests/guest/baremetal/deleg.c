/* Trap delegation: medeleg/mideleg, exceptions from U handled by an S-mode handler at stvec (scause,
 * sepc, stval), page faults delegated under Sv39, and sstatus/sie/sip as views of mstatus/mie/mip. */
#include "bm.h"

static volatile ulong kernel_word = 0x600dUL; /* a supervisor-only page of the image */

static void test_deleg_registers(void)
{
    csr_write(medeleg, ~0UL);
    ulong d = csr_read(medeleg);
    check("medeleg_ecall_from_m_read_only_zero", !(d & (1UL << CAUSE_MACHINE_ECALL)));
    ulong want = (1UL << CAUSE_USER_ECALL) | (1UL << CAUSE_ILLEGAL) | (1UL << CAUSE_BREAKPOINT) |
                 (1UL << CAUSE_LOAD_PAGE_FAULT) | (1UL << CAUSE_STORE_PAGE_FAULT) |
                 (1UL << CAUSE_FETCH_PAGE_FAULT);
    check_eq("medeleg_delegable_bits", d & want, want);
    csr_write(medeleg, 0);
    check_eq("medeleg_cleared", csr_read(medeleg), 0);

    csr_write(mideleg, MIP_SSIP | MIP_STIP | MIP_SEIP);
    check_eq("mideleg_s_interrupts", csr_read(mideleg) & (MIP_SSIP | MIP_STIP | MIP_SEIP),
             MIP_SSIP | MIP_STIP | MIP_SEIP);
    csr_write(mideleg, 0);
}

static void test_deleg_ecall(void)
{
    csr_write(stvec, (ulong)s_trap_entry);
    check_eq("stvec_readback", csr_read(stvec), (ulong)s_trap_entry);
    csr_write(medeleg, 1UL << CAUSE_USER_ECALL);
    trap_clear();
    call_in_mode(PRV_U, probe_ecall, 0, 0);
    expect_trap("deleg_u_ecall_to_s", &strap, CAUSE_USER_ECALL, (ulong)probe_ecall, 0);
    check("deleg_u_ecall_m_not_involved", mtrap.count == 0);

    /* not delegated: S-mode ecalls still go to M */
    trap_clear();
    call_in_mode(PRV_S, probe_ecall, 0, 0);
    expect_trap("s_ecall_not_delegated", &mtrap, CAUSE_SUPERVISOR_ECALL, (ulong)probe_ecall, 0);

    /* delegated to S, but raised in S: handled in S, SPP = S */
    csr_write(medeleg, 1UL << CAUSE_ILLEGAL);
    trap_clear();
    call_in_mode(PRV_S, probe_csrr_mstatus, 0, 0);
    expect_trap("deleg_illegal_from_s", &strap, CAUSE_ILLEGAL, (ulong)probe_csrr_mstatus, 0x30002573);
    check("deleg_illegal_from_s_spp", strap.status & MSTATUS_SPP);
    csr_write(medeleg, 0);
}

static void test_deleg_page_faults(void)
{
    pt_build();
    csr_write(satp, satp_sv39());
    sfence_vma();
    csr_write(medeleg, (1UL << CAUSE_LOAD_PAGE_FAULT) | (1UL << CAUSE_STORE_PAGE_FAULT) |
                           (1UL << CAUSE_FETCH_PAGE_FAULT));
    lower_sp = (ulong)ustack_top;

    /* U may use its own pages */
    trap_clear();
    udata_page[0] = 0x5a;
    long v = call_in_mode(PRV_U, probe_lbu, (ulong)udata_page, 0);
    expect_no_trap("u_load_user_page");
    check_eq("u_load_user_page_value", v, 0x5a);

    trap_clear();
    call_in_mode(PRV_U, probe_ld, (ulong)&kernel_word, 0);
    expect_trap("deleg_u_load_page_fault", &strap, CAUSE_LOAD_PAGE_FAULT, (ulong)probe_ld, (ulong)&kernel_word);
    check_eq("deleg_u_load_page_fault_stval_csr", csr_read(stval), (ulong)&kernel_word);

    trap_clear();
    call_in_mode(PRV_U, probe_sd, (ulong)&kernel_word, 1);
    expect_trap("deleg_u_store_page_fault", &strap, CAUSE_STORE_PAGE_FAULT, (ulong)probe_sd, (ulong)&kernel_word);
    check_eq("deleg_u_store_page_fault_no_write", kernel_word, 0x600d);

    trap_clear();
    call_in_mode(PRV_U, probe_exec, (ulong)test_main, 0);
    expect_trap("deleg_u_fetch_page_fault", &strap, CAUSE_FETCH_PAGE_FAULT, (ulong)test_main, (ulong)test_main);

    /* not delegated: the same fault goes to M */
    csr_write(medeleg, 0);
    trap_clear();
    call_in_mode(PRV_U, probe_ld, (ulong)&kernel_word, 0);
    expect_trap("u_load_page_fault_to_m", &mtrap, CAUSE_LOAD_PAGE_FAULT, (ulong)probe_ld, (ulong)&kernel_word);

    lower_sp = 0;
    csr_write(satp, 0);
    sfence_vma();
}

static void test_views(void)
{
    /* sstatus: the S fields of mstatus */
    csr_clear(mstatus, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MIE);
    csr_set(mstatus, MSTATUS_SIE | MSTATUS_MPIE | MSTATUS_MPP);
    ulong ss = csr_read(sstatus);
    check("sstatus_shows_sie", ss & MSTATUS_SIE);
    check("sstatus_hides_m_fields", !(ss & (MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MIE | MSTATUS_MPRV)));
    csr_clear(sstatus, MSTATUS_SIE);
    check("sstatus_write_clears_mstatus_sie", !(csr_read(mstatus) & MSTATUS_SIE));
    csr_set(sstatus, MSTATUS_SPIE | MSTATUS_SUM);
    check_eq("sstatus_write_sets_mstatus_fields", csr_read(mstatus) & (MSTATUS_SPIE | MSTATUS_SUM),
             MSTATUS_SPIE | MSTATUS_SUM);
    ulong before = csr_read(mstatus) & (MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
    csr_write(sstatus, 0);
    check_eq("sstatus_write_keeps_m_fields", csr_read(mstatus) & (MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE),
             before);
    check("sstatus_write_zero_clears_s_fields",
          !(csr_read(mstatus) & (MSTATUS_SPIE | MSTATUS_SUM | MSTATUS_SIE | MSTATUS_SPP)));

    /* sie / sip: the delegated bits of mie / mip */
    csr_write(mie, 0);
    csr_write(mideleg, MIP_SSIP | MIP_STIP);
    csr_write(sie, ~0UL);
    check_eq("sie_write_sets_delegated_mie_bits", csr_read(mie), MIP_SSIP | MIP_STIP);
    csr_write(mie, MIP_MTIP | MIP_SSIP | MIP_SEIP);
    check_eq("sie_reads_delegated_mie_bits", csr_read(sie), MIP_SSIP);
    csr_write(mie, 0);

    csr_set(mip, MIP_SSIP);
    check("sip_shows_delegated_ssip", csr_read(sip) & MIP_SSIP);
    csr_clear(sip, MIP_SSIP);
    check("sip_write_clears_mip_ssip", !(csr_read(mip) & MIP_SSIP));
    csr_set(sip, MIP_SSIP);
    check("sip_write_sets_mip_ssip", csr_read(mip) & MIP_SSIP);
    csr_clear(mip, MIP_SSIP);
    csr_set(sip, MIP_STIP); /* STIP is read-only in sip */
    check("sip_stip_read_only", !(csr_read(mip) & MIP_STIP));

    csr_write(mideleg, 0);
    csr_set(mip, MIP_SSIP);
    check("sip_hides_undelegated_ssip", !(csr_read(sip) & MIP_SSIP));
    csr_clear(mip, MIP_SSIP);
    csr_set(sip, MIP_SSIP);
    check("sip_undelegated_ssip_read_only", !(csr_read(mip) & MIP_SSIP));
    csr_clear(mip, MIP_SSIP);
    csr_write(sie, ~0UL);
    check_eq("sie_write_undelegated_ignored", csr_read(mie), 0);
}

void test_main(void)
{
    test_deleg_registers();
    test_deleg_ecall();
    test_deleg_page_faults();
    test_views();
}
