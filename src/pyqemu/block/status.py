"""Block status through a backing chain (QEMU's bdrv_block_status_above) and ``map`` extents."""

from __future__ import annotations

from dataclasses import dataclass

from pyqemu.block.driver import (
    BLOCK_ALLOCATED,
    BLOCK_COMPRESSED,
    BLOCK_DATA,
    BLOCK_OFFSET_VALID,
    BLOCK_ZERO,
    BlockDriver,
    BlockStatus,
)


def chain_status(top: BlockDriver, offset: int, length: int) -> tuple[BlockStatus, int, BlockDriver]:
    """Status of the run at ``offset`` as the guest of ``top`` sees it: (status, depth, layer).

    ``depth`` counts backing links followed until a layer that allocates the run (or the bottom
    of the chain); the run never spans a change of status in any layer that was consulted.
    """
    node, depth = top, 0
    length = min(length, top.size - offset)
    while True:
        status = node.block_status(offset, length)
        length = status.length
        if status.flags & BLOCK_ALLOCATED or node.backing is None:
            return status, depth, node
        backing = node.backing
        if offset >= backing.size:
            return BlockStatus(BLOCK_ZERO, length), depth, node
        length = min(length, backing.size - offset)
        node, depth = backing, depth + 1


def reads_as_zero(top: BlockDriver, offset: int, length: int) -> tuple[bool, int]:
    """(True, n) when the first n bytes at ``offset`` are known to read as zeros without reading."""
    status, _depth, _layer = chain_status(top, offset, length)
    known_zero = bool(status.flags & BLOCK_ZERO) and not status.flags & BLOCK_DATA
    return known_zero, status.length


@dataclass
class MapEntry:
    """One line of ``qemu-img map``."""

    start: int
    length: int
    depth: int
    present: bool
    zero: bool
    data: bool
    compressed: bool
    offset: int | None
    filename: str

    def extends(self, other: MapEntry) -> bool:
        """True when ``other`` directly continues this entry with the same properties."""
        if (self.depth, self.present, self.zero, self.data, self.compressed, self.filename) != (
                other.depth, other.present, other.zero, other.data, other.compressed, other.filename):
            return False
        if self.start + self.length != other.start:
            return False
        if self.offset is None or other.offset is None:
            return self.offset is None and other.offset is None
        return self.offset + self.length == other.offset


def map_extents(top: BlockDriver, start: int = 0, length: int | None = None) -> list[MapEntry]:
    """The merged allocation map of ``top``'s chain over ``[start, start+length)``."""
    end = top.size if length is None else min(top.size, start + length)
    out: list[MapEntry] = []
    pos = start
    while pos < end:
        status, depth, layer = chain_status(top, pos, end - pos)
        flags = status.flags
        entry = MapEntry(
            start=pos, length=status.length, depth=depth, present=bool(flags & BLOCK_ALLOCATED),
            zero=bool(flags & BLOCK_ZERO), data=bool(flags & BLOCK_DATA),
            compressed=bool(flags & BLOCK_COMPRESSED),
            offset=status.host_offset if flags & BLOCK_OFFSET_VALID else None, filename=layer.filename)
        if out and out[-1].extends(entry):
            out[-1].length += entry.length
        else:
            out.append(entry)
        pos += status.length
    return out
