"""What the x86 kernel loaders share: the guest-memory writer, the e820 memory map and the CPU state at entry.

* The loaders never touch a machine: they write through a :data:`GuestWriter` (``space.write_bytes`` of the
  memory API fits, so does a dict-backed test memory) and return a :class:`CpuState` for the boot vCPU.
* :class:`E820Entry` is one entry of the BIOS ``INT 15h, AX=E820h`` memory map (ACPI 6.x, "System Address
  Map Interfaces"): 64-bit base, 64-bit length, 32-bit type.  :func:`pc_e820_map` builds a PC's map for a
  RAM size: conventional memory up to 0x9FC00 (the EBDA above it and the BIOS area are reserved), RAM from
  1 MiB up to the PCI hole, the rest of RAM above 4 GiB; optionally with the areas SeaBIOS and KVM reserve.
* :class:`CpuState` holds the registers in the shape of KVM's ``kvm_regs``/``kvm_sregs`` (segments with
  their hidden descriptor parts), so the KVM accelerator can load it directly.
* :func:`boot_gdt` builds the flat boot GDT both loaders install: null, null, code at selector 0x10,
  data at 0x18 -- the ``__BOOT_CS``/``__BOOT_DS`` selectors that the Linux 32- and 64-bit boot protocols
  name (Documentation/arch/x86/boot.rst); multiboot accepts any flat segments.  Descriptor encoding as in
  the Intel SDM Vol. 3A, 3.4.5 "Segment Descriptors".
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

#: Writes bytes into guest physical memory (``AddressSpace.write_bytes`` or a test double).
GuestWriter = Callable[[int, bytes], None]

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
PAGE_SIZE = 4096

E820_RAM = 1
E820_RESERVED = 2
E820_ACPI = 3
E820_NVS = 4
E820_UNUSABLE = 5

#: Where the loaders put the boot GDT (free low memory after the BIOS data area).
BOOT_GDT_ADDR = 0x500
BOOT_CS = 0x10
BOOT_DS = 0x18

CR0_PE = 1 << 0
CR0_ET = 1 << 4
CR0_PG = 1 << 31
CR4_PAE = 1 << 5
EFER_LME = 1 << 8
EFER_LMA = 1 << 10
RFLAGS_RESERVED = 1 << 1  # bit 1 always reads as 1; IF, VM and everything else clear


def align_up(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1)


def align_down(value: int, align: int) -> int:
    return value & ~(align - 1)


@dataclass(frozen=True)
class E820Entry:
    """One entry of the e820 map: [addr, addr + size) of ``type`` (E820_RAM, E820_RESERVED, ...)."""

    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:
        return self.addr + self.size

    def pack(self) -> bytes:
        """The 20-byte ``struct boot_e820_entry`` / INT 15h E820 record."""
        return struct.pack("<QQI", self.addr, self.size, self.type)


#: What SeaBIOS keeps at the top of low RAM for the ACPI tables (and QEMU's direct Linux boot avoids).
ACPI_RESERVED = 0x20000
#: The pages QEMU gives KVM for the VMX identity map and TSS (KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR).
KVM_PAGES_ADDR = 0xFEFFC000
KVM_PAGES_SIZE = 0x4000
#: The 256 KiB BIOS image at the top of the 32-bit address space.
BIOS_ADDR = 0xFFFC0000


def pc_e820_map(ram_size: int, below_4g_limit: int = 0xE0000000,
                firmware_areas: bool = False) -> list[E820Entry]:
    """The e820 map of a PC with ``ram_size`` bytes of RAM.

    Conventional memory up to 0x9FC00 (the 1 KiB EBDA above it and the BIOS area at 0xF0000 are reserved),
    RAM from 1 MiB up to ``below_4g_limit`` -- where the machine starts its PCI hole: QEMU's ``pc`` (i440FX)
    keeps up to 0xE0000000 below 4 GiB, ``q35`` up to 0xB0000000 -- and the rest from 4 GiB up.

    With ``firmware_areas`` the map is the one SeaBIOS reports under QEMU 7.2 with KVM (checked against
    Debian's ``qemu-system-x86_64``): also reserved are the 128 KiB of ACPI tables at the top of low RAM,
    KVM's identity-map/TSS pages at 0xFEFFC000 and the BIOS image at 0xFFFC0000.
    """
    if ram_size < 2 * MiB:
        raise ValueError(f"RAM size {ram_size:#x} is too small for a PC (2 MiB at least)")
    below = min(ram_size, below_4g_limit)
    above = ram_size - below
    top = below - ACPI_RESERVED if firmware_areas else below
    entries = [
        E820Entry(0, 0x9FC00, E820_RAM),
        E820Entry(0x9FC00, 0x400, E820_RESERVED),
        E820Entry(0xF0000, 0x10000, E820_RESERVED),
        E820Entry(MiB, top - MiB, E820_RAM),
    ]
    if firmware_areas:
        entries += [E820Entry(top, ACPI_RESERVED, E820_RESERVED),
                    E820Entry(KVM_PAGES_ADDR, KVM_PAGES_SIZE, E820_RESERVED),
                    E820Entry(BIOS_ADDR, 4 * GiB - BIOS_ADDR, E820_RESERVED)]
    if above:
        entries.append(E820Entry(4 * GiB, above, E820_RAM))
    return entries


def low_ram_top(e820: list[E820Entry]) -> int:
    """The end of the RAM entry that covers 1 MiB (the top of the RAM a 32-bit loader may use)."""
    for e in e820:
        if e.type == E820_RAM and e.addr <= MiB < e.end:
            return min(e.end, 4 * GiB)
    raise ValueError("memory map has no RAM at 1 MiB")


def in_ram(e820: list[E820Entry], addr: int, size: int) -> bool:
    """Whether [addr, addr + size) lies within one RAM entry of the map."""
    return any(e.type == E820_RAM and e.addr <= addr and addr + size <= e.end for e in e820)


@dataclass(frozen=True)
class Segment:
    """A segment register with its hidden part, field for field as KVM's ``struct kvm_segment``."""

    selector: int
    base: int = 0
    limit: int = 0xFFFFFFFF
    type: int = 0
    present: int = 1
    dpl: int = 0
    db: int = 0
    s: int = 1
    l: int = 0  # noqa: E741 - the name of the KVM field
    g: int = 1
    avl: int = 0
    unusable: int = 0

    def descriptor(self) -> int:
        """The 8-byte GDT descriptor for this segment (Intel SDM Vol. 3A, Figure 3-8)."""
        limit = self.limit >> 12 if self.g else self.limit
        access = self.type | (self.s << 4) | (self.dpl << 5) | (self.present << 7)
        flags = self.avl | (self.l << 1) | (self.db << 2) | (self.g << 3)
        return ((limit & 0xFFFF) | ((self.base & 0xFFFFFF) << 16) | (access << 40)
                | (((limit >> 16) & 0xF) << 48) | (flags << 52) | (((self.base >> 24) & 0xFF) << 56))


#: Flat 4 GiB segments: 32-bit code (execute/read, accessed), 64-bit code, and data (read/write, accessed).
CODE32 = Segment(BOOT_CS, type=0xB, db=1)
CODE64 = Segment(BOOT_CS, type=0xB, l=1)
DATA = Segment(BOOT_DS, type=0x3, db=1)
#: A busy 32-bit TSS and an unusable LDT: what VMX wants in TR/LDTR for protected-mode entry.
TSS = Segment(0, limit=0xFFFF, type=0xB, s=0, g=0)
LDT = Segment(0, limit=0xFFFF, type=0x2, s=0, g=0, unusable=1)


def boot_gdt(code: Segment) -> bytes:
    """The boot GDT: null, null, ``code`` at 0x10, flat data at 0x18."""
    return struct.pack("<4Q", 0, 0, code.descriptor(), DATA.descriptor())


@dataclass
class CpuState:
    """The boot vCPU's registers at the first guest instruction (KVM ``kvm_regs`` + ``kvm_sregs`` shape)."""

    rip: int
    regs: dict[str, int] = field(default_factory=dict)  #: rax, rbx, ..., r15 (absent ones are zero)
    rflags: int = RFLAGS_RESERVED
    cs: Segment = CODE32
    ds: Segment = DATA
    es: Segment = DATA
    fs: Segment = DATA
    gs: Segment = DATA
    ss: Segment = DATA
    tr: Segment = TSS
    ldt: Segment = LDT
    gdt_base: int = BOOT_GDT_ADDR
    gdt_limit: int = 4 * 8 - 1
    idt_base: int = 0
    idt_limit: int = 0
    cr0: int = CR0_PE | CR0_ET
    cr3: int = 0
    cr4: int = 0
    efer: int = 0

    def reg(self, name: str) -> int:
        """A general-purpose register by its 64-bit name ("rax", ...); zero unless set."""
        return self.regs.get(name, 0)

    @property
    def long_mode(self) -> bool:
        return bool(self.efer & EFER_LMA)


def protected_mode_state(entry: int, regs: dict[str, int]) -> CpuState:
    """32-bit protected mode, paging off, flat segments, interrupts off."""
    return CpuState(rip=entry, regs=dict(regs))
