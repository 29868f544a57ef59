"""Size strings as qemu-img reads and prints them (``qemu_strtosz`` suffixes, ``size_to_str``)."""

from __future__ import annotations

import re

_SUFFIXES = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([bkmgtpeBKMGTPE]?)\s*$")
_UNITS = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

SIZE_ERROR = (
    "Invalid image size specified. You may use k, M, G, T, P or E suffixes for\n"
    "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
)


def parse_size(text: str, default_unit: str = "") -> int | None:
    """Parse ``text`` ("64M", "1.5G", "4096") into bytes; None when it is not a size.

    ``default_unit`` applies when the string carries no suffix (qemu-img resize uses bytes).
    """
    match = _SIZE_RE.match(text)
    if not match:
        return None
    number, suffix = match.groups()
    shift = _SUFFIXES[(suffix or default_unit).lower()] * 10
    if "." in number:
        value = int(float(number) * (1 << shift))
    else:
        value = int(number) << shift
    if value >= 1 << 63:
        return None
    return value


def size_to_str(value: int) -> str:
    """Format a byte count the way qemu-img does ("196 KiB", "1.5 GiB", "0 B")."""
    index = 0
    while index < len(_UNITS) - 1 and value >= 1000 * (1024**index):
        index += 1
    return f"{value / (1024**index):.3g} {_UNITS[index]}B"
