"""The PCI core as a guest sees it through configuration mechanism #1: ids, BAR sizing and decoding,
capabilities, INTx, partial accesses, reset; and the qdev side (``addr=``, slot conflicts, qtree)."""

from __future__ import annotations

import pytest

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.pci.pci import (
    PCI_CAP_ID_MSI,
    PCI_CAP_ID_VNDR,
    PCI_COMMAND,
    PCI_STATUS,
    PCIBus,
    PCIDevice,
    PCIError,
    pci_devfn,
)
from pyqemu.hw.pci.pci_host import ConfigPorts, Ecam
from pyqemu.hw.pci.qdev import PCIDeviceState, add_pci_bus, info_pci
from pyqemu.qom.object import DeviceTree, QomError, TypeInfo

from . import Spaces, TestFunction

CMD_IO, CMD_MEM, CMD_MASTER, CMD_INTX_DISABLE = 0x1, 0x2, 0x4, 0x400


class Rig(Spaces):
    """A root bus with the config ports at 0xCF8; ``pirqs`` records the PIRQ levels."""

    def __init__(self) -> None:
        super().__init__()
        self.pirqs: list[tuple[int, int]] = []
        self.bus = PCIBus("pci.0", self.mem_root, self.io_root, dma=self.mem,
                          set_pirq=lambda n, level: self.pirqs.append((n, level)))
        self.conf = ConfigPorts(self.bus)
        self.io_root.add_subregion(0xCF8, self.conf.region)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def plugged(rig: Rig, slot: int = 3, **kw) -> TestFunction:
    dev = TestFunction(**kw)
    rig.bus.plug(dev, pci_devfn(slot, 0))
    return dev


def test_ids_and_empty_slots(rig: Rig) -> None:
    plugged(rig)
    g = rig.guest
    assert g.read(3, 0, 0x00) == 0x5678_1234
    assert g.read(3, 0, 0x08) == 0xFF00_0003  # class ff0000, revision 3
    assert g.read(3, 0, 0x2C) == 0x1100_1AF4  # QEMU's default subsystem ids
    assert g.read(3, 0, 0x3C) >> 8 & 0xFF == 1  # INTA#
    assert g.read(4, 0, 0x00, 2) == 0xFFFF
    assert g.read(3, 1, 0x00) == 0xFFFFFFFF
    assert g.read(3, 0, 0x00, 2) == 0x1234
    # without the enable bit nothing answers; other buses are empty
    rig.io.write(0xCF8, 3 << 11, 4)
    assert rig.io.read(0xCFC, 4) == 0xFFFFFFFF
    rig.guest.select(3, 0, 0, bus=1)
    assert rig.io.read(0xCFC, 2) == 0xFFFF
    # CONFIG_ADDRESS reads back
    rig.guest.select(3, 0, 0x10)
    assert rig.io.read(0xCF8, 4) == 0x8000_1810


def test_partial_accesses_on_the_data_port_lanes(rig: Rig) -> None:
    plugged(rig)
    g = rig.guest
    g.select(3, 0, 0x00)
    assert rig.io.read(0xCFE, 2) == 0x5678
    assert rig.io.read(0xCFD, 1) == 0x12
    g.select(3, 0, 0x08)
    assert rig.io.read(0xCFF, 1) == 0xFF  # base class
    g.select(3, 0, 0x0C)
    rig.io.write(0xCFC, 0x10, 1)  # cache line size
    rig.io.write(0xCFF, 0xAA, 1)  # BIST: read-only here
    assert g.read(3, 0, 0x0C) == 0x0000_0010
    g.write(3, 0, 0x04, CMD_MEM | CMD_MASTER, 2)
    assert g.read(3, 0, 0x04, 2) == CMD_MEM | CMD_MASTER


def test_read_only_ids_and_rw1c_status(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, 0x00, 0xFFFFFFFF)
    assert g.read(3, 0, 0x00) == 0x5678_1234
    g.write(3, 0, 0x3C, 0xFFFFFFFF)
    assert g.read(3, 0, 0x3C) == 0x0000_01FF  # only the interrupt line is writable
    dev.set_word(PCI_STATUS, 0x2000 | 0x1000)  # received master/target abort
    g.write(3, 0, PCI_STATUS, 0x2000, 2)
    assert g.read(3, 0, PCI_STATUS, 2) == 0x1000
    g.write(3, 0, PCI_COMMAND, 0xFFFF, 2)
    assert g.read(3, 0, PCI_COMMAND, 2) == 0x0547  # io, mem, master, parity, serr, intx-disable


