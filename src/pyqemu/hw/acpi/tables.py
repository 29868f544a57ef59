"""The ACPI tables of the x86 ``pc`` (i440FX + PIIX4 PM) and ``q35`` (ICH9 LPC PM) machines, laid out in
guest memory: RSDP, XSDT, FADT, FACS, MADT, DSDT and MCFG (ACPI 6.x chapter 5, "ACPI Software Programming
Model"); the DSDT describes the PCI host bridge and its interrupt routing.

Spec sections: RSDP 5.2.5, the system description table header 5.2.6, XSDT 5.2.8, FADT 5.2.9 (with the
Generic Address Structure of 5.2.3.2), FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12 (Processor Local APIC
5.2.12.2, I/O APIC 5.2.12.3, Interrupt Source Override 5.2.12.5, Local APIC NMI 5.2.12.7),
the PM1 registers 4.8.3.1 / 4.8.3.2, the power button (chapter 4, fixed hardware features; PNP0C0C is the
control-method power button device) and the \\_Sx system-state packages (chapter 7).

Choices (QEMU's, read from its ``hw/i386/acpi-build.c`` behaviour and its test tables):

* **PM I/O base 0x600** on both machines (under QEMU SeaBIOS programs PIIX4's PMBA and ICH9's PMBASE to
  0x600; with direct kernel boot there is no BIOS, so pyqemu's PM device must start decoding there): PM1a
  event block at base+0 (4 bytes: PM1_STS, PM1_EN), PM1a control block at base+4 (2 bytes), the 24-bit PM
  timer at base+8 (4 bytes). GPE0: PIIX4 at 0xAFE0 (4 bytes), ICH9 at base+0x20 = 0x620 (16 bytes).
* **SCI** on ISA IRQ 9, level-triggered active-high (MADT override). SMI command port 0xB2 (APM) with
  ACPI_ENABLE/ACPI_DISABLE 0xF1/0xF0 (PIIX4) or 0x02/0x03 (ICH9); the PM device sets SCI_EN on the enable
  value.
* **Reset register**: port 0xCF9 (the PIIX3/ICH9 reset control register), value 0x0F, as QEMU's FADT.
* **Power button**: the fixed-feature button (FADT flag PWR_BUTTON clear): ``system_powerdown`` sets
  PWRBTN_STS (PM1_STS bit 8) and raises the SCI when PWRBTN_EN is set, as QEMU does; the DSDT also has a
  PNP0C0C device ``\\_SB.PWRB`` that firmware AML may ``Notify(..., 0x80)``.
* **\\_S5 SLP_TYP = 0**: QEMU's PM1 control register treats a write with SLP_EN (bit 13) and SLP_TYP
  (bits 12-10) = 0 as "soft off" (and 1 as S3), so ``\\_S5`` is ``Package {0, 0, 0, 0}``. No \\_S3/\\_S4:
  the guest is offered only S5.
* FADT revision 6 (ACPI 6.0 layout, 276 bytes, minor version 0; acpica 20200925's ``iasl -d`` reports a
  revision-5-sized, 268-byte FADT as truncated) with flags WBINVD, PROC_C1, SLP_BUTTON,
  RTC_S4, RESET_REG_SUP, USE_PLATFORM_CLOCK (QEMU's 0x84A5); IA-PC boot flags "legacy devices" and
  "8042 present"; RTC century register 0x32.
* MADT: one enabled Local APIC per CPU (UID = APIC ID = index), the I/O APIC (ID 0) at 0xFEC00000 with GSI
  base 0, overrides IRQ0 -> GSI 2 (bus default polarity/trigger) and IRQs 5, 9, 10, 11 level/active-high
  (QEMU's PCI interrupt lines, 9 being the SCI), and a Local APIC NMI on LINT1 for all processors.
* Headers carry OEM ID "BOCHS ", OEM table id "BXPC" + signature, OEM revision 1, creator "BXPC" rev 1.

**PCI** (:func:`pci_aml`; ACPI 6.x 6.1-6.2 device identification and configuration, 6.4 resource
descriptors, 6.2.13 ``_PRT``; the PCI Firmware Specification 3.0 for PNP0A08 and the MCFG, 4.1.2).
The kernel is loaded directly and pyqemu programs PCI as a firmware would, so the tables describe that
state:

* ``\\_SB.PCI0``: pc PNP0A03; q35 PNP0A08 (compatible PNP0A03) with ``_BBN`` 0.  ``_CRS``: buses 0-255,
  the config ports 0xCF8-0xCFF (consumed), I/O windows 0-0xCF7 and 0xD00-0xFFFF, the VGA window
  0xA0000-0xBFFFF and the 32-bit PCI hole from the end of low RAM to 0xFEBFFFFF less the ECAM window
  (:func:`pci_hole32`), plus an optional 64-bit window (QWordMemory).
* Interrupts.  PIC mode (``\\_PIC(0)``, the default): every slot's INTA#-INTD# goes to the PNP0C0F link of
  its PIRQ as the board wires it (pc ``swizzle_map_irq``, q35 ``ich9_map_irq``, read from those functions):
  ``LNKA``-``LNKD`` over PIIX3's PIRQRC 0x60-0x63, ``LNKA``-``LNKH`` over ICH9's PIRQ routes 0x60-0x63 and
  0x68-0x6B, each read and written through a PCI_Config OperationRegion of the router function
  (``\\_SB.PCI0.ISA`` 01.0 / ``\\_SB.PCI0.LPC`` 1f.0); they offer IRQs 5, 10, 11 level/active-high/shared.
  APIC mode: on pc the same links serve -- an ISA IRQ is the IOAPIC input of the same number (MADT
  overrides make 5/9/10/11 level, active high), so one constant ``_PRT`` is right for both models.  On q35
  PIRQ A-H also drive IOAPIC inputs 16-23 directly; the APIC-mode ``_PRT`` names links ``GSIA``-``GSIH``
  fixed to those inputs rather than rows with source 0, because the ACPI default for such rows is
  active-low while the board drives the lines active-high.
* With an ECAM window (q35): an MCFG and a PNP0C02 device ``\\_SB.ECAM`` reserving the window (Linux
  trusts MCFG only for space reserved in e820 or as a motherboard resource).

**Layout** (:func:`build_acpi`): the RSDP at ``base`` (16-byte aligned; default 0xE0000, within the BIOS
read-only area the OS searches, 0xE0000-0xFFFFF), then the FACS (64-byte aligned), DSDT, FADT, MADT,
MCFG (with ECAM) and XSDT, each 16-byte aligned. All pointers are filled in; every checksummed table sums
to 0 mod 256.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyqemu.hw.acpi import aml
from pyqemu.hw.pci.i440fx import PIIX3_PIRQRC, PIRQ_ROUTE_DISABLED, PIRQ_ROUTE_IRQ_MASK
from pyqemu.hw.pci.pci import pci_devfn, pci_slot, swizzle_map_irq
from pyqemu.hw.pci.pci_host import CONFIG_PORTS_BASE
from pyqemu.hw.pci.q35 import ICH9_LPC_DEVFN, ICH9_LPC_PIRQ_ROUT, ICH9_PIRQ_GSI_BASE, ich9_map_irq

GuestWriter = Callable[[int, bytes], None]

OEM_ID = b"BOCHS "
OEM_TABLE_PREFIX = b"BXPC"
OEM_REVISION = 1
CREATOR_ID = b"BXPC"
CREATOR_REVISION = 1

HEADER_LEN = 36
RSDP_LEN = 36
FACS_LEN = 64
FADT_REVISION = 6
FADT_MINOR = 0
FADT_LEN = 276
MADT_REVISION = 1
DSDT_REVISION = 2  # 64-bit AML integers
XSDT_REVISION = 1

DEFAULT_BASE = 0xE0000
LOCAL_APIC_ADDR = 0xFEE00000
IO_APIC_ADDR = 0xFEC00000
IO_APIC_ID = 0
MAX_CPUS = 255  # xAPIC ids only (no x2APIC entries)

# PM1 registers (ACPI 6.x, 4.8.3.1 / 4.8.3.2), for the PM device models.
PM1_STS_TMR = 1 << 0
PM1_STS_PWRBTN = 1 << 8
PM1_EN_PWRBTN = 1 << 8
PM1_CNT_SCI_EN = 1 << 0
PM1_CNT_SLP_TYP_SHIFT = 10
PM1_CNT_SLP_TYP_MASK = 7 << PM1_CNT_SLP_TYP_SHIFT
PM1_CNT_SLP_EN = 1 << 13
S5_SLP_TYP = 0
"""SLP_TYP value ``\\_S5`` gives, i.e. what the guest writes (with SLP_EN) to PM1a_CNT to power off."""
S5_PM1_CNT_WRITE = PM1_CNT_SLP_EN | (S5_SLP_TYP << PM1_CNT_SLP_TYP_SHIFT)
"""The PM1a_CNT bits (besides SCI_EN) of a guest's ``poweroff``: 0x2000."""

