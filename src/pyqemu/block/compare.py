"""Guest-visible comparison of two images (``qemu-img compare``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyqemu.block.driver import BLOCK_ALLOCATED, BLOCK_DATA, BLOCK_ZERO, BlockDriver
from pyqemu.block.status import chain_status, reads_as_zero

CHUNK = 1 << 20
SECTOR = 512


@dataclass
class CompareResult:
    """Outcome: ``identical``, or the first mismatching offset / a strict-mode reason."""

    identical: bool
    size_mismatch: bool = False
    mismatch_offset: int | None = None
    strict_reason: str | None = None


def _first_difference(a: bytes, b: bytes) -> int:
    for pos in range(0, len(a), SECTOR):
        if a[pos:pos + SECTOR] != b[pos:pos + SECTOR]:
            return pos
    return -1


def _first_nonzero(data: bytes) -> int:
    zero = bytes(SECTOR)
    for pos in range(0, len(data), SECTOR):
        piece = data[pos:pos + SECTOR]
        if piece != zero[:len(piece)]:
            return pos
    return -1


def _allocation(drv: BlockDriver, offset: int, n: int) -> tuple[bool, int]:
    status, _depth, _layer = chain_status(drv, offset, n)
    return bool(status.flags & (BLOCK_ALLOCATED | BLOCK_DATA)) and not (
        status.flags & BLOCK_ZERO and not status.flags & BLOCK_DATA), status.length


def compare(a: BlockDriver, b: BlockDriver, strict: bool = False,
            progress: Callable[[float], None] | None = None) -> CompareResult:
    """Compare guest contents; a size difference is fine when the extra part reads as zeros."""
    if strict and a.size != b.size:
        return CompareResult(False, True, strict_reason="Image size mismatch!")
    common = min(a.size, b.size)
    total = max(a.size, b.size) or 1
    pos = 0
    while pos < common:
        n = min(CHUNK, common - pos)
        za, na = reads_as_zero(a, pos, n)
        zb, nb = reads_as_zero(b, pos, n)
        if strict:
            alloc_a, sa = _allocation(a, pos, n)
            alloc_b, sb = _allocation(b, pos, n)
            if alloc_a != alloc_b:
                return CompareResult(False, strict_reason=f"Offset {pos} block status mismatch!")
            n = min(n, sa, sb)
        if za and zb:
            n = min(na, nb)
        else:
            diff = _first_difference(a.read(pos, n), b.read(pos, n))
            if diff >= 0:
                return CompareResult(False, a.size != b.size, mismatch_offset=pos + diff)
        pos += n
        if progress:
            progress(pos / total)
    longer = a if a.size > b.size else b
    while pos < longer.size:
        n = min(CHUNK, longer.size - pos)
        zero, run = reads_as_zero(longer, pos, n)
        if zero:
            n = run
        else:
            nz = _first_nonzero(longer.read(pos, n))
            if nz >= 0:
                return CompareResult(False, True, mismatch_offset=pos + nz)
        pos += n
        if progress:
            progress(pos / total)
    return CompareResult(True, a.size != b.size)
