"""AArch64 as GDB sees it (QEMU target/arm/gdbstub64.c with gdb-xml/aarch64-core.xml and
aarch64-fpu.xml; GDB's features/aarch64-core.xml, aarch64-fpu.xml and aarch64-tdep.c).  User mode only:
pyqemu has no AArch64 board.

Register numbers (the target description's ``regnum``, GDB's numbering for AArch64):

=============  ===================================================================================
0-30           x0-x30
31             sp
32             pc
33             cpsr (32 bits: NZCV in 31:28, EL0t)
34-65          v0-v31 (128 bits)
66, 67         fpsr, fpcr (32 bits)
=============  ===================================================================================
"""

from __future__ import annotations

import struct
from typing import Any

from ..target.arm import cpu as acpu
from .arch import XML_HEADER, GdbArch, xml_feature, xml_reg

REG_SP, REG_PC, REG_CPSR = 31, 32, 33
REG_V0 = 34
REG_FPSR, REG_FPCR = 66, 67
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")

#: the vector views GDB offers of a V register (GDB's aarch64v union, reduced to the common views)
_VECTOR_TYPES = (
    '    <vector id="v2d" type="ieee_double" count="2"/>\n'
    '    <vector id="v2u" type="uint64" count="2"/>\n'
    '    <vector id="v4f" type="ieee_single" count="4"/>\n'
    '    <vector id="v4u" type="uint32" count="4"/>\n'
    '    <vector id="v8u" type="uint16" count="8"/>\n'
    '    <vector id="v16u" type="uint8" count="16"/>\n'
    '    <union id="aarch64v">\n'
    '      <field name="d" type="v2d"/>\n      <field name="ud" type="v2u"/>\n'
    '      <field name="s" type="v4f"/>\n      <field name="us" type="v4u"/>\n'
    '      <field name="h" type="v8u"/>\n      <field name="b" type="v16u"/>\n'
    '      <field name="q" type="uint128"/>\n'
    '    </union>\n'
)


class AArch64(GdbArch):
    g_registers = tuple(range(REG_CPSR + 1))

    def target_xml(self) -> str:
        core = "".join(xml_reg(f"x{i}", 64, i) for i in range(31))
        core += xml_reg("sp", 64, REG_SP, "data_ptr") + xml_reg("pc", 64, REG_PC, "code_ptr")
        core += xml_reg("cpsr", 32, REG_CPSR)
        fpu = _VECTOR_TYPES + "".join(xml_reg(f"v{i}", 128, REG_V0 + i, "aarch64v", "vector")
                                      for i in range(32))
        fpu += xml_reg("fpsr", 32, REG_FPSR, group="float") + xml_reg("fpcr", 32, REG_FPCR, group="float")
        return (XML_HEADER + '<target version="1.0">\n  <architecture>aarch64</architecture>\n'
                + xml_feature("org.gnu.gdb.aarch64.core", core)
                + xml_feature("org.gnu.gdb.aarch64.fpu", fpu) + "</target>\n")

    def pc(self, cpu: Any) -> int:
        return cpu.pc

    def set_pc(self, cpu: Any, pc: int) -> None:
        cpu.pc = pc

    def read_register(self, cpu: Any, regno: int) -> bytes | None:
        R = cpu.R
        if 0 <= regno < REG_SP:
            return _U64.pack(R[regno])
        if regno == REG_SP:
            return _U64.pack(R[acpu.SLOT_SP])
        if regno == REG_PC:
            return _U64.pack(cpu.pc)
        if regno == REG_CPSR:
            return _U32.pack(cpu.nzcv)
        if REG_V0 <= regno < REG_V0 + 32:
            return cpu.v(regno - REG_V0).to_bytes(16, "little")
        if regno == REG_FPSR:
            return _U32.pack(R[acpu.SLOT_FPSR])
        if regno == REG_FPCR:
            return _U32.pack(R[acpu.SLOT_FPCR])
        return None

    def write_register(self, cpu: Any, regno: int, data: bytes) -> bool:
        R = cpu.R
        if REG_V0 <= regno < REG_V0 + 32 and len(data) == 16:
            cpu.set_v(regno - REG_V0, int.from_bytes(data, "little"))
        elif regno in (REG_CPSR, REG_FPSR, REG_FPCR) and len(data) == 4:
            value = _U32.unpack(data)[0]
            if regno == REG_CPSR:
                cpu.nzcv = value & 0xF0000000
            elif regno == REG_FPSR:
                R[acpu.SLOT_FPSR] = value & acpu.FPSR_MASK
            else:
                R[acpu.SLOT_FPCR] = value & acpu.FPCR_MASK
        elif 0 <= regno <= REG_PC and len(data) == 8:
            value = _U64.unpack(data)[0]
            if regno == REG_PC:
                cpu.pc = value
            else:
                R[acpu.SLOT_SP if regno == REG_SP else regno] = value
        else:
            return False
        return True
