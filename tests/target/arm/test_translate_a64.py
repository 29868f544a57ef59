"""Hand-written checks of the A64 translator, for what the Unicorn differential tests can't compare:

* what EL0 sees differently from Unicorn's EL1: the ID registers through the Linux kernel's MRS
  emulation, system registers and operations that are UNDEFINED at EL0;
* exits: SVC (syscall), BRK, UNDEFINED and unallocated encodings (reserved logical immediates, HLT,
  other exception levels' instructions, LSE atomics on a CPU without them; random undecodable words),
  alignment faults of exclusive, ordered and atomic accesses and of a misaligned branch target, a
  debugger's breakpoint;
* precise faults (a pair load whose second half faults leaves its registers alone);
* what Unicorn 2 (QEMU 5) gets wrong: LDSMAX/LDSMIN (and the ST forms) on bytes, halfwords and words
  compare unsigned there; here they are checked against a model;
* stores into translated code from instructions that do more after the store (STP, post-index);
* FPCR.FZ16 (FEAT_FP16 is not implemented: the bit reads as zero), CNTVCT_EL0 counting.

Every program runs several times with a low hot threshold, so both the IR interpreter and compiled
regions run it.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from pyqemu.accel.tcg.backend_python import PythonBackend
from pyqemu.accel.tcg.optimize import optimize
from pyqemu.linux_user.memory import PROT_EXEC, PROT_READ, PROT_WRITE
from pyqemu.target.arm import cpu as acpu
from pyqemu.target.arm import translate_a64
from pyqemu.target.arm.cpu import (
    EXCP_BKPT,
    EXCP_DEBUG,
    EXCP_SWI,
    EXCP_UDEF,
    EXCP_UNALIGNED,
    SLOT_FPCR,
    AArch64CPU,
)
from pyqemu.target.arm.disas import disas_bytes
from pyqemu.target.arm.insn_a64 import sysreg_key

from .harness import CODE, DATA, Machine, assemble, needs_binutils

RUNS = 5
HOT = 3
M = (1 << 64) - 1


def run(image: bytes, regs: dict[int, int] | None = None, features: frozenset[str] = acpu.DEFAULT_FEATURES,
        pc: int = CODE, setup=None, machine: Machine | None = None,
        same: bool = True) -> tuple[tuple[int, int, int], AArch64CPU]:
    """Run ``image`` RUNS times from the same registers (``setup(machine)`` first, e.g. to reset
    memory); with ``same``, every run must end alike.  Returns the last."""
    machine = machine or Machine(image, features, hot_threshold=HOT)
    results = []
    for _ in range(RUNS):
        if setup is not None:
            setup(machine)
        cpu = AArch64CPU()
        for r, v in (regs or {}).items():
            cpu.R[r] = v
        exc = machine.run(cpu, pc)
        results.append((exc, [cpu.R[i] for i in range(acpu.NSLOTS) if i != acpu.SLOT_ICOUNT]))
        last = (exc, cpu)
    assert not same or all(r == results[0] for r in results), "cold and hot runs differ"
    return last


def words(*insns: int) -> bytes:
    return struct.pack(f"<{len(insns)}I", *insns)


BRK0 = 0xD4200000
MOV_X0_1 = 0xD2800020  # mov x0, #1


# --- exits ----------------------------------------------------------------------------------------

def test_svc_exits_with_the_immediate_at_the_next_instruction() -> None:
    (code, pc, tval), cpu = run(words(MOV_X0_1, 0xD4001541, BRK0))  # svc #0xaa
    assert (code, pc, tval) == (EXCP_SWI, CODE + 8, 0xAA)
    assert cpu.x(0) == 1


def test_brk_exits_at_itself_with_the_immediate() -> None:
    (code, pc, tval), cpu = run(words(MOV_X0_1, 0xD4224680))  # brk #0x1234
    assert (code, pc, tval) == (EXCP_BKPT, CODE + 4, 0x1234)
    assert cpu.x(0) == 1


UNDEFINED = {
    "udf #5": 0x00000005,
    "hlt #3": 0xD4400060,
    "and x0, x0, #<N=1 imms=111111>": 0x92400000 | 0b111111 << 10 | 1 << 22,
    "orr w0, w0, #<N=0 imms=011111>": 0x32000000 | 0b011111 << 10,
    "eor x1, x2, #<N=0 imms=111111>": 0xD2000041 | 0b111111 << 10,
    "ands x1, x2, #<N=0 imms=111101>": 0xF2000041 | 0b111101 << 10,
    "msr daifset, #2": 0xD50342DF,
    "mrs x0, sctlr_el1": 0xD5381000,
    "msr ctr_el0, x0": 0xD51B0020,
    "msr cntfrq_el0, x1": 0xD51BE001,
    "msr cntvct_el0, x1": 0xD51BE041,
    "msr dczid_el0, x1": 0xD51B00E1,
    "msr id_aa64pfr0_el1, x1": 0xD5180401,
    "mrs x1, id_pfr0_el1 (CRm 1: not emulated)": 0xD5380101,
    "mrs x1, s3_0_c0_c0_1 (CRm 0, not MIDR/MPIDR/REVIDR)": 0xD5380021,
    "msr tpidrro_el0, x1": 0xD51BD061,
    "dc ivac, x0": 0xD5087620,
    "dc cvap, x0 (no FEAT_DPB)": 0xD50B7C20,
    "tlbi vmalle1": 0xD508871F,
    "at s1e1r, x0": 0xD5087800,
    "sysl x0, #0, c1, c2, #3": 0xD5281260,
    "hvc #0": 0xD4000002,
    "smc #0": 0xD4000003,
    "eret": 0xD69F03E0,
    "mul v0.2d, v1.2d, v2.2d (AdvSIMD: size 11 reserved)": 0x4EE29C20,
    "fadd h0, h1, h2 (FEAT_FP16: not implemented)": 0x1EE22820,
}


@pytest.mark.parametrize("insn", UNDEFINED.values(), ids=UNDEFINED.keys())
def test_undefined_at_el0_is_an_illegal_instruction_exit(insn: int) -> None:
    (code, pc, tval), cpu = run(words(MOV_X0_1, insn, MOV_X0_1 | 1, BRK0))  # then mov x1, #1
    assert (code, pc, tval) == (EXCP_UDEF, CODE + 4, insn)
    assert (cpu.x(0), cpu.x(1)) == (1, 0)


LSE_WORDS = {"ldaddal x10, x14, [x20]": 0xF8EA028E, "casal x0, x1, [x2]": 0xC8E0FC41,
             "swp w1, w2, [x3]": 0xB8218062, "caspal x0, x1, x2, x3, [x4]": 0x4860FC82,
             "stclrb w1, [x2]": 0x3821105F}


@pytest.mark.parametrize("insn", LSE_WORDS.values(), ids=LSE_WORDS.keys())
def test_lse_atomics_need_the_feature(insn: int) -> None:
    regs = {i: DATA for i in range(31)}
    (code, pc, tval), _ = run(words(insn, BRK0), regs, features=frozenset())
    assert (code, pc, tval) == (EXCP_UDEF, CODE, insn)
    (code, pc, _), _ = run(words(insn, BRK0), regs, setup=lambda m: m.space.write(DATA, bytes(16)))
    assert (code, pc) == (EXCP_BKPT, CODE + 4)


class _FetchEnv:
    """A translation environment whose code is one list of words at CODE."""

    breakpoints: frozenset[int] = frozenset()
    features = acpu.DEFAULT_FEATURES

    def __init__(self, code: list[int]):
        self.code = code
        self._helpers = Machine(b"").proc.helpers

    def fetch32(self, pc: int) -> int:
        return self.code[(pc - CODE) // 4]

    def helpers(self) -> dict:
        return self._helpers


def test_random_words_translate_compile_and_undefined_ones_exit() -> None:
    """Any word translates (no Python exception) into IR the backend compiles; a word the decoder
    doesn't know becomes the UNDEFINED exit."""
    rng = random.Random(0xA64)
    ws = [rng.getrandbits(32) for _ in range(4000)] + [0, M & 0xFFFFFFFF]
    env = _FetchEnv(ws + [BRK0])
    machine = Machine(b"")
    backend = PythonBackend(acpu.GLOBAL_SLOTS, machine.proc.tbc.backend.memory, icount_slot=acpu.SLOT_ICOUNT)
    undefined = 0
    for i, w in enumerate(ws):
        block = translate_a64.gen_block(env, CODE + 4 * i, max_insns=1)
        if translate_a64.decoder().decode(w) is None:
            assert block.ops[-1] == ("exit_exc", EXCP_UDEF, CODE + 4 * i, w)
            undefined += 1
        optimize(block)
        backend.compile_region([block])
    assert 1000 < undefined < len(ws)


