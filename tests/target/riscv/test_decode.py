"""RISC-V instruction decoding: the decodetree builder, the insn32/insn16 tables, and a cross-check
against capstone.

* :mod:`pyqemu.accel.tcg.decodetree` reports malformed tables (wrong width, bad characters, duplicate
  patterns, patterns that don't fix the group bits, unknown formats, missing handlers) and prefers the
  most specific pattern;
* every table entry is reachable: each 32-bit entry decodes its own match value to itself, and random
  fills of every entry's free bits decode to that entry or to a more specific one; overlaps between
  entries are always resolved by specificity;
* the reserved compressed encodings (RISC-V Unprivileged ISA 20191213, ch. 16) translate to an
  illegal-instruction exception;
* capstone (5.x, ``CS_MODE_RISCV64 | CS_MODE_RISCVC``) agrees on instruction names and operands for
  every 16-bit word (exhaustively) and for thousands of 32-bit words.  Known, documented differences:

  - capstone 5 doesn't know Zba/Zbb/Zbs, so it rejects those words;
  - capstone rejects FENCE/FENCE.I with non-zero reserved fields, which the spec says implementations
    must ignore (we decode them as plain fences);
  - capstone rejects the RVC HINT encodings (e.g. ``c.li x0, imm``, ``c.slli`` by 0), which are
    valid no-ops per the spec; we decode them;
  - capstone rejects floating-point instructions with a reserved static rounding mode (5, 6); we
    decode them but the translator raises illegal instruction, so the result is the same;
  - capstone (like older LLVM) only accepts the exact conversions ``fcvt.d.s``, ``fcvt.d.w`` and
    ``fcvt.d.wu`` with rm = 0; the spec allows any valid rounding mode there;
  - capstone accepts ``c.lui rd, 0``, which the spec reserves (we: illegal);
  - capstone decodes privileged instructions (``sret``, ``sfence.vma``, ...) that a user-mode
    decoder doesn't have;
  - capstone prints aliases (``li``, ``ret``, ``c.nop``, ``sext.w``, ...) and ``.aq``/``.rl``
    suffixes; names are compared through ``insn_name()`` (the underlying instruction) after
    normalising those.

``PYQEMU_DECODE_SEED`` changes the random words.
"""

from __future__ import annotations

import os
import random

import pytest

from pyqemu.accel.tcg.decodetree import Decoder, DecodeTableError, Pattern, parse_table
from pyqemu.accel.tcg.ir import Helper
from pyqemu.target.riscv import insn16, insn32, translate
from pyqemu.target.riscv.translate import decode

SEED = int(os.environ.get("PYQEMU_DECODE_SEED", "0xdec0de"), 0)
M = (1 << 64) - 1
EXCP_ILLEGAL_INST = 2

PATTERNS32 = parse_table(insn32.TABLE, 32)
PATTERNS16 = parse_table(insn16.TABLE, 16)
ZB = {"add_uw", "sh1add", "sh2add", "sh3add", "sh1add_uw", "sh2add_uw", "sh3add_uw", "slli_uw",
      "andn", "orn", "xnor", "clz", "clzw", "ctz", "ctzw", "cpop", "cpopw", "max", "maxu", "min", "minu",
      "sext_b", "sext_h", "zext_h", "rol", "rolw", "ror", "rorw", "rori", "roriw", "orc_b", "rev8",
      "bclr", "bclri", "bext", "bexti", "binv", "binvi", "bset", "bseti"}


# --- the builder ----------------------------------------------------------------------------------


FORMATS = {"f": lambda i: (i,), "none": lambda i: ()}


def test_parse_table_fields_and_comments() -> None:
    pats = parse_table("""
        # a comment line
        one   1111 .... f   # trailing comment
        two   0.0. ..11 none
    """, 8)
    assert pats == [Pattern("one", 0xF0, 0xF0, "f"), Pattern("two", 0xA3, 0x03, "none")]


