"""SiFive test device ("sifive,test0"), the ``virt`` board's power-off/reset register at 0x100000.

There is no datasheet: this is the finisher QEMU's hw/misc/sifive_test.c provides, which Linux
(syscon-poweroff/syscon-reboot), OpenSBI and U-Boot drive through the device tree.  A 32-bit write to
offset 0 whose low 16 bits are 0x5555 powers off with exit code 0 ("pass"), 0x3333 powers off with the
exit code in the high 16 bits ("fail"), and 0x7777 resets the machine; anything else is ignored and
reads return 0.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.stateless import Stateless

FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777


class SifiveTest(Stateless):
    """``mr`` is its 0x1000-byte region; the callbacks are the machine's power-off and reset requests."""

    def __init__(self, on_shutdown: Callable[[int], None], on_reset: Callable[[], None]):
        self.on_shutdown = on_shutdown
        self.on_reset = on_reset
        self.mr = MemoryRegion.io("riscv.sifive.test", 0x1000, self)

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if offset != 0:
            return
        status, code = value & 0xFFFF, (value >> 16) & 0xFFFF
        if status == FINISHER_PASS:
            self.on_shutdown(0)
        elif status == FINISHER_FAIL:
            self.on_shutdown(code)
        elif status == FINISHER_RESET:
            self.on_reset()
