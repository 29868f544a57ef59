"""PCI in the device tree: the "PCI" bus type, the base of PCI device types and the x86 chipsets' QOM
types (QEMU hw/pci/pci.c's qdev parts, hw/core/qdev-properties-system.c's PCI address property).

* Bus types "PCI" and "PCIE" (a kind of PCI: q35's root bus).  A :class:`PCIBusState` carries the
  :class:`~pyqemu.hw.pci.pci.PCIBus` its devices plug their models into.
* :class:`PCIDeviceState` (abstract type "pci-device") is the base of ``-device`` PCI types: its
  ``addr`` property takes ``slot[.function]`` in hex (``addr=03.0``, ``addr=1f``); realize builds the
  model (:meth:`PCIDeviceState.create_model`) and plugs it into the parent bus at ``addr`` or, without
  it, into the first empty slot, failing with QEMU's "PCI: slot N function F not available for X, in
  use by Y".  ``info qtree`` shows the address and QEMU's ``class ..., addr ..., pci id ...`` and
  ``bar N: ...`` lines.
* :func:`info_pci` renders HMP ``info pci`` for a root bus.
* The chipset types (Controller/Bridge/Hub devices, board-created only): "i440FX-pcihost" with "i440FX"
  and "PIIX3", "q35-pcihost" with "mch" and "ICH9-LPC".  :func:`add_chipset` puts a chipset built by
  :mod:`~pyqemu.hw.pci.i440fx` or :mod:`~pyqemu.hw.pci.q35` into a device tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyqemu.hw.pci.i440fx import I440FX
from pyqemu.hw.pci.pci import (
    PCI_BASE_ADDRESS_MEM_PREFETCH,
    PCI_CLASS_DEVICE,
    PCI_DEVICE_ID,
    PCI_INTERRUPT_LINE,
    PCI_INTERRUPT_PIN,
    PCI_SUBSYSTEM_ID,
    PCI_SUBSYSTEM_VENDOR_ID,
    PCI_VENDOR_ID,
    PCIBus,
    PCIDevice,
    PCIError,
    pci_func,
    pci_slot,
)
from pyqemu.hw.pci.q35 import Q35
from pyqemu.qom.object import (
    BusState,
    DeviceState,
    DeviceTree,
    Property,
    QomError,
    TypeInfo,
    register_bus_type,
    register_type,
)

__all__ = ["PCIBusState", "PCIDeviceState", "add_chipset", "add_pci_bus", "info_pci"]

BRIDGE_CATEGORY = "Controller/Bridge/Hub devices"
DEVFN_UNSET = -1
_DEVFN_RE = re.compile(r"(?P<slot>[0-9a-fA-F]+)(?:\.(?P<func>[0-9a-fA-F]+))?")

#: ``info qtree`` names of PCI classes (base << 8 | subclass), as QEMU spells them
CLASS_NAMES = {
    0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0106: "SATA controller",
    0x0180: "Storage controller", 0x0200: "Ethernet controller", 0x0280: "Network controller",
    0x0300: "VGA controller", 0x0380: "Display controller", 0x0403: "Audio controller",
    0x0600: "Host bridge", 0x0601: "ISA bridge", 0x0604: "PCI bridge", 0x0700: "Serial port",
    0x0C03: "USB controller", 0x0C05: "SMBus",
}

register_bus_type("PCI")
register_bus_type("PCIE", "PCI")


def parse_devfn(type_name: str, text: str) -> int:
    """A device/function number from ``slot[.function]`` in hex, with QEMU's error for ``type_name``."""
    match = _DEVFN_RE.fullmatch(text)
    slot = int(match["slot"], 16) if match else 32
    func = int(match["func"] or "0", 16) if match else 8
    if slot > 31 or func > 7:
        raise QomError(f"Property '{type_name}.addr' doesn't take value '{text}'")
    return slot << 3 | func


