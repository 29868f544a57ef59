"""virtio-console with a single port (virtio 1.2 spec section 5.3).

Without ``VIRTIO_CONSOLE_F_MULTIPORT`` the device has exactly two queues (5.3.2): ``receiveq0``
(queue 0), where the driver places empty buffers the device fills with host input, and
``transmitq0`` (queue 1), where the driver places its output.  Linux binds port 0 to ``hvc0``.  No
feature bits are offered; the configuration space (5.3.4: cols, rows, max_nr_ports, emerg_wr) reads as
zeros apart from ``max_nr_ports`` = 1.

The host side is a :class:`~pyqemu.chardev.base.Chardev`: guest output goes to ``chardev.write``; host
input is taken while the driver has receive buffers available (``can_receive``) and otherwise stays
buffered in the chardev until the driver adds buffers, when the device calls ``chardev.accept_input``.
"""

from __future__ import annotations

import struct

from pyqemu.chardev.base import Chardev
from pyqemu.hw.virtio.device import VIRTIO_ID_CONSOLE, VirtioDevice
from pyqemu.hw.virtio.virtqueue import VirtQueue

VIRTIO_CONSOLE_F_SIZE = 0
VIRTIO_CONSOLE_F_MULTIPORT = 1
VIRTIO_CONSOLE_F_EMERG_WRITE = 2

CONFIG_SIZE = 12
DEFAULT_QUEUE_SIZE = 128
#: the most host input taken in one go (it then waits in :attr:`VirtioConsole._rx_pending`)
RX_CHUNK = 4096


class VirtioConsole(VirtioDevice):
    """A virtio console port wired to a chardev (or to nothing: output dropped, no input)."""

    def __init__(self, chardev: Chardev | None = None, queue_size: int = DEFAULT_QUEUE_SIZE):
        super().__init__("virtio-console", VIRTIO_ID_CONSOLE, CONFIG_SIZE)
        struct.pack_into("<I", self.config, 4, 1)  # max_nr_ports
        self.chardev: Chardev | None = None
        self.rx = self.add_queue(queue_size, self._handle_rx)
        self.tx = self.add_queue(queue_size, self._handle_tx)
        self._rx_pending = bytearray()  # input taken from the chardev that did not fit the buffers yet
        self.set_chardev(chardev)

    def set_chardev(self, chardev: Chardev | None) -> None:
        """Connect the port to ``chardev`` (``-device virtconsole,chardev=ID`` names it after the
        virtio-serial device exists)."""
        self.chardev = chardev
        if chardev is not None:
            chardev.set_handlers(self._can_receive, self._receive)

    # -- host -> guest ----------------------------------------------------------------------------
    def _can_receive(self) -> int:
        with self.lock:
            if not self.is_driver_ok() or self._rx_pending:
                return 0
            if self.rx.is_empty():
                # make sure the driver kicks when it adds buffers, then look once more
                self.rx.set_notification(True)
                if self.rx.is_empty():
                    return 0
            return RX_CHUNK

    def _receive(self, data: bytes) -> None:
        with self.lock:
            self._rx_pending += data
            self._flush_rx()

    def _flush_rx(self) -> None:
        """Move pending input into the driver's receive buffers."""
        if not self.is_driver_ok():
            return
        done = False
        while self._rx_pending:
            elem = self.rx.pop()
            if elem is None:
                break
            n = elem.write_in(self._rx_pending)
            del self._rx_pending[:n]
            self.rx.push(elem, n)
            done = True
        if done:
            self.notify(self.rx)

    def _handle_rx(self, vq: VirtQueue) -> None:
        """The driver added receive buffers: deliver what waits, then let the chardev send more."""
        self._flush_rx()
        if self.chardev is not None and not self._rx_pending:
            self.chardev.accept_input()

    # -- guest -> host ----------------------------------------------------------------------------
    def _handle_tx(self, vq: VirtQueue) -> None:
        done = False
        while (elem := vq.pop()) is not None:
            data = elem.read_out()
            if self.chardev is not None and data:
                self.chardev.write(data)
            vq.push(elem, 0)
            done = True
        if done:
            self.notify(vq)

    # -- lifecycle --------------------------------------------------------------------------------
    def device_reset(self) -> None:
        self._rx_pending.clear()
