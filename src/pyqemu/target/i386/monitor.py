"""What the monitors need from an x86 vCPU under KVM (QEMU target/i386/monitor.c and cpu-dump.c):
``info registers`` (QEMU's x86 register dump, with the Code= line), ``$reg`` values in monitor
expressions and guest-virtual to physical translation for ``x``/``memsave`` (KVM_TRANSLATE), plus
``x/i`` disassembly with capstone in the vCPU's current mode.

KVM keeps a running vCPU's registers to itself: every access here stops the vCPUs for its duration
(QEMU's cpu_synchronize_state), unless the VM is stopped already.
"""

from __future__ import annotations

from typing import Any

from pyqemu.accel.kvm.kvm import KvmError

ARCH = "x86_64"
#: ``$name`` -> kvm_regs field (the 32-bit names read the low half, as QEMU's monitor does for e*)
_REGS64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13",
           "r14", "r15", "rip", "rflags")
_REGS32 = {"e" + name[1:]: name for name in _REGS64[:8]} | {"eip": "rip", "eflags": "rflags"}
_SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss")
_CONTROL = ("cr0", "cr2", "cr3", "cr4", "efer")


def dump_registers(cpu: Any) -> str:
    return cpu.accel.run_paused(lambda: cpu.vcpu.dump_state())


def register_value(cpu: Any, name: str) -> int | None:
    def read() -> int | None:
        if name in _REGS64 or name in _REGS32 or name == "pc":
            regs = cpu.vcpu.get_regs()
            field = "rip" if name == "pc" else _REGS32.get(name, name)
            value = getattr(regs, field)
            return value & 0xFFFFFFFF if name in _REGS32 else value
        if name in _SEGMENTS or name in _CONTROL:
            sregs = cpu.vcpu.get_sregs()
            return getattr(sregs, name).base if name in _SEGMENTS else getattr(sregs, name)
        return None

    return cpu.accel.run_paused(read)


def debug_translate(cpu: Any, vaddr: int) -> int | None:
    def translate() -> int | None:
        try:
            return cpu.vcpu.translate(vaddr)
        except KvmError:
            return None

    return cpu.accel.run_paused(translate)


def disas_bytes(code: bytes, pc: int, cpu: Any = None) -> str:
    """QEMU's ``x/i`` lines for x86: address and assembly, in the vCPU's mode (16/32/64-bit)."""
    import capstone

    mode = capstone.CS_MODE_64
    if cpu is not None:
        sregs = cpu.accel.run_paused(lambda: cpu.vcpu.get_sregs())
        if not sregs.cs.l:
            mode = capstone.CS_MODE_32 if sregs.cs.db else capstone.CS_MODE_16
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    lines = [f"0x{insn.address:016x}:  {insn.mnemonic:<8} {insn.op_str}".rstrip()
             for insn in md.disasm(code, pc)]
    return "\n".join(lines) + "\n"
