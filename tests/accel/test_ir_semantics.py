"""Differential tests of the IR's three implementations.

Every pure IR op has three implementations that must agree bit for bit:

* the reference table :data:`pyqemu.accel.tcg.ir.FOLD` (plus :func:`~pyqemu.accel.tcg.ir.eval_cond` for
  ``setcond``/``movcond``), which the optimizer uses for constant folding;
* the python backend (:class:`~pyqemu.accel.tcg.backend_python.PythonBackend`), which turns a block into
  Python source with many special cases (constant operands, unmasked temps that only feed sign/zero
  extensions or memory addresses, ...);
* the IR interpreter (:class:`~pyqemu.accel.tcg.interp.Interpreter`) that runs cold code.

Each test builds small IR blocks that read operands from globals (slots of a CPU state buffer),
apply ops and store to globals, runs them through the backend and the interpreter, and compares the
state buffers, the returned pc and the guest exception with the reference.  Besides the pure ops the
tests cover guest loads/stores of every size and signedness (misaligned too, and at the edges of the
address space), the self-modifying-code path of stores, branch shapes, precise guest faults raised by
helpers, helper register syncing, multi-block regions, and the optimizer (random programs must compute
the same results before and after :func:`~pyqemu.accel.tcg.optimize.optimize`).

Regression tests pin the bugs found this way: branch shapes the backend once miscompiled or
rejected, constants and inlined temps that went stale across helper calls with an ``accumulate``
global, inlined temp chains that read overwritten sources, accesses straddling into a protected page,
and ``clz``/``cpop`` of small constants.

The random seed can be changed with ``PYQEMU_IR_SEED``.
"""

from __future__ import annotations

import itertools
import os
import random
import struct
from dataclasses import dataclass
from typing import Any

import pytest

from pyqemu.accel.tcg.backend_python import BUDGET, GuestFault, PythonBackend
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend
from pyqemu.accel.tcg.backends.x86_64.backend import host_supported as native_unsupported
from pyqemu.accel.tcg.interp import Interpreter
from pyqemu.accel.tcg.ir import BINARY_OPS, COND, FOLD, MASK64, SIGN, UNARY_OPS, Block, Helper, eval_cond
from pyqemu.accel.tcg.optimize import optimize
from pyqemu.accel.tcg.user_memory import UserMemory
from pyqemu.linux_user.memory import PROT_READ, PROT_WRITE, AddressSpace

SEED = int(os.environ.get("PYQEMU_IR_SEED", "0x5eed"), 0)
M = MASK64

# --- the test machine: a flat state buffer of globals, a user-mode address space ---------------------

NRES = 48
#: ``a``/``b``/``c`` are operands, ``r0``..``r47`` results; names must not start with ``t`` (temps)
SLOTS = {"a": 0, "b": 1, "c": 2, **{f"r{i}": 3 + i for i in range(NRES)}}
ICOUNT = 3 + NRES
NSLOTS = ICOUNT + 1
BLOCK_PC = 0x1000
EXIT_PC = 0x8000
PAGE = 4096
# guest memory layout: everything else is unmapped
DATA = 0x20000  # two read/write pages
RO = DATA + 2 * PAGE  # read-only page
NOACCESS = RO + PAGE  # mapped PROT_NONE
UNMAPPED = NOACCESS + PAGE
CODE = 0x30000  # read/write page that the SMC test marks as holding translated code

SHIFT_OPS = {"shl", "shr", "sar"}  # IR contract: amount 0..63 (the frontend masks)

EDGE = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
        2**63 - 1, 2**63, 2**63 + 1, M, M - 1, -3 & M, -7 & M, -128 & M, 0xFFFFFFFF80000000,
        0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x00FF00FF00FF0000]
#: divisors and other operands the division ops treat specially
SPECIAL = [0, 1, M, 2**63, M - 1]


def random_values(rng: random.Random, n: int) -> list[int]:
    """Random 64-bit values of mixed magnitudes (plain uniform values are almost never small)."""
    out = []
    for _ in range(n):
        v = rng.getrandbits(rng.choice((4, 8, 16, 31, 32, 33, 63, 64)))
        out.append(v if rng.random() < 0.7 else -v & M)
    return out


class CodeChanges:
    """Records the address space's code-change callbacks (the TB cache's invalidation hook)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> None:
        self.calls.append((start, end))


class FakeCPU:
    def __init__(self, init: dict[str, int] | None = None) -> None:
        self.state = bytearray(NSLOTS * 8)
        self.R = memoryview(self.state).cast("Q")
        self.exception: tuple[int, int, int] | None = None
        for name, value in (init or {}).items():
            self.R[SLOTS[name]] = value


@dataclass
class Outcome:
    ret: int
    regs: dict[str, int]
    icount: int
    exception: tuple[int, int, int] | None


def _outcome(ret: int, cpu: FakeCPU) -> Outcome:
    return Outcome(ret, {n: cpu.R[s] for n, s in SLOTS.items()}, cpu.R[ICOUNT], cpu.exception)


class Engines:
    """A backend and the interpreter over one address space."""

    def __init__(self, space: AddressSpace, kind: str = "python") -> None:
        self.space = space
        self.kind = kind
        self.memory = UserMemory(space, None)
        self.backend = PythonBackend(SLOTS, self.memory, icount_slot=ICOUNT)
        self.interp = Interpreter(SLOTS, self.memory, ICOUNT)

    def compile(self, *blocks: Block):
        """The function running ``blocks`` like the exec loop does: until it leaves for another pc."""
        if self.kind == "python":
            return self.backend.compile_region(list(blocks)).fn
        # a fresh code cache each time: tests compile different blocks at the same pc
        native = NativeBackend(SLOTS, self.memory, icount_slot=ICOUNT, budget=BUDGET, cache_size=1 << 20)
        fn = native.compile_region(list(blocks)).fn
        members = {b.pc for b in blocks}

        def run(cpu, R, pc):
            pc = fn(cpu, R, pc)
            while pc in members:
                pc = fn(cpu, R, pc)
            return pc

        return run

    def run_compiled(self, fn, init: dict[str, int], pc: int = BLOCK_PC) -> Outcome:
        cpu = FakeCPU(init)
        return _outcome(fn(cpu, cpu.R, pc), cpu)

    def run_interp(self, block: Block, init: dict[str, int]) -> Outcome:
        cpu = FakeCPU(init)
        return _outcome(self.interp.run(block, cpu, cpu.R), cpu)

    def both(self, block: Block, init: dict[str, int]) -> tuple[Outcome, Outcome]:
        return self.run_compiled(self.compile(block), init), self.run_interp(block, init)


def make_space() -> AddressSpace:
    """A guest address space (reserved, costs nothing until touched) with the test's mappings."""
    space = AddressSpace()
    space.map(DATA, 2 * PAGE, PROT_READ | PROT_WRITE)
    space.map(RO, PAGE, PROT_READ)
    space.map(NOACCESS, PAGE, 0)
    space.map(CODE, PAGE, PROT_READ | PROT_WRITE)
    space.map(space.top - PAGE, PAGE, PROT_READ | PROT_WRITE)
    return space


