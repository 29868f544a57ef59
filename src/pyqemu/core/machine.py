"""The machine core: vCPUs, the virtual clock, the main loop and run state (QEMU softmmu/vl.c,
runstate.c, cpus.c).

:meth:`Machine.run` interleaves the vCPUs (round-robin on this thread, a time slice each) with the
main loop: expired timers, ready file descriptors and bottom halves.  When every vCPU waits for an
interrupt it sleeps until the next timer deadline or I/O.  Shutdown and reset are *requests*, acted on
between slices, as in QEMU.

The run state (QMP's RunState: ``prelaunch``, ``running``, ``paused``, ``debug``, ``shutdown``...) and
the events the monitors report (STOP, RESUME, RESET, SHUTDOWN, POWERDOWN; QEMU's qapi/run-state.json)
come from here: each event goes to every callable in :attr:`Machine.event_listeners` as ``(name,
data)``.  Requests carry QEMU's ShutdownCause spelling (``guest-shutdown``, ``host-qmp-quit``,
``host-signal``...).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

from ..accel.tcg.tb_system import EXIT_DEBUG, cpu_exec_system, cpu_step_system
from .clock import VirtualClock
from .main_loop import MainLoop

#: guest instructions a vCPU runs before the others and the main loop get a turn (about 20 ms here;
#: QEMU's round-robin TCG kicks every 100 ms).  Timers are looked at between slices, so a longer slice
#: also coalesces the guest's timer ticks, which cost a slow CPU a large share of its time.
SLICE = 1 << 16
#: at most this long (seconds) between two looks at file descriptors while vCPUs are busy
IO_POLL_INTERVAL = 0.01
#: the collector's thresholds while TCG runs: translation makes millions of small objects, most of which
#: live as long as their translation; with the middle generation collected only every 200 young
#: collections (10 million allocations) the objects that die meanwhile are never scanned there (a Linux
#: boot: one 0.7 s collection with 50, none with 200)
GC_THRESHOLDS = (50_000, 200, 1000)
#: with vCPU threads, the main loop looks at timers at least this often (seconds): a vCPU thread that arms
#: a timer does not wake it
THREADED_POLL_INTERVAL = 0.01


class Machine:
    """Board-independent machine state; boards fill in memory, devices and CPUs."""

    def __init__(self, main_loop: MainLoop | None = None) -> None:
        self.clock = VirtualClock()
        #: the I/O loop; pass one in when chardevs must exist before the machine (the command line)
        self.main_loop = main_loop if main_loop is not None else MainLoop()
        self.cpus: list[Any] = []
        self.tbc: Any = None
        self.running = True
        #: QMP's RunState while not running (``paused``, ``prelaunch``, ``debug``...)
        self.stop_state = "paused"
        self.shutdown_code: int | None = None
        self.shutdown_reason = "guest-shutdown"
        self.reset_requested = False
        self.reset_reason = "guest-reset"
        self.no_reboot = False
        #: -no-shutdown: a guest's power-off stops the VM (run state ``shutdown``) instead of ending the run
        self.no_shutdown = False
        self.reset_handlers: list[Callable[[], None]] = []
        self.state_listeners: list[Callable[[bool], None]] = []
        #: the debugger (the gdbstub) hears of vCPUs that stopped for it: ``(cpu, EXIT_DEBUG)`` at a
        #: breakpoint or watchpoint, ``(cpu, EXIT_STEP)`` after a single-step (``cpu.singlestep``)
        self.debug_handler: Callable[[Any, int], None] = _no_debugger
        self.event_listeners: list[Callable[[str, dict[str, Any] | None], None]] = []
        #: the big lock (QEMU's BQL): device models and the monitors run under it when vCPUs have
        #: threads of their own (``-accel kvm``); the main loop drops it only while it waits for I/O
        self.lock = threading.RLock()
        #: a threaded accelerator (``start``/``pause``/``resume``/``close``); None: TCG on this thread
        self.accel: Any = None

    # -- events and state ---------------------------------------------------------------------------
    def emit(self, event: str, data: dict[str, Any] | None = None) -> None:
        for fn in list(self.event_listeners):
            fn(event, data)

    @property
    def runstate(self) -> str:
        if self.shutdown_code is not None:
            return "shutdown"
        return "running" if self.running else self.stop_state

    # -- requests (QEMU's qemu_system_*_request) ---------------------------------------------------
    def request_shutdown(self, code: int = 0, reason: str = "guest-shutdown") -> None:
        if self.no_shutdown and reason == "guest-shutdown":  # QEMU's shutdown action "pause"
            self.emit("SHUTDOWN", {"guest": True, "reason": reason})
            self.stop("shutdown")
            return
        if self.shutdown_code is None:
            self.shutdown_reason = reason
        self.shutdown_code = code
        self.main_loop.wake()

    def request_reset(self, reason: str = "guest-reset") -> None:
        if self.no_reboot:
            self.request_shutdown(0, reason)
        else:
            self.reset_requested = True
            self.reset_reason = reason
            self.main_loop.wake()

    def request_powerdown(self) -> None:
        """The power button (``system_powerdown``): boards with one tell the guest; the event is sent
        either way, as QEMU does."""
        self.emit("POWERDOWN")

    def stop(self, state: str = "paused") -> None:
        if self.running:
            self.running = False
            self.stop_state = state
            self.clock.stop()
            for fn in self.state_listeners:
                fn(False)
            self.emit("STOP")
        elif state != "paused":
            self.stop_state = state

    def cont(self) -> None:
        if not self.running:
            self.running = True
            self.clock.start()
            for fn in self.state_listeners:
                fn(True)
            self.emit("RESUME")

    def wait_while_stopped(self) -> None:
        """Hold the caller -- a device acting for a vCPU, e.g. a disk request that failed with
        ``werror=stop`` -- until the VM runs again or shuts down, the monitors working meanwhile."""
        if self.accel is not None and self.accel.wait_while_stopped():
            return
        while not self.running and self.shutdown_code is None:
            self.main_loop.poll(0.1)

    def system_reset(self) -> None:
        """Reset devices and CPUs to their power-on state (boards reload their boot code).  A stopped VM
        is in ``prelaunch`` afterwards, as in QEMU (so ``cont`` may start it again)."""
        for fn in self.reset_handlers:
            fn()
        if not self.running:
            self.stop_state = "prelaunch"
        if self.tbc is not None:
            self.tbc.flush()

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until a shutdown request; returns the exit status."""
        if self.accel is not None:
            return self._run_threaded()
        # translation allocates many small long-lived objects (IR, closures, code): the default
        # collector thresholds would scan them over and over
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        clock = self.clock
        loop = self.main_loop
        last_poll = time.monotonic()
        while self.shutdown_code is None:
            if self.reset_requested:
                self._take_reset_request()
            if not self.running:
                loop.poll(None)
                continue
            busy = False
            for cpu in self.cpus:
                if not cpu.halted:
                    if cpu.singlestep:
                        status = cpu_step_system(cpu, self.tbc)
                    else:
                        status = cpu_exec_system(cpu, self.tbc, cpu.icount + SLICE)
                    if status >= EXIT_DEBUG:
                        self.debug_handler(cpu, status)
                        if not self.running:
                            break
                    busy = busy or not cpu.halted
            clock.run_timers()
            now = time.monotonic()
            if not busy and self.shutdown_code is None and not self.reset_requested:
                deadline = clock.deadline()
                timeout = None if deadline is None else max(0.0, (deadline - clock.now()) / 1e9)
                if not any(not c.halted for c in self.cpus):
                    loop.poll(timeout)
                    clock.run_timers()
                last_poll = now
            elif now - last_poll >= IO_POLL_INTERVAL:
                loop.poll(0)
                last_poll = now
        return self._shutdown_status()

    def _take_reset_request(self) -> None:
        """Act on a reset request between slices: the RESET event, then the system reset."""
        self.reset_requested = False
        reason = self.reset_reason
        self.emit("RESET", {"guest": reason.startswith("guest"), "reason": reason})
        self.system_reset()

    def _shutdown_status(self) -> int:
        """The SHUTDOWN event at the end of a run, and the run's exit status."""
        reason = self.shutdown_reason
        self.emit("SHUTDOWN", {"guest": reason.startswith("guest"), "reason": reason})
        return self.shutdown_code

    def _run_threaded(self) -> int:
        """The main loop while the vCPUs run on threads of their own (QEMU's main_loop_wait with the BQL):
        timers, I/O and requests here, with the big lock held except while waiting."""
        accel = self.accel
        loop = self.main_loop
        clock = self.clock
        with self.lock:
            loop.lock = self.lock
            self.state_listeners.append(lambda running: accel.resume() if running else accel.pause())
            accel.start()
            if self.running:
                accel.resume()
            try:
                while self.shutdown_code is None:
                    if self.reset_requested:
                        accel.pause()
                        self._take_reset_request()
                        if self.running:
                            accel.resume()
                        continue
                    clock.run_timers()
                    deadline = clock.deadline()
                    timeout = THREADED_POLL_INTERVAL
                    if deadline is not None:
                        timeout = min(timeout, max(0.0, (deadline - clock.now()) / 1e9))
                    loop.poll(timeout if self.running else None)
            finally:
                loop.lock = None
                accel.pause()
        return self._shutdown_status()


def _no_debugger(cpu: Any, status: int) -> None:
    raise RuntimeError("a vCPU stopped for a debugger, but none is attached")
