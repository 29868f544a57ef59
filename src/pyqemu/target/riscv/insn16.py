"""RISC-V compressed (RVC) encodings for RV64 (RISC-V Unprivileged ISA 20191213, ch. 16).

Like QEMU's insn16.decode, each compressed instruction is expanded to the arguments of its 32-bit
equivalent and handled by that instruction's translator: ``EXPANDS_TO`` names it, the format builds its
argument tuple.  Reserved encodings (rd = 0 where forbidden, zero immediates) decode to ``illegal``.
"""

from __future__ import annotations

from collections.abc import Callable

from .insn32 import _sext


def _b(i: int, hi: int, lo: int) -> int:
    return (i >> lo) & ((1 << (hi - lo + 1)) - 1)


#: register operands: (bits hi, lo, register number added): rd/rs1 (11:7), rs2 (6:2), and the
#: three-bit rd'/rs2' (4:2) and rs1'/rd' (9:7) naming x8..x15
REGISTERS = {"rd": (11, 7, 0), "rs2": (6, 2, 0), "rdp": (4, 2, 8), "rs1p": (9, 7, 8)}

#: immediates: pieces (bits hi, lo of the instruction placed at bit ``at``), and the width they are
#: sign-extended from (0: unsigned) (ISA ch. 16.2-16.5)
IMMEDIATES: dict[str, tuple[tuple[tuple[int, int, int], ...], int]] = {
    "imm6": (((12, 12, 5), (6, 2, 0)), 6),
    "uimm6": (((12, 12, 5), (6, 2, 0)), 0),
    "off_lw": (((12, 10, 3), (6, 6, 2), (5, 5, 6)), 0),
    "off_ld": (((12, 10, 3), (6, 5, 6)), 0),
    "off_lwsp": (((12, 12, 5), (6, 4, 2), (3, 2, 6)), 0),
    "off_ldsp": (((12, 12, 5), (6, 5, 3), (4, 2, 6)), 0),
    "off_swsp": (((12, 9, 2), (8, 7, 6)), 0),
    "off_sdsp": (((12, 10, 3), (9, 7, 6)), 0),
    "addi4spn": (((12, 11, 4), (10, 7, 6), (6, 6, 2), (5, 5, 3)), 0),
    "addi16sp": (((12, 12, 9), (6, 6, 4), (5, 5, 6), (4, 3, 7), (2, 2, 5)), 10),
    "j": (((12, 12, 11), (11, 11, 4), (10, 9, 8), (8, 8, 10), (7, 7, 6), (6, 6, 7), (5, 3, 1), (2, 2, 5)),
          12),
    "branch": (((12, 12, 8), (11, 10, 3), (6, 5, 6), (4, 3, 1), (2, 2, 5)), 9),
}

#: format -> the argument tuple of the expanded instruction's translator: its shape ("i": rd, rs1, imm;
#: "sb": rs1, rs2, imm; "r": rd, rs1, rs2; "u": rd, imm) and each argument's source (a register of
#: REGISTERS, an immediate of IMMEDIATES, or a constant)
OPERANDS: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "addi4spn": ("i", ("rdp", 2, "addi4spn")),
    "cl_w": ("i", ("rdp", "rs1p", "off_lw")),
    "cl_d": ("i", ("rdp", "rs1p", "off_ld")),
    "cs_w": ("sb", ("rs1p", "rdp", "off_lw")),
    "cs_d": ("sb", ("rs1p", "rdp", "off_ld")),
    "ci": ("i", ("rd", "rd", "imm6")),
    "ci_li": ("i", ("rd", 0, "imm6")),
    "ci_addi16sp": ("i", (2, 2, "addi16sp")),
    "ci_sh": ("i", ("rd", "rd", "uimm6")),
    "cb_sh": ("i", ("rs1p", "rs1p", "uimm6")),
    "cb_andi": ("i", ("rs1p", "rs1p", "imm6")),
    "ca": ("r", ("rs1p", "rs1p", "rdp")),
    "cj": ("u", (0, "j")),
    "cb": ("sb", ("rs1p", 0, "branch")),
    "ci_lwsp": ("i", ("rd", 2, "off_lwsp")),
    "ci_ldsp": ("i", ("rd", 2, "off_ldsp")),
    "css_w": ("sb", (2, "rs2", "off_swsp")),
    "css_d": ("sb", (2, "rs2", "off_sdsp")),
    "cr_jr": ("i", (0, "rd", 0)),
    "cr_jalr": ("i", (1, "rd", 0)),
    "cr_mv": ("r", ("rd", 0, "rs2")),
    "cr_add": ("r", ("rd", "rd", "rs2")),
}


def immediate(i: int, name: str) -> int:
    pieces, sign = IMMEDIATES[name]
    v = 0
    for hi, lo, at in pieces:
        v |= _b(i, hi, lo) << at
    return _sext(v, sign) if sign else v


def _value(i: int, source: str | int) -> int:
    if isinstance(source, int):
        return source
    if source in REGISTERS:
        hi, lo, base = REGISTERS[source]
        return base + _b(i, hi, lo)
    return immediate(i, source)


def _arguments(sources: tuple[str | int, ...]) -> Callable[[int], tuple[int, ...]]:
    return lambda i: tuple(_value(i, s) for s in sources)


FORMATS = {
    "none": lambda i: (),
    "ci_lui": lambda i: (_value(i, "rd"), _sext(immediate(i, "imm6") << 12, 64)),
    **{name: _arguments(sources) for name, (_, sources) in OPERANDS.items()},
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
