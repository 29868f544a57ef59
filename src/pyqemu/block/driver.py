"""The BlockDriver interface every image format implements (QEMU's ``BlockDriver``).

A driver instance is one open image (QEMU's ``BlockDriverState``): guest-visible reads and
writes, zeroing/discard, flush, block status for ``map``/``convert``, image information,
consistency checks and internal snapshots.  Backing files are opened by
:mod:`pyqemu.block.registry` and attached as ``backing``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pyqemu.block.errors import BlockError

# Block status flags (the BDRV_BLOCK_* bits)
BLOCK_DATA = 0x01
BLOCK_ZERO = 0x02
BLOCK_OFFSET_VALID = 0x04
BLOCK_ALLOCATED = 0x10
BLOCK_COMPRESSED = 0x40


@dataclass
class BlockStatus:
    """Status of the run of bytes starting at a guest offset, in one layer of a chain."""

    flags: int
    length: int
    host_offset: int | None = None


@dataclass
class CreateOption:
    """One ``-o`` image creation option (name, kind, help text) as ``-o help`` lists it."""

    name: str
    kind: str
    help: str


@dataclass
class SnapshotInfo:
    """One internal snapshot, with the fields of QMP's SnapshotInfo."""

    id: str
    name: str
    vm_state_size: int = 0
    date_sec: int = 0
    date_nsec: int = 0
    vm_clock_nsec: int = 0
    icount: int | None = None


@dataclass
class CheckResult:
    """Outcome of an image consistency check (QEMU's BdrvCheckResult)."""

    corruptions: int = 0
    leaks: int = 0
    check_errors: int = 0
    corruptions_fixed: int = 0
    leaks_fixed: int = 0
    image_end_offset: int = 0
    total_clusters: int = 0
    allocated_clusters: int = 0
    fragmented_clusters: int = 0
    compressed_clusters: int = 0


@dataclass
class ImageInfo:
    """What ``qemu-img info`` shows about one image."""

    filename: str
    format: str
    virtual_size: int
    actual_size: int
    dirty: bool = False
    cluster_size: int | None = None
    backing_filename: str | None = None
    full_backing_filename: str | None = None
    backing_format: str | None = None
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    format_specific: dict[str, Any] | None = None


# repair flags for check()
FIX_LEAKS = 1
FIX_ERRORS = 2

Reporter = Callable[[str], None]


class BlockDriver(ABC):
    """An open image of one format.

    Constructors take ``(filename, readonly=False, cache="writeback", check_mode=False)``:
    ``cache="unsafe"`` drops flush barriers, ``check_mode`` opens an image for ``check -r``
    (a corrupt or dirty qcow2 image is opened as it is, without automatic repair).
    """

    format_name: ClassVar[str]
    create_options: ClassVar[tuple[CreateOption, ...]] = ()
    supports_compression: ClassVar[bool] = False

    def __init__(self, filename: str, readonly: bool) -> None:
        self.filename = filename
        self.readonly = readonly
        self.backing: BlockDriver | None = None
        self.backing_filename: str | None = None
        self.backing_format: str | None = None

    # -- class level -------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def probe(cls, head: bytes, filename: str) -> int:
        """Score (0..100) how likely ``head`` (the first bytes of a file) is this format."""

    @classmethod
    @abstractmethod
    def create(cls, filename: str, size: int, options: dict[str, str]) -> None:
        """Create a new image; ``options`` are the validated ``-o`` options."""

    # -- data path ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def size(self) -> int:
        """Virtual disk size in bytes."""

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """Read guest data (backing data and zeros filled in)."""

    @abstractmethod
    def write(self, offset: int, data: bytes) -> None:
        """Write guest data."""

    def deflate(self, data: bytes) -> bytes:
        """Compress one cluster for :meth:`write_compressed` (thread-safe; no I/O)."""
        raise BlockError("Compression not supported for this file format", 95)

    def write_compressed(self, offset: int, data: bytes, deflated: bytes | None = None) -> None:
        """Write one whole cluster compressed (``convert -c``); ``deflated`` is ``deflate(data)``
        when the caller compressed it already (e.g. in parallel)."""
        raise BlockError("Compression not supported for this file format", 95)

    def write_zeroes(self, offset: int, length: int) -> None:
        """Make ``[offset, offset+length)`` read as zeros."""
        chunk = 1 << 20
        while length > 0:
            n = min(chunk, length)
            self.write(offset, bytes(n))
            offset += n
            length -= n

    def discard(self, offset: int, length: int) -> None:  # noqa: B027 (optional operation)
        """Hint that the range is no longer needed (may do nothing)."""

    @abstractmethod
    def flush(self) -> None:
        """Make all completed writes durable."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release the image (and its backing chain)."""

    @abstractmethod
    def block_status(self, offset: int, length: int) -> BlockStatus:
        """Status of the run starting at ``offset`` in this layer only (``length`` caps it)."""

    # -- management --------------------------------------------------------------------------
    def _check_bounds(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise BlockError("Input/output error", 5)

    def actual_size(self) -> int:
        """Host bytes used by the image file."""
        try:
            return os.stat(self.filename).st_blocks * 512
        except OSError:
            return 0

    def get_info(self) -> ImageInfo:
        """Information for ``qemu-img info``."""
        return ImageInfo(
            filename=self.filename,
            format=self.format_name,
            virtual_size=self.size,
            actual_size=self.actual_size(),
        )

    def check(self, fix: int = 0, report: Reporter | None = None) -> CheckResult:
        """Check (and with ``fix`` repair) image metadata consistency."""
        raise BlockError("This image format does not support checks", 95)

    def truncate(self, size: int, shrink: bool = False, prealloc: str = "off") -> None:
        """Change the virtual size."""
        raise BlockError("Image format driver does not support resize", 95)

    def change_backing_file(self, filename: str | None, fmt: str | None) -> None:
        """Rewrite the backing file reference stored in the image header."""
        raise BlockError("Operation not supported", 95)

    def make_empty(self) -> None:
        """Drop every allocation in this layer so the backing file shows through."""
        raise BlockError("Operation not supported", 95)

    def amend(self, options: dict[str, str]) -> None:
        """Change format options of an existing image (``qemu-img amend``)."""
        raise BlockError(f"Format driver '{self.format_name}' does not support option amendment", 95)

    def snapshot_list(self) -> list[SnapshotInfo]:
        """Internal snapshots of the image."""
        return []

    def snapshot_create(self, name: str) -> None:
        """Create an internal snapshot of the current disk state."""
        raise BlockError("Operation not supported", 95)

    def snapshot_goto(self, name: str) -> None:
        """Revert the disk to an internal snapshot (by id or name)."""
        raise BlockError("Operation not supported", 95)

    def snapshot_delete(self, name: str) -> None:
        """Delete an internal snapshot (by id or name)."""
        raise BlockError("Operation not supported", 95)

    def chain(self) -> list[BlockDriver]:
        """This image followed by its backing files, top first."""
        out: list[BlockDriver] = []
        node: BlockDriver | None = self
        while node is not None:
            out.append(node)
            node = node.backing
        return out
