"""SiFive test (finisher) device (pyqemu.hw.misc.sifive_test)."""

from __future__ import annotations

import pytest

from pyqemu.hw.misc.sifive_test import SifiveTest


@pytest.fixture
def dev() -> tuple[SifiveTest, list]:
    events: list = []
    return SifiveTest(lambda code: events.append(("shutdown", code)), lambda: events.append("reset")), events


def test_region(dev):
    d, _ = dev
    assert d.mr.name == "riscv.sifive.test" and d.mr.size == 0x1000
    assert d.read(0, 4) == 0


def test_pass_powers_off_with_status_0(dev):
    d, events = dev
    d.write(0, 0x5555, 4)
    d.write(0, 0x00075555, 4)  # the code is only for failures
    assert events == [("shutdown", 0), ("shutdown", 0)]


def test_fail_exit_code_is_the_high_half(dev):
    d, events = dev
    d.write(0, (3 << 16) | 0x3333, 4)
    d.write(0, 0xFFFF3333, 4)
    assert events == [("shutdown", 3), ("shutdown", 0xFFFF)]


def test_reset(dev):
    d, events = dev
    d.write(0, 0x7777, 4)
    assert events == ["reset"]


def test_other_values_and_offsets_are_ignored(dev):
    d, events = dev
    d.write(0, 0x1234, 4)
    d.write(0, 0x5556, 4)
    d.write(4, 0x5555, 4)
    d.reset()
    d.load_vmstate(d.vmstate())
    assert events == []
    assert d.vmstate() == {}
