"""A64 Advanced SIMD floating point (the vector and scalar-SIMD forms of FP arithmetic, compares,
conversions, rounding and reductions):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.

Covered, single and double precision (``sz`` 0 and 1), vector (``vf_``) and scalar (``vfs_``) forms:

* three same: FADD FSUB FMUL FDIV FMAX FMIN FMAXNM FMINNM FMLA FMLS FABD FMULX FRECPS FRSQRTS, the compares
  FCMEQ FCMGE FCMGT FACGE FACGT, pairwise FADDP FMAXP FMINP FMAXNMP FMINNMP (vector and scalar);
* two-register miscellaneous: FCVT{N,P,M,Z,A}{S,U}, SCVTF, UCVTF, FRINT{N,P,M,Z,A,X,I}, FABS, FNEG,
  FSQRT, FRECPE, FRSQRTE, FRECPX (scalar), FCMEQ/FCMGE/FCMGT/FCMLE/FCMLT #0, FCVTN(2) and FCVTL(2)
  (S <-> D and H <-> S), FCVTXN(2);
* across lanes (.4S): FMAXV FMINV FMAXNMV FMINNMV;
* shift by immediate: FCVTZS/FCVTZU/SCVTF/UCVTF with ``#fbits``;
* by element: FMUL FMLA FMLS FMULX.

Every lane operation calls a helper of :mod:`.vfp_helper` once per 64-bit half (the scalar forms once)
with FPCR, on :mod:`.fpu_helper`'s element functions, its lanes' exception bits OR-ed into FPSR; FABS
and FNEG are inline IR.  64-bit vector forms clear bits 127:64; the reserved ``.1D`` arrangement
(``sz`` 1 with Q 0) and FEAT_FP16's half-precision forms are UNDEFINED.

Not covered: FEAT_FP16 (half-precision arithmetic), FEAT_FRINTTS (FRINT32/64), FEAT_FCMA (FCMLA, FCADD),
FEAT_FHM (FMLAL), BFloat16, FEAT_RPRES's estimates (FEAT_RPRES absent, as on Unicorn's CPU).
"""

from __future__ import annotations

from collections.abc import Callable

from ...fpu import softfloat as sf
from . import vfp_helper as vh
from .fpu_helper import RM_FPCR
from .translate_a64 import DisasContext, Operand


def _b(i: int, hi: int, lo: int) -> int:
    return i >> lo & ((1 << (hi - lo + 1)) - 1)


FORMATS: dict[str, Callable[[int], tuple]] = {
    # (q, sz, rm, rn, rd)
    "vf_qsrr": lambda i: (_b(i, 30, 30), _b(i, 22, 22), _b(i, 20, 16), _b(i, 9, 5), _b(i, 4, 0)),
    # (q, immh, immb, rn, rd)
    "vf_shift": lambda i: (_b(i, 30, 30), _b(i, 22, 19), _b(i, 18, 16), _b(i, 9, 5), _b(i, 4, 0)),
    # (q, sz, rm, rn, rd, h, l): Rm is M:Rm
    "vf_elem": lambda i: (_b(i, 30, 30), _b(i, 22, 22), _b(i, 20, 16), _b(i, 9, 5), _b(i, 4, 0),
                          _b(i, 11, 11), _b(i, 21, 21)),
}

Halves = tuple[Operand, Operand]


def _call(ctx: DisasContext, h: object, *args: Operand) -> str:
    t = ctx.block.temp()
    ctx.emit("call", t, h, *args)
    return t


def _set(ctx: DisasContext, rd: int, lo: Operand, hi: Operand = 0) -> None:
    ctx.emit("mov", f"v{rd}l", lo)
    ctx.emit("mov", f"v{rd}h", hi)


def _elem_name(template: str, sz: int) -> str:
    return template.format(t="sd"[sz], w=32 << sz)


def _scalar_src(ctx: DisasContext, sz: int, r: int) -> Operand:
    return f"v{r}l" if sz else ctx.tmp("ext32u", f"v{r}l")


def _lanes(ctx: DisasContext, q: int, sz: int, rd: int, template: str, srcs: list[Halves],
           *imm: int) -> None:
    """Vd = the element function ``template`` lane-wise over the halves of ``srcs``, then FPCR, ``imm``."""
    name = _elem_name(template, sz)
    h = vh.helper(f"vf_{name}", vh.lanewise, vh.ELEMENTS[name], 32 << sz, len(srcs))
    lo = _call(ctx, h, *(s[0] for s in srcs), "fpcr", *imm)
    hi = _call(ctx, h, *(s[1] for s in srcs), "fpcr", *imm) if q else 0
    _set(ctx, rd, lo, hi)


