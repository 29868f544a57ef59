"""SiFive PLIC register behaviour (pyqemu.hw.intc.sifive_plic)."""

from __future__ import annotations

import pytest

from pyqemu.hw.core.irq import allocate_irqs
from pyqemu.hw.intc.sifive_plic import Plic

PENDING = 0x1000


def enable(ctx: int, word: int = 0) -> int:
    return 0x2000 + 0x80 * ctx + 4 * word


def threshold(ctx: int) -> int:
    return 0x200000 + 0x1000 * ctx


def claim(ctx: int) -> int:
    return 0x200004 + 0x1000 * ctx


class Sink:
    def __init__(self, n: int) -> None:
        self.levels = [0] * n
        self.lines = allocate_irqs(self._set, n)

    def _set(self, n: int, level: int) -> None:
        self.levels[n] = level


@pytest.fixture
def plic() -> tuple[Plic, Sink]:
    out = Sink(4)  # 2 harts: contexts 0 (hart 0 M), 1 (hart 0 S), 2 (hart 1 M), 3 (hart 1 S)
    return Plic(2, out.lines), out


def test_region_and_inputs(plic):
    p, out = plic
    assert p.mr.name == "riscv.sifive.plic" and p.mr.size == 0x600000
    assert len(p.irqs) == 96
    assert out.levels == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        Plic(2, Sink(3).lines)


def test_priority_threshold_enable(plic):
    p, out = plic
    p.irqs[10].raise_()
    assert p.read(PENDING, 4) == 1 << 10
    p.write(enable(0), 1 << 10, 4)
    assert out.levels[0] == 0  # priority 0 never interrupts
    p.write(4 * 10, 1, 4)
    assert out.levels == [1, 0, 0, 0]
    p.write(threshold(0), 1, 4)
    assert out.levels[0] == 0  # priority must exceed the threshold
    assert p.read(threshold(0), 4) == 1
    p.write(4 * 10, 2, 4)
    assert out.levels[0] == 1
    p.write(enable(0), 0, 4)
    assert out.levels[0] == 0


def test_priority_and_threshold_are_3_bit_warl(plic):
    p, _ = plic
    p.write(4 * 5, 0xFF, 4)
    assert p.read(4 * 5, 4) == 7
    p.write(4 * 5, 9, 4)
    assert p.read(4 * 5, 4) == 1
    p.write(threshold(1), 0x1F, 4)
    assert p.read(threshold(1), 4) == 7
    p.write(0, 5, 4)  # source 0 does not exist
    assert p.read(0, 4) == 0
    p.write(enable(0), 0xFFFFFFFF, 4)
    assert p.read(enable(0), 4) == 0xFFFFFFFE
    p.write(enable(0, 2), 0xFFFFFFFF, 4)
    assert p.read(enable(0, 2), 4) == 0xFFFFFFFF  # sources 64..95


def test_claim_and_complete(plic):
    p, out = plic
    p.write(4 * 7, 1, 4)
    p.write(enable(0), 1 << 7, 4)
    p.irqs[7].raise_()
    assert out.levels[0] == 1
    assert p.read(claim(0), 4) == 7
    assert out.levels[0] == 0  # claimed: no longer pending although the line is still high
    assert p.read(PENDING, 4) == 0
    assert p.read(claim(0), 4) == 0
    p.write(claim(0), 7, 4)  # complete with the line still high: pending again
    assert out.levels[0] == 1
    assert p.read(PENDING, 4) == 1 << 7
    assert p.read(claim(0), 4) == 7
    p.irqs[7].lower()
    p.write(claim(0), 7, 4)
    assert out.levels[0] == 0
    assert p.read(claim(0), 4) == 0


def test_gateway_keeps_a_request_after_the_line_drops(plic):
    """PLIC spec, interrupt gateways: an accepted request stays pending until it is claimed."""
    p, out = plic
    p.write(4 * 3, 1, 4)
    p.write(enable(0), 1 << 3, 4)
    p.irqs[3].raise_()
    p.irqs[3].lower()
    assert out.levels[0] == 1
    assert p.read(claim(0), 4) == 3
    p.write(claim(0), 3, 4)  # completed with the line low: no new request
    assert p.read(claim(0), 4) == 0


