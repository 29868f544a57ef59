/*
 * hello: the smallest libc program.  Writes to stdout with both write(2) and stdio and
 * exits with status 3 (the test checks the status is propagated).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    static const char msg[] = "Hello, world! (write)\n";
    if (write(STDOUT_FILENO, msg, strlen(msg)) != (ssize_t)strlen(msg))
        return 1;
    printf("Hello, world! (printf %d)\n", 42);
    puts("Hello, world! (puts)");
    printf("OK hello\n");
    return 3;
}
