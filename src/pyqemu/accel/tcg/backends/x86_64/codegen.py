"""Instruction selection: one IR block -> x86-64 machine code (QEMU tcg/i386/tcg-target.c.inc, in spirit).

Every IR op of :mod:`pyqemu.accel.tcg.ir` has a host sequence here; values come and go through the
:class:`~.regalloc.RegAlloc`.  Register conventions while generated code runs: ``rbp`` the vCPU state
buffer (guest registers are ``[rbp + 8*slot]``), ``rbx`` the host address of guest memory, ``r14`` the
vCPU's native context (:data:`CTX` fields), the frame at ``rsp`` holding spill slots.

Layout of a block::

    sub  qword [r14+BUDGET], n_insns ; js  budget_exit      (the exec loop's instruction budget)
    ... the block's ops, guest memory accesses with their fast path inline ...
    exits: direct ones as a patchable ``jmp rel32`` (first to a stub that returns to the exec loop, later
    straight to the next block: chaining), indirect ones (and, in system mode, direct ones to another
    page) through the vCPU's jump cache
    out-of-line: memory slow paths, exception and exit stubs

Leaving generated code is one jump to the epilogue with ``rax`` = the next guest pc; when the vCPU
stopped for a guest exception ``FLAG`` is set and ``EXC_CODE``/``EXC_PC``/``EXC_TVAL`` say which.  The
budget is charged a block's whole instruction count on entry; exits in the middle give back what was not run,
so the exec loop can tell the instructions executed from the budget left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...ir import FOLD, MASK64, RMW, SIGN, Block, Helper, eval_cond
from . import fpu
from .asm import R14, RAX, RBX, RCX, RDI, RDX, RSI, RSP, Assembler, Cond, Label, Mem
from .regalloc import CALLER_SAVED, SCRATCH, RegAlloc, as_imm32, fits32

# -- the per-vCPU native context (an array of 64-bit words addressed from r14) ---------------------------
BUDGET, SITE, FLAG, EXC_CODE, EXC_PC, EXC_TVAL, SMC, MEMBASE, RP, WP, NPAGES, JCACHE, SAVED_RSP, \
    STOLEN, TLB, CODE_TLB, REASON, MISS = range(18)
#: words left to fixed code (a target's interpreter keeps its own state there)
FIXED_WORDS = (18, 19, 20)
NCTX = 21
FLAG_GUEST, FLAG_PYTHON = 1, 2
JCACHE_BITS = 12
#: SysV integer argument registers after the first (the context)
ARG_REGS = (RSI, RDX, RCX, 8, 9)


def ctx(field_index: int) -> Mem:
    return Mem(R14, 8 * field_index)


_COND = {"eq": Cond.E, "ne": Cond.NE, "lt": Cond.L, "ge": Cond.GE, "ltu": Cond.B, "geu": Cond.AE}
_SWAPPED = {"eq": Cond.E, "ne": Cond.NE, "lt": Cond.G, "ge": Cond.LE, "ltu": Cond.A, "geu": Cond.BE}
_ALU = {"add": ("add", "add_imm"), "sub": ("sub", "sub_imm"), "and": ("and_", "and_imm"),
        "or": ("or_", "or_imm"), "xor": ("xor", "xor_imm")}
_SHIFT = {"shl": "shl", "shr": "shr", "sar": "sar", "rotl": "rol", "rotr": "ror"}
_MINMAX = {"min": Cond.G, "max": Cond.L, "minu": Cond.A, "maxu": Cond.B}
_BITCOUNT = {"clz": "lzcnt", "ctz": "tzcnt", "cpop": "popcnt"}
_EXT = {"ext8s": (8, True), "ext16s": (16, True), "ext32s": (32, True),
        "ext8u": (8, False), "ext16u": (16, False), "ext32u": (32, False)}
_DIV = {"divs": (True, False), "divu": (False, False), "rems": (True, True), "remu": (False, True)}


@dataclass
class Runtime:
    """What generated code links against: the epilogue and the Python callbacks."""

    epilogue: int
    lookup: int  # jump to the code of the guest pc in rax through the jump cache, else to MISS
    #: a chainable exit (SITE set): to the epilogue if the jump cache has code for rax (the exec loop then
    #: chains the jump), else to MISS
    link: int
    callback: Callable[[Helper, int], int]  # (helper, number of arguments) -> its native-callable wrapper
    load_slow: int  # (ctx, addr, memop) -> value
    store_slow: int  # (ctx, addr, value, memop) -> nonzero if translated code was hit
    #: "user": a flat guest address space at MEMBASE with page tables RP/WP (one byte per page);
    #: "softmmu": the vCPU's TLB (``softmmu.NativeTLB``) at TLB
    memory: str = "user"
    tlb_bits: int = 9


@dataclass
class Compiled:
    code: bytes
    #: offsets (from the block start) of the rel32 fields of direct exits -> their guest pc
    sites: dict[int, int] = field(default_factory=dict)
    #: (offset, guest pc) where each guest instruction's code starts
    insns: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Reg:
    """A host register as an operand (where plain ints are constants)."""

    r: int


Operand = int | Reg


@dataclass
class SlowFrame:
    """What an out-of-line call from the middle of a block (a memory slow path, a helper an inlined
    op falls back to) must do around it, captured where the fast path branches off: the dirty guest
    registers to write home, the live caller-saved registers to keep, where to go on a guest fault."""

    writeback: list[tuple[int, str]]
    saved: list[int]
    exc: Label


class BlockCompiler:
    """Emits one block, assembled for address ``addr``."""

    def __init__(self, block: Block, addr: int, rt: Runtime, slots: dict[str, int]):
        self.b = block
        self.addr = addr
        self.rt = rt
        self.slots = slots
        self.asm = Assembler()
        self.ra = RegAlloc(self.asm, slots, block.ops)
        self.out_of_line: list[Callable[[], None]] = []
        self.sites: dict[int, int] = {}
        self.insn_pcs = [pc for pc, _ in block.guest_insns] + [block.pc + block.size]
        self.insn_index = {pc: i for i, pc in enumerate(self.insn_pcs)}
        self.k = 0  # index of the current guest instruction
        self.reachable = True
        self.smc_pending = False  # a deferred store of the current instruction may have hit code
        self.exc_stubs: dict[int, Label] = {}
        self.labels: dict[int, Label] = {}
        self.insns: list[tuple[int, int]] = [(0, block.pc)]

    # -- driver ------------------------------------------------------------------------------------------
    def compile(self) -> Compiled:
        asm, b = self.asm, self.b
        n = b.n_insns
        budget_exit = asm.label()
        asm.sub_imm(ctx(BUDGET), n)
        asm.jcc(Cond.S, budget_exit)
        deferred = iter(_deferred_stores(b.ops))
        for i, op in enumerate(b.ops):
            self.ra.begin_op(i)
            name = op[0]
            if name in ("insn_start", "exit", "exit_loop", "exit_exc") and self.smc_pending:
                self._smc_check()
            if not self.reachable and name != "set_label":
                if name == "st":
                    next(deferred)
                continue
            if name == "st":
                self._st(op, next(deferred))
            elif name in FOLD and all(isinstance(v, int) for v in op[2:]):
                self.op_const(op[1], FOLD[name](*op[2:]))  # left unfolded by the optimizer
            else:
                handler = _HANDLERS.get(name)
                if handler is None:
                    raise ValueError(f"x86_64 backend: unknown op {name}")
                handler(self, op)
            self.ra.release_dead()
        if self.reachable:
            raise ValueError("x86_64 backend: block does not end with an exit")
        asm.bind(budget_exit)
        self._leave_for(b.pc, n)
        for emit in self.out_of_line:
            emit()
        return Compiled(asm.finish(), self.sites, self.insns)

    def _to_epilogue(self) -> None:
        self.asm.jmp_rel32_to(self.rt.epilogue - self.addr)

    # -- operands ----------------------------------------------------------------------------------------
    def scratch_const(self, v: int) -> int:
        r = self.ra.alloc()
        self.asm.mov_imm(r, v)
        return r

    def src(self, v: int | str) -> int:
        """A register holding ``v`` (constants materialised into a scratch register)."""
        return self.scratch_const(v) if isinstance(v, int) else self.ra.reg(v)

    def dest_for(self, d: str, a: int | str) -> int:
        """A register initialised with ``a`` that will receive ``d``: ``a``'s own when ``a`` is ``d`` or
        a temp read for the last time, else a fresh copy."""
        ra = self.ra
        if isinstance(a, int):
            return self.scratch_const(a)
        if a == d:
            return ra.reg(a)
        r = ra.where.get(a)
        if r is not None and a[0] == "t" and ra.last.get(a) == ra.index:
            ra.locked.add(r)
            return r
        ra_reg = ra.reg(a)
        r = ra.alloc()
        self.asm.mov(r, ra_reg)
        return r

    def _keeps(self, d: str, a: int | str) -> bool:
        """Whether computing ``d`` from ``a`` must leave ``a``'s register as it is (``dest_for`` would
        copy it)."""
        if not isinstance(a, str) or a == d:
            return False
        return not (a[0] == "t" and a in self.ra.where and self.ra.last.get(a) == self.ra.index)

    def compare(self, a: int | str, b: int | str, cond: str) -> Cond:
        """Emit a compare of ``a`` with ``b``; return the x86 condition for ``a cond b``."""
        asm = self.asm
        if isinstance(a, int) and not isinstance(b, int):
            a, b = b, a
            table = _SWAPPED
        else:
            table = _COND
        ra = self.src(a)
        if isinstance(b, int) and fits32(b):
            if b == 0 and cond in ("eq", "ne"):
                asm.test(ra, ra)
            else:
                asm.cmp_imm(ra, as_imm32(b))
        else:
            asm.cmp(ra, self.src(b))
        return table[cond]

    def load(self, reg: int, v: int | str) -> None:
        """Put the value of ``v`` into ``reg``."""
        if isinstance(v, int):
            self.asm.mov_imm(reg, v)
        else:
            self.asm.mov(reg, self.ra.reg(v))

    # -- pure ops ----------------------------------------------------------------------------------------
    def op_const(self, d: str, value: int) -> None:
        r = self.ra.where.get(d)
        if r is None:
            r = self.ra.alloc()
        else:
            self.ra.locked.add(r)
        self.asm.mov_imm(r, value)
        self.ra.define(d, r)

    def op_mov(self, op: tuple) -> None:
        d, a = op[1], op[2]
        if isinstance(a, int):
            self.op_const(d, a)
            return
        if a == d:
            return
        ra = self.ra
        r = ra.where.get(a)
        if r is not None and a[0] == "t" and ra.last.get(a) == ra.index:
            ra.unbind(r)
            ra.define(d, r)
            return
        src = ra.reg(a)
        r = ra.where.get(d)
        if r is None or r in ra.locked:
            r = ra.alloc()
        ra.locked.add(r)
        self.asm.mov(r, src)
        ra.define(d, r)

    def op_alu(self, op: tuple) -> None:
        name, d, a, b = op
        asm = self.asm
        if name in ("add", "and", "or", "xor") and isinstance(a, int):
            a, b = b, a  # commutative: the constant second
        if name == "add" and isinstance(b, int) and fits32(b) and self._keeps(d, a):
            src = self.ra.reg(a)  # a stays live: one lea instead of a copy and an add
            r = self.ra.alloc()
            asm.lea(r, Mem(src, as_imm32(b)))
            self.ra.define(d, r)
            return
        r = self.dest_for(d, a)
        method, method_imm = _ALU[name]
        if isinstance(b, int):
            if fits32(b):
                getattr(asm, method_imm)(r, as_imm32(b))
            else:
                getattr(asm, method)(r, self.scratch_const(b))
        else:
            getattr(asm, method)(r, self.ra.reg(b))
        self.ra.define(d, r)

    def op_andc_orc(self, op: tuple) -> None:
        name, d, a, b = op
        asm = self.asm
        method = "and_" if name == "andc" else "or_"
        if isinstance(b, int):
            self.op_alu(("and" if name == "andc" else "or", d, a, b ^ MASK64))
            return
        t = self.ra.alloc()
        asm.mov(t, self.ra.reg(b))
        asm.not_(t)
        r = self.dest_for(d, a)
        getattr(asm, method)(r, t)
        self.ra.define(d, r)

    def op_xnor(self, op: tuple) -> None:
        _, d, a, b = op
        self.op_alu(("xor", d, a, b))
        r = self.ra.reg(d)
        self.asm.not_(r)
        self.ra.define(d, r)

    def op_mul(self, op: tuple) -> None:
        _, d, a, b = op
        if isinstance(a, int):
            a, b = b, a
        asm = self.asm
        if isinstance(b, int) and fits32(b):
            src = self.ra.reg(a)
            r = self.ra.alloc()
            asm.imul_imm(r, src, as_imm32(b))
        else:
            r = self.dest_for(d, a)
            asm.imul(r, self.src(b))
        self.ra.define(d, r)

    def op_shift(self, op: tuple) -> None:
        name, d, a, b = op
        self._shift(name, d, a, b, 64)

    def op_rot32(self, op: tuple) -> None:
        name, d, a, b = op
        self._shift("rotl" if name == "rotl32" else "rotr", d, a, b, 32)

    def _shift(self, name: str, d: str, a: int | str, b: int | str, size: int) -> None:
        asm, ra = self.asm, self.ra
        method = getattr(asm, _SHIFT[name])
        if isinstance(b, int):
            r = self.dest_for(d, a)
            count = b & (size - 1) if name in ("rotl", "rotr") else b
            if count:
                method(r, count, size)
            elif size == 32:
                asm.mov(r, r, 32)
        else:
            ra.take(RCX)
            asm.mov(RCX, ra.reg(b))
            r = self.dest_for(d, a)
            method(r, "cl", size)
            if size == 32:
                asm.mov(r, r, 32)
        ra.define(d, r)

    def op_mulh(self, op: tuple) -> None:
        name, d, a, b = op
        asm, ra = self.asm, self.ra
        ra.take(RAX)
        ra.take(RDX)
        bv = self.src(b)
        self.load(RAX, a)
        if name == "mulsh":
            asm.imul1(bv)
        else:
            asm.mul1(bv)
        if name == "mulsuh":  # signed a: subtract b from the unsigned high half when a < 0
            t = ra.alloc()
            self.load(t, a)
            asm.sar(t, 63)
            asm.and_(t, bv)
            asm.sub(RDX, t)
        ra.define(d, RDX)

    def op_div(self, op: tuple) -> None:
        name, d, a, b = op
        signed, rem = _DIV[name]
        if isinstance(b, int) and b == 0:
            if rem:
                self.op_mov(("mov", d, a))
            else:
                self.op_const(d, MASK64)
            return
        asm, ra = self.asm, self.ra
        ra.take(RAX)
        ra.take(RDX)
        bv = self.src(b)
        self.load(RAX, a)
        done, zero, normal = asm.label(), asm.label(), asm.label()
        asm.test(bv, bv)
        asm.jcc_short(Cond.E, zero)
        if signed:  # MIN / -1 overflows the host divide: quotient MIN, remainder 0
            asm.cmp_imm(bv, -1)
            asm.jcc_short(Cond.NE, normal)
            asm.mov(RDX, RAX)
            asm.neg(RDX)  # negation overflows only for MIN (then equal to itself)
            asm.cmp(RDX, RAX)
            asm.jcc_short(Cond.NE, normal)
            asm.mov_imm(RDX, 0, keep_flags=True)
            asm.jmp_short(done)
        asm.bind(normal)
        if signed:
            asm.cqo()
            asm.idiv1(bv)
        else:
            asm.mov_imm(RDX, 0, keep_flags=True)
            asm.div1(bv)
        asm.jmp_short(done)
        asm.bind(zero)
        if rem:
            asm.mov(RDX, RAX)
        else:
            asm.mov_imm(RAX, MASK64)
        asm.bind(done)
        ra.define(d, RDX if rem else RAX)

    def op_minmax(self, op: tuple) -> None:
        name, d, a, b = op
        bv = self.src(b)
        r = self.dest_for(d, a)
        self.asm.cmp(r, bv)
        self.asm.cmovcc(_MINMAX[name], r, bv)
        self.ra.define(d, r)

    def op_unary(self, op: tuple) -> None:
        name, d, a = op
        asm = self.asm
        if name in _BITCOUNT:
            src = self.ra.reg(a)
            r = self.ra.alloc()
            getattr(asm, _BITCOUNT[name])(r, src)
        elif name in _EXT:
            bits, signed = _EXT[name]
            src = self.ra.reg(a)
            r = self.ra.alloc()
            if signed:
                asm.movsx(r, src, bits)
            else:
                asm.movzx(r, src, bits)
        else:
            r = self.dest_for(d, a)
            if name == "neg":
                asm.neg(r)
            elif name == "not":
                asm.not_(r)
            elif name == "bswap64":
                asm.bswap(r)
            else:  # orcb: every nonzero byte becomes 0xff
                t = self.ra.alloc()
                k = self.scratch_const(0x7F7F7F7F7F7F7F7F)
                asm.mov(t, r)
                asm.and_(t, k)
                asm.add(t, k)
                asm.or_(t, r)
                asm.shr(t, 7)
                asm.mov_imm(k, 0x0101010101010101)
                asm.and_(t, k)
                asm.imul_imm(r, t, 0xFF)
        self.ra.define(d, r)

    def op_setcond(self, op: tuple) -> None:
        _, d, a, b, c = op
        if isinstance(a, int) and isinstance(b, int):
            self.op_const(d, int(eval_cond(c, a, b)))
            return
        ra = self.ra
        av = a if isinstance(a, int) else ra.reg(a)
        bv = b if isinstance(b, int) else ra.reg(b)
        r = ra.alloc()
        self.asm.mov_imm(r, 0)  # before the compare: may clear with xor
        cond = self.compare(a, b, c)
        self.asm.setcc(cond, r)
        del av, bv
        ra.define(d, r)

    def op_movcond(self, op: tuple) -> None:
        _, d, a, b, c, v, w = op
        if isinstance(a, int) and isinstance(b, int):
            self.op_mov(("mov", d, v if eval_cond(c, a, b) else w))
            return
        vv = self.src(v)
        r = self.dest_for(d, w)
        cond = self.compare(a, b, c)
        self.asm.cmovcc(cond, r, vv)
        self.ra.define(d, r)

    # -- control flow ------------------------------------------------------------------------------------
    def op_insn_start(self, op: tuple) -> None:
        self.k = self.insn_index.get(op[1], 0)
        self.insns.append((self.asm.pos(), op[1]))

    def op_set_label(self, op: tuple) -> None:
        lab = self._label(op[1])
        if self.reachable:
            self.ra.canonicalize()
        self.asm.bind(lab)
        self.ra.forget()
        self.ra.spill_valid = set(self.ra.spill)
        self.reachable = True

    def _label(self, n: int) -> Label:
        if n not in self.labels:
            self.labels[n] = self.asm.label()
        return self.labels[n]

    def op_br(self, op: tuple) -> None:
        self.ra.canonicalize()
        self.asm.jmp(self._label(op[1]))
        self.reachable = False

    def op_brcond(self, op: tuple) -> None:
        _, a, b, c, lab = op
        if isinstance(a, int) and isinstance(b, int):
            if eval_cond(c, a, b):
                self.op_br(("br", lab))
            return
        # materialise both operands before the compare (loading a constant may clear flags)
        if isinstance(a, str):
            self.ra.reg(a)
        if isinstance(b, str):
            self.ra.reg(b)
        cond = self.compare(a, b, c)
        self.ra.canonicalize()  # moves only: the flags survive
        self.asm.jcc(cond, self._label(lab))

    def op_exit(self, op: tuple) -> None:
        asm, ra = self.asm, self.ra
        target = op[1]
        if isinstance(target, int):
            ra.sync_globals()
            self._direct_exit(target)
        else:
            v = ra.reg(target)
            ra.sync_globals()
            asm.mov(RAX, v)
            asm.mov_imm(ctx(SITE), 0)
            asm.jmp_rel32_to(self.rt.lookup - self.addr)
        self.reachable = False
        ra.forget()

    def _direct_exit(self, pc: int) -> None:
        """A chainable jump: to a stub that returns ``pc`` to the exec loop with the jump's address, so
        that the loop can patch the jump to go straight to ``pc``'s code once it has some."""
        asm = self.asm
        lab = asm.label()
        site = asm.jmp(lab)
        self.sites[site] = pc

        # system mode chains only within a page: a jump to another one looks in the jump cache
        cross_page = self.rt.memory == "softmmu" and pc >> 12 != self.b.pc >> 12

        def emit() -> None:
            asm.bind(lab)
            asm.mov_imm(RCX, self.addr + site)
            asm.mov(ctx(SITE), RCX)
            asm.mov_imm(RAX, pc)
            if cross_page:
                asm.jmp_rel32_to(self.rt.lookup - self.addr)
            elif self.rt.memory == "softmmu":
                asm.jmp_rel32_to(self.rt.link - self.addr)
            else:
                self._to_epilogue()

        self.out_of_line.append(emit)

    def _leave_exception(self, code: Operand | None, pc: Operand, tval: Operand | None,
                         give_back: int) -> None:
        """Store the exception (``code``/``tval`` None: a callback stored them) and leave."""
        asm = self.asm
        for fld, v in ((EXC_CODE, code), (EXC_PC, pc), (EXC_TVAL, tval)):
            if v is None:
                continue
            if isinstance(v, Reg):
                asm.mov(ctx(fld), v.r)
            elif fits32(v):
                asm.mov_imm(ctx(fld), as_imm32(v))
            else:
                asm.mov_imm(RAX, v)
                asm.mov(ctx(fld), RAX)
        if code is not None:
            asm.mov_imm(ctx(FLAG), FLAG_GUEST)
        if give_back:
            asm.add_imm(ctx(BUDGET), give_back)
        asm.mov_imm(RAX, MASK64)
        self._to_epilogue()

    def _value_reg(self, v: int | str) -> Operand:
        return v if isinstance(v, int) else Reg(self.ra.reg(v))

    def op_exit_loop(self, op: tuple) -> None:
        pcv = self._value_reg(op[1])
        self.ra.sync_globals()
        self._leave_exception(MASK64, pcv, 0, 0)
        self.reachable = False
        self.ra.forget()

    def op_exit_exc(self, op: tuple) -> None:
        code = self._value_reg(op[1])
        pcv = self._value_reg(op[2])
        tval = self._value_reg(op[3] if len(op) > 3 else 0)
        self.ra.sync_globals()
        self._leave_exception(code, pcv, tval, self.b.n_insns - self.k)
        self.reachable = False
        self.ra.forget()

    def _exception_stub(self) -> Label:
        """Where to go when a callback of the current instruction reported a guest exception (the
        callback stored its code and tval; guest state is already at home)."""
        k = self.k
        if k not in self.exc_stubs:
            asm = self.asm
            lab = self.exc_stubs[k] = asm.label()
            pc = self.insn_pcs[k]
            give_back = self.b.n_insns - k

            def emit() -> None:
                asm.bind(lab)
                self._leave_exception(None, pc, None, give_back)

            self.out_of_line.append(emit)
        return self.exc_stubs[k]

    def _check_exception(self) -> None:
        self.asm.cmp_imm(ctx(FLAG), 0)
        self.asm.jcc(Cond.NE, self._exception_stub())

    # -- helper calls --------------------------------------------------------------------------------------
    def op_call(self, op: tuple) -> None:
        d, h, args = op[1], op[2], op[3:]
        inline = fpu.intrinsic(h)
        if inline is not None and inline(self, op):
            return
        asm, ra = self.asm, self.ra
        ra.spill_for_call()
        # every argument is now at home (or a constant): copy the ones only in registers to scratch
        sources: list[int | Mem] = []
        for v in args:
            if isinstance(v, int):
                sources.append(v)
            elif v[0] != "t":
                sources.append(ra.global_mem(v))
            elif v in ra.where and v not in ra.spill_valid:
                sources.append(ra.where[v])
            else:  # in its slot (or never defined on the way here: any value will do)
                sources.append(ra.slot_mem(v))
        scratch: list[int | Mem] = []
        for j, s in enumerate(sources):
            if isinstance(s, int) and not isinstance(args[j], int):  # a register
                m = Mem(RSP, SCRATCH + 8 * j)
                asm.mov(m, s)
                scratch.append(m)
            else:
                scratch.append(s)
        self._call(self.rt.callback(h, len(args)), scratch, [isinstance(a, int) for a in args])
        ra.forget(CALLER_SAVED)
        written = set(self.slots) if "*" in h.writes else set(h.writes)
        if h.accumulate:
            written.add(h.accumulate)
        ra.forget_globals(written & set(self.slots))
        self._check_exception()
        if d is not None:
            ra.locked.add(RAX)
            ra.define(d, RAX)

    def _call(self, fn: int, sources: list[int | Mem], is_const: list[bool]) -> None:
        """Call ``fn(ctx, *args)``; every source is a constant or a memory operand (no register holds
        anything that must survive in a caller-saved register)."""
        asm = self.asm
        stack = list(range(len(ARG_REGS), len(sources)))
        pad = 8 if len(stack) % 2 else 0
        if pad:
            asm.sub_imm(RSP, 8)
        pushed = pad
        for j in reversed(stack):
            self._load(RAX, sources[j], is_const[j], pushed)
            asm.push(RAX)
            pushed += 8
        for j, reg in zip(range(min(len(sources), len(ARG_REGS))), ARG_REGS, strict=False):
            self._load(reg, sources[j], is_const[j], pushed)
        asm.mov(RDI, R14)
        asm.mov_imm(RAX, fn)
        asm.call_reg(RAX)
        if pushed:
            asm.add_imm(RSP, pushed)

    def _load(self, reg: int, src: int | Mem, const: bool, rsp_delta: int) -> None:
        if const:
            self.asm.mov_imm(reg, src)  # type: ignore[arg-type]
        elif isinstance(src, Mem) and src.base == RSP:
            self.asm.mov(reg, Mem(RSP, src.disp + rsp_delta))
        else:
            self.asm.mov(reg, src)

    # -- guest memory ------------------------------------------------------------------------------------
    def _fast_path(self, t: int, a: int, size: int, write: bool, slow: Label) -> Mem:
        """The inline test that the access of ``size`` bytes at guest address ``a`` may go straight to
        host memory (else to ``slow``); returns the host operand.  Clobbers ``t`` (and may use it in
        the operand)."""
        asm = self.asm
        asm.mov(t, a)
        asm.shr(t, 12)
        if self.rt.memory == "user":  # below the top of the address space, the page open in RP/WP
            asm.cmp(t, ctx(NPAGES))
            asm.jcc(Cond.AE, slow)
            asm.add(t, ctx(WP if write else RP))
            asm.cmp_imm(Mem(t, 0), 0, 8)
            asm.jcc(Cond.E, slow)
            host = Mem(RBX, 0, a, 1)
            self._in_page(t, a, size, slow)
            return host
        # softmmu: the TLB entry of the page holds its page number for reads / writes, and the addend
        e = self.ra.alloc()
        asm.mov(e, t, 32)
        asm.and_imm(e, (1 << self.rt.tlb_bits) - 1, 32)
        asm.shl(e, 5, 32)
        asm.add(e, ctx(TLB))
        asm.cmp(Mem(e, 8 if write else 0), t)
        asm.jcc(Cond.NE, slow)
        self._in_page(t, a, size, slow)
        asm.mov(t, Mem(e, 16))
        return Mem(t, 0, a, 1)

    def _in_page(self, t: int, a: int, size: int, slow: Label) -> None:
        """Multi-byte accesses must not run into the next page, which the test did not cover."""
        if size > 1:
            asm = self.asm
            asm.mov(t, a, 32)
            asm.and_imm(t, 0xFFF, 32)
            asm.cmp_imm(t, 4096 - size, 32)
            asm.jcc(Cond.A, slow)

    def slow_frame(self, keep: int | None) -> SlowFrame:
        """The frame of an out-of-line call from here (see :class:`SlowFrame`); ``keep``: a register the
        call's result goes to, not to be restored."""
        ra = self.ra
        saved = [r for r in ra.occupied(CALLER_SAVED) if r != keep]
        return SlowFrame(ra.dirty_pairs(), saved, self._exception_stub())

    def enter_slow(self, frame: SlowFrame) -> None:
        """Out of line, before loading the call's arguments: guest state home, live registers saved."""
        for r, g in frame.writeback:
            self.asm.mov(self.ra.global_mem(g), r)
        self._push_all(frame.saved)

    def call_out(self, fn: int, frame: SlowFrame) -> None:
        """Call ``fn(ctx, ...)`` (arguments 1.. already in place); leave for the exception stub if it
        reported a guest fault.  The result is in rax."""
        asm = self.asm
        asm.mov(RDI, R14)
        asm.mov_imm(RAX, fn)
        asm.call_reg(RAX)
        asm.cmp_imm(ctx(FLAG), 0)
        asm.jcc(Cond.NE, frame.exc)

    def leave_slow(self, frame: SlowFrame) -> None:
        self._pop_all(frame.saved)

    def op_ld(self, op: tuple) -> None:
        _, d, addr, memop = op
        asm, ra = self.asm, self.ra
        size = 1 << (memop & 3)
        a = self.src(addr)
        t = ra.alloc()
        slow, done = asm.label(), asm.label()
        # the load of an atomic read-modify-write must be allowed to store (system mode)
        m = self._fast_path(t, a, size, bool(memop & RMW) and self.rt.memory == "softmmu", slow)
        if size == 8:
            asm.mov(t, m)
        elif memop & SIGN:
            asm.movsx(t, m, 8 * size)
        else:
            asm.movzx(t, m, 8 * size)
        asm.bind(done)
        frame = self.slow_frame(t)

        def emit() -> None:
            asm.bind(slow)
            self.enter_slow(frame)
            asm.mov(RSI, a)
            asm.mov_imm(RDX, memop)
            self.call_out(self.rt.load_slow, frame)
            asm.mov(t, RAX)
            self.leave_slow(frame)
            asm.jmp(done)

        self.out_of_line.append(emit)
        ra.define(d, t)

    def _push_all(self, regs: list[int]) -> None:
        for r in regs:
            self.asm.push(r)
        if len(regs) % 2:
            self.asm.sub_imm(RSP, 8)

    def _pop_all(self, regs: list[int]) -> None:
        if len(regs) % 2:
            self.asm.add_imm(RSP, 8)
        for r in reversed(regs):
            self.asm.pop(r)

    def _st(self, op: tuple, deferred: bool) -> None:
        _, v, addr, memop = op
        asm, ra = self.asm, self.ra
        size = 1 << (memop & 3)
        a = self.src(addr)
        val: int | None = None
        if isinstance(v, int):
            v &= (1 << 8 * size) - 1
            if size == 8 and not fits32(v):
                val = self.scratch_const(v)
        else:
            val = ra.reg(v)
        t = ra.alloc()
        slow, done = asm.label(), asm.label()
        m = self._fast_path(t, a, size, True, slow)
        if val is None:
            asm.mov_imm(m, as_imm32(v) if size == 8 else v, 8 * size)  # type: ignore[arg-type]
        else:
            asm.mov(m, val, 8 * size)
        asm.bind(done)
        frame = self.slow_frame(None)
        next_insn = self._next_insn()
        const_value = v if val is None else None

        def emit() -> None:
            asm.bind(slow)
            self.enter_slow(frame)
            if const_value is None:
                asm.push(val)
                asm.push(a)
                asm.pop(RSI)
                asm.pop(RDX)
            else:
                asm.mov(RSI, a)
                asm.mov_imm(RDX, const_value)
            asm.mov_imm(RCX, memop)
            self.call_out(self.rt.store_slow, frame)
            asm.test(RAX, RAX)
            if deferred:
                asm.jcc_short(Cond.E, skip := asm.label())
                asm.mov_imm(ctx(SMC), 1)
                asm.bind(skip)
                self.leave_slow(frame)
                asm.jmp(done)
            else:
                leave = asm.label()
                asm.jcc_short(Cond.NE, leave)
                self.leave_slow(frame)
                asm.jmp(done)
                asm.bind(leave)  # the store hit translated code: leave after this instruction
                self._leave_for(*next_insn)

        self.out_of_line.append(emit)
        if deferred:
            self.smc_pending = True

    def _smc_check(self) -> None:
        """At the end of an instruction whose store may have hit translated code: leave if it did."""
        asm = self.asm
        self.smc_pending = False
        next_insn = self._next_insn()
        writeback = self.ra.dirty_pairs() if self.reachable else []
        lab = asm.label()
        asm.cmp_imm(ctx(SMC), 0)
        asm.jcc(Cond.NE, lab)

        def emit() -> None:
            asm.bind(lab)
            for r, g in writeback:
                asm.mov(self.ra.global_mem(g), r)
            asm.mov_imm(ctx(SMC), 0)
            self._leave_for(*next_insn)

        self.out_of_line.append(emit)

    def _next_insn(self) -> tuple[int, int]:
        """(pc of the instruction after the current one, instructions of the block not run by then)."""
        k = self.k
        next_pc = self.insn_pcs[k + 1] if k + 1 < len(self.insn_pcs) else self.b.pc + self.b.size
        return next_pc, self.b.n_insns - (k + 1)

    def _leave_for(self, pc: int, give_back: int) -> None:
        """Return ``pc`` to the exec loop (not chained), giving back the budget of what was not run."""
        asm = self.asm
        if give_back:
            asm.add_imm(ctx(BUDGET), give_back)
        asm.mov_imm(ctx(SITE), 0)
        asm.mov_imm(RAX, pc)
        self._to_epilogue()


