"""Copying guest data between images: ``convert``, ``commit`` and safe ``rebase``.

Each routine walks the guest address space in chunks, asks block status first so that known
zero or unallocated runs are skipped without reading them, and reports progress as a fraction.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.block.driver import BLOCK_ALLOCATED, BLOCK_DATA, BLOCK_ZERO, BlockDriver
from pyqemu.block.errors import BlockError
from pyqemu.block.status import chain_status, reads_as_zero

CHUNK = 1 << 20
Progress = Callable[[float], None]


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


def _nonzero_runs(data: bytes, unit: int) -> list[tuple[int, int]]:
    """(start, length) runs of ``data`` whose ``unit``-sized pieces are not all zero."""
    zero = bytes(unit)
    runs: list[tuple[int, int]] = []
    for pos in range(0, len(data), unit):
        piece = data[pos:pos + unit]
        if piece == zero[:len(piece)]:
            continue
        if runs and runs[-1][0] + runs[-1][1] == pos:
            runs[-1] = (runs[-1][0], runs[-1][1] + len(piece))
        else:
            runs.append((pos, len(piece)))
    return runs


def convert(sources: list[BlockDriver], target: BlockDriver, *, compress: bool = False,
            min_sparse: int = 4096, target_is_new: bool = True, progress: Progress = _no_progress) -> None:
    """Copy the concatenation of ``sources`` into ``target`` (qemu-img convert)."""
    src = ConcatSource(sources)
    if src.size > target.size:
        raise BlockError("Target image is too small", 28)
    base = target.backing
    cluster = getattr(target, "cluster_size", 65536) if compress else 0
    step = cluster if compress else CHUNK
    pos = 0
    while pos < src.size:
        n = min(step - pos % step, src.size - pos)
        zero, run = src.zero_run(pos, n)
        if compress:
            zero = zero and run >= n
        elif zero:
            n = run
        data = None if zero else src.read(pos, n)
        if data is not None and data == bytes(n):
            data, zero = None, True
        if zero:
            _write_zero_run(target, base, pos, n, target_is_new, min_sparse)
        elif compress:
            if base is not None and base.read(pos, n) == data:
                pass
            else:
                target.write_compressed(pos, data)
        else:
            _write_data(target, base, pos, data, target_is_new, min_sparse)
        pos += n
        progress(pos / src.size)
    progress(1.0)
    target.flush()


def _write_zero_run(target: BlockDriver, base: BlockDriver | None, pos: int, n: int, new: bool,
                    min_sparse: int) -> None:
    if base is not None:
        if pos < base.size and base.read(pos, min(n, base.size - pos)) != bytes(min(n, base.size - pos)):
            target.write_zeroes(pos, n)
    elif min_sparse == 0:
        target.write(pos, bytes(n))
    elif not new:
        target.write_zeroes(pos, n)


def _write_data(target: BlockDriver, base: BlockDriver | None, pos: int, data: bytes, new: bool,
                min_sparse: int) -> None:
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
    for off, length in _nonzero_runs(data, min_sparse):
        target.write(pos + off, data[off:off + length])


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
