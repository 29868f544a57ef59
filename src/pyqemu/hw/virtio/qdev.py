"""The virtio devices as QOM types, for ``-device`` and ``info qtree`` (QEMU's virtio-blk-device,
virtio-rng-device, virtio-serial-device with its virtconsole and virtserialport ports, and the virtio-mmio
transport's bus).

* ``virtio-mmio`` (board-created, not user-creatable) wraps one
  :class:`~pyqemu.hw.virtio.mmio.VirtioMMIO` slot and provides a ``virtio-mmio-bus`` (a kind of
  ``virtio-bus``) with room for one device; plugging a device into that bus plugs its model into the
  slot.
* ``virtio-blk-device`` (``drive=`` a ``-drive`` id, ``serial=``, ``queue-size=``),
  ``virtio-rng-device`` (``rng=`` the id of an ``-object rng-random``/``rng-builtin``; without it the
  host's os.urandom) and ``virtio-serial-device`` go on a ``virtio-bus``.  Every virtio device takes
  ``indirect_desc`` and ``event_idx`` (on by default): off withdraws the ring feature from what the
  device offers.
* ``virtio-serial-device`` (``max_ports=``, default 31, and ``emergency-write=``) is the multiport
  console of :mod:`pyqemu.hw.virtio.serial`; it provides a ``virtio-serial-bus`` for its ports.  That bus
  is hot-pluggable: ``device_add`` and ``device_del`` on a running machine add and remove ports, and the
  guest driver hears of it.  A device without ports is valid.
* Ports (the abstract ``virtio-serial-port``: ``nr=`` the port number, ``name=``) are ``virtserialport``
  (a generic port, ``chardev=``, named for the guest's programs, e.g. ``org.qemu.guest_agent.0``) and
  ``virtconsole`` (a console port, Linux's ``hvc``).  As in QEMU a port without ``nr=`` takes the
  lowest free number from 1 up, except that the first console goes to number 0, which is reserved for
  consoles; names are unique among all virtio-serial devices.  Errors use QEMU's wording.
"""

from __future__ import annotations

from pyqemu.hw.virtio.blk import DEFAULT_QUEUE_SIZE as BLK_QUEUE_SIZE
from pyqemu.hw.virtio.blk import VirtioBlk
from pyqemu.hw.virtio.device import VirtioDevice
from pyqemu.hw.virtio.mmio import MMIO_SIZE, VirtioMMIO
from pyqemu.hw.virtio.rng import VirtioRng
from pyqemu.hw.virtio.serial import DEFAULT_MAX_PORTS, MAX_SUPPORTED_PORTS, VirtioSerial, VirtioSerialPort
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
        backend = self.props.get("rng")
        return VirtioRng(backend.entropy) if backend is not None else VirtioRng()


class VirtioSerialState(VirtioDeviceState):
    """``virtio-serial-device``: its ``virtio-serial-bus`` plugs ports into the model, also at run time."""

    vdev: VirtioSerial | None = None

    def create_model(self) -> VirtioDevice:
        max_ports = self.props["max_ports"]
        if not max_ports:
            raise QomError("Maximum number of serial ports not specified")
        if max_ports > MAX_SUPPORTED_PORTS:
            raise QomError(f"maximum ports supported: {MAX_SUPPORTED_PORTS}")
        return VirtioSerial(max_ports, emergency_write=self.props["emergency-write"])

    def realize(self) -> None:
        super().realize()
        assert self.vdev is not None
        bus = self.child_buses[0]
        self.vdev.bus_name = bus.name
        bus.on_plug = self._plug_port
        bus.on_unplug = self._unplug_port

    def _plug_port(self, dev: DeviceState) -> None:
        assert self.vdev is not None and isinstance(dev, VirtioSerialPortState) and dev.port is not None
        self.vdev.add_port(dev.port, dev.props["nr"])

    def _unplug_port(self, dev: DeviceState) -> None:
        assert self.vdev is not None and isinstance(dev, VirtioSerialPortState) and dev.port is not None
        self.vdev.remove_port(dev.port)


#: ``nr`` of a port that takes the next free number (QEMU's VIRTIO_CONSOLE_BAD_ID)
PORT_NR_AUTO = 0xFFFFFFFF


class VirtioSerialPortState(DeviceState):
    """A port on a virtio-serial-bus (``virtserialport``; ``virtconsole`` sets :attr:`is_console`).
    Realizing it picks its number; plugging it connects it to the device."""

    is_console = False
    port: VirtioSerialPort | None = None

    def realize(self) -> None:
        bus = self.parent_bus
        owner = bus.parent if bus is not None else None
        assert isinstance(owner, VirtioSerialState) and owner.vdev is not None
        vdev = owner.vdev
        nr, name = self.props["nr"], self.props["name"]
        if nr in vdev.ports:
            raise QomError(f"virtio-serial-bus: A port already exists at id {nr}")
        if name and any(isinstance(dev, VirtioSerialPortState) and dev.props["name"] == name
                        for dev in self.tree.devices()):
            raise QomError(f"virtio-serial-bus: A port already exists by the name {name}")
        if nr == PORT_NR_AUTO:
            found = 0 if self.is_console and 0 not in vdev.ports else vdev.free_port_id()
            if found is None:
                # QEMU looks for a free number in whole 32-bit words of its port bitmap: it runs out only
                # when max_ports is a multiple of 32, otherwise it finds max_ports, refused just below
                if vdev.max_ports % 32 == 0:
                    raise QomError("virtio-serial-bus: Maximum port number reached")
                found = vdev.max_ports
            nr = found
        if nr >= vdev.max_ports:
            raise QomError(f"virtio-serial-bus: Out-of-range port id specified, max. allowed: "
                           f"{vdev.max_ports - 1}")
        if nr == 0 and not self.is_console:
            raise QomError("Port number 0 on virtio-serial devices reserved for virtconsole devices for "
                           "backward compatibility.")
        self.props["nr"] = nr
        self.port = VirtioSerialPort(self.props.get("chardev"), name, console=self.is_console)


class VirtconsoleState(VirtioSerialPortState):
    is_console = True


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
register_type(TypeInfo(
    "virtio-rng-device", parent="virtio-device", category="Misc devices", bus_type="virtio-bus",
    cls=VirtioRngState, properties=(
        Property("rng", "link<rng-backend>", description="ID of an rng-random or rng-builtin object"),
    )))
register_type(TypeInfo(
    "virtio-serial-device", parent="virtio-device", category="Input devices", bus_type="virtio-bus",
    cls=VirtioSerialState, child_bus="virtio-serial-bus", properties=(
        Property("max_ports", "uint32", DEFAULT_MAX_PORTS),
        Property("emergency-write", "bool", True),
    )))
register_type(TypeInfo(
    "virtio-serial-port", parent="device", abstract=True, user_creatable=False, bus_type="virtio-serial-bus",
    properties=(Property("nr", "uint32", PORT_NR_AUTO), Property("name", "str"))))
register_type(TypeInfo(
    "virtserialport", parent="virtio-serial-port", category="Input devices", bus_type="virtio-serial-bus",
    cls=VirtioSerialPortState, properties=(
        Property("chardev", "chr", description="ID of a chardev to use as a backend"),
    )))
register_type(TypeInfo("virtconsole", parent="virtserialport", category="Input devices",
                       bus_type="virtio-serial-bus", cls=VirtconsoleState))
