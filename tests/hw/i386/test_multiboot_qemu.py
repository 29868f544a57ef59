"""pyqemu.hw.i386.multiboot against Debian's ``qemu-system-x86_64`` (7.2): the same multiboot kernel, the
same ``-kernel``/``-append``/``-initrd``, the same multiboot information, field for field and address for
address.

The kernel (built here with ``gcc -m32 -ffreestanding``) prints everything EBX points to over the 16550 UART
and leaves through ``isa-debug-exit``; the loader's memory image is dumped the same way in Python from the
memory map QEMU's guest reported (SeaBIOS's e820 map).  QEMU is the installed one, else Debian's packages
unpacked into the guest cache (``apt-get download``, as ``pyqemu-guests`` does); it runs under KVM when
``/dev/kvm`` is usable (the unpacked package has no TCG module), else TCG.  When any of this is missing the
test is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pyqemu.hw.i386 import multiboot as mb
from pyqemu.hw.i386.x86_boot import E820Entry, MiB, pc_e820_map

from .guestmem import SparseMemory
from .qemu_ref import accel_for, find_qemu, qemu_pc_args

DUMP_C = r"""
#ifdef AOUT_KLUDGE  /* a flat binary: the loader goes by the header's address fields */
#define MB_FLAGS 0x10003
extern char _edata[], _end[];
void _start(void);
__attribute__((section(".multiboot"), used, aligned(4)))
static const unsigned int mb_header[8] = {0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS),
    (unsigned)mb_header, 0x100000, (unsigned)_edata, (unsigned)_end, (unsigned)_start};
#else
#define MB_FLAGS 0x3
__attribute__((section(".multiboot"), used, aligned(4)))
static const unsigned int mb_header[3] = {0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS)};
#endif
static inline void outb(unsigned short p, unsigned char v) {
    __asm__ volatile("outb %0,%1" :: "a"(v), "Nd"(p)); }
static inline unsigned char inb(unsigned short p) {
    unsigned char v; __asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static void putc(char c) { while (!(inb(0x3fd) & 0x20)) {} outb(0x3f8, c); }
static void puts(const char *s) { while (*s) putc(*s++); }
static void hex(unsigned long long v) {
    puts("0x"); for (int i = 60; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]); }
static void kv(const char *k, unsigned long long v) { puts(k); putc('='); hex(v); putc('\n'); }
static void ks(const char *k, const char *s) { puts(k); putc('='); puts(s); putc('\n'); }
void cmain(unsigned magic, unsigned *mbi) {
    kv("magic", magic); kv("mbi", (unsigned)mbi);
    kv("flags", mbi[0]); kv("mem_lower", mbi[1]); kv("mem_upper", mbi[2]); kv("boot_device", mbi[3]);
    ks("cmdline", (const char *)mbi[4]); kv("cmdline_addr", mbi[4]);
    kv("mods_count", mbi[5]); kv("mods_addr", mbi[6]);
    unsigned *m = (unsigned *)mbi[6];
    for (unsigned i = 0; i < mbi[5]; i++, m += 4) {
        kv("mod_start", m[0]); kv("mod_end", m[1]); ks("mod_string", (const char *)m[2]);
        kv("mod_string_addr", m[2]); kv("mod_reserved", m[3]);
        unsigned sum = 0;
        for (unsigned char *p = (unsigned char *)m[0]; p < (unsigned char *)m[1]; p++) sum = sum * 31 + *p;
        kv("mod_sum", sum);
    }
    kv("mmap_length", mbi[11]); kv("mmap_addr", mbi[12]);
    unsigned char *p = (unsigned char *)mbi[12], *e = p + mbi[11];
    while (p < e) {
        unsigned sz = *(unsigned *)p; unsigned long long *q = (unsigned long long *)(p + 4);
        kv("e820_size", sz); kv("e820_addr", q[0]); kv("e820_len", q[1]);
        kv("e820_type", *(unsigned *)(p + 20));
        p += sz + 4;
    }
    ks("boot_loader_name", (const char *)mbi[16]); kv("boot_loader_name_addr", mbi[16]);
    puts("END\n");
    outb(0xf4, 0);
    for (;;) __asm__ volatile("cli; hlt");
}
__attribute__((naked)) void _start(void) {
    __asm__ volatile("mov $0x180000, %esp\n push %ebx\n push %eax\n call cmain\n");
}
"""

LINKER_SCRIPT = """
ENTRY(_start)
SECTIONS {
  . = 0x100000;
  .text : { KEEP(*(.multiboot)) *(.text*) }
  .rodata : { *(.rodata*) }
  .data : { *(.data*) }
  _edata = .;
  .bss : { *(.bss*) *(COMMON) }
  . = ALIGN(4);
  _end = . + 0x2345;  /* a bss end beyond the sections, so that the loader must use it */
}
"""


def python_dump(mem: SparseMemory, magic: int, mbi: int) -> list[tuple[str, int | str]]:
    """What the dump kernel prints, computed from the loader's memory image."""
    out: list[tuple[str, int | str]] = [("magic", magic), ("mbi", mbi)]
    f = [mem.u32(mbi + 4 * i) for i in range(22)]
    out += [("flags", f[0]), ("mem_lower", f[1]), ("mem_upper", f[2]), ("boot_device", f[3])]
    out += [("cmdline", mem.cstr(f[4])), ("cmdline_addr", f[4]), ("mods_count", f[5]), ("mods_addr", f[6])]
    for i in range(f[5]):
        start, end, string, reserved = struct.unpack("<IIII", mem.read(f[6] + 16 * i, 16))
        total = 0
        for b in mem.read(start, end - start):
            total = (total * 31 + b) & 0xFFFFFFFF
        out += [("mod_start", start), ("mod_end", end), ("mod_string", mem.cstr(string)),
                ("mod_string_addr", string), ("mod_reserved", reserved), ("mod_sum", total)]
    out += [("mmap_length", f[11]), ("mmap_addr", f[12])]
    pos = f[12]
    while pos < f[12] + f[11]:
        size = mem.u32(pos)
        addr, length, typ = struct.unpack("<QQI", mem.read(pos + 4, 20))
        out += [("e820_size", size), ("e820_addr", addr), ("e820_len", length), ("e820_type", typ)]
        pos += size + 4
    out += [("boot_loader_name", mem.cstr(f[16])), ("boot_loader_name_addr", f[16])]
    return out


