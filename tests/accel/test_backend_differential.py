"""Differential fuzzing of the x86_64 backend against the python backend and the IR interpreter.

Random IR blocks (about 6-30 ops, more in those that keep many values live) drawn from the whole op
set run on three engines over the test machine of :mod:`test_ir_semantics`:

* the python backend (the reference), many blocks compiled into one region;
* the native x86_64 backend, one code cache shared by thousands of blocks (each block has its own pc);
* the IR interpreter.

Each block runs from a few random initial states; the engines must agree on every slot of the state
buffer (guest globals and icount), the returned pc, ``cpu.exception`` and the bytes of the two DATA
pages.  The generator covers every pure op (shift amounts kept in range), setcond/movcond with every
condition, loads and stores of every size and signedness at misaligned and page-straddling addresses
(and sometimes at addresses that fault), helper calls (pure, faulting, ``accumulate=``, ``reads=`` /
``writes=``), forward branch shapes with exits inside them, constant, global and temp operands,
many simultaneously live temps (register pressure), multi-instruction blocks, and every kind of exit.

The frontends define each temp once; a tenth of the ops here write an earlier temp again
(``PYQEMU_DIFF_REDEFINE``, a probability), which is how the harness found the python backend inlining
a temp written twice past a write to one of its sources.

Compiling dominates the cost (about 1 ms per block for the three engines), so the slow test splits its
blocks over one process per CPU.

On a divergence the message shows the seed, the sequence index, the block, the initial state and the
outcomes, and a shrunk block that still diverges.  The seed can be changed with ``PYQEMU_IR_SEED``;
``PYQEMU_DIFF_COUNT`` overrides the number of sequences of the slow test.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import random
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_ir_semantics import (  # noqa: E402
    DATA,
    EDGE,
    ICOUNT,
    NOACCESS,
    NSLOTS,
    PAGE,
    RO,
    SLOTS,
    UNMAPPED,
    FakeCPU,
    make_space,
    random_values,
)

from pyqemu.accel.tcg.backend_python import BUDGET, GuestFault, PythonBackend  # noqa: E402
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend, host_supported  # noqa: E402
from pyqemu.accel.tcg.interp import Interpreter  # noqa: E402
from pyqemu.accel.tcg.ir import (  # noqa: E402
    BINARY_OPS,
    COND,
    MASK64,
    SIGN,
    UNARY_OPS,
    Block,
    Helper,
    format_op,
)
from pyqemu.accel.tcg.user_memory import UserMemory  # noqa: E402

M = MASK64
SEED = int(os.environ.get("PYQEMU_IR_SEED", "0x5eed"), 0)
_UNSUPPORTED = host_supported()
pytestmark = pytest.mark.skipif(_UNSUPPORTED is not None, reason=f"x86_64 backend: {_UNSUPPORTED}")

#: block pcs: outside any value the blocks compute, and not a sign-extended 32-bit immediate
BLOCK_BASE = 0x7E57_0000_0000
BLOCK_STRIDE = 0x100
#: constant exits (never a block's pc)
EXITS = (0x8000, 0x8004, 0xFFFF_FFFF_8000_1000, 0x0123_4567_89AB_CDE0)
#: blocks per python region / native code cache
REGION_BLOCKS = 200
NATIVE_CACHE = 64 << 20
#: how often an op writes a temp defined before (the frontends define each temp once)
TEMP_REDEFINE = float(os.environ.get("PYQEMU_DIFF_REDEFINE", "0.1"))

SHIFT_OPS = ("shl", "shr", "sar")
BINARY = sorted(BINARY_OPS)
UNARY = sorted(UNARY_OPS)
MEMOPS = [0, 1, 2, 3, 0 | SIGN, 1 | SIGN, 2 | SIGN, 3 | SIGN]

#: globals the random ops read and write; r10/r11/r2/b also take part in helper calls
GLOBALS = ["a", "b", "c"] + [f"r{i}" for i in range(12)]
#: read-only address globals: r20 points into DATA, r21 just below the boundary of the two DATA pages
ADDR_GLOBALS = ["r20", "r21"]
#: every slot (including icount) is compared after a run
DATA_SIZE = 2 * PAGE


# --- helpers --------------------------------------------------------------------------------------------

def _mix2(a: int, b: int) -> int:
    return (a * 0x9E3779B97F4A7C15 + (b ^ (a >> 7))) & M


def _mix3(cpu: Any, a: int, b: int, c: int) -> int:
    return (a ^ (b << 3) ^ (c >> 5) ^ 0x5555) & M


def _check(cpu: Any, a: int) -> int:
    if ((a * 0x9E3779B97F4A7C15) & M) >> 60 == 0:  # about one value in 16
        raise GuestFault(9, a)
    return (a + 1) & M


def _flags(a: int) -> tuple[int, int]:
    return (a ^ 0xA5A5) & M, 1 << (a & 7)


def _rw(cpu: Any, a: int) -> int:
    v = cpu.R[SLOTS["r11"]]
    cpu.R[SLOTS["r11"]] = (v * 5 + a) & M
    return v ^ a


def _rd(cpu: Any, a: int) -> int:
    return (cpu.R[SLOTS["b"]] + a) & M


def _all(cpu: Any, a: int) -> int:
    R = cpu.R
    R[SLOTS["r2"]] = (R[SLOTS["r2"]] + R[SLOTS["a"]] + a) & M
    return R[SLOTS["r3"]] ^ R[SLOTS["c"]]


#: (helper, number of arguments, globals the destination must not be)
HELPERS: list[tuple[Helper, int, tuple[str, ...]]] = [
    (Helper("mix2", _mix2, pure=True, pass_cpu=False), 2, ()),
    (Helper("mix3", _mix3), 3, ()),
    (Helper("check", _check), 1, ()),
    (Helper("flags", _flags, pass_cpu=False, accumulate="r10"), 1, ("r10",)),
    (Helper("rw", _rw, reads=("r11",), writes=("r11",)), 1, ("r11",)),
    (Helper("rd", _rd, reads=("b",)), 1, ()),
    (Helper("all", _all, reads=("*",), writes=("*",)), 1, tuple(SLOTS)),
]


# --- the generator ----------------------------------------------------------------------------------------

class Gen:
    """Builds one random block's ops."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.ops: list[tuple] = []
        self.ntemps = 0
        self.nlabels = 0
        self.temps: list[str] = []  # temps defined on every path so far
        self.in_branch = False
        self.ninsns = 1

    def temp(self) -> str:
        self.ntemps += 1
        return f"t{self.ntemps}"

    def label(self) -> int:
        self.nlabels += 1
        return self.nlabels

    def const(self) -> int:
        rng = self.rng
        k = rng.random()
        if k < 0.55:
            return rng.choice(EDGE)
        if k < 0.75:
            return rng.randrange(-300, 300) & M
        return rng.getrandbits(64) if k < 0.9 else rng.getrandbits(rng.choice((31, 32, 33)))

    def src(self) -> int | str:
        rng = self.rng
        k = rng.random()
        if k < 0.45 and self.temps:
            return rng.choice(self.temps[-8:] if rng.random() < 0.6 else self.temps)
        if k < 0.8:
            return rng.choice(GLOBALS if rng.random() < 0.93 else ADDR_GLOBALS)
        return self.const()

    def dest(self, avoid: tuple[str, ...] = ()) -> str:
        """A global, a fresh temp, or (outside branches) a temp defined before."""
        rng = self.rng
        k = rng.random()
        if k < 0.3:
            g = rng.choice(GLOBALS)
            if g not in avoid:
                return g
        if k < 0.3 + TEMP_REDEFINE and self.temps and not self.in_branch:
            return rng.choice(self.temps)
        t = self.temp()
        return t

    def define(self, d: str | None) -> None:
        if d is not None and d[0] == "t" and d not in self.temps:
            self.temps.append(d)

    def emit(self, *op: Any) -> None:
        self.ops.append(op)

    # -- op kinds ---------------------------------------------------------------------------------------
    def binary(self, name: str | None = None) -> None:
        rng = self.rng
        name = name or rng.choice(BINARY)
        a = self.src()
        if name in SHIFT_OPS:
            if rng.random() < 0.5:
                b: int | str = rng.randrange(64)
            else:
                b = self.temp()
                self.emit("and", b, self.src(), 63)
                self.define(b)
        else:
            b = self.src()
        d = self.dest()
        self.emit(name, d, a, b)
        self.define(d)

    def unary(self) -> None:
        name = self.rng.choice(UNARY)
        a = self.src()
        d = self.dest()
        self.emit(name, d, a)
        self.define(d)

    def cond_op(self) -> None:
        rng = self.rng
        cond = rng.choice(COND)
        a, b = self.src(), self.src()
        if rng.random() < 0.2:
            b = a  # equal operands
        d = self.dest()
        if rng.random() < 0.5:
            self.emit("setcond", d, a, b, cond)
        else:
            self.emit("movcond", d, a, b, cond, self.src(), self.src())
        self.define(d)

    def address(self, size: int, store: bool) -> int | str:
        rng = self.rng
        k = rng.random()
        if k < 0.03:  # a faulting (or, for loads of RO, a valid) access
            if store:
                return rng.choice([RO, RO + 0xFF8, RO - size + 1, NOACCESS + 16, UNMAPPED, 8, M - 3,
                                   DATA - 1]) & M
            return rng.choice([NOACCESS, NOACCESS - 2, RO + 8, RO - 3, UNMAPPED + 0x10, 0, M - 1,
                               DATA - size + 1]) & M
        if k < 0.3:
            if rng.random() < 0.3:  # straddling the boundary of the two DATA pages
                off = PAGE - rng.randrange(1, 8)
            else:
                off = rng.randrange(DATA_SIZE - 8)
            return DATA + off
        if k < 0.55:
            return rng.choice(ADDR_GLOBALS)
        if k < 0.8:
            t = self.temp()
            self.emit("add", t, rng.choice(ADDR_GLOBALS), rng.randrange(-64, 64) & M)
            self.define(t)
            return t
        # an arbitrary value masked into the DATA pages (the last bytes straddle into RO)
        t1, t2 = self.temp(), self.temp()
        self.emit("and", t1, self.src(), DATA_SIZE - 1)
        self.emit("add", t2, t1, DATA) if rng.random() < 0.5 else self.emit("or", t2, t1, DATA)
        self.define(t1)
        self.define(t2)
        return t2

    def load(self) -> None:
        memop = self.rng.choice(MEMOPS)
        addr = self.address(1 << (memop & 3), False)
        d = self.dest()
        self.emit("ld", d, addr, memop)
        self.define(d)

    def store(self) -> None:
        memop = self.rng.choice(MEMOPS) & ~SIGN if self.rng.random() < 0.9 else self.rng.choice(MEMOPS)
        addr = self.address(1 << (memop & 3), True)
        self.emit("st", self.src(), addr, memop)

    def call(self) -> None:
        rng = self.rng
        h, nargs, avoid = rng.choice(HELPERS)
        args = [self.src() for _ in range(nargs)]
        k = rng.random()
        d: str | None
        if k < 0.25:
            d = None
        elif k < 0.45 and not avoid:
            d = rng.choice(GLOBALS)
        else:
            d = self.temp()
        if d is not None and d in avoid:
            d = self.temp()
        self.emit("call", d, h, *args)
        self.define(d)

    def insn_start(self, pc: int) -> None:
        self.emit("insn_start", pc + 4 * self.ninsns)
        self.ninsns += 1

    def simple(self) -> None:
        k = self.rng.random()
        if k < 0.4:
            self.binary()
        elif k < 0.55:
            self.unary()
        elif k < 0.67:
            self.cond_op()
        elif k < 0.8:
            self.load()
        elif k < 0.9:
            self.store()
        else:
            self.call()

    def exit(self, pc: int, final: bool) -> None:
        rng = self.rng
        k = rng.random()
        if k < (0.08 if final else 0.25):
            cur = pc + 4 * (self.ninsns - 1)
            self.emit("exit_exc", rng.randrange(1, 40), cur, self.const())
        elif k < 0.12 and final:
            self.emit("exit_loop", rng.choice([rng.choice(EXITS), self.src()]))
        elif k < 0.55:
            self.emit("exit", rng.choice(EXITS))
        else:
            self.emit("exit", rng.choice(self.temps[-4:]) if self.temps and rng.random() < 0.6
                      else rng.choice(GLOBALS))

    def body(self, n: int, pc: int) -> None:
        """Branch-free ops of a branch body (temps defined here are dead after it)."""
        saved, self.in_branch = (list(self.temps), self.in_branch), True
        for _ in range(n):
            self.simple()
        self.temps, self.in_branch = saved

    def branch(self, pc: int) -> None:
        rng = self.rng
        a, b = self.src(), self.src()
        if rng.random() < 0.1:
            a = self.const()
        l1, l2 = self.label(), self.label()
        self.emit("brcond", a, b, rng.choice(COND), l1)
        shape = rng.random()
        if shape < 0.1:  # overlapping: brcond L1; brcond L2; ..; L1: ..; L2:
            self.emit("brcond", self.src(), self.src(), rng.choice(COND), l2)
            self.body(rng.randint(0, 2), pc)
            self.emit("set_label", l1)
            self.body(rng.randint(1, 2), pc)
            self.emit("set_label", l2)
            return
        self.body(rng.randint(0 if shape < 0.2 else 1, 3), pc)
        if rng.random() < 0.15:
            saved = self.in_branch
            self.in_branch = True
            self.exit(pc, False)
            self.in_branch = saved
        if shape < 0.55:  # if/else
            self.emit("br", l2)
            self.emit("set_label", l1)
            self.body(rng.randint(0, 3), pc)
            self.emit("set_label", l2)
        else:
            self.emit("set_label", l1)


