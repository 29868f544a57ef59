"""Split virtqueues: malformed rings break the device without crashing, event idx, indirect tables."""

from __future__ import annotations

import pytest

from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.device import VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_VERSION_1
from pyqemu.hw.virtio.rng import VirtioRng
from pyqemu.hw.virtio.virtqueue import (
    VIRTIO_F_EVENT_IDX,
    VIRTIO_F_INDIRECT_DESC,
    VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    VRING_AVAIL_F_NO_INTERRUPT,
    VRING_USED_F_NO_NOTIFY,
    gather,
    scatter,
    vring_need_event,
)

from . import DESC, RAM_BASE, Guest, GuestQueue

V1 = 1 << VIRTIO_F_VERSION_1
W, N, I = VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_INDIRECT


def rng_guest(features: int = V1) -> tuple[Guest, GuestQueue]:
    g = Guest(VirtioRng(entropy=lambda n: bytes(i & 0xFF for i in range(n))))
    (q,) = g.setup(features)
    return g, q


def test_vring_need_event():
    assert vring_need_event(0, 1, 0)
    assert not vring_need_event(5, 2, 1)
    assert vring_need_event(2, 3, 2)
    assert vring_need_event(0xFFFF, 0, 0xFFFF)  # across the wrap
    assert not vring_need_event(7, 7, 7)


def test_gather_and_scatter_across_buffers():
    g = Guest()
    a, b = g.alloc(4), g.alloc(8)
    bufs = [(a, 4), (b, 8)]
    assert scatter(g.mem, bufs, b"0123456789AB") == 12
    assert gather(g.mem, bufs) == b"0123456789AB"
    assert gather(g.mem, bufs, 3, 4) == b"3456"
    assert scatter(g.mem, bufs, b"xy", 3) == 2
    assert gather(g.mem, bufs) == b"012xy56789AB"
    assert scatter(g.mem, bufs, b"z" * 20, 10) == 2


def test_rng_request_round_trip_and_avail_event_not_written_without_event_idx():
    g, q = rng_guest()
    q.add(in_lens=[16])
    ((req, n, data),) = q.get_used()
    assert n == 16 and data == bytes(range(16))
    assert q.avail_event() == 0


def inject(q: GuestQueue, head: int, descs: dict[int, tuple[int, int, int, int]]) -> None:
    for i, (addr, length, flags, nxt) in descs.items():
        q.write_desc(i, addr, length, flags, nxt)
    q.publish(head)
    q.kick()


def buf(g: Guest, n: int = 16) -> int:
    return g.alloc(n)


