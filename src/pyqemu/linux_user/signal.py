"""Guest signal state and delivery (QEMU linux-user/signal.c; signal(7)).

Dispositions are per process, blocked masks and queues per thread.  Host signals that the guest
handles are caught by a host handler and queued; faults in translated code are queued synchronously.
The execution loop calls :meth:`SignalState.next_deliverable` between blocks of guest work and asks
the architecture layer to build the signal frame.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal as host_signal
import struct
import sys
import threading
from collections import deque
from dataclasses import dataclass

NSIG = 64
SIG_DFL, SIG_IGN = 0, 1

SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO = 1, 2, 4
SA_ONSTACK, SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x08000000, 0x10000000, 0x40000000, 0x80000000
SA_RESTORER = 0x04000000
SS_ONSTACK, SS_DISABLE = 1, 2

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG = 17, 18, 19, 20, 21, 22, 23
SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 24, 25, 26, 27, 28, 29, 30, 31

SI_USER, SI_TKILL, SI_KERNEL = 0, -6, 0x80
SEGV_MAPERR, SEGV_ACCERR, BUS_ADRALN, BUS_ADRERR, ILL_ILLOPC, TRAP_BRKPT = 1, 2, 1, 2, 1, 1

_CORE = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS}
_IGNORE = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT}
_STOP = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}
#: signals pyqemu never takes over from the host (it needs them itself or cannot catch them)
_HOST_RESERVED = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE}


def sig_name(sig: int) -> str:
    try:
        return host_signal.strsignal(sig) or f"Signal {sig}"
    except ValueError:
        return f"Real-time signal {sig - 34}" if sig >= 34 else f"Unknown signal {sig}"


def siginfo(sig: int, code: int, *, addr: int | None = None, pid: int = 0, uid: int = 0,
            status: int = 0) -> bytes:
    """A 128-byte ``siginfo_t`` (64-bit layout)."""
    head = struct.pack("<iii4x", sig, 0, code)
    if addr is not None:
        body = struct.pack("<Q", addr)
    elif sig == SIGCHLD:
        body = struct.pack("<iIi", pid, uid, status)
    else:
        body = struct.pack("<iI", pid, uid)
    return (head + body).ljust(128, b"\0")


SIGRTMIN = 32


def queue(q: deque[tuple[int, bytes]], sig: int, info: bytes) -> None:
    """Queue a signal: standard signals are not queued twice (they coalesce), real-time ones are.

    The host handler calls this between any two bytecodes of the emulator, even inside another
    call of it: it and the readers look at a copy of the queue (made in one C call), never iterate
    over the queue itself.
    """
    if sig < SIGRTMIN and any(s == sig for s, _ in tuple(q)):
        return
    q.append((sig, info))


@dataclass
class Action:
    handler: int = SIG_DFL
    flags: int = 0
    mask: int = 0


class ThreadSignals:
    """Per-thread signal state."""

    def __init__(self, blocked: int = 0):
        self.blocked = blocked
        self.pending: deque[tuple[int, bytes]] = deque()
        self.altstack = (0, 2, 0)  # sp, flags (SS_DISABLE), size
        self.in_sigsuspend_mask: int | None = None


class SignalState:
    """Process-wide dispositions plus the queue of signals that arrived from the host."""

    def __init__(self, ignored: int = 0) -> None:
        self.actions = [Action() for _ in range(NSIG + 1)]
        for s in range(1, NSIG + 1):
            self.set_action(s, Action(SIG_IGN if ignored >> (s - 1) & 1 else SIG_DFL))
        self.host_pending: deque[tuple[int, bytes]] = deque()
        self.flag = False  # something is pending somewhere: checked by the exec loop
        self.lock = threading.Lock()

    # -- dispositions ---------------------------------------------------------------------------
    def set_action(self, sig: int, act: Action) -> None:
        self.actions[sig] = act
        if sig in _HOST_RESERVED or not 1 <= sig < SIGRTMIN:
            return
        try:
            if act.handler == SIG_IGN:
                host_signal.signal(sig, host_signal.SIG_IGN)
            elif sig == SIGPIPE:
                # writes to a broken pipe fail with EPIPE and the syscall layer raises SIGPIPE
                host_signal.signal(sig, host_signal.SIG_IGN)
            elif act.handler == SIG_DFL and self.default_action(sig) in ("term", "core"):
                # the host kernel ends the process at once, even inside a blocking call
                host_signal.signal(sig, host_signal.SIG_DFL)
            else:
                # guest handlers (and default ignore/stop actions) run in the emulator's own time;
                # a blocking host call is interrupted so the guest handler can run (and the call be
                # restarted afterwards when the guest asked for SA_RESTART)
                host_signal.signal(sig, self._host_handler)
                host_signal.siginterrupt(sig, act.handler != SIG_DFL)  # SA_RESTART: see cpu_loop
        except (OSError, ValueError):
            pass

    def _host_handler(self, signum: int, frame: object) -> None:
        info = siginfo(signum, SI_USER)
        if signum == SIGCHLD:
            try:  # who changed state: peek without reaping (the guest's wait4 reaps)
                w = os.waitid(os.P_ALL, 0, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                w = None
            if w is not None:
                info = struct.pack("<iii4xiIi", signum, 0, w.si_code, w.si_pid, w.si_uid,
                                   w.si_status).ljust(128, b"\0")
        queue(self.host_pending, signum, info)
        self.flag = True

    def queue_host(self, sig: int, info: bytes) -> None:
        queue(self.host_pending, sig, info)
        self.flag = True

    def default_action(self, sig: int) -> str:
        if sig in _IGNORE:
            return "ignore"
        if sig in _STOP:
            return "stop"
        if sig in _CORE:
            return "core"
        return "term"

    # -- selection --------------------------------------------------------------------------------
    def next_deliverable(self, ts: ThreadSignals) -> tuple[int, bytes] | None:
        """Pop the next signal this thread should act on (thread queue first, then process queue)."""
        for q in (ts.pending, self.host_pending):
            for i, (sig, info) in enumerate(tuple(q)):  # the host handler only appends
                if not (ts.blocked >> (sig - 1)) & 1 or sig in (SIGKILL, SIGSTOP):
                    del q[i]
                    return sig, info
        self.flag = bool(self.host_pending)
        return None

    def ignored_mask(self) -> int:
        return sum(1 << (s - 1) for s in range(1, NSIG + 1) if self.actions[s].handler == SIG_IGN)

    def pending_mask(self, ts: ThreadSignals) -> int:
        m = 0
        for sig, _ in list(ts.pending) + list(self.host_pending):
            m |= 1 << (sig - 1)
        return m


def die_by_signal(sig: int, flush=None) -> None:
    """End this process the way the guest would have ended: by ``sig`` (QEMU's dump_core_and_abort)."""
    if sig in _CORE:
        # QEMU reports the signals that dump core (it writes a guest core file; pyqemu does not)
        print(f"pyqemu: uncaught target signal {sig} ({sig_name(sig)}) - exiting", file=sys.stderr,
              flush=True)
    if flush:
        flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if 1 <= sig < host_signal.NSIG and sig not in (SIGKILL, SIGSTOP):
        ctypes.CDLL(None).signal(sig, SIG_DFL)  # works from any thread, unlike signal.signal
        host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
    os._exit(128 + sig)


# -- what every target's signal frame does (the generic parts of the kernels' setup_rt_frame) ---------

def frame_stack(ts: ThreadSignals, act: Action, sp: int) -> tuple[int, bool]:
    """The stack the frame goes on: the alternate stack when the action asks for it and the thread is
    not already on it (sigaltstack(2)); returns (top of stack, whether it is the alternate stack)."""
    ss_sp, ss_flags, ss_size = ts.altstack
    on_alt = bool(ss_size and ss_sp <= sp < ss_sp + ss_size)
    if act.flags & SA_ONSTACK and not ss_flags & SS_DISABLE and ss_size and not on_alt:
        sp = ss_sp + ss_size
    return sp, on_alt


def ucontext_head(ts: ThreadSignals, on_alt: bool, size: int) -> bytes:
    """uc_flags, uc_link, uc_stack and uc_sigmask (the mask to restore), padded to ``size`` bytes (the
    offset of the target's machine context)."""
    ss_sp, ss_flags, ss_size = ts.altstack
    saved_mask = ts.in_sigsuspend_mask if ts.in_sigsuspend_mask is not None else ts.blocked
    head = struct.pack("<QQQiiQQ", 0, 0, ss_sp, SS_ONSTACK if on_alt else ss_flags, 0, ss_size, saved_mask)
    return head.ljust(size, b"\0")


def enter_handler(st: SignalState, ts: ThreadSignals, signum: int, act: Action) -> None:
    """Block what the handler runs with, and reset a one-shot (SA_RESETHAND) action."""
    ts.blocked |= act.mask | (0 if act.flags & SA_NODEFER else 1 << (signum - 1))
    ts.in_sigsuspend_mask = None
    if act.flags & SA_RESETHAND:
        st.set_action(signum, Action())


def restore_mask(st: SignalState, ts: ThreadSignals, mask: int) -> None:
    """rt_sigreturn's mask (SIGKILL and SIGSTOP cannot be blocked); pending signals are looked at
    again."""
    ts.blocked = mask & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)))
    st.flag = True