def random_block_ops(rng: random.Random, pc: int) -> list[tuple]:
    g = Gen(rng)
    g.emit("insn_start", pc)
    pressure = rng.random() < 0.15
    held: list[str] = []
    if pressure:  # many values live at once: more than the twelve allocatable host registers
        for _ in range(rng.randint(13, 16)):
            t = g.temp()
            g.emit(rng.choice(("add", "xor", "mul", "sub")), t, rng.choice(GLOBALS + ADDR_GLOBALS), g.const())
            g.define(t)
            held.append(t)
    for _ in range(rng.randint(5, 14)):
        k = rng.random()
        if k < 0.1:
            g.branch(pc)
        elif k < 0.17 and g.ninsns < 8:
            g.insn_start(pc)
        else:
            g.simple()
    for i, t in enumerate(held):
        g.emit(rng.choice(("add", "xor", "sub")), GLOBALS[i % len(GLOBALS)], GLOBALS[i % len(GLOBALS)], t)
    g.exit(pc, True)
    return g.ops


def make_block(ops: list[tuple], pc: int) -> Block:
    """A block at ``pc`` running ``ops`` (whose insn_start pcs are relative to ``old_pc``)."""
    insns = [op[1] for op in ops if op[0] == "insn_start"]
    b = Block(pc, ops=list(ops), size=4 * len(insns), n_insns=len(insns), guest_insns=[(p, 0) for p in insns])
    b.ntemps = 1000
    return b