@pytest.fixture(scope="module")
def space() -> AddressSpace:
    return make_space()


BACKENDS = ["python"] + (["x86_64"] if native_unsupported() is None else [])


@pytest.fixture(params=BACKENDS)
def eng(space: AddressSpace, request: pytest.FixtureRequest) -> Engines:
    return Engines(space, request.param)


def block_of(ops: list[tuple], exit_pc: int | str = EXIT_PC, n_insns: int = 1) -> Block:
    """A one-instruction block running ``ops`` and leaving for ``exit_pc``."""
    b = Block(BLOCK_PC, ops=[("insn_start", BLOCK_PC), *ops, ("exit", exit_pc)], size=4 * n_insns,
              n_insns=n_insns, guest_insns=[(BLOCK_PC + 4 * i, 0) for i in range(n_insns)])
    b.ntemps = 1000  # keep fresh temps of later passes away from the ones used here
    return b


def check_all(eng: Engines, block: Block, inits: list[dict[str, int]], expect, setup=None) -> None:
    """Run ``block`` compiled and interpreted for every init; compare with ``expect(init)``.

    ``setup()`` (if given) runs before each of the two runs, e.g. to reset guest memory.
    """
    fn = eng.compile(block)
    for init in inits:
        want = expect(init)
        if setup:
            setup()
        got_b = eng.run_compiled(fn, init)
        if setup:
            setup()
        got_i = eng.run_interp(block, init)
        for what, got in (("backend", got_b), ("interp", got_i)):
            assert got.ret == EXIT_PC and got.exception is None, (what, init)
            bad = {r: (hex(got.regs[r]), hex(v)) for r, v in want.items() if got.regs[r] != v}
            assert not bad, f"{what}: {init=} got/want {bad}\n{block.ops}"


def operand_pairs(rng: random.Random, shift: bool) -> list[tuple[int, int]]:
    if shift:
        values = EDGE + random_values(rng, 24)
        return [(a, s) for a in values for s in range(64)]
    pairs = list(itertools.product(EDGE, EDGE))
    vals = random_values(rng, 400)
    pairs += list(zip(vals[::2], vals[1::2], strict=True))
    pairs += [(a, d) for a in random_values(rng, 20) for d in SPECIAL]
    return pairs


# --- pure ops ----------------------------------------------------------------------------------------


def test_op_tables_cover_the_documented_op_set() -> None:
    assert set(FOLD) == BINARY_OPS | UNARY_OPS
    assert BINARY_OPS.isdisjoint(UNARY_OPS)


@pytest.mark.parametrize("op", sorted(BINARY_OPS))
def test_binary_op_on_registers(eng: Engines, op: str) -> None:
    rng = random.Random(f"{SEED}-{op}")
    shift = op in SHIFT_OPS
    ops = [(op, "r0", "a", "b")]
    if not shift:
        ops += [(op, "r1", "b", "a"), (op, "r2", "a", "a"),
                # result into one of its own operands, and through a temp
                ("mov", "r3", "a"), (op, "r3", "r3", "b"),
                (op, "t1", "a", "b"), ("mov", "r4", "t1")]
    f = FOLD[op]

    def expect(i: dict[str, int]) -> dict[str, int]:
        a, b = i["a"], i["b"]
        want = {"r0": f(a, b), "a": a, "b": b}
        if not shift:
            want |= {"r1": f(b, a), "r2": f(a, a), "r3": f(a, b), "r4": f(a, b)}
        return want

    check_all(eng, block_of(ops), [{"a": a, "b": b} for a, b in operand_pairs(rng, shift)], expect)


@pytest.mark.parametrize("op", sorted(BINARY_OPS))
def test_binary_op_with_constant_operands(eng: Engines, op: str) -> None:
    """Constants take other code paths in the backend (negative adds, folded masks, rotates...)."""
    rng = random.Random(f"{SEED}-{op}-const")
    if op in SHIFT_OPS:
        consts = [0, 1, 2, 7, 8, 31, 32, 33, 62, 63]
        left = EDGE[:10]
    else:
        consts = [0, 1, 2, 9, 10, 31, 32, 63, 64, 65, 2**31, 2**32 - 1, 2**63, M, M - 1, -2048 & M,
                  0x0123456789ABCDEF]
        left = consts
    ops: list[tuple] = []
    expected: list[tuple[str, Any]] = []
    r = 0
    for c in consts:  # register op constant
        ops.append((op, f"r{r}", "a", c))
        expected.append((f"r{r}", lambda i, c=c: FOLD[op](i["a"], c)))
        r += 1
    for c in left:  # constant op register (shift amounts stay in range)
        ops.append((op, f"r{r}", c, "c"))
        expected.append((f"r{r}", lambda i, c=c: FOLD[op](c, i["c"])))
        r += 1
    for c1, c2 in rng.sample(list(itertools.product(left, consts)), NRES - r):  # both constant
        ops.append((op, f"r{r}", c1, c2))
        value = FOLD[op](c1, c2)
        expected.append((f"r{r}", lambda i, v=value: v))
        r += 1
    assert r <= NRES
    amounts = range(64) if op in SHIFT_OPS else EDGE
    inits = [{"a": a, "c": c} for a, c in zip(EDGE + random_values(rng, 40),
                                              itertools.cycle(amounts), strict=False)]
    check_all(eng, block_of(ops), inits, lambda i: {name: fn(i) for name, fn in expected})


@pytest.mark.parametrize("op", sorted(UNARY_OPS))
def test_unary_op_on_registers(eng: Engines, op: str) -> None:
    rng = random.Random(f"{SEED}-{op}")
    ops = [(op, "r0", "a"), (op, "t1", "a"), ("mov", "r1", "t1"), ("mov", "r2", "a"), (op, "r2", "r2")]
    f = FOLD[op]
    inits = [{"a": a} for a in EDGE + random_values(rng, 300)]
    check_all(eng, block_of(ops), inits, lambda i: {"r0": f(i["a"]), "r1": f(i["a"]), "r2": f(i["a"])})


