"""The ``q35`` machine's chipset: the Q35 memory controller hub and the ICH9 LPC bridge (QEMU
hw/pci-host/q35.c, hw/isa/lpc_ich9.c).

* :class:`MCH`, 00.0: 8086:29c0, class 0600.  PCIEXBAR (0x60, 64 bits; Intel 3 Series/Q35 chipset datasheet,
  PCIEXBAR) places the ECAM window: bit 0 enables it, bits 2:1 give its length (0: 256 MiB for buses
  0-255, 1: 128 MiB, 2: 64 MiB, 3: reserved, decodes nothing) and bits 35:26 its base, aligned to the
  length.  It resets to QEMU's 0xB0000000, disabled; firmware sets bit 0.  PAM0-PAM6 (0x90-0x96)
  shadow the BIOS areas as on the i440FX (:class:`~pyqemu.hw.pci.i440fx.Pam`).
* :class:`ICH9LPC`, 1f.0: 8086:2918 rev 2, class 0601.  PIRQA-D route through 0x60-0x63 and PIRQE-H
  through 0x68-0x6B (ICH9 datasheet, LPC PIRQ[n]_ROUT; same encoding as PIIX3's, see
  :class:`~pyqemu.hw.pci.i440fx.PirqRouter`).  Each PIRQ also drives IOAPIC input 16 + n directly.
  RST_CNT (0xCF9) is its reset control register.
* Interrupt wiring (:func:`ich9_map_irq`), QEMU's default chipset configuration: functions in slots
  25-29 and 31 (the chipset's own devices) take INTA#-INTD# to PIRQA-D unswizzled (the DnnIR registers'
  reset value 0x3210); slot 30 (the DMI-to-PCI bridge) takes them to PIRQE-H; every other slot swizzles
  INTA# of slot ``s`` onto PIRQ E + (s mod 4), then F, G, H for the next pins -- QEMU keeps PIRQA-D for
  the chipset devices and PCIe root ports.  The chipset configuration registers (RCBA) that could
  change this are not modelled.
* :class:`Q35` puts them together on the root bus "pcie.0" with configuration mechanism #1 at 0xCF8.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.pci.i440fx import IsaBridge, Pam, PcChipset, PirqRouter
from pyqemu.hw.pci.pci import (
    PCI_CLASS_BRIDGE_HOST,
    PCI_CLASS_BRIDGE_ISA,
    PCI_HEADER_TYPE_MULTI_FUNCTION,
    PCI_VENDOR_ID_INTEL,
    PCIBus,
    PCIDevice,
    pci_devfn,
    pci_slot,
)
from pyqemu.hw.pci.pci_host import Ecam, ResetControl

MCH_PCIEXBAR = 0x60
MCH_PAM0 = 0x90
MCH_PCIEXBAR_DEFAULT = 0xB0000000
MCH_PCIEXBAR_ENABLE = 0x1
#: length field (bits 2:1) -> window size
PCIEXBAR_LENGTHS = {0: 256 << 20, 1: 128 << 20, 2: 64 << 20}
_PCIEXBAR_WMASK = ((1 << 36) - 1) & ~((1 << 26) - 1) | 0x7

ICH9_LPC_DEVFN = pci_devfn(31, 0)
ICH9_LPC_PIRQ_ROUT = (0x60, 0x61, 0x62, 0x63, 0x68, 0x69, 0x6A, 0x6B)
ICH9_LPC_PMBASE = 0x40
ICH9_LPC_PMBASE_WMASK = 0xFF80  # base address bits 15:7
ICH9_NUM_PIRQS = 8
#: IOAPIC input of PIRQA (PIRQ n -> 16 + n)
ICH9_PIRQ_GSI_BASE = 16
#: reset control bits ICH9 keeps (FULL_RST, SYS_RST)
ICH9_RST_CNT_KEPT = 0x0A

#: per slot, the PIRQ of INTA#..INTD#
_ICH9_IRR: tuple[tuple[int, ...], ...] = tuple(
    tuple(range(4)) if slot in (25, 26, 27, 28, 29, 31)
    else tuple(range(4, 8)) if slot == 30
    else tuple((slot + intx) % 4 + 4 for intx in range(4))
    for slot in range(32))


def ich9_map_irq(devfn: int, pin: int) -> int:
    """The PIRQ (0 = A .. 7 = H) pin ``pin`` (1 = INTA#) of the function at ``devfn`` is wired to."""
    return _ICH9_IRR[pci_slot(devfn)][pin - 1]


class MCH(PCIDevice):
    """The Q35 host bridge at 00.0; maps ``ecam`` into ``ecam_root`` as PCIEXBAR says; with ``ram`` and
    ``system`` given, PAM shadows the BIOS areas."""

    def __init__(self, ecam: Ecam, ecam_root: MemoryRegion, ram: MemoryRegion | None = None,
                 system: MemoryRegion | None = None) -> None:
        super().__init__("mch", vendor_id=PCI_VENDOR_ID_INTEL, device_id=0x29C0,
                         class_code=PCI_CLASS_BRIDGE_HOST, interrupt_pin=0)
        self.ecam = ecam
        self.ecam_root = ecam_root
        self.ecam_base: int | None = None  # where the window is mapped now
        self.wmask[MCH_PCIEXBAR:MCH_PCIEXBAR + 8] = _PCIEXBAR_WMASK.to_bytes(8, "little")
        self._set_pciexbar(MCH_PCIEXBAR_DEFAULT)
        self.pam = Pam(self, MCH_PAM0, ram, system) if ram is not None and system is not None else None

    def _set_pciexbar(self, value: int) -> None:
        self.config[MCH_PCIEXBAR:MCH_PCIEXBAR + 8] = value.to_bytes(8, "little")

    def pciexbar(self) -> int:
        return int.from_bytes(self.config[MCH_PCIEXBAR:MCH_PCIEXBAR + 8], "little")

    def config_write(self, offset: int, value: int, size: int) -> None:
        super().config_write(offset, value, size)
        if offset < MCH_PCIEXBAR + 8 and MCH_PCIEXBAR < offset + size:
            self.update_ecam()
        if self.pam is not None and self.pam.touches(offset, size):
            self.pam.update()

    def update_ecam(self) -> None:
        """Unmap the ECAM window and map it again where PCIEXBAR says (when enabled)."""
        bar = self.pciexbar()
        size = PCIEXBAR_LENGTHS.get(bar >> 1 & 3)
        base = None
        if bar & MCH_PCIEXBAR_ENABLE and size is not None:
            base = bar & ((1 << 36) - 1) & ~(size - 1)
        if base == self.ecam_base and (base is None or size == self.ecam.region.size):
            return
        if self.ecam_base is not None:
            self.ecam_root.del_subregion(self.ecam.region)
            self.ecam_base = None
        if base is not None and size is not None:
            self.ecam.resize(size)
            self.ecam_root.add_subregion(base, self.ecam.region, priority=2)
            self.ecam_base = base

    def reset(self) -> None:
        super().reset()
        self._set_pciexbar(MCH_PCIEXBAR_DEFAULT)
        self.update_ecam()
        self.config[MCH_PAM0:MCH_PAM0 + 7] = bytes(7)
        if self.pam is not None:
            self.pam.update()

    def load_vmstate(self, state: dict) -> None:
        super().load_vmstate(state)
        self.update_ecam()
        if self.pam is not None:
            self.pam.update()


class ICH9LPC(IsaBridge):
    """The ICH9 LPC bridge at 1f.0: PIRQA-H to ISA IRQs (``gsi`` 0-15) and IOAPIC inputs (``gsi``
    16-23), and the RST_CNT register at 0xCF9."""

    rcr_key = "rst_cnt"

    def __init__(self, gsi: Callable[[int, int], None],
                 request_reset: Callable[[], None] | None = None) -> None:
        super().__init__("ICH9-LPC", vendor_id=PCI_VENDOR_ID_INTEL, device_id=0x2918, revision=0x02,
                         class_code=PCI_CLASS_BRIDGE_ISA, header_type=PCI_HEADER_TYPE_MULTI_FUNCTION,
                         interrupt_pin=0)
        self.gsi = gsi
        self.router = PirqRouter(self, ICH9_LPC_PIRQ_ROUT, gsi)
        self.reset_control = ResetControl(request_reset, kept=ICH9_RST_CNT_KEPT)
        self.wmask[ICH9_LPC_PMBASE:ICH9_LPC_PMBASE + 4] = ICH9_LPC_PMBASE_WMASK.to_bytes(4, "little")
        self._load_defaults()

    def _load_defaults(self) -> None:
        for offset in ICH9_LPC_PIRQ_ROUT:
            self.config[offset] = 0x80
        self.set_long(ICH9_LPC_PMBASE, 0x00000001)  # bit 0: I/O space indicator, hardwired

    def set_pirq(self, pirq: int, level: int) -> None:
        """The bus's ``set_pirq``: PIRQ ``pirq`` goes to IOAPIC input 16 + pirq and, when routed, an ISA
        IRQ."""
        self.gsi(ICH9_PIRQ_GSI_BASE + pirq, level)
        self.router.update()


class Q35(PcChipset):
    """The Q35/ICH9 chipset of a ``q35`` board.

    ``mem``/``io`` are the containers BARs are mapped into (CONFIG_ADDRESS/DATA go to 0xCF8 in ``io``),
    ``ecam_root`` where the ECAM window goes (default ``mem``), ``dma`` the bus masters' address space,
    ``gsi(n, level)`` the board's interrupt inputs (0-15: ISA IRQs on i8259 and IOAPIC, 16-23: IOAPIC
    only), ``request_reset`` what RST_CPU at 0xCF9 calls; given the guest ``ram`` region and the
    ``system`` memory container, PAM shadows 0xC0000-0xFFFFF.
    """

    def __init__(self, mem: MemoryRegion, io: MemoryRegion, *, gsi: Callable[[int, int], None],
                 dma: AddressSpace | None = None, request_reset: Callable[[], None] | None = None,
                 ecam_root: MemoryRegion | None = None, ram: MemoryRegion | None = None,
                 system: MemoryRegion | None = None) -> None:
        self.lpc = ICH9LPC(gsi, request_reset)
        self.bus = PCIBus("pcie.0", mem, io, dma=dma, map_irq=ich9_map_irq, set_pirq=self.lpc.set_pirq,
                          nirq=ICH9_NUM_PIRQS)
        self.ecam = Ecam(self.bus)
        self.mch = MCH(self.ecam, ecam_root if ecam_root is not None else mem, ram, system)
        self._plug_chipset(io, self.mch, self.lpc, ICH9_LPC_DEVFN)
        self.functions = {"mch": self.mch, "lpc": self.lpc}
