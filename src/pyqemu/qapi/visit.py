"""Checking QMP input against the schema (QEMU qapi/qobject-input-visitor.c): the arguments of a command
are a JSON object whose members must match the command's argument struct.

:func:`check_value` raises :class:`QapiError` with QEMU's messages: ``Parameter 'x' is missing``,
``Parameter 'x' is unexpected``, ``Invalid parameter type for 'x', expected: integer``, ``Parameter 'x'
does not accept value 'v'`` and ``Parameter 'x' expects uint8_t`` (a sized integer out of range).
Nested members are named by their path (``a.b``, ``list[2]``).
"""

from __future__ import annotations

from typing import Any

from pyqemu.qapi.schema import Schema, TypeDef

_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1), "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1),
    "int": (-(1 << 63), (1 << 63) - 1),
    "uint8": (0, (1 << 8) - 1), "uint16": (0, (1 << 16) - 1), "uint32": (0, (1 << 32) - 1),
    "uint64": (0, (1 << 64) - 1), "size": (0, (1 << 64) - 1),
}
#: the word QEMU's input visitor uses for each JSON type it expected
_EXPECTED = {"string": "string", "int": "integer", "number": "number", "boolean": "boolean",
             "null": "null", "object": "object", "array": "array"}


class QapiError(Exception):
    """Input that does not fit the schema (a GenericError reply)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_value(schema: Schema, type_name: str, value: Any, where: str, open_members: bool = False) -> None:
    """Check ``value`` against the type ``type_name``; ``where`` names it in messages."""
    t: TypeDef = schema.types[type_name]
    if t.meta == "builtin":
        _check_builtin(t, value, where)
    elif t.meta == "enum":
        if not isinstance(value, str):
            raise QapiError(f"Invalid parameter type for '{where}', expected: string")
        if value not in t.values:
            raise QapiError(f"Parameter '{where}' does not accept value '{value}'")
    elif t.meta == "array":
        if not isinstance(value, list):
            raise QapiError(f"Invalid parameter type for '{where}', expected: array")
        for i, item in enumerate(value):
            check_value(schema, t.element, item, f"{where}[{i}]")
    else:
        if not isinstance(value, dict):
            raise QapiError(f"Invalid parameter type for '{where}', expected: object")
        check_members(schema, t, value, prefix=f"{where}.", open_members=open_members)


def check_members(schema: Schema, t: TypeDef, value: dict[str, Any], prefix: str = "",
                  open_members: bool = False) -> None:
    """Check the members of a JSON object against the struct ``t``."""
    names = set()
    for m in t.members:
        names.add(m.name)
        if m.name not in value:
            if not m.optional:
                raise QapiError(f"Parameter '{prefix}{m.name}' is missing")
            continue
        check_value(schema, m.type, value[m.name], prefix + m.name)
    if not open_members:
        for key in value:
            if key not in names:
                raise QapiError(f"Parameter '{prefix}{key}' is unexpected")


def _check_builtin(t: TypeDef, value: Any, where: str) -> None:
    kind = t.json_type
    if kind == "value":
        return
    ok = {"string": isinstance(value, str), "int": _is_int(value), "boolean": isinstance(value, bool),
          "number": _is_int(value) or isinstance(value, float), "null": value is None}[kind]
    if not ok:
        raise QapiError(f"Invalid parameter type for '{where}', expected: {_EXPECTED[kind]}")
    if kind == "int":
        lo, hi = _RANGES[t.name]
        if not lo <= value <= hi:
            c_name = "int64_t" if t.name == "int" else ("uint64_t" if t.name == "size" else f"{t.name}_t")
            raise QapiError(f"Parameter '{where}' expects {c_name}")
