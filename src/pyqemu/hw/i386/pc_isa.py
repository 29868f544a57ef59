"""The legacy ISA devices every PC board (``pc``/``q35``) has, wired to a machine.

What QEMU's pc board code (hw/i386/pc.c: pc_basic_device_init, pc_cmos_init) puts on the ISA bus that
this package models: the MC146818 CMOS RTC at 0x70/0x71 on IRQ 8 with the board's CMOS contents
(memory sizes, CPU count, equipment byte), the i8042 keyboard controller at 0x60/0x64 (IRQ 1/12; its
CPU reset line resets the machine, its A20 gate goes to the board), 16550A UARTs on COM1... (IRQ 4/3)
for the ``-serial`` chardevs, and, when asked for (``-device isa-debug-exit``), QEMU's debug-exit port.

The devices' port regions go into the bus's 64 KiB "io" space; :attr:`PcIsaDevices.io` is the
:class:`~pyqemu.exec.memory.AddressSpace` the vCPUs' ``IN``/``OUT`` (or KVM's ``KVM_EXIT_IO``) use.
The PIT, the i8259s and port 0x92 belong to the board's interrupt/timer code and are not made here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyqemu.chardev.base import Chardev
from pyqemu.core.machine import Machine
from pyqemu.exec.memory import AddressSpace
from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.isa import debugexit, i8042, mc146818, serial
from pyqemu.hw.isa.bus import IsaBus


@dataclass
class PcIsaDevices:
    """The PC's ISA devices; ``io`` is the port address space they are mapped in."""

    isa: IsaBus
    io: AddressSpace
    rtc: mc146818.Mc146818Rtc
    kbc: i8042.I8042
    serial: list[serial.IsaSerial] = field(default_factory=list)
    debug_exit: debugexit.DebugExit | None = None

    def reset(self) -> None:
        """Power-on state of every device (the machine's system reset)."""
        self.rtc.reset()
        self.kbc.reset()
        for uart in self.serial:
            uart.reset()


def create_pc_isa_devices(machine: Machine, below_4g: int, above_4g: int = 0, *,
                          irqs: Sequence[IRQ] | None = None, serial_chardevs: Sequence[Chardev | None] = (),
                          smp_cpus: int = 1, debug_exit: tuple[int, int] | None = None,
                          on_a20: Callable[[bool], None] | None = None) -> PcIsaDevices:
    """Build the ISA devices of a PC with ``below_4g``/``above_4g`` bytes of RAM for ``machine``.

    ``irqs`` are the board's 16 ISA interrupt inputs (default: unconnected); ``serial_chardevs`` the
    backends of COM1, COM2... (``-serial``); ``debug_exit`` the (iobase, iosize) of an isa-debug-exit.
    The devices' resets are added to ``machine.reset_handlers``.
    """
    isa = IsaBus(machine, irqs, clock=machine.clock)
    rtc = mc146818.create(isa, machine.clock)
    mc146818.pc_cmos_init(rtc, below_4g, above_4g, smp_cpus=smp_cpus)
    kbc = i8042.create(isa, on_a20)
    devices = PcIsaDevices(isa, isa.address_space(), rtc, kbc)
    for index, chardev in enumerate(serial_chardevs):
        devices.serial.append(serial.create(isa, chardev, index))
        isa.serial_ports += 1
    if debug_exit is not None:
        devices.debug_exit = debugexit.create(isa, *debug_exit)
    machine.reset_handlers.append(devices.reset)
    return devices
