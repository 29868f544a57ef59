"""qcow2 guest-to-host cluster mapping: the active L1 table and its L2 tables.

Spec section "Cluster mapping".  L2 updates go straight to the file (one entry or one run
of entries per write) so that a mapping is only ever linked after the data and refcounts it
depends on were written; L2 tables shared with snapshots are copied before modification.
Table offsets read from the image are validated (aligned, inside the file) before use, and
every write passes the driver's metadata overlap guard.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable

from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile
from pyqemu.block.qcow2.format import MAX_L1_BYTES, OFFSET_MASK, OFLAG_COPIED, Header, table_in_file
from pyqemu.block.qcow2.overlap import ACTIVE_L1, ACTIVE_L2, Corrupt, Guard, corruption_error, no_guard
from pyqemu.block.qcow2.refcount import Refcounts

L2_CACHE_TABLES = 512


def l1_entries_for(size: int, cluster_bits: int) -> int:
    """Number of L1 entries needed to map ``size`` guest bytes."""
    l2_bytes = 1 << (cluster_bits * 2 - 3)
    return -(-size // l2_bytes)


class ClusterMap:
    """The active L1 table plus a cache of decoded L2 tables."""

    def __init__(self, file: HostFile, header: Header, refcounts: Refcounts,
                 barrier: Callable[[], None]) -> None:
        self.file = file
        self.header = header
        self.refcounts = refcounts
        self.barrier = barrier
        self.cluster_bits = header.cluster_bits
        self.cluster_size = header.cluster_size
        self.l2_bits = header.cluster_bits - 3
        self.l2_size = 1 << self.l2_bits
        self.l2_cache: OrderedDict[int, list[int]] = OrderedDict()
        self.l1: list[int] = []
        self.generation = 0  # bumped whenever an L1 entry or the L1 table itself changes
        self.guard: Guard = no_guard
        self.corrupt: Corrupt = corruption_error
        self.load_l1()

    def load_l1(self) -> None:
        """(Re)read the active L1 table named by the header."""
        hdr = self.header
        if hdr.l1_size * 8 > MAX_L1_BYTES:
            raise BlockError("Active L1 table too large")
        if hdr.l1_size < l1_entries_for(hdr.size, hdr.cluster_bits):
            raise BlockError("L1 table is too small")
        if hdr.l1_size and not table_in_file(hdr.l1_table_offset, hdr.l1_size * 8, self.cluster_size,
                                             self.file.size()):
            raise BlockError("Active L1 table offset invalid")
        raw = self.file.pread(hdr.l1_table_offset, hdr.l1_size * 8) if hdr.l1_size else b""
        self.l1 = list(struct.unpack(f">{hdr.l1_size}Q", raw))
        self.l2_cache.clear()
        self.generation += 1

    def read_l2(self, offset: int) -> list[int]:
        """Decoded L2 table at host ``offset`` (cached)."""
        table = self.l2_cache.get(offset)
        if table is None:
            if offset & (self.cluster_size - 1):
                raise self.corrupt(f"L2 table offset {offset:#x} unaligned")
            if offset + self.cluster_size > self.file.size():
                raise self.corrupt(f"L2 table offset {offset:#x} beyond the end of the image file")
            raw = self.file.pread(offset, self.cluster_size)
            table = list(struct.unpack(f">{self.l2_size}Q", raw))
            self.l2_cache[offset] = table
            if len(self.l2_cache) > L2_CACHE_TABLES:
                self.l2_cache.popitem(last=False)
        else:
            self.l2_cache.move_to_end(offset)
        return table

    def write_l2(self, offset: int, table: list[int], fresh: bool = False) -> None:
        """Write a whole L2 table (``fresh``: to a newly allocated cluster) and cache it."""
        self.guard(offset, self.cluster_size, 0 if fresh else ACTIVE_L2)
        self.file.pwrite(offset, struct.pack(f">{self.l2_size}Q", *table))
        self.l2_cache[offset] = table

    def entries(self, cluster: int, count: int) -> list[int]:
        """L2 entries for guest clusters ``cluster..`` within one L2 table (at most ``count``)."""
        l1i, l2i = divmod(cluster, self.l2_size)
        count = min(count, self.l2_size - l2i)
        if l1i >= len(self.l1):
            return [0] * count
        l2_off = self.l1[l1i] & OFFSET_MASK
        if not l2_off:
            return [0] * count
        return self.read_l2(l2_off)[l2i:l2i + count]

    def get(self, cluster: int) -> int:
        """The L2 entry of guest cluster number ``cluster`` (0 when unallocated)."""
        return self.entries(cluster, 1)[0]

    def set_entries(self, cluster: int, values: list[int]) -> list[int]:
        """Store L2 entries for consecutive guest clusters (one L2 table); return the old ones."""
        l1i, l2i = divmod(cluster, self.l2_size)
        if l2i + len(values) > self.l2_size:
            raise ValueError("L2 update crosses a table boundary")
        l2_off = self._writable_l2(l1i)
        table = self.read_l2(l2_off)
        old = table[l2i:l2i + len(values)]
        self.guard(l2_off + l2i * 8, len(values) * 8, ACTIVE_L2)
        table[l2i:l2i + len(values)] = values
        self.file.pwrite(l2_off + l2i * 8, struct.pack(f">{len(values)}Q", *values))
        return old

    def _writable_l2(self, l1i: int) -> int:
        if l1i >= len(self.l1):
            self.grow_l1(l1i + 1)
        entry = self.l1[l1i]
        old = entry & OFFSET_MASK
        if old and entry & OFLAG_COPIED:
            return old
        new = self.refcounts.alloc(1)
        table = list(self.read_l2(old)) if old else [0] * self.l2_size
        self.write_l2(new, table, fresh=True)
        self.barrier()
        self.set_l1(l1i, new | OFLAG_COPIED)
        if old:
            self.barrier()
            self.refcounts.free(old)
            self.l2_cache.pop(old, None)
        return new

    def set_l1(self, index: int, value: int) -> None:
        """Store one active L1 entry."""
        offset = self.header.l1_table_offset + index * 8
        self.guard(offset, 8, ACTIVE_L1)
        self.l1[index] = value
        self.generation += 1
        self.file.pwrite(offset, struct.pack(">Q", value))

    def grow_l1(self, min_size: int, exact: bool = False) -> None:
        """Move the active L1 table to a larger place holding at least ``min_size`` entries."""
        old_size = len(self.l1)
        if min_size <= old_size:
            return
        new_size = min_size if exact else max(min_size, old_size * 3 // 2)
        if new_size * 8 > MAX_L1_BYTES:
            raise BlockError("File too large", 27)
        nclusters = -(-new_size * 8 // self.cluster_size)
        new_off = self.refcounts.alloc(nclusters)
        table = self.l1 + [0] * (new_size - old_size)
        raw = struct.pack(f">{new_size}Q", *table)
        self.guard(new_off, nclusters * self.cluster_size, 0)
        self.file.pwrite(new_off, raw.ljust(nclusters * self.cluster_size, b"\0"))
        self.barrier()
        old_off = self.header.l1_table_offset
        self.header.l1_size, self.header.l1_table_offset = new_size, new_off
        self.file.pwrite(36, struct.pack(">IQ", new_size, new_off))
        self.barrier()
        self.l1 = table
        self.generation += 1
        if old_size:
            self.refcounts.free(old_off, -(-old_size * 8 // self.cluster_size))
