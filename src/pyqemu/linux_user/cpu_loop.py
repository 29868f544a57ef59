"""The CPU loop of user-mode emulation, shared by the targets (QEMU linux-user/*/cpu_loop.c and
linux-user/signal.c): run guest code, turn system-call exits into calls of the generic system call layer
(restarting them after a signal handler when SA_RESTART asks for it), turn faults into synchronous
signals, deliver pending signals through the target's frame layout, and let an attached debugger see
each stop and signal first.

A target module provides: ``EXCP_SYSCALL`` and ``EXCP_DEBUG`` (its exit codes), ``SYSCALL_NR``,
``SYSCALL_ARGS``, ``SYSCALL_RET`` (register slots of the call number, the six arguments, the result),
``SYSCALL_NEXT`` (what to add to the exit's pc to get past the 4-byte system call instruction: 4 when the
exit reports the instruction, 0 when it reports the next one), ``FAULT_SIGNALS`` (exit code -> signal,
si_code and whether the fault address is the pc or the exit's value), ``handle_exit`` (its other exits;
False: a fault), ``interrupt_log`` (the ``-d int`` line) and ``setup_frame`` (the signal frame).
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from ..accel.tcg.cpu_exec import cpu_exec, cpu_step
from . import signal as sig

if TYPE_CHECKING:
    from .process import Process, Thread


def cpu_loop(proc: Process, th: Thread) -> None:
    """Run the thread's guest code, handling what makes it leave translated code.  With a debugger
    attached (``proc.gdb``), a thread it single-steps runs one instruction per round, and stops for it
    (breakpoints, watchpoints, completed steps, Ctrl-C, signals) go through its ``handlesig``."""
    cpu = th.cpu
    R = cpu.R
    sigs = proc.signals
    tbc = proc.tbc
    syscalls = proc.syscalls
    gdb = proc.gdb
    arch = proc.arch
    excp_syscall, excp_debug = arch.EXCP_SYSCALL, arch.EXCP_DEBUG
    nr_reg, ret_reg = arch.SYSCALL_NR, arch.SYSCALL_RET
    arg_regs = arch.SYSCALL_ARGS
    syscall_next = arch.SYSCALL_NEXT

    thread_pending = th.signals.pending

    def stop() -> bool:
        return sigs.flag or bool(thread_pending)

    while True:
        step = gdb.step_token(th) if gdb is not None else None
        if step is None:
            code, pc, tval = cpu_exec(cpu, tbc, stop)
        else:
            code, pc, tval = cpu_step(cpu, tbc)
        if code == excp_syscall:
            cpu.pc = next_pc = pc + syscall_next
            args = [R[i] for i in arg_regs]
            ret = syscalls.dispatch(th, R[nr_reg], args)
            if ret is not None:
                R[ret_reg] = ret
                if ret == EINTR_RET and restartable(proc, th):
                    R[ret_reg] = args[0]  # SA_RESTART: run the call again after the handler returns
                    cpu.pc = next_pc - 4
        elif code == excp_debug:
            _gdb_resumed(proc, th, gdb.debug_stop(th))
        elif code >= 0 and not arch.handle_exit(proc, th, code, pc, tval):
            if proc.log.enabled("int"):
                proc.log.write(arch.interrupt_log(code, pc, tval))
            signum, si_code, addr_kind = arch.FAULT_SIGNALS.get(code, (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"))
            addr = pc if addr_kind == "pc" else tval
            force_signal(proc, th, signum, sig.siginfo(signum, si_code, addr=addr))
        if sigs.flag or thread_pending:
            if gdb is not None and gdb.interrupted:
                _gdb_resumed(proc, th, gdb.interrupt_stop(th))
            process_pending_signals(proc, th)
        if step is not None:
            _gdb_resumed(proc, th, gdb.step_done(th, step))


def _gdb_resumed(proc: Process, th: Thread, signum: int) -> None:
    """The debugger resumed the thread with ``signum`` (0: none) after a stop of its own."""
    if signum:
        force_signal(proc, th, signum, sig.siginfo(signum, sig.SI_KERNEL), report=False)


def _gdb_filter(proc: Process, th: Thread, signum: int, info: bytes) -> tuple[int, bytes] | None:
    """A signal about to be acted on is first reported to the debugger, which decides what the thread
    gets instead (QEMU's gdb_handlesig): the same signal, another one, or None."""
    if proc.gdb is None:
        return signum, info
    new = proc.gdb.handlesig(th, signum)
    if not new:
        return None
    return (signum, info) if new == signum else (new, sig.siginfo(new, sig.SI_USER))


def _die(proc: Process, signum: int) -> None:
    if proc.gdb is not None:
        proc.gdb.report_exit(signum=signum)
    sig.die_by_signal(signum, proc.flush)


EINTR_RET = (1 << 64) - 4  # -EINTR


def restartable(proc: Process, th: Thread) -> bool:
    """Whether the next signal to deliver asks for interrupted system calls to be restarted."""
    ts = th.signals
    for q in (ts.pending, proc.signals.host_pending):
        for signum, _info in q:
            if not ts.blocked >> (signum - 1) & 1:
                act = proc.signals.actions[signum]
                return act.handler > sig.SIG_IGN and bool(act.flags & sig.SA_RESTART)
    return False


def force_signal(proc: Process, th: Thread, signum: int, info: bytes, report: bool = True) -> None:
    """A synchronous fault: delivered now; blocked or ignored means the process dies (as in Linux).
    ``report``: the debugger hears of it first."""
    if report:
        item = _gdb_filter(proc, th, signum, info)
        if item is None:
            return
        signum, info = item
    act = proc.signals.actions[signum]
    if th.signals.blocked >> (signum - 1) & 1 or act.handler == sig.SIG_IGN:
        _die(proc, signum)
    deliver(proc, th, signum, info)


def process_pending_signals(proc: Process, th: Thread) -> None:
    while True:
        item = proc.signals.next_deliverable(th.signals)
        if item is None:
            break
        item = _gdb_filter(proc, th, *item)
        if item is not None:
            deliver(proc, th, *item)
    th.signals.in_sigsuspend_mask = None


def deliver(proc: Process, th: Thread, signum: int, info: bytes) -> None:
    st = proc.signals
    act = st.actions[signum]
    if act.handler == sig.SIG_IGN:
        return
    if act.handler == sig.SIG_DFL:
        what = st.default_action(signum)
        if what == "stop":
            proc.flush()
            os.kill(os.getpid(), signal.SIGSTOP)
            return
        if what == "ignore":
            return
        _die(proc, signum)
    proc.arch.setup_frame(proc, th, signum, info, act)
