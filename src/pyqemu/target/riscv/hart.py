"""A system-mode RISC-V hart (QEMU target/riscv/cpu.c, cpu_helper.c, op_helper.c).

Adds to the user-mode register file the privilege level, the machine and supervisor CSRs, traps and
interrupts with delegation, xRET/WFI/SFENCE.VMA, the softmmu TLB (filled by :mod:`.mmu`) and the
*TB flags*: the translation-time state (privilege, FS, data MMU index) that translated code depends on.
"""

from __future__ import annotations

import contextlib
import functools
import struct
from collections.abc import Callable
from typing import Any

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.ir import MASK64, Block, Helper
from ...accel.tcg.softmmu import ACCESS_FETCH, ACCESS_STORE, CodePages, SoftMMU
from ...core.clock import Timer
from ...exec.memory import AddressSpace
from . import csr as C
from . import mmu, translate
from .cpu import (
    EXCP_ILLEGAL_INST,
    EXCP_WFI,
    EXCP_YIELD,
    RES_NONE,
    RISCVCPU,
    SLOT_CSR_LEAVE,
    SLOT_ICOUNT,
    SLOT_IRQ_PENDING,
    SLOT_MSTATUS,
    SLOT_PRIV,
    SLOT_RES_ADDR,
    SLOT_SCAUSE,
    SLOT_SEPC,
    SLOT_SSCRATCH,
    SLOT_STVAL,
)
from .disas import disas_bytes
from .op_helper import make_helpers
from .pmp import PMP

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3
#: the TB flag bits translation bakes into code: the privilege level (bits 0-1) and mstatus.FS (2-3);
#: above them the data MMU index, which native code looks up at each access
FLAGS_TRANSLATED = 0xF
_U16 = struct.Struct("<H").unpack_from
PRIV_NAMES = {0: "U", 1: "S", 3: "M"}


class _InState:
    """A hart attribute kept in its state buffer, where translated code reads and writes it too."""

    def __init__(self, slot: int):
        self.slot = slot

    def __get__(self, hart: Any, owner: Any = None) -> Any:
        return self if hart is None else hart.R[self.slot]

    def __set__(self, hart: Any, value: int) -> None:
        hart.R[self.slot] = value


