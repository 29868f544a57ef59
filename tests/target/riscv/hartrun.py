"""What the system-mode hart tests share: a trap vector that stops the hart, PMP opened to S and U
mode (as OpenSBI leaves it), and running a hart until it stops there."""

from __future__ import annotations

import struct
from typing import Any

from pyqemu.accel.tcg.tb_system import EXIT_HALTED, cpu_exec_system
from pyqemu.target.riscv import csr as C
from pyqemu.target.riscv.hart import PRIV_M

#: at the start of RAM: wfi; j .  (an M-mode trap vector where the hart halts, with mcause and mepc
#: telling what stopped it)
TRAP = 0x80000000
HALT = struct.pack("<II", 0x10500073, 0x0000006F)
PMPCFG0, PMPADDR0, PMP_NAPOT_RWX = 0x3A0, 0x3B0, 0x1F


def install_halt(machine: Any) -> None:
    machine.space.write_bytes(TRAP, HALT)


def open_pmp(hart: Any) -> None:
    """One PMP entry over all of memory: S and U mode may access everything."""
    priv = hart.priv
    hart.priv = PRIV_M
    C.csr_access(hart, PMPADDR0, (1 << 54) - 1, 0)
    C.csr_access(hart, PMPCFG0, PMP_NAPOT_RWX, 0)
    hart.priv = priv


def run_until_halted(machine: Any, hart: Any, most: int) -> bool:
    """Run ``hart`` from its pc until it halts (True) or has run ``most`` instructions more."""
    hart.halted = False
    limit = hart.icount + most
    while cpu_exec_system(hart, machine.tbc, limit) != EXIT_HALTED:
        if hart.icount >= limit:
            return False
    return True