@pytest.mark.parametrize("text,message", [
    ("x 1111 111 f", "line 1: x: pattern must be 8 bits"),
    ("x 1111 11111 f", "pattern must be 8 bits"),
    ("x 1111 11x1 f", "pattern must be 8 bits of 0/1/."),
    ("\n\nx 1111", "line 3"),  # no format: the bits are taken as the format, leaving too few
    ("a 1111 .... f\nb 1111 .... none", "b: same pattern as a"),
    ("a 11.1 0000 f\nb 11.1 0000 f", "same pattern"),
])
def test_parse_table_errors(text: str, message: str) -> None:
    with pytest.raises(DecodeTableError, match=message.replace(".", r"\.").replace("/", "/")):
        parse_table(text, 8)


@pytest.mark.parametrize("text,handlers,message", [
    ("a 1111 ..11 f", {"a": 1}, "a: does not fix all group bits"),
    ("a 1111 1111 g", {"a": 1}, "a: unknown format g"),
    ("a 1111 1111 f", {}, "a: no handler"),
])
def test_decoder_table_errors(text: str, handlers: dict, message: str) -> None:
    with pytest.raises(DecodeTableError, match=message):
        Decoder(parse_table(text, 8), FORMATS, handlers, group_mask=0x0F)


def test_decoder_prefers_the_most_specific_pattern() -> None:
    table = """
        wide     .... 0011 f
        narrow   1... 0011 f
        exact    1010 0011 none
        other    .... 0111 f
    """
    d = Decoder(parse_table(table, 8), FORMATS, {n: n.upper() for n in ("wide", "narrow", "exact", "other")},
                group_mask=0x0F)
    assert d.decode(0xA3) == ("EXACT", (), "exact")
    assert d.decode(0xB3) == ("NARROW", (0xB3,), "narrow")
    assert d.decode(0x33) == ("WIDE", (0x33,), "wide")
    assert d.decode(0x17) == ("OTHER", (0x17,), "other")
    assert d.decode(0x0F) is None  # no bucket
    assert d.decode(0x00) is None


def test_real_tables_parse_and_every_pattern_has_a_translator() -> None:
    assert len(PATTERNS32) > 150 and len(PATTERNS16) > 30
    names16 = {p.name for p in PATTERNS16}
    assert names16 == set(insn16.EXPANDS_TO)
    assert {p.fmt for p in PATTERNS32} <= set(insn32.FORMATS)
    assert {p.fmt for p in PATTERNS16} <= set(insn16.FORMATS)
    for p in PATTERNS32:
        assert callable(translate.DECODE32.decode(p.match)[0]), p.name
    assert set(insn16.EXPANDS_TO.values()) <= {p.name for p in PATTERNS32} | {"illegal"}


# --- the tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS32, ids=lambda p: p.name)
def test_every_32bit_entry_decodes_its_own_match(pattern: Pattern) -> None:
    handler, args, name = decode(pattern.match)
    assert name == pattern.name
    assert args == insn32.FORMATS[pattern.fmt](pattern.match)


def _covers(r: Pattern, mask: int, match: int) -> bool:
    """Pattern r matches every word of the (mask, match) set."""
    return r.mask & mask == r.mask and match & r.mask == r.match


@pytest.mark.parametrize("patterns", [PATTERNS32, PATTERNS16], ids=["insn32", "insn16"])
def test_overlapping_entries_are_resolved_by_specificity(patterns: list[Pattern]) -> None:
    """Where two entries match common words, either one is strictly more specific, or a third entry,
    more specific than both, covers all of the common words (so decode never depends on table order)."""
    for i, p in enumerate(patterns):
        for q in patterns[i + 1:]:
            if (p.match ^ q.match) & p.mask & q.mask:
                continue  # disjoint
            both_mask, both_match = p.mask | q.mask, p.match | q.match
            if both_mask in (p.mask, q.mask) and p.mask != q.mask:
                continue  # one contains the other
            bits = max(p.mask.bit_count(), q.mask.bit_count())
            resolvers = [r.name for r in patterns
                         if _covers(r, both_mask, both_match) and r.mask.bit_count() > bits]
            assert resolvers, f"{p.name} and {q.name} overlap without a more specific entry"


