"""How a PC's CPU reaches PCI configuration space (QEMU hw/pci/pci_host.c, hw/pci/pcie_host.c).

* :class:`ConfigPorts`: configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2): a
  dword write to CONFIG_ADDRESS (I/O port 0xCF8) selects enable (bit 31), bus (23:16), device/function
  (15:8) and dword register (7:2); CONFIG_DATA (0xCFC-0xCFF) then reads or writes that register, byte
  lanes 0xCFD-0xCFF reaching the bytes above it.  With the enable bit clear, or for a bus or function
  nobody answers for, reads return all ones and writes are dropped.  Only the root bus (0) exists.
  Narrower accesses to 0xCF8-0xCFB do not change CONFIG_ADDRESS; a byte access to 0xCF9 reaches the
  chipset's reset control register (:class:`ResetControl`) when it has one.
* :class:`Ecam`: the PCI Express enhanced configuration access mechanism (PCIe Base Specification,
  7.2.2): a memory window where byte offset ``bus << 20 | devfn << 12 | register`` is the register of
  that function; the whole 4 KiB space of PCIe functions is reachable.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.pci.pci import PCIBus

CONFIG_PORTS_BASE = 0xCF8
CONFIG_ENABLE = 1 << 31
RESET_CONTROL_PORT = 0xCF9
#: reset control register bits (82371SB 4.1.2 "RC"; ICH9 13.7.5 "RST_CNT")
RCR_SYS_RST = 0x02  # the next RST_CPU is a full system reset (a hard reset on real hardware)
RCR_RST_CPU = 0x04  # writing 1 resets the machine


class ResetControl:
    """The byte-wide reset control register at 0xCF9 (PIIX3 "RC", ICH9 "RST_CNT"): setting RST_CPU
    calls ``request_reset`` (QEMU resets the whole machine either way); ``kept`` bits read back."""

    def __init__(self, request_reset: Callable[[], None] | None, kept: int = RCR_SYS_RST):
        self.request_reset = request_reset
        self.kept = kept
        self.value = 0

    def read(self) -> int:
        return self.value

    def write(self, value: int) -> None:
        if value & RCR_RST_CPU:
            if self.request_reset is not None:
                self.request_reset()
            return
        self.value = value & self.kept

    def reset(self) -> None:
        self.value = 0


class ConfigPorts:
    """MemoryRegionOps of the 8 ports 0xCF8-0xCFF; :attr:`region` is what a board maps at 0xCF8."""

    def __init__(self, bus: PCIBus, reset_control: ResetControl | None = None):
        self.bus = bus
        self.reset_control = reset_control
        self.address = 0
        self.region = MemoryRegion.io("pci-conf-idx", 8, self)

    def _target(self, lane: int) -> tuple[int, int] | None:
        """(devfn, register) CONFIG_DATA byte lane ``lane`` addresses, or None when nothing answers."""
        if not self.address & CONFIG_ENABLE or self.address >> 16 & 0xFF != 0:
            return None
        return self.address >> 8 & 0xFF, (self.address & 0xFC) | lane

    def read(self, offset: int, size: int) -> int:
        if offset < 4:
            if size == 1 and offset == 1 and self.reset_control is not None:
                return self.reset_control.read()
            return self.address >> (8 * offset) & ((1 << (8 * size)) - 1)
        target = self._target(offset - 4)
        if target is None:
            return (1 << (8 * size)) - 1
        return self.bus.config_read(target[0], target[1], size)

    def write(self, offset: int, value: int, size: int) -> None:
        if offset < 4:
            if size == 4:
                self.address = value & 0xFFFFFFFF
            elif size == 1 and offset == 1 and self.reset_control is not None:
                self.reset_control.write(value)
            return
        target = self._target(offset - 4)
        if target is not None:
            self.bus.config_write(target[0], target[1], value, size)

    def reset(self) -> None:
        self.address = 0


class Ecam:
    """MemoryRegionOps of an ECAM window of ``size`` bytes (1 MiB per bus); :attr:`region` is mapped by
    the host bridge where its base address register says."""

    def __init__(self, bus: PCIBus, size: int = 256 << 20):
        self.bus = bus
        self.region = MemoryRegion.io("pcie-mmcfg-mmio", size, self)

    def resize(self, size: int) -> None:
        """Change the window's size (only while it is not mapped)."""
        assert self.region.container is None
        self.region.size = size

    def read(self, offset: int, size: int) -> int:
        if size == 8:
            return self.read(offset, 4) | self.read(offset + 4, 4) << 32
        if offset >> 20 != 0:
            return (1 << (8 * size)) - 1
        return self.bus.config_read(offset >> 12 & 0xFF, offset & 0xFFF, size)

    def write(self, offset: int, value: int, size: int) -> None:
        if size == 8:
            self.write(offset, value & 0xFFFFFFFF, 4)
            self.write(offset + 4, value >> 32, 4)
        elif offset >> 20 == 0:
            self.bus.config_write(offset >> 12 & 0xFF, offset & 0xFFF, value, size)
