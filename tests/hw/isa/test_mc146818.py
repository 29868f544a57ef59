"""The CMOS RTC (pyqemu.hw.isa.mc146818) through ports 0x70/0x71."""

from __future__ import annotations

import calendar

import pytest

from pyqemu.hw.isa import mc146818

from .rig import Rig

NS = 1_000_000_000
MiB = 1 << 20
GiB = 1 << 30
# Thursday 29 February 2024, 13:05:09 UTC
BASE = calendar.timegm((2024, 2, 29, 13, 5, 9, 0, 0, 0))
SEC, SEC_ALARM, MIN, MIN_ALARM, HOUR, HOUR_ALARM, DOW, DOM, MONTH, YEAR = range(10)
REG_A, REG_B, REG_C, REG_D, CENTURY = 0x0A, 0x0B, 0x0C, 0x0D, 0x32


class Cmos:
    def __init__(self, base: float = BASE) -> None:
        self.r = Rig()
        self.rtc = mc146818.create(self.r.isa, self.r.clock, base_time=base)

    def read(self, index: int) -> int:
        self.r.outb(0x70, index)
        return self.r.inb(0x71)

    def write(self, index: int, value: int) -> None:
        self.r.outb(0x70, index)
        self.r.outb(0x71, value)

    def clock(self) -> tuple[int, ...]:
        return tuple(self.read(i) for i in (SEC, MIN, HOUR, DOW, DOM, MONTH, YEAR, CENTURY))

    def advance(self, ns: int) -> None:
        self.r.clock.advance(ns)


@pytest.fixture
def c() -> Cmos:
    return Cmos()


def test_power_on_registers(c):
    assert c.read(REG_A) == 0x26
    assert c.read(REG_B) == 0x02  # 24 h, BCD
    assert c.read(REG_C) == 0x00
    assert c.read(REG_D) == 0x80
    c.write(REG_D, 0)
    c.write(REG_C, 0xFF)
    assert (c.read(REG_C), c.read(REG_D)) == (0, 0x80)


def test_nmi_bit_is_not_part_of_the_index(c):
    c.r.outb(0x70, 0x80 | REG_A)
    assert c.rtc.nmi_disabled and c.rtc.index == REG_A
    assert c.r.inb(0x71) == 0x26
    c.r.outb(0x70, 0x80 | 0x40)
    c.r.outb(0x71, 0x5A)
    assert c.rtc.cmos[0x40] == 0x5A
    c.r.outb(0x70, 0x40)
    assert not c.rtc.nmi_disabled and c.r.inb(0x71) == 0x5A
    assert c.r.inb(0x70) == 0xFF


def test_time_in_bcd_24h(c):
    assert c.clock() == (0x09, 0x05, 0x13, 5, 0x29, 0x02, 0x24, 0x20)


def test_time_in_binary_24h(c):
    c.write(REG_B, 0x06)
    assert c.clock() == (9, 5, 13, 5, 29, 2, 24, 20)


def test_time_in_12h_bcd_and_binary(c):
    c.write(REG_B, 0x00)
    assert c.read(HOUR) == 0x81  # 1 PM
    c.write(REG_B, 0x04)
    assert c.read(HOUR) == 0x81
    midnight = Cmos(calendar.timegm((2024, 3, 1, 0, 30, 0, 0, 0, 0)))
    midnight.write(REG_B, 0x00)
    assert midnight.read(HOUR) == 0x12  # 12 AM
    noon = Cmos(calendar.timegm((2024, 3, 1, 12, 0, 0, 0, 0, 0)))
    noon.write(REG_B, 0x04)
    assert noon.read(HOUR) == 0x80 | 12  # 12 PM
    noon.write(REG_B, 0x06)
    assert noon.read(HOUR) == 12


def test_time_follows_the_virtual_clock(c):
    c.advance(61 * NS)
    assert c.clock()[:3] == (0x10, 0x06, 0x13)
    c.advance(11 * 3600 * NS)  # past midnight into 1 March
    assert c.clock() == (0x10, 0x06, 0x00, 6, 0x01, 0x03, 0x24, 0x20)


