"""The ``q35`` chipset as a guest sees it: MCH at 00.0, ICH9 LPC at 1f.0, ECAM placed by PCIEXBAR, the
ICH9 PIRQ wiring (PIRQE-H for slots, also to IOAPIC inputs 16-23), RST_CNT, the device tree."""

from __future__ import annotations

import pytest

from pyqemu.hw.pci.pci import pci_devfn
from pyqemu.hw.pci.q35 import Q35, ich9_map_irq
from pyqemu.hw.pci.qdev import add_chipset
from pyqemu.qom.object import DeviceTree

from . import Spaces, TestFunction
from .test_i440fx import check_pam, pam_rig

ECAM = 0xB0000000


class Rig(Spaces):
    def __init__(self) -> None:
        super().__init__()
        self.levels = [0] * 24
        self.resets = 0
        self.chipset = Q35(self.mem_root, self.io_root, gsi=self._gsi, dma=self.mem,
                           request_reset=self._reset)

    def _gsi(self, n: int, level: int) -> None:
        self.levels[n] = level

    def _reset(self) -> None:
        self.resets += 1

    def ecam(self, slot: int, func: int, reg: int, base: int = ECAM) -> int:
        return base | slot << 15 | func << 12 | reg

    def enable_ecam(self, value: int = ECAM | 1) -> None:
        self.guest.write(0, 0, 0x60, value)
        self.guest.write(0, 0, 0x64, 0)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_probe_finds_mch_and_lpc(rig: Rig) -> None:
    g = rig.guest
    assert g.read(0, 0, 0x00) == 0x29C0_8086
    assert g.read(0, 0, 0x08) >> 8 == 0x060000
    assert g.read(31, 0, 0x00) == 0x2918_8086
    assert g.read(31, 0, 0x08) == 0x0601_0002
    assert g.read(31, 0, 0x0E, 1) & 0x80
    assert g.read(1, 0, 0x00, 2) == 0xFFFF
    assert g.read(30, 0, 0x00, 2) == 0xFFFF
    assert [g.read(31, 0, off, 1) for off in (0x60, 0x61, 0x62, 0x63, 0x68, 0x69, 0x6A, 0x6B)] == [0x80] * 8
    assert g.read(0, 0, 0x60) == ECAM  # QEMU's default base, not enabled
    assert g.read(31, 0, 0x40) == 0x00000001  # PMBASE: I/O space indicator


def test_ecam_follows_pciexbar(rig: Rig) -> None:
    dev = TestFunction(express=True)
    rig.chipset.bus.plug(dev, pci_devfn(3, 0))
    assert rig.mem.read(rig.ecam(0, 0, 0), 4) == 0  # window not decoded yet
    rig.enable_ecam()
    assert rig.chipset.mch.ecam_base == ECAM
    assert rig.mem.read(rig.ecam(0, 0, 0), 4) == 0x29C0_8086
    assert rig.mem.read(rig.ecam(31, 0, 2), 2) == 0x2918
    assert rig.mem.read(rig.ecam(5, 0, 0), 4) == 0xFFFFFFFF
    assert rig.mem.read(rig.ecam(3, 0, 0x100), 4) == 0  # the 4 KiB space of a PCIe function
    assert rig.mem.read(rig.ecam(0, 0, 0x100), 4) == 0xFFFFFFFF  # conventional function
    # writes through ECAM: program and enable a BAR
    rig.mem.write(rig.ecam(3, 0, 0x10), 0xFFFFFFFF, 4)
    assert rig.mem.read(rig.ecam(3, 0, 0x10), 4) == 0xFFFFF000
    rig.mem.write(rig.ecam(3, 0, 0x10), 0xFE000000, 4)
    rig.mem.write(rig.ecam(3, 0, 0x04), 0x0002, 2)
    assert rig.mem.read(0xFE000008, 4) == 0xA5A50008
    assert rig.mem.read(rig.ecam(3, 0, 0x07), 1) == 0x00  # byte access to a status byte
    # bus 1 is not there
    assert rig.mem.read(ECAM | 1 << 20, 2) == 0xFFFF
    # move to 0xE0000000 with 128 MiB, then disable
    rig.enable_ecam(0xE0000000 | 1 << 1 | 1)
    assert rig.mem.read(rig.ecam(0, 0, 0), 4) == 0
    assert rig.mem.read(rig.ecam(0, 0, 0, base=0xE0000000), 4) == 0x29C0_8086
    assert rig.chipset.ecam.region.size == 128 << 20
    rig.enable_ecam(0xE0000000)
    assert rig.chipset.mch.ecam_base is None
    assert rig.mem.read(rig.ecam(0, 0, 0, base=0xE0000000), 4) == 0
    # reserved length: no window
    rig.enable_ecam(ECAM | 3 << 1 | 1)
    assert rig.chipset.mch.ecam_base is None


