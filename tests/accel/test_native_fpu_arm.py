"""The x86_64 backend's inlined A64 FP helpers (:mod:`pyqemu.accel.tcg.backends.x86_64.fpu`).

The helpers of :mod:`pyqemu.target.arm.fpu_helper` that the A64 translator calls for FADD, FSUB, FMUL
(and FNMUL), FDIV, FSQRT and the FMADD family (``fp_<add|sub|mul|div|sqrt|fma>_<s|d>``, FPCR as the last
argument, FPSR cumulative bits accumulated into ``fpsr``) become inline SSE/FMA3 code, and so do the
Advanced SIMD translator's helpers of the same element functions and FMLS's (``vf_<op>_<s|d>``: two S
lanes or one D lane of a 64-bit half, or the scalar forms' single element).  Differential
tests against the reference, the python helper functions called directly: IR blocks calling the
translator's very Helper objects are compiled by the native backend and run over the edge values of
:mod:`test_native_fpu` (signed zeros, infinities, quiet and signalling NaNs with payloads, subnormals,
the smallest normal, the largest finite value, overflowing and underflowing results, results that
round to the smallest normal) and thousands of random ones, for every FPCR.RMode with FZ and DN clear
and set, FPCR as a value (the ``fpcr`` global) or as a constant.  Result bits and FPSR (its earlier
bits kept) must match.  Counting wrappers around the helper functions show that the inline path is
taken: the helper runs exactly for FZ set, NaN results and inexact +-min normal results (Arm detects
tininess before rounding, x86 after).
"""

from __future__ import annotations

import random

import pytest
from test_native_fpu import (
    F32_EDGE,
    F32_TINY,
    F64_EDGE,
    F64_TINY,
    SEED,
    Counting,
    _d,
    _s,
    operand_sets,
)

from pyqemu.accel.tcg.backend_python import BUDGET, PythonBackend
from pyqemu.accel.tcg.backends.x86_64 import fpu
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend, host_supported
from pyqemu.accel.tcg.ir import Block, Helper
from pyqemu.accel.tcg.user_memory import UserMemory
from pyqemu.linux_user.memory import AddressSpace
from pyqemu.target.arm import fpu_helper
from pyqemu.target.arm.fpu_helper import FPCR_DN, FPCR_FZ, IDC, IOC, IXC, UFC
from pyqemu.target.arm.translate_a64_fp import HELPERS
from pyqemu.target.arm.vfp_helper import ELEMENTS, helper, lanewise, scalar

_why = host_supported()
pytestmark = [
    pytest.mark.skipif(_why is not None, reason=f"x86_64 backend unsupported: {_why}"),
    pytest.mark.skipif(not fpu.HAS_FMA, reason="host CPU lacks FMA3"),
]

GLOBALS = ("n", "m", "a", "fpcr", "fpsr", "r0", "r1", "r2", *(f"g{i}" for i in range(12)))
SLOTS = {name: i for i, name in enumerate(GLOBALS)}
ICOUNT = len(SLOTS)
EXIT_PC = 0x9000

OPS = ("add", "sub", "mul", "div", "sqrt", "fma")
#: the Advanced SIMD element functions inlined too (FMLS: (-n) * m + a fused)
VOPS = (*OPS, "fmls")
NARGS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "sqrt": 1, "fma": 3, "fmls": 3}
#: the helpers' shapes: the scalar FP translator's, the Advanced SIMD one lane-wise on 64-bit halves
#: (two S lanes or one D lane), the Advanced SIMD scalar forms' (the element function)
SHAPES = ("fp", "lanes", "scalar")
#: earlier FPSR contents (cumulative bits, QC, NZCV of AArch32) that must survive
OLD_FPSR = (0, 0, IXC, IOC | UFC, 0x9F, 0xF8000000 | IDC)


def fpcr_value(rmode: int, fz: bool = False, dn: bool = False) -> int:
    return rmode << 22 | (FPCR_FZ if fz else 0) | (FPCR_DN if dn else 0)


