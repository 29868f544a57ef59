"""The linux-user emulator's gdbstub (QEMU's gdbstub.c in user-mode builds: gdbserver_start,
gdb_handlesig; ``-g PORT`` or ``QEMU_GDB``).

The emulator listens on the TCP port (or, given something that is not a number, on that unix socket
path), waits for GDB before the guest's first instruction and serves that one connection.  The guest's
threads are the threads, with their Linux thread ids.  A reader thread takes what GDB sends: packets go
to a queue; Ctrl-C makes the first guest thread that returns to its loop stop with SIGINT.

Whenever a guest thread stops for the debugger (a breakpoint, a watchpoint, a finished single step, a
signal about to be acted on: QEMU's gdb_handlesig) it reports the stop and serves GDB's commands itself
until GDB resumes it, then goes on with the signal GDB chose: the one reported, another one, or none.
One thread at a time talks to GDB.  The process exiting or dying by a signal is reported (``W``, ``X``).

Limits: the other guest threads are not stopped while one talks to GDB (all-stop is what GDB is told);
a guest blocked in a system call sees Ctrl-C when the call returns; a forked child and a program the
guest execs run undebugged (the child drops its copy of the breakpoints, as QEMU's gdbserver_fork
does).
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
from typing import Any

from ..accel.tcg.backend_python import GuestFault
from ..linux_user import signal as sig
from .arch import arch_for
from .points import DebugPoints
from .server import GdbServer, Watch

#: Linux signal numbers (the generic ones riscv64 uses) -> GDB's (gdb/signals.def); real-time signals
#: 32 and 64 are GDB's 77 and 78, 33..63 its 45..75
_TO_GDB = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31, 13: 13, 14: 14,
           15: 15, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16, 24: 24, 25: 25, 26: 26,
           27: 27, 28: 28, 29: 23, 30: 32, 31: 12, 32: 77, 64: 78, **{n: n + 12 for n in range(33, 64)}}
_FROM_GDB = {g: n for n, g in _TO_GDB.items()}
GDB_SIGNAL_UNKNOWN = 143


def to_gdb_signal(signum: int) -> int:
    return _TO_GDB.get(signum, GDB_SIGNAL_UNKNOWN)


def from_gdb_signal(gdb_signum: int) -> int:
    """The Linux signal for GDB's number (0 for none or one Linux does not have)."""
    return _FROM_GDB.get(gdb_signum, 0)


class GdbserverError(Exception):
    """The listening socket could not be opened (the message is what to print first)."""


def _listen(address: str) -> socket.socket:
    """QEMU's gdbserver_open_port / gdbserver_open_socket."""
    if address.isdigit() and int(address) > 0:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        target: Any = ("", int(address) & 0xFFFF)  # the C code truncates the port to 16 bits
        what = "bind"
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address
        what = "bind socket"
        try:
            os.unlink(address)
        except OSError:
            pass
    try:
        sock.bind(target)
        sock.listen(1)
    except OSError as exc:
        sock.close()
        raise GdbserverError(f"{what}: {os.strerror(exc.errno or 0)}") from None
    return sock


