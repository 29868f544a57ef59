/* make bench (KVM part, hosts without hardware virtualization): a multiboot guest for the pc board that
 * leaves the vCPU EXITS times with OUT to port 0x80 (nothing decodes it: every exit is a round trip
 * through the VMM and back) between two markers on COM1, then ends through isa-debug-exit at 0xf4. */
#define EXITS 200000
#define MB_FLAGS 0x3
__attribute__((section(".multiboot"), used, aligned(4)))
static const unsigned int mb_header[3] = {0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS)};
static inline void outb(unsigned short p, unsigned char v) { __asm__ volatile("outb %0,%1" :: "a"(v), "Nd"(p)); }
static inline unsigned char inb(unsigned short p) { unsigned char v; __asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static void puts(const char *s) { for (; *s; s++) { while (!(inb(0x3fd) & 0x20)) {} outb(0x3f8, *s); } }
void cmain(void) {
    puts("START\n");
    for (int i = 0; i < EXITS; i++) outb(0x80, i);
    puts("END\n");
    outb(0xf4, 0);
    for (;;) __asm__ volatile("cli; hlt");
}
__attribute__((naked)) void _start(void) { __asm__ volatile("mov $0x180000, %esp\n call cmain\n"); }
