"""The ``pc`` chipset as a guest sees it: i440FX at 00.0, PIIX3 at 01.0, PIRQ routing to ISA IRQs,
the reset control register, and the chipset in the device tree."""

from __future__ import annotations

import pytest

from pyqemu.exec.memory import AddressSpace, MemoryRegion, RamArena
from pyqemu.hw.isa.bus import IsaBus, add_isa_bus
from pyqemu.hw.pci.i440fx import I440FX
from pyqemu.hw.pci.pci import pci_devfn
from pyqemu.hw.pci.qdev import add_chipset
from pyqemu.qom.object import DeviceTree, device_help

from . import Guest, Spaces, TestFunction


class Rig(Spaces):
    def __init__(self) -> None:
        super().__init__()
        self.irq_log: list[tuple[int, int]] = []
        self.levels = [0] * 16
        self.resets = 0
        self.chipset = I440FX(self.mem_root, self.io_root, isa_irq=self._isa_irq, dma=self.mem,
                              request_reset=self._reset)

    def _isa_irq(self, n: int, level: int) -> None:
        self.irq_log.append((n, level))
        self.levels[n] = level

    def _reset(self) -> None:
        self.resets += 1


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_probe_finds_host_bridge_and_isa_bridge(rig: Rig) -> None:
    g = rig.guest
    assert g.read(0, 0, 0x00) == 0x1237_8086
    assert g.read(0, 0, 0x08) == 0x0600_0002  # host bridge, revision 2
    assert g.read(1, 0, 0x00) == 0x7000_8086
    assert g.read(1, 0, 0x08) >> 8 == 0x060100  # ISA bridge
    assert g.read(1, 0, 0x0E, 1) & 0x80  # multi-function
    assert g.read(1, 0, 0x04, 2) == 0x0007
    assert [g.read(slot, 0, 0x00, 2) for slot in range(2, 32)] == [0xFFFF] * 30
    assert [g.read(1, 0, 0x60 + i, 1) for i in range(4)] == [0x80] * 4


def test_pirq_routing_to_isa_irqs(rig: Rig) -> None:
    dev = TestFunction()
    rig.chipset.bus.plug(dev, pci_devfn(3, 0))  # INTA# of slot 3 -> PIRQD
    g = rig.guest
    dev.set_irq(1)
    assert rig.irq_log == []  # PIRQD not routed (0x80)
    g.write(1, 0, 0x63, 11, 1)
    assert rig.irq_log == [(11, 1)]
    dev.set_irq(0)
    assert rig.levels[11] == 0
    dev.set_irq(1)
    # rerouting moves the line: the old IRQ drops, the new one rises
    g.write(1, 0, 0x60, 0x0A0A0A0A)
    assert rig.levels[11] == 0 and rig.levels[10] == 1
    # INTX_DISABLE in the device's COMMAND register masks it
    g.write(3, 0, 0x04, 0x400, 2)
    assert rig.levels[10] == 0
    g.write(3, 0, 0x04, 0, 2)
    assert rig.levels[10] == 1
    # disabling the route (bit 7) or a reserved IRQ number routes nowhere
    g.write(1, 0, 0x63, 0x8A, 1)
    assert rig.levels[10] == 0
    g.write(1, 0, 0x63, 0x02, 1)
    assert rig.levels[2] == 0 and rig.levels[10] == 0


def test_shared_isa_irq_is_the_or_of_its_pirqs(rig: Rig) -> None:
    a, b = TestFunction("a"), TestFunction("b")
    rig.chipset.bus.plug(a, pci_devfn(2, 0))  # PIRQC
    rig.chipset.bus.plug(b, pci_devfn(4, 0))  # PIRQA
    g = rig.guest
    g.write(1, 0, 0x60, 0x800B800B)  # PIRQA -> 11, PIRQC -> 11, B and D unrouted
    assert [g.read(1, 0, 0x60 + i, 1) for i in range(4)] == [0x0B, 0x80, 0x0B, 0x80]
    a.set_irq(1)
    b.set_irq(1)
    a.set_irq(0)
    assert rig.levels[11] == 1
    b.set_irq(0)
    assert rig.irq_log == [(11, 1), (11, 0)]


def test_reset_control_register(rig: Rig) -> None:
    rig.io.write(0xCF9, 0x02, 1)
    assert rig.io.read(0xCF9, 1) == 0x02
    assert rig.resets == 0
    rig.io.write(0xCF9, 0x06, 1)
    assert rig.resets == 1
    # dword accesses at 0xCF8 still select config registers
    assert rig.guest.read(0, 0, 0, 2) == 0x8086


def test_chipset_reset(rig: Rig) -> None:
    dev = TestFunction()
    rig.chipset.bus.plug(dev, pci_devfn(3, 0))
    g = rig.guest
    g.write(1, 0, 0x63, 11, 1)
    dev.set_irq(1)
    g.write(3, 0, 0x10, 0xFEBC0000)
    g.write(3, 0, 0x04, 2, 2)
    rig.chipset.reset()
    assert rig.io.read(0xCF8, 4) == 0
    assert g.read(1, 0, 0x63, 1) == 0x80
    assert rig.levels[11] == 0
    assert dev.bar_address(0) is None


