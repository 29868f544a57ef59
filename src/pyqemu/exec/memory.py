"""The memory API: MemoryRegion trees rendered into flat views of an AddressSpace (QEMU softmmu/memory.c).

A board builds a tree of regions: RAM and ROM (backed by host memory), MMIO (a device's ``read`` /
``write`` callbacks), aliases (a window onto part of another region) and containers (which only hold
subregions).  Subregions have priorities: where two overlap, the higher priority one is visible.  The
tree is flattened into sorted, non-overlapping ranges, which is what accesses and the softmmu TLB use.

All RAM and ROM of a machine live in one host mapping, the :class:`RamArena`, so translated code reaches
any guest RAM through a single buffer plus an offset kept in the TLB.
"""

from __future__ import annotations

import bisect
import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

PAGE_SIZE = 4096
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)  # Linux value; the constant arrived in Python 3.13
_UNPACK = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}


class MemoryRegionOps(Protocol):
    """A device's side of an MMIO region: little-endian accesses of 1, 2, 4 or 8 bytes at ``offset``."""

    def read(self, offset: int, size: int) -> int: ...
    def write(self, offset: int, value: int, size: int) -> None: ...


class RamArena:
    """One reserved host mapping that all guest RAM and ROM are carved from (lazily backed by the host)."""

    def __init__(self, reserve: int = 1 << 40):
        self.mm = mmap.mmap(-1, reserve, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
        self.size = reserve
        self.used = 0

    def alloc(self, size: int) -> int:
        """Reserve ``size`` bytes (page aligned); returns their offset in :attr:`mm`."""
        size = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        if self.used + size > self.size:
            raise MemoryError("cannot set up guest memory: out of reserved address space")
        off = self.used
        self.used += size
        return off


class MemoryRegion:
    """A node of the memory tree.  Use the ``ram``/``rom``/``io``/``alias``/``container`` constructors."""

    def __init__(self, name: str, size: int, kind: str):
        self.name = name
        self.size = size
        self.kind = kind  # "ram" | "rom" | "io" | "alias" | "container"
        self.subregions: list[MemoryRegion] = []
        self.container: MemoryRegion | None = None
        self.addr = 0  # offset within the container
        self.priority = 0
        self.enabled = True
        self.ops: MemoryRegionOps | None = None
        self.arena: RamArena | None = None
        self.ram_offset = -1  # offset of this region's bytes in arena.mm
        self.alias: MemoryRegion | None = None
        self.alias_offset = 0
        self._spaces: list[AddressSpace] = []

    # -- constructors --------------------------------------------------------------------------------
    @classmethod
    def ram(cls, name: str, size: int, arena: RamArena) -> MemoryRegion:
        mr = cls(name, size, "ram")
        mr.arena = arena
        mr.ram_offset = arena.alloc(size)
        return mr

    @classmethod
    def rom(cls, name: str, size: int, arena: RamArena) -> MemoryRegion:
        """Guest-read-only memory (writes are ignored); the host fills it with :meth:`load`."""
        mr = cls.ram(name, size, arena)
        mr.kind = "rom"
        return mr

    @classmethod
    def io(cls, name: str, size: int, ops: MemoryRegionOps) -> MemoryRegion:
        mr = cls(name, size, "io")
        mr.ops = ops
        return mr

    @classmethod
    def alias_of(cls, name: str, target: MemoryRegion, offset: int, size: int) -> MemoryRegion:
        mr = cls(name, size, "alias")
        mr.alias = target
        mr.alias_offset = offset
        return mr

    @classmethod
    def container_of(cls, name: str, size: int) -> MemoryRegion:
        return cls(name, size, "container")

    # -- topology -----------------------------------------------------------------------------------
    def add_subregion(self, addr: int, sub: MemoryRegion, priority: int = 0) -> None:
        if sub.container is not None:
            raise ValueError(f"memory region {sub.name} is already mapped")
        sub.container = self
        sub.addr = addr
        sub.priority = priority
        self.subregions.append(sub)
        self.subregions.sort(key=lambda r: -r.priority)  # stable: equal priorities keep their order
        self._changed()

    def del_subregion(self, sub: MemoryRegion) -> None:
        self.subregions.remove(sub)
        sub.container = None
        self._changed()

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self.enabled:
            self.enabled = enabled
            self._changed()

    def set_address(self, addr: int) -> None:
        if addr != self.addr:
            self.addr = addr
            self._changed()

    def _changed(self) -> None:
        mr: MemoryRegion | None = self
        while mr is not None:
            for space in mr._spaces:
                space.update()
            mr = mr.container

    # -- host access to RAM/ROM bytes (loaders) ------------------------------------------------------
    def load(self, offset: int, data: bytes) -> None:
        if self.arena is None or offset + len(data) > self.size:
            raise ValueError(f"cannot load {len(data)} bytes into {self.name} at {offset:#x}")
        start = self.ram_offset + offset
        self.arena.mm[start:start + len(data)] = data


@dataclass(frozen=True)
class FlatRange:
    """A piece of the address space: [start, end) maps to ``region`` at ``offset``."""

    start: int
    end: int
    region: MemoryRegion  # a ram, rom or io region (aliases and containers are resolved)
    offset: int

    @property
    def is_ram(self) -> bool:
        return self.region.kind in ("ram", "rom")


def _render(mr: MemoryRegion, base: int, lo: int, hi: int, out: list[tuple[int, int, MemoryRegion, int]],
            offset: int = 0) -> None:
    """Add the visible pieces of ``mr`` (placed at ``base``, clipped to [lo, hi)) to ``out``, filling
    only gaps that higher-priority regions have not covered yet."""
    if not mr.enabled:
        return
    lo = max(lo, base)
    hi = min(hi, base + mr.size)
    if lo >= hi:
        return
    if mr.kind == "alias":
        assert mr.alias is not None
        _render(mr.alias, base - mr.alias_offset, lo, hi, out)
        return
    for sub in mr.subregions:
        _render(sub, base + sub.addr, lo, hi, out)
    if mr.kind == "container":
        return
    # fill the gaps of [lo, hi) left by subregions with mr itself
    covered = sorted((s, e) for s, e, _, _ in out if e > lo and s < hi)
    pos = lo
    for s, e in covered:
        if s > pos:
            out.append((pos, s, mr, pos - base))
        pos = max(pos, e)
    if pos < hi:
        out.append((pos, hi, mr, pos - base))


class AddressSpace:
    """What a CPU or a DMA-capable device sees: a root region, flattened for lookups."""

    def __init__(self, name: str, root: MemoryRegion):
        self.name = name
        self.root = root
        self.ranges: list[FlatRange] = []
        self.starts: list[int] = []
        #: called after the flat view changed (CPUs drop their TLBs)
        self.listeners: list[Callable[[], None]] = []
        #: called with (addr, length) before host-side writes into RAM (DMA, loaders): translated
        #: code on those pages must be dropped
        self.ram_write_hooks: list[Callable[[int, int], None]] = []
        root._spaces.append(self)
        self.update()

    def update(self) -> None:
        pieces: list[tuple[int, int, MemoryRegion, int]] = []
        _render(self.root, 0, 0, self.root.size, pieces)
        pieces.sort(key=lambda p: p[0])
        merged: list[FlatRange] = []
        for s, e, mr, off in pieces:
            last = merged[-1] if merged else None
            if last and last.region is mr and last.end == s and last.offset + (s - last.start) == off:
                merged[-1] = FlatRange(last.start, e, mr, last.offset)
            else:
                merged.append(FlatRange(s, e, mr, off))
        self.ranges = merged
        self.starts = [r.start for r in merged]
        for fn in self.listeners:
            fn()

    def find(self, addr: int) -> FlatRange | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0:
            r = self.ranges[i]
            if addr < r.end:
                return r
        return None

    def ram_offset(self, addr: int) -> tuple[int, bool] | None:
        """(arena offset, writable) of RAM/ROM at ``addr``, or None for MMIO and holes."""
        r = self.find(addr)
        if r is None or not r.is_ram:
            return None
        return r.region.ram_offset + r.offset + (addr - r.start), r.region.kind == "ram"

    def ram_ptr(self, addr: int, length: int = 1) -> tuple[Any, int] | None:
        """(host buffer, offset) of the RAM or ROM bytes [addr, addr+length), or None when that range
        is not all in one RAM/ROM region."""
        r = self.find(addr)
        if r is None or not r.is_ram or addr + length > r.end:
            return None
        return r.region.arena.mm, r.region.ram_offset + r.offset + (addr - r.start)

    # -- accesses (CPU slow path, devices, loaders) -----------------------------------------------
    def read(self, addr: int, size: int) -> int:
        """A little-endian load; unassigned addresses read as 0 (QEMU's unassigned_mem_read)."""
        r = self.find(addr)
        if r is None or addr + size > r.end:
            return int.from_bytes(self.read_bytes(addr, size), "little")
        mr = r.region
        off = r.offset + (addr - r.start)
        if mr.kind == "io":
            return mr.ops.read(off, size) & ((1 << (8 * size)) - 1)
        return _UNPACK[size].unpack_from(mr.arena.mm, mr.ram_offset + off)[0]

    def write(self, addr: int, value: int, size: int, notify: bool = True) -> None:
        """A little-endian store.  ``notify=False``: the caller (the softmmu, which tracks pages holding
        translated code itself) does not need :attr:`ram_write_hooks` called."""
        r = self.find(addr)
        if r is None or addr + size > r.end:
            self.write_bytes(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            return
        mr = r.region
        off = r.offset + (addr - r.start)
        if mr.kind == "io":
            mr.ops.write(off, value & ((1 << (8 * size)) - 1), size)
        elif mr.kind == "ram":
            if notify:
                for hook in self.ram_write_hooks:
                    hook(addr, size)
            _UNPACK[size].pack_into(mr.arena.mm, mr.ram_offset + off, value & ((1 << (8 * size)) - 1))

    def read_bytes(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length > 0:
            r = self.find(addr)
            if r is None:
                nxt = bisect.bisect_right(self.starts, addr)
                n = min(length, (self.starts[nxt] - addr) if nxt < len(self.starts) else length)
                out += bytes(n)
            elif r.is_ram:
                n = min(length, r.end - addr)
                start = r.region.ram_offset + r.offset + (addr - r.start)
                out += r.region.arena.mm[start:start + n]
            else:
                n = 1
                out.append(r.region.ops.read(r.offset + (addr - r.start), 1) & 0xFF)
            addr += n
            length -= n
        return bytes(out)

    def write_bytes(self, addr: int, data: bytes | bytearray | memoryview, *, rom: bool = False) -> None:
        """Host-side write (DMA; loaders pass ``rom=True`` to fill ROM too)."""
        data = memoryview(data).cast("B")
        pos = 0
        while pos < len(data):
            r = self.find(addr + pos)
            if r is None:
                nxt = bisect.bisect_right(self.starts, addr + pos)
                if nxt >= len(self.starts):
                    return
                pos = self.starts[nxt] - addr
                continue
            n = min(len(data) - pos, r.end - (addr + pos))
            if r.is_ram:
                if r.region.kind == "ram" or rom:
                    for hook in self.ram_write_hooks:
                        hook(addr + pos, n)
                    start = r.region.ram_offset + r.offset + (addr + pos - r.start)
                    r.region.arena.mm[start:start + n] = data[pos:pos + n]
            else:
                for i in range(n):
                    r.region.ops.write(r.offset + (addr + pos + i - r.start), data[pos + i], 1)
            pos += n

    # -- HMP ``info mtree`` -----------------------------------------------------------------------
    def mtree(self) -> str:
        lines = [f"address-space: {self.name}"]
        _mtree_lines(self.root, 0, 1, lines)
        return "\n".join(lines) + "\n"


_KIND_LABEL = {"ram": "ram", "rom": "rom", "io": "i/o", "container": "i/o", "alias": "i/o"}


def _mtree_lines(mr: MemoryRegion, base: int, depth: int, lines: list[str]) -> None:
    start = base + (mr.addr if depth > 1 else 0)
    end = start + mr.size - 1
    text = f"{'  ' * depth}{start:016x}-{end:016x} (prio {mr.priority}, {_KIND_LABEL[mr.kind]}): {mr.name}"
    if mr.kind == "alias" and mr.alias is not None:
        a = mr.alias_offset
        text += f" @{mr.alias.name} {a:016x}-{a + mr.size - 1:016x}"
    if not mr.enabled:
        text += " [disabled]"
    lines.append(text)
    for sub in sorted(mr.subregions, key=lambda r: (r.addr, -r.priority)):
        _mtree_lines(sub, start, depth + 1, lines)
