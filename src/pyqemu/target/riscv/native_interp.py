"""RV64 integer code interpreted by x86-64 machine code: the cold tier of system emulation on the
x86_64 backend (RISC-V Unprivileged ISA 20191213, RV64I ch. 2 and 5, M ch. 7, A ch. 8, D/F loads and
stores ch. 11-12, C ch. 16; Privileged ISA 20211203, sstatus 4.1.1, sscratch to stval 4.1.6-4.1.9).

Translating a block costs tens of microseconds of Python before it first runs, which was most of a
Linux boot's time: most blocks run only a few times.  This interpreter, generated once per backend with
our assembler and kept in its code cache, runs such code with no per-block Python work:

* instructions are fetched through the code TLB (the code tables of
  :class:`~pyqemu.accel.tcg.softmmu.NativeTLB`; the upper half of one across a page boundary from
  the next page's entry) and looked up by their raw bits in a *predecode table* of 16-byte entries
  (the instruction, an operation number, the state slots of rd, rs1 and rs2 -- x0 as a destination
  is a sink slot -- and the immediate), filled by machine code from tables made from the target's
  decoder patterns, or by Python from the target's own decoders (:func:`~.translate.decode`) for
  the rest.  An entry depends on nothing but the bits, so self-modifying code needs no care here;
* an operation's machine code works on the vCPU state buffer (the layout of :mod:`.cpu`); loads,
  stores and atomics take the softmmu TLB's fast path, and on a TLB miss Python fills the entry
  (a call, not an exit); interrupt enable and disable (sstatus.SIE) and the storage CSRs (sscratch,
  sepc, scause, stval) are done here too;
* after each control transfer the target pc is a block head: if the native jump cache has compiled code
  for it, the interpreter jumps there (and compiled code comes back here for a pc the jump cache does
  not have); else the instructions run since the previous block head are counted against that
  head (per pc hash), and at :data:`HOT` of them the interpreter leaves so that the TB cache
  translates that head's block and has it compiled.

Whatever else an instruction needs -- most CSRs, an exception, MMIO, a store into a page with
translations, FP arithmetic, a division by zero -- it does not do: it *escapes*, leaving to the exec
loop with the pc of that instruction, not run, which the exec loop then runs through the TB path
(:meth:`~pyqemu.accel.tcg.tb_system.SystemTBCache.lookup`).
"""

from __future__ import annotations

import array
import ctypes
import functools
import mmap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.backends.x86_64.asm import (
    CL,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    RAX,
    RBP,
    RCX,
    RDI,
    RDX,
    RSI,
    Assembler,
    Cond,
    Label,
    Mem,
)
from ...accel.tcg.backends.x86_64.backend import probe_jump_cache
from ...accel.tcg.backends.x86_64.codegen import (
    BUDGET,
    CODE_TLB,
    FIXED_WORDS,
    REASON,
    SITE,
    TLB,
    ctx,
)
from ...accel.tcg.decodetree import parse_table
from ...accel.tcg.ir import MASK64, Helper
from ...accel.tcg.softmmu import NativeTLB
from . import insn16, insn32
from .cpu import (
    GLOBAL_SLOTS,
    RES_NONE,
    SLOT_IRQ_PENDING,
    SLOT_MSTATUS,
    SLOT_PC,
    SLOT_PRIV,
    SLOT_RES_ADDR,
    SLOT_RES_VAL,
)
from .csr import MSTATUS_FS, MSTATUS_SD, MSTATUS_SIE, MSTATUS_UXL, SSTATUS_MASK
from .translate import CSR_SSTATUS, STORAGE_CSRS

#: why the interpreter left (ctx REASON): an instruction it does not run, a hot block head, an
#: instruction word missing from the predecode table
REASON_ESCAPE, REASON_HOT, REASON_DECODE = 1, 2, 3
#: instructions run from a block head (to the next head) after which its block is compiled
HOT = 32768
#: the same for a block head with compiled code, after which the interpreter asks for that again once
#: the jump caches that had it were emptied (on a TLB flush, say)
RELEARN = 256
#: runs between two block heads longer than this are not credited (compiled code ran in between)
LONGEST_RUN = 1 << 14
#: the interpreter's words of the vCPU context: the last block head met, the budget then, and the
#: block head that got hot (told to Python)
HEAD_PC, HEAD_BUDGET, HOT_PC = FIXED_WORDS
_NO_RUN = -(1 << 30)  # HEAD_BUDGET while compiled code runs: no run is credited when it comes back
PRE_BITS = 20  # predecode table entries (log2)
COUNT_BITS = 14  # block-head counters (log2)
SINK = 79  # the state slot x0 is written to (the slot of x0 itself stays 0)
HASH = 0x9E3779B1  # Fibonacci hashing of the instruction word into the predecode table
_RD, _RS1, _RS2, _IMM = 5, 6, 7, 8  # fields of a predecode entry
_ENTRY = Mem(RDX, _IMM)
_FETCH = 32  # the access kind of an instruction fetch (see _refill)

# operand shapes of the decoders' argument tuples (and of CSR accesses: rd, rs1 or uimm, csr)
_R, _R2, _I, _SB, _U, _N, _CSR, _CSRI = "r", "r2", "i", "sb", "u", "n", "csr", "csri"
#: floating-point loads and stores: the operation, and the shape whose FP register (rd of a load,
#: rs2 of a store) is a slot from 32 on
_FI, _FSB = "fi", "fsb"
_FP_OPS = {"fld": ("fp_ld", _FI), "flw": ("fp_lw", _FI), "fsd": ("fp_sd", _FSB), "fsw": ("fp_sw", _FSB)}
#: CSR instructions the interpreter runs, per CSR: on sstatus (SIE only, see
#: :meth:`_Handlers.sstatus`) and on the storage CSRs (:meth:`_Handlers.storage_csrs`).  Their entries
#: hold rd, rs1 (x0 for an immediate form) and as immediate: the CSR's state slot | the immediate
#: form's uimm << 8 | 1 << 16 if a write keeps bit 0 at 0 (sepc)
_STORAGE_OPS = {"csrrw": "csr_write", "csrrs": "csr_set", "csrrc": "csr_clear", "csrrwi": "csr_write",
                "csrrsi": "csr_set", "csrrci": "csr_clear"}
_CSR_OPS = {CSR_SSTATUS: {"csrrs": "sstatus_set", "csrrc": "sstatus_clear", "csrrsi": "sstatus_set",
                          "csrrci": "sstatus_clear"}} | dict.fromkeys(STORAGE_CSRS, _STORAGE_OPS)