def _scalar(ctx: DisasContext, sz: int, rd: int, template: str, srcs: list[Operand], *imm: int) -> None:
    _set(ctx, rd, _call(ctx, vh.scalar(_elem_name(template, sz)), *srcs, "fpcr", *imm))


def _operands(srcs: str, regs: dict[str, int]) -> list[Halves]:
    """The halves of the operand registers named in ``srcs`` (n, m, d; 0: a zero operand)."""
    return [(f"v{regs[s]}l", f"v{regs[s]}h") if s in regs else (0, 0) for s in srcs]


def _vector_op(template: str, srcs: str, *imm: int):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz and not q:
            return False
        _lanes(ctx, q, sz, rd, template, _operands(srcs, {"n": rn, "m": rm, "d": rd}), *imm)
        return True
    return trans


def _scalar_op(template: str, srcs: str, *imm: int):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        regs = {"n": rn, "m": rm}
        _scalar(ctx, sz, rd, template, [_scalar_src(ctx, sz, regs[s]) if s in regs else 0 for s in srcs],
                *imm)
        return True
    return trans


# --- three same: 0 Q U 01110 a sz 1 Rm opcode 1 Rn Rd (scalar: 01 U 11110 ...) --------------------------

#: name -> (U, a, opcode, element function, operands, has a scalar form)
_THREE_SAME: dict[str, tuple[int, int, int, str, str, bool]] = {
    "fmaxnm": (0, 0, 0b11000, "maxnm_{t}", "nm", False),
    "fmla": (0, 0, 0b11001, "fma_{t}", "nmd", False),
    "fadd": (0, 0, 0b11010, "add_{t}", "nm", False),
    "fmulx": (0, 0, 0b11011, "mulx_{t}", "nm", True),
    "fcmeq": (0, 0, 0b11100, "cmeq_{t}", "nm", True),
    "fmax": (0, 0, 0b11110, "max_{t}", "nm", False),
    "frecps": (0, 0, 0b11111, "recps_{t}", "nm", True),
    "frsqrts": (0, 1, 0b11111, "rsqrts_{t}", "nm", True),
    "fminnm": (0, 1, 0b11000, "minnm_{t}", "nm", False),
    "fmls": (0, 1, 0b11001, "fmls_{t}", "nmd", False),
    "fsub": (0, 1, 0b11010, "sub_{t}", "nm", False),
    "fmin": (0, 1, 0b11110, "min_{t}", "nm", False),
    "fmul": (1, 0, 0b11011, "mul_{t}", "nm", False),
    "fcmge": (1, 0, 0b11100, "cmge_{t}", "nm", True),
    "facge": (1, 0, 0b11101, "acge_{t}", "nm", True),
    "fdiv": (1, 0, 0b11111, "div_{t}", "nm", False),
    "fabd": (1, 1, 0b11010, "abd_{t}", "nm", True),
    "fcmgt": (1, 1, 0b11100, "cmgt_{t}", "nm", True),
    "facgt": (1, 1, 0b11101, "acgt_{t}", "nm", True),
}
#: pairwise: name -> (a, vector opcode, scalar opcode, element operation); U = 1
_PAIRWISE: dict[str, tuple[int, int, int, str]] = {
    "fmaxnmp": (0, 0b11000, 0b01100, "maxnm"),
    "faddp": (0, 0b11010, 0b01101, "add"),
    "fmaxp": (0, 0b11110, 0b01111, "max"),
    "fminnmp": (1, 0b11000, 0b01100, "minnm"),
    "fminp": (1, 0b11110, 0b01111, "min"),
}


def _pairwise_vector(op: str):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz and not q:
            return False
        name = f"{op}_{'sd'[sz]}"
        h = vh.helper(f"vf_{name}p", vh.pairwise, vh.ELEMENTS[name], 32 << sz)
        if q:
            _set(ctx, rd, _call(ctx, h, f"v{rn}l", f"v{rn}h", "fpcr"),
                 _call(ctx, h, f"v{rm}l", f"v{rm}h", "fpcr"))
        else:
            _set(ctx, rd, _call(ctx, h, f"v{rn}l", f"v{rm}l", "fpcr"))
        return True
    return trans


