"""BlockBackend: what a guest device sees of a drive (QEMU's block-backend.c).

Bounds and permission checks, throttling, I/O accounting, the rerror/werror policy
(report, ignore, stop, enospc), cache-mode flushing, removable media and thread-pool AIO,
in front of one BlockDriver.  Driver calls are serialized, as QEMU's format drivers are.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from typing import Any

from pyqemu.block.aio import AioPool, AioRequest, Completion
from pyqemu.block.driver import BlockDriver
from pyqemu.block.errors import BlockError
from pyqemu.block.stats import FLUSH, READ, UNMAP, WRITE, BlockAcctStats
from pyqemu.block.throttle import ThrottleState

ERROR_ACTIONS = ("report", "ignore", "stop", "enospc")
CACHE_MODES = ("writeback", "writethrough", "none", "directsync", "unsafe")

ErrorHook = Callable[["BlockBackend", str, bool, int], None]


class BlockBackend:
    """A named drive as devices use it."""

    def __init__(self, name: str, driver: BlockDriver | None, *, readonly: bool = False,
                 removable: bool = False, rerror: str = "report", werror: str = "enospc",
                 cache: str = "writeback", discard: str = "ignore", throttle: ThrottleState | None = None,
                 aio: AioPool | None = None, clock: Callable[[], int] = time.monotonic_ns) -> None:
        for what, action in (("read", rerror), ("write", werror)):
            if action not in ERROR_ACTIONS:
                raise BlockError(f"'{action}' invalid {what} error action")
        if cache not in CACHE_MODES:
            raise BlockError("invalid cache option")
        self.name = name
        self.driver = driver
        self.readonly = readonly
        self.removable = removable
        self.rerror, self.werror = rerror, werror
        self.cache = cache
        self.discard_mode = discard
        self.throttle = throttle
        self.aio = aio
        self.stats = BlockAcctStats(clock)
        self.on_error: ErrorHook | None = None
        self.on_stop: Callable[[], bool | None] | None = None
        self.locked = False
        self._lock = threading.RLock()
        self._running = threading.Event()
        self._running.set()

    # -- state ----------------------------------------------------------------------------------
    def is_inserted(self) -> bool:
        return self.driver is not None

    def get_length(self) -> int:
        """Guest-visible size in bytes (0 without medium)."""
        return self.driver.size if self.driver is not None else 0

    def error_action(self, is_read: bool, err: int) -> str:
        """The action (report, ignore, stop) the policy prescribes for an error."""
        policy = self.rerror if is_read else self.werror
        if policy == "enospc":
            return "stop" if err == errno.ENOSPC else "report"
        return policy

    def resume(self) -> None:
        """The VM continues: requests held by a ``stop`` error action are retried."""
        self._running.set()

    # -- synchronous requests -------------------------------------------------------------------
    def _request(self, kind: str, offset: int, nbytes: int, work: Callable[[BlockDriver], Any],
                 on_ignore: Any = None) -> Any:
        drv = self.driver
        if drv is None:
            self.stats.invalid_op(kind)
            raise BlockError("No medium found", errno.ENOMEDIUM)
        if kind in (WRITE, UNMAP) and self.readonly:
            self.stats.invalid_op(kind)
            raise BlockError("Permission denied", errno.EACCES)
        if offset < 0 or nbytes < 0 or offset + nbytes > drv.size:
            self.stats.invalid_op(kind)
            raise BlockError("Input/output error", errno.EIO)
        if self.throttle is not None and kind in (READ, WRITE):
            self.throttle.acquire(kind == WRITE, nbytes)
        while True:
            cookie = self.stats.start(kind, nbytes)
            try:
                with self._lock:
                    result = work(drv)
                    if kind == WRITE and self.cache in ("writethrough", "directsync"):
                        drv.flush()
            except (BlockError, OSError) as exc:
                self.stats.failed_op(cookie)
                err = exc.errno or errno.EIO
                is_read = kind == READ
                action = self.error_action(is_read, err) if kind != UNMAP else "report"
                if self.on_error is not None:
                    self.on_error(self, action, is_read, err)
                if action == "ignore":
                    return on_ignore
                if action == "stop":
                    self._running.clear()
                    # on_stop may answer False: the VM is going away, the request fails instead
                    if self.on_stop is None or self.on_stop() is not False:
                        self._running.wait()
                        continue
                raise BlockError(str(exc) if isinstance(exc, BlockError) else (exc.strerror or str(exc)),
                                 err) from None
            self.stats.done(cookie, offset)
            return result

    def read(self, offset: int, length: int) -> bytes:
        """Read guest data."""
        return self._request(READ, offset, length, lambda d: d.read(offset, length), bytes(length))

    def write(self, offset: int, data: bytes) -> None:
        """Write guest data."""
        self._request(WRITE, offset, len(data), lambda d: d.write(offset, data))

    def write_zeroes(self, offset: int, length: int) -> None:
        """Make a range read as zeros."""
        self._request(WRITE, offset, length, lambda d: d.write_zeroes(offset, length))

    def discard(self, offset: int, length: int) -> None:
        """Discard (unmap) a range; ignored unless the drive has discard=unmap."""
        if self.discard_mode != "unmap":
            return
        self._request(UNMAP, offset, length, lambda d: d.discard(offset, length))

    def flush(self) -> None:
        """Make completed writes durable (a no-op with cache=unsafe)."""
        if self.driver is None:
            return
        if self.cache == "unsafe":
            self.stats.done(self.stats.start(FLUSH))
            return
        self._request(FLUSH, 0, 0, lambda d: d.flush())

    # -- asynchronous requests ------------------------------------------------------------------
    def _submit(self, work: Callable[[], Any], callback: Completion | None) -> AioRequest | None:
        if self.aio is None:
            try:
                result = work()
            except BlockError as exc:
                if callback is not None:
                    callback(None, exc)
                return None
            if callback is not None:
                callback(result, None)
            return None
        return self.aio.submit(work, callback)

    def aio_read(self, offset: int, length: int, callback: Completion | None = None) -> AioRequest | None:
        """Read without blocking the caller; ``callback(data, error)`` on completion."""
        return self._submit(lambda: self.read(offset, length), callback)

    def aio_write(self, offset: int, data: bytes, callback: Completion | None = None) -> AioRequest | None:
        """Write without blocking the caller."""
        return self._submit(lambda: self.write(offset, data), callback)

    def aio_flush(self, callback: Completion | None = None) -> AioRequest | None:
        """Flush without blocking the caller."""
        return self._submit(self.flush, callback)

    def aio_discard(self, offset: int, length: int, callback: Completion | None = None) -> AioRequest | None:
        """Discard without blocking the caller."""
        return self._submit(lambda: self.discard(offset, length), callback)

    # -- media ------------------------------------------------------------------------------------
    def eject(self, force: bool = False) -> None:
        """Remove the medium (``eject`` monitor command)."""
        if not self.removable:
            raise BlockError(f"Device '{self.name}' is not removable")
        if self.locked and not force:
            raise BlockError(f"Device '{self.name}' is locked")
        with self._lock:
            if self.driver is not None:
                self.driver.close()
                self.driver = None

    def insert(self, driver: BlockDriver) -> None:
        """Insert a new medium (``change`` monitor command)."""
        if not self.removable:
            raise BlockError(f"Device '{self.name}' is not removable")
        with self._lock:
            if self.driver is not None:
                self.driver.close()
            self.driver = driver

    def close(self) -> None:
        """Flush and close the medium."""
        with self._lock:
            if self.driver is not None:
                if not self.readonly and self.cache != "unsafe":
                    self.driver.flush()
                self.driver.close()
                self.driver = None

    # -- monitor --------------------------------------------------------------------------------
    def query_stats(self) -> dict[str, Any]:
        """One entry of QMP ``query-blockstats``."""
        return {"device": self.name, "stats": self.stats.to_qmp()}

    def query(self) -> dict[str, Any]:
        """One entry of QMP ``query-block``."""
        out: dict[str, Any] = {"device": self.name, "locked": self.locked, "removable": self.removable,
                               "io-status": "ok"}
        if self.driver is not None:
            out["inserted"] = {"file": self.driver.filename, "ro": self.readonly,
                               "drv": self.driver.format_name, "encrypted": False,
                               "backing_file_depth": len(self.driver.chain()) - 1,
                               "image": {"filename": self.driver.filename,
                                         "format": self.driver.format_name,
                                         "virtual-size": self.driver.size}}
            if self.driver.backing_filename:
                out["inserted"]["backing_file"] = self.driver.backing_filename
        return out
