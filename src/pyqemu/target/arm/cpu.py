"""AArch64 CPU state at EL0 (Arm ARM DDI 0487, B1.2 "Registers in AArch64 Execution state" and D1
"The AArch64 System Level Programmers' Model" for PSTATE): one flat buffer of 64-bit slots with a fixed
layout (see DESIGN.md).

=========  =====================================================================================
slot       contents
=========  =====================================================================================
0..30      X0..X30
31         SP (SP_EL0)
32         PC
33..36     NZCV, kept apart for cheap updates (QEMU's representation): N is bit 63 of ``nf``,
           Z is set when ``zf`` is 0, C is ``cf`` (0 or 1), V is bit 63 of ``vf``
37         TPIDR_EL0
38, 39     FPCR, FPSR (only their writable bits)
40         guest instructions executed (icount)
41..43     the local exclusive monitor: address (``EXCL_NONE`` when open), loaded value(s) (a pair's
           second doubleword in 43)
44         scratch: the second old doubleword a CASP helper returns
64..127    V0..V31: the low doubleword of Vn in slot 64 + 2n, the high one in 65 + 2n
=========  =====================================================================================

:class:`AArch64CPU` is the engine's :class:`~pyqemu.accel.tcg.vcpu.VCPU` with this layout.  Exceptions
leave translated code as (code, pc, tval) with the ``EXCP_*`` codes below.  Memory faults
come from the memory model with its own codes (:mod:`pyqemu.linux_user.memory`), which these avoid.

The ID registers EL0 reads through the Linux kernel's MRS emulation (Documentation/arch/arm64/
cpu-feature-registers.rst) describe QEMU's ``max`` CPU as far as this emulator implements it.
"""

from __future__ import annotations

from ...accel.tcg.vcpu import VCPU
from .insn_a64 import sysreg_key

NSLOTS = 128
SLOT_SP = 31
SLOT_PC = 32
SLOT_NF, SLOT_ZF, SLOT_CF, SLOT_VF = 33, 34, 35, 36
SLOT_TPIDR = 37
SLOT_FPCR = 38
SLOT_FPSR = 39
SLOT_ICOUNT = 40
SLOT_EXCL_ADDR, SLOT_EXCL_VAL, SLOT_EXCL_VAL2 = 41, 42, 43
SLOT_CASP_HI = 44
SLOT_V = 64
EXCL_NONE = (1 << 64) - 1

#: IR globals -> state slots (an IR name starting with "t" is a temp: TPIDR_EL0 is ``el0_tpidr``)
GLOBAL_SLOTS: dict[str, int] = {f"x{i}": i for i in range(31)}
GLOBAL_SLOTS.update({"sp": SLOT_SP, "nf": SLOT_NF, "zf": SLOT_ZF, "cf": SLOT_CF, "vf": SLOT_VF,
                     "el0_tpidr": SLOT_TPIDR, "fpcr": SLOT_FPCR, "fpsr": SLOT_FPSR,
                     "excl_addr": SLOT_EXCL_ADDR, "excl_val": SLOT_EXCL_VAL, "excl_val2": SLOT_EXCL_VAL2,
                     "casp_hi": SLOT_CASP_HI})
GLOBAL_SLOTS.update({f"v{i}l": SLOT_V + 2 * i for i in range(32)})
GLOBAL_SLOTS.update({f"v{i}h": SLOT_V + 2 * i + 1 for i in range(32)})

# exits of translated code (not architectural numbers; chosen apart from the memory model's fault codes)
EXCP_UDEF = 0x200  # UNDEFINED / unallocated encoding (tval: the instruction word); SIGILL
EXCP_SWI = 0x201  # SVC (pc: the next instruction, the return address; tval: the immediate)
EXCP_BKPT = 0x202  # BRK (pc: the BRK; tval: the immediate); SIGTRAP
EXCP_UNALIGNED = 0x203  # alignment fault of an ordered, exclusive or atomic access, or a misaligned pc
EXCP_DEBUG = 0x204  # a debugger's breakpoint (QEMU's EXCP_DEBUG)

#: FPCR bits that hold their value: AHP, DN, FZ, RMode, Stride, Len (no FP16, no trapped exceptions)
FPCR_MASK = 0x07F70000
#: FPSR bits: N, Z, C, V (AArch32 compare flags), QC, IDC, IXC, UFC, OFC, DZC, IOC
FPSR_MASK = 0xF800009F

#: CTR_EL0: 64-byte cache lines (IminLine = DminLine = 4), PIPT instruction cache, CWG = ERG = 4
CTR_EL0 = 0x8444C004
#: DCZID_EL0: DC ZVA allowed, blocks of 2**4 words
DCZID_BS = 4
DCZID_EL0 = DCZID_BS
ZVA_BYTES = 4 << DCZID_BS
#: CNTFRQ_EL0: the generic timer's 62.5 MHz (QEMU's)
CNTFRQ_HZ = 62_500_000

