"""The raw image format: guest offsets are file offsets (QEMU's block/raw-format.c)."""

from __future__ import annotations

import errno

from pyqemu.block.driver import (
    BLOCK_ALLOCATED,
    BLOCK_DATA,
    BLOCK_OFFSET_VALID,
    BLOCK_ZERO,
    BlockDriver,
    BlockStatus,
    CreateOption,
)
from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile

PREALLOC_MODES = ("off", "falloc", "full")


class Raw(BlockDriver):
    """A raw disk image."""

    format_name = "raw"
    create_options = (
        CreateOption("size", "size", "Virtual disk size"),
        CreateOption("preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)"),
    )

    def __init__(self, filename: str, readonly: bool = False, cache: str = "writeback",
                 check_mode: bool = False) -> None:
        super().__init__(filename, readonly)
        self.file = HostFile(filename, readonly)
        self._unsafe = cache == "unsafe"

    @classmethod
    def probe(cls, head: bytes, filename: str) -> int:
        return 1

    @classmethod
    def create(cls, filename: str, size: int, options: dict[str, str]) -> None:
        prealloc = options.get("preallocation", "off")
        if prealloc not in PREALLOC_MODES:
            raise BlockError(f"Parameter 'preallocation' does not accept value '{prealloc}'", errno.EINVAL)
        file = HostFile(filename, create=True)
        try:
            file.truncate(0)
            _extend(file, 0, size, prealloc)
        finally:
            file.close()

    @property
    def size(self) -> int:
        return self.file.size()

    def read(self, offset: int, length: int) -> bytes:
        self._check_bounds(offset, length)
        return self.file.pread(offset, length)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._check_bounds(offset, len(data))
        self.file.pwrite(offset, data)

    def flush(self) -> None:
        if not self._unsafe:
            self.file.flush()

    def close(self) -> None:
        if self.file.fd >= 0:
            self.flush()
            self.file.close()

    def block_status(self, offset: int, length: int) -> BlockStatus:
        length = min(length, self.size - offset)
        is_data, end = self.file.is_data(offset)
        n = max(1, min(length, end - offset))
        if is_data:
            return BlockStatus(BLOCK_DATA | BLOCK_OFFSET_VALID | BLOCK_ALLOCATED, n, offset)
        return BlockStatus(BLOCK_ZERO | BLOCK_OFFSET_VALID | BLOCK_ALLOCATED, n, offset)

    def truncate(self, size: int, shrink: bool = False, prealloc: str = "off") -> None:
        if self.readonly:
            raise BlockError("Block node is read-only", errno.EPERM)
        old = self.size
        if size < old:
            self.file.truncate(size)
        else:
            _extend(self.file, old, size, prealloc)


def _extend(file: HostFile, old: int, size: int, prealloc: str) -> None:
    if prealloc == "falloc" and size > old:
        file.fallocate(old, size - old)
    elif prealloc == "full":
        for off in range(old, size, 1 << 20):
            file.pwrite(off, bytes(min(1 << 20, size - off)))
    file.truncate(size)
