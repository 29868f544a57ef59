"""What GDB sees of a guest architecture (QEMU's CPUClass gdb_* hooks and its gdb-xml/ files).

Each target supplies a :class:`GdbArch`: the target description GDB reads with
``qXfer:features:read:target.xml`` (GDB manual, "Target Descriptions") and access to the registers it
names, numbered by their ``regnum`` attributes, the numbers of the ``p``/``P`` packets.  The ``g``
packet carries :attr:`GdbArch.g_registers`, in order; GDB fetches the others one by one.
"""

from __future__ import annotations

from typing import Any

XML_HEADER = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'


class GdbArch:
    """One guest architecture, in user mode (``system=False``) or in system mode."""

    #: the registers of the ``g`` / ``G`` packets, in order
    g_registers: tuple[int, ...] = ()

    def __init__(self, system: bool):
        self.system = system

    def target_xml(self) -> str:
        """The target description (one document, every feature inline)."""
        raise NotImplementedError

    def read_register(self, cpu: Any, regno: int) -> bytes | None:
        """Register ``regno`` of ``cpu`` in target byte order, or None when there is no such register."""
        raise NotImplementedError

    def write_register(self, cpu: Any, regno: int, data: bytes) -> bool:
        """Set register ``regno`` from ``data`` (its full size); False when there is no such register or
        it cannot be written."""
        raise NotImplementedError

    def pc(self, cpu: Any) -> int:
        raise NotImplementedError

    def set_pc(self, cpu: Any, pc: int) -> None:
        raise NotImplementedError

    def phys_addr(self, cpu: Any, vaddr: int) -> int | None:
        """System mode: the physical address a load from ``vaddr`` would use now (no side effects), or
        None when nothing is mapped there."""
        raise NotImplementedError


def arch_for(cpu_type: type, system: bool) -> GdbArch:
    """The GDB view of the vCPUs of class ``cpu_type``."""
    from ..target.arm.cpu import AArch64CPU
    from ..target.riscv.cpu import RISCVCPU

    if issubclass(cpu_type, RISCVCPU):
        from .riscv import RiscV64

        return RiscV64(system)
    if issubclass(cpu_type, AArch64CPU) and not system:
        from .aarch64 import AArch64

        return AArch64(system)
    raise ValueError(f"the gdbstub does not know {cpu_type.__name__}")


def xml_reg(name: str, bitsize: int, regnum: int, type_: str = "int", group: str | None = None) -> str:
    """One ``<reg>`` element of a feature."""
    extra = f' group="{group}"' if group else ""
    return f'    <reg name="{name}" bitsize="{bitsize}" type="{type_}" regnum="{regnum}"{extra}/>\n'


def xml_feature(name: str, body: str) -> str:
    return f'  <feature name="{name}">\n{body}  </feature>\n'
