/* Synchronous exceptions and interrupt entry in M-mode: causes, mepc, mtval, resuming after the
 * faulting instruction with mret, and vectored mtvec. */
#include "bm.h"

static void test_illegal(void)
{
    ulong pc, v = 0;
    trap_clear();
    /* opcode 0x7b (custom-3) is not implemented: illegal instruction, mtval = its bits */
    asm volatile("la %0, 1f\n"
                 "1: .word 0x1234507b\n"
                 "li %1, 42\n"
                 : "=&r"(pc), "+&r"(v)::"memory");
    expect_trap("illegal_insn", &mtrap, CAUSE_ILLEGAL, pc, 0x1234507b);
    check_eq("illegal_insn_mpp_m", (mtrap.status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_M);
    check_eq("mret_resumes_after_fault", v, 42);

    /* c.lui x1, 0 is reserved (nzimm = 0): a 16-bit illegal instruction */
    trap_clear();
    v = 0;
    asm volatile("la %0, 1f\n"
                 ".option push\n.option norvc\n"
                 "1: .hword 0x6081\n"
                 "li %1, 43\n"
                 ".option pop\n"
                 : "=&r"(pc), "+&r"(v)::"memory", "ra");
    expect_trap("illegal_compressed", &mtrap, CAUSE_ILLEGAL, pc, 0x6081);
    check_eq("mret_resumes_after_compressed_fault", v, 43);
}

static void test_ecall_ebreak(void)
{
    ulong pc;
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "li a7, 0\n"
                 "1: ecall\n"
                 : "=&r"(pc)::"a7", "memory");
    expect_trap("ecall_from_m", &mtrap, CAUSE_MACHINE_ECALL, pc, 0);

    trap_clear();
    call_in_mode(PRV_S, probe_ecall, 0, 0);
    expect_trap("ecall_from_s", &mtrap, CAUSE_SUPERVISOR_ECALL, (ulong)probe_ecall, 0);
    check_eq("ecall_from_s_mpp", (mtrap.status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_S);

    trap_clear();
    call_in_mode(PRV_U, probe_ecall, 0, 0);
    expect_trap("ecall_from_u", &mtrap, CAUSE_USER_ECALL, (ulong)probe_ecall, 0);
    check_eq("ecall_from_u_mpp", (mtrap.status & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_U);

    trap_clear();
    ulong v = 0;
    asm volatile("la %0, 1f\n"
                 ".option push\n.option norvc\n"
                 "1: ebreak\n"
                 "li %1, 7\n"
                 ".option pop\n"
                 : "=&r"(pc), "+&r"(v)::"memory");
    expect_trap("ebreak", &mtrap, CAUSE_BREAKPOINT, pc, pc);
    check_eq("ebreak_resume", v, 7);

    trap_clear();
    v = 0;
    asm volatile("la %0, 1f\n"
                 "1: c.ebreak\n"
                 "li %1, 8\n"
                 : "=&r"(pc), "+&r"(v)::"memory");
    expect_trap("c_ebreak", &mtrap, CAUSE_BREAKPOINT, pc, pc);
    check_eq("c_ebreak_resume", v, 8);
}

static volatile ulong amo_word[2] ALIGNED(16);

static void test_misaligned_amo(void)
{
    ulong base = (ulong)amo_word;
    amo_word[0] = 0x1111111111111111UL;
    amo_word[1] = 0x2222222222222222UL;
    trap_clear();
    probe_amoadd_w(base + 2, 1);
    expect_trap("amo_misaligned", &mtrap, CAUSE_MISALIGNED_STORE, (ulong)probe_amoadd_w, base + 2);
    check("amo_misaligned_no_write", amo_word[0] == 0x1111111111111111UL && amo_word[1] == 0x2222222222222222UL);

    trap_clear();
    ulong old = 0;
    asm volatile("amoswap.d %0, %2, (%1)" : "+r"(old) : "r"(base + 4), "r"(0UL) : "memory");
    expect_trap("amoswap_d_misaligned", &mtrap, CAUSE_MISALIGNED_STORE, ANY, base + 4);

    trap_clear();
    asm volatile("lr.w %0, (%1)" : "+r"(old) : "r"(base + 1) : "memory");
    /* LR raises load-address-misaligned or load-access-fault (spec 8.2) */
    if (mtrap.cause == CAUSE_LOAD_ACCESS)
        expect_trap("lr_misaligned", &mtrap, CAUSE_LOAD_ACCESS, ANY, base + 1);
    else
        expect_trap("lr_misaligned", &mtrap, CAUSE_MISALIGNED_LOAD, ANY, base + 1);

    trap_clear();
    old = 0;
    ulong v = 0;
    asm volatile("amoadd.w %0, %1, (%2)" : "=r"(old) : "r"(5UL), "r"(base) : "memory");
    v = amo_word[0];
    expect_no_trap("amo_aligned_ok");
    check_eq("amo_aligned_value", v, 0x1111111111111116UL);
}

static void test_access_faults(void)
{
    trap_clear();
    long v = probe_ld(UNMAPPED_PA);
    expect_trap("load_access_fault", &mtrap, CAUSE_LOAD_ACCESS, (ulong)probe_ld, UNMAPPED_PA);
    check_eq("load_access_fault_skipped", (ulong)v, UNMAPPED_PA); /* a0 untouched */

    trap_clear();
    probe_sd(UNMAPPED_PA + 8, 1);
    expect_trap("store_access_fault", &mtrap, CAUSE_STORE_ACCESS, (ulong)probe_sd, UNMAPPED_PA + 8);

    trap_clear();
    probe_exec(UNMAPPED_PA + 0x100);
    expect_trap("fetch_access_fault", &mtrap, CAUSE_FETCH_ACCESS, UNMAPPED_PA + 0x100, UNMAPPED_PA + 0x100);

    trap_clear();
    call_in_mode(PRV_U, probe_lw, UNMAPPED_PA + 0x40, 0);
    expect_trap("load_access_fault_from_u", &mtrap, CAUSE_LOAD_ACCESS, (ulong)probe_lw, UNMAPPED_PA + 0x40);

    /* AMOs are stores as far as exceptions go: store/AMO access fault, LR a load access fault */
    trap_clear();
    probe_amoadd_w(UNMAPPED_PA + 0x20, 1);
    expect_trap("amo_access_fault_is_store_fault", &mtrap, CAUSE_STORE_ACCESS, (ulong)probe_amoadd_w,
                UNMAPPED_PA + 0x20);
    trap_clear();
    ulong v2 = 0;
    asm volatile("lr.d %0, (%1)" : "+r"(v2) : "r"(UNMAPPED_PA + 0x28) : "memory");
    expect_trap("lr_access_fault_is_load_fault", &mtrap, CAUSE_LOAD_ACCESS, ANY, UNMAPPED_PA + 0x28);
}

static void test_vectored(void)
{
    ulong vec = (ulong)m_vector_table | 1;
    csr_write(mtvec, vec);
    check_eq("mtvec_vectored_readback", csr_read(mtvec), vec);

    trap_clear();
    csr_write(mie, MIP_MSIP);
    set_msip(0, 1);
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    expect_trap("vectored_msi_cause", &mtrap, INTR | IRQ_MSI, ANY, 0);
    check_eq("vectored_msi_entry", mtrap.vector, IRQ_MSI);

    trap_clear();
    csr_write(mie, MIP_MTIP);
    set_mtimecmp(0, 0); /* mtime >= 0: pending at once */
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    expect_trap("vectored_mti_cause", &mtrap, INTR | IRQ_MTI, ANY, 0);
    check_eq("vectored_mti_entry", mtrap.vector, IRQ_MTI);

    trap_clear();
    csr_write(mie, MIP_SSIP);
    csr_set(mip, MIP_SSIP); /* not delegated: an M-mode interrupt */
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    expect_trap("vectored_ssi_cause", &mtrap, INTR | IRQ_SSI, ANY, 0);
    check_eq("vectored_ssi_entry", mtrap.vector, IRQ_SSI);
    csr_write(mie, 0);

    trap_clear();
    asm volatile("li a7, 0; ecall" ::: "a7", "memory");
    expect_trap("vectored_exception_cause", &mtrap, CAUSE_MACHINE_ECALL, ANY, 0);
    check_eq("vectored_exception_uses_base", mtrap.vector, 0);

    csr_write(mtvec, (ulong)m_trap_entry);
    trap_clear();
    csr_write(mie, MIP_MSIP);
    set_msip(0, 1);
    csr_set(mstatus, MSTATUS_MIE);
    asm volatile("nop; nop; nop");
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    expect_trap("direct_msi_cause", &mtrap, INTR | IRQ_MSI, ANY, 0);
    check_eq("direct_msi_entry", mtrap.vector, -1UL);
}

static void test_epc(void)
{
    ulong old = csr_read(mepc);
    csr_write(mepc, 0x80001235UL);
    check_eq("mepc_bit0_zero", csr_read(mepc), 0x80001234UL);
    csr_write(mepc, old);
    csr_write(mcause, 5);
    check_eq("mcause_writable", csr_read(mcause), 5);
}

void test_main(void)
{
    test_illegal();
    test_ecall_ebreak();
    test_misaligned_amo();
    test_access_faults();
    test_vectored();
    test_epc();
}
