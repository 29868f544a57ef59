"""The python backend: IR -> Python source -> code object (the portable reference backend).

A *region* is a set of translation blocks compiled into one Python function.  Guest registers live in
Python locals for the whole region: they are loaded from the CPU state buffer on entry and written back
on exit.  Control moves between member blocks through a small ``pc`` switch inside a ``while`` loop, so
a hot loop runs without returning to the dispatcher; exits to non-members return the next guest pc.

Generated function: ``region(cpu, R, pc) -> next_pc`` where ``R`` is the vCPU's state buffer viewed as
unsigned 64-bit slots.  It returns -1 when it left with a guest exception, which it stores as
``cpu.exception = (code, pc, tval)``; the guest pc is exact (a line -> pc table maps the Python line that
raised back to the guest instruction).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .ir import FOLD, MASK64, NEGATE_COND, SIGN, Block, Helper, is_temp

S64 = 1 << 63
#: instructions a region may run before it returns to the exec loop (signals, other vCPUs, icount)
BUDGET = 1 << 18
#: blocks of a region tested one by one (hottest first) before the binary search over the others
HOT_LINEAR = 4

_counter = itertools.count()


class GuestFault(Exception):
    """Raised by slow paths and helpers: guest exception ``code`` with trap value ``tval``.

    The pc is filled in by the region's handler from its line table.
    """

    def __init__(self, code: int, tval: int = 0):
        super().__init__(code, tval)
        self.code = code
        self.tval = tval


class MemoryModel(Protocol):
    """How generated code reaches guest memory (user-mode flat mapping, or softmmu)."""

    def namespace(self) -> dict[str, Any]: ...
    def load(self, dest: str, addr: str, memop: int) -> str: ...
    def store(self, value: str, addr: str, memop: int) -> tuple[str, str, str]: ...
    def entry_lines(self) -> list[str]: ...


@dataclass
class CompiledRegion:
    fn: Callable[..., int]
    source: str
    pcs: tuple[int, ...]


def _lit(v: int | str) -> str:
    if isinstance(v, int):
        return str(v) if v < 10 else hex(v)
    return v


def _cond(c: str, a: int | str, b: int | str) -> str:
    if c in ("eq", "ne", "ltu", "geu"):
        sym = {"eq": "==", "ne": "!=", "ltu": "<", "geu": ">="}[c]
        return f"{_lit(a)} {sym} {_lit(b)}"
    if b == 0:
        return f"{_lit(a)} >= {hex(S64)}" if c == "lt" else f"{_lit(a)} < {hex(S64)}"
    sym = "<" if c == "lt" else ">="
    sa = hex(a ^ S64) if isinstance(a, int) else f"({a} ^ {hex(S64)})"
    sb = hex(b ^ S64) if isinstance(b, int) else f"({b} ^ {hex(S64)})"
    return f"{sa} {sym} {sb}"


def _signed(a: int | str) -> str:
    if isinstance(a, int):
        return str(a - (1 << 64) if a >> 63 else a)
    return f"(({a} ^ {hex(S64)}) - {hex(S64)})"


#: ops that read each operand once in the generated code (a temp may be folded into them)
FOLD_ONCE = frozenset(FOLD) - {"min", "max", "minu", "maxu", "rotl", "rotr"}
_ONCE_CONSUMERS = frozenset({"setcond", "movcond", "brcond", "exit", "exit_loop", "call"})
PURE_WRITERS = frozenset(FOLD) | {"setcond", "movcond"}

_FN_OPS = {"divs": "DIVS", "divu": "DIVU", "rems": "REMS", "remu": "REMU", "rotl32": "ROTL32",
           "rotr32": "ROTR32", "bswap64": "BSWAP", "orcb": "ORCB", "ctz": "CTZ"}


_UNMASKED = {"add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "shl": "{a} << {b}"}
#: ops whose result depends only on the low 32 bits of their first operand
_LOW32_CONSUMERS = frozenset({"ext32s", "ext32u", "ext16s", "ext16u", "ext8s", "ext8u"})


def _expr(name: str, a: int | str, b: int | str | None = None, addr_only: bool = False,
          low_only: bool = False) -> str:
    """Python expression computing pure op ``name`` on operands (values are unsigned 64-bit).

    ``addr_only``: the result only feeds memory addresses; ``low_only``: only its low 32 bits are used.
    Either way the wrap to 64 bits can be skipped.
    """
    la = _lit(a)
    lb = _lit(b) if b is not None else ""
    if low_only and name in _UNMASKED:
        return _UNMASKED[name].format(a=la, b=lb)
    if name == "add":
        if isinstance(b, int) and b >> 63:
            e = f"{la} - {hex((1 << 64) - b)}"
            return e if addr_only else f"({e}) & M"
        return f"{la} + {lb}" if addr_only else f"({la} + {lb}) & M"
    simple = {
        "mov": f"{la}",
        "sub": f"({la} - {lb}) & M",
        "mul": f"({la} * {lb}) & M",
        "and": f"{la} & {lb}",
        "or": f"{la} | {lb}",
        "xor": f"{la} ^ {lb}",
        "andc": f"{la} & {hex(b ^ MASK64)}" if isinstance(b, int) else f"{la} & ({lb} ^ M)",
        "orc": f"{la} | {hex(b ^ MASK64)}" if isinstance(b, int) else f"{la} | ({lb} ^ M)",
        "xnor": f"{la} ^ {lb} ^ M",
        "shl": f"({la} << {lb}) & M",
        "shr": f"{la} >> {lb}",
        "sar": f"({_signed(a)} >> {lb}) & M",
        "muluh": f"({la} * {lb}) >> 64",
        "mulsh": f"(({_signed(a)} * {_signed(b)}) >> 64) & M",
        "mulsuh": f"(({_signed(a)} * {lb}) >> 64) & M",
        "minu": f"{la} if {la} < {lb} else {lb}",
        "maxu": f"{la} if {la} > {lb} else {lb}",
        "min": f"{la} if {_cond('lt', a, b)} else {lb}",
        "max": f"{lb} if {_cond('lt', a, b)} else {la}",
        "neg": f"-{la} & M",
        "not": f"{la} ^ M",
        "clz": f"64 - ({la}).bit_length()",
        "cpop": f"({la}).bit_count()",
        "ext8u": f"{la} & 0xff",
        "ext16u": f"{la} & 0xffff",
        "ext32u": f"{la} & 0xffffffff",
        "ext8s": f"_u if (_u := {la} & 0xff) < 0x80 else _u | 0xffffffffffffff00",
        "ext16s": f"_u if (_u := {la} & 0xffff) < 0x8000 else _u | 0xffffffffffff0000",
        "ext32s": f"_u if (_u := {la} & 0xffffffff) < 0x80000000 else _u | 0xffffffff00000000",
    }
    if name in simple:
        return simple[name]
    if name in ("rotl", "rotr") and isinstance(b, int):
        n = b & 63 if name == "rotl" else (64 - b) & 63
        return la if n == 0 else f"(({la} << {n}) | ({la} >> {64 - n})) & M"
    if name in ("rotl", "rotr"):
        return f"{name.upper()}({la}, {lb})"
    fn = _FN_OPS[name]
    return f"{fn}({la}, {lb})" if b is not None else f"{fn}({la})"


def _rotl(a: int, b: int) -> int:
    return FOLD["rotl"](a, b & 63)


def _rotr(a: int, b: int) -> int:
    return FOLD["rotr"](a, b & 63)


RUNTIME: dict[str, Any] = {
    "M": MASK64,
    "DIVS": FOLD["divs"], "DIVU": FOLD["divu"], "REMS": FOLD["rems"], "REMU": FOLD["remu"],
    "ROTL32": FOLD["rotl32"], "ROTR32": FOLD["rotr32"], "BSWAP": FOLD["bswap64"],
    "ORCB": FOLD["orcb"], "CTZ": FOLD["ctz"], "ROTL": _rotl, "ROTR": _rotr,
}


def struct_accessors() -> dict[str, Any]:
    """Names generated memory fast paths use: ``U8``..``U64`` / ``S8``..``S64`` (unsigned / signed
    little-endian ``unpack_from``) and ``P8``..``P64`` (``pack_into``)."""
    ns: dict[str, Any] = {}
    for size, (u, s) in enumerate((("B", "b"), ("H", "h"), ("I", "i"), ("Q", "q"))):
        bits = 8 << size
        ns[f"U{bits}"] = struct.Struct("<" + u).unpack_from
        ns[f"S{bits}"] = struct.Struct("<" + s).unpack_from
        ns[f"P{bits}"] = struct.Struct("<" + u).pack_into
    return ns


def in_page(addr: str, memop: int) -> str:
    """Fast-path condition (to append to a page lookup) that an access at ``addr`` does not run into
    the next page, which the lookup did not check."""
    size = 1 << (memop & 3)
    return "" if size == 1 else f" and {addr} & 0xfff <= {4096 - size}"


_NOT_WORK = frozenset({"set_label", "br", "exit", "exit_loop", "exit_exc"})


def deferred_stores(ops: list[tuple]) -> list[bool]:
    """For each ``st`` of a block, in order: whether its guest instruction does more after it (a
    second store, a base register writeback).  A store that hits translated code makes the block leave
    at the end of its instruction: such a store only notes the hit, and the check for it follows the
    instruction's last op."""
    out = []
    for i, op in enumerate(ops):
        if op[0] == "st":
            more = False
            for later in ops[i + 1:]:
                if later[0] == "insn_start":
                    break
                if later[0] not in _NOT_WORK:
                    more = True
                    break
            out.append(more)
    return out


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.linepc: dict[int, tuple[int, int]] = {}
        self.cur: tuple[int, int] = (0, 0)
        self.leave = False  # the region reports the pcs it leaves for (LEAVE)

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)
        # +1: line numbers are 1-based
        self.linepc[len(self.lines)] = self.cur