class UserGdbStub:
    """Serves GDB for the guest process ``proc``; ``prog`` is the emulator's name for its messages."""

    features = ("qXfer:auxv:read+",)

    def __init__(self, proc: Any, address: str, prog: str):
        self.proc = proc
        self.prog = prog
        self.arch = arch_for(proc.arch.CPU, system=False)
        self.listener = _listen(address)
        self.sock: socket.socket | None = None
        self.server = GdbServer(self, self._write)
        self.packets: queue.Queue[bytes | None] = queue.Queue()
        self.server.on_packet = self.packets.put
        self.lock = threading.RLock()  # held by the guest thread that talks to GDB
        self.send_lock = threading.Lock()
        self.talking = False
        self.interrupted = False  # Ctrl-C came while the guest ran
        self.resume_signal: int | None = None  # set by the command that ends a stop
        self.points = DebugPoints(self._apply_breakpoints, self._apply_watchpoints)
        #: thread id -> why it single-steps ("step", "skip", "watch": see the system stub)
        self.modes: dict[int, str] = {}
        self.watch_hits: dict[int, Watch] = {}
        self.stops = 0  # stops reported so far: a step from before the last one is not reported

    def wait_for_gdb(self) -> None:
        """Block until GDB connects (before the guest starts)."""
        conn, _ = self.listener.accept()
        self.listener.close()
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = conn
        threading.Thread(target=self._read, args=(conn,), name="gdbstub", daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                conn.close()
                self.packets.put(None)
                return
            self.server.receive(data)

    def _write(self, data: bytes) -> None:
        with self.send_lock:
            if self.sock is None:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # GDB went away: the reader sees it too

    # -- the guest's side ------------------------------------------------------------------------------
    def handlesig(self, th: Any, signum: int, watch: Watch = None, own: bool = False) -> int:
        """Thread ``th`` stops for GDB with Linux signal ``signum`` (0: the initial stop, not reported);
        serve GDB until it resumes the thread and return the signal to go on with.  ``own``: the stop
        is the debugger's (a breakpoint, a step, a watchpoint, Ctrl-C), not a signal of the guest's: if
        GDB detaches or goes away, the thread goes on without it."""
        unattended = 0 if own else signum
        with self.lock:
            if self.sock is None:
                return unattended
            tid = th.tid
            self.stops += 1
            self.modes.clear()
            self.watch_hits.clear()
            if signum:
                self.server.report_stop(tid, to_gdb_signal(signum), watch)
            else:
                self.server.stopped(tid)
            self.resume_signal = None
            self.talking = True
            try:
                while self.resume_signal is None:
                    payload = self.packets.get()
                    if payload is None:
                        self._release()
                        break
                    self.server.handle_packet(payload)
            finally:
                self.talking = False
            return unattended if self.sock is None else self.resume_signal

    def step_token(self, th: Any) -> int | None:
        """None when ``th`` runs freely; otherwise it single-steps, and the token goes to
        :meth:`step_done`."""
        return self.stops if th.tid in self.modes else None

    def step_done(self, th: Any, token: int) -> int:
        """``th`` ran its single step: report it unless a stop was reported meanwhile (a signal, another
        thread: GDB has resumed the threads anew since) or it was only stepping over a breakpoint.
        Returns the signal to go on with."""
        with self.lock:
            if self.stops != token:
                return 0
            mode = self.modes.pop(th.tid, None)
            if mode is None or mode == "skip":
                return 0
            return self.handlesig(th, sig.SIGTRAP, self.watch_hits.pop(th.tid, None), own=True)

    def debug_stop(self, th: Any) -> int:
        """``th`` stopped before an instruction: a breakpoint, or a watched access (which then runs as a
        single step before the stop is reported)."""
        with self.lock:  # (another thread may be talking to GDB, which may remove the breakpoint)
            if self.modes.get(th.tid) == "watch" or th.cpu.pc not in self.points.breakpoints:
                return 0
            return self.handlesig(th, sig.SIGTRAP, own=True)

    def interrupt_stop(self, th: Any) -> int:
        """After Ctrl-C (:attr:`interrupted`): the first thread to see it stops with SIGINT."""
        with self.lock:
            if not self.interrupted:
                return 0
            self.interrupted = False
            return self.handlesig(th, sig.SIGINT, own=True)

    def report_exit(self, status: int | None = None, signum: int | None = None) -> None:
        if self.sock is not None:
            self.server.report_exit(status, None if signum is None else to_gdb_signal(signum))

    def forget(self) -> None:
        """In a forked child: let go of the connection and of the debugger's breakpoints."""
        if self.sock is not None:
            self.sock.close()  # the parent keeps its own descriptor
            self.sock = None
        self._clear_debug_state()

    def _release(self) -> None:
        """GDB detached or went away: nothing more is sent (the reader closes the socket when GDB
        does)."""
        self._clear_debug_state()
        self.sock = None

    def _clear_debug_state(self) -> None:
        self.points.clear()
        self.modes.clear()
        self.watch_hits.clear()

    def _check_watch(self, addr: int, size: int, store: bool) -> None:
        tid = threading.get_native_id()
        if self.modes.get(tid) == "watch":
            return  # the access is being finished
        hit = self.points.watchpoints.match(addr, size, store)
        if hit is not None:
            self.watch_hits[tid] = hit
            self.modes[tid] = "watch"
            raise GuestFault(self.proc.arch.CPU.debug_code, addr)

    # -- DebugTarget -------------------------------------------------------------------------------
    def threads(self) -> list[int]:
        return list(self.proc.threads)

    def cpu(self, tid: int) -> Any:
        th = self.proc.threads.get(tid)
        return None if th is None else th.cpu

    def thread_info(self, tid: int) -> str:
        return ""

    def read_memory(self, cpu: Any, addr: int, length: int) -> bytes | None:
        space = self.proc.space
        if not space.range_mapped(addr, length, backed=True):
            return None
        return bytes(space.mm[addr:addr + length])

    def write_memory(self, cpu: Any, addr: int, data: bytes) -> bool:
        space = self.proc.space
        if not space.range_mapped(addr, len(data), backed=True):
            return False
        space.mm[addr:addr + len(data)] = data
        self.proc.tbc.invalidate_range(addr, addr + len(data))
        return True

    def set_breakpoint(self, type_: int, addr: int, length: int, insert: bool) -> bool:
        return self.points.update(type_, addr, length, insert)

    def _apply_breakpoints(self, bps: frozenset[int]) -> None:
        if bps != self.proc.breakpoints:
            self.proc.breakpoints = bps
            self.proc.tbc.flush()  # translations check breakpoints when they are made

    def _apply_watchpoints(self, pages: frozenset[int]) -> None:
        if pages != self.proc.space.watch_pages:
            self.proc.space.set_watch(pages, self._check_watch)

    def resume(self, actions: dict[int, tuple[str, int]]) -> None:
        for tid, (kind, _) in actions.items():
            th = self.proc.threads.get(tid)
            if th is None:
                continue
            if kind == "s":
                self.modes[tid] = "step"
            elif th.cpu.pc in self.points.breakpoints:
                self.modes[tid] = "skip"
        self.resume_signal = from_gdb_signal(actions.get(self.server.cur_tid, ("c", 0))[1])

    def interrupt(self) -> None:
        if not self.talking:
            self.interrupted = True
            self.proc.signals.flag = True  # running code returns to the loop, which sees it

    def detach(self) -> None:
        self._release()
        self.resume_signal = 0

    def kill(self) -> None:
        print(f"{self.prog}: QEMU: Terminated via GDBstub", file=sys.stderr)
        self.report_exit(0)
        self.proc.flush()
        os._exit(0)

    def xfer(self, obj: str, annex: str) -> bytes | None:
        return self.proc.auxv if obj == "auxv" and not annex else None
