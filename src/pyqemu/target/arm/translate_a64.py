"""AArch64 (A64) guest -> IR translator for EL0 code (the counterpart of QEMU's
target/arm/translate-a64.c; Arm ARM DDI 0487, C3 "A64 Instruction Set Overview" and C6 "A64 Base
Instruction Descriptions").

``gen_block(env, pc)`` decodes instructions from ``pc`` with the table-driven decoder built from
:mod:`.insn_a64` and emits IR into a :class:`~pyqemu.accel.tcg.ir.Block` until a branch, a page
boundary or the block size limit.  Each ``trans_*`` function translates one table entry and returns
False for an encoding that is UNDEFINED at EL0 (reserved logical immediates, system registers and
operations EL0 can't use, LSE atomics on a CPU without them, HLT); those and words no entry matches
end the block with an ``EXCP_UDEF`` exit, never a Python exception.

Covered: all integer data processing (C3.4, C3.5), branches, exception generation and system
instructions (C3.1, C3.2.x: SVC and BRK exits, hints and barriers as no-ops, MRS/MSR of the EL0
registers, the ID registers through the Linux kernel's emulation, DC ZVA), loads and stores in every
addressing mode including the scalar SIMD&FP register forms (C3.3), exclusives and load-acquire /
store-release (B2.9, C3.3.7-8) and the LSE atomics (C3.3.12-13).

Conventions (see :mod:`.cpu` for the globals):

* register 31 is XZR (reads 0, writes are dropped) or SP, as each encoding defines;
* 32-bit operations compute on 64-bit values whose upper half may hold garbage; every result written to
  a register is zero-extended from 32 bits (``ext32u``);
* NZCV is computed eagerly in QEMU's representation (``nf``/``vf``: the flag in bit 63, ``zf``: zero
  when Z is set, ``cf``: 0 or 1), a 32-bit operation's N, Z and V shifted up into bit 63 so condition
  tests don't depend on the operation size: an ADDS/SUBS costs four short ops beyond its result.  A
  condition test right after a compare uses the compared values directly (``cmp x0, x1; b.gt`` is one
  signed comparison); the optimizer folds the constant C and V of logical operations;
* memory: IR ``ld``/``st`` on the memory model, little-endian, misaligned allowed (SCTLR_EL1.A is clear
  for Linux user space; SP alignment checking, SA0, is not modelled, as in QEMU); ordered, exclusive
  and atomic accesses check their alignment inline and take an alignment fault (B2.5.2).  Loads into
  several registers (pairs, exclusive pairs, Q registers) load into temps first, so a fault on the
  second access leaves the registers untouched (the instruction can be restarted).  The
  load-exclusive side of the monitor is inline IR; store-exclusives and the LSE atomics are helpers
  (:mod:`.op_helper`) under the address space's atomic lock;
* exits (``cpu.EXCP_*``): SVC leaves with EXCP_SWI at the next instruction (the user-mode loop turns
  it into a system call), BRK with EXCP_BKPT, UNDEFINED encodings with EXCP_UDEF (tval: the word),
  alignment faults with EXCP_UNALIGNED (tval: the address), faults of the memory model with its codes.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Collection
from typing import Protocol

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.decodetree import Decoder, parse_table
from ...accel.tcg.ir import MASK64, MO_64, NEGATE_COND, SIGN, Block, Helper
from ...accel.tcg.translator import translator_loop
from . import insn_a64
from .cpu import (
    CNTFRQ_HZ,
    CTR_EL0,
    DCZID_EL0,
    EXCL_NONE,
    EXCP_BKPT,
    EXCP_DEBUG,
    EXCP_SWI,
    EXCP_UDEF,
    EXCP_UNALIGNED,
    FEATURE_LSE,
    FPCR_MASK,
    FPSR_MASK,
    ZVA_BYTES,
    id_registers,
    is_emulated_id_register,
)
from .insn_a64 import EL0_SYS_OPS, EL0_SYSREGS, sysreg_key

MAX_INSNS = 64
S63 = 1 << 63
M32 = 0xFFFFFFFF

Operand = int | str


class GuestCode(Protocol):
    """What the translator needs from the execution environment: instruction fetch (raising the
    memory model's fault), the helpers of :func:`.op_helper.make_helpers`, the CPU's optional features
    (``cpu.FEATURE_*``) and a debugger's breakpoints (usually empty): translated code stops before them.
    """

    breakpoints: Collection[int]
    features: frozenset[str]

    def fetch32(self, pc: int) -> int: ...

    def helpers(self) -> dict[str, Helper]: ...


class DisasContext:
    """Translation state of one block.

    ``cmp`` describes the compare (SUBS) of the previous instruction while its operands are intact:
    (sf, a, b, a32, b32), for condition tests that can use them instead of the flags.
    """

    __slots__ = ("block", "H", "pc", "pc_next", "ended", "features", "cmp", "next_cmp")

    def __init__(self, block: Block, env: GuestCode):
        self.block = block
        self.H = env.helpers()
        self.features = env.features
        self.pc = block.pc
        self.pc_next = block.pc
        self.ended = False
        self.cmp: tuple | None = None
        self.next_cmp: tuple | None = None

    # operands ---------------------------------------------------------------------------------------
    @staticmethod
    def xz(r: int) -> Operand:
        """Xr as a source where 31 is XZR."""
        return f"x{r}" if r < 31 else 0

    @staticmethod
    def xs(r: int) -> str:
        """Xr as a source or destination where 31 is SP."""
        return f"x{r}" if r < 31 else "sp"

    def tmp(self, name: str, *src: Operand) -> str:
        t = self.block.temp()
        self.block.emit(name, t, *src)
        return t

    def emit(self, *op: object) -> None:
        self.block.emit(*op)

    def low32(self, v: Operand) -> Operand:
        return v & M32 if isinstance(v, int) else self.tmp("ext32u", v)

    def wr(self, rd: int, sf: int, name: str, *src: Operand, sp: bool = False) -> None:
        """Xd = name(src), zero-extended from 32 bits unless ``sf``.  Register 31 is SP when ``sp``,
        else XZR (the pure op is dropped)."""
        if rd == 31 and not sp:
            return
        dest = self.xs(rd)
        if sf:
            self.emit(name, dest, *src)
        elif name == "mov":
            self.emit("ext32u", dest, *src)
        else:
            self.emit("ext32u", dest, self.tmp(name, *src))

    def wr_value(self, rd: int, value: Operand, sf: int = 1) -> None:
        self.wr(rd, sf, "mov", value)

    # control flow -----------------------------------------------------------------------------------
    def exit(self, target: Operand) -> None:
        self.emit("exit", target)
        self.ended = True

    def raise_exc(self, code: int, pc: int, tval: int = 0) -> None:
        self.emit("exit_exc", code, pc, tval)
        self.ended = True

    def branch_if(self, a: Operand, b: Operand, cond: str, target: int) -> None:
        """Go to ``target`` if ``a cond b``, else to the next instruction."""
        taken = self.block.label()
        self.emit("brcond", a, b, cond, taken)
        self.emit("exit", self.pc_next)
        self.emit("set_label", taken)
        self.exit(target & MASK64)


# --- condition codes (C1.2.4) ---------------------------------------------------------------------------

#: cond>>1 -> IR comparison of the flag globals (EQ, CS, MI, VS); HI, GE, GT need a temp first
_FLAG_TESTS = {0: ("zf", 0, "eq"), 1: ("cf", 0, "ne"), 2: ("nf", 0, "lt"), 3: ("vf", 0, "lt")}
#: cond>>1 -> comparison of the operands of a preceding SUBS (64-bit; "swap": b against a)
_CMP_TESTS = {0: ("eq", False), 1: ("geu", False), 4: ("ltu", True), 5: ("ge", False), 6: ("lt", True)}


def condition(ctx: DisasContext, cond: int) -> tuple[Operand, Operand, str] | None:
    """An IR comparison (a, b, c) that holds when condition ``cond`` does; None for AL and NV."""
    base = cond >> 1
    if base == 7:
        return None
    test = _compare_test(ctx, base) or _FLAG_TESTS.get(base)
    if test is None:
        if base == 4:  # HI: C and not Z
            test = (ctx.tmp("movcond", "zf", 0, "eq", 0, "cf"), 0, "ne")
        elif base == 5:  # GE: N == V
            test = (ctx.tmp("xor", "nf", "vf"), 0, "ge")
        else:  # GT: not Z and N == V
            test = (ctx.tmp("movcond", "zf", 0, "eq", S63, ctx.tmp("xor", "nf", "vf")), 0, "ge")
    a, b, c = test
    return (a, b, NEGATE_COND[c]) if cond & 1 else (a, b, c)


def _compare_test(ctx: DisasContext, base: int) -> tuple[Operand, Operand, str] | None:
    if ctx.cmp is None or base not in _CMP_TESTS:
        return None
    sf, a, b, a32, b32 = ctx.cmp
    c, swap = _CMP_TESTS[base]
    if not sf:
        if c in ("ge", "lt"):
            return None  # signed 32-bit: the flags are as cheap
        a, b = a32, b32
    return (b, a, c) if swap else (a, b, c)


def _set_flags_nz(ctx: DisasContext, nz: Operand) -> None:
    ctx.emit("mov", "nf", nz)
    ctx.emit("mov", "zf", nz)


def set_nzcv_imm(ctx: DisasContext, nzcv: int) -> None:
    ctx.emit("mov", "nf", S63 if nzcv & 8 else 0)
    ctx.emit("mov", "zf", 0 if nzcv & 4 else 1)
    ctx.emit("mov", "cf", nzcv >> 1 & 1)
    ctx.emit("mov", "vf", S63 if nzcv & 1 else 0)


# --- data processing: add/subtract, logical (C3.4.1-2, C3.5.1-3, C6 ADDS/SUBS/ANDS) -------------------

def add_sub(ctx: DisasContext, sf: int, rd: int, a: Operand, b: Operand, sub: bool, flags: bool,
            rd_sp: bool = False) -> None:
    """Xd = a +/- b, setting NZCV when ``flags``."""
    op = "sub" if sub else "add"
    if not flags:
        ctx.wr(rd, sf, op, a, b, sp=rd_sp)
        return
    if sf:
        res = ctx.tmp(op, a, b)
        if sub:
            ctx.emit("setcond", "cf", a, b, "geu")
            ctx.emit("and", "vf", ctx.tmp("xor", a, b), ctx.tmp("xor", a, res))
        else:
            ctx.emit("setcond", "cf", res, a, "ltu")
            ctx.emit("andc", "vf", ctx.tmp("xor", res, a), ctx.tmp("xor", a, b))
        nz: Operand = res
        a32: Operand = a
        b32: Operand = b
    else:
        a32, b32 = ctx.low32(a), ctx.low32(b)
        res = ctx.tmp(op, a32, b32)
        if sub:
            ctx.emit("setcond", "cf", a32, b32, "geu")
            v = ctx.tmp("and", ctx.tmp("xor", a32, b32), ctx.tmp("xor", a32, res))
        else:
            ctx.emit("shr", "cf", res, 32)
            v = ctx.tmp("andc", ctx.tmp("xor", res, a32), ctx.tmp("xor", a32, b32))
        ctx.emit("shl", "vf", v, 32)
        nz = ctx.tmp("shl", res, 32)
    _set_flags_nz(ctx, nz)
    ctx.wr(rd, sf, "mov", res)
    if sub and (rd == 31 or f"x{rd}" not in (a, b)):
        ctx.next_cmp = (sf, a, b, a32, b32)


def _logic_op(ctx: DisasContext, sf: int, rd: int, op: str, a: Operand, b: Operand, flags: bool,
              rd_sp: bool = False) -> None:
    if a == 0 and op in ("or", "xor"):  # MOV, and EOR with XZR
        op, a = "mov", b
    elif a == 0 and op in ("orc", "xnor"):  # MVN
        op, a = "not", b
    srcs = (a,) if op in ("mov", "not") else (a, b)
    if not flags:
        ctx.wr(rd, sf, op, *srcs, sp=rd_sp)
        return
    res = ctx.tmp(op, *srcs)
    _set_flags_nz(ctx, res if sf else ctx.tmp("shl", res, 32))
    ctx.emit("mov", "cf", 0)
    ctx.emit("mov", "vf", 0)
    ctx.wr(rd, sf, "mov", res)


_SHIFT_OPS = ("shl", "shr", "sar", "rotr")


def shifted_operand(ctx: DisasContext, sf: int, rm: int, shift: int, amount: int) -> Operand:
    """Rm shifted by a constant (LSL, LSR, ASR, ROR); only the low 32 bits count when not ``sf``."""
    v = ctx.xz(rm)
    if amount == 0:
        return v
    if sf or shift == 0:
        return ctx.tmp(_SHIFT_OPS[shift], v, amount)
    if shift == 1:
        return ctx.tmp("shr", ctx.low32(v), amount)
    if shift == 2:
        return ctx.tmp("sar", ctx.tmp("ext32s", v), amount)
    return ctx.tmp("rotr32", v, amount)


#: extend option -> IR extension (UXTX and SXTX: none)
_EXTENDS = ("ext8u", "ext16u", "ext32u", None, "ext8s", "ext16s", "ext32s", None)


def extended_operand(ctx: DisasContext, rm: int, option: int, shift: int) -> Operand:
    v = ctx.xz(rm)
    ext = _EXTENDS[option]
    if ext is not None:
        v = ctx.tmp(ext, v)
    return ctx.tmp("shl", v, shift) if shift else v


def _addsub_imm(sub: bool, flags: bool):
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, imm: int) -> bool:
        add_sub(ctx, sf, rd, ctx.xs(rn), imm, sub, flags, rd_sp=not flags)
        return True
    return trans


def _addsub_shift(sub: bool, flags: bool):
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, shift: int, amount: int) -> bool:
        add_sub(ctx, sf, rd, ctx.xz(rn), shifted_operand(ctx, sf, rm, shift, amount), sub, flags)
        return True
    return trans


def _addsub_ext(sub: bool, flags: bool):
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, option: int, shift: int) -> bool:
        add_sub(ctx, sf, rd, ctx.xs(rn), extended_operand(ctx, rm, option, shift), sub, flags,
                rd_sp=not flags)
        return True
    return trans


for _name, _sub, _flags in (("add", False, False), ("adds", False, True), ("sub", True, False),
                            ("subs", True, True)):
    globals()[f"trans_{_name}_imm"] = _addsub_imm(_sub, _flags)
    globals()[f"trans_{_name}_shift"] = _addsub_shift(_sub, _flags)
    globals()[f"trans_{_name}_ext"] = _addsub_ext(_sub, _flags)


def _logic_imm(op: str, flags: bool):
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, imm: int | None) -> bool:
        if imm is None:
            return False  # reserved N:imms
        _logic_op(ctx, sf, rd, op, ctx.xz(rn), imm, flags, rd_sp=not flags)
        return True
    return trans


def _logic_shift(op: str, flags: bool):
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, shift: int, amount: int) -> bool:
        _logic_op(ctx, sf, rd, op, ctx.xz(rn), shifted_operand(ctx, sf, rm, shift, amount), flags)
        return True
    return trans


#: logical instructions: (IR op, sets flags, has an immediate form)
_LOGIC = {"and": ("and", False, True), "orr": ("or", False, True), "eor": ("xor", False, True),
          "ands": ("and", True, True), "bic": ("andc", False, False), "orn": ("orc", False, False),
          "eon": ("xnor", False, False), "bics": ("andc", True, False)}
for _name, (_op, _flags, _has_imm) in _LOGIC.items():
    globals()[f"trans_{_name}_shift"] = _logic_shift(_op, _flags)
    if _has_imm:
        globals()[f"trans_{_name}_imm"] = _logic_imm(_op, _flags)


def _adc(sub: bool, flags: bool):
    """ADC/SBC(S): Xn + Xm (or NOT Xm) + C."""
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int) -> bool:
        a, b = ctx.xz(rn), ctx.xz(rm)
        if sub:
            b = ctx.tmp("not", b)
        if not flags:
            ctx.wr(rd, sf, "add", ctx.tmp("add", a, b), "cf")
            return True
        if sf:
            partial = ctx.tmp("add", a, b)
            res = ctx.tmp("add", partial, "cf")
            carry = ctx.tmp("setcond", partial, a, "ltu")
            ctx.emit("or", "cf", carry, ctx.tmp("setcond", res, partial, "ltu"))
            ctx.emit("andc", "vf", ctx.tmp("xor", res, a), ctx.tmp("xor", a, b))
            nz: Operand = res
        else:
            a, b = ctx.low32(a), ctx.low32(b)
            res = ctx.tmp("add", ctx.tmp("add", a, b), "cf")
            ctx.emit("shr", "cf", res, 32)
            ctx.emit("shl", "vf", ctx.tmp("andc", ctx.tmp("xor", res, a), ctx.tmp("xor", a, b)), 32)
            nz = ctx.tmp("shl", res, 32)
        _set_flags_nz(ctx, nz)
        ctx.wr(rd, sf, "mov", res)
        return True
    return trans


trans_adc, trans_adcs = _adc(False, False), _adc(False, True)
trans_sbc, trans_sbcs = _adc(True, False), _adc(True, True)


def _ccmp(sub: bool, imm: bool):
    """CCMP/CCMN: the flags of Xn -/+ op2 if the condition holds, else the immediate nzcv."""
    def trans(ctx: DisasContext, sf: int, rn: int, op2: int, nzcv: int, cond: int) -> bool:
        b: Operand = op2 if imm else ctx.xz(op2)
        test = condition(ctx, cond)
        if test is None:
            add_sub(ctx, sf, 31, ctx.xz(rn), b, sub, True)
        else:
            other, done = ctx.block.label(), ctx.block.label()
            ctx.emit("brcond", test[0], test[1], NEGATE_COND[test[2]], other)
            add_sub(ctx, sf, 31, ctx.xz(rn), b, sub, True)
            ctx.emit("br", done)
            ctx.emit("set_label", other)
            set_nzcv_imm(ctx, nzcv)
            ctx.emit("set_label", done)
        ctx.next_cmp = None
        return True
    return trans


trans_ccmp_reg, trans_ccmn_reg = _ccmp(True, False), _ccmp(False, False)
trans_ccmp_imm, trans_ccmn_imm = _ccmp(True, True), _ccmp(False, True)


def _csel(kind: str | None):
    """CSEL/CSINC/CSINV/CSNEG: Xn if the condition holds, else (a function of) Xm."""
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, cond: int) -> bool:
        test = condition(ctx, cond)
        if test is None:
            ctx.wr_value(rd, ctx.xz(rn), sf)
            return True
        b = ctx.xz(rm)
        if kind == "inc":
            b = ctx.tmp("add", b, 1)
        elif kind is not None:
            b = ctx.tmp(kind, b)
        ctx.wr(rd, sf, "movcond", *test, ctx.xz(rn), b)
        return True
    return trans


trans_csel, trans_csinc, trans_csinv, trans_csneg = _csel(None), _csel("inc"), _csel("not"), _csel("neg")


# --- data processing: immediate (C3.4.3-6) ----------------------------------------------------------

def trans_adr(ctx: DisasContext, rd: int, offset: int) -> bool:
    ctx.wr_value(rd, (ctx.pc + offset) & MASK64)
    return True


def trans_adrp(ctx: DisasContext, rd: int, offset: int) -> bool:
    ctx.wr_value(rd, ((ctx.pc & ~0xFFF) + offset) & MASK64)
    return True


def trans_movz(ctx: DisasContext, sf: int, rd: int, imm: int, shift: int) -> bool:
    ctx.wr_value(rd, imm << shift)
    return True


def trans_movn(ctx: DisasContext, sf: int, rd: int, imm: int, shift: int) -> bool:
    ctx.wr_value(rd, ~(imm << shift) & (MASK64 if sf else M32))
    return True


def trans_movk(ctx: DisasContext, sf: int, rd: int, imm: int, shift: int) -> bool:
    ctx.wr(rd, sf, "or", ctx.tmp("and", ctx.xz(rd), ~(0xFFFF << shift) & MASK64), imm << shift)
    return True


def _ones(n: int) -> int:
    return (1 << n) - 1


def trans_ubfm(ctx: DisasContext, sf: int, rd: int, rn: int, immr: int, imms: int) -> bool:
    """UBFX (imms >= immr: the field imms:immr to bit 0) or UBFIZ / LSL (the field imms:0 to
    bit width - immr); LSR and UXTB/UXTH are the special cases."""
    src = ctx.xz(rn)
    if imms >= immr:
        field = ctx.tmp("shr", src, immr) if immr else src
        length = imms - immr + 1
        if length < 64:
            ctx.wr(rd, 1, "and", field, _ones(length))
        else:
            ctx.wr_value(rd, field)
    else:
        ctx.wr(rd, 1, "shl", ctx.tmp("and", src, _ones(imms + 1)), (64 if sf else 32) - immr)
    return True


_SIGN_EXTENDS = {7: "ext8s", 15: "ext16s", 31: "ext32s"}


def trans_sbfm(ctx: DisasContext, sf: int, rd: int, rn: int, immr: int, imms: int) -> bool:
    """SBFX / ASR / SXTB.. (imms >= immr) or SBFIZ: the field moved to bit 0 (or bit width - immr)
    with the bits above it copies of its top bit."""
    src = ctx.xz(rn)
    if immr == 0 and imms in _SIGN_EXTENDS:
        ctx.wr(rd, sf, _SIGN_EXTENDS[imms], src)
        return True
    top = ctx.tmp("shl", src, 63 - imms) if imms < 63 else src  # the field's top bit to bit 63
    lsb = 0 if imms >= immr else (64 if sf else 32) - immr
    ctx.wr(rd, sf, "sar", top, 63 - imms + (immr if imms >= immr else -lsb))
    return True


def trans_bfm(ctx: DisasContext, sf: int, rd: int, rn: int, immr: int, imms: int) -> bool:
    """BFXIL (imms >= immr) or BFI / BFC: insert a field of Xn into Xd, keeping Xd's other bits."""
    src = ctx.xz(rn)
    if imms >= immr:
        length, lsb = imms - immr + 1, 0
        field = ctx.tmp("shr", src, immr) if immr else src
    else:
        length, lsb = imms + 1, (64 if sf else 32) - immr
        field = src
    mask = _ones(length)
    field = ctx.tmp("and", field, mask) if length < 64 else field
    if lsb:
        field = ctx.tmp("shl", field, lsb)
    ctx.wr(rd, sf, "or", ctx.tmp("andc", ctx.xz(rd), mask << lsb), field)
    return True


def trans_extr(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, lsb: int) -> bool:
    """EXTR / ROR (immediate): bits lsb.. of the concatenation Xn:Xm."""
    lo = ctx.xz(rm)
    if lsb == 0:
        ctx.wr_value(rd, lo, sf)
    elif rn == rm:
        ctx.wr(rd, 1, "rotr" if sf else "rotr32", lo, lsb)
    elif sf:
        ctx.wr(rd, 1, "or", ctx.tmp("shr", lo, lsb), ctx.tmp("shl", ctx.xz(rn), 64 - lsb))
    else:
        ctx.wr(rd, 0, "or", ctx.tmp("shr", ctx.low32(lo), lsb), ctx.tmp("shl", ctx.xz(rn), 32 - lsb))
    return True


# --- data processing: 1, 2 and 3 sources (C3.5.7-9) ------------------------------------------------

def _div(signed: bool):
    """UDIV/SDIV; division by zero gives zero."""
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int) -> bool:
        a, b = ctx.xz(rn), ctx.xz(rm)
        if not sf:
            ext = "ext32s" if signed else "ext32u"
            a, b = ctx.tmp(ext, a), ctx.tmp(ext, b)
        ctx.wr(rd, sf, "movcond", b, 0, "eq", 0, ctx.tmp("divs" if signed else "divu", a, b))
        return True
    return trans


