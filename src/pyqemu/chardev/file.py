"""The ``file`` character device backend (QEMU chardev/char-file.c and char-fd.c).

``-chardev file,id=ID,path=OUT[,in=IN][,append=on]`` writes the frontend's output to ``OUT`` (created,
and truncated unless ``append=on``) and, with ``in=`` (QEMU spells it ``input-path=``), feeds the
contents of ``IN`` to the frontend as input through the main loop.

This module also holds the descriptor plumbing the stdio backend shares: :class:`FdInput` reads a
descriptor from the main loop with flow control, and :func:`write_all` writes to one that may be
non-blocking.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable

from pyqemu.chardev.base import CHR_EVENT_OPENED, Chardev
from pyqemu.chardev.registry import ChardevError
from pyqemu.core.main_loop import MainLoop

#: Largest read from an input descriptor in one go.
READ_CHUNK = 4096


def frontend_room(chr: Chardev) -> int:
    """How many more input bytes ``chr``'s frontend can take now, counting what is already buffered
    (0 while no frontend is attached)."""
    if chr._receive is None:
        return 0
    room = chr._can_receive() if chr._can_receive is not None else READ_CHUNK
    return max(0, min(room, READ_CHUNK) - len(chr._pending))


def write_all(fd: int, data: bytes) -> int:
    """Write all of ``data`` to ``fd``, waiting while a non-blocking descriptor is full (QEMU's
    qemu_chr_write_all does the same for stdio, whose descriptor may share O_NONBLOCK with stdin).
    Returns the bytes written, fewer than ``len(data)`` only if the descriptor failed."""
    view = memoryview(data)
    done = 0
    while done < len(view):
        try:
            done += os.write(fd, view[done:])
        except BlockingIOError:
            select.select([], [fd], [])
        except InterruptedError:
            continue
        except OSError:
            break
    return done


class FdInput:
    """Reads ``fd`` from the main loop and hands the bytes to ``chr.deliver``.

    Reading pauses while the frontend has no room and resumes at :meth:`kick` (the owning chardev calls
    it from ``accept_input``).  Descriptors that cannot be polled (regular files, /dev/null) are read from
    bottom halves instead, one chunk at a time.  At end of file reading stops and ``on_eof`` runs.
    """

    def __init__(self, chr: Chardev, fd: int, main_loop: MainLoop, on_eof: Callable[[], None] | None = None):
        self.chr = chr
        self.fd = fd
        self.main_loop = main_loop
        self.on_eof = on_eof
        self.eof = False
        self._registered = False
        self._scheduled = False
        self.pollable = True
        try:
            main_loop.add_reader(fd, self._readable)
        except (PermissionError, ValueError, OSError):
            self.pollable = False
        else:
            self._registered = True
        self.kick()

    def kick(self) -> None:
        """The frontend may have room again: resume reading."""
        if self.eof or frontend_room(self.chr) <= 0:
            return
        if self.pollable:
            if not self._registered:
                self.main_loop.add_reader(self.fd, self._readable)
                self._registered = True
        elif not self._scheduled:
            self._scheduled = True
            self.main_loop.call_soon(self._pull)

    def _pause(self) -> None:
        if self._registered:
            self.main_loop.remove_reader(self.fd)
            self._registered = False

    def _read(self, size: int) -> bytes | None:
        """One read: the bytes, b"" at end of file, None if nothing is available right now."""
        try:
            return os.read(self.fd, size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""  # EIO from a hung-up terminal and the like: treat as end of input

    def _readable(self) -> None:
        room = frontend_room(self.chr)
        if room <= 0:
            self._pause()
            return
        data = self._read(room)
        if data is None:
            return
        if not data:
            self._finish()
            return
        self.chr.deliver(data)

    def _pull(self) -> None:
        self._scheduled = False
        if self.eof:
            return
        room = frontend_room(self.chr)
        if room <= 0:
            return  # accept_input will kick us again
        data = self._read(room)
        if data is None:
            self.kick()
            return
        if not data:
            self._finish()
            return
        self.chr.deliver(data)
        self.kick()

    def _finish(self) -> None:
        self.eof = True
        self._pause()
        if self.on_eof is not None:
            self.on_eof()

    def close(self) -> None:
        self.eof = True
        self._pause()


class ChardevFile(Chardev):
    """Output to the file ``path``; input, optionally, from the file ``in_path``.

    A frontend's output is written synchronously.  ``append`` keeps the file's contents instead of
    truncating it.  The input file is read to its end, after which input stops (the VM keeps running).
    """

    def __init__(self, id: str, main_loop: MainLoop, path: str, in_path: str | None = None,
                 append: bool = False):
        super().__init__(id)
        self.main_loop = main_loop
        self.path = path
        self.in_path = in_path
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self.out_fd = self._open(path, flags)
        self.in_fd: int | None = None
        self._input: FdInput | None = None
        if in_path is not None:
            try:
                self.in_fd = self._open(in_path, os.O_RDONLY)
            except ChardevError:
                os.close(self.out_fd)
                raise
            self._input = FdInput(self, self.in_fd, main_loop)

    @staticmethod
    def _open(path: str, flags: int) -> int:
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise ChardevError(f"Could not open '{path}': {os.strerror(exc.errno or 0)}") from exc

    def write(self, data: bytes) -> int:
        if self.out_fd >= 0:
            write_all(self.out_fd, data)
        # output the file cannot take (disk full...) is dropped rather than stalling the guest
        return len(data)

    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        super().set_handlers(can_receive, receive, event)
        # a file is open from the start: a frontend attaching to it is told so (QEMU's be_open)
        if event is not None:
            self.send_event(CHR_EVENT_OPENED)

    def accept_input(self) -> None:
        super().accept_input()
        if self._input is not None:
            self._input.kick()

    def close(self) -> None:
        if self._input is not None:
            self._input.close()
            self._input = None
        for fd in (self.out_fd, self.in_fd):
            if fd is not None and fd >= 0:
                os.close(fd)
        self.out_fd = -1
        self.in_fd = None
