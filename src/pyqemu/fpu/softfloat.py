"""Bit-exact IEEE 754-2008 binary32/binary64 arithmetic with RISC-V semantics (and binary16 conversions).

Models the arithmetic of the RISC-V "F" and "D" standard extensions (RISC-V Unprivileged ISA
v20191213, chapter 11 "F" Standard Extension for Single-Precision Floating-Point, version 2.2, and
chapter 12 "D" Standard Extension for Double-Precision Floating-Point): the rounding-mode and
accrued-exception encodings of fcsr (section 11.2), canonical-NaN generation (section 11.3), subnormal
arithmetic with tininess detected after rounding (section 11.4), the computational instructions
including fused multiply-add and FMIN/FMAX (section 11.6), conversions with the saturation rules of
the "Domains of float-to-integer conversions and behavior for invalid inputs" table (section 11.7,
Table 11.4), comparisons (section 11.8) and FCLASS (section 11.9, Table 11.5); chapter 12 applies
the same rules to binary64.  All of it is IEEE 754-2008 arithmetic (FMIN/FMAX follow IEEE 754-2019
minimumNumber/maximumNumber).

Conventions
-----------
* Floating-point values are raw bit patterns held in Python ints: 32-bit for binary32 (``f32_*``),
  64-bit for binary64 (``f64_*``).  Inputs must already be in ``range(0, 2**width)`` (NaN-unboxing of
  single-precision values held in 64-bit registers is the caller's business).
* ``rm`` is the RISC-V rounding-mode encoding 0..4 (:data:`RNE`, :data:`RTZ`, :data:`RDN`, :data:`RUP`,
  :data:`RMM`).  DYN (7) must be resolved from ``frm`` by the caller, and reserved encodings (5, 6) must
  be rejected by the caller (illegal instruction); passing them here is unsupported (a ``ValueError``
  is raised when the value matters).
* Every operation returns ``(result, fflags)`` where ``fflags`` is the RISC-V fflags mask
  (:data:`NX`, :data:`UF`, :data:`OF`, :data:`DZ`, :data:`NV`) raised by that one operation, except
  ``f32_classify``/``f64_classify`` which raise nothing and return just the 10-bit FCLASS mask.
* Comparisons (``*_eq``/``*_lt``/``*_le``) return 0 or 1 as the result.
* Float-to-integer conversions saturate as RISC-V specifies (NaN and +inf give the maximum, -inf the
  minimum, NV when the *rounded* value is out of range or the input is NaN/inf, otherwise NX when
  inexact) and return the integer as an unsigned 64-bit pattern; 32-bit results (W and WU) are
  sign-extended from bit 31, as FCVT.W[U].{S,D} writes them into an XLEN=64 register.
* Integer-to-float conversions take any Python int and use its low 32 or 64 bits, read as two's
  complement for the signed variants, so both register bit patterns and negative ints work.
* Every NaN produced is the canonical NaN (no payload propagation); signalling-NaN inputs raise NV.
* Underflow (UF) is raised when the result is tiny *after rounding* and inexact.

Implementation
--------------
Each operation has an exact integer implementation (the ``_xxx`` helpers below) that works on
``sign * significand * 2**exponent`` with unbounded Python ints and one generic rounding routine.  In
front of it sits a fast path using the host's IEEE binary64 arithmetic (round-to-nearest-even), used
only where it is provably correct:

* binary64 ``+ - * /`` and ``sqrt`` are correctly rounded by the host; the exact rounding error (or
  the sign of the remainder) is recovered with error-free transformations (Knuth/Dekker TwoSum,
  Veltkamp splitting + Dekker TwoProduct) which are exact when no intermediate overflows and all
  quantities live on a grid no finer than 2**-1074 (ensured by magnitude guards).  The error sign
  gives the flags and, for RTZ/RDN/RUP, a one-ulp correction of the round-to-nearest result.
* binary64 fused multiply-add uses the Boldo-Melquiond emulation (TwoProduct, TwoSum, round-to-odd
  addition, final round-to-nearest addition).
* binary32 operations are computed in binary64 and rounded to binary32 (double rounding is innocuous
  for ``+ - * / sqrt`` because 53 >= 2*24 + 2; binary32 fma is computed with round-to-odd in
  binary64, which is innocuous because 53 >= 24 + 2).
* Anything else (RMM when inexact, results that are tiny or near overflow, zero results whose sign
  depends on the rounding mode, NaN/infinity operands) goes to the exact integer path.
"""

from __future__ import annotations

import math
import struct

__all__ = [
    "RNE", "RTZ", "RDN", "RUP", "RMM",
    "NX", "UF", "OF", "DZ", "NV",
    "F32_CANONICAL_NAN", "F64_CANONICAL_NAN",
    "f32_add", "f32_sub", "f32_mul", "f32_div", "f32_sqrt",
    "f32_madd", "f32_msub", "f32_nmsub", "f32_nmadd",
    "f32_min", "f32_max", "f32_eq", "f32_lt", "f32_le", "f32_classify",
    "f32_to_i32", "f32_to_u32", "f32_to_i64", "f32_to_u64",
    "i32_to_f32", "u32_to_f32", "i64_to_f32", "u64_to_f32",
    "f64_add", "f64_sub", "f64_mul", "f64_div", "f64_sqrt",
    "f64_madd", "f64_msub", "f64_nmsub", "f64_nmadd",
    "f64_min", "f64_max", "f64_eq", "f64_lt", "f64_le", "f64_classify",
    "f64_to_i32", "f64_to_u32", "f64_to_i64", "f64_to_u64",
    "i32_to_f64", "u32_to_f64", "i64_to_f64", "u64_to_f64",
    "f32_to_f64", "f64_to_f32",
    "f16_to_f32", "f16_to_f64", "f32_to_f16", "f64_to_f16",
]

# Rounding modes (RISC-V frm encoding).
RNE = 0  #: round to nearest, ties to even
RTZ = 1  #: round towards zero
RDN = 2  #: round down (towards -infinity)
RUP = 3  #: round up (towards +infinity)
RMM = 4  #: round to nearest, ties to max magnitude

