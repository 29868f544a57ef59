/* Bare-metal test runtime for pyqemu's RISC-V virt board: CSR access, the UART, PASS/FAIL reporting,
 * trap records, switching privilege modes and identity page tables.  See runtime.c and start.S. */
#ifndef BM_H
#define BM_H

typedef unsigned long ulong;
typedef unsigned int uint;
typedef unsigned char uchar;

/* -- CSRs ----------------------------------------------------------------------------------------- */
#define STR_(x) #x
#define STR(x) STR_(x)
#define csr_read(csr) ({ ulong __v; asm volatile("csrr %0, " STR(csr) : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) asm volatile("csrw " STR(csr) ", %0" :: "r"((ulong)(val)) : "memory")
#define csr_set(csr, val) asm volatile("csrs " STR(csr) ", %0" :: "r"((ulong)(val)) : "memory")
#define csr_clear(csr, val) asm volatile("csrc " STR(csr) ", %0" :: "r"((ulong)(val)) : "memory")
#define csr_swap(csr, val) ({ ulong __v; asm volatile("csrrw %0, " STR(csr) ", %1" : "=r"(__v) \
                                                      : "r"((ulong)(val)) : "memory"); __v; })

#define MSTATUS_SIE (1UL << 1)
#define MSTATUS_MIE (1UL << 3)
#define MSTATUS_SPIE (1UL << 5)
#define MSTATUS_MPIE (1UL << 7)
#define MSTATUS_SPP (1UL << 8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3UL << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3UL << 13)
#define MSTATUS_MPRV (1UL << 17)
#define MSTATUS_SUM (1UL << 18)
#define MSTATUS_MXR (1UL << 19)
#define MSTATUS_TVM (1UL << 20)
#define MSTATUS_TW (1UL << 21)
#define MSTATUS_TSR (1UL << 22)
#define MSTATUS_SD (1UL << 63)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (1UL << IRQ_SSI)
#define MIP_MSIP (1UL << IRQ_MSI)
#define MIP_STIP (1UL << IRQ_STI)
#define MIP_MTIP (1UL << IRQ_MTI)
#define MIP_SEIP (1UL << IRQ_SEI)
#define MIP_MEIP (1UL << IRQ_MEI)
#define INTR (1UL << 63)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15

/* -- the virt board --------------------------------------------------------------------------------- */
#define UART0 0x10000000UL
#define SIFIVE_TEST 0x100000UL
#define CLINT_MSIP 0x2000000UL
#define CLINT_MTIMECMP 0x2004000UL
#define CLINT_MTIME 0x200bff8UL
#define RAM_BASE 0x80000000UL
#define UNMAPPED_PA 0x90000000UL /* above 128 MiB of RAM: no device, no memory */
#define MAX_HARTS 4

#define MMIO32(a) (*(volatile uint *)(a))
#define MMIO64(a) (*(volatile ulong *)(a))

static inline ulong mtime(void) { return MMIO64(CLINT_MTIME); }
static inline void set_mtimecmp(ulong hart, ulong v) { MMIO64(CLINT_MTIMECMP + 8 * hart) = v; }
static inline void set_msip(ulong hart, uint v) { MMIO32(CLINT_MSIP + 4 * hart) = v; }
#define TICKS_PER_MS 10000UL /* mtime runs at 10 MHz on virt */

/* -- output and reporting --------------------------------------------------------------------------- */
void putc_(char c);
void puts_(const char *s); /* no newline added */
void put_hex(ulong v);
void put_dec(ulong v);
void check(const char *name, ulong ok); /* ok: any nonzero value */
void check_eq(const char *name, ulong got, ulong want);
void fail(const char *name, const char *why);
void finish(void) __attribute__((noreturn));
void test_main(void); /* each program's tests (hart 0, M-mode) */
void secondary_main(ulong hartid); /* harts other than 0 (weak: park in WFI) */

/* -- traps ------------------------------------------------------------------------------------------ */
struct trap_frame {
    ulong regs[32]; /* x0..x31 as they were when the trap was taken (regs[2] = interrupted sp) */
    ulong vector; /* vectored mode: the table entry used; -1 for direct entry */
    ulong pad;
};

