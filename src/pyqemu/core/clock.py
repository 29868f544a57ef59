"""The virtual clock and its timers (QEMU util/qemu-timer.c, QEMU_CLOCK_VIRTUAL).

Virtual time runs with host time while the VM runs and stands still while it is stopped.  Timers are
callbacks with a deadline on that clock; the main loop runs the expired ones and sleeps until the next.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable

NANOSECONDS_PER_SECOND = 1_000_000_000


class VirtualClock:
    def __init__(self) -> None:
        self._offset = -time.monotonic_ns()  # virtual = host + offset while running
        self._stopped_at: int | None = None
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()

    # -- time -------------------------------------------------------------------------------------
    def now(self) -> int:
        """Virtual nanoseconds since the machine was created."""
        if self._stopped_at is not None:
            return self._stopped_at
        return time.monotonic_ns() + self._offset

    def stop(self) -> None:
        if self._stopped_at is None:
            self._stopped_at = self.now()

    def start(self) -> None:
        if self._stopped_at is not None:
            self._offset = self._stopped_at - time.monotonic_ns()
            self._stopped_at = None

    @property
    def running(self) -> bool:
        return self._stopped_at is None

    # -- timers -----------------------------------------------------------------------------------
    def _arm(self, timer: Timer) -> None:
        heapq.heappush(self._heap, (timer.expire, next(self._seq), timer))

    def deadline(self) -> int | None:
        """Virtual time of the next armed timer, or None."""
        heap = self._heap
        while heap and heap[0][2].expire != heap[0][0]:
            heapq.heappop(heap)  # re-armed or deleted since it was queued
        return heap[0][0] if heap else None

    def run_timers(self) -> bool:
        """Run every expired timer; returns True if any ran."""
        ran = False
        heap = self._heap
        now = self.now()
        while heap and heap[0][0] <= now:
            expire, _, timer = heapq.heappop(heap)
            if timer.expire != expire:
                continue
            timer.expire = -1
            timer.callback()
            ran = True
        return ran


class Timer:
    """A one-shot callback at a virtual-clock deadline (``mod`` re-arms, ``delete`` disarms)."""

    __slots__ = ("clock", "callback", "expire")

    def __init__(self, clock: VirtualClock, callback: Callable[[], None]):
        self.clock = clock
        self.callback = callback
        self.expire = -1

    def mod(self, expire_ns: int) -> None:
        self.expire = expire_ns
        self.clock._arm(self)

    def delete(self) -> None:
        self.expire = -1

    @property
    def pending(self) -> bool:
        return self.expire >= 0
