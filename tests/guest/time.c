/*
 * time: clocks and sleeping.  Only relations are printed, never times.
 *   clock_gettime (REALTIME, MONOTONIC, MONOTONIC_RAW, BOOTTIME, PROCESS/THREAD_CPUTIME_ID,
 *   *_COARSE), monotonic never goes backwards, clock_getres, gettimeofday and time() agree with
 *   CLOCK_REALTIME, nanosleep(10 ms) sleeps at least 10 ms (and not absurdly long),
 *   clock_nanosleep relative and TIMER_ABSTIME, invalid arguments give EINVAL, times(),
 *   CPU time advances while spinning.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static int64_t ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int64_t now(clockid_t c)
{
    struct timespec t;
    if (clock_gettime(c, &t) != 0)
        return -1;
    return ns(&t);
}

int main(void)
{
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME"},
        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
        {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
        {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
        {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
        {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
    };
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec t, r;
        int ok = clock_gettime(clocks[i].id, &t) == 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000;
        int rok = clock_getres(clocks[i].id, &r) == 0 && (r.tv_sec > 0 || r.tv_nsec > 0) && r.tv_sec == 0;
        printf("%-25s gettime ok: %s, getres ok: %s\n", clocks[i].name, ok ? "yes" : "NO", rok ? "yes" : "NO");
        if (!ok || !rok)
            failures++;
    }
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    check("CLOCK_MONOTONIC resolution <= 1 ms", ns(&res) <= 1000000);

    int64_t real = now(CLOCK_REALTIME);
    check("CLOCK_REALTIME after 2020", real / 1000000000 > 1577836800);
    struct timeval tv;
    check("gettimeofday", gettimeofday(&tv, NULL) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    int64_t tv_ns = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
    check("gettimeofday within 2 s of CLOCK_REALTIME", tv_ns - real > -2000000000ll && tv_ns - real < 2000000000ll);
    time_t t1 = time(NULL);
    check("time() within 2 s of gettimeofday", t1 - tv.tv_sec >= -2 && t1 - tv.tv_sec <= 2);

    int64_t prev = now(CLOCK_MONOTONIC), backwards = 0;
    for (int i = 0; i < 200; i++) {
        int64_t cur = now(CLOCK_MONOTONIC);
        if (cur < prev)
            backwards++;
        prev = cur;
    }
    check("CLOCK_MONOTONIC never goes backwards (200 reads)", backwards == 0);

    int64_t m0 = now(CLOCK_MONOTONIC);
    struct timespec req = {0, 10 * 1000 * 1000}, rem = {99, 99};
    int rc = nanosleep(&req, &rem);
    int64_t m1 = now(CLOCK_MONOTONIC);
    check("nanosleep(10 ms) returns 0", rc == 0);
    check("slept >= 10 ms", m1 - m0 >= 10000000);
    check("slept < 5 s", m1 - m0 < 5000000000ll);
    check("CLOCK_MONOTONIC strictly increased", m1 > m0);

    m0 = now(CLOCK_MONOTONIC);
    req.tv_nsec = 5 * 1000 * 1000;
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    m1 = now(CLOCK_MONOTONIC);
    check("clock_nanosleep relative 5 ms", rc == 0 && m1 - m0 >= 5000000);

    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 5 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_nsec -= 1000000000;
        abs.tv_sec++;
    }
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
    check("clock_nanosleep TIMER_ABSTIME reached deadline", rc == 0 && now(CLOCK_MONOTONIC) >= ns(&abs));

    struct timespec bad = {0, 1000000000};
    errno = 0;
    check("nanosleep tv_nsec=1e9 -> EINVAL", nanosleep(&bad, NULL) == -1 && errno == EINVAL);
    struct timespec tmp;
    errno = 0;
    check("clock_gettime bad clock -> EINVAL", clock_gettime((clockid_t)12345, &tmp) == -1 && errno == EINVAL);
    struct timespec zero = {0, 0};
    check("nanosleep(0) returns 0", nanosleep(&zero, NULL) == 0);

    /* CPU time advances while we spin. */
    int64_t c0 = now(CLOCK_PROCESS_CPUTIME_ID), tc0 = now(CLOCK_THREAD_CPUTIME_ID);
    volatile uint64_t x = 1;
    int64_t spin_start = now(CLOCK_MONOTONIC);
    while (now(CLOCK_PROCESS_CPUTIME_ID) - c0 < 2000000 && now(CLOCK_MONOTONIC) - spin_start < 5000000000ll)
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    check("process CPU time advanced while spinning", now(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 2000000);
    check("thread CPU time advanced too", now(CLOCK_THREAD_CPUTIME_ID) > tc0);
    struct tms tb;
    clock_t tk = times(&tb);
    check("times() works", tk != (clock_t)-1);
    check("sysconf(_SC_CLK_TCK) == 100", sysconf(_SC_CLK_TCK) == 100);

    printf("%s time\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
