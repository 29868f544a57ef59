/*
 * illegal_insn_unhandled: executes an illegal instruction with no SIGILL handler installed.
 * The process must die of SIGILL (WTERMSIG == 4: Python's returncode -4, a shell's 132),
 * after the already-flushed output.
 */
#include <stdio.h>

int main(void)
{
    printf("executing an illegal instruction\n");
    fflush(stdout);
    __asm__ volatile(".word 0");
    printf("survived the illegal instruction!\n");
    return 0;
}
