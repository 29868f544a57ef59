"""A small QEMU Object Model: device types, typed properties, buses and the device tree (the parts of
QEMU's qom/object.c, hw/core/qdev.c, qdev-properties.c and softmmu/qdev-monitor.c that ``-device`` and
the monitor's ``info qtree`` rely on).

* A :class:`TypeInfo` names a device type, its parent type, the ``-device help`` category it is listed
  under, the bus type it plugs into (``None``: the system bus, "System"), whether ``-device`` may create
  it, its properties, the Python class that implements it and the type of the child bus it provides.
  :func:`register_type` adds it to the registry.
* A :class:`Property` has a QOM type (``uint16``, ``uint32``, ``uint64``, ``size``, ``bool``, ``str``,
  ``drive``: a block backend looked up by its ``-drive id=``, ``chr``: a chardev by its ``-chardev
  id=``) and an optional default and description; it parses ``-device TYPE,prop=value`` strings with
  QEMU's error messages.
* A :class:`DeviceState` is an instance of a type: property values, an optional ``id``, its parent
  :class:`BusState` and its child buses.  :meth:`DeviceState.realize` makes it work (creates the device
  model, connects backends); :meth:`DeviceState.reset` returns it to its power-on state.
* A :class:`DeviceTree` holds the tree rooted at the system bus ("main-system-bus"), the ids in use, and
  the drives and chardevs that devices may claim.  :meth:`DeviceTree.device_add` carries out one
  ``-device`` option, :meth:`DeviceTree.qtree` renders ``info qtree``.

:func:`device_help` and :func:`device_type_help` print what ``-device help`` and ``-device TYPE,help``
print.  Errors are :class:`QomError` with QEMU 7.2's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyqemu.cli.qemu_opts import OptsError, check_id, parse_bool, parse_size

__all__ = [
    "CATEGORIES", "BusState", "DeviceState", "DeviceTree", "Property", "QomError", "TypeInfo",
    "device_help", "device_type_help", "is_a", "lookup_type", "register_type",
]


class QomError(OptsError):
    """A device cannot be created or configured; ``hint`` is an optional second line of advice."""


#: ``-device help`` categories, in the order QEMU lists them.
CATEGORIES = (
    "Controller/Bridge/Hub devices", "USB devices", "Storage devices", "Network devices", "Input devices",
    "Display devices", "Sound devices", "Misc devices", "CPU devices", "Watchdog devices",
    "Uncategorized devices",
)

#: C type names of the integer property types, as QEMU's range errors spell them
_INT_RANGES = {
    "uint8": (0, (1 << 8) - 1, "uint8_t"),
    "uint16": (0, (1 << 16) - 1, "uint16_t"),
    "uint32": (0, (1 << 32) - 1, "uint32_t"),
    "uint64": (0, (1 << 64) - 1, "uint64_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
}
_INT_RE = re.compile(r"-?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
PROPERTY_TYPES = (*_INT_RANGES, "size", "bool", "str", "drive", "chr", "link<rng-backend>")


def _parse_int(text: str) -> int | None:
    """An integer as QEMU's option visitor reads it (decimal, 0x hex, 0 octal, optional minus)."""
    if not _INT_RE.fullmatch(text):
        return None
    negative = text.startswith("-")
    body = text[1:] if negative else text
    if body[:2] in ("0x", "0X"):
        value = int(body, 16)
    elif body.startswith("0") and len(body) > 1:
        value = int(body, 8)
    else:
        value = int(body)
    return -value if negative else value


