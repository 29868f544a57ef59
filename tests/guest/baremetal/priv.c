/* Privilege transitions: mret to S and U (MPP), sret to U and S (SPP), ecall back up, the stacking of
 * MIE/MPIE and SIE/SPIE on traps and xRET, illegal xRETs, and MPRV with MPP = S / U for data accesses. */
#include "bm.h"

#define MPP_OF(s) (((s) & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT)

/* S-mode helpers (in .utext so that they may keep running after an sret to U) */
long s_sret_to_u(void);
long s_sret_to_s(void);
long s_mret(void);
long s_sret(void);
extern char s_sret_to_u_ecall[], s_sret_to_s_ecall[];
asm(".pushsection .utext, \"ax\"\n"
    "s_sret_to_u:\n"
    "  li t0, 0x100\n"           /* SPP = U */
    "  csrc sstatus, t0\n"
    "  la t0, s_sret_to_u_ecall\n"
    "  csrw sepc, t0\n"
    "  sret\n"
    "s_sret_to_u_ecall:\n"
    "  ecall\n"                  /* from U: cause 8 */
    "  ret\n"
    "s_sret_to_s:\n"
    "  li t0, 0x100\n"           /* SPP = S */
    "  csrs sstatus, t0\n"
    "  li t0, 0x20\n"            /* SPIE = 1 */
    "  csrs sstatus, t0\n"
    "  li t0, 0x2\n"             /* SIE = 0 */
    "  csrc sstatus, t0\n"
    "  la t0, s_sret_to_s_ecall\n"
    "  csrw sepc, t0\n"
    "  sret\n"
    "s_sret_to_s_ecall:\n"
    "  csrr a0, sstatus\n"       /* after sret: SIE = old SPIE, SPIE = 1, SPP = U */
    "  ecall\n"                  /* from S: cause 9 */
    "  ret\n"
    "s_mret:\n"
    "  mret\n"
    "  ret\n"
    "s_sret:\n"
    "  sret\n"
    "  ret\n"
    ".popsection\n");

