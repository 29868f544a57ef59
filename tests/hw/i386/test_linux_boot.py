"""Tests of pyqemu.hw.i386.linux_boot: the bzImage setup header, the zero page (command line, initrd
placement, e820 table), the identity page tables and the 32-/64-bit entry states, and QEMU's errors.

Two kernels: a synthetic bzImage built here (always), and Debian's amd64 cloud kernel (``vmlinuz`` from
``linux-image-*-cloud-amd64-unsigned``, fetched into the guest cache with apt-get like ``pyqemu-guests``
does; skipped with the reason printed when it cannot be had).  The real kernel's header is checked against
``file``'s description of it and against its own redundant fields (``syssize``, the code at its entry
points).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pyqemu.hw.i386 import linux_boot as lb
from pyqemu.hw.i386.x86_boot import (
    BOOT_GDT_ADDR,
    CR0_PE,
    CR0_PG,
    CR4_PAE,
    E820_RAM,
    EFER_LMA,
    EFER_LME,
    E820Entry,
    GiB,
    MiB,
    pc_e820_map,
)
from pyqemu.tools import guests

from .guestmem import SparseMemory

# -- a synthetic bzImage ------------------------------------------------------------------------------------

PROT = (bytes.fromhex("fcfa") + b"startup_32".ljust(0x1FE, b"\0") + bytes.fromhex("fcfa")
        + b"startup_64").ljust(0x2000, b"\x90")


def synthetic_bzimage(version: int = 0x20F, loadflags: int = lb.LOADED_HIGH, xloadflags: int = 0x3,
                      relocatable: int = 1, setup_sects: int = 3, init_size: int = 0x400000,
                      cmdline_size: int = 0x7FF, initrd_addr_max: int = 0x7FFFFFFF,
                      pref_address: int = 0x1000000) -> bytes:
    setup = bytearray((setup_sects or 4) * 512 + 512)
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<I", setup, 0x1F4, len(PROT) // 16)  # syssize
    struct.pack_into("<H", setup, 0x1FA, 0xFFFF)  # vid_mode: normal
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200:0x202] = bytes([0xEB, 0x6A])  # jmp to 0x26C: the header ends at 0x26C
    struct.pack_into("<IH", setup, 0x202, 0x53726448, version)
    struct.pack_into("<H", setup, 0x20E, 0x300)  # kernel_version at 0x200 + 0x300
    version_string = b"9.9.9-synthetic (test@pyqemu) #1\0"
    setup[0x500:0x500 + len(version_string)] = version_string
    struct.pack_into("<B", setup, 0x211, loadflags)
    struct.pack_into("<I", setup, 0x214, 0x100000)
    struct.pack_into("<IIBB", setup, 0x22C, initrd_addr_max, 0x200000, relocatable, 21)
    struct.pack_into("<HI", setup, 0x236, xloadflags, cmdline_size)
    struct.pack_into("<QI", setup, 0x258, pref_address, init_size)
    assert len(setup) == ((setup_sects or 4) + 1) * 512
    return bytes(setup) + PROT


RAM = 512 * MiB


def load(kernel: bytes, **kw: object) -> tuple[lb.LinuxBoot, SparseMemory]:
    mem = SparseMemory()
    kw.setdefault("e820", pc_e820_map(RAM))
    result = lb.load_linux(kernel, mem.write, **kw)  # type: ignore[arg-type]
    return result, mem


def test_parse_synthetic_header() -> None:
    data = synthetic_bzimage()
    h = lb.parse_setup_header(data)
    assert (h.version, h.version_str, h.setup_sects, h.setup_size) == (0x20F, "2.15", 3, 2048)
    assert h.kernel_version == "9.9.9-synthetic (test@pyqemu) #1"
    assert h.is_bzimage and h.relocatable_kernel and h.supports_64bit_entry
    assert (h.kernel_alignment, h.cmdline_size, h.initrd_addr_max) == (0x200000, 0x7FF, 0x7FFFFFFF)
    assert (h.pref_address, h.init_size, h.header_end) == (0x1000000, 0x400000, 0x26C)


def test_setup_sects_zero_means_four() -> None:
    h = lb.parse_setup_header(synthetic_bzimage(setup_sects=0))
    assert h.setup_size == 5 * 512


def test_old_protocol_defaults() -> None:
    h = lb.parse_setup_header(synthetic_bzimage(version=0x202))
    assert (h.initrd_addr_max, h.cmdline_size, h.kernel_alignment, h.xloadflags) == (0x37FFFFFF, 255, 0, 0)
    assert not h.relocatable_kernel and not h.supports_64bit_entry


def test_split_and_pieces() -> None:
    data = synthetic_bzimage()
    result, mem = load(data, cmdline="console=ttyS0")
    assert result.blob("kernel").data == PROT and result.kernel_addr == 0x100000
    assert mem.read(0x100000, len(PROT)) == PROT
    setup = result.blob("setup")
    assert setup.addr == lb.SETUP_ADDR and len(setup.data) == 2048
    assert setup.data[:0x1F1] == data[:0x1F1]
    assert setup.data[0x1F1:0x26C] == result.blob("zero_page").data[0x1F1:0x26C]  # patched alike
    assert mem.cstr(lb.CMDLINE_ADDR) == "console=ttyS0"


def check_zero_page(mem: SparseMemory, data: bytes, result: lb.LinuxBoot, e820: list[E820Entry],
                    cmdline: str) -> None:
    zp = result.zero_page_addr
    end = result.header.header_end
    header = mem.read(zp + 0x1F1, end - 0x1F1)
    patched = {0x210, 0x211, 0x214, 0x215, 0x216, 0x217, 0x218, 0x219, 0x21A, 0x21B, 0x21C, 0x21D, 0x21E,
               0x21F, 0x224, 0x225, 0x228, 0x229, 0x22A, 0x22B}
    for off in range(0x1F1, end):
        if off not in patched:
            assert header[off - 0x1F1] == data[off], f"setup header byte {off:#x} changed"
    assert mem.u8(zp + 0x210) == 0xB0  # type_of_loader: QEMU
    assert mem.u8(zp + 0x211) == data[0x211] | lb.CAN_USE_HEAP
    assert mem.u16(zp + 0x224) == 0xFE00  # heap_end_ptr, QEMU's value
    assert mem.u32(zp + 0x214) == result.kernel_addr  # code32_start
    assert mem.u32(zp + 0x228) == result.cmdline_addr == lb.CMDLINE_ADDR
    assert mem.cstr(mem.u32(zp + 0x228)) == cmdline
    assert mem.u32(zp + 0x218) == result.initrd_addr and mem.u32(zp + 0x21C) == result.initrd_size
    assert mem.u8(zp + lb.BP_SENTINEL) == 0
    assert mem.u8(zp + 0x1E8) == len(e820)
    table = [E820Entry(*struct.unpack("<QQI", mem.read(zp + 0x2D0 + 20 * i, 20))) for i in range(len(e820))]
    assert table == e820
    assert mem.read(zp + 0x2D0 + 20 * len(e820), 20) == bytes(20)
    # nothing else in the zero page is set
    rest = bytearray(mem.read(zp, 4096))
    rest[0x1E8] = 0
    rest[0x1F1:end] = bytes(end - 0x1F1)
    rest[0x2D0:0x2D0 + 20 * len(e820)] = bytes(20 * len(e820))
    assert rest == bytes(4096)


def walk(mem: SparseMemory, cr3: int, vaddr: int) -> int:
    """Translate through 4-level paging with 2 MiB pages (what the identity tables use)."""
    pml4e = mem.u64(cr3 + 8 * ((vaddr >> 39) & 511))
    assert pml4e & 1
    pdpte = mem.u64((pml4e & ~0xFFF) + 8 * ((vaddr >> 30) & 511))
    assert pdpte & 1
    pde = mem.u64((pdpte & 0x000FFFFFFFFFF000) + 8 * ((vaddr >> 21) & 511))
    assert pde & 0x83 == 0x83  # present, writable, 2 MiB page
    return (pde & 0x000FFFFFFFE00000) | (vaddr & 0x1FFFFF)


def check_64bit_entry(mem: SparseMemory, result: lb.LinuxBoot) -> None:
    cpu = result.cpu
    assert result.entry == cpu.rip == result.kernel_addr + 0x200
    assert cpu.reg("rsi") == lb.ZERO_PAGE_ADDR
    assert cpu.cr0 & (CR0_PE | CR0_PG) == CR0_PE | CR0_PG and cpu.cr4 & CR4_PAE
    assert cpu.efer & (EFER_LME | EFER_LMA) == EFER_LME | EFER_LMA and cpu.long_mode
    assert (cpu.cs.selector, cpu.cs.l, cpu.cs.db) == (0x10, 1, 0)
    assert all(s.selector == 0x18 for s in (cpu.ds, cpu.es, cpu.ss))
    assert cpu.rflags == 0x2
    assert mem.u64(BOOT_GDT_ADDR + 0x10) == 0x00AF9B000000FFFF
    assert mem.u64(BOOT_GDT_ADDR + 0x18) == 0x00CF93000000FFFF
    for addr in (result.entry, lb.ZERO_PAGE_ADDR, lb.CMDLINE_ADDR, result.initrd_addr, 0x1FFFFFFF,
                 0xFFFFF123, 3 * GiB + 5):
        assert walk(mem, cpu.cr3, addr) == addr


def test_synthetic_64bit_boot() -> None:
    data = synthetic_bzimage()
    e820 = pc_e820_map(RAM)
    initrd = bytes(range(256)) * 4000
    result, mem = load(data, e820=e820, cmdline="console=ttyS0 root=/dev/vda", initrd=initrd)
    check_zero_page(mem, data, result, e820, "console=ttyS0 root=/dev/vda")
    check_64bit_entry(mem, result)
    assert mem.read(result.initrd_addr, len(initrd)) == initrd
    assert result.initrd_addr == (RAM - 0x20000 - len(initrd)) & ~0xFFF  # below QEMU's ACPI room


def test_synthetic_32bit_boot() -> None:
    data = synthetic_bzimage(xloadflags=0)
    result, mem = load(data, mode="32", cmdline="")
    cpu = result.cpu
    assert result.entry == cpu.rip == 0x100000
    assert mem.read(cpu.rip, 2) == b"\xfc\xfa"
    assert cpu.reg("rsi") == lb.ZERO_PAGE_ADDR
    assert cpu.reg("rbx") == cpu.reg("rbp") == cpu.reg("rdi") == 0
    assert cpu.cr0 & CR0_PE and not cpu.cr0 & CR0_PG and not cpu.long_mode
    assert (cpu.cs.selector, cpu.cs.db, cpu.cs.l, cpu.cs.limit) == (0x10, 1, 0, 0xFFFFFFFF)
    assert mem.u64(BOOT_GDT_ADDR + 0x10) == 0x00CF9B000000FFFF
    assert "page_tables" not in [b.name for b in result.blobs]
    assert mem.u32(result.zero_page_addr + 0x218) == 0 and mem.cstr(lb.CMDLINE_ADDR) == ""


def test_initrd_below_initrd_addr_max() -> None:
    data = synthetic_bzimage(initrd_addr_max=0x37FFFFFF)
    initrd = b"\x42" * 10000
    result, _ = load(data, e820=pc_e820_map(4 * GiB), initrd=initrd)
    assert result.initrd_addr == (0x37FFFFFF - 10000) & ~0xFFF
    assert result.initrd_addr + len(initrd) <= 0x38000000


def test_initrd_below_top_of_low_ram_and_reserve() -> None:
    e820 = pc_e820_map(6 * GiB, below_4g_limit=0xB0000000)  # q35: 2.75 GiB low, the rest above 4 GiB
    result, _ = load(synthetic_bzimage(initrd_addr_max=0xFFFFFFFF), e820=e820, initrd=bytes(5000),
                     reserved_top=0x28000)
    assert result.initrd_addr == (0xB0000000 - 0x28000 - 5000) & ~0xFFF
    assert result.initrd_addr % 4096 == 0
    kernel = synthetic_bzimage(initrd_addr_max=0xFFFFFFFF)
    result, _ = load(kernel, e820=e820, initrd=bytes(8192), reserved_top=0)
    assert result.initrd_addr == 0xB0000000 - 8192  # a page-sized initrd ends right at the limit


def test_non_relocatable_kernel_goes_to_pref_address() -> None:
    result, mem = load(synthetic_bzimage(relocatable=0, pref_address=0x400000))
    assert result.kernel_addr == 0x400000 and result.entry == 0x400200
    assert mem.read(0x400200, 2) == b"\xfc\xfa"


# -- errors -------------------------------------------------------------------------------------------------

def test_not_a_linux_kernel() -> None:
    for data in (bytes(8192), b"\x7fELF" + bytes(8192), synthetic_bzimage()[:0x200]):
        with pytest.raises(lb.LinuxBootError, match="qemu: invalid kernel header"):
            lb.plan_linux_boot(data, pc_e820_map(RAM))


def test_zimage_refused() -> None:
    with pytest.raises(lb.LinuxBootError, match="not a bzImage"):
        lb.plan_linux_boot(synthetic_bzimage(loadflags=0), pc_e820_map(RAM))
    with pytest.raises(lb.LinuxBootError, match="not a bzImage"):
        lb.plan_linux_boot(synthetic_bzimage(version=0x105), pc_e820_map(RAM))


def test_protocol_too_old() -> None:
    with pytest.raises(lb.LinuxBootError, match=r"boot protocol 2.01 is too old"):
        lb.plan_linux_boot(synthetic_bzimage(version=0x201), pc_e820_map(RAM), mode="32")
    with pytest.raises(lb.LinuxBootError, match=r"2.11.*no 64-bit entry point"):
        lb.plan_linux_boot(synthetic_bzimage(version=0x20B), pc_e820_map(RAM))
    with pytest.raises(lb.LinuxBootError, match=r"xloadflags 0x2\).*no 64-bit entry point"):
        lb.plan_linux_boot(synthetic_bzimage(xloadflags=0x2), pc_e820_map(RAM))
    lb.plan_linux_boot(synthetic_bzimage(version=0x202), pc_e820_map(RAM), mode="32")  # fine in 32-bit


def test_initrd_too_large() -> None:
    with pytest.raises(lb.LinuxBootError, match="qemu: initrd is too large, cannot support."):
        lb.plan_linux_boot(synthetic_bzimage(initrd_addr_max=0xFFFFF), pc_e820_map(RAM), initrd=bytes(MiB))
    with pytest.raises(lb.LinuxBootError, match="does not fit between the kernel"):
        lb.plan_linux_boot(synthetic_bzimage(), pc_e820_map(32 * MiB), initrd=bytes(12 * MiB))


def test_cmdline_too_long() -> None:
    with pytest.raises(lb.LinuxBootError, match=r"kernel command line too long \(256 > 255\)"):
        lb.plan_linux_boot(synthetic_bzimage(cmdline_size=255), pc_e820_map(RAM), cmdline="x" * 256)


def test_kernel_larger_than_ram() -> None:
    with pytest.raises(lb.LinuxBootError, match="needs memory up to 0x1400000"):
        lb.plan_linux_boot(synthetic_bzimage(), pc_e820_map(16 * MiB))


def test_too_many_e820_entries() -> None:
    e820 = pc_e820_map(RAM) + [E820Entry(8 * GiB + i * MiB, MiB, E820_RAM) for i in range(130)]
    with pytest.raises(lb.LinuxBootError, match="too many e820 entries"):
        lb.plan_linux_boot(synthetic_bzimage(), e820)


# -- Debian's kernel ----------------------------------------------------------------------------------------

def _apt_output(*args: str) -> str:
    return subprocess.run(["apt-cache", *args], capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def debian_kernel() -> Path:
    """Debian's amd64 cloud kernel: from the guest cache, else downloaded into it (unsigned build)."""
    cache = guests.cache_dir()
    found = [cache / "amd64" / "bzImage", *sorted(cache.glob("x/linux-image-*-amd64*/boot/vmlinuz-*"))]
    for path in found:
        if path.is_file():
            return path
    if shutil.which("apt-cache") is None or shutil.which("apt-get") is None:
        pytest.skip("Debian's amd64 kernel is not in the guest cache and apt is not available to fetch it")
    try:
        dep = _apt_output("depends", "linux-image-cloud-amd64")
        pkg = next(ln.split()[1] for ln in dep.splitlines() if "Depends: linux-image-" in ln)
        if _apt_output("show", pkg + "-unsigned").strip():
            pkg += "-unsigned"
        tree = guests._apt_download(pkg, cache)
    except (StopIteration, guests.GuestError, OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"Debian's amd64 kernel could not be fetched: {exc}")
    kernels = sorted(tree.glob("boot/vmlinuz-*"))
    if not kernels:
        pytest.skip(f"{tree} has no boot/vmlinuz-*")
    return kernels[0]