def test_misaligned_branch_target_faults_at_it() -> None:
    (code, pc, tval), cpu = run(words(0xD61F0020), {1: CODE + 0x102})  # br x1
    assert (code, pc, tval) == (EXCP_UNALIGNED, CODE + 0x102, CODE + 0x102)


def test_breakpoint_stops_before_the_instruction() -> None:
    machine = Machine(words(MOV_X0_1, MOV_X0_1 | 1, BRK0), hot_threshold=HOT)
    machine.proc.breakpoints = frozenset({CODE + 4})
    (code, pc, _), cpu = run(b"", machine=machine)
    assert (code, pc) == (EXCP_DEBUG, CODE + 4)
    assert (cpu.x(0), cpu.x(1)) == (1, 0)


# --- alignment faults and precise state -----------------------------------------------------------

#: word, misalignment of the base address (from DATA), instruction
_MISALIGNED = """
    c85f7c20  4  ldxr x0, [x1]
    885ffc20  2  ldaxr w0, [x1]
    485f7c20  1  ldxrh w0, [x1]
    c8027c20  4  stxr w2, x0, [x1]
    c87f0c20  8  ldxp x0, x3, [x1] (pairs of doublewords: 16-byte alignment)
    c8220c20  8  stxp w2, x0, x3, [x1]
    887f0c20  4  ldxp w0, w3, [x1]
    c8dffc20  4  ldar x0, [x1]
    489ffc20  1  stlrh w0, [x1]
    f8220020  4  ldadd x2, x0, [x1]
    78228020  1  swph w2, w0, [x1]
    c8a27c20  12 cas x2, x0, [x1]
    48227c24  8  casp x2, x3, x4, x5, [x1]
"""
MISALIGNED = [(int(word, 16), int(offset), text)
              for word, offset, text in (line.split(maxsplit=2) for line in _MISALIGNED.strip().splitlines())]


