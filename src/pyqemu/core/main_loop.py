"""The main loop's I/O side (QEMU util/main-loop.c): file descriptors watched with ``selectors``.

The machine's run loop alternates between running vCPUs and calling :meth:`MainLoop.poll`, which runs
the callbacks of readable descriptors and of bottom halves (work scheduled from device code or other
threads) and, when the vCPUs are idle, sleeps until the next timer deadline or I/O.
"""

from __future__ import annotations

import os
import selectors
import threading
from collections.abc import Callable


class MainLoop:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._bh: list[Callable[[], None]] = []
        self._bh_lock = threading.Lock()
        # other threads (AIO completions, signal handlers) wake a sleeping poll through this pipe
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self.selector.register(fd, selectors.EVENT_READ, callback)

    def remove_reader(self, fd: int) -> None:
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the main loop's thread at the next poll (thread-safe; QEMU's bottom half)."""
        with self._bh_lock:
            self._bh.append(fn)
        self.wake()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Run ready I/O callbacks and bottom halves, waiting at most ``timeout`` seconds
        (None: until something happens).  Returns True if any callback ran."""
        ran = False
        if self._bh:
            timeout = 0.0
        for key, _ in self.selector.select(timeout):
            key.data()
            ran = True
        while self._bh:
            with self._bh_lock:
                work, self._bh = self._bh, []
            for fn in work:
                fn()
                ran = True
        return ran