def rebase(ops: list[tuple], old: int, new: int) -> list[tuple]:
    """``ops`` with instruction pcs (insn_start, exit_exc) moved from block pc ``old`` to ``new``."""
    out = []
    for op in ops:
        if op[0] == "insn_start":
            op = ("insn_start", op[1] - old + new)
        elif op[0] == "exit_exc":
            op = ("exit_exc", op[1], op[2] - old + new, op[3])
        out.append(op)
    return out


def random_init(rng: random.Random) -> bytes:
    vals = [0] * NSLOTS
    for slot in SLOTS.values():
        vals[slot] = rng.choice(EDGE) if rng.random() < 0.3 else random_values(rng, 1)[0]
    if rng.random() < 0.3:
        vals[SLOTS["b"]] = vals[SLOTS["a"]]
    vals[SLOTS["r20"]] = DATA + rng.randrange(128, DATA_SIZE - 136)
    vals[SLOTS["r21"]] = DATA + PAGE - rng.randrange(1, 9)
    vals[ICOUNT] = rng.randrange(1000)
    return struct.pack(f"<{NSLOTS}Q", *vals)


# --- running ------------------------------------------------------------------------------------------------

class Machine:
    """The three engines over one address space, and a vCPU for each."""

    def __init__(self, seed_bytes: bytes):
        self.space = make_space()
        self.memory = UserMemory(self.space, None)
        self.python = PythonBackend(SLOTS, self.memory, icount_slot=ICOUNT)
        self.interp = Interpreter(SLOTS, self.memory, ICOUNT)
        self.native: NativeBackend | None = None
        self.data = seed_bytes
        self.cpus = {k: FakeCPU() for k in ("python", "x86_64", "interp")}
        self.next_pc = BLOCK_BASE
        self.native_blocks = 0
        self.compile_time = 0.0
        self.failed: dict[int, str] = {}  # block pc -> why the native backend could not compile it

    def new_pc(self) -> int:
        pc = self.next_pc
        self.next_pc += BLOCK_STRIDE
        return pc

    def native_backend(self) -> NativeBackend:
        if self.native is None or self.native.wants_flush():
            self.native = NativeBackend(SLOTS, self.memory, icount_slot=ICOUNT, budget=BUDGET,
                                        cache_size=NATIVE_CACHE)
        return self.native

    def compile(self, blocks: list[Block]) -> tuple[Any, Any]:
        t0 = time.perf_counter()
        py = self.python.compile_region(blocks).fn
        native = self.native_backend()
        try:
            nat = native.compile_region(blocks).fn
        except Exception:  # noqa: BLE001 - find the blocks it fails on: each is reported as a divergence
            for b in blocks:
                try:
                    nat = native.compile_region([b]).fn
                except Exception as e:  # noqa: BLE001
                    self.failed[b.pc] = repr(e)
        for b in blocks:
            b.threaded = self.interp.prepare(b)
        self.compile_time += time.perf_counter() - t0
        return py, nat

    def run(self, kind: str, fn: Any, block: Block, init: bytes, stores: bool) -> tuple:
        if stores:
            self.space.write(DATA, self.data)
        cpu = self.cpus[kind]
        cpu.state[:] = init
        cpu.exception = None
        try:
            if kind == "interp":
                ret = self.interp.run(block, cpu, cpu.R)
            elif kind == "python":
                ret = fn(cpu, cpu.R, block.pc)
            else:
                if block.pc in self.failed:
                    return ("python exception", self.failed[block.pc])
                ret = fn(cpu, cpu.R, block.pc)
                while ret == block.pc:
                    ret = fn(cpu, cpu.R, ret)
        except Exception as e:  # noqa: BLE001 - reported as the outcome
            return ("python exception", repr(e))
        return (ret, bytes(cpu.state), cpu.exception, self.space.read(DATA, DATA_SIZE) if stores else None)

    def outcomes(self, ops: list[tuple], old_pc: int, init: bytes) -> dict[str, tuple] | None:
        """Compile ``ops`` afresh (at a new pc) and run it on the three engines; None if the reference
        cannot run it (a malformed candidate while shrinking)."""
        pc = self.new_pc()
        block = make_block(rebase(ops, old_pc, pc), pc)
        stores = any(op[0] == "st" for op in ops)
        try:
            py = self.python.compile_region([block]).fn
        except Exception:  # noqa: BLE001
            return None
        ref = self.run("python", py, block, init, stores)
        if ref[0] == "python exception":
            return None
        try:
            nat = self.native_backend().compile_region([block]).fn
            got = self.run("x86_64", nat, block, init, stores)
        except Exception as e:  # noqa: BLE001
            got = ("python exception", repr(e))
        return {"python": ref, "x86_64": got, "interp": self.run("interp", None, block, init, stores)}


