"""``isa-debug-exit``: QEMU's test device that ends the emulator with a status the guest chooses.

There is no datasheet; this is the behaviour of QEMU's hw/misc/debugexit.c that test guests (and
test suites such as kvm-unit-tests) rely on: an I/O port range (``iobase``, default 0x501, ``iosize``
bytes, default 2) where a write of any width with value ``v`` makes QEMU exit with status
``(v << 1) | 1`` -- always odd, so a guest cannot fake QEMU's own success status 0.  Reads return 0.
The process exit status the shell sees is that value modulo 256 (``v = 0x31`` gives 0x63).
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.stateless import Stateless
from pyqemu.qom.object import Property, QomError, TypeInfo, register_type

from .bus import IsaBus, IsaDeviceState

DEFAULT_IOBASE = 0x501
DEFAULT_IOSIZE = 2


def exit_status(value: int) -> int:
    """The exit status a write of ``value`` asks for."""
    return (value << 1) | 1


class DebugExit(Stateless):
    """``mr`` is the ``iosize``-byte port range; ``on_exit(status)`` ends the machine with ``status``."""

    def __init__(self, on_exit: Callable[[int], None], iosize: int = DEFAULT_IOSIZE):
        if iosize <= 0:
            raise ValueError("isa-debug-exit: iosize must be positive")
        self.on_exit = on_exit
        self.mr = MemoryRegion.io("isa-debug-exit", iosize, self)

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        self.on_exit(exit_status(value & ((1 << (8 * size)) - 1)))



#: the shutdown reason of a debug exit: QEMU's device ends the process whatever -no-shutdown says
EXIT_REASON = "guest-exit"


def create(isa: IsaBus, iobase: int = DEFAULT_IOBASE, iosize: int = DEFAULT_IOSIZE) -> DebugExit:
    """A debug-exit device on ``isa`` that requests the machine's shutdown with the guest's status."""
    machine = isa.machine

    def on_exit(status: int) -> None:
        if machine is None:
            raise RuntimeError("isa-debug-exit: no machine to end")
        machine.request_shutdown(status, EXIT_REASON)

    dev = DebugExit(on_exit, iosize)
    isa.map_port(iobase, dev.mr)
    return dev


class DebugExitState(IsaDeviceState):
    def create_model(self, isa: IsaBus) -> DebugExit:
        iobase, iosize = self.props["iobase"], self.props["iosize"]
        if iosize == 0 or iobase + iosize > 0x10000:
            raise QomError(f"isa-debug-exit: I/O range {iobase:#x}+{iosize:#x} does not fit the port space")
        return create(isa, iobase, iosize)


register_type(TypeInfo("isa-debug-exit", category="Misc devices", bus_type="ISA", cls=DebugExitState,
                       properties=(Property("iobase", "uint32", DEFAULT_IOBASE),
                                   Property("iosize", "uint32", DEFAULT_IOSIZE))))
