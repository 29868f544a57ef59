/* The guest of the gdbstub tests (tests/gdbstub/): a function with locals to break in, step through and
 * print, an array to examine and a global to watch.  Its functions are built at -O0 so that GDB finds
 * every variable where the source says (the runtime keeps -O2).  After its checks it spins until the
 * debugger sets `release`, giving the interrupt test a running guest to stop. */
#include "bm.h"

volatile ulong watched;
volatile ulong release;
uint values[4] = {0x11, 0x22, 0x33, 0x44};

__attribute__((noinline, optimize("O0"))) static ulong scale(ulong value, ulong factor)
{
    ulong product = value * factor;
    watched += product;
    return product;
}

__attribute__((optimize("O0"))) void test_main(void)
{
    ulong total = 0;
    for (int i = 0; i < 4; i++)
        total += scale(values[i], 3);
    check_eq("total", total, 3 * (0x11 + 0x22 + 0x33 + 0x44));
    check_eq("watched", watched, total);
    while (!release)
        ;
}