def _differs(outs: dict[str, tuple] | None) -> bool:
    return outs is not None and not (outs["python"] == outs["x86_64"] == outs["interp"])


_DEFINING = BINARY_OPS | UNARY_OPS | {"setcond", "movcond", "ld", "call"}


def _well_formed(ops: list[tuple]) -> bool:
    defined: set[str] = set()
    for op in ops:
        if op[0] in ("insn_start", "set_label", "br"):
            continue
        dest = op[1] if op[0] in _DEFINING else None
        if any(isinstance(v, str) and v[0] == "t" for v in (op[2:] if dest is not None else op[1:])
               if v not in defined):
            return False
        if isinstance(dest, str):
            defined.add(dest)
    return True


def shrink(m: Machine, ops: list[tuple], pc: int, init: bytes) -> list[tuple]:
    """Drop ops (last first) while the engines still disagree (and the block stays well formed: no
    temp read before an op defining it, no branch to a dropped label)."""
    changed = True
    while changed:
        changed = False
        i = len(ops) - 2  # keep the final exit
        while i >= 1:  # and the first insn_start
            op = ops[i]
            cand = ops[:i] + ops[i + 1:]
            if not (op[0] == "set_label" and any(o[0] in ("br", "brcond") and o[-1] == op[1] for o in cand)) \
                    and _well_formed(cand) and _differs(m.outcomes(cand, pc, init)):
                ops = cand
                changed = True
            i = min(i - 1, len(ops) - 2)
    return ops


