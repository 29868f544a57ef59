"""Translation of the F and D extensions (RISC-V Unprivileged ISA ch. 11-12) to IR.

Register values are raw IEEE bits; single-precision values are NaN-boxed in the 64-bit f registers
(an improperly boxed input reads as the canonical NaN).  Arithmetic, comparisons and conversions call
the bit-exact soft-float helpers of :mod:`pyqemu.fpu.softfloat`, which return the accrued exception
flags that the backend ORs into ``fflags``.  Moves, sign injection, loads and stores are plain IR.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ...accel.tcg.ir import MO_32, MO_64, Helper
from . import fpu_helper

if TYPE_CHECKING:
    from .translate import DisasContext

BOX = 0xFFFFFFFF00000000
RM_DYN = 7


@cache
def helper(name: str, dynamic_rm: bool = False) -> Helper:
    """The Helper wrapping soft-float function ``name`` (flags accumulate into fflags).

    With ``dynamic_rm`` the rounding mode (the last argument) comes from ``frm`` at run time and an
    invalid one (5..7) is an illegal instruction, as the ISA specifies.
    """
    fn = getattr(fpu_helper, name)
    if name.endswith("classify"):
        return Helper(name, fn, pure=True, pass_cpu=False)
    if dynamic_rm:
        return Helper(name + "_dyn", fpu_helper.with_dynamic_rm(fn), pass_cpu=False, accumulate="fflags")
    return Helper(name, fn, pass_cpu=False, accumulate="fflags")


def _rm(ctx: DisasContext, rm: int) -> int | str | None:
    if rm == RM_DYN:
        return "frm"
    if rm > 4:
        return None
    return rm


def unbox(ctx: DisasContext, r: int) -> str:
    """A single-precision operand from f register r (canonical NaN if not NaN-boxed)."""
    f = f"f{r}"
    hi = ctx.tmp("shr", f, 32)
    lo = ctx.tmp("ext32u", f)
    return ctx.tmp("movcond", hi, 0xFFFFFFFF, "eq", lo, 0x7FC00000)


def _write_f(ctx: DisasContext, rd: int, value: str, single: bool) -> None:
    if single:
        ctx.block.emit("or", f"f{rd}", value, BOX)
    else:
        ctx.block.emit("mov", f"f{rd}", value)


def _operand(ctx: DisasContext, r: int, single: bool) -> str:
    return unbox(ctx, r) if single else f"f{r}"


def _call(ctx: DisasContext, name: str, *args) -> str:
    return ctx.tmp("call", helper(name, bool(args) and args[-1] == "frm"), *args)


# --- loads / stores / moves ------------------------------------------------------------------------


def trans_flw(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
    t = ctx.block.temp()
    ctx.block.emit("ld", t, ctx.addr(rs1, imm), MO_32)
    _write_f(ctx, rd, t, True)
    return True


def trans_fld(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
    ctx.block.emit("ld", f"f{rd}", ctx.addr(rs1, imm), MO_64)
    return True


def trans_fsw(ctx: DisasContext, rs1: int, rs2: int, imm: int) -> bool:
    ctx.block.emit("st", f"f{rs2}", ctx.addr(rs1, imm), MO_32)
    return True


def trans_fsd(ctx: DisasContext, rs1: int, rs2: int, imm: int) -> bool:
    ctx.block.emit("st", f"f{rs2}", ctx.addr(rs1, imm), MO_64)
    return True


def trans_fmv_x_w(ctx: DisasContext, rd: int, rs1: int) -> bool:
    ctx.op("ext32s", rd, f"f{rs1}")
    return True


def trans_fmv_w_x(ctx: DisasContext, rd: int, rs1: int) -> bool:
    _write_f(ctx, rd, ctx.tmp("ext32u", ctx.gpr(rs1)), True)
    return True


def trans_fmv_x_d(ctx: DisasContext, rd: int, rs1: int) -> bool:
    ctx.op("mov", rd, f"f{rs1}")
    return True


def trans_fmv_d_x(ctx: DisasContext, rd: int, rs1: int) -> bool:
    ctx.block.emit("mov", f"f{rd}", ctx.gpr(rs1))
    return True


def _sgnj(kind: str, single: bool):
    sign = 1 << (31 if single else 63)

    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        a = _operand(ctx, rs1, single)
        b = _operand(ctx, rs2, single)
        mag = ctx.tmp("andc", a, sign)
        if kind == "j":
            s = ctx.tmp("and", b, sign)
        elif kind == "n":
            s = ctx.tmp("andc", sign, b)
        else:
            s = ctx.tmp("and", ctx.tmp("xor", a, b), sign)
        _write_f(ctx, rd, ctx.tmp("or", mag, s), single)
        return True
    return trans


# --- arithmetic ------------------------------------------------------------------------------------


def _binary(op: str, single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int, rm: int) -> bool:
        r = _rm(ctx, rm)
        if r is None:
            return False
        v = _call(ctx, f"{prefix}_{op}", _operand(ctx, rs1, single), _operand(ctx, rs2, single), r)
        _write_f(ctx, rd, v, single)
        return True
    return trans


def _fma(op: str, single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int, rs3: int, rm: int) -> bool:
        r = _rm(ctx, rm)
        if r is None:
            return False
        v = _call(ctx, f"{prefix}_{op}", _operand(ctx, rs1, single), _operand(ctx, rs2, single),
                  _operand(ctx, rs3, single), r)
        _write_f(ctx, rd, v, single)
        return True
    return trans


def _sqrt(single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int, rm: int) -> bool:
        r = _rm(ctx, rm)
        if r is None:
            return False
        _write_f(ctx, rd, _call(ctx, f"{prefix}_sqrt", _operand(ctx, rs1, single), r), single)
        return True
    return trans


def _minmax(op: str, single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        v = _call(ctx, f"{prefix}_{op}", _operand(ctx, rs1, single), _operand(ctx, rs2, single))
        _write_f(ctx, rd, v, single)
        return True
    return trans


def _compare(op: str, single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        v = _call(ctx, f"{prefix}_{op}", _operand(ctx, rs1, single), _operand(ctx, rs2, single))
        ctx.op("mov", rd, v)
        return True
    return trans


def _classify(single: bool):
    prefix = "f32" if single else "f64"

    def trans(ctx: DisasContext, rd: int, rs1: int) -> bool:
        ctx.op("mov", rd, _call(ctx, f"{prefix}_classify", _operand(ctx, rs1, single)))
        return True
    return trans


def _to_int(name: str, single: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, rm: int) -> bool:
        r = _rm(ctx, rm)
        if r is None:
            return False
        ctx.op("mov", rd, _call(ctx, name, _operand(ctx, rs1, single), r))
        return True
    return trans


def _from_int(name: str, single: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, rm: int) -> bool:
        r = _rm(ctx, rm)
        if r is None:
            return False
        _write_f(ctx, rd, _call(ctx, name, ctx.gpr(rs1), r), single)
        return True
    return trans


def trans_fcvt_s_d(ctx: DisasContext, rd: int, rs1: int, rm: int) -> bool:
    r = _rm(ctx, rm)
    if r is None:
        return False
    _write_f(ctx, rd, _call(ctx, "f64_to_f32", f"f{rs1}", r), True)
    return True


def trans_fcvt_d_s(ctx: DisasContext, rd: int, rs1: int, rm: int) -> bool:
    if _rm(ctx, rm) is None:
        return False
    _write_f(ctx, rd, _call(ctx, "f32_to_f64", unbox(ctx, rs1)), False)
    return True


HANDLERS: dict[str, object] = {
    "flw": trans_flw, "fld": trans_fld, "fsw": trans_fsw, "fsd": trans_fsd,
    "fmv_x_w": trans_fmv_x_w, "fmv_w_x": trans_fmv_w_x, "fmv_x_d": trans_fmv_x_d,
    "fmv_d_x": trans_fmv_d_x, "fcvt_s_d": trans_fcvt_s_d, "fcvt_d_s": trans_fcvt_d_s,
}
for _sfx, _single in (("s", True), ("d", False)):
    _p = "f32" if _single else "f64"
    for _op in ("add", "sub", "mul", "div"):
        HANDLERS[f"f{_op}_{_sfx}"] = _binary(_op, _single)
    for _op in ("madd", "msub", "nmsub", "nmadd"):
        HANDLERS[f"f{_op}_{_sfx}"] = _fma(_op, _single)
    HANDLERS[f"fsqrt_{_sfx}"] = _sqrt(_single)
    for _k in ("j", "n", "x"):
        HANDLERS[f"fsgnj{_k if _k != 'j' else ''}_{_sfx}"] = _sgnj(_k, _single)
    HANDLERS[f"fmin_{_sfx}"] = _minmax("min", _single)
    HANDLERS[f"fmax_{_sfx}"] = _minmax("max", _single)
    for _op in ("eq", "lt", "le"):
        HANDLERS[f"f{_op}_{_sfx}"] = _compare(_op, _single)
    HANDLERS[f"fclass_{_sfx}"] = _classify(_single)
    for _ik, _iname in (("w", "i32"), ("wu", "u32"), ("l", "i64"), ("lu", "u64")):
        HANDLERS[f"fcvt_{_ik}_{_sfx}"] = _to_int(f"{_p}_to_{_iname}", _single)
        HANDLERS[f"fcvt_{_sfx}_{_ik}"] = _from_int(f"{_iname}_to_{_p}", _single)
