"""virtio-mmio version 2: identification, feature negotiation, status, queue registers, interrupts."""

from __future__ import annotations

from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.device import (
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FAILED,
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_F_VERSION_1,
)
from pyqemu.hw.virtio.rng import VirtioRng
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC

from . import Guest


def test_empty_slot_identifies_as_no_device():
    g = Guest()
    assert g.transport.mr.size == 0x200 and g.transport.mr.name == "virtio-mmio"
    assert g.rd(regs.MAGIC_VALUE) == 0x74726976
    assert g.rd(regs.VERSION) == 2
    assert g.rd(regs.DEVICE_ID) == 0
    assert g.rd(regs.VENDOR_ID) == 0x554D4551
    g.wr(regs.STATUS, 1)  # ignored, no crash
    g.wr(regs.QUEUE_NOTIFY, 0)
    assert g.rd(regs.STATUS) == 0 and g.rd(0x100) == 0


def test_identification_and_features():
    g = Guest(VirtioRng())
    assert g.rd(regs.DEVICE_ID) == 4
    features = g.device_features()
    assert features & (1 << VIRTIO_F_VERSION_1)
    assert features & (1 << VIRTIO_F_INDIRECT_DESC) and features & (1 << VIRTIO_F_EVENT_IDX)
    g.wr(regs.DEVICE_FEATURES_SEL, 2)
    assert g.rd(regs.DEVICE_FEATURES) == 0


def test_features_ok_refused_for_unoffered_features_or_without_version_1():
    g = Guest(VirtioRng())
    status = g.negotiate((1 << VIRTIO_F_VERSION_1) | (1 << 5))  # bit 5 is not offered
    assert status == VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER
    assert not g.negotiate(0) & VIRTIO_CONFIG_S_FEATURES_OK  # a legacy driver
    status = g.negotiate(1 << VIRTIO_F_VERSION_1)
    assert status & VIRTIO_CONFIG_S_FEATURES_OK
    assert g.device.has_feature(VIRTIO_F_VERSION_1) and not g.device.has_feature(VIRTIO_F_EVENT_IDX)
    # feature bits cannot change once FEATURES_OK stuck
    g.wr(regs.DRIVER_FEATURES_SEL, 0)
    g.wr(regs.DRIVER_FEATURES, 1 << VIRTIO_F_EVENT_IDX)
    assert not g.device.has_feature(VIRTIO_F_EVENT_IDX)
    g.wr(regs.STATUS, g.status | VIRTIO_CONFIG_S_FAILED)
    assert g.status & VIRTIO_CONFIG_S_FAILED


def test_queue_registers_and_reset():
    g = Guest(VirtioRng())
    g.negotiate(1 << VIRTIO_F_VERSION_1)
    g.wr(regs.QUEUE_SEL, 0)
    assert g.rd(regs.QUEUE_NUM_MAX) == 8
    g.wr(regs.QUEUE_SEL, 1)  # rng has one queue
    assert g.rd(regs.QUEUE_NUM_MAX) == 0 and g.rd(regs.QUEUE_READY) == 0
    g.wr(regs.QUEUE_READY, 1)  # no such queue: ignored
    assert g.rd(regs.QUEUE_READY) == 0
    g.wr(regs.QUEUE_SEL, 0)
    g.wr(regs.QUEUE_NUM, 4)
    g.wr(regs.QUEUE_NUM, 6)  # not a power of 2: ignored
    g.wr(regs.QUEUE_NUM, 64)  # above QueueNumMax: ignored
    vq = g.device.queues[0]
    assert vq.num == 4
    g.wr(regs.QUEUE_DESC_LOW, 0x80001000)
    g.wr(regs.QUEUE_DESC_HIGH, 0x1)
    g.wr(regs.QUEUE_DRIVER_LOW, 0x80002000)
    g.wr(regs.QUEUE_DEVICE_LOW, 0x80003000)
    g.wr(regs.QUEUE_READY, 1)
    assert (vq.desc, vq.avail, vq.used, vq.ready) == (0x1_80001000, 0x80002000, 0x80003000, True)
    assert g.rd(regs.QUEUE_READY) == 1
    g.wr(regs.STATUS, 0)
    assert g.rd(regs.STATUS) == 0 and g.rd(regs.QUEUE_READY) == 0
    assert (vq.num, vq.desc, vq.ready) == (8, 0, False)
    assert g.device.driver_features == 0


def test_register_access_sizes():
    g = Guest(VirtioRng())
    assert g.rd(regs.MAGIC_VALUE, 1) == 0
    g.wr(regs.STATUS, 1, 2)
    assert g.status == 0
    assert len(g.guest_errors) == 2 and "wrong size" in g.guest_errors[0]
    assert g.rd(regs.QUEUE_NOTIFY) == 0  # write-only
    assert g.rd(regs.SHM_LEN_LOW) == 0xFFFFFFFF  # no shared memory region


def test_interrupt_line_follows_interrupt_status():
    g = Guest(VirtioRng(entropy=lambda n: b"\x5a" * n))
    (q,) = g.setup()
    assert g.irq_level == 0
    q.add(in_lens=[8])
    assert g.irq_level == 1 and g.rd(regs.INTERRUPT_STATUS) == 1
    assert g.ack_interrupt() == 1
    assert g.irq_level == 0 and g.rd(regs.INTERRUPT_STATUS) == 0
    q.add(in_lens=[8])
    assert g.irq_level == 1
    g.wr(regs.STATUS, 0)  # reset lowers the line
    assert g.irq_level == 0
    assert g.irq_levels == [1, 0, 1, 0]


def test_config_generation_and_config_change_interrupt():
    g = Guest(VirtioRng())
    g.setup()
    gen = g.rd(regs.CONFIG_GENERATION)
    g.device.notify_config()
    assert g.rd(regs.CONFIG_GENERATION) == gen + 1
    assert g.rd(regs.INTERRUPT_STATUS) == 2 and g.irq_level == 1
    g.ack_interrupt()
    assert g.irq_level == 0


def test_driver_ok_processes_buffers_queued_before_it():
    g = Guest(VirtioRng(entropy=lambda n: b"\x01" * n))
    g.negotiate(1 << VIRTIO_F_VERSION_1)
    from . import GuestQueue

    q = GuestQueue(g, 0, 8)
    q.add(in_lens=[4], kick=True)
    assert q.get_used() == []  # not before DRIVER_OK
    g.wr(regs.STATUS, g.status | VIRTIO_CONFIG_S_DRIVER_OK)
    ((_, n, data),) = q.get_used()
    assert (n, data) == (4, b"\x01" * 4)
