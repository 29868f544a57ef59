"""The x86_64 backend's inlined soft-float helpers (:mod:`pyqemu.accel.tcg.backends.x86_64.fpu`).

RISC-V F/D arithmetic helpers (``f32_``/``f64_`` add, sub, mul, div, sqrt, madd, msub, nmsub, nmadd)
become inline SSE/FMA3 code.  Differential tests against the reference, the soft-float functions of
:mod:`pyqemu.fpu.softfloat` called directly: IR blocks calling the real helpers of the RISC-V
translator are compiled by the native backend and run over edge values (signed zeros, infinities,
quiet and signalling NaNs with payloads, subnormals, the smallest normal, the largest finite value,
products and sums that overflow or underflow, results that round to the smallest normal) and
thousands of random ones, for every static rounding mode 0..4 and the dynamic one (frm 0..4, and
5..7 raising illegal instruction exactly like the python backend).  Result bits and the accumulated
fflags must match.  Counting wrappers around the helper functions show that the inline path is taken
(the helper is called only for NaN results, RMM, reserved frm and the tininess corner case), and
blocks with many live values check that the out-of-line helper call preserves them.
"""

from __future__ import annotations

import functools
import os
import random
import struct

import pytest

from pyqemu.accel.tcg.backend_python import BUDGET, PythonBackend
from pyqemu.accel.tcg.backends.x86_64 import fpu
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend, host_supported
from pyqemu.accel.tcg.ir import Block, Helper
from pyqemu.accel.tcg.user_memory import UserMemory
from pyqemu.fpu import softfloat
from pyqemu.linux_user.memory import AddressSpace
from pyqemu.target.riscv.cpu import EXCP_ILLEGAL_INST
from pyqemu.target.riscv.fpu_translate import helper

_why = host_supported()
pytestmark = [
    pytest.mark.skipif(_why is not None, reason=f"x86_64 backend unsupported: {_why}"),
    pytest.mark.skipif(not fpu.HAS_FMA, reason="host CPU lacks FMA3"),
]

SEED = int(os.environ.get("PYQEMU_FPU_SEED", "0xf10a7"), 0)
NRES = 8
SLOTS = {"a": 0, "b": 1, "c": 2, "frm": 3, "fflags": 4, **{f"r{i}": 5 + i for i in range(NRES)},
         **{f"g{i}": 5 + NRES + i for i in range(12)}}
ICOUNT = len(SLOTS)
NSLOTS = ICOUNT + 1
EXIT_PC = 0x8000

ARITH = ("add", "sub", "mul", "div", "sqrt")
FUSED = ("madd", "msub", "nmsub", "nmadd")
OPS = ARITH + FUSED
NARGS = {**dict.fromkeys(ARITH, 2), "sqrt": 1, **dict.fromkeys(FUSED, 3)}


class FakeCPU:
    def __init__(self, init: dict[str, int]) -> None:
        self.state = bytearray(NSLOTS * 8)
        self.R = memoryview(self.state).cast("Q")
        self.exception: tuple[int, int, int] | None = None
        for name, value in init.items():
            self.R[SLOTS[name]] = value


# --- values ---------------------------------------------------------------------------------------