def size_to_str(value: int) -> str:
    """A byte count the way QEMU's size_to_str shows it: "512 B", "4 KiB", "1.5 MiB"."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    scaled = float(value)
    while scaled >= 1024 and i < len(units) - 1:
        scaled /= 1024
        i += 1
    return f"{scaled:.3g} {units[i]}"


@dataclass(frozen=True)
class Property:
    """One device property.  ``default`` None means "no default shown" (strings, links)."""

    name: str
    type: str
    default: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in PROPERTY_TYPES:
            raise ValueError(f"unknown property type {self.type!r}")

    @property
    def type_name(self) -> str:
        """The type ``-device TYPE,help`` shows (links to backends are given by id: ``str``)."""
        return "str" if self.type in ("drive", "chr") else self.type

    def format_default(self) -> str:
        value = self.default
        if self.type == "bool":
            return "true" if value else "false"
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)

    def help_line(self) -> str:
        """The property's line in ``-device TYPE,help``."""
        head = f"{self.name}=<{self.type_name}>"
        description = self.description or ("on/off" if self.type == "bool" else "")
        if not description and self.default is None:
            return f"  {head}"
        default = f" (default: {self.format_default()})" if self.default is not None else ""
        return f"  {head:<22} - {description}{default}"

    def parse(self, text: str) -> Any:
        """Convert a ``-device`` string value (``drive``/``chr`` stay ids; the tree resolves them)."""
        if self.type in _INT_RANGES:
            low, high, ctype = _INT_RANGES[self.type]
            value = _parse_int(text.strip())
            if value is None:
                raise QomError(f"Parameter '{self.name}' expects integer")
            if not low <= value <= high:
                raise QomError(f"Parameter '{self.name}' expects {ctype}")
            return value
        if self.type == "size":
            try:
                return parse_size(self.name, text)
            except OptsError:
                raise QomError(f"Parameter '{self.name}' expects size") from None
        if self.type == "bool":
            try:
                return parse_bool(self.name, text)
            except OptsError as exc:
                raise QomError(str(exc)) from None
        return text

    def format_value(self, value: Any) -> str:
        """The value as ``info qtree`` shows it."""
        if self.type == "bool":
            return "true" if value else "false"
        if self.type == "size":
            return f"{value} ({size_to_str(value)})"
        if self.type in _INT_RANGES:
            return f"{value} (0x{value & ((1 << 64) - 1):x})"
        return f'"{value if value is not None else ""}"'


@dataclass
class TypeInfo:
    """A registered device type."""

    name: str
    parent: str | None = "device"
    category: str | None = None
    bus_type: str | None = None
    user_creatable: bool = True
    abstract: bool = False
    description: str = ""
    properties: tuple[Property, ...] = ()
    cls: type[DeviceState] | None = None
    #: type of the bus this device provides to its children (e.g. "virtio-serial-bus"), if any
    child_bus: str | None = None
    #: how many devices that child bus takes (None: no limit)
    child_bus_slots: int | None = None

    @property
    def bus_label(self) -> str:
        return self.bus_type or "System"


_TYPES: dict[str, TypeInfo] = {}


def register_type(info: TypeInfo) -> TypeInfo:
    """Add ``info`` to the registry (a later registration of the same name replaces it)."""
    if info.category is not None and info.category not in CATEGORIES:
        raise ValueError(f"unknown device category {info.category!r}")
    _TYPES[info.name] = info
    return info


def lookup_type(name: str) -> TypeInfo | None:
    return _TYPES.get(name)


def is_a(type_name: str, ancestor: str) -> bool:
    """Is ``type_name`` (a device or bus type) ``ancestor`` or derived from it?"""
    seen: set[str] = set()
    name: str | None = type_name
    while name is not None and name not in seen:
        if name == ancestor:
            return True
        seen.add(name)
        info = _TYPES.get(name)
        name = info.parent if info is not None else _BUS_PARENTS.get(name)
    return False


#: bus type hierarchy (bus types are not device types, so they are kept apart)
_BUS_PARENTS: dict[str, str] = {}


def register_bus_type(name: str, parent: str | None = None) -> None:
    if parent is not None:
        _BUS_PARENTS[name] = parent


def all_properties(info: TypeInfo) -> list[Property]:
    """The properties of ``info`` and of its ancestors, sorted by name as ``-device TYPE,help`` lists
    them."""
    props: dict[str, Property] = {}
    chain: list[TypeInfo] = []
    current: TypeInfo | None = info
    while current is not None:
        chain.append(current)
        current = _TYPES.get(current.parent) if current.parent else None
    for t in reversed(chain):
        for p in t.properties:
            props[p.name] = p
    return sorted(props.values(), key=lambda p: p.name)


def own_properties(info: TypeInfo) -> list[Property]:
    """Properties in declaration order, most derived type first (``info qtree`` order)."""
    out: list[Property] = []
    names: set[str] = set()
    current: TypeInfo | None = info
    while current is not None:
        for p in current.properties:
            if p.name not in names:
                names.add(p.name)
                out.append(p)
        current = _TYPES.get(current.parent) if current.parent else None
    return out