# Exception flags (RISC-V fflags bits).
NX = 1  #: inexact
UF = 2  #: underflow
OF = 4  #: overflow
DZ = 8  #: divide by zero
NV = 16  #: invalid operation

F32_CANONICAL_NAN = 0x7FC00000
F64_CANONICAL_NAN = 0x7FF8000000000000

# --------------------------------------------------------------------------------------------------
# Exact integer implementation
# --------------------------------------------------------------------------------------------------


class _Fmt:
    """Parameters of one IEEE binary interchange format."""

    __slots__ = ("p", "width", "bias", "emin", "emax", "emask", "fmask", "hidden", "sign", "inf",
                 "nan", "max", "qbit", "sub_exp", "name")

    def __init__(self, p: int, ebits: int, name: str) -> None:
        self.name = name
        self.p = p  # precision, including the hidden bit
        self.width = p + ebits
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias  # unbiased exponent of the smallest normal
        self.emax = self.bias
        self.emask = (1 << ebits) - 1
        self.fmask = (1 << (p - 1)) - 1
        self.hidden = 1 << (p - 1)
        self.sign = 1 << (self.width - 1)
        self.inf = self.emask << (p - 1)
        self.qbit = 1 << (p - 2)
        self.nan = self.inf | self.qbit  # canonical NaN
        self.max = self.inf - 1  # largest finite magnitude
        self.sub_exp = self.emin - p + 1  # exponent of a subnormal's least significant bit


_F32 = _Fmt(24, 8, "binary32")
_F64 = _Fmt(53, 11, "binary64")

# Operand classes returned by _unpack (order matters: >= _INF means "not finite").
_ZERO, _FIN, _INF, _QNAN, _SNAN = range(5)


def _unpack(fm: _Fmt, a: int) -> tuple[int, int, int, int]:
    """Split ``a`` into (class, sign, significand, exponent) with value = sig * 2**exp."""
    sign = (a >> (fm.width - 1)) & 1
    e = (a >> (fm.p - 1)) & fm.emask
    f = a & fm.fmask
    if e == fm.emask:
        if f == 0:
            return _INF, sign, 0, 0
        return (_QNAN if f & fm.qbit else _SNAN), sign, 0, 0
    if e == 0:
        if f == 0:
            return _ZERO, sign, 0, 0
        return _FIN, sign, f, fm.sub_exp
    return _FIN, sign, f | fm.hidden, e - fm.bias - fm.p + 1


def _is_snan(fm: _Fmt, a: int) -> bool:
    return (a & fm.inf) == fm.inf and (a & fm.fmask) != 0 and not (a & fm.qbit)


def _round_up(q: int, rem: int, d: int, sign: int, rm: int) -> bool:
    """Whether the truncated magnitude ``q`` (with ``d`` > 0 dropped bits ``rem`` != 0) rounds up."""
    if rm == RNE:
        half = 1 << (d - 1)
        return rem > half or (rem == half and bool(q & 1))
    if rm == RTZ:
        return False
    if rm == RDN:
        return bool(sign)
    if rm == RUP:
        return not sign
    if rm == RMM:
        return rem >= 1 << (d - 1)
    raise ValueError(f"invalid rounding mode {rm}")


def _overflow(fm: _Fmt, sign: int, rm: int) -> tuple[int, int]:
    sbit = fm.sign if sign else 0
    if rm == RNE or rm == RMM:
        mag = fm.inf
    elif rm == RTZ:
        mag = fm.max
    elif rm == RDN:
        mag = fm.inf if sign else fm.max
    elif rm == RUP:
        mag = fm.max if sign else fm.inf
    else:
        raise ValueError(f"invalid rounding mode {rm}")
    return sbit | mag, OF | NX


def _round_pack(fm: _Fmt, sign: int, sig: int, exp: int, rm: int) -> tuple[int, int]:
    """Round the exact value ``(-1)**sign * sig * 2**exp`` (``sig`` > 0) to format ``fm``.

    For inexact operations (division, square root) ``sig`` ends in a sticky bit (1 when anything
    non-zero was discarded below it); it must then have at least p + 2 significant bits so that the
    sticky bit lies below the round bit at every rounding position, subnormal ones included.
    """
    p = fm.p
    n = sig.bit_length()
    big_e = exp + n - 1  # unbiased exponent of the exact value
    sbit = fm.sign if sign else 0
    d = n - p
    if big_e >= fm.emin:
        flags = 0
        if d > 0:
            q = sig >> d
            rem = sig & ((1 << d) - 1)
            if rem:
                flags = NX
                if _round_up(q, rem, d, sign, rm):
                    q += 1
                    if q >> p:
                        q >>= 1
                        big_e += 1
        else:
            q = sig << -d
        if big_e > fm.emax:
            return _overflow(fm, sign, rm)
        return sbit | ((big_e + fm.bias) << (p - 1)) | (q & fm.fmask), flags
    # Below the normal range.  Tininess is decided after rounding to p bits with an unbounded
    # exponent: the value is tiny unless that rounding carries it up to 2**emin.
    tiny = True
    if d > 0 and big_e == fm.emin - 1:
        q = sig >> d
        rem = sig & ((1 << d) - 1)
        if rem and _round_up(q, rem, d, sign, rm) and (q + 1) >> p:
            tiny = False
    sh = fm.sub_exp - exp
    if sh <= 0:
        return sbit | (sig << -sh), 0  # exactly representable subnormal
    q = sig >> sh
    rem = sig & ((1 << sh) - 1)
    if not rem:
        return sbit | q, 0
    if _round_up(q, rem, sh, sign, rm):
        q += 1  # may become 2**(p-1): the encoding of the smallest normal, which is what we want
    return sbit | q, (NX | UF) if tiny else NX


def _nan_result(fm: _Fmt, *classes: int) -> tuple[int, int]:
    return fm.nan, (NV if _SNAN in classes else 0)


