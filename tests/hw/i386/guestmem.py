"""A sparse guest physical memory for the x86 loader tests: records writes, reads zeroes elsewhere."""

from __future__ import annotations

import struct

PAGE = 4096


class SparseMemory:
    """Guest memory as a dict of 4 KiB pages; ``write`` is a :data:`pyqemu.hw.i386.x86_boot.GuestWriter`."""

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}
        self.writes: list[tuple[int, int]] = []  # (addr, length) in order

    def write(self, addr: int, data: bytes) -> None:
        self.writes.append((addr, len(data)))
        pos = 0
        while pos < len(data):
            a = addr + pos
            page = self.pages.setdefault(a // PAGE, bytearray(PAGE))
            off = a % PAGE
            n = min(PAGE - off, len(data) - pos)
            page[off:off + n] = data[pos:pos + n]
            pos += n

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            a = addr + len(out)
            off = a % PAGE
            n = min(PAGE - off, length - len(out))
            page = self.pages.get(a // PAGE)
            out += page[off:off + n] if page is not None else bytes(n)
        return bytes(out)

    def u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def u16(self, addr: int) -> int:
        return struct.unpack("<H", self.read(addr, 2))[0]

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def cstr(self, addr: int, limit: int = 4096) -> str:
        data = self.read(addr, limit)
        return data[:data.index(b"\0")].decode()

    def overlaps(self, start: int, end: int) -> bool:
        """Whether any write touched [start, end)."""
        return any(a < end and start < a + n for a, n in self.writes)
