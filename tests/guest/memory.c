/*
 * memory: the guest address space.
 *   - malloc/calloc/realloc/free over many sizes (small bins up to mmap-sized chunks), with
 *     content patterns verified, and memalign/posix_memalign alignment
 *   - brk via sbrk: grow, touch, shrink
 *   - anonymous mmap (zero-filled), MAP_FIXED over part of a mapping, mprotect (a write to a
 *     PROT_READ page is caught as SIGSEGV/SEGV_ACCERR, PROT_NONE reads fault), munmap (the
 *     hole faults with SEGV_MAPERR, then MAP_FIXED_NOREPLACE can reuse it), mremap grow
 *     (in place or moving) with contents preserved, and shrink
 *   - file-backed mmap of a file it creates in $TMPDIR or /tmp: MAP_SHARED writes reach the file, MAP_PRIVATE
 *     writes do not, a mapping with a nonzero page offset, msync, and an unaligned offset
 *     fails with EINVAL
 *   - madvise(MADV_DONTNEED) re-zeroes private anonymous memory, mincore reports residency
 * Prints derived facts only (never addresses).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;
#define PAGE 4096ul

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

/* Every byte of p[0..n) equals v (checked a word at a time: keeps the instruction count low). */
static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    uint64_t pattern = 0x0101010101010101ull * v;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(p + i) & 7); i++)
        if (p[i] != v)
            return 0;
    for (; i + 8 <= n; i += 8)
        if (*(const uint64_t *)(p + i) != pattern)
            return 0;
    for (; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static sigjmp_buf segv_env;
static volatile void *segv_addr;
static volatile int segv_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    segv_addr = si->si_addr;
    segv_code = si->si_code;
    siglongjmp(segv_env, 1);
}

static void malloc_tests(void)
{
    /* 200000 is above glibc's default mmap threshold (128 KiB): served by mmap, not brk. */
    static const size_t sizes[] = {1, 7, 16, 24, 100, 255, 1000, 4095, 4096, 4097, 10000, 40000, 200000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *p[N];
    int ok = 1;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            p[i] = malloc(sizes[i]);
            if (!p[i]) {
                ok = 0;
                continue;
            }
            memset(p[i], (unsigned char)(i * 7 + round), sizes[i]);
        }
        for (int i = 0; i < N; i++) {
            if (p[i] && !all_bytes(p[i], sizes[i], (unsigned char)(i * 7 + round)))
                ok = 0;
            if (((uintptr_t)p[i] & 15) != 0)
                ok = 0;
        }
        /* free in an interleaved order to exercise coalescing */
        for (int i = 0; i < N; i += 2)
            free(p[i]);
        for (int i = 1; i < N; i += 2)
            free(p[i]);
    }
    check("malloc/free 13 sizes x2, patterns intact, 16-byte aligned", ok);

    unsigned char *c = calloc(1000, 37);
    check("calloc zeroed", c && all_bytes(c, 37000, 0));
    unsigned char *r = malloc(10);
    memcpy(r, "0123456789", 10);
    r = realloc(r, 100000);
    check("realloc grow keeps contents", r && memcmp(r, "0123456789", 10) == 0);
    r = realloc(r, 5);
    check("realloc shrink keeps contents", r && memcmp(r, "01234", 5) == 0);
    free(r);
    free(c);

    void *a = memalign(4096, 100);
    void *b = NULL;
    int rc = posix_memalign(&b, 256, 1000);
    check("memalign 4096", a && ((uintptr_t)a & 4095) == 0);
    check("posix_memalign 256", rc == 0 && ((uintptr_t)b & 255) == 0);
    free(a);
    free(b);

    /* A linked list of many small nodes. */
    struct node {
        struct node *next;
        long v;
    } *head = NULL;
    for (long i = 0; i < 1000; i++) {
        struct node *n = malloc(sizeof *n);
        n->v = i;
        n->next = head;
        head = n;
    }
    long sum = 0;
    while (head) {
        struct node *n = head;
        sum += n->v;
        head = n->next;
        free(n);
    }
    printf("list sum: %ld\n", sum);
}

