"""qcow2 internal snapshots: create, apply (goto) and delete.

Spec section "Snapshots": a snapshot is a copy of the active L1 table; every L2 table and data
cluster reachable from it gains a reference, and COPIED flags in the active tables are
recomputed from the refcounts afterwards.
"""

from __future__ import annotations

import errno
import struct
import time
from typing import TYPE_CHECKING

from pyqemu.block.errors import BlockError
from pyqemu.block.qcow2.format import NORMAL, OFFSET_MASK, OFLAG_COPIED, ZERO
from pyqemu.block.qcow2.overlap import ACTIVE_L1
from pyqemu.block.qcow2.snapshot_table import MAX_SNAPSHOTS, Snapshot, pack_table

if TYPE_CHECKING:
    from pyqemu.block.qcow2.driver import Qcow2


def find(drv: Qcow2, name: str) -> Snapshot | None:
    """Look a snapshot up by id first, then by name (as QEMU does)."""
    for sn in drv.snapshots:
        if sn.id == name:
            return sn
    for sn in drv.snapshots:
        if sn.name == name:
            return sn
    return None


def read_l1(drv: Qcow2, offset: int, size: int) -> list[int]:
    """Read an L1 table of ``size`` entries."""
    if not size:
        return []
    return list(struct.unpack(f">{size}Q", drv.file.pread(offset, size * 8)))


def update_tree(drv: Qcow2, l1: list[int], delta: int) -> None:
    """Add ``delta`` to the refcount of every L2 table and cluster reachable from ``l1``.

    Every reference is validated (aligned, inside the image file) before any refcount changes.
    """
    rc = drv.refcounts
    cb = drv.cluster_bits
    limit = -(-drv.file.size() >> cb)
    updates: list[tuple[int, int]] = []
    for l1_entry in l1:
        l2_off = l1_entry & OFFSET_MASK
        if not l2_off:
            continue
        for entry in drv.map.read_l2(l2_off):
            first, count = drv.entry_clusters(entry)
            if count:
                if first + count > limit:
                    raise drv.corruption(f"Cluster {first:#x} referenced by L2 table {l2_off:#x} is beyond "
                                         "the end of the image file")
                updates.append((first, count))
        updates.append((l2_off >> cb, 1))
    if delta > 0:  # refuse up front what would overflow half-way through
        tally: dict[int, int] = {}
        for first, count in updates:
            for cluster in range(first, first + count):
                tally[cluster] = tally.get(cluster, 0) + delta
        for cluster, add in tally.items():
            if rc.get(cluster) + add > rc.max_refcount:
                raise BlockError(f"Refcount overflow for cluster {cluster}", errno.ERANGE)
    for first, count in updates:
        rc.update(first, count, delta)


def refresh_copied(drv: Qcow2) -> None:
    """Recompute the COPIED flags of the active L1 table and its L2 tables."""
    rc, cmap = drv.refcounts, drv.map
    cb = drv.cluster_bits
    for index, l1_entry in enumerate(cmap.l1):
        l2_off = l1_entry & OFFSET_MASK
        if not l2_off:
            continue
        wanted = (l1_entry & ~OFLAG_COPIED) | (OFLAG_COPIED if rc.get(l2_off >> cb) == 1 else 0)
        if wanted != l1_entry:
            cmap.set_l1(index, wanted)
        table = cmap.read_l2(l2_off)
        changed = False
        for i, entry in enumerate(table):
            kind, host = drv.classify(entry)
            if kind in (NORMAL, ZERO) and host:
                new = (entry & ~OFLAG_COPIED) | (OFLAG_COPIED if rc.get(host >> cb) == 1 else 0)
                if new != entry:
                    table[i] = new
                    changed = True
        if changed:
            cmap.write_l2(l2_off, table)


