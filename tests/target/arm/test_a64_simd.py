"""Differential tests of the A64 Advanced SIMD translator (:mod:`pyqemu.target.arm.translate_a64_simd`)
against Unicorn, through the harness of ``test_differential_unicorn.py``: random V registers, then

* random ``.inst`` words drawn from the extension's decode table, group by group, keeping those the
  translator accepts (so every field value of every encoding is exercised), compared on all V
  registers, X registers and FPSR (the saturating operations' QC);
* the structure loads and stores (LD1-LD4, ST1-ST4, LD1R-LD4R, single lanes; no offset and
  post-index by immediate and by register) as random words with the base register fixed, compared on
  memory too;
* words the translator refuses (reserved sizes, Q = 0 with 64-bit lanes...) UNDEFINED on Unicorn too;

and a static glibc program (memset, strlen, printf use AdvSIMD) running under ``pyqemu-aarch64``.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from guestbuild import cache_root, cached_build

from pyqemu.accel.tcg.decodetree import parse_table
from pyqemu.accel.tcg.ir import Block
from pyqemu.target.arm import translate_a64_simd as simd
from pyqemu.target.arm.cpu import FPSR_MASK
from pyqemu.target.arm.translate_a64 import DisasContext, decoder

from .test_differential_unicorn import (
    BASE,
    IDX,
    SEED,
    WB,
    Program,
    UnicornRunner,
    build,
    differential,
    random_memory,
    random_regs,
    unicorn,
)

_PATTERNS: dict[str, list] = {}
for _p in parse_table(simd.TABLE, 32):
    _PATTERNS.setdefault(_p.name, []).append(_p)


class _NoEnv:
    breakpoints: tuple = ()
    features = frozenset()

    def helpers(self) -> dict:
        return {}


def translates(word: int, patterns: dict[str, list] = _PATTERNS) -> bool:
    """Whether the extension (with ``patterns``) decodes ``word`` and its handler accepts it."""
    d = decoder().decode(word)
    if d is None or d[2] not in patterns:
        return False
    return bool(d[0](DisasContext(Block(0), _NoEnv()), *d[1]))


def _names(ops: tuple[str, ...]) -> list[str]:
    """The vector (v_) and scalar (vs_) patterns of ``ops``."""
    return sorted(f"{k}_{op}" for op in ops for k in ("v", "vs") if f"{k}_{op}" in _PATTERNS)


def random_word(rng: random.Random, names: list[str], fix: Callable[[int], int] = lambda w: w,
                accepted: bool = True, patterns: dict[str, list] = _PATTERNS) -> int:
    """A random word of one of ``names`` (entries of ``patterns``, by default this extension's) that the
    translator accepts (or, if not ``accepted``, refuses)."""
    while True:
        p = rng.choice(patterns[rng.choice(names)])
        word = fix(p.match | (rng.getrandbits(32) & ~p.mask))
        if (word & p.mask == p.match and decoder().decode(word)[2] == p.name
                and translates(word, patterns) == accepted):
            return word


def _vregs(rng: random.Random) -> dict[int, int]:
    """Random V registers, some with repeated or edge lanes (equal lanes for the compares)."""
    out = {}
    for i in range(32):
        k = rng.random()
        if k < 0.6:
            out[i] = rng.getrandbits(128)
        elif k < 0.8:
            bits = rng.choice((8, 16, 32, 64))
            lanes = [rng.choice((0, 1, (1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1,
                                 rng.getrandbits(bits))) for _ in range(128 // bits)]
            out[i] = sum(v << (bits * n) for n, v in enumerate(lanes))
        else:
            out[i] = int.from_bytes(bytes(rng.choice((0, 0x7F, 0x80, 0xFF, 0x41)) for _ in range(16)),
                                    "little")
    return out


def _programs(prefix: str, rng: random.Random, count: int, gen: Callable[[random.Random], list[str]]) -> list:
    return [Program(f"{prefix}{n}", gen(rng), regs=random_regs(rng), memory=random_memory(rng),
                    vregs=_vregs(rng), sysregs=(0, 0, rng.getrandbits(32) & FPSR_MASK & ~(1 << 27)))
            for n in range(count)]


GROUPS = {
    "copy_imm": ("dup_elem", "dup_gen", "ins_elem", "ins_gen", "umov", "smov", "modimm"),
    "three_same": (*simd._LANE_OPS, *simd._IR_LANE_OPS, *simd._ACC_OPS, *simd._SAT_OPS, *simd._PAIR_OPS,
                   *simd._LOGIC_OPS, *simd._DMULH_OPS, "pmul"),
    "misc_across": (*simd._MISC_OPS, "cmeq0", "neg", "not", *simd._MISC_SAT, *simd._MISC_SAT_ACC,
                    *simd._REV_OPS, *simd._NARROW_OPS, *simd._ACROSS_OPS, "saddlp", "uaddlp", "sadalp",
                    "uadalp", "shll"),
    "shift": (*simd._RSHIFT_OPS, "shl", "sli", "sri", *simd._NSHIFT_OPS, *simd._QSHL_OPS, "sshll", "ushll"),
    "permute_diff": ("permute", "ext", "tbl", "tbx", *simd._DIFF_OPS, *simd._HN_OPS,
                     *(f"{n}_elem" for n in simd._ELEM_OPS)),
    # the saturating doubling long multiplies, vector and scalar, by vector and by element
    "dmull": (*simd._DMULL_OPS, *(f"{n}_elem" for n in simd._DMULL_OPS)),
}
_LDST = ("ld_multi", "st_multi", "ld_single", "st_single")

needs_unicorn = pytest.mark.skipif(unicorn is None, reason="pip package 'unicorn' not installed")


@needs_unicorn
@pytest.mark.parametrize("group", GROUPS)
def test_simd_group_matches_unicorn(tmp_path: Path, group: str) -> None:
    rng = random.Random(f"{SEED}-simd-{group}")
    names = _names(GROUPS[group])
    def gen(r: random.Random) -> list[str]:
        return [f".inst {random_word(r, names):#010x}" for _ in range(r.randrange(3, 12))]
    differential(_programs(f"simd_{group}_", rng, 250, gen), tmp_path)


@needs_unicorn
def test_overlapping_registers_match_unicorn(tmp_path: Path) -> None:
    """Every group with Vd, Vn and Vm among V0-V3 (bits 4:3, 9:8, 20:19 clear): destinations that are
    also sources, instructions reading each other's results."""
    rng = random.Random(f"{SEED}-simd-alias")
    names = _names(tuple(op for ops in GROUPS.values() for op in ops))

    def gen(r: random.Random) -> list[str]:
        return [f".inst {random_word(r, names, lambda w: w & ~(3 << 3 | 3 << 8 | 3 << 19)):#010x}"
                for _ in range(r.randrange(3, 12))]
    differential(_programs("simd_alias", rng, 250, gen), tmp_path)


def _fix_ldst(rng: random.Random) -> Callable[[int], int]:
    """Rn = WB (an aligned-enough base inside the scratch page); Rm (post-index) 31 or IDX."""
    def fix(word: int) -> int:
        word = word & ~(31 << 5) | WB << 5
        rm = rng.choice((31, IDX))
        return word & ~(31 << 16) | rm << 16 if word >> 23 & 1 else word
    return fix


@needs_unicorn
def test_structure_loads_and_stores_match_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-simd-ldst")
    names = _names(_LDST)

    def gen(r: random.Random) -> list[str]:
        lines = []
        for _ in range(r.randrange(2, 8)):
            word = random_word(r, names, _fix_ldst(r))
            lines += [f"add x{WB}, x{BASE}, #{r.randrange(0x100)}", f".inst {word:#010x}"]
        return lines
    differential(_programs("simd_ldst", rng, 300, gen), tmp_path)


@needs_unicorn
def test_refused_words_are_undefined_on_unicorn(tmp_path: Path) -> None:
    """Encodings of the extension's patterns that the translator refuses raise an exception on Unicorn."""
    rng = random.Random(f"{SEED}-simd-udef")
    names = _names(tuple(op for ops in GROUPS.values() for op in ops))
    assert_undefined_on_unicorn(sorted({random_word(rng, names, accepted=False) for _ in range(150)}),
                                tmp_path)


def assert_undefined_on_unicorn(words: list[int], tmp_path: Path) -> None:
    """Each of ``words`` raises an exception on Unicorn."""
    programs = [Program(f"udef{n}", [f".inst {w:#010x}"]) for n, w in enumerate(words)]
    runner = UnicornRunner(build(programs, tmp_path))
    defined = []
    for p in programs:
        try:
            runner.run(p)
        except (unicorn.UcError, AssertionError):
            continue
        defined.append(p.lines[0])
    assert not defined, defined[:10]


CC = "aarch64-linux-gnu-gcc"
GLIBC_SOURCE = r"""#include <stdio.h>
#include <string.h>
int main(int c, char **v) { char b[64]; memset(b, 1, sizeof b); printf("hi %zu %d\n", strlen(v[0]), b[63]);
return 3; }
"""


def test_static_glibc_program_runs(tmp_path: Path) -> None:
    """glibc's static startup, memset, strlen and printf (AdvSIMD string routines) under pyqemu-aarch64."""
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} is not installed")
    src = tmp_path / "hi.c"
    src.write_text(GLIBC_SOURCE)
    key = hashlib.sha256(GLIBC_SOURCE.encode()).hexdigest()[:16]
    program = cached_build(cache_root() / f"aarch64-glibc-{key}" / "hi", "hi.c",
                           lambda out: [CC, "-O2", "-static", "-o", str(out), str(src)])
    main = "import sys; from pyqemu.linux_user.main import main_aarch64; sys.exit(main_aarch64())"
    result = subprocess.run([sys.executable, "-c", main, str(program), "abc"], capture_output=True, text=True,
                            timeout=300)
    assert (result.returncode, result.stdout) == (3, f"hi {len(str(program))} 1\n"), result.stderr
