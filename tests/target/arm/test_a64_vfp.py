"""Differential tests of the A64 Advanced SIMD floating point translator
(:mod:`pyqemu.target.arm.translate_a64_vfp`, :mod:`pyqemu.target.arm.vfp_helper`) against Unicorn,
through the harness of ``test_differential_unicorn.py`` and the word generator of ``test_a64_simd.py``:
random ``.inst`` words drawn from the extension's decode table, group by group, on V registers whose
lanes are single- or double-precision values biased to NaNs, infinities, zeros, denormals and range
edges (``test_a64_fp``'s generator), under a random FPCR (RMode, FZ, DN, AHP); V0-V31, X0-X30, FPCR and
FPSR must agree.  Words the translator refuses are UNDEFINED on Unicorn too.  Also: the table overlaps
no other module's, a few hand-written checks of :mod:`~pyqemu.target.arm.vfp_helper`'s element
functions, and busybox awk scripts whose arithmetic needs these instructions, against the native busybox.
"""

from __future__ import annotations

import importlib
import random
import subprocess
from pathlib import Path

import pytest

from pyqemu.accel.tcg.decodetree import parse_table
from pyqemu.target.arm import fpu_helper, insn_a64, translate_a64, vfp_helper
from pyqemu.target.arm import translate_a64_vfp as vfp
from pyqemu.target.arm.cpu import FPSR_MASK

from .test_a64_fp import _random_fpcr, _special
from .test_a64_simd import assert_undefined_on_unicorn, needs_unicorn, random_word, translates
from .test_differential_unicorn import SEED, Program, differential

M64 = (1 << 64) - 1
PATTERNS: dict[str, list] = {}
for _p in parse_table(vfp.TABLE, 32):
    PATTERNS.setdefault(_p.name, []).append(_p)


def _names(ops: object) -> list[str]:
    return sorted(f"{k}_{op}" for op in ops for k in ("vf", "vfs") if f"{k}_{op}" in PATTERNS)


GROUPS = {
    "three_same": _names((*vfp._THREE_SAME, *vfp._PAIRWISE)),
    "misc": _names((*vfp._MISC, *vfp._MISC_OTHER, "frecpx")),
    "across_fixed_elem": _names((*vfp._ACROSS, *vfp._FIXED, *(f"{n}_elem" for n in vfp._BY_ELEMENT))),
}


def test_patterns_overlap_no_other_module() -> None:
    """No word matches both an entry of this table and one of the base table's or another extension's
    (so everything the others decoded still decodes the same)."""
    others = [insn_a64.TABLE, *(importlib.import_module(f"pyqemu.target.arm.{name}").TABLE
                                for name in translate_a64.EXTENSIONS if name != "translate_a64_vfp")]
    theirs = parse_table("\n".join(others), 32)
    overlaps = [(p.name, q.name) for p in parse_table(vfp.TABLE, 32) for q in theirs
                if not (p.match ^ q.match) & p.mask & q.mask]
    assert not overlaps, overlaps[:10]