# FADT fixed feature flags (5.2.9)
FADT_F_WBINVD = 1 << 0
FADT_F_PROC_C1 = 1 << 2
FADT_F_PWR_BUTTON = 1 << 4
FADT_F_SLP_BUTTON = 1 << 5
FADT_F_RTC_S4 = 1 << 7
FADT_F_RESET_REG_SUP = 1 << 10
FADT_F_USE_PLATFORM_CLOCK = 1 << 15
FADT_FLAGS = (FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RTC_S4 | FADT_F_RESET_REG_SUP
              | FADT_F_USE_PLATFORM_CLOCK)
# IA-PC boot architecture flags (5.2.9.3)
BOOT_ARCH_LEGACY_DEVICES = 1 << 0
BOOT_ARCH_8042 = 1 << 1
RTC_CENTURY_INDEX = 0x32

# MADT (5.2.12)
MADT_PCAT_COMPAT = 1 << 0
MADT_TYPE_LOCAL_APIC = 0
MADT_TYPE_IO_APIC = 1
MADT_TYPE_INT_OVERRIDE = 2
MADT_TYPE_LOCAL_APIC_NMI = 4
LOCAL_APIC_ENABLED = 1 << 0
MPS_INTI_POLARITY_HIGH = 0x1
MPS_INTI_TRIGGER_LEVEL = 0xC
LEVEL_HIGH = MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL  # 0x000D

