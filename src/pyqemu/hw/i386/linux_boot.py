"""Direct Linux boot of an x86 ``bzImage`` through the Linux/x86 boot protocol (Linux
Documentation/arch/x86/boot.rst; QEMU's hw/i386 ``load_linux`` for the choices a loader makes).

A ``bzImage`` is the real-mode setup (``setup_sects`` + 1 sectors of 512 bytes, 4 when ``setup_sects`` is
0) followed by the protected-mode kernel.  The setup header sits at 0x1F1 in the file: ``boot_flag``
0xAA55 at 0x1FE, the "HdrS" signature at 0x202 and the protocol ``version`` at 0x206; it ends at 0x202 plus
the byte at 0x201.  Fields this loader uses (with the protocol version that introduced them): ``loadflags``
(LOADED_HIGH: a bzImage, 2.00), ``cmd_line_ptr`` (2.02), ``initrd_addr_max`` (2.03, 0x37FFFFFF before),
``kernel_alignment``/``relocatable_kernel`` (2.05), ``cmdline_size`` (2.06, 255 before), ``pref_address``
and ``init_size`` (2.10), ``xloadflags`` with XLF_KERNEL_64 (2.12).

Rather than running the setup code (QEMU 2.1 enters it in real mode through its ``linuxboot`` option ROM
and the BIOS), the loader builds the **zero page** (``struct boot_params``) itself and enters the kernel
through the 64-bit boot protocol (2.12+, XLF_KERNEL_64: long mode with identity paging, ``RSI`` = zero page,
entry = load address + 0x200, i.e. ``startup_64``) or the 32-bit boot protocol (protected mode, paging off,
``ESI`` = zero page, ``EBP``/``EDI``/``EBX`` = 0, entry = ``code32_start``), both with flat ``__BOOT_CS``
(0x10) / ``__BOOT_DS`` (0x18) segments and interrupts disabled.

The zero page is all zeroes except: the setup header copied from the file, ``type_of_loader`` = 0xB0
(QEMU's loader id), ``loadflags`` |= CAN_USE_HEAP with ``heap_end_ptr`` as QEMU sets it, ``code32_start``
= load address, ``cmd_line_ptr``, ``ramdisk_image``/``ramdisk_size``, and the e820 table (``e820_entries``
at 0x1E8, up to 128 20-byte entries at 0x2D0).

**Layout** (the low-memory addresses are this loader's choice; kernel, setup and command line addresses
are QEMU's for protocol 2.02+):

===============  ==========================================================================
0x500            boot GDT (null, null, code 0x10, data 0x18)
0x7000           zero page (4 KiB)
0x9000-0xEFFF    64-bit entry only: PML4, PDPT and four page directories identity-mapping
                 the first 4 GiB with 2 MiB pages
0x10000          the real-mode setup code (its header patched like the zero page's)
0x20000          the kernel command line
0x100000         the protected-mode kernel (``pref_address`` for a non-relocatable kernel)
top of low RAM   the initrd: page aligned, at the highest page that keeps its end below
                 min(``initrd_addr_max``, end of the RAM at 1 MiB - 128 KiB), as QEMU 7.2 places
                 it (the 128 KiB are QEMU's room for ACPI tables, ``reserved_top``)
===============  ==========================================================================
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from pyqemu.hw.i386.x86_boot import (
    BOOT_GDT_ADDR,
    CODE32,
    CODE64,
    CR0_ET,
    CR0_PE,
    CR0_PG,
    CR4_PAE,
    EFER_LMA,
    EFER_LME,
    PAGE_SIZE,
    CpuState,
    E820Entry,
    GiB,
    GuestWriter,
    MiB,
    align_down,
    align_up,
    boot_gdt,
    low_ram_top,
)

BOOT_FLAG = 0xAA55
HDRS = 0x53726448  # "HdrS"
LOADER_TYPE_QEMU = 0xB0

# loadflags
LOADED_HIGH = 0x01
KASLR_FLAG = 0x02
QUIET_FLAG = 0x20
KEEP_SEGMENTS = 0x40
CAN_USE_HEAP = 0x80
# xloadflags
XLF_KERNEL_64 = 1 << 0
XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1

# struct boot_params offsets
BP_EXT_RAMDISK_IMAGE = 0x0C0
BP_EXT_RAMDISK_SIZE = 0x0C4
BP_EXT_CMD_LINE_PTR = 0x0C8
BP_E820_ENTRIES = 0x1E8
BP_SENTINEL = 0x1EF
BP_HDR = 0x1F1
BP_E820_TABLE = 0x2D0
E820_MAX_ENTRIES_ZEROPAGE = 128
BOOT_PARAMS_SIZE = 4096

# setup header offsets (in the file and in boot_params alike)
OFF_SETUP_SECTS = 0x1F1
OFF_BOOT_FLAG = 0x1FE
OFF_JUMP = 0x200
OFF_HEADER = 0x202
OFF_VERSION = 0x206
OFF_KERNEL_VERSION = 0x20E
OFF_TYPE_OF_LOADER = 0x210
OFF_LOADFLAGS = 0x211
OFF_CODE32_START = 0x214
OFF_RAMDISK_IMAGE = 0x218
OFF_RAMDISK_SIZE = 0x21C
OFF_HEAP_END_PTR = 0x224
OFF_CMD_LINE_PTR = 0x228
OFF_INITRD_ADDR_MAX = 0x22C
OFF_KERNEL_ALIGNMENT = 0x230
OFF_RELOCATABLE = 0x234
OFF_XLOADFLAGS = 0x236
OFF_CMDLINE_SIZE = 0x238
OFF_PREF_ADDRESS = 0x258
OFF_INIT_SIZE = 0x260

# where things go
ZERO_PAGE_ADDR = 0x7000
PML4_ADDR = 0x9000
PDPT_ADDR = 0xA000
PD_ADDR = 0xB000  # four pages
SETUP_ADDR = 0x10000
CMDLINE_ADDR = 0x20000
KERNEL_ADDR = 0x100000
#: What QEMU's pc and q35 machines keep free for ACPI tables at the top of low RAM (acpi_data_size).
ACPI_DATA_SIZE = 0x20000
#: The 64-bit entry point's offset into the protected-mode kernel (startup_64).
STARTUP_64_OFFSET = 0x200


class LinuxBootError(ValueError):
    """A kernel or an initrd QEMU would refuse; the message is QEMU's kind."""