@pytest.mark.parametrize("op", sorted(UNARY_OPS))
def test_unary_op_on_constants(eng: Engines, op: str) -> None:
    # (small decimal constants for clz/cpop: see test_unary_bit_count_of_small_constant)
    consts = [c for c in EDGE if c >= 10 or op not in ("clz", "cpop")]
    ops = [(op, f"r{k}", c) for k, c in enumerate(consts)]
    check_all(eng, block_of(ops), [{}], lambda i: {f"r{k}": FOLD[op](c) for k, c in enumerate(consts)})


@pytest.mark.parametrize("op", ["clz", "cpop"])
def test_unary_bit_count_of_small_constant(eng: Engines, op: str) -> None:
    ops = [(op, "r0", 5), (op, "r1", 0x30)]
    check_all(eng, block_of(ops), [{}], lambda i: {"r0": FOLD[op](5), "r1": FOLD[op](0x30)})


@pytest.mark.parametrize("cond", COND)
def test_setcond_and_movcond(eng: Engines, cond: str) -> None:
    rng = random.Random(f"{SEED}-{cond}")
    consts = [0, 1, 2**31, 2**63 - 1, 2**63, M, 0x7F]
    ops: list[tuple] = [("setcond", "r0", "a", "b", cond),
                        ("movcond", "r1", "a", "b", cond, "c", "a"),
                        ("movcond", "r2", "a", "b", cond, 0x1234, "c"),
                        ("movcond", "r3", "a", "b", cond, "c", M),
                        ("setcond", "t1", "a", "b", cond), ("mov", "r4", "t1")]
    expected: list[tuple[str, Any]] = [
        ("r0", lambda a, b, c: int(eval_cond(cond, a, b))),
        ("r1", lambda a, b, c: c if eval_cond(cond, a, b) else a),
        ("r2", lambda a, b, c: 0x1234 if eval_cond(cond, a, b) else c),
        ("r3", lambda a, b, c: c if eval_cond(cond, a, b) else M),
        ("r4", lambda a, b, c: int(eval_cond(cond, a, b))),
    ]
    r = 5
    for k in consts:
        ops += [("setcond", f"r{r}", "a", k, cond), ("setcond", f"r{r + 1}", k, "a", cond),
                ("movcond", f"r{r + 2}", k, "b", cond, "a", "c")]
        expected += [(f"r{r}", lambda a, b, c, k=k: int(eval_cond(cond, a, k))),
                     (f"r{r + 1}", lambda a, b, c, k=k: int(eval_cond(cond, k, a))),
                     (f"r{r + 2}", lambda a, b, c, k=k: a if eval_cond(cond, k, b) else c)]
        r += 3
    ops.append(("setcond", f"r{r}", 5, 2**63, cond))
    expected.append((f"r{r}", lambda a, b, c: int(eval_cond(cond, 5, 2**63))))
    vals = EDGE + random_values(rng, 30)
    inits = [{"a": a, "b": b, "c": rng.getrandbits(64)} for a in vals[::2] for b in vals]
    inits += [{"a": v, "b": v, "c": 7} for v in vals]
    check_all(eng, block_of(ops), inits,
              lambda i: {n: f(i["a"], i["b"], i["c"]) for n, f in expected})


@pytest.mark.parametrize("op", ["add", "sub", "mul", "shl", "xor", "sar", "neg", "not"])
def test_temps_feeding_only_extensions(eng: Engines, op: str) -> None:
    """A temp consumed only by sign/zero extensions may be left unmasked by the backend."""
    rng = random.Random(f"{SEED}-{op}-low")
    exts = ["ext8s", "ext16s", "ext32s", "ext8u", "ext16u", "ext32u"]
    src = ("a",) if op in UNARY_OPS else ("a", "b")
    ops: list[tuple] = [(op, "t1", *src)]
    ops += [(e, f"r{k}", "t1") for k, e in enumerate(exts)]
    # the same through a constant operand
    cst = (0x80000000,) if op in UNARY_OPS else ("a", 33 if op in SHIFT_OPS else 0xFFFFFFFF80000001)
    ops.append((op, "t2", *cst))
    ops += [(e, f"r{k + 6}", "t2") for k, e in enumerate(exts)]
    shift = op in SHIFT_OPS
    vals = EDGE + random_values(rng, 60)
    inits = [{"a": a, "b": (b & 63) if shift else b} for a in vals for b in vals[::5]]

    def expect(i: dict[str, int]) -> dict[str, int]:
        v1 = FOLD[op](*(i[s] for s in src))
        v2 = FOLD[op](*(i[s] if isinstance(s, str) else s for s in cst))
        out = {f"r{k}": FOLD[e](v1) for k, e in enumerate(exts)}
        return out | {f"r{k + 6}": FOLD[e](v2) for k, e in enumerate(exts)}

    check_all(eng, block_of(ops), inits, expect)


# --- guest memory ------------------------------------------------------------------------------------

LOAD_MEMOPS = [0, 1, 2, 3, 0 | SIGN, 1 | SIGN, 2 | SIGN, 3 | SIGN]


def _ref_load(data: bytes, off: int, memop: int) -> int:
    size = 1 << (memop & 3)
    v = int.from_bytes(data[off:off + size], "little")
    if memop & SIGN and v >> (8 * size - 1):
        v -= 1 << (8 * size)
    return v & M


def test_loads_of_every_size_and_sign(eng: Engines) -> None:
    rng = random.Random(f"{SEED}-ld")
    data = bytes(rng.getrandbits(8) | (0x80 if k % 3 == 0 else 0) for k in range(64))
    eng.space.write(DATA, data)
    # straddle a page boundary too (the user-mode mapping is flat)
    eng.space.write(DATA + 4096 - 8, data[:16])
    ops: list[tuple] = []
    want: dict[str, int] = {}
    r = 0
    for memop in LOAD_MEMOPS:
        off = rng.randrange(1, 8)  # misaligned for every size above a byte
        ops += [("ld", f"r{r}", "a", memop),                                  # address in a global
                ("add", "t1", "a", off), ("ld", f"r{r + 1}", "t1", memop),  # address temp (unmasked)
                ("ld", f"r{r + 2}", DATA + 2 * off + 1, memop),               # constant address
                ("ld", f"r{r + 3}", "b", memop)]                              # across a page boundary
        want |= {f"r{r}": _ref_load(data, 0, memop), f"r{r + 1}": _ref_load(data, off, memop),
                 f"r{r + 2}": _ref_load(data, 2 * off + 1, memop),
                 f"r{r + 3}": _ref_load(data[:16], 5, memop)}
        r += 4
    # address arithmetic that leaves the 64-bit range before wrapping: with a negative constant
    # (r40 - 16), and past 2**64 (r41 + DATA + 3 with r41 = 2**64 - 0x100)
    ops += [("add", "t2", "r40", -16 & M), ("ld", f"r{r}", "t2", 3),
            ("add", "t3", "r41", DATA + 0x103), ("ld", f"r{r + 1}", "t3", 2 | SIGN),
            ("add", "t4", "r42", 2**64 - 0x100 + 5), ("ld", f"r{r + 2}", "t4", 1)]
    want |= {f"r{r}": _ref_load(data, 0, 3), f"r{r + 1}": _ref_load(data, 3, 2 | SIGN),
             f"r{r + 2}": _ref_load(data, 5, 1)}
    init = {"a": DATA, "b": DATA + 4096 - 3, "r40": DATA + 16, "r41": 2**64 - 0x100, "r42": DATA + 0x100}
    check_all(eng, block_of(ops), [init], lambda i: want)


