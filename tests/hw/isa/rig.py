"""A test PC's ISA side: an "io" address space, recorded IRQ lines and a machine that records requests."""

from __future__ import annotations

from pyqemu.core.clock import VirtualClock
from pyqemu.exec.memory import AddressSpace
from pyqemu.hw.core.irq import allocate_irqs
from pyqemu.hw.isa.bus import IsaBus


class FakeMachine:
    """Records shutdown and reset requests (the part of core.machine.Machine ISA devices use)."""

    def __init__(self) -> None:
        self.requests: list[tuple] = []

    def request_shutdown(self, code: int = 0, reason: str = "guest-shutdown") -> None:
        self.requests.append(("shutdown", code, reason))

    def request_reset(self, reason: str = "guest-reset") -> None:
        self.requests.append(("reset", reason))


class FakeClock(VirtualClock):
    """Virtual time that moves only when a test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0

    def now(self) -> int:
        return self.t

    def advance(self, ns: int) -> None:
        self.t += ns
        self.run_timers()


class Rig:
    """``io`` is the port address space (``outb``/``inb`` go through it); ``levels`` the 16 ISA IRQs."""

    def __init__(self) -> None:
        self.machine = FakeMachine()
        self.levels = [0] * 16
        self.clock = FakeClock()
        self.isa = IsaBus(self.machine, allocate_irqs(self._set_irq, 16), clock=self.clock)
        self.io: AddressSpace = self.isa.address_space()

    def _set_irq(self, n: int, level: int) -> None:
        self.levels[n] = level

    def outb(self, port: int, value: int) -> None:
        self.io.write(port, value, 1)

    def inb(self, port: int) -> int:
        return self.io.read(port, 1)

    def outw(self, port: int, value: int) -> None:
        self.io.write(port, value, 2)

    def inw(self, port: int) -> int:
        return self.io.read(port, 2)
