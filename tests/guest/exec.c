/*
 * exec: execve of a guest binary from inside the guest.
 *   - fork + execve(argv[0]) with new argv and envp; the child reports what it received and
 *     exits with a chosen status
 *   - fork + execve("/proc/self/exe") with a different argv[0]; readlink("/proc/self/exe")
 *     names this binary
 *   - FD_CLOEXEC descriptors are closed across exec, others survive; ignored signals stay
 *     ignored, caught signals are reset to SIG_DFL, the blocked mask is preserved
 *   - failures: ENOENT, EACCES (not executable, directory)
 *   - finally the process execs itself (no fork): same pid, new image prints the OK line
 * Note: qemu-riscv64 runs guest execve() through the host kernel, so the host must have a
 * binfmt_misc handler for riscv64 ELF binaries; the test harness provides one if needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static int child_main(int argc, char **argv)
{
    const char *mode = argv[2];
    /* argv[0] is not printed: under binfmt_misc without the P flag it becomes the full path. */
    printf("[child %s] argc=%d EXEC_TEST=%s\n", mode, argc, getenv("EXEC_TEST") ? getenv("EXEC_TEST") : "unset");
    if (strcmp(mode, "fds") == 0) {
        int keep = atoi(argv[3]), cloexec = atoi(argv[4]);
        printf("[child fds] inherited fd open: %s\n", fcntl(keep, F_GETFD) >= 0 ? "yes" : "no");
        errno = 0;
        printf("[child fds] O_CLOEXEC fd closed: %s\n", fcntl(cloexec, F_GETFD) == -1 && errno == EBADF ? "yes" : "no");
        struct sigaction sa;
        sigaction(SIGUSR1, NULL, &sa);
        printf("[child fds] SIGUSR1 still ignored: %s\n", sa.sa_handler == SIG_IGN ? "yes" : "no");
        sigaction(SIGUSR2, NULL, &sa);
        printf("[child fds] SIGUSR2 handler reset to default: %s\n", sa.sa_handler == SIG_DFL ? "yes" : "no");
        sigset_t cur;
        sigprocmask(SIG_BLOCK, NULL, &cur);
        printf("[child fds] SIGTERM still blocked: %s\n", sigismember(&cur, SIGTERM) ? "yes" : "no");
    }
    fflush(stdout);
    return atoi(argv[argc - 1]);
}

static void usr2_handler(int sig)
{
    (void)sig;
}

static int run(const char *path, char *const av[], char *const ev[])
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        execve(path, av, ev);
        _exit(100 + errno);
    }
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "child") == 0)
        return child_main(argc, argv);
    if (argc > 2 && strcmp(argv[1], "final") == 0) {
        check("final image has the same pid", atoi(argv[2]) == getpid());
        printf("OK exec\n");
        return 0;
    }

    char self[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    check("readlink(/proc/self/exe) == realpath(argv[0])", n > 0 && realpath(argv[0], real) && strcmp(self, real) == 0);

    char *env[] = {"EXEC_TEST=1", "PATH=/usr/bin:/bin", NULL};
    char *av1[] = {argv[0], "child", "via-argv0", "5", NULL};
    printf("execve(argv[0]) child exit status: %d\n", run(argv[0], av1, env));

    char *av2[] = {"renamed-argv0", "child", "via-proc-self-exe", "6", NULL};
    printf("execve(/proc/self/exe) child exit status: %d\n", run("/proc/self/exe", av2, environ));

    /* fds and signal state across exec */
    int keep = open("/dev/null", O_RDONLY);
    int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char keep_s[16], cloexec_s[16];
    snprintf(keep_s, sizeof keep_s, "%d", keep);
    snprintf(cloexec_s, sizeof cloexec_s, "%d", cloexec);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, usr2_handler);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    char *av3[] = {argv[0], "child", "fds", keep_s, cloexec_s, "0", NULL};
    printf("fds child exit status: %d\n", run(argv[0], av3, env));
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
    close(keep);
    close(cloexec);

    /* failures (the child reports 100 + errno) */
    char *avx[] = {"x", NULL};
    int r = run("/nonexistent/binary", avx, env);
    printf("execve missing file -> %s\n", r == 100 + ENOENT ? "ENOENT" : "other");
    r = run("/etc/passwd", avx, env);
    printf("execve non-executable file -> %s\n", r == 100 + EACCES ? "EACCES" : "other");
    r = run("/", avx, env);
    printf("execve a directory -> %s\n", r == 100 + EACCES ? "EACCES" : "other");
    errno = 0;
    check("execve failure returns -1 in the caller", execve("/nonexistent/binary", avx, env) == -1 && errno == ENOENT);

    /* replace this process */
    char pid_s[16];
    snprintf(pid_s, sizeof pid_s, "%d", getpid());
    char *av4[] = {argv[0], "final", pid_s, NULL};
    printf("exec'ing the final image\n");
    fflush(stdout);
    execve(argv[0], av4, env);
    printf("execve returned: %s\n", strerror(errno));
    return 1;
}
