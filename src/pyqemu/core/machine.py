"""The machine core: vCPUs, the virtual clock, the main loop and run state (QEMU softmmu/vl.c,
runstate.c, cpus.c).

:meth:`Machine.run` interleaves the vCPUs (round-robin on this thread, a time slice each) with the
main loop: expired timers, ready file descriptors and bottom halves.  When every vCPU waits for an
interrupt it sleeps until the next timer deadline or I/O.  Shutdown and reset are *requests*, acted on
between slices, as in QEMU.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from ..accel.tcg.tb_system import cpu_exec_system
from .clock import VirtualClock
from .main_loop import MainLoop

#: guest instructions a vCPU runs before the others and the main loop get a turn (about 20 ms here;
#: QEMU's round-robin TCG kicks every 100 ms).  Timers are looked at between slices, so a longer slice
#: also coalesces the guest's timer ticks, which cost a slow CPU a large share of its time.
SLICE = 1 << 16
#: at most this long (seconds) between two looks at file descriptors while vCPUs are busy
IO_POLL_INTERVAL = 0.01
GC_THRESHOLDS = (50_000, 50, 1000)


class Machine:
    """Board-independent machine state; boards fill in memory, devices and CPUs."""

    def __init__(self, main_loop: MainLoop | None = None) -> None:
        self.clock = VirtualClock()
        #: the I/O loop; pass one in when chardevs must exist before the machine (the command line)
        self.main_loop = main_loop if main_loop is not None else MainLoop()
        self.cpus: list[Any] = []
        self.tbc: Any = None
        self.running = True
        self.shutdown_code: int | None = None
        self.reset_requested = False
        self.no_reboot = False
        self.reset_handlers: list[Callable[[], None]] = []
        self.state_listeners: list[Callable[[bool], None]] = []

    # -- requests (QEMU's qemu_system_*_request) ---------------------------------------------------
    def request_shutdown(self, code: int = 0) -> None:
        self.shutdown_code = code
        self.main_loop.wake()

    def request_reset(self) -> None:
        if self.no_reboot:
            self.request_shutdown(0)
        else:
            self.reset_requested = True
            self.main_loop.wake()

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.clock.stop()
            for fn in self.state_listeners:
                fn(False)

    def cont(self) -> None:
        if not self.running:
            self.running = True
            self.clock.start()
            for fn in self.state_listeners:
                fn(True)

    def system_reset(self) -> None:
        """Reset devices and CPUs to their power-on state (boards reload their boot code)."""
        for fn in self.reset_handlers:
            fn()
        if self.tbc is not None:
            self.tbc.flush()

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until a shutdown request; returns the exit status."""
        # translation allocates many small long-lived objects (IR, closures, code): the default
        # collector thresholds would scan them over and over
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        clock = self.clock
        loop = self.main_loop
        last_poll = time.monotonic()
        while self.shutdown_code is None:
            if self.reset_requested:
                self.reset_requested = False
                self.system_reset()
            if not self.running:
                loop.poll(None)
                continue
            busy = False
            for cpu in self.cpus:
                if not cpu.halted:
                    cpu_exec_system(cpu, self.tbc, cpu.icount + SLICE)
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
        return self.shutdown_code
