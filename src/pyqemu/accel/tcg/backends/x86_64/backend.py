"""The x86_64 backend: translation blocks as host machine code (QEMU tcg/ and accel/tcg/cpu-exec.c's
entry into generated code).

Each IR block becomes a piece of native code in the :class:`~.codebuf.CodeBuffer` (see :mod:`.codegen`
for its layout).  Generated code is entered through a prologue trampoline called with ctypes,
``prologue(R, ctx, host_address)``: it saves the callee-saved registers, sets up the fixed registers
and the frame and jumps to the block.  Blocks run into one another until one leaves through the
epilogue, which returns the next guest pc to the Python exec loop:

* a direct exit first jumps to a stub that returns with its own address in ``SITE``; once the target
  pc has native code the exec loop patches the jump to go there directly (QEMU's tb_add_jump), so hot
  code runs chained without coming back;
* an indirect exit looks its target up in the jump cache (pc -> host address, filled by the exec loop);
* the instruction budget, checked at every block entry, bounds how long generated code runs before the
  exec loop sees signals, other vCPUs and flush requests.

Helpers and memory slow paths are Python functions called from generated code through ctypes
callbacks.  They must not unwind through native frames, so a callback catches a guest fault, stores it
in the context and returns; generated code checks the flag after each call and leaves precisely at
the faulting instruction.  Any other Python exception is kept and re-raised once generated code
returned.

The backend has the same interface as :class:`~pyqemu.accel.tcg.backend_python.PythonBackend`
(``compile_region``): the TB cache installs the function it returns for each block's pc.
"""

from __future__ import annotations

import bisect
import copy
import ctypes
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...backend_python import CompiledRegion, GuestFault, MemoryModel
from ...ir import MASK64, Block, Helper, format_op
from ...optimize import optimize
from . import compile_worker, fault, host_supported  # noqa: F401  (host_supported: this module's interface)
from .asm import R12, R13, R14, R15, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP, Assembler, Cond, Mem
from .codebuf import CodeBuffer
from .codegen import (
    BUDGET,
    CODE_TLB,
    EXC_CODE,
    EXC_PC,
    EXC_TVAL,
    FLAG,
    FLAG_GUEST,
    FLAG_PYTHON,
    JCACHE,
    JCACHE_BITS,
    MEMBASE,
    MISS,
    NCTX,
    NPAGES,
    REASON,
    RP,
    SAVED_RSP,
    SITE,
    SMC,
    STOLEN,
    TLB,
    WP,
    BlockCompiler,
    Compiled,
    Runtime,
)
from .regalloc import FRAME

#: keep this much room in the code cache for a region (64 blocks; a quarter of a small cache); less asks
#: the TB cache to flush
MARGIN = 4 << 20
_CALLEE_SAVED = (RBP, RBX, R12, R13, R14, R15)
_EMPTY = MASK64
_ENTRY = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def probe_jump_cache(asm: Assembler, pc: int, entry: int) -> None:
    """Emit: ``entry`` = the jump cache entry of the guest pc in register ``pc``; flags: equal if the
    entry holds that pc (its host address is then at ``[entry + 8]``)."""
    asm.mov(entry, pc)
    asm.shr(entry, 1)
    asm.and_imm(entry, (1 << JCACHE_BITS) - 1, 32)
    asm.shl(entry, 4, 32)
    asm.add(entry, Mem(R14, 8 * JCACHE))
    asm.cmp(Mem(entry, 0), pc)


@functools.cache
def _callback_type(nargs: int) -> Any:
    return ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * (nargs + 1)))


