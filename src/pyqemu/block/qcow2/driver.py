"""The qcow2 BlockDriver: guest I/O over the L1/L2 mapping, COW, compression, zero clusters.

Spec sections "Cluster mapping" (standard, compressed and zero cluster descriptors),
"Header" (dirty bit, lazy refcounts, corrupt bit) and "Snapshots".  Allocating writes follow
QEMU's crash-safe ordering: refcounts, then data, then a flush barrier, then the L2/L1 link,
and only then the release of what the old mapping pointed to.

Damaged images: the header and the table offsets are validated at open; metadata found corrupt
while running (misaligned or out-of-file tables and clusters, writes that would land on other
metadata) fails the request with EIO and, on a writable v3 image, sets the corrupt bit as QEMU
does, after which the image refuses further writes.
"""

from __future__ import annotations

import errno
import struct
import zlib
from collections.abc import Callable, Iterator

from pyqemu.block.driver import (
    BLOCK_ALLOCATED,
    BLOCK_COMPRESSED,
    BLOCK_DATA,
    BLOCK_OFFSET_VALID,
    BLOCK_ZERO,
    FIX_ERRORS,
    FIX_LEAKS,
    BlockDriver,
    BlockStatus,
    CheckResult,
    ImageInfo,
    Reporter,
    SnapshotInfo,
)
from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile
from pyqemu.block.qcow2 import check as qcheck
from pyqemu.block.qcow2 import create as qcreate
from pyqemu.block.qcow2 import snapshots as qsnap
from pyqemu.block.qcow2.clustermap import ClusterMap, l1_entries_for
from pyqemu.block.qcow2.format import (
    COMPAT_LAZY_REFCOUNTS,
    COMPRESSED,
    INCOMPAT_CORRUPT,
    INCOMPAT_DIRTY,
    MAGIC,
    MAX_L1_BYTES,
    NORMAL,
    OFFSET_MASK,
    OFLAG_COMPRESSED,
    OFLAG_COPIED,
    OFLAG_ZERO,
    UNALLOCATED,
    ZERO,
    Header,
    table_in_file,
)
from pyqemu.block.qcow2.overlap import MetadataMap
from pyqemu.block.qcow2.refcount import Refcounts
from pyqemu.block.qcow2.snapshot_table import MAX_SNAPSHOTS, Snapshot, parse_table

MAX_BATCH_BYTES = 4 << 20
COMPRESS_WBITS = -12
MAX_IMAGE_SIZE = (1 << 63) - 1


