"""Goldfish RTC ("google,goldfish-rtc"), the ``virt`` board's real-time clock at 0x101000 (QEMU
hw/rtc/goldfish_rtc.c behaviour).

Registers as in the goldfish virtual hardware documentation, "GOLDFISH TIMER", section "Timer
Registers" (the RTC shares the timer's register set), and as Linux's drivers/rtc/rtc-goldfish.c uses
them (all 32-bit; time in nanoseconds since the epoch):

* 0x00 TIME_LOW: read returns the low word of the time and latches its high word for TIME_HIGH;
  write replaces the low word of the time (Linux sets the time writing TIME_HIGH, then TIME_LOW);
* 0x04 TIME_HIGH: read returns the latched high word; write replaces the high word of the time;
* 0x08 ALARM_LOW: sets the alarm's low word and arms it (an alarm in the past fires at once);
* 0x0c ALARM_HIGH: sets the alarm's high word (write it first);
* 0x10 IRQ_ENABLED: bit 0 lets a fired alarm raise the IRQ;
* 0x14 CLEAR_ALARM: disarms the alarm;  0x18 ALARM_STATUS: 1 while armed;
* 0x1c CLEAR_INTERRUPT: acknowledges a fired alarm (lowers the IRQ).

The clock starts at the host's wall-clock time and then advances with the virtual clock (it stands
still while the VM is stopped); guest writes move it by an offset.
"""

from __future__ import annotations

import time

from pyqemu.core.clock import Timer, VirtualClock
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ

TIME_LOW = 0x00
TIME_HIGH = 0x04
ALARM_LOW = 0x08
ALARM_HIGH = 0x0C
IRQ_ENABLED = 0x10
CLEAR_ALARM = 0x14
ALARM_STATUS = 0x18
CLEAR_INTERRUPT = 0x1C

LOW = 0xFFFFFFFF
MASK64 = (1 << 64) - 1


class GoldfishRTC:
    """``mr`` is its 0x1000-byte region, ``irq`` the alarm interrupt."""

    def __init__(self, clock: VirtualClock, irq: IRQ):
        self.clock = clock
        self.irq = irq
        self.tick_offset = time.time_ns() - clock.now()  # RTC time = virtual time + tick_offset
        self.timer = Timer(clock, self._alarm_fired)
        self.mr = MemoryRegion.io("goldfish_rtc", 0x1000, self)
        self.reset()

    def reset(self) -> None:
        """Alarm and interrupt state go; the time keeps running."""
        self.timer.delete()
        self.alarm_next = 0
        self.alarm_running = 0
        self.irq_pending = 0
        self.irq_enabled = 0
        self.time_high = 0
        self.irq.lower()

    def now(self) -> int:
        """The RTC's time in ns."""
        return (self.clock.now() + self.tick_offset) & MASK64

    def _set_time(self, value: int) -> None:
        self.tick_offset = value - self.clock.now()

    def _update_irq(self) -> None:
        self.irq.set(self.irq_pending & self.irq_enabled)

    def _set_alarm(self) -> None:
        now = self.now()
        if self.alarm_next <= now:
            self.timer.delete()
            self.alarm_running = 0
            self.irq_pending = 1
            self._update_irq()
        else:
            self.alarm_running = 1
            self.timer.mod(self.clock.now() + self.alarm_next - now)

    def _alarm_fired(self) -> None:
        self.alarm_running = 0
        self.irq_pending = 1
        self._update_irq()

    # -- registers ------------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset == TIME_LOW:
            now = self.now()
            self.time_high = now >> 32
            return now & LOW
        if offset == TIME_HIGH:
            return self.time_high
        if offset == ALARM_LOW:
            return self.alarm_next & LOW
        if offset == ALARM_HIGH:
            return self.alarm_next >> 32
        if offset == IRQ_ENABLED:
            return self.irq_enabled
        if offset == ALARM_STATUS:
            return self.alarm_running
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        value &= LOW
        if offset == TIME_LOW:
            self._set_time((self.now() & ~LOW) | value)
        elif offset == TIME_HIGH:
            self._set_time((value << 32) | (self.now() & LOW))
        elif offset == ALARM_LOW:
            self.alarm_next = (self.alarm_next & ~LOW) | value
            self._set_alarm()
        elif offset == ALARM_HIGH:
            self.alarm_next = (value << 32) | (self.alarm_next & LOW)
        elif offset == IRQ_ENABLED:
            self.irq_enabled = value & 1
            self._update_irq()
        elif offset == CLEAR_ALARM:
            self.timer.delete()
            self.alarm_running = 0
        elif offset == CLEAR_INTERRUPT:
            self.irq_pending = 0
            self._update_irq()

    # -- migration -----------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        """The time is saved as its value, so it carries on from there whatever the clock reads on load."""
        return {"time": self.now(), "time_high": self.time_high, "alarm_next": self.alarm_next,
                "alarm_running": self.alarm_running, "irq_pending": self.irq_pending,
                "irq_enabled": self.irq_enabled}

    def load_vmstate(self, state: dict) -> None:
        self._set_time(state["time"])
        for name in ("time_high", "alarm_next", "irq_pending", "irq_enabled"):
            setattr(self, name, state[name])
        self.timer.delete()
        self.alarm_running = 0
        if state["alarm_running"]:
            self._set_alarm()
        self._update_irq()
