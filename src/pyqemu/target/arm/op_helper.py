"""Helpers called from translated A64 code (Arm ARM DDI 0487): the store-exclusive half of the local
exclusive monitor (B2.9 "Synchronization and semaphores"), the LSE atomic read-modify-write
instructions and compare-and-swap (C3.2.12, C6 CAS/CASP/LD<op>/SWP), alignment faults of ordered,
exclusive and atomic accesses (B2.5.2), RBIT and the virtual counter CNTVCT_EL0 (D11 "The Generic
Timer").  Each is wrapped in an IR Helper by :func:`make_helpers`.

The monitor is kept by translated code in the ``excl_*`` globals (a load-exclusive records the address
and the value it read); a store-exclusive succeeds when its address is the recorded one and memory
still holds the recorded value, checked and written under the address space's atomic lock.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.ir import MO_64, Helper
from .cpu import CNTFRQ_HZ, EXCP_UNALIGNED, SLOT_CASP_HI

_ATOMIC_OPS = {
    "ldadd": lambda old, v, size: old + v,
    "ldclr": lambda old, v, size: old & ~v,
    "ldeor": lambda old, v, size: old ^ v,
    "ldset": lambda old, v, size: old | v,
    "ldsmax": lambda old, v, size: old if _sext(old, size) >= _sext(v, size) else v,
    "ldsmin": lambda old, v, size: old if _sext(old, size) <= _sext(v, size) else v,
    "ldumax": lambda old, v, size: max(old, v),
    "ldumin": lambda old, v, size: min(old, v),
    "swp": lambda old, v, size: v,
}


def _mask(size: int) -> int:
    return (1 << (8 << size)) - 1


def _sext(value: int, size: int) -> int:
    bits = 8 << size
    return value - (1 << bits) if value >> (bits - 1) else value


def _check_align(addr: int, nbytes: int) -> None:
    if addr & (nbytes - 1):
        raise GuestFault(EXCP_UNALIGNED, addr)


def align_fault(addr: int) -> None:
    """Translated code checks alignment inline and calls this on a misaligned address."""
    raise GuestFault(EXCP_UNALIGNED, addr)


def rbit(value: int, width: int) -> int:
    """RBIT: the low ``width`` bits of ``value`` in reverse order."""
    return int(format(value & ((1 << width) - 1), f"0{width}b")[::-1], 2)


def cntvct() -> int:
    """CNTVCT_EL0: the host's monotonic clock in ticks of CNTFRQ_EL0."""
    return time.monotonic_ns() * CNTFRQ_HZ // 1_000_000_000


def make_helpers(space: Any, lock: Any, threaded: bool = True) -> dict[str, Helper]:
    """Helpers bound to an address space ``space`` (``ld``, ``ld_rmw`` and ``st`` with memops) and
    the atomic ``lock``.  ``threaded``: vCPUs run on host threads (user mode), so a failed
    store-exclusive or compare-and-swap yields the interpreter to them (the guest is most likely
    spinning on a lock another thread holds)."""

    def stxr(addr: int, value: int, size: int, excl_addr: int, excl_val: int) -> int:
        _check_align(addr, 1 << size)
        ok = False
        if addr == excl_addr:
            with lock:
                if space.ld_rmw(addr, size) == excl_val & _mask(size):
                    space.st(addr, value, size)
                    ok = True
        if not ok and threaded:
            time.sleep(0)
        return 0 if ok else 1

    def stxp(addr: int, value: int, value2: int, excl_addr: int, excl_val: int, excl_val2: int) -> int:
        """STXP of two doublewords (a pair of words goes through ``stxr`` as one doubleword)."""
        _check_align(addr, 16)
        ok = False
        if addr == excl_addr:
            with lock:
                if space.ld_rmw(addr, MO_64) == excl_val and space.ld_rmw(addr + 8, MO_64) == excl_val2:
                    space.st(addr, value, MO_64)
                    space.st(addr + 8, value2, MO_64)
                    ok = True
        if not ok and threaded:
            time.sleep(0)
        return 0 if ok else 1

    def cas(addr: int, expected: int, new: int, size: int) -> int:
        _check_align(addr, 1 << size)
        with lock:
            old = space.ld_rmw(addr, size)
            if old == expected & _mask(size):
                space.st(addr, new, size)
        return old

    def casp(cpu: Any, addr: int, expected: int, expected2: int, new: int, new2: int) -> int:
        """CASP of two doublewords: returns the old first one, the old second one goes to the
        ``casp_hi`` global (a pair of words goes through ``cas`` as one doubleword)."""
        _check_align(addr, 16)
        with lock:
            old = space.ld_rmw(addr, MO_64)
            old2 = space.ld_rmw(addr + 8, MO_64)
            if old == expected and old2 == expected2:
                space.st(addr, new, MO_64)
                space.st(addr + 8, new2, MO_64)
        cpu.R[SLOT_CASP_HI] = old2
        return old

    def atomic(op: Any, addr: int, value: int, size: int) -> int:
        _check_align(addr, 1 << size)
        mask = _mask(size)
        with lock:
            old = space.ld_rmw(addr, size)
            space.st(addr, op(old, value & mask, size) & mask, size)
        return old

    helpers = {
        "align_fault": Helper("align_fault", align_fault, pass_cpu=False),
        "rbit": Helper("rbit", rbit, pure=True, pass_cpu=False),
        "cntvct": Helper("cntvct", cntvct, pass_cpu=False),
        "stxr": Helper("stxr", stxr, pass_cpu=False),
        "stxp": Helper("stxp", stxp, pass_cpu=False),
        "cas": Helper("cas", cas, pass_cpu=False),
        "casp": Helper("casp", casp, writes=("casp_hi",)),
    }
    for name, fn in _ATOMIC_OPS.items():
        helpers[name] = Helper(name, functools.partial(atomic, fn), pass_cpu=False)
    return helpers
