"""RISC-V compressed (RVC) encodings for RV64 (RISC-V Unprivileged ISA 20191213, ch. 16).

Like QEMU's insn16.decode, each compressed instruction is expanded to the arguments of its 32-bit
equivalent and handled by that instruction's translator: ``EXPANDS_TO`` names it, the format builds its
argument tuple.  Reserved encodings (rd = 0 where forbidden, zero immediates) decode to ``illegal``.
"""

from __future__ import annotations

from .insn32 import _sext


def _b(i: int, hi: int, lo: int) -> int:
    return (i >> lo) & ((1 << (hi - lo + 1)) - 1)


def _rdp(i: int) -> int:  # rd' / rs2' (bits 4:2)
    return 8 + _b(i, 4, 2)


def _rs1p(i: int) -> int:  # rs1' / rd' (bits 9:7)
    return 8 + _b(i, 9, 7)


def _rd(i: int) -> int:
    return _b(i, 11, 7)


def _rs2(i: int) -> int:
    return _b(i, 6, 2)


def _imm6(i: int) -> int:
    return _sext(_b(i, 12, 12) << 5 | _b(i, 6, 2), 6)


def _uimm6(i: int) -> int:
    return _b(i, 12, 12) << 5 | _b(i, 6, 2)


def _off_lw(i: int) -> int:
    return _b(i, 12, 10) << 3 | _b(i, 6, 6) << 2 | _b(i, 5, 5) << 6


def _off_ld(i: int) -> int:
    return _b(i, 12, 10) << 3 | _b(i, 6, 5) << 6


def _off_lwsp(i: int) -> int:
    return _b(i, 12, 12) << 5 | _b(i, 6, 4) << 2 | _b(i, 3, 2) << 6


def _off_ldsp(i: int) -> int:
    return _b(i, 12, 12) << 5 | _b(i, 6, 5) << 3 | _b(i, 4, 2) << 6


def _off_swsp(i: int) -> int:
    return _b(i, 12, 9) << 2 | _b(i, 8, 7) << 6


def _off_sdsp(i: int) -> int:
    return _b(i, 12, 10) << 3 | _b(i, 9, 7) << 6


def _addi4spn(i: int) -> int:
    return _b(i, 12, 11) << 4 | _b(i, 10, 7) << 6 | _b(i, 6, 6) << 2 | _b(i, 5, 5) << 3


def _addi16sp(i: int) -> int:
    v = _b(i, 12, 12) << 9 | _b(i, 6, 6) << 4 | _b(i, 5, 5) << 6 | _b(i, 4, 3) << 7 | _b(i, 2, 2) << 5
    return _sext(v, 10)


def _j(i: int) -> int:
    v = (_b(i, 12, 12) << 11 | _b(i, 11, 11) << 4 | _b(i, 10, 9) << 8 | _b(i, 8, 8) << 10
         | _b(i, 7, 7) << 6 | _b(i, 6, 6) << 7 | _b(i, 5, 3) << 1 | _b(i, 2, 2) << 5)
    return _sext(v, 12)


def _branch(i: int) -> int:
    v = _b(i, 12, 12) << 8 | _b(i, 11, 10) << 3 | _b(i, 6, 5) << 6 | _b(i, 4, 3) << 1 | _b(i, 2, 2) << 5
    return _sext(v, 9)


FORMATS = {
    "none": lambda i: (),
    "addi4spn": lambda i: (_rdp(i), 2, _addi4spn(i)),
    "cl_w": lambda i: (_rdp(i), _rs1p(i), _off_lw(i)),
    "cl_d": lambda i: (_rdp(i), _rs1p(i), _off_ld(i)),
    "cs_w": lambda i: (_rs1p(i), _rdp(i), _off_lw(i)),
    "cs_d": lambda i: (_rs1p(i), _rdp(i), _off_ld(i)),
    "ci": lambda i: (_rd(i), _rd(i), _imm6(i)),
    "ci_li": lambda i: (_rd(i), 0, _imm6(i)),
    "ci_addi16sp": lambda i: (2, 2, _addi16sp(i)),
    "ci_lui": lambda i: (_rd(i), _sext(_imm6(i) << 12, 64)),
    "ci_sh": lambda i: (_rd(i), _rd(i), _uimm6(i)),
    "cb_sh": lambda i: (_rs1p(i), _rs1p(i), _uimm6(i)),
    "cb_andi": lambda i: (_rs1p(i), _rs1p(i), _imm6(i)),
    "ca": lambda i: (_rs1p(i), _rs1p(i), _rdp(i)),
    "cj": lambda i: (0, _j(i)),
    "cb": lambda i: (_rs1p(i), 0, _branch(i)),
    "ci_lwsp": lambda i: (_rd(i), 2, _off_lwsp(i)),
    "ci_ldsp": lambda i: (_rd(i), 2, _off_ldsp(i)),
    "css_w": lambda i: (2, _rs2(i), _off_swsp(i)),
    "css_d": lambda i: (2, _rs2(i), _off_sdsp(i)),
    "cr_jr": lambda i: (0, _rd(i), 0),
    "cr_jalr": lambda i: (1, _rd(i), 0),
    "cr_mv": lambda i: (_rd(i), 0, _rs2(i)),
    "cr_add": lambda i: (_rd(i), _rd(i), _rs2(i)),
}