_CSR_IMM = {CSR_SSTATUS: SLOT_MSTATUS} | {csr: GLOBAL_SLOTS[name] | (~mask & 1) << 16
                                          for csr, (name, mask) in STORAGE_CSRS.items()}


def _counter(pc: int) -> int:
    """The block-head counter of ``pc`` (as the machine code indexes them)."""
    return (pc >> 1) & ((1 << COUNT_BITS) - 1)


class NativeInterpreter:
    """The interpreter of one backend (shared by the vCPUs of a machine)."""

    def __init__(self, backend: Any, decode: Callable[[int], Any]):
        self.backend = backend
        self.hot = HOT
        self.decode = decode
        # (zero pages from the kernel, touched as needed: the table is 16 MiB)
        self._table_pages = mmap.mmap(-1, 16 << PRE_BITS)
        self.table = (ctypes.c_uint64 * (2 << PRE_BITS)).from_buffer(self._table_pages)
        #: per block-head hash: instructions still to run from there before it is hot (counting down)
        self.counters = (ctypes.c_int32 * (1 << COUNT_BITS))(*[self.hot] * (1 << COUNT_BITS))
        self.rounds = bytearray(1 << COUNT_BITS)  # hot exits per counter (a longer wait each time)
        self.jumps = (ctypes.c_uint64 * 256)()
        #: the native decoder of 32-bit instructions (see :func:`_decodings`) and its immediate makers
        self.decodings = (ctypes.c_uint16 * (1 << 15))()
        self.imm_jumps = (ctypes.c_uint64 * len(_IMM_KINDS))()
        #: and of compressed ones (see :func:`_decodings16`), with the code of each format
        self.decodings16 = (ctypes.c_uint16 * (1 << 10))()
        self.format_jumps = (ctypes.c_uint64 * len(insn16.OPERANDS))()
        self.ops: dict[str, tuple[int, str]] = {}
        #: told (hart, pc) of a hot block head
        self.on_hot: Callable[[Any, int], None] = lambda cpu, pc: None
        #: id(hart) -> the pc of its last escape, until its exec loop takes it
        self.escaped: dict[int, int] = {}
        self.escapes = self.hot_exits = self.fills = self.decode_exits = 0
        self._offsets: dict[str, int] = {}
        self.entry = backend.add_fixed(self._emit)
        for name, (op, _) in self.ops.items():
            self.jumps[op] = self.entry + self._offsets[name]
        self.jumps[0] = self.entry + self._offsets["escape"]
        for k, kind in enumerate(_IMM_KINDS):
            self.imm_jumps[k] = self.entry + self._offsets["imm_" + kind]
        ctypes.memmove(self.decodings, _decodings(tuple(self.ops)), ctypes.sizeof(self.decodings))
        for k, fmt in enumerate(insn16.OPERANDS):
            self.format_jumps[k] = self.entry + self._offsets["format_" + fmt]
        ctypes.memmove(self.decodings16, _decodings16(tuple(self.ops)), ctypes.sizeof(self.decodings16))
        backend.fallback = self.entry + self._offsets["from_native"]
        backend.on_leave = self._left

    # -- running ---------------------------------------------------------------------------------------
    def run(self, cpu: Any, R: Any, pc: int) -> int:
        """Interpret from ``pc`` (the exec loop's function for code without a valid compiled region)."""
        R[SLOT_PC] = pc
        return self.backend.run_fixed(cpu, R, self.entry)

    def _left(self, cpu: Any, reason: int, pc: int) -> None:
        """The interpreter left (maybe entered from generated code) at ``pc`` for ``reason``."""
        if reason == REASON_DECODE:
            self.decode_exits += 1
            self.fill(cpu, pc)
        elif reason == REASON_HOT:
            self.hot_exits += 1
            self._hot(cpu, self.backend.context(cpu).words[HOT_PC])
        else:
            self._escape(cpu, pc)

    @staticmethod
    def _refill(cpu: Any, addr: int, kind: int) -> int:
        """Called by the machine code for an access that missed the TLB (``kind``: its size | 16 for
        a store, or _FETCH): 1 once the TLB has the page, 0 if the access must take the slow path
        (MMIO, a watched page, a store into translated code) or faults."""
        if kind != _FETCH:
            return int(cpu.mmu.refill(addr, kind & 15, bool(kind & 16)))
        try:
            cpu.fetch_paddr(addr)
        except GuestFault:
            return 0
        return int(cpu.mmu.code_host(addr) is not None)

    def took_escape(self, cpu: Any, pc: int) -> bool:
        """Whether ``pc`` is where the interpreter left ``cpu`` to the TB path (then forgotten)."""
        if self.escaped.get(id(cpu)) != pc:
            return False
        del self.escaped[id(cpu)]
        return True

    def _escape(self, cpu: Any, pc: int) -> None:
        self.escapes += 1
        self.escaped[id(cpu)] = pc
        cpu.jmp.pop(pc, None)  # the exec loop then looks pc up, and runs it through the TB path

    def _hot(self, cpu: Any, pc: int) -> None:
        """A hot block head: ask for its code, and wait longer each time before asking again (unless
        the code is there: :meth:`published`)."""
        i = _counter(pc)
        n = self.rounds[i]
        if n < 8:
            self.rounds[i] = n + 1
        self.counters[i] = self.hot << (n + 1)
        self.on_hot(cpu, pc)

    def published(self, pc: int) -> None:
        """Compiled code for the block head ``pc`` is in the native jump cache."""
        i = _counter(pc)
        self.rounds[i] = 0
        self.counters[i] = min(RELEARN, self.hot)

    def fill(self, cpu: Any, pc: int) -> None:
        """Predecode the instruction at ``pc`` (one the machine code does not decode), read from the host
        memory the code TLB maps ``pc`` to (else ``pc`` goes to the TB path)."""
        host = cpu.mmu.code_host(pc)
        if host is None:
            self._escape(cpu, pc)
            return
        word = int.from_bytes(ctypes.string_at(host, 2), "little")
        if word & 3 == 3:  # (its upper half may be on the next page, mapped anywhere)
            upper = cpu.mmu.code_host((pc + 2) & MASK64) if pc & 0xFFF == 0xFFE else host + 2
            if upper is None:
                self._escape(cpu, pc)
                return
            word |= int.from_bytes(ctypes.string_at(upper, 2), "little") << 16
        i = 2 * (((word * HASH) & 0xFFFFFFFF) >> (32 - PRE_BITS))
        self.table[i], self.table[i + 1] = self.predecode(word)
        self.fills += 1

    def predecode(self, word: int) -> tuple[int, int]:
        """The table entry of ``word``: (word | op << 32 | rd << 40 | rs1 << 48 | rs2 << 56, imm)."""
        d = self.decode(word)
        spec = None
        if d is not None:
            name = insn16.EXPANDS_TO.get(d[2], d[2])
            spec = self.ops.get(name)
            if name in _FP_OPS:
                spec = self.ops[_FP_OPS[name][0]][0], _FP_OPS[name][1]
            elif name.startswith("csrr"):
                op_name = _CSR_OPS.get(d[1][2], {}).get(name)
                spec = None if op_name is None else (self.ops[op_name][0], _CSRI if name[-1] == "i" else _CSR)
        if spec is None:
            return word, 0  # op 0: escape
        op, shape = spec
        a = d[1]
        rd = rs1 = rs2 = imm = 0
        if shape == _FI:
            rd, rs1, imm = a
            rd += 32
        elif shape == _FSB:
            rs1, rs2, imm = a
            rs2 += 32
        elif shape == _CSR:
            rd, rs1, imm = a[0], a[1], _CSR_IMM[a[2]]
        elif shape == _CSRI:
            rd, imm = a[0], _CSR_IMM[a[2]] | a[1] << 8
        elif shape == _R:
            rd, rs1, rs2 = a
        elif shape == _R2:
            rd, rs1 = a
        elif shape == _I:
            rd, rs1, imm = a
        elif shape == _SB:
            rs1, rs2, imm = a
        elif shape == _U:
            rd, imm = a
        return word | op << 32 | (rd or SINK) << 40 | rs1 << 48 | rs2 << 56, imm & MASK64

    # -- the machine code --------------------------------------------------------------------------------
    def _emit(self, asm: Assembler, base: int) -> None:
        labels: dict[str, Label] = {}
        epilogue = self.backend.links_to["epilogue"] - base
        loop, refill, fetched, miss, escape, unrun, budget_out, head, count, hot, leave, tlb_miss, across, \
            fetched32 = (asm.label() for _ in range(14))
        labels["escape"] = escape
        # entry from the exec loop: the pc is in the state; a block head.  (The run from the last head
        # met goes on: HEAD_BUDGET holds its length so far while the interpreter is out.)
        asm.mov(R12, Mem(RBP, 8 * SLOT_PC))
        asm.mov_imm(R15, MASK64)
        asm.mov(RAX, ctx(BUDGET))
        asm.add(ctx(HEAD_BUDGET), RAX)
        asm.jmp(head)
        # entry from generated code, for a pc (rax) the jump cache has no code for
        labels["from_native"] = from_native = asm.label()
        asm.bind(from_native)
        asm.mov_imm(ctx(SITE), 0)  # (a chainable exit's: nothing to chain)
        asm.mov(R12, RAX)
        asm.mov_imm(R15, MASK64)
        asm.mov(ctx(HEAD_PC), R12)
        asm.mov(RAX, ctx(BUDGET))
        asm.mov(ctx(HEAD_BUDGET), RAX)
        asm.jmp(loop)

        # fetch and look up in the predecode table
        dispatch = asm.label()

        def step(main: bool = False) -> None:
            """Charge the budget, fetch the instruction at r12, look it up, jump to its handler.  (Each
            handler ends with a copy of this: one indirect jump per handler predicts far better than
            one shared by all.)"""
            asm.sub_imm(ctx(BUDGET), 1)
            asm.jcc(Cond.S, budget_out)
            asm.mov(RAX, R12)
            asm.shr(RAX, 12)
            asm.cmp(RAX, R15)
            asm.jcc(Cond.NE, refill)
            if main:
                asm.bind(fetched)
            asm.movzx(RCX, Mem(R12, 0, R13, 1), 16)
            asm.mov_imm(R8, 2, 32)
            asm.mov(RAX, RCX, 32)
            asm.and_imm(RAX, 3, 32)
            asm.cmp_imm(RAX, 3, 32)
            asm.jcc(Cond.NE, decoded := asm.label())
            asm.mov(RAX, R12, 32)
            asm.and_imm(RAX, 0xFFF, 32)
            asm.cmp_imm(RAX, 0xFFE, 32)
            asm.jcc(Cond.E, across)
            asm.mov(RCX, Mem(R12, 0, R13, 1), 32)
            asm.mov_imm(R8, 4, 32)
            asm.bind(decoded)
            if main:
                asm.bind(fetched32)
            asm.imul_imm(RAX, RCX, HASH, 32)
            asm.shr(RAX, 32 - PRE_BITS, 32)
            asm.shl(RAX, 4, 32)
            asm.mov_imm(RDX, ctypes.addressof(self.table))
            asm.add(RDX, RAX)
            asm.cmp(Mem(RDX, 0), RCX, 32)
            asm.jcc(Cond.NE, miss)
            if main:
                asm.bind(dispatch)
            asm.movzx(RAX, Mem(RDX, 4), 8)
            asm.mov_imm(RSI, ctypes.addressof(self.jumps))
            asm.jmp_mem(Mem(RSI, 0, RAX, 8))

        asm.bind(loop)
        step(main=True)

        # a 32-bit instruction across a page boundary: its upper half from the next page (through the
        # code TLB, else it escapes)
        asm.bind(across)
        asm.mov(RAX, R12)
        asm.shr(RAX, 12)
        asm.add_imm(RAX, 1)
        asm.mov(RSI, RAX, 32)
        asm.and_imm(RSI, NativeTLB.SIZE - 1, 32)
        asm.shl(RSI, 4, 32)
        asm.add(RSI, ctx(CODE_TLB))
        asm.cmp(Mem(RSI, 0), RAX)
        asm.jcc(Cond.NE, escape)
        asm.mov(R9, Mem(RSI, 8))
        asm.movzx(R10, Mem(R12, 2, R9, 1), 16)
        asm.shl(R10, 16, 32)
        asm.or_(RCX, R10, 32)
        asm.mov_imm(R8, 4, 32)
        asm.jmp(fetched32)

        # a new code page: its entry in the code TLB, else leave for Python to fill it
        asm.bind(refill)
        asm.mov(RCX, RAX, 32)
        asm.and_imm(RCX, NativeTLB.SIZE - 1, 32)
        asm.shl(RCX, 4, 32)
        asm.add(RCX, ctx(CODE_TLB))
        asm.cmp(Mem(RCX, 0), RAX)
        asm.mov(R10, R12)
        asm.mov_imm(R11, _FETCH, 32, keep_flags=True)
        asm.jcc(Cond.NE, tlb_miss)
        asm.mov(R15, RAX)
        asm.mov(R13, Mem(RCX, 8))
        asm.jmp(fetched)

        # a block head (r12): compiled code if the jump cache has it, else count
        asm.bind(head)
        probe_jump_cache(asm, R12, RAX)
        asm.jcc(Cond.NE, count)
        asm.mov_imm(ctx(HEAD_BUDGET), _NO_RUN)
        asm.jmp_mem(Mem(RAX, 8))
        # (no compiled code here: the run since the last head is credited to that head, r12 is the
        # last head from now on)
        asm.bind(count)
        asm.mov(RAX, ctx(BUDGET))
        asm.mov(RCX, ctx(HEAD_BUDGET))
        asm.mov(ctx(HEAD_BUDGET), RAX)
        asm.sub(RCX, RAX)
        asm.mov(R10, ctx(HEAD_PC))
        asm.mov(ctx(HEAD_PC), R12)
        asm.cmp_imm(RCX, LONGEST_RUN)
        asm.jcc(Cond.A, loop)
        asm.mov(RAX, R10)
        asm.shr(RAX, 1)
        asm.and_imm(RAX, (1 << COUNT_BITS) - 1, 32)
        asm.mov_imm(RSI, ctypes.addressof(self.counters))
        asm.sub(Mem(RSI, 0, RAX, 4), RCX, 32)
        asm.jcc(Cond.LE, hot)
        asm.jmp(loop)

        # leaving: the instruction at r12 has not run (its budget unit is given back); r9 says why, but
        # compiled code for r12 runs it if there is some (e.g. an MMIO access, a CSR)
        asm.bind(escape)
        asm.mov_imm(R9, REASON_ESCAPE, 32)
        asm.bind(unrun)
        asm.add_imm(ctx(BUDGET), 1)
        probe_jump_cache(asm, R12, RAX)
        asm.jcc(Cond.NE, to_python := asm.label())
        asm.mov_imm(ctx(HEAD_BUDGET), _NO_RUN)
        asm.jmp_mem(Mem(RAX, 8))
        asm.bind(to_python)
        asm.mov(ctx(REASON), R9)
        asm.jmp(leave)
        asm.bind(miss)
        self._decode32(asm, labels, dispatch, decode_exit := asm.label())
        asm.bind(decode_exit)
        asm.mov_imm(R9, REASON_DECODE, 32)
        asm.jmp(unrun)
        asm.bind(hot)  # r10: the head that got hot
        asm.mov(ctx(HOT_PC), R10)
        asm.mov_imm(ctx(REASON), REASON_HOT)
        asm.jmp(leave)
        # a TLB miss (r10: the address, r11: the access): Python fills the entry, then the instruction
        # runs again (its budget unit given back: the loop charges it again); it escapes if the
        # access must take the slow path or faults
        asm.bind(tlb_miss)
        asm.mov(RDI, R14)
        asm.mov(RSI, R10)
        asm.mov(RDX, R11)
        asm.mov_imm(RAX, self.backend.runtime.callback(Helper("interp_refill", self._refill), 2))
        asm.call_reg(RAX)
        asm.test(RAX, RAX, 32)
        asm.jcc(Cond.E, escape)
        asm.mov_imm(R15, MASK64)  # (the code TLB may have changed: the fetch goes through it again)
        asm.add_imm(ctx(BUDGET), 1)
        asm.jmp(loop)
        asm.bind(budget_out)
        asm.add_imm(ctx(BUDGET), 1)
        asm.bind(leave)
        asm.mov(RAX, ctx(BUDGET))
        asm.sub(ctx(HEAD_BUDGET), RAX)
        asm.mov(RAX, R12)
        asm.jmp_rel32_to(epilogue)

        _Handlers(asm, self.ops, labels, step, head, escape, tlb_miss).emit_all()
        self._offsets = {name: asm.offset_of(label) for name, label in labels.items()}

    def _decode32(self, asm: Assembler, labels: dict[str, Label], dispatch: Label, give_up: Label) -> None:
        """Decode the instruction in ecx into the predecode entry at rdx, then dispatch it (those
        :func:`_decodings` and :func:`_decodings16` leave to Python go to ``give_up``)."""
        asm.mov(RAX, RCX, 32)
        asm.and_imm(RAX, 3, 32)
        asm.cmp_imm(RAX, 3, 32)
        asm.jcc(Cond.NE, compressed := asm.label())
        # index: opcode[6:2] << 10 | funct3 << 7 | funct7
        _look_up(asm, ((2, 31, 10), (12, 7, 7), (25, 127, 0)), self.decodings, give_up)
        for field, shift in ((_RD, 7), (_RS1, 15), (_RS2, 20)):
            asm.mov(R10, RCX, 32)
            asm.shr(R10, shift, 32)
            asm.and_imm(R10, 31, 32)
            if field == _RD:
                _sink_x0(asm)
            asm.mov(Mem(RDX, field), R10, 8)
        asm.shr(RAX, 8, 32)  # the immediate's kind
        asm.mov_imm(RSI, ctypes.addressof(self.imm_jumps))
        asm.jmp_mem(Mem(RSI, 0, RAX, 8))
        written = asm.label()
        for kind in _IMM_KINDS:
            labels["imm_" + kind] = label = asm.label()
            asm.bind(label)
            _immediate(asm, kind)
            asm.jmp(written)
        asm.bind(written)
        asm.mov(_ENTRY, R10)
        asm.bind(tagged := asm.label())
        asm.mov(Mem(RDX, 0), RCX, 32)  # the tag last
        asm.jmp(dispatch)

        asm.bind(compressed)  # index: funct3 << 7 | bit 12 << 6 | bits 11:10 << 4 | bits 6:5 << 2 | op
        _look_up(asm, ((13, 7, 7), (12, 1, 6), (10, 3, 4), (5, 3, 2), (0, 3, 0)), self.decodings16, give_up)
        asm.shr(RAX, 8, 32)  # the format
        asm.mov_imm(RSI, ctypes.addressof(self.format_jumps))
        asm.jmp_mem(Mem(RSI, 0, RAX, 8))
        for fmt, (shape, sources) in insn16.OPERANDS.items():
            labels["format_" + fmt] = label = asm.label()
            asm.bind(label)
            fields = {"i": (_RD, _RS1, _IMM), "sb": (_RS1, _RS2, _IMM), "r": (_RD, _RS1, _RS2),
                      "u": (_RD, _IMM)}[shape]
            if shape == "r":
                asm.mov_imm(_ENTRY, 0)
            for field, source in zip(fields, sources, strict=True):
                _compressed_operand(asm, source, field)
            asm.jmp(tagged)