def test_highest_priority_first_ties_to_lowest_id(plic):
    p, _ = plic
    for src, prio in ((2, 3), (40, 5), (41, 5), (90, 1)):
        p.write(4 * src, prio, 4)
        p.irqs[src].raise_()
    p.write(enable(1, 0), 1 << 2, 4)
    p.write(enable(1, 1), (1 << 8) | (1 << 9), 4)
    p.write(enable(1, 2), 1 << 26, 4)
    assert p.read(PENDING + 4, 4) == (1 << 8) | (1 << 9)
    assert p.read(PENDING + 8, 4) == 1 << 26
    assert [p.read(claim(1), 4) for _ in range(5)] == [40, 41, 2, 90, 0]


def test_contexts_are_separate(plic):
    p, out = plic
    p.write(4 * 1, 1, 4)
    p.write(4 * 2, 1, 4)
    p.write(enable(1), 1 << 1, 4)  # hart 0 S-mode
    p.write(enable(2), 1 << 2, 4)  # hart 1 M-mode
    p.irqs[1].raise_()
    assert out.levels == [0, 1, 0, 0]
    p.irqs[2].raise_()
    assert out.levels == [0, 1, 1, 0]
    assert p.read(claim(0), 4) == 0  # nothing enabled for hart 0's M-mode
    assert p.read(claim(2), 4) == 2
    assert out.levels == [0, 1, 0, 0]
    p.write(claim(1), 2, 4)  # completion from a context where source 2 is not enabled: ignored
    assert out.levels == [0, 1, 0, 0]
    p.write(claim(2), 2, 4)
    assert out.levels == [0, 1, 1, 0]


def test_claim_by_one_context_hides_the_source_from_the_others(plic):
    p, out = plic
    p.write(4 * 9, 1, 4)
    p.write(enable(0), 1 << 9, 4)
    p.write(enable(3), 1 << 9, 4)
    p.irqs[9].raise_()
    assert out.levels == [1, 0, 0, 1]
    assert p.read(claim(3), 4) == 9
    assert out.levels == [0, 0, 0, 0]
    assert p.read(claim(0), 4) == 0


def test_claim_ignores_the_threshold(plic):
    # RISC-V PLIC spec 1.0.0, chapter 8 (QEMU applies the threshold here)
    p, out = plic
    p.write(4 * 4, 2, 4)
    p.write(enable(0), 1 << 4, 4)
    p.write(threshold(0), 7, 4)
    p.irqs[4].raise_()
    assert out.levels[0] == 0
    assert p.read(claim(0), 4) == 4


def test_pending_is_read_only(plic):
    p, _ = plic
    p.write(PENDING, 0xFFFFFFFF, 4)
    assert p.read(PENDING, 4) == 0


def test_reset_and_vmstate(plic):
    p, out = plic
    p.write(4 * 6, 3, 4)
    p.write(enable(0), 1 << 6, 4)
    p.write(enable(0), (1 << 6) | (1 << 8), 4)
    p.write(threshold(0), 1, 4)
    p.irqs[6].raise_()
    p.irqs[8].raise_()
    assert p.read(claim(0), 4) == 6
    state = p.vmstate()
    out2 = Sink(4)
    q = Plic(2, out2.lines)
    q.load_vmstate(state)
    assert q.read(4 * 6, 4) == 3 and q.read(threshold(0), 4) == 1
    assert q.read(PENDING, 4) == 1 << 8  # 6 is claimed, 8 is pending but has priority 0
    assert out2.levels == [0, 0, 0, 0]
    q.write(claim(0), 6, 4)
    assert out2.levels == [1, 0, 0, 0]
    p.reset()
    assert out.levels == [0, 0, 0, 0]
    assert p.read(4 * 6, 4) == 0 and p.read(enable(0), 4) == 0 and p.read(threshold(0), 4) == 0
    assert p.read(PENDING, 4) == (1 << 6) | (1 << 8)  # the input lines are still high
