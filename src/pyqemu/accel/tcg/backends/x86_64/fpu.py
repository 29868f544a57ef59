"""Floating-point helpers inlined as host SSE code (QEMU has no such thing: its soft-float is C).

Two guests call soft-float helpers whose basic arithmetic the host computes with the very same IEEE 754
results, so those calls become inline scalar SSE (and FMA3) code:

* RISC-V F/D: the bit-exact functions of :mod:`pyqemu.fpu.softfloat` (``f64_add(a, b, rm) -> (bits,
  flags)``, flags OR-ed into the ``fflags`` global): ``f32_``/``f64_`` ``add``, ``sub``, ``mul``,
  ``div``, ``sqrt`` and the fused ``madd``, ``msub``, ``nmsub``, ``nmadd`` (the latter four only when
  the host has FMA3), with a static rounding mode 0..3 (RNE, RTZ, RDN, RUP -> MXCSR.RC 00, 11, 01, 10)
  or the dynamic one (``frm``);
* A64 scalar FP: the helpers of :mod:`pyqemu.target.arm.fpu_helper` (``fp_add_d(a, b, fpcr)``, FPSR
  cumulative bits OR-ed into the ``fpsr`` global): ``fp_`` ``add``, ``sub``, ``mul``, ``div``,
  ``sqrt`` and ``fma`` (n * m + a; FMSUB, FNMADD, FNMSUB and FNMUL negate in IR around it) of ``_s``
  and ``_d``, the rounding mode from FPCR.RMode (RN, RP, RM, RZ -> RC 00, 10, 01, 11);
* A64 Advanced SIMD FP: :mod:`pyqemu.target.arm.vfp_helper`'s ``vf_`` helpers of the same element
  functions and of ``fmls`` ((-n) * m + a: x86 fnmadd), lane-wise on a 64-bit half (one D lane, or two
  S lanes computed one after the other with scalar SSE, their flags OR-ed) or the element function
  itself (the scalar forms).

The sequence: load an MXCSR image (all exceptions masked, DAZ/FTZ off, RC from the rounding mode, flags
clear), the operation on xmm0..xmm2 (a second S lane: xmm3..xmm5), ``ucomis`` of the result with
itself (PF: NaN), store MXCSR,
restore the host default 0x1F80 (C and Python code run between ops), then map the flags: PE alone (by
far the most common outcome) ORs the inexact bit (NX, IXC) into the accumulated flags inline; any other
combination goes out of line (IE->NV/IOC, ZE->DZ/DZC, OE->OF/OFC, UE->UF/UFC, PE->NX/IXC; DE ignored).

Where the host and the guest differ, the ordinary helper call (out of line) computes the result instead:

* any NaN result: RISC-V returns the canonical NaN and Arm propagates the first signalling, else the
  first quiet NaN operand (or gives its default NaN, FPCR.DN) where x86 propagates the first operand's
  payload or gives the negative default NaN; the invalid flag rules differ for fused ops too (0 * inf
  + qNaN raises NV/IOC);
* tininess: RISC-V detects it after rounding.  SSE does too on the hosts measured (Intel: a value just
  below 2**emin that rounds to it raises PE alone), but a host detecting it before rounding would
  disagree exactly when a tiny inexact value rounds to the smallest normal magnitude, so UE with a
  +-min normal result (rare, and on the already out-of-line flag path) also takes the helper.  Arm
  detects tininess before rounding: an inexact +-min normal result (PE, on the inline path too) may or
  may not raise UFC there, so the helper decides (with two S lanes: any inexact result with a +-min
  normal lane);
* RISC-V: a dynamic rounding mode other than 0..3: RMM (4) has no SSE equivalent, 5..7 are reserved
  (the helper raises illegal instruction).  A static RMM is not inlined at all (the emitter returns
  False: op_call emits the plain call);
* Arm: FPCR.FZ set (flush-to-zero of denormal operands and of tiny results, IDC): tested at run time
  (a constant FPCR with FZ is a plain call).  FPCR.DN only matters for NaN results, AHP not at all.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .....fpu import softfloat
from ...ir import Helper
from .asm import RAX, RSP, Assembler, Cond, Label, Mem
from .regalloc import SCRATCH

MXCSR_DEFAULT = 0x1F80
_PE, _UE, _OE, _ZE, _IE = 0x20, 0x10, 0x08, 0x04, 0x01
#: the MXCSR exception flags, in the order of the guests' flags in the maps below
_X86_FLAGS = (_IE, _ZE, _OE, _UE, _PE)
#: scratch words of the frame for ldmxcsr/stmxcsr (op_call's arguments use the low ones)
_MXCSR_WORD = Mem(RSP, SCRATCH + 8 * 15)
_DEFAULT_WORD = Mem(RSP, SCRATCH + 8 * 14)

#: RISC-V rm 0..3 -> MXCSR.RC
_RC = (0b00, 0b11, 0b01, 0b10)
_FLAG_MAP = tuple(zip(_X86_FLAGS, (softfloat.NV, softfloat.DZ, softfloat.OF, softfloat.UF, softfloat.NX),
                      strict=True))
_ARITH = ("add", "sub", "mul", "div", "sqrt")
#: RISC-V fused op -> x86 FMA3 kind: fmadd a*b+c, fmsub a*b-c, fnmsub -(a*b)+c, fnmadd -(a*b)-c
_FUSED = {"madd": "madd", "msub": "msub", "nmsub": "nmadd", "nmadd": "nmsub"}

#: Arm FPCR.RMode (RN, RP, RM, RZ) -> MXCSR.RC
_ARM_RC = (0b00, 0b10, 0b01, 0b11)
#: the x86 FMA3 kinds (vfma213)
_FMA_KINDS = ("madd", "msub", "nmadd", "nmsub")
#: the Arm element functions inlined -> the x86 operation: fma is n * m + a (x86 fmadd), fmls (FMLS)
#: (-n) * m + a (x86 fnmadd: -(n * m) + a)
_ARM_OPS = {**{op: op for op in _ARITH}, "fma": "madd", "fmls": "nmadd"}


def _host_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


HAS_FMA = "fma" in _host_flags()

_cache: dict[int, tuple[Helper, Callable[[Any, tuple], bool] | None]] = {}


def intrinsic(h: Helper) -> Callable[[Any, tuple], bool] | None:
    """The inline emitter for calls of ``h``, if there is one.  It returns False to fall back to a
    plain call for an operand combination it does not handle."""
    entry = _cache.get(id(h))
    if entry is None or entry[0] is not h:
        entry = _cache[id(h)] = (h, _make(h))
    return entry[1]


def _make(h: Helper) -> Callable[[Any, tuple], bool] | None:
    if h.pass_cpu or not h.accumulate:
        return None
    if h.name.startswith(("fp_", "vf_")):
        return _make_arm(h)
    name = h.name
    dynamic = name.endswith("_dyn")
    base = name[:-4] if dynamic else name
    prefix, _, op = base.partition("_")
    if prefix not in ("f32", "f64"):
        return None
    if op not in _ARITH and (op not in _FUSED or not HAS_FMA):
        return None
    ref = getattr(softfloat, base, None)
    if ref is None or inspect.unwrap(h.fn) is not ref:
        return None
    size = 32 if prefix == "f32" else 64
    nsrc = 1 if op == "sqrt" else 3 if op in _FUSED else 2
    return _RiscvEmitter(h, _FUSED.get(op, op), size, nsrc, dynamic)


def _make_arm(h: Helper) -> Callable[[Any, tuple], bool] | None:
    """``fp_<op>_<s|d>``: the scalar FP helpers; ``vf_<op>_<s|d>``: the Advanced SIMD ones, the element
    function on one operand set (scalar forms) or lane-wise on 64-bit halves (one D or two S lanes)."""
    prefix, _, name = h.name.partition("_")
    op, _, fmt = name.rpartition("_")
    kind = _ARM_OPS.get(op)
    if prefix not in ("fp", "vf") or fmt not in ("s", "d") or kind is None or (
            kind in _FMA_KINDS and not HAS_FMA):
        return None
    # (guest modules: imported only when such a helper shows up)
    from .....target.arm import fpu_helper, vfp_helper

    nsrc = 1 if op == "sqrt" else 3 if kind in _FMA_KINDS else 2
    size = 32 if fmt == "s" else 64
    fn = inspect.unwrap(h.fn)
    if prefix == "fp":
        lanes = 1 if fn is fpu_helper.HELPERS.get(name) else 0
    elif not isinstance(fn, functools.partial) or fn.keywords:
        lanes = 0
    elif fn.func is vfp_helper.ELEMENTS.get(name):
        lanes = 0 if fn.args else 1
    else:
        lane_wise = fn.func is vfp_helper.lanewise and fn.args == (vfp_helper.ELEMENTS.get(name), size, nsrc)
        lanes = 64 // size if lane_wise else 0
    if not lanes:
        return None
    return _ArmEmitter(h, kind, size, nsrc, fpu_helper, lanes)


def _min_normal_to(asm: Assembler, t: int, res: int, size: int, lanes: int, target: Label) -> None:
    """Jump to ``target`` if a lane of ``res`` is +-the smallest normal number (clobbers ``t``)."""
    for lane in range(lanes):
        asm.mov(t, res)
        if size == 64:
            asm.shl(t, 1)
            asm.rol(t, 11)
            asm.cmp_imm(t, 1)
        else:
            if lane:
                asm.shr(t, 32)
            asm.and_imm(t, 0x7FFFFFFF, 32)
            asm.cmp_imm(t, 0x00800000, 32)
        asm.jcc(Cond.E, target)


class _Emitter:
    """Emits one inlined soft-float call (see the module docstring); the guest's part: its control
    argument (the last one: rounding mode or FPCR), flags and tininess rule."""

    #: (MXCSR flag, guest flag) pairs, and the guest's inexact flag
    flag_map: tuple[tuple[int, int], ...]
    inexact: int
    #: MXCSR flags with which a +-min normal result takes the helper (tininess detection)
    guard: int

    def __init__(self, h: Helper, kind: str, size: int, nsrc: int, lanes: int = 1):
        self.h = h
        self.kind = kind  # an SSE arithmetic op, or an FMA3 kind (three sources)
        self.size = size
        self.nsrc = nsrc
        self.lanes = lanes  # 2: two single-precision lanes in each 64-bit operand (and the result)

    def accepts(self, ctl: int | str) -> bool:
        """Whether the control argument (a constant or a value) may be inlined at all."""
        raise NotImplementedError

    def static_mxcsr(self, ctl: int) -> int:
        raise NotImplementedError

    def dynamic_mxcsr(self, asm: Assembler, ctl: int, t: int, slow: Label) -> None:
        """Store the MXCSR image for the control value in register ``ctl`` at _MXCSR_WORD, or jump to
        ``slow`` if it is not inlined (``t`` is free)."""
        raise NotImplementedError

    def __call__(self, c: Any, op: tuple) -> bool:
        d, h, args = op[1], op[2], op[3:]
        if len(args) != self.nsrc + 1 or d is None:
            return False
        if not self.accepts(args[-1]):
            return False
        if h.accumulate not in c.slots:
            return False
        self._emit(c, d, args[:-1], args[-1])
        return True

    def _emit(self, c: Any, d: str, srcs: tuple, ctl: int | str) -> None:
        from .codegen import ARG_REGS  # (codegen imports this module)

        asm, ra = c.asm, c.ra
        size = self.size
        regs = [c.src(v) for v in srcs]
        ctl_reg = ra.reg(ctl) if isinstance(ctl, str) else None
        acc = self.h.accumulate
        rf = ra.reg(acc)
        res = ra.alloc()
        t = ra.alloc()
        u = ra.alloc() if self.lanes > 1 else t
        # the state the out-of-line helper call must save (before this op's results are defined)
        frame = c.slow_frame(None)
        callback = c.rt.callback(self.h, len(srcs) + 1)
        slow, done, flags_ool = asm.label(), asm.label(), asm.label()

        if ctl_reg is not None:
            self.dynamic_mxcsr(asm, ctl_reg, t, slow)
        else:
            asm.mov_imm(_MXCSR_WORD, self.static_mxcsr(ctl), 32)  # type: ignore[arg-type]
        # lane k: sources in xmm(3k)..xmm(3k + 2), the result in xmm(3k)
        for i, r in enumerate(regs):
            asm.movq_to_xmm(i, r, size)
            if self.lanes > 1:
                asm.mov(u, r)
                asm.shr(u, 32)
                asm.movq_to_xmm(3 + i, u, size)
        asm.ldmxcsr(_MXCSR_WORD)
        for x in range(0, 3 * self.lanes, 3):
            if self.nsrc == 3:
                asm.vfma213(self.kind, x, x + 1, x + 2, size)  # xmm0 = xmm1 * xmm0 +- xmm2
            elif self.nsrc == 1:
                asm.sse_arith(self.kind, x, x, size)
            else:
                asm.sse_arith(self.kind, x, x + 1, size)
        asm.ucomis(0, 0, size)  # PF: the result is a NaN
        asm.stmxcsr(_MXCSR_WORD)
        asm.mov_imm(_DEFAULT_WORD, MXCSR_DEFAULT, 32)
        asm.ldmxcsr(_DEFAULT_WORD)
        asm.jcc(Cond.P, slow)
        asm.movq_from_xmm(res, 0, size)
        if self.lanes > 1:
            asm.ucomis(3, 3, size)  # (a quiet NaN: no flag in the host's MXCSR)
            asm.jcc(Cond.P, slow)
            asm.movq_from_xmm(u, 3, size)
            asm.shl(u, 32)
            asm.or_(res, u)
        asm.mov(t, _MXCSR_WORD, 32)
        asm.and_imm(t, _IE | _ZE | _OE | _UE | _PE, 32)
        asm.jcc_short(Cond.E, done)
        asm.cmp_imm(t, _PE, 32)
        asm.jcc(Cond.NE, flags_ool)
        if self.guard & _PE:
            _min_normal_to(asm, t, res, size, self.lanes, slow)
        asm.or_imm(rf, self.inexact)
        asm.bind(done)

        def emit_flags() -> None:
            asm.bind(flags_ool)
            no_guard = asm.label()
            asm.test_imm(t, self.guard, 32)
            asm.jcc_short(Cond.E, no_guard)
            # a +-min normal result: tiny or not, depending on when the guest detects tininess
            _min_normal_to(asm, t, res, size, self.lanes, slow)
            asm.bind(no_guard)
            for x86_bit, guest_bit in self.flag_map:
                skip = asm.label()
                asm.test_imm(_MXCSR_WORD, x86_bit, 32)
                asm.jcc_short(Cond.E, skip)
                asm.or_imm(rf, guest_bit)
                asm.bind(skip)
            asm.jmp(done)

        def emit_call() -> None:
            asm.bind(slow)  # MXCSR is the host default again on every path here
            c.enter_slow(frame)
            values = [*regs, ctl_reg] if ctl_reg is not None else regs
            for r in values:
                asm.push(r)
            for j in reversed(range(len(values))):
                asm.pop(ARG_REGS[j])
            if ctl_reg is None:
                asm.mov_imm(ARG_REGS[len(regs)], ctl)  # type: ignore[arg-type]
            c.call_out(callback, frame)
            asm.mov(res, RAX)
            c.leave_slow(frame)
            asm.mov(rf, ra.global_mem(acc))  # the helper OR-ed its flags into the global's home
            asm.jmp(done)

        c.out_of_line.append(emit_flags)
        c.out_of_line.append(emit_call)
        ra.define(acc, rf)
        ra.define(d, res)


class _RiscvEmitter(_Emitter):
    """softfloat's ``f<32|64>_<op>(..., rm)`` (``_dyn``: rm is ``frm``), flags into ``fflags``."""

    flag_map = _FLAG_MAP
    inexact = softfloat.NX
    guard = _UE

    def __init__(self, h: Helper, kind: str, size: int, nsrc: int, dynamic: bool):
        super().__init__(h, kind, size, nsrc)
        self.dynamic = dynamic

    def accepts(self, ctl: int | str) -> bool:
        if isinstance(ctl, int):
            return 0 <= ctl <= 3  # not RMM (or a reserved constant): the helper does it
        return self.dynamic

    def static_mxcsr(self, ctl: int) -> int:
        return MXCSR_DEFAULT | _RC[ctl] << 13

    def dynamic_mxcsr(self, asm: Assembler, ctl: int, t: int, slow: Label) -> None:
        asm.cmp_imm(ctl, 3)
        asm.jcc(Cond.A, slow)  # RMM or reserved: the helper
        # RC = 3 * gray(rm) mod 4 maps 0, 1, 2, 3 to 00, 11, 01, 10
        asm.mov(t, ctl, 32)
        asm.shr(t, 1, 32)
        asm.xor(t, ctl, 32)
        asm.lea(t, Mem(t, 0, t, 2), 32)
        asm.and_imm(t, 3, 32)
        asm.shl(t, 13, 32)
        asm.or_imm(t, MXCSR_DEFAULT, 32)
        asm.mov(_MXCSR_WORD, t, 32)


