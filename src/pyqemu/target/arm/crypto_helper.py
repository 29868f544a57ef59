"""Runtime algorithms of the A64 Cryptographic Extension and PMULL (Arm ARM DDI 0487, C7 AESE, AESD,
AESMC, AESIMC, SHA1*, SHA256* and PMULL/PMULL2 with the shared pseudocode of J1 ``AESSubBytes``,
``AESShiftRows``, ``AESMixColumns``, ``SHA256hash``, ``SHAchoose``/``SHAparity``/``SHAmajority``,
``PolynomialMult``; the AES transformations are FIPS-197 section 5.1 and 5.3, SHA-1 and SHA-256 FIPS
180-4 sections 4.1 and 6).

Every algorithm takes the 64-bit halves of its 128-bit operands (low doubleword first, Vd before Vn
before Vm) and returns the result's halves ``(lo, hi)``; :func:`vector_helper` wraps one in an IR
:class:`~pyqemu.accel.tcg.ir.Helper` that writes a V register.  A vector's byte ``i`` (bits 8i+7:8i)
is AES state byte ``i`` (row ``i % 4``, column ``i // 4``), its 32-bit element ``e`` is SHA word ``e``.

AES runs on whole 16-byte vectors: the S-boxes and the xtime (GF(2^8) multiplication by 02) behind
MixColumns are ``bytes.translate`` tables, ShiftRows is a byte permutation and the column mixing
rotates bytes inside the 32-bit columns of the 128-bit integer.  PMULL multiplies 4 bits of the
multiplier at a time.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

from ...accel.tcg.ir import Helper
from .cpu import SLOT_V

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1

Halves = tuple[int, int]


# --- AES (FIPS-197 5.1, 5.3) --------------------------------------------------------------------------

def _xtime(b: int) -> int:
    """Multiplication by x (0x02) in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1."""
    b <<= 1
    return b ^ 0x11B if b & 0x100 else b


def _sbox() -> bytes:
    """FIPS-197 5.1.1: the multiplicative inverse (through powers of the generator 03) followed by the
    affine transformation."""
    power, log = [], [0] * 256
    p = 1
    for i in range(255):
        power.append(p)
        log[p] = i
        p ^= _xtime(p)
    out = bytearray(256)
    for a in range(256):
        inv = power[-log[a] % 255] if a else 0
        s = inv
        for k in range(1, 5):
            s ^= (inv << k | inv >> (8 - k)) & 0xFF
        out[a] = s ^ 0x63
    return bytes(out)


SBOX = _sbox()
INV_SBOX = bytes(SBOX.index(b) for b in range(256))
#: ``bytes.translate`` tables: every byte times 02 (xtime) and times 04
_XTIME = bytes(_xtime(a) for a in range(256))
_XTIME2 = _XTIME.translate(_XTIME)

#: ShiftRows: result byte r + 4c is byte r + 4((c + r) mod 4); InvShiftRows: byte r + 4((c - r) mod 4)
_SHIFT_ROWS = operator.itemgetter(*(r + 4 * ((c + r) % 4) for c in range(4) for r in range(4)))
_INV_SHIFT_ROWS = operator.itemgetter(*(r + 4 * ((c - r) % 4) for c in range(4) for r in range(4)))

_LANES = 0x00000001_00000001_00000001_00000001  # one per 32-bit column
_ROT1_LO, _ROT1_HI = 0x00FFFFFF * _LANES, 0xFF000000 * _LANES
_ROT2_LO, _ROT2_HI = 0x0000FFFF * _LANES, 0xFFFF0000 * _LANES


def _rot1(v: int) -> int:
    """Byte r of each 32-bit column of a 128-bit state becomes byte (r + 1) mod 4 of that column."""
    return (v >> 8) & _ROT1_LO | (v << 24) & _ROT1_HI


def _rot2(v: int) -> int:
    """Byte r of each column becomes byte (r + 2) mod 4."""
    return (v >> 16) & _ROT2_LO | (v << 16) & _ROT2_HI


def _translate(v: int, table: bytes) -> int:
    return int.from_bytes(v.to_bytes(16, "little").translate(table), "little")


def _mix_columns(a: int) -> Halves:
    """MixColumns (FIPS-197 5.1.3): byte r of a column becomes 02 a[r] + 03 a[r+1] + a[r+2] + a[r+3]."""
    m2 = _translate(a, _XTIME)
    r = m2 ^ _rot1(m2 ^ a) ^ _rot2(a ^ _rot1(a))
    return r & M64, r >> 64


def _state(lo: int, hi: int) -> bytes:
    return (lo | hi << 64).to_bytes(16, "little")


def _halves(state: bytes) -> Halves:
    v = int.from_bytes(state, "little")
    return v & M64, v >> 64


def aese(dl: int, dh: int, nl: int, nh: int) -> Halves:
    """AESE: SubBytes(ShiftRows(Vd XOR Vn)) (the S-box works bytewise, so it goes first)."""
    return _halves(bytes(_SHIFT_ROWS(_state(dl ^ nl, dh ^ nh).translate(SBOX))))


def aesd(dl: int, dh: int, nl: int, nh: int) -> Halves:
    """AESD: InvSubBytes(InvShiftRows(Vd XOR Vn))."""
    return _halves(bytes(_INV_SHIFT_ROWS(_state(dl ^ nl, dh ^ nh).translate(INV_SBOX))))


def aesmc(nl: int, nh: int) -> Halves:
    """AESMC: MixColumns(Vn)."""
    return _mix_columns(nl | nh << 64)


def aesimc(nl: int, nh: int) -> Halves:
    """AESIMC: InvMixColumns(Vn) (FIPS-197 5.3.3), as MixColumns after adding 04 (a[r] + a[r+2]) to
    every byte (the inverse matrix {0e, 0b, 0d, 09} is the MixColumns matrix times {05, 00, 04, 00})."""
    a = nl | nh << 64
    return _mix_columns(a ^ _translate(a ^ _rot2(a), _XTIME2))


# --- SHA-1 and SHA-256 (FIPS 180-4 4.1, 6.1, 6.2) --------------------------------------------------------

def _words(lo: int, hi: int) -> list[int]:
    return [lo & M32, lo >> 32, hi & M32, hi >> 32]


def _pack(w: list[int]) -> Halves:
    return w[0] | w[1] << 32, w[2] | w[3] << 32


def _rol(x: int, n: int) -> int:
    return (x << n | x >> (32 - n)) & M32


def _ror(x: int, n: int) -> int:
    return (x >> n | x << (32 - n)) & M32


def _sha1_rounds(f: Callable[[int, int, int], int]) -> Callable[..., Halves]:
    """SHA1C/SHA1P/SHA1M with the round function ``f``: four rounds on the hash state abcd = Qd,
    e = Sn with the schedule words (already added to the round constant) in Vm."""
    def rounds(dl: int, dh: int, nl: int, nh: int, ml: int, mh: int) -> Halves:
        a, b, c, d = _words(dl, dh)
        e = nl & M32
        for w in _words(ml, mh):
            e, d, c, b, a = d, c, (b << 30 | b >> 2) & M32, a, (e + (a << 5 | a >> 27) + f(b, c, d) + w) & M32
        return _pack([a, b, c, d])
    return rounds


sha1c = _sha1_rounds(lambda x, y, z: (x & y) | (~x & z))
sha1p = _sha1_rounds(lambda x, y, z: x ^ y ^ z)
sha1m = _sha1_rounds(lambda x, y, z: (x & y) | (x & z) | (y & z))


def sha1h(nl: int) -> int:
    """SHA1H: Sn rotated left by 30 (the fixed rotate of e)."""
    return _rol(nl & M32, 30)


def sha1su0(dl: int, dh: int, nl: int, nh: int, ml: int, mh: int) -> Halves:
    """SHA1SU0: (Vn<63:0> : Vd<127:64>) XOR Vd XOR Vm."""
    return dh ^ dl ^ ml, nl ^ dh ^ mh


def sha1su1(dl: int, dh: int, nl: int, nh: int) -> Halves:
    """SHA1SU1: T = Vd XOR (Vn >> 32), each word rotated left by 1, the top one also XORed with
    T<31:0> rotated left by 2."""
    t = _words(dl ^ (nl >> 32 | nh << 32) & M64, dh ^ nh >> 32)
    w = [_rol(x, 1) for x in t]
    w[3] ^= _rol(t[0], 2)
    return _pack(w)


def _sha256_rounds(x: list[int], y: list[int], w: list[int]) -> tuple[list[int], list[int]]:
    """The Arm ARM's SHA256hash: four rounds on X = abcd, Y = efgh (the rotations written out)."""
    a, b, c, d = x
    e, f, g, h = y
    for k in w:
        t1 = h + ((e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)) + ((e & f) ^ (~e & g)) + k
        t2 = ((a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)) + ((a & b) ^ (a & c) ^ (b & c))
        a, b, c, d, e, f, g, h = (t1 + t2) & M32, a, b, c, (d + t1) & M32, e, f, g
    return [a, b, c, d], [e, f, g, h]