def pam_rig(make_chipset) -> tuple[AddressSpace, Guest]:
    """A board memory map: RAM at 0 (priority 0), the BIOS ROM at 0xE0000 (priority 1, filled with
    0xEE); ``make_chipset(mem, io, ram, system)`` builds the chipset under test."""
    arena = RamArena(8 << 20)
    system = MemoryRegion.container_of("system", 1 << 64)
    ram = MemoryRegion.ram("pc.ram", 2 << 20, arena)
    system.add_subregion(0, MemoryRegion.alias_of("ram-below-4g", ram, 0, 2 << 20))
    bios = MemoryRegion.rom("isa-bios", 0x20000, arena)
    bios.load(0, b"\xee" * 0x20000)
    system.add_subregion(0xE0000, bios, priority=1)
    io_root = MemoryRegion.container_of("io", 0x10000)
    make_chipset(MemoryRegion.container_of("pci", 1 << 64), io_root, ram, system)
    space = AddressSpace("memory", system)
    return space, Guest(AddressSpace("I/O", io_root), space)


def check_pam(space: AddressSpace, write_pam) -> None:
    """PAM fields of the F segment (PAM0 bits 5:4) and of 0xC4000 (PAM1 bits 5:4) as firmware uses them."""
    assert space.read(0xF0000, 4) == 0xEEEEEEEE  # the BIOS ROM shows through
    space.write(0xF0000, 0x12345678, 4)
    assert space.read(0xF0000, 4) == 0xEEEEEEEE
    write_pam(0, 0x30)  # F segment: read and write RAM (what SeaBIOS does before copying itself)
    assert space.read(0xF0000, 4) == 0
    space.write(0xF0000, 0x12345678, 4)
    assert space.read(0xF0000, 4) == 0x12345678
    write_pam(0, 0x10)  # read-only RAM
    space.write(0xF0000, 0, 4)
    assert space.read(0xF0000, 4) == 0x12345678
    assert space.read(0xE0000, 1) == 0xEE  # the E segment is still the ROM
    write_pam(1, 0x10)  # 0xC4000-0xC7FFF read-only; 0xC0000-0xC3FFF stays with the board (RAM here)
    space.write(0xC4000, 0x55, 1)
    space.write(0xC0000, 0x66, 1)
    assert (space.read(0xC4000, 1), space.read(0xC0000, 1)) == (0, 0x66)
    write_pam(0, 0x00)
    assert space.read(0xF0000, 4) == 0xEEEEEEEE


def test_pam_shadows_the_bios_areas() -> None:
    made: list[I440FX] = []
    space, g = pam_rig(lambda mem, io, ram, system: made.append(
        I440FX(mem, io, isa_irq=lambda n, level: None, ram=ram, system=system)))
    check_pam(space, lambda i, value: g.write(0, 0, 0x59 + i, value, 1))
    g.write(0, 0, 0x59, 0x30, 1)
    made[0].reset()
    assert g.read(0, 0, 0x59, 1) == 0
    assert space.read(0xF0000, 4) == 0xEEEEEEEE


def test_device_tree(rig: Rig) -> None:
    tree = DeviceTree()
    bus, piix3 = add_chipset(tree, rig.chipset)
    add_isa_bus(piix3, IsaBus())
    qtree = tree.qtree()
    assert "  dev: i440FX-pcihost, id \"\"\n    bus: pci.0\n      type PCI\n" in qtree
    assert "      dev: PIIX3, id \"\"\n        addr = 01.0\n" in qtree
    assert "class ISA bridge, addr 00:01.0, pci id 8086:7000 (sub 1af4:1100)" in qtree
    assert "class Host bridge, addr 00:00.0, pci id 8086:1237 (sub 1af4:1100)" in qtree
    assert "bus: isa.0" in qtree
    assert tree.free_bus("PCI") is bus
    assert "i440FX" not in device_help()  # board devices are not user-creatable


def test_vmstate_round_trip(rig: Rig) -> None:
    dev = TestFunction()
    rig.chipset.bus.plug(dev, pci_devfn(3, 0))
    g = rig.guest
    g.write(1, 0, 0x63, 11, 1)
    g.write(3, 0, 0x10, 0xFEBC0000)
    g.write(3, 0, 0x04, 2, 2)
    dev.set_irq(1)
    rig.io.write(0xCF9, 0x02, 1)
    g.select(3, 0, 0x10)
    chipset_state, dev_state = rig.chipset.vmstate(), dev.vmstate()

    other = Rig()
    copy = TestFunction()
    other.chipset.bus.plug(copy, pci_devfn(3, 0))
    other.chipset.load_vmstate(chipset_state)
    copy.load_vmstate(dev_state)
    assert other.io.read(0xCFC, 4) == 0xFEBC0000  # CONFIG_ADDRESS kept
    assert other.guest.read(1, 0, 0x63, 1) == 11
    assert other.levels[11] == 1
    assert other.mem.read(0xFEBC0004, 4) == 0xA5A50004
    assert other.io.read(0xCF9, 1) == 0x02