@pytest.mark.parametrize("width", [32, 16])
def test_every_entry_is_reachable(width: int) -> None:
    """Random fills of each entry's free bits decode to it, or to a more specific entry that matches."""
    rng = random.Random(f"{SEED}-reach{width}")
    patterns = PATTERNS32 if width == 32 else PATTERNS16
    by_name = {p.name: p for p in patterns}
    for p in patterns:
        hits = 0
        for _ in range(64):
            word = p.match | (rng.getrandbits(width) & ~p.mask)
            _, _, name = decode(word)
            if name == p.name:
                hits += 1
                continue
            winner = by_name[name]
            assert word & winner.mask == winner.match
            assert winner.mask.bit_count() > p.mask.bit_count(), (hex(word), p.name, name)
        assert hits or p.mask == (1 << width) - 1 or p.name.startswith("illegal"), p.name


class _Code:
    """Translation environment (user mode): instruction bytes at address 0x1000, any helper on demand."""

    system = False
    priv = 0
    fs = 3
    breakpoints = ()

    class _AnyHelper(dict):
        def __missing__(self, key: str) -> Helper:
            return Helper(key, lambda *args: 0)

    def __init__(self, word: int):
        self.data = word.to_bytes(4, "little")

    def fetch16(self, pc: int) -> int:
        off = pc - 0x1000
        if not 0 <= off < len(self.data):
            raise LookupError(pc)
        return int.from_bytes(self.data[off:off + 2], "little")

    def helpers(self) -> dict[str, Helper]:
        return self._AnyHelper()


def translates_to_illegal(word: int) -> bool:
    """Whether the translator turns ``word`` (at pc 0x1000) into an illegal-instruction exception."""
    block = translate.gen_block(_Code(word), 0x1000, max_insns=1)
    return ("exit_exc", EXCP_ILLEGAL_INST, 0x1000, word) in block.ops


RESERVED16 = {
    0x0000: "all zeros",
    0x0004: "c.addi4spn, nzuimm = 0 (rd' = s1)",
    0x001C: "c.addi4spn, nzuimm = 0 (rd' = a5)",
    0x2001: "c.addiw rd = 0",
    0x207D: "c.addiw rd = 0, imm = 31",
    0x4002: "c.lwsp rd = 0",
    0x5002: "c.lwsp rd = 0, offset 128",
    0x6002: "c.ldsp rd = 0",
    0x8002: "c.jr rs1 = 0",
    0x6101: "c.addi16sp, nzimm = 0",
    0x6281: "c.lui t0, nzimm = 0",
    0x6501: "c.lui a0, nzimm = 0",
    0x9C41: "RV64 reserved c.subw/c.addw slot (funct2 = 10)",
    0x9C61: "RV64 reserved c.subw/c.addw slot (funct2 = 11)",
}


@pytest.mark.parametrize("word", sorted(RESERVED16), ids=lambda w: f"{w:04x}")
def test_reserved_compressed_encodings_are_illegal(word: int) -> None:
    d = decode(word)
    assert d is None or d[2].startswith("illegal"), RESERVED16[word]
    assert d is None or d[0] is translate.trans_illegal
    assert translates_to_illegal(word), RESERVED16[word]


@pytest.mark.parametrize("word,name,args", [
    (0x4501, "c_li", (10, 0, 0)),              # c.li a0, 0 (not a hint: rd != 0)
    (0x0505, "c_addi", (10, 10, 1)),           # c.addi a0, 1
    (0x1101, "c_addi", (2, 2, -32 & M)),       # c.addi sp, -32
    (0x0001, "c_addi", (0, 0, 0)),             # c.nop
    (0x2505, "c_addiw", (10, 10, 1)),          # c.addiw a0, 1
    (0x7139, "c_addi16sp", (2, 2, -64 & M)),   # c.addi16sp sp, -64
    (0x0808, "c_addi4spn", (10, 2, 16)),       # c.addi4spn a0, sp, 16
    (0x757D, "c_lui", (10, -4096 & M)),        # c.lui a0, 0xfffff
    (0x8082, "c_jr", (0, 1, 0)),               # ret
    (0x9082, "c_jalr", (1, 1, 0)),             # c.jalr ra
    (0x852E, "c_mv", (10, 0, 11)),             # c.mv a0, a1
    (0x9002, "c_ebreak", ()),
    (0xA001, "c_j", (0, 0)),                   # c.j .
    (0xBFFD, "c_j", (0, -2 & M)),
    (0xC119, "c_beqz", (10, 0, 6)),            # c.beqz a0, +6
    (0xFFF58513, "addi", (10, 11, M)),         # addi a0, a1, -1
    (0x800006B7, "lui", (13, 0xFFFFFFFF80000000)),
    (0xFE050EE3, "beq", (10, 0, -4 & M)),
    (0xFFDFF0EF, "jal", (1, -4 & M)),
    (0x00B53423, "sd", (10, 11, 8)),
    (0x02B57553, "fadd_d", (10, 10, 11, 7)),
    (0x00100073, "ebreak", ()),
    (0x0FF0000F, "fence", ()),
])
def test_known_encodings(word: int, name: str, args: tuple) -> None:
    d = decode(word)
    assert d is not None and (d[2], d[1]) == (name, args)
    assert not translates_to_illegal(word)


