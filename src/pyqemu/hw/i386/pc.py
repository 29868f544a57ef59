"""The x86 PC boards ``pc`` (i440FX + PIIX3) and ``q35`` (Q35 MCH + ICH9) under ``-accel kvm`` (QEMU
hw/i386/pc.c, pc_piix.c, pc_q35.c, x86.c).

What the board puts together:

* **Memory** (QEMU's pc_memory_init): one RAM block, shown below 4 GiB up to the start of the PCI hole
  (``pc``: 0xE0000000, ``q35``: 0xB0000000) and the rest from 4 GiB; the firmware (``-bios``) as ROM
  ending at 4 GiB with its last 128 KiB also at 0xE0000-0xFFFFF (the "isa-bios" window), the reset vector
  at 0xFFFFFFF0 being its last 16 bytes; the chipset's PAM registers shadow 0xC0000-0xFFFFF with RAM as a
  firmware asks (SeaBIOS copies itself there).  Everything else is MMIO or unassigned.
* **Port I/O**: the ISA devices of :mod:`.pc_isa` (UARTs, CMOS RTC, i8042), port 0x92 and the ACPI PM
  blocks (:mod:`pyqemu.hw.acpi.pm`); the in-kernel irqchip holds the PICs, the IOAPIC and the LAPICs,
  and the in-kernel PIT the timer, as QEMU's defaults with KVM do.
* **PCI**: the chipset of :mod:`pyqemu.hw.pci.i440fx` or :mod:`pyqemu.hw.pci.q35` (configuration ports
  at 0xCF8 with the reset control register at 0xCF9; q35's ECAM window), its BARs in a "pci" container
  below RAM; PCI interrupts reach the irqchip through the PIRQ routing of PIIX3 / ICH9.
* **Boot**: with ``-kernel`` the board loads the kernel itself and starts the boot vCPU at its entry --
  a multiboot (v1) kernel as QEMU's multiboot option ROM would leave it, a bzImage through the 32-bit
  boot protocol (:data:`LINUX_ENTRY`) -- with the ACPI tables in the BIOS area (RSDP at 0xE0000) and the
  e820 map in the boot information, and PCI set up as a firmware would (:mod:`.pc_pciinit`); without it
  the vCPUs start at the reset vector in the firmware.
* **CPUs**: ``-smp N`` vCPUs with the ``-cpu`` model's CPUID table filtered through
  KVM_GET_SUPPORTED_CPUID; the application processors wait for INIT/SIPI.

Guest ``poweroff`` (ACPI S5) ends the run with status 0, reset requests (i8042, 0x92, 0xCF9, a triple
fault) reset devices and vCPUs and reload the boot images, as QEMU does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pyqemu.accel.kvm.accel import KvmAccel
from pyqemu.accel.kvm.kvm import VCPU, Kvm
from pyqemu.core.machine import Machine
from pyqemu.exec.memory import AddressSpace, MemoryRegion, RamArena
from pyqemu.hw.acpi.pm import AcpiPm
from pyqemu.hw.acpi.tables import MACHINE_PCI, MACHINE_PM, PCI_HOLE_END, build_acpi
from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.i386 import linux_boot, multiboot, pc_pciinit
from pyqemu.hw.i386.pc_isa import PcIsaDevices, create_pc_isa_devices
from pyqemu.hw.i386.pc_ports import Port92
from pyqemu.hw.i386.x86_boot import CpuState, pc_e820_map
from pyqemu.hw.pci.i440fx import I440FX, PIIX3_PIRQRC
from pyqemu.hw.pci.q35 import (
    ICH9_LPC_PIRQ_ROUT,
    MCH_PCIEXBAR,
    MCH_PCIEXBAR_DEFAULT,
    MCH_PCIEXBAR_ENABLE,
    Q35,
)
from pyqemu.target.i386 import cpu_models, kvm_state

MiB = 1 << 20
GiB = 1 << 30
ISA_BIOS_MAX = 128 * 1024
#: which boot protocol the board enters a bzImage by: the 32-bit one, as QEMU's firmware path does (its
#: option ROM runs the real-mode setup, which enters startup_32).  startup_32 identity-maps 4 GiB before
#: long mode; entered at startup_64 instead, the decompressor maps memory a page fault at a time, which a
#: software nested hypervisor (kvm_pvm) makes take minutes.
LINUX_ENTRY: Literal["32", "64"] = "32"
#: q35's ECAM window, where a firmware puts it (PCIEXBAR)
ECAM = (MCH_PCIEXBAR_DEFAULT, 256 * MiB)
SCI_IRQ = 9


class PcBootError(ValueError):
    """A kernel or firmware that cannot be loaded (the message names the file)."""


@dataclass
class PcConfig:
    machine: str = "pc"
    ram_size: int = 128 * MiB
    smp: int = 1
    cpu: str = "qemu64"
    bios: str | None = None  #: firmware path; None with a -kernel (the board boots it directly)
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    serials: list[Any] = field(default_factory=list)  #: chardevs of COM1, COM2...
    main_loop: Any = None
    kvm_path: str = "/dev/kvm"
    #: QEMU's warnings (CPU features the host lacks...), one line each
    warn: Callable[[str], None] = lambda text: print(text, file=sys.stderr)
    #: the accelerator's warnings (QEMU gives them the -accel option's location)
    accel_warn: Callable[[str], None] | None = None


class PcMachine(Machine):
    """A ``pc`` or ``q35`` board with KVM; :meth:`Machine.run` runs it."""

    def __init__(self, cfg: PcConfig) -> None:
        super().__init__(cfg.main_loop)
        self.cfg = cfg
        lowmem_limit = MACHINE_PCI[cfg.machine].lowmem_limit  # where the board's PCI hole starts
        self.below_4g = min(cfg.ram_size, lowmem_limit)
        self.above_4g = cfg.ram_size - self.below_4g
        self.e820 = pc_e820_map(cfg.ram_size, lowmem_limit)
        self.arena = RamArena(max(1 << 34, cfg.ram_size * 2))
        self.sysmem = MemoryRegion.container_of("system", 1 << 64)
        self.space = AddressSpace("memory", self.sysmem)
        self._create_memory()
        self.isa_devices: PcIsaDevices = create_pc_isa_devices(
            self, self.below_4g, self.above_4g, irqs=[IRQ(self._isa_irq, n) for n in range(16)],
            serial_chardevs=cfg.serials, smp_cpus=cfg.smp)
        self.isa = self.isa_devices.isa
        self.io = self.isa_devices.io
        self.port92 = Port92(lambda: self.request_reset("guest-reset"))
        self.isa.map_port(0x92, self.port92.mr)
        self.pci_mem = MemoryRegion.container_of("pci", 1 << 64)
        self.sysmem.add_subregion(0, self.pci_mem, priority=-1)
        reset = lambda: self.request_reset("guest-reset")  # noqa: E731
        if cfg.machine == "q35":
            self.chipset: I440FX | Q35 = Q35(self.pci_mem, self.isa.io, gsi=self._isa_irq, dma=self.space,
                                              request_reset=reset, ram=self.ram, system=self.sysmem)
        else:
            self.chipset = I440FX(self.pci_mem, self.isa.io, isa_irq=self._isa_irq, dma=self.space,
                                  request_reset=reset, ram=self.ram, system=self.sysmem)
        self.pci_bus = self.chipset.bus
        self.pm = AcpiPm(MACHINE_PM[cfg.machine], self.clock, self.isa.get_irq(SCI_IRQ),
                         on_poweroff=lambda: self.request_shutdown(0, "guest-shutdown"))
        self.pm.map(self.isa.map_port)
        self.rtc = self.isa_devices.rtc
        self.signature = cpu_models.resolve(cpu_models.parse_cpu_option(cfg.cpu)).signature
        self.accel = KvmAccel(self, self.space, self.io, cfg.smp, cpuid=self._cpuid, path=cfg.kvm_path,
                              warn=cfg.accel_warn or cfg.warn)
        try:
            self.cpus = list(self.accel.cpus)
            for cpu in self.cpus:
                cpu.reset_state = self._reset_vcpu
            self.acpi = build_acpi(cfg.smp, cfg.ram_size, cfg.machine, below_4g=self.below_4g,
                                   ecam=ECAM if cfg.machine == "q35" else None)
            self.boot_state: CpuState | None = None
            self.boot_files: dict[str, bytes] = {}
            self.reset_handlers.append(self._reset)
            self._reset()
        except BaseException:
            self.accel.close()
            raise

    # -- construction ----------------------------------------------------------------------------------
    def _create_memory(self) -> None:
        cfg = self.cfg
        self.ram = MemoryRegion.ram("pc.ram", cfg.ram_size, self.arena)
        self.sysmem.add_subregion(0, MemoryRegion.alias_of("ram-below-4g", self.ram, 0, self.below_4g))
        if self.above_4g:
            self.sysmem.add_subregion(4 * GiB, MemoryRegion.alias_of("ram-above-4g", self.ram, self.below_4g,
                                                                     self.above_4g))
        self.bios_image = b""
        if cfg.bios is not None:
            with open(cfg.bios, "rb") as f:
                self.bios_image = f.read()
            size = len(self.bios_image)
            if size == 0 or size % 65536 or size > 16 * MiB:
                raise PcBootError(f"could not load PC BIOS '{cfg.bios}'")
            self.bios = MemoryRegion.rom("pc.bios", size, self.arena)
            self.sysmem.add_subregion(4 * GiB - size, self.bios)
            isa_size = min(size, ISA_BIOS_MAX)
            isa_bios = MemoryRegion.alias_of("isa-bios", self.bios, size - isa_size, isa_size)
            self.sysmem.add_subregion(MiB - isa_size, isa_bios, priority=1)

    def _isa_irq(self, n: int, level: int) -> None:
        if self.accel is not None:  # devices made before the VM reset their lines low: nothing to tell
            self.accel.set_irq(n, level)

    def _cpuid(self, index: int, kvm: Kvm) -> list[tuple[int, int, int, int, int, int, int]]:
        entries, warnings = cpu_models.build_cpuid(self.cfg.cpu, kvm.supported_cpuid(), apic_id=index)
        for line in warnings:  # QEMU warns for each vCPU
            self.cfg.warn(line)
        return entries

    # -- boot -------------------------------------------------------------------------------------------
    def _write(self, addr: int, data: bytes) -> None:
        self.space.write_bytes(addr, data, rom=True)

    def _boot_file(self, path: str) -> bytes:
        """A -kernel/-initrd file, read once: every reset loads the same images, as QEMU's ROM blobs."""
        if path not in self.boot_files:
            with open(path, "rb") as f:
                self.boot_files[path] = f.read()
        return self.boot_files[path]

    def _load_boot_images(self) -> None:
        cfg = self.cfg
        if self.bios_image:
            self._write(4 * GiB - len(self.bios_image), self.bios_image)
        self.boot_state = None
        if cfg.kernel is None:
            return
        self.acpi.write(self._write)
        kernel = self._boot_file(cfg.kernel)
        try:
            if multiboot.is_multiboot(kernel):
                mb = multiboot.load_multiboot(kernel, cfg.kernel, self._write, self.e820, cfg.append,
                                              cfg.initrd, read_file=self._boot_file)
                self.boot_state = mb.cpu
            else:
                initrd = None if cfg.initrd is None else self._boot_file(cfg.initrd)
                boot = linux_boot.load_linux(kernel, self._write, self.e820, cfg.append, initrd,
                                             mode=LINUX_ENTRY)
                self.boot_state = boot.cpu
        except (multiboot.MultibootError, linux_boot.LinuxBootError) as exc:
            raise PcBootError(str(exc)) from None

    def machine_done(self) -> None:
        """Every device is plugged (QEMU's machine-done notifier): from now on, after each reset of the
        devices, a directly booted kernel finds PCI set up as a firmware would have left it."""
        self.reset_handlers.append(self._pci_firmware_setup)
        self._pci_firmware_setup()

    def _pci_firmware_setup(self) -> None:
        if self.boot_state is None:
            return  # the firmware does it
        if isinstance(self.chipset, Q35):
            pc_pciinit.route_pirqs(self.chipset.lpc, ICH9_LPC_PIRQ_ROUT)
            mch = self.chipset.mch  # the ECAM window the MCFG table describes
            mch.config_write(MCH_PCIEXBAR + 4, ECAM[0] >> 32, 4)
            mch.config_write(MCH_PCIEXBAR, ECAM[0] | MCH_PCIEXBAR_ENABLE, 4)
        else:
            pc_pciinit.route_pirqs(self.chipset.piix3, PIIX3_PIRQRC)
        pc_pciinit.assign_resources(self.pci_bus, pci_hole_start(self.below_4g), PCI_HOLE_END + 1)

    def _reset_vcpu(self, vcpu: VCPU) -> None:
        kvm_state.reset_vcpu(vcpu, self.signature, bsp=vcpu.index == 0)
        if vcpu.index == 0 and self.boot_state is not None:
            kvm_state.load_cpu_state(vcpu, self.boot_state)

    def _reset(self) -> None:
        """Power-on state: boot images reloaded, the chipset's ports and the vCPUs reset."""
        self._load_boot_images()
        self.port92.reset()
        self.chipset.reset()
        self.pm.reset()
        self.accel.reset_cpus()

    def request_powerdown(self) -> None:
        self.pm.power_button()
        super().request_powerdown()

    def close(self) -> None:
        self.accel.close()


def pci_hole_start(below_4g: int) -> int:
    """Where the firmware starts placing 32-bit BARs: above low RAM (and, on q35, the ECAM window at
    0xB0000000), at 0xC0000000 at the lowest."""
    return max(0xC0000000, (below_4g + 0x0FFFFFFF) & ~0x0FFFFFFF)


def default_bios(data_dirs: list[str]) -> str | None:
    """SeaBIOS's ``bios-256k.bin`` from the data directories, or None."""
    for d in (*data_dirs, "/usr/share/qemu", "/usr/share/seabios"):
        path = os.path.join(d, "bios-256k.bin")
        if os.path.isfile(path):
            return path
    return None
