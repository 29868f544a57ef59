"""Thread-pool asynchronous I/O (QEMU's thread-pool.c behind ``aio=threads``).

``submit`` returns at once; the work runs on a pool thread and its completion callback is
either queued for the main loop (``run_completions``, woken through ``notify``) or, without a
notifier, called from the pool thread.  Guest disk I/O therefore never blocks a vCPU.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

Completion = Callable[[Any, BaseException | None], None]
_Done = tuple[Completion, Any, BaseException | None]


class AioRequest:
    """A submitted request; ``wait`` blocks for its result (re-raising its error)."""

    def __init__(self, future: Future[Any]) -> None:
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def wait(self, timeout: float | None = None) -> Any:
        return self.future.result(timeout)


class AioPool:
    """A pool of worker threads executing blocking block-layer calls."""

    def __init__(self, workers: int = 4, notify: Callable[[], None] | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pyqemu-aio")
        self._notify = notify
        self._completions: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, work: Callable[[], Any], callback: Completion | None = None) -> AioRequest:
        """Run ``work()`` on a pool thread; ``callback(result, error)`` reports completion."""
        with self._idle:
            self._pending += 1
        future = self._executor.submit(work)
        future.add_done_callback(lambda fut: self._finished(fut, callback))
        return AioRequest(future)

    def _finished(self, future: Future[Any], callback: Completion | None) -> None:
        error = future.exception()
        result = None if error is not None else future.result()
        if callback is not None:
            if self._notify is not None:
                self._completions.put((callback, result, error))
                self._notify()
            else:
                callback(result, error)
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def run_completions(self) -> int:
        """Deliver queued completions in the calling (main loop) thread; return how many."""
        count = 0
        while True:
            try:
                callback, result, error = self._completions.get_nowait()
            except queue.Empty:
                return count
            callback(result, error)
            count += 1

    def drain(self) -> None:
        """Wait until every submitted request finished, then deliver queued completions."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)
        self.run_completions()

    def shutdown(self) -> None:
        """Finish outstanding work and stop the threads."""
        self._executor.shutdown(wait=True)
        self.run_completions()
