"""The PCI device and bus model: configuration space, BARs, capabilities and INTx (QEMU hw/pci/pci.c).

A :class:`PCIDevice` is one function with a type-0 configuration header (PCI Local Bus Specification
3.0, chapter 6.1-6.2): 256 bytes, or 4096 for PCI Express functions (PCIe Base Specification, 7.2.2).
Each configuration byte has a write mask (bits the guest may change) and a write-one-to-clear mask (the
error bits of STATUS); the device-specific area 0x40-0xFF is guest-writable unless a capability claims
it.  Base address registers (6.2.5.1) are sized by writing all ones and reading back; a BAR is mapped
into its bus's memory or I/O space while COMMAND has the matching decode bit and the programmed address
is sensible.  Capabilities (6.7) form a list headed by the Capabilities Pointer at 0x34.

A :class:`PCIBus` holds 32 slots of 8 functions, the memory and I/O containers BARs are mapped into,
the DMA address space bus masters use, and the interrupt routing: ``map_irq(devfn, pin)`` (``pin`` 1
= INTA# .. 4 = INTD#, as in the Interrupt Pin register) names the board's PIRQ line a function's pin is
wired to, and ``set_pirq(pirq, level)`` receives the level-OR of all pins sharing that line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyqemu.exec.memory import AddressSpace, MemoryRegion

__all__ = [
    "PCIBus", "PCIDevice", "PCIError", "pci_devfn", "pci_func", "pci_slot", "swizzle_map_irq",
]

# -- configuration header offsets (type 0) -------------------------------------------------------------
PCI_VENDOR_ID = 0x00
PCI_DEVICE_ID = 0x02
PCI_COMMAND = 0x04
PCI_STATUS = 0x06
PCI_REVISION_ID = 0x08
PCI_CLASS_PROG = 0x09
PCI_CLASS_DEVICE = 0x0A
PCI_CACHE_LINE_SIZE = 0x0C
PCI_LATENCY_TIMER = 0x0D
PCI_HEADER_TYPE = 0x0E
PCI_BASE_ADDRESS_0 = 0x10
PCI_SUBSYSTEM_VENDOR_ID = 0x2C
PCI_SUBSYSTEM_ID = 0x2E
PCI_ROM_ADDRESS = 0x30
PCI_CAPABILITY_LIST = 0x34
PCI_INTERRUPT_LINE = 0x3C
PCI_INTERRUPT_PIN = 0x3D

PCI_CONFIG_HEADER_SIZE = 0x40
PCI_CONFIG_SPACE_SIZE = 0x100
PCIE_CONFIG_SPACE_SIZE = 0x1000

PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80

# -- COMMAND register bits ---------------------------------------------------------------------------
PCI_COMMAND_IO = 0x0001
PCI_COMMAND_MEMORY = 0x0002
PCI_COMMAND_MASTER = 0x0004
PCI_COMMAND_PARITY = 0x0040
PCI_COMMAND_SERR = 0x0100
PCI_COMMAND_INTX_DISABLE = 0x0400

# -- STATUS register bits ----------------------------------------------------------------------------
PCI_STATUS_INTERRUPT = 0x0008
PCI_STATUS_CAP_LIST = 0x0010
PCI_STATUS_PARITY = 0x0100
PCI_STATUS_SIG_TARGET_ABORT = 0x0800
PCI_STATUS_REC_TARGET_ABORT = 0x1000
PCI_STATUS_REC_MASTER_ABORT = 0x2000
PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000
PCI_STATUS_DETECTED_PARITY = 0x8000
#: the error-reporting bits software clears by writing 1
PCI_STATUS_W1C = (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT
                  | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

# -- BAR low bits ------------------------------------------------------------------------------------
PCI_BASE_ADDRESS_SPACE_IO = 0x01
PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04
PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08
PCI_ROM_ADDRESS_ENABLE = 0x01
PCI_NUM_BARS = 6
PCI_ROM_SLOT = 6  # register_bar(PCI_ROM_SLOT, ...) registers the expansion ROM (0x30)

# -- capability ids (PCI Code and ID Assignment Specification) ----------------------------------------
PCI_CAP_ID_PM = 0x01
PCI_CAP_ID_MSI = 0x05
PCI_CAP_ID_VNDR = 0x09
PCI_CAP_ID_EXP = 0x10
PCI_CAP_ID_MSIX = 0x11

# -- class codes (base << 16 | sub << 8 | prog-if) --------------------------------------------------------
PCI_CLASS_NETWORK_ETHERNET = 0x020000
PCI_CLASS_STORAGE_SCSI = 0x010000
PCI_CLASS_STORAGE_OTHER = 0x018000
PCI_CLASS_BRIDGE_HOST = 0x060000
PCI_CLASS_BRIDGE_ISA = 0x060100
PCI_CLASS_OTHERS = 0xFF0000
PCI_CLASS_COMMUNICATION_OTHER = 0x078000

PCI_VENDOR_ID_INTEL = 0x8086
PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4
#: the subsystem ids QEMU gives a type-0 function that names none
PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1AF4
PCI_SUBDEVICE_ID_QEMU = 0x1100

#: the command bits a guest may set (QEMU's default write mask for COMMAND)
_COMMAND_WMASK = (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY
                  | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
_BAR_UNMAPPED_32 = 1 << 32


class PCIError(ValueError):
    """A function cannot be plugged (slot taken, no free slot); the text is QEMU's."""