def sha256h(dl: int, dh: int, nl: int, nh: int, ml: int, mh: int) -> Halves:
    """SHA256H: the new abcd of four rounds, abcd in Qd, efgh in Qn, the words + constants in Vm."""
    return _pack(_sha256_rounds(_words(dl, dh), _words(nl, nh), _words(ml, mh))[0])


def sha256h2(dl: int, dh: int, nl: int, nh: int, ml: int, mh: int) -> Halves:
    """SHA256H2: the new efgh of four rounds, efgh in Qd, abcd in Qn."""
    return _pack(_sha256_rounds(_words(nl, nh), _words(dl, dh), _words(ml, mh))[1])


def _sigma0(x: int) -> int:
    return _ror(x, 7) ^ _ror(x, 18) ^ x >> 3


def _sigma1(x: int) -> int:
    return _ror(x, 17) ^ _ror(x, 19) ^ x >> 10


def sha256su0(dl: int, dh: int, nl: int, nh: int) -> Halves:
    """SHA256SU0: W[e] + sigma0(W[e + 1]) for the four words W[0..3] in Vd, W[4] in Vn."""
    d = _words(dl, dh)
    t = d[1:] + [nl & M32]
    return _pack([(x + _sigma0(y)) & M32 for x, y in zip(d, t, strict=True)])


