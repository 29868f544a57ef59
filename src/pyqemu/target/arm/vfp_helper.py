"""Lane helpers of the A64 Advanced SIMD floating point translator (:mod:`.translate_a64_vfp`; Arm ARM
DDI 0487, C7 descriptions and the shared pseudocode of FPCompareEQ/GE/GT, FPMulX, FPRecipStepFused,
FPAbs and FPConvert with FPRounding_ODD).

Element functions take raw lane bits (and FPCR, then any immediates) and return (result, FPSR
cumulative exception bits) like :mod:`.fpu_helper`'s, which supplies most of them: :func:`elements`
adds those the scalar instructions don't have.  The vector shapes apply an element function to the
lanes of 64-bit halves (lane-wise, pairwise, across lanes, narrowing, widening) and OR the lanes'
exception bits together; :func:`helper` wraps one in an IR :class:`Helper` accumulating into FPSR.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ...accel.tcg.ir import Helper
from . import fpu_helper as fh
from .fpu_helper import FPFormat

ElemFn = Callable[..., tuple[int, int]]
#: FPCR with RMode = RZ (bits 23:22), for the round-to-odd conversion
_RZ_BITS = 3 << fh.FPCR_RMODE_SHIFT
#: NZCV of FPCompare -> whether the relation holds
_RELATIONS = {"eq": (0b0110,), "ge": (0b0110, 0b0010), "gt": (0b0010,)}


def _compare(f: FPFormat, relation: str, absolute: bool) -> ElemFn:
    """FCMEQ (FPCompareEQ: IOC only for a signalling NaN), FCMGE/FCMGT (any NaN signals) and, when
    ``absolute``, FACGE/FACGT: all ones when the relation holds, else zeros."""
    cmp = fh.HELPERS[f"{'cmp' if relation == 'eq' else 'cmpe'}_{f.name}"]
    holds, ones = _RELATIONS[relation], f.sign | f.mag

    def fn(a: int, b: int, fpcr: int) -> tuple[int, int]:
        if absolute:
            a, b = a & f.mag, b & f.mag
        nzcv, flags = cmp(a, b, fpcr)
        return (ones if nzcv in holds else 0), flags
    return fn


def _abd(f: FPFormat) -> ElemFn:
    """FABD: FPAbs(FPSub(a, b)), a NaN's sign cleared too."""
    sub = fh.HELPERS[f"sub_{f.name}"]

    def fn(a: int, b: int, fpcr: int) -> tuple[int, int]:
        r, flags = sub(a, b, fpcr)
        return r & f.mag, flags
    return fn


def _inf_times_zero(f: FPFormat, a: int, b: int) -> bool:
    ma, mb = a & f.mag, b & f.mag
    return ma == f.inf and not mb or mb == f.inf and not ma


def _mulx(f: FPFormat) -> ElemFn:
    """FMULX (FPMulX): FMUL, but infinity times zero is 2.0 with the sign of the product."""
    mul, two = fh.HELPERS[f"mul_{f.name}"], fh.scale(f, 1)

    def fn(a: int, b: int, fpcr: int) -> tuple[int, int]:
        (x, y), flags = fh.flush(f, fpcr, (a, b))
        if not fh.is_nan(f, x) and not fh.is_nan(f, y) and _inf_times_zero(f, x, y):
            return (x ^ y) & f.sign | two, flags
        return mul(a, b, fpcr)
    return fn


def _recps(f: FPFormat) -> ElemFn:
    """FRECPS (FPRecipStepFused): 2.0 - a * b fused; infinity times zero is 2.0."""
    fma, two = fh.HELPERS[f"fma_{f.name}"], fh.scale(f, 1)

    def fn(a: int, b: int, fpcr: int) -> tuple[int, int]:
        (x, y), flags = fh.flush(f, fpcr, (a, b))
        if not fh.is_nan(f, x) and not fh.is_nan(f, y) and _inf_times_zero(f, x, y):
            return two, flags
        return fma(a ^ f.sign, b, two, fpcr)
    return fn


def _exp(f: FPFormat, a: int) -> int:
    return (a & f.mag) >> f.frac


def _rsqrts(f: FPFormat) -> ElemFn:
    """FRSQRTS (FPRSqrtStepFused): (3.0 - a * b) / 2 fused; infinity times zero is 1.5.  Computed as
    1.5 - (a / 2) * b with an operand that halves exactly (the same rounding), or, when both are tiny,
    as 1.5 - a * b (the same rounding of 1.5 minus a tiny amount)."""
    fma, half = fh.HELPERS[f"fma_{f.name}"], 1 << f.frac
    three_halves = fh.scale(f, 0) | f.qbit

    def fn(a: int, b: int, fpcr: int) -> tuple[int, int]:
        (x, y), flags = fh.flush(f, fpcr, (a ^ f.sign, b))
        if fh.is_nan(f, x) or fh.is_nan(f, y):
            return fma(a ^ f.sign, b, three_halves, fpcr)
        if _inf_times_zero(f, x, y):
            return three_halves, flags
        if 2 <= _exp(f, x) < _exp(f, f.inf):
            x -= half
        elif 2 <= _exp(f, y) < _exp(f, f.inf):
            y -= half
        r, fl = fma(x, y, three_halves, fpcr)
        return r, fl | flags
    return fn