def test_ecam_reset(rig: Rig) -> None:
    rig.enable_ecam()
    rig.chipset.reset()
    assert rig.chipset.mch.ecam_base is None
    assert rig.guest.read(0, 0, 0x60) == ECAM


def test_ich9_pirq_wiring() -> None:
    # ordinary slots: INTA# of slot s -> PIRQ E + s mod 4, swizzled over E-H
    assert [ich9_map_irq(pci_devfn(s, 0), 1) for s in range(1, 6)] == [5, 6, 7, 4, 5]
    assert [ich9_map_irq(pci_devfn(2, 0), pin) for pin in (1, 2, 3, 4)] == [6, 7, 4, 5]
    # chipset slots 25-29 and 31: INTA#-INTD# -> PIRQA-D; slot 30 -> PIRQE-H
    assert [ich9_map_irq(pci_devfn(31, 3), pin) for pin in (1, 2, 3, 4)] == [0, 1, 2, 3]
    assert [ich9_map_irq(pci_devfn(29, 0), pin) for pin in (1, 2, 3, 4)] == [0, 1, 2, 3]
    assert [ich9_map_irq(pci_devfn(30, 0), pin) for pin in (1, 2, 3, 4)] == [4, 5, 6, 7]


def test_pirq_to_isa_irq_and_ioapic(rig: Rig) -> None:
    dev = TestFunction()
    rig.chipset.bus.plug(dev, pci_devfn(3, 0))  # INTA# -> PIRQH
    g = rig.guest
    dev.set_irq(1)
    assert rig.levels[23] == 1  # IOAPIC input of PIRQH
    assert rig.levels[:16] == [0] * 16  # not routed to the 8259 yet
    g.write(31, 0, 0x6B, 10, 1)
    assert rig.levels[10] == 1
    g.write(31, 0, 0x68, 0x0A, 1)  # PIRQE to the same IRQ: still the OR
    dev.set_irq(0)
    assert rig.levels[10] == 0 and rig.levels[23] == 0
    g.write(31, 0, 0x6B, 0x80, 1)
    dev.set_irq(1)
    assert rig.levels[10] == 0 and rig.levels[23] == 1


def test_rst_cnt(rig: Rig) -> None:
    rig.io.write(0xCF9, 0x0A, 1)
    assert rig.io.read(0xCF9, 1) == 0x0A
    rig.io.write(0xCF9, 0x0E, 1)
    assert rig.resets == 1


def test_pam_shadows_the_bios_areas() -> None:
    space, g = pam_rig(lambda mem, io, ram, system: Q35(mem, io, gsi=lambda n, level: None, ram=ram,
                                                        system=system))
    check_pam(space, lambda i, value: g.write(0, 0, 0x90 + i, value, 1))


def test_device_tree(rig: Rig) -> None:
    tree = DeviceTree()
    bus, lpc = add_chipset(tree, rig.chipset)
    assert bus.name == "pcie.0" and bus.accepts("PCI")
    assert lpc.type_name == "ICH9-LPC"
    qtree = tree.qtree()
    assert "  dev: q35-pcihost, id \"\"\n    bus: pcie.0\n      type PCIE\n" in qtree
    assert "addr = 1f.0" in qtree
    assert "class Host bridge, addr 00:00.0, pci id 8086:29c0 (sub 1af4:1100)" in qtree


def test_vmstate_round_trip(rig: Rig) -> None:
    rig.enable_ecam()
    rig.guest.write(31, 0, 0x68, 10, 1)
    state = rig.chipset.vmstate()
    other = Rig()
    other.chipset.load_vmstate(state)
    assert other.mem.read(other.ecam(31, 0, 0), 4) == 0x2918_8086
    assert other.guest.read(31, 0, 0x68, 1) == 10