def _fmt_state(state: bytes) -> str:
    vals = struct.unpack(f"<{NSLOTS}Q", state)
    names = {s: n for n, s in SLOTS.items()} | {ICOUNT: "icount"}
    return ", ".join(f"{names[i]}=0x{v:x}" for i, v in enumerate(vals))


def _fmt_outcome(out: tuple, init: bytes) -> str:
    if out[0] == "python exception":
        return f"raised {out[1]}"
    ret, state, exc, mem = out
    before = struct.unpack(f"<{NSLOTS}Q", init)
    after = struct.unpack(f"<{NSLOTS}Q", state)
    names = {s: n for n, s in SLOTS.items()} | {ICOUNT: "icount"}
    changed = ", ".join(f"{names[i]}=0x{v:x}" for i, (u, v) in enumerate(zip(before, after, strict=True))
                        if u != v)
    exc_s = None if exc is None else tuple(hex(v) if v >= 0 else v for v in exc)
    text = f"ret={ret if ret < 0 else hex(ret)} exception={exc_s}\n      changed: {changed}"
    if mem is not None:
        text += f"\n      DATA crc32: {zlib.crc32(mem):08x}"
    return text


def _mem_diff(a: bytes | None, b: bytes | None) -> str:
    if a is None or b is None or a == b:
        return ""
    offs = [i for i in range(len(a)) if a[i] != b[i]]
    return f"\n    DATA differs at offsets {[hex(o) for o in offs[:16]]}"


