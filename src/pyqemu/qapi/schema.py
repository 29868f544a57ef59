"""The QAPI schema (QEMU scripts/qapi/parser.py and schema.py, docs/devel/qapi-code-gen.rst): reading
``pyqemu.qapi`` into definitions of builtin types, enums, structs, arrays, commands and events.

The schema file holds one expression per definition in QAPI's syntax: JSON objects with single-quoted
strings and ``#`` comments.  A type is referred to by name; ``['T']`` is an array of ``T``; a command's or
event's inline ``data`` dict becomes an implicit struct named ``q_obj_<name>-arg`` as in QEMU.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

#: builtin types and the JSON type each one is
BUILTINS = {
    "str": "string", "int": "int", "number": "number", "bool": "boolean", "null": "null", "any": "value",
    "int8": "int", "int16": "int", "int32": "int", "int64": "int",
    "uint8": "int", "uint16": "int", "uint32": "int", "uint64": "int", "size": "int",
}
#: the empty argument type of commands and events without data
EMPTY = "q_empty"


class SchemaError(Exception):
    """The schema file is malformed (a bug in pyqemu, not in user input)."""


@dataclass(frozen=True)
class Member:
    name: str
    type: str
    optional: bool = False


@dataclass
class TypeDef:
    """A named type: ``meta`` is builtin, enum, array, or object (a struct)."""

    name: str
    meta: str
    members: tuple[Member, ...] = ()
    values: tuple[str, ...] = ()
    element: str = ""
    json_type: str = ""


@dataclass
class Command:
    name: str
    arg_type: str = EMPTY
    ret_type: str | None = None
    #: further arguments beyond ``arg_type``'s members are accepted (QAPI 'gen': false)
    open_args: bool = False


@dataclass
class Event:
    name: str
    arg_type: str = EMPTY


@dataclass
class Schema:
    types: dict[str, TypeDef] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)

    def type_ref(self, ref: str | list[str]) -> str:
        """The name of a type reference, creating array types on demand."""
        if isinstance(ref, list):
            if len(ref) != 1:
                raise SchemaError(f"array type reference must have one element: {ref!r}")
            element = self.type_ref(ref[0])
            name = f"[{element}]"
            self.types.setdefault(name, TypeDef(name, "array", element=element))
            return name
        return ref

    def struct(self, name: str, data: dict[str, str | list[str]]) -> str:
        members = tuple(Member(key.lstrip("*"), self.type_ref(ref), key.startswith("*"))
                        for key, ref in data.items())
        self.types[name] = TypeDef(name, "object", members=members)
        return name

    def check(self) -> None:
        """Every type reference resolves."""
        def known(name: str) -> None:
            if name not in self.types:
                raise SchemaError(f"unknown type {name!r}")

        for t in list(self.types.values()):
            for m in t.members:
                known(m.type)
            if t.element:
                known(t.element)
        for c in self.commands.values():
            known(c.arg_type)
            if c.ret_type is not None:
                known(c.ret_type)
        for e in self.events.values():
            known(e.arg_type)


def _expressions(text: str) -> list[dict]:
    """The file's top-level ``{...}`` expressions, comments dropped."""
    exprs: list[dict] = []
    out: list[str] = []
    depth = 0
    quoted = comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
            continue
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "#":
            comment = True
            continue
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        if depth or out:
            out.append(ch)
        if depth == 0 and out:
            literal = "".join(out).replace("true", "True").replace("false", "False")
            exprs.append(ast.literal_eval(literal))
            out = []
    if depth or quoted:
        raise SchemaError("unbalanced schema text")
    return exprs


def parse(text: str) -> Schema:
    schema = Schema()
    for name, json_type in BUILTINS.items():
        schema.types[name] = TypeDef(name, "builtin", json_type=json_type)
    schema.types[EMPTY] = TypeDef(EMPTY, "object")
    for expr in _expressions(text):
        if "enum" in expr:
            schema.types[expr["enum"]] = TypeDef(expr["enum"], "enum", values=tuple(expr["data"]))
        elif "struct" in expr:
            schema.struct(expr["struct"], expr["data"])
        elif "command" in expr:
            name = expr["command"]
            arg = schema.struct(f"q_obj_{name}-arg", expr["data"]) if expr.get("data") else EMPTY
            ret = schema.type_ref(expr["returns"]) if "returns" in expr else None
            schema.commands[name] = Command(name, arg, ret, open_args=expr.get("gen") is False)
        elif "event" in expr:
            name = expr["event"]
            arg = schema.struct(f"q_obj_{name}-arg", expr["data"]) if expr.get("data") else EMPTY
            schema.events[name] = Event(name, arg)
        else:
            raise SchemaError(f"unknown definition {expr!r}")
    schema.check()
    return schema


@cache
def load() -> Schema:
    """pyqemu's QMP schema."""
    return parse(resources.files(__package__).joinpath("pyqemu.qapi").read_text())
