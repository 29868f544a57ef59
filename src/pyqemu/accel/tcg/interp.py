"""A threaded-code interpreter for cold code (in the spirit of QEMU's TCI, the TCG interpreter).

Code that has run only a few times is not worth compiling: Python's ``compile()`` costs more than
interpreting the block a few times.  The first time a block runs here, each of its IR ops is turned into
a small Python closure (a *step*) specialised for its operand kinds (constant, guest register in the
state buffer, temp); running the block then calls its steps in order.  The closure factories are
generated once per op shape from the same expression templates as the python backend, including the
memory model's inline fast path for guest loads and stores, so both tiers agree on semantics (the
optimizer's reference table :data:`~pyqemu.accel.tcg.ir.FOLD` is what the tests hold both to).

Steps return None to fall through, a step index to jump to, or -1 to leave the block: the exit writes
the next pc into ``T[0]`` and the number of completed guest instructions into ``T[1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .backend_python import RUNTIME, GuestFault, _cond, _expr, deferred_stores
from .ir import FOLD, SIGN, Block

Step = Callable[[Any, Any, list], int | None]
_FIRST_TEMP = 2  # T[0]: next pc, T[1]: instructions completed, then the block's temps


class Interpreter:
    """Runs single IR blocks against a vCPU state buffer through per-block threaded code."""

    def __init__(self, slots: dict[str, int], memory: Any, icount_slot: int):
        self.slots = slots
        self.memory = memory
        self.icount_slot = icount_slot
        self.ns: dict[str, Any] = dict(RUNTIME)
        self.ns.update(memory.namespace())
        self.ns["GuestFault"] = GuestFault
        self._factories: dict[tuple, Callable[..., Step]] = {}
        #: op -> (its step, the T size it needs): steps that depend on nothing but the op, shared by all
        #: blocks (the same guest instructions recur all over guest code)
        self._shared: dict[tuple, tuple[Step, int]] = {}

    # -- running ---------------------------------------------------------------------------------
    def run(self, block: Block, cpu: Any, R: Any) -> int:
        prepared = block.threaded
        if prepared is None:
            prepared = block.threaded = self.prepare(block)
        steps, where, ntemps = prepared
        T = [0] * ntemps
        i = 0
        try:
            while True:
                r = steps[i](cpu, R, T)
                if r is None:
                    i += 1
                elif r >= 0:
                    i = r
                else:
                    break
        except GuestFault as e:
            pc, done = where[i]
            R[self.icount_slot] += done
            cpu.exception = (e.code, pc, e.tval)
            return -1
        R[self.icount_slot] += T[1]
        return T[0]

    # -- threading -----------------------------------------------------------------------------------
    def prepare(self, block: Block) -> tuple[list[Step], list[tuple[int, int]], int]:
        """Turn ``block`` into steps; returns (steps, (insn pc, insns done) per step, temps needed)."""
        insn_pcs = [pc for pc, _ in block.guest_insns] + [block.pc + block.size]
        temps = _Temps(block.ntemps)
        memo = self._shared
        labels: dict[int, int] = {}
        pending: list[tuple[int, tuple]] = []  # steps whose branch target is not known yet
        steps: list[Step] = []
        where: list[tuple[int, int]] = []
        insn_pc, done = block.pc, -1
        deferred = iter(deferred_stores(block.ops))
        smc_check: tuple[int, int] | None = None  # (next pc, insns done) after a deferred store
        for op in block.ops:
            name = op[0]
            if smc_check is not None and name in ("insn_start", "exit", "exit_loop", "exit_exc"):
                steps.append(_smc_check(temps.index("_smc"), *smc_check))
                where.append((insn_pc, max(done, 0)))
                smc_check = None
            if name == "insn_start":
                insn_pc = op[1]
                done += 1
                continue
            if name == "set_label":
                labels[op[1]] = len(steps)
                continue
            if name in ("br", "brcond"):
                pending.append((len(steps), op))
                steps.append(None)  # type: ignore[arg-type]
            elif name == "st" and next(deferred):
                smc_check = self._deferred_store(op, temps, block, insn_pcs, max(done, 0), steps)
            elif name in _SHAREABLE:
                entry = memo.get(op)
                if entry is None:
                    step = self._step(op, temps, block, insn_pcs, max(done, 0))
                    if temps.numbered(op):
                        if len(memo) >= _MAX_SHARED:
                            memo.clear()
                        memo[op] = (step, temps.top)
                else:
                    step, top = entry
                    if top > temps.top:
                        temps.top = top
                steps.append(step)
            else:
                steps.append(self._step(op, temps, block, insn_pcs, max(done, 0)))
            where.append((insn_pc, max(done, 0)))
        for index, op in pending:
            if op[0] == "br":
                steps[index] = _jump(labels.get(op[1], len(steps)))
            else:
                a, b = self._operands((op[1], op[2]), temps)
                steps[index] = self._factory("brcond", op[3], a[0], b[0])(a[1], b[1],
                                                                           labels.get(op[4], len(steps)))
        steps.append(_fell_off)
        where.append((insn_pc, max(done, 0)))
        return steps, where, temps.size()

    def _operands(self, values: tuple, temps: _Temps) -> list[tuple[str, int]]:
        """Each operand as (kind, value): "C" constant, "R" state slot, "T" temp index."""
        out = []
        for v in values:
            if isinstance(v, int):
                out.append(("C", v))
            elif v in self.slots:
                out.append(("R", self.slots[v]))
            else:
                out.append(("T", temps.index(v)))
        return out

    def _step(self, op: tuple, temps: _Temps, block: Block, insn_pcs: list[int], done: int) -> Step:
        name = op[0]
        if name in FOLD or name in ("setcond", "movcond", "ld"):
            srcs = op[2:4] if name == "setcond" else (op[2], op[3], op[5], op[6]) if name == "movcond" \
                else op[2:3] if name == "ld" else op[2:]
            dest, *args = self._operands((op[1], *srcs), temps)
            extra = op[4] if name in ("setcond", "movcond") else op[3] if name == "ld" else None
            key = (name, extra, dest[0], *(a[0] for a in args))
            return self._factory(*key)(dest[1], *(a[1] for a in args))
        if name == "st":
            val, addr = self._operands((op[1], op[2]), temps)
            k = done + 1
            nxt = insn_pcs[k] if k < len(insn_pcs) else block.pc + block.size
            return self._factory("st", (op[3] & ~SIGN, False), val[0], addr[0])(val[1], addr[1], nxt, k)
        if name == "call":
            h = op[2]
            args = self._operands(op[3:], temps)
            dest = self._operands((op[1],), temps)[0] if op[1] is not None else ("N", 0)
            acc = self.slots[h.accumulate] if h.accumulate else -1
            key = ("call", h.pass_cpu, acc >= 0, dest[0], *(a[0] for a in args))
            return self._factory(*key)(h.fn, acc, dest[1], *(a[1] for a in args))
        if name == "exit":
            (target,) = self._operands((op[1],), temps)
            return self._factory("exit", None, target[0])(target[1], block.n_insns)
        if name == "exit_loop":
            (target,) = self._operands((op[1],), temps)
            return self._factory("exit_loop", None, target[0])(target[1], block.n_insns)
        if name == "exit_exc":
            return _raise_exc(self._operands((op[1], op[2], op[3] if len(op) > 3 else 0), temps), done)
        raise ValueError(f"interpreter: unknown op {name}")

    def _deferred_store(self, op: tuple, temps: _Temps, block: Block, insn_pcs: list[int], done: int,
                        steps: list[Step]) -> tuple[int, int]:
        """A store with more of its instruction after it: on hitting translated code it sets the
        ``_smc`` temp, checked at the instruction's end.  Returns (next pc, insns done) for the check."""
        val, addr = self._operands((op[1], op[2]), temps)
        k = done + 1
        steps.append(self._factory("st", (op[3] & ~SIGN, True), val[0], addr[0])(val[1], addr[1],
                                                                                 temps.index("_smc"), k))
        return (insn_pcs[k] if k < len(insn_pcs) else block.pc + block.size, k)

    # -- closure factories, generated once per op shape --------------------------------------------
    def _factory(self, *key: Any) -> Callable[..., Step]:
        fn = self._factories.get(key)
        if fn is None:
            fn = self._factories[key] = self._make_factory(key)
        return fn

    def _make_factory(self, key: tuple) -> Callable[..., Step]:
        name, extra, *kinds = key
        names = [f"o{i}" for i in range(len(kinds))]

        def ref(kind: str, var: str) -> str:
            return {"C": var, "R": f"R[{var}]", "T": f"T[{var}]"}[kind]

        if name in FOLD or name in ("setcond", "movcond", "ld"):
            d = ref(kinds[0], names[0])
            ops = [ref(k, v) for k, v in zip(kinds[1:], names[1:], strict=True)]
            if name == "setcond":
                body = [f"{d} = 1 if {_cond(extra, *ops)} else 0"]
            elif name == "movcond":
                body = [f"{d} = {ops[2]} if {_cond(extra, ops[0], ops[1])} else {ops[3]}"]
            elif name == "ld":
                body = [*self.memory.entry_lines(), "a = " + ops[0], self.memory.load("v", "a", extra),
                        f"{d} = v"]
            else:
                body = [f"{d} = {_expr(name, *ops)}"]
            params = names
        elif name == "brcond":
            params = [*names, "target"]
            body = [f"if {_cond(extra, ref(kinds[0], 'o0'), ref(kinds[1], 'o1'))}:", "    return target"]
        elif name == "st":
            memop, deferred = extra
            size = 1 << (memop & 3)
            val = ref(kinds[0], "o0")
            if size < 8:
                val = f"({val} & {hex((1 << 8 * size) - 1)})"
            cond, fast, slow = self.memory.store("v", "a", memop)
            # nxt: the next pc to leave for, or (deferred) the index of the _smc temp to set
            params = ["o0", "o1", "nxt", "k"]
            hit = ["    T[nxt] = 1"] if deferred else ["    T[0] = nxt", "    T[1] = k", "    return -1"]
            body = [*self.memory.entry_lines(), f"v = {val}", "a = " + ref(kinds[1], "o1"),
                    f"if {cond}:", f"    {fast}", f"elif {slow}:", *hit]
        elif name == "call":
            pass_cpu, acc, dest_kind, *arg_kinds = extra, *kinds
            anames = [f"a{i}" for i in range(len(arg_kinds))]
            refs = [ref(k, v) for k, v in zip(arg_kinds, anames, strict=True)]
            args = ", ".join((["cpu"] if pass_cpu else []) + refs)
            params = ["fn", "acc", "dest", *anames]
            if acc:
                body = [f"r, fl = fn({args})", "R[acc] |= fl"]
            else:
                body = [f"r = fn({args})"]
            if dest_kind != "N":
                body.append(f"{ref(dest_kind, 'dest')} = r & M")
        elif name == "exit":
            params = ["o0", "n"]
            body = [f"T[0] = {ref(kinds[0], 'o0')}", "T[1] = n", "return -1"]
        elif name == "exit_loop":
            params = ["o0", "n"]
            body = [f"cpu.exception = (-1, {ref(kinds[0], 'o0')}, 0)", "T[0] = -1", "T[1] = n", "return -1"]
        else:
            raise ValueError(f"interpreter: no factory for {name}")
        src = (f"def factory({', '.join(params)}):\n    def step(cpu, R, T):\n"
               + "".join(f"        {line}\n" for line in body) + "    return step\n")
        scope = dict(self.ns)
        exec(compile(src, f"<interp {name}>", "exec"), scope)
        return scope["factory"]