def _add(fm: _Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    """Exact a + b."""
    ca, sa, ma, ea = _unpack(fm, a)
    cb, sb, mb, eb = _unpack(fm, b)
    if ca >= _INF or cb >= _INF:
        if ca >= _QNAN or cb >= _QNAN:
            return _nan_result(fm, ca, cb)
        if ca == _INF and cb == _INF and sa != sb:
            return fm.nan, NV
        return (a if ca == _INF else b), 0
    if ca == _ZERO:
        if cb == _ZERO and sa != sb:
            return (fm.sign if rm == RDN else 0), 0
        return b, 0
    if cb == _ZERO:
        return a, 0
    if ea > eb:
        ma <<= ea - eb
        e = eb
    else:
        mb <<= eb - ea
        e = ea
    s = (-ma if sa else ma) + (-mb if sb else mb)
    if s == 0:
        return (fm.sign if rm == RDN else 0), 0
    if s < 0:
        return _round_pack(fm, 1, -s, e, rm)
    return _round_pack(fm, 0, s, e, rm)


def _mul(fm: _Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    """Exact a * b."""
    ca, sa, ma, ea = _unpack(fm, a)
    cb, sb, mb, eb = _unpack(fm, b)
    sign = sa ^ sb
    if ca >= _QNAN or cb >= _QNAN:
        return _nan_result(fm, ca, cb)
    if ca == _INF or cb == _INF:
        if ca == _ZERO or cb == _ZERO:
            return fm.nan, NV
        return (fm.sign if sign else 0) | fm.inf, 0
    if ca == _ZERO or cb == _ZERO:
        return (fm.sign if sign else 0), 0
    return _round_pack(fm, sign, ma * mb, ea + eb, rm)


def _div(fm: _Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    """Exact a / b."""
    ca, sa, ma, ea = _unpack(fm, a)
    cb, sb, mb, eb = _unpack(fm, b)
    sign = sa ^ sb
    sbit = fm.sign if sign else 0
    if ca >= _QNAN or cb >= _QNAN:
        return _nan_result(fm, ca, cb)
    if ca == _INF:
        if cb == _INF:
            return fm.nan, NV
        return sbit | fm.inf, 0
    if cb == _INF:
        return sbit, 0
    if cb == _ZERO:
        if ca == _ZERO:
            return fm.nan, NV
        return sbit | fm.inf, DZ
    if ca == _ZERO:
        return sbit, 0
    k = fm.p + 2 + mb.bit_length() - ma.bit_length()  # >= 3, since both have 1..p bits
    q, r = divmod(ma << k, mb)  # q has at least p + 2 bits
    return _round_pack(fm, sign, (q << 1) | (r != 0), ea - eb - k - 1, rm)


def _sqrt(fm: _Fmt, a: int, rm: int) -> tuple[int, int]:
    """Exact sqrt(a)."""
    ca, sa, ma, ea = _unpack(fm, a)
    if ca >= _QNAN:
        return _nan_result(fm, ca)
    if ca == _ZERO:
        return a, 0
    if sa:
        return fm.nan, NV
    if ca == _INF:
        return a, 0
    if ea & 1:
        ma <<= 1
        ea -= 1
    k = fm.p + 2
    n = ma << (2 * k)
    r = math.isqrt(n)  # at least k + 1 bits
    return _round_pack(fm, 0, (r << 1) | (n != r * r), (ea - 2 * k) // 2 - 1, rm)


def _fma(fm: _Fmt, a: int, b: int, c: int, rm: int) -> tuple[int, int]:
    """Exact a * b + c with a single rounding (sign flips for the msub/nm* variants are applied to
    the operand bits by the callers)."""
    ca, sa, ma, ea = _unpack(fm, a)
    cb, sb, mb, eb = _unpack(fm, b)
    cc, sc, mc, ec = _unpack(fm, c)
    if ca >= _QNAN or cb >= _QNAN or cc >= _QNAN:
        inf_times_zero = (ca == _INF and cb == _ZERO) or (ca == _ZERO and cb == _INF)
        nan, flags = _nan_result(fm, ca, cb, cc)
        return nan, (flags | NV) if inf_times_zero else flags
    sp = sa ^ sb
    if ca == _INF or cb == _INF:
        if ca == _ZERO or cb == _ZERO:
            return fm.nan, NV
        if cc == _INF and sc != sp:
            return fm.nan, NV
        return (fm.sign if sp else 0) | fm.inf, 0
    if cc == _INF:
        return c, 0
    if ca == _ZERO or cb == _ZERO:
        if cc == _ZERO:
            if sp == sc:
                return c, 0
            return (fm.sign if rm == RDN else 0), 0
        return c, 0
    prod = ma * mb
    ep = ea + eb
    if cc == _ZERO:
        return _round_pack(fm, sp, prod, ep, rm)
    if ep > ec:
        prod <<= ep - ec
        e = ec
    else:
        mc <<= ec - ep
        e = ep
    s = (-prod if sp else prod) + (-mc if sc else mc)
    if s == 0:
        return (fm.sign if rm == RDN else 0), 0
    if s < 0:
        return _round_pack(fm, 1, -s, e, rm)
    return _round_pack(fm, 0, s, e, rm)


def _to_int(fm: _Fmt, a: int, rm: int, lo: int, hi: int) -> tuple[int, int]:
    """Exact conversion to an integer in [lo, hi] with RISC-V saturation; returns a Python int."""
    ca, sa, ma, ea = _unpack(fm, a)
    if ca >= _QNAN:
        return hi, NV
    if ca == _INF:
        return (lo if sa else hi), NV
    if ca == _ZERO:
        return 0, 0
    inexact = False
    if ea >= 0:
        if ea > 64:  # certainly out of range for every destination
            return (lo if sa else hi), NV
        q = ma << ea
    else:
        d = -ea
        q = ma >> d
        rem = ma & ((1 << d) - 1)
        if rem:
            inexact = True
            if _round_up(q, rem, d, sa, rm):
                q += 1
    n = -q if sa else q
    if n < lo:
        return lo, NV
    if n > hi:
        return hi, NV
    return n, (NX if inexact else 0)


def _from_int(fm: _Fmt, n: int, rm: int) -> tuple[int, int]:
    """Exact conversion of the Python int ``n`` to format ``fm``."""
    if n == 0:
        return 0, 0
    if n < 0:
        return _round_pack(fm, 1, -n, 0, rm)
    return _round_pack(fm, 0, n, 0, rm)


def _convert(src: _Fmt, dst: _Fmt, a: int, rm: int) -> tuple[int, int]:
    """Exact conversion between formats."""
    ca, sa, ma, ea = _unpack(src, a)
    sbit = dst.sign if sa else 0
    if ca >= _QNAN:
        return _nan_result(dst, ca)
    if ca == _INF:
        return sbit | dst.inf, 0
    if ca == _ZERO:
        return sbit, 0
    return _round_pack(dst, sa, ma, ea, rm)


def _minmax(fm: _Fmt, a: int, b: int, want_max: bool) -> tuple[int, int]:
    """IEEE 754-2019 minimumNumber/maximumNumber as required by RISC-V F 2.2."""
    ca = _unpack(fm, a)[0]
    cb = _unpack(fm, b)[0]
    flags = NV if (ca == _SNAN or cb == _SNAN) else 0
    a_nan = ca >= _QNAN
    b_nan = cb >= _QNAN
    if a_nan and b_nan:
        return fm.nan, flags
    if a_nan:
        return b, flags
    if b_nan:
        return a, flags
    # Order the non-NaN encodings: map sign-magnitude to a monotonic integer key.
    ka = -(a & ~fm.sign) - 1 if a & fm.sign else a
    kb = -(b & ~fm.sign) - 1 if b & fm.sign else b
    if want_max:
        return (a if ka >= kb else b), flags
    return (a if ka <= kb else b), flags


def _compare(fm: _Fmt, a: int, b: int, op: int, signaling: bool) -> tuple[int, int]:
    """op: 0 = eq, 1 = lt, 2 = le."""
    ca = _unpack(fm, a)[0]
    cb = _unpack(fm, b)[0]
    if ca >= _QNAN or cb >= _QNAN:
        if signaling or ca == _SNAN or cb == _SNAN:
            return 0, NV
        return 0, 0
    if ca == _ZERO and cb == _ZERO:
        return (0 if op == 1 else 1), 0
    ka = -(a & ~fm.sign) if a & fm.sign else a
    kb = -(b & ~fm.sign) if b & fm.sign else b
    if op == 0:
        return int(ka == kb), 0
    if op == 1:
        return int(ka < kb), 0
    return int(ka <= kb), 0


def _classify(fm: _Fmt, a: int) -> int:
    cls, sign, _, _ = _unpack(fm, a)
    if cls == _SNAN:
        return 1 << 8
    if cls == _QNAN:
        return 1 << 9
    if cls == _INF:
        return 1 << 0 if sign else 1 << 7
    if cls == _ZERO:
        return 1 << 3 if sign else 1 << 4
    if a & fm.inf:  # normal
        return 1 << 1 if sign else 1 << 6
    return 1 << 2 if sign else 1 << 5


# --------------------------------------------------------------------------------------------------
# Host-float helpers for the fast paths
# --------------------------------------------------------------------------------------------------

_pack_Q = struct.Struct("<Q").pack
_pack_QQ = struct.Struct("<QQ").pack
_pack_QQQ = struct.Struct("<QQQ").pack
_unpack_Q = struct.Struct("<Q").unpack
_pack_d = struct.Struct("<d").pack
_unpack_d = struct.Struct("<d").unpack
_unpack_dd = struct.Struct("<dd").unpack
_unpack_ddd = struct.Struct("<ddd").unpack
_pack_I = struct.Struct("<I").pack
_pack_II = struct.Struct("<II").pack
_pack_III = struct.Struct("<III").pack
_unpack_I = struct.Struct("<I").unpack
_pack_f = struct.Struct("<f").pack
_unpack_f = struct.Struct("<f").unpack
_unpack_ff = struct.Struct("<ff").unpack
_unpack_fff = struct.Struct("<fff").unpack
_sqrt_host = math.sqrt
_floor = math.floor
_ceil = math.ceil

_S32 = 1 << 31
_S64 = 1 << 63
_M32 = (1 << 32) - 1
_M64 = (1 << 64) - 1
_SEXT32 = _M64 ^ _M32  # bits 32..63, for sign-extending 32-bit results

_D_MAX = 1.7976931348623157e308  # largest finite binary64
_D_MINN = 2.0**-1022  # smallest normal binary64
# Lower magnitude bound for Dekker TwoProduct-based paths: a product of magnitude >= 2**-968 has
# factors whose ulps multiply to >= 2**-1074, so every partial product and sum is exact.
_D_LO = 2.0**-968
_D_DIV_XLO = 2.0**-967  # dividend bound giving the same guarantee for TwoProduct(x / y, y)
_D_HI = 2.0**1020  # keeps Veltkamp splits and partial products of sqrt/fma far from overflow
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp splitter for binary64
_F_MAX = 3.4028234663852886e38  # largest finite binary32
_F_LO = 2.0**-126 * (1.0 + 2.0**-23)  # successor of the smallest normal binary32
_F_MAXBITS = 0x7F7FFFFF
_HOST_INF = float("inf")


def _directed(rb: int, r: float, pos: bool, rm: int) -> int:
    """Turn the round-to-nearest result ``r`` (bits ``rb``, a normal number strictly inside the normal
    range) of an inexact operation into its RTZ/RDN/RUP counterpart; ``pos`` is true when the exact
    value is above ``r``."""
    away = pos == (r > 0.0)  # exact value has a larger magnitude than r
    if rm == RTZ:
        return rb if away else rb - 1
    if rm == RDN:
        if pos:
            return rb
        return rb + 1 if away else rb - 1
    if rm == RUP:
        if not pos:
            return rb
        return rb + 1 if away else rb - 1
    raise ValueError(f"invalid rounding mode {rm}")


# --------------------------------------------------------------------------------------------------
# binary64
# --------------------------------------------------------------------------------------------------


def f64_add(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 a + b (FADD.D)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    r = x + y
    if -_D_MAX <= r <= _D_MAX:
        # Exact iff both differences give back the other operand: subtracting the larger-magnitude
        # operand from r is exact (Fast2Sum), so an inexact sum fails at least that test.
        if r - x == y and r - y == x:
            if r or rm != RDN:
                return _unpack_Q(_pack_d(r))[0], 0
        elif rm == RNE:
            return _unpack_Q(_pack_d(r))[0], NX
        elif rm != RMM and _D_MINN < abs(r) < _D_MAX:
            # Fast2Sum on the larger operand: r - x (or r - y) is exact and cannot overflow, unlike
            # the branch-free TwoSum whose intermediate r - x overflows when |y| is near the maximum.
            err = y - (r - x) if abs(x) >= abs(y) else x - (r - y)
            return _directed(_unpack_Q(_pack_d(r))[0], r, err > 0.0, rm), NX
    return _add(_F64, a, b, rm)


def f64_sub(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 a - b (FSUB.D)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    y = -y
    r = x + y
    if -_D_MAX <= r <= _D_MAX:
        if r - x == y and r - y == x:
            if r or rm != RDN:
                return _unpack_Q(_pack_d(r))[0], 0
        elif rm == RNE:
            return _unpack_Q(_pack_d(r))[0], NX
        elif rm != RMM and _D_MINN < abs(r) < _D_MAX:
            # Fast2Sum on the larger operand: r - x (or r - y) is exact and cannot overflow, unlike
            # the branch-free TwoSum whose intermediate r - x overflows when |y| is near the maximum.
            err = y - (r - x) if abs(x) >= abs(y) else x - (r - y)
            return _directed(_unpack_Q(_pack_d(r))[0], r, err > 0.0, rm), NX
    return _add(_F64, a, b ^ _S64, rm)


def f64_mul(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 a * b (FMUL.D)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    r = x * y
    if _D_LO <= abs(r) < _D_MAX:
        c = x * _SPLIT
        xh = c - (c - x)
        xl = x - xh
        c = y * _SPLIT
        yh = c - (c - y)
        yl = y - yh
        err = ((xh * yh - r) + xh * yl + xl * yh) + xl * yl  # x*y - r exactly (Dekker)
        if err == 0.0:
            return _unpack_Q(_pack_d(r))[0], 0
        if err - err == 0.0:  # finite: no intermediate overflow
            if rm == RNE:
                return _unpack_Q(_pack_d(r))[0], NX
            if rm != RMM:
                return _directed(_unpack_Q(_pack_d(r))[0], r, err > 0.0, rm), NX
    elif r == 0.0 and (x == 0.0 or y == 0.0):
        return (a ^ b) & _S64, 0
    return _mul(_F64, a, b, rm)


def f64_div(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 a / b (FDIV.D)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if y and _D_DIV_XLO <= abs(x):
        r = x / y
        if _D_LO <= abs(r) < _D_MAX:
            c = r * _SPLIT
            rh = c - (c - r)
            rl = r - rh
            c = y * _SPLIT
            yh = c - (c - y)
            yl = y - yh
            p = r * y
            err = ((rh * yh - p) + rh * yl + rl * yh) + rl * yl
            rem = (x - p) - err  # sign of x - r*y (x - p is exact by Sterbenz)
            if rem == 0.0:
                return _unpack_Q(_pack_d(r))[0], 0
            if rem - rem == 0.0:
                if rm == RNE:
                    return _unpack_Q(_pack_d(r))[0], NX
                if rm != RMM:
                    return _directed(_unpack_Q(_pack_d(r))[0], r, (rem > 0.0) == (y > 0.0), rm), NX
    return _div(_F64, a, b, rm)


def f64_sqrt(a: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 square root (FSQRT.D)."""
    x = _unpack_d(_pack_Q(a))[0]
    if _D_LO <= x <= _D_HI:
        r = _sqrt_host(x)
        c = r * _SPLIT
        rh = c - (c - r)
        rl = r - rh
        p = r * r
        err = ((rh * rh - p) + 2.0 * (rh * rl)) + rl * rl
        rem = (x - p) - err
        if rem == 0.0:
            return _unpack_Q(_pack_d(r))[0], 0
        if rm == RNE:
            return _unpack_Q(_pack_d(r))[0], NX
        if rm != RMM:
            return _directed(_unpack_Q(_pack_d(r))[0], r, rem > 0.0, rm), NX
        # RMM: square roots are never exact ties, so RMM equals RNE.
        return _unpack_Q(_pack_d(r))[0], NX
    return _sqrt(_F64, a, rm)


def f64_madd(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 fused a * b + c with one rounding (FMADD.D)."""
    x, y, z = _unpack_ddd(_pack_QQQ(a, b, c))
    uh = x * y
    if _D_LO <= abs(uh) <= _D_HI:  # no overflow in TwoProduct; partial products exact
        t = x * _SPLIT
        xh = t - (t - x)
        xl = x - xh
        t = y * _SPLIT
        yh = t - (t - y)
        yl = y - yh
        ul = ((xh * yh - uh) + xh * yl + xl * yh) + xl * yl  # x*y = uh + ul
        th = z + uh
        bb = th - z
        tl = (z - (th - bb)) + (uh - bb)  # z + uh = th + tl
        s = tl + ul
        bb = s - tl
        e2 = (tl - (s - bb)) + (ul - bb)  # tl + ul = s + e2
        if e2 == 0.0:
            res = th + s
            bb = res - th
            e3 = (th - (res - bb)) + (s - bb)  # exact value - res
            if _D_MINN < abs(res) < _D_MAX:
                if e3 == 0.0:
                    return _unpack_Q(_pack_d(res))[0], 0
                if rm == RNE:
                    return _unpack_Q(_pack_d(res))[0], NX
                if rm != RMM:
                    return _directed(_unpack_Q(_pack_d(res))[0], res, e3 > 0.0, rm), NX
        else:
            # Round tl + ul to odd, then a final round-to-nearest addition (Boldo-Melquiond).
            sb = _unpack_Q(_pack_d(s))[0]
            if sb & 1:
                vo = s
            else:
                vo = _unpack_d(_pack_Q(sb + 1 if (e2 > 0.0) == (s > 0.0) else sb - 1))[0]
            res = th + vo
            if _D_MINN < abs(res) < _D_MAX:
                if rm == RNE:
                    return _unpack_Q(_pack_d(res))[0], NX
                if rm != RMM:
                    bb = res - th
                    e3 = (th - (res - bb)) + (vo - bb)
                    pos = e3 > 0.0 if e3 != 0.0 else ((s - vo) + e2) > 0.0
                    return _directed(_unpack_Q(_pack_d(res))[0], res, pos, rm), NX
    elif uh == 0.0 and (x == 0.0 or y == 0.0) and z != 0.0 and z == z:
        return c, 0  # (+-0) * finite + nonzero c = c exactly
    return _fma(_F64, a, b, c, rm)


def f64_msub(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 fused a * b - c (FMSUB.D)."""
    return f64_madd(a, b, c ^ _S64, rm)


def f64_nmsub(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 fused -(a * b) + c (FNMSUB.D)."""
    return f64_madd(a ^ _S64, b, c, rm)


def f64_nmadd(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary64 fused -(a * b) - c (FNMADD.D)."""
    return f64_madd(a ^ _S64, b, c ^ _S64, rm)


def f64_min(a: int, b: int) -> tuple[int, int]:
    """binary64 FMIN.D (minimumNumber; -0 < +0; NV only for signalling NaNs)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if x < y:
        return a, 0
    if y < x:
        return b, 0
    if x == y:
        return a | b, 0  # equal: identical bits, or +-0 where the result must be -0
    return _minmax(_F64, a, b, False)


def f64_max(a: int, b: int) -> tuple[int, int]:
    """binary64 FMAX.D (maximumNumber; -0 < +0; NV only for signalling NaNs)."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if x > y:
        return a, 0
    if y > x:
        return b, 0
    if x == y:
        return a & b, 0
    return _minmax(_F64, a, b, True)


def f64_eq(a: int, b: int) -> tuple[int, int]:
    """binary64 FEQ.D (quiet: NV only for signalling NaNs); result 0 or 1."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if x == y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return _compare(_F64, a, b, 0, False)


def f64_lt(a: int, b: int) -> tuple[int, int]:
    """binary64 FLT.D (signalling: NV for any NaN); result 0 or 1."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if x < y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return 0, NV


def f64_le(a: int, b: int) -> tuple[int, int]:
    """binary64 FLE.D (signalling: NV for any NaN); result 0 or 1."""
    x, y = _unpack_dd(_pack_QQ(a, b))
    if x <= y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return 0, NV


def f64_classify(a: int) -> int:
    """binary64 FCLASS.D: the 10-bit class mask (no flags are ever raised, so only the mask is
    returned)."""
    return _classify(_F64, a)


def _f_to_int(fm: _Fmt, x: float, a: int, rm: int, lo: int, hi: int) -> tuple[int, int]:
    """Float-to-integer conversion of the host double ``x`` (exactly the value of ``a``)."""
    if -3.7e19 < x < 3.7e19:  # finite and below 2**65 (avoids building huge ints)
        if rm == RTZ:
            n = int(x)
        elif rm == RNE:
            n = round(x)
        elif rm == RDN:
            n = _floor(x)
        elif rm == RUP:
            n = _ceil(x)
        else:
            return _to_int(fm, a, rm, lo, hi)
        if n < lo:
            return lo, NV
        if n > hi:
            return hi, NV
        return n, (0 if n == x else NX)
    return _to_int(fm, a, rm, lo, hi)


def f64_to_i32(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.W.D: result is the int32 sign-extended to a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F64, _unpack_d(_pack_Q(a))[0], a, rm, -(1 << 31), (1 << 31) - 1)
    return n & _M64, fl


def f64_to_u32(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.WU.D: result is the uint32 sign-extended (from bit 31) to a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F64, _unpack_d(_pack_Q(a))[0], a, rm, 0, _M32)
    return (n | _SEXT32 if n & _S32 else n), fl


def f64_to_i64(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.L.D: result is the int64 as a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F64, _unpack_d(_pack_Q(a))[0], a, rm, -(1 << 63), (1 << 63) - 1)
    return n & _M64, fl


def f64_to_u64(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.LU.D: result is the uint64."""
    return _f_to_int(_F64, _unpack_d(_pack_Q(a))[0], a, rm, 0, _M64)


def i32_to_f64(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.D.W: the low 32 bits of ``x`` as a two's-complement int32 (always exact)."""
    x &= _M32
    if x & _S32:
        x -= 1 << 32
    return _unpack_Q(_pack_d(float(x)))[0], 0


def u32_to_f64(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.D.WU: the low 32 bits of ``x`` as a uint32 (always exact)."""
    return _unpack_Q(_pack_d(float(x & _M32)))[0], 0


def i64_to_f64(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.D.L: the low 64 bits of ``x`` as a two's-complement int64."""
    x &= _M64
    if x & _S64:
        x -= 1 << 64
    if -(1 << 53) <= x <= 1 << 53:
        return _unpack_Q(_pack_d(float(x)))[0], 0
    return _from_int(_F64, x, rm)


def u64_to_f64(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.D.LU: the low 64 bits of ``x`` as a uint64."""
    x &= _M64
    if x <= 1 << 53:
        return _unpack_Q(_pack_d(float(x)))[0], 0
    return _from_int(_F64, x, rm)


# --------------------------------------------------------------------------------------------------
# binary32
# --------------------------------------------------------------------------------------------------


def f32_add(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 a + b (FADD.S)."""
    x, y = _unpack_ff(_pack_II(a, b))
    r = x + y
    if -_F_MAX <= r <= _F_MAX:
        b4 = _pack_f(r)
        rf = _unpack_f(b4)[0]
        if rf == r and r - x == y and r - y == x:
            if r or rm != RDN:
                return _unpack_I(b4)[0], 0
        elif rm == RNE:
            return _unpack_I(b4)[0], NX
        elif rm != RMM:
            rb = _unpack_I(b4)[0]
            if rb & 0x7FFFFFFF != _F_MAXBITS:  # an inexact sum is never tiny
                if r != rf:
                    pos = r > rf
                else:
                    bb = r - x
                    pos = (x - (r - bb)) + (y - bb) > 0.0
                return _directed(rb, rf, pos, rm), NX
    return _add(_F32, a, b, rm)


def f32_sub(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 a - b (FSUB.S)."""
    x, y = _unpack_ff(_pack_II(a, b))
    y = -y
    r = x + y
    if -_F_MAX <= r <= _F_MAX:
        b4 = _pack_f(r)
        rf = _unpack_f(b4)[0]
        if rf == r and r - x == y and r - y == x:
            if r or rm != RDN:
                return _unpack_I(b4)[0], 0
        elif rm == RNE:
            return _unpack_I(b4)[0], NX
        elif rm != RMM:
            rb = _unpack_I(b4)[0]
            if rb & 0x7FFFFFFF != _F_MAXBITS:
                if r != rf:
                    pos = r > rf
                else:
                    bb = r - x
                    pos = (x - (r - bb)) + (y - bb) > 0.0
                return _directed(rb, rf, pos, rm), NX
    return _add(_F32, a, b ^ _S32, rm)


def f32_mul(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 a * b (FMUL.S)."""
    x, y = _unpack_ff(_pack_II(a, b))
    r = x * y  # exact in binary64
    if _F_LO <= abs(r) <= _F_MAX:
        b4 = _pack_f(r)
        rf = _unpack_f(b4)[0]
        if rf == r:
            return _unpack_I(b4)[0], 0
        if rm == RNE:
            return _unpack_I(b4)[0], NX
        if rm != RMM:
            rb = _unpack_I(b4)[0]
            if rb & 0x7FFFFFFF != _F_MAXBITS:
                return _directed(rb, rf, r > rf, rm), NX
    elif r == 0.0:  # a zero operand times a finite one: exact
        return (a ^ b) & _S32, 0
    return _mul(_F32, a, b, rm)


def f32_div(a: int, b: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 a / b (FDIV.S)."""
    x, y = _unpack_ff(_pack_II(a, b))
    if y:
        r = x / y
        if _F_LO <= abs(r) <= _F_MAX:
            b4 = _pack_f(r)
            rf = _unpack_f(b4)[0]
            rem = x - rf * y  # rf * y is exact in binary64; the subtraction keeps the sign
            if rem == 0.0:
                return _unpack_I(b4)[0], 0
            if rm == RNE:
                return _unpack_I(b4)[0], NX
            if rm != RMM:
                rb = _unpack_I(b4)[0]
                if rb & 0x7FFFFFFF != _F_MAXBITS:
                    return _directed(rb, rf, (rem > 0.0) == (y > 0.0), rm), NX
        elif r == 0.0:  # zero dividend or infinite divisor: exact
            return (a ^ b) & _S32, 0
    return _div(_F32, a, b, rm)


def f32_sqrt(a: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 square root (FSQRT.S)."""
    x = _unpack_f(_pack_I(a))[0]
    if 0.0 < x < _HOST_INF:
        r = _sqrt_host(x)  # in [2**-75, 2**64]: always a normal binary32 result
        b4 = _pack_f(r)
        rf = _unpack_f(b4)[0]
        rem = x - rf * rf
        if rem == 0.0:
            return _unpack_I(b4)[0], 0
        if rm == RNE or rm == RMM:  # never an exact tie, so RMM == RNE
            return _unpack_I(b4)[0], NX
        return _directed(_unpack_I(b4)[0], rf, rem > 0.0, rm), NX
    return _sqrt(_F32, a, rm)


def f32_madd(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 fused a * b + c with one rounding (FMADD.S)."""
    x, y, z = _unpack_fff(_pack_III(a, b, c))
    p = x * y  # exact in binary64
    s = p + z
    if _F_LO <= abs(s) <= _F_MAX:
        bb = s - p
        e = (p - (s - bb)) + (z - bb)
        if e != 0.0:  # make s the round-to-odd binary64 value of p + z
            sb = _unpack_Q(_pack_d(s))[0]
            if not sb & 1:
                s = _unpack_d(_pack_Q(sb + 1 if (e > 0.0) == (s > 0.0) else sb - 1))[0]
        b4 = _pack_f(s)
        rf = _unpack_f(b4)[0]
        if rf == s:
            return _unpack_I(b4)[0], 0
        if rm == RNE:
            return _unpack_I(b4)[0], NX
        if rm != RMM:
            rb = _unpack_I(b4)[0]
            if rb & 0x7FFFFFFF != _F_MAXBITS:
                return _directed(rb, rf, s > rf, rm), NX
    return _fma(_F32, a, b, c, rm)


def f32_msub(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 fused a * b - c (FMSUB.S)."""
    return f32_madd(a, b, c ^ _S32, rm)


def f32_nmsub(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 fused -(a * b) + c (FNMSUB.S)."""
    return f32_madd(a ^ _S32, b, c, rm)


def f32_nmadd(a: int, b: int, c: int, rm: int = RNE) -> tuple[int, int]:
    """binary32 fused -(a * b) - c (FNMADD.S)."""
    return f32_madd(a ^ _S32, b, c ^ _S32, rm)


def f32_min(a: int, b: int) -> tuple[int, int]:
    """binary32 FMIN.S (minimumNumber; -0 < +0; NV only for signalling NaNs)."""
    x, y = _unpack_ff(_pack_II(a, b))
    if x < y:
        return a, 0
    if y < x:
        return b, 0
    if x == y:
        return a | b, 0
    return _minmax(_F32, a, b, False)


def f32_max(a: int, b: int) -> tuple[int, int]:
    """binary32 FMAX.S (maximumNumber; -0 < +0; NV only for signalling NaNs)."""
    x, y = _unpack_ff(_pack_II(a, b))
    if x > y:
        return a, 0
    if y > x:
        return b, 0
    if x == y:
        return a & b, 0
    return _minmax(_F32, a, b, True)


def f32_eq(a: int, b: int) -> tuple[int, int]:
    """binary32 FEQ.S (quiet: NV only for signalling NaNs); result 0 or 1."""
    x, y = _unpack_ff(_pack_II(a, b))
    if x == y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return _compare(_F32, a, b, 0, False)


def f32_lt(a: int, b: int) -> tuple[int, int]:
    """binary32 FLT.S (signalling: NV for any NaN); result 0 or 1."""
    x, y = _unpack_ff(_pack_II(a, b))
    if x < y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return 0, NV


def f32_le(a: int, b: int) -> tuple[int, int]:
    """binary32 FLE.S (signalling: NV for any NaN); result 0 or 1."""
    x, y = _unpack_ff(_pack_II(a, b))
    if x <= y:
        return 1, 0
    if x == x and y == y:
        return 0, 0
    return 0, NV


def f32_classify(a: int) -> int:
    """binary32 FCLASS.S: the 10-bit class mask (no flags are ever raised, so only the mask is
    returned)."""
    return _classify(_F32, a)


def f32_to_i32(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.W.S: result is the int32 sign-extended to a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F32, _unpack_f(_pack_I(a))[0], a, rm, -(1 << 31), (1 << 31) - 1)
    return n & _M64, fl


def f32_to_u32(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.WU.S: result is the uint32 sign-extended (from bit 31) to a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F32, _unpack_f(_pack_I(a))[0], a, rm, 0, _M32)
    return (n | _SEXT32 if n & _S32 else n), fl


def f32_to_i64(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.L.S: result is the int64 as a 64-bit unsigned pattern."""
    n, fl = _f_to_int(_F32, _unpack_f(_pack_I(a))[0], a, rm, -(1 << 63), (1 << 63) - 1)
    return n & _M64, fl


def f32_to_u64(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.LU.S: result is the uint64."""
    return _f_to_int(_F32, _unpack_f(_pack_I(a))[0], a, rm, 0, _M64)


def i32_to_f32(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.S.W: the low 32 bits of ``x`` as a two's-complement int32."""
    x &= _M32
    if x & _S32:
        x -= 1 << 32
    if -(1 << 24) <= x <= 1 << 24:
        return _unpack_I(_pack_f(float(x)))[0], 0
    return _from_int(_F32, x, rm)


def u32_to_f32(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.S.WU: the low 32 bits of ``x`` as a uint32."""
    x &= _M32
    if x <= 1 << 24:
        return _unpack_I(_pack_f(float(x)))[0], 0
    return _from_int(_F32, x, rm)


def i64_to_f32(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.S.L: the low 64 bits of ``x`` as a two's-complement int64."""
    x &= _M64
    if x & _S64:
        x -= 1 << 64
    if -(1 << 24) <= x <= 1 << 24:
        return _unpack_I(_pack_f(float(x)))[0], 0
    return _from_int(_F32, x, rm)


def u64_to_f32(x: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.S.LU: the low 64 bits of ``x`` as a uint64."""
    x &= _M64
    if x <= 1 << 24:
        return _unpack_I(_pack_f(float(x)))[0], 0
    return _from_int(_F32, x, rm)


# --------------------------------------------------------------------------------------------------
# binary32 <-> binary64
# --------------------------------------------------------------------------------------------------


def f32_to_f64(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.D.S: exact widening (any NaN gives the canonical NaN, NV for a signalling one).

    ``rm`` is accepted for uniformity with the other conversions and ignored: widening is exact.
    """
    x = _unpack_f(_pack_I(a))[0]
    if x == x:
        return _unpack_Q(_pack_d(x))[0], 0
    return F64_CANONICAL_NAN, (NV if _is_snan(_F32, a) else 0)


def f64_to_f32(a: int, rm: int = RNE) -> tuple[int, int]:
    """FCVT.S.D: narrowing with rounding."""
    x = _unpack_d(_pack_Q(a))[0]
    if _F_LO <= abs(x) <= _F_MAX:
        b4 = _pack_f(x)
        rf = _unpack_f(b4)[0]
        if rf == x:
            return _unpack_I(b4)[0], 0
        if rm == RNE:
            return _unpack_I(b4)[0], NX
        if rm != RMM:
            rb = _unpack_I(b4)[0]
            if rb & 0x7FFFFFFF != _F_MAXBITS:
                return _directed(rb, rf, x > rf, rm), NX
    return _convert(_F64, _F32, a, rm)


# --------------------------------------------------------------------------------------------------
# binary16 <-> binary32 / binary64 (exact integer path only)
# --------------------------------------------------------------------------------------------------

_F16 = _Fmt(11, 5, "binary16")


def f16_to_f32(a: int, rm: int = RNE) -> tuple[int, int]:
    """Exact widening of binary16 (any NaN gives the canonical NaN, NV for a signalling one)."""
    return _convert(_F16, _F32, a, rm)


def f16_to_f64(a: int, rm: int = RNE) -> tuple[int, int]:
    """Exact widening of binary16 (any NaN gives the canonical NaN, NV for a signalling one)."""
    return _convert(_F16, _F64, a, rm)


def f32_to_f16(a: int, rm: int = RNE) -> tuple[int, int]:
    """Narrowing to binary16 with rounding."""
    return _convert(_F32, _F16, a, rm)


def f64_to_f16(a: int, rm: int = RNE) -> tuple[int, int]:
    """Narrowing to binary16 with one rounding."""
    return _convert(_F64, _F16, a, rm)
