"""AArch64 (A64) instruction encodings, one line per instruction form (Arm Architecture Reference
Manual for A-profile, section C4 "A64 Instruction Set Encoding"): the user-mode subset translated by
``pyqemu-aarch64``.  Patterns are read by :mod:`pyqemu.accel.tcg.decodetree`.

Covered encoding groups (C4.1):

* data processing - immediate: PC-relative addressing, add/subtract (immediate), logical (immediate),
  move wide, bitfield, extract;
* branches, exception generation and system instructions: unconditional branch (immediate and
  register), conditional branch, compare and branch, test and branch, SVC/BRK/HLT, hints, barriers,
  MRS/MSR (register), SYS (the cache maintenance operations EL0 may use, DC ZVA);
* data processing - register: logical and add/subtract (shifted register), add/subtract (extended
  register), add/subtract with carry, conditional compare, conditional select, data processing
  (1, 2 and 3 source);
* loads and stores: register (unsigned offset, unscaled, pre/post-index, register offset,
  unprivileged), literal, pairs (offset, pre/post-index, no-allocate), exclusive and acquire/release,
  LSE atomics and compare-and-swap,
  and the scalar SIMD&FP register loads and stores (B/H/S/D/Q).  PRFM decodes to no-op forms.

Reserved field values are excluded by the patterns (e.g. ``sf = 0`` with a shift amount >= 32, shift
type ``ROR`` for add/subtract, an extended-register shift > 4) with one exception: logical immediates
whose ``N:imms`` is reserved decode, but their ``imm`` operand is ``None`` and the translator must raise
UNDEFINED (see :func:`decode_bit_masks`).

Operand tuples (see ``FORMATS``) hold register numbers (31 is SP or ZR as the instruction defines),
sign-extended immediates as Python ints already scaled by the encoding, shift types (0 LSL, 1 LSR,
2 ASR, 3 ROR), extend options (0 UXTB .. 7 SXTX), condition codes (0 EQ .. 15 NV) and ``sf`` (1 for
64-bit operations).  Memory forms give ``size`` as log2 of the access size in bytes.
"""

from __future__ import annotations

M64 = (1 << 64) - 1