def test_mmio_bar_sizing_and_decoding(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, 0x10, 0xFFFFFFFF)
    assert g.read(3, 0, 0x10) == 0xFFFFF000  # 4 KiB, 32-bit, not prefetchable
    assert dev.bar_address(0) is None
    g.write(3, 0, 0x10, 0xFEBC0000)
    assert rig.mem.read(0xFEBC0010, 4) == 0  # memory decoding still off
    assert dev.mmio.log == []
    g.write(3, 0, PCI_COMMAND, CMD_MEM, 2)
    assert dev.bar_address(0) == 0xFEBC0000
    assert rig.mem.read(0xFEBC0010, 4) == 0xA5A50010
    rig.mem.write(0xFEBC0FFC, 0x1234, 2)
    assert dev.mmio.log == [("r", 0x10, 4), ("w", 0xFFC, 0x1234, 2)]
    # moving the BAR moves the window
    g.write(3, 0, 0x10, 0xFEBD0000)
    assert rig.mem.read(0xFEBC0010, 4) == 0
    assert rig.mem.read(0xFEBD0020, 4) == 0xA5A50020
    # clearing COMMAND.MEMORY unmaps it
    g.write(3, 0, PCI_COMMAND, 0, 2)
    assert dev.bar_address(0) is None
    assert rig.mem.read(0xFEBD0020, 4) == 0


def test_sizing_with_decoding_on_does_not_map_the_all_ones_address(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, PCI_COMMAND, CMD_MEM, 2)
    g.write(3, 0, 0x10, 0xFFFFFFFF)
    assert dev.bar_address(0) is None
    g.write(3, 0, 0x10, 0)
    assert dev.bar_address(0) is None


def test_io_bar(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, 0x14, 0xFFFFFFFF)
    assert g.read(3, 0, 0x14) == 0xFFFFFFE1  # 32 ports, I/O space indicator
    g.write(3, 0, 0x14, 0xC000)
    g.write(3, 0, PCI_COMMAND, CMD_MEM, 2)
    rig.io.read(0xC004, 1)
    assert dev.ports.log == []  # not decoded without COMMAND.IO
    g.write(3, 0, PCI_COMMAND, CMD_IO, 2)
    assert dev.bar_address(1) == 0xC000
    assert g.read(3, 0, 0x14) == 0xC001
    rig.io.write(0xC01F, 0x5A, 1)
    assert dev.ports.log == [("w", 0x1F, 0x5A, 1)]
    # an I/O BAR beyond the 64 KiB port space does not decode
    g.write(3, 0, 0x14, 0x10000)
    assert dev.bar_address(1) is None


def test_64bit_prefetchable_bar(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, 0x18, 0xFFFFFFFF)
    g.write(3, 0, 0x1C, 0xFFFFFFFF)
    assert g.read(3, 0, 0x18) == 0xFFFFC00C  # 16 KiB, 64-bit, prefetchable
    assert g.read(3, 0, 0x1C) == 0xFFFFFFFF
    g.write(3, 0, 0x18, 0x0000000C)
    g.write(3, 0, 0x1C, 0x00000008)
    g.write(3, 0, PCI_COMMAND, CMD_MEM, 2)
    assert dev.bar_address(2) == 0x8_0000_0000
    assert rig.mem.read(0x8_0000_0100, 4) == 0xA5A50100
    assert dev.bar_address(3) is None  # the upper half is not a BAR of its own


def test_expansion_rom_bar(rig: Rig) -> None:
    dev = TestFunction()
    dev.register_bar(6, MemoryRegion.io("rom", 0x10000, dev.mmio))
    rig.bus.plug(dev, pci_devfn(5, 0))
    g = rig.guest
    g.write(5, 0, 0x30, 0xFFFFFFFE)
    assert g.read(5, 0, 0x30) == 0xFFFF0000
    g.write(5, 0, 0x30, 0xFEB00000)
    g.write(5, 0, PCI_COMMAND, CMD_MEM, 2)
    assert dev.bar_address(6) is None  # ROM enable bit clear
    g.write(5, 0, 0x30, 0xFEB00001)
    assert dev.bar_address(6) == 0xFEB00000
    assert rig.mem.read(0xFEB00004, 4) == 0xA5A50004


