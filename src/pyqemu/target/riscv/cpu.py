"""RISC-V hart state: one flat buffer of 64-bit slots with a fixed layout (see DESIGN.md).

=========  =====================================================================
slot       contents
=========  =====================================================================
0..31      x0..x31 (x0 always 0)
32..63     f0..f31 as raw IEEE bits (single precision values NaN-boxed)
64         pc
65         fflags (accrued exception flags, 5 bits)
66         frm (dynamic rounding mode, 3 bits)
67         guest instructions executed (icount)
68, 69     LR/SC reservation: address, loaded value (RES_NONE when none)
70         set by a CSR write that must end the block (see ``translate._csr``)
71         mstatus (system mode; translated code and the native interpreter set and clear
           its SIE bit themselves, see ``translate._csr``)
72         the privilege level (system mode)
73         mip & mie (system mode): whether enabling interrupts may let one in
74..77     sscratch, sepc, scause, stval (system mode; plain storage CSRs, which translated code
           and the native interpreter read and write themselves)
79         where the native interpreter writes x0 (``native_interp.SINK``)
=========  =====================================================================
"""

from __future__ import annotations

NSLOTS = 80
SLOT_PC = 64
SLOT_FFLAGS = 65
SLOT_FRM = 66
SLOT_ICOUNT = 67
SLOT_RES_ADDR = 68
SLOT_RES_VAL = 69
SLOT_CSR_LEAVE = 70
SLOT_MSTATUS = 71
SLOT_PRIV = 72
SLOT_IRQ_PENDING = 73
SLOT_SSCRATCH, SLOT_SEPC, SLOT_SCAUSE, SLOT_STVAL = 74, 75, 76, 77
RES_NONE = (1 << 64) - 1

#: IR globals -> state slots
GLOBAL_SLOTS: dict[str, int] = {f"x{i}": i for i in range(1, 32)}
GLOBAL_SLOTS.update({f"f{i}": 32 + i for i in range(32)})
GLOBAL_SLOTS.update({"fflags": SLOT_FFLAGS, "frm": SLOT_FRM, "csr_leave": SLOT_CSR_LEAVE,
                     "mstatus": SLOT_MSTATUS, "irq_pending": SLOT_IRQ_PENDING,
                     "res_addr": SLOT_RES_ADDR, "res_val": SLOT_RES_VAL, "sscratch": SLOT_SSCRATCH,
                     "sepc": SLOT_SEPC, "scause": SLOT_SCAUSE, "stval": SLOT_STVAL})

# exception causes (RISC-V Privileged spec, mcause) and engine-internal exits
EXCP_INST_ADDR_MIS = 0
EXCP_INST_ACCESS_FAULT = 1
EXCP_ILLEGAL_INST = 2
EXCP_BREAKPOINT = 3
EXCP_LOAD_ADDR_MIS = 4
EXCP_LOAD_ACCESS_FAULT = 5
EXCP_STORE_ADDR_MIS = 6
EXCP_STORE_ACCESS_FAULT = 7
EXCP_U_ECALL = 8
EXCP_INST_PAGE_FAULT = 12
EXCP_LOAD_PAGE_FAULT = 13
EXCP_STORE_PAGE_FAULT = 15
EXCP_FENCE_I = 0x100  # not architectural: leave the region so translations can be flushed
EXCP_WFI = 0x101  # not architectural: the hart waits for an interrupt (tval: the pc to resume at)
EXCP_YIELD = 0x102  # not architectural: a spin-wait hint, the hart yields its time slice (tval: pc)
EXCP_DEBUG = 0x103  # not architectural: a debugger's breakpoint or watchpoint was hit (QEMU's EXCP_DEBUG)

ABI_NAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 "
             "t3 t4 t5 t6").split()


class RISCVCPU:
    """One hart: its state buffer and the engine's per-vCPU bookkeeping."""

    debug_code = EXCP_DEBUG  # how translated code reports a debugger's breakpoint or watchpoint

    def __init__(self) -> None:
        self.state = bytearray(NSLOTS * 8)
        self.R = memoryview(self.state).cast("Q")
        self.R[SLOT_RES_ADDR] = RES_NONE
        self.exception: tuple[int, int, int] | None = None

    @property
    def pc(self) -> int:
        return self.R[SLOT_PC]

    @pc.setter
    def pc(self, value: int) -> None:
        self.R[SLOT_PC] = value

    def x(self, i: int) -> int:
        return self.R[i] if i else 0

    def set_x(self, i: int, value: int) -> None:
        if i:
            self.R[i] = value & ((1 << 64) - 1)

    @property
    def icount(self) -> int:
        return self.R[SLOT_ICOUNT]

    def copy_from(self, other: RISCVCPU) -> None:
        """Clone register state (for new threads)."""
        self.state[:] = other.state
        self.R[SLOT_RES_ADDR] = RES_NONE
        self.R[SLOT_ICOUNT] = 0

    def dump(self) -> str:
        """Register dump in the style of QEMU's ``-d cpu``."""
        lines = [f" pc       {self.pc:016x}"]
        for row in range(0, 32, 4):
            cells = (f" {f'x{i}/{ABI_NAMES[i]}':<8} {self.x(i):016x}" for i in range(row, row + 4))
            lines.append("".join(cells))
        return "\n".join(lines)
