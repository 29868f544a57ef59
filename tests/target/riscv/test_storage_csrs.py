"""sscratch, sepc, scause and stval: CSRs that only store what is written (Privileged spec 4.1.6-4.1.9),
kept in the state buffer and read and written by translated code and the native interpreter
themselves (``translate._storage_csr``, ``native_interp._Handlers.storage_csrs``).

An S-mode program writes, sets and clears bits of each through the register and immediate forms and
reads them back; it runs in the native interpreter (x86_64, default threshold), compiled (threshold 2:
from the second run on) and on the python backend, with the same results each time, and the hart's
attributes (what traps and the monitor use) see the values.  U mode may not touch them.
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
from pyqemu.target.riscv import native_interp
from pyqemu.target.riscv.hart import PRIV_S, PRIV_U

pytestmark = pytest.mark.skipif(du.TOOLS is None, reason="riscv64 binutils not installed")

CODE = TRAP + 0x100000
EXCP_ILLEGAL_INST, EXCP_BREAKPOINT = 2, 3
PROGRAM = ["li t0, 0x1235", "li t1, 1", "first:",
           "csrrw a0, sscratch, t0", "csrrsi a1, sscratch, 8", "csrrc a2, sscratch, t1", "csrr a3, sscratch",
           "csrw sepc, t0", "csrr a4, sepc", "csrwi scause, 5", "csrr a5, scause",
           "csrw stval, t0", "csrrci a6, stval, 1", "csrr a7, stval", "end:", "ebreak"]
WANT = {"a0": 0x77, "a1": 0x1235, "a2": 0x123D, "a3": 0x123C, "a4": 0x1234, "a5": 5, "a6": 0x1235,
        "a7": 0x1234, "sscratch": 0x123C, "sepc": 0x1234, "scause": 5, "stval": 0x1234}


def _run(machine: VirtMachine, priv: int) -> tuple[tuple[int, int], dict[str, int]]:
    hart = machine.cpus[0]
    open_pmp(hart)
    hart.priv = priv
    hart.mstatus = 0
    hart.update_flags()
    hart.mtvec = TRAP
    hart.sscratch, hart.sepc, hart.scause, hart.stval = 0x77, 0, 0, 0
    R = hart.R
    for i in range(1, 32):
        R[i] = 0
    hart.pc = CODE
    assert run_until_halted(machine, hart, 100_000)
    regs = {f"a{i}": R[10 + i] for i in range(8)}
    return (hart.mcause, hart.mepc), {**regs, **{n: getattr(hart, n) for n in ("sscratch", "sepc", "scause",
                                                                                 "stval")}}


def _machine(tmp: Path, backend: str) -> tuple[VirtMachine, dict[str, int]]:
    image, symbols = assemble("\n".join([".option norelax", ".text", ".globl _start", "_start:", *PROGRAM]),
                              tmp, du.TOOLS, ["-march=rv64imac", "-mabi=lp64"], CODE)
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend=backend))
    machine.tbc.background = False  # hot blocks are compiled at once
    install_halt(machine)
    machine.space.write_bytes(CODE, image)
    return machine, symbols


@pytest.mark.parametrize("backend,hot", [("x86_64", native_interp.HOT), ("x86_64", 2), ("python", 0)])
def test_storage_csrs(tmp_path: Path, backend: str, hot: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend not in backends.available():
        pytest.skip(f"the {backend} backend is not available here")
    monkeypatch.setattr(native_interp, "HOT", hot)
    machine, symbols = _machine(tmp_path, backend)
    for run in range(4):
        stopped, got = _run(machine, PRIV_S)
        assert stopped == (EXCP_BREAKPOINT, symbols["end"]), f"run {run + 1}"
        assert got == WANT, f"run {run + 1}"
    fast = machine.tbc.fast
    if fast is not None and hot != 2:  # all of them ran in the interpreter
        check_predecoded(fast)
        ops = {fast.ops[n][0] for n in ("csr_write", "csr_set", "csr_clear")}
        assert sum((fast.table[i] >> 32) & 0xFF in ops for i in range(0, len(fast.table), 2)) == 11


@pytest.mark.parametrize("backend", ["x86_64", "python"])
def test_user_mode_may_not_touch_them(tmp_path: Path, backend: str) -> None:
    if backend not in backends.available():
        pytest.skip(f"the {backend} backend is not available here")
    machine, symbols = _machine(tmp_path, backend)
    for _ in range(3):
        stopped, got = _run(machine, PRIV_U)
        assert stopped == (EXCP_ILLEGAL_INST, symbols["first"])
        assert got["sscratch"] == 0x77
