"""Goldfish RTC register behaviour (pyqemu.hw.rtc.goldfish_rtc)."""

from __future__ import annotations

import time

import pytest

from pyqemu.hw.core.irq import allocate_irqs
from pyqemu.hw.rtc.goldfish_rtc import GoldfishRTC

from .isa.rig import FakeClock

TIME_LOW, TIME_HIGH, ALARM_LOW, ALARM_HIGH = 0x00, 0x04, 0x08, 0x0C
IRQ_ENABLED, CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT = 0x10, 0x14, 0x18, 0x1C
BOOT_NS = 1_700_000_000_123_456_789  # the host's wall clock when the device is created


class Line:
    def __init__(self) -> None:
        self.level = 0
        self.irq = allocate_irqs(self._set, 1)[0]

    def _set(self, n: int, level: int) -> None:
        self.level = level


class Rig:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(time, "time_ns", lambda: BOOT_NS)
        self.clock = FakeClock()
        self.clock.t = 1_000
        self.line = Line()
        self.rtc = GoldfishRTC(self.clock, self.line.irq)

    def read_time(self) -> int:
        low = self.rtc.read(TIME_LOW, 4)
        return (self.rtc.read(TIME_HIGH, 4) << 32) | low

    def set_alarm(self, ns: int) -> None:
        self.rtc.write(ALARM_HIGH, ns >> 32, 4)
        self.rtc.write(ALARM_LOW, ns & 0xFFFFFFFF, 4)

    def advance(self, ns: int) -> None:
        self.clock.t += ns
        self.clock.run_timers()


@pytest.fixture
def r(monkeypatch) -> Rig:
    return Rig(monkeypatch)


def test_region_and_reset_state(r):
    assert r.rtc.mr.name == "goldfish_rtc" and r.rtc.mr.size == 0x1000
    assert r.rtc.read(IRQ_ENABLED, 4) == 0
    assert r.rtc.read(ALARM_STATUS, 4) == 0
    assert r.line.level == 0


def test_time_is_wall_clock_plus_virtual_time(r):
    assert r.read_time() == BOOT_NS
    r.advance(2_500_000_000)
    assert r.read_time() == BOOT_NS + 2_500_000_000


def test_time_high_is_latched_by_time_low(r):
    r.rtc.write(TIME_HIGH, 0, 4)
    r.rtc.write(TIME_LOW, 0xFFFFFFFF, 4)
    assert r.rtc.read(TIME_LOW, 4) == 0xFFFFFFFF
    r.advance(1)  # the low word wraps
    assert r.rtc.read(TIME_HIGH, 4) == 0  # still the high word of the last TIME_LOW read
    assert r.rtc.read(TIME_LOW, 4) == 0
    assert r.rtc.read(TIME_HIGH, 4) == 1


def test_guest_sets_the_time_high_then_low(r):
    target = 1_234_567_890 * 1_000_000_000
    r.rtc.write(TIME_HIGH, target >> 32, 4)
    r.rtc.write(TIME_LOW, target & 0xFFFFFFFF, 4)
    assert r.read_time() == target
    r.advance(1_000_000_000)
    assert r.read_time() == target + 1_000_000_000


def test_alarm_fires_through_the_timer(r):
    r.rtc.write(IRQ_ENABLED, 1, 4)
    when = BOOT_NS + 5_000_000_000
    r.set_alarm(when)
    assert r.rtc.read(ALARM_STATUS, 4) == 1
    assert (r.rtc.read(ALARM_HIGH, 4) << 32) | r.rtc.read(ALARM_LOW, 4) == when
    r.advance(4_999_999_999)
    assert r.line.level == 0
    r.advance(1)
    assert r.line.level == 1
    assert r.rtc.read(ALARM_STATUS, 4) == 0
    r.rtc.write(CLEAR_INTERRUPT, 1, 4)
    assert r.line.level == 0


def test_alarm_in_the_past_fires_at_once_and_waits_for_irq_enable(r):
    r.set_alarm(BOOT_NS - 1)
    assert r.rtc.read(ALARM_STATUS, 4) == 0
    assert r.line.level == 0  # pending, but the interrupt is disabled
    r.rtc.write(IRQ_ENABLED, 1, 4)
    assert r.line.level == 1
    r.rtc.write(IRQ_ENABLED, 0, 4)
    assert r.line.level == 0


def test_clear_alarm_disarms(r):
    r.rtc.write(IRQ_ENABLED, 1, 4)
    r.set_alarm(BOOT_NS + 1_000)
    r.rtc.write(CLEAR_ALARM, 1, 4)
    assert r.rtc.read(ALARM_STATUS, 4) == 0
    r.advance(10_000)
    assert r.line.level == 0


def test_reset_keeps_time_and_drops_the_alarm(r):
    r.rtc.write(IRQ_ENABLED, 1, 4)
    r.set_alarm(BOOT_NS + 1_000)
    r.advance(500)
    r.rtc.reset()
    assert r.rtc.read(IRQ_ENABLED, 4) == 0 and r.rtc.read(ALARM_STATUS, 4) == 0
    assert r.rtc.read(ALARM_LOW, 4) == 0
    r.advance(10_000)
    assert r.line.level == 0
    assert r.read_time() == BOOT_NS + 10_500


def test_vmstate(r, monkeypatch):
    r.rtc.write(IRQ_ENABLED, 1, 4)
    r.set_alarm(BOOT_NS + 3_000)
    r.advance(1_000)
    state = r.rtc.vmstate()
    other = Rig(monkeypatch)
    other.clock.t = 99_999  # a different virtual time on the destination
    other.rtc.load_vmstate(state)
    assert other.read_time() == BOOT_NS + 1_000
    assert other.rtc.read(ALARM_STATUS, 4) == 1
    other.advance(1_999)
    assert other.line.level == 0
    other.advance(1)
    assert other.line.level == 1