def _pairwise_scalar(op: str):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz:
            a, b = f"v{rn}l", f"v{rn}h"
        else:
            a, b = ctx.tmp("ext32u", f"v{rn}l"), ctx.tmp("shr", f"v{rn}l", 32)
        _scalar(ctx, sz, rd, op + "_{t}", [a, b])
        return True
    return trans


# --- two-register miscellaneous: 0 Q U 01110 a sz 10000 opcode 10 Rn Rd (scalar: 01 U 11110 ...) ----------

_RMODES = {"n": sf.RNE, "p": sf.RUP, "m": sf.RDN, "z": sf.RTZ, "a": sf.RMM}
#: name -> (U, a, opcode, element function, operands, immediates, has a scalar form)
_MISC: dict[str, tuple[int, int, int, str, str, tuple[int, ...], bool]] = {
    "fcmgt0": (0, 1, 0b01100, "cmgt_{t}", "n0", (), True),
    "fcmge0": (1, 1, 0b01100, "cmge_{t}", "n0", (), True),
    "fcmeq0": (0, 1, 0b01101, "cmeq_{t}", "n0", (), True),
    "fcmle0": (1, 1, 0b01101, "cmge_{t}", "0n", (), True),
    "fcmlt0": (0, 1, 0b01110, "cmgt_{t}", "0n", (), True),
    "frintn": (0, 0, 0b11000, "rint_{t}", "n", (sf.RNE, 0), False),
    "frintm": (0, 0, 0b11001, "rint_{t}", "n", (sf.RDN, 0), False),
    "frintp": (0, 1, 0b11000, "rint_{t}", "n", (sf.RUP, 0), False),
    "frintz": (0, 1, 0b11001, "rint_{t}", "n", (sf.RTZ, 0), False),
    "frinta": (1, 0, 0b11000, "rint_{t}", "n", (sf.RMM, 0), False),
    "frintx": (1, 0, 0b11001, "rint_{t}", "n", (RM_FPCR, 1), False),
    "frinti": (1, 1, 0b11001, "rint_{t}", "n", (RM_FPCR, 0), False),
    "fsqrt": (1, 1, 0b11111, "sqrt_{t}", "n", (), False),
    "frecpe": (0, 1, 0b11101, "recpe_{t}", "n", (), True),
    "frsqrte": (1, 1, 0b11101, "rsqrte_{t}", "n", (), True),
}
for _u, _sign in ((0, "s"), (1, "u")):
    for _r, (_a, _opc) in {"n": (0, 0b11010), "m": (0, 0b11011), "a": (0, 0b11100), "p": (1, 0b11010),
                           "z": (1, 0b11011)}.items():
        _MISC[f"fcvt{_r}{_sign}"] = (_u, _a, _opc, f"to{_sign}{{w}}_{{t}}", "n", (_RMODES[_r], 0), True)
    _MISC[f"{_sign}cvtf"] = (_u, 0, 0b11101, f"from{_sign}{{w}}_{{t}}", "n", (0,), True)


def _sign_op(ir_op: str):
    """FABS (clear) and FNEG (flip) the lanes' sign bits, inline."""
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz and not q:
            return False
        mask = 1 << 63 | (0 if sz else 1 << 31)
        _set(ctx, rd, ctx.tmp(ir_op, f"v{rn}l", mask), ctx.tmp(ir_op, f"v{rn}h", mask) if q else 0)
        return True
    return trans


#: FCVTN, FCVTXN: sz -> (element function, destination lane bits)
_NARROW = {"fcvtn": {0: ("cvt_sh", 16), 1: ("cvt_ds", 32)}, "fcvtxn": {1: ("cvtodd_ds", 32)}}


def _narrow(kind: str):
    """FCVTN/FCVTXN write the low half (clearing the high one), the "2" forms the high half."""
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz not in _NARROW[kind]:
            return False
        name, bits = _NARROW[kind][sz]
        value = _call(ctx, vh.helper(f"vf_{name}n", vh.narrow, vh.ELEMENTS[name], bits), f"v{rn}l",
                      f"v{rn}h", "fpcr")
        if q:
            ctx.emit("mov", f"v{rd}h", value)
        else:
            _set(ctx, rd, value)
        return True
    return trans