def _deferred_stores(ops: list[tuple]) -> list[bool]:
    from ...backend_python import deferred_stores

    return deferred_stores(ops)


_HANDLERS: dict[str, Callable[[BlockCompiler, tuple], None]] = {
    "mov": BlockCompiler.op_mov,
    **{n: BlockCompiler.op_alu for n in _ALU},
    "andc": BlockCompiler.op_andc_orc, "orc": BlockCompiler.op_andc_orc, "xnor": BlockCompiler.op_xnor,
    "mul": BlockCompiler.op_mul,
    **{n: BlockCompiler.op_shift for n in _SHIFT},
    "rotl32": BlockCompiler.op_rot32, "rotr32": BlockCompiler.op_rot32,
    "mulsh": BlockCompiler.op_mulh, "muluh": BlockCompiler.op_mulh, "mulsuh": BlockCompiler.op_mulh,
    **{n: BlockCompiler.op_div for n in _DIV},
    **{n: BlockCompiler.op_minmax for n in _MINMAX},
    **{n: BlockCompiler.op_unary for n in ("neg", "not", "clz", "ctz", "cpop", "bswap64", "orcb", *_EXT)},
    "setcond": BlockCompiler.op_setcond, "movcond": BlockCompiler.op_movcond,
    "ld": BlockCompiler.op_ld, "call": BlockCompiler.op_call,
    "insn_start": BlockCompiler.op_insn_start, "set_label": BlockCompiler.op_set_label,
    "br": BlockCompiler.op_br, "brcond": BlockCompiler.op_brcond,
    "exit": BlockCompiler.op_exit, "exit_loop": BlockCompiler.op_exit_loop,
    "exit_exc": BlockCompiler.op_exit_exc,
}