# -- help listings -------------------------------------------------------------------------------------

def device_help() -> str:
    """What ``-device help`` prints: the user-creatable types by category, alphabetically."""
    blocks = []
    for category in CATEGORIES:
        names = sorted(t.name for t in _TYPES.values()
                       if t.user_creatable and not t.abstract
                       and (t.category or "Uncategorized devices") == category)
        if not names:
            continue
        lines = [f"{category}:"]
        for name in names:
            t = _TYPES[name]
            line = f'name "{name}"'
            if t.bus_type is not None:
                line += f", bus {t.bus_type}"
            if t.description:
                line += f', desc "{t.description}"'
            lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def device_type_help(name: str) -> str:
    """What ``-device TYPE,help`` prints; raises QomError("Device 'X' not found") for unknown types."""
    info = _TYPES.get(name)
    if info is None or info.abstract:
        raise QomError(f"Device '{name}' not found")
    props = all_properties(info)
    if not props:
        return f"There are no options for {name}."
    return "\n".join([f"{name} options:", *(p.help_line() for p in props)])


# -- instances ----------------------------------------------------------------------------------------

class BusState:
    """A bus devices plug into.  ``slots`` limits how many (None: any number); ``on_plug`` runs when a
    realized device is attached (the transport connects it).  A bus with an ``on_unplug`` handler is
    *hot-pluggable* (QEMU's bus hotplug handler): devices may be added once the machine runs and removed
    with ``device_del``; ``on_unplug`` disconnects the device from the transport."""

    def __init__(self, name: str, type: str, parent: DeviceState | None = None, slots: int | None = None):
        self.name = name
        self.type = type
        self.parent = parent
        self.slots = slots
        self.children: list[DeviceState] = []
        self.on_plug: Callable[[DeviceState], None] | None = None
        self.on_unplug: Callable[[DeviceState], None] | None = None

    @property
    def hotpluggable(self) -> bool:
        return self.on_unplug is not None

    @property
    def full(self) -> bool:
        return self.slots is not None and len(self.children) >= self.slots

    def accepts(self, bus_type: str) -> bool:
        return is_a(self.type, bus_type)

    def plug(self, dev: DeviceState) -> None:
        if self.full:
            raise QomError(f"Bus '{self.name}' is full")
        self.children.append(dev)
        dev.parent_bus = self
        if self.on_plug is not None:
            self.on_plug(dev)

    def walk(self) -> Iterator[BusState]:
        """This bus and every bus below it, depth first in creation order."""
        yield self
        for dev in self.children:
            for child in dev.child_buses:
                yield from child.walk()