GAS_SYSTEM_MEMORY = 0
GAS_SYSTEM_IO = 1


@dataclass(frozen=True)
class PmConfig:
    """Where a machine's ACPI PM hardware sits in port I/O, as the FADT advertises it."""

    chipset: str
    gpe0_base: int
    gpe0_len: int
    acpi_enable: int
    acpi_disable: int
    pm_base: int = 0x600
    sci_irq: int = 9
    smi_cmd: int = 0xB2
    reset_port: int = 0xCF9
    reset_value: int = 0x0F

    @property
    def pm1a_evt(self) -> int:
        return self.pm_base

    @property
    def pm1a_cnt(self) -> int:
        return self.pm_base + 4

    @property
    def pm_tmr(self) -> int:
        return self.pm_base + 8


PIIX4_PM = PmConfig("piix4", gpe0_base=0xAFE0, gpe0_len=4, acpi_enable=0xF1, acpi_disable=0xF0)
ICH9_PM = PmConfig("ich9", gpe0_base=0x620, gpe0_len=16, acpi_enable=0x02, acpi_disable=0x03)
MACHINE_PM: dict[str, PmConfig] = {"pc": PIIX4_PM, "q35": ICH9_PM}

# (ISA IRQ, GSI, MPS INTI flags): QEMU's overrides for both machines.
INTERRUPT_OVERRIDES: tuple[tuple[int, int, int], ...] = (
    (0, 2, 0),
    (5, 5, LEVEL_HIGH),
    (9, 9, LEVEL_HIGH),
    (10, 10, LEVEL_HIGH),
    (11, 11, LEVEL_HIGH),
)


# -- helpers ----------------------------------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """The byte that makes ``data`` (with a zero in its checksum slot) sum to 0 mod 256."""
    return (-sum(data)) & 0xFF


def sums_to_zero(data: bytes) -> bool:
    return sum(data) & 0xFF == 0


def table(signature: bytes, revision: int, body: bytes) -> bytes:
    """A system description table: the 36-byte header (5.2.6) + ``body``, checksum at offset 9 filled."""
    if len(signature) != 4:
        raise ValueError("ACPI signatures are 4 bytes")
    length = HEADER_LEN + len(body)
    header = struct.pack("<4sIBB6s8sI4sI", signature, length, revision, 0, OEM_ID,
                         OEM_TABLE_PREFIX + signature, OEM_REVISION, CREATOR_ID, CREATOR_REVISION)
    raw = bytearray(header + body)
    raw[9] = checksum(raw)
    return bytes(raw)


def gas(space: int, bit_width: int, address: int, bit_offset: int = 0, access_size: int = 0) -> bytes:
    """A 12-byte Generic Address Structure (5.2.3.2)."""
    return struct.pack("<BBBBQ", space, bit_width, bit_offset, access_size, address)


def io_gas(port: int, length: int) -> bytes:
    """A SystemIO GAS for a ``length``-byte register block (an all-zero GAS when ``length`` is 0)."""
    return gas(GAS_SYSTEM_IO, length * 8, port) if length else gas(GAS_SYSTEM_MEMORY, 0, 0)


# -- tables -----------------------------------------------------------------------------------------------


def build_rsdp(xsdt_addr: int, rsdt_addr: int = 0) -> bytes:
    """The ACPI 2.0+ RSDP (5.2.5.3): the checksum covers bytes 0-19, the extended checksum all 36."""
    raw = bytearray(struct.pack("<8sB6sBIIQB3s", b"RSD PTR ", 0, OEM_ID, 2, rsdt_addr, RSDP_LEN, xsdt_addr,
                                0, b"\x00" * 3))
    raw[8] = checksum(raw[:20])
    raw[32] = checksum(raw)
    return bytes(raw)


def build_xsdt(entries: list[int]) -> bytes:
    """XSDT (5.2.8): 64-bit physical addresses of the other tables (not the DSDT and FACS)."""
    return table(b"XSDT", XSDT_REVISION, b"".join(struct.pack("<Q", a) for a in entries))


def build_facs() -> bytes:
    """FACS (5.2.10): 64 bytes, no checksum; version 2, no global lock, no waking vector yet."""
    return struct.pack("<4sIIIIIQB3sI24s", b"FACS", FACS_LEN, 0, 0, 0, 0, 0, 2, b"\x00" * 3, 0, b"\x00" * 24)


