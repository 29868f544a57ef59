"""The virtio-mmio transport, version 2 (modern) (virtio 1.2 spec section 4.2, registers in 4.2.2).

A 0x200-byte register window: identification (MagicValue "virt", Version 2, DeviceID, VendorID),
64-bit feature negotiation through 32-bit windows selected by DeviceFeaturesSel / DriverFeaturesSel,
per-queue setup through QueueSel (size, ready flag, the 64-bit addresses of the descriptor table and
the driver and device areas), QueueNotify, the interrupt status and acknowledge registers, the device
status byte, ConfigGeneration and, from offset 0x100, the device's configuration space.

A transport with no device plugged reads DeviceID 0, which tells the driver to ignore it (QEMU's virt
boards create such empty slots).  The interrupt line is asserted while InterruptStatus is non-zero.
Registers other than configuration space take 32-bit accesses only; anything else is ignored (reads
as 0) and reported through :attr:`VirtioMMIO.log_guest_error`.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.virtio.device import VirtioDevice
from pyqemu.hw.virtio.virtqueue import VirtQueue

VIRT_MAGIC = 0x74726976  # "virt"
VIRT_VERSION = 2
VIRT_VENDOR = 0x554D4551  # "QEMU"
MMIO_SIZE = 0x200

# -- register offsets (4.2.2) -------------------------------------------------------------------------
MAGIC_VALUE = 0x000
VERSION = 0x004
DEVICE_ID = 0x008
VENDOR_ID = 0x00C
DEVICE_FEATURES = 0x010
DEVICE_FEATURES_SEL = 0x014
DRIVER_FEATURES = 0x020
DRIVER_FEATURES_SEL = 0x024
QUEUE_SEL = 0x030
QUEUE_NUM_MAX = 0x034
QUEUE_NUM = 0x038
QUEUE_READY = 0x044
QUEUE_NOTIFY = 0x050
INTERRUPT_STATUS = 0x060
INTERRUPT_ACK = 0x064
STATUS = 0x070
QUEUE_DESC_LOW = 0x080
QUEUE_DESC_HIGH = 0x084
QUEUE_DRIVER_LOW = 0x090
QUEUE_DRIVER_HIGH = 0x094
QUEUE_DEVICE_LOW = 0x0A0
QUEUE_DEVICE_HIGH = 0x0A4
SHM_SEL = 0x0AC
SHM_LEN_LOW = 0x0B0
SHM_LEN_HIGH = 0x0B4
SHM_BASE_LOW = 0x0B8
SHM_BASE_HIGH = 0x0BC
QUEUE_RESET = 0x0C0
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

_LOW32 = 0xFFFFFFFF


def _set_half(value: int, half: int, high: bool) -> int:
    if high:
        return (value & _LOW32) | ((half & _LOW32) << 32)
    return (value & ~_LOW32) | (half & _LOW32)


class VirtioMMIO:
    """One virtio-mmio slot: map :attr:`mr` on the system bus, wire :attr:`irq`, :meth:`plug` a device."""

    def __init__(self, dma: AddressSpace, irq: IRQ):
        self.dma = dma
        self.irq = irq
        self.device: VirtioDevice | None = None
        self.mr = MemoryRegion.io("virtio-mmio", MMIO_SIZE, self)
        #: guest programming errors (bad access sizes, ...), one line each; None drops them
        self.log_guest_error: Callable[[str], None] | None = None
        self._level = 0
        self._reset_registers()

    def _reset_registers(self) -> None:
        self.device_features_sel = 0
        self.driver_features_sel = 0
        self.queue_sel = 0
        self.shm_sel = 0

    def reset(self) -> None:
        """System reset: the transport's selectors and the plugged device return to power-on state."""
        self._reset_registers()
        if self.device is not None:
            self.device.reset()
        self._update_irq()

    # -- plugging -----------------------------------------------------------------------------------
    def plug(self, device: VirtioDevice) -> None:
        """Attach ``device`` to this (empty) slot."""
        if self.device is not None:
            raise ValueError(f"virtio-mmio slot already holds a {self.device.name} device")
        self.device = device
        device.dma = self.dma
        device.irq_update = self._update_irq
        device.reset()
        self._reset_registers()

    def unplug(self) -> None:
        if self.device is not None:
            self.device.irq_update = None
            self.device = None
        self._update_irq()

    def _update_irq(self) -> None:
        level = 1 if self.device is not None and self.device.isr else 0
        if level != self._level:
            self._level = level
            self.irq.set(level)

    def _guest_error(self, message: str) -> None:
        if self.log_guest_error is not None:
            self.log_guest_error(f"virtio-mmio: {message}")

    def _queue(self) -> VirtQueue | None:
        dev = self.device
        if dev is None or not 0 <= self.queue_sel < len(dev.queues):
            return None
        return dev.queues[self.queue_sel]

    # -- MemoryRegionOps ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        dev = self.device
        if offset >= CONFIG:
            return dev.read_config(offset - CONFIG, size) if dev is not None else 0
        if size != 4:
            self._guest_error(f"wrong size access to register {offset:#x}: {size} bytes")
            return 0
        if offset == MAGIC_VALUE:
            return VIRT_MAGIC
        if offset == VERSION:
            return VIRT_VERSION
        if offset == VENDOR_ID:
            return VIRT_VENDOR
        if dev is None:
            return 0  # DeviceID 0: no device here
        with dev.lock:
            return self._read_device_register(dev, offset)

    def _read_device_register(self, dev: VirtioDevice, offset: int) -> int:
        if offset == DEVICE_ID:
            return dev.device_id
        if offset == DEVICE_FEATURES:
            if self.device_features_sel > 1:
                return 0
            return (dev.host_features >> (32 * self.device_features_sel)) & _LOW32
        if offset == QUEUE_NUM_MAX:
            vq = self._queue()
            return vq.num_max if vq is not None else 0
        if offset == QUEUE_READY:
            vq = self._queue()
            return int(vq is not None and vq.ready)
        if offset == INTERRUPT_STATUS:
            return dev.isr
        if offset == STATUS:
            return dev.status
        if offset == CONFIG_GENERATION:
            return dev.config_generation
        if offset in (SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH):
            return _LOW32  # no shared memory regions: length and base read as -1
        if offset == QUEUE_RESET:
            return 0
        self._guest_error(f"read of write-only or unknown register {offset:#x}")
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        dev = self.device
        if offset >= CONFIG:
            if dev is not None:
                dev.write_config(offset - CONFIG, value, size)
            return
        if size != 4:
            self._guest_error(f"wrong size access to register {offset:#x}: {size} bytes")
            return
        if dev is None:
            return
        with dev.lock:
            self._write_device_register(dev, offset, value & _LOW32)

    def _write_device_register(self, dev: VirtioDevice, offset: int, value: int) -> None:
        if offset == DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == DRIVER_FEATURES:
            if self.driver_features_sel <= 1:
                dev.set_driver_features(_set_half(dev.driver_features, value, self.driver_features_sel == 1))
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == QUEUE_SEL:
            self.queue_sel = value
        elif offset == QUEUE_NUM:
            vq = self._queue()
            if vq is not None:
                if 0 < value <= vq.num_max and value & (value - 1) == 0:
                    vq.num = value
                else:
                    self._guest_error(f"invalid queue size {value} (maximum {vq.num_max})")
        elif offset == QUEUE_READY:
            vq = self._queue()
            if vq is not None:
                vq.ready = bool(value & 1)
        elif offset == QUEUE_NOTIFY:
            dev.notify_queue(value & 0xFFFF)  # ignored while the device is broken
        elif offset == INTERRUPT_ACK:
            dev.ack_isr(value)
        elif offset == STATUS:
            dev.set_status(value & 0xFF)
            if value & 0xFF == 0:
                self._reset_registers()
        elif offset in (QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH,
                        QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH):
            vq = self._queue()
            if vq is None:
                return
            high = bool(offset & 4)
            if offset in (QUEUE_DESC_LOW, QUEUE_DESC_HIGH):
                vq.desc = _set_half(vq.desc, value, high)
            elif offset in (QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH):
                vq.avail = _set_half(vq.avail, value, high)
            else:
                vq.used = _set_half(vq.used, value, high)
        elif offset == SHM_SEL:
            self.shm_sel = value
        else:
            self._guest_error(f"write of read-only or unknown register {offset:#x}")
