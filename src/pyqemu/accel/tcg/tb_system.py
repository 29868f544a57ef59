"""Translation blocks and the execution loop in system mode (QEMU accel/tcg/cpu-exec.c, translate-all.c).

A block is identified by its virtual pc, the vCPU's TB flags and the physical address of its code, since
the same virtual pc can hold different code in different address spaces.  Cold blocks run in the IR
interpreter; hot ones are compiled into regions as in user mode (smaller ones, which do not regrow).
Each vCPU keeps a *jump cache* per TB flags value, mapping virtual pcs to compiled regions; it is valid
for the current page tables only, so TLB flushes empty it, and a region is checked against the current
mappings of all its pages before it is entered through the cache again.

Pages holding translations are registered with :class:`~.softmmu.CodePages`: a guest store or a DMA
write into one drops the translations on that page (and the regions containing them).

With ``background`` (a backend with a compile worker), a block that gets hot is queued instead of
compiled: the exec loop sends the hottest queued regions to the worker as it has room, goes on
interpreting, and installs each answer when it comes (polled every few dispatches).  A block
translated anew or dropped meanwhile is left out of the answer; a flush drops it all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backend_python import CompiledRegion, GuestFault
from .cpu_exec import HOT_THRESHOLD, MAX_REGION_BLOCKS, optimize_logged
from .interp import Interpreter
from .ir import Block
from .log import Log
from .optimize import optimize
from .softmmu import PAGE_BITS, CodePages

Key = tuple[int, int, int]  # (virtual pc, TB flags, physical pc)


@dataclass
class _Region:
    fn: Callable[..., int]
    keys: tuple[Key, ...]
    pagemap: tuple[tuple[int, int], ...]  # (virtual page, physical page) of every member


@dataclass(eq=False)
class _Plan:
    """A region to compile: its members' keys and blocks, hottest first, and the page mappings it was
    planned under."""

    keys: list[Key]
    ranked: list[_TB]
    pagemap: tuple[tuple[int, int], ...]


@dataclass
class _TB:
    block: Block
    ppages: tuple[int, ...]
    vpages: tuple[int, ...]
    execs: int = 0
    region: _Region | None = None
    cold: Callable[..., int] | None = None
    regions: list[_Region] = field(default_factory=list)


def _key(cpu: Any, pc: int) -> Key:
    """What a translation of the block at ``pc`` is found under: pc, TB flags and the physical address
    the pc maps to now (raises the fetch's GuestFault)."""
    return pc, cpu.tb_flags, cpu.fetch_paddr(pc)


class SystemTBCache:
    """Translated code of one machine, shared by its vCPUs."""

    def __init__(self, gen_block: Callable[..., Block], backend: Any, interp: Interpreter,
                 log: Log, code: CodePages, disas: Callable[[Any, int, int], str] | None = None,
                 background: bool = False):
        self.gen_block = gen_block
        self.backend = backend
        self.interp = interp
        self.log = log
        self.disas = disas
        self.code = code
        code.invalidate = self.invalidate_page
        self.tbs: dict[Key, _TB] = {}
        self.by_page: dict[int, set[Key]] = {}
        self.cpus: list[Any] = []
        self.translations = 0
        self.regions = 0
        self.hot_threshold = HOT_THRESHOLD
        #: smaller regions than in user mode, and no regrowth: system code is spread over many more
        #: blocks, and recompiling large regions cost more than the dispatch it saved
        self.max_region_blocks = MAX_REGION_BLOCKS // 2 - 8
        #: a block joins a region only once it has run this often: compiling cold code costs more
        #: than interpreting it
        self.member_threshold = HOT_THRESHOLD // 8
        self.tracing = log.enabled("exec") or log.enabled("cpu")
        #: compile regions in the background (a backend with a compile worker) while their blocks go on
        #: running in the interpreter
        self.background = background and hasattr(backend, "submit_region")
        if self.background:  # compiling costs this thread little: compile sooner, interpret less
            self.hot_threshold = HOT_THRESHOLD // 4
            self.member_threshold = 2
        #: the target's native interpreter of cold code (set by the machine; see :meth:`lookup`)
        self.fast: Any = None
        self.wanted: dict[Key, None] = {}  # heads of the regions to compile there
        self.inflight: list[_Plan] = []  # the regions sent there
        self.planned: set[Key] = set()  # their members

    # -- lookup ------------------------------------------------------------------------------------
    def lookup(self, cpu: Any, pc: int) -> Callable[..., int]:
        """The function to run at ``pc`` on ``cpu`` (raises GuestFault for a fetch fault)."""
        key = _key(cpu, pc)
        tb = self.tbs.get(key)
        fast = self.fast
        if fast is not None and not cpu.breakpoints:
            if not fast.took_escape(cpu, pc):
                fn = fast.run
                if tb is not None and tb.region is not None and self._valid(cpu, tb.region):
                    fn = tb.region.fn
                    self._publish(cpu, pc, key)
                cpu.jmp[pc] = fn  # (the interpreter drops pc from there when it escapes)
                return fn
            if tb is None:  # an instruction it left to the TB path: a block of just that one
                tb = self._translate(cpu, key, True)
        if tb is None:
            tb = self._translate(cpu, key)
        tb.execs += 1
        if self.tracing:
            return functools.partial(_run_traced, self, tb.block)
        region = tb.region
        if region is not None and self._valid(cpu, region):
            cpu.jmp[pc] = region.fn
            return region.fn
        if tb.execs >= self.hot_threshold and region is None:
            if not self.background:
                region = self._build_region(cpu, key)
                cpu.jmp[pc] = region.fn
                return region.fn
            self.wanted[key] = None
            self.poll(cpu)
        if tb.cold is None:
            tb.cold = _cold_runner(self.interp, tb, self.hot_threshold)
        cpu.jmp[pc] = tb.cold  # later runs skip this lookup until the block gets hot
        return tb.cold

    def heat(self, cpu: Any, pc: int) -> None:
        """The native interpreter met the block head ``pc`` often: translate the block and have it
        compiled (or, if it is, let generated code find it through the native jump cache)."""
        try:
            key = _key(cpu, pc)
            tb = self.tbs.get(key) or self._translate(cpu, key)
        except GuestFault:
            return  # the exec loop raises it when it gets there
        tb.execs += self.hot_threshold
        region = tb.region
        if region is None or not self._valid(cpu, region):
            if self.background:
                if key not in self.planned:
                    self.wanted[key] = None
                    self.poll(cpu)
                return
            self._build_region(cpu, key)
        self._publish(cpu, pc, key)

    def _publish(self, cpu: Any, pc: int, key: Key) -> None:
        """Let generated code and the native interpreter find the compiled code of ``key`` for ``pc``
        (through the native jump cache, until it is emptied)."""
        self.backend.remember(cpu, pc, key)
        if self.fast is not None:
            self.fast.published(pc)

    @staticmethod
    def _valid(cpu: Any, region: _Region) -> bool:
        """Whether every page of ``region`` still maps to the code it was built from."""
        try:
            for vp, pp in region.pagemap:
                if cpu.fetch_paddr(vp << PAGE_BITS) >> PAGE_BITS != pp:
                    return False
        except GuestFault:
            return False
        return True

    def _probe(self, cpu: Any, pc: int) -> Key | None:
        try:
            key = _key(cpu, pc)
        except GuestFault:
            return None
        return key if key in self.tbs else None

    def _translate(self, cpu: Any, key: Key, single: bool = False) -> _TB:
        """Translate the block of ``key`` (``single``: of its first instruction only, which the native
        interpreter left to the TB path; there are no breakpoints then)."""
        pc = key[0]
        block = self.gen_block(cpu, pc, True) if single else self.gen_block(cpu, pc)
        disas = self.disas
        optimize_logged(block, self.log, "",
                        (lambda: disas(cpu, pc, block.size)) if disas is not None else None, lazy=True)
        last = pc + max(block.size, 1) - 1
        vpages = tuple(sorted({pc >> PAGE_BITS, last >> PAGE_BITS}))
        ppages = tuple(sorted({key[2] >> PAGE_BITS} | ({cpu.fetch_paddr(last) >> PAGE_BITS}
                                                       if last >> PAGE_BITS != pc >> PAGE_BITS else set())))
        tb = _TB(block, ppages, vpages)
        self.tbs[key] = tb
        for p in ppages:
            self.by_page.setdefault(p, set()).add(key)
            self.code.add(p)
        self.translations += 1
        return tb

    def _build_region(self, cpu: Any, head: Key) -> _Region:
        plan = self._plan(cpu, head)
        blocks = [tb.block for tb in plan.ranked]
        for block in blocks:
            if not block.optimized:  # translated lazily: cold code is interpreted as generated
                optimize(block)
        return self._install(plan, self.backend.compile_region(blocks, keys=plan.keys))

    # -- compiling in the background -----------------------------------------------------------------
    def poll(self, cpu: Any) -> None:
        """Install the regions the compile worker has finished, and send it the next ones.  (Polling
        with only regions to send matters too: answers to another machine's requests, which ended
        with them in flight, must be taken off the worker before it takes more.)"""
        if self.inflight or self.wanted:
            self.backend.poll_compiles()
        while self.wanted and self.backend.compile_room():
            head = max(self.wanted, key=self._heat)  # the one running most now
            tb = self.tbs.get(head)
            if tb is None or (tb.region is not None and self._valid(cpu, tb.region)):
                del self.wanted[head]
                continue
            if head in self.planned or self._probe(cpu, head[0]) != head:
                # on its way in another region, or not mapped so now (asked for again if it runs hot
                # in this address space)
                del self.wanted[head]
                continue
            plan = self._plan(cpu, head)
            self.inflight.append(plan)
            self.planned.update(plan.keys)
            if not self.backend.submit_region([tb.block for tb in plan.ranked], plan.keys,
                                              functools.partial(self._compiled, plan)):
                self.inflight.remove(plan)
                self.planned.difference_update(plan.keys)
                return  # no room: later
            self.wanted.pop(head, None)  # (planning may have flushed everything)

    def _heat(self, key: Key) -> int:
        tb = self.tbs.get(key)
        return -1 if tb is None else tb.execs

    def _compiled(self, plan: _Plan, compiled: CompiledRegion | None) -> None:
        """The compile worker's answer: members still translated as planned now run in the region (their
        next dispatch goes through :meth:`lookup`, which finds it)."""
        if plan in self.inflight:
            self.inflight.remove(plan)
            self.planned.difference_update(plan.keys)
        if compiled is None:
            return
        current = [(key, tb) for key, tb in zip(plan.keys, plan.ranked, strict=True)
                   if self.tbs.get(key) is tb]
        region = self._install(plan, compiled, [tb for _, tb in current])
        for cpu in self.cpus:
            for _, tb in current:
                cpu.jmp.pop(tb.block.pc, None)
            if self.fast is not None and self._valid(cpu, region):  # the interpreter may enter it
                for key, _ in current:
                    if key[1] == cpu.tb_flags:
                        self._publish(cpu, key[0], key)

    def _plan(self, cpu: Any, head: Key) -> _Plan:
        """Which blocks join the region of ``head``, hottest first, and the page mappings it needs."""
        if self.backend.wants_flush():  # the native code cache is nearly full: start again
            tb = self.tbs[head]
            self.flush()
            self.tbs[head] = tb
            for p in tb.ppages:
                self.by_page.setdefault(p, set()).add(head)
                self.code.add(p)
        order = [head]
        seen = {head} | self.planned  # (blocks on their way in another region are left out)
        i = 0
        limit = self.max_region_blocks
        while i < len(order) and len(order) < limit:
            block = self.tbs[order[i]].block
            targets = [op[1] for op in block.ops if op[0] == "exit" and isinstance(op[1], int)]
            if self.fast is not None and targets == [block.pc + block.size]:
                self._continue(cpu, block, self.tbs[order[i]].execs)
            for t in targets + block.hints:
                k = self._probe(cpu, t)
                if (k is not None and k not in seen and len(order) < limit
                        and self.tbs[k].execs >= self.member_threshold):
                    seen.add(k)
                    order.append(k)
            i += 1
        keys = sorted(order, key=lambda k: -self.tbs[k].execs)  # hottest first
        pagemap: dict[int, int] = {}
        for k in order:
            for vp in self.tbs[k].vpages:
                pagemap[vp] = cpu.fetch_paddr(vp << PAGE_BITS) >> PAGE_BITS
        return _Plan(keys, [self.tbs[k] for k in keys], tuple(pagemap.items()))

    def _continue(self, cpu: Any, block: Any, execs: int) -> None:
        """``block`` only falls through (it ended at the size limit, say): translate the block after it,
        as hot, if nothing has.  (Code the native interpreter runs is translated only at the heads
        it finds hot, which are control transfer targets: a long straight run of code would otherwise
        become compiled code a block at a time.)"""
        pc = block.pc + block.size
        try:
            key = _key(cpu, pc)
            if key not in self.tbs:
                self._translate(cpu, key).execs = execs
        except GuestFault:
            return  # (its fetch faults: the block is left to run into that)

    def _install(self, plan: _Plan, compiled: CompiledRegion, members: list[_TB] | None = None) -> _Region:
        if self.log.enabled("out_asm"):
            head = plan.keys[0][0]
            self.log.write(f"OUT: [region {head:#x}, {len(plan.keys)} blocks]\n{compiled.source}\n")
        region = _Region(compiled.fn, tuple(plan.keys), plan.pagemap)
        for tb in plan.ranked if members is None else members:
            tb.region = region
            tb.regions.append(region)
        self.regions += 1
        return region

    # -- invalidation ------------------------------------------------------------------------------
    def invalidate_page(self, ppage: int) -> bool:
        """Drop every translation with code on physical page ``ppage``; True if there were any."""
        keys = self.by_page.pop(ppage, None)
        if not keys:
            return False
        self.backend.invalidate(list(keys))
        for key in keys:
            tb = self.tbs.pop(key, None)
            if tb is None:
                continue
            for p in tb.ppages:
                if p != ppage and p in self.by_page:
                    self.by_page[p].discard(key)
            for region in tb.regions:
                for k in region.keys:
                    other = self.tbs.get(k)
                    if other is not None and other.region is region:
                        other.region = None
        for cpu in self.cpus:
            cpu.flush_jmp_cache()
        return True

    def invalidate_range(self, paddr: int, length: int) -> None:
        """Host-side writes (DMA, loaders) into [paddr, paddr+length)."""
        for p in range(paddr >> PAGE_BITS, ((paddr + max(length, 1) - 1) >> PAGE_BITS) + 1):
            if p in self.code.pages:
                self.invalidate_page(p)
                self.code.discard(p)

    def flush(self) -> None:
        self.wanted.clear()
        for p in list(self.by_page):
            self.invalidate_page(p)
            self.code.discard(p)
        for cpu in self.cpus:  # (they may also hold the native interpreter's function)
            cpu.flush_jmp_cache()
        self.backend.flush()

    def stats(self) -> dict[str, Any]:
        return {"translations": self.translations, "regions": self.regions, "blocks": len(self.tbs)}


def _cold_runner(interp: Interpreter, tb: _TB, hot: int) -> Callable[..., int]:
    """Runs ``tb`` in the interpreter and counts its runs; when it gets hot it drops itself from the jump
    cache, so that the next run goes through :meth:`SystemTBCache.lookup`, which compiles a region (or
    asks the compile worker for one, whose arrival drops the block from the jump cache again)."""
    block = tb.block
    run = interp.run

    def cold(cpu: Any, R: Any, pc: int) -> int:
        tb.execs += 1
        if tb.execs == hot:
            cpu.jmp.pop(pc, None)
        return run(block, cpu, R)
    return cold


def _run_traced(tbc: SystemTBCache, block: Block, cpu: Any, R: Any, pc: int) -> int:
    if tbc.log.enabled("cpu"):
        tbc.log.write(cpu.dump() + "\n")
    if tbc.log.enabled("exec"):
        tbc.log.write(f"Trace {cpu.hartid}: [{block.pc:016x}/{cpu.tb_flags:08x}]\n")
    return tbc.interp.run(block, cpu, R)


#: why :func:`cpu_exec_system` / :func:`cpu_step_system` returned: the instruction budget is spent, the
#: vCPU waits for an interrupt, it stopped for a debugger before an instruction, a single-step is done
EXIT_LIMIT, EXIT_HALTED, EXIT_DEBUG, EXIT_STEP = 0, 1, 2, 3
#: instruction fetch faults in one slice after which it ends although the instruction count has not
#: moved (a guest looping on faults must not keep the main loop, and the monitor, from running)
MAX_FETCH_FAULTS = 1024


def cpu_exec_system(cpu: Any, tbc: SystemTBCache, limit: int) -> int:
    """Run ``cpu`` until its instruction count reaches ``limit`` (EXIT_LIMIT), it waits for an
    interrupt (EXIT_HALTED) or it stops for a debugger (EXIT_DEBUG: ``cpu.debug_code``, a breakpoint or
    watchpoint, with ``cpu.pc`` at the instruction that did not run).  Interrupts are taken between
    regions; exceptions enter the guest's trap handler through ``cpu.do_trap``; ``cpu.wfi_code`` marks
    the wait-for-interrupt exit.  The slice also ends early (EXIT_LIMIT) when ``cpu.kick[0]`` is set
    (another vCPU got an interrupt), at a WFI that cannot sleep because an interrupt is pending but
    masked, and at a spin-wait hint (``cpu.yield_code``): the vCPU is waiting for another one, which
    should run now."""
    R = cpu.R
    kick = cpu.kick
    icount_slot = cpu.icount_slot
    wfi = cpu.wfi_code
    yield_code = cpu.yield_code
    debug_code = cpu.debug_code
    lookup = tbc.lookup
    pc = cpu.pc
    if cpu.halted:
        return EXIT_HALTED
    inflight = tbc.inflight  # regions the compile worker is compiling (a list updated in place)
    polls = 0
    if tbc.background:
        tbc.poll(cpu)
    jmp = cpu.jmp  # the jump cache of the current TB flags: refreshed whenever they may have changed
    fetch_faults = 0
    while R[icount_slot] < limit:
        if kick[0]:
            kick[0] = False
            break
        if cpu.irq_req:
            cpu.irq_req = False
            irq = cpu.pending_interrupt()
            if irq >= 0:
                cpu.do_trap(irq, pc, 0, True)
                pc = cpu.pc
                jmp = cpu.jmp
        if inflight:
            polls += 1
            if not polls & 31:
                tbc.poll(cpu)
        fn = jmp.get(pc)
        if fn is None:
            try:
                fn = lookup(cpu, pc)
            except GuestFault as f:
                cpu.do_trap(f.code, pc, f.tval)
                pc = cpu.pc
                jmp = cpu.jmp
                fetch_faults += 1
                if fetch_faults >= MAX_FETCH_FAULTS:
                    break  # e.g. a trap vector that cannot be fetched: no instruction ever completes
                continue
            jmp = cpu.jmp
        pc = fn(cpu, R, pc)
        jmp = cpu.jmp  # (code may have changed the TB flags without leaving: see leave_flags)
        if pc < 0:
            code, epc, tval = cpu.exception
            cpu.exception = None
            if code == -1:
                pc = epc
            elif code == wfi or code == yield_code:
                pc = tval
                if code == wfi and not cpu.mip & cpu.mie:
                    cpu.halted = True
                    cpu.pc = pc
                    return EXIT_HALTED
                break
            elif code == debug_code:
                cpu.pc = epc
                return EXIT_DEBUG
            else:
                cpu.do_trap(code, epc, tval)
                pc = cpu.pc
            jmp = cpu.jmp
    cpu.pc = pc
    return EXIT_LIMIT


def cpu_step_system(cpu: Any, tbc: SystemTBCache) -> int:
    """Run one instruction of ``cpu`` for a debugger's single-step (QEMU's single-step blocks): it is
    translated afresh by ``tbc.gen_block(cpu, pc, True)`` (no breakpoint checks), interpreted and never
    cached.  Interrupts are not taken (QEMU's default SSTEP_NOIRQ); an exception enters the trap
    handler, which ends the step.  Returns EXIT_STEP when the step is done, or EXIT_LIMIT when the
    instruction stopped for the debugger before running (a watchpoint: ``cpu.debug_code``)."""
    pc = cpu.pc
    try:
        block = tbc.gen_block(cpu, pc, True)
    except GuestFault as f:
        cpu.do_trap(f.code, pc, f.tval)
        return EXIT_STEP
    pc = tbc.interp.run(block, cpu, cpu.R)
    if pc < 0:
        code, epc, tval = cpu.exception
        cpu.exception = None
        if code == -1:
            pc = epc
        elif code == cpu.wfi_code or code == cpu.yield_code:
            pc = tval
            cpu.halted = code == cpu.wfi_code and not cpu.mip & cpu.mie
        elif code == cpu.debug_code:
            cpu.pc = epc
            return EXIT_LIMIT
        else:
            cpu.do_trap(code, epc, tval)
            pc = cpu.pc
    cpu.pc = pc
    return EXIT_STEP