# FADT fields after the header: (name, struct format). Offsets follow from the order (table 5.9).
FADT_FIELDS: tuple[tuple[str, str], ...] = (
    ("firmware_ctrl", "I"), ("dsdt", "I"), ("reserved0", "B"), ("preferred_pm_profile", "B"),
    ("sci_int", "H"), ("smi_cmd", "I"), ("acpi_enable", "B"), ("acpi_disable", "B"), ("s4bios_req", "B"),
    ("pstate_cnt", "B"), ("pm1a_evt_blk", "I"), ("pm1b_evt_blk", "I"), ("pm1a_cnt_blk", "I"),
    ("pm1b_cnt_blk", "I"), ("pm2_cnt_blk", "I"), ("pm_tmr_blk", "I"), ("gpe0_blk", "I"), ("gpe1_blk", "I"),
    ("pm1_evt_len", "B"), ("pm1_cnt_len", "B"), ("pm2_cnt_len", "B"), ("pm_tmr_len", "B"),
    ("gpe0_blk_len", "B"), ("gpe1_blk_len", "B"), ("gpe1_base", "B"), ("cst_cnt", "B"),
    ("p_lvl2_lat", "H"), ("p_lvl3_lat", "H"), ("flush_size", "H"), ("flush_stride", "H"),
    ("duty_offset", "B"), ("duty_width", "B"), ("day_alrm", "B"), ("mon_alrm", "B"), ("century", "B"),
    ("iapc_boot_arch", "H"), ("reserved1", "B"), ("flags", "I"), ("reset_reg", "12s"), ("reset_value", "B"),
    ("arm_boot_arch", "H"), ("fadt_minor_version", "B"), ("x_firmware_ctrl", "Q"), ("x_dsdt", "Q"),
    ("x_pm1a_evt_blk", "12s"), ("x_pm1b_evt_blk", "12s"), ("x_pm1a_cnt_blk", "12s"),
    ("x_pm1b_cnt_blk", "12s"), ("x_pm2_cnt_blk", "12s"), ("x_pm_tmr_blk", "12s"), ("x_gpe0_blk", "12s"),
    ("x_gpe1_blk", "12s"), ("sleep_control_reg", "12s"), ("sleep_status_reg", "12s"),
    ("hypervisor_vendor_identity", "Q"),
)
FADT_FORMAT = "<" + "".join(f for _, f in FADT_FIELDS)


def fadt_offsets() -> dict[str, int]:
    """Each FADT field's byte offset in the table (header included)."""
    out: dict[str, int] = {}
    off = HEADER_LEN
    for fname, fmt in FADT_FIELDS:
        out[fname] = off
        off += struct.calcsize("<" + fmt)
    return out


def build_fadt(pm: PmConfig, dsdt_addr: int, facs_addr: int) -> bytes:
    """FADT (5.2.9), revision 6, with both the 32-bit blocks and their X_ Generic Address forms."""
    zero_gas = gas(GAS_SYSTEM_MEMORY, 0, 0)
    values: dict[str, Any] = {fname: (zero_gas if fmt == "12s" else 0) for fname, fmt in FADT_FIELDS}
    values.update(
        firmware_ctrl=facs_addr, dsdt=dsdt_addr, sci_int=pm.sci_irq, smi_cmd=pm.smi_cmd,
        acpi_enable=pm.acpi_enable, acpi_disable=pm.acpi_disable,
        pm1a_evt_blk=pm.pm1a_evt, pm1a_cnt_blk=pm.pm1a_cnt, pm_tmr_blk=pm.pm_tmr, gpe0_blk=pm.gpe0_base,
        pm1_evt_len=4, pm1_cnt_len=2, pm_tmr_len=4, gpe0_blk_len=pm.gpe0_len,
        p_lvl2_lat=0xFFF, p_lvl3_lat=0xFFF,  # > 100 / > 1000: C2 and C3 unsupported
        century=RTC_CENTURY_INDEX, iapc_boot_arch=BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042,
        flags=FADT_FLAGS, reset_reg=io_gas(pm.reset_port, 1), reset_value=pm.reset_value,
        fadt_minor_version=FADT_MINOR, x_dsdt=dsdt_addr,
        x_pm1a_evt_blk=io_gas(pm.pm1a_evt, 4), x_pm1a_cnt_blk=io_gas(pm.pm1a_cnt, 2),
        x_pm_tmr_blk=io_gas(pm.pm_tmr, 4), x_gpe0_blk=io_gas(pm.gpe0_base, pm.gpe0_len),
    )
    body = struct.pack(FADT_FORMAT, *(values[fname] for fname, _ in FADT_FIELDS))
    return table(b"FACP", FADT_REVISION, body)


def build_madt(cpus: int, overrides: tuple[tuple[int, int, int], ...] = INTERRUPT_OVERRIDES) -> bytes:
    """MADT (5.2.12): the local APIC address and flags, then the interrupt controller structures."""
    if not 1 <= cpus <= MAX_CPUS:
        raise ValueError(f"MADT: {cpus} CPUs (1-{MAX_CPUS} supported)")
    body = struct.pack("<II", LOCAL_APIC_ADDR, MADT_PCAT_COMPAT)
    for cpu in range(cpus):
        body += struct.pack("<BBBBI", MADT_TYPE_LOCAL_APIC, 8, cpu, cpu, LOCAL_APIC_ENABLED)
    body += struct.pack("<BBBBII", MADT_TYPE_IO_APIC, 12, IO_APIC_ID, 0, IO_APIC_ADDR, 0)
    for irq, gsi, flags in overrides:
        body += struct.pack("<BBBBIH", MADT_TYPE_INT_OVERRIDE, 10, 0, irq, gsi, flags)
    body += struct.pack("<BBBHB", MADT_TYPE_LOCAL_APIC_NMI, 6, 0xFF, 0, 1)  # all processors, LINT1
    return table(b"APIC", MADT_REVISION, body)


