"""Per-device I/O accounting: the counters QMP ``query-blockstats`` reports (QEMU block/accounting.c)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

READ, WRITE, FLUSH, UNMAP = "rd", "wr", "flush", "unmap"
KINDS = (READ, WRITE, FLUSH, UNMAP)


@dataclass
class AcctCookie:
    """An I/O request being accounted: its kind, size and start time."""

    kind: str
    nbytes: int
    start_ns: int


@dataclass
class BlockAcctStats:
    """Cumulative statistics of one block backend (thread-safe)."""

    clock: Callable[[], int] = time.monotonic_ns
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    ops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    total_time_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    wr_highest_offset: int = 0
    last_access_ns: int | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def start(self, kind: str, nbytes: int = 0) -> AcctCookie:
        """Begin accounting a request."""
        return AcctCookie(kind, nbytes, self.clock())

    def done(self, cookie: AcctCookie, offset: int | None = None) -> None:
        """A request completed successfully."""
        now = self.clock()
        with self._lock:
            self.bytes[cookie.kind] += cookie.nbytes
            self.ops[cookie.kind] += 1
            self.total_time_ns[cookie.kind] += now - cookie.start_ns
            if cookie.kind == WRITE and offset is not None:
                self.wr_highest_offset = max(self.wr_highest_offset, offset + cookie.nbytes)
            self.last_access_ns = now

    def failed_op(self, cookie: AcctCookie) -> None:
        """A request completed with an error."""
        with self._lock:
            self.failed[cookie.kind] += 1
            self.last_access_ns = self.clock()

    def invalid_op(self, kind: str) -> None:
        """A request was rejected before reaching the driver (e.g. out of range)."""
        with self._lock:
            self.invalid[kind] += 1
            self.last_access_ns = self.clock()

    def to_qmp(self) -> dict[str, Any]:
        """The ``stats`` member of a QMP BlockStats entry."""
        with self._lock:
            out: dict[str, Any] = {}
            for kind in (READ, WRITE, UNMAP):
                out[f"{kind}_bytes"] = self.bytes[kind]
            for kind in KINDS:
                out[f"{kind}_operations"] = self.ops[kind]
            for kind in KINDS:
                out[f"{kind}_total_time_ns"] = self.total_time_ns[kind]
            out["wr_highest_offset"] = self.wr_highest_offset
            out["rd_merged"] = out["wr_merged"] = out["unmap_merged"] = 0
            if self.last_access_ns is not None:
                out["idle_time_ns"] = self.clock() - self.last_access_ns
            for kind in KINDS:
                out[f"failed_{kind}_operations"] = self.failed[kind]
                out[f"invalid_{kind}_operations"] = self.invalid[kind]
            out["account_invalid"] = True
            out["account_failed"] = True
            out["timed_stats"] = []
            return out
