"""Helpers called from translated RISC-V code: atomics (A extension, ch. 8), LR/SC reservations and
the user-level counters (Zicntr).  Each is wrapped in an IR Helper by :func:`make_helpers`."""

from __future__ import annotations

import functools
import time
from typing import Any

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.ir import MASK64, SIGN, Helper, signed
from .cpu import EXCP_LOAD_ADDR_MIS, EXCP_STORE_ADDR_MIS, RES_NONE, SLOT_ICOUNT, SLOT_RES_ADDR, SLOT_RES_VAL

TIMEBASE_HZ = 10_000_000  # as QEMU's virt board advertises

_AMO_OPS = {
    "swap": lambda old, v: v,
    "add": lambda old, v: old + v,
    "xor": lambda old, v: old ^ v,
    "and": lambda old, v: old & v,
    "or": lambda old, v: old | v,
    "min": lambda old, v: old if signed(old) < signed(v) else v,
    "max": lambda old, v: old if signed(old) > signed(v) else v,
    "minu": lambda old, v: min(old, v),
    "maxu": lambda old, v: max(old, v),
}


_MASKS = {2: 0xFFFFFFFF, 3: MASK64}


def _sext_mem(value: int, memop: int) -> int:
    if memop & 3 == 2:
        value &= 0xFFFFFFFF
        return ((value ^ 0x80000000) - 0x80000000) & MASK64
    return value & MASK64


def make_helpers(space: Any, lock: Any, space_of: Any = None, threaded: bool = True) -> dict[str, Helper]:
    """Helpers bound to an address space ``space`` (``ld``/``st``, and optionally ``ld_rmw``: a load
    that faults as a store, as an AMO does) and the atomic ``lock``.  In system mode each vCPU reaches
    memory through its own MMU: pass ``space_of(cpu)`` instead of ``space``.  ``threaded``: vCPUs run
    on host threads (user mode), so a contended atomic yields the interpreter to them."""
    if space_of is None:
        def space_of(cpu: Any) -> Any:
            return space

    def amo(op: str, cpu: Any, addr: int, value: int, memop: int) -> int:
        size = 1 << (memop & 3)
        if addr & (size - 1):
            raise GuestFault(EXCP_STORE_ADDR_MIS, addr)
        R = cpu.R
        mem = space_of(cpu)
        with lock:
            old = mem.ld_rmw(addr, memop & ~SIGN)
            if op == "sc":
                ok = R[SLOT_RES_ADDR] == addr and R[SLOT_RES_VAL] == old
                R[SLOT_RES_ADDR] = RES_NONE
                if ok:
                    mem.st(addr, value, memop)
            else:
                old_ext = _sext_mem(old, memop)
                new = _AMO_OPS[op](old_ext, _sext_mem(value, memop))
                mem.st(addr, new, memop)
                ok = new & _MASKS[memop & 3] != old
        if not ok and threaded:
            # a failed SC, or an AMO that changed nothing (e.g. test-and-set of a held lock): the
            # guest is most likely spinning on another thread, so let that thread run
            time.sleep(0)
        if op == "sc":
            return 0 if ok else 1
        return old_ext

    def lr(cpu: Any, addr: int, memop: int) -> int:
        size = 1 << (memop & 3)
        if addr & (size - 1):
            raise GuestFault(EXCP_LOAD_ADDR_MIS, addr)
        with lock:
            raw = space_of(cpu).ld(addr, memop & ~SIGN)
        cpu.R[SLOT_RES_ADDR] = addr
        cpu.R[SLOT_RES_VAL] = raw
        return _sext_mem(raw, memop)

    def rdtime(cpu: Any) -> int:
        return time.monotonic_ns() * TIMEBASE_HZ // 1_000_000_000

    def rdinstret(cpu: Any) -> int:
        return cpu.R[SLOT_ICOUNT]

    reservation = ("res_addr", "res_val")
    helpers = {f"amo_{op}": Helper(f"amo_{op}", functools.partial(amo, op), reads=reservation,
                                   writes=reservation) for op in (*_AMO_OPS, "sc")}
    return helpers | {
        "lr": Helper("lr", lr, writes=reservation),
        "rdtime": Helper("rdtime", rdtime),
        "rdinstret": Helper("rdinstret", rdinstret),
    }
