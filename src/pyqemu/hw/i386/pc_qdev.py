"""The PC boards' device tree (what ``info qtree`` shows and ``-device`` plugs into): the chipset's host
bridge with the root PCI bus and its two functions, and the ISA bus below the PIIX3 / ICH9-LPC bridge,
where ``-device isa-debug-exit`` and the other ISA devices go.

Importing this module registers the device types the PC boards take with ``-device``.
"""

from __future__ import annotations

from typing import Any

from pyqemu.hw.isa import debugexit, i8042, mc146818, serial  # noqa: F401 - register the ISA device types
from pyqemu.hw.isa.bus import add_isa_bus
from pyqemu.hw.net import e1000  # noqa: F401 - registers e1000, e1000-82544gc, e1000-82545em
from pyqemu.hw.pci.qdev import add_chipset
from pyqemu.hw.virtio import pci_qdev  # noqa: F401 - registers virtio-*-pci
from pyqemu.qom.object import DeviceTree


def populate(tree: DeviceTree, machine: Any) -> None:
    """Add ``machine``'s (a :class:`~pyqemu.hw.i386.pc.PcMachine`) built-in buses and devices to ``tree``."""
    _, bridge = add_chipset(tree, machine.chipset)
    add_isa_bus(bridge, machine.isa)
