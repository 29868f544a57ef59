"""The native interpreter (system mode's cold tier on the x86_64 backend) against Unicorn.

The random RV64IMAC programs of ``test_differential_unicorn`` (integer straight-line code, branches,
loops, the edge cases, atomics) are linked into RAM of a ``virt`` machine and run in M-mode from the
same initial registers and scratch memory as on Unicorn; each stops at its final ``ebreak``, whose
trap lands on a ``wfi`` (the machine then reports the hart halted, with ``mcause`` 3 and ``mepc`` at
the ``ebreak``).  All 31 integer registers and the scratch memory must agree.

Each program runs several times: with the default hot threshold everything runs in the interpreter
(and the TB path for what it escapes: the ``ebreak``, divisions by zero, misaligned atomics); with a
threshold of 2 the interpreter also hands over to compiled regions and takes back from them.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
import test_differential_unicorn as du
from difftest import assemble, compare_runs, link_programs
from hartrun import TRAP, install_halt, open_pmp, run_until_halted

from pyqemu.accel.tcg import backends
from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine
from pyqemu.target.riscv import native_interp
from pyqemu.target.riscv.cpu import RES_NONE, SLOT_RES_ADDR
from pyqemu.target.riscv.hart import PRIV_M

pytestmark = [
    pytest.mark.skipif(du.TOOLS is None, reason="riscv64 binutils not installed"),
    pytest.mark.skipif(du.unicorn is None, reason="pip package 'unicorn' not installed"),
    pytest.mark.skipif("x86_64" not in backends.available(), reason="needs the x86_64 backend"),
]

RAM = TRAP  # (where the final ebreak's trap goes: the hart halts)
CODE = RAM + 0x100000
DATA = RAM + 0x400000
RUNS = 4
EXCP_ILLEGAL_INST, EXCP_BREAKPOINT = 2, 3


def _relocate(programs: list[du.Program]) -> list[du.Program]:
    """Point the programs' scratch pointers at this machine's scratch buffer."""
    for p in programs:
        for r, v in du.BASE_VALUES.items():
            p.regs[r] = DATA + (v - du.DATA)
    return programs


class UnicornRunner:
    def __init__(self, image: bytes):
        self.uc = du.unicorn.Uc(du.unicorn.UC_ARCH_RISCV, du.unicorn.UC_MODE_RISCV64)
        self.uc.mem_map(CODE, (len(image) + 0xFFFF) & ~0xFFF)
        self.uc.mem_write(CODE, image)
        self.uc.mem_map(DATA, 0x1000)

    def run(self, p: du.Program) -> du.State:
        uc, ucr = self.uc, du.ucr
        for i in range(1, 32):
            uc.reg_write(ucr.UC_RISCV_REG_X0 + i, p.regs.get(i, 0))
        uc.mem_write(DATA, p.memory)
        uc.emu_start(p.start, p.end, count=100_000)
        assert uc.reg_read(ucr.UC_RISCV_REG_PC) == p.end, f"{p.name}: unicorn stopped early"
        return du.State([0] + [uc.reg_read(ucr.UC_RISCV_REG_X0 + i) for i in range(1, 32)], [0] * 32, 0,
                        bytes(uc.mem_read(DATA, du.SCRATCH)))


class MachineRunner:
    def __init__(self, image: bytes):
        self.machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend="x86_64"))
        self.fast = self.machine.tbc.fast
        assert self.fast is not None
        install_halt(self.machine)
        self.machine.space.write_bytes(CODE, image)

    def run(self, p: du.Program) -> tuple[tuple[int, int], du.State]:
        hart = self.machine.cpus[0]
        space = self.machine.space
        hart.priv = PRIV_M
        hart.update_flags()
        hart.mtvec = TRAP
        hart.mie = 0
        R = hart.R
        for i in range(1, 32):
            R[i] = p.regs.get(i, 0)
        R[SLOT_RES_ADDR] = RES_NONE  # no reservation left from the last run
        space.write_bytes(DATA, p.memory)
        hart.pc = p.start
        halted = run_until_halted(self.machine, hart, 1_000_000)
        stopped = (hart.mcause, hart.mepc) if halted else (-1, hart.pc)
        return stopped, du.State([0] + [R[i] for i in range(1, 32)], [0] * 32, 0,
                                 space.read_bytes(DATA, du.SCRATCH))


def differential(programs: list[du.Program], tmp: Path, march: str, hot: int = native_interp.HOT) -> None:
    image = link_programs(_relocate(programs), tmp, du.TOOLS, [f"-march={march}", "-mabi=lp64"], CODE,
                          [".option norelax", ".text", ".globl _start", "_start:"],
                          lambda p: ["  ebreak", "  .balign 4"])
    default = native_interp.HOT
    native_interp.HOT = hot
    try:
        machine = MachineRunner(image)
    finally:
        native_interp.HOT = default
    machine.machine.tbc.background = False  # hot blocks are compiled at once (later runs use them)
    uc = UnicornRunner(image)
    compare_runs(programs, uc.run, machine.run, lambda p: (EXCP_BREAKPOINT, p.end),
                 lambda p, got, want: got.diff(want), RUNS, hot)
    assert machine.fast.fills > 0 and machine.fast.escapes > 0  # it did interpret
    check_predecoded(machine.fast)
    if hot < RUNS:
        assert machine.machine.tbc.stats()["regions"] > 0  # and handed over to compiled code


#: the fields of a predecode entry each operand shape uses: (rd, rs1, rs2, imm)
USED = {"r": (1, 1, 1, 0), "r2": (1, 1, 0, 0), "i": (1, 1, 0, 1), "sb": (0, 1, 1, 1), "u": (1, 0, 0, 1),
        "n": (0, 0, 0, 0), "csr": (1, 1, 0, 1)}


def check_predecoded(fast: native_interp.NativeInterpreter) -> None:
    """Every entry of the predecode table (most 32-bit ones written by the machine-code decoder) must
    mean what Python's predecoding of its word means."""
    shapes = {op: shape for op, shape in fast.ops.values()}
    table = fast.table
    checked = 0
    for i in range(0, len(table), 2):
        w0, imm = table[i], table[i + 1]
        word = w0 & 0xFFFFFFFF
        if not word:
            continue
        want0, want_imm = fast.predecode(word)
        op = (w0 >> 32) & 0xFF
        assert op == (want0 >> 32) & 0xFF, f"{word:#010x}: operation {op}"
        if not op:
            continue
        used = USED[shapes[op]]
        got = [(w0 >> s) & 0xFF for s in (40, 48, 56)] + [imm]
        want = [(want0 >> s) & 0xFF for s in (40, 48, 56)] + [want_imm]
        assert [g for g, u in zip(got, used, strict=True) if u] == \
            [w for w, u in zip(want, used, strict=True) if u], f"{word:#010x}"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("kind,count", [("straight", 300), ("branches", 200), ("loops", 150)])
