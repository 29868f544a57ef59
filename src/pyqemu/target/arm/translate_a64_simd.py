"""A64 Advanced SIMD (C3.6 "Advanced SIMD": copy/insert/extract, modified immediate, three same,
three different, two-register miscellaneous, across lanes, shift by immediate, permute, extract, table
lookup, and the load/store multiple and single structure forms LD1-LD4/ST1-ST4/LD1R-LD4R):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.

Vn is the IR globals ``vNl`` (bits 63:0) and ``vNh`` (bits 127:64).  Inline IR on the halves (SWAR
where lanes are narrower than 64 bits): bitwise operations and BSL/BIT/BIF, moves, DUP/INS/UMOV/SMOV,
MOVI/MVNI/ORR/BIC (immediate), EXT, ADD/SUB/NEG, CMEQ/CMTST (and #0), SHL/SLI/SRI/USHR/SSHR/USRA/SSRA,
UMAXP/UMINP/ADDP, SHRN and the structure loads and stores of whole registers (the hot parts of glibc's
string functions and of vectorised loops); other lane-wise operations call :mod:`.simd_helper` per
half.  Results are computed before any half of Vd is written (Vd may be a source); 64-bit (Q = 0)
forms clear bits 127:64.  Reserved encodings (``size`` or ``Q`` values an instruction does not allow)
return False: UNDEFINED.  The floating-point forms sharing these groups are decoded by
:mod:`.translate_a64_vfp`, PMULL (8- and 64-bit) by :mod:`.translate_a64_crypto`.  Saturating operations
set FPSR.QC; the saturating doubling long multiplies (SQDMULL, SQDMLAL, SQDMLSL) set it for the doubled
product and for the accumulation.  Scalar forms (SQADD..., SQABS/SQNEG, SUQADD/USQADD, SQXTN/UQXTN/SQXTUN,
SQSHRN..., SQDMULH/SQRDMULH and SQDMULL... also by element) operate on element 0 and clear the rest of Vd.

Not covered: the ARMv8.1 rounding doubling multiply-accumulates (SQRDMLAH, SQRDMLSH) and the ARMv8.2
dot products (SDOT, UDOT).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

from ...accel.tcg.ir import MO_64
from . import simd_helper as sh
from .simd_helper import M64, sx
from .translate_a64 import DisasContext, Operand

Halves = tuple[Operand, Operand]


def _rep(value: int, bits: int) -> int:
    """``value`` in every ``bits``-wide lane of a doubleword."""
    return value * (M64 // ((1 << bits) - 1)) if bits < 64 else value


def _lanemask(bits: int) -> int:
    return (1 << bits) - 1


def _src(r: int, q: int = 1) -> Halves:
    return f"v{r}l", (f"v{r}h" if q else 0)


def _set(ctx: DisasContext, rd: int, lo: Operand, hi: Operand = 0) -> None:
    if hi == f"v{rd}l":  # (EXT, DUP: the value of a half of Vd)
        hi = ctx.tmp("mov", hi)
    ctx.emit("mov", f"v{rd}l", lo)
    ctx.emit("mov", f"v{rd}h", hi)


def _call(ctx: DisasContext, h: object, *args: Operand) -> str:
    t = ctx.block.temp()
    ctx.emit("call", t, h, *args)
    return t


def _per_half(ctx: DisasContext, q: int, rd: int, fn: Callable[[Operand, Operand], Operand],
              *regs: int) -> None:
    """Vd = fn(half of each reg) for the low half and, if ``q``, the high half."""
    lo = fn(*(f"v{r}l" for r in regs))
    hi = fn(*(f"v{r}h" for r in regs)) if q else 0
    _set(ctx, rd, lo, hi)


def _scalar_src(ctx: DisasContext, r: int, bits: int) -> Operand:
    """Element 0 of Vr (``bits`` wide), zero-extended: the operand of a scalar form."""
    return f"v{r}l" if bits == 64 else ctx.tmp("and", f"v{r}l", _lanemask(bits))


def _set_scalar(ctx: DisasContext, rd: int, value: Operand, bits: int) -> None:
    """Vd = the low ``bits`` of value, zero-extended to 128 bits: the result of a scalar form."""
    _set(ctx, rd, value if bits == 64 else ctx.tmp("and", value, _lanemask(bits)))


# --- field extractors -----------------------------------------------------------------------------------

def _b(i: int, hi: int, lo: int) -> int:
    return i >> lo & ((1 << (hi - lo + 1)) - 1)


def _fmt_qsrr(i: int) -> tuple:
    """(q, size, rm, rn, rd)."""
    return _b(i, 30, 30), _b(i, 23, 22), _b(i, 20, 16), _b(i, 9, 5), _b(i, 4, 0)


def _fmt_copy(i: int) -> tuple:
    """(q, imm5, imm4, rn, rd)."""
    return _b(i, 30, 30), _b(i, 20, 16), _b(i, 14, 11), _b(i, 9, 5), _b(i, 4, 0)


def _fmt_modimm(i: int) -> tuple:
    """(q, op, cmode, o2, imm8, rd)."""
    return (_b(i, 30, 30), _b(i, 29, 29), _b(i, 15, 12), _b(i, 11, 11), _b(i, 18, 16) << 5 | _b(i, 9, 5),
            _b(i, 4, 0))


def _fmt_shift(i: int) -> tuple:
    """(q, immh, immb, rn, rd)."""
    return _b(i, 30, 30), _b(i, 22, 19), _b(i, 18, 16), _b(i, 9, 5), _b(i, 4, 0)


def _fmt_ext(i: int) -> tuple:
    """(q, imm4 or len, rm, rn, rd)."""
    return _b(i, 30, 30), _b(i, 14, 11), _b(i, 20, 16), _b(i, 9, 5), _b(i, 4, 0)


def _fmt_ldst_multi(i: int) -> tuple:
    """(q, opcode, size, rn, rt, rm): rm is None for the no-offset form."""
    return (_b(i, 30, 30), _b(i, 15, 12), _b(i, 11, 10), _b(i, 9, 5), _b(i, 4, 0),
            _b(i, 20, 16) if i >> 23 & 1 else None)


def _fmt_ldst_single(i: int) -> tuple:
    """(q, r, opcode, s, size, rn, rt, rm): rm is None for the no-offset form."""
    return (_b(i, 30, 30), _b(i, 21, 21), _b(i, 15, 13), _b(i, 12, 12), _b(i, 11, 10), _b(i, 9, 5),
            _b(i, 4, 0), _b(i, 20, 16) if i >> 23 & 1 else None)


FORMATS: dict[str, Callable[[int], tuple]] = {
    "qsrr": _fmt_qsrr, "copy": _fmt_copy, "modimm": _fmt_modimm, "shift": _fmt_shift, "ext": _fmt_ext,
    "ldst_multi": _fmt_ldst_multi, "ldst_single": _fmt_ldst_single,
}


# --- copy: DUP, INS, UMOV, SMOV (C7 DUP, INS, UMOV, SMOV) ------------------------------------------------

def _element(imm5: int) -> tuple[int, int] | None:
    """(size, index) of an imm5 element specifier; None if reserved."""
    if imm5 & 15 == 0:
        return None
    size = (imm5 & -imm5).bit_length() - 1
    return size, imm5 >> (size + 1)


def _get_lane(ctx: DisasContext, r: int, size: int, index: int) -> Operand:
    bits = 8 << size
    pos = index * bits
    half = f"v{r}{'h' if pos >= 64 else 'l'}"
    if bits == 64:
        return half
    value = ctx.tmp("shr", half, pos % 64) if pos % 64 else half
    return ctx.tmp("and", value, _lanemask(bits))


def _insert_lane(ctx: DisasContext, rd: int, size: int, index: int, value: Operand) -> None:
    """Vd<lane> = value (its low bits; the rest of Vd is kept)."""
    bits = 8 << size
    pos = index * bits
    half = f"v{rd}{'h' if pos >= 64 else 'l'}"
    if bits == 64:
        ctx.emit("mov", half, value)
        return
    shift = pos % 64
    lane = ctx.tmp("and", value, _lanemask(bits))
    ctx.emit("or", half, ctx.tmp("and", half, ~(_lanemask(bits) << shift) & M64),
             ctx.tmp("shl", lane, shift) if shift else lane)


def _dup(ctx: DisasContext, q: int, rd: int, size: int, lane: Operand) -> None:
    """Vd = ``lane`` (already masked to its size) in every element."""
    bits = 8 << size
    value = lane if bits == 64 else ctx.tmp("mul", lane, _rep(1, bits))
    _set(ctx, rd, value, value if q else 0)


def trans_v_dup_elem(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None or (el[0] == 3 and not q):
        return False
    _dup(ctx, q, rd, el[0], _get_lane(ctx, rn, *el))
    return True


def trans_vs_dup_elem(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    """DUP (element), scalar (MOV Bd/Hd/Sd/Dd, Vn.T[i]): the lane, zero-extended."""
    el = _element(imm5)
    if el is None:
        return False
    _set(ctx, rd, _get_lane(ctx, rn, *el))
    return True


def trans_v_dup_gen(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None or (el[0] == 3 and not q):
        return False
    size = el[0]
    x = ctx.xz(rn)
    _dup(ctx, q, rd, size, x if size == 3 else ctx.tmp("and", x, _lanemask(8 << size)))
    return True


def trans_v_ins_gen(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None:
        return False
    _insert_lane(ctx, rd, el[0], el[1], ctx.xz(rn))
    return True


def trans_v_ins_elem(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None:
        return False
    size, index = el
    _insert_lane(ctx, rd, size, index, _get_lane(ctx, rn, size, imm4 >> size))
    return True


def trans_v_umov(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None or (el[0] == 3) != bool(q):
        return False
    ctx.wr_value(rd, _get_lane(ctx, rn, *el))
    return True


_SEXT = ("ext8s", "ext16s", "ext32s")


def trans_v_smov(ctx: DisasContext, q: int, imm5: int, imm4: int, rn: int, rd: int) -> bool:
    el = _element(imm5)
    if el is None or el[0] >= 2 + q:
        return False
    ctx.wr(rd, q, _SEXT[el[0]], _get_lane(ctx, rn, *el))
    return True


# --- modified immediate: MOVI, MVNI, ORR, BIC, FMOV (vector, immediate) ----------------------------------

def _expand_imm(op: int, cmode: int, imm8: int) -> int:
    """AdvSIMDExpandImm: the 64-bit pattern (cmode 1111 is the FP32/FP64 immediate)."""
    kind = cmode >> 1
    if kind < 4:
        return _rep(imm8 << (8 * kind), 32)
    if kind < 6:
        return _rep(imm8 << (8 * (kind & 1)), 16)
    if kind == 6:
        return _rep(imm8 << 8 | 0xFF if cmode & 1 == 0 else imm8 << 16 | 0xFFFF, 32)
    if cmode == 14:
        if op == 0:
            return _rep(imm8, 8)
        return sum(0xFF << (8 * k) for k in range(8) if imm8 >> k & 1)
    a, b, cdefgh = imm8 >> 7, imm8 >> 6 & 1, imm8 & 0x3F
    if op == 0:
        return _rep(a << 31 | (b ^ 1) << 30 | (0x1F if b else 0) << 25 | cdefgh << 19, 32)
    return a << 63 | (b ^ 1) << 62 | (0xFF if b else 0) << 54 | cdefgh << 48


def _modimm_op(op: int, cmode: int) -> str | None:
    """How Vd combines with the immediate: ORR/BIC ("or"/"andc"), MVNI ("not"), or None (MOVI, FMOV)."""
    if cmode >= 14:
        return None
    if cmode & 1 and cmode < 12:
        return "andc" if op else "or"
    return "not" if op else None


def trans_v_modimm(ctx: DisasContext, q: int, op: int, cmode: int, o2: int, imm8: int, rd: int) -> bool:
    if op and cmode == 15 and not q:
        return False  # FMOV .1D
    imm = _expand_imm(op, cmode, imm8)
    kind = _modimm_op(op, cmode)
    if kind == "not":
        imm ^= M64
    if kind in ("or", "andc"):
        _per_half(ctx, q, rd, lambda h: ctx.tmp(kind, h, imm), rd)
    else:
        _set(ctx, rd, imm, imm if q else 0)
    return True


_MODIMM_TABLE = "\n".join(f"v_modimm 0 . {op} 0111100000 ... {cmode:04b} 0 1 ..... ..... modimm"
                          for op in (0, 1) for cmode in range(16))


# --- three same --------------------------------------------------------------------------------------

def _sat_add(signed: bool) -> Callable[[int, int, int], int]:
    if signed:
        return lambda a, b, n: sx(a, n) + sx(b, n)
    return lambda a, b, n: a + b


def _sat_sub(signed: bool) -> Callable[[int, int, int], int]:
    if signed:
        return lambda a, b, n: sx(a, n) - sx(b, n)
    return lambda a, b, n: a - b


def _shift_by(signed: bool, rounding: bool) -> Callable[[int, int, int], int]:
    """SSHL/USHL/SRSHL/URSHL: shift by the signed low byte of b (negative: right)."""
    def fn(a: int, b: int, n: int) -> int:
        v = sx(a, n) if signed else a
        s = sx(b & 0xFF, 8)
        if s >= 0:
            return v << s if s < n else 0
        s = min(-s, n + 1)
        return (v + (1 << (s - 1)) if rounding else v) >> s
    return fn


def _sat_shift_by(signed: bool, rounding: bool) -> Callable[[int, int, int], int]:
    """SQSHL/UQSHL/SQRSHL/UQRSHL (register): the exact result, for saturation."""
    def fn(a: int, b: int, n: int) -> int:
        v = sx(a, n) if signed else a
        s = sx(b & 0xFF, 8)
        if s >= 0:
            return v << s
        s = min(-s, n + 1)
        return (v + (1 << (s - 1)) if rounding else v) >> s
    return fn


def _cmp(test: Callable[[int, int], bool], signed: bool) -> Callable[[int, int, int], int]:
    if signed:
        return lambda a, b, n: -1 if test(sx(a, n), sx(b, n)) else 0
    return lambda a, b, n: -1 if test(a, b) else 0


def _sabs_diff(a: int, b: int, n: int) -> int:
    return abs(sx(a, n) - sx(b, n))


def _halving(op: Callable[[int, int], int], signed: bool, rnd: int) -> Callable[[int, int, int], int]:
    if signed:
        return lambda a, b, n: op(sx(a, n), sx(b, n)) + rnd >> 1
    return lambda a, b, n: op(a, b) + rnd >> 1


def _minmax(pick: Callable[[int, int], int], signed: bool) -> Callable[[int, int, int], int]:
    if signed:
        return lambda a, b, n: pick(sx(a, n), sx(b, n))
    return lambda a, b, n: pick(a, b)


def _add(a: int, b: int) -> int:
    return a + b


def _sub(a: int, b: int) -> int:
    return a - b


def _swar_add(ctx: DisasContext, bits: int, a: Operand, b: Operand) -> Operand:
    if bits == 64:
        return ctx.tmp("add", a, b)
    hi = _rep(1 << (bits - 1), bits)
    low = ctx.tmp("add", ctx.tmp("and", a, hi ^ M64), ctx.tmp("and", b, hi ^ M64))
    return ctx.tmp("xor", low, ctx.tmp("and", ctx.tmp("xor", a, b), hi))


def _swar_sub(ctx: DisasContext, bits: int, a: Operand, b: Operand) -> Operand:
    if bits == 64:
        return ctx.tmp("sub", a, b)
    hi = _rep(1 << (bits - 1), bits)
    low = ctx.tmp("sub", ctx.tmp("or", a, hi), ctx.tmp("and", b, hi ^ M64))
    return ctx.tmp("xor", low, ctx.tmp("and", ctx.tmp("xnor", a, b), hi))


def _swar_nonzero(ctx: DisasContext, bits: int, x: Operand, want_zero: bool) -> Operand:
    """All ones in each lane of x that is zero (``want_zero``) or nonzero, else zeros."""
    if bits == 64:
        return ctx.tmp("neg", ctx.tmp("setcond", x, 0, "eq" if want_zero else "ne"))
    hi = _rep(1 << (bits - 1), bits)
    low = hi ^ M64
    t = ctx.tmp("or", ctx.tmp("add", ctx.tmp("and", x, low), low), x)
    top = ctx.tmp("andc", hi, t) if want_zero else ctx.tmp("and", t, hi)
    return ctx.tmp("mul", ctx.tmp("shr", top, bits - 1), _lanemask(bits))


def _ir_cmeq(ctx: DisasContext, bits: int, a: Operand, b: Operand) -> Operand:
    return _swar_nonzero(ctx, bits, ctx.tmp("xor", a, b), True)


def _ir_cmtst(ctx: DisasContext, bits: int, a: Operand, b: Operand) -> Operand:
    return _swar_nonzero(ctx, bits, ctx.tmp("and", a, b), False)


#: inline IR lane operations: name -> fn(ctx, bits, a, b)
_IR_OPS: dict[str, Callable[[DisasContext, int, Operand, Operand], Operand]] = {
    "add": _swar_add, "sub": _swar_sub, "cmeq": _ir_cmeq, "cmtst": _ir_cmtst,
}

#: lane-wise helper operations: name -> (U, opcode, element function, 64-bit lanes allowed)
_LANE_OPS: dict[str, tuple[int, int, Callable[[int, int, int], int], bool]] = {
    "shadd": (0, 0b00000, _halving(_add, True, 0), False),
    "uhadd": (1, 0b00000, _halving(_add, False, 0), False),
    "srhadd": (0, 0b00010, _halving(_add, True, 1), False),
    "urhadd": (1, 0b00010, _halving(_add, False, 1), False),
    "shsub": (0, 0b00100, _halving(_sub, True, 0), False),
    "uhsub": (1, 0b00100, _halving(_sub, False, 0), False),
    "cmgt": (0, 0b00110, _cmp(lambda a, b: a > b, True), True),
    "cmhi": (1, 0b00110, _cmp(lambda a, b: a > b, False), True),
    "cmge": (0, 0b00111, _cmp(lambda a, b: a >= b, True), True),
    "cmhs": (1, 0b00111, _cmp(lambda a, b: a >= b, False), True),
    "sshl": (0, 0b01000, _shift_by(True, False), True),
    "ushl": (1, 0b01000, _shift_by(False, False), True),
    "srshl": (0, 0b01010, _shift_by(True, True), True),
    "urshl": (1, 0b01010, _shift_by(False, True), True),
    "smax": (0, 0b01100, _minmax(max, True), False),
    "umax": (1, 0b01100, _minmax(max, False), False),
    "smin": (0, 0b01101, _minmax(min, True), False),
    "umin": (1, 0b01101, _minmax(min, False), False),
    "sabd": (0, 0b01110, _sabs_diff, False),
    "uabd": (1, 0b01110, lambda a, b, n: abs(a - b), False),
    "mul": (0, 0b10011, lambda a, b, n: a * b, False),
}
_IR_LANE_OPS = {"add": (0, 0b10000), "sub": (1, 0b10000), "cmtst": (0, 0b10001), "cmeq": (1, 0b10001)}
#: accumulating: name -> (U, opcode, fn(d, a, b, n))
_ACC_OPS: dict[str, tuple[int, int, Callable[[int, int, int, int], int]]] = {
    "saba": (0, 0b01111, lambda d, a, b, n: d + _sabs_diff(a, b, n)),
    "uaba": (1, 0b01111, lambda d, a, b, n: d + abs(a - b)),
    "mla": (0, 0b10010, lambda d, a, b, n: d + a * b),
    "mls": (1, 0b10010, lambda d, a, b, n: d - a * b),
}
#: saturating: name -> (U, opcode, fn, signed)
_SAT_OPS = {
    "sqadd": (0, 0b00001, _sat_add(True), True), "uqadd": (1, 0b00001, _sat_add(False), False),
    "sqsub": (0, 0b00101, _sat_sub(True), True), "uqsub": (1, 0b00101, _sat_sub(False), False),
    "sqshl": (0, 0b01001, _sat_shift_by(True, False), True),
    "uqshl": (1, 0b01001, _sat_shift_by(False, False), False),
    "sqrshl": (0, 0b01011, _sat_shift_by(True, True), True),
    "uqrshl": (1, 0b01011, _sat_shift_by(False, True), False),
}
#: saturating doubling multiplies returning the high half (16- and 32-bit lanes): name -> (U, opcode, fn)
_DMULH_OPS: dict[str, tuple[int, int, Callable[[int, int, int], int]]] = {
    "sqdmulh": (0, 0b10110, lambda a, b, n: 2 * sx(a, n) * sx(b, n) >> n),
    "sqrdmulh": (1, 0b10110, lambda a, b, n: 2 * sx(a, n) * sx(b, n) + (1 << (n - 1)) >> n),
}
#: pairwise: name -> (U, opcode, fn)
_PAIR_OPS: dict[str, tuple[int, int, Callable[[int, int, int], int]]] = {
    "smaxp": (0, 0b10100, _minmax(max, True)), "umaxp": (1, 0b10100, _minmax(max, False)),
    "sminp": (0, 0b10101, _minmax(min, True)), "uminp": (1, 0b10101, _minmax(min, False)),
    "addp": (0, 0b10111, lambda a, b, n: a + b),
}
#: bitwise (opcode 00011, size fixed): name -> (U, size, fn(ctx, d, a, b))
_LOGIC_OPS: dict[str, tuple[int, int, Callable[[DisasContext, Operand, Operand, Operand], Operand]]] = {
    "and": (0, 0, lambda c, d, a, b: c.tmp("and", a, b)),
    "bic": (0, 1, lambda c, d, a, b: c.tmp("andc", a, b)),
    "orr": (0, 2, lambda c, d, a, b: c.tmp("or", a, b)),
    "orn": (0, 3, lambda c, d, a, b: c.tmp("orc", a, b)),
    "eor": (1, 0, lambda c, d, a, b: c.tmp("xor", a, b)),
    "bsl": (1, 1, lambda c, d, a, b: c.tmp("xor", c.tmp("and", c.tmp("xor", a, b), d), b)),
    "bit": (1, 2, lambda c, d, a, b: c.tmp("xor", c.tmp("and", c.tmp("xor", d, a), b), d)),
    "bif": (1, 3, lambda c, d, a, b: c.tmp("xor", c.tmp("andc", c.tmp("xor", d, a), b), d)),
}
#: scalar (D register) forms of the three-same group; the saturating ones take every size
_SCALAR_D = ("add", "sub", "cmeq", "cmtst", "cmgt", "cmhi", "cmge", "cmhs", "sshl", "ushl", "srshl", "urshl")


def _vec_ok(q: int, size: int, dsize: bool) -> bool:
    return size < 3 or (dsize and bool(q))


def _three_same(lane: Callable[[DisasContext, int, Operand, Operand], Operand], dsize: bool, scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if scalar:
            if size != 3:
                return False
            _set(ctx, rd, lane(ctx, 64, f"v{rn}l", f"v{rm}l"))
            return True
        if not _vec_ok(q, size, dsize):
            return False
        _per_half(ctx, q, rd, lambda a, b: lane(ctx, 8 << size, a, b), rn, rm)
        return True
    return trans


def _helper_lane(name: str, fn: Callable[[int, int, int], int]):
    def lane(ctx: DisasContext, bits: int, a: Operand, b: Operand) -> Operand:
        return _call(ctx, sh.helper(f"v_{name}", sh.lanes2, fn, bits), a, b)
    return lane


def _acc(name: str, fn: Callable[[int, int, int, int], int]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3:
            return False
        h = sh.helper(f"v_{name}", sh.lanes3, fn, 8 << size)
        _per_half(ctx, q, rd, lambda d, a, b: _call(ctx, h, d, a, b), rd, rn, rm)
        return True
    return trans


def _sat(name: str, fn: Callable[[int, int, int], int], signed: bool, scalar: bool,
         sizes: tuple[int, ...] = (0, 1, 2, 3)):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size not in sizes or (not scalar and not _vec_ok(q, size, True)):
            return False
        h = sh.helper(f"v_{name}", sh.sat2, fn, signed, 8 << size, saturating=True)
        if scalar:
            bits = 8 << size
            a, b = f"v{rn}l", f"v{rm}l"
            if bits < 64:
                a, b = ctx.tmp("and", a, _lanemask(bits)), ctx.tmp("and", b, _lanemask(bits))
            res = _call(ctx, h, a, b)
            _set(ctx, rd, res if bits == 64 else ctx.tmp("and", res, _lanemask(bits)))
            return True
        _per_half(ctx, q, rd, lambda a, b: _call(ctx, h, a, b), rn, rm)
        return True
    return trans


def _ir_pair_half(ctx: DisasContext, name: str, bits: int, x: Operand) -> Operand:
    """UMAXP/UMINP/ADDP of the lane pairs of one doubleword (8- to 32-bit lanes): the 32-bit result.
    Even and odd lanes go into ``2 * bits`` lanes, where a subtraction's borrow compares them."""
    if bits == 32:
        op = {"umaxp": "maxu", "uminp": "minu", "addp": "add"}[name]
        return ctx.tmp("ext32u", ctx.tmp(op, ctx.tmp("ext32u", x), ctx.tmp("shr", x, 32)))
    wide = _rep(_lanemask(bits), 2 * bits)
    even, odd = ctx.tmp("and", x, wide), ctx.tmp("and", ctx.tmp("shr", x, bits), wide)
    if name == "addp":
        r = ctx.tmp("and", ctx.tmp("add", even, odd), wide)
    else:
        ge = ctx.tmp("sub", ctx.tmp("or", even, _rep(1 << bits, 2 * bits)), odd)  # bit ``bits``: even >= odd
        pick = ctx.tmp("mul", ctx.tmp("and", ctx.tmp("shr", ge, bits), _rep(1, 2 * bits)), _lanemask(bits))
        r = ctx.tmp("xor", odd if name == "umaxp" else even, ctx.tmp("and", ctx.tmp("xor", even, odd), pick))
    return _compress(ctx, bits, r)


