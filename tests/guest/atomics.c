// build: -pthread
/*
 * atomics: the A extension.
 *   - every AMO (swap/add/and/or/xor/min/max/minu/maxu, .w and .d, with .aq/.rl/.aqrl),
 *     checking the returned old value (.w results are sign-extended) and the memory result
 *   - LR/SC: a hand-written lr.d/sc.d increment loop, lr.w/sc.w, a second sc after a
 *     successful one fails (reservation consumed), sc to a different address than the lr fails
 *   - C11 <stdatomic.h> on 8/16/32/64-bit objects (subword ones go through libatomic's LR/SC
 *     loops), compare_exchange success/failure, atomic_flag, fences
 *   - 4 threads hammering a shared counter with fetch_add, with a CAS loop, and with a
 *     spinlock built from atomic_flag protecting a plain counter: totals must be exact
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define AMO(insn, ptr, val)                                                                   \
    ({                                                                                        \
        uint64_t _old;                                                                        \
        __asm__ volatile(insn " %0, %2, %1" : "=r"(_old), "+A"(*(ptr)) : "r"((uint64_t)(val)) : "memory"); \
        _old;                                                                                 \
    })

static int failures;

static void expect(const char *what, uint64_t got, uint64_t want)
{
    printf("%-26s %016" PRIx64 "%s\n", what, got, got == want ? "" : " MISMATCH");
    if (got != want)
        failures++;
}

static void amo_tests(void)
{
    static volatile uint64_t d;
    static volatile uint32_t w;

    d = 100;
    expect("amoadd.d old", AMO("amoadd.d", &d, 5), 100);
    expect("amoadd.d new", d, 105);
    expect("amoswap.d.aq old", AMO("amoswap.d.aq", &d, 0xfedcba9876543210ull), 105);
    expect("amoand.d.rl", (AMO("amoand.d.rl", &d, 0xff00ff00ff00ff00ull), d), 0xfe00ba0076003200ull);
    expect("amoor.d.aqrl", (AMO("amoor.d.aqrl", &d, 0xf), d), 0xfe00ba007600320full);
    expect("amoxor.d", (AMO("amoxor.d", &d, 0xffffffffffffffffull), d), 0x01ff45ff89ffcdf0ull);
    d = (uint64_t)-5;
    expect("amomin.d (signed)", (AMO("amomin.d", &d, 3), d), (uint64_t)-5);
    expect("amominu.d", (AMO("amominu.d", &d, 3), d), 3);
    expect("amomax.d", (AMO("amomax.d", &d, (uint64_t)-7), d), 3);
    expect("amomaxu.d", (AMO("amomaxu.d", &d, (uint64_t)-7), d), (uint64_t)-7);

    w = 0x7fffffff;
    expect("amoadd.w old", AMO("amoadd.w", &w, 1), 0x7fffffff);
    expect("amoadd.w wraps", w, 0x80000000u);
    expect("amoadd.w old sign-ext", AMO("amoadd.w", &w, 0), 0xffffffff80000000ull);
    expect("amoswap.w", AMO("amoswap.w", &w, 0x12345678), 0xffffffff80000000ull);
    expect("amoand.w", (AMO("amoand.w", &w, 0xf0f0f0f0), w), 0x10305070);
    expect("amoor.w", (AMO("amoor.w", &w, 0x80000000), w), 0x90305070);
    expect("amoxor.w", (AMO("amoxor.w", &w, 0xffffffff), w), 0x6fcfaf8f);
    w = 0xfffffff0; /* -16 */
    expect("amomin.w", (AMO("amomin.w", &w, 5), w), 0xfffffff0);
    expect("amominu.w", (AMO("amominu.w", &w, 5), w), 5);
    expect("amomax.w", (AMO("amomax.w", &w, 0xffffffff), w), 5);
    expect("amomaxu.w", (AMO("amomaxu.w", &w, 0xffffffff), w), 0xffffffff);
    /* The upper half of the neighbouring doubleword must be untouched by .w AMOs. */
    static volatile uint32_t pair[2] = {1, 0xaaaaaaaa};
    AMO("amoadd.w", &pair[0], 0xffffffff);
    expect("amoadd.w neighbour", ((uint64_t)pair[1] << 32) | pair[0], 0xaaaaaaaa00000000ull);
}

static void lrsc_tests(void)
{
    static volatile uint64_t d = 41, other = 7;
    static volatile uint32_t w = 0xffffffffu;
    uint64_t tmp, fail, old;

    /* Classic increment loop. */
    __asm__ volatile("1: lr.d.aq %0, %2\n"
                     "   addi %0, %0, 1\n"
                     "   sc.d.rl %1, %0, %2\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(tmp), "=&r"(fail), "+A"(d)
                     :
                     : "memory");
    expect("lr/sc loop", d, 42);

    /* lr.w, sc.w (succeeds), sc.w again (the reservation was consumed: fails).  Kept in one asm
       block: any code in between (a call, a syscall) may legitimately drop the reservation. */
    uint64_t fail2;
    __asm__ volatile("lr.w %0, %3\n"
                     "sc.w %1, %4, %3\n"
                     "sc.w %2, %5, %3\n"
                     : "=&r"(old), "=&r"(fail), "=&r"(fail2), "+A"(w)
                     : "r"(5ull), "r"(6ull)
                     : "memory");
    expect("lr.w sign-extends", old, 0xffffffffffffffffull);
    expect("sc.w after lr.w succeeds", fail, 0);
    expect("second sc.w fails", fail2 != 0, 1);
    expect("memory has first sc.w", w, 5);

    /* lr on one address, sc on another: fails. */
    __asm__ volatile("lr.d %0, %2\n"
                     "sc.d %1, %4, %3\n"
                     : "=&r"(old), "=&r"(fail), "+A"(d), "+A"(other)
                     : "r"(99ull)
                     : "memory");
    expect("sc.d other address fails", fail != 0, 1);
    expect("other unchanged", other, 7);
}

