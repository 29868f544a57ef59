"""``isa-serial``: the PC's 16550A UART on the ISA bus (COM1 at I/O port 0x3F8, IRQ 4).

The UART itself is :class:`pyqemu.hw.char.serial.Serial16550` (National Semiconductor PC16550D
datasheet registers); this module only places it in the I/O port space as QEMU's hw/char/serial-isa.c
does: eight consecutive ports from ``iobase`` (register shift 0), the interrupt on ISA line ``irq``.
The model's own region is 0x100 bytes long (sized for MMIO windows), so the ports are an 8-byte region
of their own over the same model, splitting 16/32-bit port accesses into byte accesses of consecutive
registers as QEMU's memory core does for this byte-wide device.  ``index`` picks the PC's default
port/IRQ pair for COM1-COM4 when ``iobase``/``irq`` are not given; through ``-device`` an unset ``index``
is the bus's next COM port.
"""

from __future__ import annotations

from pyqemu.chardev.base import Chardev
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.char.serial import Serial16550
from pyqemu.qom.object import Property, QomError, TypeInfo, register_type

from .bus import ByteOps, IsaBus, IsaDeviceState

#: the PC's COM1-COM4 ports and IRQs
ISA_SERIAL_IOPORTS = (0x3F8, 0x2F8, 0x3E8, 0x2E8)
ISA_SERIAL_IRQS = (4, 3, 4, 3)
PORT_COUNT = 8


class IsaSerial:
    """A UART on the ISA bus: ``uart`` is the 16550 model, ``mr`` its 8-port region."""

    def __init__(self, uart: Serial16550, iobase: int, irq: int):
        self.uart = uart
        self.iobase = iobase
        self.irq = irq
        self.mr = MemoryRegion.io("serial", PORT_COUNT, ByteOps(uart))

    def reset(self) -> None:
        self.uart.reset()

    def vmstate(self) -> dict:
        return self.uart.vmstate()

    def load_vmstate(self, state: dict) -> None:
        self.uart.load_vmstate(state)


def create(isa: IsaBus, chardev: Chardev | None, index: int = 0, iobase: int | None = None,
           irq: int | None = None) -> IsaSerial:
    """COM``index + 1`` on ``isa`` (or the given port and IRQ), its output going to ``chardev``."""
    if iobase is None or irq is None:
        if not 0 <= index < len(ISA_SERIAL_IOPORTS):
            raise ValueError(f"isa-serial: index {index} has no default port "
                             f"(max {len(ISA_SERIAL_IOPORTS) - 1})")
        iobase = ISA_SERIAL_IOPORTS[index] if iobase is None else iobase
        irq = ISA_SERIAL_IRQS[index] if irq is None else irq
    dev = IsaSerial(Serial16550(chardev, isa.get_irq(irq), regshift=0), iobase, irq)
    isa.map_port(iobase, dev.mr)
    return dev


class IsaSerialState(IsaDeviceState):
    """``isa-serial``: properties left at -1 take QEMU's defaults -- ``index`` the next free COM port of
    the bus, ``iobase``/``irq`` that port's."""

    def create_model(self, isa: IsaBus) -> IsaSerial:
        unset = 0xFFFFFFFF
        index, iobase, irq = self.props["index"], self.props["iobase"], self.props["irq"]
        if index == unset:
            index = isa.serial_ports
        if index >= len(ISA_SERIAL_IOPORTS):
            raise QomError(f"Max. supported number of ISA serial ports is {len(ISA_SERIAL_IOPORTS)}.")
        if irq != unset and irq >= 16:
            raise QomError(f"isa irq {irq} invalid")
        dev = create(isa, self.props.get("chardev"), index,
                     None if iobase == unset else iobase, None if irq == unset else irq)
        isa.serial_ports += 1
        # as QEMU does, show the values in use
        self.props["index"], self.props["iobase"], self.props["irq"] = index, dev.iobase, dev.irq
        return dev


register_type(TypeInfo("isa-serial", category="Input devices", bus_type="ISA", cls=IsaSerialState,
                       properties=(Property("index", "uint32", 0xFFFFFFFF),
                                   Property("iobase", "uint32", 0xFFFFFFFF),
                                   Property("irq", "uint32", 0xFFFFFFFF),
                                   Property("chardev", "chr",
                                            description="ID of a chardev to use as a backend"))))