/* what a trap handler saw: the last trap, and the causes of the recent ones in order */
struct trap_rec {
    ulong count, cause, epc, tval, status, vector;
    ulong causes[16];
};
extern volatile struct trap_rec mtrap, strap; /* M-mode handler, S-mode handler */
void trap_clear(void);

/* optional per-test hooks: return nonzero when the trap was fully handled (the record is kept) */
typedef int (*trap_hook_t)(struct trap_frame *f, ulong cause, ulong epc, ulong tval);
extern trap_hook_t m_hook, s_hook;

/* check that exactly one trap with this cause (and tval / epc unless ANY) went to the handler */
#define ANY (~0UL - 0x1234)
int expect_trap(const char *name, volatile struct trap_rec *t, ulong cause, ulong epc, ulong tval);
int expect_no_trap(const char *name);

extern void m_trap_entry(void), s_trap_entry(void);
extern char m_vector_table[], s_vector_table[];

/* Run fn(a0, a1) in privilege mode `mode` (mret with MPP = mode) and return its result; the function
 * returns through an ecall the handlers recognise.  The stack is lower_sp when nonzero. */
long call_in_mode(int mode, void *fn, long a0, long a1);
extern ulong lower_sp;
extern char lower_trampoline[], lower_trampoline_s[];
/* for M-mode hooks: make this trap return from call_in_mode() with result a0 (a fetch fault on the
 * trampoline itself does this by default, returning -1) */
void return_to_caller(struct trap_frame *f, ulong a0);
#define MAGIC_RET 0x7e57

/* user-accessible probes (section .utext): one access each; a fault is skipped by the handler, the
 * fetch probe returns to the caller */
long probe_ld(ulong addr);
long probe_lw(ulong addr);
long probe_lbu(ulong addr);
long probe_sd(ulong addr, ulong value);
long probe_sb(ulong addr, ulong value);
long probe_amoadd_w(ulong addr, ulong value);
long probe_exec(ulong addr); /* jumps to addr (which should return 'ret' with a0 set) */
long probe_ecall(void); /* ecall (a7 = 0 when called through call_in_mode); returns a0 unchanged */
long probe_csrr_sstatus(void);
long probe_csrr_mstatus(void);
long probe_spin(ulong n); /* counts a0 down to zero */
long exec_target(void); /* returns 0x5a */
extern char ustack_top[]; /* a user-accessible stack */
/* the same probes in supervisor pages (section .text) */
long sprobe_ld(ulong addr);
long sprobe_sd(ulong addr, ulong value);
long sprobe_exec(ulong addr);
long sexec_target(void); /* returns 0x5a */
extern char udata_page[]; /* a user-accessible 4 KiB data page */

/* -- page tables (Sv39 / Sv48) ---------------------------------------------------------------------- */
typedef ulong pte_t;
#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE_PPN(pa) ((((ulong)(pa)) >> 12) << 10)
#define PTE_TABLE(pa) (PTE_PPN(pa) | PTE_V)
#define PTE_LEAF(pa, flags) (PTE_PPN(pa) | PTE_V | PTE_A | PTE_D | (flags))
#define SATP_SV39 (8UL << 60)
#define SATP_SV48 (9UL << 60)
#define PAGE_SIZE 4096UL

/* pt_root (Sv39 root; also entry 0 of pt_sv48_root) identity-maps: gigabyte 0 (MMIO) RW, the first
 * 2 MiB of RAM with 4 KiB pages (pt_l0_img; .utext/.udata pages have U), the rest of the first RAM
 * gigabyte with 2 MiB pages.  Free root entries (3 and up) are for the tests. */
extern pte_t pt_root[512], pt_l1_ram[512], pt_l0_img[512], pt_sv48_root[512];
void pt_build(void);
pte_t *pte_of(const void *page); /* the L0 PTE of a page of the image */
static inline ulong satp_sv39(void) { return SATP_SV39 | ((ulong)pt_root >> 12); }
static inline ulong satp_sv48(void) { return SATP_SV48 | ((ulong)pt_sv48_root >> 12); }
static inline void sfence_vma(void) { asm volatile("sfence.vma" ::: "memory"); }

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

#define ALIGNED(n) __attribute__((aligned(n)))
#define NOINLINE __attribute__((noinline))

#endif