# -- the PCI host bridge (\_SB.PCI0), its interrupt routing and MCFG ----------------------------------------

PCI_HOLE_END = IO_APIC_ADDR - 1
"""0xFEBFFFFF, the last byte of the 32-bit PCI memory window: the IOAPIC (0xFEC00000) and what follows
belong to the chipset."""
VGA_WINDOW = (0xA0000, 0xBFFFF)
PCI_IO_WINDOWS = ((0x0000, CONFIG_PORTS_BASE - 1), (CONFIG_PORTS_BASE + 8, 0xFFFF))
PCI_BUS_RANGE = (0x00, 0xFF)
LINK_IRQS = (5, 10, 11)
"""The ISA IRQs a PIC-mode link may route to: those the MADT overrides to level, active high (9 is the
SCI's)."""
LINK_STA_ENABLED = 0x0B  # present, enabled, functioning (6.3.7)
LINK_STA_DISABLED = 0x09  # present, functioning
PCI_SLOTS = range(1, 32)
"""Slots the ``_PRT`` covers: all but 0, the host bridge, which has no interrupt pin."""
PCI_PINS = 4  # INTA#-INTD#
MCFG_REVISION = 1
ECAM_BUS_SIZE = 1 << 20  # 32 devices x 8 functions x 4 KiB


@dataclass(frozen=True)
class PciChipset:
    """How a PC board's PCI host bridge and interrupt router look to ACPI.

    ``route_regs`` are the PIRQ route registers (one byte per PIRQ, in order) in the config space of the
    interrupt router at ``router_devfn``; ``map_irq(devfn, pin)`` is the board's PIRQ wiring (pin 1 =
    INTA#); ``apic_gsi_base``, when set, is the IOAPIC input of PIRQA (PIRQ n -> base + n), which the
    APIC-mode ``_PRT`` then uses instead of the links.
    """

    hid: str
    cid: str | None
    has_bbn: bool
    lowmem_limit: int
    router_name: str
    router_devfn: int
    route_regs: tuple[int, ...]
    map_irq: Callable[[int, int], int]
    apic_gsi_base: int | None = None

    @property
    def pirqs(self) -> int:
        return len(self.route_regs)


I440FX_PCI = PciChipset("PNP0A03", None, False, 0xE0000000, "ISA", pci_devfn(1, 0), PIIX3_PIRQRC,
                        swizzle_map_irq)
Q35_PCI = PciChipset("PNP0A08", "PNP0A03", True, 0xB0000000, "LPC", ICH9_LPC_DEVFN, ICH9_LPC_PIRQ_ROUT,
                     ich9_map_irq, ICH9_PIRQ_GSI_BASE)
MACHINE_PCI: dict[str, PciChipset] = {"pc": I440FX_PCI, "q35": Q35_PCI}


@dataclass(frozen=True)
class PciHost:
    """A board's PCI host bridge as the DSDT describes it: the chipset and the memory windows (inclusive
    ranges) -- ``mem32`` below 4 GiB, optional ``mem64`` above -- and the ECAM window ``(base, size)``
    (reserved as a motherboard resource and described by the MCFG), if any."""

    chipset: PciChipset
    mem32: tuple[tuple[int, int], ...]
    mem64: tuple[int, int] | None = None
    ecam: tuple[int, int] | None = None


def pci_hole32(below_4g: int, ecam: tuple[int, int] | None = None) -> tuple[tuple[int, int], ...]:
    """The 32-bit PCI memory window(s) as inclusive ranges: from the end of low RAM (``below_4g``) to
    :data:`PCI_HOLE_END`, less the ECAM window ``(base, size)``.

    On q35 low RAM stops at 0xB0000000 at most, which is where the ECAM window starts, so the ECAM always
    lies inside that span: with 2.75 GiB of RAM or more it sits at the bottom and the window is
    0xC0000000-0xFEBFFFFF; with less it splits the window in two, below and above it.
    """
    if ecam is None:
        ranges = [(below_4g, PCI_HOLE_END)]
    else:
        first, last = ecam[0], ecam[0] + ecam[1] - 1
        ranges = [(below_4g, min(PCI_HOLE_END, first - 1)), (max(below_4g, last + 1), PCI_HOLE_END)]
    return tuple((lo, hi) for lo, hi in ranges if lo <= hi)


def pci_host(machine: str, ram_size: int, below_4g: int | None = None, hole64: tuple[int, int] | None = None,
             ecam: tuple[int, int] | None = None) -> PciHost:
    """The :class:`PciHost` of ``machine`` with ``ram_size`` bytes of RAM, ``below_4g`` of them under 4 GiB
    (default: up to the machine's limit, pc 0xE0000000, q35 0xB0000000); ``hole64`` is the 64-bit window
    ``(base, size)`` and ``ecam`` the ECAM window ``(base, size)``, both optional."""
    if machine not in MACHINE_PCI:
        raise ValueError(f"no PCI host bridge model for machine {machine!r}")
    chipset = MACHINE_PCI[machine]
    low = min(ram_size, chipset.lowmem_limit) if below_4g is None else below_4g
    mem64 = None if hole64 is None else (hole64[0], hole64[0] + hole64[1] - 1)
    if mem64 is not None and (mem64[0] < 1 << 32 or mem64[0] > mem64[1]):
        raise ValueError("the 64-bit PCI window must be a non-empty range above 4 GiB")
    return PciHost(chipset, pci_hole32(low, ecam), mem64, ecam)


