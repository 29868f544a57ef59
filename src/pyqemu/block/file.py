"""The ``file`` protocol: positional I/O on a host file (QEMU's block/file-posix.c role)."""

from __future__ import annotations

import os

from pyqemu.block.errors import BlockError, os_error_message


class HostFile:
    """A host file opened for positional reads and writes.

    Reads past the end of the file return zeros, as QEMU's file protocol does for image
    formats that reference data beyond EOF (e.g. preallocated metadata on a sparse file).
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
        data = os.pread(self.fd, length, offset)
        if len(data) < length:
            chunks = [data]
            got = len(data)
            while got < length:
                more = os.pread(self.fd, length - got, offset + got)
                if not more:
                    break
                chunks.append(more)
                got += len(more)
            data = b"".join(chunks)
            if got < length:
                data += bytes(length - got)
        return data

    def pread_short(self, offset: int, length: int) -> bytes:
        """Read up to ``length`` bytes at ``offset`` without zero-filling past EOF."""
        return os.pread(self.fd, length, offset)

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        if self.readonly:
            raise BlockError("Block node is read-only", 1)
        view = memoryview(data)
        while view:
            done = os.pwrite(self.fd, view, offset)
            view = view[done:]
            offset += done

    def size(self) -> int:
        """Current length of the host file in bytes."""
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        """Set the host file length."""
        os.ftruncate(self.fd, size)

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
            os.fdatasync(self.fd)

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
