"""Shared pieces of the PCI tests: a guest's view of the config ports and a small test function."""

from __future__ import annotations

from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.pci.pci import PCIDevice


class Guest:
    """What a guest's PCI probe does: ``outl 0xCF8`` / ``in 0xCFC..0xCFF`` on ``io``; ``mem`` is memory."""

    def __init__(self, io: AddressSpace, mem: AddressSpace):
        self.io = io
        self.mem = mem

    def select(self, slot: int, func: int, reg: int, bus: int = 0) -> None:
        self.io.write(0xCF8, 1 << 31 | bus << 16 | slot << 11 | func << 8 | (reg & 0xFC), 4)

    def read(self, slot: int, func: int, reg: int, size: int = 4) -> int:
        self.select(slot, func, reg)
        return self.io.read(0xCFC + (reg & 3), size)

    def write(self, slot: int, func: int, reg: int, value: int, size: int = 4) -> None:
        self.select(slot, func, reg)
        self.io.write(0xCFC + (reg & 3), value, size)


class Spaces:
    """A PCI memory space and a 64 KiB port space, and a :class:`Guest` probing through them: the part
    every PCI test rig starts from."""

    def __init__(self) -> None:
        self.mem_root = MemoryRegion.container_of("pci", 1 << 64)
        self.io_root = MemoryRegion.container_of("io", 0x10000)
        self.mem = AddressSpace("memory", self.mem_root)
        self.io = AddressSpace("I/O", self.io_root)
        self.guest = Guest(self.io, self.mem)


class Recorder:
    """MMIO/port ops that remember accesses and answer reads with ``0xA5A5_0000 | offset``."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def read(self, offset: int, size: int) -> int:
        self.log.append(("r", offset, size))
        return 0xA5A50000 | offset

    def write(self, offset: int, value: int, size: int) -> None:
        self.log.append(("w", offset, value, size))


class TestFunction(PCIDevice):
    """1234:5678, class ff00: BAR0 4 KiB MMIO, BAR1 32 bytes of ports, BAR2/3 a 64-bit prefetchable
    16 KiB MMIO BAR."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "testfn", *, express: bool = False, pin: int = 1):
        super().__init__(name, vendor_id=0x1234, device_id=0x5678, class_code=0xFF0000, revision=3,
                         interrupt_pin=pin, express=express)
        self.mmio = Recorder()
        self.ports = Recorder()
        self.wide = Recorder()
        self.register_bar(0, MemoryRegion.io(f"{name}-mmio", 0x1000, self.mmio))
        self.register_bar(1, MemoryRegion.io(f"{name}-io", 0x20, self.ports), io=True)
        self.register_bar(2, MemoryRegion.io(f"{name}-wide", 0x4000, self.wide), mem64=True, prefetch=True)