def test_debian_kernel_header(debian_kernel: Path) -> None:
    data = debian_kernel.read_bytes()
    h = lb.parse_setup_header(data)
    print(f"Debian kernel: {debian_kernel}: protocol {h.version_str}, {h.kernel_version}")
    assert h.boot_flag == 0xAA55 and h.is_bzimage and h.version >= 0x20C
    assert h.supports_64bit_entry and h.xloadflags & lb.XLF_CAN_BE_LOADED_ABOVE_4G
    assert h.relocatable_kernel and h.kernel_alignment == 0x200000  # CONFIG_PHYSICAL_ALIGN
    assert h.pref_address == 0x1000000  # CONFIG_PHYSICAL_START
    assert h.cmdline_size == 2047 and h.initrd_addr_max == 0x7FFFFFFF
    prot = data[h.setup_size:]
    syssize = struct.unpack_from("<I", data, 0x1F4)[0]
    assert (len(prot) + 15) // 16 == syssize  # the split agrees with the header's own size field
    assert h.init_size > len(prot)
    assert prot[:2] == b"\xfc\xfa" and prot[0x200:0x202] == b"\xfc\xfa"  # startup_32 / startup_64: cld; cli
    if shutil.which("file"):
        desc = subprocess.run(["file", "-b", str(debian_kernel)], capture_output=True, text=True).stdout
        assert "bzImage" in desc
        assert f"version {h.kernel_version}" in desc