def _sext(v: int, bits: int) -> int:
    """Sign-extend a ``bits``-wide field to a Python int (negative offsets stay negative)."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _bits(i: int, hi: int, lo: int) -> int:
    return (i >> lo) & ((1 << (hi - lo + 1)) - 1)


def _replicate(value: int, esize: int, datasize: int) -> int:
    out = 0
    for pos in range(0, datasize, esize):
        out |= value << pos
    return out


def _ror(value: int, amount: int, width: int) -> int:
    amount %= width
    mask = (1 << width) - 1
    return ((value >> amount) | (value << (width - amount))) & mask


def decode_bit_masks(n: int, imms: int, immr: int, datasize: int) -> int | None:
    """The logical-immediate value of ``N:immr:imms`` for a ``datasize``-bit operation (Arm ARM
    DecodeBitMasks, the ``wmask`` result), or None if the encoding is reserved.

    The element size is 2 ** len, where len is the highest set bit of ``N:NOT(imms)``; the element is
    ``imms<len-1:0> + 1`` ones rotated right by ``immr``, replicated to ``datasize`` bits.  Reserved:
    no element size (len < 1), an element of all ones, or a 64-bit element in a 32-bit operation.
    """
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0:
        return None
    length = combined.bit_length() - 1
    if length < 1:
        return None
    esize = 1 << length
    if esize > datasize:
        return None
    levels = esize - 1
    s = imms & levels
    r = immr & levels
    if s == levels:
        return None
    welem = _ror((1 << (s + 1)) - 1, r, esize)
    return _replicate(welem, esize, datasize)


# --- field extractors ----------------------------------------------------------------------------


def _rd(i: int) -> int:
    return i & 31


def _rn(i: int) -> int:
    return (i >> 5) & 31


def _rm(i: int) -> int:
    return (i >> 16) & 31


def _ra(i: int) -> int:
    return (i >> 10) & 31


def _sf(i: int) -> int:
    return i >> 31


def _cond(i: int, lo: int) -> int:
    return (i >> lo) & 15


def _adr(i: int) -> tuple:
    """(rd, offset): ADR byte offset; ADRP offset of the 4 KiB page (imm << 12)."""
    imm = _sext((_bits(i, 23, 5) << 2) | _bits(i, 30, 29), 21)
    return _rd(i), (imm << 12 if i >> 31 else imm)


def _addsub_imm(i: int) -> tuple:
    """(sf, rd, rn, imm): the 12-bit immediate shifted left by 12 when ``sh`` is set."""
    return _sf(i), _rd(i), _rn(i), _bits(i, 21, 10) << (12 * _bits(i, 22, 22))


def _logic_imm(i: int) -> tuple:
    """(sf, rd, rn, imm) with imm from :func:`decode_bit_masks` (None: reserved, UNDEFINED)."""
    sf = _sf(i)
    return sf, _rd(i), _rn(i), decode_bit_masks(_bits(i, 22, 22), _bits(i, 15, 10), _bits(i, 21, 16),
                                                 64 if sf else 32)


def _movewide(i: int) -> tuple:
    """(sf, rd, imm16, shift) with shift = hw * 16."""
    return _sf(i), _rd(i), _bits(i, 20, 5), _bits(i, 22, 21) * 16


def _bitfield(i: int) -> tuple:
    """(sf, rd, rn, immr, imms)."""
    return _sf(i), _rd(i), _rn(i), _bits(i, 21, 16), _bits(i, 15, 10)


def _extract(i: int) -> tuple:
    """(sf, rd, rn, rm, lsb)."""
    return _sf(i), _rd(i), _rn(i), _rm(i), _bits(i, 15, 10)


def _branch_imm(i: int) -> tuple:
    """(offset,) in bytes from this instruction."""
    return (_sext(i, 26) * 4,)


def _branch_cond(i: int) -> tuple:
    """(cond, offset)."""
    return _cond(i, 0), _sext(i >> 5, 19) * 4


def _compare_branch(i: int) -> tuple:
    """(sf, rt, offset)."""
    return _sf(i), _rd(i), _sext(i >> 5, 19) * 4


def _test_branch(i: int) -> tuple:
    """(rt, bit, offset): bit = b5:b40 selects the tested bit of Xt (or Wt when < 32)."""
    return _rd(i), (_bits(i, 31, 31) << 5) | _bits(i, 23, 19), _sext(i >> 5, 14) * 4


def _branch_reg(i: int) -> tuple:
    """(rn,)."""
    return (_rn(i),)


def _exception(i: int) -> tuple:
    """(imm16,)."""
    return (_bits(i, 20, 5),)


def _hint(i: int) -> tuple:
    """(hint number CRm:op2,): unallocated hints execute as NOP."""
    return (_bits(i, 11, 5),)


def _barrier(i: int) -> tuple:
    """(crm,): the barrier option / domain field."""
    return (_bits(i, 11, 8),)


def _sysreg(i: int) -> tuple:
    """(op0, op1, crn, crm, op2, rt): the register is ``S<op0>_<op1>_C<crn>_C<crm>_<op2>``."""
    return (_bits(i, 20, 19), _bits(i, 18, 16), _bits(i, 15, 12), _bits(i, 11, 8), _bits(i, 7, 5),
            _rd(i))


def _shifted(i: int) -> tuple:
    """(sf, rd, rn, rm, shift_type, amount)."""
    return _sf(i), _rd(i), _rn(i), _rm(i), _bits(i, 23, 22), _bits(i, 15, 10)


def _extended(i: int) -> tuple:
    """(sf, rd, rn, rm, extend_option, left_shift)."""
    return _sf(i), _rd(i), _rn(i), _rm(i), _bits(i, 15, 13), _bits(i, 12, 10)


def _rrr(i: int) -> tuple:
    """(sf, rd, rn, rm)."""
    return _sf(i), _rd(i), _rn(i), _rm(i)


def _rr(i: int) -> tuple:
    """(sf, rd, rn)."""
    return _sf(i), _rd(i), _rn(i)


def _rrrr(i: int) -> tuple:
    """(sf, rd, rn, rm, ra)."""
    return _sf(i), _rd(i), _rn(i), _rm(i), _ra(i)


def _cond_compare_reg(i: int) -> tuple:
    """(sf, rn, rm, nzcv, cond)."""
    return _sf(i), _rn(i), _rm(i), _bits(i, 3, 0), _cond(i, 12)


def _cond_compare_imm(i: int) -> tuple:
    """(sf, rn, imm5, nzcv, cond)."""
    return _sf(i), _rn(i), _bits(i, 20, 16), _bits(i, 3, 0), _cond(i, 12)


def _cond_select(i: int) -> tuple:
    """(sf, rd, rn, rm, cond)."""
    return _sf(i), _rd(i), _rn(i), _rm(i), _cond(i, 12)


# loads and stores: size = log2(bytes); SIMD&FP Q accesses (size 00, opc<1> = 1) have size 4


def _mem_size(i: int) -> int:
    size = i >> 30
    if i >> 26 & 1 and i >> 23 & 1:
        return 4
    return size


def _dest64(i: int) -> bool:
    """General-register loads: the loaded value is written to Xt (not Wt)."""
    return i >> 30 == 3 or _bits(i, 23, 22) == 2


def _ldst_uimm(i: int) -> tuple:
    """(size, dest64, rt, rn, offset): unsigned 12-bit offset scaled by the access size."""
    return _mem_size(i), _dest64(i), _rd(i), _rn(i), _bits(i, 21, 10) << _mem_size(i)


def _ldst_simm9(i: int) -> tuple:
    """(size, dest64, rt, rn, offset): signed 9-bit byte offset (unscaled, pre- and post-index)."""
    return _mem_size(i), _dest64(i), _rd(i), _rn(i), _sext(i >> 12, 9)


def _ldst_reg(i: int) -> tuple:
    """(size, dest64, rt, rn, rm, extend_option, shift): shift is size when S is set, else 0."""
    return (_mem_size(i), _dest64(i), _rd(i), _rn(i), _rm(i), _bits(i, 15, 13),
            _mem_size(i) if i >> 12 & 1 else 0)


def _fp_ldst_uimm(i: int) -> tuple:
    """(size, rt, rn, offset)."""
    return _mem_size(i), _rd(i), _rn(i), _bits(i, 21, 10) << _mem_size(i)


def _fp_ldst_simm9(i: int) -> tuple:
    """(size, rt, rn, offset)."""
    return _mem_size(i), _rd(i), _rn(i), _sext(i >> 12, 9)


def _fp_ldst_reg(i: int) -> tuple:
    """(size, rt, rn, rm, extend_option, shift)."""
    return _mem_size(i), _rd(i), _rn(i), _rm(i), _bits(i, 15, 13), _mem_size(i) if i >> 12 & 1 else 0


def _literal(i: int) -> tuple:
    """(size, rt, offset): LDR (literal), size 2 (Wt / LDRSW / S) or 3 (Xt / D) or 4 (Q)."""
    opc = i >> 30
    size = 2 if opc == 2 and not i >> 26 & 1 else 2 + opc
    return size, _rd(i), _sext(i >> 5, 19) * 4


def _pair(i: int) -> tuple:
    """(size, rt, rt2, rn, offset): signed 7-bit offset scaled by the register size."""
    opc = i >> 30
    size = 2 + opc if i >> 26 & 1 else 2 + (opc >> 1)
    return size, _rd(i), _bits(i, 14, 10), _rn(i), _sext(i >> 15, 7) << size


def _exclusive(i: int) -> tuple:
    """(size, rs, rt, rt2, rn): rs receives the store-exclusive status."""
    return i >> 30, _rm(i), _rd(i), _bits(i, 14, 10), _rn(i)


def _exclusive_pair(i: int) -> tuple:
    """(size, rs, rt, rt2, rn): size 2 or 3 of each register."""
    return 2 + _bits(i, 30, 30), _rm(i), _rd(i), _bits(i, 14, 10), _rn(i)


def _acq_rel(i: int) -> tuple:
    """(size, rt, rn)."""
    return i >> 30, _rd(i), _rn(i)


def _cas(i: int) -> tuple:
    """(size, acquire, release, rs, rt, rn)."""
    return i >> 30, _bits(i, 22, 22), _bits(i, 15, 15), _rm(i), _rd(i), _rn(i)


def _casp(i: int) -> tuple:
    """(size, acquire, release, rs, rt, rn): size of each register (2 or 3) of the even pairs."""
    return 2 + _bits(i, 30, 30), _bits(i, 22, 22), _bits(i, 15, 15), _rm(i), _rd(i), _rn(i)


def _atomic(i: int) -> tuple:
    """(size, acquire, release, rs, rt, rn): rs is the operand, rt receives the old value."""
    return i >> 30, _bits(i, 23, 23), _bits(i, 22, 22), _rm(i), _rd(i), _rn(i)


FORMATS = {
    "adr": _adr,
    "addsub_imm": _addsub_imm,
    "logic_imm": _logic_imm,
    "movewide": _movewide,
    "bitfield": _bitfield,
    "extract": _extract,
    "branch_imm": _branch_imm,
    "branch_cond": _branch_cond,
    "compare_branch": _compare_branch,
    "test_branch": _test_branch,
    "branch_reg": _branch_reg,
    "exception": _exception,
    "none": lambda i: (),
    "hint": _hint,
    "barrier": _barrier,
    "sysreg": _sysreg,
    "shifted": _shifted,
    "extended": _extended,
    "rrr": _rrr,
    "rr": _rr,
    "rrrr": _rrrr,
    "cond_compare_reg": _cond_compare_reg,
    "cond_compare_imm": _cond_compare_imm,
    "cond_select": _cond_select,
    "ldst_uimm": _ldst_uimm,
    "ldst_simm9": _ldst_simm9,
    "ldst_reg": _ldst_reg,
    "fp_ldst_uimm": _fp_ldst_uimm,
    "fp_ldst_simm9": _fp_ldst_simm9,
    "fp_ldst_reg": _fp_ldst_reg,
    "literal": _literal,
    "pair": _pair,
    "exclusive": _exclusive,
    "exclusive_pair": _exclusive_pair,
    "acq_rel": _acq_rel,
    "cas": _cas,
    "casp": _casp,
    "atomic": _atomic,
}


def sysreg_key(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """The MRS/MSR register number (the encoding's bits 20:5 without Rt)."""
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


#: The system registers EL0 code may access, by ``sysreg_key``; MRS/MSR of others is UNDEFINED at EL0
#: (except the ID registers, which the Linux kernel emulates: see :mod:`pyqemu.target.arm.cpu`).
EL0_SYSREGS = {
    sysreg_key(3, 3, 13, 0, 2): "TPIDR_EL0",
    sysreg_key(3, 3, 13, 0, 3): "TPIDRRO_EL0",
    sysreg_key(3, 3, 4, 2, 0): "NZCV",
    sysreg_key(3, 3, 4, 4, 0): "FPCR",
    sysreg_key(3, 3, 4, 4, 1): "FPSR",
    sysreg_key(3, 3, 14, 0, 2): "CNTVCT_EL0",
    sysreg_key(3, 3, 14, 0, 0): "CNTFRQ_EL0",
    sysreg_key(3, 3, 0, 0, 1): "CTR_EL0",
    sysreg_key(3, 3, 0, 0, 7): "DCZID_EL0",
}

#: The SYS operations Linux lets EL0 execute (SCTLR_EL1.DZE and UCI set), by ``sysreg_key`` (op0 = 1);
#: other SYS encodings are UNDEFINED at EL0.
EL0_SYS_OPS = {
    sysreg_key(1, 3, 7, 4, 1): "DC ZVA",
    sysreg_key(1, 3, 7, 10, 1): "DC CVAC",
    sysreg_key(1, 3, 7, 11, 1): "DC CVAU",
    sysreg_key(1, 3, 7, 14, 1): "DC CIVAC",
    sysreg_key(1, 3, 7, 5, 1): "IC IVAU",
}

# Groups of fields in the patterns below follow the Arm ARM encoding diagrams, most significant first.
TABLE = """
# === Data processing - immediate (op0 = 100x) ====================================================
#          op immlo 10000 immhi               Rd
adr        0  ..    10000 ...................  .....  adr
adrp       1  ..    10000 ...................  .....  adr
#          sf op S 100010 sh imm12        Rn    Rd
add_imm    .  0  0 100010 .  ............ ..... .....  addsub_imm
adds_imm   .  0  1 100010 .  ............ ..... .....  addsub_imm
sub_imm    .  1  0 100010 .  ............ ..... .....  addsub_imm
subs_imm   .  1  1 100010 .  ............ ..... .....  addsub_imm
#          sf opc 100100 N immr   imms   Rn    Rd     (sf = 0 needs N = 0)
and_imm    0  00  100100 0 ...... ...... ..... .....  logic_imm
and_imm    1  00  100100 . ...... ...... ..... .....  logic_imm
orr_imm    0  01  100100 0 ...... ...... ..... .....  logic_imm
orr_imm    1  01  100100 . ...... ...... ..... .....  logic_imm
eor_imm    0  10  100100 0 ...... ...... ..... .....  logic_imm
eor_imm    1  10  100100 . ...... ...... ..... .....  logic_imm
ands_imm   0  11  100100 0 ...... ...... ..... .....  logic_imm
ands_imm   1  11  100100 . ...... ...... ..... .....  logic_imm
#          sf opc 100101 hw imm16            Rd     (sf = 0 needs hw < 2)
movn       0  00  100101 0. ................ .....  movewide
movn       1  00  100101 .. ................ .....  movewide
movz       0  10  100101 0. ................ .....  movewide
movz       1  10  100101 .. ................ .....  movewide
movk       0  11  100101 0. ................ .....  movewide
movk       1  11  100101 .. ................ .....  movewide
#          sf opc 100110 N immr   imms   Rn    Rd     (N = sf; sf = 0 needs immr, imms < 32)
sbfm       0  00  100110 0 0..... 0..... ..... .....  bitfield
sbfm       1  00  100110 1 ...... ...... ..... .....  bitfield
bfm        0  01  100110 0 0..... 0..... ..... .....  bitfield
bfm        1  01  100110 1 ...... ...... ..... .....  bitfield
ubfm       0  10  100110 0 0..... 0..... ..... .....  bitfield
ubfm       1  10  100110 1 ...... ...... ..... .....  bitfield
#          sf op21 100111 N o0 Rm   imms   Rn    Rd
extr       0  00   100111 0 0 ..... 0..... ..... .....  extract
extr       1  00   100111 1 0 ..... ...... ..... .....  extract

# === Branches, exception generation and system (op0 = 101x) ======================================
b          0 00101 ..........................   branch_imm
bl         1 00101 ..........................   branch_imm
#          0101010 o1 imm19               o0 cond
b_cond     0101010 0  ................... 0  ....   branch_cond
#          sf 011010 op imm19               Rt
cbz        .  011010 0  ................... .....  compare_branch
cbnz       .  011010 1  ................... .....  compare_branch
#          b5 011011 op b40   imm14          Rt
tbz        .  011011 0  ..... .............. .....  test_branch
tbnz       .  011011 1  ..... .............. .....  test_branch
#          1101011 opc  op2   op3    Rn    op4
br         1101011 0000 11111 000000 ..... 00000  branch_reg
blr        1101011 0001 11111 000000 ..... 00000  branch_reg
ret        1101011 0010 11111 000000 ..... 00000  branch_reg
#          11010100 opc imm16            op2 LL
svc        11010100 000 ................ 000 01   exception
brk        11010100 001 ................ 000 00   exception
hlt        11010100 010 ................ 000 00   exception
#          1101010100 L op0 op1 CRn  CRm  op2 Rt
nop        1101010100 0 00  011 0010 0000 000 11111  none
hint       1101010100 0 00  011 0010 .... ... 11111  hint
clrex      1101010100 0 00  011 0011 .... 010 11111  none
dsb        1101010100 0 00  011 0011 .... 100 11111  barrier
dmb        1101010100 0 00  011 0011 .... 101 11111  barrier
isb        1101010100 0 00  011 0011 .... 110 11111  barrier
sys        1101010100 0 01  ... .... .... ... .....  sysreg
msr_reg    1101010100 0 1.  ... .... .... ... .....  sysreg
mrs        1101010100 1 1.  ... .... .... ... .....  sysreg

# === Data processing - register (op1 = x101) ======================================================
#          sf opc 01010 shift N Rm    imm6   Rn    Rd       (sf = 0 needs imm6 < 32)
and_shift  0  00  01010 ..    0 ..... 0..... ..... .....  shifted
and_shift  1  00  01010 ..    0 ..... ...... ..... .....  shifted
bic_shift  0  00  01010 ..    1 ..... 0..... ..... .....  shifted
bic_shift  1  00  01010 ..    1 ..... ...... ..... .....  shifted
orr_shift  0  01  01010 ..    0 ..... 0..... ..... .....  shifted
orr_shift  1  01  01010 ..    0 ..... ...... ..... .....  shifted
orn_shift  0  01  01010 ..    1 ..... 0..... ..... .....  shifted
orn_shift  1  01  01010 ..    1 ..... ...... ..... .....  shifted
eor_shift  0  10  01010 ..    0 ..... 0..... ..... .....  shifted
eor_shift  1  10  01010 ..    0 ..... ...... ..... .....  shifted
eon_shift  0  10  01010 ..    1 ..... 0..... ..... .....  shifted
eon_shift  1  10  01010 ..    1 ..... ...... ..... .....  shifted
ands_shift 0  11  01010 ..    0 ..... 0..... ..... .....  shifted
ands_shift 1  11  01010 ..    0 ..... ...... ..... .....  shifted
bics_shift 0  11  01010 ..    1 ..... 0..... ..... .....  shifted
bics_shift 1  11  01010 ..    1 ..... ...... ..... .....  shifted
#          sf op S 01011 shift 0 Rm    imm6   Rn    Rd    (shift 11 reserved; sf = 0 needs imm6 < 32)
add_shift  0  0  0 01011 0.    0 ..... 0..... ..... .....  shifted
add_shift  0  0  0 01011 10    0 ..... 0..... ..... .....  shifted
add_shift  1  0  0 01011 0.    0 ..... ...... ..... .....  shifted
add_shift  1  0  0 01011 10    0 ..... ...... ..... .....  shifted
adds_shift 0  0  1 01011 0.    0 ..... 0..... ..... .....  shifted
adds_shift 0  0  1 01011 10    0 ..... 0..... ..... .....  shifted
adds_shift 1  0  1 01011 0.    0 ..... ...... ..... .....  shifted
adds_shift 1  0  1 01011 10    0 ..... ...... ..... .....  shifted
sub_shift  0  1  0 01011 0.    0 ..... 0..... ..... .....  shifted
sub_shift  0  1  0 01011 10    0 ..... 0..... ..... .....  shifted
sub_shift  1  1  0 01011 0.    0 ..... ...... ..... .....  shifted
sub_shift  1  1  0 01011 10    0 ..... ...... ..... .....  shifted
subs_shift 0  1  1 01011 0.    0 ..... 0..... ..... .....  shifted
subs_shift 0  1  1 01011 10    0 ..... 0..... ..... .....  shifted
subs_shift 1  1  1 01011 0.    0 ..... ...... ..... .....  shifted
subs_shift 1  1  1 01011 10    0 ..... ...... ..... .....  shifted
#          sf op S 01011 opt 1 Rm    option imm3 Rn    Rd  (opt = 00; imm3 <= 4)
add_ext    .  0  0 01011 00  1 ..... ...    0..  ..... .....  extended
add_ext    .  0  0 01011 00  1 ..... ...    100  ..... .....  extended
adds_ext   .  0  1 01011 00  1 ..... ...    0..  ..... .....  extended
adds_ext   .  0  1 01011 00  1 ..... ...    100  ..... .....  extended
sub_ext    .  1  0 01011 00  1 ..... ...    0..  ..... .....  extended
sub_ext    .  1  0 01011 00  1 ..... ...    100  ..... .....  extended
subs_ext   .  1  1 01011 00  1 ..... ...    0..  ..... .....  extended
subs_ext   .  1  1 01011 00  1 ..... ...    100  ..... .....  extended
#          sf op S 11010000 Rm    000000 Rn    Rd
adc        .  0  0 11010000 ..... 000000 ..... .....  rrr
adcs       .  0  1 11010000 ..... 000000 ..... .....  rrr
sbc        .  1  0 11010000 ..... 000000 ..... .....  rrr
sbcs       .  1  1 11010000 ..... 000000 ..... .....  rrr
#          sf op 1 11010010 Rm    cond 1/0 o2 Rn    o3 nzcv
ccmn_reg   .  0  1 11010010 ..... .... 0   0  ..... 0  ....  cond_compare_reg
ccmp_reg   .  1  1 11010010 ..... .... 0   0  ..... 0  ....  cond_compare_reg
ccmn_imm   .  0  1 11010010 ..... .... 1   0  ..... 0  ....  cond_compare_imm
ccmp_imm   .  1  1 11010010 ..... .... 1   0  ..... 0  ....  cond_compare_imm
#          sf op S 11010100 Rm    cond op2 Rn    Rd
csel       .  0  0 11010100 ..... .... 00  ..... .....  cond_select
csinc      .  0  0 11010100 ..... .... 01  ..... .....  cond_select
csinv      .  1  0 11010100 ..... .... 00  ..... .....  cond_select
csneg      .  1  0 11010100 ..... .... 01  ..... .....  cond_select
#          sf op54 11011 op31 Rm    o0 Ra    Rn    Rd
madd       .  00   11011 000  ..... 0  ..... ..... .....  rrrr
msub       .  00   11011 000  ..... 1  ..... ..... .....  rrrr
smaddl     1  00   11011 001  ..... 0  ..... ..... .....  rrrr
smsubl     1  00   11011 001  ..... 1  ..... ..... .....  rrrr
smulh      1  00   11011 010  ..... 0  ..... ..... .....  rrr
umaddl     1  00   11011 101  ..... 0  ..... ..... .....  rrrr
umsubl     1  00   11011 101  ..... 1  ..... ..... .....  rrrr
umulh      1  00   11011 110  ..... 0  ..... ..... .....  rrr
#          sf 0 S 11010110 Rm    opcode Rn    Rd
udiv       .  0 0 11010110 ..... 000010 ..... .....  rrr
sdiv       .  0 0 11010110 ..... 000011 ..... .....  rrr
lslv       .  0 0 11010110 ..... 001000 ..... .....  rrr
lsrv       .  0 0 11010110 ..... 001001 ..... .....  rrr
asrv       .  0 0 11010110 ..... 001010 ..... .....  rrr
rorv       .  0 0 11010110 ..... 001011 ..... .....  rrr
#          sf 1 S 11010110 opcode2 opcode Rn    Rd   (REV: opcode 000010 with sf = 0, 000011 with sf = 1)
rbit       .  1 0 11010110 00000   000000 ..... .....  rr
rev16      .  1 0 11010110 00000   000001 ..... .....  rr
rev32      1  1 0 11010110 00000   000010 ..... .....  rr
rev        0  1 0 11010110 00000   000010 ..... .....  rr
rev        1  1 0 11010110 00000   000011 ..... .....  rr
clz        .  1 0 11010110 00000   000100 ..... .....  rr
cls        .  1 0 11010110 00000   000101 ..... .....  rr

# === Loads and stores (op0 = x1x0) ================================================================
# --- register, unsigned offset:   size 111 V 01 opc imm12 Rn Rt ---
strb_imm     00 111 0 01 00 ............ ..... .....  ldst_uimm
ldrb_imm     00 111 0 01 01 ............ ..... .....  ldst_uimm
ldrsb_imm    00 111 0 01 1. ............ ..... .....  ldst_uimm
strh_imm     01 111 0 01 00 ............ ..... .....  ldst_uimm
ldrh_imm     01 111 0 01 01 ............ ..... .....  ldst_uimm
ldrsh_imm    01 111 0 01 1. ............ ..... .....  ldst_uimm
str_imm      1. 111 0 01 00 ............ ..... .....  ldst_uimm
ldr_imm      1. 111 0 01 01 ............ ..... .....  ldst_uimm
ldrsw_imm    10 111 0 01 10 ............ ..... .....  ldst_uimm
prfm_imm     11 111 0 01 10 ............ ..... .....  ldst_uimm
str_fp_imm   .. 111 1 01 00 ............ ..... .....  fp_ldst_uimm
ldr_fp_imm   .. 111 1 01 01 ............ ..... .....  fp_ldst_uimm
str_fp_imm   00 111 1 01 10 ............ ..... .....  fp_ldst_uimm
ldr_fp_imm   00 111 1 01 11 ............ ..... .....  fp_ldst_uimm
# --- register, unscaled:   size 111 V 00 opc 0 imm9 00 Rn Rt ---
sturb        00 111 0 00 00 0 ......... 00 ..... .....  ldst_simm9
ldurb        00 111 0 00 01 0 ......... 00 ..... .....  ldst_simm9
ldursb       00 111 0 00 1. 0 ......... 00 ..... .....  ldst_simm9
sturh        01 111 0 00 00 0 ......... 00 ..... .....  ldst_simm9
ldurh        01 111 0 00 01 0 ......... 00 ..... .....  ldst_simm9
ldursh       01 111 0 00 1. 0 ......... 00 ..... .....  ldst_simm9
stur         1. 111 0 00 00 0 ......... 00 ..... .....  ldst_simm9
ldur         1. 111 0 00 01 0 ......... 00 ..... .....  ldst_simm9
ldursw       10 111 0 00 10 0 ......... 00 ..... .....  ldst_simm9
prfum        11 111 0 00 10 0 ......... 00 ..... .....  ldst_simm9
stur_fp      .. 111 1 00 00 0 ......... 00 ..... .....  fp_ldst_simm9
ldur_fp      .. 111 1 00 01 0 ......... 00 ..... .....  fp_ldst_simm9
stur_fp      00 111 1 00 10 0 ......... 00 ..... .....  fp_ldst_simm9
ldur_fp      00 111 1 00 11 0 ......... 00 ..... .....  fp_ldst_simm9
# --- register, post-index:   size 111 V 00 opc 0 imm9 01 Rn Rt ---
strb_post    00 111 0 00 00 0 ......... 01 ..... .....  ldst_simm9
ldrb_post    00 111 0 00 01 0 ......... 01 ..... .....  ldst_simm9
ldrsb_post   00 111 0 00 1. 0 ......... 01 ..... .....  ldst_simm9
strh_post    01 111 0 00 00 0 ......... 01 ..... .....  ldst_simm9
ldrh_post    01 111 0 00 01 0 ......... 01 ..... .....  ldst_simm9
ldrsh_post   01 111 0 00 1. 0 ......... 01 ..... .....  ldst_simm9
str_post     1. 111 0 00 00 0 ......... 01 ..... .....  ldst_simm9
ldr_post     1. 111 0 00 01 0 ......... 01 ..... .....  ldst_simm9
ldrsw_post   10 111 0 00 10 0 ......... 01 ..... .....  ldst_simm9
str_fp_post  .. 111 1 00 00 0 ......... 01 ..... .....  fp_ldst_simm9
ldr_fp_post  .. 111 1 00 01 0 ......... 01 ..... .....  fp_ldst_simm9
str_fp_post  00 111 1 00 10 0 ......... 01 ..... .....  fp_ldst_simm9
ldr_fp_post  00 111 1 00 11 0 ......... 01 ..... .....  fp_ldst_simm9
# --- register, pre-index:   size 111 V 00 opc 0 imm9 11 Rn Rt ---
strb_pre     00 111 0 00 00 0 ......... 11 ..... .....  ldst_simm9
ldrb_pre     00 111 0 00 01 0 ......... 11 ..... .....  ldst_simm9
ldrsb_pre    00 111 0 00 1. 0 ......... 11 ..... .....  ldst_simm9
strh_pre     01 111 0 00 00 0 ......... 11 ..... .....  ldst_simm9
ldrh_pre     01 111 0 00 01 0 ......... 11 ..... .....  ldst_simm9
ldrsh_pre    01 111 0 00 1. 0 ......... 11 ..... .....  ldst_simm9
str_pre      1. 111 0 00 00 0 ......... 11 ..... .....  ldst_simm9
ldr_pre      1. 111 0 00 01 0 ......... 11 ..... .....  ldst_simm9
ldrsw_pre    10 111 0 00 10 0 ......... 11 ..... .....  ldst_simm9
str_fp_pre   .. 111 1 00 00 0 ......... 11 ..... .....  fp_ldst_simm9
ldr_fp_pre   .. 111 1 00 01 0 ......... 11 ..... .....  fp_ldst_simm9
str_fp_pre   00 111 1 00 10 0 ......... 11 ..... .....  fp_ldst_simm9
ldr_fp_pre   00 111 1 00 11 0 ......... 11 ..... .....  fp_ldst_simm9
# --- unprivileged (at EL0 ordinary accesses):   size 111 0 00 opc 0 imm9 10 Rn Rt ---
sttrb        00 111 0 00 00 0 ......... 10 ..... .....  ldst_simm9
ldtrb        00 111 0 00 01 0 ......... 10 ..... .....  ldst_simm9
ldtrsb       00 111 0 00 1. 0 ......... 10 ..... .....  ldst_simm9
sttrh        01 111 0 00 00 0 ......... 10 ..... .....  ldst_simm9
ldtrh        01 111 0 00 01 0 ......... 10 ..... .....  ldst_simm9
ldtrsh       01 111 0 00 1. 0 ......... 10 ..... .....  ldst_simm9
sttr         1. 111 0 00 00 0 ......... 10 ..... .....  ldst_simm9
ldtr         1. 111 0 00 01 0 ......... 10 ..... .....  ldst_simm9
ldtrsw       10 111 0 00 10 0 ......... 10 ..... .....  ldst_simm9
# --- register offset:   size 111 V 00 opc 1 Rm option S 10 Rn Rt   (option<1> = 1) ---
strb_reg     00 111 0 00 00 1 ..... .1. . 10 ..... .....  ldst_reg
ldrb_reg     00 111 0 00 01 1 ..... .1. . 10 ..... .....  ldst_reg
ldrsb_reg    00 111 0 00 1. 1 ..... .1. . 10 ..... .....  ldst_reg
strh_reg     01 111 0 00 00 1 ..... .1. . 10 ..... .....  ldst_reg
ldrh_reg     01 111 0 00 01 1 ..... .1. . 10 ..... .....  ldst_reg
ldrsh_reg    01 111 0 00 1. 1 ..... .1. . 10 ..... .....  ldst_reg
str_reg      1. 111 0 00 00 1 ..... .1. . 10 ..... .....  ldst_reg
ldr_reg      1. 111 0 00 01 1 ..... .1. . 10 ..... .....  ldst_reg
ldrsw_reg    10 111 0 00 10 1 ..... .1. . 10 ..... .....  ldst_reg
prfm_reg     11 111 0 00 10 1 ..... .1. . 10 ..... .....  ldst_reg
str_fp_reg   .. 111 1 00 00 1 ..... .1. . 10 ..... .....  fp_ldst_reg
ldr_fp_reg   .. 111 1 00 01 1 ..... .1. . 10 ..... .....  fp_ldst_reg
str_fp_reg   00 111 1 00 10 1 ..... .1. . 10 ..... .....  fp_ldst_reg
ldr_fp_reg   00 111 1 00 11 1 ..... .1. . 10 ..... .....  fp_ldst_reg
# --- literal:   opc 011 V 00 imm19 Rt ---
ldr_lit      0. 011 0 00 ................... .....  literal
ldrsw_lit    10 011 0 00 ................... .....  literal
prfm_lit     11 011 0 00 ................... .....  literal
ldr_fp_lit   0. 011 1 00 ................... .....  literal
ldr_fp_lit   10 011 1 00 ................... .....  literal
# --- pairs:   opc 101 V mode L imm7 Rt2 Rn Rt   (mode 000 no-allocate offset, 001 post-index, 010 offset,
# 011 pre-index) ---
stnp         .0 101 0 000 0 ....... ..... ..... .....  pair
ldnp         .0 101 0 000 1 ....... ..... ..... .....  pair
stnp_fp      0. 101 1 000 0 ....... ..... ..... .....  pair
stnp_fp      10 101 1 000 0 ....... ..... ..... .....  pair
ldnp_fp      0. 101 1 000 1 ....... ..... ..... .....  pair
ldnp_fp      10 101 1 000 1 ....... ..... ..... .....  pair
stp          .0 101 0 010 0 ....... ..... ..... .....  pair
ldp          .0 101 0 010 1 ....... ..... ..... .....  pair
ldpsw        01 101 0 010 1 ....... ..... ..... .....  pair
stp_post     .0 101 0 001 0 ....... ..... ..... .....  pair
ldp_post     .0 101 0 001 1 ....... ..... ..... .....  pair
ldpsw_post   01 101 0 001 1 ....... ..... ..... .....  pair
stp_pre      .0 101 0 011 0 ....... ..... ..... .....  pair
ldp_pre      .0 101 0 011 1 ....... ..... ..... .....  pair
ldpsw_pre    01 101 0 011 1 ....... ..... ..... .....  pair
stp_fp       0. 101 1 010 0 ....... ..... ..... .....  pair
stp_fp       10 101 1 010 0 ....... ..... ..... .....  pair
ldp_fp       0. 101 1 010 1 ....... ..... ..... .....  pair
ldp_fp       10 101 1 010 1 ....... ..... ..... .....  pair
stp_fp_post  0. 101 1 001 0 ....... ..... ..... .....  pair
stp_fp_post  10 101 1 001 0 ....... ..... ..... .....  pair
ldp_fp_post  0. 101 1 001 1 ....... ..... ..... .....  pair
ldp_fp_post  10 101 1 001 1 ....... ..... ..... .....  pair
stp_fp_pre   0. 101 1 011 0 ....... ..... ..... .....  pair
stp_fp_pre   10 101 1 011 0 ....... ..... ..... .....  pair
ldp_fp_pre   0. 101 1 011 1 ....... ..... ..... .....  pair
ldp_fp_pre   10 101 1 011 1 ....... ..... ..... .....  pair
# --- exclusive and ordered:   size 001000 o2 L o1 Rs o0 Rt2 Rn Rt ---
# Rs (loads) and Rt2 (single-register forms) are should-be-one fields: other values are CONSTRAINED
# UNPREDICTABLE and decode as the instruction (so do Ra of SMULH/UMULH).
stxr         .. 001000 0 0 0 ..... 0 ..... ..... .....  exclusive
stlxr        .. 001000 0 0 0 ..... 1 ..... ..... .....  exclusive
ldxr         .. 001000 0 1 0 ..... 0 ..... ..... .....  exclusive
ldaxr        .. 001000 0 1 0 ..... 1 ..... ..... .....  exclusive
stxp         1. 001000 0 0 1 ..... 0 ..... ..... .....  exclusive_pair
stlxp        1. 001000 0 0 1 ..... 1 ..... ..... .....  exclusive_pair
ldxp         1. 001000 0 1 1 ..... 0 ..... ..... .....  exclusive_pair
ldaxp        1. 001000 0 1 1 ..... 1 ..... ..... .....  exclusive_pair
stlr         .. 001000 1 0 0 ..... 1 ..... ..... .....  acq_rel
ldar         .. 001000 1 1 0 ..... 1 ..... ..... .....  acq_rel
#            size 001000 1 L 1 Rs o0 Rt2 Rn Rt   (L: acquire, o0: release)
cas          .. 001000 1 . 1 ..... . ..... ..... .....  cas
#            0 sz 001000 0 L 1 Rs o0 Rt2 Rn Rt   (Rs and Rt even)
casp         0. 001000 0 . 1 ....0 . ..... ..... ....0  casp
# --- atomic memory operations:   size 111 V 00 A R 1 Rs o3 opc 00 Rn Rt ---
ldadd        .. 111 0 00 . . 1 ..... 0 000 00 ..... .....  atomic
ldclr        .. 111 0 00 . . 1 ..... 0 001 00 ..... .....  atomic
ldeor        .. 111 0 00 . . 1 ..... 0 010 00 ..... .....  atomic
ldset        .. 111 0 00 . . 1 ..... 0 011 00 ..... .....  atomic
ldsmax       .. 111 0 00 . . 1 ..... 0 100 00 ..... .....  atomic
ldsmin       .. 111 0 00 . . 1 ..... 0 101 00 ..... .....  atomic
ldumax       .. 111 0 00 . . 1 ..... 0 110 00 ..... .....  atomic
ldumin       .. 111 0 00 . . 1 ..... 0 111 00 ..... .....  atomic
swp          .. 111 0 00 . . 1 ..... 1 000 00 ..... .....  atomic
"""

#: Bits every pattern fixes (28:26, the top-level op0 minus bit 25, which B/BL use for their offset).
GROUP_MASK = 0x1C000000

#: Every instruction name in ``TABLE``: the translator must provide one handler per name.
HANDLER_NAMES = frozenset(
    line.split("#", 1)[0].split()[0] for line in TABLE.splitlines() if line.split("#", 1)[0].strip()
)
