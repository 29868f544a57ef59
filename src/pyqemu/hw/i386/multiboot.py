"""Multiboot (version 1) kernel loading, as QEMU's ``-kernel`` does it for the x86 PCs (hw/i386/multiboot.c).

Follows the Multiboot Specification 0.6.96:

* **header** (section 3.1): a 4-byte aligned ``magic`` 0x1BADB002 in the first 8192 bytes of the file,
  followed by ``flags`` and ``checksum`` (the three sum to zero mod 2**32).  Flag bit 16 says the header also
  carries ``header_addr``, ``load_addr``, ``load_end_addr``, ``bss_end_addr`` and ``entry_addr``; the
  image is then loaded by those, whatever its format.  Otherwise the kernel must be an ELF32 i386 file and is
  loaded by its ``PT_LOAD`` program headers at their physical addresses (QEMU refuses x86-64 ELF files).
  Bit 2 (video mode) is accepted with QEMU's warning that the video fields are ignored.
* **machine state** (section 3.2): EAX = 0x2BADB002, EBX = physical address of the multiboot information,
  32-bit protected mode with flat 4 GiB code and data segments, paging off, interrupts off.
* **boot information** (section 3.3), filled as QEMU fills it: ``mem_lower`` = KiB of RAM below 640 KiB
  (639 with a PC's map, which keeps the EBDA's 1 KiB), ``mem_upper`` = KiB of RAM from 1 MiB to the end of
  that RAM block, both read from the e820 map as QEMU's option ROM does; ``boot_device`` = 0x8000FFFF
  (first hard disk, whole disk); ``cmdline`` = "<kernel path> <-append>"; modules from ``-initrd`` (a
  comma-separated list: each element is "file args...", the file is what precedes the first space, the
  whole element is the module's string); ``mmap`` from the e820 map (each 20-byte record preceded by its
  size); ``boot_loader_name`` = "qemu".

**Layout** -- QEMU 7.2's, as a kernel run under Debian's ``qemu-system-x86_64 -kernel`` sees it (QEMU
builds the pieces in a buffer that its option ROM copies into place; this loader writes them directly):

* the memory map records at :data:`MMAP_ADDR` (0x9000; room for 53 records) and the information structure
  at :data:`MBI_ADDR` (0x9500);
* the kernel image where its header or program headers say (normally at 1 MiB);
* from ``load address + kernel size`` rounded up to a page (kernel size = the image in memory, bss
  included): the module records (16 bytes each), then the strings -- each module's string, the kernel
  command line, the boot loader name;
* from the next page boundary, the modules, each starting on a page boundary;
* the boot GDT at 0x500 (see :mod:`pyqemu.hw.i386.x86_boot`; the spec leaves GDTR undefined).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pyqemu.hw.i386.x86_boot import (
    BOOT_GDT_ADDR,
    CODE32,
    E820_RAM,
    PAGE_SIZE,
    CpuState,
    E820Entry,
    GuestWriter,
    MiB,
    align_up,
    boot_gdt,
    in_ram,
    low_ram_top,
)

MULTIBOOT_HEADER_MAGIC = 0x1BADB002
MULTIBOOT_BOOTLOADER_MAGIC = 0x2BADB002
#: How far into the file the header may start.
MULTIBOOT_SEARCH = 8192

# header flags
MULTIBOOT_PAGE_ALIGN = 1 << 0
MULTIBOOT_MEMORY_INFO = 1 << 1
MULTIBOOT_VIDEO_MODE = 1 << 2
MULTIBOOT_AOUT_KLUDGE = 1 << 16

# multiboot_info flags
MBI_FLAG_MEMORY = 1 << 0
MBI_FLAG_BOOTDEV = 1 << 1
MBI_FLAG_CMDLINE = 1 << 2
MBI_FLAG_MODS = 1 << 3
MBI_FLAG_MMAP = 1 << 6
MBI_FLAG_BOOT_LOADER_NAME = 1 << 9

# multiboot_info field offsets
MBI_FLAGS = 0
MBI_MEM_LOWER = 4
MBI_MEM_UPPER = 8
MBI_BOOT_DEVICE = 12
MBI_CMDLINE = 16
MBI_MODS_COUNT = 20
MBI_MODS_ADDR = 24
MBI_MMAP_LENGTH = 44
MBI_MMAP_ADDR = 48
MBI_BOOT_LOADER_NAME = 64
MBI_SIZE = 88
MB_MOD_SIZE = 16
MB_MMAP_ENTRY_SIZE = 24  # the 4-byte size field, then the 20-byte e820 record

#: Where the memory map records go (QEMU's MULTIBOOT_STRUCT_ADDR, its ADDR_E820_MAP) and how much room
#: they have before the information structure (QEMU's ADDR_MBI).
MMAP_ADDR = 0x9000
MBI_ADDR = 0x9500
BOOT_DEVICE = 0x8000FFFF
BOOT_LOADER_NAME = "qemu"

EM_386 = 3
EM_X86_64 = 62


class MultibootError(ValueError):
    """A multiboot kernel QEMU would refuse; the message is QEMU's."""