def test_debian_kernel_64bit_zero_page(debian_kernel: Path) -> None:
    data = debian_kernel.read_bytes()
    e820 = pc_e820_map(RAM)
    initrd = bytes(range(251)) * 12000  # ~3 MB, not a multiple of the page size
    cmdline = "console=ttyS0 earlyprintk=serial panic=-1 rdinit=/init"
    result, mem = load(data, e820=e820, cmdline=cmdline, initrd=initrd)
    check_zero_page(mem, data, result, e820, cmdline)
    check_64bit_entry(mem, result)
    h = result.header
    assert result.kernel_addr == 0x100000 and result.entry == 0x100200
    assert mem.read(0x100000, 4096) == data[h.setup_size:h.setup_size + 4096]
    assert result.initrd_addr % 4096 == 0 and result.initrd_addr + len(initrd) <= RAM
    assert result.initrd_addr == (RAM - 0x20000 - len(initrd)) & ~0xFFF
    # above the memory the kernel decompresses into
    assert result.initrd_addr >= lb.runtime_start(h, 0x100000) + h.init_size == 0x1000000 + h.init_size
    assert mem.read(result.initrd_addr, 64) == initrd[:64]
    assert mem.read(result.initrd_addr + len(initrd) - 64, 64) == initrd[-64:]


