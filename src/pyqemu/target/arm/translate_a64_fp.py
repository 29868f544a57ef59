"""A64 scalar floating point (C3.6 "Floating-point" groups: FMOV, arithmetic, the FMADD family,
compares, conditional select and compare, conversions between FP and integer and between precisions,
rounding) with FPCR rounding modes and FPSR exception flags:
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.

Single and double precision (``ftype`` 0 and 1); half precision only as a source or destination of
FCVT (FEAT_FP16 is not implemented, so the other half-precision forms are UNDEFINED).  Moves, FABS,
FNEG and FCSEL are IR; everything that rounds, compares or may signal calls a helper of
:mod:`.fpu_helper` with FPCR as an argument, whose exception bits accumulate into FPSR.  Writing an
S or D register clears the rest of the V register.
"""

from __future__ import annotations

from collections.abc import Callable

from ...accel.tcg.ir import NEGATE_COND, Helper
from ...fpu import softfloat
from . import fpu_helper
from .translate_a64 import DisasContext, Operand, condition, set_nzcv_imm

TABLE = """
# floating-point data-processing (1 source): M=0, S=0, ftype 0 (S) or 1 (D); FCVT also from/to H
fp_fmov      000 11110 0. 1 000000 10000 ..... .....  fp_1src
fp_fabs      000 11110 0. 1 000001 10000 ..... .....  fp_1src
fp_fneg      000 11110 0. 1 000010 10000 ..... .....  fp_1src
fp_fsqrt     000 11110 0. 1 000011 10000 ..... .....  fp_1src
fp_fcvt      000 11110 .. 1 0001 .. 10000 ..... .....  fp_1src_op
fp_frint     000 11110 0. 1 001 ... 10000 ..... .....  fp_1src_op
# compare, immediate, conditional compare, 2 source, conditional select, 3 source
fp_fcmp      000 11110 0. 1 ..... 00 1000 ..... ..000  fp_cmp
fp_fmov_imm  000 11110 0. 1 ........ 100 00000 .....  fp_imm
fp_fccmp     000 11110 0. 1 ..... .... 01 ..... . ....  fp_ccmp
fp_fmul      000 11110 0. 1 ..... 0000 10 ..... .....  fp_2src
fp_fdiv      000 11110 0. 1 ..... 0001 10 ..... .....  fp_2src
fp_fadd      000 11110 0. 1 ..... 0010 10 ..... .....  fp_2src
fp_fsub      000 11110 0. 1 ..... 0011 10 ..... .....  fp_2src
fp_fmax      000 11110 0. 1 ..... 0100 10 ..... .....  fp_2src
fp_fmin      000 11110 0. 1 ..... 0101 10 ..... .....  fp_2src
fp_fmaxnm    000 11110 0. 1 ..... 0110 10 ..... .....  fp_2src
fp_fminnm    000 11110 0. 1 ..... 0111 10 ..... .....  fp_2src
fp_fnmul     000 11110 0. 1 ..... 1000 10 ..... .....  fp_2src
fp_fcsel     000 11110 0. 1 ..... .... 11 ..... .....  fp_csel
fp_fmadd     000 11111 0. 0 ..... 0 ..... ..... .....  fp_3src
fp_fmsub     000 11111 0. 0 ..... 1 ..... ..... .....  fp_3src
fp_fnmadd    000 11111 0. 1 ..... 0 ..... ..... .....  fp_3src
fp_fnmsub    000 11111 0. 1 ..... 1 ..... ..... .....  fp_3src
# conversions between floating point and integer (rmode, opcode), and fixed point (scale)
fp_fcvt_int  . 00 11110 0. 1 .. 00. 000000 ..... .....  fp_int
fp_fcvta_int . 00 11110 0. 1 00 10. 000000 ..... .....  fp_int
fp_cvtf_int  . 00 11110 0. 1 00 01. 000000 ..... .....  fp_int
fp_fmov_gen  . 00 11110 .. 1 0. 11. 000000 ..... .....  fp_int
fp_fcvtz_fix . 00 11110 0. 0 11 00. ...... ..... .....  fp_fix
fp_cvtf_fix  . 00 11110 0. 0 00 01. ...... ..... .....  fp_fix
"""


def _bits(i: int, hi: int, lo: int) -> int:
    return (i >> lo) & ((1 << (hi - lo + 1)) - 1)


