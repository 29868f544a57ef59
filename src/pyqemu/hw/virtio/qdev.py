"""The virtio devices as QOM types, for ``-device`` and ``info qtree`` (QEMU's virtio-blk-device,
virtio-rng-device, virtio-serial-device and virtconsole, and the virtio-mmio transport's bus).

* ``virtio-mmio`` (board-created, not user-creatable) wraps one
  :class:`~pyqemu.hw.virtio.mmio.VirtioMMIO` slot and provides a ``virtio-mmio-bus`` (a kind of
  ``virtio-bus``) with room for one device; plugging a device into that bus plugs its model into the
  slot.
* ``virtio-blk-device`` (``drive=`` a ``-drive`` id, ``serial=``, ``queue-size=``),
  ``virtio-rng-device`` and ``virtio-serial-device`` go on a ``virtio-bus``.  Every virtio device takes
  ``indirect_desc`` and ``event_idx`` (on by default): off withdraws the ring feature from what the
  device offers.
* ``virtconsole,chardev=ID`` is a console port on a ``virtio-serial-device``'s ``virtio-serial-bus``.
  pyqemu's virtio-serial device is the single-port console of :mod:`pyqemu.hw.virtio.console` (no
  ``VIRTIO_CONSOLE_F_MULTIPORT``), so its bus takes one ``virtconsole``; QEMU's ``virtserialport`` (a
  named, non-console port, which needs multiport) is not provided.  A virtio-serial device without a
  virtconsole is a console whose output is dropped.
"""

from __future__ import annotations

from typing import Any

from pyqemu.hw.virtio.blk import DEFAULT_QUEUE_SIZE as BLK_QUEUE_SIZE
from pyqemu.hw.virtio.blk import VirtioBlk
from pyqemu.hw.virtio.console import VirtioConsole
from pyqemu.hw.virtio.device import VirtioDevice
from pyqemu.hw.virtio.mmio import MMIO_SIZE, VirtioMMIO
from pyqemu.hw.virtio.rng import VirtioRng
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC
from pyqemu.qom.object import DeviceState, Property, QomError, TypeInfo, register_bus_type, register_type

#: largest virtqueue QEMU accepts (VIRTQUEUE_MAX_SIZE)
VIRTQUEUE_MAX_SIZE = 1024


class VirtioMMIOProxy(DeviceState):
    """The ``virtio-mmio`` transport of one slot; ``transport`` is set by the board."""

    transport: VirtioMMIO | None = None
    base = 0

    def attach(self, transport: VirtioMMIO, base: int) -> None:
        self.transport = transport
        self.base = base
        for bus in self.child_buses:
            bus.on_plug = self._plug

    def _plug(self, dev: DeviceState) -> None:
        assert self.transport is not None and isinstance(dev, VirtioDeviceState)
        assert dev.vdev is not None
        self.transport.plug(dev.vdev)

    def qtree_head(self) -> list[str]:
        return ['gpio-out "sysbus-irq" 1']

    def qtree_extra(self) -> list[str]:
        return [f"mmio {self.base:016x}/{MMIO_SIZE:016x}"]


class VirtioDeviceState(DeviceState):
    """Base of the virtio device types: ``vdev`` is the device model once realized."""

    vdev: VirtioDevice | None = None

    def create_model(self) -> VirtioDevice:
        raise NotImplementedError

    def realize(self) -> None:
        vdev = self.create_model()
        if not self.props.get("indirect_desc", True):
            vdev.host_features &= ~(1 << VIRTIO_F_INDIRECT_DESC)
        if not self.props.get("event_idx", True):
            vdev.host_features &= ~(1 << VIRTIO_F_EVENT_IDX)
        self.vdev = vdev


class VirtioBlkState(VirtioDeviceState):
    def create_model(self) -> VirtioDevice:
        backend = self.props.get("drive")
        if backend is None:
            raise QomError("drive property not set")
        if not backend.is_inserted():
            raise QomError("Device needs media, but drive is empty")
        queue_size = self.props["queue-size"]
        if queue_size <= 2:
            raise QomError(f"invalid queue-size property ({queue_size}), must be > 2")
        if queue_size & (queue_size - 1) or queue_size > VIRTQUEUE_MAX_SIZE:
            raise QomError(f"invalid queue-size property ({queue_size}), must be a power of 2 "
                           f"(max {VIRTQUEUE_MAX_SIZE})")
        return VirtioBlk(backend, self.props.get("serial") or "", queue_size=queue_size)


class VirtioRngState(VirtioDeviceState):
    def create_model(self) -> VirtioDevice:
        return VirtioRng()


class VirtioSerialState(VirtioDeviceState):
    def create_model(self) -> VirtioDevice:
        return VirtioConsole(None)


class VirtconsoleState(DeviceState):
    """A console port: connects its chardev to the parent virtio-serial device."""

    def realize(self) -> None:
        bus = self.parent_bus
        owner: Any = bus.parent if bus is not None else None
        if not isinstance(owner, VirtioSerialState) or not isinstance(owner.vdev, VirtioConsole):
            raise QomError("virtconsole needs a virtio-serial-device")
        owner.vdev.set_chardev(self.props.get("chardev"))


_VIRTIO_COMMON = (
    Property("event_idx", "bool", True),
    Property("indirect_desc", "bool", True),
)

register_bus_type("virtio-mmio-bus", "virtio-bus")
register_bus_type("virtio-serial-bus")

register_type(TypeInfo("virtio-mmio", parent="sys-bus-device", user_creatable=False, cls=VirtioMMIOProxy,
                       properties=(Property("force-legacy", "bool", False),),
                       child_bus="virtio-mmio-bus", child_bus_slots=1))
register_type(TypeInfo("virtio-device", parent="device", abstract=True, user_creatable=False,
                       bus_type="virtio-bus", properties=_VIRTIO_COMMON))
register_type(TypeInfo(
    "virtio-blk-device", parent="virtio-device", category="Storage devices", bus_type="virtio-bus",
    cls=VirtioBlkState, properties=(
        Property("drive", "drive", description="Node name or ID of a block device to use as a backend"),
        Property("serial", "str"),
        Property("queue-size", "uint16", BLK_QUEUE_SIZE),
    )))
register_type(TypeInfo("virtio-rng-device", parent="virtio-device", category="Misc devices",
                       bus_type="virtio-bus", cls=VirtioRngState))
register_type(TypeInfo("virtio-serial-device", parent="virtio-device", category="Input devices",
                       bus_type="virtio-bus", cls=VirtioSerialState, child_bus="virtio-serial-bus",
                       child_bus_slots=1))
register_type(TypeInfo(
    "virtconsole", parent="device", category="Input devices", bus_type="virtio-serial-bus",
    cls=VirtconsoleState, properties=(
        Property("chardev", "chr", description="ID of a chardev to use as a backend"),
    )))