def test_integer_programs(tmp_path: Path, kind: str, count: int) -> None:
    rng = random.Random(f"{du.SEED}-native-{kind}")
    differential(du.random_programs(rng, kind, count), tmp_path, "rv64imc")


def test_edge_case_programs(tmp_path: Path) -> None:
    differential(du.edge_programs(random.Random(f"{du.SEED}-native-edge")), tmp_path, "rv64imc")


def test_atomic_programs(tmp_path: Path) -> None:
    differential(du.atomic_programs(random.Random(f"{du.SEED}-native-amo"), 150), tmp_path, "rv64imac")


def test_atomic_programs_compiled(tmp_path: Path) -> None:
    """The same atomics compiled (system mode translates LR/SC and the AMOs to IR, no helpers)."""
    differential(du.atomic_programs(random.Random(f"{du.SEED}-native-amo-hot"), 100), tmp_path, "rv64imac",
                 hot=2)


def test_hand_over_to_compiled_code(tmp_path: Path) -> None:
    """A threshold of 2: blocks get compiled during the runs, and interpreted and compiled code jump
    into each other (through the jump cache, and compiled code's misses)."""
    rng = random.Random(f"{du.SEED}-native-hot")
    programs = du.random_programs(rng, "loops", 60) + du.random_programs(rng, "branches", 60)
    differential(programs, tmp_path, "rv64imc", hot=2)


def test_escaped_instruction_runs_compiled_once_hot(tmp_path: Path) -> None:
    """An instruction the interpreter escapes (a CSR access) runs through the TB path, whose block gets
    compiled when hot; from then on the interpreter jumps into that code instead of escaping."""
    lines = ["li t0, 3000", "1:", "csrrs a0, mscratch, a1", "addi a2, a2, 1", "addi t0, t0, -1",
             "bnez t0, 1b"]
    image = link_programs([p := du.Program("csr_loop", lines)], tmp_path, du.TOOLS,
                          ["-march=rv64imc", "-mabi=lp64"], CODE, [".option norelax", ".text"],
                          lambda p: ["  ebreak"])
    machine = MachineRunner(image)
    machine.machine.tbc.background = False  # compiled when hot, right away
    p.regs = {11: 0x40}
    assert machine.run(p)[0] == (EXCP_BREAKPOINT, p.end)
    first = machine.fast.escapes
    assert first > 0
    assert machine.run(p)[0] == (EXCP_BREAKPOINT, p.end)
    assert machine.fast.escapes - first < 10  # (the ebreak, each run)


