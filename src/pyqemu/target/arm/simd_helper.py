"""Lane helpers for the A64 Advanced SIMD translator (:mod:`.translate_a64_simd`; Arm ARM DDI 0487,
C3.6 "Advanced SIMD" and the C7 descriptions of the instructions).

Vector registers live in IR as two 64-bit halves, so every helper takes and returns 64-bit halves:
lane-wise operations are called once per half; operations that move lanes across halves (pairwise,
permutes, narrowing, widening, table lookups, structure loads) take all the halves they need and a
selector of the result half.  Lanes are unsigned ``bits``-wide integers; per-element functions get
them unsigned and may return any Python int (the result is reduced modulo ``2**bits``).  Saturating
operations return ``(value, qc)``: ``qc`` is FPSR.QC (bit 27) when any lane saturated, OR-ed into
``fpsr`` by the IR helper's ``accumulate``.

:func:`helper` wraps a function with its fixed leading arguments in an IR :class:`Helper`, once.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from itertools import repeat

from ...accel.tcg.ir import Helper

M64 = (1 << 64) - 1
QC = 1 << 27

ElemFn = Callable[..., int]


def sx(v: int, bits: int) -> int:
    """The ``bits``-wide value ``v`` as a signed int."""
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


#: lane width -> the little-endian layout of a doubleword's lanes
_LAYOUT = {bits: struct.Struct(f"<{64 // bits}{code}")
           for bits, code in ((8, "B"), (16, "H"), (32, "I"), (64, "Q"))}


def split(x: int, bits: int) -> list[int]:
    """The lanes of the 64-bit ``x``, lowest first."""
    return list(_LAYOUT[bits].unpack(x.to_bytes(8, "little")))


def join(lanes: list[int], bits: int) -> int:
    """The doubleword of ``lanes`` (each reduced modulo ``2**bits``)."""
    return int.from_bytes(_LAYOUT[bits].pack(*map(((1 << bits) - 1).__and__, lanes)), "little")


def saturate(v: int, bits: int, signed: bool) -> tuple[int, bool]:
    """``v`` clamped to the signed or unsigned ``bits``-wide range, and whether it was clamped."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if v < lo:
        return lo, True
    if v > hi:
        return hi, True
    return v, False


# --- lane-wise ------------------------------------------------------------------------------------------

def lanes1(fn: ElemFn, bits: int, a: int) -> int:
    return join(list(map(fn, split(a, bits), repeat(bits))), bits)


def lanes2(fn: ElemFn, bits: int, a: int, b: int) -> int:
    return join(list(map(fn, split(a, bits), split(b, bits), repeat(bits))), bits)


def lanes3(fn: ElemFn, bits: int, d: int, a: int, b: int) -> int:
    """Accumulating: ``fn(d, a, b, bits)`` per lane."""
    return join([fn(z, x, y, bits) for z, x, y in zip(split(d, bits), split(a, bits), split(b, bits),
                                                        strict=True)], bits)


def sat1(fn: ElemFn, signed: bool, bits: int, a: int, *extra: int) -> tuple[int, int]:
    """``fn(x, bits, *extra)`` per lane, saturated to the signed or unsigned range."""
    out, qc = [], False
    for x in split(a, bits):
        v, s = saturate(fn(x, bits, *extra), bits, signed)
        out.append(v)
        qc |= s
    return join(out, bits), QC if qc else 0


def sat2(fn: ElemFn, signed: bool, bits: int, a: int, b: int) -> tuple[int, int]:
    out, qc = [], False
    for x, y in zip(split(a, bits), split(b, bits), strict=True):
        v, s = saturate(fn(x, y, bits), bits, signed)
        out.append(v)
        qc |= s
    return join(out, bits), QC if qc else 0


def pairwise(fn: ElemFn, bits: int, a: int, b: int) -> int:
    """``fn`` of adjacent lane pairs of the concatenation b:a."""
    v = split(a, bits) + split(b, bits)
    return join(list(map(fn, v[0::2], v[1::2], repeat(bits))), bits)