class DeviceState:
    """An instance of a device type.  Subclasses override :meth:`realize`, :meth:`reset` and, for
    ``info qtree``, :meth:`qtree_extra` (lines such as ``mmio BASE/SIZE``)."""

    def __init__(self, info: TypeInfo, tree: DeviceTree, id: str | None = None):
        self.type_info = info
        self.tree = tree
        self.id = id
        self.props: dict[str, Any] = {p.name: p.default for p in own_properties(info)}
        self.parent_bus: BusState | None = None
        self.child_buses: list[BusState] = []
        self.realized = False
        #: where the device sits in the QOM composition tree (set when it is plugged)
        self.qom_path = ""

    @property
    def type_name(self) -> str:
        return self.type_info.name

    def property(self, name: str) -> Property:
        for p in own_properties(self.type_info):
            if p.name == name:
                return p
        raise QomError(f"Property '{self.type_name}.{name}' not found")

    def set_property(self, name: str, text: str) -> None:
        """Set a property from its ``-device`` string (claims drives and chardevs by id)."""
        prop = self.property(name)
        if prop.type == "drive":
            self.props[name] = self.tree.claim_drive(self, prop, text)
        elif prop.type == "chr":
            self.props[name] = self.tree.claim_chardev(self, prop, text)
        elif prop.type.startswith("link<"):
            self.props[name] = self.tree.claim_object(self, prop, text)
        else:
            self.props[name] = prop.parse(text)

    def add_child_bus(self, type: str, slots: int | None = None, name: str | None = None) -> BusState:
        bus = BusState(name or self.tree.bus_name(self, type), type, self, slots)
        self.child_buses.append(bus)
        return bus

    # -- lifecycle ---------------------------------------------------------------------------------
    def realize(self) -> None:
        """Make the device work; raise QomError if its configuration is unusable."""

    def reset(self) -> None:
        """Return to the power-on state."""

    def unrealize(self) -> None:
        """Stop working and let go of backends (hot-unplug)."""

    # -- info qtree ----------------------------------------------------------------------------------
    def qtree_extra(self) -> list[str]:
        """Lines shown after the properties (``gpio-out``, ``mmio``...)."""
        return []

    def qtree_value(self, prop: Property) -> str:
        value = self.props.get(prop.name)
        if prop.type in ("drive", "chr"):
            value = self.tree.backend_name(value)
        elif prop.type.startswith("link<"):
            return f'"{value.id if value is not None else ""}"'
        return prop.format_value(value)

    def qtree_lines(self, indent: int) -> list[str]:
        pad = " " * indent
        lines = [f'{pad}dev: {self.type_name}, id "{self.id or ""}"']
        inner = pad + "  "
        for line in self.qtree_head():
            lines.append(inner + line)
        for prop in own_properties(self.type_info):
            lines.append(f"{inner}{prop.name} = {self.qtree_value(prop)}")
        for line in self.qtree_extra():
            lines.append(inner + line)
        for bus in self.child_buses:
            lines += _bus_lines(bus, indent + 2)
        return lines

    def qtree_head(self) -> list[str]:
        """Lines shown before the properties (QEMU puts the GPIO lines there)."""
        return []


def _bus_lines(bus: BusState, indent: int) -> list[str]:
    pad = " " * indent
    lines = [f"{pad}bus: {bus.name}", f"{pad}  type {bus.type}"]
    # like QEMU, the most recently added device comes first
    for dev in reversed(bus.children):
        lines += dev.qtree_lines(indent + 2)
    return lines


@dataclass
class _Claim:
    user: DeviceState | None
    label: str


