"""The guest address space of a user-mode process (QEMU's linux-user/mmap.c and the guest_base idea).

The whole guest address space [0, TASK_SIZE) is one reserved host mapping, so guest address A lives at
host address ``base + A`` and translated code reaches it with ``struct`` ``unpack_from``/``pack_into``
on the mapping: no per-access translation.  Guest ``mmap``/``munmap`` remap parts of it (file mappings
are real host file mappings, so MAP_SHARED works).  The virtual memory areas are tracked for
``/proc/self/maps``, instruction fetch permission checks and ``mprotect`` invalidation of translated
code.  Page permissions are enforced through per-page tables that translated code consults inline
(see :class:`AddressSpace`).
"""

from __future__ import annotations

import bisect
import ctypes
import mmap
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..accel.tcg.backend_python import GuestFault
from ..accel.tcg.ir import MASK64, SIGN
from ..exec.memory import MAP_NORESERVE

PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS
GUARD_TOP = 16 * PAGE_SIZE
PAGE_MASK = ~(PAGE_SIZE - 1)
TASK_SIZE = 1 << 38
MMAP_MIN_ADDR = 0x10000
MAP_FIXED = 0x10

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4

# RISC-V exception causes used for faults (see target cpu)
EXCP_LOAD_PAGE_FAULT = 13
EXCP_STORE_PAGE_FAULT = 15
EXCP_INST_PAGE_FAULT = 12
EXCP_LOAD_ADDR_MIS = 4
EXCP_STORE_ADDR_MIS = 6
EXCP_LOAD_ACCESS_FAULT = 5
EXCP_STORE_ACCESS_FAULT = 7
EXCP_BUS_ADRERR = 0x101  # not architectural: an access past the end of a mapped file (SIGBUS)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

UNPACK = {size: (struct.Struct("<" + u).unpack_from, struct.Struct("<" + s).unpack_from)
          for size, u, s in ((0, "B", "b"), (1, "H", "h"), (2, "I", "i"), (3, "Q", "q"))}
PACK = {size: struct.Struct("<" + u).pack_into for size, u in ((0, "B"), (1, "H"), (2, "I"), (3, "Q"))}


def _no_watch(addr: int, size: int, store: bool) -> None:
    pass


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & PAGE_MASK


@dataclass
class Vma:
    start: int
    end: int
    prot: int
    flags: int = 0
    name: str = ""
    offset: int = 0
    dev_ino: tuple[int, int] = (0, 0)
    beyond_eof: bool = False  # pages of a file mapping past the end of the file

    def perms(self) -> str:
        p = self.prot
        shared = "s" if self.flags & 1 else "p"
        return (("r" if p & 1 else "-") + ("w" if p & 2 else "-") + ("x" if p & 4 else "-") + shared)