class Runner:
    """Native (and python) backends over the slots above, blocks at distinct pcs."""

    def __init__(self) -> None:
        memory = UserMemory(AddressSpace(), None)
        self.backends = {
            "native": NativeBackend(SLOTS, memory, icount_slot=ICOUNT, budget=BUDGET, cache_size=8 << 20),
            "python": PythonBackend(SLOTS, memory, icount_slot=ICOUNT),
        }
        self.pc = 0x2000

    def build(self, ops: list[tuple], kind: str = "native"):
        """run(values by slot name) -> the final slot contents."""
        self.pc += 0x10
        pc = self.pc
        blk = Block(pc, ops=[("insn_start", pc), *ops, ("exit", EXIT_PC)], size=4, n_insns=1,
                    guest_insns=[(pc, 0)])
        blk.ntemps = 1000
        code = self.backends[kind].compile_region([blk]).fn

        def run(init: dict[str, int]) -> list[int]:
            cpu = _CPU(init)
            assert code(cpu, cpu.R, pc) == EXIT_PC and cpu.exception is None
            return list(cpu.R)

        return run


class _CPU:
    def __init__(self, init: dict[str, int]) -> None:
        self.state = bytearray(8 * (ICOUNT + 1))
        self.R = memoryview(self.state).cast("Q")
        self.exception = None
        for name, value in init.items():
            self.R[SLOTS[name]] = value


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner()


def call_ops(h: Helper, nargs: int, fpcr: int | str) -> list[tuple]:
    return [("call", "t0", h, *("n", "m", "a")[:nargs], fpcr), ("mov", "r0", "t0")]


def arm_helper(shape: str, op: str, fmt: str) -> Helper:
    """The helper the A64 translators call for element function ``<op>_<fmt>`` in ``shape``."""
    name = f"{op}_{fmt}"
    if shape == "fp":
        return HELPERS[name]
    if shape == "scalar":
        return scalar(name)
    return helper(f"vf_{name}", lanewise, ELEMENTS[name], 32 if fmt == "s" else 64, NARGS.get(op, 2))


def _lanes(shape: str, fmt: str) -> int:
    return 2 if shape == "lanes" and fmt == "s" else 1


def _pair(sets: list[tuple[int, ...]], rng: random.Random) -> list[tuple[int, ...]]:
    """Two single-precision operand sets per 64-bit operand set."""
    other = sets[:]
    rng.shuffle(other)
    return [tuple(x | y << 32 for x, y in zip(p, q, strict=True)) for p, q in zip(sets, other, strict=True)]


def _falls_back(elem: str, fmt: str, lanes: int, vals: tuple[int, ...], fpcr: int) -> bool:
    """Whether the helper must run: FZ, a lane whose result is a NaN, or an inexact result with a lane
    of +-min normal magnitude."""
    if fpcr & FPCR_FZ:
        return True
    f = fpu_helper.S if fmt == "s" else fpu_helper.D
    width = 64 // lanes
    min_normal = inexact = False
    for k in range(0, 64, width):
        r, flags = ELEMENTS[elem](*(v >> k & ((1 << width) - 1) for v in vals), fpcr)
        if fpu_helper.is_nan(f, r):
            return True
        min_normal |= r & f.mag == f.minnorm
        inexact |= bool(flags & IXC)
    return min_normal and inexact


def check(runner: Runner, h: Helper, elem: str, lanes: int, fpcrs: list[int], sets: list[tuple[int, ...]],
          rng: random.Random, dynamic: bool = True) -> tuple[int, int]:
    """Run helper ``h`` (element function ``elem`` on ``lanes`` lanes of its 64-bit operands) over
    ``sets`` with each FPCR of ``fpcrs`` (the ``fpcr`` global, or a constant when not ``dynamic``);
    compare with the python helper and check when it is called.  Returns (helper calls, inline runs)."""
    assert fpu.intrinsic(h) is not None
    counting = Counting(h)
    fmt = elem[-1]
    nargs = len(sets[0])
    runs = {fpcr: runner.build(call_ops(counting.helper, nargs, "fpcr" if dynamic else fpcr))
            for fpcr in fpcrs}
    expected = inline = 0
    for vals in sets:
        for fpcr, run in runs.items():
            old = rng.choice(OLD_FPSR)
            out = run({**dict(zip(("n", "m", "a"), vals, strict=False)), "fpcr": fpcr, "fpsr": old})
            want, flags = h.fn(*vals, fpcr)
            got = (out[SLOTS["r0"]], out[SLOTS["fpsr"]])
            assert got == (want, old | flags), (
                f"{h.name} fpcr={fpcr:#x} {[hex(v) for v in vals]}: got {got[0]:#x} fpsr {got[1]:#x}, "
                f"want {want:#x} fpsr {old | flags:#x}")
            if _falls_back(elem, fmt, lanes, vals, fpcr):
                expected += 1
            else:
                inline += 1
    # the helper runs exactly for FZ, NaN results and inexact +-min normal results (with two lanes: an
    # inexact result with a +-min normal lane)
    assert counting.calls == expected, (h.name, counting.calls, expected)
    return counting.calls, inline


