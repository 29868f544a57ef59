/*
 * probe: a small riscv64 program for the command-line tests (tests/linux_user/test_cli.py,
 * test_logging.py).  The first argument picks what it does:
 *
 *   args                 print argc and every argv[i]
 *   env NAME...          print NAME=value, or "NAME is unset", for each NAME
 *   exit N               exit with status N
 *   store ADDR           print "storing", then store a word to address ADDR (hex): a fault there
 *                        must kill the process with SIGSEGV
 *   illegal              execute an illegal instruction with no SIGILL handler (dies of SIGILL)
 *   syscall NR           issue raw system call NR (no libc wrapper) and print the value it
 *                        returned in a0, e.g. -38 (-ENOSYS) for a number Linux does not have
 *   open PATH            open(PATH, O_RDONLY), print the result and errno, then write a line
 *   write N              write N bytes ('x'..., ending in a newline) to stdout with one write()
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long raw_syscall(long nr)
{
    register long a0 __asm__("a0") = 0;
    register long a7 __asm__("a7") = nr;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
    return a0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: probe MODE [ARGS...]\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "args") == 0) {
        printf("argc=%d\n", argc);
        for (int i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", i, argv[i]);
    } else if (strcmp(mode, "env") == 0) {
        for (int i = 2; i < argc; i++) {
            const char *v = getenv(argv[i]);
            if (v)
                printf("%s=%s\n", argv[i], v);
            else
                printf("%s is unset\n", argv[i]);
        }
    } else if (strcmp(mode, "exit") == 0 && argc > 2) {
        exit(atoi(argv[2]));
    } else if (strcmp(mode, "store") == 0 && argc > 2) {
        volatile long *p = (volatile long *)strtoul(argv[2], NULL, 16);
        printf("storing\n");
        fflush(stdout);
        *p = 1;
        printf("survived the store\n");
    } else if (strcmp(mode, "illegal") == 0) {
        printf("executing an illegal instruction\n");
        fflush(stdout);
        __asm__ volatile(".word 0");
        printf("survived the illegal instruction\n");
    } else if (strcmp(mode, "syscall") == 0 && argc > 2) {
        long nr = atol(argv[2]);
        printf("syscall %ld returned %ld\n", nr, raw_syscall(nr));
    } else if (strcmp(mode, "open") == 0 && argc > 2) {
        int fd = open(argv[2], O_RDONLY);
        int err = errno;
        printf("open returned %d errno %d\n", fd, fd < 0 ? err : 0);
        fflush(stdout);
        write(1, "done\n", 5);
    } else if (strcmp(mode, "write") == 0 && argc > 2) {
        size_t n = strtoul(argv[2], NULL, 0);
        char *buf = malloc(n + 1);
        memset(buf, 'x', n);
        if (n)
            buf[n - 1] = '\n';
        if (write(1, buf, n) != (ssize_t)n)
            return 1;
    } else {
        fprintf(stderr, "probe: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
