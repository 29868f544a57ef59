"""The QemuOpts option syntax of the system emulator's command line (QEMU util/qemu-option.c).

Options such as ``-device``, ``-machine``, ``-chardev`` and ``-drive`` take a comma-separated list of
``key=value`` items:

* ``,,`` inside a value stands for one literal comma;
* the first item may be a bare value, which is assigned to the option's *implied key*
  (``-device virtio-blk-device,drive=d0`` gives ``driver=virtio-blk-device``);
* a later bare ``key`` means ``key=on`` and a bare ``nokey`` means ``key=off`` (the QEMU 2.x spelling of
  booleans, e.g. ``server,nowait``).

Values are kept as strings; :func:`parse_bool`, :func:`parse_size` and :func:`parse_number` convert
them with QEMU's error messages.
"""

from __future__ import annotations

import re

__all__ = ["OptsError", "check_id", "parse_bool", "parse_number", "parse_opts", "parse_size"]


class OptsError(Exception):
    """A malformed option string or option value.  ``hint`` is optional extra advice (QEMU's
    error_append_hint) meant for a second line of the error report."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """Read a value starting at ``pos`` up to an unescaped comma; return it and the position just past
    that comma (or the end of the text)."""
    out: list[str] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == ",":
            if pos + 1 < n and text[pos + 1] == ",":
                out.append(",")
                pos += 2
                continue
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    return "".join(out), pos


def parse_opts(text: str, implied_key: str | None = None) -> dict[str, str]:
    """Split a QemuOpts string into a dict (a key given twice keeps its last value).

    ``implied_key`` names the key a leading bare value is assigned to (``driver`` for ``-device``,
    ``type`` for ``-machine``, ``backend`` for ``-chardev``); without one, a leading bare word is a
    boolean flag like any other.
    """
    opts: dict[str, str] = {}
    pos = 0
    n = len(text)
    while pos < n:
        start = pos
        # the item's name runs up to '=' or ','
        end = pos
        while end < n and text[end] not in "=,":
            end += 1
        name = text[start:end]
        if end < n and text[end] == "=":
            if not name:
                raise OptsError("Invalid parameter ''")
            value, pos = _read_value(text, end + 1)
            opts[name] = value
            continue
        if start == 0 and implied_key is not None:
            # a bare first item is the implied key's value; it may contain ",," escapes
            value, pos = _read_value(text, 0)
            opts[implied_key] = value
            continue
        pos = end + 1
        if not name:
            continue  # an empty item, e.g. a trailing comma
        if name.startswith("no") and len(name) > 2:
            opts[name[2:]] = "off"
        else:
            opts[name] = "on"
    return opts


_BOOL_VALUES = {
    "on": True, "yes": True, "true": True, "y": True,
    "off": False, "no": False, "false": False, "n": False,
}


def parse_bool(name: str, value: str) -> bool:
    """A boolean option value: on/yes/true/y or off/no/false/n."""
    try:
        return _BOOL_VALUES[value]
    except KeyError:
        raise OptsError(f"Parameter '{name}' expects 'on' or 'off'") from None


_SIZE_SUFFIXES = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_SIZE_RE = re.compile(r"(?P<hex>0[xX][0-9a-fA-F]+)|(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?")
_SIZE_HINT = ("Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
              "and exabytes, respectively.")


def parse_size(name: str, value: str) -> int:
    """A size option value in bytes: a plain number, or one with a binary suffix k/K, M, G, T, P, E (any
    case; ``B`` means bytes).  A fraction is allowed with a suffix larger than bytes (``1.5G``)."""
    invalid = OptsError(f"Parameter '{name}' expects a non-negative number below 2^64", _SIZE_HINT)
    text = value.strip()
    m = _SIZE_RE.match(text)
    if not m:
        raise invalid
    rest = text[m.end():]
    shift = 0
    if rest:
        if len(rest) != 1 or rest.lower() not in _SIZE_SUFFIXES:
            raise invalid
        shift = _SIZE_SUFFIXES[rest.lower()]
    if m.group("hex"):
        size = int(m.group("hex"), 16) << shift
    else:
        frac = m.group("frac")
        if frac is not None and shift == 0:
            raise invalid  # fractions of a byte make no sense
        size = int(m.group("int")) << shift
        if frac:
            size += (int(frac) << shift) // (10 ** len(frac))
    if size >= 1 << 64:
        raise OptsError(f"Value '{value}' is out of range for parameter '{name}'")
    return size


def parse_number(name: str, value: str) -> int:
    """A non-negative integer option value (decimal, ``0x`` hex or ``0`` octal, as strtoull reads it)."""
    text = value.strip()
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            number = int(text, 16)
        elif re.fullmatch(r"0[0-7]+", text):
            number = int(text, 8)
        elif re.fullmatch(r"[0-9]+", text):
            number = int(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise OptsError(f"Parameter '{name}' expects a number") from None
    if number >= 1 << 64:
        raise OptsError(f"Value '{value}' is out of range for parameter '{name}'")
    return number


_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def check_id(value: str) -> str:
    """Check an ``id=`` value: a letter followed by letters, digits, '-', '.' and '_'."""
    if not _ID_RE.fullmatch(value):
        raise OptsError("Parameter 'id' expects an identifier",
                        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")
    return value
