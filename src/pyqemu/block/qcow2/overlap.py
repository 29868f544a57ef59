"""qcow2 metadata overlap protection: no write may land on metadata it was not meant for.

Spec sections "Host cluster management" and "Cluster mapping": every host cluster has one role
(header, L1/L2 table, refcount table/block, snapshot table, data).  A corrupt image can make two
roles share a cluster -- an L2 entry pointing at the refcount table, a refcount of 0 on the L1
table so that allocation hands it out again -- and a write through such a path would destroy
metadata.  Like QEMU's default ("cached") overlap check, every write is checked against the
clusters of the header, the active L1 and L2 tables, the refcount table and blocks, the snapshot
table and the snapshots' L1 tables; an overlap is reported as corruption instead of written.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyqemu.block.errors import BlockError
from pyqemu.block.qcow2.format import OFFSET_MASK

if TYPE_CHECKING:
    from pyqemu.block.qcow2.driver import Qcow2

HEADER = 1 << 0
ACTIVE_L1 = 1 << 1
ACTIVE_L2 = 1 << 2
REFCOUNT_TABLE = 1 << 3
REFCOUNT_BLOCK = 1 << 4
SNAPSHOT_TABLE = 1 << 5
INACTIVE_L1 = 1 << 6

KIND_NAMES = {
    HEADER: "qcow2_header",
    ACTIVE_L1: "active L1 table",
    ACTIVE_L2: "active L2 table",
    REFCOUNT_TABLE: "refcount table",
    REFCOUNT_BLOCK: "refcount block",
    SNAPSHOT_TABLE: "snapshot table",
    INACTIVE_L1: "inactive L1 table",
}

#: ``corrupt(message)``: report run-time corruption; returns the BlockError to raise.
Corrupt = Callable[[str], BlockError]

#: ``guard(offset, length, allowed)``: raise unless ``[offset, offset+length)`` touches only
#: clusters that are not metadata or whose roles are all in the ``allowed`` mask.
Guard = Callable[[int, int, int], None]


def no_guard(_offset: int, _length: int, _allowed: int = 0) -> None:
    """A guard that accepts every write (used until the driver installs its own)."""


class MetadataMap:
    """Host cluster -> role bits of one open image, rebuilt whenever the layout changed."""

    def __init__(self, drv: Qcow2) -> None:
        self.drv = drv
        self.cluster_bits = drv.cluster_bits
        self._key: tuple[object, ...] | None = None
        self._roles: dict[int, int] = {}

    def _layout_key(self) -> tuple[object, ...]:
        drv, hdr = self.drv, self.drv.header
        return (drv.map.generation, drv.refcounts.generation, hdr.l1_table_offset, hdr.l1_size,
                hdr.refcount_table_offset, hdr.refcount_table_clusters, hdr.snapshots_offset,
                drv.snapshot_table_size, id(drv.snapshots))

    def roles(self) -> dict[int, int]:
        """The current map (cached until the layout changes)."""
        key = self._layout_key()
        if key != self._key:
            self._roles = self._build()
            self._key = key
        return self._roles

    def _build(self) -> dict[int, int]:
        drv, hdr = self.drv, self.drv.header
        cb = self.cluster_bits
        roles: dict[int, int] = {}

        def mark(offset: int, length: int, role: int) -> None:
            if length <= 0:
                return
            for cluster in range(offset >> cb, ((offset + length - 1) >> cb) + 1):
                roles[cluster] = roles.get(cluster, 0) | role

        mark(0, 1, HEADER)
        mark(hdr.l1_table_offset, hdr.l1_size * 8, ACTIVE_L1)
        for entry in drv.map.l1:
            if entry & OFFSET_MASK:
                mark(entry & OFFSET_MASK, 1, ACTIVE_L2)
        mark(hdr.refcount_table_offset, hdr.refcount_table_clusters << cb, REFCOUNT_TABLE)
        for block in drv.refcounts.table:
            if block:
                mark(block, 1, REFCOUNT_BLOCK)
        if hdr.nb_snapshots:
            mark(hdr.snapshots_offset, drv.snapshot_table_size, SNAPSHOT_TABLE)
        for sn in drv.snapshots:
            mark(sn.l1_table_offset, sn.l1_size * 8, INACTIVE_L1)
        return roles

    def overlaps(self, offset: int, length: int, allowed: int = 0) -> int:
        """Role bits (outside ``allowed``) of metadata in ``[offset, offset+length)``; 0 if none."""
        if length <= 0:
            return 0
        roles = self.roles()
        first = offset >> self.cluster_bits
        last = (offset + length - 1) >> self.cluster_bits
        found = 0
        if last - first < len(roles):
            for cluster in range(first, last + 1):
                found |= roles.get(cluster, 0)
        else:
            for cluster, bits in roles.items():
                if first <= cluster <= last:
                    found |= bits
        return found & ~allowed

    def guard(self, offset: int, length: int, allowed: int = 0) -> None:
        """Raise the driver's corruption error if the write would hit foreign metadata."""
        bad = self.overlaps(offset, length, allowed)
        if bad:
            name = KIND_NAMES[bad & -bad]
            raise self.drv.corruption(f"Preventing invalid write on metadata (overlaps with {name})")


def corruption_error(message: str) -> BlockError:
    """The error for corruption found without a driver to mark it (the read-only wording)."""
    return BlockError(f"qcow2: Image is corrupt: {message}", errno.EIO)
