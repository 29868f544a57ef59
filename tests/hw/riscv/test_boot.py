"""Tests of pyqemu.hw.riscv.boot: loaders, placement rules, fw_dynamic_info and the reset vector.

Where Debian's ``qemu-system-riscv64`` (7.2) is installed, the placement of firmware, kernel, initrd and
device tree and the mask ROM bytes are compared with what QEMU reports (``info roms``, ``xp``).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import capstone
import pytest

from pyqemu.exec.memory import AddressSpace, MemoryRegion, RamArena
from pyqemu.hw.riscv import boot
from pyqemu.tools import guests

GUESTS = guests.cache_dir() / "riscv64"  # filled by `pyqemu-guests fetch` (make test does it)
IMAGE = GUESTS / "Image"
INITRD = GUESTS / "initramfs.cpio.gz"
OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
QEMU_FW = Path("/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin")
QEMU = shutil.which("qemu-system-riscv64")

RAM_BASE = 0x80000000
MiB = 1 << 20


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    return path


class Board:
    """A small machine: mask ROM at 0x1000 and RAM at 0x80000000."""

    def __init__(self, ram_size: int = 256 * MiB):
        self.arena = RamArena(reserve=ram_size + (1 << 20))
        self.root = MemoryRegion.container_of("system", 1 << 64)
        self.rom = MemoryRegion.rom("mrom", 0xF000, self.arena)
        self.ram = MemoryRegion.ram("ram", ram_size, self.arena)
        self.root.add_subregion(boot.MROM_BASE, self.rom)
        self.root.add_subregion(RAM_BASE, self.ram)
        self.space = AddressSpace("memory", self.root)
        self.ram_size = ram_size


@pytest.fixture
def board() -> Board:
    return Board()


# -- Image header --------------------------------------------------------------------------------------

def test_image_header_of_real_kernel():
    data = need(IMAGE).read_bytes()
    hdr = boot.parse_image_header(data)
    assert hdr is not None
    assert data[0x38:0x3C] == b"RSC\x05"
    assert hdr.text_offset == struct.unpack_from("<Q", data, 0x08)[0]
    assert hdr.image_size == struct.unpack_from("<Q", data, 0x10)[0]
    assert hdr.text_offset == 0x200000  # an RV64 kernel: one PMD above the start of RAM
    assert hdr.image_size >= len(data)  # bss comes on top of the file
    assert hdr.version >> 16 == 0 and hdr.version & 0xFFFF >= 2
    assert hdr.is_efi == (data[:2] == b"MZ")
    if hdr.is_efi:
        assert data[hdr.pe_offset:hdr.pe_offset + 4] == b"PE\0\0"


def test_image_header_absent():
    assert boot.parse_image_header(b"\0" * 64) is None
    assert boot.parse_image_header(b"RSC\x05") is None
    if UBOOT.exists():
        assert boot.parse_image_header(UBOOT.read_bytes()) is None


def test_load_kernel_image(board: Board):
    data = need(IMAGE).read_bytes()
    hdr = boot.parse_image_header(data)
    entry, end = boot.load_kernel(board.space, IMAGE, 0x80200000)
    assert entry == 0x80200000
    assert end == 0x80200000 + hdr.image_size
    assert board.space.read_bytes(entry, len(data)) == data


def test_load_kernel_image_is_aligned(board: Board):
    need(IMAGE)
    entry, _ = boot.load_kernel(board.space, IMAGE, 0x8001C280)
    assert entry == 0x80200000
    entry32, _ = boot.load_kernel(Board().space, IMAGE, 0x8001C280, xlen=32)
    assert entry32 == 0x80400000


def test_load_kernel_raw_uboot(board: Board):
    data = need(UBOOT).read_bytes()
    entry, end = boot.load_kernel(board.space, UBOOT, boot.KERNEL_BOOT_ADDRESS_64)
    assert (entry, end) == (0x80200000, 0x80200000 + len(data))
    assert board.space.read_bytes(0x80200000, len(data)) == data


# -- ELF -----------------------------------------------------------------------------------------------

def make_elf(segments: list[tuple[int, int, bytes, int, int]], entry: int, machine: int = 243) -> bytes:
    """A little ELF64 executable; segments are (vaddr, paddr, data, memsz, flags)."""
    ehsize, phsize = 64, 56
    off = ehsize + phsize * len(segments)
    phdrs = b""
    body = b""
    for vaddr, paddr, data, memsz, flags in segments:
        phdrs += struct.pack("<IIQQQQQQ", 1, flags, off + len(body), vaddr, paddr, len(data), memsz, 8)
        body += data
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, ehsize, 0, 0, ehsize, phsize,
                              len(segments), 64, 0, 0)
    return hdr + phdrs + body


def test_load_elf_segments_and_bss(board: Board, tmp_path: Path):
    board.space.write_bytes(0x80100000, b"\xff" * 0x100)
    code = bytes(range(16))
    elf = tmp_path / "k.elf"
    elf.write_bytes(make_elf([(0x80100000, 0x80100000, code, 0x100, 5),
                              (0x80200000, 0x80200000, b"DATA", 4, 6)], 0x80100004))
    entry, end = boot.load_firmware(board.space, elf, 0x80000000)
    assert entry == 0x80100004
    assert end == 0x80200004
    assert board.space.read_bytes(0x80100000, 16) == code
    assert board.space.read_bytes(0x80100010, 0xF0) == bytes(0xF0)  # bss zeroed
    assert board.space.read_bytes(0x80200000, 4) == b"DATA"


def test_load_elf_entry_virtual_to_physical(board: Board, tmp_path: Path):
    """A vmlinux: linked at a virtual address, loaded at the physical one; the entry follows."""
    elf = tmp_path / "vmlinux"
    elf.write_bytes(make_elf([(0xFFFFFFFF80000000, 0x80200000, b"\x13\x00\x00\x00" * 4, 16, 5)],
                             0xFFFFFFFF80000008))
    entry, end = boot.load_kernel(board.space, elf, 0x80200000)
    assert entry == 0x80200008
    assert end == 0x80200010


def test_load_elf_wrong_machine(board: Board, tmp_path: Path):
    elf = tmp_path / "x86.elf"
    elf.write_bytes(make_elf([(0x80000000, 0x80000000, b"\x90", 1, 5)], 0x80000000, machine=62))
    with pytest.raises(ValueError, match="not RISC-V"):
        boot.load_firmware(board.space, elf, 0x80000000)


def test_load_outside_ram(board: Board, tmp_path: Path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="not inside RAM"):
        boot.load_kernel(board.space, blob, 0x40000000)
    with pytest.raises(ValueError, match="not inside RAM"):
        boot.load_kernel(board.space, blob, RAM_BASE + board.ram_size - 50)


def test_load_opensbi_elf_and_bin(board: Board):
    elf = need(OPENSBI / "fw_dynamic.elf")
    binary = (OPENSBI / "fw_dynamic.bin").read_bytes()
    board.space.write_bytes(0x80000000 + len(binary), b"\xaa" * 0x1000)
    entry, end = boot.load_firmware(board.space, elf, 0x80000000)
    assert entry == 0x80000000
    assert end == 0x80045AC8  # p_paddr + p_memsz of its PT_LOAD (QEMU's "info roms" agrees)
    assert board.space.read_bytes(0x80000000, len(binary)) == binary  # the .bin is the ELF's image
    assert board.space.read_bytes(0x80000000 + len(binary), 0x1000) == bytes(0x1000)
    assert boot.kernel_start_addr(end) == 0x80200000

    other = Board()
    entry, end = boot.load_firmware(other.space, OPENSBI / "fw_dynamic.bin", 0x80000000)
    assert (entry, end) == (0x80000000, 0x80000000 + len(binary))
    assert other.space.read_bytes(0x80000000, len(binary)) == binary


def test_kernel_start_addr():
    assert boot.kernel_start_addr(0x80000000) == 0x80000000  # -bios none
    assert boot.kernel_start_addr(0x8001C280) == 0x80200000
    assert boot.kernel_start_addr(0x8001C280, xlen=32) == 0x80400000


# -- initrd and device tree placement ------------------------------------------------------------------

@pytest.mark.parametrize("ram_mib, kernel, expected", [
    (64, 0x80200000, 0x82200000),
    (128, 0x80200000, 0x84200000),
    (256, 0x80200000, 0x88200000),
    (4096, 0x80200000, 0x88200000),
    (256, 0x80000000, 0x88000000),
])
def test_initrd_start_addr(ram_mib: int, kernel: int, expected: int):
    assert boot.initrd_start_addr(ram_mib * MiB, kernel) == expected


def test_load_initrd(board: Board, tmp_path: Path):
    rd = tmp_path / "initrd"
    rd.write_bytes(b"07070100" * 1000)
    start, end = boot.load_initrd(board.space, rd, RAM_BASE, board.ram_size, 0x80200000, 0x80700000)
    assert (start, end) == (0x88200000, 0x88200000 + 8000)
    assert board.space.read_bytes(start, 8000) == rd.read_bytes()


def test_load_initrd_errors(tmp_path: Path):
    small = Board(16 * MiB)
    rd = tmp_path / "initrd"
    rd.write_bytes(bytes(4 * MiB))
    with pytest.raises(ValueError, match="does not fit"):
        boot.load_initrd(small.space, rd, RAM_BASE, small.ram_size, 0x80800000)
    with pytest.raises(ValueError, match="overlaps the kernel"):
        boot.load_initrd(small.space, tmp_path / "initrd", RAM_BASE, small.ram_size, 0x80000000, 0x80900000)


@pytest.mark.parametrize("base, size, expected", [
    (RAM_BASE, 64 * MiB, 0x83E00000),
    (RAM_BASE, 128 * MiB, 0x87E00000),
    (RAM_BASE, 256 * MiB, 0x8FE00000),
    (RAM_BASE, 4096 * MiB, 0xBFE00000),  # capped below 3 GiB
    (0x100000000, 1024 * MiB, 0x13FE00000),  # RAM above 3 GiB: its own end
])
def test_fdt_load_addr(base: int, size: int, expected: int):
    assert boot.fdt_load_addr(base, size) == expected


def test_fdt_load_addr_packed_size():
    assert boot.fdt_load_addr(RAM_BASE, 256 * MiB, 0x1100) == 0x8FE00000
    assert boot.fdt_load_addr(RAM_BASE, 256 * MiB + 0x1000, 0x1100) == 0x90000000 - 2 * MiB


# -- mask ROM ------------------------------------------------------------------------------------------

def test_fw_dynamic_info_layout():
    info = boot.fw_dynamic_info(0x80200000)
    assert len(info) == 48
    magic, version, next_addr, next_mode, options, boot_hart = struct.unpack("<6Q", info)
    assert magic == 0x4942534F and info[:4] == b"OSBI"
    assert (version, next_addr, next_mode, options, boot_hart) == (2, 0x80200000, 1, 0, 0)
    lottery = struct.unpack("<6Q", boot.fw_dynamic_info(0x80200000, boot_hart=-1))
    assert lottery[5] == (1 << 64) - 1
    m_mode = struct.unpack("<6Q", boot.fw_dynamic_info(0x80200000, boot.FW_DYNAMIC_INFO_NEXT_MODE_M))
    assert m_mode[3] == 3
    rv32 = boot.fw_dynamic_info(0x80400000, xlen=32)
    assert struct.unpack("<6I", rv32) == (0x4942534F, 2, 0x80400000, 1, 0, 0)


def disassemble(code: bytes, addr: int) -> list[tuple[str, str]]:
    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    return [(i.mnemonic, i.op_str) for i in md.disasm(code, addr)]


def test_reset_vector_disassembles():
    rv = boot.reset_vector(0x80000000, 0x8FE00000, 0x1028)
    assert len(rv) == boot.RESET_VECTOR_SIZE
    assert disassemble(rv[:24], 0x1000) == [
        ("auipc", "t0, 0"),
        ("addi", "a2, t0, 0x28"),
        ("csrr", "a0, mhartid"),
        ("ld", "a1, 0x20(t0)"),
        ("ld", "t0, 0x18(t0)"),
        ("jr", "t0"),
    ]
    assert struct.unpack_from("<QQ", rv, 24) == (0x80000000, 0x8FE00000)


def test_reset_vector_words_match_qemu():
    """The words QEMU 7.2 puts at 0x1000 (its reset_vec[] for RV64)."""
    rv = boot.reset_vector(0x80000000, 0x8FE00000, 0x1028)
    assert struct.unpack_from("<6I", rv) == (0x00000297, 0x02828613, 0xF1402573, 0x0202B583, 0x0182B283,
                                             0x00028067)
    rv32 = boot.reset_vector(0x80000000, 0x87E00000, 0x1028, xlen=32)
    insns = disassemble(rv32[:24], 0x1000)
    assert insns[3] == ("lw", "a1, 0x20(t0)") and insns[4] == ("lw", "t0, 0x18(t0)")


def test_reset_vector_other_offsets():
    rv = boot.reset_vector(0x20000000, 0x8FE00000, 0x1100)
    assert disassemble(rv[:8], 0x1000)[1] == ("addi", "a2, t0, 0x100")
    with pytest.raises(ValueError):
        boot.reset_vector(0x80000000, 0x8FE00000, 0x5000)


def test_encoders():
    assert boot.enc_auipc(boot.REG_T0, 0) == 0x00000297
    assert boot.enc_addi(boot.REG_A2, boot.REG_T0, 0x28) == 0x02828613
    assert boot.enc_csrr(boot.REG_A0, boot.CSR_MHARTID) == 0xF1402573
    assert boot.enc_ld(boot.REG_A1, boot.REG_T0, 32) == 0x0202B583
    assert boot.enc_jalr(0, boot.REG_T0) == 0x00028067
    assert disassemble(struct.pack("<I", boot.enc_addi(10, 10, -1)), 0) == [("addi", "a0, a0, -1")]
    assert disassemble(struct.pack("<I", boot.enc_auipc(5, 0xFFFFF)), 0) == [("auipc", "t0, 0xfffff")]
    with pytest.raises(ValueError):
        boot.enc_addi(1, 1, 2048)
    with pytest.raises(ValueError):
        boot.enc_ld(32, 1, 0)


def test_setup_mask_rom(board: Board):
    end = boot.setup_mask_rom(board.space, 0x80000000, 0x8FE00000, 0x80200000)
    assert end == 0x1000 + 0x28 + 0x30
    rom = board.space.read_bytes(0x1000, 0x58)
    assert rom[:0x28] == boot.reset_vector(0x80000000, 0x8FE00000, 0x1028)
    assert rom[0x28:] == boot.fw_dynamic_info(0x80200000)
    board.space.write(0x1000, 0, 4)  # the guest cannot write the ROM
    assert board.space.read(0x1000, 4) == 0x00000297


# -- against QEMU ---------------------------------------------------------------------------------------

def qemu_monitor(args: list[str], commands: list[str]) -> str:
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is not installed: no comparison with QEMU")
    cmd = [QEMU, "-M", "virt", "-display", "none", "-serial", "none", "-S", "-monitor", "stdio", *args]
    text = "".join(c + "\n" for c in commands) + "quit\n"
    res = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def parse_roms(out: str) -> dict[str, tuple[int, int]]:
    roms = {}
    for m in re.finditer(r"addr=([0-9a-f]+) size=0x([0-9a-f]+) mem=\w+ name=\"([^\"]*)\"", out):
        roms[Path(m.group(3)).name] = (int(m.group(1), 16), int(m.group(2), 16))
    return roms


def parse_xp(out: str) -> bytes:
    words = []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]{16}: ((?:0x[0-9a-f]{8}\s*)+)$", line.strip())
        if m:
            words += [int(w, 16) for w in m.group(1).split()]
    return struct.pack(f"<{len(words)}I", *words)


@pytest.mark.parametrize("ram_mib", [64, 256])
def test_placement_matches_qemu(ram_mib: int):
    """Firmware, kernel, initrd, device tree and the mask ROM, as QEMU 7.2 lays them out."""
    need(IMAGE), need(INITRD), need(QEMU_FW)
    out = qemu_monitor(["-m", str(ram_mib), "-smp", "2", "-kernel", str(IMAGE), "-initrd", str(INITRD)],
                       ["info roms", "xp /22wx 0x1000"])
    roms = parse_roms(out)

    b = Board(ram_mib * MiB)
    fw_entry, fw_end = boot.load_firmware(b.space, QEMU_FW, RAM_BASE)
    k_entry, k_end = boot.load_kernel(b.space, IMAGE, boot.kernel_start_addr(fw_end))
    rd_start, rd_end = boot.load_initrd(b.space, INITRD, RAM_BASE, b.ram_size, k_entry, k_end)
    fdt_addr = boot.fdt_load_addr(RAM_BASE, b.ram_size)
    boot.setup_mask_rom(b.space, RAM_BASE, fdt_addr, k_entry)

    assert roms[QEMU_FW.name] == (fw_entry, fw_end - fw_entry)
    assert roms[IMAGE.name] == (k_entry, IMAGE.stat().st_size)
    assert roms[INITRD.name] == (rd_start, rd_end - rd_start)
    assert roms["fdt"] == (fdt_addr, boot.FDT_MAX_SIZE)
    assert roms["mrom.reset"] == (0x1000, boot.RESET_VECTOR_SIZE)
    assert roms["mrom.finfo"] == (0x1028, 0x30)
    assert parse_xp(out) == b.space.read_bytes(0x1000, 0x58)


def test_mask_rom_matches_qemu_without_kernel():
    need(QEMU_FW)
    out = qemu_monitor(["-m", "128"], ["info roms", "xp /22wx 0x1000"])
    b = Board(128 * MiB)
    boot.setup_mask_rom(b.space, RAM_BASE, boot.fdt_load_addr(RAM_BASE, 128 * MiB), 0)
    assert parse_roms(out)["fdt"][0] == 0x87E00000
    assert parse_xp(out) == b.space.read_bytes(0x1000, 0x58)


def test_uboot_placement_matches_qemu():
    """fw_jump.elf as -bios and U-Boot (raw) as -kernel: U-Boot lands at 0x80200000."""
    fw = need(OPENSBI / "fw_jump.elf")
    need(UBOOT)
    out = qemu_monitor(["-m", "256", "-bios", str(fw), "-kernel", str(UBOOT)], ["info roms"])
    roms = parse_roms(out)
    b = Board()
    _, fw_end = boot.load_firmware(b.space, fw, RAM_BASE)
    entry, end = boot.load_kernel(b.space, UBOOT, boot.kernel_start_addr(fw_end))
    assert roms[f"{fw.name} ELF program header segment 1"] == (RAM_BASE, fw_end - RAM_BASE)
    assert roms[UBOOT.name] == (entry, end - entry) == (0x80200000, UBOOT.stat().st_size)
