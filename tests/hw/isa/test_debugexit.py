"""isa-debug-exit (pyqemu.hw.isa.debugexit) through the I/O port space."""

from __future__ import annotations

import pytest

from pyqemu.hw.isa import debugexit
from pyqemu.hw.isa.bus import add_isa_bus
from pyqemu.qom.object import DeviceState, DeviceTree, QomError, TypeInfo, device_type_help, register_type

from .rig import Rig

register_type(TypeInfo("test-isa-bridge", user_creatable=False, cls=DeviceState))


def test_write_exits_with_odd_status():
    r = Rig()
    debugexit.create(r.isa)
    r.outb(0x501, 0x31)
    assert r.machine.requests == [("shutdown", 0x63, "guest-exit")]


def test_zero_gives_status_1_and_word_writes_use_the_whole_value():
    r = Rig()
    debugexit.create(r.isa)
    r.outb(0x502, 0)
    r.outw(0x501, 0x0102)
    assert [req[1] for req in r.machine.requests] == [1, 0x0205]


def test_reads_return_zero_and_ports_outside_are_not_the_device():
    r = Rig()
    debugexit.create(r.isa)
    assert r.inb(0x501) == 0
    r.outb(0x500, 7)
    r.outb(0x503, 7)
    assert r.machine.requests == []


def test_custom_iobase_and_iosize():
    r = Rig()
    dev = debugexit.create(r.isa, iobase=0xF4, iosize=4)
    assert dev.mr.size == 4
    r.io.write(0xF4, 0x10, 4)
    assert r.machine.requests == [("shutdown", 0x21, "guest-exit")]


def test_model_alone():
    statuses: list[int] = []
    dev = debugexit.DebugExit(statuses.append)
    dev.write(0, 0x1FF, 1)  # a byte access only carries its byte
    assert statuses == [0x1FF]
    assert debugexit.exit_status(0x31) == 0x63
    with pytest.raises(ValueError):
        debugexit.DebugExit(statuses.append, 0)


def test_device_add_on_the_isa_bus():
    r = Rig()
    tree = DeviceTree()
    isa_bus = add_isa_bus(tree.add_builtin("test-isa-bridge"), r.isa)
    dev = tree.device_add({"driver": "isa-debug-exit", "iobase": "0xf4", "iosize": "0x4"})
    assert dev.parent_bus is isa_bus and isinstance(dev.model, debugexit.DebugExit)
    r.outb(0xF7, 3)
    assert r.machine.requests == [("shutdown", 7, "guest-exit")]
    with pytest.raises(QomError):
        tree.device_add({"driver": "isa-debug-exit", "iobase": "0xffff", "iosize": "4"})
    assert "iobase=<uint32>" in device_type_help("isa-debug-exit")