class AddressSpace:
    """A user-mode guest address space.

    Besides the areas, two page tables of one byte per guest page say whether translated code may
    read (``rp``) or write (``wp``) the page on its fast path.  A page that is unmapped, protected or
    past the end of its file has 0 there, so the access takes the slow path, which raises the right
    fault.  Pages holding translated code are write-protected the same way (QEMU's page_protect), so
    a store into them comes to :meth:`st`, which invalidates the stale translations.  Pages a
    debugger watches are closed in both tables: :meth:`ld` and :meth:`st` hand accesses to them to
    :attr:`watch` (which raises the debug exception for a hit) before doing them.
    """

    def __init__(self, size: int = TASK_SIZE):
        self.size = size
        # the top pages are never mapped: small negative offsets (base + negative immediate, not yet
        # wrapped to 64 bits) index the page tables from the end and must find 0 there
        self.top = size - GUARD_TOP
        self.mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
        self._anchor = (ctypes.c_char * size).from_buffer(self.mm)
        self.base = ctypes.addressof(self._anchor)
        npages = size >> PAGE_BITS
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE
        self.rp = mmap.mmap(-1, npages, flags=flags)
        self.wp = mmap.mmap(-1, npages, flags=flags)
        self.vmas: list[Vma] = []
        self.code_pages: set[int] = set()
        self.brk_start = 0
        self.brk = 0
        self.mmap_top = 0x3F00000000  # top-down mmap allocation starts below here (under the stack)
        self.lock = threading.RLock()
        self.on_code_change = None  # callback(start, end) when mappings change (drops translations)
        #: pages with a debugger's watchpoints and the check accesses to them go through:
        #: ``watch(addr, size, is_store)``
        self.watch_pages: frozenset[int] = frozenset()
        self.watch: Callable[[int, int, bool], None] = _no_watch

    # -- area bookkeeping ----------------------------------------------------------------------------
    def _starts(self) -> list[int]:
        return [v.start for v in self.vmas]

    def find_vma(self, addr: int) -> Vma | None:
        i = bisect.bisect_right(self._starts(), addr) - 1
        if i >= 0 and self.vmas[i].start <= addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def _carve(self, start: int, end: int) -> None:
        """Remove [start, end) from the area list, splitting areas that straddle it."""
        out: list[Vma] = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                out.append(v)
                continue
            if v.start < start:
                out.append(Vma(v.start, start, v.prot, v.flags, v.name, v.offset, v.dev_ino, v.beyond_eof))
            if v.end > end:
                off = v.offset + (end - v.start) if v.name else 0
                out.append(Vma(end, v.end, v.prot, v.flags, v.name, off, v.dev_ino, v.beyond_eof))
        self.vmas = out

    def _insert(self, vma: Vma) -> None:
        self._carve(vma.start, vma.end)
        bisect.insort(self.vmas, vma, key=lambda v: v.start)
        self._set_tables(vma.start, vma.end, vma)

    def _set_tables(self, start: int, end: int, vma: Vma | None) -> None:
        first, last = start >> PAGE_BITS, end >> PAGE_BITS
        n = last - first
        ok = vma is not None and not vma.beyond_eof
        readable = ok and bool(vma.prot & (PROT_READ | PROT_WRITE))
        writable = ok and bool(vma.prot & PROT_WRITE)
        self.rp[first:last] = (b"\1" if readable else b"\0") * n
        self.wp[first:last] = (b"\1" if writable else b"\0") * n
        for page in list(self.code_pages):  # a snapshot: translating threads add to the set
            if first <= page < last:
                self.wp[page] = 0
        for page in self.watch_pages:
            if first <= page < last:
                self.rp[page] = self.wp[page] = 0

    def protect_code_page(self, page: int, on: bool) -> None:
        """Write-protect (``on``) a page that holds translated code, or lift that protection.

        Called by the translation cache under its own lock, so it must not take ``self.lock`` (the
        map calls hold that one while they invalidate translations): one-byte table updates are
        atomic enough, and the area list is only ever replaced whole.
        """
        if on:
            self.code_pages.add(page)
            self.wp[page] = 0
        else:
            self.code_pages.discard(page)
            v = self.find_vma(page << PAGE_BITS)
            writable = v is not None and v.prot & PROT_WRITE and not v.beyond_eof
            self.wp[page] = 1 if writable and page not in self.watch_pages else 0

    def set_watch(self, pages: frozenset[int], check: Callable[[int, int, bool], None]) -> None:
        """Send accesses to ``pages`` through ``check`` (see :attr:`watch`)."""
        with self.lock:
            old = self.watch_pages
            self.watch_pages = pages
            self.watch = check
            for page in old | pages:
                v = self.find_vma(page << PAGE_BITS)
                if v is not None:
                    self._set_tables(page << PAGE_BITS, (page + 1) << PAGE_BITS, v)

    def is_free(self, start: int, length: int) -> bool:
        end = start + length
        return all(v.end <= start or v.start >= end for v in self.vmas)

    def find_free(self, length: int, hint: int = 0) -> int | None:
        """A free, page-aligned range of ``length`` bytes: at ``hint`` if free, else top-down."""
        length = page_align(length)
        if hint and hint >= MMAP_MIN_ADDR and hint + length <= self.top and self.is_free(hint, length):
            return hint
        top = self.mmap_top
        for v in sorted(self.vmas, key=lambda v: -v.end):
            if v.start >= top:
                continue
            if v.end <= top - length:
                break
            top = min(top, v.start)
        addr = (top - length) & PAGE_MASK
        if addr < MMAP_MIN_ADDR:
            return None
        return addr

    # -- host-level mapping ---------------------------------------------------------------------------
    def _host_map(self, start: int, length: int, fd: int = -1, offset: int = 0, shared: bool = False) -> None:
        flags = MAP_FIXED | (1 if shared else 2)  # MAP_SHARED : MAP_PRIVATE
        if fd < 0:
            flags |= 0x20 | MAP_NORESERVE  # MAP_ANONYMOUS
        r = _libc.mmap(self.base + start, length, PROT_READ | PROT_WRITE, flags, fd, offset)
        if r is None or r == ctypes.c_void_p(-1).value:
            raise OSError(ctypes.get_errno(), "mmap failed")

    def map(self, start: int, length: int, prot: int, *, flags: int = 0, fd: int = -1, offset: int = 0,
            name: str = "", shared: bool = False, dev_ino: tuple[int, int] = (0, 0),
            beyond_eof: bool = False) -> int:
        """Map [start, start+length) (page aligned) as anonymous zero memory or a file."""
        length = page_align(length)
        with self.lock:
            self._host_map(start, length, fd, offset, shared)
            self._insert(Vma(start, start + length, prot, 1 if shared else 0, name, offset, dev_ino,
                             beyond_eof))
        self._code_changed(start, start + length)
        return start

    def unmap(self, start: int, length: int) -> None:
        length = page_align(length)
        with self.lock:
            self._host_map(start, length)
            self._carve(start, start + length)
            self._set_tables(start, start + length, None)
        self._code_changed(start, start + length)

    def protect(self, start: int, length: int, prot: int) -> None:
        end = start + page_align(length)
        with self.lock:
            pieces = []
            for v in self.vmas:
                if v.end <= start or v.start >= end:
                    continue
                s, e = max(v.start, start), min(v.end, end)
                off = v.offset + (s - v.start) if v.name else 0
                pieces.append(Vma(s, e, prot, v.flags, v.name, off, v.dev_ino, v.beyond_eof))
            for p in pieces:
                self._insert(p)
        self._code_changed(start, end)

    def _code_changed(self, start: int, end: int) -> None:
        if self.on_code_change is not None:
            self.on_code_change(start, end)

    def range_mapped(self, start: int, length: int, backed: bool = False) -> bool:
        """Whether every page of [start, start+length) is mapped (``backed``: and none lies past the
        end of a mapped file, so the host mapping can be touched)."""
        a = start
        end = start + length
        while a < end:
            v = self.find_vma(a)
            if v is None or backed and v.beyond_eof:
                return False
            a = v.end
        return True

    # -- data access (loader, syscalls, slow paths) ---------------------------------------------------
    def check(self, addr: int, length: int) -> bool:
        return 0 <= addr and addr + length <= self.top

    def read(self, addr: int, length: int) -> bytes:
        if not self.check(addr, length):
            raise GuestFault(EXCP_LOAD_PAGE_FAULT, addr)
        return self.mm[addr:addr + length]

    def write(self, addr: int, data: bytes) -> None:
        if not self.check(addr, len(data)):
            raise GuestFault(EXCP_STORE_PAGE_FAULT, addr)
        self.mm[addr:addr + len(data)] = data

    def read_cstring(self, addr: int, limit: int = 4096 * 4) -> bytes:
        if not self.check(addr, 1):
            raise GuestFault(EXCP_LOAD_PAGE_FAULT, addr)
        end = self.mm.find(b"\0", addr, min(addr + limit, self.size))
        if end < 0:
            raise GuestFault(EXCP_LOAD_PAGE_FAULT, addr)
        return self.mm[addr:end]

    def _fault(self, addr: int, write: bool) -> GuestFault:
        """The fault a slow-path access to ``addr`` raises (unmapped, protected, past EOF)."""
        v = self.find_vma(addr) if 0 <= addr < self.top else None
        if v is not None and v.beyond_eof:
            return GuestFault(EXCP_BUS_ADRERR, addr)
        if v is None:
            return GuestFault(EXCP_STORE_PAGE_FAULT if write else EXCP_LOAD_PAGE_FAULT, addr)
        return GuestFault(EXCP_STORE_ACCESS_FAULT if write else EXCP_LOAD_ACCESS_FAULT, addr)

    def ld(self, addr: int, memop: int) -> int:
        """A guest load with the fast path's permission check (slow path and interpreter)."""
        addr &= MASK64
        last = addr + (1 << (memop & 3)) - 1
        if not (last < self.top and self.rp[addr >> PAGE_BITS] and self.rp[last >> PAGE_BITS]) \
                and not self._watched_load(addr, last):
            first_ok = addr < self.top and self.rp[addr >> PAGE_BITS]
            raise self._fault(last & PAGE_MASK if first_ok else addr, False)
        u, s = UNPACK[memop & 3]
        return (s(self.mm, addr)[0] & MASK64) if memop & SIGN else u(self.mm, addr)[0]

    ld_rmw = ld  # an AMO's read: user mode reports every fault as SIGSEGV either way

    def _watched_load(self, addr: int, last: int) -> bool:
        """Whether a load the read table refused is allowed, its pages being closed only because they
        are watched; it is then given to the debugger's check (which may raise)."""
        if not self.watch_pages or last >= self.top:
            return False
        for page in {addr >> PAGE_BITS, last >> PAGE_BITS}:
            if self.rp[page]:
                continue
            v = self.find_vma(page << PAGE_BITS)
            if page not in self.watch_pages or v is None or v.beyond_eof \
                    or not v.prot & (PROT_READ | PROT_WRITE):
                return False
        self.watch(addr, last - addr + 1, False)
        return True

    def st(self, addr: int, value: int, memop: int) -> bool:
        """A guest store (slow path and interpreter).  Returns True when it wrote translated code,
        whose translations were dropped: the caller must not run on in its current block."""
        addr &= MASK64
        size = 1 << (memop & 3)
        pack = PACK[memop & 3]
        value &= (1 << (8 * size)) - 1
        last = addr + size - 1
        if last < self.top and self.wp[addr >> PAGE_BITS] and self.wp[last >> PAGE_BITS]:
            pack(self.mm, addr, value)
            return False
        code_hit: list[int] = []
        watched = False  # closed to the fast path because a debugger watches it
        for a in (addr, last):  # the page of the first byte, then of the last
            page = a >> PAGE_BITS if a < self.top else -1
            if page >= 0 and self.wp[page] or page in code_hit:
                continue
            v = self.find_vma(a) if page >= 0 else None
            if page in self.watch_pages:
                watched = True
                if page not in self.code_pages and v is not None and v.prot & PROT_WRITE \
                        and not v.beyond_eof:
                    continue
            if page not in self.code_pages or v is None or not v.prot & PROT_WRITE:
                raise self._fault(a if a == addr else a & PAGE_MASK, True)
            code_hit.append(page)
        if watched:
            self.watch(addr, size, True)
        pack(self.mm, addr, value)
        for page in code_hit:
            self._code_changed(page << PAGE_BITS, (page + 1) << PAGE_BITS)
        return bool(code_hit)

    def fetch16(self, pc: int) -> int:
        """Instruction fetch (translation time): needs an executable mapping."""
        v = self.find_vma(pc)
        if v is None or not v.prot & PROT_EXEC:
            raise GuestFault(EXCP_INST_PAGE_FAULT, pc)
        return UNPACK[1][0](self.mm, pc)[0]

    def fetch32(self, pc: int) -> int:
        """A 32-bit instruction fetch (A64 instructions are aligned, so they never cross a page)."""
        v = self.find_vma(pc)
        if v is None or not v.prot & PROT_EXEC:
            raise GuestFault(EXCP_INST_PAGE_FAULT, pc)
        return UNPACK[2][0](self.mm, pc)[0]
