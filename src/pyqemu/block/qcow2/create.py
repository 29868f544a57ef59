"""qcow2 image creation, preallocation and option amendment (``create``/``amend`` -o options).

Spec sections "Header" and "Host cluster management": a new image is laid out as QEMU does
(header, refcount table, one refcount block, L1 table); everything after the first refcount
block is allocated through the normal refcount machinery.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from pyqemu.block.driver import CreateOption
from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile
from pyqemu.block.options import parse_bool
from pyqemu.block.qcow2.clustermap import l1_entries_for
from pyqemu.block.qcow2.format import (
    COMPAT_LAZY_REFCOUNTS,
    INCOMPAT_DIRTY,
    OFLAG_COPIED,
    OFLAG_ZERO,
    V3_HEADER_LENGTH,
    ZERO,
    Header,
)
from pyqemu.block.sizes import parse_size

if TYPE_CHECKING:
    from pyqemu.block.qcow2.driver import Qcow2

OPTIONS = (
    CreateOption("size", "size", "Virtual disk size"),
    CreateOption("compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"),
    CreateOption("backing_file", "str", "File name of a base image"),
    CreateOption("backing_fmt", "str", "Image format of the base image"),
    CreateOption("encryption", "bool", "Encrypt the image with format 'aes'. (Deprecated in favor of "
                 "encrypt.format=aes)"),
    CreateOption("cluster_size", "size", "qcow2 cluster size"),
    CreateOption("preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)"),
    CreateOption("lazy_refcounts", "bool", "Postpone refcount updates"),
    CreateOption("refcount_bits", "num", "Width of a reference count entry in bits"),
    CreateOption("extended_l2", "bool", "Extended L2 tables"),
    CreateOption("compression_type", "str", "Compression method used for image cluster compression"),
)
PREALLOC_MODES = ("off", "metadata", "falloc", "full")


def parse_compat(value: str) -> int:
    """compat=0.10|v2|1.1|v3 to a header version."""
    if value in ("0.10", "v2"):
        return 2
    if value in ("1.1", "v3"):
        return 3
    raise BlockError(f"Parameter 'version' does not accept value '{value}'", errno.EINVAL)


def create(cls: type[Qcow2], filename: str, size: int, options: dict[str, str]) -> None:
    """Create a qcow2 image at ``filename``."""
    version = parse_compat(options.get("compat", "1.1"))
    cluster_size = parse_size(options.get("cluster_size", "65536"))
    if cluster_size is None or not 512 <= cluster_size <= (2 << 20) or cluster_size & (cluster_size - 1):
        raise BlockError("Cluster size must be a power of two between 512 and 2048k", errno.EINVAL)
    cluster_bits = cluster_size.bit_length() - 1
    lazy = parse_bool("lazy_refcounts", options.get("lazy_refcounts", "off"))
    bits_text = options.get("refcount_bits", "16")
    refcount_bits = int(bits_text) if bits_text.isdigit() else 0
    if refcount_bits not in (1, 2, 4, 8, 16, 32, 64):
        raise BlockError("Refcount width must be a power of two and may not exceed 64 bits", errno.EINVAL)
    prealloc = options.get("preallocation", "off")
    if prealloc not in PREALLOC_MODES:
        raise BlockError(f"Parameter 'preallocation' does not accept value '{prealloc}'", errno.EINVAL)
    if parse_bool("encryption", options.get("encryption", "off")):
        raise BlockError("Encrypted images are not supported", errno.ENOTSUP)
    if parse_bool("extended_l2", options.get("extended_l2", "off")):
        raise BlockError("Extended L2 entries are not supported", errno.ENOTSUP)
    if options.get("compression_type", "zlib") != "zlib":
        raise BlockError(f"Parameter 'compression-type' does not accept value "
                         f"'{options['compression_type']}'", errno.EINVAL)
    if version < 3 and lazy:
        raise BlockError("Lazy refcounts only supported with compatibility level 1.1 and above "
                         "(use version=v3 or greater)", errno.EINVAL)
    if version < 3 and refcount_bits != 16:
        raise BlockError("Different refcount widths than 16 bits require compatibility level 1.1 or "
                         "above (use version=v3 or greater)", errno.EINVAL)
    backing = options.get("backing_file")
    if backing and prealloc != "off":
        raise BlockError("Backing file and preallocation can only be used at the same time if "
                         "extended_l2 is on", errno.EINVAL)
    refcount_order = refcount_bits.bit_length() - 1
    hdr = Header(version=version, cluster_bits=cluster_bits, size=0,
                 refcount_table_offset=cluster_size, refcount_table_clusters=1,
                 refcount_order=refcount_order, header_length=V3_HEADER_LENGTH,
                 compatible_features=COMPAT_LAZY_REFCOUNTS if lazy else 0)
    file = HostFile(filename, create=True)
    try:
        file.truncate(0)
        block = bytearray(cluster_size)
        entries_per_block = cluster_size * 8 // refcount_bits
        for cluster in range(min(3, entries_per_block)):
            pos = cluster * refcount_bits
            if refcount_bits >= 8:
                width = refcount_bits // 8
                block[cluster * width:(cluster + 1) * width] = (1).to_bytes(width, "big")
            else:
                block[pos >> 3] |= 1 << (pos & 7)
        table = struct.pack(">Q", 2 * cluster_size).ljust(cluster_size, b"\0")
        file.pwrite(cluster_size, table)
        file.pwrite(2 * cluster_size, block)
        file.pwrite(0, hdr.pack())
        if entries_per_block < 3:
            raise BlockError("Refcount width too small for this cluster size", errno.EINVAL)
    finally:
        file.close()
    drv = cls(filename, readonly=False, cache="unsafe")
    try:
        drv.map.grow_l1(l1_entries_for(size, cluster_bits), exact=True)
        drv.header.size = size
        if backing:
            drv.header.backing_file = backing
            drv.header.backing_format = options.get("backing_fmt")
        drv.write_header()
        if prealloc != "off":
            preallocate(drv, 0, size, prealloc)
        drv.file.flush()
    finally:
        drv.close()


def preallocate(drv: Qcow2, start: int, end: int, mode: str) -> None:
    """Allocate data clusters for guest bytes ``[start, end)`` (metadata, falloc or full)."""
    cs, cb = drv.cluster_size, drv.cluster_bits
    l2_size = drv.map.l2_size
    cluster = start >> cb
    last = -(-end // cs)
    runs: list[tuple[int, int]] = []
    while cluster < last:
        n = min(last - cluster, l2_size - cluster % l2_size)
        entries = drv.map.entries(cluster, n)
        k = 1
        unallocated = entries[0] == 0
        while k < n and (entries[k] == 0) == unallocated:
            k += 1
        if unallocated:
            host = drv.refcounts.alloc(k)
            drv.map.set_entries(cluster, [(host + i * cs) | OFLAG_COPIED for i in range(k)])
            runs.append((host, k * cs))
        cluster += k
    file_end = max((h + n for h, n in runs), default=0)
    if mode == "full":
        for host, nbytes in runs:
            drv.overlap.guard(host, nbytes, 0)
            for off in range(0, nbytes, 1 << 20):
                drv.file.pwrite(host + off, bytes(min(1 << 20, nbytes - off)))
    elif mode == "falloc":
        for host, nbytes in runs:
            drv.file.fallocate(host, nbytes)
    if drv.file.size() < file_end:
        drv.file.truncate(file_end)


def amend(drv: Qcow2, options: dict[str, str]) -> None:
    """Change compat level and lazy_refcounts of an open image."""
    hdr = drv.header
    for name in options:
        if name not in ("compat", "lazy_refcounts"):
            if name in {opt.name for opt in OPTIONS}:
                raise BlockError(f"Invalid parameter '{name}'\nThis option is only supported for image "
                                 "creation", errno.ENOTSUP)
            raise BlockError(f"Invalid parameter '{name}'", errno.EINVAL)
    version = parse_compat(options["compat"]) if "compat" in options else hdr.version
    lazy = (parse_bool("lazy_refcounts", options["lazy_refcounts"]) if "lazy_refcounts" in options
            else bool(hdr.compatible_features & COMPAT_LAZY_REFCOUNTS))
    if version < 3 and lazy:
        raise BlockError("Lazy refcounts only supported with compatibility level 1.1 and above "
                         "(use compat=1.1 or greater)", errno.EINVAL)
    drv.flush()
    if version < hdr.version:
        if drv.snapshots:
            raise BlockError("Internal snapshots prevent downgrade of image", errno.ENOTSUP)
        if hdr.refcount_order != 4:
            raise BlockError("compat=0.10 requires refcount_bits=16", errno.ENOTSUP)
        _expand_zero_clusters(drv)
        hdr.incompatible_features = hdr.compatible_features = hdr.autoclear_features = 0
        hdr.version = 2
        hdr.header_length = 72
        hdr.extra_fields = b""
    elif version > hdr.version:
        hdr.version = 3
        hdr.header_length = V3_HEADER_LENGTH
        hdr.refcount_order = 4
    if version >= 3:
        if lazy:
            hdr.compatible_features |= COMPAT_LAZY_REFCOUNTS
        else:
            hdr.compatible_features &= ~COMPAT_LAZY_REFCOUNTS
        drv.lazy = lazy
    hdr.incompatible_features &= ~INCOMPAT_DIRTY
    drv.refcounts.deferred = False
    drv.write_header()


def _expand_zero_clusters(drv: Qcow2) -> None:
    """Replace v3 zero clusters by what v2 can express (unallocated or real zeros)."""
    cs = drv.cluster_size
    total = -(-drv.size // cs)
    for cluster in range(total):
        entry = drv.map.get(cluster)
        kind, host = drv.classify(entry)
        if kind != ZERO:
            continue
        if drv.backing is None:
            drv.map.set_entries(cluster, [0])
            if host:
                drv.refcounts.free(host)
        else:
            if host and entry & OFLAG_COPIED:
                drv.overlap.guard(host, cs, 0)
                drv.file.pwrite(host, bytes(cs))
                drv.map.set_entries(cluster, [entry & ~OFLAG_ZERO])
                continue
            new = drv.refcounts.alloc(1)
            drv.overlap.guard(new, cs, 0)
            drv.file.pwrite(new, bytes(cs))
            drv.file.flush()
            drv.map.set_entries(cluster, [new | OFLAG_COPIED])
            if host:
                drv.refcounts.free(host)

