"""Boot-time loaders and structures of the RISC-V boards (the behaviour of QEMU 7.2's hw/riscv/boot.c).

What a RISC-V board does before its first instruction runs:

* loads the firmware (``-bios``, e.g. OpenSBI's ``fw_dynamic``) at the start of RAM: an ELF file's
  ``PT_LOAD`` segments go to their physical addresses, anything else is a raw image;
* loads the kernel (``-kernel``) at the first 2 MiB boundary after the firmware (4 MiB on RV32): an ELF
  file, a Linux RISC-V ``Image`` (``Documentation/arch/riscv/boot-image-header.rst`` in Linux) or a raw
  image such as U-Boot's ``u-boot.bin``;
* loads the initrd ``min(RAM size / 2, 128 MiB)`` above the kernel's entry point;
* copies the device tree near the top of RAM (but below 3 GiB, for 32-bit guests);
* fills the mask ROM at 0x1000 with a reset vector (every hart starts there: ``a0`` = hart id, ``a1`` =
  device tree, ``a2`` = the ``fw_dynamic_info`` below it) that jumps to the firmware, followed by
  OpenSBI's ``struct fw_dynamic_info`` (OpenSBI ``include/sbi/fw_dynamic.h``) telling the firmware where
  the next stage is and in which privilege mode to enter it.

Placement rules as observed with Debian's ``qemu-system-riscv64`` 7.2 (``info roms``), for 256 MiB of RAM
and the default OpenSBI: firmware 0x80000000, kernel 0x80200000, initrd 0x88200000, device tree
0x8fe00000.  Instructions are RISC-V base ISA encodings (The RISC-V Instruction Set Manual, Volume I,
"RV32I Base Integer Instruction Set": U-type and I-type formats; Zicsr for ``csrrs``).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

from pyqemu.exec.memory import AddressSpace

MiB = 1 << 20
GiB = 1 << 30

#: Where the virt board's mask ROM (and so the reset vector) starts.
MROM_BASE = 0x1000
#: Where a raw kernel goes when there is no firmware in front of it to decide (QEMU's KERNEL_BOOT_ADDRESS).
KERNEL_BOOT_ADDRESS_64 = 0x80200000
KERNEL_BOOT_ADDRESS_32 = 0x80400000
#: The size of the buffer QEMU builds its device tree in; the RAM slot reserved for the tree (7.2 places
#: the tree using this size, not the packed size).
FDT_MAX_SIZE = 1 * MiB
#: Bytes of code and data words in the reset vector, before the fw_dynamic_info.
RESET_VECTOR_SIZE = 0x28

# struct fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h)
FW_DYNAMIC_INFO_MAGIC = 0x4942534F  # "OSBI"
FW_DYNAMIC_INFO_VERSION = 2
FW_DYNAMIC_INFO_NEXT_MODE_U = 0
FW_DYNAMIC_INFO_NEXT_MODE_S = 1
FW_DYNAMIC_INFO_NEXT_MODE_M = 3

# Linux RISC-V Image header
IMAGE_MAGIC = b"RISCV\0\0\0"
IMAGE_MAGIC2 = b"RSC\x05"
_IMAGE_HEADER = struct.Struct("<IIQQQIIQ8s4sI")  # 64 bytes


# -- the Linux Image header ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RiscvImageHeader:
    """The 64-byte header at the start of a Linux RISC-V ``Image``."""

    code0: int
    code1: int
    text_offset: int  #: where the kernel prefers to sit relative to the start of RAM
    image_size: int  #: memory the kernel occupies once running (text, data and bss)
    flags: int  #: bit 0: big endian
    version: int  #: major << 16 | minor
    pe_offset: int  #: res3: offset of the PE/COFF header for EFI-stub kernels ("MZ" in code0)

    @property
    def is_efi(self) -> bool:
        return self.code0 & 0xFFFF == 0x5A4D  # "MZ"


def parse_image_header(data: bytes) -> RiscvImageHeader | None:
    """The Image header of ``data``, or None when it is not a Linux RISC-V Image (``magic2`` at 0x38)."""
    if len(data) < _IMAGE_HEADER.size:
        return None
    code0, code1, text_offset, image_size, flags, version, _res1, _res2, _magic, magic2, res3 = (
        _IMAGE_HEADER.unpack_from(data))
    if magic2 != IMAGE_MAGIC2:
        return None
    return RiscvImageHeader(code0, code1, text_offset, image_size, flags, version, res3)


# -- writing into guest memory ---------------------------------------------------------------------------

def _store(space: AddressSpace, addr: int, data: bytes, what: str) -> None:
    """Copy ``data`` to guest RAM/ROM at ``addr``; every byte must land in RAM or ROM."""
    pos = addr
    end = addr + len(data)
    while pos < end:
        r = space.find(pos)
        if r is None or not r.is_ram:
            raise ValueError(f"{what}: [{addr:#x}, {end:#x}) is not inside RAM or ROM (at {pos:#x})")
        pos = r.end
    space.write_bytes(addr, data, rom=True)


def align_up(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1)


def align_down(value: int, align: int) -> int:
    return value & ~(align - 1)


def _load_elf(space: AddressSpace, data: bytes, what: str) -> tuple[int, int]:
    """Load an ELF file's ``PT_LOAD`` segments at their physical addresses; (entry, end of the highest
    segment in memory).  Like QEMU's ELF loader, the entry point is moved from virtual to physical when
    it lies in an executable segment whose virtual and physical addresses differ (a vmlinux)."""
    from elftools.elf.elffile import ELFFile  # (only ELF images need it: it takes a while to import)

    elf = ELFFile(io.BytesIO(data))
    if elf["e_machine"] != "EM_RISCV":
        raise ValueError(f"{what}: ELF file is for {elf['e_machine']}, not RISC-V")
    entry = elf["e_entry"]
    mask = (1 << elf.elfclass) - 1
    phys_entry = entry
    low: int | None = None
    high = 0
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        paddr, vaddr = seg["p_paddr"], seg["p_vaddr"]
        filesz, memsz = seg["p_filesz"], seg["p_memsz"]
        contents = seg.data()[:filesz] + bytes(memsz - filesz)
        _store(space, paddr, contents, what)
        low = paddr if low is None else min(low, paddr)
        high = max(high, paddr + memsz)
        if (vaddr != paddr and seg["p_flags"] & 1 and vaddr <= entry < vaddr + filesz):
            phys_entry = (entry - vaddr + paddr) & mask
    if low is None:
        raise ValueError(f"{what}: ELF file has nothing to load")
    return phys_entry, high


def _read(path: str | Path) -> bytes:
    return Path(path).read_bytes()


# -- loaders ---------------------------------------------------------------------------------------------

def _read_image(space: AddressSpace, path: str | Path, what: str) -> tuple[bytes, tuple[int, int] | None]:
    """Read a boot image; an ELF file is loaded right away ((entry, end) returned with it)."""
    data = _read(path)
    if data[:4] == b"\x7fELF":
        return data, _load_elf(space, data, what)
    if not data:
        raise ValueError(f"{what}: empty file")
    return data, None


def load_firmware(space: AddressSpace, path: str | Path, addr: int) -> tuple[int, int]:
    """Load firmware (``-bios``): an ELF file at its own addresses, anything else raw at ``addr``.

    Returns (entry, end): for an ELF file its entry point and the end of its highest segment in memory
    (``p_paddr + p_memsz``, bss included); for a raw image ``addr`` and ``addr + size``.  ``end`` is what
    :func:`kernel_start_addr` needs.
    """
    what = f"firmware {path}"
    data, elf = _read_image(space, path, what)
    if elf is not None:
        return elf
    _store(space, addr, data, what)
    return addr, addr + len(data)


def kernel_start_addr(firmware_end: int, xlen: int = 64) -> int:
    """Where the kernel goes behind the firmware: the next 2 MiB boundary on RV64, 4 MiB on RV32 (the
    kernel maps itself with PMD-sized pages, so its physical load address must be PMD aligned)."""
    return align_up(firmware_end, 2 * MiB if xlen == 64 else 4 * MiB)


def load_kernel(space: AddressSpace, path: str | Path, default_addr: int, xlen: int = 64) -> tuple[int, int]:
    """Load a kernel (``-kernel``); returns (entry, end).

    * an ELF file (vmlinux, a bare-metal test): its ``PT_LOAD`` segments at their physical addresses,
      entry from the header;
    * a Linux RISC-V ``Image`` (``magic2`` "RSC\\x05" at 0x38): at ``default_addr`` rounded up to the
      kernel's alignment (2 MiB on RV64, 4 MiB on RV32 -- QEMU's kernel start is already aligned so this
      only matters for callers passing their own address); ``end`` covers the header's ``image_size``
      (bss included), not only the file.  Like QEMU, ``text_offset`` is not added: the RISC-V kernel
      runs wherever it is put, provided the address is aligned;
    * anything else (U-Boot's ``u-boot.bin``, a flat binary) raw at ``default_addr``.
    """
    what = f"kernel {path}"
    data, elf = _read_image(space, path, what)
    if elf is not None:
        return elf
    hdr = parse_image_header(data)
    if hdr is not None:
        if hdr.flags & 1:
            raise ValueError(f"{what}: big-endian RISC-V Image is not supported")
        addr = align_up(default_addr, 2 * MiB if xlen == 64 else 4 * MiB)
        _store(space, addr, data, what)
        return addr, addr + max(len(data), hdr.image_size)
    _store(space, default_addr, data, what)
    return default_addr, default_addr + len(data)


def initrd_start_addr(ram_size: int, kernel_entry: int) -> int:
    """QEMU's initrd placement: ``kernel_entry + min(ram_size / 2, 128 MiB)`` -- far enough above the
    kernel for it to unpack and grow, low enough to stay in the kernel's reach on small and large RAMs."""
    return kernel_entry + min(ram_size // 2, 128 * MiB)


def load_initrd(space: AddressSpace, path: str | Path, ram_base: int, ram_size: int, kernel_entry: int,
                kernel_end: int | None = None) -> tuple[int, int]:
    """Load an initrd raw at :func:`initrd_start_addr`; returns (start, end) for ``/chosen``'s
    ``linux,initrd-start``/``linux,initrd-end``.

    It must fit in RAM, and when ``kernel_end`` is given it must not overlap the kernel (QEMU refuses
    overlapping images too: "rom: requested regions overlap").
    """
    data = _read(path)
    start = initrd_start_addr(ram_size, kernel_entry)
    end = start + len(data)
    if start < ram_base or end > ram_base + ram_size:
        raise ValueError(f"initrd {path}: [{start:#x}, {end:#x}) does not fit in RAM "
                         f"[{ram_base:#x}, {ram_base + ram_size:#x})")
    if kernel_end is not None and kernel_entry < end and start < kernel_end:
        raise ValueError(f"initrd {path}: [{start:#x}, {end:#x}) overlaps the kernel "
                         f"[{kernel_entry:#x}, {kernel_end:#x}) (use more RAM)")
    _store(space, start, data, f"initrd {path}")
    return start, end


def fdt_load_addr(ram_base: int, ram_size: int, fdt_size: int = FDT_MAX_SIZE) -> int:
    """Where the device tree goes: ``fdt_size`` below the end of RAM, or below 3 GiB when RAM starts
    under 3 GiB (so a 32-bit kernel can reach it), rounded down to 2 MiB.

    QEMU 7.2 measures the tree before packing it, i.e. the whole 1 MiB buffer it was built in, so the
    default ``fdt_size`` is :data:`FDT_MAX_SIZE` (0x8fe00000 for 256 MiB of RAM at 0x80000000).
    """
    ram_end = ram_base + ram_size
    top = min(ram_end, 3 * GiB) if ram_base < 3 * GiB else ram_end
    if fdt_size > top - ram_base:
        raise ValueError(f"device tree of {fdt_size:#x} bytes does not fit in RAM")
    return align_down(top - fdt_size, 2 * MiB)


def load_fdt(space: AddressSpace, blob: bytes, addr: int) -> None:
    """Copy a device tree blob into guest RAM at ``addr``."""
    _store(space, addr, blob, "device tree")


# -- the mask ROM ----------------------------------------------------------------------------------------

def fw_dynamic_info(next_addr: int, next_mode: int = FW_DYNAMIC_INFO_NEXT_MODE_S, *, boot_hart: int = 0,
                    options: int = 0, xlen: int = 64) -> bytes:
    """OpenSBI's ``struct fw_dynamic_info`` (version 2): magic, version, next_addr, next_mode, options,
    boot_hart, each an ``unsigned long`` (8 bytes on RV64, 4 on RV32), little endian.

    ``boot_hart`` is the hart that does the boot work (relocation, cold boot); -1 lets OpenSBI pick one
    by lottery.  QEMU passes 0.  ``next_mode``: 0 U-mode, 1 S-mode, 3 M-mode.
    """
    fmt = "<6Q" if xlen == 64 else "<6I"
    mask = (1 << xlen) - 1
    return struct.pack(fmt, FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, next_addr & mask,
                       next_mode, options & mask, boot_hart & mask)


# Register numbers (ABI names) and CSRs used by the reset vector.
REG_ZERO, REG_T0, REG_A0, REG_A1, REG_A2 = 0, 5, 10, 11, 12
CSR_MHARTID = 0xF14


def _check_reg(*regs: int) -> None:
    for r in regs:
        if not 0 <= r < 32:
            raise ValueError(f"bad register x{r}")


def _itype(opcode: int, funct3: int, rd: int, rs1: int, imm: int) -> int:
    _check_reg(rd, rs1)
    if not -2048 <= imm < 2048:
        raise ValueError(f"immediate {imm} does not fit in 12 bits")
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def enc_auipc(rd: int, imm20: int) -> int:
    """``auipc rd, imm20``: rd = pc + (imm20 << 12)."""
    _check_reg(rd)
    if not -(1 << 19) <= imm20 < (1 << 20):
        raise ValueError(f"auipc immediate {imm20:#x} does not fit in 20 bits")
    return ((imm20 & 0xFFFFF) << 12) | (rd << 7) | 0x17


def enc_addi(rd: int, rs1: int, imm: int) -> int:
    return _itype(0x13, 0, rd, rs1, imm)


def enc_ld(rd: int, rs1: int, imm: int) -> int:
    return _itype(0x03, 3, rd, rs1, imm)


def enc_lw(rd: int, rs1: int, imm: int) -> int:
    return _itype(0x03, 2, rd, rs1, imm)


def enc_jalr(rd: int, rs1: int, imm: int = 0) -> int:
    """``jalr rd, imm(rs1)``; ``jr rs1`` is ``jalr x0, 0(rs1)``."""
    return _itype(0x67, 0, rd, rs1, imm)


def enc_csrr(rd: int, csr: int) -> int:
    """``csrr rd, csr``, i.e. ``csrrs rd, csr, x0``."""
    if not 0 <= csr < 4096:
        raise ValueError(f"bad CSR number {csr:#x}")
    _check_reg(rd)
    return (csr << 20) | (2 << 12) | (rd << 7) | 0x73


def reset_vector(start_addr: int, fdt_addr: int, fw_dynamic_info_addr: int, *, rom_base: int = MROM_BASE,
                 xlen: int = 64) -> bytes:
    """The code every hart runs from ``rom_base`` at reset, with its two data words (0x28 bytes)::

        auipc t0, 0                 # t0 = rom_base
        addi  a2, t0, fw_dyn - rom_base
        csrr  a0, mhartid
        ld    a1, 32(t0)            # the device tree      (lw on RV32)
        ld    t0, 24(t0)            # where to jump        (lw on RV32)
        jr    t0
        .dword start_addr           # rom_base + 24
        .dword fdt_addr             # rom_base + 32

    ``fw_dynamic_info_addr`` is normally ``rom_base + 0x28``, right behind it (see :func:`setup_mask_rom`).
    """
    load = enc_ld if xlen == 64 else enc_lw
    mask = (1 << xlen) - 1
    code = [
        enc_auipc(REG_T0, 0),
        enc_addi(REG_A2, REG_T0, fw_dynamic_info_addr - rom_base),
        enc_csrr(REG_A0, CSR_MHARTID),
        load(REG_A1, REG_T0, 32),
        load(REG_T0, REG_T0, 24),
        enc_jalr(REG_ZERO, REG_T0, 0),
    ]
    return struct.pack("<6I", *code) + struct.pack("<QQ", start_addr & mask, fdt_addr & mask)


def setup_mask_rom(space: AddressSpace, start_addr: int, fdt_addr: int, kernel_entry: int, *,
                   rom_base: int = MROM_BASE, rom_size: int | None = None, xlen: int = 64) -> int:
    """Write the reset vector and, right behind it, the fw_dynamic_info (next stage: ``kernel_entry`` in
    S-mode; QEMU passes 0 when there is no kernel) into the mask ROM.  Returns the end address used."""
    info_addr = rom_base + RESET_VECTOR_SIZE
    blob = reset_vector(start_addr, fdt_addr, info_addr, rom_base=rom_base, xlen=xlen)
    blob += fw_dynamic_info(kernel_entry, FW_DYNAMIC_INFO_NEXT_MODE_S, xlen=xlen)
    if rom_size is not None and len(blob) > rom_size:
        raise ValueError("reset vector and fw_dynamic_info do not fit in the mask ROM")
    _store(space, rom_base, blob, "mask ROM")
    return rom_base + len(blob)
