"""qcow2 consistency check and repair (``qemu-img check [-r leaks|all]``).

Recomputes every host cluster's reference count from the metadata (header, L1/L2 tables of the
active state and of all snapshots, refcount structures, snapshot table), compares it with the
stored refcounts, and verifies the COPIED flags of the active tables (spec sections
"Host cluster management", "Cluster mapping", "Snapshots").
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING

from pyqemu.block.driver import FIX_ERRORS, FIX_LEAKS, CheckResult, Reporter
from pyqemu.block.errors import BlockError
from pyqemu.block.qcow2.format import (
    COMPRESSED,
    INCOMPAT_CORRUPT,
    NORMAL,
    OFFSET_MASK,
    OFLAG_COPIED,
    ZERO,
)

if TYPE_CHECKING:
    from pyqemu.block.qcow2.driver import Qcow2


def _stderr(msg: str) -> None:
    sys.stderr.write(msg + "\n")


class _Checker:
    def __init__(self, drv: Qcow2, fix: int, report: Reporter) -> None:
        self.drv = drv
        self.fix = fix
        self.report = report
        self.res = CheckResult()
        self.cs = drv.cluster_size
        self.cb = drv.cluster_bits
        self.nb_clusters = -(-drv.file.size() // self.cs)
        self.refs = [0] * self.nb_clusters

    def inc(self, offset: int, size: int) -> None:
        if size <= 0:
            return
        first = offset >> self.cb
        last = (offset + size - 1) >> self.cb
        for cluster in range(first, last + 1):
            if cluster >= self.nb_clusters:
                self.report("ERROR: counting reference for region exceeding the end of the file by one "
                            f"cluster or more: offset={offset:#x} size={size:#x}")
                self.res.corruptions += 1
                return
            self.refs[cluster] += 1

    def l1_tree(self, l1_offset: int, l1_size: int, active: bool) -> None:
        drv = self.drv
        self.inc(l1_offset, l1_size * 8)
        if not l1_size:
            return
        if l1_offset & (self.cs - 1) or l1_offset + l1_size * 8 > self.nb_clusters * self.cs:
            self.report(f"ERROR: L1 table offset {l1_offset:#x} is invalid")
            self.res.corruptions += 1
            return
        l1 = struct.unpack(f">{l1_size}Q", drv.file.pread(l1_offset, l1_size * 8))
        next_contiguous = 0
        for l1_entry in l1:
            l2_off = l1_entry & OFFSET_MASK
            if not l2_off:
                continue
            if l2_off & (self.cs - 1):
                self.report(f"ERROR l2_offset={l2_off:x}: Table is not cluster aligned; L1 entry corrupted")
                self.res.corruptions += 1
                continue
            self.inc(l2_off, self.cs)
            if l2_off >= self.nb_clusters * self.cs:
                continue
            table = drv.map.read_l2(l2_off)
            for entry in table:
                kind, host = drv.classify(entry)
                if kind == COMPRESSED:
                    if entry & OFLAG_COPIED:
                        self.report(f"ERROR: coffset={host:#x}: copied flag must never be set for "
                                    "compressed clusters")
                        self.res.corruptions += 1
                    first, count = drv.entry_clusters(entry)
                    self.inc(first << self.cb, count << self.cb)
                    if active:
                        self.res.allocated_clusters += 1
                        self.res.compressed_clusters += 1
                        self.res.fragmented_clusters += 1
                    next_contiguous = 0
                elif kind in (NORMAL, ZERO) and host:
                    if host & (self.cs - 1) or entry & 0x1FE:
                        self.report(f"ERROR offset={host:x}: Cluster is not properly aligned; "
                                    "L2 entry corrupted.")
                        self.res.corruptions += 1
                        continue
                    self.inc(host, self.cs)
                    if active:
                        self.res.allocated_clusters += 1
                        if next_contiguous and host != next_contiguous:
                            self.res.fragmented_clusters += 1
                        next_contiguous = host + self.cs

    def count_references(self) -> None:
        drv, hdr = self.drv, self.drv.header
        self.inc(0, self.cs)
        self.l1_tree(hdr.l1_table_offset, hdr.l1_size, True)
        for sn in drv.snapshots:
            self.l1_tree(sn.l1_table_offset, sn.l1_size, False)
        self.inc(hdr.snapshots_offset, drv.snapshot_table_size)
        self.inc(hdr.refcount_table_offset, hdr.refcount_table_clusters * self.cs)
        table = drv.refcounts.table
        for index, block in enumerate(table):
            if not block:
                continue
            if block & (self.cs - 1):
                self.report(f"ERROR refcount block {index} is not cluster aligned; "
                            "refcount table entry corrupted")
                self.res.corruptions += 1
                drv.refcounts.forget_block(index)
            elif block >= self.nb_clusters * self.cs:
                self.report(f"ERROR refcount block {index} is outside image")
                self.res.corruptions += 1
                drv.refcounts.forget_block(index)
            else:
                self.inc(block, self.cs)

    def compare(self) -> None:
        rc = self.drv.refcounts
        rc.reserved = lambda c: c < len(self.refs) and self.refs[c] > 0
        rc.free_hint = self.nb_clusters
        highest = 0
        try:
            for cluster in range(self.nb_clusters):
                stored = rc.get(cluster)
                ref = self.refs[cluster]
                if stored or ref:
                    highest = cluster + 1
                if stored == ref:
                    continue
                if stored > ref:
                    self.report(f"Leaked cluster {cluster} refcount={stored} reference={ref}")
                    can_fix = bool(self.fix & FIX_LEAKS)
                else:
                    self.report(f"ERROR cluster {cluster} refcount={stored} reference={ref}")
                    can_fix = bool(self.fix & FIX_ERRORS)
                if can_fix and ref <= rc.max_refcount:
                    self.report(f"Repairing cluster {cluster} refcount={stored} reference={ref}")
                    rc.set(cluster, ref)
                    if stored > ref:
                        self.res.leaks_fixed += 1
                    else:
                        self.res.corruptions_fixed += 1
                elif stored > ref:
                    self.res.leaks += 1
                else:
                    self.res.corruptions += 1
        finally:
            rc.reserved = None
            rc.free_hint = 0
        self.res.image_end_offset = highest * self.cs

    def check_copied(self) -> None:
        drv = self.drv
        rc, cmap = drv.refcounts, drv.map
        fixing = bool(self.fix & FIX_ERRORS)
        for index, l1_entry in enumerate(cmap.l1):
            l2_off = l1_entry & OFFSET_MASK
            if not l2_off or l2_off & (self.cs - 1) or l2_off >= self.nb_clusters * self.cs:
                continue
            refcount = rc.get(l2_off >> self.cb)
            if (refcount == 1) != bool(l1_entry & OFLAG_COPIED):
                self.report(f"{'Repairing' if fixing else 'ERROR'} OFLAG_COPIED L2 cluster: "
                            f"l1_index={index} l1_entry={l1_entry:x} refcount={refcount}")
                if fixing:
                    cmap.set_l1(index, (l1_entry & ~OFLAG_COPIED) | (OFLAG_COPIED if refcount == 1 else 0))
                    self.res.corruptions_fixed += 1
                else:
                    self.res.corruptions += 1
            table = cmap.read_l2(l2_off)
            changed = False
            for i, entry in enumerate(table):
                kind, host = drv.classify(entry)
                if kind not in (NORMAL, ZERO) or not host or host & (self.cs - 1):
                    continue
                refcount = rc.get(host >> self.cb)
                if (refcount == 1) != bool(entry & OFLAG_COPIED):
                    self.report(f"{'Repairing' if fixing else 'ERROR'} OFLAG_COPIED data cluster: "
                                f"l2_entry={entry:x} refcount={refcount}")
                    if fixing:
                        table[i] = (entry & ~OFLAG_COPIED) | (OFLAG_COPIED if refcount == 1 else 0)
                        changed = True
                        self.res.corruptions_fixed += 1
                    else:
                        self.res.corruptions += 1
            if changed:
                cmap.write_l2(l2_off, table)


def check(drv: Qcow2, fix: int = 0, report: Reporter | None = None) -> CheckResult:
    """Check ``drv``'s metadata; with ``fix`` (FIX_LEAKS/FIX_ERRORS) repair what can be."""
    if fix and drv.readonly:
        raise BlockError("Block node is read-only", 1)
    checker = _Checker(drv, fix, report or _stderr)
    checker.res.total_clusters = -(-drv.size // drv.cluster_size)
    checker.count_references()
    checker.compare()
    checker.check_copied()
    if fix:
        drv.refcounts.flush()
        drv.file.flush()
        hdr = drv.header
        if fix & FIX_ERRORS and hdr.incompatible_features & INCOMPAT_CORRUPT and not checker.res.corruptions:
            hdr.incompatible_features &= ~INCOMPAT_CORRUPT
            drv.write_header()
    return checker.res
