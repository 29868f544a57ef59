"""qcow2 on-disk layout: header, header extensions, feature name table, entry bits.

Spec sections "Header", "Header extensions", "Feature name table", "Cluster mapping".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pyqemu.block.errors import BlockError

MAGIC = b"QFI\xfb"
HEADER_V2 = struct.Struct(">4sIQIIQIIQQIIQ")  # 72 bytes
HEADER_V3 = struct.Struct(">QQQII")  # 32 more bytes: features, refcount_order, header_length
V2_HEADER_LENGTH = HEADER_V2.size
V3_HEADER_LENGTH = V2_HEADER_LENGTH + HEADER_V3.size

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_HEADER = struct.Struct(">II")

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_SUPPORTED = INCOMPAT_DIRTY | INCOMPAT_CORRUPT
COMPAT_LAZY_REFCOUNTS = 1 << 0

FEATURE_INCOMPAT, FEATURE_COMPAT = 0, 1
OUR_FEATURES = (
    (FEATURE_INCOMPAT, 0, "dirty bit"),
    (FEATURE_INCOMPAT, 1, "corrupt bit"),
    (FEATURE_COMPAT, 0, "lazy refcounts"),
)
FEATURE_ENTRY = struct.Struct(">BB46s")

# L1/L2/refcount-table entry bits
OFLAG_COPIED = 1 << 63
OFLAG_COMPRESSED = 1 << 62
OFLAG_ZERO = 1
OFFSET_MASK = 0x00FFFFFFFFFFFE00
REFT_OFFSET_MASK = 0xFFFFFFFFFFFFFE00

# cluster types, as classified from an L2 entry
UNALLOCATED, ZERO, NORMAL, COMPRESSED = range(4)

MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21
MAX_BACKING_NAME = 1023
MAX_L1_BYTES = 32 << 20
MAX_REFTABLE_BYTES = 8 << 20


def table_in_file(offset: int, nbytes: int, cluster_size: int, file_size: int) -> bool:
    """True when a metadata table at ``offset`` is cluster aligned and starts and ends in the file.

    The end may fall in the file's last, partial cluster (tables are padded to whole clusters).
    """
    if offset <= 0 or offset & (cluster_size - 1):
        return False
    return offset < file_size and offset + nbytes <= -(-file_size // cluster_size) * cluster_size


@dataclass
class Header:
    """The qcow2 header, its extensions and the backing file name from cluster 0."""

    version: int = 3
    cluster_bits: int = 16
    size: int = 0
    crypt_method: int = 0
    l1_size: int = 0
    l1_table_offset: int = 0
    refcount_table_offset: int = 0
    refcount_table_clusters: int = 0
    nb_snapshots: int = 0
    snapshots_offset: int = 0
    incompatible_features: int = 0
    compatible_features: int = 0
    autoclear_features: int = 0
    refcount_order: int = 4
    header_length: int = V3_HEADER_LENGTH
    extra_fields: bytes = b""
    backing_file: str | None = None
    backing_format: str | None = None
    feature_names: dict[tuple[int, int], str] = field(default_factory=dict)
    unknown_extensions: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """Decode cluster 0 (or at least its header part); raise BlockError when invalid."""
        if len(data) < V2_HEADER_LENGTH:
            raise BlockError("qcow2 header too short")
        (magic, version, backing_off, backing_len, cluster_bits, size, crypt, l1_size, l1_off,
         rt_off, rt_clusters, nb_snap, snap_off) = HEADER_V2.unpack_from(data)
        if magic != MAGIC:
            raise BlockError("Image is not in qcow2 format")
        if version not in (2, 3):
            raise BlockError(f"Unsupported qcow2 version {version}")
        if not MIN_CLUSTER_BITS <= cluster_bits <= MAX_CLUSTER_BITS:
            raise BlockError(f"Unsupported cluster size: 2^{cluster_bits}")
        hdr = cls(version=version, cluster_bits=cluster_bits, size=size, crypt_method=crypt,
                  l1_size=l1_size, l1_table_offset=l1_off, refcount_table_offset=rt_off,
                  refcount_table_clusters=rt_clusters, nb_snapshots=nb_snap, snapshots_offset=snap_off)
        if version == 3:
            if len(data) < V3_HEADER_LENGTH:
                raise BlockError("qcow2 header too short")
            (hdr.incompatible_features, hdr.compatible_features, hdr.autoclear_features,
             hdr.refcount_order, hdr.header_length) = HEADER_V3.unpack_from(data, V2_HEADER_LENGTH)
            if hdr.header_length < V3_HEADER_LENGTH:
                raise BlockError("qcow2 header too short")
            if hdr.header_length > hdr.cluster_size:
                raise BlockError("qcow2 header exceeds cluster size")
            hdr.extra_fields = bytes(data[V3_HEADER_LENGTH:hdr.header_length])
        else:
            hdr.header_length = V2_HEADER_LENGTH
        if hdr.refcount_order > 6:
            raise BlockError("Reference count entry width too large; may not exceed 64 bits")
        end = backing_off if backing_off else hdr.cluster_size
        hdr._parse_extensions(data, hdr.header_length, min(end, len(data)))
        if backing_off:
            if backing_len > MAX_BACKING_NAME or backing_off + backing_len > min(hdr.cluster_size, len(data)):
                raise BlockError("Backing file name too long")
            # a C string: whatever follows a NUL is not part of the name
            name = bytes(data[backing_off:backing_off + backing_len]).split(b"\0", 1)[0]
            hdr.backing_file = name.decode("utf-8", "replace") or None
        return hdr

    def _parse_extensions(self, data: bytes, offset: int, end: int) -> None:
        while offset + EXT_HEADER.size <= end:
            ext_type, length = EXT_HEADER.unpack_from(data, offset)
            offset += EXT_HEADER.size
            if ext_type == EXT_END:
                return
            if offset + length > end:
                raise BlockError("Invalid extension length")
            payload = bytes(data[offset:offset + length])
            offset += (length + 7) & ~7
            if ext_type == EXT_BACKING_FORMAT:
                self.backing_format = payload.decode("utf-8", "replace")
            elif ext_type == EXT_FEATURE_TABLE:
                for pos in range(0, length - FEATURE_ENTRY.size + 1, FEATURE_ENTRY.size):
                    kind, bit, name = FEATURE_ENTRY.unpack_from(payload, pos)
                    self.feature_names[(kind, bit)] = name.rstrip(b"\0").decode("utf-8", "replace")
            else:
                self.unknown_extensions.append((ext_type, payload))

    def check_features(self) -> None:
        """Refuse images with incompatible features this implementation does not know."""
        unknown = self.incompatible_features & ~INCOMPAT_SUPPORTED
        if self.crypt_method:
            raise BlockError(f"Unsupported encryption method: {self.crypt_method}")
        if not unknown:
            return
        parts = []
        for bit in range(64):
            mask = 1 << bit
            if unknown & mask and (FEATURE_INCOMPAT, bit) in self.feature_names:
                parts.append(self.feature_names[(FEATURE_INCOMPAT, bit)])
                unknown &= ~mask
        if unknown:
            parts.append(f"Unknown incompatible feature: {unknown:x}")
        raise BlockError("Unsupported qcow2 feature(s): " + ", ".join(parts), 95)

    def pack(self) -> bytes:
        """Encode header, extensions and backing file name; must fit in cluster 0."""
        exts = bytearray()

        def add(ext_type: int, payload: bytes) -> None:
            exts.extend(EXT_HEADER.pack(ext_type, len(payload)))
            exts.extend(payload)
            exts.extend(bytes(-len(payload) % 8))

        if self.backing_file is not None and self.backing_format:
            add(EXT_BACKING_FORMAT, self.backing_format.encode())
        if self.version >= 3:
            add(EXT_FEATURE_TABLE, b"".join(
                FEATURE_ENTRY.pack(kind, bit, name.encode()) for kind, bit, name in OUR_FEATURES))
        for ext_type, payload in self.unknown_extensions:
            add(ext_type, payload)
        add(EXT_END, b"")
        header_length = self.header_length if self.version >= 3 else V2_HEADER_LENGTH
        backing = self.backing_file.encode() if self.backing_file is not None else b""
        if len(backing) > MAX_BACKING_NAME:
            raise BlockError("Backing file name too long")
        backing_off = header_length + len(exts) if self.backing_file is not None else 0
        out = bytearray(HEADER_V2.pack(
            MAGIC, self.version, backing_off, len(backing), self.cluster_bits, self.size,
            self.crypt_method, self.l1_size, self.l1_table_offset, self.refcount_table_offset,
            self.refcount_table_clusters, self.nb_snapshots, self.snapshots_offset))
        if self.version >= 3:
            out += HEADER_V3.pack(self.incompatible_features, self.compatible_features,
                                  self.autoclear_features, self.refcount_order, header_length)
            out += self.extra_fields.ljust(header_length - V3_HEADER_LENGTH, b"\0")
        out += exts
        out += backing
        if len(out) > self.cluster_size:
            raise BlockError("Header extensions do not fit in the first cluster")
        return bytes(out)
