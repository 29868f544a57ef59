"""Control and status registers of a system-mode hart (RISC-V Privileged spec, chapters 2, 3 and 4).

``CSRS`` maps a CSR number to (read, write) functions of the hart; a missing entry or a ``None``
writer makes the access an illegal instruction, as do the privilege and read-only checks encoded in
the CSR number (bits 9:8 the lowest privilege, bits 11:10 == 3 read-only).  The FP CSRs (fflags, frm,
fcsr) are not here: translated code accesses them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...accel.tcg.ir import MASK64

# mstatus fields
MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE = 1 << 1, 1 << 3, 1 << 5, 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11
MSTATUS_MPP = 3 << MSTATUS_MPP_SHIFT
MSTATUS_FS_SHIFT = 13
MSTATUS_FS = 3 << MSTATUS_FS_SHIFT
MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR = 1 << 17, 1 << 18, 1 << 19
MSTATUS_TVM, MSTATUS_TW, MSTATUS_TSR = 1 << 20, 1 << 21, 1 << 22
MSTATUS_UXL = 2 << 32
MSTATUS_SXL = 2 << 34
MSTATUS_SD = 1 << 63
FS_OFF, FS_INITIAL, FS_CLEAN, FS_DIRTY = 0, 1, 2, 3

MSTATUS_WRITABLE = (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP
                    | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW
                    | MSTATUS_TSR)
SSTATUS_MASK = (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR
                | (3 << 32) | MSTATUS_SD)

# interrupts (mip / mie bits)
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11
MIP_SSIP, MIP_MSIP = 1 << IRQ_S_SOFT, 1 << IRQ_M_SOFT
MIP_STIP, MIP_MTIP = 1 << IRQ_S_TIMER, 1 << IRQ_M_TIMER
MIP_SEIP, MIP_MEIP = 1 << IRQ_S_EXT, 1 << IRQ_M_EXT
S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP
ALL_INTERRUPTS = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP
#: taken in this order when several are pending (spec 3.1.9)
IRQ_PRIORITY = (IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER)

#: exceptions medeleg can delegate (no H extension: ecall from M and the guest faults stay in M)
MEDELEG_WRITABLE = 0xB3FF
MISA_RV64GC = (2 << 62) | sum(1 << (ord(c) - ord("A")) for c in "ACDFIMSU")
SATP_MODES = (0, 8, 9)  # Bare, Sv39, Sv48

CSR_MIP = 0x344

Reader = Callable[[Any], int]
Writer = Callable[[Any, int], None] | None


def _attr(name: str, mask: int = MASK64) -> tuple[Reader, Writer]:
    def read(h: Any) -> int:
        return getattr(h, name)

    def write(h: Any, v: int) -> None:
        setattr(h, name, v & mask)
    return read, write


def _const(value: int) -> tuple[Reader, Writer]:
    return (lambda h: value), None


def _zero_rw() -> tuple[Reader, Writer]:
    """Implemented but hardwired to zero (writes ignored)."""
    return (lambda h: 0), (lambda h, v: None)


# -- status ---------------------------------------------------------------------------------------------

def _read_mstatus(h: Any) -> int:
    s = h.mstatus | MSTATUS_UXL | MSTATUS_SXL
    if (s & MSTATUS_FS) == MSTATUS_FS:
        s |= MSTATUS_SD
    return s


def _write_mstatus(h: Any, v: int) -> None:
    mpp = (v >> MSTATUS_MPP_SHIFT) & 3
    if mpp == 2:  # reserved: keep the old value
        v = (v & ~MSTATUS_MPP) | (h.mstatus & MSTATUS_MPP)
    h.set_mstatus((h.mstatus & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE))


def _read_sstatus(h: Any) -> int:
    return _read_mstatus(h) & SSTATUS_MASK


def _write_sstatus(h: Any, v: int) -> None:
    mask = SSTATUS_MASK & MSTATUS_WRITABLE
    h.set_mstatus((h.mstatus & ~mask) | (v & mask))


# -- interrupts -----------------------------------------------------------------------------------------

def _write_mie(h: Any, v: int) -> None:
    h.mie = v & ALL_INTERRUPTS
    h.irq_changed()


def _read_mip(h: Any) -> int:
    return h.mip


def _write_mip(h: Any, v: int) -> None:
    # software may set or clear the supervisor bits; SEIP as written is OR-ed with the PLIC's line
    h.mip_sw = v & S_INTERRUPTS
    h.update_mip()


def _write_mideleg(h: Any, v: int) -> None:
    h.mideleg = v & S_INTERRUPTS
    h.irq_changed()


def _read_sie(h: Any) -> int:
    return h.mie & h.mideleg


def _write_sie(h: Any, v: int) -> None:
    h.mie = (h.mie & ~h.mideleg) | (v & h.mideleg)
    h.irq_changed()


def _read_sip(h: Any) -> int:
    return h.mip & h.mideleg


def _write_sip(h: Any, v: int) -> None:
    mask = MIP_SSIP & h.mideleg
    h.mip_sw = (h.mip_sw & ~mask) | (v & mask)
    h.update_mip()


# -- trap setup -----------------------------------------------------------------------------------------

def _write_tvec(name: str) -> Writer:
    def write(h: Any, v: int) -> None:
        if v & 3 >= 2:  # reserved modes: keep the old mode
            v = (v & ~3) | (getattr(h, name) & 3)
        setattr(h, name, v & MASK64)
    return write


def _write_epc(name: str) -> Writer:
    def write(h: Any, v: int) -> None:
        setattr(h, name, v & ~1 & MASK64)  # IALIGN=16 (C extension)
    return write


# -- Sstc ------------------------------------------------------------------------------------------------

MENVCFG_STCE = 1 << 63
MENVCFG_WRITABLE = 0xF1 | MENVCFG_STCE


def _check_stimecmp(h: Any) -> None:
    if h.priv < 3 and not (h.menvcfg & MENVCFG_STCE and h.mcounteren & 2):
        raise PermissionError


def _read_stimecmp(h: Any) -> int:
    _check_stimecmp(h)
    return h.stimecmp


def _write_stimecmp(h: Any, v: int) -> None:
    _check_stimecmp(h)
    h.stimecmp = v
    h.update_stimer()


def _write_menvcfg(h: Any, v: int) -> None:
    h.menvcfg = v & MENVCFG_WRITABLE
    h.update_stimer()


# -- address translation ----------------------------------------------------------------------------------

def _read_satp(h: Any) -> int:
    if h.priv == 1 and h.mstatus & MSTATUS_TVM:
        raise PermissionError
    return h.satp


def _write_satp(h: Any, v: int) -> None:
    if h.priv == 1 and h.mstatus & MSTATUS_TVM:
        raise PermissionError
    if v >> 60 not in SATP_MODES:
        return  # WARL: an unsupported mode leaves satp unchanged
    h.satp = v & MASK64
    h.tlb_flush()


# -- counters -------------------------------------------------------------------------------------------

def _counter(bit: int, source: Callable[[Any], int]) -> tuple[Reader, Writer]:
    """cycle/time/instret: readable below M only where mcounteren (and scounteren in U) allow."""
    def read(h: Any) -> int:
        if h.priv < 3 and not (h.mcounteren >> bit) & 1:
            raise PermissionError
        if h.priv == 0 and not (h.scounteren >> bit) & 1:
            raise PermissionError
        return source(h) & MASK64
    return read, None


def _minstret() -> tuple[Reader, Writer]:
    def read(h: Any) -> int:
        return (h.icount + h.instret_offset) & MASK64

    def write(h: Any, v: int) -> None:
        h.instret_offset = v - h.icount
    return read, write


def _pmpcfg(reg: int) -> tuple[Reader, Writer]:
    def write(h: Any, v: int) -> None:
        h.pmp.write_cfg(reg, v)
        h.tlb_flush()
    return (lambda h: h.pmp.read_cfg(reg)), write


def _pmpaddr(i: int) -> tuple[Reader, Writer]:
    def write(h: Any, v: int) -> None:
        h.pmp.write_addr(i, v)
        h.tlb_flush()
    return (lambda h: h.pmp.read_addr(i)), write


def _build() -> dict[int, tuple[Reader, Writer]]:
    t: dict[int, tuple[Reader, Writer]] = {
        # unprivileged counters
        0xC00: _counter(0, lambda h: h.icount + h.instret_offset),  # cycle: one per instruction
        0xC01: _counter(1, lambda h: h.read_time()),
        0xC02: _counter(2, lambda h: h.icount + h.instret_offset),
        # supervisor
        0x100: (_read_sstatus, _write_sstatus),
        0x104: (_read_sie, _write_sie),
        0x105: (_attr("stvec")[0], _write_tvec("stvec")),
        0x106: _attr("scounteren", 0x7),
        0x10A: _attr("senvcfg", 0xF1),
        0x140: _attr("sscratch"),
        0x141: (_attr("sepc")[0], _write_epc("sepc")),
        0x142: _attr("scause"),
        0x143: _attr("stval"),
        0x144: (_read_sip, _write_sip),
        0x14D: (_read_stimecmp, _write_stimecmp),
        0x180: (_read_satp, _write_satp),
        # machine
        0x300: (_read_mstatus, _write_mstatus),
        0x301: (lambda h: MISA_RV64GC, lambda h, v: None),
        0x302: _attr("medeleg", MEDELEG_WRITABLE),
        0x303: (_attr("mideleg")[0], _write_mideleg),
        0x304: (_attr("mie")[0], _write_mie),
        0x305: (_attr("mtvec")[0], _write_tvec("mtvec")),
        0x306: _attr("mcounteren", 0x7),
        0x30A: (_attr("menvcfg")[0], _write_menvcfg),
        0x320: _attr("mcountinhibit", 0x5),
        0x340: _attr("mscratch"),
        0x341: (_attr("mepc")[0], _write_epc("mepc")),
        0x342: _attr("mcause"),
        0x343: _attr("mtval"),
        CSR_MIP: (_read_mip, _write_mip),
        0xB00: _minstret(),
        0xB02: _minstret(),
        0xF11: _const(0), 0xF12: _const(0), 0xF13: _const(0),  # vendor, architecture, implementation
        0xF14: ((lambda h: h.hartid), None),
        0xF15: _const(0),  # mconfigptr
    }
    for i in range(3, 32):
        t[0xB00 + i] = _zero_rw()  # mhpmcounterN
        t[0x320 + i] = _zero_rw()  # mhpmeventN
    for reg in range(0, 4, 2):
        t[0x3A0 + reg] = _pmpcfg(reg)
    for i in range(16):
        t[0x3B0 + i] = _pmpaddr(i)
    for i in range(16, 64):
        t[0x3B0 + i] = _zero_rw()  # pmpaddr16..63: not implemented, read as zero
    for reg in range(4, 16, 2):
        t[0x3A0 + reg] = _zero_rw()
    return t


CSRS = _build()

#: names of the CSRs above that hold state (a debugger's register names; the zero-wired performance
#: counters and PMP entries are left out, and so are the unprivileged counter views)
CSR_NAMES: dict[int, str] = {
    0x100: "sstatus", 0x104: "sie", 0x105: "stvec", 0x106: "scounteren", 0x10A: "senvcfg",
    0x140: "sscratch", 0x141: "sepc", 0x142: "scause", 0x143: "stval", 0x144: "sip", 0x14D: "stimecmp",
    0x180: "satp",
    0x300: "mstatus", 0x301: "misa", 0x302: "medeleg", 0x303: "mideleg", 0x304: "mie", 0x305: "mtvec",
    0x306: "mcounteren", 0x30A: "menvcfg", 0x320: "mcountinhibit", 0x340: "mscratch", 0x341: "mepc",
    0x342: "mcause", 0x343: "mtval", CSR_MIP: "mip", 0x3A0: "pmpcfg0", 0x3A2: "pmpcfg2",
    **{0x3B0 + i: f"pmpaddr{i}" for i in range(16)},
    0xB00: "mcycle", 0xB02: "minstret",
    0xF11: "mvendorid", 0xF12: "marchid", 0xF13: "mimpid", 0xF14: "mhartid", 0xF15: "mconfigptr",
}


def csr_access(h: Any, csr: int, value: int, op: int) -> int:
    """Run one CSR instruction: op 0 write, 1 set bits, 2 clear bits, 3 read only.
    Returns the old value; raises PermissionError when the access is illegal."""
    entry = CSRS.get(csr)
    if entry is None or h.priv < (csr >> 8) & 3:
        raise PermissionError
    read, write = entry
    writes = op != 3
    if writes and (write is None or csr >> 10 == 3):
        raise PermissionError
    old = read(h)
    if writes:
        base = old
        if csr == CSR_MIP:  # only the software-written SEIP takes part in a read-modify-write (3.1.9)
            base = (old & ~MIP_SEIP) | (h.mip_sw & MIP_SEIP)
        new = value if op == 0 else (base | value) if op == 1 else (base & ~value)
        write(h, new & MASK64)
    return old