def pci_devfn(slot: int, func: int) -> int:
    return (slot & 0x1F) << 3 | (func & 7)


def pci_slot(devfn: int) -> int:
    return devfn >> 3 & 0x1F


def pci_func(devfn: int) -> int:
    return devfn & 7


def swizzle_map_irq(devfn: int, pin: int) -> int:
    """The usual PIRQ A-D wiring of a root bus: INTA# of slot ``s`` goes to PIRQ ``s mod 4``, and each
    further pin of the slot to the next line (``pin`` 1 = INTA#)."""
    return (pci_slot(devfn) + pin - 1) % 4


def _overlaps(offset: int, size: int, start: int, length: int) -> bool:
    return offset < start + length and start < offset + size


@dataclass
class _Bar:
    region: MemoryRegion
    io: bool
    mem64: bool
    offset: int  # of the BAR register in config space
    mapped_at: int | None = None

    @property
    def type_bits(self) -> int:
        if self.offset == PCI_ROM_ADDRESS:
            return 0
        if self.io:
            return PCI_BASE_ADDRESS_SPACE_IO
        return PCI_BASE_ADDRESS_MEM_TYPE_64 if self.mem64 else 0


class PCIDevice:
    """One PCI function: 256-byte config space (4096 for PCIe, ``express=True``), BARs, capabilities,
    INTx.  Device models subclass it, register BARs and capabilities in ``__init__`` and may extend
    :meth:`config_write` (call ``super()``) to react to their own registers.  Like QEMU, a type-0
    function without subsystem ids gets 1af4:1100."""

    def __init__(self, name: str, *, vendor_id: int, device_id: int, class_code: int,
                 revision: int = 0, subsystem_vendor_id: int = 0, subsystem_id: int = 0,
                 header_type: int = 0, interrupt_pin: int = 1, express: bool = False) -> None:
        self.name = name
        self.express = express
        size = PCIE_CONFIG_SPACE_SIZE if express else PCI_CONFIG_SPACE_SIZE
        self.config = bytearray(size)
        self.wmask = bytearray(size)
        self.w1cmask = bytearray(size)
        self.devfn = 0
        self.bus: PCIBus | None = None
        self.dma: AddressSpace | None = None
        self.bars: list[_Bar | None] = [None] * (PCI_NUM_BARS + 1)
        self._intx_level = 0  # what the device drives
        self._intx_out = 0  # what reaches the bus (after INTX_DISABLE)
        self._cap_end = PCI_CONFIG_HEADER_SIZE  # first byte after the last auto-placed capability

        self.set_word(PCI_VENDOR_ID, vendor_id)
        self.set_word(PCI_DEVICE_ID, device_id)
        self.config[PCI_REVISION_ID] = revision & 0xFF
        self.config[PCI_CLASS_PROG] = class_code & 0xFF
        self.set_word(PCI_CLASS_DEVICE, class_code >> 8)
        self.config[PCI_HEADER_TYPE] = header_type & 0xFF
        if not (subsystem_vendor_id or subsystem_id) and not header_type & 0x7F:
            subsystem_vendor_id, subsystem_id = PCI_SUBVENDOR_ID_REDHAT_QUMRANET, PCI_SUBDEVICE_ID_QEMU
        self.set_word(PCI_SUBSYSTEM_VENDOR_ID, subsystem_vendor_id)
        self.set_word(PCI_SUBSYSTEM_ID, subsystem_id)
        self.config[PCI_INTERRUPT_PIN] = interrupt_pin & 0xFF

        self._set_mask(self.wmask, PCI_COMMAND, _COMMAND_WMASK, 2)
        self._set_mask(self.w1cmask, PCI_STATUS, PCI_STATUS_W1C, 2)
        self.wmask[PCI_CACHE_LINE_SIZE] = 0xFF
        self.wmask[PCI_INTERRUPT_LINE] = 0xFF
        self.wmask[PCI_CONFIG_HEADER_SIZE:PCI_CONFIG_SPACE_SIZE] = b"\xff" * (
            PCI_CONFIG_SPACE_SIZE - PCI_CONFIG_HEADER_SIZE)

    # -- raw little-endian field helpers (for device models) ------------------------------------------
    def get_word(self, offset: int) -> int:
        return int.from_bytes(self.config[offset:offset + 2], "little")

    def set_word(self, offset: int, value: int) -> None:
        self.config[offset:offset + 2] = (value & 0xFFFF).to_bytes(2, "little")

    def get_long(self, offset: int) -> int:
        return int.from_bytes(self.config[offset:offset + 4], "little")

    def set_long(self, offset: int, value: int) -> None:
        self.config[offset:offset + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")

    def get_long_mask(self, offset: int) -> int:
        return int.from_bytes(self.wmask[offset:offset + 4], "little")

    # -- migration (subclasses extend both, calling super) ---------------------------------------------
    def vmstate(self) -> dict:
        return {"config": bytes(self.config), "intx": self._intx_level}

    def load_vmstate(self, state: dict) -> None:
        """Take the saved config space, remap the BARs and drive INTx as saved."""
        self.config[:] = state["config"]
        self.update_mappings()
        self.set_irq(state["intx"])

    @staticmethod
    def _set_mask(mask: bytearray, offset: int, value: int, size: int) -> None:
        mask[offset:offset + size] = value.to_bytes(size, "little")

    @property
    def command(self) -> int:
        return self.get_word(PCI_COMMAND)

    def bus_master(self) -> bool:
        """COMMAND.MASTER: the device may start DMA through :attr:`dma`."""
        return bool(self.command & PCI_COMMAND_MASTER)

    # -- BARs ----------------------------------------------------------------------------------------
    def register_bar(self, index: int, region: MemoryRegion, *, io: bool = False,
                     mem64: bool = False, prefetch: bool = False) -> None:
        """Declare BAR ``index`` (0-5, or :data:`PCI_ROM_SLOT` for the expansion ROM) backed by
        ``region``; the BAR's size is ``region.size``, a power of two.  A 64-bit BAR also takes
        register ``index + 1``."""
        size = region.size
        if size & (size - 1) or size < (4 if io else 16):
            raise ValueError(f"PCI BAR {index} of {self.name}: size {size:#x} is not a power of two >= "
                             f"{4 if io else 16}")
        if index == PCI_ROM_SLOT:
            bar = _Bar(region, False, False, PCI_ROM_ADDRESS)
            self._set_mask(self.wmask, PCI_ROM_ADDRESS, ~(size - 1) & 0xFFFFF800 | PCI_ROM_ADDRESS_ENABLE, 4)
            self.bars[index] = bar
            return
        if not 0 <= index < PCI_NUM_BARS - (1 if mem64 else 0):
            raise ValueError(f"PCI BAR index {index} out of range")
        bar = _Bar(region, io, mem64 and not io, PCI_BASE_ADDRESS_0 + 4 * index)
        low = bar.type_bits | (PCI_BASE_ADDRESS_MEM_PREFETCH if prefetch and not io else 0)
        self.set_long(bar.offset, low)
        mask = ~(size - 1) & 0xFFFFFFFF_FFFFFFFF
        if bar.mem64:
            self._set_mask(self.wmask, bar.offset, mask, 8)
        else:
            self._set_mask(self.wmask, bar.offset, mask & 0xFFFFFFFF, 4)
        self.bars[index] = bar

    def _bar_target(self, bar: _Bar) -> int | None:
        """Where the BAR should be mapped given the current registers, or None."""
        size = bar.region.size
        cmd = self.command
        if bar.offset == PCI_ROM_ADDRESS:
            value = self.get_long(bar.offset)
            if not (cmd & PCI_COMMAND_MEMORY and value & PCI_ROM_ADDRESS_ENABLE):
                return None
            addr, limit = value & ~(size - 1) & 0xFFFFF800, _BAR_UNMAPPED_32
        elif bar.io:
            if not cmd & PCI_COMMAND_IO or self.bus is None:
                return None
            addr, limit = self.get_long(bar.offset) & ~(size - 1) & 0xFFFFFFFC, self.bus.io.size + 1
        else:
            if not cmd & PCI_COMMAND_MEMORY:
                return None
            addr = self.get_long(bar.offset)
            if bar.mem64:
                addr |= self.get_long(bar.offset + 4) << 32
            addr &= ~(size - 1) & ~0xF
            limit = 1 << 64 if bar.mem64 else _BAR_UNMAPPED_32
            if self.bus is not None:
                limit = min(limit, self.bus.mem.size + 1)
        # an address of 0, one that wraps, or the all-ones value left by sizing does not decode
        if addr == 0 or addr + size >= limit:
            return None
        return addr

    def bar_address(self, index: int) -> int | None:
        """Where BAR ``index`` is mapped now (None: not registered, unmapped or decoding disabled)."""
        bar = self.bars[index]
        return None if bar is None else bar.mapped_at

    def update_mappings(self) -> None:
        """Map, move or unmap every BAR to agree with the BAR registers and COMMAND."""
        if self.bus is None:
            return
        for bar in self.bars:
            if bar is None:
                continue
            target = self._bar_target(bar)
            if target == bar.mapped_at:
                continue
            root = self.bus.io if bar.io else self.bus.mem
            if bar.mapped_at is not None:
                root.del_subregion(bar.region)
            if target is not None:
                root.add_subregion(target, bar.region, priority=1)
            bar.mapped_at = target

    def _unmap_all(self) -> None:
        for bar in self.bars:
            if bar is not None and bar.mapped_at is not None and self.bus is not None:
                (self.bus.io if bar.io else self.bus.mem).del_subregion(bar.region)
                bar.mapped_at = None

    # -- capabilities --------------------------------------------------------------------------------
    def add_capability(self, cap_id: int, data: bytes, offset: int | None = None) -> int:
        """Add a capability with body ``data`` (without the id/next bytes) at ``offset`` (default: the
        next free dword-aligned offset from 0x40), link it at the head of the list, set
        STATUS.CAP_LIST; the capability's bytes become read-only (models open up what they need).
        Returns its offset."""
        length = 2 + len(data)
        if offset is None:
            offset = (self._cap_end + 3) & ~3
        if offset < PCI_CONFIG_HEADER_SIZE or offset + length > PCI_CONFIG_SPACE_SIZE:
            raise ValueError(f"capability {cap_id:#x} of {self.name} does not fit at {offset:#x}")
        self.config[offset] = cap_id & 0xFF
        self.config[offset + 1] = self.config[PCI_CAPABILITY_LIST]
        self.config[offset + 2:offset + length] = data
        self.wmask[offset:offset + length] = bytes(length)
        self.config[PCI_CAPABILITY_LIST] = offset
        self.set_word(PCI_STATUS, self.get_word(PCI_STATUS) | PCI_STATUS_CAP_LIST)
        self._cap_end = max(self._cap_end, offset + length)
        return offset

    def find_capability(self, cap_id: int) -> int | None:
        """The offset of the first capability with ``cap_id`` in the list, or None."""
        offset = self.config[PCI_CAPABILITY_LIST]
        seen = 0
        while offset and seen < 48:
            if self.config[offset] == cap_id:
                return offset
            offset = self.config[offset + 1]
            seen += 1
        return None

    # -- guest access ----------------------------------------------------------------------------------
    def config_read(self, offset: int, size: int) -> int:
        """A little-endian read of ``size`` bytes at ``offset`` (the caller keeps it inside the space)."""
        return int.from_bytes(self.config[offset:offset + size], "little")

    def config_write(self, offset: int, value: int, size: int) -> None:
        """A guest write: only :attr:`wmask` bits change, :attr:`w1cmask` bits clear when written as
        1; BARs and INTx follow changes of the BAR registers and COMMAND."""
        old_cmd = self.command
        for i in range(size):
            pos = offset + i
            byte = value >> (8 * i) & 0xFF
            wm = self.wmask[pos]
            self.config[pos] = (self.config[pos] & ~wm | byte & wm) & ~(byte & self.w1cmask[pos])
        if (_overlaps(offset, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS)
                or _overlaps(offset, size, PCI_ROM_ADDRESS, 4)
                or (self.command ^ old_cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)):
            self.update_mappings()
        if (self.command ^ old_cmd) & PCI_COMMAND_INTX_DISABLE:
            self._update_intx()

    # -- INTx ----------------------------------------------------------------------------------------
    def set_irq(self, level: int) -> None:
        """Drive the function's INTx pin: STATUS.INTERRUPT follows ``level``; the pin reaches the bus
        unless COMMAND.INTX_DISABLE is set."""
        self._intx_level = 1 if level else 0
        status = self.get_word(PCI_STATUS) & ~PCI_STATUS_INTERRUPT
        self.set_word(PCI_STATUS, status | (PCI_STATUS_INTERRUPT if self._intx_level else 0))
        self._update_intx()

    def _update_intx(self) -> None:
        out = 0 if self.command & PCI_COMMAND_INTX_DISABLE else self._intx_level
        if out == self._intx_out:
            return
        self._intx_out = out
        pin = self.config[PCI_INTERRUPT_PIN]
        if self.bus is not None and pin:
            self.bus.intx_change(self.devfn, pin, 1 if out else -1)

    # -- reset ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on state of the header: COMMAND, STATUS error bits, cache line size, interrupt line and
        BAR addresses cleared, BARs unmapped, INTx deasserted."""
        self.set_irq(0)
        self.set_word(PCI_COMMAND, self.command & ~_COMMAND_WMASK)
        self.set_word(PCI_STATUS, self.get_word(PCI_STATUS) & ~PCI_STATUS_W1C)
        self.config[PCI_CACHE_LINE_SIZE] = 0
        self.config[PCI_INTERRUPT_LINE] &= ~self.wmask[PCI_INTERRUPT_LINE]
        for bar in self.bars:
            if bar is None:
                continue
            low = self.get_long(bar.offset) & ~self.get_long_mask(bar.offset)
            self.set_long(bar.offset, low)
            if bar.mem64:
                self.set_long(bar.offset + 4, 0)
        self.update_mappings()


class PCIBus:
    """A PCI bus: 256 device/function numbers, the memory and I/O containers BARs are mapped into
    (``io`` is normally 64 KiB), the address space bus masters use, and INTx routing.

    ``map_irq(devfn, pin)`` gives the PIRQ index (0 .. ``nirq``-1) for pin ``pin`` (1 = INTA#) of a
    function; ``set_pirq(pirq, level)`` is called when a PIRQ's level (the OR of its pins) changes.
    """

    def __init__(self, name: str, mem: MemoryRegion, io: MemoryRegion, *, dma: AddressSpace | None = None,
                 map_irq: Callable[[int, int], int] = swizzle_map_irq,
                 set_pirq: Callable[[int, int], None] | None = None, nirq: int = 4) -> None:
        self.name = name
        self.mem = mem
        self.io = io
        self.dma = dma
        self.map_irq = map_irq
        self.set_pirq = set_pirq
        self.irq_count = [0] * nirq
        self.devices: list[PCIDevice | None] = [None] * 256

    # -- topology ------------------------------------------------------------------------------------
    def free_devfn(self) -> int | None:
        """The first slot with no function in it, as function 0 (None: all in use)."""
        for slot in range(32):
            if not any(self.devices[slot * 8:slot * 8 + 8]):
                return slot << 3
        return None

    def plug(self, dev: PCIDevice, devfn: int | None = None) -> None:
        """Put ``dev`` at ``devfn`` (default: a free slot); raises :class:`PCIError` when taken."""
        if devfn is None:
            devfn = self.free_devfn()
            if devfn is None:
                raise PCIError(f"PCI: no slot/function available for {dev.name}, all in use or reserved")
        other = self.devices[devfn]
        if other is not None:
            raise PCIError(f"PCI: slot {pci_slot(devfn)} function {pci_func(devfn)} not available for "
                           f"{dev.name}, in use by {other.name}")
        self.devices[devfn] = dev
        dev.devfn = devfn
        dev.bus = self
        dev.dma = self.dma
        self._update_multifunction(pci_slot(devfn))
        dev.update_mappings()

    def unplug(self, dev: PCIDevice) -> None:
        """Remove ``dev``: its BARs are unmapped and its INTx pin released."""
        dev.set_irq(0)
        dev._unmap_all()
        self.devices[dev.devfn] = None
        dev.bus = None
        dev.dma = None
        self._update_multifunction(pci_slot(dev.devfn))

    def _update_multifunction(self, slot: int) -> None:
        """Function 0 of a slot advertises further functions through bit 7 of its header type."""
        fn0 = self.devices[slot << 3]
        if fn0 is not None and any(self.devices[(slot << 3) + 1:(slot << 3) + 8]):
            fn0.config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION

    def get(self, devfn: int) -> PCIDevice | None:
        return self.devices[devfn]

    # -- configuration cycles ------------------------------------------------------------------------
    def config_read(self, devfn: int, offset: int, size: int) -> int:
        """Type 0 configuration read: all ones when no function answers or beyond its space."""
        dev = self.devices[devfn]
        if dev is None or offset + size > len(dev.config):
            return (1 << (8 * size)) - 1
        return dev.config_read(offset, size)

    def config_write(self, devfn: int, offset: int, value: int, size: int) -> None:
        dev = self.devices[devfn]
        if dev is not None and offset + size <= len(dev.config):
            dev.config_write(offset, value, size)

    # -- interrupts ----------------------------------------------------------------------------------
    def intx_change(self, devfn: int, pin: int, delta: int) -> None:
        """A function's pin went up (``delta`` 1) or down (-1)."""
        pirq = self.map_irq(devfn, pin)
        before = self.irq_count[pirq] != 0
        self.irq_count[pirq] += delta
        after = self.irq_count[pirq] != 0
        if before != after and self.set_pirq is not None:
            self.set_pirq(pirq, int(after))

    def pirq_level(self, pirq: int) -> int:
        return int(self.irq_count[pirq] != 0)

    def reset(self) -> None:
        for dev in self.devices:
            if dev is not None:
                dev.reset()
