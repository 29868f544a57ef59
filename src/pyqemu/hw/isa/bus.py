"""The ISA bus of a PC: the 64 KiB I/O port space and the 16 ISA interrupt lines (QEMU hw/isa/isa-bus.c).

x86 port I/O is modelled the way QEMU does it: ``IN``/``OUT`` go to a separate address space (the "io"
space, 0x10000 bytes) whose regions are the devices' port ranges, built with the same memory API as the
physical address space (:mod:`pyqemu.exec.memory`).  An :class:`IsaBus` owns the root container of that
space, the IRQ lines the devices drive (wired by the board to its i8259/IOAPIC; unconnected lines just
keep their level), the machine whose shutdown/reset requests the devices make and its virtual clock.

For ``-device``/``info qtree`` the bus type "ISA" is registered and :class:`IsaBusState` carries the
:class:`IsaBus` to the devices plugged into it: :class:`IsaDeviceState` subclasses build their model in
:meth:`~IsaDeviceState.create_model` and map it at realize time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pyqemu.core.clock import VirtualClock
from pyqemu.exec.memory import AddressSpace, MemoryRegion, MemoryRegionOps
from pyqemu.hw.core.irq import IRQ, allocate_irqs
from pyqemu.qom.object import BusState, DeviceState, QomError, register_bus_type

IO_SPACE_SIZE = 0x10000
ISA_NUM_IRQS = 16


class MachineRequests(Protocol):
    """What ISA devices ask of the machine (:class:`pyqemu.core.machine.Machine` provides it)."""

    def request_shutdown(self, code: int = 0, reason: str = "guest-shutdown") -> None: ...
    def request_reset(self, reason: str = "guest-reset") -> None: ...


class ByteOps:
    """Region ops that split wider accesses into byte accesses of a byte-wide device (the way QEMU's
    memory core splits accesses for ops with ``impl.max_access_size = 1``): ``outw`` to a UART's
    divisor latch writes DLL then DLM."""

    def __init__(self, dev: MemoryRegionOps):
        self.dev = dev

    def read(self, offset: int, size: int) -> int:
        value = 0
        for i in range(size):
            value |= (self.dev.read(offset + i, 1) & 0xFF) << (8 * i)
        return value

    def write(self, offset: int, value: int, size: int) -> None:
        for i in range(size):
            self.dev.write(offset + i, (value >> (8 * i)) & 0xFF, 1)


class PortOps:
    """Region ops from two functions (a device with several single-port regions, like the i8042)."""

    def __init__(self, read: Callable[[], int], write: Callable[[int], None]):
        self._read = read
        self._write = write

    def read(self, offset: int, size: int) -> int:
        value = self._read()
        for i in range(1, size):  # a wider access reaches the following ports: only this one is ours
            value |= 0xFF << (8 * i)
        return value

    def write(self, offset: int, value: int, size: int) -> None:
        self._write(value & 0xFF)


class IsaBus:
    """One PC's ISA side.  ``irqs``: the board's 16 ISA interrupt inputs (default: unconnected lines)."""

    def __init__(self, machine: MachineRequests | None = None, irqs: Sequence[IRQ] | None = None,
                 io: MemoryRegion | None = None, clock: VirtualClock | None = None):
        self.machine = machine
        #: the machine's virtual clock (the RTC's time base)
        self.clock = clock if clock is not None else getattr(machine, "clock", None)
        #: COM ports created so far (``isa-serial`` without ``index`` takes the next one)
        self.serial_ports = 0
        self.io = io if io is not None else MemoryRegion.container_of("io", IO_SPACE_SIZE)
        if irqs is None:
            irqs = allocate_irqs(lambda n, level: None, ISA_NUM_IRQS)
        if len(irqs) != ISA_NUM_IRQS:
            raise ValueError(f"an ISA bus has {ISA_NUM_IRQS} IRQ lines, not {len(irqs)}")
        self.irqs = list(irqs)

    def get_irq(self, n: int) -> IRQ:
        if not 0 <= n < ISA_NUM_IRQS:
            raise ValueError(f"ISA IRQ {n} does not exist")
        return self.irqs[n]

    def map_port(self, port: int, mr: MemoryRegion) -> None:
        """Put ``mr`` at I/O port ``port``."""
        if port < 0 or port + mr.size > IO_SPACE_SIZE:
            raise ValueError(f"I/O ports {port:#x}+{mr.size:#x} are outside the 64 KiB port space")
        self.io.add_subregion(port, mr)

    def address_space(self) -> AddressSpace:
        """An "io" address space over the port space (a board makes one and hands it to its vCPUs)."""
        return AddressSpace("I/O", self.io)


# -- the device tree -----------------------------------------------------------------------------------

register_bus_type("ISA")


class IsaBusState(BusState):
    """The "ISA" bus in the device tree, carrying the :class:`IsaBus` its devices use."""

    def __init__(self, name: str, isa: IsaBus, parent: DeviceState | None = None):
        super().__init__(name, "ISA", parent)
        self.isa = isa


def add_isa_bus(parent: DeviceState, isa: IsaBus, name: str = "isa.0") -> IsaBusState:
    """Give ``parent`` (the board's PCI-ISA bridge: PIIX3 or ICH9-LPC) the ISA bus carrying ``isa``."""
    bus = IsaBusState(name, isa, parent)
    parent.child_buses.append(bus)
    return bus


class IsaDeviceState(DeviceState):
    """Base of the ISA device types: ``model`` is the device model once realized."""

    model: object | None = None

    def isa_bus(self) -> IsaBus:
        bus = self.parent_bus
        if not isinstance(bus, IsaBusState):
            raise QomError(f"Device '{self.type_name}' can't go on a {bus.type if bus else 'missing'} bus")
        return bus.isa

    def create_model(self, isa: IsaBus) -> object:
        """Build the model, map its ports on ``isa`` and connect its IRQs."""
        raise NotImplementedError

    def realize(self) -> None:
        self.model = self.create_model(self.isa_bus())

    def reset(self) -> None:
        reset = getattr(self.model, "reset", None)
        if reset is not None:
            reset()