@pytest.mark.parametrize("memop", [0, 1, 2, 3, 2 | SIGN])
def test_stores_of_every_size(eng: Engines, memop: int) -> None:
    rng = random.Random(f"{SEED}-st{memop}")
    size = 1 << (memop & 3)
    mask = (1 << 8 * size) - 1
    for off in range(0, 9):
        value = rng.getrandbits(64) | (1 << 63)  # wider than the store: must be truncated
        const_value = rng.getrandbits(64)
        ops = [("st", "b", "a", memop), ("add", "t1", "a", 16), ("st", const_value, "t1", memop),
               ("st", "b", DATA + 32 + off, memop),
               ("st", "b", "c", memop)]  # across the boundary between the two data pages
        block = block_of(ops)
        for runner in ("backend", "interp"):
            eng.space.write(DATA, b"\xa5" * 64)
            eng.space.write(DATA + PAGE - 8, b"\x5a" * 16)
            init = {"a": DATA + off, "b": value, "c": DATA + PAGE - 3}
            out = (eng.run_compiled(eng.compile(block), init) if runner == "backend"
                   else eng.run_interp(block, init))
            assert out.ret == EXIT_PC and out.exception is None
            want = bytearray(b"\xa5" * 64)
            want[off:off + size] = (value & mask).to_bytes(size, "little")
            want[16 + off:16 + off + size] = (const_value & mask).to_bytes(size, "little")
            want[32 + off:32 + off + size] = (value & mask).to_bytes(size, "little")
            assert eng.space.read(DATA, 64) == bytes(want), (runner, off)
            want = bytearray(b"\x5a" * 16)
            want[5:5 + size] = (value & mask).to_bytes(size, "little")
            assert eng.space.read(DATA + PAGE - 8, 16) == bytes(want), (runner, off)


LOAD_FAULT, STORE_FAULT = 13, 15  # page faults: nothing mapped
LOAD_ACCESS, STORE_ACCESS = 5, 7  # access faults: mapped without the permission


@pytest.mark.parametrize("kind,base,off,memop,code", [
    ("ld", 0, 0, 0, LOAD_FAULT), ("ld", DATA - 1, 0, 0, LOAD_FAULT), ("ld", DATA - 8, 0, 3, LOAD_FAULT),
    ("ld", M - 3, 0, 2, LOAD_FAULT), ("ld", 2**63, 0, 3, LOAD_FAULT), ("ld", 1 << 38, 0, 3, LOAD_FAULT),
    ("ld", UNMAPPED, 0, 1, LOAD_FAULT), ("ld", NOACCESS + 8, 0, 3, LOAD_ACCESS),
    ("ld", 0x10, -0x20 & M, 2 | SIGN, LOAD_FAULT),  # small negative result of the address add
    ("ld", M - 7, 9, 0, LOAD_FAULT),  # address add that wraps past 2**64
    ("ld", DATA + 0x10, -0x11 & M, 0, LOAD_FAULT),
    ("st", 8, 0, 3, STORE_FAULT), ("st", M, 0, 0, STORE_FAULT), ("st", UNMAPPED + 4, 0, 2, STORE_FAULT),
    ("st", RO, 0, 3, STORE_ACCESS), ("st", RO + 0xFFF, 0, 0, STORE_ACCESS),
    ("st", NOACCESS, 0, 1, STORE_ACCESS), ("st", 0x20, -0x21 & M, 3, STORE_FAULT),
])
def test_faulting_access_reports_address_and_pc(eng: Engines, kind: str, base: int, off: int, memop: int,
                                                code: int) -> None:
    """The fault reports the faulting instruction's pc, the address as tval, and keeps prior writes."""
    addr = (base + off) & M
    op = ("ld", "r1", "t1", memop) if kind == "ld" else ("st", "b", "t1", memop)
    ops = [("mov", "r0", 11), ("insn_start", BLOCK_PC + 4), ("add", "t1", "a", off), op,
           ("insn_start", BLOCK_PC + 8), ("mov", "r2", 22)]
    block = block_of(ops, n_insns=3)
    before = eng.space.read(RO, 8)
    for out in eng.both(block, {"a": base, "b": M, "r1": 5, "r2": 6}):
        assert out.ret == -1
        assert out.exception == (code, BLOCK_PC + 4, addr)
        assert (out.regs["r0"], out.regs["r1"], out.regs["r2"]) == (11, 5, 6)
        assert out.icount == 1  # one guest instruction completed
    assert eng.space.read(RO, 8) == before


def test_accesses_at_the_top_of_the_address_space(eng: Engines) -> None:
    """The last mapped page below ``top`` works right up to its last byte, through fast and slow paths."""
    top = eng.space.top
    ops = [("ld", "r0", top - 8, 3), ("ld", "r1", top - 1, 0 | SIGN), ("ld", "r2", "a", 1),
           ("st", "b", top - 2, 1), ("ld", "r4", top - 4, 2),
           ("add", "t1", "c", 2**64 - 8), ("ld", "r5", "t1", 3)]  # top - 8 through an unwrapped add
    want = {"r0": 0xF8F7F6F5F4F3F2F1, "r1": -8 & M, "r2": 0xF8F7, "r4": 0xBEEFF6F5, "r5": 0xBEEFF6F5F4F3F2F1}
    check_all(eng, block_of(ops), [{"a": top - 2, "b": 0xBEEF, "c": top}], lambda i: want,
              setup=lambda: eng.space.write(top - 8, bytes(range(0xF1, 0xF9))))


