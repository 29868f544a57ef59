"""``query-qmp-schema`` (QEMU qapi/introspect.json, scripts/qapi/introspect.py): the schema as a list of
SchemaInfo objects, one per command, event and type they use.

Every command and event is listed with its argument type (``q_empty`` when it takes none) and, for
commands, its return type; every type reachable from them follows, builtin types included.  Unlike
QEMU, type names are not masked as numbers: clients only rely on command and event names and on the
structure reached through the references, which is the same either way.
"""

from __future__ import annotations

from typing import Any

from pyqemu.qapi.schema import Schema


def schema_info(schema: Schema) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    wanted: list[str] = []
    for cmd in schema.commands.values():
        entry: dict[str, Any] = {"name": cmd.name, "meta-type": "command", "arg-type": cmd.arg_type,
                                 "ret-type": cmd.ret_type or "q_empty"}
        out.append(entry)
        wanted += [cmd.arg_type, cmd.ret_type or "q_empty"]
    for event in schema.events.values():
        out.append({"name": event.name, "meta-type": "event", "arg-type": event.arg_type})
        wanted.append(event.arg_type)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop(0)
        if name in seen:
            continue
        seen.add(name)
        t = schema.types[name]
        if t.meta == "builtin":
            out.append({"name": name, "meta-type": "builtin", "json-type": t.json_type})
        elif t.meta == "enum":
            out.append({"name": name, "meta-type": "enum", "values": list(t.values),
                        "members": [{"name": v} for v in t.values]})
        elif t.meta == "array":
            out.append({"name": name, "meta-type": "array", "element-type": t.element})
            wanted.append(t.element)
        else:
            members = []
            for m in t.members:
                member: dict[str, Any] = {"name": m.name, "type": m.type}
                if m.optional:
                    member["default"] = None
                members.append(member)
                wanted.append(m.type)
            out.append({"name": name, "meta-type": "object", "members": members})
    return out