static void c11_tests(void)
{
    static _Atomic uint8_t u8 = 250;
    static _Atomic int16_t s16 = -2;
    static _Atomic uint32_t u32 = 1;
    static _Atomic int64_t s64 = 0;
    static atomic_flag flag = ATOMIC_FLAG_INIT;

    expect("u8 fetch_add old", atomic_fetch_add(&u8, 10), 250);
    expect("u8 wrapped", atomic_load(&u8), 4);
    expect("s16 fetch_sub old", (uint64_t)(int64_t)atomic_fetch_sub(&s16, 32767), (uint64_t)-2);
    expect("s16 wrapped", (uint64_t)(int64_t)atomic_load(&s16), 32767);
    expect("s16 fetch_or", (uint64_t)(int64_t)(atomic_fetch_or(&s16, (int16_t)0x8000), atomic_load(&s16)),
           (uint64_t)-1);
    expect("u32 fetch_xor", (atomic_fetch_xor(&u32, 0xffffffffu), atomic_load(&u32)), 0xfffffffe);
    expect("u32 fetch_and", (atomic_fetch_and(&u32, 0x0ff0u), atomic_load(&u32)), 0x0ff0);
    expect("s64 exchange", (uint64_t)atomic_exchange(&s64, INT64_MIN), 0);

    int64_t exp64 = 5;
    int ok = atomic_compare_exchange_strong(&s64, &exp64, 6);
    expect("cas fail returns false", ok, 0);
    expect("cas fail updates expected", (uint64_t)exp64, (uint64_t)INT64_MIN);
    ok = atomic_compare_exchange_strong(&s64, &exp64, 6);
    expect("cas success", ok, 1);
    expect("cas stored", (uint64_t)atomic_load(&s64), 6);
    uint8_t exp8 = 4;
    ok = atomic_compare_exchange_strong(&u8, &exp8, 0x80);
    expect("u8 cas success", ok, 1);
    do {
        exp8 = atomic_load_explicit(&u8, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&u8, &exp8, exp8 + 1, memory_order_acq_rel,
                                                    memory_order_relaxed));
    expect("u8 cas weak loop", atomic_load(&u8), 0x81);

    expect("flag first test_and_set", atomic_flag_test_and_set(&flag), 0);
    expect("flag second test_and_set", atomic_flag_test_and_set(&flag), 1);
    atomic_flag_clear(&flag);
    expect("flag after clear", atomic_flag_test_and_set_explicit(&flag, memory_order_acquire), 0);

    atomic_thread_fence(memory_order_seq_cst);
    atomic_signal_fence(memory_order_seq_cst);
    __asm__ volatile("fence rw, rw\n\tfence.tso\n\tfence r, r\n\tfence w, w\n\tfence iorw, iorw" ::: "memory");
    int v = 3;
    expect("__atomic_add_fetch", (uint64_t)__atomic_add_fetch(&v, 4, __ATOMIC_SEQ_CST), 7);
    expect("__atomic_nand_fetch", (uint64_t)(uint32_t)__atomic_nand_fetch(&v, 5, __ATOMIC_RELAXED), 0xfffffffa);
}

#define NTHREADS 4
#define ITERS 1000

static _Atomic long add_counter;
static _Atomic long cas_counter;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static long plain_counter;
static _Atomic int go;

static void *worker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&go, memory_order_acquire))
        ;
    for (int i = 0; i < ITERS; i++) {
        atomic_fetch_add_explicit(&add_counter, 1, memory_order_relaxed);
        long cur = atomic_load_explicit(&cas_counter, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&cas_counter, &cur, cur + 2))
            ;
        while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire))
            ;
        plain_counter += 3;
        atomic_flag_clear_explicit(&spin, memory_order_release);
    }
    return NULL;
}

static void thread_tests(void)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
            printf("pthread_create failed\n");
            failures++;
            return;
        }
    atomic_store_explicit(&go, 1, memory_order_release);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    expect("threads fetch_add total", (uint64_t)atomic_load(&add_counter), NTHREADS * ITERS);
    expect("threads cas total", (uint64_t)atomic_load(&cas_counter), 2 * NTHREADS * ITERS);
    expect("threads spinlock total", (uint64_t)plain_counter, 3 * NTHREADS * ITERS);
}

int main(void)
{
    amo_tests();
    lrsc_tests();
    c11_tests();
    thread_tests();
    printf("%s atomics\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