@pytest.mark.parametrize("kind,addr,memop", [
    ("st", RO - 4, 3),        # last 4 bytes of a read/write page, first 4 of a read-only one
    ("st", RO - 1, 1),
    ("ld", NOACCESS - 2, 2),  # read-only page into a PROT_NONE page
    ("ld", None, 3),          # the last mapped page into the guard area above ``top``
])
def test_access_straddling_into_a_protected_page_faults(eng: Engines, kind: str, addr: int | None,
                                                        memop: int) -> None:
    if addr is None:
        addr = eng.space.top - 4
    op = ("ld", "r1", "a", memop) if kind == "ld" else ("st", "b", "a", memop)
    before = eng.space.read(RO, 8)
    for out in eng.both(block_of([op]), {"a": addr, "b": M}):
        assert out.ret == -1 and out.exception is not None and out.exception[1] == BLOCK_PC
        codes = (LOAD_FAULT, LOAD_ACCESS) if kind == "ld" else (STORE_FAULT, STORE_ACCESS)
        assert out.exception[0] in codes
    assert eng.space.read(RO, 8) == before


def test_store_into_translated_code_takes_the_smc_path() -> None:
    """A store to a page holding translated code (write-protected for it) drops the translations and
    the block leaves right after the storing instruction; stores elsewhere don't."""
    space = make_space()
    eng = Engines(space)
    changes = CodeChanges()
    space.on_code_change = changes
    space.protect_code_page(CODE >> 12, True)
    ops = [("mov", "r0", 1),
           ("insn_start", BLOCK_PC + 4), ("st", "b", "a", 2),
           ("insn_start", BLOCK_PC + 8), ("mov", "r1", 2)]
    block = block_of(ops, n_insns=3)
    for runner in ("backend", "interp"):
        changes.calls.clear()
        init = {"a": CODE + 0x13, "b": 0xDEADBEEF}
        out = (eng.run_compiled(eng.compile(block), init) if runner == "backend"
               else eng.run_interp(block, init))
        assert changes.calls == [(CODE, CODE + PAGE)], runner
        assert space.read(CODE + 0x13, 4) == struct.pack("<I", 0xDEADBEEF)
        assert out.exception is None and out.regs["r0"] == 1
        assert (out.ret, out.regs["r1"], out.icount) == (BLOCK_PC + 8, 0, 2), runner
    # stores outside the translated pages never call the hook and run to the block's end
    changes.calls.clear()
    for out in eng.both(block, {"a": DATA + 0x13, "b": 1}):
        assert (out.ret, out.regs["r1"], out.icount) == (EXIT_PC, 2, 3)
    assert changes.calls == []


@pytest.mark.parametrize("shape", ["straight", "branch", "last-insn"])
def test_store_into_translated_code_finishes_its_instruction(shape: str) -> None:
    """A store followed by more of its instruction (a second store, a base register writeback, as A64's
    STP and post-indexed stores) that hits translated code still completes the instruction, then
    leaves: the later stores and register writes happen, the next instruction doesn't run."""
    space = make_space()
    eng = Engines(space)
    space.on_code_change = CodeChanges()
    space.protect_code_page(CODE >> 12, True)
    body = [("st", "b", "a", 3), ("add", "t1", "a", 8), ("st", "c", "t1", 3), ("add", "r2", "a", 16)]
    if shape == "branch":  # the instruction's stores behind a check that passes
        body = [("brcond", "a", 0, "eq", 7), *body, ("set_label", 7)]
    tail = [] if shape == "last-insn" else [("insn_start", BLOCK_PC + 8), ("mov", "r1", 2)]
    block = block_of([("mov", "r0", 1), ("insn_start", BLOCK_PC + 4), *body, *tail], n_insns=2 + bool(tail))
    for runner in ("backend", "interp"):
        space.write(CODE, bytes(32))
        init = {"a": CODE + 8, "b": 0x1111, "c": 0x2222}
        out = (eng.run_compiled(eng.compile(block), init) if runner == "backend"
               else eng.run_interp(block, init))
        assert out.exception is None, runner
        assert struct.unpack("<QQ", space.read(CODE + 8, 16)) == (0x1111, 0x2222), runner
        assert (out.regs["r0"], out.regs["r2"], out.regs["r1"]) == (1, CODE + 24, 0), runner
        assert (out.ret, out.icount) == (BLOCK_PC + 8, 2), runner


# --- control flow ------------------------------------------------------------------------------------


def _guarded(ops: list[tuple]) -> Block:
    """A block whose first op faults if it is entered twice (catches miscompiled exits that loop)."""
    entries = [0]

    def guard() -> None:
        entries[0] += 1
        if entries[0] > 1:
            raise GuestFault(99, entries[0])

    block = block_of([("call", None, Helper("guard", guard, pass_cpu=False)), *ops])
    block.entries = entries  # type: ignore[attr-defined]
    return block


def _branch_inits(rng: random.Random) -> list[dict[str, int]]:
    vals = [0, 1, 5, 2**63, M, 2**31] + random_values(rng, 6)
    return [{"a": a, "b": b} for a in vals for b in vals]


def run_branchy(eng: Engines, ops: list[tuple], expect, inits: list[dict[str, int]]) -> None:
    block = _guarded(ops)
    fn = eng.compile(block)
    for init in inits:
        for runner in ("backend", "interp"):
            block.entries[0] = 0  # type: ignore[attr-defined]
            out = eng.run_compiled(fn, init) if runner == "backend" else eng.run_interp(block, init)
            want = expect(init["a"], init["b"])
            ret = want.pop("ret", EXIT_PC)
            assert out.exception is None, (runner, init)
            assert out.ret == ret, (runner, init)
            assert {k: out.regs[k] for k in want} == want, (runner, init, ops)


@pytest.mark.parametrize("cond", COND)
def test_brcond_forward(eng: Engines, cond: str) -> None:
    ops = [("mov", "r0", 1), ("brcond", "a", "b", cond, 1), ("mov", "r0", 2), ("add", "r1", "a", 1),
           ("set_label", 1), ("add", "r2", "r0", 10)]

    def expect(a: int, b: int) -> dict[str, int]:
        taken = eval_cond(cond, a, b)
        return {"r0": 1 if taken else 2, "r1": 0 if taken else (a + 1) & M, "r2": 11 if taken else 12}

    run_branchy(eng, ops, expect, _branch_inits(random.Random(f"{SEED}-{cond}")))