def sha256su1(dl: int, dh: int, nl: int, nh: int, ml: int, mh: int) -> Halves:
    """SHA256SU1: adds sigma1 of W[14], W[15] (Vm's top words; then of the two new words) and
    W[9..12] (Vn<127:32> : Vm<31:0>) to Vd."""
    d, n, m = _words(dl, dh), _words(nl, nh), _words(ml, mh)
    t0 = n[1:] + m[:1]
    w = m[2:]
    for e in range(4):
        w.append((_sigma1(w[e]) + d[e] + t0[e]) & M32)
    return _pack(w[2:])


# --- PMULL (polynomial multiply over GF(2)) ---------------------------------------------------------------

def _clmul_window(a: int) -> list[int]:
    """The carry-less products a * k for the 4-bit k."""
    table = [0, a]
    for k in range(2, 16):
        table.append(table[k >> 1] << 1 if k % 2 == 0 else table[k - 1] ^ a)
    return table


#: the 8 x 4-bit carry-less products, by (byte << 4 | nibble)
_CLMUL8 = [p for a in range(256) for p in _clmul_window(a)]


def clmul64(a: int, b: int) -> int:
    """The 127-bit carry-less product of two 64-bit polynomials, 4 bits of ``b`` at a time."""
    table = _clmul_window(a)
    product = 0
    for shift in range(60, -4, -4):
        product = product << 4 ^ table[b >> shift & 15]
    return product


def pmull64(a: int, b: int) -> Halves:
    """PMULL/PMULL2 .1Q: the 128-bit product of the selected doublewords."""
    product = clmul64(a, b)
    return product & M64, product >> 64


def pmull8(a: int, b: int) -> Halves:
    """PMULL/PMULL2 .8H: the 16-bit products of the eight byte pairs of the selected doublewords."""
    t = _CLMUL8
    out = 0
    for shift in range(0, 64, 8):
        x, y = (a >> shift & 0xFF) << 4, b >> shift & 0xFF
        out |= (t[x | y & 15] ^ t[x | y >> 4] << 4) << 2 * shift
    return out & M64, out >> 64


# --- IR helpers -----------------------------------------------------------------------------------------

@functools.cache
def vector_helper(fn: Callable[..., Halves], rd: int) -> Helper:
    """A Helper computing ``fn`` into Vd: called with Vd's low doubleword as its result, it stores the
    high one itself (so it declares ``v<rd>h`` written)."""
    slot = SLOT_V + 2 * rd + 1

    def call(cpu: Any, *halves: int) -> int:
        lo, hi = fn(*halves)
        cpu.R[slot] = hi
        return lo

    return Helper(f"{fn.__name__}_v{rd}", call, writes=(f"v{rd}h",))
