"""The PC's ISA devices on a real machine core (pyqemu.hw.i386.pc_isa with pyqemu.core.machine)."""

from __future__ import annotations

import pytest

from pyqemu.core.machine import Machine
from pyqemu.hw.i386.pc_isa import create_pc_isa_devices

from ..test_serial import FakeChardev

GiB = 1 << 30



@pytest.fixture
def pc() -> tuple[Machine, object, FakeChardev]:
    machine = Machine()
    chr_ = FakeChardev()
    devs = create_pc_isa_devices(machine, 3 * GiB, 2 * GiB, serial_chardevs=[chr_], smp_cpus=4,
                                 debug_exit=(0x501, 2))
    return machine, devs, chr_


def test_debug_exit_ends_the_machine_with_its_status(pc):
    machine, devs, _ = pc
    devs.io.write(0x501, 0x31, 1)
    assert machine.shutdown_code == 0x63 and machine.runstate == "shutdown"
    assert machine.shutdown_reason == "guest-exit"
    assert machine.run() == 0x63  # the loop ends at once with that status


def test_keyboard_controller_reset_is_a_machine_reset(pc):
    machine, devs, _ = pc
    devs.io.write(0x70, 0x0B, 1)
    devs.io.write(0x71, 0x12, 1)  # RTC update interrupts on
    devs.io.write(0x3FF, 0x42, 1)  # UART scratch register
    devs.io.write(0x64, 0xFE, 1)
    assert machine.reset_requested and machine.reset_reason == "guest-reset"
    assert machine.shutdown_code is None
    machine.system_reset()  # what the run loop does with the request
    devs.io.write(0x70, 0x0B, 1)
    assert devs.io.read(0x71, 1) == 0x02  # the reset handler reset the devices
    assert devs.io.read(0x3FF, 1) == 0


def test_no_reboot_turns_the_reset_into_a_shutdown(pc):
    machine, devs, _ = pc
    machine.no_reboot = True
    devs.io.write(0x64, 0xD1, 1)
    devs.io.write(0x60, 0x00, 1)  # output port with the reset line low
    assert machine.shutdown_code == 0


def test_board_cmos_and_console(pc):
    _, devs, chr_ = pc
    cmos = {}
    for index in (0x14, 0x15, 0x16, 0x34, 0x35, 0x5B, 0x5C, 0x5D, 0x5F):
        devs.io.write(0x70, index, 1)
        cmos[index] = devs.io.read(0x71, 1)
    assert cmos == {0x14: 0x06, 0x15: 0x80, 0x16: 0x02, 0x34: 0x00, 0x35: 0xBF,
                    0x5B: 0x00, 0x5C: 0x80, 0x5D: 0x00, 0x5F: 3}
    for c in b"hello\n":
        devs.io.write(0x3F8, c, 1)
    assert chr_.out == b"hello\n"
    assert devs.isa.serial_ports == 1 and devs.serial[0].irq == 4
    assert "0000000000000501-0000000000000502" in devs.io.mtree()
