"""Interrupt enable and disable through sstatus.SIE, which translated code and the native interpreter do
themselves (``translate._sstatus_sie``, ``native_interp._Handlers.sstatus``) rather than through the
CSR helper (RISC-V Privileged spec 4.1.1: sstatus; 3.1.9: when an interrupt is taken).

A program runs in S-mode (Bare translation) on a ``virt`` machine: it disables interrupts, makes a
supervisor software interrupt pending and enables them again, which must take the interrupt at once:
``sepc`` the instruction after the ``csrsi``, the register it wrote holding what sstatus read as.  It
also sets SUM through a register (not SIE alone: the helper's path) and reads sstatus back.  The
program runs cold (the native interpreter on the x86_64 backend, the IR interpreter on the python one)
and then compiled, with the same results each time; U-mode access is an illegal instruction.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import test_differential_unicorn as du
from difftest import assemble
from hartrun import TRAP, install_halt, open_pmp, run_until_halted
from test_native_interp import check_predecoded

from pyqemu.accel.tcg import backends
from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine
from pyqemu.target.riscv import csr as C
from pyqemu.target.riscv import native_interp
from pyqemu.target.riscv.hart import PRIV_S, PRIV_U

pytestmark = pytest.mark.skipif(du.TOOLS is None, reason="riscv64 binutils not installed")

CODE = TRAP + 0x100000
EXCP_ILLEGAL_INST, EXCP_BREAKPOINT = 2, 3
SIE_BIT, SUM_BIT = C.MSTATUS_SIE, C.MSTATUS_SUM

PROGRAM = [
    "csrci sstatus, 2",  # interrupts off
    "csrrci a0, sstatus, 2",  # a0: what sstatus reads as (SIE clear)
    "li t0, 0x40000",
    "csrrs a1, sstatus, t0",  # SUM through a register: the helper
    "csrr a2, sstatus",
    "li t0, 2",
    "csrs sip, t0",  # a supervisor software interrupt pending (mie.SSIE is set)
    "li a3, 1",
    "csrrsi a4, sstatus, 2",  # enables: the interrupt is taken before the next instruction
    "after:",
    "li a3, 2",
    "ebreak",
    ".balign 4",
    "handler:",
    "csrr a5, scause",
    "csrr a6, sepc",
    "csrr a7, sstatus",
    "csrci sip, 2",
    "ebreak",  # (not delegated: M-mode takes it and halts)
]


def _machine(backend: str, tmp: Path) -> tuple[VirtMachine, dict[str, int]]:
    lines = [".option norelax", ".text", ".globl _start", "_start:", *PROGRAM]
    image, symbols = assemble("\n".join(lines), tmp, du.TOOLS, ["-march=rv64imac", "-mabi=lp64"], CODE)
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend=backend))
    install_halt(machine)
    machine.space.write_bytes(CODE, image)
    return machine, symbols


def _run(machine: VirtMachine, start: int, stvec: int, priv: int = PRIV_S) -> dict[str, int]:
    hart = machine.cpus[0]
    open_pmp(hart)
    hart.priv = priv
    hart.mstatus = C.MSTATUS_FS  # FS Dirty: sstatus reads with SD set
    hart.update_flags()
    hart.mtvec, hart.stvec = TRAP, stvec
    hart.mideleg = C.MIP_SSIP
    hart.mie = C.MIP_SSIP
    hart.mip_sw = 0
    hart.update_mip()
    R = hart.R
    for i in range(1, 32):
        R[i] = 0
    hart.pc = start
    assert run_until_halted(machine, hart, 100_000)
    names = ("a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7")
    return {"mcause": hart.mcause, "mepc": hart.mepc, "mstatus": hart.mstatus,
            **{n: R[10 + i] for i, n in enumerate(names)}}


def _read_view(mstatus: int) -> int:
    """What sstatus reads as for this mstatus value."""
    return C._read_sstatus(type("H", (), {"mstatus": mstatus})())


@pytest.mark.parametrize("backend,hot", [("x86_64", native_interp.HOT), ("x86_64", 2), ("python", 0)])
def test_enabling_takes_the_pending_interrupt(tmp_path: Path, backend: str, hot: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """x86_64: the native interpreter runs it (default threshold), or compiled code does from the
    second run on (threshold 2); python: the IR interpreter, then compiled Python."""
    if backend not in backends.available():
        pytest.skip(f"the {backend} backend is not available here")
    monkeypatch.setattr(native_interp, "HOT", hot)
    machine, symbols = _machine(backend, tmp_path)
    machine.tbc.background = False  # compiled when hot, right away
    base = C.MSTATUS_FS
    want = {
        "mcause": EXCP_BREAKPOINT, "mepc": symbols["handler"] + 16,
        "a0": _read_view(base), "a1": _read_view(base), "a2": _read_view(base | SUM_BIT),
        "a3": 1, "a4": _read_view(base | SUM_BIT),
        "a5": (1 << 63) | 1, "a6": symbols["after"],
        # the trap saved SIE (set) in SPIE and cleared SIE
        "a7": _read_view(base | SUM_BIT | C.MSTATUS_SPIE | C.MSTATUS_SPP),
    }
    assert want["a0"] >> 63 and (want["a0"] >> 32) & 3 == 2  # SD and UXL are in the view
    for run in range(4):
        got = _run(machine, CODE, symbols["handler"])
        got["mstatus"] = 0  # (M-mode's trap changed it)
        assert got == {**want, "mstatus": 0}, f"run {run + 1}"
    fast = machine.tbc.fast
    if fast is None:
        return
    if hot == 2:
        assert machine.tbc.stats()["regions"] > 0
    else:
        check_predecoded(fast)
        sstatus_ops = {fast.ops["sstatus_set"][0], fast.ops["sstatus_clear"][0]}
        # every sstatus access of the program (reads are sets of no bits)
        assert sum((fast.table[i] >> 32) & 0xFF in sstatus_ops for i in range(0, len(fast.table), 2)) == 6


@pytest.mark.parametrize("backend", ["x86_64", "python"])
def test_user_mode_may_not_touch_sstatus(tmp_path: Path, backend: str) -> None:
    if backend not in backends.available():
        pytest.skip(f"the {backend} backend is not available here")
    machine, _ = _machine(backend, tmp_path)
    for _ in range(3):
        got = _run(machine, CODE, TRAP, priv=PRIV_U)
        assert (got["mcause"], got["mepc"]) == (EXCP_ILLEGAL_INST, CODE)
        assert not got["mstatus"] & SIE_BIT
