"""The ``pc`` machine's chipset: the i440FX host bridge and the PIIX3 PCI-to-ISA bridge (QEMU
hw/pci-host/i440fx.c, hw/isa/piix3.c).

* :class:`I440FXHost`, 00.0: Intel 82441FX PMC, 8086:1237 rev 2, class 0600 (host bridge).  PAM0-PAM6
  (0x59-0x5F, 82441FX datasheet, PAM registers) shadow the BIOS areas 0xC0000-0xFFFFF in RAM (:class:`Pam`);
  its other device-specific registers are plain storage (SMRAM at 0x72 resets to 0x02; SMRAM itself is
  not modelled).
* :class:`PIIX3`, 01.0: Intel 82371SB function 0, 8086:7000, class 0601 (ISA bridge), with the register
  defaults of the 82371SB datasheet (section 2.2).  Its PIRQ route control registers PIRQRC[A:D]
  (0x60-0x63, 82371SB datasheet, PIRQRC) connect the four PCI interrupt lines PIRQA#-PIRQD# to ISA IRQs: bit 7
  set (the reset value 0x80) leaves the line unrouted, otherwise bits 3:0 name the IRQ (3-7, 9-12, 14,
  15; the datasheet's reserved values 0, 1, 2, 8 and 13 route nowhere).  An ISA IRQ that several PIRQs
  are routed to is the OR of their levels.  The reset control register at I/O port 0xCF9 belongs to it.
* :class:`PirqRouter` is that routing logic and :class:`Pam` the shadow RAM control, both shared with
  Q35/ICH9.
* :class:`I440FX` puts them together: the root bus "pci.0" (PCI slots' INTA#-INTD# swizzled onto
  PIRQA-D: :func:`~pyqemu.hw.pci.pci.swizzle_map_irq`) and configuration mechanism #1 at 0xCF8.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.pci.pci import (
    PCI_CLASS_BRIDGE_HOST,
    PCI_CLASS_BRIDGE_ISA,
    PCI_HEADER_TYPE_MULTI_FUNCTION,
    PCI_VENDOR_ID_INTEL,
    PCIBus,
    PCIDevice,
    pci_devfn,
    swizzle_map_irq,
)
from pyqemu.hw.pci.pci_host import CONFIG_PORTS_BASE, ConfigPorts, ResetControl

ISA_NUM_IRQS = 16
PIRQ_ROUTE_DISABLED = 0x80
PIRQ_ROUTE_IRQ_MASK = 0x0F
#: ISA IRQ numbers the route registers reserve (timer, keyboard, cascade, RTC, FPU)
RESERVED_ISA_IRQS = frozenset({0, 1, 2, 8, 13})

PIIX3_PIRQRC = (0x60, 0x61, 0x62, 0x63)
I440FX_PAM0 = 0x59
I440FX_SMRAM = 0x72

#: 82371SB function 0 power-on values (offset: value) other than zero and the ids
_PIIX3_DEFAULTS = {
    0x04: 0x07,  # COMMAND: I/O, memory, bus master
    0x07: 0x02,  # STATUS: DEVSEL# medium
    0x4C: 0x4D,  # IORT: ISA I/O recovery timer
    0x4E: 0x03,  # XBCS: X-bus chip select
    0x60: PIRQ_ROUTE_DISABLED, 0x61: PIRQ_ROUTE_DISABLED, 0x62: PIRQ_ROUTE_DISABLED,
    0x63: PIRQ_ROUTE_DISABLED,
    0x69: 0x02,  # TOM: top of memory
    0x70: 0x80,  # MBIRQ0: motherboard IRQ route, disabled
    0x76: 0x0C, 0x77: 0x0C,  # MBDMA0/1
    0x78: 0x02,  # PCSC: programmable chip select
    0xA0: 0x08,  # SMICNTL
    0xA8: 0x0F,  # FTMR: fast off timer
}


class PirqRouter:
    """Drives ISA IRQs from a bridge's PIRQ lines as its route registers (``offsets``, one byte per
    PIRQ in ``dev``'s config space) say; ``isa_irq(n, level)`` receives each IRQ's level."""

    def __init__(self, dev: PCIDevice, offsets: Sequence[int], isa_irq: Callable[[int, int], None]):
        self.dev = dev
        self.offsets = tuple(offsets)
        self.isa_irq = isa_irq
        self.levels = [0] * ISA_NUM_IRQS  # what this bridge drives on each ISA IRQ

    def route(self, pirq: int) -> int | None:
        """The ISA IRQ PIRQ ``pirq`` is routed to, or None."""
        value = self.dev.config[self.offsets[pirq]]
        irq = value & PIRQ_ROUTE_IRQ_MASK
        if value & PIRQ_ROUTE_DISABLED or irq in RESERVED_ISA_IRQS:
            return None
        return irq

    def update(self) -> None:
        """Recompute every ISA IRQ from the PIRQ levels and the routes; tell ``isa_irq`` of changes."""
        bus = self.dev.bus
        want = [0] * ISA_NUM_IRQS
        for pirq in range(len(self.offsets)):
            irq = self.route(pirq)
            if irq is not None and bus is not None and bus.pirq_level(pirq):
                want[irq] = 1
        for irq, level in enumerate(want):
            if level != self.levels[irq]:
                self.levels[irq] = level
                self.isa_irq(irq, level)

    def touches(self, offset: int, size: int) -> bool:
        return any(offset <= reg < offset + size for reg in self.offsets)


#: PAM segments: (register index from PAM0, bit shift of its 2-bit field, start, size)
PAM_SEGMENTS = ((0, 4, 0xF0000, 0x10000),) + tuple(
    (1 + i // 2, 4 * (i & 1), 0xC0000 + 0x4000 * i, 0x4000) for i in range(12))
PAM_READ_ENABLE = 0x1
PAM_WRITE_ENABLE = 0x2
#: above the board's ISA BIOS window (priority 1) and RAM (0)
PAM_PRIORITY = 2


class Pam:
    """Programmable attribute map: each segment of 0xC0000-0xFFFFF is, per its 2-bit field in the
    registers from ``first_reg`` of ``dev``, left to what the board put below (0: the BIOS ROM / PCI),
    read-only RAM (1: RE), or RAM (2: WE and 3: RE|WE; like QEMU, write-only is treated as RAM).
    ``ram`` is the guest RAM region (offset = physical address below 1 MiB), ``system`` the container
    the views go into."""

    def __init__(self, dev: PCIDevice, first_reg: int, ram: MemoryRegion, system: MemoryRegion):
        if ram.kind != "ram" or ram.arena is None:
            raise ValueError("PAM needs the guest RAM region")
        self.dev = dev
        self.first_reg = first_reg
        self.views: list[tuple[MemoryRegion, MemoryRegion]] = []  # (read-only, read-write) per segment
        for _, _, start, size in PAM_SEGMENTS:
            rom = MemoryRegion("pam-rom", size, "rom")
            rom.arena, rom.ram_offset = ram.arena, ram.ram_offset + start
            rw = MemoryRegion.alias_of("pam-ram", ram, start, size)
            for view in (rom, rw):
                view.enabled = False
                system.add_subregion(start, view, priority=PAM_PRIORITY)
            self.views.append((rom, rw))

    def touches(self, offset: int, size: int) -> bool:
        return offset < self.first_reg + 7 and self.first_reg < offset + size

    def update(self) -> None:
        """Show each segment the way its PAM field says."""
        for (reg, shift, _, _), (rom, rw) in zip(PAM_SEGMENTS, self.views, strict=True):
            mode = self.dev.config[self.first_reg + reg] >> shift & 3
            rom.set_enabled(mode == PAM_READ_ENABLE)
            rw.set_enabled(bool(mode & PAM_WRITE_ENABLE))


class I440FXHost(PCIDevice):
    """The 82441FX host bridge at 00.0; with ``ram`` and ``system`` given, PAM shadows the BIOS areas."""

    def __init__(self, ram: MemoryRegion | None = None, system: MemoryRegion | None = None) -> None:
        super().__init__("i440FX", vendor_id=PCI_VENDOR_ID_INTEL, device_id=0x1237, revision=0x02,
                         class_code=PCI_CLASS_BRIDGE_HOST, interrupt_pin=0)
        self.config[I440FX_SMRAM] = 0x02
        self.pam = Pam(self, I440FX_PAM0, ram, system) if ram is not None and system is not None else None

    def config_write(self, offset: int, value: int, size: int) -> None:
        super().config_write(offset, value, size)
        if self.pam is not None and self.pam.touches(offset, size):
            self.pam.update()

    def reset(self) -> None:
        super().reset()
        self.config[I440FX_PAM0:I440FX_PAM0 + 7] = bytes(7)
        self.config[I440FX_SMRAM] = 0x02
        if self.pam is not None:
            self.pam.update()

    def load_vmstate(self, state: dict) -> None:
        super().load_vmstate(state)
        if self.pam is not None:
            self.pam.update()


class IsaBridge(PCIDevice):
    """What PIIX3 and ICH9's LPC bridge share: a :class:`PirqRouter` over their route registers and the
    reset control register at 0xCF9, both re-evaluated on config writes, reset and state loads.
    Subclasses set ``router`` and ``reset_control`` and load their power-on values in ``_load_defaults``."""

    router: PirqRouter
    reset_control: ResetControl
    #: the name of the reset control register in :meth:`vmstate`
    rcr_key = "rcr"

    def _load_defaults(self) -> None:
        raise NotImplementedError

    def config_write(self, offset: int, value: int, size: int) -> None:
        super().config_write(offset, value, size)
        if self.router.touches(offset, size):
            self.router.update()

    def reset(self) -> None:
        super().reset()
        self._load_defaults()
        self.reset_control.reset()
        self.router.update()

    def vmstate(self) -> dict:
        return {**super().vmstate(), self.rcr_key: self.reset_control.value}

    def load_vmstate(self, state: dict) -> None:
        super().load_vmstate(state)
        self.reset_control.value = state[self.rcr_key]
        self.router.update()


class PIIX3(IsaBridge):
    """The 82371SB PCI-to-ISA bridge at 01.0: PIRQ routing and the 0xCF9 reset control register."""

    def __init__(self, isa_irq: Callable[[int, int], None],
                 request_reset: Callable[[], None] | None = None) -> None:
        super().__init__("PIIX3", vendor_id=PCI_VENDOR_ID_INTEL, device_id=0x7000,
                         class_code=PCI_CLASS_BRIDGE_ISA, header_type=PCI_HEADER_TYPE_MULTI_FUNCTION,
                         interrupt_pin=0)
        self.router = PirqRouter(self, PIIX3_PIRQRC, isa_irq)
        self.reset_control = ResetControl(request_reset)
        self._load_defaults()

    def _load_defaults(self) -> None:
        for offset, value in _PIIX3_DEFAULTS.items():
            self.config[offset] = value

    def set_pirq(self, pirq: int, level: int) -> None:
        """The bus's ``set_pirq``: a PIRQ line changed level."""
        self.router.update()