def test_set_bit_freezes_and_sets_the_time(c):
    c.write(REG_B, 0x82)  # SET, 24 h, BCD
    c.advance(5 * NS)
    assert c.read(SEC) == 0x09  # frozen
    assert not c.read(REG_A) & 0x80  # no updates while frozen
    for index, value in ((SEC, 0x59), (MIN, 0x59), (HOUR, 0x23), (DOM, 0x31), (MONTH, 0x12),
                         (YEAR, 0x99), (CENTURY, 0x19)):
        c.write(index, value)
    c.write(REG_B, 0x02)
    assert c.clock()[:3] == (0x59, 0x59, 0x23)
    c.advance(NS)
    assert c.clock() == (0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20)  # Saturday 1 January 2000


def test_set_time_in_12h_binary(c):
    c.write(REG_B, 0x84)  # SET, 12 h, binary
    c.write(HOUR, 0x80 | 11)  # 11 PM
    c.write(MIN, 0)
    c.write(SEC, 0)
    c.write(REG_B, 0x06)
    assert (c.read(HOUR), c.read(MIN), c.read(SEC)) == (23, 0, 0)


def test_writing_a_time_register_while_running(c):
    c.write(MIN, 0x45)
    assert c.clock()[:3] == (0x09, 0x45, 0x13)


