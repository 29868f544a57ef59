"""Executable memory for generated x86-64 code (QEMU tcg/region.c, in spirit).

One anonymous private mapping holds the whole code cache, between two inaccessible guard areas so
that generated code running off either end faults at once instead of executing whatever follows.
The cache is never writable and executable at the same time (W^X): it is mapped read+execute, and
each write (a new block, a patched jump) makes just the pages it touches read+write for the copy and
then read+execute again.  Those three steps are one call into a small *writer* routine (machine code
on a page of its own): the call keeps the GIL, so no other guest thread can run generated code on a
page while it is writable (between separate calls from Python it could).  The mapping is private, so
a forked child that writes new code gets its own copy of the pages and never disturbs its parent's.

Code is appended; when the cache is full the owner flushes every translation and :meth:`reset`
starts again after the permanent part (the entry and exit trampolines written first).
"""

from __future__ import annotations

import ctypes
import mmap

PAGE = mmap.PAGESIZE
GUARD = 64 * 1024
ALIGN = 16

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_MAP_NORESERVE = 0x4000
_MAP_FAILED = ctypes.c_void_p(-1).value


def aligned(n: int) -> int:
    """``n`` bytes rounded up to the alignment of code in the cache."""
    return -(-n // ALIGN) * ALIGN


class CodeBufferError(OSError):
    pass


_SYS_MPROTECT = 10
_WRITER_TYPE = ctypes.PYFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_void_p, ctypes.c_size_t)
_writer: list = []


def _write_protected(dst: int, data: bytes) -> None:
    """Copy ``data`` to ``dst`` in the code cache: pages made writable, copied, made executable again,
    all in one call."""
    if not _writer:
        _writer.append(_make_writer())
    start = dst & ~(PAGE - 1)
    end = -(-(dst + len(data)) // PAGE) * PAGE
    err = _writer[0](dst, data, len(data), start, end - start)
    if err:
        raise CodeBufferError(-err, "mprotect of the code cache failed")


def _make_writer() -> object:
    """writer(dst, src, n, page_start, page_len) -> 0 or -errno: mprotect RW, rep movsb, mprotect RX."""
    from .asm import R8, R12, R13, R14, R15, RAX, RBX, RCX, RDI, RDX, RSI, Assembler, Cond

    asm = Assembler()
    for r in (RBX, R12, R13, R14, R15):
        asm.push(r)
    asm.mov(R12, RDI)
    asm.mov(R13, RSI)
    asm.mov(R14, RDX)
    asm.mov(R15, RCX)
    asm.mov(RBX, R8)
    done = asm.label()
    for prot, copy in ((mmap.PROT_READ | mmap.PROT_WRITE, True), (mmap.PROT_READ | mmap.PROT_EXEC, False)):
        asm.mov_imm(RAX, _SYS_MPROTECT)
        asm.mov(RDI, R15)
        asm.mov(RSI, RBX)
        asm.mov_imm(RDX, prot)
        asm.raw(b"\x0f\x05")  # syscall
        if copy:
            asm.test(RAX, RAX)
            asm.jcc(Cond.NE, done)
            asm.mov(RDI, R12)
            asm.mov(RSI, R13)
            asm.mov(RCX, R14)
            asm.raw(b"\xf3\xa4")  # rep movsb
    asm.bind(done)
    for r in (R15, R14, R13, R12, RBX):
        asm.pop(r)
    asm.ret()
    code = asm.finish()
    addr = _libc.mmap(None, PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                      -1, 0)
    if addr is None or addr == _MAP_FAILED:
        raise CodeBufferError(ctypes.get_errno(), "cannot map the code writer")
    ctypes.memmove(addr, code, len(code))
    if _libc.mprotect(addr, PAGE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        raise CodeBufferError(ctypes.get_errno(), "mprotect of the code writer failed")
    return _WRITER_TYPE(addr)


class CodeBuffer:
    """The code cache: ``size`` bytes at :attr:`base`, filled from the bottom up."""

    def __init__(self, size: int = 64 << 20):
        self.size = -(-size // PAGE) * PAGE
        total = self.size + 2 * GUARD
        addr = _libc.mmap(None, total, 0,
                          mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0)
        if addr is None or addr == _MAP_FAILED:
            raise CodeBufferError(ctypes.get_errno(), "cannot map the code cache")
        self._mapping = (addr, total)
        self.base = addr + GUARD
        self._protect(self.base, self.size, mmap.PROT_READ | mmap.PROT_EXEC)
        self.used = 0
        self.permanent = 0  # bytes kept by reset()
        self.pending: list[tuple[int, bytes]] = []  # reserved, not yet copied

    def _protect(self, addr: int, length: int, prot: int) -> None:
        start = addr & ~(PAGE - 1)
        end = -(-(addr + length) // PAGE) * PAGE
        if _libc.mprotect(start, end - start, prot) != 0:
            raise CodeBufferError(ctypes.get_errno(), "mprotect of the code cache failed")

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.used

    def next_address(self) -> int:
        """Where the next :meth:`append` will put its code."""
        return self.base + self.used

    def room(self) -> int:
        return self.size - self.used

    def append(self, code: bytes) -> int:
        """Copy ``code`` (assembled for :meth:`next_address`) into the cache; return its address."""
        addr = self.reserve(code)
        self.commit()
        return addr

    def reserve(self, code: bytes) -> int:
        """Place ``code`` at :meth:`next_address` without copying it yet (:meth:`commit` copies every
        reserved piece with one change of protection)."""
        addr = self.base + self.used
        if len(code) > self.size - self.used:
            raise CodeBufferError(0, "code cache full")
        self.pending.append((addr, code))
        self.used = aligned(self.used + len(code))
        return addr

    def commit(self) -> None:
        if not self.pending:
            return
        start = self.pending[0][0]
        image = bytearray()
        for addr, code in self.pending:  # one image, int3 in the alignment gaps
            image += b"\xcc" * (addr - start - len(image))
            image += code
        self.pending.clear()
        _write_protected(start, bytes(image))

    def write(self, addr: int, data: bytes) -> None:
        """Overwrite cache bytes at ``addr`` (patching a jump), keeping W^X."""
        _write_protected(addr, bytes(data))

    def read(self, addr: int, length: int) -> bytes:
        return ctypes.string_at(addr, length)

    def keep(self) -> None:
        """Make everything written so far permanent (survives :meth:`reset`)."""
        self.permanent = self.used

    def reset(self) -> None:
        """Forget every block (their memory is reused by later appends)."""
        self.used = self.permanent

    def close(self) -> None:
        addr, total = self._mapping
        _libc.munmap(addr, total)
