"""I/O throttling with QEMU's leaky buckets (util/throttle.c semantics, QEMU 2.1 option set).

Six buckets (bytes and operations; total, read, write).  Each has an average rate ``avg``
(units per second) and a burst size ``max`` (defaults to avg/10, i.e. 100 ms worth).  Completed
requests pour their cost into the buckets, the buckets leak at ``avg``; a new request must
wait while any relevant bucket holds more than ``max``, for (level - max) / avg seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyqemu.block.errors import BlockError

BUCKETS = ("bps-total", "bps-read", "bps-write", "iops-total", "iops-read", "iops-write")
NS = 1_000_000_000


@dataclass
class LeakyBucket:
    """One bucket: average rate, burst size and current level (in bytes or operations)."""

    avg: float = 0.0
    max: float = 0.0
    level: float = 0.0


@dataclass
class ThrottleConfig:
    """Limits as given by ``throttling.*`` options; ``iops_size`` splits big requests."""

    limits: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0.0))
    bursts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0.0))
    iops_size: int = 0

    def enabled(self) -> bool:
        return any(self.limits.values())

    def validate(self) -> None:
        """Reject configurations QEMU rejects, with its messages."""
        for kind in ("bps", "iops"):
            total = self.limits[f"{kind}-total"] or self.bursts[f"{kind}-total"]
            split = any(self.limits[f"{kind}-{d}"] or self.bursts[f"{kind}-{d}"] for d in ("read", "write"))
            if total and split:
                raise BlockError("bps/iops/max total values and read/write values cannot be used at the "
                                 "same time")
        if any(v < 0 for v in (*self.limits.values(), *self.bursts.values(), self.iops_size)):
            raise BlockError("bps/iops/maxs values must be 0 or greater")
        for name, burst in self.bursts.items():
            if burst and not self.limits[name]:
                raise BlockError("bps_max/iops_max require corresponding bps/iops values")


class ThrottleState:
    """Leaky-bucket state for one backend (thread-safe; ``clock`` returns nanoseconds)."""

    def __init__(self, config: ThrottleConfig, clock: Callable[[], int] = time.monotonic_ns) -> None:
        config.validate()
        self.config = config
        self.clock = clock
        self.buckets = {
            name: LeakyBucket(config.limits[name], config.bursts[name] or config.limits[name] / 10)
            for name in BUCKETS
        }
        self.previous_leak = clock()
        self._lock = threading.Lock()

    def _leak(self, now: int) -> None:
        delta = max(0, now - self.previous_leak)
        self.previous_leak = now
        for bucket in self.buckets.values():
            if bucket.avg:
                bucket.level = max(0.0, bucket.level - bucket.avg * delta / NS)

    def _relevant(self, is_write: bool) -> tuple[str, ...]:
        direction = "write" if is_write else "read"
        return ("bps-total", f"bps-{direction}", "iops-total", f"iops-{direction}")

    def compute_wait(self, is_write: bool) -> int:
        """Nanoseconds a request must wait before it may be dispatched (0: go now)."""
        with self._lock:
            self._leak(self.clock())
            wait = 0
            for name in self._relevant(is_write):
                bucket = self.buckets[name]
                if not bucket.avg:
                    continue
                extra = bucket.level - bucket.max
                if extra > 0:
                    wait = max(wait, int(extra * NS / bucket.avg))
            return wait

    def account(self, is_write: bool, nbytes: int) -> None:
        """Pour a dispatched request's cost into the buckets."""
        size = self.config.iops_size
        units = nbytes / size if size and nbytes > size else 1.0
        direction = "write" if is_write else "read"
        with self._lock:
            for name in ("bps-total", f"bps-{direction}"):
                self.buckets[name].level += nbytes
            for name in ("iops-total", f"iops-{direction}"):
                self.buckets[name].level += units

    def acquire(self, is_write: bool, nbytes: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until a request may go, then account it."""
        while True:
            wait = self.compute_wait(is_write)
            if wait <= 0:
                break
            sleep(wait / NS)
        self.account(is_write, nbytes)