def test_divider_reset_stops_the_clock(c):
    c.write(REG_A, 0x66)  # divider chain held in reset
    c.advance(3 * NS)
    assert c.read(SEC) == 0x09
    c.write(REG_A, 0x26)
    c.advance(NS // 2 - 1)
    assert c.read(SEC) == 0x09
    c.advance(1)  # half a second after leaving reset
    assert c.read(SEC) == 0x10
    c.advance(NS)
    assert c.read(SEC) == 0x11


def test_update_in_progress_just_before_each_second(c):
    assert not c.read(REG_A) & 0x80
    c.advance(NS - 200_000)
    assert c.read(REG_A) == 0xA6
    assert c.read(SEC) == 0x09  # the update has not happened yet
    c.advance(200_000)
    assert c.read(REG_A) == 0x26 and c.read(SEC) == 0x10


def test_update_interrupt(c):
    c.write(REG_B, 0x12)  # UIE
    c.advance(NS // 2)
    assert c.r.levels[8] == 0
    c.advance(NS // 2)
    assert c.r.levels[8] == 1
    assert c.read(REG_C) == 0x90  # IRQF | UF
    assert c.r.levels[8] == 0
    assert c.read(REG_C) == 0
    c.advance(NS)
    assert c.r.levels[8] == 1


def test_update_flag_without_interrupt(c):
    assert c.read(REG_C) == 0
    c.advance(NS)
    assert c.read(REG_C) == 0x10  # UF, no IRQF
    assert c.read(REG_C) == 0
    assert c.r.levels[8] == 0


def test_alarm_interrupt(c):
    c.write(SEC_ALARM, 0x11)
    c.write(MIN_ALARM, 0x05)
    c.write(HOUR_ALARM, 0xFF)  # any hour
    c.write(REG_B, 0x22)  # AIE
    c.advance(NS)
    assert c.r.levels[8] == 0
    assert c.read(REG_C) == 0x10
    c.advance(NS)
    assert c.r.levels[8] == 1
    assert c.read(REG_C) == 0xB0  # IRQF | AF | UF


def test_periodic_interrupt(c):
    c.write(REG_A, 0x2F)  # 2 Hz
    c.write(REG_B, 0x42)  # PIE
    c.advance(NS // 2 - 1)
    assert c.r.levels[8] == 0
    c.advance(1)
    assert c.r.levels[8] == 1
    assert c.read(REG_C) == 0xC0
    c.write(REG_A, 0x26)  # 1024 Hz
    c.advance(NS // 1024 + 1)
    assert c.read(REG_C) & 0xC0 == 0xC0
    c.write(REG_B, 0x02)
    c.advance(NS // 100)
    assert c.read(REG_C) & 0x40 == 0


def test_memory_sizes_128m():
    c = Cmos()
    c.rtc.set_ram_size(128 * MiB)
    assert [c.read(i) for i in (0x15, 0x16)] == [0x80, 0x02]  # 640 KiB
    assert [c.read(i) for i in (0x17, 0x18, 0x30, 0x31)] == [0xFF, 0xFF] * 2  # 127 MiB: capped at 65535 KiB
    assert [c.read(i) for i in (0x34, 0x35)] == [0x00, 0x07]  # 112 MiB in 64 KiB units
    assert [c.read(i) for i in (0x5B, 0x5C, 0x5D)] == [0, 0, 0]


def test_memory_sizes_3g():
    c = Cmos()
    c.rtc.set_ram_size(3 * GiB)
    assert [c.read(i) for i in (0x17, 0x18, 0x30, 0x31)] == [0xFF, 0xFF] * 2  # capped
    assert [c.read(i) for i in (0x34, 0x35)] == [0x00, 0xBF]  # (3 GiB - 16 MiB) / 64 KiB
    assert [c.read(i) for i in (0x5B, 0x5C, 0x5D)] == [0, 0, 0]


def test_memory_sizes_5g():
    c = Cmos()
    c.rtc.set_ram_size(3 * GiB, 2 * GiB)  # the pc board keeps 3 GiB below the PCI hole
    assert [c.read(i) for i in (0x15, 0x16)] == [0x80, 0x02]
    assert [c.read(i) for i in (0x34, 0x35)] == [0x00, 0xBF]
    assert [c.read(i) for i in (0x5B, 0x5C, 0x5D)] == [0x00, 0x80, 0x00]  # 2 GiB / 64 KiB
    c.rtc.set_ram_size(3 * GiB, 512 * GiB)
    assert [c.read(i) for i in (0x5B, 0x5C, 0x5D)] == [0x00, 0x00, 0x80]


def test_memory_sizes_32m():
    c = Cmos()
    c.rtc.set_ram_size(32 * MiB)
    assert [c.read(i) for i in (0x17, 0x18, 0x30, 0x31)] == [0x00, 0x7C] * 2  # 31 MiB in KiB
    assert [c.read(i) for i in (0x34, 0x35)] == [0x00, 0x01]  # 16 MiB in 64 KiB units


def test_small_memory():
    c = Cmos()
    c.rtc.set_ram_size(512 * 1024)
    assert [c.read(i) for i in (0x15, 0x16, 0x17, 0x18, 0x34, 0x35)] == [0x00, 0x02, 0, 0, 0, 0]


def test_pc_cmos_init(c):
    mc146818.pc_cmos_init(c.rtc, 128 * MiB, smp_cpus=2)
    assert c.read(0x14) == 0x06  # FPU, PS/2 mouse
    assert c.read(0x5F) == 1
    assert c.read(0x10) == 0
    mc146818.pc_cmos_init(c.rtc, 128 * MiB, floppies=2)
    assert c.read(0x14) == 0x47


def test_reset_keeps_time_and_cmos(c):
    c.write(0x40, 0x12)
    c.write(REG_B, 0x72)
    c.rtc.reset()
    assert c.read(REG_B) == 0x02
    assert c.read(0x40) == 0x12
    assert c.read(SEC) == 0x09


def test_vmstate(c):
    c.write(0x41, 0x99)
    c.write(REG_B, 0x12)
    c.advance(3 * NS + 5)
    state = c.rtc.vmstate()
    other = Cmos(base=0)
    other.r.clock.t = 12345
    other.rtc.load_vmstate(state)
    assert other.clock()[:3] == (0x12, 0x05, 0x13)
    assert other.read(0x41) == 0x99
    assert other.r.levels[8] == 1