#: how 32-bit instructions encode their immediate (RISC-V Unprivileged ISA 20191213, 2.3)
_IMM_KINDS = ("none", "i", "sh", "s", "b", "u", "j")
#: decoder formats (:data:`.insn32.FORMATS`) -> immediate kind
_FORMAT_IMM = {"r": "none", "atom_st": "none", "none": "none", "i": "i", "sh6": "sh", "sh5": "sh",
               "s": "s", "b": "b", "u": "u", "j": "j"}
_FIELDS = 0xFE00707F  # funct7, funct3 and the opcode


def _immediate(asm: Assembler, kind: str) -> None:
    """Emit: r10 = the sign-extended immediate of ``kind`` of the instruction in ecx."""
    if kind == "none":
        asm.xor(R10, R10, 32)
        return
    if kind == "sh":
        asm.mov(R10, RCX, 32)
        asm.shr(R10, 20, 32)
        asm.and_imm(R10, 63, 32)
        return
    asm.movsx(R10, RCX, 32)
    if kind == "i":
        asm.sar(R10, 20)
        return
    if kind == "u":
        asm.and_imm(R10, -4096)
        return
    # sign from bit 31, then the scattered fields: (shift right, mask, shift left)
    top, fields = {"s": (5, ((7, 31, 0),)),
                   "b": (12, ((7, 1, 11), (25, 0x3F, 5), (8, 0xF, 1))),
                   "j": (20, ((12, 0xFF, 12), (20, 1, 11), (21, 0x3FF, 1)))}[kind]
    asm.sar(R10, 25 if kind == "s" else 31)
    asm.shl(R10, top)
    _gather(asm, R10, fields, 64)