FORMATS: dict[str, Callable[[int], tuple]] = {
    # (ftype, rn, rd)
    "fp_1src": lambda i: (_bits(i, 23, 22), _bits(i, 9, 5), _bits(i, 4, 0)),
    # (ftype, opcode<2:0>, rn, rd)
    "fp_1src_op": lambda i: (_bits(i, 23, 22), _bits(i, 17, 15), _bits(i, 9, 5), _bits(i, 4, 0)),
    # (ftype, rm, rn, opc): opc bit 0 compares with zero, bit 1 signals quiet NaNs
    "fp_cmp": lambda i: (_bits(i, 23, 22), _bits(i, 20, 16), _bits(i, 9, 5), _bits(i, 4, 3)),
    # (ftype, imm8, rd)
    "fp_imm": lambda i: (_bits(i, 23, 22), _bits(i, 20, 13), _bits(i, 4, 0)),
    # (ftype, rm, cond, rn, signal, nzcv)
    "fp_ccmp": lambda i: (_bits(i, 23, 22), _bits(i, 20, 16), _bits(i, 15, 12), _bits(i, 9, 5),
                          _bits(i, 4, 4), _bits(i, 3, 0)),
    # (ftype, rm, rn, rd)
    "fp_2src": lambda i: (_bits(i, 23, 22), _bits(i, 20, 16), _bits(i, 9, 5), _bits(i, 4, 0)),
    # (ftype, rm, cond, rn, rd)
    "fp_csel": lambda i: (_bits(i, 23, 22), _bits(i, 20, 16), _bits(i, 15, 12), _bits(i, 9, 5),
                          _bits(i, 4, 0)),
    # (ftype, rm, ra, rn, rd)
    "fp_3src": lambda i: (_bits(i, 23, 22), _bits(i, 20, 16), _bits(i, 14, 10), _bits(i, 9, 5),
                          _bits(i, 4, 0)),
    # (sf, ftype, rmode, opcode, rn, rd)
    "fp_int": lambda i: (_bits(i, 31, 31), _bits(i, 23, 22), _bits(i, 20, 19), _bits(i, 18, 16),
                         _bits(i, 9, 5), _bits(i, 4, 0)),
    # (sf, ftype, opcode, scale, rn, rd)
    "fp_fix": lambda i: (_bits(i, 31, 31), _bits(i, 23, 22), _bits(i, 18, 16), _bits(i, 15, 10),
                         _bits(i, 9, 5), _bits(i, 4, 0)),
}

#: the IR helpers: fpu_helper's functions, their exception bits OR-ed into FPSR
HELPERS = {name: Helper(f"fp_{name}", fn, pass_cpu=False, accumulate="fpsr")
           for name, fn in fpu_helper.HELPERS.items()}

#: ftype -> (helper suffix, sign bit, zero-extension of the register's low bits)
_TYPES = {0: ("s", 1 << 31, "ext32u"), 1: ("d", 1 << 63, None), 3: ("h", 1 << 15, "ext16u")}
#: the rmode field of the conversions to integer (N, P, M, Z) -> softfloat rounding mode
_RMODE_FIELD = (softfloat.RNE, softfloat.RUP, softfloat.RDN, softfloat.RTZ)


def _read(ctx: DisasContext, ftype: int, r: int) -> Operand:
    ext = _TYPES[ftype][2]
    return ctx.tmp(ext, f"v{r}l") if ext else f"v{r}l"


def _write(ctx: DisasContext, rd: int, value: Operand) -> None:
    ctx.emit("mov", f"v{rd}l", value)
    ctx.emit("mov", f"v{rd}h", 0)


def _call(ctx: DisasContext, name: str, *args: Operand) -> str:
    t = ctx.block.temp()
    ctx.emit("call", t, HELPERS[name], *args)
    return t


# --- moves, sign operations, conditional select (C7 FMOV, FABS, FNEG, FCSEL) ---------------------------

def trans_fp_fmov(ctx: DisasContext, ftype: int, rn: int, rd: int) -> bool:
    _write(ctx, rd, _read(ctx, ftype, rn))
    return True


def trans_fp_fabs(ctx: DisasContext, ftype: int, rn: int, rd: int) -> bool:
    _write(ctx, rd, ctx.tmp("andc", _read(ctx, ftype, rn), _TYPES[ftype][1]))
    return True


def trans_fp_fneg(ctx: DisasContext, ftype: int, rn: int, rd: int) -> bool:
    _write(ctx, rd, ctx.tmp("xor", _read(ctx, ftype, rn), _TYPES[ftype][1]))
    return True


def trans_fp_fcsel(ctx: DisasContext, ftype: int, rm: int, cond: int, rn: int, rd: int) -> bool:
    test = condition(ctx, cond)
    a = _read(ctx, ftype, rn)
    _write(ctx, rd, a if test is None else ctx.tmp("movcond", *test, a, _read(ctx, ftype, rm)))
    return True


