"""Size estimates for a new image (``qemu-img measure``), following qcow2's metadata layout.

For qcow2 the estimate counts the header cluster, L2 tables and the L1 table for the whole
virtual size, the refcount blocks and table covering everything, plus the data clusters
(all of them for "fully allocated", the allocated ones of the source for "required").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Measurement:
    """Bytes needed for a new image."""

    required: int
    fully_allocated: int


def _align(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def qcow2_metadata_size(virtual_size: int, cluster_size: int, refcount_bits: int = 16) -> int:
    """Metadata bytes (header, L1, L2, refcount structures) of a fully mapped qcow2 image."""
    entries_per_cluster = cluster_size // 8
    data_clusters = _align(virtual_size, cluster_size) // cluster_size
    l2_entries = _align(data_clusters, entries_per_cluster)
    meta = cluster_size + l2_entries * 8
    l1_entries = _align(l2_entries // entries_per_cluster, entries_per_cluster)
    meta += l1_entries * 8
    per_block = cluster_size * 8 // refcount_bits
    total_clusters = data_clusters + meta // cluster_size
    blocks = table = 0
    while True:
        covered = total_clusters + blocks + table
        new_blocks = -(-covered // per_block)
        new_table = -(-new_blocks * 8 // cluster_size)
        if (new_blocks, new_table) == (blocks, table):
            break
        blocks, table = new_blocks, new_table
    return meta + (blocks + table) * cluster_size


def measure_qcow2(virtual_size: int, allocated: int, cluster_size: int = 65536,
                  refcount_bits: int = 16) -> Measurement:
    """Estimate for a qcow2 image with ``allocated`` bytes of data to copy."""
    meta = qcow2_metadata_size(virtual_size, cluster_size, refcount_bits)
    return Measurement(meta + _align(allocated, cluster_size), meta + _align(virtual_size, cluster_size))


def measure_raw(virtual_size: int) -> Measurement:
    """Estimate for a raw image."""
    return Measurement(virtual_size, virtual_size)