class RISCVHart(RISCVCPU):
    icount_slot = SLOT_ICOUNT
    mstatus = _InState(SLOT_MSTATUS)
    priv = _InState(SLOT_PRIV)
    sscratch, sepc = _InState(SLOT_SSCRATCH), _InState(SLOT_SEPC)
    scause, stval = _InState(SLOT_SCAUSE), _InState(SLOT_STVAL)
    wfi_code = EXCP_WFI
    yield_code = EXCP_YIELD

    def __init__(self, hartid: int, space: AddressSpace, code: CodePages, read_time: Any):
        super().__init__()
        self.hartid = hartid
        self.space = space
        self.read_time = read_time  # () -> the platform timer (mtime)
        self.pmp = PMP()
        self.mmu = SoftMMU(space, functools.partial(mmu.fill, self), code, mmu.ACCESS_FAULT)
        self.jmp_caches: dict[int, dict[int, Any]] = {}
        self.jmp: dict[int, Any] = {}
        #: told the TB flags whenever ``jmp`` switches to their cache, and None when the caches are
        #: flushed (a native backend keeps its own jump caches in step)
        self.jmp_hooks: list[Callable[[int | None], None]] = []
        self.jmp_flushes = 0  # how often the jump caches were flushed (mappings or code changed)
        #: the TB flags translated code depends on (a CSR write that changes them leaves it): all of
        #: them, unless the backend reads the data MMU index's TLB at each access (then the privilege
        #: level and FS, which translation bakes in); the others are left out of ``tb_flags``
        self.leave_flags = -1
        #: shared by the machine's harts: set when one raises another's interrupt line, so that the
        #: running hart ends its time slice early (see cpu_exec_system)
        self.kick = [False]
        #: makes translated code running now leave soon (set by a backend that can: see irq_changed)
        self.request_exit: Callable[[], None] = lambda: None
        self.tb_flags = 0
        self.mem = _HartMemory(self.mmu)  # what the atomics use
        #: a debugger's breakpoints (translated code stops before them; changing them flushes the
        #: translations) and single-stepping (the machine runs this hart one instruction at a time)
        self.breakpoints: frozenset[int] = frozenset()
        self.singlestep = False
        self.helpers = SYSTEM_HELPERS
        self.reset()

    # -- state ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        for i in range(len(self.R)):
            self.R[i] = 0
        self.R[SLOT_RES_ADDR] = RES_NONE
        self.priv = PRIV_M
        self.mstatus = 0
        self.medeleg = self.mideleg = 0
        self.mie = 0
        self.mip_sw = 0  # bits written by software (SSIP, STIP, SEIP)
        self.mip_hw = 0  # lines driven by devices (MSIP, MTIP, MEIP, SEIP)
        self.mip = 0
        self.mtvec = self.stvec = 0
        self.mepc = self.sepc = 0
        self.mcause = self.scause = 0
        self.mtval = self.stval = 0
        self.mscratch = self.sscratch = 0
        self.satp = 0
        self.mcounteren = self.scounteren = 0
        self.menvcfg = self.senvcfg = 0
        self.mcountinhibit = 0
        self.stimecmp = (1 << 64) - 1
        self.instret_offset = 0
        self.halted = False
        self.irq_req = False
        self.exception = None
        self.pmp = PMP()
        self.update_stimer()
        self.tlb_flush()

    @property
    def icount(self) -> int:
        return self.R[SLOT_ICOUNT]

    def set_mstatus(self, value: int) -> None:
        old = self.mstatus
        self.mstatus = value
        if (old ^ value) & (C.MSTATUS_MPRV | C.MSTATUS_MPP | C.MSTATUS_SUM | C.MSTATUS_MXR | C.MSTATUS_FS):
            self.update_flags()
        if (old ^ value) & (C.MSTATUS_MIE | C.MSTATUS_SIE):
            self.irq_changed()

    def update_flags(self) -> None:
        """Recompute the TB flags and the data MMU index after a privilege or mstatus change."""
        ms = self.mstatus
        eff = self.priv
        if eff == PRIV_M and ms & C.MSTATUS_MPRV:
            eff = (ms >> C.MSTATUS_MPP_SHIFT) & 3
        idx = eff | (mmu.MMU_SUM if ms & C.MSTATUS_SUM else 0) | (mmu.MMU_MXR if ms & C.MSTATUS_MXR else 0)
        fs = (ms >> C.MSTATUS_FS_SHIFT) & 3
        # (translations are made for, and found under, only the flags they depend on)
        flags = (self.priv | (fs << 2) | (idx << 4)) & self.leave_flags
        self.mmu.set_mmu_idx(idx, self.priv)  # (fetches translate with the privilege level)
        if flags == self.tb_flags and self.jmp is self.jmp_caches.get(flags):
            return  # (mstatus.SUM toggled, say: the jump caches stay)
        self.tb_flags = flags
        self.jmp = self.jmp_caches.setdefault(flags, {})
        for hook in self.jmp_hooks:
            hook(flags)

    def tlb_flush(self) -> None:
        self.mmu.flush()
        self.flush_jmp_cache()
        self.update_flags()

    def flush_jmp_cache(self) -> None:
        self.jmp_flushes += 1
        self.mmu.fetched.clear()
        for cache in self.jmp_caches.values():
            cache.clear()
        for hook in self.jmp_hooks:
            hook(None)

    # -- interrupts -----------------------------------------------------------------------------------
    def set_irq_line(self, bit: int, level: int) -> None:
        """A device drives mip bit ``bit`` (MSIP, MTIP, MEIP or SEIP)."""
        if level:
            self.kick[0] = True  # e.g. an IPI: let the vCPU that sent it yield so this one can answer
            self.mip_hw |= 1 << bit
        else:
            self.mip_hw &= ~(1 << bit)
        self.update_mip()

    def update_mip(self) -> None:
        sw = self.mip_sw
        if self.menvcfg & C.MENVCFG_STCE:
            sw &= ~C.MIP_STIP  # Sstc: STIP is the stimecmp comparator's output
        self.mip = self.mip_hw | sw
        self.irq_changed()

    def attach_timer(self, clock: Any, deadline_ns: Any) -> None:
        """Sstc: ``deadline_ns(value)`` is the virtual time at which ``time`` reaches ``value``
        (0: already; None: never), from the platform timer."""
        self.stimer = Timer(clock, self.update_stimer)
        self.stimer_deadline = deadline_ns

    def update_stimer(self) -> None:
        """Drive STIP from time >= stimecmp while menvcfg.STCE is set."""
        timer = getattr(self, "stimer", None)
        if timer is None:
            return
        timer.delete()
        level = 0
        if self.menvcfg & C.MENVCFG_STCE:
            expire = self.stimer_deadline(self.stimecmp)
            if expire == 0:
                level = 1
            elif expire is not None:
                timer.mod(expire)
        if level:
            self.mip_hw |= C.MIP_STIP
        else:
            self.mip_hw &= ~C.MIP_STIP
        self.update_mip()

    def irq_changed(self) -> None:
        self.irq_req = True
        pending = self.R[SLOT_IRQ_PENDING] = self.mip & self.mie
        if pending:
            self.halted = False
            self.request_exit()  # for the exec loop to see whether it can be taken

    def pending_interrupt(self) -> int:
        """The interrupt to take now (its number), or -1."""
        pending = self.mip & self.mie
        if not pending:
            return -1
        m_enabled = self.priv < PRIV_M or self.mstatus & C.MSTATUS_MIE
        s_enabled = self.priv < PRIV_S or (self.priv == PRIV_S and self.mstatus & C.MSTATUS_SIE)
        m_pending = pending & ~self.mideleg if m_enabled else 0
        s_pending = pending & self.mideleg if s_enabled else 0
        avail = m_pending | s_pending
        if not avail:
            return -1
        for irq in C.IRQ_PRIORITY:
            if avail >> irq & 1:
                return irq
        return -1

    # -- traps ----------------------------------------------------------------------------------------
    def do_trap(self, cause: int, pc: int, tval: int, interrupt: bool = False) -> None:
        """Enter the trap handler for an exception or interrupt raised at ``pc``."""
        deleg = self.mideleg if interrupt else self.medeleg
        code = cause | (1 << 63) if interrupt else cause
        ms = self.mstatus
        if self.priv <= PRIV_S and (deleg >> cause) & 1:
            self.scause, self.sepc, self.stval = code, pc, tval
            ms = (ms & ~(C.MSTATUS_SPIE | C.MSTATUS_SPP | C.MSTATUS_SIE)) \
                | (C.MSTATUS_SPIE if ms & C.MSTATUS_SIE else 0) | (C.MSTATUS_SPP if self.priv else 0)
            vec = self.stvec
            self.priv = PRIV_S
        else:
            self.mcause, self.mepc, self.mtval = code, pc, tval
            ms = (ms & ~(C.MSTATUS_MPIE | C.MSTATUS_MPP | C.MSTATUS_MIE)) \
                | (C.MSTATUS_MPIE if ms & C.MSTATUS_MIE else 0) | (self.priv << C.MSTATUS_MPP_SHIFT)
            vec = self.mtvec
            self.priv = PRIV_M
        self.mstatus = ms
        base = vec & ~3
        self.pc = base + 4 * cause if interrupt and vec & 1 else base
        self.update_flags()
        self.irq_req = True

    def xret(self, from_m: bool) -> int:
        """MRET / SRET: return to the previous privilege; returns the new pc."""
        ms = self.mstatus
        if from_m:
            prev = (ms >> C.MSTATUS_MPP_SHIFT) & 3
            ms = (ms & ~(C.MSTATUS_MIE | C.MSTATUS_MPP)) | C.MSTATUS_MPIE \
                | (C.MSTATUS_MIE if ms & C.MSTATUS_MPIE else 0)
            pc = self.mepc
        else:
            prev = PRIV_S if ms & C.MSTATUS_SPP else PRIV_U
            ms = (ms & ~(C.MSTATUS_SIE | C.MSTATUS_SPP)) | C.MSTATUS_SPIE \
                | (C.MSTATUS_SIE if ms & C.MSTATUS_SPIE else 0)
            pc = self.sepc
        if prev != PRIV_M:
            ms &= ~C.MSTATUS_MPRV
        self.mstatus = ms
        self.priv = prev
        self.update_flags()
        self.irq_req = True
        return pc

    # -- translation environment ----------------------------------------------------------------------
    def fetch_paddr(self, pc: int) -> int:
        return self.mmu.translate(pc, ACCESS_FETCH, self.priv)

    def dump(self) -> str:
        lines = [super().dump(), f" priv     {PRIV_NAMES[self.priv]}"]
        for name in ("mstatus", "mip", "mie", "mideleg", "medeleg", "mtvec", "stvec", "mepc", "sepc",
                     "mcause", "scause", "mtval", "stval", "satp", "mscratch", "sscratch"):
            lines.append(f" {name:<8} {getattr(self, name):016x}")
        return "\n".join(lines)