def _gather(asm: Assembler, dst: int, pieces: tuple[tuple[int, int, int], ...], size: int = 32) -> None:
    """Emit: ``dst`` |= ((ecx >> shift) & mask) << at for each piece (rax the scratch)."""
    for shift, mask, at in pieces:
        asm.mov(RAX, RCX, 32)
        if shift:
            asm.shr(RAX, shift, 32)
        asm.and_imm(RAX, mask, 32)
        if at:
            asm.shl(RAX, at, 32)
        asm.or_(dst, RAX, size)


def _look_up(asm: Assembler, index: tuple[tuple[int, int, int], ...], table: Any, give_up: Label) -> None:
    """Emit: the entry of the instruction in ecx in the decoder ``table`` (u16 entries, index gathered
    from its bits), to ``give_up`` if 0, else its operation into the predecode entry at rdx and the
    entry in eax."""
    asm.xor(R10, R10, 32)
    _gather(asm, R10, index)
    asm.mov_imm(RSI, ctypes.addressof(table))
    asm.movzx(RAX, Mem(RSI, 0, R10, 2), 16)
    asm.test_imm(RAX, 0xFF, 32)
    asm.jcc(Cond.E, give_up)
    asm.mov(Mem(RDX, 4), RAX, 8)  # the operation


def _compressed_operand(asm: Assembler, source: str | int, field: int) -> None:
    """Emit: the operand ``source`` (see :data:`.insn16.OPERANDS`) of the compressed instruction in ecx
    into ``field`` of the predecode entry at rdx (x0 as rd: the sink slot)."""
    if field == _IMM:
        if isinstance(source, int):
            asm.mov_imm(_ENTRY, source)
            return
        pieces, sign = insn16.IMMEDIATES[source]
        asm.xor(R10, R10, 32)
        _gather(asm, R10, tuple((lo, (1 << (hi - lo + 1)) - 1, at) for hi, lo, at in pieces))
        if sign:
            asm.shl(R10, 64 - sign)
            asm.sar(R10, 64 - sign)
        asm.mov(_ENTRY, R10)
        return
    if isinstance(source, int):
        asm.mov_imm(Mem(RDX, field), source or (SINK if field == _RD else 0), 8)
        return
    hi, lo, base = insn16.REGISTERS[source]
    asm.mov(R10, RCX, 32)
    asm.shr(R10, lo, 32)
    asm.and_imm(R10, (1 << (hi - lo + 1)) - 1, 32)
    if base:
        asm.add_imm(R10, base, 32)
    elif field == _RD:
        _sink_x0(asm)
    asm.mov(Mem(RDX, field), R10, 8)


