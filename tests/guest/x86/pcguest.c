/* A multiboot (v1) test kernel for the x86 PC boards: -append names the scenario.
 *   hello     print the command line
 *   longmode  switch to 64-bit long mode and compute there
 *   lapic     HLT until the in-kernel LAPIC timer interrupts
 *   pit       HLT until the in-kernel PIT interrupts through the IOAPIC (ISA IRQ 0 -> pin 2)
 *   smp       start the other CPUs with INIT/SIPI; each reports its APIC id
 *   poweroff  ACPI S5 through the PM1a control block (SCI enabled through SMI_CMD first)
 *   reset     reset through 0xCF9 once (a CMOS byte remembers), then report
 *   triple    fault with an empty IDT: a triple fault
 *   powerbutton  wait for the ACPI power button (SCI, ISA IRQ 9, through the IOAPIC), then power off
 *   ecam      (q35) enable the MMCONFIG window through PCIEXBAR and read ids through it
 *   pci       list the functions on bus 0 through 0xCF8/0xCFC
 *   pcibars   the BARs, interrupt line and command register of each function the board set up, and an
 *             e1000's STATUS register read through its BAR 0 (MMIO to the device model)
 * The kernel prints over COM1 and ends through isa-debug-exit at 0xf4 (status (0x10 << 1) | 1 = 33). */
#define MB_FLAGS 0x3
__attribute__((section(".multiboot"), used, aligned(4)))
static const unsigned int mb_header[3] = {0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS)};

