"""Register allocation over one IR block for the x86-64 backend (QEMU tcg/tcg.c's allocator, in spirit).

Values are IR globals (guest registers, whose home is their slot of the CPU state buffer, addressed
from ``rbp``) and temps (whose home, when they must leave a register, is a spill slot in the native
stack frame).  The allocator walks the block's ops in order and keeps, for each host register, the
value it holds:

* a global is loaded on first use and then cached; writing it makes the register copy *dirty*, and it
  is written back only when needed: at block exits, before helper calls (which may read any guest
  state or raise a guest exception), on eviction, and at branch points;
* a temp lives in a register from its definition to its last use (computed backwards once), and is
  spilled only when registers run out, around calls, or when it is live across a branch.

Branches inside a block are forward only.  At every branch and label the state is made *canonical*:
dirty globals written back and every live temp in its spill slot, so all paths into a label agree;
after a label nothing is assumed to be in a register.  Blocks are mostly straight-line code, where
values stay in registers.

Fixed registers: ``rbp`` the CPU state buffer, ``rbx`` the guest memory base, ``r14`` the per-vCPU
native context, ``rsp`` the frame.  The other twelve are allocated.
"""

from __future__ import annotations

from collections.abc import Iterable

from .asm import R8, R9, R10, R11, R12, R13, R15, RAX, RBP, RCX, RDI, RDX, RSI, RSP, Assembler, Mem

ALLOCATABLE = (RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11, R12, R13, R15)
_SAVED_FIRST = ALLOCATABLE[::-1]
CALLER_SAVED = frozenset((RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11))
#: spill slots in the frame, then scratch words for call arguments
NSPILL = 1024
NSCRATCH = 16
FRAME = 8 * (NSPILL + NSCRATCH) + 8  # keeps rsp 16-byte aligned at calls (6 pushes + return address)
SCRATCH = 8 * NSPILL


class TooManySpills(Exception):
    """The block needs more spill slots than the frame has (the caller falls back)."""


def last_uses(ops: list[tuple]) -> dict[str, int]:
    """Temp -> index of the last op that reads it (or defines it, if nothing reads it)."""
    out: dict[str, int] = {}
    for i, op in enumerate(ops):
        name = op[0]
        if name in ("set_label", "br", "insn_start"):
            continue
        for v in op[1:]:
            if isinstance(v, str) and v[0] == "t":
                out[v] = i
    return out