def vfp_expand_imm(ftype: int, imm8: int) -> int:
    """VFPExpandImm: sign imm8<7>, exponent NOT(b):Replicate(b):imm8<5:4> (b = imm8<6>), fraction
    imm8<3:0> followed by zeros."""
    ebits, fbits = (8, 23) if ftype == 0 else (11, 52)
    b = imm8 >> 6 & 1
    exp = (b ^ 1) << (ebits - 1) | ((1 << (ebits - 3)) - 1 if b else 0) << 2 | imm8 >> 4 & 3
    return (imm8 >> 7) << (ebits + fbits) | exp << fbits | (imm8 & 15) << (fbits - 4)


def trans_fp_fmov_imm(ctx: DisasContext, ftype: int, imm8: int, rd: int) -> bool:
    _write(ctx, rd, vfp_expand_imm(ftype, imm8))
    return True


#: (sf, ftype, rmode) of FMOV (general): W <-> S, X <-> D, X <-> V.D[1]
_FMOV_GEN = {(0, 0, 0), (1, 1, 0), (1, 2, 1)}


def trans_fp_fmov_gen(ctx: DisasContext, sf: int, ftype: int, rmode: int, opcode: int, rn: int,
                      rd: int) -> bool:
    if (sf, ftype, rmode) not in _FMOV_GEN:
        return False
    half = "h" if rmode else "l"
    if opcode & 1:  # general register to FP
        value = ctx.xz(rn)
        if rmode:
            ctx.emit("mov", f"v{rd}h", value)
        else:
            _write(ctx, rd, value if sf else ctx.low32(value))
    else:
        ctx.wr(rd, sf, "mov", f"v{rn}{half}")
    return True


# --- arithmetic (C7 FADD ... FNMSUB) ------------------------------------------------------------------

def _arith(name: str, negate: bool = False):
    def trans(ctx: DisasContext, ftype: int, rm: int, rn: int, rd: int) -> bool:
        t = _TYPES[ftype][0]
        r = _call(ctx, f"{name}_{t}", _read(ctx, ftype, rn), _read(ctx, ftype, rm), "fpcr")
        _write(ctx, rd, ctx.tmp("xor", r, _TYPES[ftype][1]) if negate else r)
        return True
    return trans


for _name in ("mul", "div", "add", "sub", "max", "min", "maxnm", "minnm"):
    globals()[f"trans_fp_f{_name}"] = _arith(_name)
trans_fp_fnmul = _arith("mul", negate=True)


def trans_fp_fsqrt(ctx: DisasContext, ftype: int, rn: int, rd: int) -> bool:
    _write(ctx, rd, _call(ctx, f"sqrt_{_TYPES[ftype][0]}", _read(ctx, ftype, rn), "fpcr"))
    return True


def _fma(negate_addend: bool, negate_product: bool):
    """FMADD: a + n*m; FMSUB: a - n*m; FNMADD: -a - n*m; FNMSUB: -a + n*m (the negations flip the
    operands' signs, NaNs included, before the fused operation)."""
    def trans(ctx: DisasContext, ftype: int, rm: int, ra: int, rn: int, rd: int) -> bool:
        t, sign, _ = _TYPES[ftype]
        n, m, a = _read(ctx, ftype, rn), _read(ctx, ftype, rm), _read(ctx, ftype, ra)
        if negate_product:
            n = ctx.tmp("xor", n, sign)
        if negate_addend:
            a = ctx.tmp("xor", a, sign)
        _write(ctx, rd, _call(ctx, f"fma_{t}", n, m, a, "fpcr"))
        return True
    return trans


trans_fp_fmadd, trans_fp_fmsub = _fma(False, False), _fma(False, True)
trans_fp_fnmadd, trans_fp_fnmsub = _fma(True, True), _fma(True, False)


# --- compares (C7 FCMP, FCMPE, FCCMP, FCCMPE): NZCV from the helper's bits 3:0 ---------------------------

def _compare(ctx: DisasContext, ftype: int, a: Operand, b: Operand, signal: int) -> None:
    nzcv = _call(ctx, f"{'cmpe' if signal else 'cmp'}_{_TYPES[ftype][0]}", a, b, "fpcr")
    ctx.emit("shl", "nf", nzcv, 60)
    ctx.emit("andc", "zf", 4, nzcv)
    ctx.emit("and", "cf", ctx.tmp("shr", nzcv, 1), 1)
    ctx.emit("shl", "vf", nzcv, 63)


def trans_fp_fcmp(ctx: DisasContext, ftype: int, rm: int, rn: int, opc: int) -> bool:
    b = 0 if opc & 1 else _read(ctx, ftype, rm)
    _compare(ctx, ftype, _read(ctx, ftype, rn), b, opc >> 1)
    return True


