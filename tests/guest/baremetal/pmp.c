/* Physical memory protection: S/U accesses with no PMP entry at all or outside every region fail,
 * NAPOT, NA4 and TOR regions with per-region R/W/X, lowest-numbered match wins, an entry matching
 * only part of an access makes it fail, implicit page-table reads are checked, unlocked entries do
 * not apply to M-mode but locked ones do (and cannot be changed, nor the pmpaddr below a locked TOR
 * entry). */
#include "bm.h"

#define R 0x01
#define W 0x02
#define X 0x04
#define A_TOR 0x08
#define A_NA4 0x10
#define A_NAPOT 0x18
#define L 0x80

static ulong pg_r[512] ALIGNED(4096);
static ulong pg_tor[1024] ALIGNED(4096);
static ulong pg_rw[512] ALIGNED(4096);
static ulong pg_none[512] ALIGNED(4096);
static ulong pg_part[512] ALIGNED(4096);
static ulong pg_lock[512] ALIGNED(4096);
#define FAR_PA 0x80400000UL /* RAM outside the image: in no PMP region */

static ulong napot(ulong base, ulong size) { return (base >> 2) | ((size >> 3) - 1); }

static void set_pmpaddr(int i, ulong v)
{
    switch (i) {
    case 0: csr_write(pmpaddr0, v); break;
    case 1: csr_write(pmpaddr1, v); break;
    case 2: csr_write(pmpaddr2, v); break;
    case 3: csr_write(pmpaddr3, v); break;
    case 4: csr_write(pmpaddr4, v); break;
    case 5: csr_write(pmpaddr5, v); break;
    case 6: csr_write(pmpaddr6, v); break;
    case 7: csr_write(pmpaddr7, v); break;
    }
}

static void set_cfg(int i, ulong cfg)
{
    ulong c = csr_read(pmpcfg0);
    c = (c & ~(0xffUL << (8 * i))) | (cfg << (8 * i));
    csr_write(pmpcfg0, c);
}

static void pmp_set(int i, ulong addr, ulong cfg)
{
    set_pmpaddr(i, addr);
    set_cfg(i, cfg);
}

static long s_ld(ulong a) { return call_in_mode(PRV_S, probe_ld, (long)a, 0); }
static long s_lw(ulong a) { return call_in_mode(PRV_S, probe_lw, (long)a, 0); }
static long s_sd(ulong a, ulong v) { return call_in_mode(PRV_S, probe_sd, (long)a, (long)v); }
static long s_exec(ulong a) { return call_in_mode(PRV_S, probe_exec, (long)a, 0); }
static long u_ld(ulong a) { return call_in_mode(PRV_U, probe_ld, (long)a, 0); }

static void expect_start_fault(const char *name, long r, ulong trampoline)
{
    if (r == -1 && mtrap.count == 1 && mtrap.cause == CAUSE_FETCH_ACCESS && mtrap.epc == trampoline) {
        check(name, 1);
        return;
    }
    puts_("INFO: ");
    puts_(name);
    puts_(": the call returned ");
    put_hex((ulong)r);
    puts_(" after ");
    put_dec(mtrap.count);
    puts_(" M traps, last cause=");
    put_hex(mtrap.cause);
    puts_(" epc=");
    put_hex(mtrap.epc);
    puts_(" (want one instruction access fault at ");
    put_hex(trampoline);
    puts_(")\n");
    check(name, 0);
}

static void test_no_entries(void)
{
    csr_write(pmpcfg0, 0);
    csr_write(pmpcfg2, 0);
    csr_write(pmpaddr0, 0);
    sfence_vma();
    /* M-mode still runs (no match: M accesses succeed) */
    check_eq("no_pmp_entries_m_runs", pg_r[0], 0);
    trap_clear();
    long r = call_in_mode(PRV_S, probe_ecall, 0, 0);
    expect_start_fault("no_pmp_entries_s_fetch_fails", r, (ulong)lower_trampoline_s);
    trap_clear();
    r = call_in_mode(PRV_U, probe_ecall, 0, 0);
    expect_start_fault("no_pmp_entries_u_fetch_fails", r, (ulong)lower_trampoline);
}

static void setup(void)
{
    for (int i = 0; i < 512; i++) {
        pg_r[i] = 0x11110000UL + i;
        pg_rw[i] = 0x22220000UL + i;
        pg_none[i] = 0x33330000UL + i;
        pg_part[i] = 0x44440000UL + i;
    }
    /* code in the X-only TOR range: li a0, 0x5a; ret */
    pg_tor[0] = 0x0000806705a00513UL;
    asm volatile("fence.i" ::: "memory");
    csr_write(pmpcfg0, 0);
    pmp_set(0, napot((ulong)pg_r, 4096), A_NAPOT | R);
    pmp_set(1, (ulong)pg_tor >> 2, 0); /* OFF: the bottom of entry 2's TOR range */
    pmp_set(2, ((ulong)pg_tor + 8192) >> 2, A_TOR | X);
    pmp_set(3, napot((ulong)pg_rw, 4096), A_NAPOT | R | W);
    pmp_set(4, napot((ulong)pg_none, 4096), A_NAPOT);
    pmp_set(5, 0, 0);
    pmp_set(6, (ulong)pg_part >> 2, A_NA4 | R | W); /* the first 4 bytes of pg_part */
    pmp_set(7, napot(RAM_BASE, 0x200000), A_NAPOT | R | W | X); /* the whole image */
}

