// build: -pthread
/*
 * threads: clone-based POSIX threads.
 *   - pthread_create x4 with arguments, pthread_join collecting return values
 *   - a mutex-protected shared counter, a condition variable start barrier (main waits until
 *     all workers are running, then broadcasts "go"), pthread_barrier
 *   - thread-local storage (__thread, initialised and zero-initialised TLS, per-thread
 *     addresses differ, main's copy untouched), pthread_key_create with a destructor,
 *     pthread_once
 *   - a lock built directly on the futex syscall (FUTEX_WAIT/FUTEX_WAKE, private) used under
 *     contention, plus FUTEX_WAIT with a wrong value -> EAGAIN and a timeout -> ETIMEDOUT
 *   - gettid differs per thread and != pid, getpid is shared; pthread_self/pthread_equal,
 *     detached threads, a thread calling pthread_exit, per-thread signal masks,
 *     pthread_kill delivering to a specific thread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define ITERS 500

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

/* ---- TLS ---- */
static __thread int tls_init = 42;
static __thread long tls_zero;
static __thread char tls_buf[64];

/* ---- futex lock (Drepper's "mutex 2": 0 unlocked, 1 locked, 2 locked with waiters) ---- */
static long futex(atomic_int *uaddr, int op, int val, const struct timespec *ts)
{
    return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static atomic_int flock_word;
static atomic_int futex_waits;
static void flock_lock(atomic_int *f)
{
    int c = 0;
    if (atomic_compare_exchange_strong(f, &c, 1))
        return;
    if (c != 2)
        c = atomic_exchange(f, 2);
    while (c != 0) {
        atomic_fetch_add(&futex_waits, 1);
        futex(f, FUTEX_WAIT_PRIVATE, 2, NULL);
        c = atomic_exchange(f, 2);
    }
}
static void flock_unlock(atomic_int *f)
{
    if (atomic_fetch_sub(f, 1) != 1) {
        atomic_store(f, 0);
        futex(f, FUTEX_WAKE_PRIVATE, 1, NULL);
    }
}

/* ---- shared state ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, go;
static long mutex_counter, futex_counter;
static pthread_barrier_t barrier;
static pthread_key_t key;
static atomic_int destructor_runs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;
static pid_t tids[NTHREADS];
static uintptr_t tls_addrs[NTHREADS];
static atomic_int serial_threads;

static void key_destructor(void *p)
{
    atomic_fetch_add(&destructor_runs, 1);
    free(p);
}

static void once_fn(void)
{
    atomic_fetch_add(&once_runs, 1);
}

struct work {
    int id;
    int tls_ok;
};

static void *worker(void *arg)
{
    struct work *w = arg;
    int id = w->id;

    /* TLS starts from the initialisation image in every thread. */
    w->tls_ok = tls_init == 42 && tls_zero == 0 && tls_buf[10] == 0;
    tls_init = 100 + id;
    tls_zero = id;
    snprintf(tls_buf, sizeof tls_buf, "thread %d", id);
    tls_addrs[id] = (uintptr_t)&tls_init;
    tids[id] = gettid();

    pthread_once(&once, once_fn);
    int *val = malloc(sizeof *val);
    *val = id;
    pthread_setspecific(key, val);

    /* start barrier on a condition variable */
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    while (!go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    for (int i = 0; i < ITERS; i++) {
        pthread_mutex_lock(&mu);
        mutex_counter++;
        pthread_mutex_unlock(&mu);

        flock_lock(&flock_word);
        long v = futex_counter;
        if ((i & 63) == 0)
            sched_yield(); /* widen the critical section now and then */
        futex_counter = v + 1;
        flock_unlock(&flock_word);
    }

    int r = pthread_barrier_wait(&barrier);
    if (r == PTHREAD_BARRIER_SERIAL_THREAD)
        atomic_fetch_add(&serial_threads, 1);

    /* TLS must still hold this thread's values */
    w->tls_ok &= tls_init == 100 + id && tls_zero == id && strcmp(tls_buf, "thread ") > 0 &&
                 *(int *)pthread_getspecific(key) == id;
    return (void *)(intptr_t)(id * 10);
}

static void *exits_early(void *arg)
{
    (void)arg;
    pthread_exit((void *)(intptr_t)77);
    return NULL;
}

static atomic_int detached_done;
static void *detached_fn(void *arg)
{
    (void)arg;
    atomic_store(&detached_done, 1);
    return NULL;
}

/* ---- per-thread signals ---- */
static __thread volatile sig_atomic_t got_usr1;
static atomic_int usr1_thread_hits;
static void usr1_handler(int sig)
{
    (void)sig;
    got_usr1 = 1;
    atomic_fetch_add(&usr1_thread_hits, 1);
}
static atomic_int sig_ready, sig_done;
static void *signal_target(void *arg)
{
    (void)arg;
    atomic_store(&sig_ready, 1);
    while (!got_usr1)
        sched_yield();
    atomic_store(&sig_done, 1);
    return (void *)(intptr_t)got_usr1;
}

int main(void)
{
    pid_t pid = getpid();
    check("main tid == pid", gettid() == pid);
    pthread_key_create(&key, key_destructor);
    pthread_barrier_init(&barrier, NULL, NTHREADS);

    pthread_t th[NTHREADS];
    struct work w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].tls_ok = 0;
        if (pthread_create(&th[i], NULL, worker, &w[i]) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    }
    pthread_mutex_lock(&mu);
    while (started < NTHREADS)
        pthread_cond_wait(&cv, &mu);
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    printf("all %d workers started\n", NTHREADS);

    long sum = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        sum += (intptr_t)ret;
    }
    printf("sum of return values: %ld\n", sum);
    printf("mutex counter: %ld\n", mutex_counter);
    printf("futex counter: %ld\n", futex_counter);
    int tls_ok = 1, tids_ok = 1, addrs_ok = 1;
    for (int i = 0; i < NTHREADS; i++) {
        tls_ok &= w[i].tls_ok;
        tids_ok &= tids[i] > 0 && tids[i] != pid;
        for (int j = 0; j < i; j++) {
            tids_ok &= tids[i] != tids[j];
            addrs_ok &= tls_addrs[i] != tls_addrs[j];
        }
        addrs_ok &= tls_addrs[i] != (uintptr_t)&tls_init;
    }
    check("TLS initialised per thread and private", tls_ok);
    check("main thread TLS untouched", tls_init == 42 && tls_zero == 0 && tls_buf[0] == 0);
    check("TLS addresses differ per thread", addrs_ok);
    check("tids distinct and != pid", tids_ok);
    check("pthread_once ran once", atomic_load(&once_runs) == 1);
    check("key destructor ran for each worker", atomic_load(&destructor_runs) == NTHREADS);
    check("exactly one barrier serial thread", atomic_load(&serial_threads) == 1);

    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, exits_early, NULL);
    pthread_join(t, &ret);
    check("pthread_exit value", (intptr_t)ret == 77);
    check("pthread_equal(self, self)", pthread_equal(pthread_self(), pthread_self()) && !pthread_equal(t, pthread_self()));

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    check("detached create", pthread_create(&t, &attr, detached_fn, NULL) == 0);
    pthread_attr_destroy(&attr);
    for (int i = 0; i < 20000 && !atomic_load(&detached_done); i++) /* up to ~20 s */
        usleep(1000);
    check("detached thread ran", atomic_load(&detached_done));

    /* futex edge cases */
    atomic_int word = 5;
    errno = 0;
    check("FUTEX_WAIT wrong value -> EAGAIN", futex(&word, FUTEX_WAIT_PRIVATE, 4, NULL) == -1 && errno == EAGAIN);
    struct timespec ts = {0, 10 * 1000 * 1000};
    errno = 0;
    check("FUTEX_WAIT timeout -> ETIMEDOUT", futex(&word, FUTEX_WAIT_PRIVATE, 5, &ts) == -1 && errno == ETIMEDOUT);
    check("FUTEX_WAKE with no waiters -> 0", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL) == 0);

    /* pthread_kill targets one thread; main blocks SIGUSR1 so only the target can take it. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1_handler;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_create(&t, NULL, signal_target, NULL); /* the thread starts with SIGUSR1 unblocked */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* main blocks it: only the target can take it */
    while (!atomic_load(&sig_ready))
        sched_yield();
    pthread_kill(t, SIGUSR1);
    pthread_join(t, &ret);
    sigset_t pend;
    sigpending(&pend);
    check("pthread_kill reached the target thread only", (intptr_t)ret == 1 && atomic_load(&usr1_thread_hits) == 1 &&
                                                           !got_usr1 && !sigismember(&pend, SIGUSR1));

    pthread_barrier_destroy(&barrier);
    printf("%s threads\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
