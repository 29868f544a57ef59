/*
 * fork_wait: process creation and reaping.
 *   - fork: child exits 7, parent's waitpid sees WIFEXITED/WEXITSTATUS 7; the child has its
 *     own copy of memory (copy-on-write) and a new pid whose parent is us
 *   - a child killed by a signal (SIGKILL from the parent, SIGABRT from abort()): WIFSIGNALED,
 *     WTERMSIG; a stopped/continued child via WUNTRACED/WCONTINUED
 *   - vfork + _exit(9)
 *   - a pipe from child to parent and one from parent to child
 *   - wait4 with rusage, waitid(P_PID, WEXITED), WNOHANG while the child still runs, ECHILD
 *     when there is nothing to wait for, SIGCHLD delivered to the parent (si_code
 *     CLD_EXITED, si_status)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static int global = 1;

int main(void)
{
    pid_t me = getpid();
    int status;

    /* --- fork, exit status, copy-on-write --- */
    int p[2];
    pipe(p);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        global = 2;
        char msg[64];
        int n = snprintf(msg, sizeof msg, "child: ppid==parent %s, pid!=parent %s", getppid() == me ? "yes" : "NO",
                         getpid() != me ? "yes" : "NO");
        write(p[1], msg, n);
        _exit(7);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t n, total = 0;
    while ((n = read(p[0], buf + total, sizeof buf - 1 - total)) > 0)
        total += n;
    close(p[0]);
    printf("from child via pipe: %s\n", buf);
    check("fork returned a child pid", c > 0 && c != me);
    check("waitpid returns the child", waitpid(c, &status, 0) == c);
    check("WIFEXITED", WIFEXITED(status));
    printf("WEXITSTATUS: %d\n", WEXITSTATUS(status));
    check("parent memory unaffected by child write", global == 1);
    errno = 0;
    check("waitpid again -> ECHILD", waitpid(c, &status, 0) == -1 && errno == ECHILD);

    /* --- pipe parent -> child, child answers through its exit status --- */
    int down[2];
    pipe(down);
    c = fork();
    if (c == 0) {
        close(down[1]);
        char in[16] = {0};
        ssize_t r = read(down[0], in, sizeof in - 1);
        _exit(r == 5 && strcmp(in, "hello") == 0 ? 42 : 1);
    }
    close(down[0]);
    write(down[1], "hello", 5);
    close(down[1]);
    waitpid(c, &status, 0);
    printf("child read parent's message, exit status: %d\n", WEXITSTATUS(status));

    /* --- children killed by signals --- */
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    check("WNOHANG while child runs returns 0", waitpid(c, &status, WNOHANG) == 0);
    kill(c, SIGKILL);
    waitpid(c, &status, 0);
    check("SIGKILLed child: WIFSIGNALED", WIFSIGNALED(status));
    printf("WTERMSIG: %d\n", WTERMSIG(status));

    c = fork();
    if (c == 0)
        abort();
    waitpid(c, &status, 0);
    check("aborted child: WIFSIGNALED", WIFSIGNALED(status));
    printf("WTERMSIG: %d\n", WTERMSIG(status));

    /* --- stop / continue --- */
    int gate[2];
    pipe(gate);
    c = fork();
    if (c == 0) {
        close(gate[1]);
        raise(SIGSTOP);
        char ch;
        read(gate[0], &ch, 1); /* don't exit before the parent has seen the continue */
        _exit(3);
    }
    close(gate[0]);
    check("waitpid WUNTRACED sees the stop", waitpid(c, &status, WUNTRACED) == c && WIFSTOPPED(status) &&
                                                 WSTOPSIG(status) == SIGSTOP);
    kill(c, SIGCONT);
    check("waitpid WCONTINUED sees the continue",
          waitpid(c, &status, WCONTINUED) == c && WIFCONTINUED(status));
    close(gate[1]);
    waitpid(c, &status, 0);
    check("then it exits 3", WIFEXITED(status) && WEXITSTATUS(status) == 3);

    /* --- vfork --- */
    /* Not checked: that the child's writes are visible to the parent.  Linux vfork shares the
       address space, but qemu-riscv64 emulates vfork with a plain fork. */
    c = vfork();
    if (c == 0)
        _exit(9);
    check("vfork returned a child pid", c > 0);
    waitpid(c, &status, 0);
    printf("vfork child exit status: %d\n", WEXITSTATUS(status));

    /* --- wait4 with rusage, waitid --- */
    c = fork();
    if (c == 0)
        _exit(11);
    struct rusage ru;
    check("wait4 with rusage", wait4(c, &status, 0, &ru) == c && WEXITSTATUS(status) == 11);
    c = fork();
    if (c == 0)
        _exit(12);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    check("waitid P_PID WEXITED", waitid(P_PID, c, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_EXITED &&
                                      si.si_status == 12);

    /* --- SIGCHLD --- */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    c = fork();
    if (c == 0)
        _exit(13);
    memset(&si, 0, sizeof si);
    int sig = sigwaitinfo(&set, &si);
    check("SIGCHLD received", sig == SIGCHLD);
    check("SIGCHLD si_pid is the child", si.si_pid == c);
    check("SIGCHLD si_code CLD_EXITED", si.si_code == CLD_EXITED);
    printf("SIGCHLD si_status: %d\n", si.si_status);
    waitpid(c, &status, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* --- several children, reaped in any order --- */
    for (int i = 0; i < 3; i++)
        if (fork() == 0)
            _exit(20 + i);
    int mask = 0;
    for (int i = 0; i < 3; i++) {
        if (wait(&status) > 0 && WIFEXITED(status))
            mask |= 1 << (WEXITSTATUS(status) - 20);
    }
    check("wait() reaped 3 children with statuses 20..22", mask == 7);
    errno = 0;
    check("wait() with no children -> ECHILD", wait(&status) == -1 && errno == ECHILD);

    printf("%s fork_wait\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