class _HartMemory:
    """The atomics' view of memory: the hart's softmmu slow paths."""

    __slots__ = ("mmu",)

    def __init__(self, mmu_: SoftMMU):
        self.mmu = mmu_

    def ld(self, addr: int, memop: int) -> int:
        return self.mmu.ld(addr, memop)

    def ld_rmw(self, addr: int, memop: int) -> int:
        """An AMO's read: faults (page, PMP, access) are reported as store/AMO faults, and a debugger
        watching the address sees a write."""
        size = 1 << (memop & 3)
        mmu_ = self.mmu
        paddr = mmu_.translate(addr & MASK64, ACCESS_STORE, mmu_.idx, size)
        if mmu_.watch_pages:
            mmu_.check_watch(addr & MASK64, size, True)
        return mmu_.space.read(paddr, size)

    def st(self, addr: int, value: int, memop: int) -> bool:
        return self.mmu.st(addr, value, memop)


def _make_system_helpers() -> dict[str, Helper]:
    """Helpers for translated code in system mode (atomics, CSRs, privileged instructions).  They are
    shared by all harts, as translated code is: each call acts on the hart passed to it."""
    # harts take turns on one thread: atomics need no lock and no yield
    h = make_helpers(None, contextlib.nullcontext(), space_of=lambda cpu: cpu.mem, threaded=False)

    def csr(cpu: Any, csrno: int, value: int, op: int, insn: int) -> int:
        flags, flushes = cpu.tb_flags, cpu.jmp_flushes
        try:
            old = C.csr_access(cpu, csrno, value, op)
        except PermissionError:
            raise GuestFault(EXCP_ILLEGAL_INST, insn) from None
        # translated code goes on unless TB flags it depends on or mappings changed or an interrupt is
        # to be taken
        cpu.R[SLOT_CSR_LEAVE] = int(bool((cpu.tb_flags ^ flags) & cpu.leave_flags)
                                    or cpu.jmp_flushes != flushes
                                    or (cpu.irq_req and cpu.pending_interrupt() >= 0))
        return old

    def mret(cpu: Any, insn: int) -> int:
        if cpu.priv < PRIV_M:
            raise GuestFault(EXCP_ILLEGAL_INST, insn)
        return cpu.xret(True)

    def sret(cpu: Any, insn: int) -> int:
        if cpu.priv < PRIV_S or (cpu.priv == PRIV_S and cpu.mstatus & C.MSTATUS_TSR):
            raise GuestFault(EXCP_ILLEGAL_INST, insn)
        return cpu.xret(False)

    def wfi(cpu: Any, insn: int) -> None:
        if cpu.priv < PRIV_M and cpu.mstatus & C.MSTATUS_TW or cpu.priv == PRIV_U:
            raise GuestFault(EXCP_ILLEGAL_INST, insn)

    def sfence_vma(cpu: Any, vaddr: int, asid: int, rs1: int, insn: int) -> None:
        if cpu.priv == PRIV_U or (cpu.priv == PRIV_S and cpu.mstatus & C.MSTATUS_TVM):
            raise GuestFault(EXCP_ILLEGAL_INST, insn)
        if rs1:
            if cpu.mmu.flush_page(vaddr):  # pcs of that page may be in the jump caches
                cpu.flush_jmp_cache()
        else:
            cpu.tlb_flush()

    def mark_fs_dirty(cpu: Any) -> None:
        cpu.set_mstatus(cpu.mstatus | C.MSTATUS_FS)

    # (globals: translated code sets and clears mstatus.SIE, and reads and writes the storage CSRs)
    status = ("mstatus",)
    csrs = ("mstatus", "sscratch", "sepc", "scause", "stval")
    h.update({
        "csr": Helper("csr", csr, reads=csrs, writes=("csr_leave", "irq_pending", *csrs)),
        "mret": Helper("mret", mret, reads=status, writes=status),
        "sret": Helper("sret", sret, reads=(*status, "sepc"), writes=status),
        "wfi": Helper("wfi", wfi, reads=status),
        "sfence_vma": Helper("sfence_vma", sfence_vma, reads=status),
        "mark_fs_dirty": Helper("mark_fs_dirty", mark_fs_dirty, reads=status, writes=status),
    })
    return h

