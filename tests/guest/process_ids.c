/*
 * process_ids: identity and resource queries.
 *   getpid/getppid/gettid (main thread's tid == pid), getpgid/getsid, uid/gid family
 *   (getresuid/getresgid agree), getgroups, uname (machine must be "riscv64", sysname
 *   "Linux"), sysinfo, getrlimit/setrlimit/prlimit64, getrusage, sched_getaffinity/
 *   sched_getcpu/sched_yield/sched_getscheduler, getpriority, getrandom, prctl(PR_SET_NAME),
 *   sysconf of page size/CPU count, gethostname vs uname nodename.
 * Prints facts like "pid>0: yes", never the numbers themselves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

int main(void)
{
    pid_t pid = getpid();
    check("pid>0", pid > 0);
    check("ppid>0", getppid() > 0);
    check("ppid != pid", getppid() != pid);
    check("gettid == pid (main thread)", gettid() == pid);
    check("getpgid(0) == getpgrp()", getpgid(0) == getpgrp());
    check("getsid(0) >= 0", getsid(0) >= 0); /* 0 when the session leader is outside our pid namespace */

    uid_t r, e, s;
    gid_t gr, ge, gs;
    check("getresuid agrees", getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid());
    check("getresgid agrees", getresgid(&gr, &ge, &gs) == 0 && gr == getgid() && ge == getegid());
    int ng = getgroups(0, NULL);
    gid_t groups[256];
    check("getgroups", ng >= 0 && ng <= 256 && getgroups(ng, groups) == ng);
    check("setuid to own uid", setuid(getuid()) == 0);

    struct utsname u;
    check("uname", uname(&u) == 0);
    printf("sysname: %s\n", u.sysname);
    printf("machine: %s\n", u.machine);
    check("release nonempty", u.release[0] != '\0');
    char host[256];
    check("gethostname == nodename", gethostname(host, sizeof host) == 0 && strcmp(host, u.nodename) == 0);

    struct sysinfo si;
    check("sysinfo", sysinfo(&si) == 0);
    check("sysinfo totalram>0", si.totalram > 0 && si.mem_unit > 0);
    check("sysinfo freeram <= totalram", si.freeram <= si.totalram);
    check("sysinfo uptime>0", si.uptime > 0);
    check("sysinfo procs>0", si.procs > 0);

    struct rlimit rl, rl2;
    check("getrlimit RLIMIT_STACK", getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
    check("getrlimit RLIMIT_NOFILE", getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 64);
    check("prlimit(0, NOFILE) == getrlimit", prlimit(0, RLIMIT_NOFILE, NULL, &rl2) == 0 &&
                                                 rl2.rlim_cur == rl.rlim_cur && rl2.rlim_max == rl.rlim_max);
    struct rlimit lower = {32, rl.rlim_max};
    check("setrlimit NOFILE soft=32", setrlimit(RLIMIT_NOFILE, &lower) == 0);
    check("getrlimit shows 32", getrlimit(RLIMIT_NOFILE, &rl2) == 0 && rl2.rlim_cur == 32);
    int fds_ok = 1, fd;
    while ((fd = dup(0)) >= 0 && fd < 40)
        ;
    fds_ok = fd == -1 && errno == EMFILE;
    check("fd limit enforced (EMFILE)", fds_ok);
    for (int i = 3; i < 32; i++)
        close(i);
    struct rlimit old;
    check("prlimit set back, returns old", prlimit(0, RLIMIT_NOFILE, &rl, &old) == 0 && old.rlim_cur == 32);
    check("prlimit RLIMIT_AS", prlimit(getpid(), RLIMIT_AS, NULL, &rl2) == 0);
    errno = 0;
    check("getrlimit bad resource -> EINVAL", getrlimit((__rlimit_resource_t)999, &rl2) == -1 && errno == EINVAL);

    struct rusage ru;
    check("getrusage", getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0);

    cpu_set_t set;
    CPU_ZERO(&set);
    check("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) == 0);
    check("at least one CPU in the mask", CPU_COUNT(&set) >= 1);
    check("sysconf(_SC_NPROCESSORS_ONLN) >= 1", sysconf(_SC_NPROCESSORS_ONLN) >= 1);
    int cpu = sched_getcpu();
    check("sched_getcpu >= 0", cpu >= 0);
    check("sched_yield", sched_yield() == 0);
    check("sched_getscheduler SCHED_OTHER", sched_getscheduler(0) == SCHED_OTHER);
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    check("getpriority", errno == 0 && prio >= -20 && prio <= 19);

    unsigned char rnd[32] = {0}, rnd2[32] = {0};
    check("getrandom 32 bytes", getrandom(rnd, sizeof rnd, 0) == 32);
    check("getrandom GRND_NONBLOCK", getrandom(rnd2, sizeof rnd2, GRND_NONBLOCK) == 32);
    check("two getrandom calls differ", memcmp(rnd, rnd2, 32) != 0);

    char name[16] = {0};
    check("prctl PR_SET_NAME", prctl(PR_SET_NAME, "pyqemu-guest", 0, 0, 0) == 0);
    check("prctl PR_GET_NAME round trip",
          prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "pyqemu-guest") == 0);
    check("sysconf(_SC_PAGESIZE) == 4096", sysconf(_SC_PAGESIZE) == 4096);

    printf("%s process_ids\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