def _sink_x0(asm: Assembler) -> None:
    """Emit: r10 (a destination register number) = the sink slot if it is x0."""
    asm.mov_imm(R9, SINK, 32)
    asm.test(R10, R10, 32)
    asm.cmovcc(Cond.E, R10, R9, 32)


_FIELDS16 = 0xFC63  # funct3, bit 12, bits 11:10, bits 6:5 and the quadrant of a compressed instruction


@functools.cache
def _decodings16(ops: tuple[str, ...]) -> bytes:
    """The native decoder's table of compressed instructions: for each (funct3, bit 12, bits 11:10,
    bits 6:5, quadrant), the operation its expansion runs (numbered as in :func:`_decodings`) | the
    index of its format in :data:`.insn16.OPERANDS` << 8, or 0 where Python must decode (as there)."""
    number = {name: i + 1 for i, name in enumerate(ops)}
    formats = list(insn16.OPERANDS)
    patterns = sorted(parse_table(insn16.TABLE, 16), key=lambda p: -p.mask.bit_count())
    table = array.array("H", bytes(2 << 10))
    for index in range(1 << 10):
        quadrant = index & 3
        if quadrant == 3:
            continue
        word = ((index >> 7) << 13 | ((index >> 6) & 1) << 12 | ((index >> 4) & 3) << 10
                | ((index >> 2) & 3) << 5 | quadrant)
        first = next((p for p in patterns if word & p.mask & _FIELDS16 == p.match & _FIELDS16), None)
        if first is None or first.mask & ~_FIELDS16 or first.fmt not in insn16.OPERANDS:
            continue
        name = insn16.EXPANDS_TO.get(first.name)
        if name in number:
            table[index] = number[name] | formats.index(first.fmt) << 8
    return table.tobytes()