def report(m: Machine, seed: str, n: int, block: Block, init: bytes, outs: dict[str, tuple]) -> str:
    ops = block.ops
    lines = [f"divergence: seed {seed!r} (PYQEMU_IR_SEED={SEED:#x}), sequence {n}, block pc 0x{block.pc:x}",
             "ops:", *map(format_op, ops),
             f"initial state: {_fmt_state(init)}"]
    for k, v in outs.items():
        lines.append(f"  {k}: {_fmt_outcome(v, init)}")
    ref = outs["python"]
    for k in ("x86_64", "interp"):
        if outs[k] != ref and outs[k][0] != "python exception" and ref[0] != "python exception" \
                and _mem_diff(outs[k][3], ref[3]):
            lines.append(f"  {k} vs python:{_mem_diff(outs[k][3], ref[3])}")
    small = shrink(m, list(ops), block.pc, init)
    lines.append(f"shrunk to {len(small)} ops (pcs relative to 0x{block.pc:x}):")
    lines += map(format_op, small)
    last = m.outcomes(small, block.pc, init)
    if last is not None:
        for k, v in last.items():
            lines.append(f"  {k}: {_fmt_outcome(v, init)}")
    return "\n".join(lines)


def run_differential(count: int, tag: str, ninits: int = 3) -> tuple[int, float, float, str | None]:
    """Run ``count`` random blocks, each from ``ninits`` initial states.

    Returns (runs, seconds, seconds compiling, the report of the first divergence or None)."""
    seed = f"{SEED}-diff-{tag}"
    rng = random.Random(seed)
    m = Machine(bytes(rng.getrandbits(8) for _ in range(DATA_SIZE)))
    t0 = time.perf_counter()
    runs = 0
    n = 0
    while n < count:
        batch = []
        for _ in range(min(REGION_BLOCKS, count - n)):
            pc = m.new_pc()
            batch.append(make_block(random_block_ops(rng, pc), pc))
        py, nat = m.compile(batch)
        for block in batch:
            stores = any(op[0] == "st" for op in block.ops)
            for _ in range(ninits):
                init = random_init(rng)
                outs = {"python": m.run("python", py, block, init, stores),
                        "x86_64": m.run("x86_64", nat, block, init, stores),
                        "interp": m.run("interp", None, block, init, stores)}
                runs += 1
                if not (outs["python"] == outs["x86_64"] == outs["interp"]):
                    failure = report(m, seed, n, block, init, outs)
                    return runs, time.perf_counter() - t0, m.compile_time, failure
            n += 1
    return runs, time.perf_counter() - t0, m.compile_time, None