TABLE = """
illegal    000 0 00000 00000 00  none
illegal_4spn 000 00000000 ... 00 none
c_addi4spn 000 . ..... ..... 00  addi4spn
c_fld      001 . ..... ..... 00  cl_d
c_lw       010 . ..... ..... 00  cl_w
c_ld       011 . ..... ..... 00  cl_d
c_fsd      101 . ..... ..... 00  cs_d
c_sw       110 . ..... ..... 00  cs_w
c_sd       111 . ..... ..... 00  cs_d
c_addi     000 . ..... ..... 01  ci
illegal_w0 001 . 00000 ..... 01  none
c_addiw    001 . ..... ..... 01  ci
c_li       010 . ..... ..... 01  ci_li
illegal_16 011 0 00010 00000 01  none
c_addi16sp 011 . 00010 ..... 01  ci_addi16sp
illegal_lui 011 0 ..... 00000 01 none
c_lui      011 . ..... ..... 01  ci_lui
c_srli     100 . 00 ... ..... 01 cb_sh
c_srai     100 . 01 ... ..... 01 cb_sh
c_andi     100 . 10 ... ..... 01 cb_andi
c_sub      100 0 11 ... 00 ... 01 ca
c_xor      100 0 11 ... 01 ... 01 ca
c_or       100 0 11 ... 10 ... 01 ca
c_and      100 0 11 ... 11 ... 01 ca
c_subw     100 1 11 ... 00 ... 01 ca
c_addw     100 1 11 ... 01 ... 01 ca
c_j        101 . ..... ..... 01  cj
c_beqz     110 . ..... ..... 01  cb
c_bnez     111 . ..... ..... 01  cb
c_slli     000 . ..... ..... 10  ci_sh
c_fldsp    001 . ..... ..... 10  ci_ldsp
illegal_lwsp 010 . 00000 ..... 10 none
c_lwsp     010 . ..... ..... 10  ci_lwsp
illegal_ldsp 011 . 00000 ..... 10 none
c_ldsp     011 . ..... ..... 10  ci_ldsp
illegal_jr 100 0 00000 00000 10  none
c_jr       100 0 ..... 00000 10  cr_jr
c_mv       100 0 ..... ..... 10  cr_mv
c_ebreak   100 1 00000 00000 10  none
c_jalr     100 1 ..... 00000 10  cr_jalr
c_add      100 1 ..... ..... 10  cr_add
c_fsdsp    101 . ..... ..... 10  css_d
c_swsp     110 . ..... ..... 10  css_w
c_sdsp     111 . ..... ..... 10  css_d
"""

#: compressed name -> the 32-bit instruction whose translator handles it
EXPANDS_TO = {
    "c_addi4spn": "addi", "c_fld": "fld", "c_lw": "lw", "c_ld": "ld", "c_fsd": "fsd", "c_sw": "sw",
    "c_sd": "sd", "c_addi": "addi", "c_addiw": "addiw", "c_li": "addi", "c_addi16sp": "addi",
    "c_lui": "lui", "c_srli": "srli", "c_srai": "srai", "c_andi": "andi", "c_sub": "sub",
    "c_xor": "xor", "c_or": "or", "c_and": "and", "c_subw": "subw", "c_addw": "addw", "c_j": "jal",
    "c_beqz": "beq", "c_bnez": "bne", "c_slli": "slli", "c_fldsp": "fld", "c_lwsp": "lw",
    "c_ldsp": "ld", "c_jr": "jalr", "c_mv": "add", "c_ebreak": "ebreak", "c_jalr": "jalr",
    "c_add": "add", "c_fsdsp": "fsd", "c_swsp": "sw", "c_sdsp": "sd",
    "illegal": "illegal", "illegal_4spn": "illegal", "illegal_w0": "illegal", "illegal_16": "illegal",
    "illegal_lui": "illegal", "illegal_lwsp": "illegal", "illegal_ldsp": "illegal",
    "illegal_jr": "illegal",
}