#: MIDR_EL1 of QEMU's ``max`` CPU (implementer 0, architecture 0xf, part number 'Q')
MIDR_EL1 = 0x000F0510

#: LSE atomics (FEAT_LSE): CAS, CASP, SWP and the LD<op> family
FEATURE_LSE = "lse"
DEFAULT_FEATURES = frozenset({FEATURE_LSE})


def id_registers(features: frozenset[str]) -> dict[int, int]:
    """The values EL0 reads from the ID register space (op0 3, op1 0, CRn 0, CRm 0 and 2..7) through
    the kernel's emulation, by ``sysreg_key``; registers of that space not listed read as zero.  Of CRm 0
    only MIDR_EL1, MPIDR_EL1 and REVIDR_EL1 exist (others are UNDEFINED)."""
    isar0 = 2 << 4 | 1 << 8 | 1 << 12  # AES (with PMULL), SHA1, SHA2
    isar0 |= 2 << 20 if FEATURE_LSE in features else 0  # ATOMIC
    return {
        sysreg_key(3, 0, 0, 0, 0): MIDR_EL1,
        sysreg_key(3, 0, 0, 0, 5): 1 << 31,  # MPIDR_EL1: the kernel's safe value
        sysreg_key(3, 0, 0, 0, 6): 0,  # REVIDR_EL1
        sysreg_key(3, 0, 0, 4, 0): 0x11,  # ID_AA64PFR0_EL1: EL0 and EL1 AArch64 only, FP, AdvSIMD
        sysreg_key(3, 0, 0, 5, 0): 0x6,  # ID_AA64DFR0_EL1: DebugVer's safe value (Armv8 debug)
        sysreg_key(3, 0, 0, 6, 0): isar0,  # ID_AA64ISAR0_EL1
    }


def is_emulated_id_register(key: int) -> bool:
    """Whether an MRS of ``key`` at EL0 is emulated by the kernel (its ``is_emulated``)."""
    op0, op1, crn, crm = key >> 14, key >> 11 & 7, key >> 7 & 15, key >> 3 & 15
    return op0 == 3 and op1 == 0 and crn == 0 and (crm == 0 or 2 <= crm <= 7)


class AArch64CPU(VCPU):
    """One vCPU at EL0."""

    NSLOTS = NSLOTS
    SLOT_PC = SLOT_PC
    SLOT_ICOUNT = SLOT_ICOUNT
    CLONE_RESET = {SLOT_EXCL_ADDR: EXCL_NONE}
    debug_code = EXCP_DEBUG

    def __init__(self) -> None:
        super().__init__()
        self.R[SLOT_ZF] = 1  # NZCV = 0: Z clear

    def x(self, i: int) -> int:
        """Xi (i = 31 reads as zero, as XZR)."""
        return self.R[i] if i < 31 else 0

    def set_x(self, i: int, value: int) -> None:
        if i < 31:
            self.R[i] = value & ((1 << 64) - 1)

    @property
    def sp(self) -> int:
        return self.R[SLOT_SP]

    @sp.setter
    def sp(self, value: int) -> None:
        self.R[SLOT_SP] = value & ((1 << 64) - 1)

    @property
    def nzcv(self) -> int:
        """PSTATE.{N,Z,C,V} in bits 31:28, as ``mrs x, nzcv`` reads them."""
        R = self.R
        return ((R[SLOT_NF] >> 63) << 31 | (R[SLOT_ZF] == 0) << 30 | (R[SLOT_CF] & 1) << 29
                | (R[SLOT_VF] >> 63) << 28)

    @nzcv.setter
    def nzcv(self, value: int) -> None:
        R = self.R
        R[SLOT_NF] = (value >> 31 & 1) << 63
        R[SLOT_ZF] = 0 if value >> 30 & 1 else 1
        R[SLOT_CF] = value >> 29 & 1
        R[SLOT_VF] = (value >> 28 & 1) << 63

    def v(self, i: int) -> int:
        """Vi as a 128-bit integer."""
        return self.R[SLOT_V + 2 * i] | self.R[SLOT_V + 2 * i + 1] << 64

    def set_v(self, i: int, value: int) -> None:
        self.R[SLOT_V + 2 * i] = value & ((1 << 64) - 1)
        self.R[SLOT_V + 2 * i + 1] = value >> 64 & ((1 << 64) - 1)

    def dump(self) -> str:
        """Register dump in the style of QEMU's ``-d cpu`` for AArch64."""
        out = [f" PC={self.pc:016x} "]
        for i in range(31):
            out.append(f"X{i:02d}={self.x(i):016x}" + (" " if (i + 2) % 3 else "\n"))
        out.append(f" SP={self.sp:016x}\n")
        flags = self.nzcv
        nzcv = "".join(c if flags >> (31 - k) & 1 else "-" for k, c in enumerate("NZCV"))
        out.append(f"PSTATE={flags:08x} {nzcv} EL0t")
        return "".join(out)