def _sets(fmt: str, nargs: int, n_random: int, rng: random.Random) -> list[tuple[int, ...]]:
    return operand_sets(32 if fmt == "s" else 64, nargs, n_random, rng)


@pytest.mark.parametrize("rmode", range(4))
@pytest.mark.parametrize("fmt", ["s", "d"])
@pytest.mark.parametrize("op", OPS)
def test_helper_matches_reference(runner: Runner, op: str, fmt: str, rmode: int) -> None:
    rng = random.Random(f"{SEED}-arm-{op}-{fmt}-{rmode}")
    sets = _sets(fmt, NARGS[op], 1200, rng)
    if op == "fma":
        sets = sets[::2]
    fpcrs = [fpcr_value(rmode, fz, dn) for fz in (False, True) for dn in (False, True)]
    calls, inline = check(runner, HELPERS[f"{op}_{fmt}"], f"{op}_{fmt}", 1, fpcrs, sets, rng)
    assert inline > len(sets) // 2  # FZ clear: mostly inline (the fallbacks: NaN, min normal)


@pytest.mark.parametrize("fmt", ["s", "d"])
@pytest.mark.parametrize("op", OPS)
def test_constant_fpcr(runner: Runner, op: str, fmt: str) -> None:
    """A constant FPCR: RC is static; with FZ the call is a plain one (the emitter declines)."""
    rng = random.Random(f"{SEED}-arm-const-{op}-{fmt}")
    sets = _sets(fmt, NARGS[op], 300, rng)[::4]
    h = HELPERS[f"{op}_{fmt}"]
    check(runner, h, f"{op}_{fmt}", 1, [fpcr_value(r, dn=r & 1 == 1) for r in range(4)], sets, rng,
          dynamic=False)
    emit = fpu.intrinsic(h)
    assert emit is not None
    assert emit(None, ("call", "t0", h, *("n", "m", "a")[:NARGS[op]], fpcr_value(0, fz=True))) is False


@pytest.mark.parametrize("fmt", ["s", "d"])
@pytest.mark.parametrize(("op", "shape"), [(op, shape) for op in VOPS for shape in SHAPES
                                           if op != "fmls" or shape != "fp"])  # (FMLS: Advanced SIMD only)
def test_ordinary_operands_never_call_the_helper(runner: Runner, op: str, fmt: str, shape: str) -> None:
    """Normal operands of moderate magnitude, FZ clear: the helper function is never called."""
    rng = random.Random(f"{SEED}-arm-finite-{op}-{fmt}-{shape}")
    f = fpu_helper.S if fmt == "s" else fpu_helper.D
    bias = f.inf >> f.frac >> 1
    sets = []
    for _ in range(300):
        sets.append(tuple((0 if op == "sqrt" else rng.getrandbits(1) * f.sign)
                          | (bias + rng.randrange(-20, 21)) << f.frac | rng.getrandbits(f.frac)
                          for _ in range(NARGS[op])))
    lanes = _lanes(shape, fmt)
    if lanes > 1:
        sets = _pair(sets, rng)
    fpcrs = [fpcr_value(r, dn=dn) for r in range(4) for dn in (False, True)]
    calls, inline = check(runner, arm_helper(shape, op, fmt), f"{op}_{fmt}", lanes, fpcrs, sets, rng)
    assert calls == 0 and inline == len(sets) * len(fpcrs)