@dataclass(frozen=True)
class PCIDevfnProperty(Property):
    """``addr``: a PCI device/function number (``-device`` gives it as ``slot[.function]``, see
    :func:`parse_devfn`); shown as ``SS.F``."""

    def format_value(self, value: Any) -> str:
        if value is None or value == DEVFN_UNSET:
            return "<unset>"
        return f"{pci_slot(value):02x}.{pci_func(value)}"


class PCIBusState(BusState):
    """A PCI bus in the device tree, carrying the :class:`PCIBus` model."""

    def __init__(self, pci: PCIBus, parent: DeviceState | None = None, type: str = "PCI"):
        super().__init__(pci.name, type, parent)
        self.pci = pci


def add_pci_bus(parent: DeviceState, pci: PCIBus, type: str = "PCI") -> PCIBusState:
    """Give ``parent`` (a host bridge) the bus carrying ``pci``, named as the model is."""
    bus = PCIBusState(pci, parent, type)
    parent.child_buses.append(bus)
    return bus


class PCIDeviceState(DeviceState):
    """Base of the PCI device types: ``model`` is the function once realized (or attached)."""

    model: PCIDevice | None = None

    def create_model(self) -> PCIDevice:
        """Build the function (subclasses); raise QomError for an unusable configuration."""
        raise NotImplementedError

    def set_property(self, name: str, text: str) -> None:
        if name == "addr":
            self.props[name] = parse_devfn(self.type_name, text)
        else:
            super().set_property(name, text)

    def pci_bus(self) -> PCIBus:
        bus = self.parent_bus
        if not isinstance(bus, PCIBusState):
            raise QomError(f"Device '{self.type_name}' can't go on a {bus.type if bus else 'missing'} bus")
        return bus.pci

    def realize(self) -> None:
        pci = self.pci_bus()
        model = self.create_model()
        addr = self.props.get("addr", DEVFN_UNSET)
        try:
            pci.plug(model, None if addr == DEVFN_UNSET else addr)
        except PCIError as exc:
            raise QomError(str(exc)) from None
        self.attach(model)

    def attach(self, model: PCIDevice) -> None:
        """Adopt ``model``, already on the bus (the board's chipset functions)."""
        self.model = model
        self.props["addr"] = model.devfn

    def reset(self) -> None:
        if self.model is not None:
            self.model.reset()

    def unrealize(self) -> None:
        if self.model is not None and self.model.bus is not None:
            self.model.bus.unplug(self.model)

    def qtree_extra(self) -> list[str]:
        dev = self.model
        if dev is None:
            return []
        lines = [f"class {_class_name(dev)}, addr 00:{pci_slot(dev.devfn):02x}."
                 f"{pci_func(dev.devfn)}, pci id {dev.get_word(PCI_VENDOR_ID):04x}:"
                 f"{dev.get_word(PCI_DEVICE_ID):04x} (sub {dev.get_word(PCI_SUBSYSTEM_VENDOR_ID):04x}:"
                 f"{dev.get_word(PCI_SUBSYSTEM_ID):04x})"]
        for index, bar in enumerate(dev.bars):
            if bar is None:
                continue
            addr = bar.mapped_at if bar.mapped_at is not None else (1 << 64) - 1
            last = (addr + bar.region.size - 1) & ((1 << 64) - 1)
            lines.append(f"bar {index}: {'i/o' if bar.io else 'mem'} at 0x{addr:x} [0x{last:x}]")
        return lines


class PCIHostState(DeviceState):
    """A host bridge (system bus device) owning the root PCI bus."""


def _class_name(dev: PCIDevice) -> str:
    cls = dev.get_word(PCI_CLASS_DEVICE)
    return CLASS_NAMES.get(cls, f"Class {cls:04x}")