class PcChipset:
    """What the two PC chipsets share: a root bus carrying the host bridge and the ISA bridge, whose reset
    control register sits with the configuration ports at 0xCF8; reset and saved state cover
    CONFIG_ADDRESS and those two functions (other functions save their own).  ``functions`` names them
    in the saved state."""

    bus: PCIBus
    conf: ConfigPorts
    functions: dict[str, PCIDevice]

    def _plug_chipset(self, io: MemoryRegion, host: PCIDevice, bridge: IsaBridge, bridge_devfn: int) -> None:
        self.bus.plug(host, pci_devfn(0, 0))
        self.bus.plug(bridge, bridge_devfn)
        self.conf = ConfigPorts(self.bus, bridge.reset_control)
        io.add_subregion(CONFIG_PORTS_BASE, self.conf.region)

    def reset(self) -> None:
        """System reset: CONFIG_ADDRESS and every function on the bus."""
        self.conf.reset()
        self.bus.reset()

    def vmstate(self) -> dict:
        return {"config_address": self.conf.address,
                **{name: dev.vmstate() for name, dev in self.functions.items()}}

    def load_vmstate(self, state: dict) -> None:
        self.conf.address = state["config_address"]
        for name, dev in self.functions.items():
            dev.load_vmstate(state[name])