def test_capability_list_walk(rig: Rig) -> None:
    dev = TestFunction()
    msi = dev.add_capability(PCI_CAP_ID_MSI, bytes(12))
    vendor = dev.add_capability(PCI_CAP_ID_VNDR, bytes([6, 0xAB, 0xCD, 0xEF]))
    rig.bus.plug(dev, pci_devfn(3, 0))
    g = rig.guest
    assert g.read(3, 0, PCI_STATUS, 2) & 0x10  # capabilities list present
    found = []
    ptr = g.read(3, 0, 0x34, 1)
    while ptr:
        header = g.read(3, 0, ptr, 2)
        found.append((ptr, header & 0xFF))
        ptr = header >> 8
    assert found == [(vendor, PCI_CAP_ID_VNDR), (msi, PCI_CAP_ID_MSI)]
    assert msi >= 0x40 and msi % 4 == 0 and vendor % 4 == 0 and vendor >= msi + 14
    assert g.read(3, 0, vendor + 2, 2) == 0xAB06
    assert g.read(3, 0, vendor + 4, 2) == 0xEFCD
    g.write(3, 0, vendor, 0)  # capability bytes are read-only unless the model says otherwise
    assert g.read(3, 0, vendor, 1) == PCI_CAP_ID_VNDR
    assert dev.find_capability(PCI_CAP_ID_MSI) == msi
    assert dev.find_capability(0x11) is None


def test_device_specific_space_is_writable_and_pcie_space_is_4k(rig: Rig) -> None:
    plugged(rig)
    express = plugged(rig, slot=4, express=True)
    g = rig.guest
    g.write(3, 0, 0xF0, 0x11223344)
    assert g.read(3, 0, 0xF0) == 0x11223344
    assert len(express.config) == 4096
    ecam = Ecam(rig.bus)
    assert ecam.read(4 << 15 | 0x100, 4) == 0  # no extended capabilities
    assert ecam.read(3 << 15 | 0x100, 4) == 0xFFFFFFFF  # conventional function: nothing past 0xFF
    assert ecam.read(1 << 20 | 4 << 15, 2) == 0xFFFF  # bus 1 does not exist


def test_intx_swizzle_sharing_and_disable(rig: Rig) -> None:
    a = plugged(rig, slot=3)  # INTA# of slot 3 -> PIRQ D (3)
    b = plugged(rig, slot=7)  # slot 7 -> PIRQ D as well
    c = plugged(rig, slot=4, pin=2)  # INTB# of slot 4 -> PIRQ B (1)
    a.set_irq(1)
    assert rig.pirqs == [(3, 1)]
    assert rig.guest.read(3, 0, PCI_STATUS, 2) & 0x08  # STATUS.INTERRUPT
    b.set_irq(1)
    a.set_irq(0)
    assert rig.pirqs == [(3, 1)]  # still held by b
    b.set_irq(0)
    assert rig.pirqs == [(3, 1), (3, 0)]
    assert not rig.guest.read(3, 0, PCI_STATUS, 2) & 0x08
    c.set_irq(1)
    assert rig.pirqs[-1] == (1, 1)
    # INTX_DISABLE masks the pin, the status bit still shows it; clearing it lets the pin through again
    rig.guest.write(4, 0, PCI_COMMAND, CMD_INTX_DISABLE, 2)
    assert rig.pirqs[-1] == (1, 0)
    assert rig.guest.read(4, 0, PCI_STATUS, 2) & 0x08
    rig.guest.write(4, 0, PCI_COMMAND, 0, 2)
    assert rig.pirqs[-1] == (1, 1)
    assert rig.bus.pirq_level(1) == 1


def test_bus_master_and_dma(rig: Rig) -> None:
    dev = plugged(rig)
    assert dev.dma is rig.mem
    assert not dev.bus_master()
    rig.guest.write(3, 0, PCI_COMMAND, CMD_MASTER, 2)
    assert dev.bus_master()


def test_reset_clears_command_and_bars(rig: Rig) -> None:
    dev = plugged(rig)
    g = rig.guest
    g.write(3, 0, 0x10, 0xFEBC0000)
    g.write(3, 0, 0x3C, 11, 1)
    g.write(3, 0, PCI_COMMAND, CMD_MEM | CMD_MASTER, 2)
    dev.set_irq(1)
    rig.bus.reset()
    assert g.read(3, 0, PCI_COMMAND, 2) == 0
    assert g.read(3, 0, 0x10) == 0
    assert g.read(3, 0, 0x18) == 0x0C  # type bits stay
    assert g.read(3, 0, 0x3C, 1) == 0
    assert dev.bar_address(0) is None
    assert rig.pirqs[-1] == (3, 0)