def pci_adr(devfn: int) -> int:
    """A PCI function's ``_ADR`` (6.1.1): device in bits 31-16, function in bits 15-0."""
    return pci_slot(devfn) << 16 | (devfn & 7)


# name prefixes of the per-PIRQ objects: link devices, GSI link devices, route register fields
LINK_PREFIX = "LNK"
GSI_LINK_PREFIX = "GSI"
ROUTE_FIELD_PREFIX = "PRQ"


def _pirq_name(prefix: str, pirq: int) -> str:
    """``prefix`` + the PIRQ's letter: ``("LNK", 0)`` -> ``"LNKA"``."""
    return prefix + "ABCDEFGH"[pirq]


def _register_runs(offsets: tuple[int, ...]) -> list[list[int]]:
    """``offsets`` split into runs of consecutive bytes, one OperationRegion each."""
    runs: list[list[int]] = []
    for off in offsets:
        if runs and runs[-1][-1] + 1 == off:
            runs[-1].append(off)
        else:
            runs.append([off])
    return runs


def _router_device(chipset: PciChipset) -> bytes:
    """The interrupt router's PCI function with its route registers as fields ``PRQA``..."""
    terms = [aml.name("_ADR", pci_adr(chipset.router_devfn))]
    pirq = 0
    for index, run in enumerate(_register_runs(chipset.route_regs)):
        region = f"PRR{index}"
        terms.append(aml.operation_region(region, aml.RegionSpace.PCI_CONFIG, run[0], len(run)))
        fields = [(_pirq_name(ROUTE_FIELD_PREFIX, pirq + i), 8) for i in range(len(run))]
        terms.append(aml.field(region, fields))
        pirq += len(run)
    return aml.device(chipset.router_name, terms)


def pci_crs(host: PciHost) -> bytes:
    """``\\_SB.PCI0._CRS``: the bus range, the config ports the bridge consumes, its I/O windows, the VGA
    window and the PCI memory windows."""
    return aml.resource_template([
        aml.word_bus_number(*PCI_BUS_RANGE),
        aml.io_port(CONFIG_PORTS_BASE, CONFIG_PORTS_BASE, 1, 8),
        *(aml.word_io(lo, hi) for lo, hi in PCI_IO_WINDOWS),
        aml.memory_window(*VGA_WINDOW, cacheable=True),
        *(aml.memory_window(lo, hi) for lo, hi in host.mem32),
        *([aml.memory_window(*host.mem64)] if host.mem64 is not None else []),
    ])


def prt_entries(chipset: PciChipset, apic: bool) -> list[tuple[int, int, str, int]]:
    """The ``_PRT`` rows ``(address 0xSSSSFFFF, pin 0-3, source, source index)`` for the PIC model
    (``apic`` False: the PIRQ's link device) or the APIC model (the PIRQ's GSI link where the chipset
    has direct IOAPIC inputs, else the link as in PIC mode)."""
    prefix = GSI_LINK_PREFIX if apic and chipset.apic_gsi_base is not None else LINK_PREFIX
    return [(slot << 16 | 0xFFFF, pin,
             "\\_SB." + _pirq_name(prefix, chipset.map_irq(pci_devfn(slot, 0), pin + 1)), 0)
            for slot in PCI_SLOTS for pin in range(PCI_PINS)]


def _prt_package(chipset: PciChipset, apic: bool) -> bytes:
    return aml.package([aml.package([addr, pin, aml.name_string(src), index])
                        for addr, pin, src, index in prt_entries(chipset, apic)])


def _prt(chipset: PciChipset) -> bytes:
    """``_PRT``: a constant package when both interrupt models route through the links, otherwise a method
    choosing by ``\\PICF`` (set by ``\\_PIC``)."""
    if chipset.apic_gsi_base is None:
        return aml.name("_PRT", _prt_package(chipset, apic=False))
    return b"".join([
        aml.name("PRTP", _prt_package(chipset, apic=False)),
        aml.name("PRTA", _prt_package(chipset, apic=True)),
        aml.method("_PRT", 0, [aml.if_(aml.name_ref("\\PICF"), [aml.return_(aml.name_ref("PRTA"))]),
                               aml.return_(aml.name_ref("PRTP"))]),
    ])


