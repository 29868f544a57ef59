/* Bare-metal test runtime (C part): UART output, PASS/FAIL reporting and exit through the SiFive
 * test device, the M- and S-mode trap handlers behind start.S's entries, identity page tables. */
#include "bm.h"

/* -- output ------------------------------------------------------------------------------------------ */
void putc_(char c)
{
    volatile uchar *uart = (volatile uchar *)UART0;
    while (!(uart[5] & 0x20)) /* LSR.THRE */
        ;
    uart[0] = (uchar)c;
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void put_hex(ulong v)
{
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    puts_(buf + i);
}

void put_dec(ulong v)
{
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_(buf + i);
}

static ulong n_pass, n_fail;

void check(const char *name, ulong ok)
{
    puts_(ok ? "PASS: " : "FAIL: ");
    puts_(name);
    putc_('\n');
    if (ok)
        n_pass++;
    else
        n_fail++;
}

void fail(const char *name, const char *why)
{
    puts_("FAIL: ");
    puts_(name);
    puts_(": ");
    puts_(why);
    putc_('\n');
    n_fail++;
}

void check_eq(const char *name, ulong got, ulong want)
{
    if (got == want) {
        check(name, 1);
        return;
    }
    puts_("FAIL: ");
    puts_(name);
    puts_(": got ");
    put_hex(got);
    puts_(" want ");
    put_hex(want);
    putc_('\n');
    n_fail++;
}

void finish(void)
{
    puts_("DONE pass=");
    put_dec(n_pass);
    puts_(" fail=");
    put_dec(n_fail);
    putc_('\n');
    ulong code = n_fail > 0xfff ? 0xfff : n_fail;
    MMIO32(SIFIVE_TEST) = code ? (uint)((code << 16) | 0x3333) : 0x5555;
    /* spin rather than WFI: poweroff.c checks the machine also stops when the hart waits afterwards */
    for (;;)
        ;
}

__attribute__((weak)) void secondary_main(ulong hartid)
{
    (void)hartid;
    csr_write(mie, 0);
    for (;;)
        asm volatile("wfi");
}

void *memset(void *d, int c, unsigned long n)
{
    volatile uchar *p = d;
    while (n--)
        *p++ = (uchar)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    volatile uchar *p = d;
    const uchar *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* -- traps ------------------------------------------------------------------------------------------- */
volatile struct trap_rec mtrap, strap;
trap_hook_t m_hook, s_hook;
ulong lower_sp;

struct mode_ctx {
    ulong ra, sp, s[12], mstatus;
};
extern struct mode_ctx mode_ctx;

void trap_clear(void)
{
    memset((void *)&mtrap, 0, sizeof mtrap);
    memset((void *)&strap, 0, sizeof strap);
}

int expect_trap(const char *name, volatile struct trap_rec *t, ulong cause, ulong epc, ulong tval)
{
    int ok = t->count == 1 && t->cause == cause && (epc == ANY || t->epc == epc) &&
             (tval == ANY || t->tval == tval);
    ulong other = t == &mtrap ? strap.count : mtrap.count;
    if (ok && other == 0) {
        check(name, 1);
        return 1;
    }
    puts_("FAIL: ");
    puts_(name);
    puts_(": ");
    puts_(t == &mtrap ? "M" : "S");
    puts_(" traps=");
    put_dec(t->count);
    puts_(" cause=");
    put_hex(t->cause);
    puts_(" epc=");
    put_hex(t->epc);
    puts_(" tval=");
    put_hex(t->tval);
    puts_(" (want cause=");
    put_hex(cause);
    if (epc != ANY) {
        puts_(" epc=");
        put_hex(epc);
    }
    if (tval != ANY) {
        puts_(" tval=");
        put_hex(tval);
    }
    puts_(") other-mode traps=");
    put_dec(other);
    putc_('\n');
    n_fail++;
    return 0;
}

int expect_no_trap(const char *name)
{
    if (mtrap.count == 0 && strap.count == 0) {
        check(name, 1);
        return 1;
    }
    puts_("FAIL: ");
    puts_(name);
    puts_(": unexpected trap: M traps=");
    put_dec(mtrap.count);
    puts_(" mcause=");
    put_hex(mtrap.cause);
    puts_(" mepc=");
    put_hex(mtrap.epc);
    puts_(" mtval=");
    put_hex(mtrap.tval);
    puts_(" S traps=");
    put_dec(strap.count);
    puts_(" scause=");
    put_hex(strap.cause);
    puts_(" sepc=");
    put_hex(strap.epc);
    puts_(" stval=");
    put_hex(strap.tval);
    putc_('\n');
    n_fail++;
    return 0;
}

static void record(volatile struct trap_rec *t, struct trap_frame *f, ulong cause, ulong epc, ulong tval,
                   ulong status)
{
    if (t->count < 16)
        t->causes[t->count] = cause;
    t->count++;
    t->cause = cause;
    t->epc = epc;
    t->tval = tval;
    t->status = status;
    t->vector = f->vector;
    if (t->count > 1000) {
        puts_("FAIL: trap storm: cause=");
        put_hex(cause);
        puts_(" epc=");
        put_hex(epc);
        puts_(" tval=");
        put_hex(tval);
        putc_('\n');
        n_fail++;
        finish();
    }
}

static ulong insn_len(ulong epc, int smode)
{
    ulong old = 0;
    if (smode)
        old = csr_swap(sstatus, csr_read(sstatus) | MSTATUS_SUM); /* .utext pages are U pages */
    uint lo = *(volatile unsigned short *)epc;
    if (smode)
        csr_write(sstatus, old);
    return (lo & 3) == 3 ? 4 : 2;
}

/* Make the trap return to call_in_mode()'s caller in M-mode with result a0. */
void return_to_caller(struct trap_frame *f, ulong a0)
{
    f->regs[1] = mode_ctx.ra;
    f->regs[2] = mode_ctx.sp;
    f->regs[8] = mode_ctx.s[0];
    f->regs[9] = mode_ctx.s[1];
    for (int i = 2; i < 12; i++)
        f->regs[16 + i] = mode_ctx.s[i];
    f->regs[10] = a0;
    csr_write(mepc, mode_ctx.ra);
    ulong status = csr_read(mstatus);
    status = (status & ~MSTATUS_MPIE) | MSTATUS_MPP | ((mode_ctx.mstatus & MSTATUS_MIE) << 4);
    csr_write(mstatus, status);
}

void m_trap_handler(struct trap_frame *f)
{
    ulong cause = csr_read(mcause), epc = csr_read(mepc), tval = csr_read(mtval);
    ulong status = csr_read(mstatus);
    ulong hart = csr_read(mhartid);

    if (!(cause & INTR) && (cause == 8 || cause == 9 || cause == 11) && f->regs[17] == MAGIC_RET) {
        return_to_caller(f, f->regs[10]); /* the end of call_in_mode() */
        return;
    }
    record(&mtrap, f, cause, epc, tval, status);
    if (m_hook && m_hook(f, cause, epc, tval))
        return;
    if (cause & INTR) {
        switch (cause & ~INTR) { /* quiet the source so the test can go on */
        case IRQ_MSI: set_msip(hart, 0); break;
        case IRQ_MTI: set_mtimecmp(hart, ~0UL); break;
        case IRQ_SSI: csr_clear(mip, MIP_SSIP); break;
        case IRQ_STI: csr_clear(mip, MIP_STIP); break;
        default: csr_clear(mie, 1UL << (cause & 63)); break;
        }
        return;
    }
    if ((cause == CAUSE_FETCH_ACCESS || cause == CAUSE_FETCH_PAGE_FAULT) &&
        (epc == (ulong)lower_trampoline || epc == (ulong)lower_trampoline_s))
        return_to_caller(f, -1UL); /* call_in_mode() could not even start */
    else if (cause == CAUSE_MISALIGNED_FETCH || cause == CAUSE_FETCH_ACCESS || cause == CAUSE_FETCH_PAGE_FAULT)
        csr_write(mepc, f->regs[1]); /* a jump to bad code: return to the caller */
    else
        csr_write(mepc, epc + insn_len(epc, 0));
}

static void s_return_to_m(ulong a0)
{
    register ulong r_a0 asm("a0") = a0;
    register ulong r_a7 asm("a7") = MAGIC_RET;
    asm volatile("ecall" :: "r"(r_a0), "r"(r_a7) : "memory");
    for (;;)
        ;
}

void s_trap_handler(struct trap_frame *f)
{
    ulong cause = csr_read(scause), epc = csr_read(sepc), tval = csr_read(stval);
    ulong status = csr_read(sstatus);

    if (cause == CAUSE_USER_ECALL && f->regs[17] == MAGIC_RET)
        s_return_to_m(f->regs[10]); /* delegated end of call_in_mode(): hand it to M-mode */
    record(&strap, f, cause, epc, tval, status);
    if (s_hook && s_hook(f, cause, epc, tval))
        return;
    if (cause & INTR) {
        if ((cause & ~INTR) == IRQ_SSI)
            csr_clear(sip, MIP_SSIP);
        else
            csr_clear(sie, 1UL << (cause & 63));
        return;
    }
    if (cause == CAUSE_MISALIGNED_FETCH || cause == CAUSE_FETCH_ACCESS || cause == CAUSE_FETCH_PAGE_FAULT)
        csr_write(sepc, f->regs[1]);
    else
        csr_write(sepc, epc + insn_len(epc, 1));
}

/* -- page tables --------------------------------------------------------------------------------------- */
pte_t pt_root[512] ALIGNED(4096);
pte_t pt_l1_ram[512] ALIGNED(4096);
pte_t pt_l0_img[512] ALIGNED(4096);
pte_t pt_sv48_root[512] ALIGNED(4096);
extern char __utext_start[], __udata_end[];

void pt_build(void)
{
    memset(pt_root, 0, sizeof pt_root);
    memset(pt_sv48_root, 0, sizeof pt_sv48_root);
    pt_root[0] = PTE_LEAF(0, PTE_R | PTE_W); /* MMIO: UART, CLINT, test device */
    pt_root[2] = PTE_TABLE(pt_l1_ram);
    pt_l1_ram[0] = PTE_TABLE(pt_l0_img);
    for (ulong i = 1; i < 512; i++)
        pt_l1_ram[i] = PTE_LEAF(RAM_BASE + (i << 21), PTE_R | PTE_W | PTE_X);
    for (ulong i = 0; i < 512; i++) {
        ulong pa = RAM_BASE + (i << 12);
        ulong user = pa >= (ulong)__utext_start && pa < (ulong)__udata_end ? PTE_U : 0;
        pt_l0_img[i] = PTE_LEAF(pa, PTE_R | PTE_W | PTE_X | user);
    }
    pt_sv48_root[0] = PTE_TABLE(pt_root);
}

pte_t *pte_of(const void *page)
{
    return &pt_l0_img[((ulong)page - RAM_BASE) >> 12];
}
