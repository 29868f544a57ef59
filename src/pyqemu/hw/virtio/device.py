"""The transport-independent core of a virtio device (virtio 1.2 spec sections 2 and 3).

What every device has, whatever transport carries it (QEMU hw/virtio/virtio.c):

* a device ID (5: "Device Types") and 64 feature bits offered by the device (2.2).  Devices here are
  modern only: ``VIRTIO_F_VERSION_1`` is always offered and a driver that does not accept it cannot
  reach ``FEATURES_OK``;
* the device status byte (2.1) with the initialization sequence of 3.1: ``ACKNOWLEDGE``, ``DRIVER``,
  ``FEATURES_OK`` (refused when the driver asks for features that were not offered), ``DRIVER_OK``;
  ``FAILED`` is recorded; writing 0 resets the device (2.4);
* the device configuration space (2.5) with its configuration generation counter;
* the virtqueues (2.7) and the per-device handler run when the driver notifies one;
* the interrupt status the transport shows the driver: bit 0 a used buffer notification, bit 1 a
  configuration change notification (2.3); the transport is told whenever it changes.

When the driver breaks the rules badly (a malformed ring, a request without headers) the device calls
:meth:`VirtioDevice.error`: it reports one line through :attr:`VirtioDevice.on_error`, sets
``DEVICE_NEEDS_RESET`` (2.1.1), sends a configuration change notification and ignores the driver until
it resets the device, as QEMU's ``virtio_error`` does.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from pyqemu.exec.memory import AddressSpace
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VirtQueue

# -- device status bits (2.1) -----------------------------------------------------------------------
VIRTIO_CONFIG_S_ACKNOWLEDGE = 1
VIRTIO_CONFIG_S_DRIVER = 2
VIRTIO_CONFIG_S_DRIVER_OK = 4
VIRTIO_CONFIG_S_FEATURES_OK = 8
VIRTIO_CONFIG_S_NEEDS_RESET = 0x40
VIRTIO_CONFIG_S_FAILED = 0x80

# -- reserved feature bits (6) ----------------------------------------------------------------------
VIRTIO_F_VERSION_1 = 32

# -- interrupt status bits (2.3; virtio-mmio InterruptStatus, virtio-pci ISR) -------------------------
VIRTIO_ISR_QUEUE = 1
VIRTIO_ISR_CONFIG = 2

# -- device IDs (5) -----------------------------------------------------------------------------------
VIRTIO_ID_NET = 1
VIRTIO_ID_BLOCK = 2
VIRTIO_ID_CONSOLE = 3
VIRTIO_ID_RNG = 4

#: the program name guest errors are reported under (boards may change it)
ERROR_PREFIX = "pyqemu-system-riscv64"


def report_error(message: str) -> None:
    """Default :attr:`VirtioDevice.on_error`: one line on stderr, QEMU's error_report style."""
    print(f"{ERROR_PREFIX}: {message}", file=sys.stderr, flush=True)