typedef unsigned int u32;
typedef unsigned long long u64;
static inline void outb(unsigned short p, unsigned char v) { __asm__ volatile("outb %0,%1" :: "a"(v), "Nd"(p)); }
static inline void outw(unsigned short p, unsigned short v) { __asm__ volatile("outw %0,%1" :: "a"(v), "Nd"(p)); }
static inline void outl(unsigned short p, u32 v) { __asm__ volatile("outl %0,%1" :: "a"(v), "Nd"(p)); }
static inline unsigned char inb(unsigned short p) { unsigned char v; __asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(unsigned short p) { u32 v; __asm__ volatile("inl %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 mmio_read(u32 a) { return *(volatile u32 *)a; }
static inline void mmio_write(u32 a, u32 v) { *(volatile u32 *)a = v; }

static volatile int print_lock;
static void putc(char c) { while (!(inb(0x3fd) & 0x20)) {} outb(0x3f8, c); }
static void puts(const char *s) { while (*s) putc(*s++); }
static void hex(u32 v) { puts("0x"); for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]); }
static void exit_vm(void) { outb(0xf4, 0x10); for (;;) __asm__ volatile("cli; hlt"); }
static int has_word(const char *s, const char *w) {
    for (; *s; s++) {
        const char *a = s, *b = w;
        while (*b && *a == *b) { a++; b++; }
        if (!*b && (*a == 0 || *a == ' ') ) return 1;
    }
    return 0;
}

/* -- interrupts: a 32-bit IDT with stubs for vectors 0x40 (LAPIC timer) and 0x41 (PIT via IOAPIC) */
#define LAPIC 0xFEE00000u
#define IOAPIC 0xFEC00000u
static u64 idt[256];
static struct __attribute__((packed)) { unsigned short limit; u32 base; } idtr;
/* The handlers report and end the run without returning: kvm_pvm (this project's CI host) cannot
 * emulate a 32-bit IRET, and the point is that the interrupt arrived and woke the HLT. */
void on_lapic(void) { puts("lapic timer woke the hlt\n"); exit_vm(); }
void on_pit(void) { puts("pit interrupt via ioapic woke the hlt\n"); exit_vm(); }
void on_sci(void) {
    puts((inl(0x600) & 0x100) ? "sci: power button pressed\n" : "sci without the power button status\n");
    outw(0x600, 0x100);                  /* clear PWRBTN_STS */
    outw(0x604, 0x2001);                 /* S5 */
    for (;;) __asm__ volatile("cli; hlt");
}
__asm__(".globl stub_lapic\nstub_lapic: call on_lapic\n"
        ".globl stub_pit\nstub_pit: call on_pit\n"
        ".globl stub_sci\nstub_sci: call on_sci\n");
void stub_lapic(void); void stub_pit(void); void stub_sci(void);
static void set_gate(int vec, void (*fn)(void)) {
    u32 cs; __asm__ volatile("mov %%cs,%0" : "=r"(cs));
    u32 a = (u32)fn;
    idt[vec] = (a & 0xFFFF) | ((u64)cs << 16) | ((u64)0x8E00 << 32) | ((u64)(a >> 16) << 48);
}
static void load_idt(void) { idtr.limit = sizeof idt - 1; idtr.base = (u32)idt; __asm__ volatile("lidt %0" :: "m"(idtr)); }
static void lapic_enable(void) { mmio_write(LAPIC + 0xF0, 0x1FF); }
static void wait_irq(const char *what) {
    for (int i = 0; i < 100; i++) __asm__ volatile("sti; hlt; cli");
    puts(what); puts(" never interrupted the hlt\n");
}

static void test_lapic(void) {
    set_gate(0x40, stub_lapic); load_idt(); lapic_enable();
    outb(0x21, 0xFF); outb(0xA1, 0xFF);   /* the firmware's PIT ticks through the PICs stay out */
    mmio_write(LAPIC + 0x3E0, 0xB);       /* divide by 1 */
    mmio_write(LAPIC + 0x320, 0x40);      /* one-shot, vector 0x40 */
    mmio_write(LAPIC + 0x380, 2000000);   /* initial count */
    wait_irq("the lapic timer");
}

static void test_pit(void) {
    set_gate(0x41, stub_pit); load_idt(); lapic_enable();
    outb(0x21, 0xFF); outb(0xA1, 0xFF);   /* the PICs stay out of it */
    mmio_write(IOAPIC, 0x10 + 2 * 2 + 1); mmio_write(IOAPIC + 0x10, 0);     /* pin 2 -> APIC 0 */
    mmio_write(IOAPIC, 0x10 + 2 * 2);     mmio_write(IOAPIC + 0x10, 0x41);  /* edge, fixed, vector 0x41 */
    outb(0x43, 0x34); outb(0x40, 11932 & 0xFF); outb(0x40, 11932 >> 8);       /* 100 Hz */
    wait_irq("the pit");
}

static void test_powerbutton(void) {
    set_gate(0x42, stub_sci); load_idt(); lapic_enable();
    outb(0x21, 0xFF); outb(0xA1, 0xFF);
    outb(0xB2, 0xF1);                     /* ACPI_ENABLE: SCI_EN */
    outw(0x602, 0x100);                   /* PM1_EN.PWRBTN_EN */
    mmio_write(IOAPIC, 0x10 + 9 * 2 + 1); mmio_write(IOAPIC + 0x10, 0);
    mmio_write(IOAPIC, 0x10 + 9 * 2);     mmio_write(IOAPIC + 0x10, 0x8042);  /* level, high, vector 0x42 */
    puts("waiting for the power button\n");
    for (;;) __asm__ volatile("sti; hlt; cli");
}

/* -- SMP: the APs start in real mode at 0x8000 (SIPI vector 8), switch to protected mode, report */
__asm__(".code16\n.globl ap_tramp_start\nap_tramp_start:\n"
        " cli\n xor %ax,%ax\n mov %ax,%ds\n"
        " lgdtl (ap_gdtr - ap_tramp_start + 0x8000)\n"
        " mov %cr0,%eax\n or $1,%eax\n mov %eax,%cr0\n"
        " ljmpl $0x08,$ap_entry32\n"
        ".align 8\nap_gdt:\n .quad 0\n .quad 0x00CF9A000000FFFF\n .quad 0x00CF92000000FFFF\n"
        "ap_gdtr:\n .word 23\n .long ap_gdt - ap_tramp_start + 0x8000\n"
        ".globl ap_tramp_end\nap_tramp_end:\n"
        ".code32\nap_entry32:\n mov $0x10,%ax\n mov %ax,%ds\n mov %ax,%es\n mov %ax,%ss\n"
        " mov $1,%eax\n lock xadd %eax,ap_stack_index\n shl $12,%eax\n lea ap_stacks+4096(%eax),%esp\n"
        " call ap_main\n1: cli\n hlt\n jmp 1b\n");
extern char ap_tramp_start[], ap_tramp_end[];
char ap_stacks[8 * 4096] __attribute__((aligned(16)));
volatile int ap_stack_index, aps_online;
static void lock(void) { while (__sync_lock_test_and_set(&print_lock, 1)) __asm__ volatile("pause"); }
static void unlock(void) { __sync_lock_release(&print_lock); }
void ap_main(void) {
    u32 id = mmio_read(LAPIC + 0x20) >> 24;
    lock(); puts("cpu "); hex(id); puts(" online\n"); unlock();
    __sync_fetch_and_add(&aps_online, 1);
}
static void delay(void) { for (volatile int i = 0; i < 200000; i++) {} }
static void test_smp(int expected) {
    char *dst = (char *)0x8000;
    for (char *p = ap_tramp_start; p < ap_tramp_end; p++) *dst++ = *p;
    lapic_enable();
    lock(); puts("cpu "); hex(mmio_read(LAPIC + 0x20) >> 24); puts(" is the bsp\n"); unlock();
    mmio_write(LAPIC + 0x310, 0); mmio_write(LAPIC + 0x300, 0x000C4500);  /* INIT to all but self */
    delay();
    for (int i = 0; i < 2; i++) { mmio_write(LAPIC + 0x300, 0x000C4608); delay(); }  /* SIPI, vector 8 */
    for (long i = 0; i < 200000000 && aps_online < expected - 1; i++) __asm__ volatile("pause");
    lock(); puts("cpus online: "); hex(aps_online + 1); putc('\n'); unlock();
}

/* -- long mode: identity-map 1 GiB with 2 MiB pages, enable PAE + LME + PG, jump to 64-bit code */
static u64 pml4[512] __attribute__((aligned(4096))), pdpt[512] __attribute__((aligned(4096))),
           pd[512] __attribute__((aligned(4096)));
static u64 gdt64[3] = {0, 0x00AF9A000000FFFFull, 0x00CF92000000FFFFull};
static struct __attribute__((packed)) { unsigned short limit; u32 base; } gdtr64;
__asm__(".code64\nlong_entry:\n"
        " lea msg64(%rip),%rsi\n"
        "2: movb (%rsi),%al\n test %al,%al\n jz 3f\n mov $0x3f8,%dx\n out %al,%dx\n inc %rsi\n jmp 2b\n"
        "3: movabs $0x1122334455667788,%rax\n shr $32,%rax\n cmp $0x11223344,%eax\n jne 4f\n"
        " lea msg64ok(%rip),%rsi\n"
        "5: movb (%rsi),%al\n test %al,%al\n jz 4f\n mov $0x3f8,%dx\n out %al,%dx\n inc %rsi\n jmp 5b\n"
        "4: mov $0x10,%al\n out %al,$0xf4\n6: hlt\n jmp 6b\n"
        "msg64: .asciz \"in long mode\\n\"\nmsg64ok: .asciz \"64-bit arithmetic ok\\n\"\n"
        ".code32\n");
extern char long_entry[];
static void test_longmode(void) {
    for (int i = 0; i < 512; i++) pd[i] = ((u64)i << 21) | 0x83;
    pdpt[0] = (u32)pd | 3; pml4[0] = (u32)pdpt | 3;
    gdtr64.limit = sizeof gdt64 - 1; gdtr64.base = (u32)gdt64;
    __asm__ volatile("lgdt %0" :: "m"(gdtr64));
    __asm__ volatile("mov %%cr4,%%eax\n or $0x20,%%eax\n mov %%eax,%%cr4\n"
                     "mov %0,%%cr3\n"
                     "mov $0xC0000080,%%ecx\n rdmsr\n or $0x100,%%eax\n wrmsr\n"
                     "mov %%cr0,%%eax\n or $0x80000000,%%eax\n mov %%eax,%%cr0\n"
                     "pushl $0x08\n pushl %1\n lret\n" :: "r"((u32)pml4), "r"((u32)long_entry) : "eax", "ecx", "edx");
}

static u32 pci_read(int bus, int dev, int fn, int reg) {
    outl(0xCF8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg);
    return inl(0xCFC);
}
static void test_pci(void) {
    for (int dev = 0; dev < 32; dev++)
        for (int fn = 0; fn < 8; fn++) {
            u32 id = pci_read(0, dev, fn, 0);
            if ((id & 0xFFFF) == 0xFFFF) { if (fn == 0) break; continue; }
            puts("pci 00:"); hex(dev); putc('.'); hex(fn); puts(" id "); hex(id);
            puts(" class "); hex(pci_read(0, dev, fn, 8) >> 8); putc('\n');
        }
}
static void test_pcibars(void) {
    for (int dev = 1; dev < 32; dev++) {
        u32 id = pci_read(0, dev, 0, 0);
        if ((id & 0xFFFF) == 0xFFFF || pci_read(0, dev, 0, 8) >> 24 == 0x06) continue;  /* bridges */
        puts("dev "); hex(dev); puts(" cmd "); hex(pci_read(0, dev, 0, 4) & 0xFFFF);
        puts(" irq "); hex(pci_read(0, dev, 0, 0x3C) & 0xFFFF); putc('\n');
        for (int bar = 0; bar < 6; bar++) {
            u32 v = pci_read(0, dev, 0, 0x10 + 4 * bar);
            if (v) { puts("  bar"); putc('0' + bar); putc(' '); hex(v); putc('\n'); }
        }
        if (id == 0x100e8086) {
            u32 base = pci_read(0, dev, 0, 0x10) & ~0xFu;
            puts("  e1000 status "); hex(mmio_read(base + 8) & 0x83); putc('\n');
        }
    }
}
static void test_ecam(void) {
    outl(0xCF8, 0x80000000u | 0x64); outl(0xCFC, 0);
    outl(0xCF8, 0x80000000u | 0x60); outl(0xCFC, 0xB0000001);  /* PCIEXBAR: 0xB0000000, 256 MiB, on */
    puts("ecam 00.0 "); hex(mmio_read(0xB0000000)); putc('\n');
    puts("ecam 1f.0 "); hex(mmio_read(0xB0000000 + (0x1F << 15))); putc('\n');
    puts("ecam 05.0 "); hex(mmio_read(0xB0000000 + (0x05 << 15))); putc('\n');
}

static void test_poweroff(void) {
    outb(0xB2, 0xF1);                    /* ACPI_ENABLE through SMI_CMD */
    for (int i = 0; i < 1000 && !(inl(0x604) & 1); i++) {}
    puts("powering off\n");
    outw(0x604, 0x2000);                 /* SLP_TYP 0 (\_S5) | SLP_EN: the run ends (status 0) */
    for (;;) __asm__ volatile("cli; hlt");
}
static void test_reset(void) {
    outb(0x70, 0x7E); unsigned char boots = inb(0x71);
    outb(0x70, 0x7E); outb(0x71, boots + 1);
    puts("boot "); hex(boots); putc('\n');
    if (boots == 0) { outb(0xCF9, 0x02); outb(0xCF9, 0x06); for (;;) __asm__ volatile("cli; hlt"); }
}
static void test_triple(void) {
    static struct __attribute__((packed)) { unsigned short limit; u32 base; } none;
    puts("about to triple fault\n");
    __asm__ volatile("lidt %0\n int3" :: "m"(none));
}

void cmain(u32 magic, u32 *mbi) {
    const char *cmd = (const char *)mbi[4];
    if (magic != 0x2BADB002) { puts("bad multiboot magic\n"); exit_vm(); }
    if (has_word(cmd, "hello")) { puts("hello: "); puts(cmd); putc('\n'); }
    if (has_word(cmd, "pci")) test_pci();
    if (has_word(cmd, "ecam")) test_ecam();
    if (has_word(cmd, "pcibars")) test_pcibars();
    if (has_word(cmd, "lapic")) test_lapic();
    if (has_word(cmd, "pit")) test_pit();
    if (has_word(cmd, "smp")) { outb(0x70, 0x5F); test_smp(inb(0x71) + 1); }
    if (has_word(cmd, "reset")) test_reset();
    if (has_word(cmd, "poweroff")) test_poweroff();
    if (has_word(cmd, "triple")) test_triple();
    if (has_word(cmd, "powerbutton")) test_powerbutton();
    if (has_word(cmd, "longmode")) test_longmode();
    exit_vm();
}
__attribute__((naked)) void _start(void) { __asm__ volatile("mov $0x180000, %esp\n push %ebx\n push %eax\n call cmain\n"); }
