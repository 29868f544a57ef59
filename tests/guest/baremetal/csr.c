/* CSRs: misa, mhartid, illegal accesses (nonexistent CSR, write to a read-only CSR, S-mode access to
 * an M-mode CSR, U-mode access to an S-mode CSR), the counters with mcounteren/scounteren, minstret
 * writes, and the FP state: FS = Off makes FP instructions and CSRs illegal, FP writes make FS Dirty
 * (and SD set). */
#include "bm.h"

long probe_rdcycle(void);
long probe_rdtime(void);
long probe_rdinstret(void);
long probe_write_sscratch(long v);
asm(".pushsection .utext, \"ax\"\n"
    "probe_rdcycle:\n  rdcycle a0\n  ret\n"
    "probe_rdtime:\n  rdtime a0\n  ret\n"
    "probe_rdinstret:\n  rdinstret a0\n  ret\n"
    "probe_write_sscratch:\n  csrw sscratch, a0\n  ret\n"
    ".popsection\n");

#define MISA_BIT(c) (1UL << ((c) - 'A'))

static void test_id(void)
{
    ulong misa = csr_read(misa);
    check_eq("misa_mxl_rv64", misa >> 62, 2);
    ulong want = MISA_BIT('I') | MISA_BIT('M') | MISA_BIT('A') | MISA_BIT('F') | MISA_BIT('D') |
                 MISA_BIT('C') | MISA_BIT('S') | MISA_BIT('U');
    check_eq("misa_imafdc_su", misa & want, want);
    check("misa_not_rv32e", !(misa & MISA_BIT('E')));
    check_eq("mhartid_0", csr_read(mhartid), 0);
    trap_clear();
    ulong v = csr_read(mvendorid) | csr_read(marchid) | csr_read(mimpid);
    (void)v;
    expect_no_trap("id_csrs_readable");
    ulong old = csr_swap(mscratch, 0xfeedfacecafeUL); /* mscratch holds the trap stack: put it back */
    ulong got = csr_swap(mscratch, old);
    check_eq("mscratch_rw", got, 0xfeedfacecafeUL);
    ulong ms = csr_read(mstatus);
    check_eq("mstatus_uxl_sxl_64", (ms >> 32) & 0xf, 0xa);
}

static void test_illegal_access(void)
{
    ulong pc;
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: .word 0x7c002573\n" /* csrr a0, 0x7c0: no such CSR */
                 : "=&r"(pc)::"a0", "memory");
    expect_trap("nonexistent_csr_illegal", &mtrap, CAUSE_ILLEGAL, pc, 0x7c002573);

    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: .word 0xf1401073\n" /* csrw mhartid, zero */
                 : "=&r"(pc)::"memory");
    expect_trap("write_mhartid_illegal", &mtrap, CAUSE_ILLEGAL, pc, 0xf1401073);
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: .word 0xf140e073\n" /* csrrsi zero, mhartid, 1 */
                 : "=&r"(pc)::"memory");
    expect_trap("set_bits_mhartid_illegal", &mtrap, CAUSE_ILLEGAL, pc, 0xf140e073);
    trap_clear();
    ulong id;
    asm volatile("csrrs %0, mhartid, zero" : "=r"(id)::"memory"); /* rs1 = x0: a read, legal */
    expect_no_trap("csrrs_x0_read_only_csr_ok");
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: .word 0xc0001073\n" /* csrw cycle, zero (unimp) */
                 : "=&r"(pc)::"memory");
    expect_trap("write_cycle_illegal", &mtrap, CAUSE_ILLEGAL, pc, 0xc0001073);

    trap_clear();
    call_in_mode(PRV_S, probe_csrr_mstatus, 0, 0);
    expect_trap("s_reads_mstatus_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_csrr_mstatus, 0x30002573);
    trap_clear();
    call_in_mode(PRV_U, probe_csrr_sstatus, 0, 0);
    expect_trap("u_reads_sstatus_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_csrr_sstatus, 0x10002573);
    trap_clear();
    call_in_mode(PRV_U, probe_write_sscratch, 5, 0);
    expect_trap("u_writes_sscratch_illegal", &mtrap, CAUSE_ILLEGAL, (ulong)probe_write_sscratch, ANY);
    trap_clear();
    ulong old = csr_read(sscratch);
    call_in_mode(PRV_S, probe_write_sscratch, 0x5c5c, 0);
    check_eq("s_writes_sscratch", csr_swap(sscratch, old), 0x5c5c);
    expect_no_trap("s_writes_sscratch_no_trap");
}

static void test_counters(void)
{
    trap_clear();
    ulong c0 = csr_read(cycle), i0 = csr_read(instret), t0 = csr_read(time);
    ulong mt0 = mtime();
    for (volatile int i = 0; i < 100; i++)
        ;
    ulong c1 = csr_read(cycle), i1 = csr_read(instret), t1 = csr_read(time);
    ulong mt1 = mtime();
    expect_no_trap("m_reads_counters");
    check("cycle_advances", c1 > c0);
    check("instret_counts_instructions", i1 - i0 >= 300 && i1 - i0 < 100000);
    check("time_advances", t1 >= t0);
    check("time_is_mtime", t0 <= mt0 + TICKS_PER_MS && mt0 <= t1 && t1 <= mt1 + TICKS_PER_MS);
    check_eq("mcycle_is_cycle_counter", csr_read(mcycle) >= c1, 1);

    csr_write(minstret, 1000000);
    ulong after = csr_read(minstret);
    check("minstret_writable", after >= 1000000 && after < 1001000);

    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
    void *probes[3] = {probe_rdcycle, probe_rdtime, probe_rdinstret};
    static const char *s_off[3] = {"s_cycle_mcounteren_off_illegal", "s_time_mcounteren_off_illegal",
                                   "s_instret_mcounteren_off_illegal"};
    static const char *s_on[3] = {"s_cycle_mcounteren_on", "s_time_mcounteren_on", "s_instret_mcounteren_on"};
    static const char *u_off[3] = {"u_cycle_scounteren_off_illegal", "u_time_scounteren_off_illegal",
                                   "u_instret_scounteren_off_illegal"};
    static const char *u_on[3] = {"u_cycle_both_on", "u_time_both_on", "u_instret_both_on"};
    static const char *u_moff[3] = {"u_cycle_mcounteren_off_illegal", "u_time_mcounteren_off_illegal",
                                    "u_instret_mcounteren_off_illegal"};
    for (int i = 0; i < 3; i++) {
        trap_clear();
        call_in_mode(PRV_S, probes[i], 0, 0);
        expect_trap(s_off[i], &mtrap, CAUSE_ILLEGAL, (ulong)probes[i], ANY);
    }
    csr_write(mcounteren, 7);
    for (int i = 0; i < 3; i++) {
        trap_clear();
        long v = call_in_mode(PRV_S, probes[i], 0, 0);
        check(s_on[i], mtrap.count == 0 && v != 0);
        trap_clear();
        call_in_mode(PRV_U, probes[i], 0, 0);
        expect_trap(u_off[i], &mtrap, CAUSE_ILLEGAL, (ulong)probes[i], ANY);
    }
    csr_write(scounteren, 7);
    for (int i = 0; i < 3; i++) {
        trap_clear();
        long v = call_in_mode(PRV_U, probes[i], 0, 0);
        check(u_on[i], mtrap.count == 0 && v != 0);
    }
    csr_write(mcounteren, 0);
    for (int i = 0; i < 3; i++) {
        trap_clear();
        call_in_mode(PRV_U, probes[i], 0, 0);
        expect_trap(u_moff[i], &mtrap, CAUSE_ILLEGAL, (ulong)probes[i], ANY);
    }
    /* the bits are separate: TM alone */
    csr_write(mcounteren, 2);
    trap_clear();
    call_in_mode(PRV_S, probe_rdtime, 0, 0);
    expect_no_trap("s_time_with_tm_only");
    trap_clear();
    call_in_mode(PRV_S, probe_rdcycle, 0, 0);
    expect_trap("s_cycle_with_tm_only_illegal", &mtrap, CAUSE_ILLEGAL, ANY, ANY);
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
}

#define FS_OF(s) (((s) & MSTATUS_FS) >> MSTATUS_FS_SHIFT)

static void set_fs(ulong fs)
{
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, fs << MSTATUS_FS_SHIFT);
}

