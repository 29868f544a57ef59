"""Soft-float helpers of A64 scalar floating point (Arm ARM DDI 0487, A1.4 "Supported data types",
A1.5 "Floating-point data types and arithmetic" and the shared pseudocode of J1 "library pseudocode
for shared/functions/float": FPUnpack, FPProcessNaNs, FPRound, FPCompare, FPMax/FPMin and their
Num forms, FPMulAdd, FPToFixed, FixedToFP, FPRoundInt, FPConvert).

Built on the IEEE arithmetic of :mod:`pyqemu.fpu.softfloat`, adapted to the Arm rules:

* NaN operands never reach softfloat: FPProcessNaNs picks the first signalling NaN (quietened, IOC),
  else the first quiet NaN, or the default NaN when FPCR.DN is set; conversions keep the payload's top
  bits (FPConvertNaN); invalid operations give softfloat's canonical NaN, which is Arm's default NaN;
* FPCR.AHP: FCVT to and from half precision uses the alternative format (no infinities or NaNs);
* FPCR.FZ: denormal inputs read as zeros of their sign (IDC, FPUnpack), and a result whose exact
  value lies below the normal range is a zero of its sign with UFC only (FPRound); half-precision
  conversions neither flush their half input nor their half result (FPUnpackCV/FPRoundCV);
* tininess is detected before rounding where softfloat (RISC-V) detects it after: the two differ
  only for a rounded result of the smallest normal magnitude, recomputed towards zero to tell.

Values are raw bits in ints; every function named in :data:`HELPERS` returns (result, FPSR cumulative
exception bits).  Rounding-mode arguments are softfloat's codes, :data:`RM_FPCR` meaning FPCR.RMode.
"""

from __future__ import annotations

from collections.abc import Callable

from ...fpu import softfloat as sf

FPCR_AHP = 1 << 26
FPCR_DN = 1 << 25
FPCR_FZ = 1 << 24
FPCR_RMODE_SHIFT = 22
#: FPSR cumulative exception bits
IOC, DZC, OFC, UFC, IXC, IDC = 1, 2, 4, 8, 16, 128
#: rounding-mode argument: the mode FPCR.RMode selects
RM_FPCR = 7
#: FPCR.RMode (RN, RP, RM, RZ) -> softfloat rounding mode
_RMODES = (sf.RNE, sf.RUP, sf.RDN, sf.RTZ)
#: softfloat flags (NX UF OF DZ NV) -> FPSR bits
_SF_FLAGS = ((sf.NX, IXC), (sf.UF, UFC), (sf.OF, OFC), (sf.DZ, DZC), (sf.NV, IOC))
_FLAGS = tuple(sum(arm for bit, arm in _SF_FLAGS if n & bit) for n in range(32))


class FPFormat:
    """Bit layout of an IEEE binary format."""

    __slots__ = ("name", "width", "frac", "sign", "mag", "inf", "qbit", "fmask", "minnorm", "dnan",
                 "integral")

    def __init__(self, name: str, width: int, frac: int):
        self.name, self.width, self.frac = name, width, frac
        self.sign = 1 << (width - 1)
        self.mag = self.sign - 1
        self.fmask = (1 << frac) - 1
        self.inf = self.mag ^ self.fmask
        self.qbit = 1 << (frac - 1)
        self.minnorm = 1 << frac
        self.dnan = self.inf | self.qbit  # FPDefaultNaN
        # magnitudes from here up are integers (or not finite)
        self.integral = ((self.inf >> frac >> 1) + frac) << frac


H, S, D = FPFormat("h", 16, 10), FPFormat("s", 32, 23), FPFormat("d", 64, 52)
_FORMATS = {"h": H, "s": S, "d": D}


def is_nan(f: FPFormat, a: int) -> bool:
    return a & f.mag > f.inf


def _is_snan(f: FPFormat, a: int) -> bool:
    return a & f.mag > f.inf and not a & f.qbit


