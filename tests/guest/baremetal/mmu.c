/* Sv39 and Sv48 address translation, page tables built here: 4 KiB pages, 2 MiB megapages, 1 GiB
 * gigapages (and a 512 GiB Sv48 terapage), misaligned superpages, the U bit with SUM, MXR for
 * execute-only pages, hardware A/D updates, store/fetch/load page faults with stval, invalid and
 * reserved PTEs, non-canonical addresses, sfence.vma after a PTE change, satp WARL and TVM. */
#include "bm.h"

static ulong pg_a[512] ALIGNED(4096);
static ulong pg_b[512] ALIGNED(4096);
static ulong pg_c[512] ALIGNED(4096);
static pte_t l1_t[512] ALIGNED(4096);
static pte_t l0_t[512] ALIGNED(4096);
static pte_t l1_m[512] ALIGNED(4096);
static unsigned short code_a[2048] ALIGNED(4096);
static unsigned short code_b[2048] ALIGNED(4096);
static volatile ulong image_word = 0x1234abcdUL;

#define VA_T 0xC0000000UL       /* root[3] -> l1_t -> l0_t: 4 KiB test pages */
#define T(i) (VA_T + ((ulong)(i) << 12))
#define VA_MEGA 0x100000000UL   /* root[4] -> l1_m: megapages */
#define VA_GIGA 0x140000000UL   /* root[5]: gigapage at RAM_BASE */
#define VA_GIGA_BAD 0x180000000UL /* root[6]: misaligned gigapage */
#define FAR_PA 0x80400000UL     /* RAM beyond the image */
#define VA_TERA 0x8000000000UL  /* Sv48 root[1]: terapage at PA 0 (non-canonical for Sv39) */

static char namebuf[96];
static const char *nm(const char *prefix, const char *name)
{
    char *p = namebuf;
    while (*prefix)
        *p++ = *prefix++;
    while (*name && p < namebuf + sizeof namebuf - 1)
        *p++ = *name++;
    *p = 0;
    return namebuf;
}

static void flush(void) { sfence_vma(); }
long sprobe_amoadd_w(ulong addr, ulong value);
asm(".text\nsprobe_amoadd_w:\n  amoadd.w a0, a1, (a0)\n  ret\n");

static long s_ld(ulong va) { return call_in_mode(PRV_S, sprobe_ld, (long)va, 0); }
static long s_sd(ulong va, ulong v) { return call_in_mode(PRV_S, sprobe_sd, (long)va, (long)v); }
static long s_exec(ulong va) { return call_in_mode(PRV_S, sprobe_exec, (long)va, 0); }
static long u_ld(ulong va) { return call_in_mode(PRV_U, probe_ld, (long)va, 0); }
static long u_exec(ulong va) { return call_in_mode(PRV_U, probe_exec, (long)va, 0); }

/* S-mode: read va (filling the TLB), rewrite its PTE, sfence.vma (one address or all), read again */
static long s_remap(long va, long pte_addr)
{
    volatile ulong *pte = (volatile ulong *)pte_addr;
    ulong first = *(volatile ulong *)va;
    (void)first;
    *pte = PTE_LEAF(pg_b, PTE_R);
    asm volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
    return *(volatile ulong *)va;
}

static long s_remap_all(long va, long pte_addr)
{
    volatile ulong *pte = (volatile ulong *)pte_addr;
    ulong first = *(volatile ulong *)va;
    (void)first;
    *pte = PTE_LEAF(pg_c, PTE_R);
    asm volatile("sfence.vma zero, zero" ::: "memory");
    return *(volatile ulong *)va;
}

static long s_read_satp(long a0, long a1) { return csr_read(satp); }
static long s_sfence(long a0, long a1) { sfence_vma(); return 0; }

