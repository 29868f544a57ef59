/* Powering off through the SiFive test device and then waiting in WFI (what firmware does after a
 * poweroff request): the machine must stop at once rather than wait for an interrupt that never comes. */
#include "bm.h"

void test_main(void)
{
    puts_("PASS: poweroff_request\n");
    csr_write(mie, 0);
    MMIO32(SIFIVE_TEST) = 0x5555;
    for (;;)
        asm volatile("wfi");
}
