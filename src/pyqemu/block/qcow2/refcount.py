"""qcow2 host cluster reference counts: the two-level refcount table, allocation and freeing.

Spec section "Host cluster management".  Refcount entries are 1 << refcount_order bits wide
(orders 0..6); sub-byte entries start at the least significant bit of each byte.
Every update reaches the file before the caller links the cluster anywhere, unless
``deferred`` is set (lazy refcounts), in which case dirty blocks are written at ``flush()``.
An update is validated whole (no underflow or overflow, blocks inside the file and not on other
metadata) before any of it is applied, so a corrupt image fails cleanly instead of half-updated.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile
from pyqemu.block.qcow2.format import MAX_REFTABLE_BYTES, REFT_OFFSET_MASK, Header, table_in_file
from pyqemu.block.qcow2.overlap import (
    REFCOUNT_BLOCK,
    REFCOUNT_TABLE,
    Corrupt,
    Guard,
    corruption_error,
    no_guard,
)

_U64 = struct.Struct(">Q")


class Refcounts:
    """Reference counts of an open image, with a write-through block cache."""

    def __init__(self, file: HostFile, header: Header, barrier: Callable[[], None]) -> None:
        self.file = file
        self.header = header
        self.barrier = barrier
        self.cluster_bits = header.cluster_bits
        self.cluster_size = header.cluster_size
        self.bits = 1 << header.refcount_order
        self.max_refcount = (1 << self.bits) - 1
        self.per_block = self.cluster_size * 8 // self.bits
        self.deferred = False
        self.free_hint = 0
        self.free_byte_offset = 0
        self.reserved: Callable[[int], bool] | None = None
        self.blocks: dict[int, bytearray] = {}
        self.dirty: set[int] = set()
        self.table: list[int] = []
        self.generation = 0  # bumped whenever the table or one of its entries changes
        self.guard: Guard = no_guard
        self.corrupt: Corrupt = corruption_error
        self.load_table()

    # -- table and blocks --------------------------------------------------------------------
    def load_table(self) -> None:
        """(Re)read the refcount table named by the header."""
        hdr = self.header
        nbytes = hdr.refcount_table_clusters * self.cluster_size
        if not nbytes:
            raise BlockError("Image does not contain a reference count table")
        if nbytes > MAX_REFTABLE_BYTES:
            raise BlockError("Reference count table too large")
        if not table_in_file(hdr.refcount_table_offset, nbytes, self.cluster_size, self.file.size()):
            raise BlockError("Invalid reference count table offset")
        raw = self.file.pread(hdr.refcount_table_offset, nbytes)
        self.table = [v & REFT_OFFSET_MASK for v in struct.unpack(f">{nbytes // 8}Q", raw)]
        self.blocks.clear()
        self.dirty.clear()
        self.generation += 1

    def forget_block(self, index: int) -> None:
        """Drop a (corrupt) refcount table entry from memory; repair writes a new block."""
        self.table[index] = 0
        self.generation += 1

    def _block(self, offset: int) -> bytearray:
        block = self.blocks.get(offset)
        if block is None:
            if offset & (self.cluster_size - 1):
                raise self.corrupt(f"Refblock offset {offset:#x} unaligned")
            if offset + self.cluster_size > self.file.size():
                raise self.corrupt(f"Refblock offset {offset:#x} beyond the end of the image file")
            block = bytearray(self.file.pread(offset, self.cluster_size))
            self.blocks[offset] = block
        return block

    def _decode(self, block: bytearray, index: int) -> int:
        bits = self.bits
        if bits >= 8:
            width = bits >> 3
            return int.from_bytes(block[index * width:(index + 1) * width], "big")
        pos = index * bits
        return (block[pos >> 3] >> (pos & 7)) & self.max_refcount

    def _encode(self, block: bytearray, index: int, value: int) -> tuple[int, int]:
        """Store ``value``; return the byte span (start, end) that changed."""
        bits = self.bits
        if bits >= 8:
            width = bits >> 3
            block[index * width:(index + 1) * width] = value.to_bytes(width, "big")
            return index * width, (index + 1) * width
        pos = index * bits
        byte = pos >> 3
        shift = pos & 7
        block[byte] = (block[byte] & ~(self.max_refcount << shift)) | (value << shift)
        return byte, byte + 1

    def get(self, cluster: int) -> int:
        """Refcount of host cluster number ``cluster``."""
        ti, bi = divmod(cluster, self.per_block)
        if ti >= len(self.table) or not self.table[ti]:
            return 0
        return self._decode(self._block(self.table[ti]), bi)

    # -- updates ------------------------------------------------------------------------------
    def update(self, cluster: int, count: int, delta: int) -> None:
        """Add ``delta`` to the refcounts of ``count`` clusters starting at ``cluster``.

        Nothing is changed when any of the new values would be out of range.
        """
        if delta > 0:
            self.ensure_blocks(cluster, count)
        per_block = self.per_block
        changes: list[tuple[int, bytearray, int, list[int]]] = []
        end = cluster + count
        while cluster < end:
            ti, bi = divmod(cluster, per_block)
            n = min(end - cluster, per_block - bi)
            offset = self.table[ti] if ti < len(self.table) else 0
            if not offset:
                if delta < 0:
                    raise BlockError(f"Refcount underflow for cluster {cluster}", 34)
                cluster += n
                continue
            block = self._block(offset)
            values = [self._decode(block, i) + delta for i in range(bi, bi + n)]
            for i, value in enumerate(values):
                if value < 0 or value > self.max_refcount:
                    what = "overflow" if value > 0 else "underflow"
                    raise BlockError(f"Refcount {what} for cluster {cluster + i}", 34)
            if not self.deferred:
                self.guard(offset, self.cluster_size, REFCOUNT_BLOCK)
            changes.append((offset, block, ti * per_block + bi, values))
            cluster += n
        for offset, block, first, values in changes:
            lo, hi = len(block), 0
            bi = first % per_block
            for i, value in enumerate(values):
                a, b = self._encode(block, bi + i, value)
                lo, hi = min(lo, a), max(hi, b)
                if value == 0:
                    freed = first + i
                    self.free_hint = min(self.free_hint, freed)
                    if self.free_byte_offset >> self.cluster_bits == freed:
                        self.free_byte_offset = 0
            if self.deferred:
                self.dirty.add(offset)
            else:
                self.file.pwrite(offset + lo, block[lo:hi])

    def set(self, cluster: int, value: int) -> None:
        """Force the refcount of one cluster (used by repair)."""
        self.update(cluster, 1, value - self.get(cluster))

    def flush(self) -> None:
        """Write refcount blocks whose updates were deferred."""
        for offset in sorted(self.dirty):
            self.guard(offset, self.cluster_size, REFCOUNT_BLOCK)
            self.file.pwrite(offset, self.blocks[offset])
        self.dirty.clear()

    # -- allocation ---------------------------------------------------------------------------
    def _find_free(self, count: int, start: int | None = None) -> int:
        cluster = self.free_hint if start is None else start
        cluster = max(cluster, 1)
        run = 0
        per_block = self.per_block
        reserved = self.reserved
        while True:
            ti = cluster // per_block
            if reserved is not None and reserved(cluster):
                run = 0
                cluster += 1
            elif reserved is None and (ti >= len(self.table) or not self.table[ti]):
                # a whole refcount block range with no block: all free
                if run == 0:
                    run_start = cluster
                take = min(count - run, (ti + 1) * per_block - cluster)
                run += take
                cluster += take
            elif self.get(cluster) == 0:
                if run == 0:
                    run_start = cluster
                run += 1
                cluster += 1
            else:
                run = 0
                cluster += 1
            if run >= count:
                return run_start

    def ensure_blocks(self, cluster: int, count: int) -> bool:
        """Make sure refcount blocks exist for the range; True when any had to be created."""
        created = False
        span = range(cluster, cluster + count) if count > 1 else None
        for ti in range(cluster // self.per_block, (cluster + count - 1) // self.per_block + 1):
            if ti >= len(self.table):
                self._grow_table(ti + 1)
                created = True
            if not self.table[ti]:
                self._new_block(ti, span)
                created = True
        return created

    def _new_block(self, ti: int, span: range | None) -> None:
        """Create the refcount block for range ``ti``.

        The block goes inside its own range (self-describing) unless that would cut into
        ``span``, a contiguous allocation in progress; then it is allocated outside the span.
        """
        first = ti * self.per_block
        cluster = max(first, 1)
        while self.reserved is not None and self.reserved(cluster):
            cluster += 1
        block = bytearray(self.cluster_size)
        if span is not None and cluster in span:
            saved = self.reserved
            self.reserved = lambda c: c in span or (saved is not None and saved(c))
            try:
                offset = self.alloc(1)
            finally:
                self.reserved = saved
            if self.table[ti]:
                self.free(offset)
                return
        else:
            self._encode(block, cluster - first, 1)
            offset = cluster << self.cluster_bits
        self.guard(offset, self.cluster_size, 0)
        entry = self.header.refcount_table_offset + ti * 8
        self.guard(entry, 8, REFCOUNT_TABLE)
        self.file.pwrite(offset, block)
        self.blocks[offset] = block
        self.barrier()
        self.table[ti] = offset
        self.generation += 1
        self.file.pwrite(entry, _U64.pack(offset))
        self.barrier()

    def _grow_table(self, min_entries: int) -> None:
        """Move the refcount table to a bigger place; new blocks cover the new table."""
        per_cluster = self.cluster_size // 8
        old_len = len(self.table)
        new_len = max(min_entries, old_len * 3 // 2 + 1)
        while True:
            new_len = -(-new_len // per_cluster) * per_cluster
            nclusters = new_len // per_cluster
            if new_len * 8 > MAX_REFTABLE_BYTES:
                raise BlockError("Refcount table too large", 27)
            start = self._find_free(nclusters)
            span = range(start // self.per_block, (start + nclusters - 1) // self.per_block + 1)
            missing = [ti for ti in span if ti >= old_len or not self.table[ti]]
            if missing and max(missing) >= new_len:
                new_len = max(missing) + 1
                continue
            break
        table_span = range(start, start + nclusters)
        new_blocks: dict[int, int] = {}
        for ti in missing:
            cluster = max(ti * self.per_block, 1)
            while cluster in table_span:
                cluster += 1
            new_blocks[ti] = cluster
        # refcounts for the table clusters in ranges whose blocks already exist
        for cluster in table_span:
            if cluster // self.per_block not in new_blocks:
                self.update(cluster, 1, +1)
        new_table = self.table + [0] * (new_len - old_len)
        for ti, cluster in new_blocks.items():
            block = bytearray(self.cluster_size)
            first = ti * self.per_block
            for used in list(table_span) + [cluster]:
                if first <= used < first + self.per_block:
                    self._encode(block, used - first, 1)
            offset = cluster << self.cluster_bits
            self.guard(offset, self.cluster_size, 0)
            self.file.pwrite(offset, block)
            self.blocks[offset] = block
            new_table[ti] = offset
        table_offset = start << self.cluster_bits
        raw = struct.pack(f">{new_len}Q", *new_table)
        self.guard(table_offset, len(raw), 0)
        self.file.pwrite(table_offset, raw)
        self.barrier()
        old_offset, old_clusters = self.header.refcount_table_offset, self.header.refcount_table_clusters
        self.header.refcount_table_offset = table_offset
        self.header.refcount_table_clusters = nclusters
        self.file.pwrite(48, struct.pack(">QI", table_offset, nclusters))
        self.barrier()
        self.table = new_table
        self.generation += 1
        if old_clusters:
            self.update(old_offset >> self.cluster_bits, old_clusters, -1)

    def alloc(self, count: int) -> int:
        """Allocate ``count`` contiguous clusters (refcount 1); return the host offset."""
        while True:
            start = self._find_free(count)
            if not self.ensure_blocks(start, count):
                break
        self.update(start, count, +1)
        if count == 1 or start == self.free_hint:
            self.free_hint = start + count
        return start << self.cluster_bits

    def alloc_bytes(self, size: int) -> int:
        """Allocate ``size`` (< cluster size) bytes for compressed data, packing clusters."""
        cs = self.cluster_size
        offset = self.free_byte_offset
        if offset and (offset & (cs - 1)) and self.get(offset >> self.cluster_bits) < self.max_refcount:
            room = cs - (offset & (cs - 1))
            if size <= room:
                self.update(offset >> self.cluster_bits, 1, +1)
            else:
                new = self.alloc(1)
                if new == (offset & ~(cs - 1)) + cs:
                    self.update(offset >> self.cluster_bits, 1, +1)
                else:
                    offset = new
        else:
            offset = self.alloc(1)
        end = offset + size
        self.free_byte_offset = end if end & (cs - 1) else 0
        return offset

    def free(self, offset: int, count: int = 1) -> None:
        """Drop one reference from ``count`` clusters starting at host ``offset``."""
        self.update(offset >> self.cluster_bits, count, -1)
