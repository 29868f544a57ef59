"""The qcow2 snapshot table: encoding and decoding of its entries.

Spec section "Snapshots" (snapshot table entry, extra data with the 64-bit VM state size,
the virtual disk size and, as QEMU 5.0+ writes, the icount).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pyqemu.block.errors import BlockError

ENTRY = struct.Struct(">QIHHIIQII")  # 40 bytes
EXTRA = struct.Struct(">QQ")  # vm_state_size_large, disk_size
ICOUNT = struct.Struct(">Q")
MAX_SNAPSHOTS = 65536


@dataclass
class Snapshot:
    """One snapshot table entry."""

    l1_table_offset: int
    l1_size: int
    id: str
    name: str
    date_sec: int = 0
    date_nsec: int = 0
    vm_clock_nsec: int = 0
    vm_state_size: int = 0
    disk_size: int | None = None
    icount: int | None = None
    unknown_extra: bytes = b""

    def pack(self) -> bytes:
        """Encode this entry, padded to a multiple of 8 bytes."""
        extra = EXTRA.pack(self.vm_state_size, self.disk_size or 0)
        if self.icount is not None or self.unknown_extra:
            extra += ICOUNT.pack(self.icount if self.icount is not None else 0xFFFFFFFFFFFFFFFF)
        extra += self.unknown_extra
        ident, name = self.id.encode(), self.name.encode()
        out = ENTRY.pack(self.l1_table_offset, self.l1_size, len(ident), len(name), self.date_sec,
                         self.date_nsec, self.vm_clock_nsec, min(self.vm_state_size, 0xFFFFFFFF),
                         len(extra))
        out += extra + ident + name
        return out + bytes(-len(out) % 8)


def parse_table(data: bytes, count: int) -> tuple[list[Snapshot], int]:
    """Decode ``count`` entries from the start of ``data``; also return the table's byte size."""
    out = []
    pos = 0
    for _ in range(count):
        if pos + ENTRY.size > len(data):
            raise BlockError("Snapshot table is truncated")
        (l1_off, l1_size, id_len, name_len, dsec, dnsec, vmclock, vmsize,
         extra_len) = ENTRY.unpack_from(data, pos)
        pos += ENTRY.size
        extra = data[pos:pos + extra_len]
        pos += extra_len
        disk_size = icount = None
        if len(extra) >= 8:
            vmsize = struct.unpack_from(">Q", extra)[0]
        if len(extra) >= 16:
            disk_size = struct.unpack_from(">Q", extra, 8)[0]
        if len(extra) >= 24:
            icount = ICOUNT.unpack_from(extra, 16)[0]
            if icount == 0xFFFFFFFFFFFFFFFF:
                icount = None
        ident = data[pos:pos + id_len].decode("utf-8", "replace")
        pos += id_len
        name = data[pos:pos + name_len].decode("utf-8", "replace")
        pos += name_len
        if pos > len(data):
            raise BlockError("Snapshot table is truncated")
        pos += -pos % 8
        out.append(Snapshot(l1_off, l1_size, ident, name, dsec, dnsec, vmclock, vmsize, disk_size,
                            icount, bytes(extra[24:])))
    return out, pos


def pack_table(snapshots: list[Snapshot]) -> bytes:
    """Encode a whole snapshot table."""
    return b"".join(sn.pack() for sn in snapshots)