class _ArmEmitter(_Emitter):
    """fpu_helper's ``<op>_<s|d>(..., fpcr)`` as ``fp_<op>_<s|d>``, FPSR bits into ``fpsr``."""

    guard = _PE

    def __init__(self, h: Helper, kind: str, size: int, nsrc: int, arm: Any, lanes: int):
        super().__init__(h, kind, size, nsrc, lanes)
        self.flag_map = tuple(zip(_X86_FLAGS, (arm.IOC, arm.DZC, arm.OFC, arm.UFC, arm.IXC), strict=True))
        self.inexact = arm.IXC
        self.fz = arm.FPCR_FZ
        self.rmode_shift = arm.FPCR_RMODE_SHIFT

    def accepts(self, ctl: int | str) -> bool:
        return not isinstance(ctl, int) or not ctl & self.fz

    def static_mxcsr(self, ctl: int) -> int:
        return MXCSR_DEFAULT | _ARM_RC[ctl >> self.rmode_shift & 3] << 13

    def dynamic_mxcsr(self, asm: Assembler, ctl: int, t: int, slow: Label) -> None:
        asm.test_imm(ctl, self.fz, 32)
        asm.jcc(Cond.NE, slow)  # flush-to-zero: the helper
        # RC = (5 * RMode >> 1) mod 4 maps 0, 1, 2, 3 to 00, 10, 01, 11
        asm.mov(t, ctl, 32)
        asm.and_imm(t, 3 << self.rmode_shift, 32)
        asm.lea(t, Mem(t, 0, t, 4), 32)
        asm.shr(t, self.rmode_shift + 1 - 13, 32)
        asm.and_imm(t, 3 << 13, 32)
        asm.or_imm(t, MXCSR_DEFAULT, 32)
        asm.mov(_MXCSR_WORD, t, 32)