static void setup_tables(void)
{
    pt_build();
    memset(l1_t, 0, sizeof l1_t);
    memset(l0_t, 0, sizeof l0_t);
    memset(l1_m, 0, sizeof l1_m);
    pt_root[3] = PTE_TABLE(l1_t);
    l1_t[0] = PTE_TABLE(l0_t);
    pt_root[4] = PTE_TABLE(l1_m);
    l1_m[0] = PTE_LEAF(RAM_BASE, PTE_R | PTE_W);
    l1_m[1] = PTE_LEAF(RAM_BASE + 0x1000, PTE_R | PTE_W); /* misaligned megapage */
    pt_root[5] = PTE_LEAF(RAM_BASE, PTE_R | PTE_W);
    pt_root[6] = PTE_LEAF(RAM_BASE + 0x200000, PTE_R | PTE_W); /* misaligned gigapage */
    pt_sv48_root[1] = PTE_LEAF(0, PTE_R | PTE_W); /* 512 GiB terapage */
    for (int i = 0; i < 512; i++) {
        pg_a[i] = 0xaaaa0000UL + i;
        pg_b[i] = 0xbbbb0000UL + i;
        pg_c[i] = 0xcccc0000UL + i;
    }
    MMIO64(FAR_PA) = 0xfa4fa4UL;
}

