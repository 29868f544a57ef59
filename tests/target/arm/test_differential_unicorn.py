"""Differential testing of the A64 translator and both execution engines against Unicorn.

Random programs are assembled with ``aarch64-linux-gnu-as``/``ld`` (data-processing instructions are
also emitted as random ``.inst`` words drawn from the decode table's patterns, so every field value of
every encoding gets exercised), then run

* on Unicorn 2 (QEMU 5's AArch64 TCG, ``UC_CPU_ARM64_MAX`` for the LSE atomics) until the final
  ``brk #0``, and
* on pyqemu through ``cpu_exec`` (see :mod:`.harness`): each program runs 20 times from the same initial
  state, so the first runs go through the IR interpreter (cold code) and the later ones through
  compiled regions (the cache's ``hot_threshold``, lowered here); every run must stop with a
  breakpoint exception at the ``brk``,

from the same initial registers, flags and scratch memory; X0-X30, SP, NZCV and the scratch page (and
for the programs that use them V0-V31, TPIDR_EL0, FPCR and FPSR) must then agree.

Groups: integer data processing with flags (random words), flag consumers right after compares
(the translator's compare fusion), branches and small loops, loads and stores in every addressing mode
(also SIMD&FP registers, misaligned addresses, literals), exclusives and acquire/release, LSE atomics
of every size and ordering, the EL0 system registers and DC ZVA; and a C program (``kernel.c``)
compiled by GCC for Armv8.0 (exclusives) and Armv8.1 (LSE), compared by its result and data.

Unicorn runs the code at EL1, so what EL0 sees differently is checked by hand in
``test_translate_a64.py`` (ID registers through the kernel's MRS emulation, UNDEFINED system
instructions), as is what Unicorn 2 gets wrong (it compares LDSMAX/LDSMIN operands below 64 bits
unsigned; those are left out here).  FPCR.FZ16 (bit 19) exists on Unicorn's max CPU (FEAT_FP16) but
not here, so random FPCR values leave it clear.
``PYQEMU_DIFF_SEED`` changes the random programs.  Needs the pip package ``unicorn`` and aarch64
binutils (skipped without them).
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import struct
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from difftest import EDGE, M, compare_runs, link_programs

from pyqemu.accel.tcg.decodetree import parse_table
from pyqemu.linux_user.memory import PROT_READ, PROT_WRITE
from pyqemu.target.arm import insn_a64
from pyqemu.target.arm.cpu import (
    EXCP_BKPT,
    FPCR_MASK,
    FPSR_MASK,
    SLOT_FPCR,
    SLOT_FPSR,
    SLOT_TPIDR,
    AArch64CPU,
)
from pyqemu.target.arm.translate_a64 import decoder

from .harness import CODE, DATA, DATA_SIZE, TOOLS, Machine, needs_binutils

try:
    import unicorn
    from unicorn import arm64_const as uca
except ImportError:  # pragma: no cover - the pip package 'unicorn' (test extra) is missing
    unicorn = None
pytestmark = [needs_binutils,
              pytest.mark.skipif(unicorn is None, reason="pip package 'unicorn' not installed")]

SEED = int(os.environ.get("PYQEMU_DIFF_SEED", "20240607"), 0)
HOT_THRESHOLD = 16  # the translation cache's threshold in these tests (the default is higher)
RUNS = 20  # > HOT_THRESHOLD: later runs execute compiled regions

BASE, WB, IDX, IDXW, LOOP = 20, 21, 22, 23, 19  # scratch pointer, writeback base, index registers, counter
BASE_VALUE = DATA + 0x400
SP_VALUE = DATA + 0xC00
FIXED = {BASE: BASE_VALUE}
#: registers random memory and branch instructions may write
DEST = [r for r in range(31) if r not in (BASE, WB, IDX, IDXW, LOOP)]

if unicorn:
    XREGS = [uca.UC_ARM64_REG_X0 + i for i in range(29)] + [uca.UC_ARM64_REG_X29, uca.UC_ARM64_REG_X30]
    SYSREGS = (uca.UC_ARM64_REG_TPIDR_EL0, uca.UC_ARM64_REG_FPCR, uca.UC_ARM64_REG_FPSR)


@dataclass
class Program:
    name: str
    lines: list[str]
    regs: dict[int, int] = field(default_factory=dict)
    nzcv: int = 0
    memory: bytes = bytes(DATA_SIZE)
    vregs: dict[int, int] = field(default_factory=dict)
    sysregs: tuple[int, int, int] = (0, 0, 0)  # TPIDR_EL0, FPCR, FPSR
    literals: list[str] = field(default_factory=list)  # data placed after the final brk
    start: int = 0
    end: int = 0


@dataclass
class State:
    x: list[int]
    sp: int
    nzcv: int
    v: list[int]
    sysregs: tuple[int, int, int]
    memory: bytes

    def diff(self, other: State) -> list[str]:
        pairs = [*((f"x{i}", a, b) for i, (a, b) in enumerate(zip(self.x, other.x, strict=True))),
                 *((f"v{i}", a, b) for i, (a, b) in enumerate(zip(self.v, other.v, strict=True))),
                 ("sp", self.sp, other.sp), ("nzcv", self.nzcv, other.nzcv),
                 *zip(("tpidr_el0", "fpcr", "fpsr"), self.sysregs, other.sysregs, strict=True)]
        out = [f"{name}: {a:#x} != {b:#x}" for name, a, b in pairs if a != b]
        for k in range(0, DATA_SIZE, 8):
            a, b = self.memory[k:k + 8], other.memory[k:k + 8]
            if a != b:
                out.append(f"mem[{DATA + k:#x}]: {a.hex()} != {b.hex()}")
        return out


def build(programs: list[Program], tmp: Path) -> bytes:
    """Assemble all programs into one image; fill in their start and end addresses."""
    header = [".arch armv8.1-a", ".text", ".globl _start", "_start:"]
    return link_programs(programs, tmp, TOOLS, [], CODE, header,
                         lambda p: ["  brk #0", "  .balign 16", *p.literals])


class UnicornRunner:
    def __init__(self, image: bytes):
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(uca.UC_CPU_ARM64_MAX)
        self.uc.mem_map(CODE, (len(image) + 0xFFFF) & ~0xFFF)
        self.uc.mem_write(CODE, image)
        self.uc.mem_map(DATA, DATA_SIZE)

    def run(self, p: Program) -> State:
        uc = self.uc
        for i, reg in enumerate(XREGS):
            uc.reg_write(reg, p.regs.get(i, 0))
        uc.reg_write(uca.UC_ARM64_REG_SP, SP_VALUE)
        uc.reg_write(uca.UC_ARM64_REG_NZCV, p.nzcv)
        for i in range(32):
            uc.reg_write(uca.UC_ARM64_REG_Q0 + i, p.vregs.get(i, 0))
        for reg, value in zip(SYSREGS, p.sysregs, strict=True):
            uc.reg_write(reg, value)
        uc.mem_write(DATA, p.memory)
        uc.emu_start(p.start, p.end, count=100_000)
        assert uc.reg_read(uca.UC_ARM64_REG_PC) == p.end, f"{p.name}: unicorn stopped early"
        return State([uc.reg_read(r) for r in XREGS], uc.reg_read(uca.UC_ARM64_REG_SP),
                     uc.reg_read(uca.UC_ARM64_REG_NZCV),
                     [uc.reg_read(uca.UC_ARM64_REG_Q0 + i) for i in range(32)],
                     tuple(uc.reg_read(r) for r in SYSREGS), bytes(uc.mem_read(DATA, DATA_SIZE)))


def run_pyqemu(machine: Machine, p: Program) -> tuple[tuple[int, int, int], State]:
    cpu = AArch64CPU()
    for i in range(31):
        cpu.R[i] = p.regs.get(i, 0)
    cpu.sp = SP_VALUE
    cpu.nzcv = p.nzcv
    for i in range(32):
        cpu.set_v(i, p.vregs.get(i, 0))
    cpu.R[SLOT_TPIDR], cpu.R[SLOT_FPCR], cpu.R[SLOT_FPSR] = p.sysregs
    machine.space.write(DATA, p.memory)
    exc = machine.run(cpu, p.start)
    return exc, State([cpu.x(i) for i in range(31)], cpu.sp, cpu.nzcv, [cpu.v(i) for i in range(32)],
                      (cpu.R[SLOT_TPIDR], cpu.R[SLOT_FPCR], cpu.R[SLOT_FPSR]),
                      machine.space.read(DATA, DATA_SIZE))


def differential(programs: list[Program], tmp: Path) -> None:
    """Run every program on both emulators (pyqemu RUNS times) and compare the final states."""
    image = build(programs, tmp)
    uc, machine = UnicornRunner(image), Machine(image, hot_threshold=HOT_THRESHOLD)
    compare_runs(programs, uc.run, lambda p: run_pyqemu(machine, p), lambda p: (EXCP_BKPT, p.end, 0),
                 lambda p, got, want: got.diff(want), RUNS, HOT_THRESHOLD)
    assert machine.proc.tbc.stats()["regions"] > 0  # the hot path ran too


# --- random values ----------------------------------------------------------------------------------

EDGES = EDGE + [0x1FFFFFFFF, 0xFFFF0000FFFF0000]


def random_value(rng: random.Random) -> int:
    k = rng.random()
    if k < 0.3:
        return rng.choice(EDGES)
    if k < 0.5:
        return rng.randrange(-100, 100) & M
    return rng.getrandbits(rng.choice((8, 16, 32, 33, 64)))


def random_regs(rng: random.Random) -> dict[int, int]:
    regs = {i: random_value(rng) for i in range(31)}
    regs.update(FIXED)
    regs[IDX] = rng.randrange(0, 0x40)
    regs[IDXW] = (rng.randrange(-0x40, 0x40) & 0xFFFFFFFF) | rng.getrandbits(32) << 32  # only W23 counts
    return regs


def random_memory(rng: random.Random) -> bytes:
    return rng.randbytes(DATA_SIZE)


def sequence(item: Callable[[random.Random], list[str]], least: int, most: int,
             head: Sequence[str] = ()) -> Callable[[random.Random], list[str]]:
    """A program generator: ``head``, then ``least`` to ``most`` - 1 random items."""
    def gen(rng: random.Random) -> list[str]:
        return [*head, *itertools.chain.from_iterable(item(rng) for _ in range(rng.randrange(least, most)))]
    return gen


def make_programs(prefix: str, rng: random.Random, count: int, gen: Callable[[random.Random], list[str]],
                  **extra: object) -> list[Program]:
    return [Program(f"{prefix}{n}", gen(rng), regs=random_regs(rng), nzcv=rng.getrandbits(4) << 28,
                    memory=random_memory(rng), **extra) for n in range(count)]


_LABELS = itertools.count()


def label() -> str:
    return f".L{next(_LABELS)}"


# --- data processing: random words from the decode table ------------------------------------------

DP_NAMES = frozenset(
    "adr adrp add_imm adds_imm sub_imm subs_imm and_imm orr_imm eor_imm ands_imm movn movz movk sbfm bfm "
    "ubfm extr and_shift bic_shift orr_shift orn_shift eor_shift eon_shift ands_shift bics_shift add_shift "
    "adds_shift sub_shift subs_shift add_ext adds_ext sub_ext subs_ext adc adcs sbc sbcs ccmn_reg ccmp_reg "
    "ccmn_imm ccmp_imm csel csinc csinv csneg madd msub smaddl smsubl smulh umaddl umsubl umulh udiv sdiv "
    "lslv lsrv asrv rorv rbit rev16 rev32 rev clz cls".split())
FLAG_CONSUMERS = frozenset(
    "adc adcs sbc sbcs ccmn_reg ccmp_reg ccmn_imm ccmp_imm csel csinc csinv csneg".split())
FLAG_SETTERS = frozenset("adds_imm subs_imm ands_imm ands_shift bics_shift adds_shift subs_shift adds_ext "
                         "subs_ext adcs sbcs".split())
_PATTERNS: dict[str, list] = {}
for _p in parse_table(insn_a64.TABLE, 32):
    _PATTERNS.setdefault(_p.name, []).append(_p)


def dp_word(rng: random.Random, names: list[str]) -> int:
    """A random word of one of ``names`` that the decoder translates (no reserved logical immediate)."""
    while True:
        p = rng.choice(_PATTERNS[rng.choice(names)])
        word = p.match | (rng.getrandbits(32) & ~p.mask)
        d = decoder().decode(word)
        if d is not None and d[2] in DP_NAMES and not (d[2].endswith("_imm") and d[1][-1] is None):
            return word


_ALL_DP = sorted(DP_NAMES)
_SETTERS = sorted(FLAG_SETTERS)
_CONSUMERS = sorted(FLAG_CONSUMERS)


def random_dp_program(rng: random.Random) -> list[str]:
    lines = []
    for _ in range(rng.randrange(4, 30)):
        k = rng.random()
        names = _SETTERS if k < 0.3 else _CONSUMERS if k < 0.5 else _ALL_DP
        lines.append(f".inst {dp_word(rng, names):#010x}")
        if names is _SETTERS and rng.random() < 0.6:  # a consumer right after: compare fusion
            lines.append(f".inst {dp_word(rng, _CONSUMERS):#010x}")
        if rng.random() < 0.05:
            lines.append(f"mrs x{rng.randrange(31)}, nzcv")
    return lines


def test_data_processing_matches_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-dp")
    differential(make_programs("dp", rng, 400, random_dp_program), tmp_path)


CONDS = "eq ne cs cc mi pl vs vc hi ls ge lt gt le al".split()


def random_compare(rng: random.Random) -> str:
    """A compare whose flags the next instruction consumes (register, immediate, W and X forms)."""
    w = rng.choice("wx")
    a = f"{w}{rng.randrange(31)}"
    op = rng.choice(("cmp", "cmp", "cmn", "tst", "subs", "adds"))
    b = rng.choice((f"{w}{rng.randrange(31)}", f"#{rng.randrange(4096)}", f"{w}{rng.randrange(31)}, lsl #3"))
    if op == "tst" and b.startswith("#"):
        b = "#0xff"
    if op in ("subs", "adds"):
        return f"{op} {w}{rng.choice(DEST)}, {a}, {b}"
    return f"{op} {a}, {b}"


def random_consumer(rng: random.Random) -> list[str]:
    c = rng.choice(CONDS)
    d, n, m = (f"x{r}" for r in (rng.choice(DEST), rng.randrange(31), rng.randrange(31)))
    k = rng.randrange(5)
    if k == 0:
        return [f"cset {d}, {c}" if c != "al" else f"csetm {d}, eq"]
    if k == 1:
        return [f"{rng.choice(('csel', 'csinc', 'csinv', 'csneg'))} {d}, {n}, {m}, {c}"]
    if k == 2:
        return [f"ccmp {n}, {m}, #{rng.randrange(16)}, {c}"]
    done = label()
    return [f"b.{c} {done}", f"add {d}, {d}, #1", f"{done}:"]


def random_compare_and_consume(rng: random.Random) -> list[str]:
    return [random_compare(rng), *random_consumer(rng)]


def test_compare_and_consume_matches_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-cmp")
    differential(make_programs("cmp", rng, 300, sequence(random_compare_and_consume, 2, 10)), tmp_path)


# --- branches ---------------------------------------------------------------------------------------

def random_branch_program(rng: random.Random) -> list[str]:
    lines: list[str] = []

    def filler() -> list[str]:  # (X30 holds a return address in function bodies)
        return [f"add x{rng.choice(DEST[:-1])}, x{rng.randrange(31)}, #{rng.randrange(64)}"
                for _ in range(rng.randrange(0, 3))]

    for _ in range(rng.randrange(2, 8)):
        target = label()
        k = rng.randrange(9)
        r = rng.choice(DEST)
        if k == 0:
            lines += [random_compare(rng), f"b.{rng.choice(CONDS)} {target}"]
        elif k == 1:
            lines.append(f"{rng.choice(('cbz', 'cbnz'))} {rng.choice('wx')}{rng.randrange(31)}, {target}")
        elif k == 2:
            bit = rng.randrange(64)
            lines.append(f"{rng.choice(('tbz', 'tbnz'))} x{rng.randrange(31)}, #{bit}, {target}")
        elif k == 3:
            lines.append(f"bl {target}")
        elif k == 4:
            lines += [f"adr x{r}, {target}", f"{rng.choice(('br', 'blr'))} x{r}"]
        elif k == 5:
            lines += [f"adr x30, {target}", "ret"]
        elif k == 6:
            lines.append(f"b {target}")
        elif k == 7:  # a counted loop
            top = label()
            lines += [f"mov x{LOOP}, #{rng.randrange(1, 40)}", f"{top}:", *filler(), random_compare(rng),
                      f"csinc x{r}, x{r}, x{r}, {rng.choice(CONDS)}", f"subs x{LOOP}, x{LOOP}, #1",
                      f"b.ne {top}"]
            continue
        else:  # a call that returns
            func, after = label(), label()
            lines += [f"bl {func}", f"b {after}", f"{func}:", *filler(), "ret", f"{after}:"]
            continue
        lines += filler() + [f"{target}:"]
    return lines


def test_branches_match_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-branch")
    differential(make_programs("br", rng, 300, random_branch_program), tmp_path)


# --- loads and stores ---------------------------------------------------------------------------------

#: (mnemonic, access size, register kind): "w"/"x" general registers, "b".."q" SIMD&FP
LOADS = [("ldrb", 1, "w"), ("ldrsb", 1, "w"), ("ldrsb", 1, "x"), ("ldrh", 2, "w"), ("ldrsh", 2, "w"),
         ("ldrsh", 2, "x"), ("ldr", 4, "w"), ("ldrsw", 4, "x"), ("ldr", 8, "x"), ("ldr", 1, "b"),
         ("ldr", 2, "h"), ("ldr", 4, "s"), ("ldr", 8, "d"), ("ldr", 16, "q")]
STORES = [("strb", 1, "w"), ("strh", 2, "w"), ("str", 4, "w"), ("str", 8, "x"), ("str", 1, "b"),
          ("str", 2, "h"), ("str", 4, "s"), ("str", 8, "d"), ("str", 16, "q")]
PAIRS = [("ldp", 4, "w"), ("ldp", 8, "x"), ("ldpsw", 4, "x"), ("stp", 4, "w"), ("stp", 8, "x"),
         ("ldp", 4, "s"), ("ldp", 8, "d"), ("ldp", 16, "q"), ("stp", 4, "s"), ("stp", 8, "d"),
         ("stp", 16, "q")]


def _reg(rng: random.Random, kind: str, avoid: tuple[int, ...] = ()) -> str:
    if kind in "wx":
        r = rng.choice([d for d in DEST if d not in avoid] + [31])
        return f"{kind}zr" if r == 31 else f"{kind}{r}"
    return f"{kind}{rng.randrange(32)}"


def random_ldst(rng: random.Random) -> list[str]:
    op, size, kind = rng.choice(LOADS + STORES)
    rt = _reg(rng, kind)
    mode = rng.randrange(6)
    if mode == 0:  # unsigned offset, scaled
        return [f"{op} {rt}, [x{BASE}, #{size * rng.randrange(0x300 // size)}]"]
    if mode == 1:  # unscaled (LDUR/STUR, or the unprivileged LDTR/STTR), misaligned too
        if kind in "wx" and rng.random() < 0.3:
            unscaled = op.replace("ldr", "ldtr").replace("str", "sttr")
        else:
            unscaled = op.replace("ldr", "ldur").replace("str", "stur")
        return [f"{unscaled} {rt}, [x{BASE}, #{rng.randrange(-256, 256)}]"]
    if mode in (2, 3):  # pre- or post-index on a fresh base
        imm = rng.randrange(-256, 256)
        access = f"[x{WB}, #{imm}]!" if mode == 2 else f"[x{WB}], #{imm}"
        return [f"add x{WB}, x{BASE}, #{rng.randrange(0x300)}", f"{op} {rt}, {access}"]
    if mode == 4:  # register offset, 64-bit index
        shift = rng.choice(("", f", lsl #{size.bit_length() - 1}"))
        return [f"{op} {rt}, [x{BASE}, x{IDX}{shift}]"]
    ext = rng.choice(("sxtw", "uxtw")) if rng.random() < 0.7 else "sxtx"
    amount = rng.choice(("", f" #{size.bit_length() - 1}"))
    index = f"x{IDX}" if ext == "sxtx" else f"w{IDXW if ext == 'sxtw' else IDX}"
    return [f"{op} {rt}, [x{BASE}, {index}, {ext}{amount}]"]


def random_pair(rng: random.Random) -> list[str]:
    op, size, kind = rng.choice(PAIRS)
    rt = _reg(rng, kind)
    rt2 = _reg(rng, kind, avoid=(int(rt[1:]),) if rt[1:].isdigit() else ())
    while op.startswith("ld") and rt2 == rt:  # CONSTRAINED UNPREDICTABLE
        rt2 = _reg(rng, kind)
    imm = size * rng.randrange(-64, 64)
    mode = rng.randrange(4)
    if mode == 0:  # (the no-allocate LDNP/STNP have this addressing mode only)
        if op != "ldpsw" and rng.random() < 0.3:
            op = op.replace("p", "np")
        return [f"{op} {rt}, {rt2}, [x{BASE}, #{imm}]"]
    if mode == 1:  # (SP is 0x400 below the end of the scratch page)
        return [f"{op} {rt}, {rt2}, [sp, #{min(imm, 0x400 - 2 * size)}]"]
    access = f"[x{WB}, #{imm}]!" if mode == 2 else f"[x{WB}], #{imm}"
    return [f"add x{WB}, x{BASE}, #{rng.randrange(0x200)}", f"{op} {rt}, {rt2}, {access}"]


def random_ldst_program(rng: random.Random) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    literals: list[str] = []
    for _ in range(rng.randrange(3, 20)):
        k = rng.random()
        if k < 0.55:
            lines += random_ldst(rng)
        elif k < 0.8:
            lines += random_pair(rng)
        elif k < 0.9:  # literal loads
            lit = label()
            literals += [f"{lit}:", f".quad {rng.getrandbits(64):#x}", f".quad {rng.getrandbits(64):#x}"]
            op, rt = rng.choice((("ldr", "x"), ("ldr", "w"), ("ldrsw", "x"), ("ldr", "s"), ("ldr", "d"),
                                 ("ldr", "q"), ("prfm", "")))
            lines.append(f"prfm pldl1keep, {lit}" if op == "prfm" else f"{op} {_reg(rng, rt)}, {lit}")
        elif k < 0.95:
            lines.append(rng.choice((f"prfm pldl1keep, [x{BASE}, #{8 * rng.randrange(64)}]",
                                     f"prfm pstl2strm, [x{BASE}, x{IDX}, lsl #3]",
                                     f"prfum pldl2keep, [x{BASE}, #{rng.randrange(-256, 256)}]")))
        else:
            lines.append(f"add x{rng.choice(DEST)}, x{rng.randrange(31)}, x{rng.randrange(31)}")
    return lines, literals


def test_loads_and_stores_match_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-ldst")
    programs = []
    for n in range(400):
        lines, literals = random_ldst_program(rng)
        programs.append(Program(f"ldst{n}", lines, regs=random_regs(rng), nzcv=0, memory=random_memory(rng),
                                vregs={i: rng.getrandbits(128) for i in range(32)}, literals=literals))
    differential(programs, tmp_path)


# --- exclusives, acquire/release, LSE atomics ------------------------------------------------------------

SIZES = (("b", "w", 1), ("h", "w", 2), ("", "w", 4), ("", "x", 8))
ATOMIC_OPS = "add clr eor set smax smin umax umin".split()
ORDERING = ("", "a", "l", "al")


def _aligned_base(rng: random.Random, align: int) -> list[str]:
    return [f"add x{WB}, x{BASE}, #{align * rng.randrange(0x200 // align)}"]


def random_atomic(rng: random.Random) -> list[str]:
    suffix, kind, size = rng.choice(SIZES)
    rs, rt = _reg(rng, kind), _reg(rng, kind)
    base = _aligned_base(rng, max(size, 1))
    k = rng.randrange(9)
    if k == 0:  # a load-exclusive / store-exclusive pair (success, or failure on another address)
        status = f"w{rng.choice([d for d in DEST if f'{kind}{d}' not in (rs, rt)])}"
        other = rng.choice((f"x{WB}", f"x{WB}", f"x{BASE}"))
        acq, rel = rng.choice(("", "a")), rng.choice(("", "l"))
        return [*base, f"ld{acq}xr{suffix} {rt}, [x{WB}]", f"eor {rs}, {rt}, #1" if "zr" not in rs else "nop",
                f"st{rel}xr{suffix} {status}, {rs}, [{other}]"]
    if k == 1:  # a store-exclusive without a monitor
        status = f"w{rng.choice([d for d in DEST if f'{kind}{d}' != rs])}"
        return [*base, "clrex", f"stxr{suffix} {status}, {rs}, [x{WB}]"]
    if k == 2:
        return [*base, f"ldar{suffix} {rt}, [x{WB}]"]
    if k == 3:
        return [*base, f"stlr{suffix} {rs}, [x{WB}]"]
    if k == 4:
        return [*base, f"cas{rng.choice(ORDERING)}{suffix} {rs}, {rt}, [x{WB}]"]
    if k == 5:
        return [*base, f"swp{rng.choice(ORDERING)}{suffix} {rs}, {rt}, [x{WB}]"]
    op = rng.choice(ATOMIC_OPS)
    if op in ("smax", "smin") and size < 8:  # QEMU 5 compares these unsigned
        op = rng.choice(("umax", "umin"))
    if k == 6:
        return [*base, f"ld{op}{rng.choice(ORDERING)}{suffix} {rs}, {rt}, [x{WB}]"]
    if k == 7:
        return [*base, f"st{op}{rng.choice(('', 'l'))}{suffix} {rs}, [x{WB}]"]
    return random_pair_atomic(rng)


def random_pair_atomic(rng: random.Random) -> list[str]:
    kind = rng.choice("wx")
    size = 4 if kind == "w" else 8
    base = _aligned_base(rng, 2 * size)
    even = [d for d in DEST if d % 2 == 0 and d + 1 in DEST]
    if rng.random() < 0.5:  # CASP with even register pairs
        s, t = rng.choice(even), rng.choice(even)
        pairs = f"{kind}{s}, {kind}{s + 1}, {kind}{t}, {kind}{t + 1}"
        return [*base, f"casp{rng.choice(ORDERING)} {pairs}, [x{WB}]"]
    r1, r2, status = rng.sample(DEST, 3)
    acq, rel = rng.choice(("", "a")), rng.choice(("", "l"))
    return [*base, f"ld{acq}xp {kind}{r1}, {kind}{r2}, [x{WB}]", f"add {kind}{r1}, {kind}{r1}, #3",
            f"st{rel}xp w{status}, {kind}{r1}, {kind}{r2}, [x{WB}]"]


def test_atomics_match_unicorn(tmp_path: Path) -> None:
    """Programs start with CLREX: Unicorn's monitor outlives a program."""
    rng = random.Random(f"{SEED}-atomic")
    differential(make_programs("atomic", rng, 400, sequence(random_atomic, 2, 10, ["clrex"])), tmp_path)


