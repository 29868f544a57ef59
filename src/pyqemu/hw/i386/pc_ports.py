"""System control port A of a PC, I/O port 0x92 (QEMU hw/i386/pc.c port92): the IBM PS/2 "fast A20 and
reset" port.  Bit 1 is the A20 gate; bit 0 going from 0 to 1 resets the machine (a reset clears it
again, the A20 bit stays); reads return the last value written.  (The chipset's reset control register
at 0xCF9 is part of the PCI host's ports: :mod:`pyqemu.hw.pci.pci_host`.)
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import MemoryRegion


class Port92:
    """Port 0x92: A20 gate and fast reset."""

    def __init__(self, on_reset: Callable[[], None], on_a20: Callable[[bool], None] | None = None) -> None:
        self.on_reset = on_reset
        self.on_a20 = on_a20
        self.value = 0
        self.mr = MemoryRegion.io("port92", 1, self)

    def reset(self) -> None:
        self.value &= ~1

    def read(self, offset: int, size: int) -> int:
        return self.value

    def write(self, offset: int, value: int, size: int) -> None:
        old, self.value = self.value, value & 0xFF
        if self.on_a20 is not None and (old ^ value) & 2:
            self.on_a20(bool(value & 2))
        if value & 1 and not old & 1:
            self.on_reset()

