"""Disassembly of A64 guest code for ``-d in_asm`` (capstone's AArch64 mode), in QEMU's log format."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _capstone() -> Any:
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs

    return Cs(CS_ARCH_ARM64, CS_MODE_ARM)


def disas_bytes(code: bytes, pc: int) -> str:
    """One line per 32-bit instruction of ``code`` (loaded at ``pc``): address, encoding, assembly.
    Words capstone doesn't know (unallocated encodings) are shown as ``.inst``."""
    md = _capstone()
    lines = []
    for offset in range(0, len(code) - 3, 4):
        word = code[offset:offset + 4]
        raw = int.from_bytes(word, "little")
        insn = next(md.disasm(word, pc + offset), None)
        text = f"{insn.mnemonic:<8} {insn.op_str}".rstrip() if insn else f".inst    0x{raw:08x}"
        lines.append(f"0x{pc + offset:016x}:  {raw:08x}      {text}")
    return "\n".join(lines) + "\n"