class RegAlloc:
    """Where each value is, as code for one block is emitted."""

    def __init__(self, asm: Assembler, slots: dict[str, int], ops: list[tuple]):
        self.asm = asm
        self.slots = slots
        self.last = last = last_uses(ops)
        #: op index -> the temps it uses for the last time (freed after it)
        self.dying: dict[int, list[str]] = {}
        for t, i in last.items():
            self.dying.setdefault(i, []).append(t)
        self.released = -1  # ops up to this index have had their dead temps freed
        self.owner: list[str | None] = [None] * 16
        self.where: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.spill: dict[str, int] = {}  # temp -> its slot (kept while the temp lives)
        self.spill_valid: set[str] = set()  # temps whose slot holds their current value
        self.free_slots: list[int] = []  # slots used before and free again
        self.fresh_slot = 0  # the first slot never used
        self.locked: set[int] = set()
        self.tick = 0
        self.used_at = [0] * 16
        self.index = 0  # the op being emitted

    # -- homes -----------------------------------------------------------------------------------------
    def global_mem(self, g: str) -> Mem:
        return Mem(RBP, 8 * self.slots[g])

    def slot_mem(self, t: str) -> Mem:
        slot = self.spill.get(t)
        if slot is None:
            if self.free_slots:
                slot = self.free_slots.pop()
            elif self.fresh_slot < NSPILL:
                slot = self.fresh_slot
                self.fresh_slot += 1
            else:
                raise TooManySpills
            self.spill[t] = slot
        return Mem(RSP, 8 * slot)

    def home(self, v: str) -> Mem:
        return self.slot_mem(v) if v[0] == "t" else self.global_mem(v)

    def live_after(self, t: str) -> bool:
        return self.last.get(t, -1) > self.index

    # -- register bookkeeping ------------------------------------------------------------------------
    def _touch(self, r: int) -> None:
        self.tick += 1
        self.used_at[r] = self.tick

    def bind(self, v: str, r: int) -> None:
        self.owner[r] = v
        self.where[v] = r
        self._touch(r)

    def unbind(self, r: int) -> None:
        v = self.owner[r]
        if v is not None:
            del self.where[v]
            self.owner[r] = None

    def writeback(self, v: str) -> None:
        """Store ``v``'s register copy to its home if the home is stale."""
        r = self.where[v]
        if v[0] == "t":
            if v not in self.spill_valid:
                self.asm.mov(self.slot_mem(v), r)
                self.spill_valid.add(v)
        elif v in self.dirty:
            self.asm.mov(self.global_mem(v), r)
            self.dirty.discard(v)

    def evict(self, r: int) -> None:
        v = self.owner[r]
        if v is None:
            return
        if v[0] != "t" or self.live_after(v) or self.last.get(v, -1) == self.index:
            self.writeback(v)
        self.unbind(r)

    def alloc(self, avoid: Iterable[int] = (), prefer_saved: bool = False) -> int:
        """A register for a new value (evicting the least recently used if none is free); locked."""
        locked = self.locked
        owner = self.owner
        avoid = set(avoid) | locked if avoid else locked
        for r in _SAVED_FIRST if prefer_saved else ALLOCATABLE:
            if owner[r] is None and r not in avoid:
                locked.add(r)
                self.tick += 1
                self.used_at[r] = self.tick
                return r
        candidates = [r for r in ALLOCATABLE if r not in avoid]
        if not candidates:
            raise RuntimeError("x86_64 backend: no register left to allocate")

        def cost(r: int) -> tuple[int, int]:
            v = self.owner[r]
            kind = 0 if v[0] != "t" and v not in self.dirty else 1 if v[0] != "t" else 2
            return kind, self.used_at[r]

        r = min(candidates, key=cost)
        self.evict(r)
        self.locked.add(r)
        self._touch(r)
        return r

    def take(self, r: int) -> None:
        """Free host register ``r`` (for an instruction that needs it) and lock it."""
        if r in self.locked and self.owner[r] is not None:
            raise RuntimeError(f"x86_64 backend: register {r} needed but locked")
        if self.owner[r] is not None:
            v = self.owner[r]
            # move the value elsewhere if it is still needed, else write it home
            if (v[0] == "t" and self.live_after(v)) or (v[0] != "t" and v in self.dirty):
                new = self.alloc(avoid=(r,))
                self.asm.mov(new, r)
                self.unbind(r)
                self.bind(v, new)
                self.locked.discard(new)
            else:
                self.evict(r)
        self.locked.add(r)

    # -- values ----------------------------------------------------------------------------------------
    def reg(self, v: str) -> int:
        """A register holding value ``v`` (loaded from its home if needed); locked for this op."""
        r = self.where.get(v)
        if r is None:
            r = self.alloc()
            self.asm.mov(r, self.home(v))
            self.bind(v, r)
            if v[0] == "t":
                self.spill_valid.add(v)
        else:
            self._touch(r)
        self.locked.add(r)
        return r

    def define(self, d: str, r: int) -> None:
        """``d`` now lives in ``r`` (its previous register, if another one, is freed)."""
        old = self.where.get(d)
        if old is not None and old != r:
            self.unbind(old)
        if self.owner[r] is not None and self.owner[r] != d:
            self.unbind(r)
        self.bind(d, r)
        if d[0] == "t":
            self.spill_valid.discard(d)
        else:
            self.dirty.add(d)

    def release_dead(self) -> None:
        """After the current op: free the registers and slots of temps it read for the last time."""
        where, spill, dying = self.where, self.spill, self.dying
        for k in range(self.released + 1, self.index + 1):  # ops skipped as unreachable included
            for t in dying.get(k, ()):
                r = where.pop(t, None)
                if r is not None:
                    self.owner[r] = None
                slot = spill.pop(t, None)
                if slot is not None:
                    self.free_slots.append(slot)
                    self.spill_valid.discard(t)
        self.released = self.index

    def begin_op(self, index: int) -> None:
        self.index = index
        self.locked.clear()

    # -- synchronisation points ----------------------------------------------------------------------
    def dirty_pairs(self) -> list[tuple[int, str]]:
        return [(self.where[g], g) for g in sorted(self.dirty)]

    def sync_globals(self) -> None:
        for g in sorted(self.dirty):
            self.asm.mov(self.global_mem(g), self.where[g])
        self.dirty.clear()

    def canonicalize(self) -> None:
        """Globals written back, every temp still live after this op in its slot (moves only: flags
        survive)."""
        self.sync_globals()
        for r in ALLOCATABLE:
            v = self.owner[r]
            if v is not None and v[0] == "t" and self.live_after(v):
                self.writeback(v)

    def forget(self, regs: Iterable[int] = ALLOCATABLE) -> None:
        """Drop what ``regs`` hold (their values must be at home already)."""
        for r in regs:
            self.unbind(r)

    def forget_globals(self, names: Iterable[str]) -> None:
        for g in names:
            r = self.where.get(g)
            if r is not None:
                self.unbind(r)

    def spill_for_call(self) -> None:
        """Before a call: globals written back, live temps in caller-saved registers saved to their
        slots; then the caller-saved registers are forgotten."""
        self.sync_globals()
        for r in CALLER_SAVED:
            v = self.owner[r]
            if v is not None and v[0] == "t" and (self.live_after(v) or self.last.get(v) == self.index):
                self.writeback(v)

    def occupied(self, regs: Iterable[int]) -> list[int]:
        return [r for r in regs if self.owner[r] is not None]


def fits32(v: int) -> bool:
    """Whether the 64-bit constant ``v`` (unsigned) is an x86 sign-extended imm32."""
    return v < 0x80000000 or v >= 0xFFFFFFFF80000000


def as_imm32(v: int) -> int:
    return v - (1 << 64) if v >= 0x8000000000000000 else v