static void test_regions(void)
{
    check_eq("pmpcfg0_readback", csr_read(pmpcfg0),
             (ulong)(A_NAPOT | R) | ((ulong)(A_TOR | X) << 16) | ((ulong)(A_NAPOT | R | W) << 24) |
                 ((ulong)A_NAPOT << 32) | ((ulong)(A_NA4 | R | W) << 48) | ((ulong)(A_NAPOT | R | W | X) << 56));
    check_eq("pmpaddr3_readback", csr_read(pmpaddr3), napot((ulong)pg_rw, 4096));

    /* outside every region */
    trap_clear();
    s_ld(FAR_PA);
    expect_trap("s_load_outside_regions", &mtrap, CAUSE_LOAD_ACCESS, (ulong)probe_ld, FAR_PA);
    trap_clear();
    s_sd(FAR_PA + 8, 1);
    expect_trap("s_store_outside_regions", &mtrap, CAUSE_STORE_ACCESS, (ulong)probe_sd, FAR_PA + 8);
    trap_clear();
    s_exec(FAR_PA + 0x40);
    expect_trap("s_fetch_outside_regions", &mtrap, CAUSE_FETCH_ACCESS, FAR_PA + 0x40, FAR_PA + 0x40);
    trap_clear();
    u_ld(FAR_PA + 0x10);
    expect_trap("u_load_outside_regions", &mtrap, CAUSE_LOAD_ACCESS, (ulong)probe_ld, FAR_PA + 0x10);
    trap_clear();
    MMIO64(FAR_PA) = 0x1234;
    check_eq("m_access_outside_regions_ok", MMIO64(FAR_PA), 0x1234);
    expect_no_trap("m_access_outside_regions_no_trap");

    /* NAPOT, read-only */
    trap_clear();
    check_eq("napot_r_load", s_ld((ulong)&pg_r[3]), 0x11110003UL);
    expect_no_trap("napot_r_load_no_trap");
    trap_clear();
    s_sd((ulong)&pg_r[3], 5);
    expect_trap("napot_r_store_faults", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)&pg_r[3]);
    check_eq("napot_r_store_no_write", pg_r[3], 0x11110003UL);
    trap_clear();
    s_exec((ulong)pg_r);
    expect_trap("napot_r_fetch_faults", &mtrap, CAUSE_FETCH_ACCESS, (ulong)pg_r, (ulong)pg_r);

    /* TOR, execute-only, two pages */
    trap_clear();
    check_eq("tor_x_fetch", s_exec((ulong)pg_tor), 0x5a);
    expect_no_trap("tor_x_fetch_no_trap");
    trap_clear();
    s_ld((ulong)&pg_tor[600]);
    expect_trap("tor_x_load_faults", &mtrap, CAUSE_LOAD_ACCESS, ANY, (ulong)&pg_tor[600]);
    trap_clear();
    s_sd((ulong)&pg_tor[8], 1);
    expect_trap("tor_x_store_faults", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)&pg_tor[8]);

    /* NAPOT read-write */
    trap_clear();
    s_sd((ulong)&pg_rw[7], 0x77);
    check_eq("napot_rw_store", pg_rw[7], 0x77);
    check_eq("napot_rw_load", s_ld((ulong)&pg_rw[7]), 0x77);
    expect_no_trap("napot_rw_no_trap");
    trap_clear();
    s_exec((ulong)pg_rw);
    expect_trap("napot_rw_fetch_faults", &mtrap, CAUSE_FETCH_ACCESS, (ulong)pg_rw, (ulong)pg_rw);

    /* no permissions at all: S and U fault, M (unlocked entry) does not */
    trap_clear();
    s_ld((ulong)pg_none);
    expect_trap("napot_none_s_load_faults", &mtrap, CAUSE_LOAD_ACCESS, ANY, (ulong)pg_none);
    trap_clear();
    u_ld((ulong)pg_none + 8);
    expect_trap("napot_none_u_load_faults", &mtrap, CAUSE_LOAD_ACCESS, ANY, (ulong)pg_none + 8);
    trap_clear();
    check_eq("unlocked_entry_ignored_in_m", probe_ld((ulong)pg_none), 0x33330000UL);
    expect_no_trap("unlocked_entry_ignored_in_m_no_trap");

    /* an AMO needs read and write: store/AMO access fault on a read-only or no-access region */
    trap_clear();
    call_in_mode(PRV_S, probe_amoadd_w, (long)&pg_r[5], 1);
    expect_trap("amo_on_r_region_store_fault", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)&pg_r[5]);
    trap_clear();
    call_in_mode(PRV_S, probe_amoadd_w, (long)&pg_none[5], 1);
    expect_trap("amo_on_none_region_store_fault", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)&pg_none[5]);

    /* lowest-numbered match wins: entry 0 (R) before entry 7 (RWX) */
    trap_clear();
    s_sd((ulong)pg_r, 9);
    expect_trap("lowest_entry_wins", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)pg_r);

    /* NA4 entry 6 covers 4 bytes of pg_part: a 4-byte access matches it, an 8-byte one only partly,
     * which fails although entry 7 would allow it */
    trap_clear();
    check_eq("na4_word_load", (ulong)s_lw((ulong)pg_part), 0x44440000UL);
    expect_no_trap("na4_word_load_no_trap");
    trap_clear();
    s_ld((ulong)pg_part);
    expect_trap("partial_match_load_fails", &mtrap, CAUSE_LOAD_ACCESS, ANY, (ulong)pg_part);
    trap_clear();
    s_sd((ulong)pg_part, 0);
    expect_trap("partial_match_store_fails", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)pg_part);
    trap_clear();
    check_eq("beyond_na4_uses_next_entry", s_ld((ulong)&pg_part[1]), 0x44440001UL);
    expect_no_trap("beyond_na4_no_trap");

    /* odd pmpcfg registers do not exist on RV64 */
    trap_clear();
    asm volatile("csrr t0, pmpcfg1" ::: "t0", "memory");
    expect_trap("pmpcfg1_illegal_on_rv64", &mtrap, CAUSE_ILLEGAL, ANY, ANY);
}

