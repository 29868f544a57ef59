"""Option strings as QemuOpts spells them: ``key=val,key2=val2`` lists and on/off values."""

from __future__ import annotations

import errno

from pyqemu.block.errors import BlockError


def parse_bool(name: str, value: str) -> bool:
    """QEMU's boolean option values (on/off, yes/no, true/false)."""
    if value in ("on", "yes", "true"):
        return True
    if value in ("off", "no", "false"):
        return False
    raise BlockError(f"Parameter '{name}' expects 'on' or 'off'", errno.EINVAL)


def split_options(specs: list[str]) -> dict[str, str]:
    """Merge ``-o key=val,key2=val2`` strings into a dict (``,,`` escapes a comma; bare key = on)."""
    out: dict[str, str] = {}
    for spec in specs:
        items: list[str] = []
        cur: list[str] = []
        i = 0
        while i < len(spec):
            if spec[i] == ",":
                if spec[i + 1:i + 2] == ",":
                    cur.append(",")
                    i += 2
                    continue
                items.append("".join(cur))
                cur = []
            else:
                cur.append(spec[i])
            i += 1
        items.append("".join(cur))
        for item in items:
            if item:
                key, sep, value = item.partition("=")
                out[key] = value if sep else "on"
    return out
