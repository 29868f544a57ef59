"""A fault in generated x86_64 code ends pyqemu with a report naming the guest code (not a bare crash).

The generated code of a compiled block is overwritten with an instruction that faults (a load from
address 0, an undefined instruction); running it must print QEMU-style ``fatal:`` lines with the guest
pc of the instruction, the block's IR and its host code, and exit with status 134.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pyqemu.accel.tcg.backends.x86_64.backend import host_supported

pytestmark = pytest.mark.skipif(host_supported() is not None, reason=str(host_supported()))

PROGRAM = textwrap.dedent("""
    import faulthandler, sys
    faulthandler.enable()  # a handler displaced by ours must not report first
    sys.path.insert(0, {testdir!r})
    from test_ir_semantics import SLOTS, ICOUNT, FakeCPU, make_space, UserMemory
    from pyqemu.accel.tcg.ir import Block
    from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend

    space = make_space()
    nb = NativeBackend(SLOTS, UserMemory(space, None), icount_slot=ICOUNT, budget=1000, cache_size=1 << 20)
    block = Block(0x4000, ops=[("insn_start", 0x4000), ("add", "r0", "a", 1),
                               ("insn_start", 0x4004), ("xor", "r1", "r0", "b"), ("exit", 0x5000)],
                  size=8, n_insns=2, guest_insns=[(0x4000, 0), (0x4004, 0)])
    fn = nb.compile_region([block]).fn
    addr = nb.entries[0x4000]
    _, compiled = nb.blocks[addr]
    second = dict((pc, off) for off, pc in compiled.insns)[0x4004]
    nb.code.write(addr + second, bytes.fromhex({code!r}))
    cpu = FakeCPU({{"a": 1}})
    fn(cpu, cpu.R, 0x4000)
    print("not reached")
""")


@pytest.mark.parametrize("code,signame", [("48a10000000000000000", "SIGSEGV"), ("0f0b", "SIGILL")])
def test_fault_in_generated_code_reports_guest_pc_and_ir(code: str, signame: str) -> None:
    testdir = str(__import__("pathlib").Path(__file__).parent)
    r = subprocess.run([sys.executable, "-c", PROGRAM.format(testdir=testdir, code=code)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 134, r.stderr
    assert "not reached" not in r.stdout
    err = r.stderr
    assert f"pyqemu: fatal: {signame} in generated x86_64 code" in err
    assert "guest pc 0x4004, in the block at guest pc 0x4000" in err
    assert " xor r1,r0,b" in err and " add r0,a,$0x1" in err  # the IR
    assert ";; guest 0x4004" in err  # the host code listing
    assert "Fatal Python error" not in err
