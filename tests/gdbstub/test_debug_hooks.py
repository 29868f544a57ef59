"""What the stubs build on, tested without a connection: the translator stopping before breakpoints,
single steps outside the translation cache, and watched pages reaching the debugger's check, in user
mode (Process, AddressSpace) and system mode (the virt board's hart and softmmu)."""

from __future__ import annotations

import struct

import pytest

from pyqemu.accel.tcg.backend_python import GuestFault
from pyqemu.accel.tcg.cpu_exec import cpu_exec, cpu_step
from pyqemu.accel.tcg.tb_system import EXIT_DEBUG, EXIT_LIMIT, EXIT_STEP, cpu_exec_system, cpu_step_system
from pyqemu.gdbstub.points import Watchpoints
from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine
from pyqemu.linux_user import riscv64
from pyqemu.linux_user.process import Options, Process
from pyqemu.target.riscv import translate
from pyqemu.target.riscv.cpu import EXCP_DEBUG, EXCP_U_ECALL

#: a0 += 1; a1 += 2; sw a0, 0(a2); lw a3, 0(a2); ecall (user) / j . (system)
CODE = [0x00150513, 0x00258593, 0x00A62023, 0x00062683]
ECALL, LOOP = 0x00000073, 0x0000006F


def _image(last: int) -> bytes:
    return struct.pack(f"<{len(CODE) + 1}I", *CODE, last)


class _Env:
    system = False
    priv = 0
    fs = 3

    def __init__(self, breakpoints: frozenset[int]):
        self.breakpoints = breakpoints
        self.proc = Process(riscv64, Options())

    def fetch16(self, pc: int) -> int:
        return struct.unpack_from("<H", _image(ECALL), pc - 0x1000)[0]

    def helpers(self):
        return self.proc.helpers


def test_translator_stops_before_breakpoints():
    env = _Env(frozenset({0x1008}))
    block = translate.gen_block(env, 0x1000)
    assert block.n_insns == 2 and block.ops[-1] == ("exit", 0x1008)
    assert translate.gen_block(env, 0x1008).ops == [("exit_exc", EXCP_DEBUG, 0x1008, 0)]
    env.breakpoints = frozenset()
    assert translate.gen_block(env, 0x1000).n_insns == 5


# -- user mode ---------------------------------------------------------------------------------------------

CODE_VA, DATA_VA = 0x10000, 0x20000


@pytest.fixture
def user():
    proc = Process(riscv64, Options())
    proc.space.map(CODE_VA, 0x1000, 5)
    proc.space.write(CODE_VA, _image(ECALL))
    proc.space.map(DATA_VA, 0x1000, 3)
    cpu = riscv64.CPU()
    cpu.pc = CODE_VA
    cpu.R[12] = DATA_VA
    return proc, cpu


def test_user_breakpoint_and_step(user):
    proc, cpu = user
    proc.breakpoints = frozenset({CODE_VA + 8})
    proc.tbc.flush()
    assert cpu_exec(cpu, proc.tbc) == (EXCP_DEBUG, CODE_VA + 8, 0)
    assert (cpu.x(10), cpu.x(11), proc.space.read(DATA_VA, 4)) == (1, 2, b"\0" * 4)
    assert cpu_step(cpu, proc.tbc) == (-1, CODE_VA + 12, 0)  # the breakpoint's instruction runs
    assert proc.space.read(DATA_VA, 4) == b"\1\0\0\0"
    assert cpu_exec(cpu, proc.tbc)[:2] == (EXCP_U_ECALL, CODE_VA + 16)
    assert cpu.x(13) == 1


def test_user_watched_page(user):
    proc, cpu = user
    seen = []
    watches = Watchpoints()
    watches.insert(2, DATA_VA, 4)

    def check(addr: int, size: int, store: bool) -> None:
        seen.append((addr, size, store))
        if watches.match(addr, size, store):
            raise GuestFault(EXCP_DEBUG, addr)

    page = DATA_VA >> 12
    proc.space.set_watch(watches.pages(), check)
    assert not proc.space.rp[page] and not proc.space.wp[page]
    assert cpu_exec(cpu, proc.tbc) == (EXCP_DEBUG, CODE_VA + 8, DATA_VA)
    assert proc.space.read(DATA_VA, 4) == b"\0" * 4  # stopped before the store
    watches.clear()
    assert cpu_exec(cpu, proc.tbc)[:2] == (EXCP_U_ECALL, CODE_VA + 16)
    assert seen == [(DATA_VA, 4, True), (DATA_VA, 4, True), (DATA_VA, 4, False)]
    assert cpu.x(13) == 1
    proc.space.set_watch(frozenset(), check)
    assert proc.space.rp[page] and proc.space.wp[page]


# -- system mode -------------------------------------------------------------------------------------------

RAM = 0x80000000
DATA = RAM + 0x1000


@pytest.fixture
def hart():
    machine = VirtMachine(VirtConfig(ram_size=16 << 20))
    machine.space.write_bytes(RAM, _image(LOOP))
    cpu = machine.cpus[0]
    cpu.pc = RAM
    cpu.R[12] = DATA
    cpu.kick[0] = False  # (set by the timer line at power-on)
    return machine, cpu


def test_system_breakpoint_and_step(hart):
    machine, cpu = hart
    cpu.breakpoints = frozenset({RAM + 8})
    machine.tbc.flush()
    assert cpu_exec_system(cpu, machine.tbc, cpu.icount + 100) == EXIT_DEBUG
    assert (cpu.pc, cpu.icount, cpu.x(10)) == (RAM + 8, 2, 1)
    assert cpu_step_system(cpu, machine.tbc) == EXIT_STEP
    assert (cpu.pc, cpu.icount, machine.space.read(DATA, 4)) == (RAM + 12, 3, 1)
    assert cpu_exec_system(cpu, machine.tbc, cpu.icount + 100) == EXIT_LIMIT
    assert cpu.x(13) == 1


def test_system_step_into_trap(hart):
    machine, cpu = hart
    machine.space.write_bytes(RAM, struct.pack("<I", ECALL))
    cpu.mtvec = RAM + 0x100
    assert cpu_step_system(cpu, machine.tbc) == EXIT_STEP
    assert (cpu.pc, cpu.mcause, cpu.icount) == (RAM + 0x100, 11, 0)  # at the handler, nothing run there


def test_system_watched_page(hart):
    machine, cpu = hart
    seen = []

    def check(vaddr: int, size: int, store: bool) -> None:
        seen.append((vaddr, size, store))
        if store and len(seen) == 1:
            raise GuestFault(EXCP_DEBUG, vaddr)

    cpu.mmu.set_watch(frozenset({DATA >> 12}), check)
    assert cpu_exec_system(cpu, machine.tbc, cpu.icount + 100) == EXIT_DEBUG
    assert cpu.pc == RAM + 8 and machine.space.read(DATA, 4) == 0
    assert cpu_step_system(cpu, machine.tbc) == EXIT_STEP
    assert machine.space.read(DATA, 4) == 1
    assert cpu_exec_system(cpu, machine.tbc, cpu.icount + 100) == EXIT_LIMIT
    assert seen == [(DATA, 4, True), (DATA, 4, True), (DATA, 4, False)]
    assert (DATA >> 12) not in cpu.mmu.TR and (DATA >> 12) not in cpu.mmu.TW
    cpu.mmu.set_watch(frozenset(), check)
    cpu.pc = RAM + 12
    cpu_exec_system(cpu, machine.tbc, cpu.icount + 10)
    assert (DATA >> 12) in cpu.mmu.TR
    assert len(seen) == 3
