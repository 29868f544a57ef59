"""The i8042 keyboard controller (pyqemu.hw.isa.i8042) through ports 0x60/0x64."""

from __future__ import annotations

import pytest

from pyqemu.hw.isa import i8042

from .rig import Rig

DATA, CMD = 0x60, 0x64


class Kbc:
    def __init__(self) -> None:
        self.r = Rig()
        self.a20: list[bool] = []
        self.dev = i8042.create(self.r.isa, self.a20.append)

    def status(self) -> int:
        return self.r.inb(CMD)

    def cmd(self, c: int, arg: int | None = None) -> None:
        self.r.outb(CMD, c)
        if arg is not None:
            self.r.outb(DATA, arg)

    def drain(self) -> list[int]:
        out = []
        while self.status() & 0x01:
            out.append(self.r.inb(DATA))
        return out


@pytest.fixture
def k() -> Kbc:
    return Kbc()


def test_power_on_status_and_command_byte(k):
    assert k.status() == 0x18  # CMD | keylock open, output buffer empty
    k.cmd(0x20)
    assert k.status() & 0x01
    assert k.drain() == [0x03]  # keyboard and aux interrupts on


def test_self_test_and_interface_tests(k):
    k.cmd(0xAA)
    assert k.drain() == [0x55]
    assert k.status() & 0x04  # SYS: self-test passed
    k.cmd(0xAB)
    k.cmd(0xA9)
    assert k.drain() == [0x00, 0x00]


def test_write_command_byte(k):
    k.cmd(0x60, 0x65)
    assert not k.status() & 0x08  # the last write went to the data port
    k.cmd(0x20)
    assert k.drain() == [0x65]
    assert k.status() & 0x04  # SYS follows the command byte
    k.cmd(0xAD)
    k.cmd(0xA7)
    k.cmd(0x20)
    assert k.drain() == [0x75]
    k.cmd(0xAE)
    k.cmd(0xA8)
    k.cmd(0x20)
    assert k.drain() == [0x45]


def test_output_port_read_and_a20(k):
    k.cmd(0xD0)
    assert k.drain() == [0xCF]  # reset line high, A20 on, the pulled-up lines
    k.cmd(0xD2, 0x00)
    k.cmd(0xD0)  # read while a keyboard byte is waiting: the OBF line shows it
    assert k.drain() == [0x00, 0xDF]
    k.cmd(0xDD)
    assert k.a20 == [False] and not k.dev.a20_enabled
    k.cmd(0xDF)
    assert k.a20 == [False, True]
    k.cmd(0xD1, 0xCD)  # A20 off through the output port, reset line kept high
    assert k.a20[-1] is False
    assert k.r.machine.requests == []


def test_pulse_reset_line_resets_the_machine(k):
    k.cmd(0xFE)
    assert k.r.machine.requests == [("reset", "guest-reset")]
    k.cmd(0xFF)  # pulses nothing
    k.cmd(0xF0)  # pulses all four lines, reset among them
    assert len(k.r.machine.requests) == 2


def test_output_port_write_with_reset_low_resets(k):
    k.cmd(0xD1, 0xFE)
    assert k.r.machine.requests == [("reset", "guest-reset")]


def test_read_with_empty_buffer_does_not_crash(k):
    assert k.r.inb(DATA) == 0
    k.cmd(0xAA)
    assert k.r.inb(DATA) == 0x55
    assert k.r.inb(DATA) == 0x55  # the last byte again
    assert k.r.inw(DATA) & 0xFF == 0x55


def test_keyboard_irq_follows_obf_and_command_byte(k):
    assert k.r.levels[1] == 0
    k.cmd(0xAA)
    assert k.r.levels[1] == 1
    k.r.inb(DATA)
    assert k.r.levels[1] == 0
    k.cmd(0x60, 0x00)  # interrupts off
    k.cmd(0xAA)
    assert k.r.levels[1] == 0 and k.status() & 0x01


def test_aux_buffer_sets_aux_obf_and_irq12(k):
    k.cmd(0xD3, 0x5A)
    assert k.status() & 0x21 == 0x21
    assert k.r.levels[12] == 1 and k.r.levels[1] == 0
    assert k.r.inb(DATA) == 0x5A
    assert k.r.levels[12] == 0 and not k.status() & 0x21
    k.cmd(0xD2, 0xA5)
    assert k.status() & 0x21 == 0x01
    assert k.drain() == [0xA5]


def test_minimal_keyboard_answers(k):
    k.r.outb(DATA, 0xFF)
    assert k.drain() == [0xFA, 0xAA]
    k.cmd(0x60, 0x47)  # translation on
    k.r.outb(DATA, 0xF2)
    assert k.drain() == [0xFA, 0xAB, 0x41]
    k.r.outb(DATA, 0xED)
    k.r.outb(DATA, 0x07)
    assert k.drain() == [0xFA, 0xFA]
    k.r.outb(DATA, 0xF0)
    k.r.outb(DATA, 0x00)
    assert k.drain() == [0xFA, 0xFA, 0x41]
    k.r.outb(DATA, 0xEE)
    assert k.drain() == [0xEE]
    k.r.outb(DATA, 0x12)
    assert k.drain() == [0xFE]


def test_minimal_mouse_answers(k):
    k.cmd(0xD4, 0xFF)
    assert k.status() & 0x20
    assert k.drain() == [0xFA, 0xAA, 0x00]
    k.cmd(0xD4, 0xF2)
    assert k.drain() == [0xFA, 0x00]
    k.cmd(0xD4, 0xF3)
    k.cmd(0xD4, 200)
    k.cmd(0xD4, 0xF4)
    k.cmd(0xD4, 0xE9)
    assert k.drain() == [0xFA, 0xFA, 0xFA, 0xFA, 0x20, 0x02, 200]


def test_reset_and_vmstate(k):
    k.cmd(0x60, 0x61)
    k.cmd(0xD2, 0x11)
    state = k.dev.vmstate()
    other = Kbc()
    other.dev.load_vmstate(state)
    assert other.r.levels[1] == 1
    assert other.drain() == [0x11]
    other.cmd(0x20)
    assert other.drain() == [0x61]
    k.dev.reset()
    assert k.status() == 0x18 and k.r.levels[1] == 0