class PythonBackend:
    """Compiles regions of IR blocks into Python functions."""

    name = "python"

    def __init__(self, slots: dict[str, int], memory: MemoryModel, *, icount_slot: int, budget: int = BUDGET):
        self.slots = slots
        self.memory = memory
        self.icount_slot = icount_slot
        self.budget = budget  # instructions a region runs before it returns to the exec loop

    def wants_flush(self) -> bool:
        """Whether the TB cache should flush before compiling more (never: compiled regions are
        ordinary Python objects)."""
        return False

    def flush(self) -> None:
        """Forget compiled code (nothing to do: the TB cache drops its references)."""

    def invalidate(self, keys: list[Any]) -> None:
        """Forget the blocks of ``keys`` (nothing to do: regions are dropped by the TB cache)."""

    # -- analysis ----------------------------------------------------------------------------------
    @staticmethod
    def _globals_used(blocks: list[Block], slots: dict[str, int]) -> tuple[set[str], set[str]]:
        read: set[str] = set()
        written: set[str] = set()
        for b in blocks:
            for op in b.ops:
                for v in op[1:]:
                    if isinstance(v, str) and v in slots:
                        read.add(v)
                if op[0] == "call":
                    h: Helper = op[2]
                    if op[1] in slots:
                        written.add(op[1])
                    if h.accumulate:
                        read.add(h.accumulate)
                        written.add(h.accumulate)
                    read |= _helper_globals(h, slots, h.reads + h.writes)
                    written |= _helper_globals(h, slots, h.writes)
                elif op[0] not in ("st", "brcond", "exit", "exit_loop", "exit_exc", "insn_start", "br",
                                   "set_label") and len(op) > 1 and op[1] in slots:
                    written.add(op[1])
        return read | written, written

    @staticmethod
    def _addr_only_temps(block: Block) -> set[str]:
        """Temps defined by ``add`` and used only as load/store addresses (no 64-bit wrap needed:
        out-of-range values take the memory slow path, which wraps)."""
        uses: dict[str, list[str]] = {}
        for op in block.ops:
            name = op[0]
            if name == "ld":
                if is_temp(op[2]):
                    uses.setdefault(op[2], []).append("addr")
                continue
            if name == "st":
                if is_temp(op[2]):
                    uses.setdefault(op[2], []).append("addr")
                if is_temp(op[1]):
                    uses.setdefault(op[1], []).append("val")
                continue
            for v in op[1:] if name not in ("set_label", "br") else ():
                if is_temp(v):
                    uses.setdefault(v, []).append("other")
        defs = {op[1] for op in block.ops if op[0] == "add"}
        return {t for t, u in uses.items() if t in defs and all(x == "addr" for x in u)}

    @staticmethod
    def _low_only_temps(block: Block) -> set[str]:
        """Temps consumed only by ops that look at their low 32 bits (sign/zero extensions)."""
        consumers: dict[str, set[str]] = {}
        for op in block.ops:
            name = op[0]
            if name in ("set_label", "br", "insn_start"):
                continue
            srcs = op[2:] if name in FOLD or name in ("setcond", "movcond", "ld") else op[1:]
            for pos, v in enumerate(srcs):
                if is_temp(v):
                    ok = name in _LOW32_CONSUMERS and pos == 0
                    consumers.setdefault(v, set()).add("low" if ok else "other")
        return {t for t, c in consumers.items() if c == {"low"}}

    @staticmethod
    def _inlinable_temps(block: Block) -> set[str]:
        """Temps worth folding into the expression of their single consumer.

        A temp qualifies when a pure op defines it, exactly one later op in the same straight-line
        stretch (no label in between) uses it in a place the generated code evaluates once, and none
        of its sources is redefined in between.  Saves a store and a load of a Python local per op.
        """
        ops = block.ops
        defs: dict[str, int] = {}
        uses: dict[str, list[int]] = {}
        for i, op in enumerate(ops):
            name = op[0]
            if name in ("set_label", "br", "insn_start"):
                continue
            if name in FOLD or name in ("setcond", "movcond"):
                if is_temp(op[1]):
                    defs[op[1]] = i
                srcs = op[2:]
            elif name == "call":
                srcs = op[3:]
            else:
                srcs = op[1:]
            for v in srcs:
                if is_temp(v):
                    uses.setdefault(v, []).append(i)
        result: set[str] = set()
        reads: dict[str, set[str]] = {}  # temp -> every name its (inlined) expression reads
        for t, d in sorted(defs.items(), key=lambda item: item[1]):  # in order of (last) definition
            srcs: set[str] = set()
            for v in ops[d][2:]:
                if isinstance(v, str):
                    srcs |= reads[v] if v in result else {v}
            reads[t] = srcs
            u = uses.get(t, [])
            if len(u) != 1 or u[0] <= d:
                continue
            user = ops[u[0]]
            if user[0] not in _ONCE_CONSUMERS and user[0] not in FOLD_ONCE:
                continue
            if any(_clobbers(o, srcs) or o[0] in ("set_label", "brcond", "br") for o in ops[d + 1:u[0]]):
                continue
            result.add(t)
        return result

    # -- code generation ---------------------------------------------------------------------------
    def compile_region(self, blocks: list[Block], on_leave: Callable[[int], None] | None = None,
                       keys: list[Any] | None = None) -> CompiledRegion:
        """Compile ``blocks`` (hottest first) into one function.  ``on_leave(pc)`` is called whenever
        the region leaves for a pc that is not one of its blocks.  (``keys``, the blocks' cache keys,
        matter to backends that keep code per block.)"""
        slots = self.slots
        members = {b.pc for b in blocks}
        used, written = self._globals_used(blocks, slots)
        ns: dict[str, Any] = dict(RUNTIME)
        ns.update(self.memory.namespace())
        if on_leave is not None:
            ns["LEAVE"] = on_leave
        helpers: dict[int, str] = {}
        em = _Emitter()
        em.leave = on_leave is not None
        params = ", ".join(f"{k}={k}" for k in sorted(ns) if k != "M")
        em.add(0, f"def region(cpu, R, pc, {params}, M=M):")
        for line in self.memory.entry_lines():
            em.add(1, line)
        for g in sorted(used, key=lambda n: slots[n]):
            em.add(1, f"{g} = R[{slots[g]}]")
        em.add(1, "ic = 0")
        if any(any(deferred_stores(b.ops)) for b in blocks):
            em.add(1, "_smc = 0")  # set by a store that hit translated code before its insn's end
        em.add(1, "try:")
        em.add(2, "while True:")
        # the hottest blocks are tested first; the rest through a binary search on pc
        hot, rest = blocks[:HOT_LINEAR], sorted(blocks[HOT_LINEAR:], key=lambda b: b.pc)
        for i, b in enumerate(hot):
            em.cur = (b.pc, 0)
            em.add(3, f"{'if' if i == 0 else 'elif'} pc == {hex(b.pc)}:")
            self._emit_block(em, b, members, helpers, ns, 4)
        if rest:
            em.add(3, "else:")
            self._emit_dispatch(em, rest, members, helpers, ns, 4)
        else:
            em.add(3, "else:")
            self._emit_leave(em, 4)
        em.add(1, "except GuestFault as e:")
        em.add(2, "pc, n = LINEPC[e.__traceback__.tb_lineno]")
        em.add(2, "ic += n")
        em.add(2, "cpu.exception = (e.code, pc, e.tval)")
        em.add(2, "pc = -1")
        for g in sorted(written, key=lambda n: slots[n]):
            em.add(1, f"R[{slots[g]}] = {g}")
        em.add(1, f"R[{self.icount_slot}] += ic")
        em.add(1, "return pc")
        source = "\n".join(em.lines) + "\n"
        ns["LINEPC"] = em.linepc
        ns["GuestFault"] = GuestFault
        filename = f"<region {blocks[0].pc:#x} #{next(_counter)}>"
        code = compile(source, filename, "exec")
        exec(code, ns)
        return CompiledRegion(ns["region"], source, tuple(b.pc for b in blocks))

    def _emit_leave(self, em: _Emitter, ind: int) -> None:
        if em.leave:
            em.add(ind, "LEAVE(pc)")
        em.add(ind, "break")

    def _emit_dispatch(self, em: _Emitter, blocks: list[Block], members: set[int], helpers: dict[int, str],
                       ns: dict[str, Any], ind: int) -> None:
        """Emit a pc switch over ``blocks`` (sorted by pc): a binary search down to short chains."""
        if len(blocks) <= 3:
            for i, b in enumerate(blocks):
                em.cur = (b.pc, 0)
                em.add(ind, f"{'if' if i == 0 else 'elif'} pc == {hex(b.pc)}:")
                self._emit_block(em, b, members, helpers, ns, ind + 1)
            em.add(ind, "else:")
            self._emit_leave(em, ind + 1)
            return
        mid = len(blocks) // 2
        em.add(ind, f"if pc < {hex(blocks[mid].pc)}:")
        self._emit_dispatch(em, blocks[:mid], members, helpers, ns, ind + 1)
        em.add(ind, "else:")
        self._emit_dispatch(em, blocks[mid:], members, helpers, ns, ind + 1)

    def _emit_block(self, em: _Emitter, b: Block, members: set[int], helpers: dict[int, str],
                    ns: dict[str, Any], ind: int) -> None:
        """Emit one block.  Forward branches become nested ``if``s when they nest (the shapes
        translators produce); any other shape is emitted with one skip flag per label."""
        mark = (len(em.lines), em.cur)
        ctx = _BlockContext(self, em, b, members, helpers, ns)
        if not ctx.emit_structured(ind):
            del em.lines[mark[0]:]
            for line in [n for n in em.linepc if n > mark[0]]:
                del em.linepc[line]
            em.cur = mark[1]
            _BlockContext(self, em, b, members, helpers, ns).emit_with_flags(ind)


