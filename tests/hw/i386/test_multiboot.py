"""Tests of pyqemu.hw.i386.multiboot: header search, ELF and address-field loading, the multiboot
information structure (memory, command line, modules, memory map) and QEMU's errors.

Kernels: a freestanding C kernel built with Debian's ``gcc -m32`` (when it can build 32-bit code), and the
same kind of kernel written byte by byte as a minimal ELF32 file here, so the coverage does not depend on
the compiler; a raw binary using the header's address fields (flag bit 16).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pyqemu.hw.i386 import multiboot as mb
from pyqemu.hw.i386.x86_boot import (
    BOOT_GDT_ADDR,
    CR0_PE,
    CR0_PG,
    E820_RAM,
    E820_RESERVED,
    E820Entry,
    MiB,
    pc_e820_map,
)

from .guestmem import SparseMemory

RAM = 128 * MiB
MAGIC = mb.MULTIBOOT_HEADER_MAGIC


def mb_header(flags: int, *fields: int) -> bytes:
    return struct.pack("<III", MAGIC, flags, (-(MAGIC + flags)) & 0xFFFFFFFF) + struct.pack(
        f"<{len(fields)}I", *fields)


def elf32(segments: list[tuple[int, int, bytes, int]], entry: int, machine: int = 3) -> bytes:
    """A minimal little-endian ELF32 executable: ``segments`` are (vaddr, paddr, file data, memsz)."""
    phoff = 52
    data_off = 0x1000
    phdrs = b""
    body = b""
    for vaddr, paddr, data, memsz in segments:
        off = data_off + len(body)
        phdrs += struct.pack("<8I", 1, off, vaddr, paddr, len(data), memsz, 7, 0x1000)
        body += data.ljust((len(data) + 0xFFF) & ~0xFFF, b"\0")
    ehdr = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, entry, phoff, 0, 0, 52, 32, len(segments), 40, 0, 0)
    return (ehdr + phdrs).ljust(data_off, b"\0") + body


def elf64_header(machine: int) -> bytes:
    """An ELF64 file header with no program headers (enough to be recognised)."""
    ehdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x100000, 0, 0, 0, 64, 56, 0, 64, 0, 0)
    return ehdr.ljust(256, b"\0")


# -- kernels -----------------------------------------------------------------------------------------------

KERNEL_C = r"""
#define MB_FLAGS 0x3
__attribute__((section(".multiboot"), used, aligned(4)))
static const unsigned int mb_header[3] = {0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS)};
unsigned int counter[64];
static const char msg[] = "hello from a multiboot kernel";
void _start(void) { counter[0] = msg[0]; for (;;) __asm__ volatile("hlt"); }
"""

LINKER_SCRIPT = """
ENTRY(_start)
SECTIONS {
  . = 0x100000;
  .text : { KEEP(*(.multiboot)) *(.text*) }
  .rodata : { *(.rodata*) }
  .data : { *(.data*) }
  .bss : { *(.bss*) *(COMMON) }
}
"""


def gcc_kernel(tmp: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (the Python-built ELF kernel covers the same checks)")
    (tmp / "k.c").write_text(KERNEL_C)
    (tmp / "k.ld").write_text(LINKER_SCRIPT)
    out = tmp / "kernel.elf"
    r = subprocess.run([gcc, "-m32", "-ffreestanding", "-nostdlib", "-fno-pic", "-no-pie", "-static", "-O1",
                        "-Wl,-T," + str(tmp / "k.ld"), "-Wl,--build-id=none", "-Wl,-z,max-page-size=0x1000",
                        "-Wl,--no-warn-rwx-segments", "-o", str(out), str(tmp / "k.c")],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"gcc -m32 cannot build here ({r.stderr.strip()[:200]}); the Python-built ELF covers it")
    return out


TEXT = mb_header(0x3) + bytes.fromhex("f4ebfd") + b"python-built multiboot kernel\0"  # hlt; jmp $-1
DATA = b"initialised data".ljust(0x40, b"\xaa")


def python_kernel(tmp: Path) -> Path:
    out = tmp / "kernel.elf"
    out.write_bytes(elf32([(0x100000, 0x100000, TEXT, len(TEXT)),
                           (0x102000, 0x102000, DATA, 0x3000)], entry=0x10000C))
    return out


@pytest.fixture(params=["gcc", "python"])
def elf_kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return gcc_kernel(tmp_path) if request.param == "gcc" else python_kernel(tmp_path)


def dirty_memory() -> SparseMemory:
    """Memory with garbage where the kernel's bss and the modules go (the loader must clear bss)."""
    mem = SparseMemory()
    mem.write(0x100000, b"\xee" * 0x10000)
    mem.writes.clear()
    return mem