@dataclass(frozen=True)
class SetupHeader:
    """The setup header of a bzImage, with the defaults of older protocol versions filled in."""

    setup_sects: int  #: as stored (0 means 4)
    boot_flag: int
    version: int  #: 0x20F is protocol 2.15
    kernel_version: str  #: the version string the header points to ("" when there is none)
    loadflags: int
    code32_start: int
    initrd_addr_max: int
    kernel_alignment: int
    relocatable_kernel: bool
    xloadflags: int
    cmdline_size: int
    pref_address: int
    init_size: int
    header_end: int  #: file offset one past the setup header (0x202 + the byte at 0x201)

    @property
    def setup_size(self) -> int:
        """Bytes of real-mode setup (boot sector included) before the protected-mode kernel."""
        return ((self.setup_sects or 4) + 1) * 512

    @property
    def version_str(self) -> str:
        return f"{self.version >> 8}.{self.version & 0xFF:02d}"

    @property
    def is_bzimage(self) -> bool:
        return bool(self.loadflags & LOADED_HIGH)

    @property
    def supports_64bit_entry(self) -> bool:
        return self.version >= 0x20C and bool(self.xloadflags & XLF_KERNEL_64)


def parse_setup_header(data: bytes) -> SetupHeader:
    """The setup header of the kernel file ``data``; :class:`LinuxBootError` when it is not a Linux kernel
    with a boot protocol header (2.00 or later)."""
    if len(data) < 0x264:
        raise LinuxBootError("qemu: invalid kernel header: file too small for a Linux setup header")
    boot_flag, = struct.unpack_from("<H", data, OFF_BOOT_FLAG)
    magic, version = struct.unpack_from("<IH", data, OFF_HEADER)
    if magic != HDRS or boot_flag != BOOT_FLAG:
        raise LinuxBootError("qemu: invalid kernel header: not a Linux/x86 kernel (no boot_flag 0xAA55 and "
                             "\"HdrS\" signature)")

    def u8(off: int) -> int:
        return data[off]

    def u16(off: int) -> int:
        return struct.unpack_from("<H", data, off)[0]

    def u32(off: int) -> int:
        return struct.unpack_from("<I", data, off)[0]

    kver = ""
    kv_off = u16(OFF_KERNEL_VERSION)
    if kv_off:
        pos = kv_off + 0x200
        end = data.find(b"\0", pos, pos + 256)
        kver = data[pos:end if end >= 0 else pos + 256].decode("latin-1")
    header_end = OFF_HEADER + u8(OFF_JUMP + 1)
    return SetupHeader(
        setup_sects=u8(OFF_SETUP_SECTS), boot_flag=boot_flag, version=version, kernel_version=kver,
        loadflags=u8(OFF_LOADFLAGS), code32_start=u32(OFF_CODE32_START),
        initrd_addr_max=u32(OFF_INITRD_ADDR_MAX) if version >= 0x203 else 0x37FFFFFF,
        kernel_alignment=u32(OFF_KERNEL_ALIGNMENT) if version >= 0x205 else 0,
        relocatable_kernel=bool(u8(OFF_RELOCATABLE)) if version >= 0x205 else False,
        xloadflags=u16(OFF_XLOADFLAGS) if version >= 0x20C else 0,
        cmdline_size=u32(OFF_CMDLINE_SIZE) if version >= 0x206 else 255,
        pref_address=struct.unpack_from("<Q", data, OFF_PREF_ADDRESS)[0] if version >= 0x20A else KERNEL_ADDR,
        init_size=u32(OFF_INIT_SIZE) if version >= 0x20A else 0,
        header_end=header_end,
    )


