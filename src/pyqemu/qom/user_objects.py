"""User-creatable objects (QEMU qom/object_interfaces.c and the backends it creates): what ``object-add``
makes and ``object-del`` removes, each under ``/objects/<id>`` in the QOM tree.

Types: ``rng-builtin`` (the host's random source, os.urandom) and ``rng-random`` (``filename``, default
``/dev/urandom``, opened when the object is created), the entropy backends of virtio-rng;
``memory-backend-ram`` (``size``, ``share``), host memory a board may map; and ``iothread``, whose polling
parameters (``poll-max-ns``, ``poll-grow``, ``poll-shrink``, ``aio-max-batch``) may be changed at any time
with ``qom-set`` (pyqemu runs device I/O on the main loop, so an iothread object holds its settings but
runs no thread of its own).  Other properties are fixed once the object exists, as in QEMU.
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
    type: str  #: "str", "bool", "int", "size"
    default: Any = None
    #: may be changed after the object is created
    runtime: bool = False


@dataclass
class ObjectType:
    name: str
    properties: tuple[ObjectProperty, ...] = ()
    required: tuple[str, ...] = ()


TYPES = {t.name: t for t in (
    ObjectType("rng-builtin"),
    ObjectType("rng-random", (ObjectProperty("filename", "str", "/dev/urandom"),)),
    ObjectType("memory-backend-ram",
               (ObjectProperty("size", "size", 0), ObjectProperty("share", "bool", False)),
               required=("size",)),
    ObjectType("iothread", (
        ObjectProperty("poll-max-ns", "int", 32768, runtime=True),
        ObjectProperty("poll-grow", "int", 0, runtime=True),
        ObjectProperty("poll-shrink", "int", 0, runtime=True),
        ObjectProperty("aio-max-batch", "int", 0, runtime=True),
    )),
)}


def _convert(prop: ObjectProperty, value: Any) -> Any:
    """A property value from QMP (typed JSON) or the command line (strings)."""
    if prop.type == "str":
        if not isinstance(value, str):
            raise ObjectError(f"Invalid parameter type for '{prop.name}', expected: string")
        return value
    if prop.type == "bool":
        if isinstance(value, str) and value in ("on", "off", "yes", "no", "true", "false"):
            return value in ("on", "yes", "true")
        if not isinstance(value, bool):
            raise ObjectError(f"Invalid parameter type for '{prop.name}', expected: boolean")
        return value
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise ObjectError(f"Parameter '{prop.name}' expects a number") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ObjectError(f"Invalid parameter type for '{prop.name}', expected: integer")
    if value < 0:
        raise ObjectError(f"Parameter '{prop.name}' expects uint64_t")
    return value


@dataclass
class UserObject:
    type: ObjectType
    id: str
    values: dict[str, Any] = field(default_factory=dict)
    #: what uses the object (a device's QOM path), if anything
    user: str | None = None
    resource: Any = None

    def get(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        prop = self._prop(name)
        if not prop.runtime:
            raise ObjectError(f"Property '{name}' of '{self.type.name}' can't be set after the object is "
                              "created")
        self.values[name] = _convert(prop, value)

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


class ObjectRegistry:
    """The VM's user-created objects by id."""

    def __init__(self) -> None:
        self.objects: dict[str, UserObject] = {}

    def add(self, qom_type: str, id: str, props: dict[str, Any]) -> UserObject:
        otype = TYPES.get(qom_type)
        if otype is None:
            raise ObjectError(f"Invalid parameter 'qom-type': '{qom_type}' is not a user-creatable type"
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
        for name in otype.required:
            if not obj.values.get(name):
                raise ObjectError("can't create backend with size 0" if name == "size"
                                  else f"Parameter '{name}' is missing")
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
