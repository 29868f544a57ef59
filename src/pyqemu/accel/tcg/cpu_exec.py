"""Translation-block cache and the execution loop (QEMU accel/tcg/cpu-exec.c and translate-all.c).

Blocks are translated once (guest -> IR -> optimizer) and kept per guest pc with the pages they cover.
A block first runs in the IR interpreter; once it has run ``HOT_THRESHOLD`` times the cache builds a
region from it and the already translated blocks it reaches through direct exits, compiles that into
one function (direct chaining: member-to-member exits never leave the function) and installs it for
every member pc.  Writing, unmapping or re-protecting translated pages invalidates what covers them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .backend_python import CompiledRegion, PythonBackend
from .interp import Interpreter
from .ir import Block, format_op
from .log import Log
from .optimize import optimize

HOT_THRESHOLD = 64
MAX_REGION_BLOCKS = 64
GROW_AFTER = 64
PAGE_BITS = 12


@dataclass
class TBInfo:
    block: Block
    pages: tuple[int, ...]
    execs: int = 0


class TBCache:
    """Translated code for one guest address space (shared by its vCPUs)."""

    def __init__(self, gen_block: Callable[..., Block], backend: PythonBackend, log: Log,
                 disas: Callable[[int, int], str] | None = None, symbol: Callable[[int], str] | None = None):
        self.gen_block = gen_block
        self.backend = backend
        self.log = log
        self.disas = disas
        self.symbol = symbol or (lambda pc: "")
        self.tbs: dict[int, TBInfo] = {}
        self.entry: dict[int, Callable[..., int]] = {}  # pc -> compiled region (hot code)
        self.cold: dict[int, Callable[..., int]] = {}  # pc -> one-block region
        self.pages: dict[int, set[int]] = {}  # guest page -> pcs of blocks on it
        #: told (page, True) when a page first holds translated code and (page, False) when it no
        #: longer does: user mode write-protects such pages so stores into them invalidate
        self.page_listener: Callable[[int, bool], None] | None = None
        self.lock = threading.RLock()
        self.translations = 0
        self.regions = 0
        self.interp: Interpreter | None = None  # set by the owner once the memory model exists
        self.hot_threshold = HOT_THRESHOLD
        self.tracing = log.enabled("exec") or log.enabled("cpu")

    # -- lookup ------------------------------------------------------------------------------------
    def lookup(self, pc: int) -> Callable[..., int]:
        """The function to run at ``pc`` (translating, or building a hot region, as needed)."""
        with self.lock:
            fn = self.entry.get(pc)
            if fn is not None:
                return fn
            info = self.tbs.get(pc)
            if info is None:
                info = self._translate(pc)
            info.execs += 1
            if self.tracing:
                # -d exec/cpu: every block execution is logged, so nothing is chained into regions
                return functools.partial(_run_traced, self, info.block)
            if info.execs >= self.hot_threshold:
                return self._build_region(pc)
            fn = self.cold.get(pc)
            if fn is None:
                fn = functools.partial(_run_cold, self.interp, info.block)
                self.cold[pc] = fn
            return fn

    def _translate(self, pc: int) -> TBInfo:
        block = self.gen_block(pc)
        disas = self.disas
        optimize_logged(block, self.log, self.symbol(pc),
                        (lambda: disas(pc, block.size)) if disas is not None else None, lazy=True)
        first = pc >> PAGE_BITS
        last = (pc + max(block.size, 1) - 1) >> PAGE_BITS
        pages = tuple(range(first, last + 1))
        info = TBInfo(block, pages)
        self.tbs[pc] = info
        for p in pages:
            if p not in self.pages:
                self.pages[p] = set()
                if self.page_listener is not None:
                    self.page_listener(p, True)
            self.pages[p].add(pc)
        self.translations += 1
        return info

    def _compile(self, blocks: list[Block], on_leave: Callable[[int], None] | None = None) -> CompiledRegion:
        region = self.backend.compile_region(blocks, on_leave)
        if self.log.enabled("out_asm"):
            self.log.write(f"OUT: [region {blocks[0].pc:#x}, {len(blocks)} blocks]\n{region.source}\n")
        return region

    def _build_region(self, head: int, seeds: tuple[int, ...] = ()) -> Callable[..., int]:
        """Collect translated blocks reachable from ``head`` (and ``seeds``) by direct exits and the
        frontend's hints, such as return addresses; compile them as one.

        The region counts the pcs it leaves for; one it keeps leaving for (an indirect jump target,
        a successor translated after the region was built) is taken in by rebuilding the region.
        """
        if self.backend.wants_flush():  # the native code cache is nearly full: start again
            self.flush()
            self._translate(head)
            seeds = ()
        order = [head] + [s for s in dict.fromkeys(seeds) if s != head and s in self.tbs]
        seen = set(order)
        i = 0
        while i < len(order) and len(order) < MAX_REGION_BLOCKS:
            block = self.tbs[order[i]].block
            targets = [op[1] for op in block.ops if op[0] == "exit" and isinstance(op[1], int)]
            for t in targets + block.hints:
                if t not in seen and t in self.tbs and len(order) < MAX_REGION_BLOCKS:
                    seen.add(t)
                    order.append(t)
            i += 1
        blocks = sorted((self.tbs[p].block for p in order), key=lambda b: -self.tbs[b.pc].execs)
        for block in blocks:
            if not block.optimized:  # translated lazily: cold code is interpreted as generated
                optimize(block)
        grow = None
        if len(order) < MAX_REGION_BLOCKS:
            grow = _GrowthCounter(self, head, tuple(order))
        region = self._compile(blocks, grow)
        self.regions += 1
        for pc in order:
            self.entry[pc] = region.fn
        return region.fn

    # -- invalidation ------------------------------------------------------------------------------
    def invalidate_range(self, start: int, end: int) -> bool:
        """Drop translations of guest code in [start, end).  Returns True if any were dropped."""
        with self.lock:
            hit = any(p in self.pages for p in range(start >> PAGE_BITS, ((end - 1) >> PAGE_BITS) + 1))
            if hit:
                self.flush()
            return hit

    def flush(self) -> None:
        """Drop every translation (QEMU's tb_flush)."""
        with self.lock:
            self.tbs.clear()
            self.entry.clear()
            self.cold.clear()
            if self.page_listener is not None:
                for p in self.pages:
                    self.page_listener(p, False)
            self.pages.clear()
            self.backend.flush()

    def stats(self) -> dict[str, Any]:
        return {"translations": self.translations, "regions": self.regions, "blocks": len(self.tbs)}


def optimize_logged(block: Block, log: Log, symbol: str, disas: Callable[[], str] | None,
                    lazy: bool = False) -> None:
    """Optimize a freshly translated block, logging its guest code and IR as ``-d`` asks
    (in_asm: ``disas()``, the guest code headed by ``symbol``; op; op_opt).  ``lazy``: leave the
    optimization to whoever compiles the block (cold code runs unoptimized IR in the interpreter)
    unless op_opt is being logged."""
    if disas is not None and log.enabled("in_asm"):
        log.write(f"----------------\nIN: {symbol}\n{disas()}\n")
    if log.enabled("op"):
        log.write("OP:\n" + "\n".join(format_op(op) for op in block.ops) + "\n\n")
    if lazy and not log.enabled("op_opt"):
        return
    optimize(block)
    if log.enabled("op_opt"):
        log.write("OP after optimization:\n" + "\n".join(format_op(op) for op in block.ops) + "\n\n")


def cpu_exec(cpu: Any, tbc: TBCache, stop: Callable[[], bool] | None = None) -> tuple[int, int, int]:
    """Run ``cpu`` until translated code raises a guest exception; return it as (code, pc, tval).

    ``stop`` is polled whenever a region returns (at least every BUDGET instructions); when it returns
    True the loop yields with code -1 so the caller can deliver signals or switch work.
    """
    R = cpu.R
    pc = cpu.pc
    entry = tbc.entry
    lookup = tbc.lookup
    while True:
        fn = entry.get(pc)
        if fn is None:
            try:
                fn = lookup(pc)
            except GuestFetchFault as f:
                cpu.pc = pc
                return (f.code, pc, f.tval)
        pc = fn(cpu, R, pc)
        if pc < 0:
            exc = cpu.exception
            cpu.exception = None
            cpu.pc = exc[1]
            return exc
        if stop is not None and stop():
            cpu.pc = pc
            return (-1, pc, 0)


def cpu_step(cpu: Any, tbc: TBCache) -> tuple[int, int, int]:
    """Run one guest instruction for a debugger's single-step (QEMU's single-step blocks): translated
    afresh by ``tbc.gen_block(pc, True)`` (no breakpoint checks), interpreted and never cached.  Returns
    like :func:`cpu_exec`, with code -1 when the instruction completed."""
    pc = cpu.pc
    try:
        block = tbc.gen_block(pc, True)
    except GuestFetchFault as f:
        return (f.code, pc, f.tval)
    pc = tbc.interp.run(block, cpu, cpu.R)
    if pc < 0:
        exc = cpu.exception
        cpu.exception = None
        cpu.pc = exc[1]
        return exc
    cpu.pc = pc
    return (-1, pc, 0)


class _GrowthCounter:
    """Called by a region each time it leaves for a pc outside it; rebuilds it to take that pc in
    once it has left for it GROW_AFTER times and the pc has been translated."""

    __slots__ = ("tbc", "head", "members", "counts")

    def __init__(self, tbc: TBCache, head: int, members: tuple[int, ...]):
        self.tbc = tbc
        self.head = head
        self.members = members
        self.counts: dict[int, int] = {}

    def __call__(self, pc: int) -> None:
        n = self.counts.get(pc, 0) + 1
        self.counts[pc] = n
        if n == GROW_AFTER and pc in self.tbc.tbs:
            with self.tbc.lock:
                if all(p in self.tbc.tbs for p in self.members):  # nothing invalidated meanwhile
                    self.tbc._build_region(self.head, (*self.members, pc))


def _run_cold(interp: Interpreter, block: Block, cpu: Any, R: Any, pc: int) -> int:
    return interp.run(block, cpu, R)


def _run_traced(tbc: TBCache, block: Block, cpu: Any, R: Any, pc: int) -> int:
    """Run one block in the interpreter with ``-d exec`` / ``-d cpu`` logging (QEMU's format)."""
    if tbc.log.enabled("cpu"):
        tbc.log.write(cpu.dump() + "\n")
    if tbc.log.enabled("exec"):
        tbc.log.write(f"Trace 0: 0x{id(block):x} [00000000/{block.pc:016x}/00000000/00000000] "
                      f"{tbc.symbol(block.pc)}\n")
    return tbc.interp.run(block, cpu, R)


class GuestFetchFault(Exception):
    """Instruction fetch from an unmapped or non-executable address."""

    def __init__(self, code: int, tval: int):
        super().__init__(code, tval)
        self.code = code
        self.tval = tval
