"""A64 scalar floating point (:mod:`pyqemu.target.arm.translate_a64_fp` and its helpers,
:mod:`pyqemu.target.arm.fpu_helper`).

Differential tests against Unicorn (QEMU 5's softfloat with Arm's NaN, flush-to-zero and tininess
rules), through :func:`.test_differential_unicorn.differential`: random sequences of scalar FP
instructions on operands drawn from NaNs (quiet, signalling, with payloads), infinities, zeros,
denormals, the normal range's edges and random values, under random FPCR.RMode, FZ and DN set with
``msr fpcr`` (AHP too); V0-V31, X0-X30, NZCV, FPCR and FPSR must agree.  Plus a few hand-written
checks of the helpers.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from pyqemu.target.arm import fpu_helper
from pyqemu.target.arm.translate_a64_fp import vfp_expand_imm

from .test_differential_unicorn import DEST, SEED, Program, differential, random_memory, random_regs

CONDS = "eq ne cs cc mi pl vs vc hi ls ge lt gt le al nv".split()
#: FPCR: FZ (bit 24), DN (25), AHP (26)
FPCR_BITS = (1 << 24, 1 << 25, 1 << 26)


def _special(rng: random.Random, width: int) -> int:
    """A random value of binary16, binary32 or binary64 (``width``), biased to the interesting ones."""
    frac = {16: 10, 32: 23, 64: 52}[width]
    ebits = width - 1 - frac
    emax = (1 << ebits) - 1
    bias = emax >> 1
    sign = rng.getrandbits(1) << (width - 1)
    k = rng.randrange(10)
    if k == 0:  # NaN: quiet or signalling, payload
        payload = rng.choice((0, 1, rng.getrandbits(frac - 1))) or 1
        return sign | emax << frac | rng.getrandbits(1) << (frac - 1) | payload
    if k == 1:
        return sign | rng.choice((0, emax << frac))  # zero, infinity
    if k == 2:  # denormal
        return sign | rng.choice((1, (1 << frac) - 1, rng.getrandbits(frac) or 1))
    if k == 3:  # the edges of the normal range
        return sign | rng.choice((1 << frac, (1 << frac) + 1, (emax << frac) - 1, (emax - 1) << frac))
    if k == 4:  # small integers and halves
        fmt = {16: "e", 32: "f", 64: "d"}[width]
        return int.from_bytes(struct.pack(f"<{fmt}", rng.randrange(-40, 40) / 2), "little")
    if k == 5:  # near the bottom of the normal range (tiny results)
        return sign | rng.randrange(1, 40) << frac | rng.getrandbits(frac)
    if k == 6:  # integers' range boundaries (2**31, 2**32, 2**63, 2**64)
        exp = min(bias + rng.choice((30, 31, 32, 62, 63, 64)), emax - 1)
        return sign | exp << frac | rng.choice((0, 1, rng.getrandbits(frac)))
    if k == 7:  # around 1
        return sign | (bias + rng.randrange(-3, 3)) << frac | rng.getrandbits(frac)
    return rng.getrandbits(width)


def random_vregs(rng: random.Random) -> dict[int, int]:
    """V0-V15 hold doubles, V16-V27 singles, V28-V31 half-precision values (their upper bits random)."""
    widths = [64] * 16 + [32] * 12 + [16] * 4
    return {i: rng.getrandbits(128 - w) << w | _special(rng, w) for i, w in enumerate(widths)}


def _v(rng: random.Random, t: str) -> str:
    """A source register for type ``t``: mostly of its own kind."""
    pool = {"d": range(16), "s": range(16, 28), "h": range(28, 32)}[t]
    return f"{t}{rng.choice(pool) if rng.random() < 0.8 else rng.randrange(32)}"


def _gpr(rng: random.Random, kind: str, dest: bool = False) -> str:
    return f"{kind}{rng.choice(DEST)}" if dest else f"{kind}{rng.randrange(31)}"


def random_fp_insn(rng: random.Random) -> list[str]:
    t = rng.choice("sd")
    d = f"{t}{rng.randrange(32)}"
    n, m, a = _v(rng, t), _v(rng, t), _v(rng, t)
    k = rng.randrange(17)
    if k < 3:
        op = rng.choice("fadd fsub fmul fdiv fnmul fmax fmin fmaxnm fminnm".split())
        return [f"{op} {d}, {n}, {m}"]
    if k == 3:
        return [f"{rng.choice(('fmov', 'fabs', 'fneg', 'fsqrt'))} {d}, {n}"]
    if k == 4:
        return [f"{rng.choice(('fmadd', 'fmsub', 'fnmadd', 'fnmsub'))} {d}, {n}, {m}, {a}"]
    if k == 5:
        op = rng.choice(("fcmp", "fcmpe"))
        cmp = f"{op} {n}, #0.0" if rng.random() < 0.25 else f"{op} {n}, {m}"
        after = rng.choice((f"cset {_gpr(rng, 'x', True)}, {rng.choice(CONDS[:14])}",
                            f"fcsel {d}, {n}, {m}, {rng.choice(CONDS)}", "nop"))
        return [cmp, after]
    if k == 6:
        op = rng.choice(("fccmp", "fccmpe"))
        return [f"{op} {n}, {m}, #{rng.randrange(16)}, {rng.choice(CONDS)}"]
    if k == 7:
        return [f"fcsel {d}, {n}, {m}, {rng.choice(CONDS)}"]
    if k == 8:  # between precisions, half included
        src = rng.choice("sdh")
        dst = rng.choice([x for x in "sdh" if x != src])
        return [f"fcvt {dst}{rng.randrange(32)}, {_v(rng, src)}"]
    if k == 9:
        op = f"fcvt{rng.choice('npmza')}{rng.choice('su')}"
        return [f"{op} {_gpr(rng, rng.choice('wx'), True)}, {n}"]
    if k == 10:
        return [f"{rng.choice(('scvtf', 'ucvtf'))} {d}, {_gpr(rng, rng.choice('wx'))}"]
    if k == 11:  # fixed point
        w = rng.choice("wx")
        fbits = rng.randrange(1, 33 if w == "w" else 65)
        if rng.random() < 0.5:
            return [f"{rng.choice(('fcvtzs', 'fcvtzu'))} {_gpr(rng, w, True)}, {n}, #{fbits}"]
        return [f"{rng.choice(('scvtf', 'ucvtf'))} {d}, {_gpr(rng, w)}, #{fbits}"]
    if k == 12:
        return [f"frint{rng.choice('npmzaxi')} {d}, {n}"]
    if k == 13:  # moves between general and FP registers
        return [rng.choice((f"fmov {_gpr(rng, 'w', True)}, s{rng.randrange(32)}",
                            f"fmov s{rng.randrange(32)}, {_gpr(rng, 'w')}",
                            f"fmov {_gpr(rng, 'x', True)}, d{rng.randrange(32)}",
                            f"fmov d{rng.randrange(32)}, {_gpr(rng, 'x')}",
                            f"fmov {_gpr(rng, 'x', True)}, v{rng.randrange(32)}.d[1]",
                            f"fmov v{rng.randrange(32)}.d[1], {_gpr(rng, 'x')}"))]
    if k == 14:
        return [f".inst {0x1E201000 | (t == 'd') << 22 | rng.getrandbits(8) << 13 | rng.randrange(32):#010x}"]
    if k == 15:  # change FPCR mid-program
        r = rng.choice(DEST)
        return [f"mov x{r}, #{_random_fpcr(rng):#x}", f"msr fpcr, x{r}"]
    return [f"mrs {_gpr(rng, 'x', True)}, fpsr"]


def _random_fpcr(rng: random.Random) -> int:
    """A random RMode (bits 23:22), each of FZ, DN and AHP set or clear."""
    return sum(bits for bits in FPCR_BITS if rng.random() < 0.5) | rng.randrange(4) << 22


def random_fp_program(rng: random.Random) -> list[str]:
    r = rng.choice(DEST)
    lines = [f"mov x{r}, #{_random_fpcr(rng):#x}", f"msr fpcr, x{r}"]
    if rng.random() < 0.3:
        lines += [f"mov x{r}, #{rng.choice((0, 0x9F, 0x10)):#x}", f"msr fpsr, x{r}"]
    for _ in range(rng.randrange(3, 14)):
        lines += random_fp_insn(rng)
    return lines


def test_scalar_fp_matches_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-fp")
    programs = [Program(f"fp{n}", random_fp_program(rng), regs=random_regs(rng),
                        nzcv=rng.getrandbits(4) << 28, memory=random_memory(rng), vregs=random_vregs(rng))
                for n in range(400)]
    differential(programs, tmp_path)


# --- hand-written checks -------------------------------------------------------------------------------

H = fpu_helper.HELPERS
FZ, DN = fpu_helper.FPCR_FZ, fpu_helper.FPCR_DN
RZ = 3 << 22


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def test_nan_propagation() -> None:
    qnan, snan, snan2 = 0x7FC00123, 0x7F800456, 0xFF800001
    assert H["add_s"](qnan, snan, 0) == (0x7FC00456, fpu_helper.IOC)  # signalling first, quietened
    assert H["add_s"](snan2, snan, 0) == (0xFFC00001, fpu_helper.IOC)  # in operand order
    assert H["mul_s"](f32(1.0), qnan, 0) == (qnan, 0)
    assert H["mul_s"](f32(1.0), qnan, DN) == (0x7FC00000, 0)
    # FMADD: the addend first; infinity times zero plus a quiet NaN is the default NaN
    assert H["fma_s"](qnan, snan, 0x7FC00999, 0) == (0x7FC00456, fpu_helper.IOC)
    assert H["fma_s"](0x7F800000, 0, qnan, 0) == (0x7FC00000, fpu_helper.IOC)
    assert H["maxnm_s"](qnan, f32(-3.0), 0) == (f32(-3.0), 0)
    assert H["max_s"](qnan, f32(-3.0), 0) == (qnan, 0)
    assert H["cvt_sd"](0xFF800001, 0) == (0xFFF8000020000000, fpu_helper.IOC)


def test_flush_to_zero_and_tininess() -> None:
    denormal, min_normal = 1, 0x00800000
    assert H["add_s"](denormal, f32(1.0), FZ) == (f32(1.0), fpu_helper.IDC)
    # a tiny result flushes to zero with UFC only
    assert H["mul_s"](min_normal, f32(0.75), FZ) == (0, fpu_helper.UFC)
    # tininess before rounding: rounding up to the smallest normal still underflows
    assert H["mul_s"](0x00FFFFFF, f32(0.5), 0) == (min_normal, fpu_helper.UFC | fpu_helper.IXC)
    assert H["mul_s"](0x00FFFFFF, f32(0.5), RZ) == (0x007FFFFF, fpu_helper.UFC | fpu_helper.IXC)


def test_conversions_and_compares() -> None:
    assert H["tos32_s"](0x7FC00000, 0, 0, 0) == (0, fpu_helper.IOC)  # NaN -> 0
    assert H["tou32_s"](f32(-1.0), 0, 3, 0) == (0, fpu_helper.IOC)
    assert H["tos32_s"](f32(1e10), 0, 3, 0) == (0x7FFFFFFF, fpu_helper.IOC)
    assert H["tos64_d"](0x3FF8000000000000, 0, 4, 3) == (12, 0)  # 1.5 * 2**3, fixed point
    assert H["froms32_s"](0xFFFFFFFF, 0, 1) == (f32(-0.5), 0)
    assert H["rint_s"](f32(-0.25), 0, 0, 1) == (0x80000000, fpu_helper.IXC)
    assert H["cmp_s"](0, 0x80000000, 0) == (0b0110, 0)
    assert H["cmp_s"](0x7FC00000, 0, 0) == (0b0011, 0)
    assert H["cmpe_s"](0x7FC00000, 0, 0) == (0b0011, fpu_helper.IOC)


def test_vfp_expand_imm() -> None:
    assert vfp_expand_imm(0, 0x70) == f32(1.0)
    assert vfp_expand_imm(1, 0x00) == 0x4000000000000000  # 2.0
    assert vfp_expand_imm(0, 0xF0) == f32(-1.0)
    assert vfp_expand_imm(1, 0x7F) == 0x3FFF000000000000  # 1.9375
