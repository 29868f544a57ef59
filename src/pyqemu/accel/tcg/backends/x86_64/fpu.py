"""Floating-point helpers inlined as host SSE code (QEMU has no such thing: its soft-float is C).

The RISC-V F/D translator calls the bit-exact soft-float functions of :mod:`pyqemu.fpu.softfloat`
(``f64_add(a, b, rm) -> (bits, flags)``, flags OR-ed into the ``fflags`` global).  For the basic
arithmetic of both formats the host computes the very same IEEE 754 results, so those calls become
inline scalar SSE (and FMA3) code:

* ``f32_``/``f64_`` ``add``, ``sub``, ``mul``, ``div``, ``sqrt`` and the fused ``madd``, ``msub``,
  ``nmsub``, ``nmadd`` (the latter four only when the host has FMA3), with a static rounding mode 0..3
  (RNE, RTZ, RDN, RUP -> MXCSR.RC 00, 11, 01, 10) or the dynamic one (``frm``).

The sequence: load an MXCSR image (all exceptions masked, DAZ/FTZ off, RC from the rounding mode, flags
clear), the operation on xmm0..xmm2, ``ucomis`` of the result with itself (PF: NaN), store MXCSR,
restore the host default 0x1F80 (C and Python code run between ops), then map the flags: PE alone (by
far the most common outcome) ORs NX into ``fflags`` inline; any other combination goes out of line
(IE->NV, ZE->DZ, OE->OF, UE->UF, PE->NX; DE ignored).

Where the host and RISC-V differ, the ordinary helper call (out of line) computes the result instead:

* any NaN result: RISC-V returns the canonical NaN (x86 propagates payloads or gives the negative
  default NaN), and the invalid flag rules differ for fused ops (RISC-V: 0 * inf + qNaN raises NV);
* tininess: RISC-V detects it after rounding.  SSE does too on the hosts measured (Intel: a value just
  below 2**emin that rounds to it raises PE alone), but a host detecting it before rounding would
  disagree exactly when a tiny inexact value rounds to the smallest normal magnitude, so UE with a
  +-min normal result (rare, and on the already out-of-line flag path) also takes the helper;
* a dynamic rounding mode other than 0..3: RMM (4) has no SSE equivalent, 5..7 are reserved (the
  helper raises illegal instruction).

A static RMM is not inlined at all (the emitter returns False: op_call emits the plain call).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .....fpu import softfloat
from ...ir import Helper
from .asm import R14, RAX, RDI, RSP, Cond, Mem
from .regalloc import SCRATCH

MXCSR_DEFAULT = 0x1F80
#: RISC-V rm 0..3 -> MXCSR.RC
_RC = (0b00, 0b11, 0b01, 0b10)
_PE, _UE, _OE, _ZE, _IE = 0x20, 0x10, 0x08, 0x04, 0x01
_FLAG_MAP = ((_IE, softfloat.NV), (_ZE, softfloat.DZ), (_OE, softfloat.OF), (_UE, softfloat.UF),
             (_PE, softfloat.NX))
#: scratch words of the frame for ldmxcsr/stmxcsr (op_call's arguments use the low ones)
_MXCSR_WORD = Mem(RSP, SCRATCH + 8 * 15)
_DEFAULT_WORD = Mem(RSP, SCRATCH + 8 * 14)

_ARITH = ("add", "sub", "mul", "div", "sqrt")
#: RISC-V fused op -> x86 FMA3 kind: fmadd a*b+c, fmsub a*b-c, fnmsub -(a*b)+c, fnmadd -(a*b)-c
_FUSED = {"madd": "madd", "msub": "msub", "nmsub": "nmadd", "nmadd": "nmsub"}


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
    name = h.name
    dynamic = name.endswith("_dyn")
    base = name[:-4] if dynamic else name
    prefix, _, op = base.partition("_")
    if prefix not in ("f32", "f64") or h.pass_cpu or not h.accumulate:
        return None
    if op not in _ARITH and (op not in _FUSED or not HAS_FMA):
        return None
    ref = getattr(softfloat, base, None)
    if ref is None or inspect.unwrap(h.fn) is not ref:
        return None
    size = 32 if prefix == "f32" else 64
    nsrc = 1 if op == "sqrt" else 3 if op in _FUSED else 2
    return _Emitter(h, op, size, nsrc, dynamic)


class _Emitter:
    """Emits one inlined soft-float call (see the module docstring)."""

    def __init__(self, h: Helper, op: str, size: int, nsrc: int, dynamic: bool):
        self.h = h
        self.op = op
        self.size = size
        self.nsrc = nsrc
        self.dynamic = dynamic

    def __call__(self, c: Any, op: tuple) -> bool:
        d, h, args = op[1], op[2], op[3:]
        if len(args) != self.nsrc + 1 or d is None:
            return False
        rm = args[-1]
        if isinstance(rm, int):
            if not 0 <= rm <= 3:
                return False  # RMM (or a reserved constant): the helper does it
        elif not self.dynamic:
            return False
        if h.accumulate not in c.slots:
            return False
        self._emit(c, d, args[:-1], rm)
        return True

    def _emit(self, c: Any, d: str, srcs: tuple, rm: int | str) -> None:
        from .codegen import ARG_REGS, FLAG, ctx  # (codegen imports this module)

        asm, ra = c.asm, c.ra
        size = self.size
        regs = [c.src(v) for v in srcs]
        rm_reg = ra.reg(rm) if isinstance(rm, str) else None
        acc = self.h.accumulate
        rf = ra.reg(acc)
        res = ra.alloc()
        t = ra.alloc()
        # the state the out-of-line helper call must save (before this op's results are defined)
        writeback, saved = c._slow_path_frame(None)
        exc = c._exception_stub()
        callback = c.rt.callback(self.h, len(srcs) + 1)
        slow, done, flags_ool = asm.label(), asm.label(), asm.label()

        if rm_reg is not None:
            asm.cmp_imm(rm_reg, 3)
            asm.jcc(Cond.A, slow)  # RMM or reserved: the helper
            # RC = 3 * gray(rm) mod 4 maps 0, 1, 2, 3 to 00, 11, 01, 10
            asm.mov(t, rm_reg, 32)
            asm.shr(t, 1, 32)
            asm.xor(t, rm_reg, 32)
            asm.lea(t, Mem(t, 0, t, 2), 32)
            asm.and_imm(t, 3, 32)
            asm.shl(t, 13, 32)
            asm.or_imm(t, MXCSR_DEFAULT, 32)
            asm.mov(_MXCSR_WORD, t, 32)
        else:
            asm.mov_imm(_MXCSR_WORD, MXCSR_DEFAULT | _RC[rm] << 13, 32)  # type: ignore[index]
        for i, r in enumerate(regs):
            asm.movq_to_xmm(i, r, size)
        asm.ldmxcsr(_MXCSR_WORD)
        if self.op in _FUSED:
            asm.vfma213(_FUSED[self.op], 0, 1, 2, size)  # xmm0 = xmm1 * xmm0 +- xmm2
        elif self.op == "sqrt":
            asm.sse_arith("sqrt", 0, 0, size)
        else:
            asm.sse_arith(self.op, 0, 1, size)
        asm.ucomis(0, 0, size)  # PF: the result is a NaN
        asm.stmxcsr(_MXCSR_WORD)
        asm.mov_imm(_DEFAULT_WORD, MXCSR_DEFAULT, 32)
        asm.ldmxcsr(_DEFAULT_WORD)
        asm.jcc(Cond.P, slow)
        asm.movq_from_xmm(res, 0, size)
        asm.mov(t, _MXCSR_WORD, 32)
        asm.and_imm(t, _IE | _ZE | _OE | _UE | _PE, 32)
        asm.jcc_short(Cond.E, done)
        asm.cmp_imm(t, _PE, 32)
        asm.jcc(Cond.NE, flags_ool)
        asm.or_imm(rf, softfloat.NX)
        asm.bind(done)

        def emit_flags() -> None:
            asm.bind(flags_ool)
            no_ue = asm.label()
            asm.test_imm(t, _UE, 32)
            asm.jcc_short(Cond.E, no_ue)
            # UE with a +-min normal result: tiny before rounding (x86) but maybe not after (RISC-V)
            asm.mov(t, res)
            if size == 64:
                asm.shl(t, 1)
                asm.rol(t, 11)
                asm.cmp_imm(t, 1)
            else:
                asm.and_imm(t, 0x7FFFFFFF, 32)
                asm.cmp_imm(t, 0x00800000, 32)
            asm.jcc(Cond.E, slow)
            asm.bind(no_ue)
            for x86_bit, rv_bit in _FLAG_MAP:
                skip = asm.label()
                asm.test_imm(_MXCSR_WORD, x86_bit, 32)
                asm.jcc_short(Cond.E, skip)
                asm.or_imm(rf, rv_bit)
                asm.bind(skip)
            asm.jmp(done)

        def emit_call() -> None:
            asm.bind(slow)  # MXCSR is the host default again on every path here
            for r, g in writeback:
                asm.mov(ra.global_mem(g), r)
            c._push_all(saved)
            values = [*regs, rm_reg] if rm_reg is not None else regs
            for r in values:
                asm.push(r)
            for j in reversed(range(len(values))):
                asm.pop(ARG_REGS[j])
            if rm_reg is None:
                asm.mov_imm(ARG_REGS[len(regs)], rm)  # type: ignore[arg-type]
            asm.mov(RDI, R14)
            asm.mov_imm(RAX, callback)
            asm.call_reg(RAX)
            asm.cmp_imm(ctx(FLAG), 0)
            asm.jcc(Cond.NE, exc)
            asm.mov(res, RAX)
            c._pop_all(saved)
            asm.mov(rf, ra.global_mem(acc))  # the helper OR-ed its flags into the global's home
            asm.jmp(done)

        c.out_of_line.append(emit_flags)
        c.out_of_line.append(emit_call)
        ra.define(acc, rf)
        ra.define(d, res)