@pytest.mark.parametrize("fmt", ["s", "d"])
def test_tininess_before_rounding(runner: Runner, fmt: str) -> None:
    """Products just below the smallest normal magnitude that round to it: Arm raises UFC (tiny before
    rounding), this host (after rounding) only PE; the helper gives the answer."""
    tiny = F32_TINY if fmt == "s" else F64_TINY
    n, m, _ = tiny[0]
    want, flags = fpu_helper.HELPERS[f"mul_{fmt}"](n, m, fpcr_value(0))
    assert want & ~(1 << (31 if fmt == "s" else 63)) == 1 << (23 if fmt == "s" else 52)  # min normal
    assert flags == UFC | IXC
    calls, _ = check(runner, HELPERS[f"mul_{fmt}"], f"mul_{fmt}", 1, [fpcr_value(r) for r in range(4)],
                     [t[:2] for t in tiny] + [(n ^ (1 << (31 if fmt == "s" else 63)), m)], random.Random(1))
    assert calls > 0


@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("fmt", ["s", "d"])
@pytest.mark.parametrize("op", VOPS)
def test_simd_helpers_match_reference(runner: Runner, op: str, fmt: str, shape: str) -> None:
    """The Advanced SIMD helpers (two S lanes at once, or one D lane, or the scalar forms)."""
    rng = random.Random(f"{SEED}-arm-simd-{op}-{fmt}-{shape}")
    sets = _sets(fmt, NARGS[op], 600, rng)
    if NARGS[op] == 3:
        sets = sets[::3]
    lanes = _lanes(shape, fmt)
    if lanes > 1:
        sets = _pair(sets, rng)
    fpcrs = [fpcr_value(r, dn=r == 2) for r in range(4)]
    fpcrs.append(fpcr_value(rng.randrange(4), fz=True, dn=rng.random() < 0.5))
    calls, inline = check(runner, arm_helper(shape, op, fmt), f"{op}_{fmt}", lanes, fpcrs, sets, rng)
    assert inline > len(sets) // (4 if lanes > 1 else 2)


def test_intrinsics_cover_the_arithmetic_helpers() -> None:
    for fmt in "sd":
        for op in OPS:
            assert fpu.intrinsic(HELPERS[f"{op}_{fmt}"]) is not None, (op, fmt)
        # not inlined: the other helpers
        for op in ("max", "minnm", "cmp", "cmpe", "rint", "tos32", "fromu64"):
            assert fpu.intrinsic(HELPERS[f"{op}_{fmt}"]) is None, (op, fmt)
    assert fpu.intrinsic(HELPERS["cvt_sd"]) is None
    for fmt in "sd":
        for op in VOPS:
            assert fpu.intrinsic(arm_helper("lanes", op, fmt)) is not None, (op, fmt)
            assert fpu.intrinsic(arm_helper("scalar", op, fmt)) is not None, (op, fmt)
        for op in ("max", "mulx", "recps", "abd"):
            assert fpu.intrinsic(arm_helper("lanes", op, fmt)) is None, (op, fmt)
            assert fpu.intrinsic(scalar(f"{op}_{fmt}")) is None, (op, fmt)
    assert fpu.intrinsic(HELPERS["fma_s"]) is not None and "fmls_s" not in HELPERS
    # other shapes of the same element functions
    assert fpu.intrinsic(helper("vf_add_s", lanewise, ELEMENTS["add_s"], 32, 3)) is None
    assert fpu.intrinsic(helper("vf_add_d", lanewise, ELEMENTS["add_d"], 32, 2)) is None
    assert fpu.intrinsic(helper("vf_add_s", lanewise, ELEMENTS["add_d"], 32, 2)) is None
    assert fpu.intrinsic(helper("vf_add_s", ELEMENTS["add_s"], 1)) is None
    # look-alikes: a different function, no accumulated flags, a name of another format
    fake = Helper("fp_add_d", lambda a, b, fpcr: (0, 0), pass_cpu=False, accumulate="fpsr")
    assert fpu.intrinsic(fake) is None
    assert fpu.intrinsic(Helper("fp_add_d", fpu_helper.HELPERS["add_d"], pass_cpu=False)) is None
    assert fpu.intrinsic(Helper("fp_add_h", fpu_helper.HELPERS["add_d"], pass_cpu=False,
                                accumulate="fpsr")) is None
    assert fpu.intrinsic(Helper("fp_add_s", fpu_helper.HELPERS["add_d"], pass_cpu=False,
                                accumulate="fpsr")) is None


