"""The x86_64 backend's code cache filling up: the TB cache flushes every translation and carries on
(QEMU's tb_flush when code_gen_buffer is full), and `-accel tcg,tb-size=N` sets the cache size.

A chain of blocks too big for a small cache runs several times over through the TB cache (blocks
compiled as soon as they run, so the cache fills); the guest state must come out as if nothing had
happened, with flushes counted by the backend.
"""

from __future__ import annotations

import pytest
from test_ir_semantics import EXIT_PC, ICOUNT, SLOTS, FakeCPU, make_space

from pyqemu.accel.tcg.backend_python import BUDGET
from pyqemu.accel.tcg.backends.x86_64 import host_supported
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend
from pyqemu.accel.tcg.cpu_exec import TBCache
from pyqemu.accel.tcg.interp import Interpreter
from pyqemu.accel.tcg.ir import Block
from pyqemu.accel.tcg.log import Log
from pyqemu.accel.tcg.user_memory import UserMemory

pytestmark = pytest.mark.skipif(host_supported() is not None, reason=str(host_supported()))

BLOCKS = 1500
FIRST = 0x100000


def chain_block(pc: int) -> Block:
    """Block ``k`` adds 1 to r0 and mixes r1..r8 (bulk: a few hundred bytes of host code), then goes
    on to block k+1 (the last one leaves for EXIT_PC)."""
    k = (pc - FIRST) // 0x100
    ops: list[tuple] = [("insn_start", pc), ("add", "r0", "r0", 1)]
    for i in range(1, 9):
        ops += [("xor", f"r{i}", f"r{i}", k + i), ("add", f"r{i}", f"r{i}", f"r{i % 8 + 1}")]
    ops.append(("exit", pc + 0x100 if k + 1 < BLOCKS else EXIT_PC))
    return Block(pc, ops=ops, size=4, n_insns=1, guest_insns=[(pc, 0)])


def test_full_code_cache_is_flushed_and_execution_goes_on() -> None:
    memory = UserMemory(make_space(), None)
    tbc = TBCache(lambda pc, single_step=False: chain_block(pc), None, Log())  # type: ignore[arg-type]
    tbc.backend = NativeBackend(SLOTS, memory, icount_slot=ICOUNT, budget=BUDGET, cache_size=256 << 10)
    tbc.interp = Interpreter(SLOTS, memory, ICOUNT)
    tbc.hot_threshold = 1
    cpu = FakeCPU()
    for _ in range(3):
        pc = FIRST
        while pc != EXIT_PC:
            fn = tbc.entry.get(pc) or tbc.lookup(pc)
            pc = fn(cpu, cpu.R, pc)
            assert pc >= 0, cpu.exception
    reference = FakeCPU()
    for _ in range(3):
        for k in range(BLOCKS):
            reference.R[SLOTS["r0"]] += 1
            for i in range(1, 9):
                r = reference.R
                r[SLOTS[f"r{i}"]] ^= k + i
                r[SLOTS[f"r{i}"]] = (r[SLOTS[f"r{i}"]] + r[SLOTS[f"r{i % 8 + 1}"]]) & (2**64 - 1)
    assert [cpu.R[SLOTS[f"r{i}"]] for i in range(9)] == [reference.R[SLOTS[f"r{i}"]] for i in range(9)]
    assert cpu.R[ICOUNT] == 3 * BLOCKS
    assert tbc.backend.flushes >= 3