MALFORMED = {
    "loop": lambda g: (0, {0: (buf(g), 8, W | N, 1), 1: (buf(g), 8, W | N, 0)}),
    "self-loop": lambda g: (3, {3: (buf(g), 8, W | N, 3)}),
    "next out of range": lambda g: (0, {0: (buf(g), 8, W | N, 99)}),
    "head out of range": lambda g: (40, {}),
    "zero length": lambda g: (0, {0: (buf(g), 0, W, 0)}),
    "outside RAM": lambda g: (0, {0: (0x1000, 64, W, 0)}),
    "into MMIO": lambda g: (0, {0: (0x1000_1000, 64, W, 0)}),
    "length wraps": lambda g: (0, {0: ((1 << 64) - 16, 32, W, 0)}),
    "length past RAM end": lambda g: (0, {0: (RAM_BASE + (4 << 20) - 16, 32, W, 0)}),
    "readable after writable": lambda g: (0, {0: (buf(g), 8, W | N, 1), 1: (buf(g), 8, 0, 0)}),
    "indirect with bad size": lambda g: (0, {0: (buf(g, 24), 24, I, 0)}),
    "indirect table empty": lambda g: (0, {0: (buf(g), 0, I, 0)}),
    "nested indirect": lambda g: (0, {0: (g.put(DESC.pack(buf(g), 16, I, 0)), 16, I, 0)}),
    "indirect loop": lambda g: (0, {0: (g.put(DESC.pack(buf(g), 8, W | N, 1)
                                              + DESC.pack(buf(g), 8, W | N, 0)), 32, I, 0)}),
    "indirect next out of range": lambda g: (0, {0: (g.put(DESC.pack(buf(g), 8, W | N, 2)), 16, I, 0)}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_chain_marks_needs_reset_without_exception(case):
    features = V1 | (1 << VIRTIO_F_INDIRECT_DESC)
    g, q = rng_guest(features)
    head, descs = MALFORMED[case](g)
    inject(q, head, descs)  # must not raise
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    assert len(g.errors) == 1 and g.errors[0].startswith("virtio-rng: "), g.errors
    assert "\n" not in g.errors[0]
    assert g.rd(regs.INTERRUPT_STATUS) & 2  # config change notification
    assert q.used_idx() == 0
    # the device ignores the driver until reset
    g.ack_interrupt()
    q.add(in_lens=[8])
    assert q.used_idx() == 0 and g.irq_level == 0
    g.wr(regs.STATUS, g.status | VIRTIO_CONFIG_S_DRIVER_OK)  # status writes keep NEEDS_RESET
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    assert len(g.errors) == 1
    # after a reset the device works again
    (q2,) = g.setup(features)
    assert not g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    q2.add(in_lens=[8])
    assert [n for _, n, _ in q2.get_used()] == [8]


def test_indirect_descriptor_without_the_feature_is_an_error():
    g, q = rng_guest(V1)
    table = g.put(DESC.pack(buf(g), 8, W, 0))
    inject(q, 0, {0: (table, 16, I, 0)})
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    assert "INDIRECT" in g.errors[0]


def test_avail_index_jumping_too_far_is_an_error():
    g, q = rng_guest()
    g.mem.write(q.avail + 2, 100, 2)
    q.kick()
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET and "avail index" in g.errors[0]


def test_indirect_descriptors():
    g, q = rng_guest(V1 | (1 << VIRTIO_F_INDIRECT_DESC))
    req = q.add(in_lens=[5, 7], indirect=True)
    assert len(req.descs) == 1
    ((_, n, data),) = q.get_used()
    assert n == 12 and data == bytes(range(12))
    assert not g.errors


def test_no_interrupt_flag_suppresses_notifications_without_event_idx():
    g, q = rng_guest()
    q.set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT)
    q.add(in_lens=[4])
    assert q.used_idx() == 1 and g.irq_level == 0
    q.set_avail_flags(0)
    q.add(in_lens=[4])
    assert q.used_idx() == 2 and g.irq_level == 1


def test_event_idx_suppresses_used_notifications():
    g, q = rng_guest(V1 | (1 << VIRTIO_F_EVENT_IDX))
    assert g.device.has_feature(VIRTIO_F_EVENT_IDX)
    q.add(in_lens=[4])  # used idx 0 -> 1, used_event 0: notify
    assert g.ack_interrupt() == 1
    assert q.avail_event() == 1  # the device wants a kick for the next buffer
    q.set_used_event(5)  # "interrupt me once used idx passes 5"
    for k in range(2, 6):
        q.add(in_lens=[4])
        assert q.used_idx() == k and g.irq_level == 0, k
    assert q.avail_event() == 5
    q.add(in_lens=[4])  # used idx 5 -> 6 crosses used_event 5
    assert g.irq_level == 1 and g.ack_interrupt() == 1
    q.set_used_event(6)
    q.add(in_lens=[4])
    assert g.irq_level == 1
    assert len(q.get_used()) == 7


def test_event_idx_batched_kick():
    g, q = rng_guest(V1 | (1 << VIRTIO_F_EVENT_IDX))
    for _ in range(3):
        q.add(in_lens=[4], kick=False)
    q.kick()
    assert q.used_idx() == 3 and q.avail_event() == 3
    assert g.irq_level == 1
    assert len(q.get_used()) == 3


def test_set_notification_flags():
    g, q = rng_guest()
    vq = g.device.queues[0]
    vq.set_notification(False)
    assert q.used_flags() & VRING_USED_F_NO_NOTIFY
    vq.set_notification(True)
    assert q.used_flags() == 0
    g2, q2 = rng_guest(V1 | (1 << VIRTIO_F_EVENT_IDX))
    q2.add(in_lens=[4], kick=False)
    q2.add(in_lens=[4], kick=False)
    g2.device.queues[0].set_notification(True)
    assert q2.avail_event() == 2


def test_queue_wraps_past_its_size_and_index_wrap():
    g, q = rng_guest()
    for _ in range(40):  # queue size 16
        q.add(in_lens=[3])
        assert len(q.get_used()) == 1
    vq = g.device.queues[0]
    assert vq.last_avail_idx == 40 and vq.used_idx == 40


def test_default_error_report_is_one_line_on_stderr(capsys):
    device = VirtioRng()
    g = Guest()
    g.transport.plug(device)  # keeps the default on_error
    (q,) = g.setup(V1)
    inject(q, 0, {0: (buf(g), 8, W | N, 0)})
    err = capsys.readouterr().err
    assert err == "pyqemu-system-riscv64: virtio-rng: looped descriptor chain (head 0)\n"