def across(fn: Callable[[list[int], int], int], bits: int, rbits: int, *halves: int) -> int:
    """``fn(lanes, bits)`` of all lanes of ``halves``, reduced to ``rbits``."""
    return fn([x for h in halves for x in split(h, bits)], bits) & ((1 << rbits) - 1)


def lanes_imm(fn: ElemFn, bits: int, a: int, imm: int) -> int:
    """``fn(x, imm, bits)`` per lane (shifts by an immediate)."""
    return join([fn(x, imm, bits) for x in split(a, bits)], bits)


def lanes_imm_acc(fn: ElemFn, bits: int, d: int, a: int, imm: int) -> int:
    """Accumulating shifts: ``d + fn(x, imm, bits)`` per lane."""
    return join([z + fn(x, imm, bits) for z, x in zip(split(d, bits), split(a, bits), strict=True)], bits)


def rev(container: int, bits: int, a: int) -> int:
    """REV16/32/64: reverse the ``bits`` lanes within each ``container``-bit chunk."""
    v = split(a, bits)
    n = container // bits
    return join([x for i in range(0, len(v), n) for x in reversed(v[i:i + n])], bits)


# --- narrowing and widening ------------------------------------------------------------------------------

def narrow(fn: ElemFn, signed: bool | None, bits: int, lo: int, hi: int, *extra: int) -> tuple[int, int]:
    """``fn(x, 2 * bits, *extra)`` of each ``2 * bits`` lane of lo, hi narrowed to ``bits`` (saturated
    unless ``signed`` is None)."""
    out, qc = [], False
    for x in split(lo, 2 * bits) + split(hi, 2 * bits):
        v = fn(x, 2 * bits, *extra)
        if signed is not None:
            v, s = saturate(v, bits, signed)
            qc |= s
        out.append(v)
    return join(out, bits), QC if qc else 0


def pairwise_long(signed: bool, bits: int, acc: int, a: int) -> int:
    """SADDLP/UADDLP (``acc`` 0) and SADALP/UADALP: ``acc`` plus the sums of adjacent lane pairs of a, in
    ``2 * bits`` lanes."""
    v = [sx(x, bits) for x in split(a, bits)] if signed else split(a, bits)
    return join([z + v[2 * i] + v[2 * i + 1] for i, z in enumerate(split(acc, 2 * bits))], 2 * bits)