def flush(f: FPFormat, fpcr: int, ops: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """FPUnpack under FPCR.FZ: denormal operands become zeros of their sign (IDC)."""
    if not fpcr & FPCR_FZ:
        return ops, 0
    flags = 0
    out = []
    for a in ops:
        if not a & f.inf and a & f.fmask:
            a &= f.sign
            flags = IDC
        out.append(a)
    return tuple(out), flags


def process_nans(f: FPFormat, fpcr: int, ops: tuple[int, ...]) -> tuple[int, int] | None:
    """FPProcessNaNs(3): None when no operand is a NaN."""
    for a in ops:
        if _is_snan(f, a):
            return (f.dnan if fpcr & FPCR_DN else a | f.qbit), IOC
    for a in ops:
        if is_nan(f, a):
            return (f.dnan if fpcr & FPCR_DN else a), 0
    return None


def _rounded(f: FPFormat, fn: Callable[..., tuple[int, int]], ops: tuple[int, ...], rm: int,
             flush: bool) -> tuple[int, int]:
    """fn(*ops, rm) with Arm's tininess before rounding and, when ``flush``, FZ's flush to zero."""
    r, fl = fn(*ops, rm)
    mag = r & f.mag
    if mag > f.minnorm or (mag == f.minnorm or not mag) and not fl & sf.NX:
        return r, _FLAGS[fl]
    if mag == f.minnorm and fn(*ops, sf.RTZ)[0] & f.mag == f.minnorm:
        return r, _FLAGS[fl]  # the exact value is not below the normal range
    if flush:
        return r & f.sign, UFC
    return r, _FLAGS[fl | sf.UF] if fl & sf.NX else _FLAGS[fl]


def _rmode(fpcr: int) -> int:
    return _RMODES[fpcr >> FPCR_RMODE_SHIFT & 3]


def _arith(f: FPFormat, fn: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """FADD, FSUB, FMUL, FDIV, FSQRT: fn(*operands, fpcr)."""
    def helper(*args: int) -> tuple[int, int]:
        ops, flags = flush(f, args[-1], args[:-1])
        nan = process_nans(f, args[-1], ops)
        if nan is not None:
            return nan[0], nan[1] | flags
        r, fl = _rounded(f, fn, ops, _rmode(args[-1]), bool(args[-1] & FPCR_FZ))
        return r, fl | flags
    return helper


def _fma(f: FPFormat, fn: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """FPMulAdd: n * m + a (negations are the caller's); NaNs in the order a, n, m, and an infinity
    times zero plus a quiet NaN is the default NaN with IOC."""
    def helper(n: int, m: int, a: int, fpcr: int) -> tuple[int, int]:
        (a, n, m), flags = flush(f, fpcr, (a, n, m))
        zero_n, zero_m = not n & f.mag, not m & f.mag
        inf_n, inf_m = n & f.mag == f.inf, m & f.mag == f.inf
        if is_nan(f, a) and not _is_snan(f, a) and (inf_n and zero_m or zero_n and inf_m):
            return f.dnan, IOC | flags
        nan = process_nans(f, fpcr, (a, n, m))
        if nan is not None:
            return nan[0], nan[1] | flags
        r, fl = _rounded(f, fn, (n, m, a), _rmode(fpcr), bool(fpcr & FPCR_FZ))
        return r, fl | flags
    return helper


def _minmax(f: FPFormat, fn: Callable[[int, int], tuple[int, int]], num: bool,
            nan_as: int) -> Callable[..., tuple[int, int]]:
    """FMAX/FMIN (any NaN propagates) and FMAXNM/FMINNM (one quiet NaN loses: it reads as
    ``nan_as``, the infinity that never wins)."""
    def helper(a: int, b: int, fpcr: int) -> tuple[int, int]:
        (a, b), flags = flush(f, fpcr, (a, b))
        if num:
            qa, qb = is_nan(f, a) and not _is_snan(f, a), is_nan(f, b) and not _is_snan(f, b)
            if qa and not qb:
                a = nan_as
            elif qb and not qa:
                b = nan_as
        nan = process_nans(f, fpcr, (a, b))
        if nan is not None:
            return nan[0], nan[1] | flags
        return fn(a, b)[0], flags
    return helper


def _compare(f: FPFormat, signal: bool) -> Callable[..., tuple[int, int]]:
    """FPCompare: NZCV (bits 3:0) = 0110 equal, 1000 less, 0010 greater, 0011 unordered; IOC for a
    signalling NaN, or any NaN when ``signal`` (FCMPE)."""
    def key(a: int) -> int:
        return -(a & f.mag) if a & f.sign else a
    def helper(a: int, b: int, fpcr: int) -> tuple[int, int]:
        (a, b), flags = flush(f, fpcr, (a, b))
        if is_nan(f, a) or is_nan(f, b):
            invalid = signal or _is_snan(f, a) or _is_snan(f, b)
            return 0b0011, flags | (IOC if invalid else 0)
        ka, kb = key(a), key(b)
        return (0b0110 if ka == kb else 0b1000 if ka < kb else 0b0010), flags
    return helper


def _convert(src: FPFormat, dst: FPFormat,
             fn: Callable[[int, int], tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """FCVT between precisions (FPConvert): a NaN keeps its sign and the top bits of its payload;
    half precision is the alternative format when FPCR.AHP is set."""
    def helper(a: int, fpcr: int) -> tuple[int, int]:
        flags = 0
        if src is not H:
            (a,), flags = flush(src, fpcr, (a,))
        if fpcr & FPCR_AHP and H in (src, dst):
            if src is H:
                return _from_ahp(dst, fn, a)
            return _to_ahp(src, fn, a, fpcr, flags)
        if is_nan(src, a):
            flags |= IOC if _is_snan(src, a) else 0
            if fpcr & FPCR_DN:
                return dst.dnan, flags
            shift = dst.frac - src.frac
            payload = (a & src.fmask) << shift if shift > 0 else (a & src.fmask) >> -shift
            return (dst.sign if a & src.sign else 0) | dst.inf | dst.qbit | payload, flags
        r, fl = _rounded(dst, fn, (a,), _rmode(fpcr), dst is not H and bool(fpcr & FPCR_FZ))
        return r, fl | flags
    return helper


def _from_ahp(dst: FPFormat, fn: Callable[[int, int], tuple[int, int]], a: int) -> tuple[int, int]:
    """From the alternative half-precision format: exponent 31 is one more binade of normal numbers."""
    if a & H.inf != H.inf:
        return fn(a, sf.RNE)
    sign = dst.sign if a & H.sign else 0
    return sign | (_bias(dst) + 16) << dst.frac | (a & H.fmask) << (dst.frac - H.frac), 0


def _to_ahp(src: FPFormat, fn: Callable[[int, int], tuple[int, int]], a: int, fpcr: int,
            flags: int) -> tuple[int, int]:
    """To the alternative half-precision format: a NaN is a zero, an infinity or an overflow the
    largest magnitude (IOC, without IXC).  At or above 2**-13, a / 2 rounds like IEEE half precision
    (the binades shifted down by one)."""
    sign = a & src.sign and H.sign
    if is_nan(src, a):
        return sign, IOC | flags
    if a & src.mag == src.inf:
        return sign | H.mag, IOC | flags
    if a & src.mag < (_bias(src) - 13) << src.frac:
        r, fl = _rounded(H, fn, (a,), _rmode(fpcr), False)
        return r, fl | flags
    r, fl = fn(a - (1 << src.frac), _rmode(fpcr))
    if fl & sf.OF:
        return sign | H.mag, IOC | flags
    return r + (1 << H.frac), _FLAGS[fl] | flags


def _bias(f: FPFormat) -> int:
    return f.inf >> f.frac >> 1


def scale(f: FPFormat, fbits: int) -> int:
    """2 ** fbits in format ``f`` (|fbits| <= 64)."""
    return (_bias(f) + fbits) << f.frac


def _to_int(f: FPFormat, fn: Callable[[int, int], tuple[int, int]], mul: Callable[..., tuple[int, int]],
            width: int) -> Callable[..., tuple[int, int]]:
    """FPToFixed: round a * 2**fbits with ``rm`` to a saturated ``width``-bit integer (a NaN gives 0
    and IOC, out of range IOC without IXC)."""
    mask = (1 << width) - 1
    def helper(a: int, fpcr: int, rm: int, fbits: int) -> tuple[int, int]:
        (a,), flags = flush(f, fpcr, (a,))
        if is_nan(f, a):
            return 0, IOC | flags
        if fbits:
            a = mul(a, scale(f, fbits))[0]  # exact, or an infinity that saturates
        r, fl = fn(a, rm)
        return r & mask, _FLAGS[fl] | flags
    return helper


def _from_int(f: FPFormat, fn: Callable[[int, int], tuple[int, int]],
              mul: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """FixedToFP: the integer / 2**fbits rounded by FPCR.RMode (scaling the rounded integer is exact)."""
    def helper(x: int, fpcr: int, fbits: int) -> tuple[int, int]:
        r, fl = fn(x, _rmode(fpcr))
        if fbits:
            r = mul(r, scale(f, -fbits))[0]
        return r, _FLAGS[fl]
    return helper


def _round_int(f: FPFormat, to_int: Callable[[int, int], tuple[int, int]],
               from_int: Callable[[int, int], tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """FPRoundInt: round to an integral value in the same format; a zero keeps the operand's sign; IXC
    only when ``exact`` (FRINTX)."""
    def helper(a: int, fpcr: int, rm: int, exact: int) -> tuple[int, int]:
        (a,), flags = flush(f, fpcr, (a,))
        nan = process_nans(f, fpcr, (a,))
        if nan is not None:
            return nan[0], nan[1] | flags
        if a & f.mag >= f.integral or not a & f.mag:
            return a, flags
        n, fl = to_int(a, _rmode(fpcr) if rm == RM_FPCR else rm)
        r = from_int(n, sf.RNE)[0] if n else a & f.sign
        return r, flags | (IXC if exact and fl & sf.NX else 0)
    return helper


def _helpers() -> dict[str, Callable[..., tuple[int, int]]]:
    out: dict[str, Callable[..., tuple[int, int]]] = {}
    for f in (S, D):
        t = f.name
        p = f"f{f.width}_"
        fn = {name: getattr(sf, p + name) for name in ("add", "sub", "mul", "div", "sqrt", "madd")}
        for name in ("add", "sub", "mul", "div", "sqrt"):
            out[f"{name}_{t}"] = _arith(f, fn[name])
        out[f"fma_{t}"] = _fma(f, fn["madd"])
        neg_inf, pos_inf = f.sign | f.inf, f.inf
        for name, op, num, nan_as in (("max", "max", False, 0), ("min", "min", False, 0),
                                      ("maxnm", "max", True, neg_inf), ("minnm", "min", True, pos_inf)):
            out[f"{name}_{t}"] = _minmax(f, getattr(sf, p + op), num, nan_as)
        out[f"cmp_{t}"], out[f"cmpe_{t}"] = _compare(f, False), _compare(f, True)
        for width in (32, 64):
            for sign, kind in (("s", "i"), ("u", "u")):
                to_int = getattr(sf, f"{p}to_{kind}{width}")
                out[f"to{sign}{width}_{t}"] = _to_int(f, to_int, fn["mul"], width)
                out[f"from{sign}{width}_{t}"] = _from_int(f, getattr(sf, f"{kind}{width}_to_f{f.width}"),
                                                          fn["mul"])
        out[f"rint_{t}"] = _round_int(f, getattr(sf, f"{p}to_i64"), getattr(sf, f"i64_to_f{f.width}"))
    for src, dst in ("sd", "ds", "hs", "hd", "sh", "dh"):
        fsrc, fdst = _FORMATS[src], _FORMATS[dst]
        out[f"cvt_{src}{dst}"] = _convert(fsrc, fdst, getattr(sf, f"f{fsrc.width}_to_f{fdst.width}"))
    return out


#: helper name -> function: ``<op>_<s|d>`` (add sub mul div sqrt fma max min maxnm minnm cmp cmpe
#: rint), ``to<s|u><32|64>_<s|d>``, ``from<s|u><32|64>_<s|d>``, ``cvt_<src><dst>`` (h, s, d)
HELPERS = _helpers()