# --- capstone cross-check ---------------------------------------------------------------------------

capstone = pytest.importorskip("capstone")
from capstone import riscv as cs_riscv  # noqa: E402

_XN = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 "
       "t3 t4 t5 t6").split()
_FN = ([f"ft{i}" for i in range(8)] + ["fs0", "fs1"] + [f"fa{i}" for i in range(8)]
       + [f"fs{i}" for i in range(2, 12)] + [f"ft{i}" for i in range(8, 12)])
REGNUM = {n: i for i, n in enumerate(_XN)} | {n: i for i, n in enumerate(_FN)}

#: capstone's name of the underlying instruction -> ours, where the spelling differs
CS_ALIASES = {"c.nop": "c.addi", "unimp": "csrrw", "c.unimp": "illegal", "fence.tso": "fence"}
#: privileged instructions capstone decodes and a user-mode decoder does not have
PRIVILEGED = {"sfence.vma", "sret", "mret", "uret", "wfi", "dret", "hfence.vvma", "hfence.gvma"}
RVC_HINT_CHECKS = {
    "c_addi": lambda w, a: a[0] == 0 or a[2] == 0,      # c.nop with imm != 0, c.addi rd, 0
    "c_li": lambda w, a: a[0] == 0,
    "c_lui": lambda w, a: a[0] == 0,
    "c_mv": lambda w, a: a[0] == 0,
    "c_add": lambda w, a: a[0] == 0,
    "c_slli": lambda w, a: a[0] == 0 or a[2] == 0,
    "c_srli": lambda w, a: a[2] == 0,
    "c_srai": lambda w, a: a[2] == 0,
}
#: conversions that never round: capstone (LLVM) only accepts them with rm = 0, the spec allows any
EXACT_CONVERSIONS = {"fcvt_d_s", "fcvt_d_w", "fcvt_d_wu"}
LOADS = {"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "flw", "fld"}


@pytest.fixture(scope="module")
def cs():
    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    md.detail = True
    return md


#: our names for encodings capstone 5 prints under a more general name
OUR_ALIASES = {"pause": "fence"}  # Zihintpause's pause is fence w,0


def ours_name(name: str) -> str:
    if name in OUR_ALIASES:
        return OUR_ALIASES[name]
    return "illegal" if name.startswith("illegal") else name.replace("_", ".")


def cs_name(insn) -> str:
    name = insn.insn_name()
    for sfx in (".aqrl", ".aq", ".rl"):
        if name.startswith(("lr.", "sc.", "amo")) and name.endswith(sfx):
            name = name[: -len(sfx)]
    return CS_ALIASES.get(name, name)


def _s(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _r(n: int) -> tuple[str, int]:
    return ("r", n)


def cs_operands(insn) -> list:
    out: list = []
    for o in insn.operands:
        if o.type == cs_riscv.RISCV_OP_REG:
            out.append(_r(REGNUM[insn.reg_name(o.reg)]))
        elif o.type == cs_riscv.RISCV_OP_IMM:
            out.append(o.imm)
        else:
            out.append(("m", REGNUM[insn.reg_name(o.mem.base)], o.mem.disp))
    return out


def expected_operands(name: str, fmt: str, a: tuple, insn) -> list | None:
    """Our decoded arguments in capstone's operand order (None: not comparable)."""
    if fmt == "none":
        return []
    if fmt == "sfence":  # capstone leaves out trailing x0 operands
        regs = [_r(a[0]), _r(a[1])]
        while regs and a[len(regs) - 1] == 0:
            regs.pop()
        return regs
    if fmt in ("r", "r_rm", "atom_st") and name.startswith(("sc_", "amo")):
        return [_r(a[0]), _r(a[2]), _r(a[1])]
    if fmt in ("r", "r2", "r_rm", "r2_rm", "r4_rm", "atom_ld", "atom_st"):
        n = {"r": 3, "r2": 2, "r_rm": 3, "r2_rm": 2, "r4_rm": 4, "atom_ld": 2, "atom_st": 3}[fmt]
        return [_r(x) for x in a[:n]]
    if fmt == "i":
        if name in LOADS:
            return [_r(a[0]), ("m", a[1], _s(a[2]))]
        return [_r(a[0]), _r(a[1]), _s(a[2])]
    if fmt in ("sh5", "sh6"):
        return [_r(a[0]), _r(a[1]), a[2]]
    if fmt == "s":
        return [_r(a[1]), ("m", a[0], _s(a[2]))]
    if fmt == "b":
        return [_r(a[0]), _r(a[1]), _s(a[2])]
    if fmt in ("u", "ci_lui"):
        return [_r(a[0]), (a[1] >> 12) & 0xFFFFF]
    if fmt == "j":
        # "jal off" is capstone's spelling of jal with rd = ra
        return [_s(a[1])] if len(insn.operands) == 1 and a[0] == 1 else [_r(a[0]), _s(a[1])]
    if fmt == "csr":
        src = a[1] if name.endswith("i") else _r(a[1])
        return [_r(a[0]), a[2], src]
    # compressed: check the expansion's fixed parts, then project
    c16 = {
        "addi4spn": (lambda: a[1] == 2, lambda: [_r(a[0]), _r(2), a[2]]),
        "cl_w": (lambda: True, lambda: [_r(a[0]), a[2], _r(a[1])]),
        "cl_d": (lambda: True, lambda: [_r(a[0]), a[2], _r(a[1])]),
        "cs_w": (lambda: True, lambda: [_r(a[1]), a[2], _r(a[0])]),
        "cs_d": (lambda: True, lambda: [_r(a[1]), a[2], _r(a[0])]),
        "ci": (lambda: a[0] == a[1], lambda: [_r(a[0]), _s(a[2])]),
        "ci_li": (lambda: a[1] == 0, lambda: [_r(a[0]), _s(a[2])]),
        "ci_addi16sp": (lambda: a[:2] == (2, 2), lambda: [_r(2), _s(a[2])]),
        "ci_sh": (lambda: a[0] == a[1], lambda: [_r(a[0]), a[2]]),
        "cb_sh": (lambda: a[0] == a[1], lambda: [_r(a[0]), a[2]]),
        "cb_andi": (lambda: a[0] == a[1], lambda: [_r(a[0]), _s(a[2])]),
        "ca": (lambda: a[0] == a[1], lambda: [_r(a[0]), _r(a[2])]),
        "cj": (lambda: a[0] == 0, lambda: [_s(a[1])]),
        "cb": (lambda: a[1] == 0, lambda: [_r(a[0]), _s(a[2])]),
        "ci_lwsp": (lambda: a[1] == 2, lambda: [_r(a[0]), a[2], _r(2)]),
        "ci_ldsp": (lambda: a[1] == 2, lambda: [_r(a[0]), a[2], _r(2)]),
        "css_w": (lambda: a[0] == 2, lambda: [_r(a[1]), a[2], _r(2)]),
        "css_d": (lambda: a[0] == 2, lambda: [_r(a[1]), a[2], _r(2)]),
        "cr_jr": (lambda: (a[0], a[2]) == (0, 0), lambda: [_r(a[1])]),
        "cr_jalr": (lambda: (a[0], a[2]) == (1, 0), lambda: [_r(a[1])]),
        "cr_mv": (lambda: a[1] == 0, lambda: [_r(a[0]), _r(a[2])]),
        "cr_add": (lambda: a[0] == a[1], lambda: [_r(a[0]), _r(a[2])]),
    }
    shape_ok, project = c16[fmt]
    assert shape_ok(), (name, a)
    return project()


FORMAT_OF = {p.name: p.fmt for p in PATTERNS32 + PATTERNS16}


def cross_check(cs, words: list[int], width: int) -> dict[str, set[str]]:
    """Compare every word with capstone; return the categories of the differences found."""
    categories: dict[str, set[str]] = {}
    compared = 0
    for word in words:
        insns = list(cs.disasm(word.to_bytes(width // 8, "little"), 0x1000))
        theirs = insns[0] if insns and insns[0].size == width // 8 else None
        d = decode(word)
        where = f"{word:0{width // 4}x}"
        if theirs is None and d is None:
            continue
        if d is None:
            assert cs_name(theirs) in PRIVILEGED, \
                f"{where}: capstone {theirs.mnemonic} {theirs.op_str}, we: none"
            categories.setdefault("privileged", set()).add(cs_name(theirs))
            continue
        name, args = d[2], d[1]
        if theirs is None:
            if name.startswith("illegal") or translates_to_illegal(word):
                kind = "reserved (both reject)"
            elif name in ZB:
                kind = "Zb* (capstone 5 lacks it)"
            elif name in ("fence", "fence_i"):
                kind = "fence with reserved fields set"
            elif name in EXACT_CONVERSIONS and args[-1] != 0:
                kind = "exact conversion with a static rounding mode"
            elif name in RVC_HINT_CHECKS and RVC_HINT_CHECKS[name](word, args):
                kind = "RVC HINT"
            else:
                raise AssertionError(f"{where}: we decode {name}{args}, capstone rejects it")
            categories.setdefault(kind, set()).add(name)
            continue
        if name == "illegal_lui":
            assert cs_name(theirs) == "c.lui" and theirs.operands[1].imm == 0
            categories.setdefault("capstone accepts c.lui rd, 0", set()).add(name)
            continue
        assert ours_name(name) == cs_name(theirs), \
            f"{where}: we {name}, capstone {theirs.mnemonic} {theirs.op_str}"
        if theirs.mnemonic == theirs.insn_name() and theirs.insn_name() not in CS_ALIASES:  # comparable
            got = cs_operands(theirs)
            if FORMAT_OF[name] == "csr":  # capstone prints the CSR (number or name) but lists no operand
                csr = theirs.op_str.split(",")[1].strip()
                if not csr.isdigit():
                    continue
                got.insert(1, int(csr))
            want = expected_operands(name, FORMAT_OF[name], args, theirs)
            assert got == want, f"{where}: {theirs.mnemonic} {theirs.op_str} vs {name}{args}"
            compared += 1
    assert compared > len(words) // 4
    return categories


def test_capstone_agrees_on_every_16bit_word(cs) -> None:
    words = [w for w in range(1 << 16) if w & 3 != 3]
    cats = cross_check(cs, words, 16)
    # the documented differences, and nothing else, show up
    assert set(cats) == {"reserved (both reject)", "RVC HINT", "capstone accepts c.lui rd, 0"}
    assert cats["RVC HINT"] <= set(RVC_HINT_CHECKS)


def test_capstone_agrees_on_random_32bit_words(cs) -> None:
    rng = random.Random(f"{SEED}-cs32")
    words = [rng.getrandbits(30) << 2 | 3 for _ in range(4000)]
    # and every table entry with random operand fields (uniform words rarely hit the narrow ones)
    for p in PATTERNS32:
        words += [p.match | (rng.getrandbits(32) & ~p.mask) for _ in range(24)]
    cats = cross_check(cs, words, 32)
    assert "Zb* (capstone 5 lacks it)" in cats
    assert set(cats) <= {"reserved (both reject)", "Zb* (capstone 5 lacks it)",
                         "fence with reserved fields set", "privileged",
                         "exact conversion with a static rounding mode"}
