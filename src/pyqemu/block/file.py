"""The ``file`` protocol: positional I/O on a host file (QEMU's block/file-posix.c role)."""

from __future__ import annotations

import errno
import os

from pyqemu.block.errors import BlockError, os_error_message

MAX_FILE_OFFSET = (1 << 63) - 1


def _check_range(offset: int, length: int) -> None:
    """Refuse host requests no file can satisfy (negative or beyond the 63-bit offset range)."""
    if offset < 0 or length < 0 or offset + length > MAX_FILE_OFFSET:
        raise BlockError("Invalid argument", errno.EINVAL)


class HostFile:
    """A host file opened for positional reads and writes.

    Reads past the end of the file return zeros, as QEMU's file protocol does for image
    formats that reference data beyond EOF (e.g. preallocated metadata on a sparse file).
    Host errors surface as :class:`BlockError` carrying the errno.
    """

    def __init__(self, path: str, readonly: bool = False, create: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        flags = os.O_RDONLY if readonly else os.O_RDWR
        if create:
            flags |= os.O_CREAT | os.O_TRUNC
        try:
            self.fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise BlockError(f"Could not open '{path}': {os_error_message(exc)}", exc.errno) from exc
        if os.path.isdir(path):
            os.close(self.fd)
            raise BlockError(f"Could not open '{path}': Is a directory")

    def pread(self, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset``; the part beyond EOF reads as zeros."""
        data = self.pread_short(offset, length)
        if len(data) < length:
            buf = bytearray(length)
            buf[:len(data)] = data
            self.readinto(offset + len(data), memoryview(buf)[len(data):])  # a short read, not EOF?
            data = bytes(buf)
        return data

    def readinto(self, offset: int, buf: bytearray | memoryview) -> int:
        """Fill ``buf`` from ``offset``; return the byte count read (less only at EOF)."""
        view = memoryview(buf).cast("B")
        _check_range(offset, len(view))
        got = 0
        try:
            while got < len(view):
                n = os.preadv(self.fd, [view[got:]], offset + got)
                if n <= 0:
                    break
                got += n
        except OSError as exc:
            raise BlockError(os_error_message(exc), exc.errno) from exc
        return got

    def pread_short(self, offset: int, length: int) -> bytes:
        """Read up to ``length`` bytes at ``offset`` without zero-filling past EOF."""
        _check_range(offset, length)
        try:
            return os.pread(self.fd, length, offset)
        except OSError as exc:
            raise BlockError(os_error_message(exc), exc.errno) from exc

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        if self.readonly:
            raise BlockError("Block node is read-only", 1)
        view = memoryview(data).cast("B")
        _check_range(offset, len(view))
        try:
            while view:
                done = os.pwrite(self.fd, view, offset)
                view = view[done:]
                offset += done
        except OSError as exc:
            raise BlockError(os_error_message(exc), exc.errno) from exc

    def size(self) -> int:
        """Current length of the host file in bytes."""
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        """Set the host file length."""
        _check_range(size, 0)
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise BlockError(os_error_message(exc), exc.errno) from exc

    def fallocate(self, offset: int, length: int) -> None:
        """Reserve host blocks for ``[offset, offset+length)`` (posix_fallocate)."""
        try:
            os.posix_fallocate(self.fd, offset, length)
        except OSError:
            if self.size() < offset + length:
                self.truncate(offset + length)

    def flush(self) -> None:
        """Make previous writes durable (fdatasync)."""
        if not self.readonly:
            try:
                os.fdatasync(self.fd)
            except OSError as exc:
                raise BlockError(os_error_message(exc), exc.errno) from exc

    def is_data(self, offset: int) -> tuple[bool, int]:
        """Return (is_data, end) for the run of data or hole starting at ``offset`` (SEEK_DATA)."""
        size = self.size()
        if offset >= size:
            return False, offset
        try:
            data = os.lseek(self.fd, offset, os.SEEK_DATA)
        except OSError:
            return False, size
        if data > offset:
            return False, data
        try:
            hole = os.lseek(self.fd, offset, os.SEEK_HOLE)
        except OSError:
            hole = size
        return True, hole

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
