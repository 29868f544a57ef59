"""isa-serial (pyqemu.hw.isa.serial): the 16550 UART at COM1's ports 0x3F8-0x3FF and IRQ 4."""

from __future__ import annotations

import pytest

from pyqemu.hw.isa import serial
from pyqemu.hw.isa.bus import add_isa_bus
from pyqemu.qom.object import DeviceState, DeviceTree, QomError, TypeInfo, device_type_help, register_type

from ..test_serial import FakeChardev
from .rig import Rig

COM1 = 0x3F8
THR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)

register_type(TypeInfo("test-isa-bridge", user_creatable=False, cls=DeviceState))



@pytest.fixture
def com1() -> tuple[Rig, serial.IsaSerial, FakeChardev]:
    r = Rig()
    chr_ = FakeChardev()
    return r, serial.create(r.isa, chr_), chr_


def test_ports_and_irq(com1):
    r, dev, _ = com1
    assert (dev.iobase, dev.irq, dev.mr.size) == (COM1, 4, 8)
    assert r.inb(COM1 + LSR) == 0x60
    assert r.inb(COM1 + IIR) == 0x01
    assert r.inb(COM1 + MSR) == 0xB0
    r.outb(COM1 + SCR, 0x3C)
    assert r.inb(COM1 + SCR) == 0x3C
    assert r.inb(COM1 + 8) == 0  # the next port is not the UART's


def test_output_reaches_the_chardev_and_thre_raises_irq4(com1):
    r, _, chr_ = com1
    for c in b"ok\n":
        r.outb(COM1 + THR, c)
    assert chr_.out == b"ok\n"
    r.outb(COM1 + IER, 0x02)
    assert r.levels[4] == 1
    assert r.inb(COM1 + IIR) == 0x02
    assert r.levels[4] == 0


def test_input_through_the_ports(com1):
    r, _, chr_ = com1
    r.outb(COM1 + IER, 0x01)
    chr_.deliver(b"k")
    assert r.levels[4] == 1
    assert r.inb(COM1 + LSR) & 0x01
    assert r.inb(COM1 + THR) == ord("k")
    assert r.levels[4] == 0


def test_word_access_reaches_both_divisor_bytes(com1):
    r, dev, _ = com1
    r.outb(COM1 + LCR, 0x83)
    r.outw(COM1, 0x0201)  # outw to DLL: DLL and DLM
    assert dev.uart.divider == 0x0201
    assert r.inw(COM1) == 0x0201
    r.outb(COM1 + LCR, 0x03)


def test_com2_defaults_and_explicit_port():
    r = Rig()
    com2 = serial.create(r.isa, None, index=1)
    assert (com2.iobase, com2.irq) == (0x2F8, 3)
    r.outb(0x2F8 + IER, 0x02)
    assert r.levels[3] == 1
    other = serial.create(r.isa, None, iobase=0x3E8, irq=5)
    assert (other.iobase, other.irq) == (0x3E8, 5)
    with pytest.raises(ValueError):
        serial.create(r.isa, None, index=4)


def test_reset_and_vmstate(com1):
    r, dev, _ = com1
    r.outb(COM1 + SCR, 0x77)
    state = dev.vmstate()
    dev.reset()
    assert r.inb(COM1 + SCR) == 0
    dev.load_vmstate(state)
    assert r.inb(COM1 + SCR) == 0x77


def test_device_add_with_chardev():
    r = Rig()
    tree = DeviceTree()
    add_isa_bus(tree.add_builtin("test-isa-bridge"), r.isa)
    chr_ = FakeChardev()
    tree.add_chardev("serial0", chr_)
    dev = tree.device_add({"driver": "isa-serial", "chardev": "serial0"})
    r.outb(COM1, ord("A"))
    assert chr_.out == b"A"
    assert "iobase = 1016 (0x3f8)" in tree.qtree() and "irq = 4 (0x4)" in tree.qtree()
    dev2 = tree.device_add({"driver": "isa-serial", "iobase": "0x2e8", "irq": "7"})
    assert (dev2.model.iobase, dev2.model.irq) == (0x2E8, 7)
    with pytest.raises(QomError, match="isa irq 16 invalid"):
        tree.device_add({"driver": "isa-serial", "iobase": "0x3e8", "irq": "16"})
    with pytest.raises(QomError, match="Max. supported number"):
        tree.device_add({"driver": "isa-serial", "index": "4"})
    dev.reset()


def test_device_add_takes_the_next_com_port():
    r = Rig()
    tree = DeviceTree()
    add_isa_bus(tree.add_builtin("test-isa-bridge"), r.isa)
    ports = [tree.device_add({"driver": "isa-serial"}).model for _ in range(4)]
    assert [(p.iobase, p.irq) for p in ports] == list(zip(serial.ISA_SERIAL_IOPORTS, serial.ISA_SERIAL_IRQS,
                                                          strict=True))
    with pytest.raises(QomError, match="Max. supported number of ISA serial ports is 4."):
        tree.device_add({"driver": "isa-serial"})
    assert "chardev=<str>          - ID of a chardev to use as a backend" in device_type_help("isa-serial")