def _worker(args: tuple[int, str]) -> tuple[int, float, float, str | None]:
    return run_differential(*args)


def test_generator_covers_every_op() -> None:
    """Sanity check of the generator: every IR op, condition and memop shows up many times."""
    rng = random.Random(f"{SEED}-cover")
    seen: dict[Any, int] = {}
    for k in range(2000):
        for op in random_block_ops(rng, BLOCK_BASE + BLOCK_STRIDE * k):
            keys = [op[0]]
            if op[0] in ("setcond", "movcond", "brcond"):
                keys.append((op[0], op[4] if op[0] != "brcond" else op[3]))
            elif op[0] in ("ld", "st"):
                keys.append((op[0], op[3]))
            elif op[0] == "call":
                keys.append(("call", op[2].name))
            for key in keys:
                seen[key] = seen.get(key, 0) + 1
    want = list(BINARY_OPS | UNARY_OPS) + ["setcond", "movcond", "ld", "st", "call", "brcond", "br",
                                           "set_label", "insn_start", "exit", "exit_exc", "exit_loop"]
    want += [(n, c) for n in ("setcond", "movcond", "brcond") for c in COND]
    want += [("ld", mo) for mo in MEMOPS] + [("st", mo) for mo in range(4)]
    want += [("call", h.name) for h, _, _ in HELPERS]
    rare = {k: seen.get(k, 0) for k in want if seen.get(k, 0) < 20}
    assert not rare, rare


def test_backends_agree_on_random_blocks_quick() -> None:
    count = 3000
    runs, secs, comp, failure = run_differential(count, "quick")
    if failure:
        pytest.fail(failure, pytrace=False)
    print(f"\n{count} blocks, {runs} runs in {secs:.1f}s (compiling {comp:.1f}s)")


@pytest.mark.slow
def test_backends_agree_on_random_blocks() -> None:
    """100,000 blocks (``PYQEMU_DIFF_COUNT``), split over one process per CPU (compiling dominates)."""
    count = int(os.environ.get("PYQEMU_DIFF_COUNT", "100000"))
    nproc = max(1, min(len(os.sched_getaffinity(0)), 4))
    shares = [(count * (k + 1) // nproc - count * k // nproc, f"slow{k}") for k in range(nproc)]
    t0 = time.perf_counter()
    if nproc == 1:
        results = [run_differential(*shares[0])]
    else:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(nproc, mp_context=ctx) as pool:
            results = list(pool.map(_worker, shares))
    failures = [r[3] for r in results if r[3]]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    print(f"\n{count} blocks, {sum(r[0] for r in results)} runs in {time.perf_counter() - t0:.1f}s "
          f"on {nproc} processes (compiling {sum(r[2] for r in results):.1f}s of "
          f"{sum(r[1] for r in results):.1f}s)")