class JumpCache:
    """Guest pc -> host address of its code, direct-mapped (QEMU's tb_jmp_cache), read by the lookup
    trampoline.  An empty entry leads to :attr:`miss`, which leaves generated code."""

    miss = 0  # set once the trampolines exist
    _empty = b""  # the bytes of an empty table

    def __init__(self) -> None:
        self.table = (ctypes.c_uint64 * (2 << JCACHE_BITS))()
        self.address = ctypes.addressof(self.table)
        self.used = True
        self.clear()

    def clear(self) -> None:
        if not self.used:
            return
        if len(JumpCache._empty) != ctypes.sizeof(self.table):
            empty = (ctypes.c_uint64 * (2 << JCACHE_BITS))()
            empty[:] = [_EMPTY, self.miss] * (1 << JCACHE_BITS)
            JumpCache._empty = bytes(empty)
        ctypes.memmove(self.address, JumpCache._empty, len(JumpCache._empty))
        self.used = False

    def put(self, pc: int, host: int) -> None:
        i = 2 * ((pc >> 1) & ((1 << JCACHE_BITS) - 1))
        self.table[i] = pc
        self.table[i + 1] = host
        self.used = True


def _set_tlbs(words: Any, data: int, code: int) -> None:
    words[TLB] = data
    words[CODE_TLB] = code


class _VCPUContext:
    """A vCPU's native context: the words generated code addresses from r14."""

    __slots__ = ("cpu", "words", "addr", "state_addr", "error", "jcache", "jcaches")

    def __init__(self, cpu: Any):
        self.cpu = cpu
        self.jcaches: dict[int, JumpCache] = {}  # system mode: per TB flags value
        self.jcache: JumpCache | None = None
        self.words = (ctypes.c_uint64 * NCTX)()
        self.addr = ctypes.addressof(self.words)
        self.state_addr = ctypes.addressof(ctypes.c_char.from_buffer(cpu.state))
        self.error: BaseException | None = None


