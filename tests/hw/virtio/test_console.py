"""virtio-console, single port: guest output to the chardev, host input into receive buffers."""

from __future__ import annotations

from pyqemu.chardev.base import Chardev
from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.console import VIRTIO_CONSOLE_F_MULTIPORT, VirtioConsole
from pyqemu.hw.virtio.device import VIRTIO_F_VERSION_1
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX

from . import Guest, GuestQueue

V1 = 1 << VIRTIO_F_VERSION_1


class CaptureChardev(Chardev):
    """A backend that records guest output; tests feed input with :meth:`deliver`."""

    def __init__(self) -> None:
        super().__init__("capture")
        self.output = bytearray()

    def write(self, data: bytes) -> int:
        self.output += data
        return len(data)


def console_guest() -> tuple[Guest, GuestQueue, GuestQueue, CaptureChardev]:
    chr_ = CaptureChardev()
    g = Guest(VirtioConsole(chr_))
    rx, tx = g.setup(V1)
    return g, rx, tx, chr_


def received(rx: GuestQueue) -> bytes:
    return b"".join(data[:n] for _, n, data in rx.get_used())


def test_identification_and_config():
    g = Guest(VirtioConsole(CaptureChardev()))
    assert g.rd(regs.DEVICE_ID) == 3
    assert not g.device_features() & (1 << VIRTIO_CONSOLE_F_MULTIPORT)
    assert g.rd(0x100 + 4) == 1  # max_nr_ports
    for index in (0, 1):
        g.wr(regs.QUEUE_SEL, index)
        assert g.rd(regs.QUEUE_NUM_MAX) == 128
    g.wr(regs.QUEUE_SEL, 2)
    assert g.rd(regs.QUEUE_NUM_MAX) == 0


def test_guest_output_goes_to_the_chardev():
    g, _, tx, chr_ = console_guest()
    tx.add([b"Hello, ", b"world\n"])
    tx.add([b"second line\n"])
    assert bytes(chr_.output) == b"Hello, world\nsecond line\n"
    assert [n for _, n, _ in tx.get_used()] == [0, 0]
    assert g.ack_interrupt() == 1


def test_host_input_waits_for_receive_buffers():
    g, rx, _, chr_ = console_guest()
    chr_.deliver(b"typed early")  # no receive buffers yet: stays buffered
    assert rx.used_idx() == 0 and g.irq_level == 0
    rx.add(in_lens=[64])  # the driver adds a buffer and kicks: input flows
    assert received(rx) == b"typed early"
    assert g.ack_interrupt() == 1
    chr_.deliver(b"more")  # no buffer left
    assert rx.used_idx() == 1
    rx.add(in_lens=[64])
    assert received(rx) == b"more"


def test_host_input_is_split_over_small_buffers_and_kept_in_order():
    g, rx, _, chr_ = console_guest()
    for _ in range(2):
        rx.add(in_lens=[4])
    chr_.deliver(b"0123456789abcdef")
    assert received(rx) == b"01234567"
    for _ in range(3):
        rx.add(in_lens=[4])
    assert received(rx) == b"89abcdef"
    chr_.deliver(b"!")
    assert received(rx) == b"!"


def test_input_before_driver_ok_and_reset_drop():
    chr_ = CaptureChardev()
    g = Guest(VirtioConsole(chr_))
    g.negotiate(V1)
    rx = GuestQueue(g, 0, 8)
    GuestQueue(g, 1, 8)
    rx.add(in_lens=[32])
    chr_.deliver(b"boot")
    assert rx.used_idx() == 0  # nothing is consumed before DRIVER_OK
    g.driver_ok()
    assert received(rx) == b"boot"
    g.wr(regs.STATUS, 0)
    chr_.deliver(b"after reset")  # the driver is gone: stays in the chardev
    rx2, _ = g.setup(V1, queue_size=8)
    rx2.add(in_lens=[32])
    assert received(rx2) == b"after reset"


def test_console_without_chardev():
    g = Guest(VirtioConsole())
    rx, tx = g.setup(V1)
    tx.add([b"dropped"])
    assert [n for _, n, _ in tx.get_used()] == [0]
    rx.add(in_lens=[8])
    assert rx.get_used() == []


def test_event_idx_driver_that_kicks_only_when_asked():
    """The Linux way: with VIRTIO_F_EVENT_IDX the driver kicks only when avail_event says so."""
    chr_ = CaptureChardev()
    g = Guest(VirtioConsole(chr_))
    rx, tx = g.setup(V1 | (1 << VIRTIO_F_EVENT_IDX), queue_size=8)
    rx.linux_kicks = tx.linux_kicks = True
    for _ in range(4):
        rx.add(in_lens=[2])
    assert rx.kicks == 1  # avail_event is still 0: only the first buffer was announced
    chr_.deliver(b"abcdefghij")  # fills all four buffers, two bytes wait
    assert received(rx) == b"abcdefgh"
    rx.add(in_lens=[8])  # the device asked for a kick when it ran dry
    assert rx.kicks == 2
    assert received(rx) == b"ij"
    chr_.deliver(b"k")  # no buffer: stays in the chardev
    rx.add(in_lens=[8])
    assert rx.kicks == 3 and received(rx) == b"k"
    for text in (b"one ", b"two ", b"three"):
        tx.add([text])
    assert tx.kicks == 3 and bytes(chr_.output) == b"one two three"