trans_udiv, trans_sdiv = _div(False), _div(True)


def _shiftv(kind: int):
    """LSLV/LSRV/ASRV/RORV: shift by Xm modulo the register size."""
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int) -> bool:
        amount = ctx.tmp("and", ctx.xz(rm), 63 if sf else 31)
        src = ctx.xz(rn)
        if sf or kind == 0:
            ctx.wr(rd, sf, _SHIFT_OPS[kind], src, amount)
        elif kind == 1:
            ctx.wr(rd, 1, "shr", ctx.low32(src), amount)
        elif kind == 2:
            ctx.wr(rd, 0, "sar", ctx.tmp("ext32s", src), amount)
        else:
            ctx.wr(rd, 1, "rotr32", src, amount)
        return True
    return trans


trans_lslv, trans_lsrv, trans_asrv, trans_rorv = _shiftv(0), _shiftv(1), _shiftv(2), _shiftv(3)


def trans_rbit(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    if rd < 31:
        ctx.emit("call", f"x{rd}", ctx.H["rbit"], ctx.xz(rn), 64 if sf else 32)
    return True


def trans_rev16(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    """Byte-swap each halfword."""
    lo = 0x00FF00FF00FF00FF if sf else 0x00FF00FF
    src = ctx.xz(rn)
    high_bytes = ctx.tmp("and", ctx.tmp("shl", src, 8), lo << 8)
    ctx.wr(rd, 1, "or", ctx.tmp("and", ctx.tmp("shr", src, 8), lo), high_bytes)
    return True


def trans_rev32(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    ctx.wr(rd, 1, "rotr", ctx.tmp("bswap64", ctx.xz(rn)), 32)
    return True


def trans_rev(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    """The bytes of Xn reversed; of Wn: the upper half of its doubleword reversed."""
    ctx.wr(rd, 1, "shr", ctx.tmp("bswap64", ctx.xz(rn)), 0 if sf else 32)
    return True


def trans_clz(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    """Of Wn: the leading zeros of its zero-extension less the 32 upper ones."""
    ctx.wr(rd, 1, "sub", ctx.tmp("clz", ctx.xz(rn) if sf else ctx.low32(ctx.xz(rn))), 0 if sf else 32)
    return True


def trans_cls(ctx: DisasContext, sf: int, rd: int, rn: int) -> bool:
    """Leading bits equal to the sign bit, not counting it: clz(x ^ (x >> 63 arithmetic)) - 1."""
    v = ctx.xz(rn) if sf else ctx.tmp("ext32s", ctx.xz(rn))
    folded = ctx.tmp("xor", v, ctx.tmp("sar", v, 63))
    ctx.wr(rd, 1, "sub", ctx.tmp("clz", folded), 1 if sf else 33)
    return True


def _madd(sub: bool, ext: str | None = None):
    """MADD/MSUB, and with ``ext`` the widening SMADDL/SMSUBL/UMADDL/UMSUBL: Xa +/- Xn * Xm."""
    def trans(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int, ra: int) -> bool:
        a, b = ctx.xz(rn), ctx.xz(rm)
        if ext is not None:
            a, b = ctx.tmp(ext, a), ctx.tmp(ext, b)
        if ra == 31 and sub:  # MNEG, SMNEGL, UMNEGL
            ctx.wr(rd, sf, "neg", ctx.tmp("mul", a, b))
        elif ra == 31:  # MUL, SMULL, UMULL
            ctx.wr(rd, sf, "mul", a, b)
        else:
            ctx.wr(rd, sf, "sub" if sub else "add", ctx.xz(ra), ctx.tmp("mul", a, b))
        return True
    return trans


trans_madd, trans_msub = _madd(False), _madd(True)
trans_smaddl, trans_smsubl = _madd(False, "ext32s"), _madd(True, "ext32s")
trans_umaddl, trans_umsubl = _madd(False, "ext32u"), _madd(True, "ext32u")


def trans_smulh(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int) -> bool:
    ctx.wr(rd, 1, "mulsh", ctx.xz(rn), ctx.xz(rm))
    return True


def trans_umulh(ctx: DisasContext, sf: int, rd: int, rn: int, rm: int) -> bool:
    ctx.wr(rd, 1, "muluh", ctx.xz(rn), ctx.xz(rm))
    return True


# --- branches (C3.1) ------------------------------------------------------------------------------------

def _link(ctx: DisasContext) -> None:
    """X30 = the return address, which the call will likely come back to."""
    ctx.emit("mov", "x30", ctx.pc_next)
    ctx.block.hints.append(ctx.pc_next)


def trans_b(ctx: DisasContext, offset: int) -> bool:
    ctx.exit((ctx.pc + offset) & MASK64)
    return True


def trans_bl(ctx: DisasContext, offset: int) -> bool:
    _link(ctx)
    ctx.exit((ctx.pc + offset) & MASK64)
    return True


def trans_br(ctx: DisasContext, rn: int) -> bool:
    ctx.exit(ctx.xz(rn))
    return True


trans_ret = trans_br


def trans_blr(ctx: DisasContext, rn: int) -> bool:
    target = ctx.tmp("mov", "x30") if rn == 30 else ctx.xz(rn)
    _link(ctx)
    ctx.exit(target)
    return True


def trans_b_cond(ctx: DisasContext, cond: int, offset: int) -> bool:
    test = condition(ctx, cond)
    if test is None:
        ctx.exit((ctx.pc + offset) & MASK64)
    else:
        ctx.branch_if(*test, ctx.pc + offset)
    return True


def _cbz(cond: str):
    def trans(ctx: DisasContext, sf: int, rt: int, offset: int) -> bool:
        v = ctx.xz(rt) if sf else ctx.low32(ctx.xz(rt))
        ctx.branch_if(v, 0, cond, ctx.pc + offset)
        return True
    return trans


trans_cbz, trans_cbnz = _cbz("eq"), _cbz("ne")


def _tbz(cond: str):
    def trans(ctx: DisasContext, rt: int, bit: int, offset: int) -> bool:
        ctx.branch_if(ctx.tmp("and", ctx.xz(rt), 1 << bit), 0, cond, ctx.pc + offset)
        return True
    return trans


trans_tbz, trans_tbnz = _tbz("eq"), _tbz("ne")


# --- exception generation and system instructions (C3.2) --------------------------------------------

def trans_svc(ctx: DisasContext, imm: int) -> bool:
    ctx.raise_exc(EXCP_SWI, ctx.pc_next, imm)
    return True


def trans_brk(ctx: DisasContext, imm: int) -> bool:
    ctx.raise_exc(EXCP_BKPT, ctx.pc, imm)
    return True


def trans_hlt(ctx: DisasContext, imm: int) -> bool:
    return False  # halting debug is not enabled: UNDEFINED


def trans_nop(ctx: DisasContext) -> bool:
    return True


def trans_hint(ctx: DisasContext, number: int) -> bool:
    """YIELD, WFE, WFI, SEV, BTI, the pointer authentication hints of a CPU without them, ...: NOPs
    for a single EL0 thread that has nothing to wait for."""
    return True


def _barrier(ctx: DisasContext, crm: int) -> bool:
    """DMB/DSB/ISB: translated code's accesses are sequentially consistent, and stores into translated
    code already end the block that made them."""
    return True


trans_dmb = trans_dsb = trans_isb = _barrier


def trans_clrex(ctx: DisasContext) -> bool:
    ctx.emit("mov", "excl_addr", EXCL_NONE)
    return True


def _read_nzcv(ctx: DisasContext) -> str:
    n = ctx.tmp("shl", ctx.tmp("shr", "nf", 63), 31)
    z = ctx.tmp("shl", ctx.tmp("setcond", "zf", 0, "eq"), 30)
    c = ctx.tmp("shl", "cf", 29)
    v = ctx.tmp("shl", ctx.tmp("shr", "vf", 63), 28)
    return ctx.tmp("or", ctx.tmp("or", n, z), ctx.tmp("or", c, v))


def _write_nzcv(ctx: DisasContext, value: Operand) -> None:
    ctx.emit("shl", "nf", ctx.tmp("and", value, 1 << 31), 32)
    ctx.emit("andc", "zf", 1 << 30, value)
    ctx.emit("and", "cf", ctx.tmp("shr", value, 29), 1)
    ctx.emit("shl", "vf", ctx.tmp("and", value, 1 << 28), 35)


def _read_counter(ctx: DisasContext) -> str:
    t = ctx.block.temp()
    ctx.emit("call", t, ctx.H["cntvct"])
    return t


#: MRS readers by register name: the value as an IR operand
_SYSREG_READ = {
    "TPIDR_EL0": lambda ctx: "el0_tpidr",
    "TPIDRRO_EL0": lambda ctx: 0,  # read-only at EL0; Linux keeps it zero for user space
    "NZCV": _read_nzcv,
    "FPCR": lambda ctx: "fpcr",
    "FPSR": lambda ctx: "fpsr",
    "CNTVCT_EL0": _read_counter,
    "CNTFRQ_EL0": lambda ctx: CNTFRQ_HZ,
    "CTR_EL0": lambda ctx: CTR_EL0,
    "DCZID_EL0": lambda ctx: DCZID_EL0,
}
#: MSR writers by register name (the others are read-only at EL0)
_SYSREG_WRITE = {
    "TPIDR_EL0": lambda ctx, v: ctx.emit("mov", "el0_tpidr", v),
    "NZCV": _write_nzcv,
    "FPCR": lambda ctx, v: ctx.emit("and", "fpcr", v, FPCR_MASK),
    "FPSR": lambda ctx, v: ctx.emit("and", "fpsr", v, FPSR_MASK),
}


def trans_mrs(ctx: DisasContext, op0: int, op1: int, crn: int, crm: int, op2: int, rt: int) -> bool:
    key = sysreg_key(op0, op1, crn, crm, op2)
    name = EL0_SYSREGS.get(key)
    if name is not None:
        ctx.wr_value(rt, _SYSREG_READ[name](ctx))
        return True
    if not is_emulated_id_register(key):
        return False
    ids = id_registers(ctx.features)
    if crm == 0 and key not in ids:
        return False  # the kernel emulates only MIDR, MPIDR and REVIDR there
    ctx.wr_value(rt, ids.get(key, 0))
    return True


def trans_msr_reg(ctx: DisasContext, op0: int, op1: int, crn: int, crm: int, op2: int, rt: int) -> bool:
    writer = _SYSREG_WRITE.get(EL0_SYSREGS.get(sysreg_key(op0, op1, crn, crm, op2), ""))
    if writer is None:
        return False
    writer(ctx, ctx.xz(rt))
    return True


def trans_sys(ctx: DisasContext, op0: int, op1: int, crn: int, crm: int, op2: int, rt: int) -> bool:
    """DC ZVA zeroes its block; the cache maintenance operations EL0 may use are no-ops here (stores
    into translated code are caught when they happen)."""
    op = EL0_SYS_OPS.get(sysreg_key(op0, op1, crn, crm, op2))
    if op is None:
        return False
    if op == "DC ZVA":
        block = ctx.tmp("andc", ctx.xz(rt), ZVA_BYTES - 1)
        for offset in range(0, ZVA_BYTES, 8):
            ctx.emit("st", 0, ctx.tmp("add", block, offset) if offset else block, MO_64)
    return True


# --- loads and stores (C3.3) ------------------------------------------------------------------------

def _address(ctx: DisasContext, rn: int, offset: Operand, mode: str) -> tuple[Operand, Operand | None]:
    """(access address, value written back to the base or None) for ``mode`` "offset", "pre" or
    "post"; ``offset`` is a constant or an IR value."""
    base = ctx.xs(rn)
    if isinstance(offset, int):
        offset &= MASK64
    moved = base if offset == 0 else ctx.tmp("add", base, offset)
    if mode == "post":
        return base, moved
    return moved, moved if mode == "pre" else None


def _writeback(ctx: DisasContext, rn: int, value: Operand | None) -> None:
    if value is not None:
        ctx.emit("mov", ctx.xs(rn), value)


def _gpr_load(ctx: DisasContext, memop: int, dest64: bool, rt: int, addr: Operand) -> None:
    """Xt or Wt = [addr] (the load happens even into XZR: it may fault)."""
    if rt == 31:
        ctx.emit("ld", ctx.block.temp(), addr, memop)
    elif memop & SIGN and not dest64:
        ctx.emit("ext32u", f"x{rt}", ctx.tmp("ld", addr, memop))
    else:
        ctx.emit("ld", f"x{rt}", addr, memop)


def _load(signed: bool, mode: str):
    """LDR/LDRB/LDRH/LDRS* with an immediate offset ("offset", "pre", "post")."""
    def trans(ctx: DisasContext, size: int, dest64: bool, rt: int, rn: int, offset: int) -> bool:
        addr, wb = _address(ctx, rn, offset, mode)
        _gpr_load(ctx, size | (SIGN if signed else 0), dest64, rt, addr)
        _writeback(ctx, rn, wb)
        return True
    return trans


def _store(mode: str):
    def trans(ctx: DisasContext, size: int, dest64: bool, rt: int, rn: int, offset: int) -> bool:
        addr, wb = _address(ctx, rn, offset, mode)
        ctx.emit("st", ctx.xz(rt), addr, size)
        _writeback(ctx, rn, wb)
        return True
    return trans


def _load_reg(signed: bool):
    def trans(ctx: DisasContext, size: int, dest64: bool, rt: int, rn: int, rm: int, option: int,
              shift: int) -> bool:
        addr, _ = _address(ctx, rn, extended_operand(ctx, rm, option, shift), "offset")
        _gpr_load(ctx, size | (SIGN if signed else 0), dest64, rt, addr)
        return True
    return trans


def _store_reg(ctx: DisasContext, size: int, dest64: bool, rt: int, rn: int, rm: int, option: int,
               shift: int) -> bool:
    addr, _ = _address(ctx, rn, extended_operand(ctx, rm, option, shift), "offset")
    ctx.emit("st", ctx.xz(rt), addr, size)
    return True


def _prefetch(ctx: DisasContext, *args: int) -> bool:
    """PRFM/PRFUM: hints that never fault."""
    return True


# unscaled offsets (LDUR...); the unprivileged LDTR... are the same accesses at EL0
trans_ldur = trans_ldurb = trans_ldurh = _load(False, "offset")
trans_ldursb = trans_ldursh = trans_ldursw = _load(True, "offset")
trans_stur = trans_sturb = trans_sturh = _store("offset")
trans_ldtr, trans_ldtrb, trans_ldtrh = trans_ldur, trans_ldurb, trans_ldurh
trans_ldtrsb, trans_ldtrsh, trans_ldtrsw = trans_ldursb, trans_ldursh, trans_ldursw
trans_sttr, trans_sttrb, trans_sttrh = trans_stur, trans_sturb, trans_sturh
trans_ldr_reg = trans_ldrb_reg = trans_ldrh_reg = _load_reg(False)
trans_ldrsb_reg = trans_ldrsh_reg = trans_ldrsw_reg = _load_reg(True)
trans_str_reg = trans_strb_reg = trans_strh_reg = _store_reg
trans_prfm_imm = trans_prfm_reg = trans_prfm_lit = trans_prfum = _prefetch


def trans_ldr_lit(ctx: DisasContext, size: int, rt: int, offset: int) -> bool:
    _gpr_load(ctx, size, True, rt, (ctx.pc + offset) & MASK64)
    return True


def trans_ldrsw_lit(ctx: DisasContext, size: int, rt: int, offset: int) -> bool:
    _gpr_load(ctx, size | SIGN, True, rt, (ctx.pc + offset) & MASK64)
    return True


def _pair(load: bool, signed: bool, mode: str):
    """LDP/STP/LDPSW: two registers at consecutive addresses."""
    def trans(ctx: DisasContext, size: int, rt: int, rt2: int, rn: int, offset: int) -> bool:
        addr, wb = _address(ctx, rn, offset, mode)
        addr2 = ctx.tmp("add", addr, 1 << size)
        if load:
            memop = size | (SIGN if signed else 0)
            first, second = ctx.tmp("ld", addr, memop), ctx.tmp("ld", addr2, memop)
            ctx.wr_value(rt, first)
            ctx.wr_value(rt2, second)
        else:
            ctx.emit("st", ctx.xz(rt), addr, size)
            ctx.emit("st", ctx.xz(rt2), addr2, size)
        _writeback(ctx, rn, wb)
        return True
    return trans


# --- SIMD&FP register loads and stores (C3.3, LDR/STR (SIMD&FP)): B, H, S, D write the low bits of Vt
# and clear the rest; Q is two doublewords, the low one at the lower address -----------------------------

def _fp_load(ctx: DisasContext, size: int, addr: Operand) -> tuple[Operand, Operand]:
    """Load (without writing Vt yet): the (low, high) doublewords."""
    if size < 4:
        return ctx.tmp("ld", addr, size), 0
    return ctx.tmp("ld", addr, MO_64), ctx.tmp("ld", ctx.tmp("add", addr, 8), MO_64)


def _fp_set(ctx: DisasContext, rt: int, value: tuple[Operand, Operand]) -> None:
    ctx.emit("mov", f"v{rt}l", value[0])
    ctx.emit("mov", f"v{rt}h", value[1])


def _fp_store(ctx: DisasContext, size: int, rt: int, addr: Operand) -> None:
    if size < 4:
        ctx.emit("st", f"v{rt}l", addr, size)
    else:
        ctx.emit("st", f"v{rt}l", addr, MO_64)
        ctx.emit("st", f"v{rt}h", ctx.tmp("add", addr, 8), MO_64)


def _fp_ldst(load: bool, mode: str):
    def trans(ctx: DisasContext, size: int, rt: int, rn: int, offset: int) -> bool:
        addr, wb = _address(ctx, rn, offset, mode)
        if load:
            _fp_set(ctx, rt, _fp_load(ctx, size, addr))
        else:
            _fp_store(ctx, size, rt, addr)
        _writeback(ctx, rn, wb)
        return True
    return trans


def _fp_ldst_reg(load: bool):
    def trans(ctx: DisasContext, size: int, rt: int, rn: int, rm: int, option: int, shift: int) -> bool:
        addr, _ = _address(ctx, rn, extended_operand(ctx, rm, option, shift), "offset")
        if load:
            _fp_set(ctx, rt, _fp_load(ctx, size, addr))
        else:
            _fp_store(ctx, size, rt, addr)
        return True
    return trans


trans_ldur_fp, trans_stur_fp = _fp_ldst(True, "offset"), _fp_ldst(False, "offset")
trans_ldr_fp_reg, trans_str_fp_reg = _fp_ldst_reg(True), _fp_ldst_reg(False)


def trans_ldr_fp_lit(ctx: DisasContext, size: int, rt: int, offset: int) -> bool:
    _fp_set(ctx, rt, _fp_load(ctx, size, (ctx.pc + offset) & MASK64))
    return True


def _fp_pair(load: bool, mode: str):
    def trans(ctx: DisasContext, size: int, rt: int, rt2: int, rn: int, offset: int) -> bool:
        addr, wb = _address(ctx, rn, offset, mode)
        addr2 = ctx.tmp("add", addr, 1 << size)
        if load:
            first, second = _fp_load(ctx, size, addr), _fp_load(ctx, size, addr2)
            _fp_set(ctx, rt, first)
            _fp_set(ctx, rt2, second)
        else:
            _fp_store(ctx, size, rt, addr)
            _fp_store(ctx, size, rt2, addr2)
        _writeback(ctx, rn, wb)
        return True
    return trans


# unsigned offset (pairs: signed offset), pre- and post-index forms
for _sfx, _mode in (("_imm", "offset"), ("_pre", "pre"), ("_post", "post")):
    for _n in ("ldr", "ldrb", "ldrh"):
        globals()[f"trans_{_n}{_sfx}"] = _load(False, _mode)
    for _n in ("ldrsb", "ldrsh", "ldrsw"):
        globals()[f"trans_{_n}{_sfx}"] = _load(True, _mode)
    for _n in ("str", "strb", "strh"):
        globals()[f"trans_{_n}{_sfx}"] = _store(_mode)
    globals()[f"trans_ldr_fp{_sfx}"] = _fp_ldst(True, _mode)
    globals()[f"trans_str_fp{_sfx}"] = _fp_ldst(False, _mode)
    _psfx = "" if _mode == "offset" else _sfx
    globals()[f"trans_ldp{_psfx}"] = _pair(True, False, _mode)
    globals()[f"trans_ldpsw{_psfx}"] = _pair(True, True, _mode)
    globals()[f"trans_stp{_psfx}"] = _pair(False, False, _mode)
    globals()[f"trans_ldp_fp{_psfx}"] = _fp_pair(True, _mode)
    globals()[f"trans_stp_fp{_psfx}"] = _fp_pair(False, _mode)
# the no-allocate pairs: a hint about caching
trans_ldnp, trans_stnp = _pair(True, False, "offset"), _pair(False, False, "offset")
trans_ldnp_fp, trans_stnp_fp = _fp_pair(True, "offset"), _fp_pair(False, "offset")


# --- exclusives, load-acquire / store-release (B2.9, C3.3.7-8) ----------------------------------------

def check_alignment(ctx: DisasContext, addr: Operand, nbytes: int) -> None:
    """Alignment fault unless ``addr`` is a multiple of ``nbytes`` (checked inline, faulting through a
    helper)."""
    if nbytes == 1:
        return
    ok = ctx.block.label()
    ctx.emit("brcond", ctx.tmp("and", addr, nbytes - 1), 0, "eq", ok)
    ctx.emit("call", None, ctx.H["align_fault"], addr)
    ctx.emit("set_label", ok)


def trans_ldar(ctx: DisasContext, size: int, rt: int, rn: int) -> bool:
    addr = ctx.xs(rn)
    check_alignment(ctx, addr, 1 << size)
    _gpr_load(ctx, size, True, rt, addr)
    return True


def trans_stlr(ctx: DisasContext, size: int, rt: int, rn: int) -> bool:
    addr = ctx.xs(rn)
    check_alignment(ctx, addr, 1 << size)
    ctx.emit("st", ctx.xz(rt), addr, size)
    return True


def trans_ldxr(ctx: DisasContext, size: int, rs: int, rt: int, rt2: int, rn: int) -> bool:
    """Load and open the monitor on the address, remembering the value for the store-exclusive."""
    addr = ctx.xs(rn)
    check_alignment(ctx, addr, 1 << size)
    value = ctx.tmp("ld", addr, size)
    ctx.emit("mov", "excl_addr", addr)
    ctx.emit("mov", "excl_val", value)
    ctx.wr_value(rt, value)
    return True


trans_ldaxr = trans_ldxr


def trans_stxr(ctx: DisasContext, size: int, rs: int, rt: int, rt2: int, rn: int) -> bool:
    status = ctx.block.temp()
    ctx.emit("call", status, ctx.H["stxr"], ctx.xs(rn), ctx.xz(rt), size, "excl_addr", "excl_val")
    ctx.emit("mov", "excl_addr", EXCL_NONE)
    ctx.wr_value(rs, status)
    return True


trans_stlxr = trans_stxr


def trans_ldxp(ctx: DisasContext, size: int, rs: int, rt: int, rt2: int, rn: int) -> bool:
    """A pair of words is one doubleword access; a pair of doublewords must be 16-byte aligned."""
    addr = ctx.xs(rn)
    check_alignment(ctx, addr, 2 << size)
    first = ctx.tmp("ld", addr, MO_64)
    if size == 2:
        ctx.emit("mov", "excl_addr", addr)
        ctx.emit("mov", "excl_val", first)
        ctx.wr_value(rt, first, 0)
        ctx.wr(rt2, 1, "shr", first, 32)
        return True
    second = ctx.tmp("ld", ctx.tmp("add", addr, 8), MO_64)
    ctx.emit("mov", "excl_addr", addr)
    ctx.emit("mov", "excl_val", first)
    ctx.emit("mov", "excl_val2", second)
    ctx.wr_value(rt, first)
    ctx.wr_value(rt2, second)
    return True


trans_ldaxp = trans_ldxp


def _word_pair(ctx: DisasContext, lo: int, hi: int) -> Operand:
    """W(lo) in the low and W(hi) in the high half of a doubleword."""
    return ctx.tmp("or", ctx.low32(ctx.xz(lo)), ctx.tmp("shl", ctx.xz(hi), 32))


def trans_stxp(ctx: DisasContext, size: int, rs: int, rt: int, rt2: int, rn: int) -> bool:
    status = ctx.block.temp()
    if size == 2:
        ctx.emit("call", status, ctx.H["stxr"], ctx.xs(rn), _word_pair(ctx, rt, rt2), MO_64, "excl_addr",
                 "excl_val")
    else:
        ctx.emit("call", status, ctx.H["stxp"], ctx.xs(rn), ctx.xz(rt), ctx.xz(rt2), "excl_addr", "excl_val",
                 "excl_val2")
    ctx.emit("mov", "excl_addr", EXCL_NONE)
    ctx.wr_value(rs, status)
    return True


trans_stlxp = trans_stxp


# --- LSE atomics (C3.3.12-13): helpers do the read-modify-write under the atomic lock ----------------

def trans_cas(ctx: DisasContext, size: int, acquire: int, release: int, rs: int, rt: int, rn: int) -> bool:
    if FEATURE_LSE not in ctx.features:
        return False
    old = ctx.block.temp()
    ctx.emit("call", old, ctx.H["cas"], ctx.xs(rn), ctx.xz(rs), ctx.xz(rt), size)
    ctx.wr_value(rs, old)
    return True


def trans_casp(ctx: DisasContext, size: int, acquire: int, release: int, rs: int, rt: int, rn: int) -> bool:
    """CASP: compare Xs:X(s+1) (or the word pair) with memory, store Xt:X(t+1) if equal; the old pair
    goes to Xs:X(s+1)."""
    if FEATURE_LSE not in ctx.features:
        return False
    old = ctx.block.temp()
    if size == 2:
        ctx.emit("call", old, ctx.H["cas"], ctx.xs(rn), _word_pair(ctx, rs, rs + 1),
                 _word_pair(ctx, rt, rt + 1), MO_64)
        ctx.wr_value(rs, old, 0)
        ctx.wr(rs + 1, 1, "shr", old, 32)
    else:
        ctx.emit("call", old, ctx.H["casp"], ctx.xs(rn), ctx.xz(rs), ctx.xz(rs + 1), ctx.xz(rt),
                 ctx.xz(rt + 1))
        ctx.wr_value(rs, old)
        ctx.wr_value(rs + 1, "casp_hi")
    return True


def _atomic(name: str):
    """LD<op>/SWP (ST<op> when Xt is XZR): Xt = the old value, memory = op(old, Xs)."""
    def trans(ctx: DisasContext, size: int, acquire: int, release: int, rs: int, rt: int, rn: int) -> bool:
        if FEATURE_LSE not in ctx.features:
            return False
        old = ctx.block.temp()
        ctx.emit("call", old, ctx.H[name], ctx.xs(rn), ctx.xz(rs), size)
        ctx.wr_value(rt, old)
        return True
    return trans


for _name in ("ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin", "swp"):
    globals()[f"trans_{_name}"] = _atomic(_name)


# --- the decoder --------------------------------------------------------------------------------------

#: modules of further instruction groups, each with its own decode ``TABLE`` (same syntax as
#: :data:`insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers (they build on this module's context)
EXTENSIONS = ("translate_a64_fp", "translate_a64_simd", "translate_a64_crypto", "translate_a64_vfp")


def _handlers(namespace: dict[str, object]) -> dict[str, object]:
    return {name[6:]: fn for name, fn in namespace.items() if name.startswith("trans_")}


@functools.cache
def decoder() -> Decoder:
    """The A64 decoder: the base table here plus the extension modules' tables."""
    tables, formats, handlers = [insn_a64.TABLE], dict(insn_a64.FORMATS), _handlers(globals())
    for name in EXTENSIONS:
        module = importlib.import_module(f".{name}", __package__)
        tables.append(module.TABLE)
        formats.update(module.FORMATS)
        handlers.update(_handlers(vars(module)))
    return Decoder(parse_table("\n".join(tables), 32), formats, handlers, group_mask=insn_a64.GROUP_MASK)


def gen_block(env: GuestCode, pc: int, max_insns: int = MAX_INSNS) -> Block:
    """Translate guest code at ``pc`` into one IR block (see :func:`translator_loop` for faults and
    breakpoints); a misaligned ``pc`` (a branch to it) raises the alignment fault."""
    if pc & 3:
        raise GuestFault(EXCP_UNALIGNED, pc)
    block = Block(pc)
    ctx = DisasContext(block, env)
    decode = decoder().decode

    def translate(at: int, insn: int, length: int) -> bool:
        ctx.pc, ctx.pc_next = at, at + 4
        ctx.cmp, ctx.next_cmp = ctx.next_cmp, None
        d = decode(insn)
        if d is None or not d[0](ctx, *d[1]):
            ctx.raise_exc(EXCP_UDEF, at, insn)
        return ctx.ended

    translator_loop(block, max_insns, env.breakpoints, lambda at: (env.fetch32(at), 4), translate,
                    lambda at: ctx.raise_exc(EXCP_DEBUG, at))
    return block