@functools.cache
def _decodings(ops: tuple[str, ...]) -> bytes:
    """The native decoder's table, from the target's pattern table: for each (opcode[6:2], funct3,
    funct7), the operation (numbered from 1 in the order of ``ops``) | its immediate kind << 8, or 0
    where Python must decode: no operation of the interpreter, or a pattern that also fixes other bits
    (rd, rs1, rs2) would be tried first by :class:`~pyqemu.accel.tcg.decodetree.Decoder`."""
    number = {name: i + 1 for i, name in enumerate(ops)}
    patterns = sorted((p for p in parse_table(insn32.TABLE, 32) if p.match & 3 == 3),
                      key=lambda p: -p.mask.bit_count())  # the decoder's order
    table = array.array("H", bytes(2 << 15))
    for opcode in range(32):
        for funct3 in range(8):
            low = funct3 << 12 | opcode << 2 | 3
            group = [p for p in patterns if low & p.mask & 0x707F == p.match & 0x707F]
            # (when no pattern of the group looks at funct7, its first value decides for all)
            funct7s = 128 if any(p.mask >> 25 for p in group) else 1 if group else 0
            for funct7 in range(funct7s):
                word = funct7 << 25 | low
                first = next((p for p in group if word & p.mask & _FIELDS == p.match & _FIELDS), None)
                if (first is None or first.mask & ~_FIELDS or first.name not in number
                        or first.fmt not in _FORMAT_IMM):
                    continue
                kind = _IMM_KINDS.index(_FORMAT_IMM[first.fmt])
                at = opcode << 10 | funct3 << 7
                if funct7s == 1:
                    table[at:at + 128] = array.array("H", [number[first.name] | kind << 8]) * 128
                else:
                    table[at | funct7] = number[first.name] | kind << 8
    return table.tobytes()