def test_debian_kernel_32bit_entry(debian_kernel: Path) -> None:
    data = debian_kernel.read_bytes()
    result, mem = load(data, mode="32", cmdline="console=ttyS0")
    assert result.entry == 0x100000 and mem.read(0x100000, 2) == b"\xfc\xfa"
    assert result.cpu.reg("rsi") == lb.ZERO_PAGE_ADDR and not result.cpu.long_mode


def test_debian_kernel_needs_enough_ram(debian_kernel: Path) -> None:
    with pytest.raises(lb.LinuxBootError, match="needs memory up to"):
        lb.plan_linux_boot(debian_kernel.read_bytes(), pc_e820_map(32 * MiB))


def test_pc_e820_map_with_firmware_areas() -> None:
    e820 = pc_e820_map(6 * GiB, below_4g_limit=0xB0000000, firmware_areas=True)
    assert e820 == [E820Entry(0, 0x9FC00, E820_RAM), E820Entry(0x9FC00, 0x400, 2),
                    E820Entry(0xF0000, 0x10000, 2), E820Entry(MiB, 0xB0000000 - 0x20000 - MiB, E820_RAM),
                    E820Entry(0xB0000000 - 0x20000, 0x20000, 2),
                    E820Entry(0xFEFFC000, 0x4000, 2), E820Entry(0xFFFC0000, 0x40000, 2),
                    E820Entry(4 * GiB, 6 * GiB - 0xB0000000, E820_RAM)]
    # the initrd lands in the same place whether the map or the loader keeps the ACPI room free
    kernel, initrd = synthetic_bzimage(initrd_addr_max=0xFFFFFFFF), bytes(12345)
    a, _ = load(kernel, e820=e820, initrd=initrd, reserved_top=0)
    b, _ = load(kernel, e820=pc_e820_map(6 * GiB, below_4g_limit=0xB0000000), initrd=initrd)
    assert a.initrd_addr == b.initrd_addr == (0xB0000000 - 0x20000 - 12345) & ~0xFFF