@pytest.mark.parametrize("insn,offset", [m[:2] for m in MISALIGNED], ids=[m[2] for m in MISALIGNED])
def test_misaligned_exclusive_ordered_and_atomic_accesses_fault(insn: int, offset: int) -> None:
    addr = DATA + offset
    regs = {0: 5, 1: addr, 2: 7, 3: 9}
    (code, pc, tval), cpu = run(words(insn, BRK0), regs)
    assert (code, pc, tval) == (EXCP_UNALIGNED, CODE, addr)
    assert [cpu.x(i) for i in range(4)] == [5, addr, 7, 9]


def test_ldp_whose_second_half_faults_changes_no_register() -> None:
    top = DATA + 0x1000 - 8  # the second doubleword is on the unmapped page after DATA
    (code, pc, tval), cpu = run(words(0xA9400420, BRK0), {0: 5, 1: top})  # ldp x0, x1, [x1]
    assert pc == CODE and tval == DATA + 0x1000 and code not in (EXCP_BKPT, EXCP_UDEF)
    assert (cpu.x(0), cpu.x(1)) == (5, top)


def test_post_index_store_that_faults_keeps_its_base() -> None:
    (code, pc, tval), cpu = run(words(0xF8008420, BRK0), {0: 5, 1: DATA + 0x1000})  # str x0, [x1], #8
    assert (pc, tval) == (CODE, DATA + 0x1000)
    assert cpu.x(1) == DATA + 0x1000