@dataclass
class _Handlers:
    """The machine code of each operation.  On entry rdx points at the predecode entry, r12 is the pc
    and r8 the instruction's length; a handler ends with the dispatch of the next instruction or at the
    block head code (a control transfer, r12 the target)."""

    asm: Assembler
    ops: dict[str, tuple[int, str]]  # filled in: name -> (operation number, operand shape)
    labels: dict[str, Label]  # filled in: name -> its handler
    step: Callable[[], None]  # emits the fetch and dispatch of the next instruction
    head: Label
    escape: Label
    tlb_miss: Label

    def start(self, name: str, shape: str) -> Assembler:
        self.ops[name] = (len(self.ops) + 1, shape)
        self.labels[name] = label = self.asm.label()
        self.asm.bind(label)
        return self.asm

    def read(self, field: int, reg: int) -> None:
        self.asm.movzx(RSI, Mem(RDX, field), 8)
        self.asm.mov(reg, Mem(RBP, 0, RSI, 8))

    def write(self, reg: int, rd: int | None = None) -> None:
        """rd = reg (``rd``: a register holding rd's slot, when rdx is gone)."""
        if rd is None:
            self.asm.movzx(RSI, Mem(RDX, _RD), 8)
            rd = RSI
        self.asm.mov(Mem(RBP, 0, rd, 8), reg)

    def next(self) -> None:
        self.asm.add(R12, R8)
        self.step()

    def emit_all(self) -> None:
        self.alu()
        self.shifts()
        self.compares()
        self.upper_and_jumps()
        self.branches()
        self.memory()
        self.fp_memory()
        self.multiply()
        self.divide()
        self.atomics()
        self.sstatus()
        self.storage_csrs()
        self.start("fence", _N)
        self.next()

    def alu(self) -> None:
        ops = {"add": "add", "sub": "sub", "xor": "xor", "or": "or_", "and": "and_"}
        for name, method in ops.items():
            for suffix, shape, src in (("", _R, RCX), ("i", _I, _ENTRY)):
                if name == "sub" and suffix:
                    continue
                asm = self.start(name + suffix, shape)
                self.read(_RS1, RAX)
                if shape == _R:
                    self.read(_RS2, RCX)
                getattr(asm, method)(RAX, src)
                self.write(RAX)
                self.next()
        for name, method, shape in (("addw", "add", _R), ("subw", "sub", _R), ("addiw", "add", _I)):
            asm = self.start(name, shape)
            self.read(_RS1, RAX)
            if shape == _R:
                self.read(_RS2, RCX)
            getattr(asm, method)(RAX, RCX if shape == _R else _ENTRY, 32)
            asm.movsx(RAX, RAX, 32)
            self.write(RAX)
            self.next()

    def shifts(self) -> None:
        for base, method in (("sll", "shl"), ("srl", "shr"), ("sra", "sar")):
            for name, shape, size in ((base, _R, 64), (base + "i", _I, 64), (base + "w", _R, 32),
                                      (base + "iw", _I, 32)):
                asm = self.start(name, shape)
                self.read(_RS1, RAX)
                if shape == _R:
                    self.read(_RS2, RCX)
                else:
                    asm.mov(RCX, _ENTRY)
                getattr(asm, method)(RAX, CL, size)  # (x86 masks the count as RISC-V does)
                if size == 32:
                    asm.movsx(RAX, RAX, 32)
                self.write(RAX)
                self.next()

    def compares(self) -> None:
        for name, shape, cond in (("slt", _R, Cond.L), ("sltu", _R, Cond.B), ("slti", _I, Cond.L),
                                  ("sltiu", _I, Cond.B)):
            asm = self.start(name, shape)
            self.read(_RS1, RAX)
            if shape == _R:
                self.read(_RS2, RCX)
            asm.cmp(RAX, RCX if shape == _R else _ENTRY)
            asm.setcc(cond, RAX)
            asm.movzx(RAX, RAX, 8)
            self.write(RAX)
            self.next()

    def upper_and_jumps(self) -> None:
        asm = self.start("lui", _U)
        asm.mov(RAX, _ENTRY)
        self.write(RAX)
        self.next()
        asm = self.start("auipc", _U)
        asm.mov(RAX, R12)
        asm.add(RAX, _ENTRY)
        self.write(RAX)
        self.next()
        asm = self.start("jal", _U)
        asm.lea(RAX, Mem(R12, 0, R8, 1))
        self.write(RAX)
        asm.add(R12, _ENTRY)
        asm.jmp(self.head)
        asm = self.start("jalr", _I)
        self.read(_RS1, RCX)  # before rd is written: they may be the same register
        asm.add(RCX, _ENTRY)
        asm.and_imm(RCX, -2)
        asm.lea(RAX, Mem(R12, 0, R8, 1))
        self.write(RAX)
        asm.mov(R12, RCX)
        asm.jmp(self.head)

    def branches(self) -> None:
        for name, cond in (("beq", Cond.E), ("bne", Cond.NE), ("blt", Cond.L), ("bge", Cond.GE),
                           ("bltu", Cond.B), ("bgeu", Cond.AE)):
            asm = self.start(name, _SB)
            self.read(_RS1, RAX)
            self.read(_RS2, RCX)
            asm.cmp(RAX, RCX)
            asm.jcc(cond.invert(), fall := asm.label())
            asm.add(R12, _ENTRY)
            asm.jmp(self.head)
            asm.bind(fall)
            asm.add(R12, R8)  # the fall-through starts a block too
            asm.jmp(self.head)

    def _address(self, size: int, write: bool, aligned: bool = False) -> None:
        """rax = the host address of the access at rs1 + imm (r10 the guest address), or escape (TLB
        miss, page crossing; ``aligned``: a misaligned address)."""
        asm = self.asm
        self.read(_RS1, RAX)
        asm.add(RAX, _ENTRY)
        asm.mov(R10, RAX)
        if aligned and size > 1:
            asm.test_imm(RAX, size - 1, 32)
            asm.jcc(Cond.NE, self.escape)
        asm.mov(RCX, RAX)
        asm.shr(RCX, 12)
        asm.mov(R9, RCX, 32)
        asm.and_imm(R9, NativeTLB.SIZE - 1, 32)
        asm.shl(R9, 5, 32)
        asm.add(R9, ctx(TLB))
        asm.cmp(Mem(R9, 8 if write else 0), RCX)
        asm.mov_imm(R11, size | (16 if write else 0), 32, keep_flags=True)
        asm.jcc(Cond.NE, self.tlb_miss)
        if size > 1:
            asm.mov(RCX, RAX, 32)
            asm.and_imm(RCX, 0xFFF, 32)
            asm.cmp_imm(RCX, 4096 - size, 32)
            asm.jcc(Cond.A, self.escape)
        asm.add(RAX, Mem(R9, 16))

    def memory(self) -> None:
        for name, size, signed in (("lb", 1, True), ("lh", 2, True), ("lw", 4, True), ("ld", 8, False),
                                   ("lbu", 1, False), ("lhu", 2, False), ("lwu", 4, False)):
            asm = self.start(name, _I)
            self._address(size, False)
            if size == 8:
                asm.mov(RAX, Mem(RAX, 0))
            elif signed:
                asm.movsx(RAX, Mem(RAX, 0), 8 * size)
            else:
                asm.movzx(RAX, Mem(RAX, 0), 8 * size)
            self.write(RAX)
            self.next()
        for name, size in (("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)):
            asm = self.start(name, _SB)
            self._address(size, True)
            self.read(_RS2, RCX)
            asm.mov(Mem(RAX, 0), RCX, 8 * size)
            self.next()

    def fp_memory(self) -> None:
        """FP loads and stores while mstatus.FS is Dirty (a load would make it so: the TB path does that)
        or, for stores, not Off (else they escape: the TB path raises the illegal instruction)."""
        asm = self.asm
        for name, size in (("fp_ld", 8), ("fp_lw", 4)):
            asm = self.start(name, _I)
            asm.mov(RAX, Mem(RBP, 8 * SLOT_MSTATUS))
            asm.and_imm(RAX, MSTATUS_FS, 32)
            asm.cmp_imm(RAX, MSTATUS_FS, 32)
            asm.jcc(Cond.NE, self.escape)
            self._address(size, False)
            if size == 8:
                asm.mov(RAX, Mem(RAX, 0))
            else:
                asm.mov(RAX, Mem(RAX, 0), 32)
                asm.mov_imm(RCX, MASK64 ^ 0xFFFFFFFF)
                asm.or_(RAX, RCX)  # NaN-boxed
            self.write(RAX)
            self.next()
        for name, size in (("fp_sd", 8), ("fp_sw", 4)):
            asm = self.start(name, _SB)
            asm.test_imm(Mem(RBP, 8 * SLOT_MSTATUS), MSTATUS_FS, 32)
            asm.jcc(Cond.E, self.escape)
            self._address(size, True)
            self.read(_RS2, RCX)
            asm.mov(Mem(RAX, 0), RCX, 8 * size)
            self.next()

    def _operands(self, size: int = 64) -> None:
        """r9 = rd's slot (rdx is about to be clobbered), rax = rs1, rcx = rs2."""
        self.asm.movzx(R9, Mem(RDX, _RD), 8)
        self.read(_RS1, RAX)
        self.read(_RS2, RCX)

    def multiply(self) -> None:
        asm = self.start("mul", _R)
        self._operands()
        asm.imul(RAX, RCX)
        self.write(RAX, R9)
        self.next()
        asm = self.start("mulw", _R)
        self._operands()
        asm.imul(RAX, RCX, 32)
        asm.movsx(RAX, RAX, 32)
        self.write(RAX, R9)
        self.next()
        for name in ("mulh", "mulhu", "mulhsu"):
            asm = self.start(name, _R)
            self._operands()
            asm.mov(R10, RAX)
            (asm.imul1 if name == "mulh" else asm.mul1)(RCX)
            if name == "mulhsu":  # signed * unsigned: the unsigned product, less rs2 << 64 if rs1 < 0
                asm.test(R10, R10)
                asm.jcc(Cond.NS, done := asm.label())
                asm.sub(RDX, RCX)
                asm.bind(done)
            self.write(RDX, R9)
            self.next()

    def divide(self) -> None:
        """Division by zero and signed overflow (defined results, rare) escape to the TB path."""
        for name, signed, rem, size in (("div", True, False, 64), ("divu", False, False, 64),
                                        ("rem", True, True, 64), ("remu", False, True, 64),
                                        ("divw", True, False, 32), ("divuw", False, False, 32),
                                        ("remw", True, True, 32), ("remuw", False, True, 32)):
            asm = self.start(name, _R)
            self._operands()
            asm.test(RCX, RCX, size)
            asm.jcc(Cond.E, self.escape)
            if signed:
                asm.cmp_imm(RCX, -1, size)
                asm.jcc(Cond.NE, ok := asm.label())
                asm.mov_imm(R10, 1 << (size - 1), size)
                asm.cmp(RAX, R10, size)
                asm.jcc(Cond.E, self.escape)
                asm.bind(ok)
                if size == 64:
                    asm.cqo()
                else:
                    asm.cdq()
                asm.idiv1(RCX, size)
            else:
                asm.xor(RDX, RDX, 32)
                asm.div1(RCX, size)
            result = RDX if rem else RAX
            if size == 32:
                asm.movsx(result, result, 32)
            self.write(result, R9)
            self.next()

    def atomics(self) -> None:
        """LR/SC with the reservation in the state (address, loaded value: an SC succeeds if memory
        still holds that value), AMOs as load, operation, store (the harts take turns on one thread).
        Misaligned addresses escape (the TB path raises the fault)."""
        asm = self.asm
        amo_ops = {"swap": None, "add": "add", "xor": "xor", "and": "and_", "or": "or_",
                   "min": Cond.L, "max": Cond.G, "minu": Cond.B, "maxu": Cond.A}
        for suffix, size in (("_w", 4), ("_d", 8)):
            asm = self.start("lr" + suffix, _R2)
            self._address(size, False, aligned=True)
            asm.mov(RCX, Mem(RAX, 0), 8 * size)  # (a 32-bit mov zero-extends: the raw value)
            asm.mov(Mem(RBP, 8 * SLOT_RES_ADDR), R10)
            asm.mov(Mem(RBP, 8 * SLOT_RES_VAL), RCX)
            if size == 4:
                asm.movsx(RCX, RCX, 32)
            self.write(RCX)
            self.next()
            asm = self.start("sc" + suffix, _R)
            self._address(size, True, aligned=True)
            asm.mov(RCX, Mem(RAX, 0), 8 * size)
            asm.mov_imm(R11, 1, 32)
            asm.cmp(Mem(RBP, 8 * SLOT_RES_ADDR), R10)
            asm.jcc(Cond.NE, fail := asm.label())
            asm.cmp(Mem(RBP, 8 * SLOT_RES_VAL), RCX)
            asm.jcc(Cond.NE, fail)
            self.read(_RS2, RCX)
            asm.mov(Mem(RAX, 0), RCX, 8 * size)
            asm.xor(R11, R11, 32)
            asm.bind(fail)
            asm.mov_imm(Mem(RBP, 8 * SLOT_RES_ADDR), RES_NONE)
            self.write(R11)
            self.next()
            for op, how in amo_ops.items():
                asm = self.start(f"amo{op}{suffix}", _R)
                self._address(size, True, aligned=True)
                if size == 4:
                    asm.movsx(RCX, Mem(RAX, 0), 32)
                else:
                    asm.mov(RCX, Mem(RAX, 0))
                self.read(_RS2, R11)
                if isinstance(how, str):
                    getattr(asm, how)(R11, RCX)
                elif how is not None:
                    if size == 4:
                        asm.movsx(R11, R11, 32)  # compared as 32-bit values, like the old one
                    asm.cmp(RCX, R11)
                    asm.cmovcc(how, R11, RCX)
                asm.mov(Mem(RAX, 0), R11, 8 * size)
                self.write(RCX)
                self.next()

    def _csr_operand(self) -> None:
        """Emit: escape in U mode (the TB path raises the illegal instruction); rax = the operand of a
        CSR instruction (rs1 | the immediate form's uimm, see :data:`_CSR_OPS`)."""
        asm = self.asm
        asm.cmp_imm(Mem(RBP, 8 * SLOT_PRIV), 1)
        asm.jcc(Cond.B, self.escape)
        self.read(_RS1, RAX)
        asm.mov(R10, _ENTRY)
        asm.shr(R10, 8, 32)
        asm.and_imm(R10, 31, 32)
        asm.or_(RAX, R10)

    def sstatus(self) -> None:
        """csrrs/csrrc on sstatus in S or M mode changing at most SIE, as
        :func:`.translate._sstatus_sie` does; anything else (U mode, other bits, enabling while an
        interrupt is pending) escapes."""
        for name, set_bits in (("sstatus_set", True), ("sstatus_clear", False)):
            asm = self.start(name, _CSR)
            self._csr_operand()
            asm.mov_imm(R10, ~MSTATUS_SIE & MASK64)
            asm.test(RAX, R10)
            asm.jcc(Cond.NE, self.escape)
            asm.mov(RCX, Mem(RBP, 8 * SLOT_MSTATUS))
            if set_bits:
                asm.mov(R10, RCX)
                asm.not_(R10)
                asm.test(R10, RAX)
                asm.jcc(Cond.E, write := asm.label())
                asm.cmp_imm(Mem(RBP, 8 * SLOT_IRQ_PENDING), 0)
                asm.jcc(Cond.NE, self.escape)
                asm.bind(write)
                asm.or_(RAX, RCX)
            else:
                asm.not_(RAX)
                asm.and_(RAX, RCX)
            asm.mov(Mem(RBP, 8 * SLOT_MSTATUS), RAX)
            # rd = what sstatus read as: the S-mode fields, UXL, and SD when FS is Dirty
            asm.mov(R10, RCX)
            asm.and_imm(R10, MSTATUS_FS)
            asm.cmp_imm(R10, MSTATUS_FS)
            asm.setcc(Cond.E, RAX)
            asm.movzx(RAX, RAX, 8)
            asm.shl(RAX, 63)
            asm.mov_imm(R10, MSTATUS_UXL)
            asm.or_(RCX, R10)
            asm.mov_imm(R10, SSTATUS_MASK & ~MSTATUS_SD)
            asm.and_(RCX, R10)
            asm.or_(RCX, RAX)
            self.write(RCX)
            self.next()

    def storage_csrs(self) -> None:
        """csrrw/csrrs/csrrc on a storage CSR (its state slot: the immediate's low byte) in S or M
        mode; bit 16 of the immediate: a write keeps bit 0 at 0 (sepc)."""
        for name in ("csr_write", "csr_set", "csr_clear"):
            asm = self.start(name, _CSR)
            self._csr_operand()
            asm.movzx(R9, _ENTRY, 8)  # the CSR's slot
            asm.mov(RCX, Mem(RBP, 0, R9, 8))  # its old value
            if name == "csr_set":
                asm.or_(RAX, RCX)
            elif name == "csr_clear":
                asm.not_(RAX)
                asm.and_(RAX, RCX)
            asm.mov(R10, _ENTRY)
            asm.shr(R10, 16, 32)
            asm.and_imm(R10, 1, 32)
            asm.not_(R10)
            asm.and_(RAX, R10)
            asm.mov(Mem(RBP, 0, R9, 8), RAX)
            self.write(RCX)
            self.next()