@dataclass(frozen=True)
class Blob:
    """One piece of the boot image: ``data`` to be written at guest physical ``addr``."""

    name: str
    addr: int
    data: bytes

    @property
    def end(self) -> int:
        return self.addr + len(self.data)


@dataclass
class LinuxBoot:
    """Where everything goes, and the boot vCPU's state (the result of :func:`plan_linux_boot`)."""

    header: SetupHeader
    blobs: list[Blob]
    entry: int
    kernel_addr: int
    zero_page_addr: int
    cmdline_addr: int
    initrd_addr: int  #: 0 without an initrd
    initrd_size: int
    cpu: CpuState

    def blob(self, name: str) -> Blob:
        for b in self.blobs:
            if b.name == name:
                return b
        raise KeyError(name)

    def write(self, write: GuestWriter) -> None:
        """Write every piece into guest memory."""
        for b in self.blobs:
            write(b.addr, b.data)


def identity_page_tables() -> bytes:
    """PML4, PDPT and four page directories (6 pages from :data:`PML4_ADDR`) identity-mapping 4 GiB with
    2 MiB pages (Intel SDM Vol. 3A, 4.5 "4-Level Paging": present | writable, PS in the PDEs)."""
    pml4 = struct.pack("<Q", PDPT_ADDR | 0x3).ljust(PAGE_SIZE, b"\0")
    pdpt = b"".join(struct.pack("<Q", (PD_ADDR + i * PAGE_SIZE) | 0x3) for i in range(4))
    pdpt = pdpt.ljust(PAGE_SIZE, b"\0")
    pds = b"".join(struct.pack("<Q", (i * 2 * MiB) | 0x83) for i in range(4 * 512))
    tables = pml4 + pdpt + pds
    assert PML4_ADDR + PAGE_SIZE == PDPT_ADDR and PDPT_ADDR + PAGE_SIZE == PD_ADDR
    return tables