def _link_helpers() -> bytes:
    """``\\_SB.LKST(route)`` and ``\\_SB.LKCR(route)``: a link's ``_STA`` and ``_CRS`` from its route
    register (bit 7 disables it, bits 3-0 hold the ISA IRQ).  ``LKCR`` and the links' ``_SRS`` touch only
    the low byte of the descriptor's interrupt number (ISA IRQs are below 16), through ``Index`` on a
    Local or an Arg, so no method creates named objects at run time."""
    return b"".join([
        aml.method("LKST", 1, [
            aml.if_(aml.and_(aml.arg(0), PIRQ_ROUTE_DISABLED), [aml.return_(LINK_STA_DISABLED)]),
            aml.return_(LINK_STA_ENABLED),
        ]),
        aml.method("LKCR", 1, [
            aml.store(aml.resource_template([aml.interrupt([0])]), aml.local(0)),
            aml.store(aml.and_(aml.arg(0), PIRQ_ROUTE_IRQ_MASK),
                      aml.index(aml.local(0), aml.INTERRUPT_NUMBER_OFFSET)),
            aml.return_(aml.local(0)),
        ]),
    ])


def _link_device(chipset: PciChipset, pirq: int) -> bytes:
    """PIRQ ``pirq``'s PNP0C0F link device over its route register: ``_SRS`` writes the IRQ (clearing
    bit 7), ``_DIS`` sets bit 7."""
    reg = aml.name_ref(f"\\_SB.PCI0.{chipset.router_name}.{_pirq_name(ROUTE_FIELD_PREFIX, pirq)}")
    return aml.device(_pirq_name(LINK_PREFIX, pirq), [
        aml.name("_HID", aml.eisaid("PNP0C0F")),
        aml.name("_UID", pirq),
        aml.name("_PRS", aml.resource_template([aml.interrupt(LINK_IRQS)])),
        aml.method("_STA", 0, [aml.return_(aml.call("\\_SB.LKST", [reg]))]),
        aml.method("_CRS", 0, [aml.return_(aml.call("\\_SB.LKCR", [reg]))]),
        aml.method("_SRS", 1, [
            aml.store(aml.deref_of(aml.index(aml.arg(0), aml.INTERRUPT_NUMBER_OFFSET)), reg),
        ]),
        aml.method("_DIS", 0, [aml.or_(reg, PIRQ_ROUTE_DISABLED, reg)]),
    ])


def _gsi_link_device(chipset: PciChipset, pirq: int, gsi_base: int) -> bytes:
    """A PNP0C0F link fixed to PIRQ ``pirq``'s IOAPIC input, level-triggered active-high as the board drives
    it (a ``_PRT`` row with source 0 would imply active-low); ``_SRS`` has nothing to change."""
    template = aml.resource_template([aml.interrupt([gsi_base + pirq])])
    return aml.device(_pirq_name(GSI_LINK_PREFIX, pirq), [
        aml.name("_HID", aml.eisaid("PNP0C0F")),
        aml.name("_UID", chipset.pirqs + pirq),
        aml.name("_PRS", template),
        aml.name("_CRS", template),
        aml.method("_SRS", 1, []),
    ])


def pci_aml(host: PciHost) -> bytes:
    """The terms of ``\\_SB`` describing the PCI host bridge, its interrupt routing and (with ECAM) the
    ECAM window as a PNP0C02 motherboard resource, which Linux wants before it trusts the MCFG.  ``PCI0``
    has no ``_ADR``: a device carries a ``_HID`` or an ``_ADR``, not both (6.1; iasl warns)."""
    chipset = host.chipset
    ids = [aml.name("_HID", aml.eisaid(chipset.hid))]
    ids += [aml.name("_CID", aml.eisaid(chipset.cid))] if chipset.cid is not None else []
    ids += [aml.name("_UID", 0)]
    ids += [aml.name("_BBN", 0)] if chipset.has_bbn else []
    terms = [
        aml.device("PCI0", [*ids, aml.name("_CRS", pci_crs(host)), _prt(chipset), _router_device(chipset)]),
        _link_helpers(),
        *(_link_device(chipset, n) for n in range(chipset.pirqs)),
    ]
    if chipset.apic_gsi_base is not None:
        terms += [_gsi_link_device(chipset, n, chipset.apic_gsi_base) for n in range(chipset.pirqs)]
    if host.ecam is not None:
        terms.append(aml.device("ECAM", [
            aml.name("_HID", aml.eisaid("PNP0C02")),
            aml.name("_UID", 0),
            aml.name("_CRS", aml.resource_template([aml.memory32_fixed(*host.ecam)])),
        ]))
    return b"".join(terms)


def pic_aml() -> bytes:
    """``\\PICF`` and ``\\_PIC(model)`` (5.8.1): the OS says which interrupt model it uses (0 PIC, 1 APIC).
    Only q35's ``_PRT`` depends on it; on pc it just records the model."""
    return b"".join([
        aml.name("\\PICF", 0),
        aml.method("\\_PIC", 1, [aml.store(aml.arg(0), aml.name_ref("\\PICF"))]),
    ])


def build_mcfg(base: int, size: int, segment: int = 0, start_bus: int = 0) -> bytes:
    """MCFG (PCI Firmware Specification 3.0, 4.1.2): 8 reserved bytes, then one configuration space base
    address allocation structure -- the ECAM ``base``, PCI segment group, start and end bus, 4 reserved
    bytes -- for a ``size``-byte window (1 MiB per bus, ``base`` aligned to ``size`` as PCIe's ECAM
    requires)."""
    buses = size // ECAM_BUS_SIZE
    if size % ECAM_BUS_SIZE or not 1 <= buses <= 256 - start_bus or base % size:
        raise ValueError(f"bad ECAM window {base:#x}+{size:#x}")
    body = bytes(8) + struct.pack("<QHBBI", base, segment, start_bus, start_bus + buses - 1, 0)
    return table(b"MCFG", MCFG_REVISION, body)


