"""The softmmu TLB: how translated code reaches guest memory in system mode (QEMU accel/tcg/cputlb.c).

Each vCPU keeps, per MMU index (privilege level and the status bits that change permissions), three
dicts keyed by virtual page number:

* ``fast_r`` / ``fast_w``: pages backed by guest RAM that may be read / written, mapped to the offset
  that turns a virtual address into an offset in the machine's RAM arena.  Translated code looks these
  up inline (one ``dict.get``) and then unpacks or packs the arena directly;
* ``full``: every translated page (RAM or MMIO) with its physical page and permissions, used by the
  slow path so that a miss in the fast dicts does not need a page-table walk.  A slow-path access
  that finds its page there opens the page to the fast paths again where it may be (a page whose
  translated code is gone takes fast stores again, as in QEMU once a page is no longer NOTDIRTY).

Misses call the target's ``fill`` (page walk, PMP), which raises the guest fault.  Pages that hold
translated code are kept out of ``fast_w`` (QEMU's TLB_NOTDIRTY): a store into one takes the slow path,
which drops the stale translations and tells the region to leave after the store.  Virtual pages a
debugger watches are kept out of both fast dicts (QEMU's TLB_WATCHPOINT): the slow path hands each
access to them to the debugger's check before doing it.

For native code the fast dicts are mirrored into :class:`NativeTLB`, direct-mapped arrays in the
layout of QEMU's CPUTLBEntry that generated machine code reads (attached by a native backend).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from ...exec.memory import AddressSpace
from .backend_python import GuestFault, in_page, struct_accessors
from .ir import MASK64, RMW, SIGN

PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS
PAGE_MASK = PAGE_SIZE - 1

ACCESS_LOAD, ACCESS_STORE, ACCESS_FETCH = 0, 1, 2
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4

#: fill(vaddr, access, mmu_idx, size) -> (physical page address, prot, whole_page) or raises GuestFault;
#: whole_page False means the permissions hold for this access only (e.g. a PMP region smaller than
#: a page), so nothing is cached
FillFn = Callable[[int, int, int, int], tuple[int, int, bool]]


class CodePages:
    """Physical pages holding translated code, shared by the vCPUs of a machine.

    ``invalidate(ppage)`` is set by the TB cache: it drops the translations on a page and returns
    whether there were any.
    """

    def __init__(self) -> None:
        self.pages: set[int] = set()
        self.mmus: list[SoftMMU] = []
        self.invalidate: Callable[[int], bool] = lambda ppage: False

    def add(self, ppage: int) -> None:
        if ppage not in self.pages:
            self.pages.add(ppage)
            for mmu in self.mmus:
                mmu.protect(ppage)

    def discard(self, ppage: int) -> None:
        self.pages.discard(ppage)


class NativeTLB:
    """The fast dicts of one vCPU as arrays generated machine code can read (QEMU's CPUTLBEntry).

    Per MMU index, :data:`SIZE` entries of four 64-bit words, indexed by the low bits of the virtual page
    number: the page number if reads may take the fast path (else all ones), the same for writes, and
    the *addend* that turns a virtual address into a host address.  A page evicted from its entry by
    another that maps there stays in the fast dicts; its accesses take the slow path, which finds it
    in ``full``.  Instruction fetches have tables of their own (so that data pages do not evict code
    pages), with entries of two words: the page number if code may be fetched from host memory there,
    and the addend.  ``on_switch(data, code)`` is told the tables of the MMU indexes data accesses and
    instruction fetches use.
    """

    BITS = 12
    SIZE = 1 << BITS
    ENTRY = 32
    INVALID = (1 << 64) - 1

    def __init__(self, host_base: int, on_switch: Callable[[int, int], None]):
        self.host_base = host_base
        self.on_switch = on_switch
        self.tables: dict[int, Any] = {}
        self.code_tables: dict[int, Any] = {}

    def table(self, idx: int) -> Any:
        return self._get(self.tables, idx, 4)

    def code_table(self, idx: int) -> Any:
        return self._get(self.code_tables, idx, 2)

    def _get(self, tables: dict[int, Any], idx: int, words: int) -> Any:
        t = tables.get(idx)
        if t is None:
            t = tables[idx] = (ctypes.c_uint64 * (words * self.SIZE))()
            self._clear(t)
        return t

    def _clear(self, t: Any) -> None:
        ctypes.memset(t, 0xFF, ctypes.sizeof(t))

    def switch(self, idx: int, code_idx: int) -> None:
        self.on_switch(ctypes.addressof(self.table(idx)), ctypes.addressof(self.code_table(code_idx)))

    def set(self, idx: int, vp: int, delta: int, readable: bool, writable: bool) -> None:
        t = self.table(idx)
        i = 4 * (vp & (self.SIZE - 1))
        t[i] = vp if readable else self.INVALID
        t[i + 1] = vp if writable else self.INVALID
        t[i + 2] = (self.host_base + delta) & MASK64

    def set_code(self, idx: int, vp: int, delta: int) -> None:
        """Open RAM page ``vp`` to instruction fetches from host memory in MMU index ``idx``."""
        t = self.code_table(idx)
        i = 2 * (vp & (self.SIZE - 1))
        if t[i] != vp:
            t[i] = vp
            t[i + 1] = (self.host_base + delta) & MASK64

    def has(self, idx: int, vp: int, write: bool) -> bool:
        """Whether page ``vp`` takes the fast path of reads (stores: ``write``) in MMU index ``idx``."""
        return self.table(idx)[4 * (vp & (self.SIZE - 1)) + write] == vp

    def code_host(self, idx: int, vaddr: int) -> int | None:
        """The host address of the code at ``vaddr`` if fetches in MMU index ``idx`` may go there."""
        vp = vaddr >> PAGE_BITS
        t = self.code_table(idx)
        i = 2 * (vp & (self.SIZE - 1))
        return (vaddr + t[i + 1]) & MASK64 if t[i] == vp else None

    def drop(self, vp: int, write_only: bool = False) -> None:
        i = 4 * (vp & (self.SIZE - 1))
        for t in self.tables.values():
            if not write_only and t[i] == vp:
                t[i] = self.INVALID
            if t[i + 1] == vp:
                t[i + 1] = self.INVALID
        if not write_only:
            i = 2 * (vp & (self.SIZE - 1))
            for t in self.code_tables.values():
                if t[i] == vp:
                    t[i] = self.INVALID

    def flush(self) -> None:
        for t in self.tables.values():
            self._clear(t)
        for t in self.code_tables.values():
            self._clear(t)


class SoftMMU:
    """One vCPU's TLB and its memory slow paths."""

    def __init__(self, space: AddressSpace, fill: FillFn, code: CodePages, fault_codes: dict[int, int]):
        self.space = space
        self.fill = fill
        self.code = code
        code.mmus.append(self)
        #: access type -> the guest's access-fault cause (raised for unassigned physical addresses)
        self.fault_codes = fault_codes
        self.fast_r: dict[int, dict[int, int]] = {}
        self.fast_w: dict[int, dict[int, int]] = {}
        #: (physical page, prot, RAM delta or None, writable RAM rather than ROM)
        self.full: dict[int, dict[int, tuple[int, int, int | None, bool]]] = {}
        self._wrev: dict[int, list[tuple[dict[int, int], int, int]]] = {}  # ppage -> fast_w entries
        #: virtual pages with a debugger's watchpoints, and the check their accesses go through:
        #: ``watch(vaddr, size, is_store)`` raises the debug exception for a hit
        self.watch_pages: frozenset[int] = frozenset()
        self.watch: Callable[[int, int, bool], None] = _no_watch
        self.idx = 0
        self.code_idx = 0  # the MMU index of instruction fetches
        #: virtual pages instruction fetches translated since whatever maps pcs to code (the jump
        #: caches) was last emptied: its owner clears this then
        self.fetched: set[int] = set()
        #: whatever the fill function keeps from its page walks (a page-walk cache): emptied with
        #: the TLB, as the architecture lets translations be remembered until then
        self.walks: dict[Any, Any] = {}
        self.native: NativeTLB | None = None
        self.TR: dict[int, int] = {}
        self.TW: dict[int, int] = {}
        self.FULL: dict[int, tuple[int, int, int | None, bool]] = {}
        self.set_mmu_idx(0, 0)
        space.listeners.append(self.flush)

    def set_mmu_idx(self, idx: int, code_idx: int) -> None:
        """Select the TLBs that data accesses and instruction fetches use from now on."""
        self.idx = idx
        self.code_idx = code_idx
        self.TR = self.fast_r.setdefault(idx, {})
        self.TW = self.fast_w.setdefault(idx, {})
        self.FULL = self.full.setdefault(idx, {})
        if self.native is not None:
            self.native.switch(idx, code_idx)

    def attach_native(self, host_base: int, on_switch: Callable[[int, int], None]) -> None:
        """Mirror the fast dicts into a :class:`NativeTLB` (RAM at host address ``host_base``)."""
        self.native = NativeTLB(host_base, on_switch)
        for idx in set(self.fast_r) | set(self.fast_w):
            fr, fw = self.fast_r.get(idx, {}), self.fast_w.get(idx, {})
            for vp in set(fr) | set(fw):
                self.native.set(idx, vp, fr.get(vp, fw.get(vp, 0)), vp in fr, vp in fw)
        self.native.switch(self.idx, self.code_idx)

    def refill(self, vaddr: int, size: int, store: bool) -> bool:
        """Open the page of a data access that missed the native TLB to it again (a page walk if need
        be); False if the access must take the slow path (MMIO, a watched page, a store into
        translated code) or faults (raised by the slow path when it runs the access)."""
        access = ACCESS_STORE if store else ACCESS_LOAD
        try:
            self.translate(vaddr, access, self.idx, size)
        except GuestFault:
            return False
        return self.native is not None and self.native.has(self.idx, vaddr >> PAGE_BITS, store)

    def code_host(self, vaddr: int) -> int | None:
        """Where instruction fetches at ``vaddr`` go in host memory, if the native code TLB has it."""
        return None if self.native is None else self.native.code_host(self.code_idx, vaddr)

    # -- maintenance -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Forget every translation (keeps the dict objects: compiled code may hold them)."""
        for group in (self.fast_r, self.fast_w, self.full):
            for d in group.values():
                d.clear()
        self._wrev.clear()
        self.walks.clear()
        if self.native is not None:
            self.native.flush()

    def flush_page(self, vaddr: int) -> bool:
        """Forget the translations of the page of ``vaddr``; True if instructions were fetched from it
        since :attr:`fetched` was last cleared (whatever maps pcs to code may then hold its pcs)."""
        vp = (vaddr & MASK64) >> PAGE_BITS
        for group in (self.fast_r, self.fast_w, self.full):
            for d in group.values():
                d.pop(vp, None)
        self.walks.clear()
        if self.native is not None:
            self.native.drop(vp)
        if vp in self.fetched:
            self.fetched.discard(vp)
            return True
        return False

    def set_watch(self, pages: frozenset[int], check: Callable[[int, int, bool], None]) -> None:
        """Send accesses to virtual ``pages`` through ``check`` (see :attr:`watch`)."""
        self.watch_pages = pages
        self.watch = check
        self.flush()

    def check_watch(self, vaddr: int, size: int, store: bool) -> None:
        """Give an access the debugger's check if it touches a watched page."""
        pages = self.watch_pages
        if vaddr >> PAGE_BITS in pages or ((vaddr + size - 1) & MASK64) >> PAGE_BITS in pages:
            self.watch(vaddr, size, store)

    def protect(self, ppage: int) -> None:
        """``ppage`` now holds translated code: stores to it must take the slow path."""
        for d, vp, delta in self._wrev.pop(ppage, ()):
            if d.get(vp) == delta:
                del d[vp]
                if self.native is not None:
                    self.native.drop(vp, write_only=True)

    # -- translation -------------------------------------------------------------------------------
    def translate(self, vaddr: int, access: int, idx: int, size: int = 1) -> int:
        """Physical address of ``vaddr`` for an ``access`` of ``size`` bytes in MMU index ``idx``
        (raises the guest fault)."""
        vp = vaddr >> PAGE_BITS
        full = self.full.setdefault(idx, {})
        e = full.get(vp)
        if access == ACCESS_FETCH:
            need = PROT_EXEC
            self.fetched.add(vp)
        else:
            need = PROT_WRITE if access == ACCESS_STORE else PROT_READ
        if e is not None and e[1] & need:
            # a data access on the slow path: its page may be fast again (evicted from the native TLB,
            # or no longer holding translated code)
            if e[2] is not None:
                if access != ACCESS_FETCH:
                    self._fast(idx, vp, *e)
                elif self.native is not None:
                    self.native.set_code(idx, vp, e[2])
            return e[0] | (vaddr & PAGE_MASK)
        ppage, prot, whole = self.fill(vaddr, access, idx, size)
        space = self.space
        r = space.find(ppage | (vaddr & PAGE_MASK))
        if r is None:
            raise GuestFault(self.fault_codes[access], vaddr)
        if whole:
            delta = None
            if r.is_ram and r.start <= ppage and ppage + PAGE_SIZE <= r.end:
                delta = r.region.ram_offset + r.offset + (ppage - r.start) - (vp << PAGE_BITS)
            e = full[vp] = (ppage, prot, delta, r.region.kind == "ram")
            if delta is not None:
                self._fast(idx, vp, *e)
        return ppage | (vaddr & PAGE_MASK)

    def _fast(self, idx: int, vp: int, ppage: int, prot: int, delta: int, ram: bool) -> None:
        """Open RAM page ``vp`` to the fast paths its permissions allow: not to stores while it holds
        translated code, to nothing while a debugger watches it."""
        if vp in self.watch_pages:
            return
        readable = bool(prot & PROT_READ)
        if readable:
            self.fast_r.setdefault(idx, {})[vp] = delta
        writable = bool(prot & PROT_WRITE) and ram and (ppage >> PAGE_BITS) not in self.code.pages
        if writable:
            fw = self.fast_w.setdefault(idx, {})
            if fw.get(vp) != delta:
                fw[vp] = delta
                self._wrev.setdefault(ppage >> PAGE_BITS, []).append((fw, vp, delta))
        if self.native is not None:
            self.native.set(idx, vp, delta, readable, writable)
            if prot & PROT_EXEC:
                self.native.set_code(idx, vp, delta)

    # -- slow paths (called from translated code and the interpreter) ------------------------------
    def ld(self, addr: int, memop: int) -> int:
        addr &= MASK64
        size = 1 << (memop & 3)
        if (addr & PAGE_MASK) + size > PAGE_SIZE:
            value = 0
            for i in range(size):  # an access across a page boundary: byte by byte
                value |= self.ld((addr + i) & MASK64, 0) << (8 * i)
        else:
            rmw = bool(memop & RMW)  # an AMO's read: faults as a store, a debugger sees a write
            paddr = self.translate(addr, ACCESS_STORE if rmw else ACCESS_LOAD, self.idx, size)
            if self.watch_pages:
                self.check_watch(addr, size, rmw)
            value = self.space.read(paddr, size)
        if memop & SIGN and value >> (8 * size - 1):
            value |= MASK64 ^ ((1 << (8 * size)) - 1)
        return value

    def st(self, addr: int, value: int, memop: int) -> bool:
        """Store; returns True when it hit translated code (the running region must leave)."""
        addr &= MASK64
        size = 1 << (memop & 3)
        if (addr & PAGE_MASK) + size > PAGE_SIZE:
            # translate both pages first so that a fault leaves memory untouched
            self.translate(addr, ACCESS_STORE, self.idx)
            self.translate((addr + size - 1) & MASK64, ACCESS_STORE, self.idx)
            hit = False
            for i in range(size):
                hit |= self.st((addr + i) & MASK64, value >> (8 * i), 0)
            return hit
        paddr = self.translate(addr, ACCESS_STORE, self.idx, size)
        if self.watch_pages:
            self.check_watch(addr, size, True)
        hit = False
        ppage = paddr >> PAGE_BITS
        if ppage in self.code.pages:
            hit = self.code.invalidate(ppage)
            self.code.discard(ppage)
        self.space.write(paddr, value, size, notify=False)  # code pages were handled just above
        return hit


def _no_watch(vaddr: int, size: int, store: bool) -> None:
    pass


class SoftMMUMemory:
    """The backend's MemoryModel for system mode: the TLB check inline, the slow path a call."""

    def __init__(self, arena_mm: Any):
        self.mm = arena_mm
        self._anchor: Any = None

    def native_layout(self) -> dict[str, Any]:
        """For a native backend: the host address of the RAM arena (its TLB addends point into it)."""
        if self._anchor is None:
            self._anchor = ctypes.c_char.from_buffer(self.mm)
        return {"kind": "softmmu", "base": ctypes.addressof(self._anchor), "tlb_bits": NativeTLB.BITS}

    def attach_native(self, cpu: Any, host_base: int, on_switch: Callable[[int, int], None]) -> None:
        """Keep ``cpu``'s TLB mirrored for native code (``on_switch`` gets the current table)."""
        cpu.mmu.attach_native(host_base, on_switch)

    def namespace(self) -> dict[str, Any]:
        ns: dict[str, Any] = {"mm": self.mm}
        ns.update(struct_accessors())

        def lds(cpu: Any, addr: int, memop: int) -> int:
            return cpu.mmu.ld(addr, memop)

        def sts(cpu: Any, addr: int, value: int, memop: int) -> bool:
            return cpu.mmu.st(addr, value, memop)

        ns["LDS"] = lds
        ns["STS"] = sts
        return ns

    def entry_lines(self) -> list[str]:
        # a region runs in one MMU mode: mode changes leave it
        return ["TRG = cpu.mmu.TR.get", "TWG = cpu.mmu.TW.get"]

    def load(self, dest: str, addr: str, memop: int) -> str:
        bits = 8 << (memop & 3)
        fast = f"S{bits}(mm, {addr} + _d)[0] & M" if memop & SIGN else f"U{bits}(mm, {addr} + _d)[0]"
        table = "TWG" if memop & RMW else "TRG"
        return (f"{dest} = {fast} if (_d := {table}({addr} >> 12)) is not None{in_page(addr, memop)} "
                f"else LDS(cpu, {addr}, {memop})")

    def store(self, value: str, addr: str, memop: int) -> tuple[str, str, str]:
        bits = 8 << (memop & 3)
        return (f"(_d := TWG({addr} >> 12)) is not None{in_page(addr, memop)}",
                f"P{bits}(mm, {addr} + _d, {value})", f"STS(cpu, {addr}, {value}, {memop})")