def test_constant_operands(runner: Runner) -> None:
    cases = (("mul_d", (_d(1.5), _d(1 / 3))), ("fma_d", (_d(1.5), _d(1 / 3), _d(-0.5))),
             ("add_d", (_d(1.5), 0x7FF0000000000001)), ("div_s", (_s(1.0), _s(3.0))),
             ("sqrt_s", (0xBF800000,)), ("sub_s", (_s(2.0**-126), _s(2.0**-127))))
    for name, args in cases:
        for fpcr in ("fpcr", fpcr_value(1), fpcr_value(2, dn=True)):
            run = runner.build([("call", "t0", HELPERS[name], *args, fpcr), ("mov", "r0", "t0")])
            for value in (fpcr_value(r, fz, dn) for r in range(4) for fz in (0, 1) for dn in (0, 1)):
                if fpcr != "fpcr" and value != fpcr:
                    continue
                out = run({"fpcr": value, "fpsr": 0})
                want = fpu_helper.HELPERS[name](*args, value)
                assert (out[SLOTS["r0"]], out[SLOTS["fpsr"]]) == want, (name, fpcr, value)


def _pressure_ops(shape: str, name: str) -> list[tuple]:
    """Many live temps and a dirty global across the calls, several calls in a row, FNMADD-like
    negations around the fused op."""
    h = arm_helper(shape, name[:-2], name[-1])
    nargs = NARGS[name[:-2]]
    sign = (1 << 31 | 1 << 63) if shape == "lanes" else 1 << (31 if name.endswith("_s") else 63)
    ops: list[tuple] = [("add", f"t{100 + i}", f"g{i}", i + 1) for i in range(12)]
    ops.append(("add", "g0", "g0", 7))
    ops.append(("call", "t0", h, *("n", "m", "a")[:nargs], "fpcr"))
    ops.append(("xor", "t5", "a", sign))
    ops.append(("call", "t1", h, *("t0", "m", "t5")[:nargs], "fpcr"))
    ops.append(("xor", "t6", "t1", sign))
    ops.append(("call", "t2", h, *("n", "t6", "a")[:nargs], "fpcr"))
    ops += [("xor", f"g{i}", f"t{100 + i}", f"g{i}") for i in range(12)]
    ops += [("mov", "r0", "t0"), ("mov", "r1", "t1"), ("mov", "r2", "t2")]
    return ops


@pytest.mark.parametrize(("shape", "name"), [
    ("fp", "add_d"), ("fp", "fma_d"), ("fp", "mul_s"), ("fp", "fma_s"), ("fp", "sqrt_d"), ("fp", "div_s"),
    ("lanes", "fmls_s"), ("lanes", "sub_s"), ("lanes", "sqrt_s"), ("lanes", "fma_d"), ("scalar", "fmls_d")])
def test_live_values_survive_inline_and_fallback_paths(runner: Runner, shape: str, name: str) -> None:
    """Whole blocks against the python backend: the out-of-line helper call (NaN results, FZ) must keep
    every live register, write dirty globals back and reload fpsr."""
    rng = random.Random(f"{SEED}-arm-pressure-{shape}-{name}")
    ops = _pressure_ops(shape, name)
    native, python = runner.build(ops), runner.build(ops, "python")
    edge = F32_EDGE if name.endswith("_s") else F64_EDGE
    lanes = _lanes(shape, name[-1])
    for _ in range(400):
        init = {f"g{i}": rng.getrandbits(64) for i in range(12)}
        pick = (lambda: rng.choice(edge) | rng.choice(edge) << 32) if lanes > 1 else (
            lambda: rng.choice(edge))
        init.update(n=pick(), m=pick(), a=pick(),
                    fpcr=fpcr_value(rng.randrange(4), rng.random() < 0.3, rng.random() < 0.5),
                    fpsr=rng.choice(OLD_FPSR))
        assert native(init) == python(init), init