def widen_shift(signed: bool, bits: int, part: int, a: int, shift: int) -> int:
    """SSHLL/USHLL: the lanes in 32-bit ``part`` of a extended to ``2 * bits`` and shifted left."""
    xs = split(a >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    return join([(sx(x, bits) if signed else x) << shift for x in xs], 2 * bits)


def widen(fn: ElemFn, bits: int, part: int, a: int, b: int) -> int:
    """``fn(x, y, bits)`` (results ``2 * bits`` wide) of the lanes in 32-bit ``part`` of a and b."""
    xs = split(a >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    ys = split(b >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    return join([fn(x, y, bits) for x, y in zip(xs, ys, strict=True)], 2 * bits)


def widen_acc(fn: ElemFn, bits: int, part: int, d: int, a: int, b: int) -> int:
    """Long accumulate: ``d + fn(x, y, bits)`` per ``2 * bits`` lane of d."""
    return (join([z + w for z, w in zip(split(d, 2 * bits), split(widen(fn, bits, part, a, b), 2 * bits),
                                         strict=True)], 2 * bits))


def sat_dmull(acc: int, bits: int, part: int, d: int, a: int, b: int) -> tuple[int, int]:
    """SQDMULL (``acc`` 0), SQDMLAL (1), SQDMLSL (-1): twice the product of the signed lanes in 32-bit
    ``part`` of a and b, saturated to ``2 * bits``, then added to (subtracted from) the ``2 * bits`` lanes
    of d, saturated again."""
    xs = split(a >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    ys = split(b >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    out, qc = [], False
    for z, x, y in zip(split(d, 2 * bits), xs, ys, strict=True):
        v, s = saturate(2 * sx(x, bits) * sx(y, bits), 2 * bits, True)
        qc |= s
        if acc:
            v, s = saturate(sx(z, 2 * bits) + acc * v, 2 * bits, True)
            qc |= s
        out.append(v)
    return join(out, 2 * bits), QC if qc else 0


def wide(fn: ElemFn, bits: int, part: int, a: int, b: int) -> int:
    """The W forms: ``fn(x, y, bits)`` of the ``2 * bits`` lanes x of a and the lanes y in ``part``
    of b."""
    ys = split(b >> (32 * part) & 0xFFFFFFFF, bits)[:32 // bits]
    return join([fn(x, y, bits) for x, y in zip(split(a, 2 * bits), ys, strict=True)], 2 * bits)


def high_narrow(fn: ElemFn, bits: int, a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> int:
    """ADDHN/SUBHN (and the rounding forms): the high half of ``fn`` of each ``2 * bits`` lane."""
    xs = split(a_lo, 2 * bits) + split(a_hi, 2 * bits)
    ys = split(b_lo, 2 * bits) + split(b_hi, 2 * bits)
    return join([fn(x, y, 2 * bits) >> bits for x, y in zip(xs, ys, strict=True)], bits)


# --- permutes, table lookup, structures --------------------------------------------------------------

def permute(kind: int, bits: int, half: int, *regs: int) -> int:
    """ZIP/UZP/TRN (kind: opc<2:0> of the encoding) of a and b given as their halves (one or two each):
    the result's ``half``."""
    n = len(regs) // 2
    a = [x for h in regs[:n] for x in split(h, bits)]
    b = [x for h in regs[n:] for x in split(h, bits)]
    part, op = kind >> 2, kind & 3
    count = len(a)
    if op == 1:  # UZP
        out = (a + b)[part::2]
    elif op == 2:  # TRN
        out = [x for i in range(0, count, 2) for x in (a[i + part], b[i + part])]
    else:  # ZIP
        base = part * count // 2
        out = [x for i in range(count // 2) for x in (a[base + i], b[base + i])]
    per_half = 64 // bits
    return join(out[half * per_half:(half + 1) * per_half], bits)


def tbl(index: int, default: int, *table: int) -> int:
    """TBL/TBX on one half: each index byte selects a byte of ``table`` (the registers' halves, lowest
    first); out-of-range indices take the byte of ``default`` (0 for TBL, the destination for TBX)."""
    data = b"".join(h.to_bytes(8, "little") for h in table)
    out = 0
    for i in range(8):
        j = index >> (8 * i) & 0xFF
        byte = data[j] if j < len(data) else default >> (8 * i) & 0xFF
        out |= byte << (8 * i)
    return out


def deinterleave(selem: int, ebytes: int, reg: int, half: int, *words: int) -> int:
    """LD2-LD4: ``half`` of register ``reg`` (0..selem-1) from the loaded doublewords."""
    data = b"".join(w.to_bytes(8, "little") for w in words)
    step = selem * ebytes
    per_half = 8 // ebytes
    out = bytearray()
    for i in range(half * per_half, (half + 1) * per_half):
        at = i * step + reg * ebytes
        out += data[at:at + ebytes]
    return int.from_bytes(out, "little")


def interleave(selem: int, ebytes: int, word: int, *halves: int) -> int:
    """ST2-ST4: doubleword ``word`` of the memory image of the registers given as their halves
    (``len(halves) // selem`` each)."""
    n = len(halves) // selem
    regs = [b"".join(h.to_bytes(8, "little") for h in halves[r * n:(r + 1) * n]) for r in range(selem)]
    out = bytearray()
    for i in range(len(regs[0]) // ebytes):
        for r in range(selem):
            out += regs[r][i * ebytes:(i + 1) * ebytes]
    return int.from_bytes(out[8 * word:8 * word + 8], "little")


@functools.cache
def helper(name: str, fn: Callable[..., int | tuple[int, int]], *fixed: object,
           saturating: bool = False) -> Helper:
    """An IR helper ``name`` (an identifier) calling ``fn(*fixed, *args)``: pure, or, when
    ``saturating``, accumulating QC into FPSR."""
    return Helper(name, functools.partial(fn, *fixed), pure=not saturating, pass_cpu=False,
                  accumulate="fpsr" if saturating else None)