static void run(const char *p, ulong satp_value, int sv48)
{
    setup_tables();
    csr_write(satp, satp_value);
    flush();
    check_eq(nm(p, "satp_readback"), csr_read(satp), satp_value);
    check_eq(nm(p, "satp_read_in_s"), (ulong)call_in_mode(PRV_S, s_read_satp, 0, 0), satp_value);

    /* the identity map (4 KiB pages over the image, MMIO gigapage) lets S-mode code run at all */
    trap_clear();
    check_eq(nm(p, "s_runs_translated_4k_identity"), s_ld((ulong)&image_word), 0x1234abcdUL);
    expect_no_trap(nm(p, "s_runs_translated_no_trap"));

    /* 4 KiB page */
    l0_t[0] = PTE_LEAF(pg_a, PTE_R | PTE_W);
    flush();
    trap_clear();
    check_eq(nm(p, "4k_page_load"), s_ld(T(0) + 16), pg_a[2]);
    s_sd(T(0) + 8, 0x4b4b);
    check_eq(nm(p, "4k_page_store"), pg_a[1], 0x4b4b);
    expect_no_trap(nm(p, "4k_page_no_trap"));

    /* 2 MiB megapage and 1 GiB gigapage over RAM_BASE */
    trap_clear();
    check_eq(nm(p, "2m_megapage_load"), s_ld(VA_MEGA + ((ulong)&image_word - RAM_BASE)), 0x1234abcdUL);
    check_eq(nm(p, "1g_gigapage_load"), s_ld(VA_GIGA + ((ulong)&image_word - RAM_BASE)), 0x1234abcdUL);
    check_eq(nm(p, "1g_gigapage_load_far"), s_ld(VA_GIGA + (FAR_PA - RAM_BASE)), 0xfa4fa4UL);
    s_sd(VA_GIGA + (FAR_PA - RAM_BASE) + 8, 0x99);
    check_eq(nm(p, "1g_gigapage_store"), MMIO64(FAR_PA + 8), 0x99);
    expect_no_trap(nm(p, "superpages_no_trap"));

    trap_clear();
    s_ld(VA_MEGA + 0x200000);
    expect_trap(nm(p, "misaligned_megapage_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, VA_MEGA + 0x200000);
    trap_clear();
    s_ld(VA_GIGA_BAD + 0x10);
    expect_trap(nm(p, "misaligned_gigapage_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, VA_GIGA_BAD + 0x10);

    /* U bit and SUM */
    l0_t[1] = PTE_LEAF(pg_b, PTE_R | PTE_W | PTE_U);
    l0_t[2] = PTE_LEAF((ulong)exec_target & ~0xfffUL, PTE_R | PTE_X | PTE_U);
    flush();
    ulong va_ux = T(2) + ((ulong)exec_target & 0xfff);
    trap_clear();
    s_ld(T(1));
    expect_trap(nm(p, "s_load_u_page_without_sum_faults"), &mtrap, CAUSE_LOAD_PAGE_FAULT, (ulong)sprobe_ld, T(1));
    csr_set(mstatus, MSTATUS_SUM);
    trap_clear();
    long v = s_ld(T(1));
    expect_no_trap(nm(p, "s_load_u_page_with_sum_no_trap"));
    check_eq(nm(p, "s_load_u_page_with_sum"), v, pg_b[0]);
    trap_clear();
    s_exec(va_ux);
    expect_trap(nm(p, "s_exec_u_page_faults_even_with_sum"), &mtrap, CAUSE_FETCH_PAGE_FAULT, va_ux, va_ux);
    csr_clear(mstatus, MSTATUS_SUM);
    trap_clear();
    check_eq(nm(p, "u_load_u_page"), u_ld(T(1) + 8), pg_b[1]);
    check_eq(nm(p, "u_exec_u_page"), u_exec(va_ux), 0x5a);
    expect_no_trap(nm(p, "u_access_u_pages_no_trap"));
    trap_clear();
    u_ld(T(0));
    expect_trap(nm(p, "u_load_s_page_faults"), &mtrap, CAUSE_LOAD_PAGE_FAULT, (ulong)probe_ld, T(0));

    /* MXR: execute-only pages become readable */
    l0_t[3] = PTE_LEAF(pg_a, PTE_X);
    flush();
    trap_clear();
    s_ld(T(3));
    expect_trap(nm(p, "load_exec_only_page_faults"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, T(3));
    csr_set(mstatus, MSTATUS_MXR);
    trap_clear();
    v = s_ld(T(3) + 24);
    csr_clear(mstatus, MSTATUS_MXR);
    expect_no_trap(nm(p, "load_exec_only_page_with_mxr_no_trap"));
    check_eq(nm(p, "load_exec_only_page_with_mxr"), v, pg_a[3]);

    /* A and D set by hardware */
    l0_t[4] = PTE_PPN(pg_c) | PTE_V | PTE_R | PTE_W;
    flush();
    trap_clear();
    v = s_ld(T(4));
    check_eq(nm(p, "a_d_load_value"), v, pg_c[0]);
    check(nm(p, "hw_sets_a_on_load"), l0_t[4] & PTE_A);
    check(nm(p, "load_leaves_d_clear"), !(l0_t[4] & PTE_D));
    s_sd(T(4) + 8, 0xd1d1);
    check(nm(p, "hw_sets_d_on_store"), (l0_t[4] & (PTE_A | PTE_D)) == (PTE_A | PTE_D));
    check_eq(nm(p, "a_d_store_value"), pg_c[1], 0xd1d1);
    expect_no_trap(nm(p, "a_d_no_trap"));
    pg_c[1] = 0xcccc0001UL;

    /* store to a read-only page: store page fault, stval = the address, memory unchanged */
    l0_t[5] = PTE_LEAF(pg_a, PTE_R);
    flush();
    trap_clear();
    s_sd(T(5) + 0x20, 0x77);
    expect_trap(nm(p, "store_ro_page_fault"), &mtrap, CAUSE_STORE_PAGE_FAULT, (ulong)sprobe_sd, T(5) + 0x20);
    check_eq(nm(p, "store_ro_page_unchanged"), pg_a[4], 0xaaaa0004UL);

    /* AMOs raise store/AMO page faults, on read-only and on unmapped pages alike */
    trap_clear();
    call_in_mode(PRV_S, sprobe_amoadd_w, (long)(T(5) + 0x30), 1);
    expect_trap(nm(p, "amo_ro_page_store_fault"), &mtrap, CAUSE_STORE_PAGE_FAULT, (ulong)sprobe_amoadd_w, T(5) + 0x30);
    l0_t[17] = 0;
    flush();
    trap_clear();
    call_in_mode(PRV_S, sprobe_amoadd_w, (long)(T(17) + 0x30), 1);
    expect_trap(nm(p, "amo_invalid_pte_store_fault"), &mtrap, CAUSE_STORE_PAGE_FAULT, (ulong)sprobe_amoadd_w,
                T(17) + 0x30);

    /* fetch from a non-executable page; the same page executable */
    ulong se_page = (ulong)sexec_target & ~0xfffUL, se_off = (ulong)sexec_target & 0xfff;
    l0_t[6] = PTE_LEAF(se_page, PTE_R | PTE_W);
    l0_t[7] = PTE_LEAF(se_page, PTE_R | PTE_X);
    flush();
    trap_clear();
    s_exec(T(6) + se_off);
    expect_trap(nm(p, "fetch_nx_page_fault"), &mtrap, CAUSE_FETCH_PAGE_FAULT, T(6) + se_off, T(6) + se_off);
    trap_clear();
    check_eq(nm(p, "fetch_x_page"), s_exec(T(7) + se_off), 0x5a);
    expect_no_trap(nm(p, "fetch_x_page_no_trap"));

    /* a 4-byte instruction straddling two pages, the second one not executable: the fault's epc is
     * the instruction, its tval the faulting part (spec 4.1.9); executable: it runs */
    code_a[2047] = 0x0513; /* addi a0, zero, 0x5a = 0x05a00513, split across the pages */
    code_b[0] = 0x05a0;
    code_b[1] = 0x8082;    /* ret */
    asm volatile("fence.i" ::: "memory");
    l0_t[14] = PTE_LEAF(code_a, PTE_R | PTE_X);
    l0_t[15] = PTE_LEAF(code_b, PTE_R);
    flush();
    trap_clear();
    s_exec(T(14) + 0xffe);
    expect_trap(nm(p, "fetch_straddling_into_nx_page_fault"), &mtrap, CAUSE_FETCH_PAGE_FAULT, T(14) + 0xffe, T(15));
    l0_t[15] = PTE_LEAF(code_b, PTE_R | PTE_X);
    flush();
    trap_clear();
    check_eq(nm(p, "fetch_straddling_pages"), s_exec(T(14) + 0xffe), 0x5a);
    expect_no_trap(nm(p, "fetch_straddling_pages_no_trap"));

    /* invalid and reserved PTEs */
    l0_t[16] = PTE_TABLE(pg_a); /* a pointer where only leaves may be */
    flush();
    trap_clear();
    s_ld(T(16));
    expect_trap(nm(p, "level0_non_leaf_pte_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, T(16));
    l0_t[8] = 0;
    l0_t[9] = PTE_LEAF(pg_a, PTE_W); /* W without R is reserved */
    l0_t[10] = PTE_LEAF(pg_a, PTE_R) & ~PTE_V;
    l0_t[11] = PTE_LEAF(pg_a, PTE_R) | (1UL << 60); /* reserved high bits */
    flush();
    trap_clear();
    s_ld(T(8));
    expect_trap(nm(p, "invalid_pte_load_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, (ulong)sprobe_ld, T(8));
    trap_clear();
    s_sd(T(8) + 8, 1);
    expect_trap(nm(p, "invalid_pte_store_fault"), &mtrap, CAUSE_STORE_PAGE_FAULT, (ulong)sprobe_sd, T(8) + 8);
    trap_clear();
    s_ld(T(9));
    expect_trap(nm(p, "reserved_w_only_pte_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, T(9));
    trap_clear();
    s_ld(T(10));
    expect_trap(nm(p, "leaf_without_v_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, T(10));
    trap_clear();
    s_ld(T(11));
    expect_trap(nm(p, "reserved_pte_bits_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, T(11));
    trap_clear();
    s_exec(T(8));
    expect_trap(nm(p, "invalid_pte_fetch_fault"), &mtrap, CAUSE_FETCH_PAGE_FAULT, T(8), T(8));

    /* non-canonical addresses, and unmapped canonical ones */
    ulong bad = sv48 ? 0x0000800000000000UL : 0x0000004000000000UL;
    trap_clear();
    s_ld(bad);
    expect_trap(nm(p, "noncanonical_load_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, bad);
    trap_clear();
    s_sd(bad | 0x10, 1);
    expect_trap(nm(p, "noncanonical_store_fault"), &mtrap, CAUSE_STORE_PAGE_FAULT, ANY, bad | 0x10);
    ulong high = sv48 ? 0xffff800000000000UL : 0xffffffc000000000UL;
    trap_clear();
    s_ld(high);
    expect_trap(nm(p, "canonical_unmapped_fault"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY, high);
    trap_clear();
    v = s_ld(VA_TERA + (ulong)&image_word);
    if (sv48) {
        expect_no_trap(nm(p, "512g_terapage_no_trap"));
        check_eq(nm(p, "512g_terapage_load"), v, 0x1234abcdUL);
    } else {
        expect_trap(nm(p, "bit39_set_is_noncanonical"), &mtrap, CAUSE_LOAD_PAGE_FAULT, ANY,
                    VA_TERA + (ulong)&image_word);
    }

    /* sfence.vma after changing a PTE */
    l0_t[12] = PTE_LEAF(pg_a, PTE_R | PTE_W);
    l0_t[13] = PTE_LEAF(pg_a, PTE_R | PTE_W);
    flush();
    trap_clear();
    v = call_in_mode(PRV_S, s_remap, (long)T(12), (long)&l0_t[12]);
    check_eq(nm(p, "sfence_vma_addr_remap"), v, pg_b[0]);
    v = call_in_mode(PRV_S, s_remap_all, (long)T(13), (long)&l0_t[13]);
    check_eq(nm(p, "sfence_vma_all_remap"), v, pg_c[0]);
    expect_no_trap(nm(p, "sfence_vma_no_trap"));

    /* TVM: satp and sfence.vma trap in S-mode */
    csr_set(mstatus, MSTATUS_TVM);
    trap_clear();
    call_in_mode(PRV_S, s_read_satp, 0, 0);
    expect_trap(nm(p, "tvm_satp_access_illegal"), &mtrap, CAUSE_ILLEGAL, ANY, ANY);
    trap_clear();
    call_in_mode(PRV_S, s_sfence, 0, 0);
    expect_trap(nm(p, "tvm_sfence_vma_illegal"), &mtrap, CAUSE_ILLEGAL, ANY, ANY);
    csr_clear(mstatus, MSTATUS_TVM);

    /* satp is WARL: a write with an unsupported mode has no effect at all */
    csr_write(satp, (5UL << 60) | 0x12345);
    check_eq(nm(p, "satp_reserved_mode_ignored"), csr_read(satp), satp_value);
    csr_write(satp, (15UL << 60) | 0x12345);
    check_eq(nm(p, "satp_mode15_ignored"), csr_read(satp), satp_value);

    /* a page walk reaching memory that does not exist: an access fault, not a page fault */
    pt_root[7] = PTE_TABLE(UNMAPPED_PA);
    flush();
    trap_clear();
    s_ld(0x1c0000000UL);
    expect_trap(nm(p, "page_walk_unmapped_access_fault"), &mtrap, CAUSE_LOAD_ACCESS, ANY, 0x1c0000000UL);
    pt_root[7] = 0;

    csr_write(satp, 0);
    flush();
}

void test_main(void)
{
    run("sv39_", satp_sv39(), 0);
    run("sv48_", satp_sv48(), 1);
    csr_write(satp, 0);
    check_eq("satp_bare", csr_read(satp), 0);
}