#: ops whose step depends on the op alone (given the fixed places of numbered temps)
_SHAREABLE = frozenset(FOLD) | {"setcond", "movcond", "ld", "call"}
_MAX_SHARED = 1 << 17


class _Temps:
    """Where a block's temps live in ``T``.  The frontends' temps, ``t1``, ``t2``..., are at fixed places
    (``_FIRST_TEMP + n - 1``) in every block, so that a step can serve every block with the same op;
    other names (the interpreter's own ``_smc``, hand-made IR) go at the end of ``T``, at negative
    indices."""

    __slots__ = ("places", "top", "others")

    def __init__(self, ntemps: int):
        self.places: dict[str, int] = {}
        self.top = _FIRST_TEMP + ntemps  # one past the highest numbered temp's place
        self.others = 0

    def index(self, v: str) -> int:
        i = self.places.get(v)
        if i is None:
            if _numbered(v):
                i = _FIRST_TEMP + int(v[1:]) - 1
                self.top = max(self.top, i + 1)
            else:
                self.others += 1
                i = -self.others
            self.places[v] = i
        return i

    def numbered(self, op: tuple) -> bool:
        """Whether every temp of ``op`` is a numbered one (its step then fits every block)."""
        return all(self.places.get(v, 0) >= 0 for v in op[1:] if isinstance(v, str))

    def size(self) -> int:
        return self.top + self.others


def _numbered(v: str) -> bool:
    return v[0] == "t" and v[1:].isdigit()


def _jump(target: int) -> Step:
    def step(cpu: Any, R: Any, T: list) -> int:
        return target
    return step


def _smc_check(slot: int, nxt: int, done: int) -> Step:
    """Leave for ``nxt`` if a deferred store of the instruction that ends here hit translated code."""
    def step(cpu: Any, R: Any, T: list) -> int | None:
        if T[slot]:
            T[0] = nxt
            T[1] = done
            return -1
        return None
    return step


def _raise_exc(operands: list[tuple[str, int]], done: int) -> Step:
    """exit_exc: code, pc and tval are constants, state slots ("R") or temps ("T")."""
    def step(cpu: Any, R: Any, T: list) -> int:
        cpu.exception = tuple(v if k == "C" else R[v] if k == "R" else T[v] for k, v in operands)
        T[0] = -1
        T[1] = done
        return -1
    return step


def _fell_off(cpu: Any, R: Any, T: list) -> int:
    raise ValueError("interpreter: block fell off its end")
