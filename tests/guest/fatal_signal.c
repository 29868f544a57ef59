/*
 * fatal_signal: abort() with the default SIGABRT disposition.  The process must die of
 * SIGABRT (a parent sees WIFSIGNALED/WTERMSIG == 6: Python's returncode -6, a shell's 134),
 * after the already-flushed output.  Nothing after abort() may run.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("about to abort\n");
    fflush(stdout); /* abort() does not flush stdio */
    abort();
    printf("abort returned!\n");
    return 0;
}