SYSTEM_HELPERS = _make_system_helpers()


class _SystemTranslateEnv:
    """What the translator sees of a hart: its privilege, FS state, the debugger's breakpoints and
    instruction fetches (read straight from the RAM arena once the page is translated)."""

    __slots__ = ("hart", "priv", "fs", "breakpoints", "_page", "_ram")
    system = True

    def __init__(self, hart: RISCVHart, breakpoints: frozenset[int]):
        self.hart = hart
        self.priv = hart.priv
        self.fs = (hart.mstatus >> C.MSTATUS_FS_SHIFT) & 3
        self.breakpoints = breakpoints
        self._page = -1
        self._ram: tuple[Any, int] | None = None  # (buffer, offset) of the current page if it is RAM

    def fetch16(self, pc: int) -> int:
        hart = self.hart
        if pc >> 12 != self._page:
            paddr = hart.fetch_paddr(pc)
            self._page = pc >> 12
            self._ram = hart.space.ram_ptr(paddr & ~0xFFF, 0x1000)
        ram = self._ram
        if ram is None:
            return hart.space.read(hart.fetch_paddr(pc), 2)
        return _U16(ram[0], ram[1] + (pc & 0xFFF))[0]

    def helpers(self) -> dict[str, Helper]:
        return self.hart.helpers


def gen_block(hart: RISCVHart, pc: int, single_step: bool = False) -> Block:
    """Translate the block at virtual ``pc`` for the hart's current TB flags (``single_step``: the
    one instruction there, without breakpoint checks: a debugger's step, or an instruction the native
    interpreter left to the TB path, which it does only while there are no breakpoints)."""
    if single_step:
        return translate.gen_block(_SystemTranslateEnv(hart, frozenset()), pc, 1)
    return translate.gen_block(_SystemTranslateEnv(hart, hart.breakpoints), pc)


def disas(hart: RISCVHart, pc: int, size: int) -> str:
    code = bytes(hart.space.read(hart.fetch_paddr(pc + i), 1) for i in range(size))
    return disas_bytes(code, pc)
