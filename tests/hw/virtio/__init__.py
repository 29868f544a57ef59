"""A tiny virtio guest driver for the device tests.

:class:`Guest` is a machine of its own: guest RAM and one virtio-mmio slot in an AddressSpace, an
interrupt line whose levels are recorded.  The driver side talks to the device only as a guest would:
32-bit MMIO register accesses and split rings (descriptor table, available ring, used ring) laid out in
guest RAM by :class:`GuestQueue`.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyqemu.exec.memory import AddressSpace, MemoryRegion, RamArena
from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.device import (
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_F_VERSION_1,
    VirtioDevice,
)
from pyqemu.hw.virtio.mmio import VirtioMMIO
from pyqemu.hw.virtio.virtqueue import (
    VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    VRING_USED_F_NO_NOTIFY,
    vring_need_event,
)

RAM_BASE = 0x8000_0000
RAM_SIZE = 4 << 20
MMIO_BASE = 0x1000_1000
DESC = struct.Struct("<QIHH")


def make_arena(size: int) -> RamArena:
    """A RamArena of ``size`` bytes.  RamArena asks for ``mmap.MAP_NORESERVE``, which Python 3.11's mmap
    module does not export; without it, build the same arena from a plain mapping."""
    if hasattr(mmap, "MAP_NORESERVE"):
        return RamArena(reserve=size)
    arena = RamArena.__new__(RamArena)
    arena.mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    arena.size = size
    arena.used = 0
    return arena


class Guest:
    """Guest RAM + one virtio-mmio transport, and the driver's register helpers."""

    def __init__(self, device: VirtioDevice | None = None):
        self.arena = make_arena(64 << 20)
        root = MemoryRegion.container_of("system", 1 << 40)
        self.ram = MemoryRegion.ram("ram", RAM_SIZE, self.arena)
        root.add_subregion(RAM_BASE, self.ram)
        self.mem = AddressSpace("memory", root)
        self.irq_levels: list[int] = []
        self.irq = IRQ(lambda n, level: self.irq_levels.append(level))
        self.transport = VirtioMMIO(self.mem, self.irq)
        root.add_subregion(MMIO_BASE, self.transport.mr)
        self.errors: list[str] = []
        self.guest_errors: list[str] = []
        self.transport.log_guest_error = self.guest_errors.append
        self.device = device
        if device is not None:
            device.on_error = self.errors.append
            self.transport.plug(device)
        self._next = RAM_BASE + 0x1000

    # -- memory -----------------------------------------------------------------------------------
    def alloc(self, size: int, align: int = 16) -> int:
        addr = (self._next + align - 1) & ~(align - 1)
        self._next = addr + max(size, 1)
        assert self._next <= RAM_BASE + RAM_SIZE, "test guest out of RAM"
        return addr

    def put(self, data: bytes, align: int = 16) -> int:
        addr = self.alloc(len(data), align)
        self.mem.write_bytes(addr, data)
        return addr

    # -- registers --------------------------------------------------------------------------------
    def rd(self, offset: int, size: int = 4) -> int:
        return self.mem.read(MMIO_BASE + offset, size)

    def wr(self, offset: int, value: int, size: int = 4) -> None:
        self.mem.write(MMIO_BASE + offset, value, size)

    @property
    def status(self) -> int:
        return self.rd(regs.STATUS)

    @property
    def irq_level(self) -> int:
        return self.irq.level

    def device_features(self) -> int:
        self.wr(regs.DEVICE_FEATURES_SEL, 0)
        low = self.rd(regs.DEVICE_FEATURES)
        self.wr(regs.DEVICE_FEATURES_SEL, 1)
        return low | (self.rd(regs.DEVICE_FEATURES) << 32)

    def negotiate(self, wanted: int | None = None) -> int:
        """Steps 1-6 of the initialization sequence (spec 3.1.1); returns the status read back."""
        self.wr(regs.STATUS, 0)
        self.wr(regs.STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE)
        self.wr(regs.STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
        offered = self.device_features()
        features = offered if wanted is None else wanted
        for sel in (0, 1):
            self.wr(regs.DRIVER_FEATURES_SEL, sel)
            self.wr(regs.DRIVER_FEATURES, (features >> (32 * sel)) & 0xFFFFFFFF)
        driver = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER
        self.wr(regs.STATUS, driver | VIRTIO_CONFIG_S_FEATURES_OK)
        return self.status

    def driver_ok(self) -> None:
        self.wr(regs.STATUS, self.status | VIRTIO_CONFIG_S_DRIVER_OK)

    def setup(self, features: int | None = None, queue_size: int = 16,
              queues: int | None = None) -> list[GuestQueue]:
        """Full bring-up: negotiate ``features`` (default: VERSION_1 only), set up the queues,
        DRIVER_OK."""
        wanted = (1 << VIRTIO_F_VERSION_1) if features is None else features
        status = self.negotiate(wanted)
        assert status & VIRTIO_CONFIG_S_FEATURES_OK, f"features {wanted:#x} refused"
        device = self.transport.device
        assert device is not None
        count = queues if queues is not None else len(device.queues)
        qs = [GuestQueue(self, i, queue_size, event_idx=bool(wanted & (1 << 29))) for i in range(count)]
        self.driver_ok()
        return qs

    def ack_interrupt(self) -> int:
        """What the interrupt handler does: read the cause, acknowledge it."""
        cause = self.rd(regs.INTERRUPT_STATUS)
        self.wr(regs.INTERRUPT_ACK, cause)
        return cause


@dataclass
class Request:
    """A chain the test driver made available."""

    head: int
    descs: list[int]
    in_bufs: list[tuple[int, int]] = field(default_factory=list)


class GuestQueue:
    """The driver side of one split virtqueue in guest RAM."""

    def __init__(self, guest: Guest, index: int, size: int, event_idx: bool = False):
        self.g = guest
        self.index = index
        guest.wr(regs.QUEUE_SEL, index)
        size = min(size, guest.rd(regs.QUEUE_NUM_MAX))
        assert size > 0, f"queue {index} does not exist"
        self.size = size
        self.event_idx = event_idx
        self.desc = guest.alloc(16 * size, 16)
        self.avail = guest.alloc(6 + 2 * size, 2)
        self.used = guest.alloc(6 + 8 * size, 4)
        self.free = list(range(size))
        self.avail_idx = 0
        self.last_used = 0
        self.pending: dict[int, Request] = {}
        #: kick only when the device asked for it (avail_event / NO_NOTIFY), as Linux does
        self.linux_kicks = False
        self.kicks = 0
        g = guest
        g.wr(regs.QUEUE_SEL, index)
        assert g.rd(regs.QUEUE_READY) == 0
        g.wr(regs.QUEUE_NUM, size)
        for low, addr in ((regs.QUEUE_DESC_LOW, self.desc), (regs.QUEUE_DRIVER_LOW, self.avail),
                          (regs.QUEUE_DEVICE_LOW, self.used)):
            g.wr(low, addr & 0xFFFFFFFF)
            g.wr(low + 4, addr >> 32)
        g.wr(regs.QUEUE_READY, 1)
        assert g.rd(regs.QUEUE_READY) == 1

    # -- raw ring access --------------------------------------------------------------------------
    def write_desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.g.mem.write_bytes(self.desc + 16 * i, DESC.pack(addr, length, flags, nxt))

    def publish(self, head: int) -> None:
        """Put ``head`` in the available ring and move the index (no kick)."""
        self.g.mem.write(self.avail + 4 + 2 * (self.avail_idx % self.size), head, 2)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.g.mem.write(self.avail + 2, self.avail_idx, 2)

    def set_avail_flags(self, flags: int) -> None:
        self.g.mem.write(self.avail, flags, 2)

    def set_used_event(self, value: int) -> None:
        self.g.mem.write(self.avail + 4 + 2 * self.size, value & 0xFFFF, 2)

    def avail_event(self) -> int:
        return self.g.mem.read(self.used + 4 + 8 * self.size, 2)

    def used_flags(self) -> int:
        return self.g.mem.read(self.used, 2)

    def used_idx(self) -> int:
        return self.g.mem.read(self.used + 2, 2)

    # -- requests ---------------------------------------------------------------------------------
    def add(self, out: Sequence[bytes] = (), in_lens: Sequence[int] = (), indirect: bool = False,
            kick: bool = True) -> Request:
        """Make a chain of readable buffers (``out``) then writable ones (``in_lens``) available."""
        bufs = [(self.g.put(data), len(data), 0) for data in out]
        bufs += [(self.g.alloc(n), n, VIRTQ_DESC_F_WRITE) for n in in_lens]
        in_bufs = [(a, n) for a, n, f in bufs if f & VIRTQ_DESC_F_WRITE]
        if indirect:
            table = b"".join(DESC.pack(a, n, f | (VIRTQ_DESC_F_NEXT if k + 1 < len(bufs) else 0), k + 1)
                             for k, (a, n, f) in enumerate(bufs))
            head = self.free.pop(0)
            self.write_desc(head, self.g.put(table), len(table), VIRTQ_DESC_F_INDIRECT, 0)
            req = Request(head, [head], in_bufs)
        else:
            ids = [self.free.pop(0) for _ in bufs]
            for k, (a, n, f) in enumerate(bufs):
                if k + 1 == len(bufs):
                    self.write_desc(ids[k], a, n, f, 0)
                else:
                    self.write_desc(ids[k], a, n, f | VIRTQ_DESC_F_NEXT, ids[k + 1])
            req = Request(ids[0], ids, in_bufs)
        self.pending[req.head] = req
        old = self.avail_idx
        self.publish(req.head)
        if kick and (not self.linux_kicks or self.kick_needed(old)):
            self.kick()
        return req

    def kick_needed(self, old: int) -> bool:
        """Does the device want a notification for the buffers published since ``old`` (2.7.10)?"""
        if self.event_idx:
            return vring_need_event(self.avail_event(), self.avail_idx, old)
        return not self.used_flags() & VRING_USED_F_NO_NOTIFY

    def kick(self) -> None:
        self.kicks += 1
        self.g.wr(regs.QUEUE_NOTIFY, self.index)

    def get_used(self) -> list[tuple[Request, int, bytes]]:
        """Completed requests since the last call: (request, written length, bytes written)."""
        out = []
        while self.last_used != self.used_idx():
            slot = self.last_used % self.size
            ident, length = struct.unpack("<II", self.g.mem.read_bytes(self.used + 4 + 8 * slot, 8))
            req = self.pending.pop(ident)
            self.free += req.descs
            data = b"".join(self.g.mem.read_bytes(a, n) for a, n in req.in_bufs)
            out.append((req, length, data))
            self.last_used = (self.last_used + 1) & 0xFFFF
        if self.event_idx:  # like Linux: interrupt me for the next used buffer
            self.set_used_event(self.last_used)
        return out
