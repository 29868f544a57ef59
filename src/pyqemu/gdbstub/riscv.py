"""RV64 as GDB sees it (QEMU target/riscv/gdbstub.c with its gdb-xml/riscv-64bit-*.xml; GDB's
features/riscv/ and riscv-tdep.c).

Register numbers (the target description's ``regnum``, GDB's numbering for RISC-V):

=============  ===================================================================================
0-31           x0-x31, named by their ABI names (``zero``, ``ra``, ``sp``... ``fp`` for x8): the ``g``
               packet with pc
32             pc
33-64          f0-f31 (``ft0``...), raw 64-bit values (single precision NaN-boxed)
65 + csr       CSR number ``csr``: fflags, frm and fcsr (66-68, 32 bits, in the FPU feature); in system
               mode the machine and supervisor CSRs of :data:`~pyqemu.target.riscv.csr.CSR_NAMES`
4161           system mode: the privilege level (``priv``, GDB's "virtual" feature, 65 + 4096)
=============  ===================================================================================

Debugger access to CSRs skips the privilege checks of the CSR instructions (QEMU's riscv_csrrw_debug).
"""

from __future__ import annotations

import struct
from typing import Any

from ..accel.tcg.ir import MASK64
from ..target.riscv import csr as C
from ..target.riscv.cpu import ABI_NAMES, SLOT_FFLAGS, SLOT_FRM
from ..target.riscv.monitor import FP_ABI_NAMES, debug_translate
from .arch import XML_HEADER, GdbArch, xml_feature, xml_reg

REG_PC = 32
REG_F0 = 33
REG_CSR0 = 65
CSR_FFLAGS, CSR_FRM, CSR_FCSR = 1, 2, 3
REG_PRIV = REG_CSR0 + 4096
PRIV_M = 3
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
#: GDB's names and types for the integer registers that are not plain "int" (x8 is "fp")
_CPU_REGS = {1: ("ra", "code_ptr"), 2: ("sp", "data_ptr"), 3: ("gp", "data_ptr"), 4: ("tp", "data_ptr"),
             8: ("fp", "data_ptr")}


def _fpu_feature() -> str:
    body = ('    <union id="riscv_double">\n      <field name="float" type="ieee_single"/>\n'
            '      <field name="double" type="ieee_double"/>\n    </union>\n')
    body += "".join(xml_reg(name, 64, REG_F0 + i, "riscv_double") for i, name in enumerate(FP_ABI_NAMES))
    for csr, name in ((CSR_FFLAGS, "fflags"), (CSR_FRM, "frm"), (CSR_FCSR, "fcsr")):
        body += xml_reg(name, 32, REG_CSR0 + csr, group="float")
    return xml_feature("org.gnu.gdb.riscv.fpu", body)


class RiscV64(GdbArch):
    g_registers = tuple(range(REG_PC + 1))

    def target_xml(self) -> str:
        cpu = ""
        for i, abi_name in enumerate(ABI_NAMES):
            name, type_ = _CPU_REGS.get(i, (abi_name, "int"))
            cpu += xml_reg(name, 64, i, type_)
        cpu += xml_reg("pc", 64, REG_PC, "code_ptr")
        xml = (XML_HEADER + '<target version="1.0">\n  <architecture>riscv:rv64</architecture>\n'
               + xml_feature("org.gnu.gdb.riscv.cpu", cpu) + _fpu_feature())
        if self.system:
            csrs = "".join(xml_reg(name, 64, REG_CSR0 + csr) for csr, name in sorted(C.CSR_NAMES.items()))
            xml += xml_feature("org.gnu.gdb.riscv.csr", csrs)
            xml += xml_feature("org.gnu.gdb.riscv.virtual", xml_reg("priv", 64, REG_PRIV))
        return xml + "</target>\n"

    def pc(self, cpu: Any) -> int:
        return cpu.pc

    def set_pc(self, cpu: Any, pc: int) -> None:
        cpu.pc = pc

    def phys_addr(self, cpu: Any, vaddr: int) -> int | None:
        return debug_translate(cpu, vaddr)

    def read_register(self, cpu: Any, regno: int) -> bytes | None:
        if 0 <= regno < REG_PC:
            return _U64.pack(cpu.x(regno))
        if regno == REG_PC:
            return _U64.pack(cpu.pc)
        if REG_F0 <= regno < REG_F0 + 32:
            return _U64.pack(cpu.R[32 + regno - REG_F0])
        csr = regno - REG_CSR0
        R = cpu.R
        if csr == CSR_FFLAGS:
            return _U32.pack(R[SLOT_FFLAGS])
        if csr == CSR_FRM:
            return _U32.pack(R[SLOT_FRM])
        if csr == CSR_FCSR:
            return _U32.pack(R[SLOT_FRM] << 5 | R[SLOT_FFLAGS])
        if not self.system:
            return None
        if regno == REG_PRIV:
            return _U64.pack(cpu.priv)
        if csr in C.CSR_NAMES:
            return _U64.pack(C.CSRS[csr][0](cpu) & MASK64)
        return None

    def write_register(self, cpu: Any, regno: int, data: bytes) -> bool:
        csr = regno - REG_CSR0
        if csr in (CSR_FFLAGS, CSR_FRM, CSR_FCSR):
            if len(data) != 4:
                return False
            value = _U32.unpack(data)[0]
            if csr != CSR_FRM:
                cpu.R[SLOT_FFLAGS] = value & 0x1F
            if csr != CSR_FFLAGS:
                cpu.R[SLOT_FRM] = (value >> 5 if csr == CSR_FCSR else value) & 7
            return True
        if len(data) != 8:
            return False
        value = _U64.unpack(data)[0]
        if 0 <= regno < REG_PC:
            cpu.set_x(regno, value)
        elif regno == REG_PC:
            cpu.pc = value
        elif REG_F0 <= regno < REG_F0 + 32:
            cpu.R[32 + regno - REG_F0] = value
        elif not self.system:
            return False
        elif regno == REG_PRIV:
            if value not in (0, 1, PRIV_M):
                return False
            cpu.priv = value
            cpu.update_flags()
        else:
            write = C.CSRS[csr][1] if csr in C.CSR_NAMES else None
            if write is None:
                return False
            write(cpu, value)
        return True
