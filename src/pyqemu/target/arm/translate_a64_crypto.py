"""A64 Cryptographic Extension (AESE, AESD, AESMC, AESIMC; SHA1C/P/M/H/SU0/SU1;
SHA256H/H2/SU0/SU1) and PMULL/PMULL2 (8- and 64-bit polynomial multiply):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.

Encodings (C4.1.6 "Data Processing -- Scalar Floating-Point and Advanced SIMD"): "Cryptographic AES"
and "Cryptographic two-register SHA" (``size`` = 00, the rest reserved), "Cryptographic three-register
SHA", and PMULL from "Advanced SIMD three different" (opcode 1110, ``size`` 00 for .8B/.16B -> .8H, 11
for .1D/.2D -> .1Q; 01 and 10 are reserved and left to no pattern).  Each instruction is one call of a
:mod:`.crypto_helper` algorithm on the 64-bit halves of its operands (``v<n>l``, ``v<n>h``), through
:func:`.crypto_helper.vector_helper`, which writes the result's high half into Vd itself; SHA1H, whose
result is a 32-bit scalar, is a pure helper.
"""

from __future__ import annotations

from collections.abc import Callable

from ...accel.tcg.ir import Helper
from . import crypto_helper as ch
from .translate_a64 import DisasContext

TABLE = """
# === Cryptographic AES ============================================================================
#           size      opcode       Rn    Rd
cr_aese     01001110 00 10100 00100 10 ..... .....  cr_rr
cr_aesd     01001110 00 10100 00101 10 ..... .....  cr_rr
cr_aesmc    01001110 00 10100 00110 10 ..... .....  cr_rr
cr_aesimc   01001110 00 10100 00111 10 ..... .....  cr_rr
# === Cryptographic three-register SHA =============================================================
#           size   Rm      opcode    Rn    Rd
cr_sha1c    01011110 00 0 ..... 0 000 00 ..... .....  cr_rrr
cr_sha1p    01011110 00 0 ..... 0 001 00 ..... .....  cr_rrr
cr_sha1m    01011110 00 0 ..... 0 010 00 ..... .....  cr_rrr
cr_sha1su0  01011110 00 0 ..... 0 011 00 ..... .....  cr_rrr
cr_sha256h  01011110 00 0 ..... 0 100 00 ..... .....  cr_rrr
cr_sha256h2 01011110 00 0 ..... 0 101 00 ..... .....  cr_rrr
cr_sha256su1 01011110 00 0 ..... 0 110 00 ..... .....  cr_rrr
# === Cryptographic two-register SHA ===============================================================
cr_sha1h    01011110 00 10100 00000 10 ..... .....  cr_rr
cr_sha1su1  01011110 00 10100 00001 10 ..... .....  cr_rr
cr_sha256su0 01011110 00 10100 00010 10 ..... .....  cr_rr
# === PMULL/PMULL2 (Advanced SIMD three different, opcode 1110) ====================================
#            Q       size   Rm    opcode   Rn    Rd
cr_pmull8   0 . 0 01110 00 1 ..... 1110 00 ..... .....  cr_qrrr
cr_pmull64  0 . 0 01110 11 1 ..... 1110 00 ..... .....  cr_qrrr
"""


def _rr(i: int) -> tuple:
    """(rd, rn)."""
    return i & 31, i >> 5 & 31


def _rrr(i: int) -> tuple:
    """(rd, rn, rm)."""
    return i & 31, i >> 5 & 31, i >> 16 & 31


def _qrrr(i: int) -> tuple:
    """(q, rd, rn, rm): q selects the upper halves of the sources (the "2" forms)."""
    return i >> 30 & 1, i & 31, i >> 5 & 31, i >> 16 & 31


FORMATS: dict[str, Callable[[int], tuple]] = {"cr_rr": _rr, "cr_rrr": _rrr, "cr_qrrr": _qrrr}


def _halves(*regs: int) -> list[str]:
    return [f"v{r}{half}" for r in regs for half in "lh"]


def _call(ctx: DisasContext, fn: Callable[..., ch.Halves], rd: int, *srcs: str) -> bool:
    ctx.emit("call", f"v{rd}l", ch.vector_helper(fn, rd), *srcs)
    return True


def _unary(fn: Callable[..., ch.Halves]) -> Callable[[DisasContext, int, int], bool]:
    """Vd = fn(Vn) (AESMC, AESIMC)."""
    return lambda ctx, rd, rn: _call(ctx, fn, rd, *_halves(rn))


def _binary(fn: Callable[..., ch.Halves]) -> Callable[[DisasContext, int, int], bool]:
    """Vd = fn(Vd, Vn) (AESE, AESD, SHA1SU1, SHA256SU0)."""
    return lambda ctx, rd, rn: _call(ctx, fn, rd, *_halves(rd, rn))


def _ternary(fn: Callable[..., ch.Halves]) -> Callable[[DisasContext, int, int, int], bool]:
    """Vd = fn(Vd, Vn, Vm) (the three-register SHA group)."""
    return lambda ctx, rd, rn, rm: _call(ctx, fn, rd, *_halves(rd, rn, rm))


def _pmull(fn: Callable[[int, int], ch.Halves]) -> Callable[[DisasContext, int, int, int, int], bool]:
    """Vd = fn of the low (PMULL) or high (PMULL2) doublewords of Vn and Vm."""
    return lambda ctx, q, rd, rn, rm: _call(ctx, fn, rd, *(f"v{r}{'lh'[q]}" for r in (rn, rm)))


_HANDLERS = {
    "aese": _binary(ch.aese), "aesd": _binary(ch.aesd), "aesmc": _unary(ch.aesmc),
    "aesimc": _unary(ch.aesimc),
    "sha1c": _ternary(ch.sha1c), "sha1p": _ternary(ch.sha1p), "sha1m": _ternary(ch.sha1m),
    "sha1su0": _ternary(ch.sha1su0), "sha256h": _ternary(ch.sha256h), "sha256h2": _ternary(ch.sha256h2),
    "sha256su1": _ternary(ch.sha256su1),
    "sha1su1": _binary(ch.sha1su1), "sha256su0": _binary(ch.sha256su0),
    "pmull8": _pmull(ch.pmull8), "pmull64": _pmull(ch.pmull64),
}
for _name, _handler in _HANDLERS.items():
    globals()[f"trans_cr_{_name}"] = _handler

_SHA1H = Helper("sha1h", ch.sha1h, pure=True, pass_cpu=False)


def trans_cr_sha1h(ctx: DisasContext, rd: int, rn: int) -> bool:
    """SHA1H Sd, Sn: a 32-bit result, the rest of Vd cleared."""
    ctx.emit("call", f"v{rd}l", _SHA1H, f"v{rn}l")
    ctx.emit("mov", f"v{rd}h", 0)
    return True