def _compress(ctx: DisasContext, bits: int, r: Operand) -> Operand:
    """The ``bits``-wide values in the low halves of the ``2 * bits`` lanes of r (8 or 16 bits), packed
    into the low 32 bits."""
    if bits == 8:
        r = ctx.tmp("and", ctx.tmp("or", r, ctx.tmp("shr", r, 8)), _rep(0xFFFF, 32))
    return ctx.tmp("ext32u", ctx.tmp("or", r, ctx.tmp("shr", r, 16)))


def _pair(name: str, fn: Callable[[int, int, int], int]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if not _vec_ok(q, size, name == "addp"):
            return False
        if size == 3:
            _set(ctx, rd, ctx.tmp("add", f"v{rn}l", f"v{rn}h"), ctx.tmp("add", f"v{rm}l", f"v{rm}h"))
            return True
        if name in ("umaxp", "uminp", "addp"):
            halves: dict[Operand, Operand] = {}

            def pairs(x: Operand) -> Operand:
                if x not in halves:
                    halves[x] = _ir_pair_half(ctx, name, 8 << size, x)
                return halves[x]

            def combine(x: Operand, y: Operand) -> Operand:
                return ctx.tmp("or", pairs(x), ctx.tmp("shl", pairs(y), 32))
        else:
            h = sh.helper(f"v_{name}", sh.pairwise, fn, 8 << size)

            def combine(x: Operand, y: Operand) -> Operand:
                return _call(ctx, h, x, y)
        if q:
            lo = combine(f"v{rn}l", f"v{rn}h")
            _set(ctx, rd, lo, lo if rm == rn else combine(f"v{rm}l", f"v{rm}h"))
        else:
            _set(ctx, rd, combine(f"v{rn}l", f"v{rm}l"))
        return True
    return trans


def trans_vs_addp(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
    _set(ctx, rd, ctx.tmp("add", f"v{rn}l", f"v{rn}h"))
    return True


def _pmul8(a: int, b: int, n: int) -> int:
    """The carry-less product of two bytes (its low byte is kept)."""
    return functools.reduce(operator.xor, (a << i for i in range(8) if b >> i & 1), 0)


def trans_v_pmul(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
    """PMUL: polynomial multiply of byte lanes (other sizes are reserved)."""
    if size:
        return False
    h = sh.helper("v_pmul", sh.lanes2, _pmul8, 8)
    _per_half(ctx, q, rd, lambda a, b: _call(ctx, h, a, b), rn, rm)
    return True


def _logic(fn: Callable[[DisasContext, Operand, Operand, Operand], Operand]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        _per_half(ctx, q, rd, lambda d, a, b: fn(ctx, d, a, b), rd, rn, rm)
        return True
    return trans


_lines: list[str] = []
for _name, (_u, _opc, _fn, _d) in _LANE_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _three_same(_helper_lane(_name, _fn), _d, False)
    if _name in _SCALAR_D:
        _lines.append(f"vs_{_name} 0 1 {_u} 11110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
        globals()[f"trans_vs_{_name}"] = _three_same(_helper_lane(_name, _fn), True, True)
for _name, (_u, _opc) in _IR_LANE_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    _lines.append(f"vs_{_name} 0 1 {_u} 11110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _three_same(_IR_OPS[_name], True, False)
    globals()[f"trans_vs_{_name}"] = _three_same(_IR_OPS[_name], True, True)
for _name, (_u, _opc, _fa) in _ACC_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _acc(_name, _fa)
for _name, (_u, _opc, _fn, _signed) in _SAT_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    _lines.append(f"vs_{_name} 0 1 {_u} 11110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _sat(_name, _fn, _signed, False)
    globals()[f"trans_vs_{_name}"] = _sat(_name, _fn, _signed, True)
for _name, (_u, _opc, _fn) in _DMULH_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    _lines.append(f"vs_{_name} 0 1 {_u} 11110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _sat(_name, _fn, True, False, (1, 2))
    globals()[f"trans_vs_{_name}"] = _sat(_name, _fn, True, True, (1, 2))
for _name, (_u, _opc, _fn) in _PAIR_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:05b} 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _pair(_name, _fn)
_lines.append("v_pmul 0 . 1 01110 .. 1 ..... 10011 1 ..... ..... qsrr")
for _name, (_u, _size, _fl) in _LOGIC_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 {_size:02b} 1 ..... 00011 1 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _logic(_fl)
_THREE_SAME_TABLE = "\n".join(_lines)


# --- two-register miscellaneous, across lanes -----------------------------------------------------------

def _cls(a: int, n: int) -> int:
    return (n - 1) - ((a >> 1 ^ a) & ((1 << (n - 1)) - 1)).bit_length()


def _cmp0(test: Callable[[int], bool]) -> Callable[[int, int], int]:
    return lambda a, n: -1 if test(sx(a, n)) else 0


#: lane-wise: name -> (U, opcode, largest size (3: D lanes with Q = 1 and a scalar D form), fn(a, n))
_MISC_OPS: dict[str, tuple[int, int, int, Callable[[int, int], int]]] = {
    "cls": (0, 0b00100, 2, _cls),
    "clz": (1, 0b00100, 2, lambda a, n: n - a.bit_length()),
    "cnt": (0, 0b00101, 0, lambda a, n: a.bit_count()),
    "cmgt0": (0, 0b01000, 3, _cmp0(lambda v: v > 0)),
    "cmge0": (1, 0b01000, 3, _cmp0(lambda v: v >= 0)),
    "cmle0": (1, 0b01001, 3, _cmp0(lambda v: v <= 0)),
    "cmlt0": (0, 0b01010, 3, _cmp0(lambda v: v < 0)),
    "abs": (0, 0b01011, 3, lambda a, n: abs(sx(a, n))),
}
#: saturating (vector and scalar, every size): name -> (U, opcode, fn(a, n))
_MISC_SAT = {"sqabs": (0, 0b00111, lambda a, n: abs(sx(a, n))), "sqneg": (1, 0b00111, lambda a, n: -sx(a, n))}
#: saturating accumulates of Vn into Vd (vector and scalar, every size): name -> (U, opcode, fn(d, a, n),
#: signed result)
_MISC_SAT_ACC: dict[str, tuple[int, int, Callable[[int, int, int], int], bool]] = {
    "suqadd": (0, 0b00011, lambda d, a, n: sx(d, n) + a, True),
    "usqadd": (1, 0b00011, lambda d, a, n: d + sx(a, n), False),
}
#: element reversals: name -> (U, opcode, container bits)
_REV_OPS = {"rev64": (0, 0b00000, 64), "rev32": (1, 0b00000, 32), "rev16": (0, 0b00001, 16)}
#: narrowing: name -> (U, opcode, saturation (None, signed, unsigned), fn(x, 2n))
_NARROW_OPS: dict[str, tuple[int, int, bool | None, Callable[[int, int], int]]] = {
    "xtn": (0, 0b10010, None, lambda x, n: x),
    "sqxtun": (1, 0b10010, False, sx),
    "sqxtn": (0, 0b10100, True, sx),
    "uqxtn": (1, 0b10100, False, lambda x, n: x),
}


def _misc(name: str, maxsize: int, fn: Callable[[int, int], int], scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if scalar:
            if size != 3:
                return False
            _set(ctx, rd, _call(ctx, sh.helper(f"v_{name}", sh.lanes1, fn, 64), f"v{rn}l"))
            return True
        if size > maxsize or (size == 3 and not q):
            return False
        h = sh.helper(f"v_{name}", sh.lanes1, fn, 8 << size)
        _per_half(ctx, q, rd, lambda a: _call(ctx, h, a), rn)
        return True
    return trans


def _misc_ir(lane: Callable[[DisasContext, int, Operand], Operand], maxsize: int, scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if scalar:
            if size != 3:
                return False
            _set(ctx, rd, lane(ctx, 64, f"v{rn}l"))
            return True
        if size > maxsize or (size == 3 and not q):
            return False
        _per_half(ctx, q, rd, lambda a: lane(ctx, 8 << size, a), rn)
        return True
    return trans


def _misc_sat(name: str, fn: Callable[[int, int], int], scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3 and not q:
            return False
        bits = 8 << size
        h = sh.helper(f"v_{name}", sh.sat1, fn, True, bits, saturating=True)
        if scalar:
            _set_scalar(ctx, rd, _call(ctx, h, _scalar_src(ctx, rn, bits)), bits)
        else:
            _per_half(ctx, q, rd, lambda a: _call(ctx, h, a), rn)
        return True
    return trans


def _misc_sat_acc(name: str, fn: Callable[[int, int, int], int], signed: bool, scalar: bool):
    """SUQADD, USQADD: Vd = Vd + Vn, saturated."""
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3 and not q:
            return False
        bits = 8 << size
        h = sh.helper(f"v_{name}", sh.sat2, fn, signed, bits, saturating=True)
        if scalar:
            _set_scalar(ctx, rd, _call(ctx, h, _scalar_src(ctx, rd, bits), _scalar_src(ctx, rn, bits)), bits)
        else:
            _per_half(ctx, q, rd, lambda d, a: _call(ctx, h, d, a), rd, rn)
        return True
    return trans


def _rev(name: str, container: int):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if 8 << size >= container:
            return False
        h = sh.helper(f"v_{name}", sh.rev, container, 8 << size)
        _per_half(ctx, q, rd, lambda a: _call(ctx, h, a), rn)
        return True
    return trans


def _narrow_result(ctx: DisasContext, q: int, rd: int, value: Operand) -> None:
    """The narrowing forms write the low half (clearing the high one), the "2" forms the high half."""
    if q:
        ctx.emit("mov", f"v{rd}h", value)
    else:
        _set(ctx, rd, value)


def _narrow(name: str, sat: bool | None, fn: Callable[[int, int], int], scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3:
            return False
        bits = 8 << size
        h = sh.helper(f"v_{name}", sh.narrow, fn, sat, bits, saturating=True)
        if scalar:  # (the other lanes of the helper's operands are zero: they neither saturate nor show)
            _set_scalar(ctx, rd, _call(ctx, h, _scalar_src(ctx, rn, 2 * bits), 0), bits)
        else:
            _narrow_result(ctx, q, rd, _call(ctx, h, f"v{rn}l", f"v{rn}h"))
        return True
    return trans


def _ir_cmeq0(ctx: DisasContext, bits: int, a: Operand) -> Operand:
    return _swar_nonzero(ctx, bits, a, True)


def _ir_neg(ctx: DisasContext, bits: int, a: Operand) -> Operand:
    return _swar_sub(ctx, bits, 0, a)


def trans_v_not(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
    _per_half(ctx, q, rd, lambda a: ctx.tmp("not", a), rn)
    return True


_MISC_LINE = "{} 0 {} {} {} .. 10000 {:05b} 10 ..... ..... qsrr"
_lines = [_MISC_LINE.format("v_not", ".", 1, "01110", 0b00101).replace(" .. ", " 00 ")]
for _name, (_u, _opc, _max, _f1) in _MISC_OPS.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    globals()[f"trans_v_{_name}"] = _misc(_name, _max, _f1, False)
    if _max == 3:
        _lines.append(_MISC_LINE.format(f"vs_{_name}", "1", _u, "11110", _opc))
        globals()[f"trans_vs_{_name}"] = _misc(_name, _max, _f1, True)
for _name, (_u, _opc, _lir) in {"cmeq0": (0, 0b01001, _ir_cmeq0), "neg": (1, 0b01011, _ir_neg)}.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    _lines.append(_MISC_LINE.format(f"vs_{_name}", "1", _u, "11110", _opc))
    globals()[f"trans_v_{_name}"] = _misc_ir(_lir, 3, False)
    globals()[f"trans_vs_{_name}"] = _misc_ir(_lir, 3, True)
for _name, (_u, _opc, _f1) in _MISC_SAT.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    _lines.append(_MISC_LINE.format(f"vs_{_name}", "1", _u, "11110", _opc))
    globals()[f"trans_v_{_name}"] = _misc_sat(_name, _f1, False)
    globals()[f"trans_vs_{_name}"] = _misc_sat(_name, _f1, True)
for _name, (_u, _opc, _fa, _signed) in _MISC_SAT_ACC.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    _lines.append(_MISC_LINE.format(f"vs_{_name}", "1", _u, "11110", _opc))
    globals()[f"trans_v_{_name}"] = _misc_sat_acc(_name, _fa, _signed, False)
    globals()[f"trans_vs_{_name}"] = _misc_sat_acc(_name, _fa, _signed, True)
for _name, (_u, _opc, _cont) in _REV_OPS.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    globals()[f"trans_v_{_name}"] = _rev(_name, _cont)
for _name, (_u, _opc, _sat_kind, _f1) in _NARROW_OPS.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    globals()[f"trans_v_{_name}"] = _narrow(_name, _sat_kind, _f1, False)
    if _sat_kind is not None:
        _lines.append(_MISC_LINE.format(f"vs_{_name}", "1", _u, "11110", _opc))
        globals()[f"trans_vs_{_name}"] = _narrow(_name, _sat_kind, _f1, True)


#: across lanes: name -> (U, opcode, long result, fn(lanes, n))
_ACROSS_OPS: dict[str, tuple[int, int, bool, Callable[[list[int], int], int]]] = {
    "saddlv": (0, 0b00011, True, lambda v, n: sum(sx(x, n) for x in v)),
    "uaddlv": (1, 0b00011, True, lambda v, n: sum(v)),
    "smaxv": (0, 0b01010, False, lambda v, n: max(sx(x, n) for x in v)),
    "umaxv": (1, 0b01010, False, lambda v, n: max(v)),
    "sminv": (0, 0b11010, False, lambda v, n: min(sx(x, n) for x in v)),
    "uminv": (1, 0b11010, False, lambda v, n: min(v)),
    "addv": (0, 0b11011, False, lambda v, n: sum(v)),
}


def _across(name: str, long: bool, fn: Callable[[list[int], int], int]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3 or (size == 2 and not q):
            return False
        bits = 8 << size
        h = sh.helper(f"v_{name}", sh.across, fn, bits, 2 * bits if long else bits)
        _set(ctx, rd, _call(ctx, h, *_src(rn, q)[:1 + q]))
        return True
    return trans


for _name, (_u, _opc, _long, _fv) in _ACROSS_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 11000 {_opc:05b} 10 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _across(_name, _long, _fv)


def _pairwise_long(signed: bool, acc: bool):
    """SADDLP/UADDLP, SADALP/UADALP (``acc``): pairs of lanes summed into lanes of twice the size."""
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3:
            return False
        h = sh.helper("v_pairwise_long", sh.pairwise_long, signed, 8 << size)
        _per_half(ctx, q, rd, lambda d, a: _call(ctx, h, d if acc else 0, a), rd, rn)
        return True
    return trans


def trans_v_shll(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
    """SHLL/SHLL2: the lanes of the low (high) half widened and shifted left by their size."""
    if size == 3:
        return False
    h = sh.helper("v_ushll", sh.widen_shift, False, 8 << size)
    src = f"v{rn}{'h' if q else 'l'}"
    _set(ctx, rd, _call(ctx, h, 0, src, 8 << size), _call(ctx, h, 1, src, 8 << size))
    return True


for _name, (_u, _opc, _tr) in {"saddlp": (0, 0b00010, _pairwise_long(True, False)),
                               "uaddlp": (1, 0b00010, _pairwise_long(False, False)),
                               "sadalp": (0, 0b00110, _pairwise_long(True, True)),
                               "uadalp": (1, 0b00110, _pairwise_long(False, True)),
                               "shll": (1, 0b10011, trans_v_shll)}.items():
    _lines.append(_MISC_LINE.format(f"v_{_name}", ".", _u, "01110", _opc))
    globals()[f"trans_v_{_name}"] = _tr
_MISC_TABLE = "\n".join(_lines)


# --- shift by immediate -------------------------------------------------------------------------------

def _rshift(signed: bool, rounding: bool) -> Callable[[int, int, int], int]:
    """Right shift of a lane by 1..n."""
    def fn(a: int, s: int, n: int) -> int:
        v = sx(a, n) if signed else a
        return (v + (1 << (s - 1)) if rounding else v) >> s
    return fn


def _ir_ushr(ctx: DisasContext, bits: int, a: Operand, s: int) -> Operand:
    if s >= 64:
        return 0
    v = ctx.tmp("shr", a, s)
    return v if bits == 64 else ctx.tmp("and", v, _rep(_lanemask(bits) >> s, bits))


def _ir_shl(ctx: DisasContext, bits: int, a: Operand, s: int) -> Operand:
    v = ctx.tmp("shl", a, s) if s else a
    return v if bits == 64 or not s else ctx.tmp("and", v, _rep(_lanemask(bits) << s & _lanemask(bits), bits))


def _ir_sshr(ctx: DisasContext, bits: int, a: Operand, s: int) -> Operand:
    """Arithmetic shift right by 1..bits: the logical shift with the lanes' sign bits extended."""
    if bits == 64:
        return ctx.tmp("sar", a, min(s, 63))
    s = min(s, bits - 1)
    sign = _rep(1 << (bits - 1 - s), bits)
    return _swar_sub(ctx, bits, ctx.tmp("xor", _ir_ushr(ctx, bits, a, s), sign), sign)


#: the right shifts (and their accumulating forms) done inline
_IR_RSHIFT = {"ushr": _ir_ushr, "usra": _ir_ushr, "sshr": _ir_sshr, "ssra": _ir_sshr}


def _shift_decode(immh: int, immb: int) -> tuple[int, int, int]:
    """(size, right shift amount, left shift amount) of immh:immb."""
    size = immh.bit_length() - 1
    bits = 8 << size
    value = immh << 3 | immb
    return size, 2 * bits - value, value - bits


#: right shifts: name -> (U, opcode, accumulate, fn(a, shift, n))
_RSHIFT_OPS = {
    "sshr": (0, 0b00000, False, _rshift(True, False)), "ushr": (1, 0b00000, False, _rshift(False, False)),
    "ssra": (0, 0b00010, True, _rshift(True, False)), "usra": (1, 0b00010, True, _rshift(False, False)),
    "srshr": (0, 0b00100, False, _rshift(True, True)), "urshr": (1, 0b00100, False, _rshift(False, True)),
    "srsra": (0, 0b00110, True, _rshift(True, True)), "ursra": (1, 0b00110, True, _rshift(False, True)),
}
#: narrowing right shifts: name -> (U, opcode, saturation, fn)
_NSHIFT_OPS = {
    "shrn": (0, 0b10000, None, _rshift(False, False)), "rshrn": (0, 0b10001, None, _rshift(False, True)),
    "sqshrun": (1, 0b10000, False, _rshift(True, False)),
    "sqrshrun": (1, 0b10001, False, _rshift(True, True)),
    "sqshrn": (0, 0b10010, True, _rshift(True, False)), "uqshrn": (1, 0b10010, False, _rshift(False, False)),
    "sqrshrn": (0, 0b10011, True, _rshift(True, True)), "uqrshrn": (1, 0b10011, False, _rshift(False, True)),
}


def _vec_shift(q: int, immh: int, scalar: bool) -> bool:
    """Whether a same-size shift's immh is allowed (scalar forms: D only; vector .1D reserved)."""
    if immh == 0:
        return False
    return immh >= 8 if scalar else (immh < 8 or bool(q))


def _rshift_trans(name: str, acc: bool, fn: Callable[[int, int, int], int], scalar: bool):
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if not _vec_shift(q, immh, scalar):
            return False
        size, s, _ = _shift_decode(immh, immb)
        bits = 8 << size
        q = 0 if scalar else q
        ir = _IR_RSHIFT.get(name)
        if ir is not None:
            if acc:
                _per_half(ctx, q, rd, lambda d, a: _swar_add(ctx, bits, d, ir(ctx, bits, a, s)), rd, rn)
            else:
                _per_half(ctx, q, rd, lambda a: ir(ctx, bits, a, s), rn)
        elif acc:
            h = sh.helper(f"v_{name}", sh.lanes_imm_acc, fn, bits)
            _per_half(ctx, q, rd, lambda d, a: _call(ctx, h, d, a, s), rd, rn)
        else:
            h = sh.helper(f"v_{name}", sh.lanes_imm, fn, bits)
            _per_half(ctx, q, rd, lambda a: _call(ctx, h, a, s), rn)
        return True
    return trans


def _shl_trans(insert: bool, scalar: bool):
    """SHL and SLI (insert: the low ``shift`` bits of each lane of Vd are kept)."""
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if not _vec_shift(q, immh, scalar):
            return False
        size, _, s = _shift_decode(immh, immb)
        bits = 8 << size
        if insert:
            keep = _rep((1 << s) - 1, bits)
            _per_half(ctx, q and not scalar, rd,
                      lambda d, a: ctx.tmp("or", ctx.tmp("and", d, keep), _ir_shl(ctx, bits, a, s)), rd, rn)
        else:
            _per_half(ctx, q and not scalar, rd, lambda a: _ir_shl(ctx, bits, a, s), rn)
        return True
    return trans


def _sri_trans(scalar: bool):
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if not _vec_shift(q, immh, scalar):
            return False
        size, s, _ = _shift_decode(immh, immb)
        bits = 8 << size
        keep = _rep(~(_lanemask(bits) >> s) & _lanemask(bits), bits)
        _per_half(ctx, q and not scalar, rd,
                  lambda d, a: ctx.tmp("or", ctx.tmp("and", d, keep), _ir_ushr(ctx, bits, a, s)), rd, rn)
        return True
    return trans


def _narrowing(fn: Callable[[int, int, int], int]) -> Callable[[int, int, int], int]:
    """A right shift fn(a, shift, n) as the element function fn(a, n, shift) of
    :func:`.simd_helper.narrow`."""
    return lambda a, n, s: fn(a, s, n)


def _nshift_trans(name: str, sat: bool | None, fn: Callable[[int, int, int], int], scalar: bool = False):
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if immh == 0 or immh >= 8:
            return False
        size, s, _ = _shift_decode(immh, immb)
        bits = 8 << size
        if scalar:  # (the other lanes of the helper's operands are zero: they neither saturate nor show)
            h = sh.helper(f"v_{name}", sh.narrow, fn, sat, bits, saturating=True)
            _set_scalar(ctx, rd, _call(ctx, h, _scalar_src(ctx, rn, 2 * bits), 0, s), bits)
            return True
        if name == "shrn":  # inline: (strlen, memchr)
            wide = _rep(_lanemask(bits), 2 * bits)
            lo, hi = (ctx.tmp("and", ctx.tmp("shr", f"v{rn}{half}", s), wide) for half in "lh")
            if bits == 32:
                value = ctx.tmp("or", ctx.tmp("ext32u", lo), ctx.tmp("shl", hi, 32))
            else:
                value = ctx.tmp("or", _compress(ctx, bits, lo), ctx.tmp("shl", _compress(ctx, bits, hi), 32))
        else:
            value = _call(ctx, sh.helper(f"v_{name}", sh.narrow, fn, sat, bits, saturating=True),
                          f"v{rn}l", f"v{rn}h", s)
        _narrow_result(ctx, q, rd, value)
        return True
    return trans


def _shll_trans(signed: bool):
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if immh == 0 or immh >= 8:
            return False
        size, _, s = _shift_decode(immh, immb)
        h = sh.helper(f"v_{'s' if signed else 'u'}shll", sh.widen_shift, signed, 8 << size)
        src = f"v{rn}{'h' if q else 'l'}"
        _set(ctx, rd, _call(ctx, h, 0, src, s), _call(ctx, h, 1, src, s))
        return True
    return trans


def _qshl_lane(signed_in: bool) -> Callable[[int, int, int], int]:
    """SQSHL/SQSHLU (signed lanes), UQSHL (immediate): the exact shifted value, for saturation."""
    if signed_in:
        return lambda a, n, s: sx(a, n) << s
    return lambda a, n, s: a << s


#: saturating left shifts by an immediate: name -> (U, opcode, signed lanes, signed result)
_QSHL_OPS = {"sqshl_imm": (0, 0b01110, True, True), "uqshl_imm": (1, 0b01110, False, False),
             "sqshlu": (1, 0b01100, True, False)}


def _qshl_trans(name: str, signed_in: bool, signed_out: bool, scalar: bool):
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        if immh == 0 or (not scalar and immh >= 8 and not q):
            return False
        size, _, s = _shift_decode(immh, immb)
        bits = 8 << size
        h = sh.helper(f"v_{name}", sh.sat1, _qshl_lane(signed_in), signed_out, bits, saturating=True)
        if scalar:
            src = f"v{rn}l" if bits == 64 else ctx.tmp("and", f"v{rn}l", _lanemask(bits))
            res = _call(ctx, h, src, s)
            _set(ctx, rd, res if bits == 64 else ctx.tmp("and", res, _lanemask(bits)))
        else:
            _per_half(ctx, q, rd, lambda a: _call(ctx, h, a, s), rn)
        return True
    return trans


_SHIFT_LINE = "{} 0 {} {} {} .... ... {:05b} 1 ..... ..... shift"
_lines = []
for _name, (_u, _opc, _isacc, _fs) in _RSHIFT_OPS.items():
    _lines.append(_SHIFT_LINE.format(f"v_{_name}", ".", _u, "011110", _opc))
    _lines.append(_SHIFT_LINE.format(f"vs_{_name}", "1", _u, "111110", _opc))
    globals()[f"trans_v_{_name}"] = _rshift_trans(_name, _isacc, _fs, False)
    globals()[f"trans_vs_{_name}"] = _rshift_trans(_name, _isacc, _fs, True)
for _name, (_u, _opc, _tr) in {"shl": (0, 0b01010, _shl_trans(False, False)),
                               "sli": (1, 0b01010, _shl_trans(True, False)),
                               "sri": (1, 0b01000, _sri_trans(False))}.items():
    _lines.append(_SHIFT_LINE.format(f"v_{_name}", ".", _u, "011110", _opc))
    _lines.append(_SHIFT_LINE.format(f"vs_{_name}", "1", _u, "111110", _opc))
    globals()[f"trans_v_{_name}"] = _tr
globals()["trans_vs_shl"] = _shl_trans(False, True)
globals()["trans_vs_sli"] = _shl_trans(True, True)
globals()["trans_vs_sri"] = _sri_trans(True)
for _name, (_u, _opc, _sat_kind, _fs) in _NSHIFT_OPS.items():
    _lines.append(_SHIFT_LINE.format(f"v_{_name}", ".", _u, "011110", _opc))
    globals()[f"trans_v_{_name}"] = _nshift_trans(_name, _sat_kind, _narrowing(_fs))
    if _sat_kind is not None:
        _lines.append(_SHIFT_LINE.format(f"vs_{_name}", "1", _u, "111110", _opc))
        globals()[f"trans_vs_{_name}"] = _nshift_trans(_name, _sat_kind, _narrowing(_fs), True)
for _name, (_u, _opc, _sin, _sout) in _QSHL_OPS.items():
    _lines.append(_SHIFT_LINE.format(f"v_{_name}", ".", _u, "011110", _opc))
    _lines.append(_SHIFT_LINE.format(f"vs_{_name}", "1", _u, "111110", _opc))
    globals()[f"trans_v_{_name}"] = _qshl_trans(_name, _sin, _sout, False)
    globals()[f"trans_vs_{_name}"] = _qshl_trans(_name, _sin, _sout, True)
for _name, _u in (("sshll", 0), ("ushll", 1)):
    _lines.append(_SHIFT_LINE.format(f"v_{_name}", ".", _u, "011110", 0b10100))
    globals()[f"trans_v_{_name}"] = _shll_trans(not _u)
_SHIFT_TABLE = "\n".join(_lines)


# --- permute, extract, table lookup -------------------------------------------------------------------

def trans_v_permute(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int, kind: int) -> bool:
    """UZP1/TRN1/ZIP1 (kind 1..3), UZP2/TRN2/ZIP2 (5..7)."""
    if (size == 3 and not q) or kind & 3 == 0:
        return False
    h = sh.helper("v_permute", sh.permute, kind, 8 << size)
    regs = (f"v{rn}l", f"v{rn}h", f"v{rm}l", f"v{rm}h") if q else (f"v{rn}l", f"v{rm}l")
    _set(ctx, rd, _call(ctx, h, 0, *regs), _call(ctx, h, 1, *regs) if q else 0)
    return True


def _funnel(ctx: DisasContext, lo: Operand, hi: Operand, s: int) -> Operand:
    """Bits s+63:s of hi:lo."""
    if s == 0:
        return lo
    return ctx.tmp("or", ctx.tmp("shr", lo, s), ctx.tmp("shl", hi, 64 - s))


def trans_v_ext(ctx: DisasContext, q: int, imm4: int, rm: int, rn: int, rd: int) -> bool:
    if not q and imm4 >= 8:
        return False
    words: list[Operand] = [f"v{rn}l", f"v{rn}h", f"v{rm}l", f"v{rm}h", 0] if q else [f"v{rn}l", f"v{rm}l"]
    k, s = divmod(imm4 * 8, 64)
    lo = _funnel(ctx, words[k], words[k + 1], s)
    _set(ctx, rd, lo, _funnel(ctx, words[k + 1], words[k + 2], s) if q else 0)
    return True


def _tbl(extend: bool):
    def trans(ctx: DisasContext, q: int, length: int, rm: int, rn: int, rd: int) -> bool:
        table = [f"v{(rn + k) % 32}{half}" for k in range((length >> 2) + 1) for half in "lh"]
        h = sh.helper("v_tbl", sh.tbl)
        lo = _call(ctx, h, f"v{rm}l", f"v{rd}l" if extend else 0, *table)
        hi = _call(ctx, h, f"v{rm}h", f"v{rd}h" if extend else 0, *table) if q else 0
        _set(ctx, rd, lo, hi)
        return True
    return trans


trans_v_tbl, trans_v_tbx = _tbl(False), _tbl(True)


def _fmt_permute(i: int) -> tuple:
    """(q, size, rm, rn, rd, kind): kind is opcode<2:0>."""
    return (*_fmt_qsrr(i), _b(i, 14, 12))


FORMATS["permute"] = _fmt_permute


# --- three different -------------------------------------------------------------------------------------

def _conv(signed: bool) -> Callable[[int, int], int]:
    return sx if signed else (lambda v, n: v)


def _long(op: Callable[[int, int], int], signed: bool) -> Callable[[int, int, int], int]:
    c = _conv(signed)
    return lambda a, b, n: op(c(a, n), c(b, n))


def _wide(op: Callable[[int, int], int], signed: bool) -> Callable[[int, int, int], int]:
    c = _conv(signed)
    return lambda a, b, n: op(c(a, 2 * n), c(b, n))


def _mul(a: int, b: int) -> int:
    return a * b


def _absdiff(a: int, b: int) -> int:
    return abs(a - b)


def _negmul(a: int, b: int) -> int:
    return -a * b


#: long forms: name -> (U, opcode, kind ("long", "wide", "acc"), fn(x, y, n))
_DIFF_OPS: dict[str, tuple[int, int, str, Callable[[int, int, int], int]]] = {}
for _p, _s in (("s", True), ("u", False)):
    _u = int(not _s)
    _DIFF_OPS.update({
        f"{_p}addl": (_u, 0b0000, "long", _long(_add, _s)),
        f"{_p}addw": (_u, 0b0001, "wide", _wide(_add, _s)),
        f"{_p}subl": (_u, 0b0010, "long", _long(_sub, _s)),
        f"{_p}subw": (_u, 0b0011, "wide", _wide(_sub, _s)),
        f"{_p}abal": (_u, 0b0101, "acc", _long(_absdiff, _s)),
        f"{_p}abdl": (_u, 0b0111, "long", _long(_absdiff, _s)),
        f"{_p}mlal": (_u, 0b1000, "acc", _long(_mul, _s)),
        f"{_p}mlsl": (_u, 0b1010, "acc", _long(_negmul, _s)),
        f"{_p}mull": (_u, 0b1100, "long", _long(_mul, _s)),
    })
#: high-half narrowing: name -> (U, opcode, fn(a, b, 2n))
_HN_OPS: dict[str, tuple[int, int, Callable[[int, int, int], int]]] = {
    "addhn": (0, 0b0100, lambda a, b, n: a + b),
    "raddhn": (1, 0b0100, lambda a, b, n: a + b + (1 << (n // 2 - 1))),
    "subhn": (0, 0b0110, lambda a, b, n: a - b),
    "rsubhn": (1, 0b0110, lambda a, b, n: a - b + (1 << (n // 2 - 1))),
}
_HELPER_OF_KIND = {"long": sh.widen, "wide": sh.wide, "acc": sh.widen_acc}


def _diff(name: str, kind: str, fn: Callable[[int, int, int], int]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3:
            return False
        h = sh.helper(f"v_{name}", _HELPER_OF_KIND[kind], fn, 8 << size)
        half = "h" if q else "l"
        b = f"v{rm}{half}"
        if kind == "wide":
            lo, hi = _call(ctx, h, 0, f"v{rn}l", b), _call(ctx, h, 1, f"v{rn}h", b)
        elif kind == "acc":
            a = f"v{rn}{half}"
            lo, hi = _call(ctx, h, 0, f"v{rd}l", a, b), _call(ctx, h, 1, f"v{rd}h", a, b)
        else:
            a = f"v{rn}{half}"
            lo, hi = _call(ctx, h, 0, a, b), _call(ctx, h, 1, a, b)
        _set(ctx, rd, lo, hi)
        return True
    return trans


def _hn(name: str, fn: Callable[[int, int, int], int]):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size == 3:
            return False
        h = sh.helper(f"v_{name}", sh.high_narrow, fn, 8 << size)
        _narrow_result(ctx, q, rd, _call(ctx, h, f"v{rn}l", f"v{rn}h", f"v{rm}l", f"v{rm}h"))
        return True
    return trans


#: saturating doubling long multiplies (U = 0; 16- and 32-bit elements; vector and scalar): name ->
#: (three-different opcode, by-element opcode, accumulate: 1 (SQDMLAL), -1 (SQDMLSL) or 0)
_DMULL_OPS = {"sqdmlal": (0b1001, 0b0011, 1), "sqdmlsl": (0b1011, 0b0111, -1), "sqdmull": (0b1101, 0b1011, 0)}


def _dmull_emit(ctx: DisasContext, name: str, acc: int, size: int, q: int, scalar: bool, rd: int, rn: int,
                b: Operand) -> None:
    """Vd = SQDMULL/SQDMLAL/SQDMLSL of the low (high: ``q``) half of Vn and ``b`` (the same half of Vm
    or an element in every lane); scalar: of element 0 of Vn and ``b`` (zero-extended)."""
    bits = 8 << size
    h = sh.helper(f"v_{name}", sh.sat_dmull, acc, bits, saturating=True)
    if scalar:  # (the other lanes of the helper's operands are zero: they neither saturate nor show)
        d = _scalar_src(ctx, rd, 2 * bits) if acc else 0
        _set_scalar(ctx, rd, _call(ctx, h, 0, d, _scalar_src(ctx, rn, bits), b), 2 * bits)
        return
    a = f"v{rn}{'h' if q else 'l'}"
    d_lo, d_hi = (f"v{rd}l", f"v{rd}h") if acc else (0, 0)
    _set(ctx, rd, _call(ctx, h, 0, d_lo, a, b), _call(ctx, h, 1, d_hi, a, b))


def _dmull(name: str, acc: int, scalar: bool):
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int) -> bool:
        if size not in (1, 2):
            return False
        b = _scalar_src(ctx, rm, 8 << size) if scalar else f"v{rm}{'h' if q else 'l'}"
        _dmull_emit(ctx, name, acc, size, q, scalar, rd, rn, b)
        return True
    return trans


_lines = []
for _name, (_opc, _, _acc_sign) in _DMULL_OPS.items():
    _lines.append(f"v_{_name} 0 . 0 01110 .. 1 ..... {_opc:04b} 00 ..... ..... qsrr")
    _lines.append(f"vs_{_name} 0 1 0 11110 .. 1 ..... {_opc:04b} 00 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _dmull(_name, _acc_sign, False)
    globals()[f"trans_vs_{_name}"] = _dmull(_name, _acc_sign, True)
for _name, (_u, _opc, _kind, _fd) in _DIFF_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:04b} 00 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _diff(_name, _kind, _fd)
for _name, (_u, _opc, _fd) in _HN_OPS.items():
    _lines.append(f"v_{_name} 0 . {_u} 01110 .. 1 ..... {_opc:04b} 00 ..... ..... qsrr")
    globals()[f"trans_v_{_name}"] = _hn(_name, _fd)


# --- vector x indexed element (integer): MUL, MLA, MLS, SMULL/UMULL, SMLAL/UMLAL, SMLSL/UMLSL, SQDMULH,
# SQRDMULH, SQDMULL, SQDMLAL, SQDMLSL (the last five also scalar) ---------------------------------------

def _fmt_elem(i: int) -> tuple:
    """(q, size, rm, rn, rd, index): H:L:M with 16-bit lanes (Rm is 4 bits), else H:L."""
    q, size, rm, rn, rd = _fmt_qsrr(i)
    h, lm = _b(i, 11, 11), _b(i, 21, 20)
    if size == 1:
        return q, size, rm & 15, rn, rd, h << 2 | lm
    return q, size, rm, rn, rd, h << 1 | lm >> 1


FORMATS["elem"] = _fmt_elem


def _by_element(kind: str, name: str, scalar: bool = False):
    """The three-same (MUL, MLA, MLS, SQDMULH, SQRDMULH) or long (the rest) operation with the element of
    Vm in every lane; scalar (SQDMULH, SQRDMULH, SQDMULL, SQDMLAL, SQDMLSL): with element 0 of Vn."""
    def trans(ctx: DisasContext, q: int, size: int, rm: int, rn: int, rd: int, index: int) -> bool:
        if size not in (1, 2):
            return False
        bits = 8 << size
        lane = _get_lane(ctx, rm, size, index)
        if scalar and kind == "dmulh":
            h = sh.helper(f"v_{name}", sh.sat2, _DMULH_OPS[name][2], True, bits, saturating=True)
            _set_scalar(ctx, rd, _call(ctx, h, _scalar_src(ctx, rn, bits), lane), bits)
            return True
        if kind == "dmull":
            _dmull_emit(ctx, name, _DMULL_OPS[name][2], size, q, scalar, rd, rn,
                        lane if scalar else ctx.tmp("mul", lane, _rep(1, bits)))
            return True
        m = ctx.tmp("mul", lane, _rep(1, bits))
        if kind == "same":
            h = sh.helper(f"v_{name}", sh.lanes2, _LANE_OPS[name][2], bits)
            _per_half(ctx, q, rd, lambda a: _call(ctx, h, a, m), rn)
        elif kind == "dmulh":
            h = sh.helper(f"v_{name}", sh.sat2, _DMULH_OPS[name][2], True, bits, saturating=True)
            _per_half(ctx, q, rd, lambda a: _call(ctx, h, a, m), rn)
        elif kind == "acc_same":
            h = sh.helper(f"v_{name}", sh.lanes3, _ACC_OPS[name][2], bits)
            _per_half(ctx, q, rd, lambda d, a: _call(ctx, h, d, a, m), rd, rn)
        else:
            dkind, fn = _DIFF_OPS[name][2:]
            h = sh.helper(f"v_{name}", _HELPER_OF_KIND[dkind], fn, bits)
            a = f"v{rn}{'h' if q else 'l'}"
            if dkind == "acc":
                lo, hi = _call(ctx, h, 0, f"v{rd}l", a, m), _call(ctx, h, 1, f"v{rd}h", a, m)
            else:
                lo, hi = _call(ctx, h, 0, a, m), _call(ctx, h, 1, a, m)
            _set(ctx, rd, lo, hi)
        return True
    return trans


#: name -> (U, opcode, kind)
_ELEM_OPS = {"mul": (0, 0b1000, "same"), "mla": (1, 0b0000, "acc_same"), "mls": (1, 0b0100, "acc_same"),
             "smull": (0, 0b1010, "long"), "umull": (1, 0b1010, "long"), "smlal": (0, 0b0010, "long"),
             "umlal": (1, 0b0010, "long"), "smlsl": (0, 0b0110, "long"), "umlsl": (1, 0b0110, "long"),
             "sqdmulh": (0, 0b1100, "dmulh"), "sqrdmulh": (0, 0b1101, "dmulh"),
             **{_name: (0, _opc, "dmull") for _name, (_, _opc, _) in _DMULL_OPS.items()}}
for _name, (_u, _opc, _kind) in _ELEM_OPS.items():
    _lines.append(f"v_{_name}_elem 0 . {_u} 01111 .. . . .... {_opc:04b} . 0 ..... ..... elem")
    globals()[f"trans_v_{_name}_elem"] = _by_element(_kind, _name)
    if _kind in ("dmulh", "dmull"):
        _lines.append(f"vs_{_name}_elem 0 1 {_u} 11111 .. . . .... {_opc:04b} . 0 ..... ..... elem")
        globals()[f"trans_vs_{_name}_elem"] = _by_element(_kind, _name, True)
_DIFF_TABLE = "\n".join(_lines)


# --- load/store multiple structures, single structures (C3.3.3-4; LD1-LD4, ST1-ST4, LD1R-LD4R) --------

#: load/store multiple opcode -> (elements per structure, registers per element)
_MULTI = {0b0000: (4, 1), 0b0010: (1, 4), 0b0100: (3, 1), 0b0110: (1, 3), 0b0111: (1, 1), 0b1000: (2, 1),
          0b1010: (1, 2)}


def _post_index(ctx: DisasContext, rn: int, rm: int | None, nbytes: int) -> None:
    """Post-index writeback: by the bytes transferred (Rm = 31) or by Xm."""
    if rm is not None:
        ctx.emit("add", ctx.xs(rn), ctx.xs(rn), nbytes if rm == 31 else f"x{rm}")


def _ldst_multi(load: bool):
    def trans(ctx: DisasContext, q: int, opcode: int, size: int, rn: int, rt: int, rm: int | None) -> bool:
        spec = _MULTI.get(opcode)
        if spec is None or (size == 3 and not q and spec[0] > 1):
            return False
        selem, rpt = spec
        halves = 1 + q
        nwords = selem * rpt * halves
        base = ctx.xs(rn)
        addrs = [base, *(ctx.tmp("add", base, 8 * k) for k in range(1, nwords))]
        regs = [(rt + r) % 32 for r in range(selem * rpt)]
        if load:
            words = [ctx.tmp("ld", a, MO_64) for a in addrs]
            if selem > 1:
                h = sh.helper("v_deinterleave", sh.deinterleave, selem, 1 << size)
                words = [_call(ctx, h, r, j, *words) for r in range(selem) for j in range(halves)]
            for r, reg in enumerate(regs):
                _set(ctx, reg, words[r * halves], words[r * halves + 1] if q else 0)
        else:
            values: list[Operand] = [f"v{reg}{half}" for reg in regs for half in "lh"[:halves]]
            if selem > 1:
                h = sh.helper("v_interleave", sh.interleave, selem, 1 << size)
                values = [_call(ctx, h, k, *values) for k in range(nwords)]
            for a, v in zip(addrs, values, strict=True):
                ctx.emit("st", v, a, MO_64)
        _post_index(ctx, rn, rm, 8 * nwords)
        return True
    return trans


def _single_lane(q: int, opcode: int, s: int, size: int) -> tuple[int, int] | None:
    """(log2 element bytes, lane index) of a single-structure access; None if reserved."""
    scale = opcode >> 1
    if scale == 0:
        return 0, q << 3 | s << 2 | size
    if scale == 1:
        return None if size & 1 else (1, q << 2 | s << 1 | size >> 1)
    if size & 2 or (size & 1 and s):
        return None
    return (3, q) if size & 1 else (2, q << 1 | s)


def _ldst_single(load: bool):
    def trans(ctx: DisasContext, q: int, r: int, opcode: int, s: int, size: int, rn: int, rt: int,
              rm: int | None) -> bool:
        selem = ((opcode & 1) << 1 | r) + 1
        replicate = opcode >> 1 == 3
        if replicate:
            if not load or s:
                return False
            scale, index = size, 0
        else:
            lane = _single_lane(q, opcode, s, size)
            if lane is None:
                return False
            scale, index = lane
        base = ctx.xs(rn)
        addrs = [base, *(ctx.tmp("add", base, k << scale) for k in range(1, selem))]
        regs = [(rt + k) % 32 for k in range(selem)]
        if load:
            values = [ctx.tmp("ld", a, scale) for a in addrs]
            for reg, v in zip(regs, values, strict=True):
                if replicate:
                    _dup(ctx, q, reg, scale, v)
                else:
                    _insert_lane(ctx, reg, scale, index, v)
        else:
            for reg, a in zip(regs, addrs, strict=True):
                ctx.emit("st", _get_lane(ctx, reg, scale, index), a, scale)
        _post_index(ctx, rn, rm, selem << scale)
        return True
    return trans


trans_v_ld_multi, trans_v_st_multi = _ldst_multi(True), _ldst_multi(False)
trans_v_ld_single, trans_v_st_single = _ldst_single(True), _ldst_single(False)


TABLE = f"""
# --- copy:     0 Q op 01110000 imm5 0 imm4 1 Rn Rd
v_dup_elem   0 . 0 01110000 ..... 0 0000 1 ..... .....  copy
v_dup_gen    0 . 0 01110000 ..... 0 0001 1 ..... .....  copy
vs_dup_elem  0 1 0 11110000 ..... 0 0000 1 ..... .....  copy
v_smov       0 . 0 01110000 ..... 0 0101 1 ..... .....  copy
v_umov       0 . 0 01110000 ..... 0 0111 1 ..... .....  copy
v_ins_gen    0 1 0 01110000 ..... 0 0011 1 ..... .....  copy
v_ins_elem   0 1 1 01110000 ..... 0 .... 1 ..... .....  copy
# --- modified immediate:     0 Q op 0111100000 abc cmode o2 1 defgh Rd (cmode, o2 fixed: the
# shift-by-immediate patterns with immh = 0000 overlap)
{_MODIMM_TABLE}
# --- permute, extract, table lookup
v_permute    0 . 001110 .. 0 ..... 0 ... 10 ..... .....  permute
v_ext        0 . 101110 00 0 ..... 0 .... 0 ..... .....  ext
v_tbl        0 . 001110 00 0 ..... 0 .. 0 00 ..... .....  ext
v_tbx        0 . 001110 00 0 ..... 0 .. 1 00 ..... .....  ext
# --- load/store multiple structures (no offset, post-index), single structures
v_st_multi   0 . 0011000 0 000000 .... .. ..... .....  ldst_multi
v_ld_multi   0 . 0011000 1 000000 .... .. ..... .....  ldst_multi
v_st_multi   0 . 0011001 0 0 ..... .... .. ..... .....  ldst_multi
v_ld_multi   0 . 0011001 1 0 ..... .... .. ..... .....  ldst_multi
v_st_single  0 . 0011010 0 . 00000 ... . .. ..... .....  ldst_single
v_ld_single  0 . 0011010 1 . 00000 ... . .. ..... .....  ldst_single
v_st_single  0 . 0011011 0 . ..... ... . .. ..... .....  ldst_single
v_ld_single  0 . 0011011 1 . ..... ... . .. ..... .....  ldst_single
# --- three same:    0 Q U 01110 size 1 Rm opcode 1 Rn Rd (scalar: 01 U 11110 ...), scalar ADDP
{_THREE_SAME_TABLE}
vs_addp      0 1 0 11110 11 11000 11011 10 ..... .....  qsrr
# --- two-register misc:    0 Q U 01110 size 10000 opcode 10 Rn Rd; across lanes: 11000
{_MISC_TABLE}
# --- shift by immediate:    0 Q U 011110 immh immb opcode 1 Rn Rd (scalar: 01 U 111110 ...)
{_SHIFT_TABLE}
# --- three different:    0 Q U 01110 size 1 Rm opcode 00 Rn Rd (scalar: 01 U 11110 ...);
# by element:    0 Q U 01111 size L M Rm opcode H 0 Rn Rd (scalar: 01 U 11111 ...)
{_DIFF_TABLE}
"""