static void test_mret_targets(void)
{
    trap_clear();
    call_in_mode(PRV_S, probe_ecall, 0, 0);
    expect_trap("mret_to_s_then_ecall", &mtrap, CAUSE_SUPERVISOR_ECALL, (ulong)probe_ecall, 0);
    check_eq("trap_from_s_sets_mpp_s", MPP_OF(mtrap.status), PRV_S);

    trap_clear();
    call_in_mode(PRV_U, probe_ecall, 0, 0);
    expect_trap("mret_to_u_then_ecall", &mtrap, CAUSE_USER_ECALL, (ulong)probe_ecall, 0);
    check_eq("trap_from_u_sets_mpp_u", MPP_OF(mtrap.status), PRV_U);

    /* S may read sstatus, U may not */
    trap_clear();
    call_in_mode(PRV_S, probe_csrr_sstatus, 0, 0);
    expect_no_trap("s_reads_sstatus");
    trap_clear();
    call_in_mode(PRV_U, probe_csrr_sstatus, 0, 0);
    expect_trap("u_reads_sstatus_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_csrr_sstatus, ANY);
}

static void test_mret_stacking(void)
{
    ulong s;
    /* mret: MIE = MPIE, MPIE = 1, MPP = U (the least privileged mode) */
    csr_clear(mstatus, MSTATUS_MIE | MSTATUS_MPP);
    csr_set(mstatus, MSTATUS_MPIE | MSTATUS_MPP);
    asm volatile("la t0, 1f\n"
                 "csrw mepc, t0\n"
                 "mret\n"
                 "1: csrr %0, mstatus\n"
                 : "=r"(s)::"t0", "memory");
    csr_clear(mstatus, MSTATUS_MIE);
    check("mret_mie_from_mpie", s & MSTATUS_MIE);
    check("mret_sets_mpie", s & MSTATUS_MPIE);
    check_eq("mret_sets_mpp_u", MPP_OF(s), PRV_U);

    csr_clear(mstatus, MSTATUS_MIE | MSTATUS_MPIE);
    csr_set(mstatus, MSTATUS_MPP);
    asm volatile("la t0, 1f\n"
                 "csrw mepc, t0\n"
                 "mret\n"
                 "1: csrr %0, mstatus\n"
                 : "=r"(s)::"t0", "memory");
    check("mret_mie_clear_from_mpie", !(s & MSTATUS_MIE));

    /* a trap: MPIE = MIE, MIE = 0, MPP = M; mret restores MIE */
    csr_write(mie, 0);
    csr_clear(mstatus, MSTATUS_MPIE);
    csr_set(mstatus, MSTATUS_MIE);
    trap_clear();
    asm volatile("li a7, 0; ecall" ::: "a7", "memory");
    s = csr_read(mstatus);
    csr_clear(mstatus, MSTATUS_MIE);
    check("trap_clears_mie", !(mtrap.status & MSTATUS_MIE));
    check("trap_saves_mie_in_mpie", mtrap.status & MSTATUS_MPIE);
    check_eq("trap_from_m_sets_mpp_m", MPP_OF(mtrap.status), PRV_M);
    check("mret_restores_mie", s & MSTATUS_MIE);

    trap_clear();
    asm volatile("li a7, 0; ecall" ::: "a7", "memory");
    check("trap_saves_mie0_in_mpie", !(mtrap.status & MSTATUS_MPIE));
}

static void test_sret(void)
{
    trap_clear();
    call_in_mode(PRV_S, s_sret_to_u, 0, 0);
    expect_trap("sret_spp_u_goes_to_u", &mtrap, CAUSE_USER_ECALL, (ulong)s_sret_to_u_ecall, 0);

    trap_clear();
    ulong s = call_in_mode(PRV_S, s_sret_to_s, 0, 0);
    expect_trap("sret_spp_s_stays_in_s", &mtrap, CAUSE_SUPERVISOR_ECALL, (ulong)s_sret_to_s_ecall + 4, 0);
    check("sret_sie_from_spie", s & MSTATUS_SIE);
    check("sret_sets_spie", s & MSTATUS_SPIE);
    check("sret_sets_spp_u", !(s & MSTATUS_SPP));
    csr_clear(mstatus, MSTATUS_SIE);

    trap_clear();
    call_in_mode(PRV_S, s_mret, 0, 0);
    expect_trap("mret_in_s_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)s_mret, ANY);
    trap_clear();
    call_in_mode(PRV_U, s_sret, 0, 0);
    expect_trap("sret_in_u_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)s_sret, ANY);
    csr_set(mstatus, MSTATUS_TSR);
    trap_clear();
    call_in_mode(PRV_S, s_sret, 0, 0);
    expect_trap("sret_in_s_with_tsr_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)s_sret, ANY);
    csr_clear(mstatus, MSTATUS_TSR);
}

/* delegated traps stack SIE/SPIE/SPP the way M traps stack MIE/MPIE/MPP */
static void test_s_trap_stacking(void)
{
    csr_write(stvec, (ulong)s_trap_entry);
    csr_write(medeleg, (1UL << CAUSE_USER_ECALL) | (1UL << CAUSE_ILLEGAL));

    csr_set(mstatus, MSTATUS_SIE);
    trap_clear();
    call_in_mode(PRV_U, probe_ecall, 0, 0);
    expect_trap("deleg_ecall_from_u", &strap, CAUSE_USER_ECALL, (ulong)probe_ecall, 0);
    check("s_trap_clears_sie", !(strap.status & MSTATUS_SIE));
    check("s_trap_saves_sie_in_spie", strap.status & MSTATUS_SPIE);
    check("s_trap_from_u_sets_spp_u", !(strap.status & MSTATUS_SPP));

    csr_clear(mstatus, MSTATUS_SIE | MSTATUS_SPIE);
    trap_clear();
    call_in_mode(PRV_S, s_mret, 0, 0);
    expect_trap("deleg_illegal_from_s", &strap, CAUSE_ILLEGAL, (ulong)s_mret, ANY);
    check("s_trap_saves_sie0_in_spie", !(strap.status & MSTATUS_SPIE));
    check("s_trap_from_s_sets_spp_s", strap.status & MSTATUS_SPP);

    /* M-mode exceptions are never delegated */
    trap_clear();
    asm volatile(".word 0x1234507b" ::: "memory");
    expect_trap("m_exception_not_delegated", &mtrap, CAUSE_ILLEGAL, ANY, ANY);
    csr_write(medeleg, 0);
}

/* -- MPRV ---------------------------------------------------------------------------------------------- */
static ulong mprv_page[512] ALIGNED(4096);
static ulong other_page[512] ALIGNED(4096);
static pte_t mprv_root[512] ALIGNED(4096);
static pte_t mprv_l1[512] ALIGNED(4096);
static pte_t mprv_l0[512] ALIGNED(4096);
#define ALIAS 0xC0000000UL /* root entry 3 */

static long mprv_load(ulong addr, ulong mpp)
{
    long v = -1;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, mpp << MSTATUS_MPP_SHIFT);
    /* no stack accesses while MPRV is set: they would be translated too */
    asm volatile("csrs mstatus, %2\n"
                 "ld %0, 0(%1)\n"
                 "csrc mstatus, %2\n"
                 : "+&r"(v) : "r"(addr), "r"(MSTATUS_MPRV) : "memory");
    return v;
}

static long mprv_store(ulong addr, ulong value, ulong mpp)
{
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, mpp << MSTATUS_MPP_SHIFT);
    asm volatile("csrs mstatus, %2\n"
                 "sd %1, 0(%0)\n"
                 "csrc mstatus, %2\n"
                 :: "r"(addr), "r"(value), "r"(MSTATUS_MPRV) : "memory");
    return 0;
}

static void test_mprv(void)
{
    mprv_page[0] = 0x1122334455667788UL;
    other_page[0] = 0xabcdUL;
    /* a page table with nothing but ALIAS -> mprv_page: M-mode code and stack are not mapped */
    mprv_root[3] = PTE_TABLE(mprv_l1);
    mprv_l1[0] = PTE_TABLE(mprv_l0);
    mprv_l0[0] = PTE_LEAF(mprv_page, PTE_R | PTE_W);
    csr_write(satp, SATP_SV39 | ((ulong)mprv_root >> 12));
    sfence_vma();

    trap_clear();
    long v = mprv_load(ALIAS, PRV_S);
    expect_no_trap("mprv_s_load_translated_no_fault");
    check_eq("mprv_s_load_translated", v, 0x1122334455667788UL);
    trap_clear();
    mprv_store(ALIAS + 8, 0x55, PRV_S);
    expect_no_trap("mprv_s_store_translated_no_fault");
    check_eq("mprv_s_store_translated", mprv_page[1], 0x55);

    /* MPRV with MPP = M: no translation */
    trap_clear();
    v = mprv_load((ulong)other_page, PRV_M);
    expect_no_trap("mprv_mpp_m_untranslated_no_fault");
    check_eq("mprv_mpp_m_untranslated", v, 0xabcd);

    /* without MPRV, M-mode loads are not translated: ALIAS is no memory at all */
    trap_clear();
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, PRV_S << MSTATUS_MPP_SHIFT);
    probe_ld(ALIAS);
    expect_trap("no_mprv_untranslated", &mtrap, CAUSE_LOAD_ACCESS, ANY, ALIAS);

    /* MPP = U: the page is not a U page */
    trap_clear();
    mprv_load(ALIAS, PRV_U);
    expect_trap("mprv_u_load_supervisor_page_faults", &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, ALIAS);
    check_eq("mprv_fault_taken_from_m", MPP_OF(mtrap.status), PRV_M);

    /* MPP = S on a U page: faults unless SUM */
    mprv_l0[0] = PTE_LEAF(mprv_page, PTE_R | PTE_W | PTE_U);
    sfence_vma();
    trap_clear();
    mprv_load(ALIAS, PRV_S);
    expect_trap("mprv_s_load_user_page_faults", &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, ALIAS);
    csr_set(mstatus, MSTATUS_SUM);
    trap_clear();
    v = mprv_load(ALIAS, PRV_S);
    csr_clear(mstatus, MSTATUS_SUM);
    expect_no_trap("mprv_s_load_user_page_with_sum");
    check_eq("mprv_s_load_user_page_with_sum_value", v, 0x1122334455667788UL);
    trap_clear();
    v = mprv_load(ALIAS, PRV_U);
    expect_no_trap("mprv_u_load_user_page");

    csr_write(satp, 0);
    sfence_vma();

    /* an mret to a less privileged mode clears MPRV */
    csr_set(mstatus, MSTATUS_MPRV);
    trap_clear();
    call_in_mode(PRV_S, probe_ecall, 0, 0);
    check("mret_to_s_clears_mprv", mtrap.count == 1 && !(mtrap.status & MSTATUS_MPRV) &&
                                       !(csr_read(mstatus) & MSTATUS_MPRV));
    csr_clear(mstatus, MSTATUS_MPRV);
}

void test_main(void)
{
    test_mret_targets();
    test_mret_stacking();
    test_sret();
    test_s_trap_stacking();
    test_mprv();
}
