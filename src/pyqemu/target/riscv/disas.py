"""Disassembly of guest code for ``-d in_asm`` (capstone), in QEMU's log format."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _capstone() -> Any:
    from capstone import CS_ARCH_RISCV, CS_MODE_RISCV64, CS_MODE_RISCVC, Cs

    return Cs(CS_ARCH_RISCV, CS_MODE_RISCV64 | CS_MODE_RISCVC)


def disas_bytes(code: bytes, pc: int) -> str:
    """One line per instruction of ``code`` (loaded at ``pc``): address, raw encoding, assembly."""
    md = _capstone()
    lines = []
    done = 0
    for insn in md.disasm(code, pc):
        raw = int.from_bytes(insn.bytes, "little")
        width = 8 if insn.size == 4 else 4
        lines.append(f"0x{insn.address:016x}:  {raw:0{width}x}{' ' * (10 - width)}  "
                     f"{insn.mnemonic:<8} {insn.op_str}")
        done += insn.size
    if done < len(code):
        lines.append(f"0x{pc + done:016x}:  (undecodable by capstone)")
    return "\n".join(lines) + "\n"
