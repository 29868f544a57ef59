"""Running A64 code on pyqemu without linux-user's AArch64 side (a later step): a linux-user ``Process``
(its address space, translation cache, python backend and IR interpreter, helpers under its atomic
lock) driven through a minimal architecture shim, and ``cpu_exec`` until the code leaves translated
code with an exception (a final ``brk #0``, an SVC, an UNDEFINED instruction, a fault).

Also: assembling A64 text with binutils (``aarch64-linux-gnu-as``/``ld``) into an image at ``CODE``
(through the targets' shared :mod:`difftest`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import difftest
import pytest

from pyqemu.accel.tcg.backend_python import GuestFault
from pyqemu.accel.tcg.cpu_exec import GuestFetchFault, cpu_exec
from pyqemu.linux_user.memory import PROT_EXEC, PROT_READ, PROT_WRITE
from pyqemu.linux_user.process import Options, Process
from pyqemu.target.arm import cpu as acpu
from pyqemu.target.arm import translate_a64
from pyqemu.target.arm.disas import disas_bytes
from pyqemu.target.arm.op_helper import make_helpers

TOOLS = difftest.binutils("aarch64-linux-gnu-")
needs_binutils = pytest.mark.skipif(TOOLS is None, reason="aarch64 binutils not installed")

CODE = 0x100000
DATA = 0x200000
DATA_SIZE = 0x1000


class _Env:
    """The translator's view of a process (fetch, helpers, features, breakpoints)."""

    __slots__ = ("space", "_helpers", "features", "breakpoints")

    def __init__(self, proc: Process, features: frozenset[str]):
        self.space = proc.space
        self._helpers = proc.helpers
        self.features = features
        self.breakpoints = proc.breakpoints

    def fetch32(self, pc: int) -> int:
        return self.space.fetch16(pc) | self.space.fetch16(pc + 2) << 16

    def helpers(self) -> dict:
        return self._helpers


class A64Shim:
    """What :class:`Process` needs from an architecture module, for A64."""

    GLOBAL_SLOTS = acpu.GLOBAL_SLOTS
    SLOT_ICOUNT = acpu.SLOT_ICOUNT
    ELF_MACHINE = "EM_AARCH64"

    def __init__(self, features: frozenset[str] = acpu.DEFAULT_FEATURES):
        self.features = features

    def gen_block(self, proc: Process, pc: int, single_step: bool = False) -> Any:
        try:
            return translate_a64.gen_block(_Env(proc, self.features), pc, 1 if single_step else
                                           translate_a64.MAX_INSNS)
        except GuestFault as f:
            raise GuestFetchFault(f.code, f.tval) from None

    @staticmethod
    def disas(space: Any, pc: int, size: int) -> str:
        return disas_bytes(space.read(pc, size), pc)

    @staticmethod
    def make_helpers(space: Any, lock: Any) -> dict:
        return make_helpers(space, lock)


class Machine:
    """A process with code at CODE (read/execute) and a scratch page at DATA (read/write)."""

    def __init__(self, image: bytes, features: frozenset[str] = acpu.DEFAULT_FEATURES,
                 hot_threshold: int | None = None):
        self.proc = Process(A64Shim(features), Options())
        if hot_threshold is not None:
            self.proc.tbc.hot_threshold = hot_threshold
        self.space = self.proc.space
        self.space.map(CODE, max(len(image), 1), PROT_READ | PROT_EXEC)
        self.space.write(CODE, image)
        self.space.map(DATA, DATA_SIZE, PROT_READ | PROT_WRITE)

    def run(self, cpu: acpu.AArch64CPU, pc: int) -> tuple[int, int, int]:
        """Run from ``pc`` until an exception: (code, pc, tval)."""
        cpu.pc = pc
        return cpu_exec(cpu, self.proc.tbc)


def assemble(source: str, tmp: Path, arch: str = "armv8.1-a") -> tuple[bytes, dict[str, int]]:
    """Assemble and link ``source`` at CODE: (the .text bytes, symbol addresses)."""
    return difftest.assemble(f".arch {arch}\n.text\n.globl _start\n_start:\n{source}", tmp, TOOLS, (), CODE)