def _d(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _s(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


F64_EDGE = [
    0, 1 << 63, _d(1.0), _d(-1.0), _d(2.0), _d(0.5), _d(3.0), _d(1 / 3), _d(0.1), _d(2.0**0.5),
    0x7FF0000000000000, 0xFFF0000000000000,  # +-inf
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000001234, 0xFFFC00000000ABCD,  # qNaNs
    0x7FF0000000000001, 0xFFF4000000000000, 0x7FF7FFFFFFFFFFFF,  # sNaNs
    1, 0x8000000000000001, 0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF, 0x0008000000000000,  # subnormals
    0x0010000000000000, 0x8010000000000000, 0x0010000000000001,  # min normal (+1 ulp)
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFE,  # max finite
    0x3FEFFFFFFFFFFFFF, 0x3FEFFFFFFFFFFFFE, 0x3FF0000000000001,  # 1 -+ ulps
    _d(2.0**1000), _d(-(2.0**1000)), _d(2.0**-1000), _d(2.0**-600), _d(-(2.0**-530)), _d(2.0**-53),
    _d(2.0**53), _d(1e308), _d(1e-308), _d(-7.25), _d(6.0e-320),
]
F32_EDGE = [
    0, 1 << 31, _s(1.0), _s(-1.0), _s(2.0), _s(0.5), _s(3.0), _s(1 / 3), _s(0.1), _s(2.0**0.5),
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC01234, 0xFFE0ABCD,
    0x7F800001, 0xFFA00000, 0x7FBFFFFF,
    1, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000,
    0x00800000, 0x80800000, 0x00800001,
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE,
    0x3F7FFFFF, 0x3F7FFFFE, 0x3F800001,
    _s(2.0**100), _s(-(2.0**100)), _s(2.0**-100), _s(2.0**-70), _s(-(2.0**-60)), _s(2.0**-24),
    _s(2.0**24), _s(3e38), _s(1e-38), _s(-7.25), _s(1e-44),
]
#: operand triples whose result lands in the tininess corner cases (rounding to +-min normal)
F64_TINY = [
    (0x3FEFFFFFFFFFFFFE, 0x0010000000000001, 0),  # (1 - 2^-52)(2^-1022)(1 + 2^-52): tiny before rounding only
    (0x3FEFFFFFFFFFFFFF, 0x0010000000000000, 0),  # tie below min normal: tiny after rounding too
    (_d(2.0**-600), _d(-(2.0**-530)), 0x0010000000000000),  # fma: 2^-1022 - 2^-1130
    (_d(2.0**-600), _d(2.0**-530), 0x8010000000000000),
    (_d(2.0**-600), _d(-(2.0**-470)), 0x0010000000000000),  # 2^-1022 - 2^-1070: tiny for all modes
]
F32_TINY = [
    (0x3F7FFFFE, 0x00800001, 0),
    (0x3F7FFFFF, 0x00800000, 0),
    (_s(2.0**-70), _s(-(2.0**-70)), 0x00800000),
    (_s(2.0**-70), _s(2.0**-70), 0x80800000),
    (_s(2.0**-60), _s(-(2.0**-60)), 0x00800000),
]


def random_values(rng: random.Random, width: int, n: int) -> list[int]:
    """Random encodings of mixed kinds: uniform bits, near 1, tiny and huge exponents, subnormals."""
    p = 53 if width == 64 else 24
    ebits = width - p
    emax = (1 << ebits) - 1
    out = []
    for _ in range(n):
        kind = rng.randrange(6)
        sign = rng.getrandbits(1) << (width - 1)
        frac = rng.getrandbits(p - 1)
        if kind == 0:
            v = rng.getrandbits(width)
        elif kind == 1:
            v = sign | (rng.randrange((emax >> 1) - 3, (emax >> 1) + 4) << (p - 1)) | frac
        elif kind == 2:
            v = sign | (rng.randrange(1, 40) << (p - 1)) | frac  # near the bottom of the normal range
        elif kind == 3:
            v = sign | (rng.randrange(emax - 40, emax) << (p - 1)) | frac  # near overflow
        elif kind == 4:
            v = sign | frac >> rng.randrange(p - 1)  # subnormal
        else:
            v = sign | (rng.randrange(1, emax) << (p - 1)) | (frac & -(1 << rng.randrange(p - 1)))  # short
        out.append(v)
    return out


def operand_sets(width: int, nargs: int, n_random: int, rng: random.Random) -> list[tuple[int, ...]]:
    edge = F64_EDGE if width == 64 else F32_EDGE
    sets: list[tuple[int, ...]] = []
    if nargs == 1:
        sets += [(a,) for a in edge]
    elif nargs == 2:
        sets += [(a, b) for a in edge for b in edge]
        sets += [t[:2] for t in (F64_TINY if width == 64 else F32_TINY)]
    else:
        sets += [(a, b, c) for a in edge[::3] for b in edge[1::3] for c in edge]
        sets += [tuple(rng.choice(edge) for _ in range(3)) for _ in range(300)]
        tiny = F64_TINY if width == 64 else F32_TINY
        sets += tiny + [(a, b, c ^ (1 << (width - 1))) for a, b, c in tiny]
    vals = random_values(rng, width, n_random * nargs)
    sets += [tuple(vals[i * nargs:(i + 1) * nargs]) for i in range(n_random)]
    # mixed: random with edge values
    for _ in range(n_random // 4):
        sets.append(tuple(rng.choice(edge) if rng.random() < 0.4 else random_values(rng, width, 1)[0]
                          for _ in range(nargs)))
    return sets


# --- running blocks -------------------------------------------------------------------------------


class Counting:
    """A helper whose calls are counted (``functools.wraps``: the intrinsic still recognises it)."""

    def __init__(self, h: Helper) -> None:
        self.calls = 0

        @functools.wraps(h.fn)
        def fn(*args: int) -> tuple[int, int]:
            self.calls += 1
            return h.fn(*args)

        self.helper = Helper(h.name, fn, pass_cpu=False, accumulate=h.accumulate)


class Machine:
    """One native backend (blocks at distinct pcs) and a python backend for reference runs."""

    def __init__(self) -> None:
        self.memory = UserMemory(AddressSpace(), None)
        self.native = NativeBackend(SLOTS, self.memory, icount_slot=ICOUNT, budget=BUDGET,
                                    cache_size=8 << 20)
        self.python = PythonBackend(SLOTS, self.memory, icount_slot=ICOUNT)
        self.next_pc = 0x1000

    def block(self, ops: list[tuple]) -> Block:
        pc = self.next_pc
        self.next_pc += 0x10
        b = Block(pc, ops=[("insn_start", pc), *ops, ("exit", EXIT_PC)], size=4, n_insns=1,
                  guest_insns=[(pc, 0)])
        b.ntemps = 1000
        return b

    def compile(self, b: Block, kind: str = "native"):
        backend = self.native if kind == "native" else self.python
        fn = backend.compile_region([b]).fn

        def run(init: dict[str, int]) -> FakeCPU:
            cpu = FakeCPU(init)
            ret = fn(cpu, cpu.R, b.pc)
            assert (ret == EXIT_PC) == (cpu.exception is None)
            return cpu

        return run


@pytest.fixture(scope="module")
def machine() -> Machine:
    return Machine()


def _names(width: int) -> list[str]:
    return [f"f{width}_{op}" for op in OPS]


def call_block(m: Machine, h: Helper, nargs: int, rm: int | str) -> Block:
    args = ["a", "b", "c"][:nargs]
    return m.block([("call", "t0", h, *args, rm), ("mov", "r0", "t0")])


def check_helper(m: Machine, name: str, rm_mode: int | str, sets: list[tuple[int, ...]],
                 rng: random.Random) -> tuple[int, int]:
    """Run ``name`` (static rm ``rm_mode`` or "frm") over ``sets``; return the helper call count and
    the number of runs."""
    dynamic = rm_mode == "frm"
    real = helper(name, dynamic)
    assert fpu.intrinsic(real) is not None, name
    counting = Counting(real)
    nargs = len(sets[0])
    blk = call_block(m, counting.helper, nargs, rm_mode)
    run = m.compile(blk)
    ref = getattr(softfloat, name)
    width = 64 if name.startswith("f64") else 32
    expected_calls = corner = 0
    frms = range(8) if dynamic else [rm_mode]
    for vals in sets:
        for frm in frms:
            init = dict(zip(("a", "b", "c"), vals, strict=False))
            init["frm"] = frm
            init["fflags"] = old = rng.choice((0, 0, 1, 0x10, 0x1F, 6))
            cpu = run(init)
            if frm > 4:
                assert cpu.exception == (EXCP_ILLEGAL_INST, blk.pc, 0), (name, vals, frm)
                assert cpu.R[SLOTS["fflags"]] == old
                expected_calls += 1
                continue
            assert cpu.exception is None
            want, flags = ref(*vals, frm)
            got, got_flags = cpu.R[SLOTS["r0"]], cpu.R[SLOTS["fflags"]]
            assert (got, got_flags) == (want, old | flags), (
                f"{name} rm={rm_mode} frm={frm} {[hex(v) for v in vals]}: got {got:#x} flags {got_flags:#x}, "
                f"want {want:#x} flags {old | flags:#x}")
            mag = want & ((1 << (width - 1)) - 1)
            min_normal = 1 << (52 if width == 64 else 23)
            nan = (want >> (52 if width == 64 else 23)) & (0x7FF if width == 64 else 0xFF) == (
                0x7FF if width == 64 else 0xFF) and want & (min_normal - 1)
            if frm == 4 or nan:
                expected_calls += 1
            elif mag == min_normal and flags & softfloat.NX:
                corner += 1
    # the helper runs exactly for RMM, reserved frm and NaN results, and maybe in the tininess corner
    assert expected_calls <= counting.calls <= expected_calls + corner, (
        name, rm_mode, counting.calls, expected_calls, corner)
    return counting.calls, len(sets) * len(frms)


@pytest.mark.parametrize("rm_mode", [0, 1, 2, 3, 4, "frm"])
@pytest.mark.parametrize("name", _names(64) + _names(32))
def test_helper_matches_softfloat(machine: Machine, name: str, rm_mode: int | str) -> None:
    rng = random.Random(f"{SEED}-{name}-{rm_mode}")
    width = 64 if name.startswith("f64") else 32
    op = name.split("_", 1)[1]
    n_random = 600 if rm_mode == "frm" else 1500
    sets = operand_sets(width, NARGS[op], n_random, rng)
    if rm_mode == "frm":  # every frm for each set: keep it affordable
        sets = sets[:: 3] if NARGS[op] == 3 else sets
    calls, runs = check_helper(machine, name, rm_mode, sets, rng)
    if rm_mode == 4:
        assert calls == runs


@pytest.mark.parametrize("name", _names(64) + _names(32))
def test_finite_results_never_call_the_helper(machine: Machine, name: str) -> None:
    """Ordinary operands (no NaN, no tininess corner): the helper function is never called."""
    rng = random.Random(f"{SEED}-finite-{name}")
    width = 64 if name.startswith("f64") else 32
    nargs = NARGS[name.split("_", 1)[1]]
    one = 0x3FF if width == 64 else 0x7F
    p = 53 if width == 64 else 24
    sets = []
    for _ in range(300):
        vals = []
        for _k in range(nargs):
            e = one + rng.randrange(-20, 21)
            sign = 0 if name.endswith("sqrt") else rng.getrandbits(1) << (width - 1)
            vals.append(sign | e << (p - 1) | rng.getrandbits(p - 1))
        sets.append(tuple(vals))
    for rm_mode in (0, 1, 2, 3, "frm"):
        real = helper(name, rm_mode == "frm")
        counting = Counting(real)
        run = machine.compile(call_block(machine, counting.helper, nargs, rm_mode))
        ref = getattr(softfloat, name)
        for vals in sets:
            frm = rng.randrange(4) if rm_mode == "frm" else rm_mode
            init = {**dict(zip(("a", "b", "c"), vals, strict=False)), "frm": frm}
            cpu = run(init)
            assert (cpu.R[SLOTS["r0"]], cpu.R[SLOTS["fflags"]]) == ref(*vals, frm)
        assert counting.calls == 0, (name, rm_mode)


def test_intrinsics_cover_the_arithmetic_helpers() -> None:
    for width in (32, 64):
        for op in OPS:
            for dyn in (False, True):
                assert fpu.intrinsic(helper(f"f{width}_{op}", dyn)) is not None
    # not inlined: other soft-float helpers, and look-alikes that are not the soft-float functions
    assert fpu.intrinsic(helper("f64_min")) is None
    assert fpu.intrinsic(helper("f64_to_i64")) is None
    fake = Helper("f64_add", lambda a, b, rm: (0, 0), pass_cpu=False, accumulate="fflags")
    assert fpu.intrinsic(fake) is None
    assert fpu.intrinsic(Helper("f64_add", softfloat.f64_add, pass_cpu=False)) is None


def test_static_rmm_is_a_plain_call(machine: Machine) -> None:
    h = helper("f64_add")
    emit = fpu.intrinsic(h)
    assert emit is not None
    assert emit(None, ("call", "t0", h, "a", "b", 4)) is False


def test_constant_operands(machine: Machine) -> None:
    a, b, c = _d(1.5), _d(1 / 3), 0x7FF0000000000001
    for name, args in (("f64_mul", (a, b)), ("f64_madd", (a, b, _d(-0.5))), ("f64_add", (a, c)),
                       ("f32_div", (_s(1.0), _s(3.0))), ("f32_sqrt", (0xBF800000,))):
        for rm in (0, 1, "frm"):
            blk = machine.block([("call", "t0", helper(name, rm == "frm"), *args, rm), ("mov", "r0", "t0")])
            run = machine.compile(blk)
            for frm in range(5):
                if rm != "frm" and frm:
                    continue
                cpu = run({"frm": frm, "fflags": 0})
                want = getattr(softfloat, name)(*args, frm if rm == "frm" else rm)
                assert (cpu.R[SLOTS["r0"]], cpu.R[SLOTS["fflags"]]) == want, (name, rm, frm)


def _pressure_block(m: Machine, name: str, rm: int | str) -> Block:
    """Many live temps and dirty globals across the call, then several calls in a row."""
    h = helper(name, rm == "frm")
    nargs = NARGS[name.split("_", 1)[1]]
    ops: list[tuple] = []
    for i in range(12):
        ops.append(("add", f"t{100 + i}", f"g{i}", i + 1))
    ops.append(("add", "g0", "g0", 7))  # a dirty global
    ops.append(("call", "t0", h, *["a", "b", "c"][:nargs], rm))
    ops.append(("call", "t1", h, *["t0", "b", "c"][:nargs], rm))
    ops.append(("call", "t2", h, *["a", "t1", "c"][:nargs], rm))
    for i in range(12):
        ops.append(("xor", f"g{i}", f"t{100 + i}", f"g{i}"))
    ops += [("mov", "r0", "t0"), ("mov", "r1", "t1"), ("mov", "r2", "t2")]
    return m.block(ops)


@pytest.mark.parametrize("name", ["f64_add", "f64_madd", "f32_mul", "f32_nmadd", "f64_sqrt", "f32_div"])
@pytest.mark.parametrize("rm", [0, 2, "frm"])
def test_live_values_survive_inline_and_fallback_paths(machine: Machine, name: str, rm: int | str) -> None:
    """Compare whole blocks with the python backend: the out-of-line helper call (NaN results, frm 4..7)
    must keep every live register, write dirty globals back and reload fflags."""
    rng = random.Random(f"{SEED}-pressure-{name}-{rm}")
    blk = _pressure_block(machine, name, rm)
    native = machine.compile(blk)
    python = machine.compile(blk, "python")
    width = 64 if name.startswith("f64") else 32
    edge = F64_EDGE if width == 64 else F32_EDGE
    for _ in range(300):
        init = {g: rng.getrandbits(64) for g in (f"g{i}" for i in range(12))}
        init.update(a=rng.choice(edge), b=rng.choice(edge), c=rng.choice(edge),
                    frm=rng.randrange(8) if rm == "frm" else 0, fflags=rng.choice((0, 1, 0x10)))
        got, want = native(init), python(init)
        assert got.exception == want.exception, init
        assert bytes(got.state) == bytes(want.state), init  # a fault: what happened before it only