static void test_fp(void)
{
    ulong pc;
    set_fs(0);
    check_eq("fs_off", FS_OF(csr_read(mstatus)), 0);
    trap_clear();
    asm volatile("la %0, 1f\n"
                 ".option push\n.option arch, +d\n"
                 "1: fadd.d f1, f2, f3\n"
                 ".option pop\n"
                 : "=&r"(pc)::"memory");
    expect_trap("fs_off_fadd_illegal", &mtrap, CAUSE_ILLEGAL, pc, 0x023170d3); /* rm = dyn */
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: fmv.d.x f1, zero\n"
                 : "=&r"(pc)::"memory");
    expect_trap("fs_off_fmv_illegal", &mtrap, CAUSE_ILLEGAL, pc, ANY);
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: fld f1, 0(sp)\n"
                 : "=&r"(pc)::"memory");
    expect_trap("fs_off_fld_illegal", &mtrap, CAUSE_ILLEGAL, pc, ANY);
    trap_clear();
    asm volatile("la %0, 1f\n"
                 "1: csrr t0, fcsr\n"
                 : "=&r"(pc)::"t0", "memory");
    expect_trap("fs_off_fcsr_illegal", &mtrap, CAUSE_ILLEGAL, pc, ANY);
    check_eq("fs_still_off", FS_OF(csr_read(mstatus)), 0);

    set_fs(1); /* Initial */
    ulong s = csr_read(mstatus);
    check("fs_initial_sd_clear", FS_OF(s) == 1 && !(s & MSTATUS_SD));
    trap_clear();
    asm volatile("fmv.d.x f1, %0" :: "r"(0x4000000000000000UL) : "memory");
    s = csr_read(mstatus);
    expect_no_trap("fs_initial_fp_ok");
    check_eq("fp_write_makes_fs_dirty", FS_OF(s), 3);
    check("fs_dirty_sets_sd", s & MSTATUS_SD);
    check("sstatus_sd_visible", csr_read(sstatus) & MSTATUS_SD);

    set_fs(2); /* Clean */
    s = csr_read(mstatus);
    check("fs_clean_sd_clear", FS_OF(s) == 2 && !(s & MSTATUS_SD));
    ulong r;
    asm volatile("fadd.d f3, f1, f1\n"
                 "fmv.x.d %0, f3\n"
                 : "=r"(r)::"memory");
    check_eq("fp_result", r, 0x4010000000000000UL);
    check_eq("fp_compute_makes_clean_dirty", FS_OF(csr_read(mstatus)), 3);

    set_fs(2);
    asm volatile("csrwi fflags, 1" ::: "memory");
    check_eq("fflags_write_makes_dirty", FS_OF(csr_read(mstatus)), 3);
    asm volatile("csrwi fflags, 0" ::: "memory");

    /* FS is also the S-mode view */
    set_fs(0);
    trap_clear();
    long v = call_in_mode(PRV_S, probe_csrr_sstatus, 0, 0);
    check_eq("sstatus_fs_off_view", FS_OF((ulong)v), 0);
}

void test_main(void)
{
    test_id();
    test_illegal_access();
    test_counters();
    test_fp();
}
