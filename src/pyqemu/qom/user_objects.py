"""User-creatable objects (QEMU qom/object_interfaces.c and the backends it creates): what ``-object``
and ``object-add`` make and ``object-del`` removes, each under ``/objects/<id>`` in the QOM tree.

Types: the entropy backends of virtio-rng (``-device virtio-rng-device,rng=ID``): ``rng-builtin`` (the
host's random source, os.urandom) and ``rng-random`` (``filename``, default ``/dev/urandom``, opened
when the object is created).  Properties are fixed once the object exists, as in QEMU; an object a
device uses cannot be deleted.  :func:`object_help` and :func:`object_type_help` print what ``-object
help`` and ``-object TYPE,help`` print.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pyqemu.cli.qemu_opts import OptsError, check_id


class ObjectError(Exception):
    """object-add / object-del / qom-set failed (QEMU's message)."""


@dataclass(frozen=True)
class ObjectProperty:
    name: str
    type: str  #: "str" (the only kind the object types below have)
    default: Any = None


@dataclass
class ObjectType:
    name: str
    properties: tuple[ObjectProperty, ...] = ()


TYPES = {t.name: t for t in (
    ObjectType("rng-builtin"),
    ObjectType("rng-random", (ObjectProperty("filename", "str", "/dev/urandom"),)),
)}


def _convert(prop: ObjectProperty, value: Any) -> Any:
    """A property value from QMP or the command line."""
    if not isinstance(value, str):
        raise ObjectError(f"Invalid parameter type for '{prop.name}', expected: string")
    return value


@dataclass
class UserObject:
    type: ObjectType
    id: str
    values: dict[str, Any] = field(default_factory=dict)
    #: the device that uses the object, if any
    user: Any = None
    resource: Any = None

    def get(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        self._prop(name)
        raise ObjectError(f"Property '{self.type.name}.{name}' can't be set after the object is created")

    def _prop(self, name: str) -> ObjectProperty:
        for prop in self.type.properties:
            if prop.name == name:
                return prop
        raise ObjectError(f"Property '{self.type.name}.{name}' not found")

    def entropy(self, size: int) -> bytes:
        """Random bytes (the rng backends)."""
        if self.resource is None:
            return os.urandom(size)
        return os.read(self.resource, size)

    def close(self) -> None:
        if isinstance(self.resource, int):
            os.close(self.resource)
        self.resource = None


def object_help() -> str:
    """``-object help``."""
    return "List of user creatable objects:\n" + "".join(f"  {name}\n" for name in sorted(TYPES))


def object_type_help(name: str) -> str:
    """``-object TYPE,help``."""
    otype = TYPES.get(name)
    if otype is None:
        raise ObjectError(f"Parameter 'qom-type' does not accept value '{name}'")
    if not otype.properties:
        return f"There are no options for {name}.\n"
    return f"{name} options:\n" + "".join(f"  {p.name}=<string>\n" for p in otype.properties)


class ObjectRegistry:
    """The VM's user-created objects by id."""

    def __init__(self) -> None:
        self.objects: dict[str, UserObject] = {}

    def add(self, qom_type: str, id: str, props: dict[str, Any]) -> UserObject:
        otype = TYPES.get(qom_type)
        if otype is None:
            raise ObjectError(f"Parameter 'qom-type' does not accept value '{qom_type}'"
                              if qom_type else "Parameter 'qom-type' is missing")
        try:
            check_id(id)
        except OptsError as exc:
            raise ObjectError(str(exc)) from None
        if id in self.objects:
            raise ObjectError(f"attempt to add duplicate property '{id}' to object (type 'container')")
        obj = UserObject(otype, id, {p.name: p.default for p in otype.properties})
        for name, value in props.items():
            obj.values[name] = _convert(obj._prop(name), value)
        if qom_type == "rng-random":
            path = obj.values["filename"]
            try:
                obj.resource = os.open(path, os.O_RDONLY)
            except OSError as exc:
                raise ObjectError(f"Could not open '{path}': {os.strerror(exc.errno or 0)}") from None
        self.objects[id] = obj
        return obj

    def delete(self, id: str) -> None:
        obj = self.objects.get(id)
        if obj is None:
            raise ObjectError(f"object '{id}' not found")
        if obj.user is not None:
            raise ObjectError(f"object '{id}' is in use, can not be deleted")
        obj.close()
        del self.objects[id]

    def close(self) -> None:
        for obj in self.objects.values():
            obj.close()
