"""The system emulator's gdbstub (QEMU's gdbstub.c in system emulation: ``-s``, ``-gdb DEV``).

GDB's connection is a chardev and the stub a main-loop citizen: commands run on the main loop's thread,
between the machine's time slices or while it is stopped.  ``-gdb tcp:[HOST]:PORT`` is a TCP server
socket that does not wait for GDB (QEMU appends ``wait=off,nodelay=on,server=on``); other specs are
chardevs as ``-serial`` takes them (``unix:PATH,server=on,wait=off``, ``chardev:ID``...); ``none``
means no stub.  Each vCPU is a thread, with ids 1..N.

* GDB connecting stops the VM (run state ``paused``).
* ``c``/``s``/``vCont`` resume it.  A vCPU told to step runs one instruction per turn of the machine's
  run loop (``cpu.singlestep``), the others run as usual; a vCPU resumed on a breakpoint steps over it
  first.  Breakpoints and watchpoints stop the VM in the ``debug`` run state, Ctrl-C (or the monitor's
  ``stop``) in ``paused``; the stop reply names the vCPU.
* ``D``, and GDB going away, drop the breakpoints and watchpoints and let the VM run.
* ``k`` ends the emulator with status 0 ("QEMU: Terminated via GDBstub"); the guest powering the
  machine off is reported as the process exiting (``W``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..accel.tcg.backend_python import GuestFault
from ..accel.tcg.tb_system import EXIT_DEBUG
from ..chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED
from ..chardev.registry import ChardevError, parse_serial_spec
from .arch import arch_for
from .points import DebugPoints
from .server import GDB_SIGNAL_INT, GDB_SIGNAL_TRAP, GdbServer, Watch

PAGE_SIZE = 4096
#: what ``-s`` stands for
DEFAULT_DEVICE = "tcp::1234"


def gdb_chardev_opts(spec: str) -> dict[str, str] | None:
    """The chardev options of ``-gdb spec`` (None for ``none``; ``{"chardev": ID}`` for ``chardev:ID``).
    Raises ChardevError."""
    if spec == "none":
        return None
    device = spec + ",wait=off,nodelay=on,server=on" if spec.startswith("tcp:") else spec  # later options win
    try:
        opts, _ = parse_serial_spec(device, "gdb")
    except ChardevError as exc:
        if "could not connect serial device" in str(exc):
            raise ChardevError(f"'{spec}' is not a valid char driver") from None
        raise
    if not opts:
        raise ChardevError(f"'{spec}' is not a valid char driver")
    return opts


class SystemGdbStub:
    """Serves GDB on ``chardev`` for ``machine``; ``report`` prints the emulator's messages."""

    features: tuple[str, ...] = ()

    def __init__(self, machine: Any, chardev: Any, report: Callable[[str], None]):
        self.machine = machine
        self.chardev = chardev
        self.report = report
        self.cpus: list[Any] = machine.cpus
        self.arch = arch_for(type(self.cpus[0]), system=True)
        self.points = DebugPoints(self._apply_breakpoints, self._apply_watchpoints)
        #: vCPU index -> why it single-steps: "step" (GDB asked), "skip" (over a breakpoint it was
        #: resumed on), "watch" (finishing a watched access before the stop is reported)
        self.modes: dict[int, str] = {}
        self.watch_hits: dict[int, Watch] = {}
        self.stop_info: tuple[int, int, Watch] | None = None  # (tid, signal, watch) of the coming stop
        self.waiting = False  # GDB resumed the VM and waits for a stop reply
        self.connected = False
        self.killed = False
        self._checks = [self._watch_check(i, cpu) for i, cpu in enumerate(self.cpus)]
        self.server = GdbServer(self, chardev.write)
        machine.debug_handler = self._on_debug
        machine.state_listeners.append(self._on_state)
        machine.event_listeners.append(self._on_event)
        chardev.set_handlers(lambda: 4096, self._receive, self._on_chr_event)

    # -- connection --------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        self.server.receive(data)

    def _on_chr_event(self, event: int) -> None:
        if event == CHR_EVENT_OPENED:
            self.connected = True
            self.server = GdbServer(self, self.chardev.write)
            self.server.stopped(1)
            self.machine.stop()
        elif event == CHR_EVENT_CLOSED and self.connected:
            self.connected = False
            self._release()

    def _release(self) -> None:
        """GDB detached or went away: no more breakpoints, watchpoints or steps; the VM runs."""
        self.points.clear()
        self._clear_steps()
        self.waiting = False
        if self.machine.shutdown_code is None:
            self.machine.cont()

    def _on_event(self, name: str, data: Any) -> None:
        if name == "SHUTDOWN" and self.connected and not self.killed:
            self.server.report_exit(self.machine.shutdown_code)

    # -- stops -------------------------------------------------------------------------------------
    def _on_debug(self, cpu: Any, status: int) -> None:
        """The run loop's report: ``cpu`` reached a breakpoint or watched access (EXIT_DEBUG) or
        finished a single step (EXIT_STEP)."""
        i = self.cpus.index(cpu)
        mode = self.modes.get(i)
        if status == EXIT_DEBUG:
            if mode != "watch":  # a watched access runs as a single step at the vCPU's next turn
                self._stop(i + 1, GDB_SIGNAL_TRAP)
            return
        self._set_mode(i, None)
        if mode != "skip":
            self._stop(i + 1, GDB_SIGNAL_TRAP, self.watch_hits.pop(i, None))

    def _stop(self, tid: int, signal: int, watch: Watch = None, state: str = "debug") -> None:
        self.stop_info = (tid, signal, watch)
        self.machine.stop(state)

    def _on_state(self, running: bool) -> None:
        if running or not self.waiting:
            return
        self.waiting = False
        tid, signal, watch = self.stop_info or (self.server.cur_tid, GDB_SIGNAL_INT, None)
        self.stop_info = None
        self._clear_steps()
        self.server.report_stop(tid, signal, watch)

    def _set_mode(self, index: int, mode: str | None) -> None:
        if mode is None:
            self.modes.pop(index, None)
        else:
            self.modes[index] = mode
        self.cpus[index].singlestep = mode is not None

    def _clear_steps(self) -> None:
        for i in list(self.modes):
            self._set_mode(i, None)
        self.watch_hits.clear()

    # -- DebugTarget -------------------------------------------------------------------------------
    def threads(self) -> list[int]:
        return list(range(1, len(self.cpus) + 1))

    def cpu(self, tid: int) -> Any:
        return self.cpus[tid - 1] if 1 <= tid <= len(self.cpus) else None

    def thread_info(self, tid: int) -> str:
        return f"CPU#{tid - 1} [{'halted ' if self.cpus[tid - 1].halted else 'running'}]"

    def _pages(self, cpu: Any, addr: int, length: int) -> list[tuple[int, int, int]] | None:
        """(physical address, offset in the buffer, length) of each page of a virtual range, or None
        when part of it is not mapped to anything."""
        out = []
        done = 0
        while done < length:
            chunk = min(length - done, PAGE_SIZE - (addr + done) % PAGE_SIZE)
            paddr = self.arch.phys_addr(cpu, addr + done)
            if paddr is None or cpu.space.find(paddr) is None:
                return None
            out.append((paddr, done, chunk))
            done += chunk
        return out

    def read_memory(self, cpu: Any, addr: int, length: int) -> bytes | None:
        pages = self._pages(cpu, addr, length)
        if pages is None:
            return None
        return b"".join(cpu.space.read_bytes(paddr, n) for paddr, _, n in pages)

    def write_memory(self, cpu: Any, addr: int, data: bytes) -> bool:
        pages = self._pages(cpu, addr, len(data))
        if pages is None:
            return False
        for paddr, offset, n in pages:
            cpu.space.write_bytes(paddr, data[offset:offset + n], rom=True)  # drops translations there
        return True

    def set_breakpoint(self, type_: int, addr: int, length: int, insert: bool) -> bool:
        return self.points.update(type_, addr, length, insert)

    def _apply_breakpoints(self, bps: frozenset[int]) -> None:
        if bps != self.cpus[0].breakpoints:
            for cpu in self.cpus:
                cpu.breakpoints = bps
            self.machine.tbc.flush()  # translations check breakpoints when they are made

    def _apply_watchpoints(self, pages: frozenset[int]) -> None:
        for cpu, check in zip(self.cpus, self._checks, strict=True):
            if pages != cpu.mmu.watch_pages:
                cpu.mmu.set_watch(pages, check)

    def _watch_check(self, index: int, cpu: Any) -> Callable[[int, int, bool], None]:
        def check(vaddr: int, size: int, store: bool) -> None:
            if self.modes.get(index) == "watch":
                return  # the access is being finished
            hit = self.points.watchpoints.match(vaddr, size, store)
            if hit is not None:
                self.watch_hits[index] = hit
                self._set_mode(index, "watch")
                raise GuestFault(cpu.debug_code, vaddr)
        return check

    def resume(self, actions: dict[int, tuple[str, int]]) -> None:
        self.stop_info = None
        breakpoints = self.points.breakpoints
        for i, cpu in enumerate(self.cpus):
            kind, _ = actions.get(i + 1, ("c", 0))
            self._set_mode(i, "step" if kind == "s" else "skip" if cpu.pc in breakpoints else None)
        self.waiting = True
        self.machine.cont()

    def interrupt(self) -> None:
        if self.waiting and self.machine.running:
            self._stop(self.server.cur_tid, GDB_SIGNAL_INT, state="paused")

    def detach(self) -> None:
        self._release()

    def kill(self) -> None:
        self.report("QEMU: Terminated via GDBstub")
        self.killed = True
        self.machine.request_shutdown(0, "host-ui")

    def xfer(self, obj: str, annex: str) -> bytes | None:
        return None
