"""Decoders generated from pattern tables (the idea of QEMU's scripts/decodetree.py and riscv-opcodes).

A target writes one line per instruction::

    name   <bit pattern>   format

The bit pattern is the instruction from its most significant bit down, written with ``0``, ``1`` and
``.`` (a bit the pattern does not fix); spaces are ignored.  The format names a field extractor that
turns the raw instruction into the argument tuple handed to the instruction's translator.  The builder
checks the table (widths, characters, duplicate patterns, unknown formats or handlers) and produces a
dispatcher that groups patterns by a fixed set of bits and tries the most specific pattern first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pattern:
    name: str
    mask: int
    match: int
    fmt: str


class DecodeTableError(ValueError):
    pass


def parse_table(text: str, width: int) -> list[Pattern]:
    """Parse ``name bits... format`` lines (``#`` comments and blank lines ignored)."""
    pats: list[Pattern] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        name, fmt = parts[0], parts[-1]
        bits = "".join(parts[1:-1])
        if len(bits) != width or set(bits) - set("01."):
            raise DecodeTableError(f"line {lineno}: {name}: pattern must be {width} bits of 0/1/.")
        mask = int(bits.replace("0", "1").replace(".", "0"), 2)
        match = int(bits.replace(".", "0"), 2)
        pats.append(Pattern(name, mask, match, fmt))
    seen: dict[tuple[int, int], str] = {}
    for p in pats:
        key = (p.mask, p.match)
        if key in seen:
            raise DecodeTableError(f"{p.name}: same pattern as {seen[key]}")
        seen[key] = p.name
    return pats


#: decodings a :class:`Decoder` remembers at most (it forgets them all when it has that many)
MAX_KNOWN = 1 << 17


class Decoder:
    """Dispatch raw instructions to ``(handler, args)`` using a pattern table.

    ``group_mask`` selects the bits every pattern fixes (e.g. the major opcode); patterns are bucketed
    by those bits and, within a bucket, tried from the most to the least specific.
    """

    def __init__(self, patterns: list[Pattern], formats: Mapping[str, Callable[[int], tuple]],
                 handlers: Mapping[str, Any], group_mask: int):
        self.group_mask = group_mask
        self.known: dict[int, tuple[Any, tuple, str]] = {}  # decodings made (insn -> result)
        self.buckets: dict[int, list[tuple[int, int, Callable[[int], tuple], Any, str]]] = {}
        for p in patterns:
            if p.mask & group_mask != group_mask:
                raise DecodeTableError(f"{p.name}: does not fix all group bits")
            if p.fmt not in formats:
                raise DecodeTableError(f"{p.name}: unknown format {p.fmt}")
            if p.name not in handlers:
                raise DecodeTableError(f"{p.name}: no handler")
            self.buckets.setdefault(p.match & group_mask, []).append(
                (p.mask, p.match, formats[p.fmt], handlers[p.name], p.name))
        for bucket in self.buckets.values():
            bucket.sort(key=lambda e: -e[0].bit_count())

    def decode(self, insn: int) -> tuple[Any, tuple, str] | None:
        """Return (handler, args, name) for ``insn``, or None if no pattern matches.  Decodings are
        remembered: most instruction words of a program occur many times over."""
        known = self.known.get(insn)
        if known is not None:
            return known
        for mask, match, fmt, handler, name in self.buckets.get(insn & self.group_mask, ()):
            if insn & mask == match:
                if len(self.known) >= MAX_KNOWN:
                    self.known.clear()
                known = self.known[insn] = (handler, fmt(insn), name)
                return known
        return None