def test_predecoding_ahead_keeps_the_missing_word() -> None:
    """Predecoding for a missed word leaves that word in the table, whatever follows it in memory
    (else the interpreter would miss it again, forever)."""
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend="x86_64"))
    fast = machine.tbc.fast
    cpu = machine.cpus[0]
    machine.tbc.backend.context(cpu)  # (the native TLB)
    shift = 32 - native_interp.PRE_BITS
    ahead = 0x4501  # c.li a0, 0
    slot = ((ahead * native_interp.HASH) & 0xFFFFFFFF) >> shift
    inverse = pow(native_interp.HASH, -1, 1 << 32)
    missed = next(w for low in range(1 << shift)
                  if (w := (((slot << shift) | low) * inverse) & 0xFFFFFFFF) & 3 == 3)  # same slot
    machine.space.write_bytes(CODE, struct.pack("<IH", missed, ahead))
    cpu.fetch_paddr(CODE)
    fast.fill(cpu, CODE)
    assert fast.table[2 * slot] & 0xFFFFFFFF == missed


def test_sfence_of_a_page_code_was_fetched_from_after_a_tlb_flush() -> None:
    """A TLB flush that leaves the jump caches alone (a watchpoint change) must not make a later
    sfence.vma of a code page leave them alone too."""
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend="x86_64"))
    mmu = machine.cpus[0].mmu
    machine.cpus[0].fetch_paddr(CODE)
    mmu.set_watch(frozenset(), lambda vaddr, size, store: None)  # flushes the TLB
    assert mmu.flush_page(CODE)


def _run_native(image: bytes, start: int, end: int, mstatus: int = 0, regs: dict[int, int] | None = None,
                at: int = CODE) -> tuple[MachineRunner, tuple[int, int]]:
    """Run ``image`` (linked at ``at``) from ``start`` to its ebreak at ``end`` in M-mode with
    ``mstatus``; (the runner, (mcause, mepc))."""
    machine = MachineRunner(b"")
    machine.machine.tbc.background = False  # hot blocks are compiled at once
    machine.machine.space.write_bytes(at, image)
    hart = machine.machine.cpus[0]
    hart.mstatus = mstatus
    p = du.Program("p", [], start=start, end=end, regs=dict(regs or {}), memory=bytes(du.SCRATCH))
    stopped, _ = machine.run(p)
    return machine, stopped


FP_PROGRAM = ["li t0, 0x3ff8000000000000", "sd t0, 0(a0)", "li t0, 0x40490fdb", "sw t0, 8(a0)", "first_fp:",
              "fld f1, 0(a0)", "flw f2, 8(a0)", "c.fld f9, 0(a0)", "fsd f1, 16(a0)", "fsw f2, 24(a0)",
              "c.fsd f9, 32(a0)", "fmv.x.d a1, f1", "fmv.x.d a2, f2", "fmv.x.d a3, f9", "end:", "ebreak"]


@pytest.mark.parametrize("fs", [3, 1, 0])
def test_fp_loads_and_stores(tmp_path: Path, fs: int) -> None:
    """FP loads and stores run in the interpreter while mstatus.FS is Dirty (stores: not Off); else
    they escape to the TB path, which marks FS Dirty or raises the illegal instruction (FS Off)."""
    source = "\n".join([".option norelax", ".text", ".globl _start", "_start:", *FP_PROGRAM])
    image, symbols = assemble(source, tmp_path, du.TOOLS, ["-march=rv64imafdc", "-mabi=lp64"], CODE)
    machine, stopped = _run_native(image, CODE, symbols["end"], mstatus=fs << 13, regs={10: DATA})
    hart = machine.machine.cpus[0]
    if fs == 0:
        assert stopped == (EXCP_ILLEGAL_INST, symbols["first_fp"])
        return
    assert stopped == (EXCP_BREAKPOINT, symbols["end"])
    R = hart.R
    assert [R[11], R[12], R[13]] == [0x3FF8000000000000, 0xFFFFFFFF40490FDB, 0x3FF8000000000000]
    mem = machine.machine.space.read_bytes(DATA, 40)
    assert struct.unpack_from("<QIxxxxQ", mem, 16) == (0x3FF8000000000000, 0x40490FDB, 0x3FF8000000000000)
    assert (hart.mstatus >> 13) & 3 == 3  # Dirty (set by the TB path when it was Initial)
    if fs == 3:  # all six ran in the interpreter
        fp_ops = {machine.fast.ops[n][0] for n in ("fp_ld", "fp_lw", "fp_sd", "fp_sw")}
        table = machine.fast.table
        assert sum((table[i] >> 32) & 0xFF in fp_ops for i in range(0, len(table), 2)) == 6
        check_predecoded(machine.fast)


