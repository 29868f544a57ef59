"""Split virtqueues, the device side (virtio 1.2 spec section 2.7 "Split Virtqueues").

A split virtqueue lives in guest memory as three parts the driver allocates:

* the descriptor table (2.7.5): ``num`` entries of ``{le64 addr; le32 len; le16 flags; le16 next}``;
* the available ring, "driver area" (2.7.6): ``{le16 flags; le16 idx; le16 ring[num]; le16 used_event}``;
* the used ring, "device area" (2.7.8): ``{le16 flags; le16 idx; {le32 id; le32 len} ring[num];
  le16 avail_event}``.

The device takes chains of descriptors the driver made available (:meth:`VirtQueue.pop`), reads the
device-readable ("out") buffers, fills the device-writable ("in") buffers and hands the chain back
through the used ring (:meth:`VirtQueue.push`).  Indirect descriptor tables (2.7.5.3,
``VIRTIO_F_INDIRECT_DESC``) and notification suppression (2.7.7 / 2.7.10, ``VRING_AVAIL_F_NO_INTERRUPT``
and ``VIRTIO_F_EVENT_IDX``) are supported.

A malformed ring (a looping chain, an index out of range, a length that wraps, a buffer outside RAM,
...) never raises: the queue reports it through its owner's ``error`` callback, which marks the whole
device broken (``DEVICE_NEEDS_RESET``, as QEMU's ``virtio_error``), and nothing more is processed until
the driver resets the device.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pyqemu.exec.memory import AddressSpace

# -- feature bits handled by the ring code (spec 6) ---------------------------------------------------
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_EVENT_IDX = 29

# -- descriptor and ring flags (2.7.5, 2.7.6, 2.7.8) ---------------------------------------------------
VIRTQ_DESC_F_NEXT = 1
VIRTQ_DESC_F_WRITE = 2
VIRTQ_DESC_F_INDIRECT = 4
VRING_AVAIL_F_NO_INTERRUPT = 1
VRING_USED_F_NO_NOTIFY = 1

#: the largest queue a split ring can describe (2.7: Queue Size is at most 32768)
VIRTQUEUE_MAX_SIZE = 32768
#: at most this many buffers in one chain, indirect tables included (QEMU's VIRTQUEUE_MAX_SIZE)
MAX_CHAIN_BUFFERS = 1024

DESC_SIZE = 16
_DESC = struct.Struct("<QIHH")
_USED_ELEM = struct.Struct("<II")
_U64_LIMIT = 1 << 64
_U32_LIMIT = 1 << 32

#: a guest buffer: (guest physical address, length in bytes)
Buffer = tuple[int, int]


class VirtQueueOwner(Protocol):
    """What a queue needs from its device: guest memory, the negotiated features and error reporting."""

    dma: AddressSpace | None
    broken: bool

    def has_feature(self, bit: int) -> bool: ...
    def error(self, message: str) -> None: ...


def vring_need_event(event_idx: int, new_idx: int, old_idx: int) -> bool:
    """True when moving an index from ``old_idx`` to ``new_idx`` passes ``event_idx`` (2.7.10)."""
    return ((new_idx - event_idx - 1) & 0xFFFF) < ((new_idx - old_idx) & 0xFFFF)


def gather(dma: AddressSpace, buffers: list[Buffer], offset: int = 0, size: int | None = None) -> bytes:
    """The bytes of ``buffers`` taken as one stream, from ``offset``, at most ``size`` of them."""
    out = bytearray()
    remaining = -1 if size is None else size
    for addr, length in buffers:
        if remaining == 0:
            break
        if offset >= length:
            offset -= length
            continue
        n = length - offset
        if remaining >= 0:
            n = min(n, remaining)
            remaining -= n
        out += dma.read_bytes(addr + offset, n)
        offset = 0
    return bytes(out)


def scatter(dma: AddressSpace, buffers: list[Buffer], data: bytes | bytearray | memoryview,
            offset: int = 0) -> int:
    """Write ``data`` into ``buffers`` taken as one stream, from ``offset``; returns the bytes written
    (fewer than ``len(data)`` when the buffers are too small)."""
    view = memoryview(data).cast("B")
    done = 0
    for addr, length in buffers:
        if done == len(view):
            break
        if offset >= length:
            offset -= length
            continue
        n = min(length - offset, len(view) - done)
        dma.write_bytes(addr + offset, view[done:done + n])
        done += n
        offset = 0
    return done


@dataclass
class VirtQueueElement:
    """One descriptor chain taken from the available ring."""

    index: int  # head descriptor index, returned in the used ring
    out_sg: list[Buffer] = field(default_factory=list)  # device-readable buffers, in chain order
    in_sg: list[Buffer] = field(default_factory=list)  # device-writable buffers, in chain order
    dma: AddressSpace | None = None

    @property
    def out_size(self) -> int:
        return sum(n for _, n in self.out_sg)

    @property
    def in_size(self) -> int:
        return sum(n for _, n in self.in_sg)

    def read_out(self, offset: int = 0, size: int | None = None) -> bytes:
        """Gather the readable buffers (from ``offset``, at most ``size`` bytes)."""
        assert self.dma is not None
        return gather(self.dma, self.out_sg, offset, size)

    def write_in(self, data: bytes | bytearray | memoryview, offset: int = 0) -> int:
        """Scatter ``data`` into the writable buffers from ``offset``; returns the bytes written."""
        assert self.dma is not None
        return scatter(self.dma, self.in_sg, data, offset)


class _ChainError(Exception):
    """A malformed descriptor chain (the message is what the device reports)."""


class VirtQueue:
    """The device's view of one split virtqueue.

    The transport fills in the size (:attr:`num`), the three guest addresses and :attr:`ready`; the
    device's ``handler(vq)`` runs when the driver notifies the queue.
    """

    def __init__(self, owner: VirtQueueOwner, index: int, num_max: int,
                 handler: Callable[[VirtQueue], None] | None = None):
        if not 0 < num_max <= VIRTQUEUE_MAX_SIZE:
            raise ValueError(f"invalid virtqueue size {num_max}")
        self.owner = owner
        self.index = index
        self.num_max = num_max
        self.handler = handler
        self.reset()

    def reset(self) -> None:
        """Back to the state after a device reset: not ready, no addresses, indices at 0."""
        self.num = self.num_max
        self.desc = 0
        self.avail = 0
        self.used = 0
        self.ready = False
        self.last_avail_idx = 0  # next available ring slot the device will look at
        self.used_idx = 0  # the device's copy of used->idx
        self.inuse = 0  # chains popped but not pushed yet
        self.signalled_used = 0  # used->idx when the driver was last notified (event idx)
        self.signalled_used_valid = False

    # -- guest memory helpers ----------------------------------------------------------------------
    @property
    def _dma(self) -> AddressSpace:
        dma = self.owner.dma
        if dma is None:
            raise RuntimeError("virtqueue used before the device was plugged into a transport")
        return dma

    def _avail_flags(self) -> int:
        return self._dma.read(self.avail, 2)

    def _avail_idx(self) -> int:
        return self._dma.read(self.avail + 2, 2)

    def _avail_ring(self, slot: int) -> int:
        return self._dma.read(self.avail + 4 + 2 * (slot % self.num), 2)

    def _used_event(self) -> int:
        return self._dma.read(self.avail + 4 + 2 * self.num, 2)

    def _set_avail_event(self, value: int) -> None:
        self._dma.write(self.used + 4 + 8 * self.num, value & 0xFFFF, 2)

    # -- state queries -----------------------------------------------------------------------------
    def is_usable(self) -> bool:
        return self.ready and not self.owner.broken and self.owner.dma is not None and self.desc != 0

    def is_empty(self) -> bool:
        """No chain waiting in the available ring (also True for an unusable queue)."""
        if not self.is_usable():
            return True
        return self._avail_idx() == self.last_avail_idx

    def set_notification(self, enable: bool) -> None:
        """Ask the driver to notify (kick) on new buffers, or not (2.7.7 / 2.7.10)."""
        if not self.is_usable():
            return
        if self.owner.has_feature(VIRTIO_F_EVENT_IDX):
            if enable:
                self._set_avail_event(self._avail_idx())
        else:
            flags = self._dma.read(self.used, 2)
            flags = flags & ~VRING_USED_F_NO_NOTIFY if enable else flags | VRING_USED_F_NO_NOTIFY
            self._dma.write(self.used, flags, 2)

    # -- taking chains -----------------------------------------------------------------------------
    def pop(self) -> VirtQueueElement | None:
        """The next available chain, or None when there is none (or the queue or device is unusable)."""
        if not self.is_usable():
            return None
        avail_idx = self._avail_idx()
        if avail_idx == self.last_avail_idx and self.owner.has_feature(VIRTIO_F_EVENT_IDX):
            # ask for a kick on the next buffer, then look again: the driver may have added one meanwhile
            self._set_avail_event(self.last_avail_idx)
            avail_idx = self._avail_idx()
        pending = (avail_idx - self.last_avail_idx) & 0xFFFF
        if pending == 0:
            return None
        if pending > self.num:
            self.owner.error(f"guest moved avail index from {self.last_avail_idx} to {avail_idx} "
                             f"(queue {self.index} has {self.num} entries)")
            return None
        head = self._avail_ring(self.last_avail_idx)
        try:
            elem = self._read_chain(head)
        except _ChainError as exc:
            self.owner.error(str(exc))
            return None
        self.last_avail_idx = (self.last_avail_idx + 1) & 0xFFFF
        if self.owner.has_feature(VIRTIO_F_EVENT_IDX):
            self._set_avail_event(self.last_avail_idx)
        self.inuse += 1
        return elem

    def _read_chain(self, head: int) -> VirtQueueElement:
        dma = self._dma
        if head >= self.num:
            raise _ChainError(f"head descriptor {head} out of range (queue size {self.num})")
        base = self.desc
        table: bytes | None = None  # an indirect table, read whole

        def read_desc(i: int) -> tuple[int, int, int, int]:
            if table is not None:
                return _DESC.unpack_from(table, i * DESC_SIZE)
            return _DESC.unpack(dma.read_bytes(base + i * DESC_SIZE, DESC_SIZE))

        limit = self.num
        i = head
        addr, length, flags, nxt = read_desc(i)
        indirect = False
        if flags & VIRTQ_DESC_F_INDIRECT:
            if not self.owner.has_feature(VIRTIO_F_INDIRECT_DESC):
                raise _ChainError("indirect descriptor used without VIRTIO_F_INDIRECT_DESC")
            if length == 0 or length % DESC_SIZE:
                raise _ChainError(f"invalid size {length} for an indirect descriptor table")
            if length // DESC_SIZE > MAX_CHAIN_BUFFERS:
                raise _ChainError(f"indirect table of {length // DESC_SIZE} descriptors is too large")
            self._check_ram(addr, length, write=False)
            table = dma.read_bytes(addr, length)
            limit = length // DESC_SIZE
            indirect = True
            i = 0
            addr, length, flags, nxt = read_desc(0)
        elem = VirtQueueElement(head, dma=dma)
        in_total = out_total = 0
        count = 0
        while True:
            if flags & VIRTQ_DESC_F_INDIRECT:
                what = "nested indirect descriptor" if indirect else "indirect descriptor inside a chain"
                raise _ChainError(f"{what} (descriptor {i})")
            if length == 0:
                raise _ChainError(f"zero sized buffer in descriptor {i}")
            if addr + length > _U64_LIMIT:
                raise _ChainError(f"descriptor {i} buffer {addr:#x}+{length:#x} wraps around")
            if flags & VIRTQ_DESC_F_WRITE:
                self._check_ram(addr, length, write=True)
                in_total += length
                elem.in_sg.append((addr, length))
            else:
                if elem.in_sg:
                    raise _ChainError("readable descriptor after a writable one")
                self._check_ram(addr, length, write=False)
                out_total += length
                elem.out_sg.append((addr, length))
            if in_total >= _U32_LIMIT or out_total >= _U32_LIMIT:
                raise _ChainError("descriptor chain too long (4 GiB or more)")
            count += 1
            if len(elem.in_sg) + len(elem.out_sg) > MAX_CHAIN_BUFFERS:
                raise _ChainError("too many buffers in a descriptor chain")
            if not flags & VIRTQ_DESC_F_NEXT:
                break
            if count >= limit:
                raise _ChainError(f"looped descriptor chain (head {head})")
            if nxt >= limit:
                raise _ChainError(f"next descriptor {nxt} out of range ({limit} entries)")
            i = nxt
            addr, length, flags, nxt = read_desc(i)
        return elem

    def _check_ram(self, addr: int, length: int, write: bool) -> None:
        """Buffers must lie in guest RAM (ROM is fine for reading)."""
        dma = self._dma
        end = addr + length
        pos = addr
        while pos < end:
            r = dma.find(pos)
            if r is None or not r.is_ram or (write and r.region.kind != "ram"):
                raise _ChainError(f"bogus descriptor: buffer {addr:#x}+{length:#x} is not in RAM")
            pos = r.end

    # -- returning chains ------------------------------------------------------------------------
    def push(self, elem: VirtQueueElement, written: int) -> None:
        """Return ``elem`` to the driver, ``written`` bytes having been stored in its in buffers."""
        if not self.is_usable():
            return
        written = max(0, min(written, elem.in_size))
        slot = self.used_idx % self.num
        self._dma.write_bytes(self.used + 4 + 8 * slot, _USED_ELEM.pack(elem.index, written))
        old = self.used_idx
        new = self.used_idx = (old + 1) & 0xFFFF
        self._dma.write(self.used + 2, new, 2)
        # 2^16 entries used without a notification: the last signalled index is meaningless now
        since = (new - self.signalled_used) & 0xFFFF
        if since >= 0x8000 or since < ((new - old) & 0xFFFF):
            self.signalled_used_valid = False
        if self.inuse:
            self.inuse -= 1

    def should_notify(self) -> bool:
        """Whether the driver wants a used buffer notification now (2.7.7.2, 2.7.10)."""
        if not self.is_usable():
            return False
        if not self.owner.has_feature(VIRTIO_F_EVENT_IDX):
            return not self._avail_flags() & VRING_AVAIL_F_NO_INTERRUPT
        old = self.signalled_used
        valid = self.signalled_used_valid
        new = self.signalled_used = self.used_idx
        self.signalled_used_valid = True
        return not valid or vring_need_event(self._used_event(), new, old)