class VirtioDevice:
    """Base class of virtio devices.  Subclasses add queues with :meth:`add_queue`, fill :attr:`config`
    (or override :meth:`get_config`), and may override :meth:`device_reset`, :meth:`driver_ok`,
    :meth:`config_write` and :meth:`status_changed`."""

    def __init__(self, name: str, device_id: int, config_size: int = 0, features: int = 0):
        self.name = name
        self.device_id = device_id
        #: features offered to the driver (2.2); ring features and VERSION_1 are always offered
        self.host_features = (features | (1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_F_INDIRECT_DESC)
                              | (1 << VIRTIO_F_EVENT_IDX))
        #: what the driver wrote to its feature bits (effective once FEATURES_OK is accepted)
        self.driver_features = 0
        self.status = 0
        self.isr = 0
        self.config = bytearray(config_size)
        self.config_generation = 0
        self.queues: list[VirtQueue] = []
        self.broken = False
        #: guest memory for DMA, set by the transport
        self.dma: AddressSpace | None = None
        #: called by the device when :attr:`isr` changed (the transport updates its interrupt line)
        self.irq_update: Callable[[], None] | None = None
        #: where guest errors are reported (one line each)
        self.on_error: Callable[[str], None] = report_error
        #: serializes the driver's register accesses with host-side events (chardev input, AIO)
        self.lock = threading.RLock()

    # -- queues -----------------------------------------------------------------------------------
    def add_queue(self, num_max: int, handler: Callable[[VirtQueue], None] | None) -> VirtQueue:
        vq = VirtQueue(self, len(self.queues), num_max, handler)
        self.queues.append(vq)
        return vq

    def notify_queue(self, index: int) -> None:
        """The driver notified (kicked) queue ``index``.  Nothing is consumed before DRIVER_OK (3.1.1);
        :meth:`driver_ok` catches up."""
        with self.lock:
            if not self.is_driver_ok() or not 0 <= index < len(self.queues):
                return
            vq = self.queues[index]
            if vq.handler is not None and vq.is_usable():
                vq.handler(vq)

    # -- features ---------------------------------------------------------------------------------
    def has_feature(self, bit: int) -> bool:
        """Was feature ``bit`` negotiated (offered, and accepted by the driver)?"""
        return bool(self.driver_features & self.host_features & (1 << bit))

    def host_has_feature(self, bit: int) -> bool:
        return bool(self.host_features & (1 << bit))

    def set_driver_features(self, value: int) -> None:
        """The driver's feature bits; ignored once FEATURES_OK was set (3.1.1)."""
        if not self.status & VIRTIO_CONFIG_S_FEATURES_OK:
            self.driver_features = value & ((1 << 64) - 1)

    def validate_features(self) -> bool:
        """May the device operate with :attr:`driver_features`?  Only offered features, VERSION_1 in."""
        if self.driver_features & ~self.host_features:
            return False
        return self.has_feature(VIRTIO_F_VERSION_1)

    # -- status -----------------------------------------------------------------------------------
    def set_status(self, value: int) -> None:
        """The driver wrote the device status byte."""
        with self.lock:
            value &= 0xFF
            if value == 0:
                self.reset()
                return
            old = self.status
            if value & VIRTIO_CONFIG_S_FEATURES_OK and not old & VIRTIO_CONFIG_S_FEATURES_OK:
                if not self.validate_features():
                    value &= ~VIRTIO_CONFIG_S_FEATURES_OK  # the driver sees the bit did not stick
            if self.broken:
                value |= VIRTIO_CONFIG_S_NEEDS_RESET
            else:
                value &= ~VIRTIO_CONFIG_S_NEEDS_RESET
            self.status = value
            self.status_changed(old, value)
            if value & VIRTIO_CONFIG_S_DRIVER_OK and not old & VIRTIO_CONFIG_S_DRIVER_OK:
                self.driver_ok()

    def is_driver_ok(self) -> bool:
        return bool(self.status & VIRTIO_CONFIG_S_DRIVER_OK) and not self.broken

    def reset(self) -> None:
        """Device reset (2.4): everything back to its initial state, the interrupt deasserted."""
        with self.lock:
            self.status = 0
            self.driver_features = 0
            self.broken = False
            for vq in self.queues:
                vq.reset()
            self.device_reset()
            self.set_isr(0)

    # -- hooks for device models ------------------------------------------------------------------
    def device_reset(self) -> None:
        """Device-specific part of a reset."""

    def status_changed(self, old: int, new: int) -> None:
        """Called after every non-reset status write."""

    def driver_ok(self) -> None:
        """The driver set DRIVER_OK: by default, process what was queued before (kicks may predate it)."""
        for vq in self.queues:
            if vq.handler is not None and vq.is_usable() and not vq.is_empty():
                vq.handler(vq)

    def get_config(self) -> bytes:
        """The configuration space as the driver reads it now."""
        return bytes(self.config)

    def config_write(self, offset: int, data: bytes) -> None:
        """The driver wrote ``data`` to configuration space at ``offset`` (ignored by default)."""

    # -- configuration space ----------------------------------------------------------------------
    def read_config(self, offset: int, size: int) -> int:
        with self.lock:
            config = self.get_config()
            if offset < 0 or offset + size > len(config):
                return 0
            return int.from_bytes(config[offset:offset + size], "little")

    def write_config(self, offset: int, value: int, size: int) -> None:
        with self.lock:
            if offset < 0 or offset + size > len(self.get_config()):
                return
            self.config_write(offset, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    # -- interrupts -------------------------------------------------------------------------------
    def set_isr(self, value: int) -> None:
        if value != self.isr:
            self.isr = value
            if self.irq_update is not None:
                self.irq_update()

    def ack_isr(self, bits: int) -> None:
        """The driver acknowledged interrupt causes."""
        with self.lock:
            self.set_isr(self.isr & ~bits)

    def notify(self, vq: VirtQueue) -> None:
        """Send a used buffer notification for ``vq`` if the driver wants one."""
        with self.lock:
            if vq.should_notify():
                self.set_isr(self.isr | VIRTIO_ISR_QUEUE)

    def notify_config(self) -> None:
        """The configuration changed: new generation, configuration change notification (2.5.1)."""
        with self.lock:
            self.config_generation = (self.config_generation + 1) & 0xFFFFFFFF
            if self.status & VIRTIO_CONFIG_S_DRIVER_OK:
                self.set_isr(self.isr | VIRTIO_ISR_CONFIG)

    # -- errors -----------------------------------------------------------------------------------
    def error(self, message: str) -> None:
        """The driver broke the device: report, set DEVICE_NEEDS_RESET, stop processing until reset."""
        with self.lock:
            if self.broken:
                return
            self.broken = True
            self.on_error(f"{self.name}: {message}")
            self.status |= VIRTIO_CONFIG_S_NEEDS_RESET
            self.notify_config()