def info_pci(bus: PCIBusState) -> str:
    """HMP ``info pci``: every function of the bus in device/function order, its ids, INTx line and
    BARs (address all ones while unmapped), and the ``id`` of its ``-device``."""
    ids = {id(child.model): child.id or "" for child in bus.children if isinstance(child, PCIDeviceState)}
    lines = []
    for dev in bus.pci.devices:
        if dev is None:
            continue
        lines += [f"  Bus  0, device {pci_slot(dev.devfn):3d}, function {pci_func(dev.devfn)}:",
                  f"    {_class_name(dev)}: PCI device {dev.get_word(PCI_VENDOR_ID):04x}:"
                  f"{dev.get_word(PCI_DEVICE_ID):04x}",
                  f"      PCI subsystem {dev.get_word(PCI_SUBSYSTEM_VENDOR_ID):04x}:"
                  f"{dev.get_word(PCI_SUBSYSTEM_ID):04x}"]
        pin = dev.config[PCI_INTERRUPT_PIN]
        if pin:
            lines.append(f"      IRQ {dev.config[PCI_INTERRUPT_LINE]}, pin {chr(ord('A') + pin - 1)}")
        for index, bar in enumerate(dev.bars):
            if bar is None:
                continue
            addr = bar.mapped_at if bar.mapped_at is not None else (1 << 64) - 1
            last = (addr + bar.region.size - 1) & ((1 << 64) - 1)
            if bar.io:
                lines.append(f"      BAR{index}: I/O at 0x{addr:04x} [0x{last:04x}].")
            else:
                prefetch = " prefetchable" if dev.config[bar.offset] & PCI_BASE_ADDRESS_MEM_PREFETCH else ""
                lines.append(f"      BAR{index}: {64 if bar.mem64 else 32} bit{prefetch} memory at "
                             f"0x{addr:08x} [0x{last:08x}].")
        lines.append(f'      id "{ids.get(id(dev), "")}"')
    return "\n".join(lines) + "\n"


def add_chipset(tree: DeviceTree, chipset: I440FX | Q35) -> tuple[PCIBusState, PCIDeviceState]:
    """Put ``chipset`` into ``tree``: its host device on the system bus, the root bus below it and its
    two functions on that bus.  Returns the root bus (``-device`` PCI devices go there) and the ISA
    bridge's device (the board gives it the ISA bus: :func:`pyqemu.hw.isa.bus.add_isa_bus`)."""
    if isinstance(chipset, I440FX):
        host_type, bus_type, functions = "i440FX-pcihost", "PCI", (
            ("i440FX", chipset.host), ("PIIX3", chipset.piix3))
    else:
        host_type, bus_type, functions = "q35-pcihost", "PCIE", (
            ("mch", chipset.mch), ("ICH9-LPC", chipset.lpc))
    host = tree.add_builtin(host_type)
    bus = add_pci_bus(host, chipset.bus, bus_type)
    states = []
    for type_name, model in functions:
        state = tree.add_builtin(type_name, bus)
        assert isinstance(state, PCIDeviceState)
        state.attach(model)
        states.append(state)
    return bus, states[1]


register_type(TypeInfo(
    "pci-device", parent="device", abstract=True, user_creatable=False, bus_type="PCI", properties=(
        PCIDevfnProperty("addr", "int32", DEVFN_UNSET,
                         "Slot and optional function number, example: 06.0 or 06"),
    )))
for _name in ("i440FX-pcihost", "q35-pcihost"):
    register_type(TypeInfo(_name, parent="sys-bus-device", category=BRIDGE_CATEGORY, user_creatable=False,
                           cls=PCIHostState))
for _name, _desc in (("i440FX", "Host bridge"), ("PIIX3", "ISA bridge"), ("mch", "Host bridge"),
                     ("ICH9-LPC", "ICH9 LPC bridge")):
    register_type(TypeInfo(_name, parent="pci-device", category=BRIDGE_CATEGORY, user_creatable=False,
                           bus_type="PCI", cls=PCIDeviceState, description=_desc))
