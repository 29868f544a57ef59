"""Copying guest data between images: ``convert``, ``commit`` and safe ``rebase``.

Each routine walks the guest address space in chunks, asks block status first so that known
zero or unallocated runs are skipped without reading them, and reports progress as a fraction.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyqemu.block.driver import BLOCK_ALLOCATED, BLOCK_DATA, BLOCK_ZERO, BlockDriver
from pyqemu.block.errors import BlockError
from pyqemu.block.status import chain_status, reads_as_zero

CHUNK = 1 << 20
COMPRESS_THREADS = 4
COMPRESS_BATCH = 64
Progress = Callable[[float], None]
_T = TypeVar("_T")


def _no_progress(_fraction: float) -> None:
    pass


class ConcatSource:
    """Several source images read back to back as one (``convert`` with many inputs)."""

    def __init__(self, sources: list[BlockDriver]) -> None:
        self.sources = sources
        self.starts: list[int] = []
        pos = 0
        for src in sources:
            self.starts.append(pos)
            pos += src.size
        self.size = pos

    def _locate(self, offset: int) -> tuple[BlockDriver, int, int]:
        for src, start in zip(reversed(self.sources), reversed(self.starts), strict=True):
            if offset >= start:
                return src, offset - start, src.size - (offset - start)
        raise ValueError(offset)

    def zero_run(self, offset: int, length: int) -> tuple[bool, int]:
        """(known zero, run length) for the bytes at ``offset`` (within one source)."""
        src, rel, left = self._locate(offset)
        return reads_as_zero(src, rel, min(length, left))

    def read(self, offset: int, length: int) -> bytes:
        parts = []
        while length > 0:
            src, rel, left = self._locate(offset)
            n = min(length, left)
            parts.append(src.read(rel, n))
            offset += n
            length -= n
        return b"".join(parts)


_ZERO = bytes(CHUNK)


def is_zero(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` is all zero bytes (a memcmp per MiB against a zero buffer, no copies)."""
    if len(data) <= CHUNK:
        return _ZERO.startswith(data)
    view = memoryview(data).cast("B")
    return all(_ZERO.startswith(view[pos:pos + CHUNK]) for pos in range(0, len(view), CHUNK))


