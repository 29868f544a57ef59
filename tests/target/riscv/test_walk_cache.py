"""The page-walk cache of RISC-V translation (``mmu.fill``, ``SoftMMU.walks``; Privileged spec 4.3.2
and 4.2.1): a superpage's leaf, or a last-level table, is remembered per 2 MiB of virtual space until
the TLB is flushed (an ``sfence.vma``, a ``satp`` write), as translations may be; A/D updates always
read the PTE afresh.

Sv39 page tables are written into the RAM of a ``virt`` machine and the hart's TLB translates through
them in S-mode.
"""

from __future__ import annotations

import pytest
from hartrun import open_pmp

from pyqemu.accel.tcg.backend_python import GuestFault
from pyqemu.accel.tcg.softmmu import ACCESS_LOAD, ACCESS_STORE
from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine
from pyqemu.target.riscv import csr as C
from pyqemu.target.riscv.hart import PRIV_M, PRIV_S
from pyqemu.target.riscv.mmu import PTE_A, PTE_D, PTE_R, PTE_V, PTE_W

RAM = 0x80000000
ROOT, L1, L0 = RAM + 0x10000, RAM + 0x11000, RAM + 0x12000
MEGA = 0x40000000  # a 2 MiB superpage here (root[1] -> L1[0])
SMALL = 0x40200000  # 4 KiB pages here (root[1] -> L1[1] -> L0)
TARGET_A, TARGET_B = RAM + 0x200000, RAM + 0x400000


def _leaf(paddr: int, flags: int) -> int:
    return (paddr >> 12) << 10 | flags | PTE_V


def _table(paddr: int) -> int:
    return (paddr >> 12) << 10 | PTE_V


@pytest.fixture
def hart():
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend="python"))
    h = machine.cpus[0]
    h.priv = PRIV_M
    open_pmp(h)
    space = machine.space
    space.write(ROOT + 8 * 1, _table(L1), 8)
    space.write(L1 + 8 * 0, _leaf(TARGET_A, PTE_R | PTE_W | PTE_A), 8)  # no D yet
    space.write(L1 + 8 * 1, _table(L0), 8)
    for i in range(4):
        space.write(L0 + 8 * i, _leaf(TARGET_A + 0x1000 * i, PTE_R | PTE_A), 8)
    C.csr_access(h, 0x180, 8 << 60 | ROOT >> 12, 0)  # satp: Sv39
    h.priv = PRIV_S
    h.update_flags()
    return h


def _load(h, vaddr: int) -> int:
    return h.mmu.translate(vaddr, ACCESS_LOAD, h.mmu.idx)


def test_superpage_and_table_are_remembered_until_sfence(hart) -> None:
    space = hart.space
    assert _load(hart, MEGA + 0x3456) == TARGET_A + 0x3456
    assert _load(hart, SMALL + 0x1010) == TARGET_A + 0x1010
    assert len(hart.mmu.walks) == 2
    # page tables changed without an sfence.vma: the cached walks may still be used for other pages
    space.write(L1 + 8 * 0, _leaf(TARGET_B, PTE_R | PTE_W | PTE_A), 8)
    space.write(L1 + 8 * 1, 0, 8)
    assert _load(hart, MEGA + 0x5000) == TARGET_A + 0x5000
    assert _load(hart, SMALL + 0x2000) == TARGET_A + 0x2000
    hart.mmu.flush_page(MEGA)  # sfence.vma of one page empties the walk cache too
    assert _load(hart, MEGA + 0x6000) == TARGET_B + 0x6000
    with pytest.raises(GuestFault):
        _load(hart, SMALL + 0x3000)


def test_dirty_update_reads_the_pte_afresh(hart) -> None:
    space = hart.space
    assert _load(hart, MEGA) == TARGET_A  # cached: A set, D clear
    space.write(L1 + 8 * 0, _leaf(TARGET_B, PTE_R | PTE_W | PTE_A), 8)  # remapped, no sfence yet
    assert hart.mmu.translate(MEGA + 0x8000, ACCESS_STORE, hart.mmu.idx) == TARGET_B + 0x8000
    assert space.read(L1, 8) == _leaf(TARGET_B, PTE_R | PTE_W | PTE_A | PTE_D)  # not the old leaf


def test_satp_write_forgets_the_walks(hart) -> None:
    _load(hart, MEGA)
    hart.priv = PRIV_M
    C.csr_access(hart, 0x180, 0, 0)  # Bare
    assert not hart.mmu.walks