# --- signed atomic min/max (Unicorn 2 compares them unsigned below 64 bits) ---------------------------

def _atomic_word(size: int, op: int, rs: int, rt: int, rn: int) -> int:
    """LD<op> (op 4 SMAX, 5 SMIN) of 1 << size bytes, no ordering."""
    return size << 30 | 0x38200000 | rs << 16 | op << 12 | rn << 5 | rt


@pytest.mark.parametrize("size", [0, 1, 2, 3])
@pytest.mark.parametrize("op", [4, 5])
def test_signed_atomic_min_max_compare_signed(size: int, op: int) -> None:
    bits = 8 << size
    mask = (1 << bits) - 1
    rng = random.Random(size * 10 + op)

    def sx(v: int) -> int:
        return v - (1 << bits) if v >> (bits - 1) else v

    values = [0, 1, mask, 1 << (bits - 1), (1 << (bits - 1)) - 1] + [rng.getrandbits(bits) for _ in range(6)]
    image = words(_atomic_word(size, op, 2, 0, 1), BRK0)
    machine = Machine(image, hot_threshold=HOT)
    for old in values:
        for operand in values:
            def setup(m: Machine, old: int = old) -> None:
                m.space.write(DATA, old.to_bytes(8, "little"))
            junk = 0xAB << 56 if size < 3 else 0  # bits of X2 above the access size don't count
            (code, _, _), cpu = run(image, {1: DATA, 2: operand | junk}, setup=setup, machine=machine)
            pick = max if op == 4 else min
            new = pick(sx(old), sx(operand & mask)) & mask
            assert code == EXCP_BKPT
            assert cpu.x(0) == old
            assert int.from_bytes(machine.space.read(DATA, 8), "little") == new | old & ~mask & M


# --- system registers as EL0 sees them on Linux ---------------------------------------------------------

def _mrs(op0: int, op1: int, crn: int, crm: int, op2: int, rt: int = 0) -> int:
    return 0xD5300000 | sysreg_key(op0, op1, crn, crm, op2) << 5 | rt


ID_READS = {
    "MIDR_EL1": ((3, 0, 0, 0, 0), acpu.MIDR_EL1),
    "MPIDR_EL1": ((3, 0, 0, 0, 5), 0x80000000),
    "REVIDR_EL1": ((3, 0, 0, 0, 6), 0),
    "ID_AA64PFR0_EL1": ((3, 0, 0, 4, 0), 0x11),
    "ID_AA64ISAR0_EL1": ((3, 0, 0, 6, 0), 0x201120),  # ATOMIC, SHA2, SHA1, AES with PMULL
    "ID_AA64ISAR1_EL1": ((3, 0, 0, 6, 1), 0),
    "ID_AA64MMFR0_EL1": ((3, 0, 0, 7, 0), 0),
    "ID_AA64DFR0_EL1": ((3, 0, 0, 5, 0), 6),
    "unallocated ID space S3_0_C0_C3_7": ((3, 0, 0, 3, 7), 0),
}


@pytest.mark.parametrize("reg,value", ID_READS.values(), ids=ID_READS.keys())
def test_id_registers_read_through_the_kernel_emulation(reg: tuple, value: int) -> None:
    (code, _, _), cpu = run(words(_mrs(*reg, rt=3), BRK0), {3: 0xDEAD})
    assert code == EXCP_BKPT and cpu.x(3) == value


