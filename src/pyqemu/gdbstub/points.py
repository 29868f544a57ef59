"""The debugger's breakpoints and watchpoints (GDB's ``Z``/``z`` packets; QEMU's cpu_breakpoint_insert,
cpu_watchpoint_insert and cpu_check_watchpoint).

:class:`DebugPoints` keeps a stub's breakpoints (``Z0``, and ``Z1``, hardware breakpoints being software
ones here) and watchpoints and has the stub apply them whenever they change: breakpoints go to the
translator (translations are flushed), the pages of :meth:`Watchpoints.pages` are kept off the memory
fast paths, so that each access to them reaches :meth:`Watchpoints.match`.  A watchpoint hit stops the
vCPU *after* the access, as QEMU does for GDB: the stub runs the accessing instruction once more as a
single step with the check suppressed, then reports ``watch``/``rwatch``/``awatch`` with the
watchpoint's address.
"""

from __future__ import annotations

from collections.abc import Callable

BREAKPOINT_TYPES = (0, 1)
WATCH_WRITE, WATCH_READ, WATCH_ACCESS = 2, 3, 4
#: the stop-reply keyword of each watchpoint type
KINDS = {WATCH_WRITE: "watch", WATCH_READ: "rwatch", WATCH_ACCESS: "awatch"}
PAGE_BITS = 12


class Watchpoints:
    def __init__(self) -> None:
        self.items: list[tuple[int, int, int]] = []  # (type, address, length)

    def __bool__(self) -> bool:
        return bool(self.items)

    def insert(self, type_: int, addr: int, length: int) -> None:
        self.items.append((type_, addr, max(length, 1)))

    def remove(self, type_: int, addr: int, length: int) -> bool:
        try:
            self.items.remove((type_, addr, max(length, 1)))
        except ValueError:
            return False
        return True

    def clear(self) -> None:
        self.items.clear()

    def pages(self) -> frozenset[int]:
        """The guest pages any watchpoint touches."""
        return frozenset(p for _, addr, length in self.items
                         for p in range(addr >> PAGE_BITS, ((addr + length - 1) >> PAGE_BITS) + 1))

    def match(self, addr: int, size: int, store: bool) -> tuple[str, int] | None:
        """The watchpoint an access of ``size`` bytes at ``addr`` triggers, as (stop-reply keyword,
        watchpoint address), or None."""
        for type_, start, length in self.items:
            if addr < start + length and start < addr + size:
                if type_ == WATCH_ACCESS or (type_ == WATCH_WRITE) == store:
                    return KINDS[type_], start
        return None


class DebugPoints:
    """A stub's breakpoints and watchpoints; ``apply_breakpoints(addresses)`` and
    ``apply_watchpoints(pages)`` put them in force when they change."""

    def __init__(self, apply_breakpoints: Callable[[frozenset[int]], None],
                 apply_watchpoints: Callable[[frozenset[int]], None]):
        self.breakpoints: set[int] = set()
        self.watchpoints = Watchpoints()
        self._apply_breakpoints = apply_breakpoints
        self._apply_watchpoints = apply_watchpoints

    def update(self, type_: int, addr: int, length: int, insert: bool) -> bool:
        """Insert or remove a breakpoint (type 0, 1) or watchpoint (2 write, 3 read, 4 access); False
        when there was no such one to remove."""
        if type_ in BREAKPOINT_TYPES:
            if insert:
                self.breakpoints.add(addr)
            elif addr in self.breakpoints:
                self.breakpoints.remove(addr)
            else:
                return False
            self._apply_breakpoints(frozenset(self.breakpoints))
            return True
        if insert:
            self.watchpoints.insert(type_, addr, length)
        elif not self.watchpoints.remove(type_, addr, length):
            return False
        self._apply_watchpoints(self.watchpoints.pages())
        return True

    def clear(self) -> None:
        self.breakpoints.clear()
        self.watchpoints.clear()
        self._apply_breakpoints(frozenset())
        self._apply_watchpoints(frozenset())