def dsdt_aml(s5_slp_typ: int = S5_SLP_TYP, pci: PciHost | None = None) -> bytes:
    """The DSDT's AML: ``\\_SB.PWRB`` (PNP0C0C) and ``\\_S5``; with ``pci`` also the PCI host bridge and
    its interrupt routing (:func:`pci_aml`) and ``\\_PIC``."""
    return b"".join([
        aml.scope("\\_SB", [
            aml.device("PWRB", [
                aml.name("_HID", aml.eisaid("PNP0C0C")),
                aml.name("_UID", 1),
            ]),
            *([pci_aml(pci)] if pci is not None else []),
        ]),
        *([pic_aml()] if pci is not None else []),
        # \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved (7.4.2)
        aml.name("\\_S5", aml.package([s5_slp_typ, s5_slp_typ, 0, 0])),
    ])


def build_dsdt(s5_slp_typ: int = S5_SLP_TYP, pci: PciHost | None = None) -> bytes:
    """DSDT (5.2.11.1): header + AML definition block."""
    return table(b"DSDT", DSDT_REVISION, dsdt_aml(s5_slp_typ, pci))


# -- layout -----------------------------------------------------------------------------------------------


def _align(value: int, to: int) -> int:
    return (value + to - 1) & -to


@dataclass
class AcpiTables:
    """The tables placed in guest memory: ``tables`` maps a signature (``"RSDP"``, ``"FACS"``, ``"DSDT"``,
    ``"FACP"``, ``"APIC"``, ``"MCFG"`` when there is an ECAM window, ``"XSDT"``) to ``(address, bytes)``."""

    base: int
    tables: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    @property
    def rsdp_addr(self) -> int:
        return self.tables["RSDP"][0]

    def addr(self, sig: str) -> int:
        return self.tables[sig][0]

    def data(self) -> dict[str, bytes]:
        """Each table's bytes by signature."""
        return {sig: raw for sig, (_, raw) in self.tables.items()}

    def blob(self) -> bytes:
        """All tables as one image to copy at :attr:`base` (gaps zero-filled)."""
        end = max(a + len(raw) for a, raw in self.tables.values())
        out = bytearray(end - self.base)
        for a, raw in self.tables.values():
            out[a - self.base:a - self.base + len(raw)] = raw
        return bytes(out)

    def write(self, writer: GuestWriter) -> None:
        """Write every table into guest memory (e.g. ``space.write_bytes``)."""
        for a, raw in self.tables.values():
            writer(a, raw)


def build_acpi(cpus: int, ram_size: int, machine: str = "pc", base: int = DEFAULT_BASE,
               pm: PmConfig | None = None, *, below_4g: int | None = None,
               hole64: tuple[int, int] | None = None, ecam: tuple[int, int] | None = None) -> AcpiTables:
    """Build and lay out all tables for ``machine`` (``"pc"`` or ``"q35"``) with ``cpus`` CPUs.

    The RSDP goes at ``base`` (16-byte aligned; below 1 MiB it must be in 0xE0000-0xFFFFF for the OS's
    search). Tables placed above 1 MiB must fit in ``ram_size``.  ``below_4g``, ``hole64`` and ``ecam``
    shape the PCI host bridge's windows (see :func:`pci_host`); with ``ecam`` an MCFG describes it too.
    """
    if pm is None:
        if machine not in MACHINE_PM:
            raise ValueError(f"no ACPI PM model for machine {machine!r}")
        pm = MACHINE_PM[machine]
    if base & 0xF:
        raise ValueError("the RSDP must be 16-byte aligned")
    if base < 0x100000 and not 0xE0000 <= base < 0x100000:
        raise ValueError("an RSDP below 1 MiB must be in 0xE0000-0xFFFFF")
    out = AcpiTables(base)
    cursor = base + RSDP_LEN

    def place(sig: str, raw: bytes, align: int = 16) -> int:
        nonlocal cursor
        addr = _align(cursor, align)
        out.tables[sig] = (addr, raw)
        cursor = addr + len(raw)
        return addr

    host = pci_host(machine, ram_size, below_4g, hole64, ecam)
    facs = place("FACS", build_facs(), 64)
    dsdt = place("DSDT", build_dsdt(pci=host))
    fadt = place("FACP", build_fadt(pm, dsdt, facs))
    entries = [fadt, place("APIC", build_madt(cpus))]
    if ecam is not None:
        entries.append(place("MCFG", build_mcfg(*ecam)))
    # the XSDT's size is known before its addresses are
    xsdt = place("XSDT", build_xsdt(entries))
    out.tables["RSDP"] = (base, build_rsdp(xsdt))
    if base < 0x100000 and cursor > 0x100000:
        raise ValueError("ACPI tables overflow the BIOS area")
    if base >= 0x100000 and cursor > ram_size:
        raise ValueError("ACPI tables do not fit in guest RAM")
    return out