class _Unstructured(Exception):
    """The block's branches do not nest: emit it with skip flags instead."""


class _BlockContext:
    """Code generation state for one block."""

    def __init__(self, backend: PythonBackend, em: _Emitter, b: Block, members: set[int],
                 helpers: dict[int, str], ns: dict[str, Any]):
        self.backend = backend
        self.em = em
        self.b = b
        self.members = members
        self.helpers = helpers
        self.ns = ns
        self.addr_only = backend._addr_only_temps(b)
        self.low_only = backend._low_only_temps(b)
        self.inlinable = backend._inlinable_temps(b)
        self.inline: dict[str, str] = {}
        self.insn_pcs = [pc for pc, _ in b.guest_insns] + [b.pc + b.size]
        self.insn_index = {pc: i for i, pc in enumerate(self.insn_pcs)}
        self.deferred = iter(deferred_stores(b.ops))
        self.smc_check: tuple[int, int] | None = None  # (next pc, insns done) after a deferred store

    def operand(self, v: int | str) -> int | str:
        return self.inline.pop(v) if isinstance(v, str) and v in self.inline else v

    # -- control-flow shapes ---------------------------------------------------------------------
    def emit_structured(self, ind: int) -> bool:
        em, ops = self.em, self.b.ops
        labels: list[int] = []
        if not ops:
            em.add(ind, "pass")
        try:
            for k, op in enumerate(ops):
                name = op[0]
                if name == "set_label":
                    if op[1] in labels and labels[-1] != op[1]:
                        raise _Unstructured
                    while labels and labels[-1] == op[1]:  # several branches may share a label
                        labels.pop()
                        self._close(ind)
                        ind -= 1
                elif name == "br":
                    nxt = ops[k + 1] if k + 1 < len(ops) else None
                    if nxt and nxt[0] == "set_label" and nxt[1] == op[1]:
                        continue  # a jump to the very next op (left by branch folding)
                    # the if/else shape: "brcond L1; A; br L2; set_label L1; B; set_label L2"
                    if not (nxt and nxt[0] == "set_label" and labels and labels[-1] == nxt[1]
                            and labels.count(nxt[1]) == 1):
                        raise _Unstructured
                    self._close(ind)
                    labels[-1] = op[1]
                    em.add(ind - 1, "else:")
                elif name == "brcond":
                    cond = _cond(NEGATE_COND[op[3]], self.operand(op[1]), self.operand(op[2]))
                    em.add(ind, f"if {cond}:")
                    labels.append(op[4])
                    ind += 1
                else:
                    self.emit_op(op, ind)
        except _Unstructured:
            return False
        if labels:
            return False
        return True

    def _close(self, ind: int) -> None:
        """Before leaving an indented body: Python needs at least one statement in it."""
        last = self.em.lines[-1].strip()
        if last.endswith(":") and (last.startswith(("if ", "elif ")) or last == "else:"):
            self.em.add(ind, "pass")

    def emit_with_flags(self, ind: int) -> None:
        """Any forward-branch shape: ``_jL`` is set when a branch to label L is taken; every op sits
        under a guard that none of the labels still ahead of it is being jumped to."""
        em, ops = self.em, self.b.ops
        all_labels = sorted({op[1] for op in ops if op[0] in ("br", "set_label")}
                            | {op[4] for op in ops if op[0] == "brcond"})
        em.add(ind, "; ".join(f"_j{lab} = 0" for lab in all_labels) or "pass")
        pending: set[int] = set()
        for op in ops:
            name = op[0]
            if name == "set_label":
                pending.discard(op[1])
                continue
            if name == "insn_start":
                self.emit_op(op, ind)
                continue
            body = ind
            if pending:
                em.add(ind, f"if not ({' or '.join(f'_j{lab}' for lab in sorted(pending))}):")
                body = ind + 1
            if name == "brcond":
                em.add(body, f"if {_cond(op[3], self.operand(op[1]), self.operand(op[2]))}:")
                em.add(body + 1, f"_j{op[4]} = 1")
                pending.add(op[4])
            elif name == "br":
                em.add(body, f"_j{op[1]} = 1")
                pending.add(op[1])
            else:
                mark = len(em.lines)
                self.emit_op(op, body)
                if len(em.lines) == mark:
                    em.add(body, "pass")

    # -- ops -----------------------------------------------------------------------------------------
    def emit_op(self, op: tuple, ind: int) -> None:
        em, b = self.em, self.b
        operand = self.operand
        name = op[0]
        if name in ("insn_start", "exit", "exit_loop", "exit_exc"):
            self._emit_smc_check(ind)
        if name == "insn_start":
            em.cur = (op[1], self.insn_index.get(op[1], 0))
            return
        if name in FOLD or name in ("setcond", "movcond"):
            d = op[1]
            if name == "setcond":
                e = f"1 if {_cond(op[4], operand(op[2]), operand(op[3]))} else 0"
            elif name == "movcond":
                cond = _cond(op[4], operand(op[2]), operand(op[3]))
                e = f"{_lit(operand(op[5]))} if {cond} else {_lit(operand(op[6]))}"
            elif name in FOLD_ONCE:
                e = _expr(name, *[operand(v) for v in op[2:]], addr_only=d in self.addr_only,
                          low_only=d in self.low_only)
            else:
                e = _expr(name, *op[2:], addr_only=d in self.addr_only, low_only=d in self.low_only)
            if d in self.inlinable:
                self.inline[d] = f"({e})"
            else:
                em.add(ind, f"{d} = {e}")
            return
        if name == "ld":
            em.add(ind, self.backend.memory.load(op[1], _lit(op[2]), op[3]))
            return
        if name == "st":
            val = op[1]
            size = 1 << (op[3] & 3)
            if size < 8:
                val = (val & ((1 << 8 * size) - 1)) if isinstance(val, int) else \
                    f"{val} & {hex((1 << 8 * size) - 1)}"
            cond, fast, slow = self.backend.memory.store(_lit(val) if isinstance(val, int) else val,
                                                         _lit(op[2]), op[3] & ~SIGN)
            # the slow path is true when the store hit translated code: leave after this insn
            k = em.cur[1] + 1
            nxt_pc = self.insn_pcs[k] if k < len(self.insn_pcs) else b.pc + b.size
            em.add(ind, f"if {cond}:")
            em.add(ind + 1, fast)
            em.add(ind, f"elif {slow}:")
            if next(self.deferred):
                em.add(ind + 1, "_smc = 1")
                self.smc_check = (nxt_pc, k)
                return
            em.add(ind + 1, f"pc = {hex(nxt_pc)}")
            em.add(ind + 1, f"ic += {k}")
            em.add(ind + 1, "break")
            return
        if name == "call":
            self._emit_call(op, ind)
            return
        if name == "exit":
            target = operand(op[1])
            em.add(ind, f"pc = {_lit(target)}")
            em.add(ind, f"ic += {b.n_insns}")
            if isinstance(target, int) and target not in self.members:
                self.backend._emit_leave(em, ind)
            elif isinstance(target, int) and target > b.pc:
                em.add(ind, "continue")
            else:
                em.add(ind, f"if ic < {self.backend.budget}:")
                em.add(ind + 1, "continue")
                em.add(ind, "break")
            return
        if name == "exit_loop":
            em.add(ind, f"cpu.exception = (-1, {_lit(operand(op[1]))}, 0)")
            em.add(ind, f"ic += {b.n_insns}")
            em.add(ind, "pc = -1")
            em.add(ind, "break")
            return
        if name == "exit_exc":
            code, pcv = op[1], op[2]
            tval = op[3] if len(op) > 3 else 0
            em.add(ind, f"cpu.exception = ({_lit(code)}, {_lit(pcv)}, {_lit(tval)})")
            em.add(ind, f"ic += {em.cur[1]}")
            em.add(ind, "pc = -1")
            em.add(ind, "break")
            return
        raise ValueError(f"python backend: unknown op {name}")

    def _emit_smc_check(self, ind: int) -> None:
        """At the end of an instruction with a deferred store: leave if it hit translated code."""
        if self.smc_check is not None:
            nxt_pc, k = self.smc_check
            self.smc_check = None
            self.em.add(ind, "if _smc:")
            self.em.add(ind + 1, f"pc = {hex(nxt_pc)}")
            self.em.add(ind + 1, f"ic += {k}")
            self.em.add(ind + 1, "break")

    def _emit_call(self, op: tuple, ind: int) -> None:
        em, slots, helpers = self.em, self.backend.slots, self.helpers
        h: Helper = op[2]
        key = id(h)
        if key not in helpers:
            helpers[key] = f"H_{h.name}_{len(helpers)}"
            self.ns[helpers[key]] = h.fn
        hname = helpers[key]
        for g in sorted(_helper_globals(h, slots, h.reads + h.writes), key=lambda n: slots[n]):
            em.add(ind, f"R[{slots[g]}] = {g}")
        args = ", ".join((["cpu"] if h.pass_cpu else []) + [_lit(self.operand(a)) for a in op[3:]])
        d = op[1]
        if h.accumulate:
            em.add(ind, f"{d or '_'}, _fl = {hname}({args})")
            em.add(ind, f"{h.accumulate} |= _fl")
        elif d is not None:
            em.add(ind, f"{d} = {hname}({args})")
        else:
            em.add(ind, f"{hname}({args})")
        for g in sorted(_helper_globals(h, slots, h.writes) - {d}, key=lambda n: slots[n]):
            em.add(ind, f"{g} = R[{slots[g]}]")


def _clobbers(op: tuple, names: set[str]) -> bool:
    """Whether ``op`` assigns any of ``names`` (a helper call: its result, its declared writes -
    "*" being every global - and the global it accumulates flags into)."""
    name = op[0]
    if name in PURE_WRITERS or name == "ld":
        return op[1] in names
    if name == "call":
        h: Helper = op[2]
        if op[1] in names or h.accumulate in names or names & set(h.writes):
            return True
        return "*" in h.writes and any(not is_temp(n) for n in names)
    return False


def _helper_globals(h: Helper, slots: dict[str, int], names: tuple[str, ...]) -> set[str]:
    """The globals among ``names`` ("*" meaning all of them)."""
    return set(slots) if "*" in names else {g for g in names if g in slots}
