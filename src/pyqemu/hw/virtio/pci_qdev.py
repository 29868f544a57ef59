"""The virtio PCI devices as QOM types: ``virtio-blk-pci``, ``virtio-rng-pci`` and ``virtio-serial-pci``
(QEMU's virtio-*-pci proxies, modern only, on the transport of :mod:`pyqemu.hw.virtio.pci`).

As in QEMU, each is a PCI function (a proxy) with a one-slot ``virtio-pci-bus`` named ``virtio-bus`` that
holds the matching virtio device (``virtio-blk-device``, ...): the proxy takes that device's properties
(``drive=``, ``serial=``, ``queue-size=``, ``rng=``, ``max_ports=``, ``event_idx=``...) besides the PCI
ones of its base (``addr=``), hands them to the virtio device it creates at realize time, and wraps the
device's model in a :class:`~pyqemu.hw.virtio.pci.VirtioPCI` function.  So model creation, property
checks and their error messages are those of :mod:`pyqemu.hw.virtio.qdev`.  The ``virtio-serial-bus`` of
``virtio-serial-pci,id=ID`` is named ``ID.0`` (QEMU's virtio_device_set_child_bus_name), which is what
``-device virtserialport,bus=ID.0`` refers to.
"""

from __future__ import annotations

from pyqemu.hw.pci.pci import PCIDevice
from pyqemu.hw.pci.qdev import PCIDeviceState
from pyqemu.hw.virtio.pci import VirtioPCI
from pyqemu.hw.virtio.qdev import VirtioDeviceState
from pyqemu.qom.object import DeviceState, DeviceTree, TypeInfo, lookup_type, register_bus_type, register_type

#: the name QEMU gives every proxy's virtio bus
VIRTIO_PCI_BUS_NAME = "virtio-bus"


class VirtioPCIState(PCIDeviceState):
    """Base of the virtio PCI proxies; :attr:`backend_type` names the virtio device type they carry."""

    backend_type = ""
    #: the virtio device on the proxy's bus, once realized
    backend: VirtioDeviceState | None = None

    def __init__(self, info: TypeInfo, tree: DeviceTree, id: str | None = None) -> None:
        super().__init__(info, tree, id)
        bus = self.add_child_bus("virtio-pci-bus", 1, name=VIRTIO_PCI_BUS_NAME)
        bus.on_unplug = _backend_unplugged

    def create_model(self) -> PCIDevice:
        backend = self.tree.create(self.backend_type)
        assert isinstance(backend, VirtioDeviceState)
        for name in backend.props:
            backend.props[name] = self.props[name]
        if self.id and backend.child_buses:
            backend.child_buses[0].name = f"{self.id}.0"
        backend.realize()
        assert backend.vdev is not None
        backend.realized = True
        self.child_buses[0].plug(backend)
        self.backend = backend
        return VirtioPCI(backend.vdev, self.type_name)


class VirtioBlkPCIState(VirtioPCIState):
    backend_type = "virtio-blk-device"


class VirtioRngPCIState(VirtioPCIState):
    backend_type = "virtio-rng-device"


class VirtioSerialPCIState(VirtioPCIState):
    backend_type = "virtio-serial-device"


def _backend_unplugged(dev: DeviceState) -> None:
    """Hot-unplugging a proxy takes its virtio device off the proxy's bus first (``device_del`` needs an
    unplug handler there); nothing to disconnect: the PCI function goes with the proxy."""


def _registered(name: str) -> TypeInfo:
    info = lookup_type(name)
    assert info is not None, f"{name} is registered by pyqemu.hw.virtio.qdev"
    return info


register_bus_type("virtio-pci-bus", "virtio-bus")
register_type(TypeInfo("virtio-pci", parent="pci-device", abstract=True, user_creatable=False,
                       bus_type="PCI", properties=_registered("virtio-device").properties))
for _name, _cls in (("virtio-blk-pci", VirtioBlkPCIState), ("virtio-rng-pci", VirtioRngPCIState),
                    ("virtio-serial-pci", VirtioSerialPCIState)):
    _backend = _registered(_cls.backend_type)
    register_type(TypeInfo(_name, parent="virtio-pci", category=_backend.category, bus_type="PCI",
                           properties=_backend.properties, cls=_cls))
