/* A freestanding aarch64 Linux program (no libc, integer registers only: -mgeneral-regs-only) for
 * pyqemu-aarch64 before FP/AdvSIMD: system calls, a signal handler with SA_SIGINFO that returns through
 * rt_sigreturn, SA_RESTART, and an illegal instruction at the end when asked to. */
typedef unsigned long u64;

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}

#define SYS_write 64
#define SYS_exit_group 94
#define SYS_getpid 172
#define SYS_kill 129
#define SYS_rt_sigaction 134
#define SIGUSR1 10
#define SA_SIGINFO 4

struct kernel_sigaction { void (*handler)(int, void *, void *); u64 flags; void (*restorer)(void); u64 mask; };

static volatile int seen_signal;
static volatile int seen_code;

static u64 length(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void put(const char *s) { sys6(SYS_write, 1, (long)s, (long)length(s), 0, 0, 0); }

static void put_num(long v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    put(buf + i);
}

static void handler(int sig, void *info, void *uc)
{
    seen_signal = sig;
    seen_code = ((int *)info)[0]; /* si_signo */
    (void)uc;
}

static u64 mix(u64 x) { return x * 0x9E3779B97F4A7C15ul ^ (x >> 29); }

void __attribute__((noreturn)) start_c(long *sp)
{
    long argc = sp[0];
    struct kernel_sigaction act = { handler, SA_SIGINFO, 0, 0 };
    u64 keep = mix(12345);
    put("args ");
    put_num(argc);
    put("\n");
    if (sys6(SYS_rt_sigaction, SIGUSR1, (long)&act, 0, 8, 0, 0) != 0)
        put("sigaction failed\n");
    sys6(SYS_kill, sys6(SYS_getpid, 0, 0, 0, 0, 0, 0), SIGUSR1, 0, 0, 0, 0);
    put("signal ");
    put_num(seen_signal);
    put(" info ");
    put_num(seen_code);
    put(keep == mix(12345) ? " registers kept\n" : " registers lost\n");
    if (argc > 1)
        __asm__ volatile("udf #0");
    sys6(SYS_exit_group, 42, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

__asm__(".globl _start\n_start:\n mov x0, sp\n bl start_c\n");