def trans_fp_fccmp(ctx: DisasContext, ftype: int, rm: int, cond: int, rn: int, signal: int,
                   nzcv: int) -> bool:
    test = condition(ctx, cond)
    if test is None:
        _compare(ctx, ftype, _read(ctx, ftype, rn), _read(ctx, ftype, rm), signal)
        return True
    other, done = ctx.block.label(), ctx.block.label()
    ctx.emit("brcond", test[0], test[1], NEGATE_COND[test[2]], other)
    _compare(ctx, ftype, _read(ctx, ftype, rn), _read(ctx, ftype, rm), signal)
    ctx.emit("br", done)
    ctx.emit("set_label", other)
    set_nzcv_imm(ctx, nzcv)
    ctx.emit("set_label", done)
    return True


# --- conversions and rounding (C7 FCVT, FRINT<r>, FCVT<r><S|U>, SCVTF, UCVTF) -----------------------------

def trans_fp_fcvt(ctx: DisasContext, ftype: int, opcode: int, rn: int, rd: int) -> bool:
    opc = opcode & 3  # the destination type
    if ftype == opc or ftype not in _TYPES or opc not in _TYPES:
        return False
    name = f"cvt_{_TYPES[ftype][0]}{_TYPES[opc][0]}"
    _write(ctx, rd, _call(ctx, name, _read(ctx, ftype, rn), "fpcr"))
    return True


#: FRINT opcode<2:0> -> (rounding, raises inexact): N, P, M, Z, A, (reserved), X, I
_FRINT = {**{k: (rm, 0) for k, rm in enumerate((*_RMODE_FIELD, softfloat.RMM))},
          6: (fpu_helper.RM_FPCR, 1), 7: (fpu_helper.RM_FPCR, 0)}


def trans_fp_frint(ctx: DisasContext, ftype: int, mode: int, rn: int, rd: int) -> bool:
    if mode not in _FRINT:
        return False
    rm, exact = _FRINT[mode]
    _write(ctx, rd, _call(ctx, f"rint_{_TYPES[ftype][0]}", _read(ctx, ftype, rn), "fpcr", rm, exact))
    return True


def _to_int(ctx: DisasContext, sf: int, ftype: int, unsigned: int, rm: int, fbits: int, rn: int,
            rd: int) -> None:
    name = f"to{'u' if unsigned else 's'}{64 if sf else 32}_{_TYPES[ftype][0]}"
    r = _call(ctx, name, _read(ctx, ftype, rn), "fpcr", rm, fbits)
    ctx.wr_value(rd, r)


def _from_int(ctx: DisasContext, sf: int, ftype: int, unsigned: int, fbits: int, rn: int, rd: int) -> None:
    name = f"from{'u' if unsigned else 's'}{64 if sf else 32}_{_TYPES[ftype][0]}"
    _write(ctx, rd, _call(ctx, name, ctx.xz(rn), "fpcr", fbits))


def trans_fp_fcvt_int(ctx: DisasContext, sf: int, ftype: int, rmode: int, opcode: int, rn: int,
                      rd: int) -> bool:
    """FCVTNS/NU, FCVTPS/PU, FCVTMS/MU, FCVTZS/ZU (rmode) to W or X."""
    _to_int(ctx, sf, ftype, opcode & 1, _RMODE_FIELD[rmode], 0, rn, rd)
    return True


def trans_fp_fcvta_int(ctx: DisasContext, sf: int, ftype: int, rmode: int, opcode: int, rn: int,
                       rd: int) -> bool:
    _to_int(ctx, sf, ftype, opcode & 1, softfloat.RMM, 0, rn, rd)
    return True


def trans_fp_cvtf_int(ctx: DisasContext, sf: int, ftype: int, rmode: int, opcode: int, rn: int,
                      rd: int) -> bool:
    _from_int(ctx, sf, ftype, opcode & 1, 0, rn, rd)
    return True


def trans_fp_fcvtz_fix(ctx: DisasContext, sf: int, ftype: int, opcode: int, scale: int, rn: int,
                       rd: int) -> bool:
    """FCVTZS/FCVTZU (fixed-point): fbits = 64 - scale, at most the register width."""
    if not sf and scale < 32:
        return False
    _to_int(ctx, sf, ftype, opcode & 1, softfloat.RTZ, 64 - scale, rn, rd)
    return True


def trans_fp_cvtf_fix(ctx: DisasContext, sf: int, ftype: int, opcode: int, scale: int, rn: int,
                      rd: int) -> bool:
    """SCVTF/UCVTF (fixed-point)."""
    if not sf and scale < 32:
        return False
    _from_int(ctx, sf, ftype, opcode & 1, 64 - scale, rn, rd)
    return True