def boot(path: Path, **kw: object) -> tuple[mb.MultibootBoot, SparseMemory]:
    mem = dirty_memory()
    kw.setdefault("e820", pc_e820_map(RAM))
    result = mb.load_multiboot(path.read_bytes(), str(path), mem.write, **kw)  # type: ignore[arg-type]
    return result, mem


# -- header search -----------------------------------------------------------------------------------------

def test_find_header_at_aligned_offsets() -> None:
    for off in (0, 4, 0x100, 8192 - 12):
        data = bytes(off) + mb_header(0x3) + bytes(64)
        hdr = mb.find_header(data)
        assert hdr is not None and hdr.offset == off and hdr.flags == 3 and not hdr.has_address_fields


def test_find_header_ignores_unaligned_and_late_headers() -> None:
    assert mb.find_header(bytes(2) + mb_header(0x3) + bytes(64)) is None
    assert mb.find_header(bytes(8192) + mb_header(0x3) + bytes(64)) is None
    assert mb.find_header(b"\x7fELF" + bytes(9000)) is None
    assert not mb.is_multiboot(bytes(100))


def test_bad_checksum_is_an_error() -> None:
    bad = struct.pack("<III", MAGIC, 3, 0x12345678) + bytes(64)
    with pytest.raises(mb.MultibootError, match=r"qemu: invalid kernel header.*bad checksum"):
        mb.find_header(bad)
    assert not mb.is_multiboot(bad)
    # a valid header further on wins over a bad one before it
    assert mb.find_header(bad[:12] + mb_header(3) + bytes(64)).offset == 12  # type: ignore[union-attr]


def test_no_header_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "plain.bin"
    p.write_bytes(bytes(4096))
    with pytest.raises(mb.MultibootError, match="qemu: invalid kernel header: no multiboot header"):
        boot(p)


# -- ELF kernels ---------------------------------------------------------------------------------------------

def test_elf_kernel_memory_image_and_entry(elf_kernel: Path) -> None:
    data = elf_kernel.read_bytes()
    elf = ELFFile(elf_kernel.open("rb"))
    result, mem = boot(elf_kernel)
    assert result.entry == elf.header["e_entry"]
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    for seg in loads:
        paddr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
        assert mem.read(paddr, filesz) == data[seg["p_offset"]:seg["p_offset"] + filesz]
        assert mem.read(paddr + filesz, memsz - filesz) == bytes(memsz - filesz)  # bss cleared
    assert result.kernel_start == min(s["p_paddr"] for s in loads)
    assert result.kernel_end == max(s["p_paddr"] + s["p_memsz"] for s in loads)
    # the header is in the image where the file has it
    assert mem.u32(0x100000) == MAGIC