def _vregs(rng: random.Random) -> dict[int, int]:
    """V registers of FP lanes: all singles or all doubles, some with equal lanes (pairwise, compares)."""
    out = {}
    for i in range(32):
        width = rng.choice((32, 64))
        lanes = [_special(rng, width) for _ in range(128 // width)]
        if rng.random() < 0.2:
            lanes = [lanes[0]] * len(lanes)
        out[i] = sum(v << (width * n) for n, v in enumerate(lanes))
    return out


def _programs(prefix: str, rng: random.Random, count: int, names: list[str]) -> list[Program]:
    def lines(r: random.Random) -> list[str]:
        return [f".inst {random_word(r, names, patterns=PATTERNS):#010x}" for _ in range(r.randrange(2, 10))]
    return [Program(f"{prefix}{n}", lines(rng), vregs=_vregs(rng),
                    sysregs=(0, _random_fpcr(rng), rng.getrandbits(32) & FPSR_MASK & ~0x9F))
            for n in range(count)]


@needs_unicorn
@pytest.mark.parametrize("group", GROUPS)
def test_vfp_group_matches_unicorn(tmp_path: Path, group: str) -> None:
    rng = random.Random(f"{SEED}-vfp-{group}")
    differential(_programs(f"vfp_{group}_", rng, 250, GROUPS[group]), tmp_path)


@needs_unicorn
def test_overlapping_registers_match_unicorn(tmp_path: Path) -> None:
    """Vd, Vn and Vm among V0-V3: destinations that are also sources (FMLA, by element, FCVTN2...)."""
    rng = random.Random(f"{SEED}-vfp-alias")
    names = sorted({n for g in GROUPS.values() for n in g})
    programs = []
    for n in range(150):
        words = [random_word(rng, names, lambda w: w & ~(3 << 3 | 3 << 8 | 3 << 19), patterns=PATTERNS)
                 for _ in range(rng.randrange(2, 8))]
        programs.append(Program(f"vfp_alias{n}", [f".inst {w:#010x}" for w in words], vregs=_vregs(rng),
                                sysregs=(0, _random_fpcr(rng), 0)))
    differential(programs, tmp_path)


@needs_unicorn
def test_refused_words_are_undefined_on_unicorn(tmp_path: Path) -> None:
    """Encodings of the extension's patterns that the translator refuses (.1D, reserved element
    indices, half-precision FCVTXN...) raise an exception on Unicorn."""
    rng = random.Random(f"{SEED}-vfp-udef")
    names = sorted({n for g in GROUPS.values() for n in g})
    refusable = [n for n in names if any(_refusable(rng, n) for _ in range(200))]
    words = {random_word(rng, refusable, accepted=False, patterns=PATTERNS) for _ in range(100)}
    assert_undefined_on_unicorn(sorted(words), tmp_path)


def _refusable(rng: random.Random, name: str) -> bool:
    p = rng.choice(PATTERNS[name])
    return not translates(p.match | (rng.getrandbits(32) & ~p.mask), PATTERNS)


# --- hand-written checks of the element functions -------------------------------------------------------

E = vfp_helper.ELEMENTS


def test_estimates_and_steps() -> None:
    one, two, inf = 0x3F800000, 0x40000000, 0x7F800000
    assert E["recpe_s"](one, 0) == (0x3F7F8000, 0)  # 1 / 1.0 ~ 0.998
    assert E["recpe_s"](0, 0) == (inf, fpu_helper.DZC)
    assert E["rsqrte_s"](0x40800000, 0) == (0x3EFF8000, 0)  # 1 / sqrt(4.0) ~ 0.499
    assert E["rsqrte_s"](0xBF800000, 0) == (0x7FC00000, fpu_helper.IOC)
    assert E["recps_s"](inf, 0, 0) == (two, 0)  # infinity times zero: 2.0
    assert E["rsqrts_s"](inf, 0x80000000, 0) == (0x3FC00000, 0)  # 1.5
    assert E["mulx_s"](0xFF800000, 0, 0) == (0xC0000000, 0)  # -inf * 0 = -2.0
    assert E["recpx_d"](0x3FF0000000000000, 0) == (0x4000000000000000, 0)


def test_round_to_odd_and_compares() -> None:
    third = 0x3FD5555555555555
    assert E["cvt_ds"](third, 0) == (0x3EAAAAAB, fpu_helper.IXC)  # nearest rounds up
    assert E["cvtodd_ds"](third, 0) == (0x3EAAAAAB, fpu_helper.IXC)  # odd: truncated 0x3EAAAAAA | 1
    assert E["cvtodd_ds"](0x3FF0000000000001, 0) == (0x3F800001, fpu_helper.IXC)
    assert E["cmge_s"](0x7FC00000, 0, 0) == (0, fpu_helper.IOC)  # any NaN signals for GE
    assert E["cmeq_s"](0x7FC00000, 0, 0) == (0, 0)  # only a signalling one for EQ
    assert E["acgt_d"](0x8000000000000001 | 1 << 62, 1 << 62, 0) == (M64, 0)  # |-2.0000..1| > |2.0|
    assert vfp_helper.pairwise(E["add_s"], 32, 0x4000000040000000, 0x3F8000003F800000, 0) == \
        (0x4000000040800000, 0)  # (2 + 2, 1 + 1)


#: the brief's script (Debian's busybox has no libm support in awk: ``^`` is an error, natively too) and
#: the same arithmetic without ``^``
AWK = ['BEGIN { x = 7.5; printf "%d %.2f %d\\n", int(x), x / 3, 2 ^ 10 }',
       'BEGIN { x = 7.5; printf "%d %.2f %d %d\\n", int(x), x / 3, 2 * 512, -x }']


def _guest(path: str) -> str | None:
    r = subprocess.run([".venv/bin/pyqemu-guests", "path", path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


@pytest.mark.parametrize("script", AWK)
def test_busybox_awk_arithmetic(script: str) -> None:
    """awk's int(), division and printf %d (FCVTZS Dd, Dn; SCVTF...) under pyqemu-aarch64 as natively."""
    guest, native = _guest("arm64/busybox"), _guest("amd64/busybox")
    if guest is None or native is None:
        pytest.skip("busybox guests not available")
    want = subprocess.run([native, "awk", script], capture_output=True, text=True, timeout=60)
    got = subprocess.run([".venv/bin/pyqemu-aarch64", guest, "awk", script], capture_output=True, text=True,
                         timeout=300)
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)