# --- system registers, DC ZVA --------------------------------------------------------------------------

def random_system(rng: random.Random) -> list[str]:
    r = rng.choice(DEST)
    forms = [
        lambda: [f"msr nzcv, x{rng.randrange(31)}", random_compare(rng) if rng.random() < 0.3 else "nop",
                 f"mrs x{r}, nzcv"],
        lambda: [f"msr tpidr_el0, x{rng.randrange(31)}", f"mrs x{r}, tpidr_el0"],
        # FPCR without FZ16 (see the module docstring)
        lambda: [f"movz x{r}, #{rng.getrandbits(16) & ~(1 << 3):#x}, lsl #16", f"msr fpcr, x{r}",
                 f"mrs x{r}, fpcr"],
        lambda: [f"msr fpsr, x{rng.randrange(31)}", f"mrs x{r}, fpsr"],
        lambda: [f"mrs x{r}, {rng.choice(('ctr_el0', 'dczid_el0', 'cntfrq_el0', 'tpidrro_el0'))}"],
        lambda: [f"add x{r}, x{BASE}, #{rng.randrange(0x3c0)}", f"dc zva, x{r}"],
        lambda: [rng.choice(("nop", "yield", "dmb ish", "dsb sy", "isb", "clrex", "dc cvau, x20",
                             "ic ivau, x20", "dc civac, x20", "dc cvac, x20", "sevl"))],
    ]
    return rng.choice(forms)()