def test_entry_state(elf_kernel: Path) -> None:
    result, mem = boot(elf_kernel)
    cpu = result.cpu
    assert cpu.rip == result.entry
    assert cpu.reg("rax") == 0x2BADB002
    assert cpu.reg("rbx") == mb.MBI_ADDR == result.info_addr
    assert cpu.cr0 & CR0_PE and not cpu.cr0 & CR0_PG and not cpu.long_mode and cpu.efer == 0
    assert cpu.rflags == 0x2  # IF and VM clear
    assert (cpu.cs.base, cpu.cs.limit, cpu.cs.db, cpu.cs.l, cpu.cs.type & 0x8) == (0, 0xFFFFFFFF, 1, 0, 8)
    for seg in (cpu.ds, cpu.es, cpu.ss, cpu.fs, cpu.gs):
        assert (seg.base, seg.limit, seg.type & 0xA, seg.db) == (0, 0xFFFFFFFF, 0x2, 1)
    # the GDT in memory matches the segment registers (selectors 0x10 and 0x18)
    assert (cpu.gdt_base, cpu.gdt_limit) == (BOOT_GDT_ADDR, 31)
    assert mem.u64(BOOT_GDT_ADDR + cpu.cs.selector) == 0x00CF9B000000FFFF
    assert mem.u64(BOOT_GDT_ADDR + cpu.ds.selector) == 0x00CF93000000FFFF


def test_info_structure(elf_kernel: Path) -> None:
    e820 = pc_e820_map(RAM)
    result, mem = boot(elf_kernel, cmdline="console=ttyS0 quiet", e820=e820)
    mbi = mb.MBI_ADDR
    flags = mem.u32(mbi + mb.MBI_FLAGS)
    assert flags == (mb.MBI_FLAG_MEMORY | mb.MBI_FLAG_BOOTDEV | mb.MBI_FLAG_CMDLINE | mb.MBI_FLAG_MODS
                     | mb.MBI_FLAG_MMAP | mb.MBI_FLAG_BOOT_LOADER_NAME)
    assert mem.u32(mbi + mb.MBI_MEM_LOWER) == 639  # the RAM below the EBDA
    assert mem.u32(mbi + mb.MBI_MEM_UPPER) == RAM // 1024 - 1024
    assert mem.u32(mbi + mb.MBI_BOOT_DEVICE) == 0x8000FFFF
    assert mem.cstr(mem.u32(mbi + mb.MBI_CMDLINE)) == f"{elf_kernel} console=ttyS0 quiet" == result.cmdline
    assert mem.cstr(mem.u32(mbi + mb.MBI_BOOT_LOADER_NAME)) == "qemu"
    assert mem.u32(mbi + mb.MBI_MODS_COUNT) == 0 and result.modules == []
    # the memory map: size-prefixed records, one per e820 entry
    length, addr = mem.u32(mbi + mb.MBI_MMAP_LENGTH), mem.u32(mbi + mb.MBI_MMAP_ADDR)
    assert length == 24 * len(e820)
    got = []
    pos = addr
    while pos < addr + length:
        size = mem.u32(pos)
        assert size == 20
        base, ln, typ = struct.unpack("<QQI", mem.read(pos + 4, 20))
        got.append(E820Entry(base, ln, typ))
        pos += 4 + size
    assert got == e820
    assert got[0] == E820Entry(0, 0x9FC00, E820_RAM) and got[1].type == E820_RESERVED
    assert got[-1] == E820Entry(MiB, RAM - MiB, E820_RAM)
    # QEMU's layout: mmap at 0x9000, the structure at 0x9500, module records and strings after the kernel
    assert addr == mb.MMAP_ADDR == 0x9000 and mb.MBI_ADDR == 0x9500
    strings = mem.u32(mbi + mb.MBI_MODS_ADDR)
    assert strings == result.kernel_start + ((result.kernel_end - result.kernel_start + 0xFFF) & ~0xFFF)
    assert mem.u32(mbi + mb.MBI_CMDLINE) == strings
    assert mem.u32(mbi + mb.MBI_BOOT_LOADER_NAME) == strings + len(result.cmdline) + 1


def test_empty_cmdline_is_path_and_space(elf_kernel: Path) -> None:
    result, mem = boot(elf_kernel)
    assert mem.cstr(mem.u32(mb.MBI_ADDR + mb.MBI_CMDLINE)) == f"{elf_kernel} "


def test_mem_upper_stops_at_the_pci_hole(elf_kernel: Path) -> None:
    e820 = pc_e820_map(4096 * MiB, below_4g_limit=0xB0000000)  # q35 with 4 GiB
    assert e820[-1] == E820Entry(1 << 32, 4096 * MiB - 0xB0000000, E820_RAM)
    _result, mem = boot(elf_kernel, e820=e820)
    assert mem.u32(mb.MBI_ADDR + mb.MBI_MEM_UPPER) == 0xB0000000 // 1024 - 1024