def parse_dump(text: str) -> list[tuple[str, int | str]]:
    out: list[tuple[str, int | str]] = []
    for line in text.splitlines():
        line = line.strip("\r")
        if line == "END":
            return out
        m = re.fullmatch(r"(\w+)=(.*)", line)
        if m:
            key, value = m.groups()
            out.append((key, int(value, 16) if value.startswith("0x") and not key.endswith("string")
                         and key not in ("cmdline", "boot_loader_name") else value))
    raise AssertionError(f"the multiboot kernel did not finish its report:\n{text}")


def e820_of(dump: list[tuple[str, int | str]]) -> list[E820Entry]:
    vals = [v for k, v in dump if k in ("e820_addr", "e820_len", "e820_type")]
    return [E820Entry(int(vals[i]), int(vals[i + 1]), int(vals[i + 2])) for i in range(0, len(vals), 3)]


@pytest.fixture(scope="module", params=["elf", "aout_kludge"])
def dump_kernel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dump kernel as an ELF file, or as a flat binary whose header has the address fields."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the multiboot test kernel")
    tmp = tmp_path_factory.mktemp("mbdump")
    (tmp / "dump.c").write_text(DUMP_C)
    (tmp / "k.ld").write_text(LINKER_SCRIPT)
    elf = tmp / "dump.elf"
    defines = ["-DAOUT_KLUDGE"] if request.param == "aout_kludge" else []
    r = subprocess.run([gcc, "-m32", *defines, "-ffreestanding", "-nostdlib", "-fno-pic", "-no-pie",
                        "-static", "-O1", "-Wl,-T," + str(tmp / "k.ld"), "-Wl,--build-id=none",
                        "-Wl,-z,max-page-size=0x1000", "-Wl,--no-warn-rwx-segments", "-o", str(elf),
                        str(tmp / "dump.c")], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"gcc -m32 cannot build the multiboot test kernel: {r.stderr.strip()[:300]}")
    if request.param == "elf":
        return elf
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy is not installed: cannot make the flat multiboot kernel")
    flat = tmp / "dump.bin"
    subprocess.run([objcopy, "-O", "binary", "-R", ".bss", str(elf), str(flat)], check=True)
    return flat


@pytest.mark.parametrize("scenario", ["plain", "modules"])
def test_same_information_as_qemu(dump_kernel: Path, tmp_path: Path, scenario: str) -> None:
    cmd, env = find_qemu()
    accel = accel_for(cmd)
    extra: list[str] = []
    cmdline = ""
    initrd = None
    if scenario == "modules":
        (tmp_path / "m1").write_bytes(bytes((i * 37 + 11) & 0xFF for i in range(5000)))
        (tmp_path / "m2").write_bytes(b"hello")
        initrd = "m1 first module args,m2"
        cmdline = "console=ttyS0 hello world"
        extra = ["-append", cmdline, "-initrd", initrd]
    # relative paths, as a user types them: they end up in the strings
    name = "dump" + dump_kernel.suffix
    shutil.copy(dump_kernel, tmp_path / name)
    run = subprocess.run([*qemu_pc_args(cmd, accel), "-kernel", name, *extra],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if "END" not in run.stdout:
        pytest.skip(f"qemu-system-x86_64 ({accel}) did not run the kernel (status {run.returncode}): "
                    f"{run.stderr.strip()[-400:]}")
    assert run.returncode == 1  # isa-debug-exit with 0: (0 << 1) | 1
    qemu = parse_dump(run.stdout)

    mem = SparseMemory()
    kernel = (tmp_path / name).read_bytes()
    result = mb.load_multiboot(kernel, name, mem.write, e820_of(qemu), cmdline=cmdline, initrd=initrd,
                               read_file=lambda name: (tmp_path / name).read_bytes())
    # the map SeaBIOS gave the guest is pc_e820_map's with the firmware areas
    assert e820_of(qemu) == pc_e820_map(128 * MiB, firmware_areas=True)
    header = mb.find_header(kernel)
    assert header is not None and header.has_address_fields == (name == "dump.bin")
    ours = python_dump(mem, result.cpu.reg("rax"), result.cpu.reg("rbx"))
    print("\n".join(f"{k}={v:#x}" if isinstance(v, int) else f"{k}={v}" for k, v in qemu))
    assert ours == qemu