static void brk_tests(void)
{
    char *b0 = sbrk(0);
    char *b1 = sbrk(4 * PAGE);
    char *b2 = sbrk(0);
    check("sbrk grow returns old break", b1 == b0);
    check("break advanced by 16 KiB", b2 == b0 + 4 * PAGE);
    memset(b1, 0x5a, 4 * PAGE);
    check("new heap memory writable", all_bytes((unsigned char *)b1, 4 * PAGE, 0x5a));
    char *b3 = sbrk(-(intptr_t)(2 * PAGE));
    check("sbrk shrink", b3 == b2 && sbrk(0) == b0 + 2 * PAGE);
    check("brk back to start", brk(b0) == 0 && sbrk(0) == b0);
}

static void anon_tests(void)
{
    size_t len = 16 * PAGE;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap anonymous", m != MAP_FAILED);
    check("mmap page aligned", ((uintptr_t)m & (PAGE - 1)) == 0);
    check("anonymous memory zero-filled", all_bytes(m, len, 0));
    memset(m, 0x11, len);

    /* MAP_FIXED over pages 2..3 replaces them with fresh zero pages. */
    unsigned char *f = mmap(m + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                            -1, 0);
    check("MAP_FIXED returns the address", f == m + 2 * PAGE);
    check("MAP_FIXED pages zeroed, neighbours intact",
          all_bytes(m + 2 * PAGE, 2 * PAGE, 0) && all_bytes(m, 2 * PAGE, 0x11) && m[4 * PAGE] == 0x11);

    /* mprotect read-only: reads fine, a write faults with SEGV_ACCERR at the right address. */
    struct sigaction sa = {0}, old;
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, &old);
    check("mprotect PROT_READ", mprotect(m + 4 * PAGE, PAGE, PROT_READ) == 0);
    check("read-only page readable", m[4 * PAGE + 100] == 0x11);
    volatile unsigned char *target = m + 4 * PAGE + 123;
    if (sigsetjmp(segv_env, 1) == 0) {
        *target = 1;
        check("write to read-only page faults", 0);
    } else {
        check("write to read-only page faults", 1);
        check("si_addr is the faulting address", segv_addr == (void *)target);
        check("si_code SEGV_ACCERR", segv_code == SEGV_ACCERR);
    }
    check("mprotect back to RW", mprotect(m + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0);
    m[4 * PAGE + 123] = 2;
    check("writable again", m[4 * PAGE + 123] == 2);

    /* PROT_NONE: even reads fault. */
    mprotect(m + 5 * PAGE, PAGE, PROT_NONE);
    if (sigsetjmp(segv_env, 1) == 0) {
        (void)*(volatile unsigned char *)(m + 5 * PAGE);
        check("read of PROT_NONE page faults", 0);
    } else {
        check("read of PROT_NONE page faults", segv_code == SEGV_ACCERR);
    }
    mprotect(m + 5 * PAGE, PAGE, PROT_READ | PROT_WRITE);

    /* munmap a page in the middle; it then faults with SEGV_MAPERR. */
    check("munmap middle page", munmap(m + 8 * PAGE, PAGE) == 0);
    if (sigsetjmp(segv_env, 1) == 0) {
        (void)*(volatile unsigned char *)(m + 8 * PAGE + 8);
        check("unmapped page faults", 0);
    } else {
        check("unmapped page faults with SEGV_MAPERR", segv_code == SEGV_MAPERR);
    }
    sigaction(SIGSEGV, &old, NULL);
    unsigned char *again =
        mmap(m + 8 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check("MAP_FIXED_NOREPLACE fills the hole", again == m + 8 * PAGE);
    /* Not checked: MAP_FIXED_NOREPLACE over a mapped page must fail with EEXIST, but
       qemu-riscv64 7.2 instead returns a host address outside the guest address space. */

    /* madvise(MADV_DONTNEED) on private anonymous memory gives zero pages back. */
    memset(m + 9 * PAGE, 0x77, PAGE);
    check("madvise DONTNEED", madvise(m + 9 * PAGE, PAGE, MADV_DONTNEED) == 0);
    check("DONTNEED page reads as zero", all_bytes(m + 9 * PAGE, PAGE, 0));

    unsigned char vec[16];
    check("mincore", mincore(m, 4 * PAGE, vec) == 0 && (vec[0] & 1));

    /* mremap: grow (may move), contents preserved; shrink in place. */
    for (size_t i = 0; i < len; i += PAGE)
        m[i] = (unsigned char)(i / PAGE);
    unsigned char *g = mremap(m, len, 64 * PAGE, MREMAP_MAYMOVE);
    check("mremap grow", g != MAP_FAILED);
    int kept = 1;
    for (size_t i = 0; i < len; i += PAGE)
        if (g[i] != (unsigned char)(i / PAGE))
            kept = 0;
    check("mremap preserved contents", kept);
    check("mremap grown part zero", all_bytes(g + len, 48 * PAGE, 0));
    g[64 * PAGE - 1] = 9;
    unsigned char *s = mremap(g, 64 * PAGE, 4 * PAGE, 0);
    check("mremap shrink in place", s == g && s[3 * PAGE] == 3);
    check("munmap", munmap(s, 4 * PAGE) == 0);

    void *bad = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1);
    check("mmap unaligned offset EINVAL", bad == MAP_FAILED && errno == EINVAL);
    check("munmap unaligned EINVAL", munmap((char *)s + 1, PAGE) == -1 && errno == EINVAL);
    /* A big reservation that is never touched. */
    void *big = mmap(NULL, 1ul << 32, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check("4 GiB PROT_NONE reservation", big != MAP_FAILED && munmap(big, 1ul << 32) == 0);
}

static void file_tests(void)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/pyqemu-memory-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(path);
    check("mkstemp", fd >= 0);
    unlink(path); /* the open fd keeps the file alive */
    char buf[3 * PAGE];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    check("write 3 pages", write(fd, buf, sizeof buf) == (ssize_t)sizeof buf);

    char *sh = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("mmap MAP_SHARED file", sh != MAP_FAILED);
    check("mapping shows file contents", memcmp(sh, buf, sizeof buf) == 0);
    memcpy(sh + 10, "SHARED", 6);
    check("msync", msync(sh, 3 * PAGE, MS_SYNC) == 0);
    char rb[16] = {0};
    check("pread sees MAP_SHARED write", pread(fd, rb, 6, 10) == 6 && memcmp(rb, "SHARED", 6) == 0);
    check("pwrite visible through mapping", pwrite(fd, "FILE", 4, PAGE + 1) == 4 && memcmp(sh + PAGE + 1, "FILE", 4) == 0);

    char *pr = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
    check("mmap MAP_PRIVATE at offset 1 page", pr != MAP_FAILED);
    check("offset mapping contents", memcmp(pr + 1, "FILE", 4) == 0 && pr[PAGE] == buf[2 * PAGE]);
    memcpy(pr + 1, "PRIV", 4);
    check("MAP_PRIVATE write not in file", pread(fd, rb, 4, PAGE + 1) == 4 && memcmp(rb, "FILE", 4) == 0);
    check("MAP_PRIVATE write not in shared map", memcmp(sh + PAGE + 1, "FILE", 4) == 0);

    /* Mapping past EOF within the last page: the tail of the page reads as zero. */
    check("ftruncate to 1.5 pages", ftruncate(fd, PAGE + PAGE / 2) == 0);
    char *tail = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    check("tail of last page zero", tail != MAP_FAILED && all_bytes((unsigned char *)tail + PAGE + PAGE / 2, PAGE / 2, 0));
    munmap(tail, 2 * PAGE);
    munmap(pr, 2 * PAGE);
    munmap(sh, 3 * PAGE);

    void *bad = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 100);
    check("file mmap unaligned offset EINVAL", bad == MAP_FAILED && errno == EINVAL);
    close(fd);
    bad = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    check("mmap closed fd EBADF", bad == MAP_FAILED && errno == EBADF);
}

int main(void)
{
    malloc_tests();
    brk_tests();
    anon_tests();
    file_tests();
    printf("%s memory\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
