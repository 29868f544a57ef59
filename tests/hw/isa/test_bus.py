"""The ISA bus glue (pyqemu.hw.isa.bus): the port space, IRQ lines and the device-tree side."""

from __future__ import annotations

import pytest

from pyqemu.hw.isa import i8042, mc146818
from pyqemu.hw.isa.bus import ByteOps, IsaBus, PortOps, add_isa_bus
from pyqemu.qom.object import DeviceState, DeviceTree, QomError, TypeInfo, register_type

from .rig import Rig

register_type(TypeInfo("test-isa-bridge", user_creatable=False, cls=DeviceState))


class Regs:
    def __init__(self) -> None:
        self.bytes = bytearray(4)

    def read(self, offset: int, size: int) -> int:
        assert size == 1
        return self.bytes[offset]

    def write(self, offset: int, value: int, size: int) -> None:
        assert size == 1
        self.bytes[offset] = value


def test_irq_lines_and_port_range():
    isa = IsaBus()
    assert len(isa.irqs) == 16 and isa.machine is None
    isa.get_irq(15).raise_()  # unconnected lines take any level
    with pytest.raises(ValueError):
        isa.get_irq(16)
    with pytest.raises(ValueError):
        IsaBus(irqs=isa.irqs[:8])
    dev = i8042.I8042(lambda: None)
    with pytest.raises(ValueError):
        isa.map_port(0xFFFF + 1, dev.mr_data)


def test_byte_ops_split_wide_accesses():
    regs = Regs()
    ops = ByteOps(regs)
    ops.write(0, 0x44332211, 4)
    assert regs.bytes == bytes((0x11, 0x22, 0x33, 0x44))
    assert ops.read(1, 2) == 0x3322


def test_port_ops_wide_reads_fill_with_ones():
    seen: list[int] = []
    ops = PortOps(lambda: 0x12, seen.append)
    assert ops.read(0, 1) == 0x12
    assert ops.read(0, 2) == 0xFF12
    ops.write(0, 0x1234, 2)
    assert seen == [0x34]


def test_board_devices_in_the_tree():
    r = Rig()
    tree = DeviceTree()
    bus = add_isa_bus(tree.add_builtin("test-isa-bridge"), r.isa)
    kbc = tree.create("i8042")
    rtc = tree.create("mc146818rtc")
    for dev in (kbc, rtc):
        dev.parent_bus = bus
        dev.realize()
        bus.plug(dev)
    assert isinstance(kbc.model, i8042.I8042) and isinstance(rtc.model, mc146818.Mc146818Rtc)
    r.outb(0x64, 0xFE)
    assert r.machine.requests == [("reset", "guest-reset")]
    r.outb(0x70, 0x0D)
    assert r.inb(0x71) == 0x80
    tree.reset()
    assert "bus: isa.0" in tree.qtree() and "dev: mc146818rtc" in tree.qtree()


def test_rtc_needs_a_clock():
    tree = DeviceTree()
    bus = add_isa_bus(tree.add_builtin("test-isa-bridge"), IsaBus())
    rtc = tree.create("mc146818rtc")
    rtc.parent_bus = bus
    with pytest.raises(QomError, match="no clock"):
        rtc.realize()


def test_isa_device_needs_an_isa_bus():
    tree = DeviceTree()
    dev = tree.create("isa-debug-exit")
    dev.parent_bus = tree.root
    with pytest.raises(QomError, match="can't go on a System bus"):
        dev.realize()
    with pytest.raises(QomError, match="No 'ISA' bus found"):
        tree.device_add({"driver": "isa-debug-exit"})