def test_modules(elf_kernel: Path, tmp_path: Path) -> None:
    m1 = tmp_path / "mod1.bin"
    m2 = tmp_path / "mod2.txt"
    m1.write_bytes(bytes(range(256)) * 20)  # 5120 bytes: two pages
    m2.write_bytes(b"second module")
    spec = f"{m1} arg=1 two,{m2}"
    result, mem = boot(elf_kernel, initrd=spec, cmdline="x")
    assert mem.u32(mb.MBI_ADDR + mb.MBI_MODS_COUNT) == 2
    mods_addr = mem.u32(mb.MBI_ADDR + mb.MBI_MODS_ADDR)
    records = [struct.unpack("<IIII", mem.read(mods_addr + 16 * i, 16)) for i in range(2)]
    assert mods_addr == (result.kernel_end + 0xFFF) & ~0xFFF  # the kernel starts on a page here
    (s1, e1, c1, r1), (s2, e2, c2, r2) = records
    # module strings, command line, loader name after the records; the modules from the next page
    assert c1 == mods_addr + 32 and c2 == c1 + len(f"{m1} arg=1 two") + 1
    cmd_addr = mem.u32(mb.MBI_ADDR + mb.MBI_CMDLINE)
    assert cmd_addr == c2 + len(str(m2)) + 1 and mem.cstr(cmd_addr) == result.cmdline
    first_start = (cmd_addr + len(result.cmdline) + 1 + 5 + 0xFFF) & ~0xFFF
    assert s1 == first_start and e1 == s1 + 5120 and r1 == 0
    assert s2 == s1 + 0x2000 and e2 == s2 + 13 and r2 == 0
    assert s1 % 4096 == 0 and s2 % 4096 == 0
    assert mem.read(s1, 5120) == m1.read_bytes() and mem.read(s2, 13) == b"second module"
    assert mem.cstr(c1) == f"{m1} arg=1 two" and mem.cstr(c2) == str(m2)
    assert [(m.start, m.end, m.string) for m in result.modules] == [(s1, e1, f"{m1} arg=1 two"),
                                                                      (s2, e2, str(m2))]


def test_missing_module(elf_kernel: Path, tmp_path: Path) -> None:
    with pytest.raises(mb.MultibootError, match="could not load multiboot module"):
        boot(elf_kernel, initrd=str(tmp_path / "nope"))