@pytest.mark.parametrize("cond", COND)
def test_if_else_and_constant_operands(eng: Engines, cond: str) -> None:
    ops = [("brcond", "a", "b", cond, 1), ("mov", "r0", 10), ("br", 2), ("set_label", 1),
           ("mov", "r0", 20), ("set_label", 2),
           ("brcond", "a", 0, cond, 3), ("mov", "r1", 1), ("set_label", 3),
           ("brcond", 2**63, "b", cond, 4), ("mov", "r2", 1), ("set_label", 4)]

    def expect(a: int, b: int) -> dict[str, int]:
        return {"r0": 20 if eval_cond(cond, a, b) else 10, "r1": 0 if eval_cond(cond, a, 0) else 1,
                "r2": 0 if eval_cond(cond, 2**63, b) else 1}

    run_branchy(eng, ops, expect, _branch_inits(random.Random(f"{SEED}-{cond}-ie")))


def test_nested_ifs_and_exits_inside_branches(eng: Engines) -> None:
    """The translator's conditional-branch shape (an exit on each path) and properly nested ifs."""
    ops = [("brcond", "a", "b", "ltu", 1),
           ("brcond", "a", 5, "eq", 2), ("mov", "r0", 1), ("set_label", 2),
           ("mov", "r1", 2), ("exit", 0x100),
           ("set_label", 1), ("mov", "r2", 3), ("exit", "b")]

    def expect(a: int, b: int) -> dict[str, int]:
        if a < b:
            return {"r0": 0, "r1": 0, "r2": 3, "ret": b}
        return {"r0": 0 if a == 5 else 1, "r1": 2, "r2": 0, "ret": 0x100}

    run_branchy(eng, ops, expect, _branch_inits(random.Random(f"{SEED}-nest")))


def test_two_branches_to_one_label(eng: Engines) -> None:
    ops = [("brcond", "a", 1, "eq", 1), ("brcond", "b", 5, "eq", 1), ("mov", "r0", 7), ("set_label", 1),
           ("mov", "r1", 9)]
    run_branchy(eng, ops, lambda a, b: {"r0": 0 if a == 1 or b == 5 else 7, "r1": 9},
                [{"a": a, "b": b} for a in (0, 1) for b in (0, 5)])


def test_overlapping_forward_branches(eng: Engines) -> None:
    ops = [("brcond", "a", 1, "ne", 1), ("brcond", "b", 5, "ne", 2), ("mov", "r0", 7), ("set_label", 1),
           ("mov", "r1", 9), ("set_label", 2), ("mov", "r2", 3)]

    def expect(a: int, b: int) -> dict[str, int]:
        if a != 1:
            return {"r0": 0, "r1": 9, "r2": 3}
        return {"r0": 0, "r1": 0, "r2": 3} if b != 5 else {"r0": 7, "r1": 9, "r2": 3}

    run_branchy(eng, ops, expect, [{"a": a, "b": b} for a in (0, 1) for b in (0, 5)])


@pytest.mark.parametrize("shape", ["empty-if", "empty-then"])
def test_empty_branch_bodies(eng: Engines, shape: str) -> None:
    if shape == "empty-if":
        ops = [("brcond", "a", 1, "eq", 1), ("set_label", 1), ("mov", "r1", 9)]
        expect = lambda a, b: {"r1": 9}  # noqa: E731
    else:
        ops = [("brcond", "a", 1, "eq", 1), ("br", 2), ("set_label", 1), ("mov", "r1", 9), ("set_label", 2)]
        expect = lambda a, b: {"r1": 9 if a == 1 else 0}  # noqa: E731
    run_branchy(eng, ops, expect, [{"a": a, "b": 0} for a in (0, 1)])


