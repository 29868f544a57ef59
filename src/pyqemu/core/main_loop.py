"""The main loop's I/O side (QEMU util/main-loop.c): file descriptors watched with ``selectors``.

The machine's run loop alternates between running vCPUs and calling :meth:`MainLoop.poll`, which runs
the callbacks of readable (and writable) descriptors and of bottom halves (work scheduled from device code or
other
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
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self.add_reader(self._wake_r, self._drain_wake)
        #: the machine's big lock when vCPUs run on threads: held by the caller of :meth:`poll`, which
        #: drops it while it waits
        self.lock: threading.RLock | None = None

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._readers[fd] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        self._readers.pop(fd, None)
        self._update(fd)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever ``fd`` can take output (until :meth:`remove_writer`)."""
        self._writers[fd] = callback
        self._update(fd)

    def remove_writer(self, fd: int) -> None:
        self._writers.pop(fd, None)
        self._update(fd)

    def _update(self, fd: int) -> None:
        events = (selectors.EVENT_READ if fd in self._readers else 0) | \
                 (selectors.EVENT_WRITE if fd in self._writers else 0)
        try:
            registered = self.selector.get_key(fd) is not None
        except (KeyError, ValueError):
            registered = False
        if not events:
            if registered:
                self.selector.unregister(fd)
        elif registered:
            self.selector.modify(fd, events, fd)
        else:
            self.selector.register(fd, events, fd)

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
        lock = self.lock
        if lock is not None and timeout != 0.0:
            lock.release()
            try:
                ready = self.selector.select(timeout)
            finally:
                lock.acquire()
        else:
            ready = self.selector.select(timeout)
        for key, mask in ready:
            fd = key.fd
            if mask & selectors.EVENT_READ and fd in self._readers:
                self._readers[fd]()
                ran = True
            if mask & selectors.EVENT_WRITE and fd in self._writers:
                self._writers[fd]()
                ran = True
        while self._bh:
            with self._bh_lock:
                work, self._bh = self._bh, []
            for fn in work:
                fn()
                ran = True
        return ran