def test_plugging(rig: Rig) -> None:
    first = TestFunction("first")
    rig.bus.plug(first)
    assert first.devfn == 0
    rig.bus.plug(TestFunction("second"))
    with pytest.raises(PCIError, match=r"^PCI: slot 1 function 0 not available for third, in use by second$"):
        rig.bus.plug(TestFunction("third"), pci_devfn(1, 0))
    fn1 = TestFunction("fn1")
    rig.bus.plug(fn1, pci_devfn(1, 1))
    assert rig.guest.read(1, 0, 0x0E, 1) == 0x80  # function 0 now says "multi-function"
    third = TestFunction("third")
    rig.bus.plug(third)
    assert third.devfn == pci_devfn(2, 0)
    rig.bus.unplug(third)
    assert rig.guest.read(2, 0, 0, 2) == 0xFFFF


def test_bar_size_must_be_a_power_of_two() -> None:
    dev = PCIDevice("x", vendor_id=1, device_id=2, class_code=0)
    with pytest.raises(ValueError):
        dev.register_bar(0, MemoryRegion.io("odd", 0x3000, TestFunction().mmio))


# -- qdev ----------------------------------------------------------------------------------------------

class TestFunctionState(PCIDeviceState):
    __test__ = False

    def create_model(self) -> PCIDevice:
        return TestFunction(self.type_name)


TEST_INFO = TypeInfo("x-pci-testfn", parent="pci-device", bus_type="PCI", cls=TestFunctionState)


def device_add(tree: DeviceTree, bus, **props: str) -> TestFunctionState:
    """What DeviceTree.device_add does for a PCI type (without registering a test type globally)."""
    dev = TestFunctionState(TEST_INFO, tree)
    for name, value in props.items():
        dev.set_property(name, value)
    dev.parent_bus = bus
    dev.realize()
    bus.plug(dev)
    return dev


def test_qdev_addr_slot_choice_and_errors(rig: Rig) -> None:
    tree = DeviceTree()
    host = tree.add_builtin("i440FX-pcihost")
    bus = add_pci_bus(host, rig.bus)
    assert bus.name == "pci.0" and bus.type == "PCI"
    placed = device_add(tree, bus, addr="03.0")
    assert placed.model is not None and placed.model.devfn == pci_devfn(3, 0)
    auto = device_add(tree, bus)
    assert auto.model is not None and auto.model.devfn == 0
    assert device_add(tree, bus, addr="1f.7").props["addr"] == 0xFF
    with pytest.raises(QomError, match=r"^PCI: slot 3 function 0 not available for x-pci-testfn, in use by "
                                       r"x-pci-testfn$"):
        device_add(tree, bus, addr="3")
    with pytest.raises(QomError, match=r"^Property 'x-pci-testfn.addr' doesn't take value '20.0'$"):
        device_add(tree, bus, addr="20.0")
    qtree = tree.qtree()
    assert "    bus: pci.0\n      type PCI\n" in qtree
    assert "addr = 03.0" in qtree
    assert "class Class ff00, addr 00:03.0, pci id 1234:5678 (sub 1af4:1100)" in qtree
    assert "bar 0: mem at 0xffffffffffffffff [0xffe]" in qtree
    rig.guest.write(3, 0, 0x14, 0xC000)
    rig.guest.write(3, 0, PCI_COMMAND, CMD_IO, 2)
    assert "bar 1: i/o at 0xc000 [0xc01f]" in tree.qtree()
    placed.unrealize()
    assert rig.guest.read(3, 0, 0, 2) == 0xFFFF


def test_info_pci(rig: Rig) -> None:
    tree = DeviceTree()
    bus = add_pci_bus(tree.add_builtin("i440FX-pcihost"), rig.bus)
    dev = device_add(tree, bus, addr="03.0")
    dev.id = "nic0"
    g = rig.guest
    g.write(3, 0, 0x3C, 11, 1)
    g.write(3, 0, 0x14, 0xC000)
    g.write(3, 0, 0x18, 0xFE000000)
    g.write(3, 0, PCI_COMMAND, CMD_IO | CMD_MEM, 2)
    assert info_pci(bus) == (
        "  Bus  0, device   3, function 0:\n"
        "    Class ff00: PCI device 1234:5678\n"
        "      PCI subsystem 1af4:1100\n"
        "      IRQ 11, pin A\n"
        "      BAR0: 32 bit memory at 0xffffffffffffffff [0x00000ffe].\n"
        "      BAR1: I/O at 0xc000 [0xc01f].\n"
        "      BAR2: 64 bit prefetchable memory at 0xfe000000 [0xfe003fff].\n"
        '      id "nic0"\n')