static void test_page_walk(void)
{
    /* implicit page-table reads are S-mode accesses checked by PMP: entry 5 forbids the root table */
    pt_build();
    pmp_set(5, napot((ulong)pt_root, 4096), A_NAPOT);
    csr_write(satp, satp_sv39());
    sfence_vma();
    trap_clear();
    long r = call_in_mode(PRV_S, probe_ecall, 0, 0);
    expect_start_fault("pmp_checks_page_walk", r, (ulong)lower_trampoline_s);
    pmp_set(5, napot((ulong)pt_root, 4096), A_NAPOT | R);
    trap_clear();
    check_eq("pmp_allows_page_walk", call_in_mode(PRV_S, sexec_target, 0, 0), 0x5a);
    expect_no_trap("pmp_allows_page_walk_no_trap");
    csr_write(satp, 0);
    sfence_vma();
    pmp_set(5, 0, 0);
}

static void test_locked(void)
{
    /* entry 2 (TOR, X only) locked: applies to M, pmpaddr1 (its bottom) is locked too */
    ulong before = csr_read(pmpaddr1);
    set_cfg(2, A_TOR | X | L);
    trap_clear();
    probe_ld((ulong)&pg_tor[2]);
    expect_trap("locked_tor_applies_to_m", &mtrap, CAUSE_LOAD_ACCESS, ANY, (ulong)&pg_tor[2]);
    csr_write(pmpaddr1, before + 0x100);
    check_eq("locked_tor_locks_pmpaddr_below", csr_read(pmpaddr1), before);

    /* entry 0 locked read-only on pg_lock */
    pg_lock[0] = 0xabc;
    pmp_set(0, napot((ulong)pg_lock, 4096), A_NAPOT | R | L);
    trap_clear();
    check_eq("locked_r_m_load", probe_ld((ulong)pg_lock), 0xabc);
    expect_no_trap("locked_r_m_load_no_trap");
    trap_clear();
    probe_sd((ulong)&pg_lock[1], 1);
    expect_trap("locked_applies_to_m_store", &mtrap, CAUSE_STORE_ACCESS, ANY, (ulong)&pg_lock[1]);
    trap_clear();
    probe_exec((ulong)pg_lock);
    expect_trap("locked_applies_to_m_fetch", &mtrap, CAUSE_FETCH_ACCESS, (ulong)pg_lock, (ulong)pg_lock);
    ulong cfg = csr_read(pmpcfg0);
    csr_write(pmpcfg0, cfg & ~0xffUL);
    check_eq("locked_cfg_unchanged", csr_read(pmpcfg0) & 0xff, A_NAPOT | R | L);
    csr_write(pmpaddr0, 0);
    check_eq("locked_addr_unchanged", csr_read(pmpaddr0), napot((ulong)pg_lock, 4096));
}

void test_main(void)
{
    test_no_entries();
    setup();
    test_regions();
    test_page_walk();
    test_locked();
}