@functools.cache
def _recip_estimate(a: int) -> int:
    """RecipEstimate: 1 / (a / 512) with 8 fraction bits (256 <= a < 512)."""
    return ((1 << 19) // (a * 2 + 1) + 1) // 2


@functools.cache
def _rsqrt_estimate(a: int) -> int:
    """RecipSqrtEstimate: 1 / sqrt(a / 512) with 8 fraction bits (128 <= a < 512)."""
    a = a * 2 + 1 if a < 256 else ((a >> 1 << 1) + 1) * 2
    b = 512
    while a * (b + 1) * (b + 1) < 1 << 28:
        b += 1
    return (b + 1) // 2


_F52 = (1 << 52) - 1


def _recpe(f: FPFormat) -> ElemFn:
    """FRECPE (FPRecipEstimate): 8-bit estimates of 1 / a."""
    bias = _exp(f, f.inf) >> 1
    max_normal = f.inf - 1

    def fn(a: int, fpcr: int) -> tuple[int, int]:
        (x,), flags = fh.flush(f, fpcr, (a,))
        nan = fh.process_nans(f, fpcr, (x,))
        if nan is not None:
            return nan[0], nan[1] | flags
        sign, exp, frac = x & f.sign, _exp(f, x), (x & f.fmask) << (52 - f.frac)
        if exp == _exp(f, f.inf):
            return sign, flags
        if not x & f.mag:
            return sign | f.inf, fh.DZC | flags
        if not exp and not frac >> 50:  # below 2**-(bias + 1): the reciprocal overflows
            rmode = fpcr >> fh.FPCR_RMODE_SHIFT & 3
            to_inf = (True, not sign, bool(sign), False)[rmode]
            return sign | (f.inf if to_inf else max_normal), fh.OFC | fh.IXC | flags
        if fpcr & fh.FPCR_FZ and exp >= 2 * bias - 1:
            return sign, fh.UFC | flags
        if not exp:
            if not frac >> 51:
                exp, frac = -1, frac << 2 & _F52
            else:
                frac = frac << 1 & _F52
        result_exp = 2 * bias - 1 - exp
        frac = (_recip_estimate(256 | frac >> 44) & 0xFF) << 44
        if result_exp == 0:
            frac = 1 << 51 | frac >> 1
        elif result_exp == -1:
            frac, result_exp = 1 << 50 | frac >> 2, 0
        return sign | result_exp << f.frac | frac >> (52 - f.frac), flags
    return fn


def _rsqrte(f: FPFormat) -> ElemFn:
    """FRSQRTE (FPRSqrtEstimate): 8-bit estimates of 1 / sqrt(a)."""
    bias = _exp(f, f.inf) >> 1

    def fn(a: int, fpcr: int) -> tuple[int, int]:
        (x,), flags = fh.flush(f, fpcr, (a,))
        nan = fh.process_nans(f, fpcr, (x,))
        if nan is not None:
            return nan[0], nan[1] | flags
        if not x & f.mag:
            return x & f.sign | f.inf, fh.DZC | flags
        if x & f.sign:
            return f.dnan, fh.IOC | flags
        if x == f.inf:
            return 0, flags
        exp, frac = _exp(f, x), (x & f.fmask) << (52 - f.frac)
        if not exp:
            while not frac >> 51:
                frac, exp = frac << 1 & _F52, exp - 1
            frac = frac << 1 & _F52
        scaled = 256 | frac >> 44 if exp & 1 == 0 else 128 | frac >> 45
        result_exp = (3 * bias - 1 - exp) // 2
        return result_exp << f.frac | (_rsqrt_estimate(scaled) & 0xFF) << (f.frac - 8), flags
    return fn


def _recpx(f: FPFormat) -> ElemFn:
    """FRECPX (FPRecpX): the sign, the exponent inverted (zeros and denormals: the largest normal
    exponent), a zero fraction."""
    emax = _exp(f, f.inf)

    def fn(a: int, fpcr: int) -> tuple[int, int]:
        (x,), flags = fh.flush(f, fpcr, (a,))
        nan = fh.process_nans(f, fpcr, (x,))
        if nan is not None:
            return nan[0], nan[1] | flags
        exp = _exp(f, a)
        return a & f.sign | ((emax - 1) if not exp else exp ^ emax) << f.frac, flags
    return fn


def _fmls(f: FPFormat) -> ElemFn:
    """FMLS: d + (-n) * m fused (the element of Vn negated, NaN included)."""
    fma = fh.HELPERS[f"fma_{f.name}"]
    return lambda n, m, d, fpcr: fma(n ^ f.sign, m, d, fpcr)


def _cvt_odd(a: int, fpcr: int) -> tuple[int, int]:
    """FCVTXN: double to single rounding to odd (truncate, then set the lowest bit when inexact)."""
    r, flags = fh.HELPERS["cvt_ds"](a, fpcr | _RZ_BITS)
    if flags & fh.IXC and r & fh.S.mag < fh.S.inf:
        r |= 1
    return r, flags


def _elements() -> dict[str, ElemFn]:
    out = dict(fh.HELPERS)
    for f in (fh.S, fh.D):
        t = f.name
        for rel in _RELATIONS:
            out[f"cm{rel}_{t}"] = _compare(f, rel, False)
        out[f"acge_{t}"], out[f"acgt_{t}"] = _compare(f, "ge", True), _compare(f, "gt", True)
        out[f"abd_{t}"], out[f"mulx_{t}"], out[f"recps_{t}"] = _abd(f), _mulx(f), _recps(f)
        out[f"fmls_{t}"], out[f"rsqrts_{t}"] = _fmls(f), _rsqrts(f)
        out[f"recpe_{t}"], out[f"rsqrte_{t}"], out[f"recpx_{t}"] = _recpe(f), _rsqrte(f), _recpx(f)
    out["cvtodd_ds"] = _cvt_odd
    return out


#: element function name -> function: :data:`.fpu_helper.HELPERS` plus ``cm<eq|ge|gt>_<t>``,
#: ``ac<ge|gt>_<t>``, ``abd_<t>``, ``mulx_<t>``, ``recps_<t>``, ``rsqrts_<t>``, ``recpe_<t>``, ``rsqrte_<t>``,
#: ``recpx_<t>``, ``fmls_<t>`` and ``cvtodd_ds``
ELEMENTS = _elements()


# --- vector shapes -------------------------------------------------------------------------------------

def lanewise(fn: ElemFn, bits: int, nops: int, *args: int) -> tuple[int, int]:
    """``fn`` of the ``bits``-wide lanes of the first ``nops`` halves, then the other arguments."""
    mask, halves, rest = (1 << bits) - 1, args[:nops], args[nops:]
    out = flags = 0
    for k in range(0, 64, bits):
        r, fl = fn(*(h >> k & mask for h in halves), *rest)
        out |= r << k
        flags |= fl
    return out, flags


def pairwise(fn: ElemFn, bits: int, a: int, b: int, fpcr: int) -> tuple[int, int]:
    """``fn`` of adjacent lane pairs of the concatenation b:a."""
    mask = (1 << bits) - 1
    lanes = [h >> k & mask for h in (a, b) for k in range(0, 64, bits)]
    out = flags = 0
    for i in range(0, len(lanes), 2):
        r, fl = fn(lanes[i], lanes[i + 1], fpcr)
        out |= r << (i // 2 * bits)
        flags |= fl
    return out, flags


def reduce4(fn: ElemFn, lo: int, hi: int, fpcr: int) -> tuple[int, int]:
    """Across the four single-precision lanes of lo, hi: fn(fn(e0, e1), fn(e2, e3)) (Reduce's tree)."""
    x, f1 = fn(lo & 0xFFFFFFFF, lo >> 32, fpcr)
    y, f2 = fn(hi & 0xFFFFFFFF, hi >> 32, fpcr)
    r, f3 = fn(x, y, fpcr)
    return r, f1 | f2 | f3


def narrow(fn: ElemFn, bits: int, lo: int, hi: int, fpcr: int) -> tuple[int, int]:
    """The ``2 * bits`` lanes of lo, hi converted to ``bits``-wide lanes of one doubleword."""
    mask = (1 << (2 * bits)) - 1
    out = flags = 0
    for i, x in enumerate(h >> k & mask for h in (lo, hi) for k in range(0, 64, 2 * bits)):
        r, fl = fn(x, fpcr)
        out |= r << (i * bits)
        flags |= fl
    return out, flags


def widen(fn: ElemFn, bits: int, part: int, a: int, fpcr: int) -> tuple[int, int]:
    """The ``bits``-wide lanes in 32-bit ``part`` of a converted to ``2 * bits``-wide lanes."""
    mask = (1 << bits) - 1
    x = a >> (32 * part)
    out = flags = 0
    for i in range(32 // bits):
        r, fl = fn(x >> (i * bits) & mask, fpcr)
        out |= r << (i * 2 * bits)
        flags |= fl
    return out, flags


@functools.cache
def helper(name: str, shape: Callable[..., tuple[int, int]], *fixed: object) -> Helper:
    """An IR helper ``name`` calling ``shape(*fixed, *args)`` whose exception bits accumulate into FPSR."""
    return Helper(name, functools.partial(shape, *fixed), pass_cpu=False, accumulate="fpsr")


def scalar(name: str) -> Helper:
    """The IR helper of element function ``name`` on one scalar operand set."""
    return helper(f"vf_{name}", ELEMENTS[name])
