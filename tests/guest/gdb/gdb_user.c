/* The guest of the gdbstub's linux-user tests (tests/gdbstub/): a function with locals to break in,
 * step through and print, an array to examine and a global to watch.  Built without optimization so
 * that GDB finds every variable where the source says.  With the argument "spin" it then loops until
 * the debugger sets `release` (the interrupt test stops it while it runs). */
// build: -g -O0
#include <stdio.h>
#include <string.h>

int counter;
int array[4] = {10, 20, 30, 40};
volatile int release;

static int add(int a, int b)
{
    int sum = a + b;
    counter += sum;
    return sum;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 0; i < 4; i++)
        total += add(array[i], i);
    printf("total %d counter %d\n", total, counter);
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "spin") == 0)
        while (!release)
            ;
    return 0;
}
