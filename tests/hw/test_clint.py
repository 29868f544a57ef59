"""SiFive CLINT / ACLINT MSWI + MTIMER register behaviour (pyqemu.hw.intc.riscv_aclint)."""

from __future__ import annotations

import pytest

from pyqemu.core.clock import VirtualClock
from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.core.irq import allocate_irqs
from pyqemu.hw.intc.riscv_aclint import Clint

MTIMECMP = 0x4000
MTIME = 0xBFF8


class FakeClock(VirtualClock):
    """Virtual time that only moves when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0

    def now(self) -> int:
        return self.t


class Sink:
    def __init__(self, n: int) -> None:
        self.levels = [0] * n
        self.lines = allocate_irqs(self._set, n)

    def _set(self, n: int, level: int) -> None:
        self.levels[n] = level


class Board:
    def __init__(self, harts: int = 2) -> None:
        self.clock = FakeClock()
        self.msip = Sink(harts)
        self.mtip = Sink(harts)
        self.clint = Clint(self.clock, harts, self.msip.lines, self.mtip.lines)
        root = MemoryRegion.container_of("system", 1 << 32)
        root.add_subregion(0x2000000, self.clint.mr)
        self.bus = AddressSpace("memory", root)

    def advance(self, ns: int) -> None:
        self.clock.t += ns
        self.clock.run_timers()


@pytest.fixture
def b() -> Board:
    return Board()


def test_regions(b):
    names = {(sub.addr, sub.name, sub.size) for sub in b.clint.mr.subregions}
    assert names == {(0, "riscv.aclint.swi", 0x4000), (0x4000, "riscv.aclint.mtimer", 0xC000)}
    assert b.clint.mr.size == 0x10000


def test_reset_values(b):
    # mtime starts at 0; mtimecmp resets to 0 as in QEMU, so MTIP is asserted until firmware sets it
    assert b.bus.read(0x2000000 + MTIME, 8) == 0
    assert b.bus.read(0x2000000 + MTIMECMP, 8) == 0
    assert b.mtip.levels == [1, 1]
    assert b.msip.levels == [0, 0]


def test_mtime_counts_at_10mhz(b):
    b.clock.t = 1_000_000_000
    assert b.clint.mtime() == 10_000_000
    assert b.bus.read(0x2000000 + MTIME, 8) == 10_000_000
    b.clock.t = 3 * 1_000_000_000 * 1000  # 3000 s: past 2**32 ticks
    value = 30_000_000_000
    assert b.bus.read(0x2000000 + MTIME, 4) == value & 0xFFFFFFFF
    assert b.bus.read(0x2000000 + MTIME + 4, 4) == value >> 32


def test_mtimecmp_in_the_past_raises_mtip(b):
    b.clock.t = 1000
    b.bus.write(0x2000000 + MTIMECMP, 5, 8)
    assert b.mtip.levels[0] == 1
    b.bus.write(0x2000000 + MTIMECMP, 1 << 40, 8)
    assert b.mtip.levels[0] == 0


def test_future_deadline_fires_through_the_timer(b):
    b.bus.write(0x2000000 + MTIMECMP, 100, 8)  # 100 ticks = 10 us
    assert b.mtip.levels[0] == 0
    assert b.clock.deadline() == 10_000
    b.advance(9_999)
    assert b.mtip.levels[0] == 0
    b.advance(1)
    assert b.mtip.levels[0] == 1
    assert b.clock.deadline() is None


def test_rewriting_mtimecmp_moves_the_deadline(b):
    b.bus.write(0x2000000 + MTIMECMP, 100, 8)
    b.bus.write(0x2000000 + MTIMECMP, 300, 8)
    b.advance(20_000)
    assert b.mtip.levels[0] == 0
    b.advance(10_000)
    assert b.mtip.levels[0] == 1


def test_all_ones_never_fires(b):
    b.bus.write(0x2000000 + MTIMECMP, 0xFFFFFFFF, 4)
    b.bus.write(0x2000000 + MTIMECMP + 4, 0xFFFFFFFF, 4)
    assert b.clint.mtimecmp[0] == (1 << 64) - 1
    assert b.mtip.levels[0] == 0
    assert b.clock.deadline() is None


def test_mtimecmp_halves(b):
    base = 0x2000000 + MTIMECMP + 8  # hart 1
    b.bus.write(base + 4, 0x12345678, 4)
    b.bus.write(base, 0x9ABCDEF0, 4)
    assert b.bus.read(base, 8) == 0x123456789ABCDEF0
    assert b.bus.read(base, 4) == 0x9ABCDEF0
    assert b.bus.read(base + 4, 4) == 0x12345678
    assert b.clint.mtimecmp == [0, 0x123456789ABCDEF0]
    assert b.mtip.levels == [1, 0]


def test_writing_mtime_reevaluates_every_hart(b):
    b.bus.write(0x2000000 + MTIMECMP, 1000, 8)
    b.bus.write(0x2000000 + MTIMECMP + 8, 5000, 8)
    assert b.mtip.levels == [0, 0]
    b.bus.write(0x2000000 + MTIME, 2000, 8)
    assert b.mtip.levels == [1, 0]
    assert b.clint.mtime() == 2000
    b.advance(100)  # 1 tick
    assert b.clint.mtime() == 2001
    b.bus.write(0x2000000 + MTIME + 4, 1, 4)  # high word only
    assert b.clint.mtime() == (1 << 32) | 2001
    assert b.mtip.levels == [1, 1]
    b.bus.write(0x2000000 + MTIME + 4, 0, 4)
    b.bus.write(0x2000000 + MTIME, 10, 4)
    assert b.clint.mtime() == 10
    assert b.mtip.levels == [0, 0]
    b.advance(500_000)  # 5000 ticks later: both deadlines passed
    assert b.mtip.levels == [1, 1]


def test_msip(b):
    b.bus.write(0x2000004, 1, 4)
    assert b.msip.levels == [0, 1]
    assert b.bus.read(0x2000004, 4) == 1
    assert b.bus.read(0x2000000, 4) == 0
    b.bus.write(0x2000004, 0xFFFFFFFE, 4)  # only bit 0 counts
    assert b.msip.levels == [0, 0]
    b.bus.write(0x2000008, 1, 4)  # no hart 2: ignored
    assert b.bus.read(0x2000008, 4) == 0


def test_reset(b):
    b.bus.write(0x2000000, 1, 4)
    b.bus.write(0x2000000 + MTIMECMP, 1 << 50, 8)
    b.advance(1_000_000)
    b.clint.reset()
    assert b.msip.levels == [0, 0]
    assert b.clint.mtime() == 0
    assert b.clint.mtimecmp == [0, 0]
    assert b.mtip.levels == [1, 1]


def test_vmstate_keeps_mtime_running_from_its_value(b):
    b.bus.write(0x2000000, 1, 4)
    b.bus.write(0x2000000 + MTIMECMP, 7_000, 8)
    b.advance(500_000)  # mtime 5000
    state = b.clint.vmstate()
    assert state["mtime"] == 5000
    other = Board()
    other.clock.t = 123_456_700  # a different virtual time on the destination
    other.clint.load_vmstate(state)
    assert other.clint.mtime() == 5000
    assert other.msip.levels == [1, 0]
    assert other.mtip.levels == [0, 1]
    other.advance(200_000)
    assert other.mtip.levels == [1, 1]


def test_deadline_rounds_up_to_the_first_nanosecond_of_the_tick():
    clock, mtip = FakeClock(), Sink(1)
    clint = Clint(clock, 1, Sink(1).lines, mtip.lines, timebase_freq=3_000_000)
    clint.mr.subregions[1].ops.write(0, 1, 8)  # mtimecmp = 1 tick = 333.3 ns
    assert clock.deadline() == 334
    clock.t = 333
    assert clint.mtime() == 0
    clock.t = 334
    clock.run_timers()
    assert clint.mtime() == 1 and mtip.levels == [1]