class I440FX(PcChipset):
    """The i440FX/PIIX3 chipset of a ``pc`` board.

    ``mem`` and ``io`` are the containers PCI BARs are mapped into (the PCI memory space and the 64 KiB
    port space; CONFIG_ADDRESS/CONFIG_DATA are put at 0xCF8 in ``io``), ``dma`` the address space bus
    masters reach memory through, ``isa_irq(n, level)`` the board's ISA interrupt inputs and
    ``request_reset`` what a guest's write of RST_CPU to 0xCF9 calls.  Given the guest ``ram`` region
    and the ``system`` memory container, the PAM registers shadow 0xC0000-0xFFFFF (:class:`Pam`).
    """

    def __init__(self, mem: MemoryRegion, io: MemoryRegion, *, isa_irq: Callable[[int, int], None],
                 dma: AddressSpace | None = None, request_reset: Callable[[], None] | None = None,
                 ram: MemoryRegion | None = None, system: MemoryRegion | None = None) -> None:
        self.piix3 = PIIX3(isa_irq, request_reset)
        self.bus = PCIBus("pci.0", mem, io, dma=dma, map_irq=swizzle_map_irq, set_pirq=self.piix3.set_pirq)
        self.host = I440FXHost(ram, system)
        self._plug_chipset(io, self.host, self.piix3, pci_devfn(1, 0))
        self.functions = {"host": self.host, "piix3": self.piix3}