def test_instruction_across_a_page_boundary(tmp_path: Path) -> None:
    """A 32-bit instruction whose halves are on two pages runs in the interpreter (its upper half read
    through the code TLB), not through the TB path."""
    lines = [".option norelax", ".text", ".globl _start", "_start:", "li a0, 0", "li t0, 100", "j loop",
             ".org 0xffe", "loop:", "addi a0, a0, 1000", "addi t0, t0, -1", "bnez t0, loop", "end:", "ebreak"]
    image, symbols = assemble("\n".join(lines), tmp_path, du.TOOLS, ["-march=rv64imc", "-mabi=lp64"], CODE)
    assert symbols["loop"] - CODE == 0xFFE and symbols["end"] - CODE > 0x1002  # (a 32-bit addi there)
    machine, stopped = _run_native(image, CODE, symbols["end"])
    assert stopped == (EXCP_BREAKPOINT, symbols["end"])
    assert machine.machine.cpus[0].R[10] == 100_000
    assert machine.fast.escapes < 5  # (the ebreak, not the addi at each iteration)


def test_long_straight_run_gets_compiled(tmp_path: Path) -> None:
    """Heat is counted in instructions run from a block head, not in visits: a function of 2000
    instructions without a branch, called 40 times, is compiled (as QEMU would run it translated)
    although its head is visited far fewer than HOT times."""
    lines = [".option norelax", ".text", ".globl _start", "_start:", "li t0, 40", "1:", "call body",
             "addi t0, t0, -1", "bnez t0, 1b", "end:", "ebreak", "body:", ".rept 2000", "addi a0, a0, 1000",
             ".endr", "ret"]
    image, symbols = assemble("\n".join(lines), tmp_path, du.TOOLS, ["-march=rv64imc", "-mabi=lp64"], CODE)
    machine, stopped = _run_native(image, CODE, symbols["end"])
    assert stopped == (EXCP_BREAKPOINT, symbols["end"])
    assert machine.machine.cpus[0].R[10] == 40 * 2000 * 1000
    assert native_interp.HOT > 40 and machine.machine.tbc.stats()["regions"] > 0


def test_instruction_across_pages_mapped_apart() -> None:
    """An instruction whose halves are on two virtual pages mapped to physical pages far apart, and
    which Python predecodes (a CSR access): both halves come through the code TLB."""
    from pyqemu.target.riscv import csr as C
    from pyqemu.target.riscv.hart import PRIV_S

    machine = MachineRunner(b"")
    space = machine.machine.space
    hart = machine.machine.cpus[0]
    root, l1, l0 = RAM + 0x10000, RAM + 0x11000, RAM + 0x12000
    first, second = RAM + 0x300000, RAM + 0x500000  # the two physical pages
    space.write(root + 8, (l1 >> 12) << 10 | 1, 8)  # VA 0x40000000: root[1] -> l1[0] -> l0
    space.write(l1, (l0 >> 12) << 10 | 1, 8)
    for i, page in enumerate((first, second)):
        space.write(l0 + 8 * i, (page >> 12) << 10 | 0x4B, 8)  # V R X A
    csrr = 0x14002573  # csrr a0, sscratch
    space.write_bytes(first + 0xFF0, struct.pack("<7HH", *[0x0001] * 7, csrr & 0xFFFF))  # c.nop x 7
    space.write_bytes(second, struct.pack("<HI", csrr >> 16, 0x00100073))  # (upper half), ebreak
    open_pmp(hart)
    C.csr_access(hart, 0x180, 8 << 60 | root >> 12, 0)  # Sv39
    hart.mtvec = TRAP
    hart.sscratch = 0x5A5A
    fill = machine.fast.fill

    def fill_at_most_a_few_times(cpu, pc: int) -> None:  # (predecoding a wrong word: it misses forever)
        assert machine.fast.fills < 20, "the same instruction is predecoded again and again"
        fill(cpu, pc)

    machine.fast.fill = fill_at_most_a_few_times
    start, end = 0x40000FF0, 0x40001002
    for _ in range(3):
        hart.flush_jmp_cache()  # (the exec loop would run the csrr through the TB path it once took)
        hart.priv = PRIV_S
        hart.update_flags()
        hart.R[10] = 0
        hart.pc = start
        assert run_until_halted(machine.machine, hart, 10_000), "the instruction never ran"
        assert (hart.mcause, hart.mepc, hart.R[10]) == (EXCP_BREAKPOINT, end, 0x5A5A)
    assert machine.fast.fills >= 1