def test_region_loops_and_chains_member_blocks(eng: Engines) -> None:
    """A self-loop and a direct exit to another member block run inside one compiled region."""
    head = Block(0x1000, ops=[("insn_start", 0x1000), ("add", "r0", "r0", 3),
                              ("insn_start", 0x1004), ("brcond", "r0", "a", "ltu", 1), ("exit", 0x1100),
                              ("set_label", 1), ("exit", 0x1000)], size=8, n_insns=2,
                 guest_insns=[(0x1000, 0), (0x1004, 0)])
    tail = Block(0x1100, ops=[("insn_start", 0x1100), ("mul", "r1", "r0", 2), ("exit", EXIT_PC)],
                 size=4, n_insns=1, guest_insns=[(0x1100, 0)])
    fn = eng.compile(head, tail)
    for limit in (0, 3, 4, 100, 1000):
        out = eng.run_compiled(fn, {"a": limit})
        iters = max(1, -(-limit // 3))
        assert out.ret == EXIT_PC and out.exception is None
        assert (out.regs["r0"], out.regs["r1"]) == (3 * iters, 6 * iters)
        assert out.icount == 2 * iters + 1
        # the interpreter runs one block at a time: drive it like the exec loop does
        cpu = FakeCPU({"a": limit})
        pc = BLOCK_PC
        blocks = {0x1000: head, 0x1100: tail}
        while pc in blocks:
            pc = eng.interp.run(blocks[pc], cpu, cpu.R)
        assert (pc, cpu.R[SLOTS["r0"]], cpu.R[SLOTS["r1"]], cpu.R[ICOUNT]) == \
            (EXIT_PC, out.regs["r0"], out.regs["r1"], out.icount)


# --- helpers and precise exceptions -------------------------------------------------------------------


def test_helper_fault_reports_exact_pc_and_keeps_earlier_writes(eng: Engines) -> None:
    def check(cpu: Any, v: int) -> int:
        if v == 0xBAD:
            raise GuestFault(7, 0xFEED)
        return v + 1

    h = Helper("check", check)
    ops = [("mov", "r0", "a"),                                      # insn 0
           ("insn_start", BLOCK_PC + 4), ("add", "r1", "a", 5),    # insn 1
           ("insn_start", BLOCK_PC + 8), ("call", "r2", h, "a"),   # insn 2: may fault
           ("insn_start", BLOCK_PC + 12), ("mov", "r3", 33)]       # insn 3
    block = block_of(ops, n_insns=4)
    for out in eng.both(block, {"a": 0xBAD, "r2": 77, "r3": 88}):
        assert out.ret == -1
        assert out.exception == (7, BLOCK_PC + 8, 0xFEED)
        assert (out.regs["r0"], out.regs["r1"], out.regs["r2"], out.regs["r3"]) == (0xBAD, 0xBAD + 5, 77, 88)
        assert out.icount == 2
    for out in eng.both(block, {"a": 1}):
        assert out.ret == EXIT_PC and out.exception is None
        assert (out.regs["r1"], out.regs["r2"], out.regs["r3"], out.icount) == (6, 2, 33, 4)


def test_exit_exc_counts_completed_instructions(eng: Engines) -> None:
    ops = [("mov", "r0", 1), ("insn_start", BLOCK_PC + 4), ("mov", "r1", 2),
           ("insn_start", BLOCK_PC + 8), ("exit_exc", 3, BLOCK_PC + 8, BLOCK_PC + 8)]
    block = block_of(ops, n_insns=3)
    block.ops.pop()  # the exit_exc ends the block
    for out in eng.both(block, {}):
        assert (out.ret, out.exception, out.icount) == (-1, (3, BLOCK_PC + 8, BLOCK_PC + 8), 2)
        assert (out.regs["r0"], out.regs["r1"]) == (1, 2)


def test_helpers_see_and_update_globals_they_declare(eng: Engines) -> None:
    seen: list[int] = []

    def reader(cpu: Any) -> int:
        seen.append(cpu.R[SLOTS["r0"]])
        return 0

    def writer(cpu: Any, v: int) -> None:
        cpu.R[SLOTS["r1"]] = v * 2

    def flags(a: int) -> tuple[int, int]:
        return a + 1, 1 << (a & 3)

    ops = [("mov", "r0", "a"), ("call", "t1", Helper("rd", reader, reads=("r0",)), ),
           ("mov", "r1", 1), ("call", None, Helper("wr", writer, writes=("r1",)), "a"),
           ("add", "r2", "r1", 1),
           ("call", "r3", Helper("fl", flags, pass_cpu=False, accumulate="r4"), "a"),
           ("call", None, Helper("fl", flags, pass_cpu=False, accumulate="r4"), "b")]
    for a, b in ((1, 2), (5, 5), (2**40, 3)):
        for out in eng.both(block_of(ops), {"a": a, "b": b, "r4": 0x100}):
            assert seen.pop() == a
            assert out.regs["r1"] == 2 * a and out.regs["r2"] == 2 * a + 1
            assert out.regs["r3"] == a + 1
            assert out.regs["r4"] == 0x100 | 1 << (a & 3) | 1 << (b & 3)


@pytest.mark.parametrize("decl", ["reads", "writes", "all"])
def test_helper_globals_not_otherwise_used_in_the_region(eng: Engines, decl: str) -> None:
    def touch(cpu: Any) -> int:
        old = cpu.R[SLOTS["r6"]]
        if decl != "reads":
            cpu.R[SLOTS["r6"]] = 77
        return old

    names = ("*",) if decl == "all" else ("r6",)
    h = Helper("touch", touch, reads=names if decl != "writes" else (),
               writes=names if decl != "reads" else ())
    for out in eng.both(block_of([("call", "r0", h)]), {"r6": 9}):
        assert out.exception is None and out.regs["r0"] == 9
        assert out.regs["r6"] == (9 if decl == "reads" else 77)


# --- the optimizer --------------------------------------------------------------------------------------


def test_constant_folding_leaves_only_results(eng: Engines) -> None:
    ops = [("add", "t1", 2, 3), ("mul", "t2", "t1", 4), ("shl", "t3", "t2", 60), ("sar", "t4", "t3", 61),
           ("setcond", "t5", "t4", 0, "lt"), ("movcond", "t6", "t5", 1, "eq", "t4", 99),
           ("divs", "t7", "t6", 0), ("rems", "t8", 2**63, M), ("mov", "r0", "t6"), ("mov", "r1", "t7"),
           ("mov", "r2", "t8"), ("clz", "r3", 0x30), ("brcond", "t1", 5, "ne", 1), ("mov", "r4", 1),
           ("set_label", 1)]
    block = block_of(ops)
    t4 = FOLD["sar"](FOLD["shl"](20, 60), 61)
    t6 = t4 if eval_cond("lt", t4, 0) else 99
    want = {"r0": t6, "r1": FOLD["divs"](t6, 0), "r2": 0, "r3": 58, "r4": 1}
    check_all(eng, block_of(ops), [{}], lambda i: want)
    optimize(block)
    assert [op[0] for op in block.ops if op[0] not in ("insn_start", "set_label")] == \
        ["mov"] * 5 + ["exit"]
    check_all(eng, block, [{}], lambda i: want)


def test_folded_branch_taken_skips_its_body(eng: Engines) -> None:
    ops = [("mov", "t1", 4), ("brcond", "t1", 4, "eq", 1), ("mov", "r0", 1), ("set_label", 1),
           ("mov", "r1", 2)]
    block = block_of(ops)
    optimize(block)
    assert not any(op[0] == "brcond" for op in block.ops)
    check_all(eng, block, [{}], lambda i: {"r0": 0, "r1": 2})


def test_folded_if_else_not_taken(eng: Engines) -> None:
    ops = [("mov", "t1", 4), ("brcond", "t1", 5, "eq", 1), ("mov", "r0", 10), ("br", 2), ("set_label", 1),
           ("mov", "r0", 20), ("set_label", 2)]
    block = block_of(ops)
    optimize(block)
    check_all(eng, block, [{}], lambda i: {"r0": 10})


def test_if_else_with_dead_then_part(eng: Engines) -> None:
    ops = [("brcond", "a", 5, "eq", 1), ("add", "t1", "a", 1), ("br", 2), ("set_label", 1),
           ("mov", "r0", 20), ("set_label", 2)]
    block = block_of(ops)
    optimize(block)
    check_all(eng, block, [{"a": 5}, {"a": 6}], lambda i: {"r0": 20 if i["a"] == 5 else 0})


def test_optimizer_forgets_constants_of_accumulated_globals(eng: Engines) -> None:
    h = Helper("fop", lambda a: (a * 2, 1), pass_cpu=False, accumulate="r4")
    ops = [("mov", "r4", 0), ("call", "t1", h, "a"), ("mov", "r0", "t1"), ("mov", "r1", "r4")]
    block = block_of(ops)
    optimize(block)
    check_all(eng, block, [{"a": 3}], lambda i: {"r0": 6, "r1": 1, "r4": 1})


_RANDOM_OPS = sorted(BINARY_OPS | UNARY_OPS) + ["setcond", "movcond", "mov", "mov"]
_RESULT_GLOBALS = [f"r{i}" for i in range(8)]


def random_program(rng: random.Random, reread_results: bool = True) -> Block:
    """A random block of pure ops over globals, temps and constants, with some if and if/else shapes.

    Branch conditions compare only the read-only globals a/b/c, so no branch folds away (folded
    branches and empty bodies are covered by the dedicated tests above).  With ``reread_results``
    false, the result globals r0..r7 are only written, never read.
    """
    block = Block(BLOCK_PC)
    ops = block.ops
    temps: list[str] = []
    labels = itertools.count(1)
    readable = ["a", "b", "c", *(_RESULT_GLOBALS if reread_results else ())]

    def const() -> int:
        return rng.choice(EDGE) if rng.random() < 0.6 else rng.getrandbits(64)

    def src() -> int | str:
        k = rng.random()
        if k < 0.35 and temps:
            return rng.choice(temps)
        if k < 0.75:
            return rng.choice(readable)
        return const()

    def emit(in_branch: bool) -> None:
        name = rng.choice(_RANDOM_OPS)
        if in_branch or rng.random() < 0.4:
            dest = rng.choice(_RESULT_GLOBALS)
        else:
            dest = block.temp()
        if name in SHIFT_OPS:
            amount: int | str = rng.randrange(64)
            if rng.random() < 0.5:
                amount = block.temp()
                ops.append(("and", amount, src(), 63))
                if not in_branch:
                    temps.append(amount)
            ops.append((name, dest, src(), amount))
        elif name == "setcond":
            ops.append((name, dest, src(), src(), rng.choice(COND)))
        elif name == "movcond":
            ops.append((name, dest, src(), src(), rng.choice(COND), src(), src()))
        elif name in UNARY_OPS:
            a = src()
            if name in ("clz", "cpop") and isinstance(a, int) and a < 10:
                a += 10  # see test_unary_bit_count_of_small_constant
            ops.append((name, dest, a))
        else:
            ops.append((name, dest, src(), src()))
        if dest.startswith("t"):
            temps.append(dest)

    for _ in range(rng.randint(4, 40)):
        k = rng.random()
        if k < 0.08:
            l1, l2 = next(labels), next(labels)
            ops.append(("brcond", rng.choice("abc"), rng.choice("abc"), rng.choice(COND), l1))
            for _ in range(rng.randint(1, 3)):
                emit(True)
            if rng.random() < 0.5:
                ops.append(("br", l2))
                ops.append(("set_label", l1))
                for _ in range(rng.randint(1, 3)):
                    emit(True)
                ops.append(("set_label", l2))
            else:
                ops.append(("set_label", l1))
        elif k < 0.12:
            ops.append(("insn_start", BLOCK_PC))
        else:
            emit(False)
    ops.append(("exit", rng.choice([EXIT_PC, *temps[-3:]]) if temps else EXIT_PC))
    return block


def _random_cases(rng: random.Random, reread_results: bool, count: int):
    for n in range(count):
        block = random_program(rng, reread_results)
        inits = [{"a": a, "b": b, "c": c, **{g: rng.getrandbits(64) for g in _RESULT_GLOBALS}}
                 for a, b, c in (random_values(rng, 3) for _ in range(4))]
        inits.append({"a": 0, "b": 0, "c": M})
        opt = Block(block.pc, ops=list(block.ops), ntemps=block.ntemps)
        optimize(opt)
        yield n, block, opt, inits


def _compare(got: Outcome, ref: Outcome, what: str, n: int, block: Block, opt: Block, init: dict) -> None:
    assert (got.ret, got.regs) == (ref.ret, ref.regs), \
        f"program {n} {what}\n{block.ops}\noptimized: {opt.ops}\n{init=}"


def test_random_programs_optimizer_preserves_semantics(eng: Engines) -> None:
    """The interpreter (reference semantics) gives the same results before and after optimize()."""
    rng = random.Random(f"{SEED}-opt")
    for n, block, opt, inits in _random_cases(rng, True, 400):
        assert len(opt.ops) <= len(block.ops)
        for init in inits:
            ref = eng.run_interp(block, init)
            _compare(eng.run_interp(opt, init), ref, "interp+opt", n, block, opt, init)


def test_random_programs_backend_matches_interpreter(eng: Engines) -> None:
    """Compiled code, unoptimized and optimized, matches the interpreter on random programs.

    The result globals are never read back here; the next tests cover programs that re-read them.
    """
    rng = random.Random(f"{SEED}-backend")
    for n, block, opt, inits in _random_cases(rng, False, 300):
        fn, fn_opt = eng.compile(block), eng.compile(opt)
        for init in inits:
            ref = eng.run_interp(block, init)
            _compare(eng.run_compiled(fn, init), ref, "backend", n, block, opt, init)
            _compare(eng.run_compiled(fn_opt, init), ref, "backend+opt", n, block, opt, init)


def test_inlined_temp_chain_reads_sources_before_they_change(eng: Engines) -> None:
    # the shape trans_jalr emits for "jalr a, 8(a)": target = (a + 8) & ~1; a = link; exit target
    ops = [("add", "t1", "a", 8), ("andc", "t2", "t1", 1), ("mov", "a", 0x1004)]
    block = block_of(ops, exit_pc="t2")
    for out in eng.both(block, {"a": 0x2000}):
        assert (out.ret, out.regs["a"]) == (0x2008, 0x1004)


def test_temp_written_twice_is_inlined_with_all_its_sources(eng: Engines) -> None:
    # found by the backend differential harness: the python backend inlined the second definition of
    # t1 (c + t2) after the write to b that t2 reads, as temps were analysed in first-definition order
    ops = [("add", "t1", "a", 1), ("setcond", "t2", "b", 5, "eq"), ("add", "t1", "c", "t2"),
           ("xor", "b", "b", 1), ("mov", "r0", "t1")]
    for out in eng.both(block_of(ops), {"a": 5, "b": 5, "c": 5}):
        assert (out.regs["r0"], out.regs["b"]) == (6, 4)


def test_random_programs_that_reread_results_backend_matches_interpreter(eng: Engines) -> None:
    # a fixed seed (not PYQEMU_IR_SEED): this one found the inlining bug, so it must keep running
    rng = random.Random("0x5eed-backend-reread")
    for n, block, opt, inits in _random_cases(rng, True, 300):
        fn = eng.compile(block)
        for init in inits:
            _compare(eng.run_compiled(fn, init), eng.run_interp(block, init), "backend", n, block, opt, init)


def test_temp_read_of_accumulated_global_before_helper_call(eng: Engines) -> None:
    h = Helper("fop", lambda a: (a * 2, 1), pass_cpu=False, accumulate="r4")
    ops = [("mov", "t1", "r4"), ("call", "r1", h, "a"), ("mov", "r0", "t1")]
    check_all(eng, block_of(ops), [{"a": 3, "r4": 0}], lambda i: {"r0": 0, "r1": 6, "r4": 1})
