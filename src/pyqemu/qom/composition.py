"""The QOM composition tree as ``qom-list``/``qom-get``/``qom-set`` see it (QEMU qom/qom-qmp-cmds.c and
the paths objects get in qom/object.c, hw/core/qdev.c, hw/riscv/virt.c).

``/machine`` is the board (``virt-machine``) with its string properties (``kernel``, ``append``...);
board devices sit under ``/machine/unattached/device[N]`` (the hart array at ``/machine/soc0``, with
its harts ``harts[N]``), ``-device``/``device_add`` devices under ``/machine/peripheral/<id>`` or
``/machine/peripheral-anon/device[N]``; a device's buses are its children.  ``/objects/<id>`` holds
user-created objects and ``/chardevs/<id>`` the character devices.

Paths may be absolute or partial (a suffix naming one object uniquely), as QEMU's object_resolve_path
allows.  Property types are QEMU's (``string``, ``bool``, ``uint32``, ``link<...>``, ``child<...>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyqemu.qom.object import DeviceState, DeviceTree, own_properties
from pyqemu.qom.user_objects import ObjectError, ObjectRegistry


class QomPathError(Exception):
    """No such object (DeviceNotFound)."""


@dataclass
class QomProperty:
    name: str
    type: str
    get: Callable[[], Any]
    set: Callable[[Any], None] | None = None
    description: str | None = None


@dataclass
class QomNode:
    path: str
    type: str
    props: list[QomProperty] = field(default_factory=list)
    children: dict[str, QomNode] = field(default_factory=dict)

    def property(self, name: str) -> QomProperty:
        for prop in self.props:
            if prop.name == name:
                return prop
        raise ObjectError(f"Property '{self.type}.{name}' not found")

    def listing(self) -> list[dict[str, str]]:
        """``qom-list``: properties then children."""
        out = [{"name": p.name, "type": p.type} | ({"description": p.description} if p.description else {})
               for p in self.props]
        out += [{"name": name, "type": f"child<{child.type}>"} for name, child in self.children.items()]
        return out


#: QOM property types of the device property types
_DEVICE_PROP_TYPES = {"drive": "str", "chr": "str"}


@dataclass
class QomView:
    """What the composition tree is built from."""

    tree: DeviceTree
    objects: ObjectRegistry
    chardevs: dict[str, Any]
    machine_type: str
    machine_props: dict[str, str]
    cpu_type: str
    cpus: int

    def build(self) -> dict[str, QomNode]:
        nodes: dict[str, QomNode] = {}

        def add(node: QomNode) -> QomNode:
            node.props.insert(0, QomProperty("type", "string", lambda t=node.type: t))
            nodes[node.path] = node
            return node

        add(QomNode("/", "container"))
        machine = add(QomNode("/machine", self.machine_type))
        for name in sorted(self.machine_props):
            machine.props.append(QomProperty(name, "string", lambda n=name: self.machine_props[n],
                                             lambda v, n=name: self._set_machine(n, v)))
        for dev in self.tree.devices():
            if not dev.qom_path:
                continue
            add(self._device_node(dev))
            for bus in dev.child_buses:
                add(QomNode(f"{dev.qom_path}/{bus.name}", bus.type))
            if dev.type_name == "riscv.hart_array":
                for i in range(self.cpus):
                    add(QomNode(f"{dev.qom_path}/harts[{i}]", self.cpu_type))
        for obj in self.objects.objects.values():
            node = add(QomNode(f"/objects/{obj.id}", obj.type.name))
            for oprop in obj.type.properties:
                node.props.append(QomProperty(
                    oprop.name, oprop.type, lambda o=obj, n=oprop.name: o.get(n),
                    lambda v, o=obj, n=oprop.name: o.set(n, v)))
        for chr_id, chardev in self.chardevs.items():
            kind = type(chardev).__name__.removeprefix("Chardev").lower() or "chardev"
            add(QomNode(f"/chardevs/{chr_id}", f"chardev-{kind}"))
        for path in list(nodes):
            self._link(nodes, path)
        return nodes

    def _link(self, nodes: dict[str, QomNode], path: str) -> None:
        """Hang ``path`` under its parent, creating containers on the way."""
        if path == "/":
            return
        parent_path, _, name = path.rpartition("/")
        parent_path = parent_path or "/"
        parent = nodes.get(parent_path)
        if parent is None:
            parent = nodes[parent_path] = QomNode(parent_path, "container")
            parent.props.append(QomProperty("type", "string", lambda: "container"))
            self._link(nodes, parent_path)
        parent.children[name] = nodes[path]

    def _set_machine(self, name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise ObjectError(f"Invalid parameter type for '{name}', expected: string")
        self.machine_props[name] = value

    def _device_node(self, dev: DeviceState) -> QomNode:
        node = QomNode(dev.qom_path, dev.type_name)
        bus = dev.parent_bus
        node.props += [
            QomProperty("realized", "bool", lambda: dev.realized),
            QomProperty("hotpluggable", "bool", lambda: bool(bus and bus.hotpluggable)),
            QomProperty("parent_bus", "link<bus>",
                        lambda: f"{bus.parent.qom_path}/{bus.name}" if bus and bus.parent else "/machine"),
        ]
        for prop in own_properties(dev.type_info):
            def get(p: Any = prop) -> Any:
                value = dev.props.get(p.name)
                if p.type in ("drive", "chr"):
                    return dev.tree.backend_name(value)
                if p.type.startswith("link<"):
                    return f"/objects/{value.id}" if value is not None else ""
                return value

            def refuse(_value: Any, p: Any = prop) -> None:
                raise ObjectError(f"Attempt to set property '{p.name}' on device '{dev.id or 'anon'}' "
                                  f"(type '{dev.type_name}') after it was realized")

            qom_type = _DEVICE_PROP_TYPES.get(prop.type, prop.type)
            node.props.append(QomProperty(prop.name, qom_type, get, refuse, prop.description or None))
        return node

    def resolve(self, path: str) -> QomNode:
        nodes = self.build()
        if path.startswith("/"):
            node = nodes.get(path.rstrip("/") or "/")
            if node is None:
                raise QomPathError(f"Device '{path}' not found")
            return node
        matches = [n for p, n in nodes.items() if p.endswith("/" + path)]
        if len(matches) != 1:
            if matches:
                raise QomPathError(f"Path '{path}' does not uniquely identify an object")
            raise QomPathError(f"Device '{path}' not found")
        return matches[0]
