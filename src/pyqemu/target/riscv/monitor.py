"""What the human monitor needs to know about a RISC-V hart (the role of QEMU's target/riscv/monitor.c and
``riscv_cpu_dump_state``/``riscv_cpu_get_phys_page_debug`` in target/riscv/cpu.c and cpu_helper.c):

* :func:`dump_registers`: ``info registers`` in QEMU 7.2's layout for a hart without the hypervisor
  extension (pc, the machine and supervisor CSRs, then the integer and floating-point registers four to
  a line under their ABI names);
* :func:`register_value`: ``$name`` in monitor expressions (pc, x0-x31, f0-f31, ABI names and the
  CSRs the dump shows);
* :func:`debug_translate`: a virtual address to a physical one the way the hart would see a load right
  now (privilege, ``mstatus.MPRV``, ``satp``: Bare, Sv39 or Sv48), without touching guest state:
  no A/D updates, no TLB fill, no permission or PMP checks, no faults.  None when nothing is mapped;
* :func:`disas_bytes`: ``x/i`` (the capstone lines of :mod:`.disas`).
"""

from __future__ import annotations

from typing import Any

from . import csr as C
from . import disas
from .cpu import ABI_NAMES

ARCH = "riscv64"

PRIV_M = 3
SATP_LEVELS = {8: 3, 9: 4}  # satp.MODE -> page-table levels (Sv39, Sv48)
PTE_V, PTE_R, PTE_W, PTE_X = 1, 2, 4, 8
PHYS_BITS = 56
PPN_MASK = (1 << 44) - 1
MASK64 = (1 << 64) - 1

FP_ABI_NAMES = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
                "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()

#: the CSRs of the dump, in QEMU's order (no hypervisor extension: no V, hstatus, vs*, h*)
DUMP_CSRS = ("mhartid", "mstatus", "mip", "mie", "mideleg", "medeleg", "mtvec", "stvec", "mepc", "sepc",
             "mcause", "scause", "mtval", "stval", "mscratch", "sscratch", "satp")


def csr_value(hart: Any, name: str) -> int:
    """A CSR of the dump as software would read it (mstatus with its fixed UXL/SXL fields)."""
    if name == "mhartid":
        return hart.hartid
    if name == "mstatus":
        return hart.mstatus | C.MSTATUS_UXL | C.MSTATUS_SXL
    return int(getattr(hart, name)) & MASK64


def _fpr(hart: Any, i: int) -> int:
    return hart.R[32 + i]


def _cells(names: list[str], values: list[int]) -> list[str]:
    lines = []
    for row in range(0, len(names), 4):
        lines.append("".join(f" {names[i]:<8} {values[i]:016x}" for i in range(row, row + 4)))
    return lines


def dump_registers(hart: Any) -> str:
    """The register dump ``info registers`` prints after its ``CPU#N`` line."""
    lines = [f" {'pc':<8} {hart.pc:016x}"]
    lines += [f" {name:<8} {csr_value(hart, name):016x}" for name in DUMP_CSRS]
    lines += _cells([f"x{i}/{ABI_NAMES[i]}" for i in range(32)], [hart.x(i) for i in range(32)])
    lines += _cells([f"f{i}/{FP_ABI_NAMES[i]}" for i in range(32)], [_fpr(hart, i) for i in range(32)])
    return "\n".join(lines) + "\n"


def register_value(hart: Any, name: str) -> int | None:
    """The value of register ``name`` for ``$name`` in monitor expressions, or None if unknown."""
    if name == "pc":
        return hart.pc
    if name == "priv":
        return hart.priv
    if name == "fp":
        return hart.x(8)
    if name in ABI_NAMES:
        return hart.x(ABI_NAMES.index(name))
    if name in FP_ABI_NAMES:
        return _fpr(hart, FP_ABI_NAMES.index(name))
    if len(name) > 1 and name[0] in "xf" and name[1:].isdigit():
        i = int(name[1:])
        if i < 32 and str(i) == name[1:]:
            return hart.x(i) if name[0] == "x" else _fpr(hart, i)
        return None
    if name in DUMP_CSRS:
        return csr_value(hart, name)
    return None


def _effective_priv(hart: Any) -> int:
    priv = hart.priv
    if priv == PRIV_M and hart.mstatus & C.MSTATUS_MPRV:
        priv = (hart.mstatus >> C.MSTATUS_MPP_SHIFT) & 3
    return priv


def debug_translate(hart: Any, vaddr: int) -> int | None:
    """The physical address a data load from ``vaddr`` would use now, or None (see the module doc)."""
    vaddr &= MASK64
    mode = hart.satp >> 60
    if _effective_priv(hart) == PRIV_M or mode == 0:
        return vaddr if vaddr >> PHYS_BITS == 0 else None
    levels = SATP_LEVELS.get(mode)
    if levels is None:
        return None
    va_bits = 12 + 9 * levels
    top = vaddr >> (va_bits - 1)
    if top != 0 and top != (1 << (65 - va_bits)) - 1:
        return None
    space = hart.space
    base = (hart.satp & PPN_MASK) << 12
    for level in range(levels - 1, -1, -1):
        pte_addr = base + ((vaddr >> (12 + 9 * level)) & 0x1FF) * 8
        r = space.find(pte_addr)
        if r is None or not r.is_ram:
            return None
        pte = space.read(pte_addr, 8)
        if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W:
            return None
        ppn = (pte >> 10) & PPN_MASK
        if not pte & (PTE_R | PTE_X):
            base = ppn << 12
            continue
        if ppn & ((1 << (9 * level)) - 1):
            return None  # misaligned superpage
        offset_bits = 12 + 9 * level
        return (ppn << 12) | (vaddr & ((1 << offset_bits) - 1))
    return None


def disas_bytes(code: bytes, pc: int, hart: Any = None) -> str:
    """``x/i`` lines for ``code`` at ``pc`` (every hart decodes the same way)."""
    return disas.disas_bytes(code, pc)