class Qcow2(BlockDriver):
    """An open qcow2 image."""

    format_name = "qcow2"
    supports_compression = True
    create_options = qcreate.OPTIONS

    def __init__(self, filename: str, readonly: bool = False, cache: str = "writeback",
                 check_mode: bool = False) -> None:
        super().__init__(filename, readonly)
        self.file = HostFile(filename, readonly)
        self._unsafe = cache == "unsafe"
        self._check_mode = check_mode
        self._corrupt = False
        self._keep_dirty = False
        try:
            self._open(check_mode)
        except BaseException:
            self.file.close()
            raise

    # -- open/close ---------------------------------------------------------------------------
    def _open(self, check_mode: bool) -> None:
        head = self.file.pread_short(0, 1 << 21)
        hdr = Header.parse(head)
        hdr.check_features()
        self.header = hdr
        self.cluster_bits = hdr.cluster_bits
        self.cluster_size = hdr.cluster_size
        self.csize_shift = 62 - (hdr.cluster_bits - 8)
        self.csize_mask = (1 << (hdr.cluster_bits - 8)) - 1
        self.coffset_mask = (1 << self.csize_shift) - 1
        self.backing_filename = hdr.backing_file
        self.backing_format = hdr.backing_format
        if hdr.incompatible_features & INCOMPAT_CORRUPT and not self.readonly and not check_mode:
            raise BlockError("qcow2: Image is corrupt; cannot be opened read/write", errno.EACCES)
        if hdr.size > MAX_IMAGE_SIZE or l1_entries_for(hdr.size, hdr.cluster_bits) * 8 > MAX_L1_BYTES:
            raise BlockError("Image is too big", errno.EFBIG)
        self.refcounts = Refcounts(self.file, hdr, self._barrier)
        self.map = ClusterMap(self.file, hdr, self.refcounts, self._barrier)
        self.snapshots = self._load_snapshots()
        self.overlap = MetadataMap(self)
        for part in (self.refcounts, self.map):
            part.guard = self.overlap.guard
            part.corrupt = self.corruption
        self._ccache: tuple[int, bytes] | None = None
        self.lazy = hdr.version >= 3 and bool(hdr.compatible_features & COMPAT_LAZY_REFCOUNTS)
        if self.readonly:
            return
        changed = False
        if hdr.autoclear_features:
            hdr.autoclear_features = 0
            changed = True
        if hdr.incompatible_features & INCOMPAT_DIRTY and not check_mode:
            qcheck.check(self, FIX_LEAKS | FIX_ERRORS, report=lambda _msg: None)
            hdr.incompatible_features &= ~INCOMPAT_DIRTY
            changed = True
        if changed:
            self.write_header()

    def _load_snapshots(self) -> list[Snapshot]:
        hdr = self.header
        self.snapshot_table_size = 0
        if not hdr.nb_snapshots:
            return []
        if hdr.nb_snapshots > MAX_SNAPSHOTS:
            raise BlockError("Snapshot table too large")
        file_size = self.file.size()
        if not table_in_file(hdr.snapshots_offset, 1, self.cluster_size, file_size):
            raise BlockError("Snapshot table offset invalid")
        raw = self.file.pread_short(hdr.snapshots_offset, 1 << 24)
        snapshots, self.snapshot_table_size = parse_table(raw, hdr.nb_snapshots)
        for sn in snapshots:
            if sn.l1_size * 8 > MAX_L1_BYTES:
                raise BlockError("Snapshot L1 table too large")
            if sn.l1_size and not table_in_file(sn.l1_table_offset, sn.l1_size * 8, self.cluster_size,
                                                file_size):
                raise BlockError("Snapshot L1 table offset invalid")
        return snapshots

    def corruption(self, message: str) -> BlockError:
        """Report metadata corruption found at run time; return the error to raise.

        A writable image is marked corrupt (the incompatible corrupt bit, v3) and refuses
        further writes; ``check -r`` and read-only users just get the error.
        """
        if self.readonly or self._check_mode:
            return BlockError(f"qcow2: Image is corrupt: {message}", errno.EIO)
        if not self._corrupt:
            self._corrupt = True
            hdr = self.header
            if hdr.version >= 3 and not hdr.incompatible_features & INCOMPAT_CORRUPT:
                hdr.incompatible_features |= INCOMPAT_CORRUPT
                try:
                    self.file.pwrite(72, struct.pack(">Q", hdr.incompatible_features))
                    self._barrier()
                except BlockError:
                    pass
        return BlockError(f"qcow2: Marking image as corrupt: {message}; further corruption events will "
                          "be suppressed", errno.EIO)

    def _barrier(self) -> None:
        if not self._unsafe:
            self.file.flush()

    def write_header(self) -> None:
        """Rewrite cluster 0's header, extensions and backing file name."""
        data = self.header.pack()
        self.file.pwrite(0, data)
        self._barrier()

    def reload(self) -> None:
        """Re-read all metadata after a structural change (snapshot switch, repair)."""
        self.refcounts.flush()
        self.refcounts.load_table()
        self.map.load_l1()
        self.snapshots = self._load_snapshots()
        self._ccache = None

    def flush(self) -> None:
        if self.readonly:
            return
        self.refcounts.flush()
        if not self._unsafe:
            self.file.flush()

    def close(self) -> None:
        if self.file.fd < 0:
            return
        try:
            if not self.readonly:
                self.refcounts.flush()
                if self.header.incompatible_features & INCOMPAT_DIRTY and not self._keep_dirty:
                    self.file.flush()
                    self.header.incompatible_features &= ~INCOMPAT_DIRTY
                    self.write_header()
                if not self._unsafe:
                    self.file.flush()
        finally:
            self.file.close()
            if self.backing is not None:
                self.backing.close()

    # -- class level --------------------------------------------------------------------------
    @classmethod
    def probe(cls, head: bytes, filename: str) -> int:
        if len(head) >= 8 and head[:4] == MAGIC and struct.unpack(">I", head[4:8])[0] >= 2:
            return 100
        return 0

    @classmethod
    def create(cls, filename: str, size: int, options: dict[str, str]) -> None:
        qcreate.create(cls, filename, size, options)

    # -- mapping ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.header.size

    def classify(self, entry: int) -> tuple[int, int]:
        """(kind, host offset) for an L2 entry."""
        if entry & OFLAG_COMPRESSED:
            return COMPRESSED, entry & self.coffset_mask
        if entry & OFLAG_ZERO and self.header.version >= 3:
            return ZERO, entry & OFFSET_MASK
        if entry & OFFSET_MASK:
            return NORMAL, entry & OFFSET_MASK
        return UNALLOCATED, 0

    def compressed_range(self, entry: int) -> tuple[int, int]:
        """(host offset, byte count) of the sectors a compressed cluster occupies."""
        offset = entry & self.coffset_mask
        sectors = ((entry >> self.csize_shift) & self.csize_mask) + 1
        return offset, sectors * 512 - (offset & 511)

    def _extents(self, offset: int, length: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield (guest pos, length, kind, host-or-entry) runs; compressed runs carry the entry."""
        cb, cs = self.cluster_bits, self.cluster_size
        end = offset + length
        pos = offset
        cur: list[int] | None = None
        while pos < end:
            cluster = pos >> cb
            for entry in self.map.entries(cluster, ((end - 1) >> cb) - cluster + 1):
                in_off = pos & (cs - 1)
                n = min(cs - in_off, end - pos)
                kind, host = self.classify(entry)
                if kind == COMPRESSED:
                    host = entry
                elif kind == NORMAL:
                    if host & (cs - 1):
                        raise self._unaligned(host, pos >> cb)
                    host += in_off
                if cur is not None and cur[2] == kind and kind != COMPRESSED and (
                        kind != NORMAL or cur[3] + cur[1] == host):
                    cur[1] += n
                else:
                    if cur is not None:
                        yield cur[0], cur[1], cur[2], cur[3]
                    cur = [pos, n, kind, host]
                pos += n
        if cur is not None:
            yield cur[0], cur[1], cur[2], cur[3]

    def _unaligned(self, host: int, cluster: int) -> BlockError:
        return self.corruption(f"Cluster allocation offset {host:#x} unaligned (guest cluster {cluster:#x})")

    def _decompress(self, entry: int) -> bytes:
        if self._ccache is not None and self._ccache[0] == entry:
            return self._ccache[1]
        offset, nbytes = self.compressed_range(entry)
        raw = self.file.pread(offset, nbytes)
        try:
            data = zlib.decompressobj(-15).decompress(raw, self.cluster_size)
        except zlib.error as exc:
            raise BlockError("Input/output error", errno.EIO) from exc
        if len(data) < self.cluster_size:
            raise BlockError("Input/output error", errno.EIO)
        self._ccache = (entry, data)
        return data

    # -- reads --------------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        self._check_bounds(offset, length)
        out = bytearray(length)
        view = memoryview(out)
        cs = self.cluster_size
        for pos, n, kind, host in self._extents(offset, length):
            rel = pos - offset
            if kind == NORMAL:
                self.file.readinto(host, view[rel:rel + n])  # beyond EOF stays zero
            elif kind == COMPRESSED:
                in_off = pos & (cs - 1)
                out[rel:rel + n] = self._decompress(host)[in_off:in_off + n]
            elif kind == UNALLOCATED and self.backing is not None:
                limit = self.backing.size
                if pos < limit:
                    m = min(n, limit - pos)
                    out[rel:rel + m] = self.backing.read(pos, m)
        return bytes(out)

    def _cluster_content(self, cluster: int, entry: int) -> bytes:
        """Whole guest cluster as currently visible (for copy-on-write)."""
        kind, host = self.classify(entry)
        cs = self.cluster_size
        if kind == NORMAL:
            return self.file.pread(host, cs)
        if kind == COMPRESSED:
            return self._decompress(entry)
        if kind == UNALLOCATED and self.backing is not None:
            start = cluster << self.cluster_bits
            limit = self.backing.size
            if start < limit:
                return self.backing.read(start, min(cs, limit - start)).ljust(cs, b"\0")
        return bytes(cs)

    def block_status(self, offset: int, length: int) -> BlockStatus:
        length = min(length, self.size - offset)
        pos, n, kind, host = next(self._extents(offset, length))
        if kind == NORMAL:
            return BlockStatus(BLOCK_DATA | BLOCK_OFFSET_VALID | BLOCK_ALLOCATED, n, host)
        if kind == COMPRESSED:
            return BlockStatus(BLOCK_DATA | BLOCK_ALLOCATED | BLOCK_COMPRESSED, n)
        if kind == ZERO:
            return BlockStatus(BLOCK_ZERO | BLOCK_ALLOCATED, n)
        return BlockStatus(BLOCK_ZERO if self.backing is None else 0, n)

    # -- writes -------------------------------------------------------------------------------
    def _begin_write(self) -> None:
        if self.readonly:
            raise BlockError("Block node is read-only", errno.EPERM)
        if self._corrupt:
            raise BlockError("qcow2: Image is corrupt; cannot be written", errno.EIO)
        if self.lazy and not self.header.incompatible_features & INCOMPAT_DIRTY:
            self.header.incompatible_features |= INCOMPAT_DIRTY
            self.write_header()
            self.refcounts.deferred = True

    def _in_place(self, entry: int) -> bool:
        return (entry & OFLAG_COPIED != 0 and entry & OFLAG_COMPRESSED == 0 and entry & OFFSET_MASK != 0
                and not (entry & OFLAG_ZERO and self.header.version >= 3))

    def entry_clusters(self, entry: int) -> tuple[int, int]:
        """(first host cluster, count) an L2 entry holds a reference to; count 0 for none."""
        kind, host = self.classify(entry)
        if kind == COMPRESSED:
            offset, nbytes = self.compressed_range(entry)
            start = offset & ~511
            end = start + ((nbytes + (offset & 511) + 511) & ~511)
            first = start >> self.cluster_bits
            return first, ((end - 1) >> self.cluster_bits) - first + 1
        if host:
            if host & (self.cluster_size - 1):
                raise self._unaligned(host, -1)
            return host >> self.cluster_bits, 1
        return 0, 0

    def _free_entry(self, entry: int) -> None:
        first, count = self.entry_clusters(entry)
        if count:
            try:
                self.refcounts.update(first, count, -1)
            except BlockError as exc:
                if exc.errno != errno.ERANGE:
                    raise
                # a reference the refcounts never counted: nothing to free (QEMU carries on too)
        if self._ccache is not None and self._ccache[0] == entry:
            self._ccache = None

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._check_bounds(offset, len(data))
        self._begin_write()
        view = memoryview(data).cast("B")
        cb, cs = self.cluster_bits, self.cluster_size
        l2_bits = self.map.l2_bits
        batch = max(1, MAX_BATCH_BYTES >> cb)
        end = offset + len(view)
        pos = offset
        while pos < end:
            cluster = pos >> cb
            last = min(((end - 1) >> cb) + 1, ((cluster >> l2_bits) + 1) << l2_bits, cluster + batch)
            ents = self.map.entries(cluster, last - cluster)
            if self._in_place(ents[0]):
                base = ents[0] & OFFSET_MASK
                k = 1
                while k < len(ents) and self._in_place(ents[k]) and ents[k] & OFFSET_MASK == base + k * cs:
                    k += 1
                n = min(end, (cluster + k) << cb) - pos
                host = base + (pos & (cs - 1))
                if base + (k - 1) * cs >= self.file.size():
                    raise self.corruption(f"Data cluster offset {base:#x} beyond the end of the image file")
                self.overlap.guard(host, n, 0)
                self.file.pwrite(host, view[pos - offset:pos - offset + n])
            else:
                k = 1
                while k < len(ents) and not self._in_place(ents[k]):
                    k += 1
                n = min(end, (cluster + k) << cb) - pos
                self._write_allocating(cluster, ents[:k], pos, view[pos - offset:pos - offset + n])
            pos += n

    def _write_allocating(self, cluster: int, old: list[int], pos: int, data: memoryview) -> None:
        cb, cs = self.cluster_bits, self.cluster_size
        k = len(old)
        head = pos & (cs - 1)
        tail = pos + len(data) - ((cluster + k - 1) << cb)
        payload: bytes | bytearray | memoryview = data
        if head or tail < cs:
            buf = bytearray(k * cs)
            if head:
                buf[0:cs] = self._cluster_content(cluster, old[0])
            if tail < cs and (k > 1 or not head):
                buf[(k - 1) * cs:k * cs] = self._cluster_content(cluster + k - 1, old[-1])
            buf[head:head + len(data)] = data
            payload = buf
        host = self.refcounts.alloc(k)
        self.overlap.guard(host, k * cs, 0)
        self.file.pwrite(host, payload)
        self._barrier()
        self.map.set_entries(cluster, [(host + i * cs) | OFLAG_COPIED for i in range(k)])
        for entry in old:
            self._free_entry(entry)

    def deflate(self, data: bytes) -> bytes:
        """The raw deflate stream of one cluster (zero-padded); thread-safe, touches no state."""
        comp = zlib.compressobj(6, zlib.DEFLATED, COMPRESS_WBITS)
        return comp.compress(bytes(data).ljust(self.cluster_size, b"\0")) + comp.flush()

    def write_compressed(self, offset: int, data: bytes, deflated: bytes | None = None) -> None:
        """Write one whole cluster (the last may be short) as a compressed cluster."""
        cs = self.cluster_size
        if offset & (cs - 1) or len(data) > cs or (len(data) < cs and offset + len(data) != self.size):
            raise BlockError("Compressed writes must cover whole clusters", errno.EINVAL)
        self._check_bounds(offset, len(data))
        self._begin_write()
        packed = deflated if deflated is not None else self.deflate(data)
        if len(packed) >= cs:
            self.write(offset, data)
            return
        host = self.refcounts.alloc_bytes(len(packed))
        self.overlap.guard(host, len(packed), 0)
        self.file.pwrite(host, packed)
        self._barrier()
        sectors = ((host + len(packed) - 1) >> 9) - (host >> 9)
        entry = OFLAG_COMPRESSED | (sectors << self.csize_shift) | host
        old = self.map.set_entries(offset >> self.cluster_bits, [entry])
        self._free_entry(old[0])

    def _replace_full_clusters(self, first: int, count: int, value: int) -> None:
        """Point ``count`` guest clusters at ``value`` (0 or the zero flag), releasing old data."""
        l2_size = self.map.l2_size
        end = first + count
        while first < end:
            n = min(end - first, l2_size - (first % l2_size))
            current = self.map.entries(first, n)
            if any(entry != value and not (entry == 0 and value == OFLAG_ZERO and self.backing is None)
                   for entry in current):
                old = self.map.set_entries(first, [value] * n)
                self._barrier()
                for entry in old:
                    self._free_entry(entry)
            first += n

    def _reads_zero(self, offset: int, length: int) -> bool:
        for _pos, _n, kind, _host in self._extents(offset, length):
            if kind == ZERO or (kind == UNALLOCATED and self.backing is None):
                continue
            return False
        return True

    def write_zeroes(self, offset: int, length: int) -> None:
        self._check_bounds(offset, length)
        self._begin_write()
        cs = self.cluster_size
        first = -(-offset // cs)
        last = (offset + length) // cs
        if (offset + length) == self.size:
            last = -(-self.size // cs)
        if first >= last:
            if not self._reads_zero(offset, length):
                self.write(offset, bytes(length))
            return
        for start, end in ((offset, first * cs), (min(last * cs, offset + length), offset + length)):
            if end > start and not self._reads_zero(start, end - start):
                self.write(start, bytes(end - start))
        if self.header.version >= 3:
            self._replace_full_clusters(first, last - first, OFLAG_ZERO)
        elif self.backing is None:
            self._replace_full_clusters(first, last - first, 0)
        else:
            BlockDriver.write_zeroes(self, first * cs, min(last * cs, self.size) - first * cs)

    def discard(self, offset: int, length: int) -> None:
        self._check_bounds(offset, length)
        self._begin_write()
        cs = self.cluster_size
        first = -(-offset // cs)
        last = (offset + length) // cs if offset + length < self.size else -(-self.size // cs)
        if first < last:
            value = OFLAG_ZERO if self.header.version >= 3 and self.backing is not None else 0
            self._replace_full_clusters(first, last - first, value)

    def make_empty(self) -> None:
        self._begin_write()
        self._replace_full_clusters(0, -(-self.size // self.cluster_size), 0)

    # -- management ---------------------------------------------------------------------------
    def get_info(self) -> ImageInfo:
        info = super().get_info()
        hdr = self.header
        info.cluster_size = self.cluster_size
        info.dirty = bool(hdr.incompatible_features & INCOMPAT_DIRTY)
        info.backing_filename = hdr.backing_file
        info.backing_format = hdr.backing_format
        info.snapshots = self.snapshot_list()
        spec: dict[str, object] = {"compat": "1.1" if hdr.version >= 3 else "0.10",
                                   "compression-type": "zlib"}
        if hdr.version >= 3:
            spec["lazy-refcounts"] = bool(hdr.compatible_features & COMPAT_LAZY_REFCOUNTS)
        spec["refcount-bits"] = 1 << hdr.refcount_order
        if hdr.version >= 3:
            spec["corrupt"] = bool(hdr.incompatible_features & INCOMPAT_CORRUPT)
            spec["extended-l2"] = False
        info.format_specific = spec
        return info

    def check(self, fix: int = 0, report: Reporter | None = None) -> CheckResult:
        return qcheck.check(self, fix, report)

    def truncate(self, size: int, shrink: bool = False, prealloc: str = "off") -> None:
        if self.readonly:
            raise BlockError("Block node is read-only", errno.EPERM)
        if self.snapshots:
            raise BlockError("Can't resize an image which has snapshots", errno.ENOTSUP)
        if size % 512:
            raise BlockError("The new size must be a multiple of 512", errno.EINVAL)
        old = self.size
        if size < old:
            cs = self.cluster_size
            first = -(-size // cs)
            self._replace_full_clusters(first, -(-old // cs) - first, 0)
            if size % cs and not self._reads_zero(size, min(old, first * cs) - size):
                self.header.size = old
                self.write(size, bytes(min(old, first * cs) - size))
        else:
            self.map.grow_l1(l1_entries_for(size, self.cluster_bits), exact=True)
        self.header.size = size
        self.file.pwrite(24, struct.pack(">Q", size))
        self._barrier()
        if size > old and prealloc != "off":
            qcreate.preallocate(self, old, size, prealloc)

    def change_backing_file(self, filename: str | None, fmt: str | None) -> None:
        if self.readonly:
            raise BlockError("Block node is read-only", errno.EPERM)
        self.header.backing_file = filename or None
        self.header.backing_format = fmt if filename else None
        self.write_header()
        self.backing_filename = self.header.backing_file
        self.backing_format = self.header.backing_format

    def amend(self, options: dict[str, str]) -> None:
        qcreate.amend(self, options)

    def snapshot_list(self) -> list[SnapshotInfo]:
        return [SnapshotInfo(sn.id, sn.name, sn.vm_state_size, sn.date_sec, sn.date_nsec,
                             sn.vm_clock_nsec, sn.icount) for sn in self.snapshots]

    def snapshot_create(self, name: str) -> None:
        self._snapshot_op(qsnap.create, name)

    def snapshot_goto(self, name: str) -> None:
        self._snapshot_op(qsnap.goto, name)

    def snapshot_delete(self, name: str) -> None:
        self._snapshot_op(qsnap.delete, name)

    def _snapshot_op(self, operation: Callable[[Qcow2, str], None], name: str) -> None:
        """Run a snapshot operation under the dirty bit (v3).

        A snapshot operation changes the refcounts and the COPIED flags of many clusters, in
        writes that cannot all land at once; an interrupted one leaves mismatches that ``check``
        reports as errors.  With the dirty bit set for its duration, an image left behind by a
        crash is repaired on its next read-write open, as a lazy-refcounts image is.
        """
        self._begin_write()
        hdr = self.header
        mark = hdr.version >= 3 and not hdr.incompatible_features & INCOMPAT_DIRTY
        if mark:
            hdr.incompatible_features |= INCOMPAT_DIRTY
            self.write_header()
        try:
            operation(self, name)
        except BaseException:
            # possibly half done: leave the repair to the next read-write open
            self._keep_dirty = hdr.version >= 3
            raise
        if mark:
            self.refcounts.flush()
            self._barrier()
            hdr.incompatible_features &= ~INCOMPAT_DIRTY
            self.write_header()
