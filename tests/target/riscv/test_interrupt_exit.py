"""An interrupt raised while translated code runs is taken at once, not when the region's instruction
budget runs out (QEMU's cpu_exit; here ``RISCVHart.request_exit``, which the x86_64 backend answers by
taking the budget of the code running).

An M-mode program on a ``virt`` machine enables machine software interrupts, raises its own through
the CLINT's ``msip`` register (an MMIO store, so the interrupt line changes in the middle of a block)
and then counts in a loop; the trap handler stops the count.  The count must be a few iterations,
whether the program runs in the native interpreter (first run) or as compiled code (later runs),
although a region may run 65536 instructions before it returns.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import test_differential_unicorn as du
from difftest import assemble
from hartrun import run_until_halted

from pyqemu.accel.tcg import backends
from pyqemu.hw.riscv.virt import NATIVE_REGION_BUDGET, VirtConfig, VirtMachine
from pyqemu.target.riscv import csr as C
from pyqemu.target.riscv import native_interp
from pyqemu.target.riscv.hart import PRIV_M

pytestmark = pytest.mark.skipif(du.TOOLS is None, reason="riscv64 binutils not installed")

CODE = 0x80100000
CLINT_MSIP = 0x2000000
PROGRAM = [
    "li t0, 0x2000000",
    "li t1, 1",
    "sw t1, 0(t0)",  # msip = 1: machine software interrupt pending (and enabled)
    "1:",
    "addi a0, a0, 1",
    "j 1b",
    ".balign 4",
    "handler:",
    "sw zero, 0(t0)",  # msip = 0
    "wfi",  # nothing pending: the hart halts
]


@pytest.mark.parametrize("backend", ["x86_64", "python"])
def test_interrupt_raised_mid_block_is_taken_at_once(tmp_path: Path, backend: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if backend not in backends.available():
        pytest.skip(f"the {backend} backend is not available here")
    monkeypatch.setattr(native_interp, "HOT", 2)
    image, symbols = assemble("\n".join([".option norelax", ".text", ".globl _start", "_start:", *PROGRAM]),
                              tmp_path, du.TOOLS, ["-march=rv64imac", "-mabi=lp64"], CODE)
    machine = VirtMachine(VirtConfig(ram_size=16 << 20, tcg_backend=backend))
    machine.tbc.background = False  # hot blocks compiled at once
    machine.space.write_bytes(CODE, image)
    hart = machine.cpus[0]
    counts = []
    for _ in range(4):
        hart.priv = PRIV_M
        hart.mstatus = C.MSTATUS_MIE
        hart.update_flags()
        hart.mtvec = symbols["handler"]
        hart.mie = C.MIP_MSIP
        hart.irq_changed()
        hart.R[10] = 0
        hart.pc = CODE
        assert run_until_halted(machine, hart, 4 * NATIVE_REGION_BUDGET) and hart.mcause == (1 << 63) | 3
        counts.append(hart.R[10])
    assert max(counts) < 64, counts
    assert struct.unpack("<I", machine.space.read_bytes(CLINT_MSIP, 4))[0] == 0