def _nonzero_runs(data: bytes, unit: int) -> list[tuple[int, int]]:
    """(start, length) runs of ``data`` whose ``unit``-sized pieces are not all zero.

    Zero pieces are found with ``bytes.find`` of a zero unit (a C-speed skip search: random data
    is passed over a unit at a time), then confirmed at unit alignment.
    """
    size = len(data)
    zero = _ZERO[:unit] if unit <= CHUNK else bytes(unit)
    runs: list[tuple[int, int]] = []
    start = pos = 0
    while size - pos >= unit:
        hit = data.find(zero, pos)
        if hit < 0:
            break
        aligned = -(-hit // unit) * unit
        if aligned + unit > size or not data.startswith(zero, aligned, aligned + unit):
            pos = aligned  # > hit: the zero run found does not cover an aligned piece
            continue
        end = aligned + unit
        while end + unit <= size and data.startswith(zero, end, end + unit):
            end += unit
        if aligned > start:
            runs.append((start, aligned - start))
        start = pos = end
    if start < size:
        tail = size - size % unit if size % unit else size
        if tail < size and tail >= start and is_zero(memoryview(data)[tail:]):
            size = tail
        if size > start:
            runs.append((start, size - start))
    return runs


Chunk = tuple[int, int, bytes | None, list[tuple[int, int]] | None]


def _source_chunks(src: ConcatSource, step: int, whole: bool, sparse_unit: int) -> Iterator[Chunk]:
    """(offset, length, data, runs) of the source in order; data None where it reads as zeros.

    Known-zero runs are skipped without reading (block status); with ``whole`` every run is
    exactly one ``step``-aligned piece (compressed clusters), otherwise zero runs may be longer.
    With a ``sparse_unit``, ``runs`` are the data's non-zero runs at that granularity.
    """
    pos = 0
    while pos < src.size:
        n = min(step - pos % step, src.size - pos)
        zero, run = src.zero_run(pos, n)
        if whole:
            zero = zero and run >= n
        elif zero:
            n = run
        data = None if zero else src.read(pos, n)
        if data is None or is_zero(data):
            yield pos, n, None, None
        else:
            yield pos, n, data, _nonzero_runs(data, sparse_unit) if sparse_unit else None
        pos += n


def _read_ahead(items: Iterator[_T], depth: int = 4) -> Iterator[_T]:
    """Iterate ``items`` in a background thread, up to ``depth`` ahead of the consumer.

    Lets source reads (``pread`` drops the GIL) overlap the target writes of ``convert``.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))

    worker = threading.Thread(target=produce, name="convert-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join()


def convert(sources: list[BlockDriver], target: BlockDriver, *, compress: bool = False,
            min_sparse: int = 4096, target_is_new: bool = True, progress: Progress = _no_progress) -> None:
    """Copy the concatenation of ``sources`` into ``target`` (qemu-img convert).

    The source is read (and scanned for zeros) one step ahead in a second thread.  With
    ``compress``, clusters are deflated by a small thread pool (zlib drops the GIL) in batches
    and written in guest order, as qemu-img's compression threads do.
    """
    src = ConcatSource(sources)
    if src.size > target.size:
        raise BlockError("Target image is too small", 28)
    base = target.backing
    cluster = getattr(target, "cluster_size", 65536) if compress else 0
    step = cluster if compress else CHUNK
    workers = min(COMPRESS_THREADS, os.cpu_count() or 1) if compress else 0
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    batch: list[tuple[int, bytes]] = []

    def write_batch() -> None:
        datas = [data for _pos, data in batch]
        packed = pool.map(target.deflate, datas) if pool is not None else map(target.deflate, datas)
        for (at, data), deflated in zip(batch, packed, strict=True):
            target.write_compressed(at, data, deflated)
        batch.clear()

    sparse_unit = min_sparse if base is None and target_is_new and not compress else 0
    try:
        for pos, n, data, runs in _read_ahead(_source_chunks(src, step, compress, sparse_unit)):
            if data is None:
                _write_zero_run(target, base, pos, n, target_is_new, min_sparse)
            elif compress:
                if base is None or base.read(pos, n) != data:
                    batch.append((pos, data))
                    if len(batch) >= COMPRESS_BATCH:
                        write_batch()
            else:
                _write_data(target, base, pos, data, runs, target_is_new, min_sparse)
            progress((pos + n) / src.size)
        write_batch()
    finally:
        if pool is not None:
            pool.shutdown()
    progress(1.0)
    target.flush()


def _write_zero_run(target: BlockDriver, base: BlockDriver | None, pos: int, n: int, new: bool,
                    min_sparse: int) -> None:
    if base is not None:
        if pos < base.size and not is_zero(base.read(pos, min(n, base.size - pos))):
            target.write_zeroes(pos, n)
    elif min_sparse == 0:
        target.write(pos, bytes(n))
    elif not new:
        target.write_zeroes(pos, n)


def _write_data(target: BlockDriver, base: BlockDriver | None, pos: int, data: bytes,
                runs: list[tuple[int, int]] | None, new: bool, min_sparse: int) -> None:
    if base is not None:
        limit = max(0, min(len(data), base.size - pos))
        old = base.read(pos, limit) + bytes(len(data) - limit) if limit else bytes(len(data))
        unit = 4096
        for off in range(0, len(data), unit):
            if data[off:off + unit] != old[off:off + unit]:
                target.write(pos + off, data[off:off + unit])
        return
    if min_sparse == 0 or not new:
        target.write(pos, data)
        return
    view = memoryview(data)
    for off, length in runs if runs is not None else _nonzero_runs(data, min_sparse):
        target.write(pos + off, view[off:off + length])


def commit(top: BlockDriver, base: BlockDriver, progress: Progress = _no_progress) -> None:
    """Write everything allocated above ``base`` in ``top``'s chain into ``base``.

    ``base`` must be an image in ``top``'s backing chain, opened separately for writing.
    """
    layers: list[BlockDriver] = []
    node = top
    while node is not None and node.filename != base.filename:
        layers.append(node)
        node = node.backing
    if node is None:
        raise BlockError(f"'{base.filename}' is not in the backing chain of '{top.filename}'", 22)
    if base.size < top.size:
        base.truncate(top.size)
    size = top.size
    pos = 0
    while pos < size:
        n = min(CHUNK, size - pos)
        allocated = False
        for layer in layers:
            if pos >= layer.size:
                break
            status = layer.block_status(pos, n)
            n = status.length
            if status.flags & BLOCK_ALLOCATED:
                allocated = True
                break
        if allocated:
            status, _depth, _layer = chain_status(top, pos, n)
            n = status.length
            if status.flags & BLOCK_ZERO and not status.flags & BLOCK_DATA:
                base.write_zeroes(pos, n)
            else:
                base.write(pos, top.read(pos, n))
        pos += n
        progress(pos / size)
    progress(1.0)
    base.flush()


def rebase(image: BlockDriver, new_backing: BlockDriver | None, progress: Progress = _no_progress) -> None:
    """Copy into ``image`` every unallocated range where old and new backing data differ."""
    old = image.backing
    size = image.size
    pos = 0

    def backing_data(node: BlockDriver | None, offset: int, n: int) -> bytes:
        if node is None or offset >= node.size:
            return bytes(n)
        m = min(n, node.size - offset)
        return node.read(offset, m) + bytes(n - m)

    while pos < size:
        n = min(CHUNK, size - pos)
        status = image.block_status(pos, n)
        n = status.length
        if not status.flags & BLOCK_ALLOCATED:
            old_data = backing_data(old, pos, n)
            new_data = backing_data(new_backing, pos, n)
            unit = 65536
            for off in range(0, n, unit):
                if old_data[off:off + unit] != new_data[off:off + unit]:
                    image.write(pos + off, old_data[off:off + unit])
        pos += n
        progress(pos / size)
    progress(1.0)
    image.flush()
