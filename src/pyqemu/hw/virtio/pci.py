"""The virtio PCI transport, modern only (virtio 1.2 spec section 4.1 "Virtio Over PCI Bus").

A :class:`VirtioPCI` is one PCI function carrying one virtio device, the way QEMU's virtio-*-pci devices
are with ``disable-legacy=on``: vendor 0x1AF4, device ID 0x1040 plus the virtio device ID (4.1.2),
revision 1, subsystem vendor 0x1AF4 and subsystem ID the virtio device ID, a class code per device type.
No legacy I/O BAR exists.

Everything lives in one 16 KiB 64-bit prefetchable memory BAR (BAR 4), laid out as QEMU lays it out and
described by vendor-specific capabilities (``struct virtio_pci_cap``, 4.1.4):

* 0x0000 common configuration (4.1.4.3): feature negotiation through 32-bit windows selected by
  ``device_feature_select``/``driver_feature_select``, ``num_queues``, the device status byte (writing 0
  resets the device), ``config_generation``, and per-queue setup through ``queue_select``: size, enable,
  notification offset and the 64-bit descriptor/driver/device area addresses (written as two halves);
* 0x1000 ISR status (4.1.4.5): reading it returns the interrupt causes and clears them;
* 0x2000 device-specific configuration (4.1.4.6);
* 0x3000 notifications (4.1.4.4): writing anywhere in ``queue_notify_off * 4 .. +3`` kicks that queue
  (``queue_notify_off`` is the queue index, the multiplier 4);
* a PCI configuration access capability (4.1.4.9) gives a window onto the BAR through configuration
  space: the driver writes ``cap.bar``, ``cap.offset`` and ``cap.length`` (1, 2 or 4), and reading or
  writing ``pci_cfg_data`` performs that access on the BAR.

Interrupts are INTx only: the pin is asserted while the ISR status is non-zero (4.1.5, used buffer and
configuration change notifications).  MSI-X is not implemented, so ``msix_config`` and
``queue_msix_vector`` always read back ``VIRTIO_MSI_NO_VECTOR`` (0xFFFF) and drivers fall back to INTx,
as Linux's virtio_pci does.  As in QEMU, clearing COMMAND's bus master bit takes ``DRIVER_OK`` away from
the device status, so the device stops using guest memory.  The virtqueues reach guest memory through
the function's bus-master address space (:attr:`VirtioPCI.dma`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.pci.pci import (
    PCI_CAP_ID_VNDR,
    PCI_CLASS_COMMUNICATION_OTHER,
    PCI_CLASS_NETWORK_ETHERNET,
    PCI_CLASS_STORAGE_OTHER,
    PCI_COMMAND,
    PCI_VENDOR_ID_REDHAT_QUMRANET,
    PCIDevice,
)
from pyqemu.hw.virtio.device import (
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_ID_BLOCK,
    VIRTIO_ID_CONSOLE,
    VIRTIO_ID_NET,
    VIRTIO_ID_RNG,
    VirtioDevice,
)
from pyqemu.hw.virtio.mmio import _set_half
from pyqemu.hw.virtio.virtqueue import VirtQueue

# -- identification (4.1.2) ---------------------------------------------------------------------------
VIRTIO_PCI_DEVICE_ID_BASE = 0x1040
VIRTIO_PCI_REVISION = 1
#: class "unclassified, other" (QEMU's PCI_CLASS_OTHERS as a 16-bit class id)
PCI_CLASS_UNCLASSIFIED_OTHER = 0x00FF00
CLASS_CODES = {
    VIRTIO_ID_BLOCK: PCI_CLASS_STORAGE_OTHER,
    VIRTIO_ID_NET: PCI_CLASS_NETWORK_ETHERNET,
    VIRTIO_ID_RNG: PCI_CLASS_UNCLASSIFIED_OTHER,
    VIRTIO_ID_CONSOLE: PCI_CLASS_COMMUNICATION_OTHER,
}

# -- capability structure (4.1.4) ---------------------------------------------------------------------
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5
#: offsets inside a capability, from its cap_vndr byte
CAP_LEN = 2
CAP_CFG_TYPE = 3
CAP_BAR = 4
CAP_OFFSET = 8
CAP_LENGTH = 12
CAP_NOTIFY_OFF_MULTIPLIER = 16  # notify capability only
CAP_PCI_CFG_DATA = 16  # PCI configuration access capability only
_CAP_BODY = struct.Struct("<BBBB2xII")  # cap_len, cfg_type, bar, id, padding, offset, length

# -- the BAR (QEMU's layout) --------------------------------------------------------------------------
MODERN_BAR = 4
BAR_SIZE = 0x4000
REGION_SIZE = 0x1000
COMMON_OFFSET = 0x0000
ISR_OFFSET = 0x1000
DEVICE_OFFSET = 0x2000
NOTIFY_OFFSET = 0x3000
NOTIFY_OFF_MULTIPLIER = 4

# -- common configuration fields (4.1.4.3) ------------------------------------------------------------
DEVICE_FEATURE_SELECT = 0x00
DEVICE_FEATURE = 0x04
DRIVER_FEATURE_SELECT = 0x08
DRIVER_FEATURE = 0x0C
MSIX_CONFIG = 0x10
NUM_QUEUES = 0x12
DEVICE_STATUS = 0x14
CONFIG_GENERATION = 0x15
QUEUE_SELECT = 0x16
QUEUE_SIZE = 0x18
QUEUE_MSIX_VECTOR = 0x1A
QUEUE_ENABLE = 0x1C
QUEUE_NOTIFY_OFF = 0x1E
QUEUE_DESC_LO = 0x20
QUEUE_DESC_HI = 0x24
QUEUE_DRIVER_LO = 0x28
QUEUE_DRIVER_HI = 0x2C
QUEUE_DEVICE_LO = 0x30
QUEUE_DEVICE_HI = 0x34

VIRTIO_MSI_NO_VECTOR = 0xFFFF
_LOW32 = 0xFFFFFFFF


def virtio_cap(cfg_type: int, bar: int, offset: int, length: int, extra: bytes = b"") -> bytes:
    """The body of a ``struct virtio_pci_cap`` (without the id/next bytes ``add_capability`` writes),
    followed by ``extra`` (the notify multiplier, the PCI configuration access data)."""
    return _CAP_BODY.pack(2 + _CAP_BODY.size + len(extra), cfg_type, bar, 0, offset, length) + extra


class _RegionOps:
    """MemoryRegionOps from two functions; an 8-byte access is carried out as two 4-byte ones."""

    def __init__(self, read: Callable[[int, int], int], write: Callable[[int, int, int], None]):
        self._read = read
        self._write = write

    def read(self, offset: int, size: int) -> int:
        if size == 8:
            return self._read(offset, 4) | self._read(offset + 4, 4) << 32
        return self._read(offset, size)

    def write(self, offset: int, value: int, size: int) -> None:
        if size == 8:
            self._write(offset, value & _LOW32, 4)
            self._write(offset + 4, value >> 32, 4)
        else:
            self._write(offset, value, size)


class VirtioPCI(PCIDevice):
    """A modern virtio-pci function wrapping ``vdev``: plug it into a :class:`~pyqemu.hw.pci.pci.PCIBus`."""

    def __init__(self, vdev: VirtioDevice, name: str | None = None) -> None:
        self.vdev = vdev  # before PCIDevice.__init__, which sets dma
        super().__init__(name or f"{vdev.name}-pci",
                         vendor_id=PCI_VENDOR_ID_REDHAT_QUMRANET,
                         device_id=VIRTIO_PCI_DEVICE_ID_BASE + vdev.device_id,
                         class_code=CLASS_CODES.get(vdev.device_id, PCI_CLASS_UNCLASSIFIED_OTHER),
                         revision=VIRTIO_PCI_REVISION,
                         subsystem_vendor_id=PCI_VENDOR_ID_REDHAT_QUMRANET,
                         subsystem_id=vdev.device_id)
        regions = (  # (offset in the BAR, name, capability type, ops, extra capability bytes)
            (COMMON_OFFSET, "common", VIRTIO_PCI_CAP_COMMON_CFG,
             _RegionOps(self._common_read, self._common_write), b""),
            (ISR_OFFSET, "isr", VIRTIO_PCI_CAP_ISR_CFG, _RegionOps(self._isr_read, self._ignore_write), b""),
            (DEVICE_OFFSET, "device", VIRTIO_PCI_CAP_DEVICE_CFG,
             _RegionOps(self.vdev.read_config, self.vdev.write_config), b""),
            (NOTIFY_OFFSET, "notify", VIRTIO_PCI_CAP_NOTIFY_CFG,
             _RegionOps(self._notify_read, self._notify_write), struct.pack("<I", NOTIFY_OFF_MULTIPLIER)),
        )
        #: the BAR's contents: a container of the four regions (QEMU's "virtio-pci" modern BAR)
        self.bar = MemoryRegion.container_of("virtio-pci", BAR_SIZE)
        self._region_ops: list[_RegionOps] = []
        for offset, label, cfg_type, ops, extra in regions:
            region = MemoryRegion.io(f"virtio-pci-{label}-{vdev.name}", REGION_SIZE, ops)
            self.bar.add_subregion(offset, region)
            self._region_ops.append(ops)
            self.add_capability(PCI_CAP_ID_VNDR, virtio_cap(cfg_type, MODERN_BAR, offset, REGION_SIZE, extra))
        self.register_bar(MODERN_BAR, self.bar, mem64=True, prefetch=True)
        #: offset of the PCI configuration access capability in configuration space
        self.cfg_cap = self.add_capability(PCI_CAP_ID_VNDR,
                                           virtio_cap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, bytes(4)))
        self.wmask[self.cfg_cap + CAP_BAR] = 0xFF
        self.wmask[self.cfg_cap + CAP_OFFSET:self.cfg_cap + CAP_PCI_CFG_DATA + 4] = b"\xff" * 12
        self._reset_registers()
        vdev.irq_update = self._update_irq
        vdev.reset()

    # -- DMA: the bus hands the function its bus-master address space; the virtqueues use it -----------
    @property
    def dma(self) -> AddressSpace | None:
        return self.vdev.dma

    @dma.setter
    def dma(self, value: AddressSpace | None) -> None:
        self.vdev.dma = value

    # -- state ------------------------------------------------------------------------------------
    def _reset_registers(self) -> None:
        self.device_feature_sel = 0
        self.driver_feature_sel = 0
        self.queue_sel = 0

    def reset(self) -> None:
        """System reset: the PCI header, the transport's selectors and the virtio device."""
        super().reset()
        self._reset_registers()
        self.vdev.reset()

    def _update_irq(self) -> None:
        self.set_irq(1 if self.vdev.isr else 0)

    def queue(self) -> VirtQueue | None:
        """The queue ``queue_select`` names (None: no such queue)."""
        queues = self.vdev.queues
        return queues[self.queue_sel] if self.queue_sel < len(queues) else None

    # -- common configuration ---------------------------------------------------------------------
    def _common_read(self, offset: int, size: int) -> int:
        field = _COMMON.get(offset)
        if field is None:
            return 0
        with self.vdev.lock:
            return field[0](self) & ((1 << (8 * size)) - 1)

    def _common_write(self, offset: int, value: int, size: int) -> None:
        field = _COMMON.get(offset)
        if field is None or field[1] is None:
            return
        with self.vdev.lock:
            field[1](self, value & ((1 << (8 * size)) - 1))

    def _set_driver_feature(self, value: int) -> None:
        if self.driver_feature_sel <= 1:
            dev = self.vdev
            dev.set_driver_features(_set_half(dev.driver_features, value, self.driver_feature_sel == 1))

    def _set_status(self, value: int) -> None:
        self.vdev.set_status(value & 0xFF)
        if value & 0xFF == 0:
            self._reset_registers()

    def _set_queue_size(self, value: int) -> None:
        vq = self.queue()
        if vq is not None and 0 < value <= vq.num_max and value & (value - 1) == 0:
            vq.num = value

    def _set_queue_enable(self, value: int) -> None:
        vq = self.queue()
        if vq is None:
            return
        if value == 1:
            vq.ready = True
        else:  # 4.1.4.3.2: the driver MUST NOT write 0
            self.vdev.error(f"wrong value for queue_enable {value:x}")

    # -- ISR status, notifications ----------------------------------------------------------------
    def _isr_read(self, offset: int, size: int) -> int:
        with self.vdev.lock:
            isr = self.vdev.isr
            self.vdev.set_isr(0)  # read to clear, the line drops (4.1.4.5)
        return isr

    def _ignore_write(self, offset: int, value: int, size: int) -> None:
        """Writes to the ISR status have no effect."""

    def _notify_read(self, offset: int, size: int) -> int:
        return 0

    def _notify_write(self, offset: int, value: int, size: int) -> None:
        self.vdev.notify_queue(offset // NOTIFY_OFF_MULTIPLIER)

    # -- configuration space: the access window (4.1.4.9) and bus mastering ----------------------------
    def _touches_cfg_data(self, offset: int, size: int) -> bool:
        start = self.cfg_cap + CAP_PCI_CFG_DATA
        return offset < start + 4 and start < offset + size

    def _cfg_window(self) -> tuple[int, int] | None:
        """The BAR offset and length the PCI configuration access capability selects, if usable."""
        cap = self.cfg_cap
        offset, length = self.get_long(cap + CAP_OFFSET), self.get_long(cap + CAP_LENGTH)
        if self.config[cap + CAP_BAR] != MODERN_BAR or length not in (1, 2, 4) or offset + length > BAR_SIZE:
            return None
        return offset, length

    def config_read(self, offset: int, size: int) -> int:
        window = self._cfg_window() if self._touches_cfg_data(offset, size) else None
        if window is not None:
            bar_offset, length = window
            value = self._region_ops[bar_offset // REGION_SIZE].read(bar_offset % REGION_SIZE, length)
            data = self.cfg_cap + CAP_PCI_CFG_DATA
            self.config[data:data + length] = value.to_bytes(length, "little")
        return super().config_read(offset, size)

    def config_write(self, offset: int, value: int, size: int) -> None:
        super().config_write(offset, value, size)
        if self._touches_cfg_data(offset, size) and (window := self._cfg_window()) is not None:
            bar_offset, length = window
            data = self.cfg_cap + CAP_PCI_CFG_DATA
            self._region_ops[bar_offset // REGION_SIZE].write(
                bar_offset % REGION_SIZE, int.from_bytes(self.config[data:data + length], "little"), length)
        if offset <= PCI_COMMAND < offset + size and not self.bus_master():
            with self.vdev.lock:
                self.vdev.status &= ~VIRTIO_CONFIG_S_DRIVER_OK


# -- the common configuration structure as a table: offset -> (read, write or None if read-only) ------------
_Getter = Callable[[VirtioPCI], int]
_Setter = Callable[[VirtioPCI, int], None]


def _queue_field(read: Callable[[VirtQueue], int]) -> _Getter:
    """A getter of the selected queue's field (0 when no queue is selected)."""
    def get(t: VirtioPCI) -> int:
        vq = t.queue()
        return read(vq) & _LOW32 if vq is not None else 0
    return get


def _queue_address(attr: str, high: bool) -> tuple[_Getter, _Setter]:
    """Getter and setter of one 32-bit half of a queue area address (``desc``, ``avail``, ``used``)."""
    def set_half(t: VirtioPCI, value: int) -> None:
        vq = t.queue()
        if vq is not None:
            setattr(vq, attr, _set_half(getattr(vq, attr), value, high))
    return _queue_field(lambda vq: getattr(vq, attr) >> (32 if high else 0)), set_half


def _set_attr(attr: str, mask: int) -> _Setter:
    def set_value(t: VirtioPCI, value: int) -> None:
        setattr(t, attr, value & mask)
    return set_value


def _feature_half(features: Callable[[VirtioDevice], int], sel: str) -> _Getter:
    def get(t: VirtioPCI) -> int:
        half = getattr(t, sel)
        return features(t.vdev) >> (32 * half) & _LOW32 if half <= 1 else 0
    return get


_COMMON: dict[int, tuple[_Getter, _Setter | None]] = {
    DEVICE_FEATURE_SELECT: (lambda t: t.device_feature_sel, _set_attr("device_feature_sel", _LOW32)),
    DEVICE_FEATURE: (_feature_half(lambda d: d.host_features, "device_feature_sel"), None),
    DRIVER_FEATURE_SELECT: (lambda t: t.driver_feature_sel, _set_attr("driver_feature_sel", _LOW32)),
    DRIVER_FEATURE: (_feature_half(lambda d: d.driver_features, "driver_feature_sel"),
                     VirtioPCI._set_driver_feature),
    MSIX_CONFIG: (lambda t: VIRTIO_MSI_NO_VECTOR, None),
    NUM_QUEUES: (lambda t: len(t.vdev.queues), None),
    DEVICE_STATUS: (lambda t: t.vdev.status, VirtioPCI._set_status),
    CONFIG_GENERATION: (lambda t: t.vdev.config_generation & 0xFF, None),
    QUEUE_SELECT: (lambda t: t.queue_sel, _set_attr("queue_sel", 0xFFFF)),
    QUEUE_SIZE: (_queue_field(lambda vq: vq.num), VirtioPCI._set_queue_size),
    QUEUE_MSIX_VECTOR: (lambda t: VIRTIO_MSI_NO_VECTOR, None),
    QUEUE_ENABLE: (_queue_field(lambda vq: int(vq.ready)), VirtioPCI._set_queue_enable),
    QUEUE_NOTIFY_OFF: (_queue_field(lambda vq: vq.index), None),
    QUEUE_DESC_LO: _queue_address("desc", False),
    QUEUE_DESC_HI: _queue_address("desc", True),
    QUEUE_DRIVER_LO: _queue_address("avail", False),
    QUEUE_DRIVER_HI: _queue_address("avail", True),
    QUEUE_DEVICE_LO: _queue_address("used", False),
    QUEUE_DEVICE_HI: _queue_address("used", True),
}