@dataclass(frozen=True)
class MultibootHeader:
    """The multiboot header found in a kernel file."""

    offset: int  #: where in the file it starts
    flags: int
    checksum: int
    header_addr: int = 0
    load_addr: int = 0
    load_end_addr: int = 0
    bss_end_addr: int = 0
    entry_addr: int = 0

    @property
    def has_address_fields(self) -> bool:
        return bool(self.flags & MULTIBOOT_AOUT_KLUDGE)


@dataclass(frozen=True)
class MultibootModule:
    start: int
    end: int  #: one past the last byte
    string: str
    string_addr: int


@dataclass
class MultibootBoot:
    """The result of :func:`load_multiboot`."""

    entry: int
    info_addr: int
    kernel_start: int
    kernel_end: int  #: one past the kernel image in memory (bss included)
    cmdline: str
    modules: list[MultibootModule]
    cpu: CpuState
    warnings: list[str] = field(default_factory=list)


def find_header(data: bytes) -> MultibootHeader | None:
    """The multiboot header in the first 8192 bytes of ``data``, or None.

    Raises :class:`MultibootError` when the magic is present but no occurrence has a valid checksum, or
    when the address fields are announced but the file ends inside them.
    """
    bad_checksum_at: int | None = None
    limit = min(len(data), MULTIBOOT_SEARCH)
    for off in range(0, limit - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", data, off)
        if magic != MULTIBOOT_HEADER_MAGIC:
            continue
        if (magic + flags + checksum) & 0xFFFFFFFF:
            if bad_checksum_at is None:
                bad_checksum_at = off
            continue
        if flags & MULTIBOOT_AOUT_KLUDGE:
            if off + 32 > len(data):
                raise MultibootError("qemu: invalid kernel header: multiboot header truncated")
            return MultibootHeader(off, flags, checksum, *struct.unpack_from("<5I", data, off + 12))
        return MultibootHeader(off, flags, checksum)
    if bad_checksum_at is not None:
        raise MultibootError(f"qemu: invalid kernel header: multiboot header at {bad_checksum_at:#x} "
                             "has a bad checksum")
    return None


def is_multiboot(data: bytes) -> bool:
    """Whether ``data`` carries a valid multiboot header (what QEMU checks before trying Linux)."""
    try:
        return find_header(data) is not None
    except MultibootError:
        return False


def _load_with_address_fields(data: bytes, hdr: MultibootHeader,
                              write: GuestWriter) -> tuple[int, int, int]:
    """Load by the header's address fields; (load_addr, end in memory, entry)."""
    if hdr.header_addr < hdr.load_addr:
        raise MultibootError("invalid load_addr address")
    if hdr.header_addr - hdr.load_addr > hdr.offset:
        raise MultibootError("invalid header_addr address")
    text_offset = hdr.offset - (hdr.header_addr - hdr.load_addr)  # file offset of load_addr
    if hdr.load_end_addr:
        if hdr.load_end_addr < hdr.load_addr:
            raise MultibootError("invalid load_end_addr address")
        load_size = hdr.load_end_addr - hdr.load_addr
    else:
        if len(data) < text_offset:
            raise MultibootError("invalid kernel_file_size")
        load_size = len(data) - text_offset
    if load_size > 0xFFFFFFFF - hdr.load_addr:
        raise MultibootError("kernel does not fit in address space")
    if hdr.bss_end_addr:
        if hdr.bss_end_addr < hdr.load_addr + load_size:
            raise MultibootError("invalid bss_end_addr address")
        mem_size = hdr.bss_end_addr - hdr.load_addr
    else:
        mem_size = load_size
    image = data[text_offset:text_offset + load_size]
    image += bytes(mem_size - len(image))  # past the file end (and the bss) is zero
    write(hdr.load_addr, bytes(image))
    return hdr.load_addr, hdr.load_addr + mem_size, hdr.entry_addr


def _load_elf(data: bytes, write: GuestWriter) -> tuple[int, int, int]:
    """Load an ELF32 i386 kernel by its program headers; (lowest address, end in memory, entry)."""
    if data[:4] != b"\x7fELF":
        raise MultibootError("qemu: invalid kernel header: multiboot kernel is not an ELF file and its "
                             "header has no address fields (flag bit 16)")
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf.header["e_machine"]
    except ELFError as exc:
        raise MultibootError(f"Error while loading elf kernel: {exc}") from exc
    if machine == "EM_X86_64":
        raise MultibootError("Cannot load x86-64 image, give a 32bit one.")
    if machine != "EM_386" or elf.elfclass != 32:
        raise MultibootError(f"Error while loading elf kernel: not an i386 ELF file ({machine})")
    entry = elf.header["e_entry"]
    phys_entry = entry
    low: int | None = None
    high = 0
    try:
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            paddr, vaddr = seg["p_paddr"], seg["p_vaddr"]
            filesz, memsz = seg["p_filesz"], seg["p_memsz"]
            write(paddr, seg.data()[:filesz] + bytes(memsz - filesz))
            low = paddr if low is None else min(low, paddr)
            high = max(high, paddr + memsz)
            # A kernel linked at a virtual address but loaded low (p_vaddr != p_paddr): enter it by the
            # physical address of its entry point, as paging is off.
            if vaddr != paddr and vaddr <= entry < vaddr + memsz:
                phys_entry = (entry - vaddr + paddr) & 0xFFFFFFFF
    except ELFError as exc:
        raise MultibootError(f"Error while loading elf kernel: {exc}") from exc
    if low is None:
        raise MultibootError("Error while loading elf kernel: no loadable segment")
    return low, high, phys_entry


def load_multiboot(kernel: bytes, kernel_path: str, write: GuestWriter, e820: list[E820Entry],
                   cmdline: str = "", initrd: str | None = None,
                   read_file: Callable[[str], bytes] = lambda p: Path(p).read_bytes()) -> MultibootBoot:
    """Load the multiboot kernel ``kernel`` (the contents of ``kernel_path``) into guest memory.

    ``cmdline`` is ``-append``, ``initrd`` is ``-initrd`` (comma-separated modules with their arguments);
    ``e820`` is the machine's memory map (see :func:`pyqemu.hw.i386.x86_boot.pc_e820_map`); module files
    are read through ``read_file``.  Everything is written through ``write``; the returned
    :class:`MultibootBoot` has the entry point and the boot vCPU's state.
    """
    hdr = find_header(kernel)
    if hdr is None:
        raise MultibootError("qemu: invalid kernel header: no multiboot header in the first 8192 bytes")
    warnings: list[str] = []
    if hdr.flags & MULTIBOOT_VIDEO_MODE:
        warnings.append("qemu: multiboot knows VBE. we don't.")
    if hdr.has_address_fields:
        start, end, entry = _load_with_address_fields(kernel, hdr, write)
    else:
        start, end, entry = _load_elf(kernel, write)
    ram_top = low_ram_top(e820)
    if not in_ram(e820, start, end - start):
        raise MultibootError(f"qemu: multiboot kernel [{start:#x}, {end:#x}) is not inside RAM")
    if start < MBI_ADDR + MBI_SIZE and end > MMAP_ADDR:
        raise MultibootError(f"qemu: multiboot kernel [{start:#x}, {end:#x}) overlaps the multiboot "
                             f"information at [{MMAP_ADDR:#x}, {MBI_ADDR + MBI_SIZE:#x})")
    if MB_MMAP_ENTRY_SIZE * len(e820) > MBI_ADDR - MMAP_ADDR:
        raise MultibootError(f"qemu: too many memory map entries for multiboot ({len(e820)})")

    # Module files.
    specs = initrd.split(",") if initrd else []
    blobs: list[tuple[bytes, str]] = []
    for spec in specs:
        name = spec.split(" ", 1)[0]
        if not name:
            raise MultibootError(f"qemu: multiboot module '{spec}' has no file name")
        try:
            blobs.append((read_file(name), spec))
        except OSError as exc:
            raise MultibootError(f"qemu: could not load multiboot module '{name}': {exc.strerror}") from exc

    # After the kernel: module records, then the strings (module strings, command line, loader name).
    kcmdline = f"{kernel_path} {cmdline}"
    mods_addr = start + align_up(end - start, PAGE_SIZE)
    strings_addr = mods_addr + MB_MOD_SIZE * len(blobs)
    strings = bytearray()

    def add_string(s: str) -> int:
        addr = strings_addr + len(strings)
        strings.extend(s.encode() + b"\0")
        return addr

    mod_string_addrs = [add_string(spec) for _blob, spec in blobs]
    cmdline_addr = add_string(kcmdline)
    name_addr = add_string(BOOT_LOADER_NAME)

    # The modules, page by page after that.
    modules: list[MultibootModule] = []
    mod_records = bytearray()
    pos = align_up(strings_addr + len(strings), PAGE_SIZE)
    for (blob, spec), saddr in zip(blobs, mod_string_addrs, strict=True):
        if pos + len(blob) > ram_top:
            raise MultibootError(f"qemu: multiboot module '{spec}' does not fit in RAM "
                                 f"(needs [{pos:#x}, {pos + len(blob):#x}), RAM ends at {ram_top:#x})")
        modules.append(MultibootModule(pos, pos + len(blob), spec, saddr))
        mod_records += struct.pack("<IIII", pos, pos + len(blob), saddr, 0)
        pos = align_up(pos + len(blob), PAGE_SIZE)
    if strings_addr + len(strings) > ram_top:
        raise MultibootError("qemu: multiboot command line and module strings do not fit in RAM")

    mmap = b"".join(struct.pack("<I", 20) + e.pack() for e in e820)
    base = next((e for e in e820 if e.type == E820_RAM and e.addr == 0), None)
    mem_lower = min(640, base.size // 1024) if base is not None else 0
    mem_upper = (ram_top - MiB) // 1024
    flags = (MBI_FLAG_MEMORY | MBI_FLAG_BOOTDEV | MBI_FLAG_CMDLINE | MBI_FLAG_MODS | MBI_FLAG_MMAP
             | MBI_FLAG_BOOT_LOADER_NAME)
    info = bytearray(MBI_SIZE)
    struct.pack_into("<IIIIIII", info, 0, flags, mem_lower, mem_upper, BOOT_DEVICE, cmdline_addr,
                     len(blobs), mods_addr)
    struct.pack_into("<II", info, MBI_MMAP_LENGTH, len(mmap), MMAP_ADDR)
    struct.pack_into("<I", info, MBI_BOOT_LOADER_NAME, name_addr)

    write(MMAP_ADDR, mmap)
    write(MBI_ADDR, bytes(info))
    write(mods_addr, bytes(mod_records) + bytes(strings))
    for (blob, _spec), mod in zip(blobs, modules, strict=True):
        write(mod.start, blob)
    write(BOOT_GDT_ADDR, boot_gdt(CODE32))

    cpu = CpuState(rip=entry, regs={"rax": MULTIBOOT_BOOTLOADER_MAGIC, "rbx": MBI_ADDR})
    return MultibootBoot(entry=entry, info_addr=MBI_ADDR, kernel_start=start, kernel_end=end,
                         cmdline=kcmdline, modules=modules, cpu=cpu, warnings=warnings)
