"""SiFive CLINT as the ``virt`` board maps it at 0x2000000: an ACLINT MSWI plus an ACLINT MTIMER.

Layout from the RISC-V ACLINT specification (v1.0-rc4), section 1.1 "Backward Compatibility With
SiFive CLINT" (table 2), section 2 "Machine-level Timer Device (MTIMER)" and section 3 "Machine-level
Software Interrupt Device (MSWI)":

* 0x0000 + 4*hart: MSIP, bit 0 drives that hart's machine software interrupt (region
  "riscv.aclint.swi", 0x4000 bytes);
* 0x4000 + 8*hart: MTIMECMP, 0xBFF8: MTIME (region "riscv.aclint.mtimer", 0xC000 bytes at 0x4000).

64-bit registers take 8-byte accesses or separate 4-byte accesses to their low and high words.  MTIME
counts at ``timebase_freq`` (10 MHz on virt) from the virtual clock, plus an offset that writes to
MTIME set.  A hart's MTIP is asserted while MTIME >= its MTIMECMP (unsigned); a :class:`Timer` asserts
it when virtual time gets there.

Reset: MTIME is cleared, as section 2 requires; the spec leaves MTIMECMP unknown, and we do what QEMU
does: MTIMECMP resets to 0 and the comparison is re-evaluated, so MTIP is *asserted* after reset until
firmware programs MTIMECMP (harmless: mie.MTIE is clear at reset, and OpenSBI writes all ones first).
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.core.clock import NANOSECONDS_PER_SECOND, Timer, VirtualClock
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ

CLINT_SIZE = 0x10000
SWI_SIZE = 0x4000
MTIMER_BASE = 0x4000
MTIME_OFFSET = 0xBFF8 - MTIMER_BASE  # within the MTIMER region
MASK64 = (1 << 64) - 1
_LAST_NS = (1 << 63) - 1  # deadlines beyond the clock's range are never reached


class _Ops:
    """Read/write callbacks of one MMIO region."""

    def __init__(self, read: Callable[[int, int], int], write: Callable[[int, int, int], None]):
        self.read = read
        self.write = write


def _lane_read(reg: int, offset: int, size: int) -> int:
    """The ``size`` bytes at ``offset`` of a 64-bit register (4-byte halves or the whole)."""
    return (reg >> (8 * (offset & 7))) & ((1 << (8 * size)) - 1)


def _lane_write(reg: int, offset: int, value: int, size: int) -> int:
    shift = 8 * (offset & 7)
    mask = (((1 << (8 * size)) - 1) << shift) & MASK64
    return (reg & ~mask) | ((value << shift) & mask)


class Clint:
    """MSWI + MTIMER for ``num_harts`` harts; ``mr`` is a container with the two regions."""

    def __init__(self, clock: VirtualClock, num_harts: int, msip_irqs: list[IRQ], mtip_irqs: list[IRQ],
                 timebase_freq: int = 10_000_000):
        self.clock = clock
        self.num_harts = num_harts
        self.msip_irqs = msip_irqs
        self.mtip_irqs = mtip_irqs
        self.timebase_freq = timebase_freq
        self.msip = [0] * num_harts
        self.mtimecmp = [0] * num_harts
        self.time_delta = 0  # MTIME = ticks of the virtual clock + time_delta (mod 2**64)
        self.timers = [Timer(clock, lambda h=h: self._update_timer(h)) for h in range(num_harts)]
        self.mr = MemoryRegion.container_of("riscv.aclint", CLINT_SIZE)
        self.mr.add_subregion(0, MemoryRegion.io("riscv.aclint.swi", SWI_SIZE, _Ops(self._swi_read,
                                                                                       self._swi_write)))
        self.mr.add_subregion(MTIMER_BASE, MemoryRegion.io("riscv.aclint.mtimer", CLINT_SIZE - MTIMER_BASE,
                                                           _Ops(self._mtimer_read, self._mtimer_write)))
        self.reset()

    def reset(self) -> None:
        for hart in range(self.num_harts):
            self.msip[hart] = 0
            self.msip_irqs[hart].lower()
            self.mtimecmp[hart] = 0
        self.set_mtime(0)

    # -- time ----------------------------------------------------------------------------------------
    def _ticks(self) -> int:
        return self.clock.now() * self.timebase_freq // NANOSECONDS_PER_SECOND

    def mtime(self) -> int:
        """The current MTIME value (what the ``time`` CSR reads)."""
        return (self._ticks() + self.time_delta) & MASK64

    def set_mtime(self, value: int) -> None:
        self.time_delta = (value - self._ticks()) & MASK64
        for hart in range(self.num_harts):
            self._update_timer(hart)

    def deadline_ns(self, cmp: int) -> int | None:
        """The virtual time at which MTIME reaches ``cmp`` (0 if it already has; None: never)."""
        ticks = self._ticks()
        now = (ticks + self.time_delta) & MASK64
        if now >= cmp:
            return 0
        due_ticks = ticks + (cmp - now)
        expire = -(-due_ticks * NANOSECONDS_PER_SECOND // self.timebase_freq)  # first ns with those ticks
        return expire if expire <= _LAST_NS else None

    def _update_timer(self, hart: int) -> None:
        """Drive MTIP from MTIME >= MTIMECMP, and arm the timer for the moment that becomes true."""
        expire = self.deadline_ns(self.mtimecmp[hart])
        timer = self.timers[hart]
        if expire == 0:
            timer.delete()
            self.mtip_irqs[hart].raise_()
            return
        self.mtip_irqs[hart].lower()
        if expire is not None:
            timer.mod(expire)
        else:
            timer.delete()

    # -- MSWI ------------------------------------------------------------------------------------------
    def _swi_read(self, offset: int, size: int) -> int:
        hart = offset >> 2
        return self.msip[hart] if hart < self.num_harts and not offset & 3 else 0

    def _swi_write(self, offset: int, value: int, size: int) -> None:
        hart = offset >> 2
        if hart < self.num_harts and not offset & 3:
            self.msip[hart] = value & 1
            self.msip_irqs[hart].set(value & 1)

    # -- MTIMER ----------------------------------------------------------------------------------------
    def _mtimer_read(self, offset: int, size: int) -> int:
        if offset >> 3 == MTIME_OFFSET >> 3:
            return _lane_read(self.mtime(), offset, size)
        hart = offset >> 3
        return _lane_read(self.mtimecmp[hart], offset, size) if hart < self.num_harts else 0

    def _mtimer_write(self, offset: int, value: int, size: int) -> None:
        if offset >> 3 == MTIME_OFFSET >> 3:
            self.set_mtime(_lane_write(self.mtime(), offset, value, size))
            return
        hart = offset >> 3
        if hart < self.num_harts:
            self.mtimecmp[hart] = _lane_write(self.mtimecmp[hart], offset, value, size)
            self._update_timer(hart)

    # -- migration -----------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        """MTIME is saved as its value, so it carries on from there whatever the clock reads on load."""
        return {"msip": list(self.msip), "mtimecmp": list(self.mtimecmp), "mtime": self.mtime()}

    def load_vmstate(self, state: dict) -> None:
        self.msip[:] = state["msip"]
        self.mtimecmp[:] = state["mtimecmp"]
        for hart, level in enumerate(self.msip):
            self.msip_irqs[hart].set(level)
        self.set_mtime(state["mtime"])
