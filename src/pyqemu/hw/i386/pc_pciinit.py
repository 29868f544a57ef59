"""PCI set-up a PC firmware does before it starts a kernel (the job of SeaBIOS's pciinit.c), for boots
where pyqemu loads the kernel itself and no firmware runs.

Linux keeps the resources the firmware assigned and routes INTx through what the firmware left in the
interrupt line registers and the chipset's PIRQ routing, so the board does, at every reset, what
SeaBIOS does under QEMU (PCI Firmware Specification 3.0; PCI Local Bus 3.0, 6.2.5 "Base Addresses"):

* PIRQ A-D (``pc``, PIIX3 0x60-0x63) or A-H (``q35``, ICH9 0x60-0x63, 0x68-0x6B) routed to ISA IRQs
  10, 10, 11, 11 (, 10, 10, 11, 11);
* every function's BARs placed, the largest first: I/O from 0xC000, memory from the start of the 32-bit
  PCI hole, each naturally aligned;
* the interrupt line register set to the ISA IRQ of the function's pin;
* I/O and memory decoding and bus mastering enabled.

All of it goes through the functions' configuration space, as the firmware's own configuration cycles
would, so the BARs are mapped by the same code a guest's writes reach.
"""

from __future__ import annotations

from pyqemu.hw.pci.pci import (
    PCI_CLASS_DEVICE,
    PCI_COMMAND,
    PCI_COMMAND_IO,
    PCI_COMMAND_MASTER,
    PCI_COMMAND_MEMORY,
    PCI_INTERRUPT_LINE,
    PCI_INTERRUPT_PIN,
    PCI_NUM_BARS,
    PCIBus,
    PCIDevice,
)

#: the ISA IRQ each PIRQ is routed to (SeaBIOS's choice for QEMU's boards)
PIRQ_IRQS = (10, 10, 11, 11, 10, 10, 11, 11)
IO_START, IO_END = 0xC000, 0x10000
PCI_BASE_ADDRESS_0 = 0x10
#: bridges of the chipset itself (host, ISA) are left as they are
_SKIP_CLASSES = (0x0600, 0x0601)


def _bar_requests(dev: PCIDevice) -> list[tuple[int, int, bool]]:
    """(BAR index, size, is I/O) of each implemented BAR."""
    return [(index, bar.region.size, bar.io) for index, bar in enumerate(dev.bars[:PCI_NUM_BARS])
            if bar is not None]


def route_pirqs(bridge: PCIDevice, registers: tuple[int, ...]) -> None:
    """Program the ISA bridge's PIRQ route registers to :data:`PIRQ_IRQS`."""
    for offset, irq in zip(registers, PIRQ_IRQS, strict=False):
        bridge.config_write(offset, irq, 1)


def assign_resources(bus: PCIBus, mem_start: int, mem_end: int) -> None:
    """Place every function's BARs, set its interrupt line and enable it."""
    requests: list[tuple[int, bool, PCIDevice, int]] = []
    for dev in bus.devices:
        if dev is None or dev.get_word(PCI_CLASS_DEVICE) in _SKIP_CLASSES:
            continue
        for index, size, io in _bar_requests(dev):
            requests.append((size, io, dev, index))
        pin = dev.config[PCI_INTERRUPT_PIN]
        if pin:
            dev.config_write(PCI_INTERRUPT_LINE, PIRQ_IRQS[bus.map_irq(dev.devfn, pin)], 1)
    io_next, mem_next = IO_START, mem_start
    for size, io, dev, index in sorted(requests, key=lambda r: -r[0]):
        if io:
            addr = (io_next + size - 1) & -size
            if addr + size > IO_END:
                continue  # no room: the BAR stays unassigned, as a firmware would leave it
            io_next = addr + size
        else:
            addr = (mem_next + size - 1) & -size
            if addr + size > mem_end:
                continue
            mem_next = addr + size
        offset = PCI_BASE_ADDRESS_0 + 4 * index
        dev.config_write(offset, addr & 0xFFFFFFFF, 4)
        if dev.bars[index] is not None and dev.bars[index].mem64:
            dev.config_write(offset + 4, addr >> 32, 4)
    for dev in bus.devices:
        if dev is None or dev.get_word(PCI_CLASS_DEVICE) in _SKIP_CLASSES:
            continue
        command = dev.get_word(PCI_COMMAND) | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
        dev.config_write(PCI_COMMAND, command, 2)