def trans_vfs_fcvtxn(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
    if not sz:
        return False
    _set(ctx, rd, _call(ctx, vh.scalar("cvtodd_ds"), f"v{rn}l", "fpcr"))
    return True


def trans_vf_fcvtl(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
    """FCVTL/FCVTL2: the lanes of the low (high) half of Vn widened."""
    name, bits = ("cvt_sd", 32) if sz else ("cvt_hs", 16)
    h = vh.helper(f"vf_{name}l", vh.widen, vh.ELEMENTS[name], bits)
    src = f"v{rn}{'h' if q else 'l'}"
    _set(ctx, rd, _call(ctx, h, 0, src, "fpcr"), _call(ctx, h, 1, src, "fpcr"))
    return True


# --- across lanes: 0 Q 1 01110 a sz 11000 opcode 10 Rn Rd (.4S only) --------------------------------------

#: name -> (a, opcode, element operation)
_ACROSS = {"fmaxnmv": (0, 0b01100, "maxnm"), "fminnmv": (1, 0b01100, "minnm"), "fmaxv": (0, 0b01111, "max"),
           "fminv": (1, 0b01111, "min")}


def _across(op: str):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int) -> bool:
        if sz or not q:
            return False
        h = vh.helper(f"vf_{op}v", vh.reduce4, vh.ELEMENTS[f"{op}_s"])
        _set(ctx, rd, _call(ctx, h, f"v{rn}l", f"v{rn}h", "fpcr"))
        return True
    return trans


# --- shift by immediate (fixed point): 0 Q U 011110 immh immb opcode 1 Rn Rd (scalar: 01 U 111110 ...) ---

#: name -> (U, opcode, element function, immediates before fbits)
_FIXED: dict[str, tuple[int, int, str, tuple[int, ...]]] = {
    "scvtf_fix": (0, 0b11100, "froms{w}_{t}", ()), "ucvtf_fix": (1, 0b11100, "fromu{w}_{t}", ()),
    "fcvtzs_fix": (0, 0b11111, "tos{w}_{t}", (sf.RTZ,)), "fcvtzu_fix": (1, 0b11111, "tou{w}_{t}", (sf.RTZ,)),
}


def _fixed(template: str, imm: tuple[int, ...], scalar: bool):
    """immh 1xxx: D lanes, fbits = 128 - immh:immb; 01xx: S lanes, fbits = 64 - immh:immb."""
    def trans(ctx: DisasContext, q: int, immh: int, immb: int, rn: int, rd: int) -> bool:
        sz = immh >> 3
        fbits = (128 if sz else 64) - (immh << 3 | immb)
        if scalar:
            _scalar(ctx, sz, rd, template, [_scalar_src(ctx, sz, rn)], *imm, fbits)
        elif sz and not q:
            return False
        else:
            _lanes(ctx, q, sz, rd, template, _operands("n", {"n": rn}), *imm, fbits)
        return True
    return trans


# --- by element: 0 Q U 01111 1 sz L M Rm opcode H 0 Rn Rd (scalar: 01 U 11111 ...) -----------------------

#: name -> (U, opcode, element function, operands (e: the indexed element))
_BY_ELEMENT = {"fmla": (0, 0b0001, "fma_{t}", "ned"), "fmls": (0, 0b0101, "fmls_{t}", "ned"),
               "fmul": (0, 0b1001, "mul_{t}", "ne"), "fmulx": (1, 0b1001, "mulx_{t}", "ne")}


def _by_element(template: str, srcs: str, scalar: bool):
    def trans(ctx: DisasContext, q: int, sz: int, rm: int, rn: int, rd: int, h: int, lo: int) -> bool:
        if sz and (lo or not (q or scalar)):
            return False
        index = h if sz else h << 1 | lo
        if sz:
            lane: Operand = f"v{rm}{'h' if index else 'l'}"
        else:
            half = f"v{rm}{'h' if index >> 1 else 'l'}"
            lane = ctx.tmp("ext32u", ctx.tmp("shr", half, 32) if index & 1 else half)
        if scalar:
            regs = {"n": _scalar_src(ctx, sz, rn), "d": _scalar_src(ctx, sz, rd), "e": lane}
            _scalar(ctx, sz, rd, template, [regs[s] for s in srcs])
            return True
        dup = lane if sz else ctx.tmp("mul", lane, 1 << 32 | 1)
        regs2 = {"n": (f"v{rn}l", f"v{rn}h"), "d": (f"v{rd}l", f"v{rd}h"), "e": (dup, dup)}
        _lanes(ctx, q, sz, rd, template, [regs2[s] for s in srcs])
        return True
    return trans


# --- the table -------------------------------------------------------------------------------------------

_lines: list[str] = []


def _add(name: str, pattern: str, fmt: str, trans: Callable[..., bool]) -> None:
    _lines.append(f"{name} {pattern} {fmt}")
    globals()[f"trans_{name}"] = trans


for _name, (_u, _a, _opc, _tmpl, _srcs, _sc) in _THREE_SAME.items():
    _add(f"vf_{_name}", f"0 . {_u} 01110 {_a} . 1 ..... {_opc:05b} 1 ..... .....", "vf_qsrr",
         _vector_op(_tmpl, _srcs))
    if _sc:
        _add(f"vfs_{_name}", f"0 1 {_u} 11110 {_a} . 1 ..... {_opc:05b} 1 ..... .....", "vf_qsrr",
             _scalar_op(_tmpl, _srcs))
for _name, (_a, _opc, _sopc, _op) in _PAIRWISE.items():
    _add(f"vf_{_name}", f"0 . 1 01110 {_a} . 1 ..... {_opc:05b} 1 ..... .....", "vf_qsrr",
         _pairwise_vector(_op))
    _add(f"vfs_{_name}", f"0 1 1 11110 {_a} . 11000 {_sopc:05b} 10 ..... .....", "vf_qsrr",
         _pairwise_scalar(_op))
for _name, (_u, _a, _opc, _tmpl, _srcs, _imm, _sc) in _MISC.items():
    _add(f"vf_{_name}", f"0 . {_u} 01110 {_a} . 10000 {_opc:05b} 10 ..... .....", "vf_qsrr",
         _vector_op(_tmpl, _srcs, *_imm))
    if _sc:
        _add(f"vfs_{_name}", f"0 1 {_u} 11110 {_a} . 10000 {_opc:05b} 10 ..... .....", "vf_qsrr",
             _scalar_op(_tmpl, _srcs, *_imm))
#: the other vector-only forms: name -> (U, a, opcode, handler)
_MISC_OTHER = {"fabs": (0, 1, 0b01111, _sign_op("andc")), "fneg": (1, 1, 0b01111, _sign_op("xor")),
               "fcvtn": (0, 0, 0b10110, _narrow("fcvtn")), "fcvtxn": (1, 0, 0b10110, _narrow("fcvtxn")),
               "fcvtl": (0, 0, 0b10111, trans_vf_fcvtl)}
for _name, (_u, _a, _opc, _tr) in _MISC_OTHER.items():
    _add(f"vf_{_name}", f"0 . {_u} 01110 {_a} . 10000 {_opc:05b} 10 ..... .....", "vf_qsrr", _tr)
_add("vfs_fcvtxn", "0 1 1 11110 0 . 10000 10110 10 ..... .....", "vf_qsrr", trans_vfs_fcvtxn)
_add("vfs_frecpx", "0 1 0 11110 1 . 10000 11111 10 ..... .....", "vf_qsrr", _scalar_op("recpx_{t}", "n"))
for _name, (_a, _opc, _op) in _ACROSS.items():
    _add(f"vf_{_name}", f"0 . 1 01110 {_a} . 11000 {_opc:05b} 10 ..... .....", "vf_qsrr", _across(_op))
for _name, (_u, _opc, _tmpl, _imm) in _FIXED.items():
    for _immh in ("1...", "01.."):  # D, S lanes (0000: modified immediate; 001x: half precision)
        _lines.append(f"vf_{_name} 0 . {_u} 011110 {_immh} ... {_opc:05b} 1 ..... ..... vf_shift")
        _lines.append(f"vfs_{_name} 0 1 {_u} 111110 {_immh} ... {_opc:05b} 1 ..... ..... vf_shift")
    globals()[f"trans_vf_{_name}"] = _fixed(_tmpl, _imm, False)
    globals()[f"trans_vfs_{_name}"] = _fixed(_tmpl, _imm, True)
for _name, (_u, _opc, _tmpl, _srcs) in _BY_ELEMENT.items():
    _add(f"vf_{_name}_elem", f"0 . {_u} 01111 1 . . . .... {_opc:04b} . 0 ..... .....", "vf_elem",
         _by_element(_tmpl, _srcs, False))
    _add(f"vfs_{_name}_elem", f"0 1 {_u} 11111 1 . . . .... {_opc:04b} . 0 ..... .....", "vf_elem",
         _by_element(_tmpl, _srcs, True))

TABLE = "\n".join(_lines)