def test_id_aa64isar0_without_lse() -> None:
    (_, _, _), cpu = run(words(_mrs(3, 0, 0, 6, 0, rt=3), BRK0), features=frozenset())
    assert cpu.x(3) == 0x1120


def test_tpidrro_el0_reads_zero() -> None:
    (_, _, _), cpu = run(words(0xD53BD061, BRK0), {1: 0xDEAD})  # mrs x1, tpidrro_el0
    assert cpu.x(1) == 0


def test_fpcr_has_no_fz16_and_keeps_its_other_bits() -> None:
    # mov x0, #-1; msr fpcr, x0; mrs x1, fpcr
    (_, _, _), cpu = run(words(0x92800000, 0xD51B4400, 0xD53B4401, BRK0))
    assert cpu.x(1) == acpu.FPCR_MASK == cpu.R[SLOT_FPCR]
    assert not cpu.x(1) >> 19 & 1


def test_cntvct_counts_at_cntfrq() -> None:
    # mrs x0, cntvct_el0; mrs x1, cntfrq_el0; mrs x2, cntvct_el0
    (_, _, _), cpu = run(words(0xD53BE040, 0xD53BE001, 0xD53BE042, BRK0), same=False)
    assert cpu.x(1) == 62_500_000
    assert 0 < cpu.x(0) <= cpu.x(2) < cpu.x(0) + 62_500_000


# --- stores into translated code -------------------------------------------------------------------

RWX = 0x300000


@needs_binutils
@pytest.mark.parametrize("hot", [False, True], ids=["interpreted", "compiled"])
@pytest.mark.parametrize("store", ["str w1, [x2], #4", "stp w1, w3, [x2], #8", "str w1, [x2, #4]!"])
def test_store_with_writeback_into_translated_code(tmp_path: Path, store: str, hot: bool) -> None:
    """Patching the next instruction (in the storing block) with a store that also writes back its
    base: the store leaves the block after its instruction, the writeback happens, the new
    instruction runs."""
    source = f"""
        adr x2, patch
        {"sub x2, x2, #4" if store.endswith("!") else ""}
        ldr w1, new
        ldr w3, end
        {store}
    patch:
        mov x0, #1
    end:
        brk #0
    new:
        mov x0, #2
    """
    image, symbols = assemble(source, tmp_path)
    machine = Machine(b"", hot_threshold=1 if hot else 1 << 30)
    machine.space.map(RWX, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC)
    machine.space.write(RWX, image)
    patch = RWX + symbols["patch"] - CODE
    cpu = AArch64CPU()
    assert machine.run(cpu, RWX)[:2] == (EXCP_BKPT, patch + 4)
    assert cpu.x(0) == 2
    assert cpu.x(2) == patch + {"str w1, [x2], #4": 4, "stp w1, w3, [x2], #8": 8}.get(store, 0)
    assert (machine.proc.tbc.stats()["regions"] > 0) == hot


# --- logging helpers ------------------------------------------------------------------------------

def test_in_asm_disassembly_format() -> None:
    text = disas_bytes(words(0x8B020020, 0x00000005), 0x400000)  # add x0, x1, x2; udf #5
    lines = text.splitlines()
    assert lines[0] == "0x0000000000400000:  8b020020      add      x0, x1, x2"
    assert lines[1].startswith("0x0000000000400004:  00000005      ")


def test_cpu_dump_and_nzcv() -> None:
    cpu = AArch64CPU()
    assert cpu.nzcv == 0
    cpu.nzcv = 0xA0000000
    cpu.set_x(5, 0x1234)
    dump = cpu.dump()
    assert "PC=0000000000000000" in dump and "X05=0000000000001234" in dump
    assert dump.endswith("PSTATE=a0000000 N-C- EL0t")
    assert cpu.nzcv == 0xA0000000
