"""IR interpreter for cold code (in the spirit of QEMU's TCI, the TCG interpreter).

Code that has run only a few times is not worth compiling: Python's ``compile()`` costs more than
interpreting the block's IR once.  A block runs here until it becomes hot; then the cache compiles it
(with its neighbours) through the python backend.  Semantics are those of the IR reference table
(:data:`~pyqemu.accel.tcg.ir.FOLD`), which the optimizer's constant folding also uses.
"""

from __future__ import annotations

from typing import Any

from .backend_python import GuestFault
from .ir import FOLD, MASK64, SIGN, Block, eval_cond


class Interpreter:
    """Runs single IR blocks against a vCPU state buffer and a memory object."""

    def __init__(self, slots: dict[str, int], memory: Any, icount_slot: int):
        self.slots = slots
        ns = memory.namespace()
        self.ld = ns["LDS"]  # the memory model's slow paths: (cpu, addr, memop) / (cpu, addr, value, memop)
        self.st = ns["STS"]
        self.icount_slot = icount_slot

    def run(self, block: Block, cpu: Any, R: Any) -> int:
        slots = self.slots
        temps: dict[str, int] = {}
        ld, st = self.ld, self.st

        def get(v: int | str) -> int:
            if isinstance(v, int):
                return v
            s = slots.get(v)
            return R[s] if s is not None else temps[v]

        def put(d: str, value: int) -> None:
            s = slots.get(d)
            if s is not None:
                R[s] = value
            else:
                temps[d] = value

        ops = block.ops
        n = len(ops)
        i = 0
        insn_pc = block.pc
        done = -1  # guest instructions completed before the current one
        try:
            while i < n:
                op = ops[i]
                name = op[0]
                i += 1
                if name == "insn_start":
                    insn_pc = op[1]
                    done += 1
                elif name in FOLD:
                    put(op[1], FOLD[name](*[get(v) for v in op[2:]]))
                elif name == "setcond":
                    put(op[1], int(eval_cond(op[4], get(op[2]), get(op[3]))))
                elif name == "movcond":
                    put(op[1], get(op[5]) if eval_cond(op[4], get(op[2]), get(op[3])) else get(op[6]))
                elif name == "ld":
                    put(op[1], ld(cpu, get(op[2]), op[3]))
                elif name == "st":
                    if st(cpu, get(op[2]), get(op[1]), op[3] & ~SIGN):
                        # wrote translated code (maybe this very block): continue from a fresh one
                        R[self.icount_slot] += done + 1
                        return self._next_insn(block, insn_pc)
                elif name == "call":
                    h = op[2]
                    args = [get(v) for v in op[3:]]
                    r = h.fn(cpu, *args) if h.pass_cpu else h.fn(*args)
                    if h.accumulate:
                        r, fl = r
                        R[slots[h.accumulate]] |= fl
                    if op[1] is not None:
                        put(op[1], r & MASK64)
                elif name == "brcond":
                    if eval_cond(op[3], get(op[1]), get(op[2])):
                        i = self._label_index(block, op[4])
                elif name == "br":
                    i = self._label_index(block, op[1])
                elif name == "set_label":
                    pass
                elif name == "exit":
                    R[self.icount_slot] += block.n_insns
                    return get(op[1])
                elif name == "exit_loop":
                    R[self.icount_slot] += block.n_insns
                    cpu.exception = (-1, get(op[1]), 0)
                    return -1
                elif name == "exit_exc":
                    R[self.icount_slot] += done
                    cpu.exception = (op[1], op[2], op[3] if len(op) > 3 else 0)
                    return -1
                else:
                    raise ValueError(f"interpreter: unknown op {name}")
        except GuestFault as e:
            R[self.icount_slot] += max(done, 0)
            cpu.exception = (e.code, insn_pc, e.tval)
            return -1
        raise ValueError("interpreter: block fell off its end")

    @staticmethod
    def _label_index(block: Block, label: int) -> int:
        for k, op in enumerate(block.ops):
            if op[0] == "set_label" and op[1] == label:
                return k + 1
        raise ValueError(f"interpreter: label {label} not found")

    @staticmethod
    def _next_insn(block: Block, pc: int) -> int:
        pcs = [p for p, _ in block.guest_insns]
        k = pcs.index(pc)
        return pcs[k + 1] if k + 1 < len(pcs) else block.pc + block.size
