"""Generated code that faults: a fatal report naming the guest code instead of a bare crash (in the spirit of
QEMU's cpu_abort and its ``-d`` dumps).

A bug in the code generator shows up as a host signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE) raised by an
instruction in the code cache.  The handler installed here looks at the faulting host pc: inside a
code cache it prints which guest instruction and block the code belongs to, the block's IR and the host
code around the fault, and ends the process with status 134 (as QEMU's abort() would); anywhere else
it puts back the handler it displaced (e.g. Python's faulthandler) and returns, so the fault happens
again and is reported as before.

The handler is a ctypes callback run on the faulting thread, which holds the GIL while generated code
runs (it is entered through ``PYFUNCTYPE``), so running Python there is safe enough for a last report.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE)
_SA_SIGINFO = 4
_SA_NODEFER = 0x40000000
#: offsets in the x86-64 Linux ucontext_t (uc_mcontext.gregs) and siginfo_t
_UC_RIP = 40 + 16 * 8
_SI_ADDR = 16


class _SigAction(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_uint64 * 16), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]


_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_libc = ctypes.PyDLL(None, use_errno=True)
_libc.sigaction.argtypes = (ctypes.c_int, ctypes.POINTER(_SigAction), ctypes.POINTER(_SigAction))

#: each live backend's describer: host pc -> report text, or None if the pc is not in its code cache
_describers: list[Callable[[int], str | None]] = []
_previous: dict[int, _SigAction] = {}
_installed: list[Any] = []


def register(describe: Callable[[int], str | None]) -> None:
    """Report faults in a code cache through ``describe`` (installs the handlers on first use)."""
    _describers.append(describe)
    if not _installed:
        handler = _HANDLER_TYPE(_on_fault)
        _installed.append(handler)
        action = _SigAction()
        action.handler = ctypes.cast(handler, ctypes.c_void_p).value
        action.flags = _SA_SIGINFO | _SA_NODEFER
        for signum in SIGNALS:
            old = _SigAction()
            if _libc.sigaction(signum, ctypes.byref(action), ctypes.byref(old)) == 0:
                _previous[signum] = old


def _on_fault(signum: int, info: int, context: int) -> None:
    rip = ctypes.c_uint64.from_address(context + _UC_RIP).value
    for describe in list(_describers):
        report = describe(rip)
        if report is not None:
            addr = ctypes.c_uint64.from_address(info + _SI_ADDR).value
            name = signal.Signals(signum).name
            sys.stderr.write(f"pyqemu: fatal: {name} in generated x86_64 code at host pc 0x{rip:x} "
                             f"(fault address 0x{addr:x})\n{report}\n")
            sys.stderr.flush()
            os._exit(134)
    # not ours: give the signal back to whoever handled it before, and let the instruction fault again
    old = _previous.get(signum)
    if old is not None:
        _libc.sigaction(signum, ctypes.byref(old), None)