def write_table(drv: Qcow2, snapshots: list[Snapshot]) -> None:
    """Write a new snapshot table, switch the header to it and free the old one."""
    hdr, rc = drv.header, drv.refcounts
    data = pack_table(snapshots)
    cs = drv.cluster_size
    new_off = rc.alloc(-(-len(data) // cs)) if data else 0
    if data:
        drv.overlap.guard(new_off, len(data), 0)
        drv.file.pwrite(new_off, data)
    drv.refcounts.flush()
    drv._barrier()
    old_off, old_size = hdr.snapshots_offset, drv.snapshot_table_size
    hdr.nb_snapshots, hdr.snapshots_offset = len(snapshots), new_off
    drv.file.pwrite(60, struct.pack(">IQ", len(snapshots), new_off))
    drv._barrier()
    if old_size and old_off:
        rc.free(old_off, -(-old_size // cs))
    drv.snapshots, drv.snapshot_table_size = snapshots, len(data)


def create(drv: Qcow2, name: str) -> None:
    """Snapshot the current disk state under ``name``."""
    if len(drv.snapshots) >= MAX_SNAPSHOTS:
        raise BlockError("Too many snapshots", errno.EFBIG)
    ids = [int(sn.id) for sn in drv.snapshots if sn.id.isdigit()]
    new_id = str(max(ids, default=0) + 1)
    l1 = list(drv.map.l1)
    update_tree(drv, l1, +1)  # first: it refuses (changing nothing) what the refcounts can't count
    l1_off = 0
    if l1:
        l1_off = drv.refcounts.alloc(-(-len(l1) * 8 // drv.cluster_size))
        drv.overlap.guard(l1_off, len(l1) * 8, 0)
        drv.file.pwrite(l1_off, struct.pack(f">{len(l1)}Q", *l1))
    refresh_copied(drv)
    now = time.time_ns()
    sn = Snapshot(l1_off, len(l1), new_id, name, now // 10**9, (now % 10**9) // 1000 * 1000,
                  disk_size=drv.size)
    write_table(drv, drv.snapshots + [sn])


def goto(drv: Qcow2, name: str) -> None:
    """Make the snapshot's disk state the active one."""
    sn = find(drv, name)
    if sn is None:
        raise BlockError("Failed to load snapshot: No such file or directory", errno.ENOENT)
    sn_l1 = read_l1(drv, sn.l1_table_offset, sn.l1_size)
    cmap = drv.map
    if sn.l1_size > len(cmap.l1):
        cmap.grow_l1(sn.l1_size, exact=True)
    update_tree(drv, sn_l1, +1)
    old_l1 = list(cmap.l1)
    new_l1 = sn_l1 + [0] * (len(old_l1) - len(sn_l1))
    drv.overlap.guard(drv.header.l1_table_offset, len(new_l1) * 8, ACTIVE_L1)
    drv.file.pwrite(drv.header.l1_table_offset, struct.pack(f">{len(new_l1)}Q", *new_l1))
    drv.refcounts.flush()
    drv._barrier()
    cmap.l1 = new_l1
    cmap.generation += 1
    update_tree(drv, old_l1, -1)
    refresh_copied(drv)
    if sn.disk_size is not None and sn.disk_size != drv.header.size:
        drv.header.size = sn.disk_size
        drv.file.pwrite(24, struct.pack(">Q", sn.disk_size))
    drv.reload()


def delete(drv: Qcow2, name: str) -> None:
    """Delete a snapshot and release what only it referenced."""
    sn = find(drv, name)
    if sn is None:
        raise BlockError("snapshot not found", errno.ENOENT)
    write_table(drv, [other for other in drv.snapshots if other is not sn])
    sn_l1 = read_l1(drv, sn.l1_table_offset, sn.l1_size)
    update_tree(drv, sn_l1, -1)
    if sn.l1_size:
        drv.refcounts.free(sn.l1_table_offset, -(-sn.l1_size * 8 // drv.cluster_size))
    refresh_copied(drv)