def test_module_larger_than_ram(elf_kernel: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(bytes(3 * MiB))
    with pytest.raises(mb.MultibootError, match="does not fit in RAM"):
        boot(elf_kernel, initrd=str(big), e820=pc_e820_map(4 * MiB))


def test_higher_half_elf_enters_at_the_physical_address(tmp_path: Path) -> None:
    p = tmp_path / "hh.elf"
    p.write_bytes(elf32([(0xC0100000, 0x100000, TEXT, len(TEXT))], entry=0xC010000C))
    result, mem = boot(p)
    assert result.entry == 0x10000C and mem.read(0x100000, len(TEXT)) == TEXT


def test_x86_64_elf_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "k64.elf"
    p.write_bytes(elf64_header(62)[:64] + mb_header(3) + bytes(200))
    with pytest.raises(mb.MultibootError, match="Cannot load x86-64 image, give a 32bit one."):
        boot(p)


def test_foreign_elf_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "arm.elf"
    data = bytearray(elf32([(0x100000, 0x100000, TEXT, len(TEXT))], entry=0x100000, machine=40))
    p.write_bytes(bytes(data))
    with pytest.raises(mb.MultibootError, match="Error while loading elf kernel"):
        boot(p)


def test_not_elf_without_address_fields(tmp_path: Path) -> None:
    p = tmp_path / "raw.bin"
    p.write_bytes(mb_header(3) + bytes(64))
    with pytest.raises(mb.MultibootError, match="multiboot kernel is not an ELF file"):
        boot(p)


def test_kernel_over_the_info_area(tmp_path: Path) -> None:
    p = tmp_path / "low.elf"
    p.write_bytes(elf32([(0x8000, 0x8000, TEXT, 0x2000)], entry=0x800C))
    with pytest.raises(mb.MultibootError, match="overlaps the multiboot information"):
        boot(p)


def test_video_flag_warns_like_qemu(tmp_path: Path) -> None:
    text = mb_header(0x7, 0, 0, 0, 0, 0, 0, 1024, 768, 32) + b"\xf4"
    p = tmp_path / "vbe.elf"
    p.write_bytes(elf32([(0x100000, 0x100000, text, len(text))], entry=0x100030))
    result, _mem = boot(p)
    assert result.warnings == ["qemu: multiboot knows VBE. we don't."]


# -- the address fields (flag bit 16) -----------------------------------------------------------------------

def aout_kernel(load_addr: int = 0x200000, hdr_off: int = 0x40, load_end: int | None = 0,
                bss_end: int | None = 0, entry_off: int = 0x80, size: int = 0x1000,
                header_addr: int | None = None) -> bytes:
    """A raw image: some bytes, the header (with address fields) at ``hdr_off``, code, a pattern."""
    header_addr = load_addr + hdr_off if header_addr is None else header_addr
    hdr = mb_header(0x10003, header_addr, load_addr, load_end or 0, bss_end or 0, load_addr + entry_off)
    body = bytearray(bytes((i * 7) & 0xFF for i in range(size)))
    body[hdr_off:hdr_off + len(hdr)] = hdr
    body[entry_off:entry_off + 3] = bytes.fromhex("f4ebfd")
    return bytes(body)


def test_address_fields_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "aout.bin"
    image = aout_kernel()
    p.write_bytes(image)
    result, mem = boot(p, cmdline="hi")
    assert result.entry == 0x200080 and result.cpu.rip == 0x200080
    assert (result.kernel_start, result.kernel_end) == (0x200000, 0x201000)
    assert mem.read(0x200000, len(image)) == image
    assert mem.cstr(mem.u32(mb.MBI_ADDR + mb.MBI_CMDLINE)) == f"{p} hi"


def test_address_fields_with_text_offset_load_end_and_bss(tmp_path: Path) -> None:
    # the file starts 0x100 bytes before load_addr's data: header_addr - load_addr = 0x40 but the header
    # is at file offset 0x140
    image = bytes(0x100) + aout_kernel(hdr_off=0x40, load_end=0x200800, bss_end=0x203000)
    p = tmp_path / "aout.bin"
    p.write_bytes(image)
    mem = SparseMemory()
    mem.write(0x200000, b"\xee" * 0x4000)
    result = mb.load_multiboot(image, str(p), mem.write, pc_e820_map(RAM))
    assert (result.kernel_start, result.kernel_end) == (0x200000, 0x203000)
    assert mem.read(0x200000, 0x800) == image[0x100:0x900]
    assert mem.read(0x200800, 0x2800) == bytes(0x2800)  # load_end .. bss_end cleared
    assert (0x200000, 0x3000) in mem.writes  # the image ends at bss_end
    assert mem.u32(mb.MBI_ADDR + mb.MBI_MODS_ADDR) == 0x203000  # the strings follow it
    assert mem.u32(0x200040) == MAGIC


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"header_addr": 0x1FFF00}, "invalid load_addr address"),
    ({"header_addr": 0x200800}, "invalid header_addr address"),
    ({"load_end": 0x100000}, "invalid load_end_addr address"),
    ({"load_end": 0x200800, "bss_end": 0x200400}, "invalid bss_end_addr address"),
    ({"load_addr": 0xFFFFF800, "header_addr": 0xFFFFF840}, "kernel does not fit in address space"),
])
def test_address_field_errors(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    p = tmp_path / "bad.bin"
    p.write_bytes(aout_kernel(**kwargs))
    with pytest.raises(mb.MultibootError, match=message):
        boot(p)