def runtime_start(hdr: SetupHeader, load_addr: int) -> int:
    """Where the kernel decompresses itself: a relocatable kernel at its load address rounded up to
    ``kernel_alignment`` but never below ``pref_address`` (LOAD_PHYSICAL_ADDR), others at ``pref_address``."""
    if hdr.relocatable_kernel and hdr.kernel_alignment:
        return max(align_up(load_addr, hdr.kernel_alignment), hdr.pref_address)
    return max(hdr.pref_address, load_addr)


def plan_linux_boot(kernel: bytes, e820: list[E820Entry], cmdline: str = "", initrd: bytes | None = None,
                    mode: Literal["64", "32"] = "64",
                    reserved_top: int = ACPI_DATA_SIZE) -> LinuxBoot:
    """Lay out a bzImage boot: parse the header, split setup and kernel, place the command line and the
    initrd, build the zero page (and, for ``mode="64"``, the identity page tables) and the vCPU state.

    ``e820`` is the machine's memory map; ``reserved_top`` bytes at the end of the RAM at 1 MiB are kept
    free of the initrd (QEMU keeps that room for its ACPI tables; pass 0 when ``e820`` already reserves it,
    as ``pc_e820_map(..., firmware_areas=True)`` does).  Nothing is written: see
    :meth:`LinuxBoot.write` or :func:`load_linux`.
    """
    if mode not in ("64", "32"):
        raise ValueError(f"unknown boot mode {mode!r}")
    hdr = parse_setup_header(kernel)
    if hdr.version < 0x200 or not hdr.is_bzimage:
        raise LinuxBootError(f"qemu: linux kernel is not a bzImage (boot protocol {hdr.version_str}, "
                             f"loadflags {hdr.loadflags:#x}): zImage kernels are not supported")
    if hdr.version < 0x202:
        raise LinuxBootError(f"qemu: linux kernel boot protocol {hdr.version_str} is too old "
                             "(2.02 needed for the 32-bit entry)")
    if mode == "64" and not hdr.supports_64bit_entry:
        raise LinuxBootError(f"qemu: linux kernel (boot protocol {hdr.version_str}, xloadflags "
                             f"{hdr.xloadflags:#x}) has no 64-bit entry point "
                             "(2.12 and XLF_KERNEL_64 needed)")
    setup_size = hdr.setup_size
    if setup_size > len(kernel) or setup_size > CMDLINE_ADDR - SETUP_ADDR:
        raise LinuxBootError("qemu: invalid kernel header")
    setup, prot = kernel[:setup_size], kernel[setup_size:]
    ram_top = low_ram_top(e820)

    load_addr = KERNEL_ADDR if hdr.relocatable_kernel or hdr.version < 0x20A else hdr.pref_address
    start = runtime_start(hdr, load_addr)
    kernel_top = max(load_addr + len(prot), start + hdr.init_size)
    if kernel_top > ram_top:
        raise LinuxBootError(f"qemu: linux kernel needs memory up to {kernel_top:#x}, but RAM below 4G ends "
                             f"at {ram_top:#x}")

    cmd = cmdline.encode()
    if len(cmd) > hdr.cmdline_size:
        raise LinuxBootError(f"qemu: kernel command line too long ({len(cmd)} > {hdr.cmdline_size})")

    initrd_addr = initrd_size = 0
    if initrd is not None:
        initrd_size = len(initrd)
        # QEMU 7.2's placement (checked against Debian's qemu-system-x86_64): the highest page below
        # initrd_addr_max, and below the top of low RAM less what is kept free for the ACPI tables.
        limit = min(hdr.initrd_addr_max, ram_top - reserved_top)
        if initrd_size >= limit:
            raise LinuxBootError("qemu: initrd is too large, cannot support.")
        initrd_addr = align_down(limit - initrd_size, PAGE_SIZE)
        if initrd_addr < kernel_top:
            raise LinuxBootError(f"qemu: initrd ({initrd_size} bytes) does not fit between the kernel (up to "
                                 f"{kernel_top:#x}) and {limit:#x}")

    if len(e820) > E820_MAX_ENTRIES_ZEROPAGE:
        raise LinuxBootError(f"qemu: too many e820 entries ({len(e820)} > {E820_MAX_ENTRIES_ZEROPAGE})")

    # The header as the kernel must see it, patched the way QEMU patches it.
    header = bytearray(kernel[BP_HDR:hdr.header_end])

    def put(fmt: str, off: int, value: int) -> None:
        struct.pack_into(fmt, header, off - BP_HDR, value)

    put("<B", OFF_TYPE_OF_LOADER, LOADER_TYPE_QEMU)
    put("<B", OFF_LOADFLAGS, hdr.loadflags | CAN_USE_HEAP)
    put("<H", OFF_HEAP_END_PTR, CMDLINE_ADDR - SETUP_ADDR - 0x200)
    put("<I", OFF_CODE32_START, load_addr)
    put("<I", OFF_CMD_LINE_PTR, CMDLINE_ADDR)
    put("<I", OFF_RAMDISK_IMAGE, initrd_addr)
    put("<I", OFF_RAMDISK_SIZE, initrd_size)

    zp = bytearray(BOOT_PARAMS_SIZE)
    zp[BP_HDR:hdr.header_end] = header
    zp[BP_E820_ENTRIES] = len(e820)
    for i, e in enumerate(e820):
        zp[BP_E820_TABLE + 20 * i:BP_E820_TABLE + 20 * (i + 1)] = e.pack()
    setup_patched = bytearray(setup)
    setup_patched[BP_HDR:hdr.header_end] = header

    blobs = [
        Blob("setup", SETUP_ADDR, bytes(setup_patched)),
        Blob("cmdline", CMDLINE_ADDR, cmd + b"\0"),
        Blob("kernel", load_addr, prot),
        Blob("zero_page", ZERO_PAGE_ADDR, bytes(zp)),
    ]
    if initrd is not None:
        blobs.append(Blob("initrd", initrd_addr, initrd))
    if mode == "64":
        blobs.append(Blob("gdt", BOOT_GDT_ADDR, boot_gdt(CODE64)))
        blobs.append(Blob("page_tables", PML4_ADDR, identity_page_tables()))
        entry = load_addr + STARTUP_64_OFFSET
        cpu = CpuState(rip=entry, regs={"rsi": ZERO_PAGE_ADDR}, cs=CODE64, cr0=CR0_PE | CR0_ET | CR0_PG,
                       cr3=PML4_ADDR, cr4=CR4_PAE, efer=EFER_LME | EFER_LMA)
    else:
        blobs.append(Blob("gdt", BOOT_GDT_ADDR, boot_gdt(CODE32)))
        entry = load_addr
        cpu = CpuState(rip=entry, regs={"rsi": ZERO_PAGE_ADDR}, cs=CODE32)
    for b in blobs:
        if b.end > ram_top and b.name != "kernel":
            raise LinuxBootError(f"qemu: {b.name} [{b.addr:#x}, {b.end:#x}) is beyond RAM ({ram_top:#x})")
    assert ram_top <= 4 * GiB
    return LinuxBoot(header=hdr, blobs=blobs, entry=entry, kernel_addr=load_addr,
                     zero_page_addr=ZERO_PAGE_ADDR, cmdline_addr=CMDLINE_ADDR,
                     initrd_addr=initrd_addr, initrd_size=initrd_size, cpu=cpu)


def load_linux(kernel: bytes, write: GuestWriter, e820: list[E820Entry], cmdline: str = "",
               initrd: bytes | None = None, mode: Literal["64", "32"] = "64",
               reserved_top: int = ACPI_DATA_SIZE) -> LinuxBoot:
    """:func:`plan_linux_boot`, then write every piece through ``write``."""
    boot = plan_linux_boot(kernel, e820, cmdline, initrd, mode, reserved_top)
    boot.write(write)
    return boot