class NativeBackend:
    """Compiles IR blocks to x86-64 code and runs them."""

    name = "x86_64"

    def __init__(self, slots: dict[str, int], memory: MemoryModel, *, icount_slot: int, budget: int,
                 cache_size: int = 64 << 20):
        self.slots = slots
        self.memory = memory
        self.icount_slot = icount_slot
        self.budget = budget
        self.code = CodeBuffer(cache_size)
        #: block key -> host address of its code; the key is the guest pc in user mode and
        #: (pc, TB flags, physical pc) in system mode
        self.entries: dict[Any, int] = {}
        #: host address -> (block, its code) of what the code cache holds (-d out_asm, fault reports)
        self.blocks: dict[int, tuple[Block, Compiled]] = {}
        self.starts: list[int] = []  # their host addresses, ascending
        self.contexts: dict[int, _VCPUContext] = {}  # context address -> context
        self._by_cpu: dict[int, _VCPUContext] = {}
        #: (id(helper), nargs) -> (helper, callback address)
        self._callbacks: dict[tuple[int, int], tuple[Helper, int]] = {}
        self._keep: list[Any] = []
        self.lock = threading.RLock()
        #: the vCPU contexts whose thread is inside generated code (or in a callback from it); a set,
        #: whose add and discard are atomic under the GIL (a counter's += is not)
        self.active: set[int] = set()
        self.flushes = 0
        os.register_at_fork(after_in_child=self.active.clear)  # the other threads are gone there
        #: direct-exit jumps: host address of the rel32 field -> (key of its block, address of its stub)
        self.sites: dict[int, tuple[Any, int]] = {}
        self.links: dict[Any, list[int]] = {}  # block key -> the sites patched to jump to it
        #: the requests sent to the compile worker and not answered yet, oldest first
        self.requests: list[_Request] = []
        #: system mode: fixed code that takes over from generated code for a guest pc (in rax) the
        #: jump cache has no code for (else generated code leaves to the exec loop)
        self.fallback: int | None = None
        #: (vCPU, reason, pc): fixed code left with ``REASON`` set, for the exec loop to act on
        self.on_leave: Callable[[Any, int, int], None] = lambda cpu, reason, pc: None
        self.layout = memory.native_layout()
        self.system = self.layout["kind"] == "softmmu"
        ns = memory.namespace()
        self._load_slow = self._make_callback(ns["LDS"], 2, pass_cpu=True)
        self._store_slow = self._make_callback(ns["STS"], 3, pass_cpu=True)
        self._emit_trampolines()
        fault.register(self.describe)

    # -- fixed code ------------------------------------------------------------------------------------
    def _emit_trampolines(self) -> None:
        asm = Assembler()
        for r in _CALLEE_SAVED:
            asm.push(r)
        asm.sub_imm(RSP, FRAME)
        asm.mov(RBP, RDI)
        asm.mov(R14, RSI)
        asm.mov(RBX, Mem(R14, 8 * MEMBASE))
        asm.mov(Mem(R14, 8 * SAVED_RSP), RSP)
        asm.jmp_reg(RDX)
        epilogue = asm.pos()
        asm.mov(RSP, Mem(R14, 8 * SAVED_RSP))
        asm.add_imm(RSP, FRAME)
        for r in reversed(_CALLEE_SAVED):
            asm.pop(r)
        asm.ret()
        # the jump cache: rax = guest pc -> its entry (pc, host address) -> jump there, else to MISS
        lookup = asm.pos()
        probe_jump_cache(asm, RAX, RCX)
        asm.jcc_short(Cond.NE, miss_label := asm.label())
        asm.jmp_mem(Mem(RCX, 8))
        asm.bind(miss_label)
        asm.jmp_mem(Mem(R14, 8 * MISS))
        # a chainable exit: back to the loop (which chains it) if there is code for rax, else to MISS
        link = asm.pos()
        probe_jump_cache(asm, RAX, RCX)
        asm.jcc_short(Cond.NE, miss_label := asm.label())
        asm.jmp_rel32_to(epilogue)
        asm.bind(miss_label)
        asm.jmp_mem(Mem(R14, 8 * MISS))
        # where an empty entry leads (its pc field can equal any guest pc): back to the loop
        miss = asm.pos()
        asm.jmp_rel32_to(epilogue)
        base = self.code.append(asm.finish())
        self.code.keep()
        JumpCache.miss = base + miss
        self.jcache = JumpCache()
        self._enter = _ENTRY(base)
        #: what generated code links against, but the helpers (sent as such to the compile worker)
        self.links_to = {"epilogue": base + epilogue, "lookup": base + lookup, "link": base + link,
                         "load_slow": self._load_slow,
                         "store_slow": self._store_slow, "memory": self.layout["kind"],
                         "tlb_bits": self.layout.get("tlb_bits", 0)}
        self.runtime = Runtime(callback=self._helper_address, **self.links_to)

    def add_fixed(self, emit: Callable[[Assembler, int], None]) -> int:
        """Keep a piece of fixed code (a target's interpreter, say) in the code cache, before any block:
        ``emit(asm, base)`` assembles it for address ``base``; :attr:`links_to` has what it may jump
        to.  Returns ``base``."""
        with self.lock:
            if self.starts:
                raise RuntimeError("fixed code must come before any block")
            base = self.code.next_address()
            asm = Assembler()
            emit(asm, base)
            self.code.append(asm.finish())
            self.code.keep()
            return base

    # -- callbacks from generated code ------------------------------------------------------------------
    def _make_callback(self, fn: Callable[..., Any], nargs: int, pass_cpu: bool,
                       accumulate: int | None = None) -> int:
        contexts = self.contexts

        def call(ctx_addr: int, *args: int) -> int:
            c = contexts[ctx_addr]
            try:
                r = fn(c.cpu, *args) if pass_cpu else fn(*args)
                if accumulate is not None:
                    r, bits = r
                    c.cpu.R[accumulate] |= bits
                return (r or 0) & MASK64
            except GuestFault as e:
                w = c.words
                w[EXC_CODE] = e.code & MASK64
                w[EXC_TVAL] = e.tval & MASK64
                w[FLAG] = FLAG_GUEST
            except BaseException as e:  # re-raised by the exec loop once native code has returned
                c.error = e
                c.words[FLAG] = FLAG_PYTHON
            return 0

        cb = _callback_type(nargs)(call)
        self._keep.append(cb)
        return ctypes.cast(cb, ctypes.c_void_p).value

    def _helper_address(self, h: Helper, nargs: int) -> int:
        """The native-callable wrapper of ``h`` called with ``nargs`` arguments (made once)."""
        key = (id(h), nargs)
        entry = self._callbacks.get(key)
        if entry is None:
            acc = self.slots[h.accumulate] if h.accumulate else None
            addr = self._make_callback(h.fn, nargs, h.pass_cpu, accumulate=acc)
            entry = self._callbacks[key] = (h, addr)  # the helper is kept alive with its id
        return entry[1]

    # -- compiling ---------------------------------------------------------------------------------------
    def wants_flush(self) -> bool:
        """Whether the code cache is nearly full (the TB cache then flushes before compiling more)."""
        return self.code.room() < min(MARGIN, self.code.size // 4)

    def compile_region(self, blocks: list[Block], on_leave: Callable[[int], None] | None = None,
                       keys: list[Any] | None = None) -> CompiledRegion:
        """Compile the blocks (with their cache ``keys``, in system mode) that have no native code yet;
        return the function that runs any of them."""
        with self.lock:
            listing = []
            table: dict[int, int] = {}
            try:
                for b, key in zip(blocks, keys or [b.pc for b in blocks], strict=True):
                    host = self.entries.get(key)
                    if host is None:
                        host = self._compile_block(b, key)
                        listing.append(host)
                    table[b.pc] = host
            finally:
                self.code.commit()  # one change of protection for the whole region
            return self._region(blocks, table, listing)

    def _region(self, blocks: list[Block], table: dict[int, int], listing: list[int]) -> CompiledRegion:
        fn = functools.partial(self._run_table, table) if self.system else self.run
        return CompiledRegion(fn, _Listing(self, listing), tuple(b.pc for b in blocks))

    def _compile_block(self, b: Block, key: Any) -> int:
        host = self.code.next_address()
        return self._place(b, key, BlockCompiler(b, host, self.runtime, self.slots).compile())

    def _place(self, b: Block, key: Any, compiled: Compiled) -> int:
        """Put ``compiled`` (assembled for the next address of the code cache) there, as ``key``'s code."""
        host = self.code.reserve(compiled.code)
        self.entries[key] = host
        self.blocks[host] = (b, compiled)
        self.starts.append(host)
        for off in compiled.sites:
            rel = int.from_bytes(compiled.code[off:off + 4], "little", signed=True)
            self.sites[host + off] = (key, host + off + 4 + rel)
        return host

    # -- compiling in the background ---------------------------------------------------------------------
    def submit_region(self, blocks: list[Block], keys: list[Any],
                      done: Callable[[CompiledRegion | None], None]) -> bool:
        """Compile as :meth:`compile_region` does, in the compile worker (:mod:`.compile_worker`):
        ``done(region)`` is called by a later :meth:`poll_compiles`, with None if the code cache was
        flushed meanwhile.  Without a worker the region is compiled here and now.  False (and nothing
        done) if the worker has no room for another request."""
        w = compile_worker.worker()
        todo = [(b, key) for b, key in zip(blocks, keys, strict=True) if key not in self.entries]
        if w is None or not todo:
            done(self._compile_here(blocks, keys))
            return True
        if not w.room():
            return False
        new: list = []
        addresses: dict[tuple[int, int], int] = {}
        payload = []
        for b, _ in todo:
            ops = []
            for op in b.ops:
                if op[0] == "call":
                    n = w.helper_number(op[2], new)
                    addresses[n, len(op) - 3] = self._helper_address(op[2], len(op) - 3)
                    op = ("call", op[1], n, *op[3:])
                ops.append(op)
            payload.append((b.pc, b.size, b.n_insns, b.ntemps, b.nlabels, b.guest_insns, b.hints, b.optimized,
                            ops))
        # the code goes where the cache is now, or after that of the request still in flight
        chained = self.requests and self.requests[-1].flushes == self.flushes
        base = None if chained else self.code.next_address()
        req = _Request(blocks, keys, todo, self.flushes)

        def answered(answer: tuple[int, list] | str | None) -> None:
            self.requests.remove(req)
            done(self._install(req, answer))

        if not w.submit((id(self), self.links_to, self.slots, new, addresses, base, payload), answered):
            return False  # (if it died just now, the next try compiles here)
        self.requests.append(req)
        return True

    def _compile_here(self, blocks: list[Block], keys: list[Any]) -> CompiledRegion:
        """:meth:`compile_region` for blocks the TB cache left to the worker, unoptimized."""
        for b in blocks:
            if not b.optimized:
                optimize(b)
        return self.compile_region(blocks, keys=keys)

    def compile_room(self) -> bool:
        """Whether :meth:`submit_region` takes a region now."""
        w = compile_worker.current()
        return w is None or not w.alive or w.room()

    def poll_compiles(self) -> None:
        """Take the compile worker's answers that have come (their ``done`` runs now)."""
        w = compile_worker.current()
        if w is not None:
            w.poll()

    def _install(self, req: _Request, answer: tuple[int, list] | str | None) -> CompiledRegion | None:
        if req.flushes != self.flushes:
            return None  # the blocks are gone
        if not isinstance(answer, tuple) or self.code.next_address() != answer[0]:
            # the worker failed or died, or an earlier answer was not placed: compile here
            return self._compile_here(req.blocks, req.keys)
        with self.lock:
            placed: dict[Any, int] = {}
            try:
                for (b, key), (code, sites, insns) in zip(req.todo, answer[1], strict=True):
                    if key in req.dropped:  # its guest code changed meanwhile: the space stays unused
                        self.code.reserve(code)
                        continue
                    placed[key] = self._place(b, key, Compiled(code, sites, insns))
            finally:
                self.code.commit()
            table = {}
            for b, key in zip(req.blocks, req.keys, strict=True):
                host = None if key in req.dropped else placed.get(key, self.entries.get(key))
                if host is not None:
                    table[b.pc] = host
            return self._region(req.blocks, table, list(placed.values()))

    def invalidate(self, keys: list[Any]) -> None:
        """Forget the blocks of ``keys`` (their code was overwritten): jumps chained to them go back to
        their stubs, so nothing enters them any more."""
        with self.lock:
            for req in self.requests:
                req.dropped.update(key for key in keys if key in req.compiling)
            for key in keys:
                self.entries.pop(key, None)
                for site in self.links.pop(key, ()):
                    owner = self.sites.get(site)
                    if owner is not None:
                        self._patch(site, owner[1])
            if not self.system:
                self.jcache.clear()

    def _patch(self, site: int, target: int) -> None:
        self.code.write(site, (target - site - 4).to_bytes(4, "little", signed=True))

    def flush(self) -> None:
        """Forget every block; generated code running now leaves at its next block boundary.

        The memory is reused only by a flush that happens while no thread is inside generated code:
        another guest thread may be in a callback from it (a helper, a memory slow path) and will
        return there.  Otherwise new code goes on after the old, which stays until a later flush."""
        with self.lock:
            self.flushes += 1
            self.entries.clear()
            self.links.clear()
            self.jcache.clear()
            for c in self.contexts.values():
                for jc in c.jcaches.values():
                    jc.clear()
            if not self.active:
                self._reset_code()
            self.request_exit()

    def request_exit(self) -> None:
        """Make generated code leave at its next block boundary, on every vCPU (QEMU's cpu_exit): its
        budget is taken away, and counted back when it returns."""
        for c in self.contexts.values():
            w = c.words
            if not w[STOLEN]:
                w[BUDGET] = (w[BUDGET] - (1 << 62)) & MASK64
                w[STOLEN] = 1 << 62

    def _reset_code(self) -> None:
        self.code.reset()
        self.blocks.clear()
        self.starts.clear()
        self.sites.clear()

    def describe(self, host_pc: int) -> str | None:
        """What the code at ``host_pc`` is (for a fault report), or None if it is not in this cache."""
        if not self.code.contains(host_pc):
            return None
        i = bisect.bisect_right(self.starts, host_pc) - 1
        if i < 0:
            return "in the backend's fixed code (entry/exit trampolines, a target's interpreter)"
        addr = self.starts[i]
        block, compiled = self.blocks[addr]
        off = host_pc - addr
        pc = max((p for o, p in compiled.insns if o <= off), default=block.pc)
        if not block.optimized:  # compiled by the compile worker, which optimized its own copy
            block = copy.copy(block)
            block.ops = list(block.ops)
            optimize(block)
        ops = "\n".join(format_op(op) for op in block.ops)
        return (f"guest pc 0x{pc:x}, in the block at guest pc 0x{block.pc:x} (host 0x{addr:x} + 0x{off:x})\n"
                f"IR of the block:\n{ops}\nhost code of the block:\n{_Listing(self, [addr])}")

    # -- running -------------------------------------------------------------------------------------------
    def context(self, cpu: Any) -> _VCPUContext:
        c = self._by_cpu.get(id(cpu))
        if c is None or c.cpu is not cpu:
            c = _VCPUContext(cpu)
            w = c.words
            layout = self.layout
            w[MEMBASE] = layout["base"]
            if layout["kind"] == "user":
                w[RP], w[WP], w[NPAGES] = layout["rp"], layout["wp"], layout["npages"]
                w[JCACHE] = self.jcache.address
            else:
                self.memory.attach_native(cpu, layout["base"], functools.partial(_set_tlbs, w))
                # one jump cache per TB flags value, valid as long as the vCPU's own (cpu.jmp) is
                cpu.jmp_hooks.append(functools.partial(self._jmp_switch, c))
                self._jmp_switch(c, cpu.tb_flags)
            self._by_cpu[id(cpu)] = c
            self.contexts[c.addr] = c
        return c

    def run(self, cpu: Any, R: Any, pc: int) -> int:
        """Run generated code from ``pc``; return the next pc, or -1 with ``cpu.exception`` set.  (User
        mode; ``pc`` itself comes back when its code was flushed since the exec loop found it.)"""
        return self._run(cpu, R, pc, self.entries, False)

    def _run_table(self, table: dict[int, int], cpu: Any, R: Any, pc: int) -> int:
        """System mode: the exec loop found this code for ``pc`` through the vCPU's jump cache or a
        checked lookup, so it is valid under the current TB flags and page tables: generated code
        may find it through the native jump cache too."""
        return self._run(cpu, R, pc, table, True)

    def _jmp_switch(self, c: _VCPUContext, flags: int | None) -> None:
        """The vCPU's jump caches were flushed (``flags`` None) or it switched TB flags."""
        if flags is None:
            for jc in c.jcaches.values():
                jc.clear()
            return
        jc = c.jcaches.get(flags)
        if jc is None:
            jc = c.jcaches[flags] = JumpCache()
        c.jcache = jc
        c.words[JCACHE] = jc.address

    def _run(self, cpu: Any, R: Any, pc: int, table: dict[Any, int] | None, remember: bool) -> int:
        """Run the code ``table`` has for ``pc`` (``table`` None: the fixed code at host address ``pc``)."""
        c = self.context(cpu)
        self._prepare(c)
        # from here on no other thread reuses the code cache (a thread switch may come at any bytecode)
        self.active.add(c.addr)
        try:
            host = pc if table is None else table.get(pc)
            if host is None:  # flushed by another thread since the exec loop looked pc up
                return pc
            if remember:
                c.jcache.put(pc, host)
            ret = self._enter(c.state_addr, c.addr, host)
        finally:
            self.active.discard(c.addr)
        return self._returned(c, cpu, R, ret)

    def run_fixed(self, cpu: Any, R: Any, host: int) -> int:
        """Run fixed code (:meth:`add_fixed`) as :meth:`run` runs a block; it finds its guest pc in the
        vCPU state."""
        return self._run(cpu, R, host, None, False)

    def _prepare(self, c: _VCPUContext) -> None:
        w = c.words
        # where a miss in the jump cache goes: the fallback (a target's interpreter, say), unless a
        # debugger's breakpoints are set (only translated code checks them)
        w[MISS] = self.links_to["epilogue"] if self.fallback is None or c.cpu.breakpoints else self.fallback
        w[BUDGET] = self.budget
        w[STOLEN] = 0
        w[SITE] = 0
        w[SMC] = 0

    def _returned(self, c: _VCPUContext, cpu: Any, R: Any, ret: int) -> int:
        """Account for the instructions run and report how generated code left."""
        w = c.words
        left = (w[BUDGET] + w[STOLEN]) & MASK64
        R[self.icount_slot] += self.budget - (left - (1 << 64) if left >> 63 else left)
        flag = w[FLAG]
        if flag:
            w[FLAG] = 0
            if flag == FLAG_PYTHON:
                err, c.error = c.error, None
                raise err  # type: ignore[misc]
            code = w[EXC_CODE]
            cpu.exception = (code - (1 << 64) if code >> 63 else code, w[EXC_PC], w[EXC_TVAL])
            return -1
        reason = w[REASON]
        if reason:  # fixed code left for the exec loop to do something
            w[REASON] = 0
            self.on_leave(cpu, reason, ret)
        self._link(w[SITE], ret)
        return ret

    def remember(self, cpu: Any, pc: int, key: Any) -> None:
        """System mode: ``key``'s code (compiled, for ``pc`` under the vCPU's current TB flags and page
        tables) may be found through the native jump cache from now on."""
        host = self.entries.get(key)
        if host is not None:
            self.context(cpu).jcache.put(pc, host)

    def _link(self, site: int, pc: int) -> None:
        """After an exit to ``pc``: chain the jump at ``site`` (if any) to ``pc``'s code, or remember
        the code in the jump cache (user mode).  In system mode only jumps within a page are chained
        (as in QEMU): the mapping of another page may change under the jump."""
        if self.system:
            owner = self.sites.get(site) if site else None
            if owner is None:
                return
            src = owner[0]
            if pc >> 12 != src[0] >> 12:
                return
            key: Any = (pc, src[1], (src[2] & ~0xFFF) | (pc & 0xFFF))
        else:
            key = pc
        host = self.entries.get(key)
        if host is None:
            return
        if site:
            if site in self.sites:
                self._patch(site, host)
                self.links.setdefault(key, []).append(site)
        elif not self.system:
            self.jcache.put(pc, host)


@dataclass
class _Request:
    """A region sent to the compile worker: its blocks and keys, those being compiled there, those of
    them invalidated since, and the backend's flush count then."""

    blocks: list[Block]
    keys: list[Any]
    todo: list[tuple[Block, Any]]
    flushes: int
    dropped: set[Any] = field(default_factory=set)
    compiling: set[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.compiling = {key for _, key in self.todo}


class _Listing:
    """``-d out_asm`` text of freshly compiled blocks, disassembled only when asked for."""

    def __init__(self, backend: NativeBackend, blocks: list[int]):
        self.backend = backend
        self.blocks = blocks

    def __str__(self) -> str:
        from capstone import CS_ARCH_X86, CS_MODE_64, Cs

        md = Cs(CS_ARCH_X86, CS_MODE_64)
        out = []
        for addr in self.blocks:
            entry = self.backend.blocks.get(addr)
            if entry is None:
                continue
            block, compiled = entry
            starts = {addr + o: pc for o, pc in compiled.insns}
            out.append(f"  -- guest pc 0x{block.pc:x}, host 0x{addr:x}, {len(compiled.code)} bytes")
            for i in md.disasm(compiled.code, addr):
                if i.address in starts:
                    out.append(f"  ;; guest 0x{starts[i.address]:x}")
                out.append(f"0x{i.address:016x}:  {i.mnemonic:<8} {i.op_str}".rstrip())
        return "\n".join(out)