@dataclass
class DeviceTree:
    """The devices of one machine, and the backends (drives, chardevs) they may use by id."""

    drives: dict[str, Any] = field(default_factory=dict)
    chardevs: dict[str, Any] = field(default_factory=dict)
    #: the user-created objects (:class:`~pyqemu.qom.user_objects.ObjectRegistry`) link properties name
    objects: Any = None

    def __post_init__(self) -> None:
        self.root = BusState("main-system-bus", "System")
        self.ids: dict[str, DeviceState] = {}
        self._bus_counts: dict[str, int] = {}
        self._drive_claims: dict[str, _Claim] = {}
        self._chardev_claims: dict[str, _Claim] = {}
        self._backend_names: dict[int, str] = {}
        #: set once the machine is built: from then on ``device_add`` is a hot-plug
        self.machine_ready = False
        #: called with (id, QOM path) after a device is unplugged (the DEVICE_DELETED event)
        self.deleted_listeners: list[Callable[[str | None, str], None]] = []
        self._anon_counts: dict[str, int] = {}

    # -- buses -------------------------------------------------------------------------------------
    def bus_name(self, dev: DeviceState, type: str) -> str:
        """QEMU's bus naming: ``<device id>.<n>`` for a device with an id, else ``<bus type>.<n>``."""
        if dev.id:
            return f"{dev.id}.{len(dev.child_buses)}"
        n = self._bus_counts.get(type, 0)
        self._bus_counts[type] = n + 1
        return f"{type}.{n}"

    def buses(self) -> Iterator[BusState]:
        return self.root.walk()

    def find_bus(self, name: str) -> BusState | None:
        for bus in self.buses():
            if bus.name == name:
                return bus
        return None

    def free_bus(self, bus_type: str) -> BusState | None:
        """The bus a device without ``bus=`` goes to: like QEMU, the last one created that has room."""
        candidates = [b for b in self.buses() if b.accepts(bus_type) and not b.full]
        return candidates[-1] if candidates else None

    # -- backends ----------------------------------------------------------------------------------
    def add_drive(self, id: str, backend: Any) -> None:
        self.drives[id] = backend
        self._backend_names[builtin_id(backend)] = id

    def add_chardev(self, id: str, chardev: Any) -> None:
        self.chardevs[id] = chardev
        self._backend_names[builtin_id(chardev)] = id

    def backend_name(self, backend: Any) -> str:
        if backend is None:
            return ""
        return self._backend_names.get(builtin_id(backend), getattr(backend, "id", ""))

    def claim_drive(self, dev: DeviceState | None, prop: Property | None, drive_id: str) -> Any:
        """The drive ``drive_id`` for ``dev``; each drive serves one device."""
        owner = dev.type_name if dev is not None else "device"
        backend = self.drives.get(drive_id)
        if backend is None:
            raise QomError(f"Property '{owner}.{prop.name if prop else 'drive'}' can't find value "
                           f"'{drive_id}'")
        if drive_id in self._drive_claims:
            raise QomError(f"Drive '{drive_id}' is already in use by another device")
        self._drive_claims[drive_id] = _Claim(dev, owner)
        return backend

    def claim_object(self, dev: DeviceState, prop: Property, obj_id: str) -> Any:
        """The user-created object ``obj_id`` (``-object``) for a link property; it is then in use."""
        obj = self.objects.objects.get(obj_id) if self.objects is not None else None
        if obj is None:
            raise QomError(f"Property '{dev.type_name}.{prop.name}' can't find value '{obj_id}'")
        kind = prop.type[len("link<"):-1]
        if not obj.type.name.startswith(kind.removesuffix("-backend")):
            raise QomError(f"Invalid parameter type for '{prop.name}', expected: {kind}")
        if obj.user is not None:
            raise QomError(f"Property '{dev.type_name}.{prop.name}' can't take value '{obj_id}', it's in use")
        obj.user = dev
        return obj

    def _release_claims(self, dev: DeviceState) -> None:
        for claims in (self._drive_claims, self._chardev_claims):
            for key in [k for k, claim in claims.items() if claim.user is dev]:
                del claims[key]
        if self.objects is not None:
            for obj in self.objects.objects.values():
                if obj.user is dev:
                    obj.user = None

    def claim_chardev(self, dev: DeviceState | None, prop: Property | None, chr_id: str) -> Any:
        """The chardev ``chr_id`` for one frontend: a multiplexed chardev (``mux=on``) hands out a new
        attach point each time, any other one serves a single frontend."""
        owner = f"{dev.type_name}.{prop.name}" if dev is not None and prop is not None else "chardev"
        chardev = self.chardevs.get(chr_id)
        if chardev is None:
            raise QomError(f"Property '{owner}' can't find value '{chr_id}'")
        add_frontend = getattr(chardev, "add_frontend", None)
        if add_frontend is not None:
            try:
                frontend = add_frontend()
            except ValueError as exc:
                raise QomError(f"Property '{owner}' can't take value '{chr_id}': {exc}") from None
            self._backend_names[builtin_id(frontend)] = chr_id
            return frontend
        if chr_id in self._chardev_claims:
            raise QomError(f"Property '{owner}' can't take value '{chr_id}': Device '{chr_id}' is in use")
        self._chardev_claims[chr_id] = _Claim(dev, owner)
        return chardev

    # -- devices -----------------------------------------------------------------------------------
    def create(self, type_name: str, id: str | None = None) -> DeviceState:
        """An unrealized instance of ``type_name`` (built-in devices; ``-device`` uses
        :meth:`device_add`)."""
        info = _TYPES[type_name]
        cls = info.cls or DeviceState
        dev = cls(info, self, id)
        if info.child_bus is not None:
            dev.add_child_bus(info.child_bus, info.child_bus_slots)
        return dev

    def add_builtin(self, type_name: str, bus: BusState | None = None, **props: Any) -> DeviceState:
        """Create a board device (already working): set ``props`` and plug it into ``bus`` (default: the
        system bus) without realizing it through ``-device``."""
        dev = self.create(type_name)
        dev.props.update(props)
        dev.realized = True
        (bus or self.root).plug(dev)
        dev.qom_path = self._next_path("/machine/unattached", "device")
        return dev

    def _next_path(self, container: str, stem: str) -> str:
        n = self._anon_counts.get(container, 0)
        self._anon_counts[container] = n + 1
        return f"{container}/{stem}[{n}]"

    def device_add(self, opts: dict[str, str]) -> DeviceState:
        """Carry out ``-device`` with the already split ``opts`` (QEMU's qdev_device_add)."""
        opts = dict(opts)
        driver = opts.pop("driver", None)
        if driver is None:
            raise QomError("Parameter 'driver' is missing")
        info = _TYPES.get(driver)
        if info is None:
            raise QomError(f"'{driver}' is not a valid device model name")
        if info.abstract or not info.user_creatable:
            raise QomError("Parameter 'driver' expects a pluggable device type")
        id = opts.pop("id", None)
        if id is not None:
            check_id(id)
            if id in self.ids:
                raise QomError(f"Duplicate ID '{id}' for device")
        bus_name = opts.pop("bus", None)
        bus: BusState | None
        if info.bus_type is None:
            bus = self.root
            if bus_name is not None and bus_name != self.root.name:
                raise QomError(f"Bus '{bus_name}' not found")
        elif bus_name is not None:
            bus = self.find_bus(bus_name)
            if bus is None:
                raise QomError(f"Bus '{bus_name}' not found")
            if not bus.accepts(info.bus_type):
                raise QomError(f"Device '{driver}' can't go on {bus.type} bus")
            if bus.full:
                raise QomError(f"Bus '{bus_name}' is full")
        else:
            bus = self.free_bus(info.bus_type)
            if bus is None:
                raise QomError(f"No '{info.bus_type}' bus found for device '{driver}'")
        if self.machine_ready and not bus.hotpluggable:
            raise QomError(f"Bus '{bus.name}' does not support hotplugging")
        dev = self.create(driver, id)
        try:
            for name, value in opts.items():
                dev.set_property(name, value)
            dev.parent_bus = bus
            dev.realize()
        except QomError:
            self._release_claims(dev)
            raise
        dev.realized = True
        bus.plug(dev)
        if id is not None:
            self.ids[id] = dev
            dev.qom_path = f"/machine/peripheral/{id}"
        else:
            dev.qom_path = self._next_path("/machine/peripheral-anon", "device")
        return dev

    def find_device(self, id_or_path: str) -> DeviceState | None:
        """A device by its ``id`` or its QOM path."""
        if id_or_path in self.ids:
            return self.ids[id_or_path]
        for dev in self.devices():
            if dev.qom_path and dev.qom_path == id_or_path:
                return dev
        return None

    def device_del(self, id_or_path: str) -> None:
        """Hot-unplug a device (QEMU's qdev_unplug); DEVICE_DELETED listeners hear of it."""
        dev = self.find_device(id_or_path)
        if dev is None:
            raise QomError(f"Device '{id_or_path}' not found")
        bus = dev.parent_bus
        if bus is None or not bus.hotpluggable:
            raise QomError(f"Bus '{bus.name if bus else self.root.name}' does not support hotplugging")
        for child_bus in dev.child_buses:
            for child in list(child_bus.children):
                self._unplug(child)
        self._unplug(dev)

    def _unplug(self, dev: DeviceState) -> None:
        bus = dev.parent_bus
        assert bus is not None and bus.on_unplug is not None
        bus.on_unplug(dev)
        bus.children.remove(dev)
        dev.unrealize()
        dev.realized = False
        dev.parent_bus = None
        self._release_claims(dev)
        if dev.id is not None:
            self.ids.pop(dev.id, None)
        for listener in self.deleted_listeners:
            listener(dev.id, dev.qom_path)

    def devices(self) -> Iterator[DeviceState]:
        for bus in self.buses():
            yield from bus.children

    def reset(self) -> None:
        for dev in self.devices():
            dev.reset()

    def qtree(self) -> str:
        """``info qtree``."""
        return "\n".join(_bus_lines(self.root, 0)) + "\n"


def builtin_id(obj: Any) -> int:
    """Identity key of a backend object (backends need not be hashable)."""
    return id(obj)


register_type(TypeInfo("device", parent=None, abstract=True, user_creatable=False))
register_type(TypeInfo("sys-bus-device", parent="device", abstract=True, user_creatable=False))