def test_system_registers_match_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-sys")
    programs = make_programs("sys", rng, 200, sequence(random_system, 2, 10))
    for p in programs:
        p.sysregs = (rng.getrandbits(64), rng.getrandbits(32) & FPCR_MASK, rng.getrandbits(32) & FPSR_MASK)
    differential(programs, tmp_path)


# --- compiled C ---------------------------------------------------------------------------------------

CC = shutil.which("aarch64-linux-gnu-gcc")
BSS = 0x300000


@pytest.mark.skipif(CC is None, reason="aarch64-linux-gnu-gcc not installed")
@pytest.mark.parametrize("march", ["armv8-a", "armv8.1-a"], ids=["exclusives", "lse"])
def test_compiled_c_matches_unicorn(tmp_path: Path, march: str) -> None:
    """kernel.c built by GCC (without FP/SIMD registers, which are a later step): the checksum and
    the program's data agree; its loops get hot, so most of it runs compiled."""
    elf = tmp_path / "kernel.elf"
    flags = ["-O2", f"-march={march}", "-mgeneral-regs-only", "-mno-outline-atomics", "-ffreestanding",
             "-nostdlib", "-static", "-fno-pie", "-no-pie", "-Wl,--build-id=none", f"-Wl,-Ttext={CODE:#x}",
             f"-Wl,-Tbss={BSS:#x}"]
    subprocess.run([CC, *flags, "-o", elf, Path(__file__).with_name("kernel.c")], check=True)
    sections = ["-j", ".text", "-j", ".rodata"]
    subprocess.run([TOOLS["objcopy"], "-O", "binary", *sections, elf, tmp_path / "k.bin"], check=True)
    image = (tmp_path / "k.bin").read_bytes()
    start = int(subprocess.run([TOOLS["nm"], elf], capture_output=True, text=True, check=True).stdout
                .split(" T _start")[0].split()[-1], 16)
    stop = CODE + image.index(struct.pack("<I", 0xD4200000))  # the brk #0 in _start
    stack_top = DATA + DATA_SIZE

    uc = UnicornRunner(image).uc
    uc.mem_map(BSS, 0x3000)
    uc.reg_write(uca.UC_ARM64_REG_SP, stack_top)
    uc.emu_start(start, stop)
    machine = Machine(image)
    machine.space.map(BSS, 0x3000, PROT_READ | PROT_WRITE)
    cpu = AArch64CPU()
    cpu.sp = stack_top
    assert machine.run(cpu, start) == (EXCP_BKPT, stop, 0)
    assert cpu.x(0) == uc.reg_read(uca.UC_ARM64_REG_X0)
    assert machine.space.read(BSS, 0x3000) == bytes(uc.mem_read(BSS, 0x3000))
    assert machine.space.read(DATA, DATA_SIZE) == bytes(uc.mem_read(DATA, DATA_SIZE))  # the stack
