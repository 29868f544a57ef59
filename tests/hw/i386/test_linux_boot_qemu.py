"""pyqemu.hw.i386.linux_boot against Debian's ``qemu-system-x86_64`` (7.2): the setup header a kernel
receives, byte for byte.

The kernel is the synthetic bzImage of test_linux_boot with real-mode setup code (assembled here with
Debian's binutils, ``.code16``) behind the header's jump at 0x200.  QEMU loads it as it loads Linux and
enters the setup code in real mode; the code prints the header (0x1F1 up to its end) in hex and the command
line ``cmd_line_ptr`` points to over the UART, then leaves through ``isa-debug-exit``.  The loader's zero
page must hold the same header: ``type_of_loader``, ``loadflags``, ``heap_end_ptr``, ``cmd_line_ptr`` and
the initrd's address and size (QEMU 7.2's placement below its 128 KiB of ACPI room).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pyqemu.hw.i386 import linux_boot as lb
from pyqemu.hw.i386.x86_boot import MiB, pc_e820_map

from .guestmem import SparseMemory
from .qemu_ref import accel_for, find_qemu, qemu_pc_args
from .test_linux_boot import synthetic_bzimage

SETUP_S = r"""
    .code16
    .text
start:
    cli
    mov %cs, %ax            /* QEMU enters at (setup segment + 0x20):0 */
    sub $0x20, %ax
    mov %ax, %ds
    mov $0x1f1, %si
1:  mov (%si), %al
    call hexbyte
    inc %si
    cmp $0x26c, %si
    jne 1b
    mov $'\n', %al
    call putc
    mov 0x228, %ebx         /* cmd_line_ptr, a linear address */
    mov %ebx, %eax
    shr $4, %eax
    mov %ax, %ds
    and $0xf, %bx
    mov %bx, %si
2:  mov (%si), %al
    test %al, %al
    jz 3f
    call putc
    inc %si
    jmp 2b
3:  mov $'\n', %al
    call putc
    mov $0xf4, %dx          /* isa-debug-exit */
    xor %al, %al
    out %al, %dx
4:  hlt
    jmp 4b
hexbyte:
    push %ax
    shr $4, %al
    call hexdigit
    pop %ax
    and $0xf, %al
hexdigit:
    cmp $10, %al
    jb 5f
    add $('a' - '0' - 10), %al
5:  add $'0', %al
putc:
    push %dx
    push %ax
    mov $0x3fd, %dx
6:  in %dx, %al
    test $0x20, %al
    jz 6b
    pop %ax
    mov $0x3f8, %dx
    out %al, %dx
    pop %dx
    ret
"""


@pytest.fixture(scope="module")
def setup_code(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    gas, objcopy = shutil.which("as"), shutil.which("objcopy")
    if gas is None or objcopy is None:
        pytest.skip("binutils (as, objcopy) are not installed: cannot assemble the real-mode setup code")
    tmp = tmp_path_factory.mktemp("setup")
    (tmp / "s.S").write_text(SETUP_S)
    subprocess.run([gas, "--32", "-o", str(tmp / "s.o"), str(tmp / "s.S")], check=True)
    subprocess.run([objcopy, "-O", "binary", "-j", ".text", str(tmp / "s.o"), str(tmp / "s.bin")], check=True)
    return (tmp / "s.bin").read_bytes()


@pytest.mark.parametrize(("cmdline", "initrd_size"), [
    ("", None),
    ("console=ttyS0 root=/dev/vda rw", 1024000),
    ("x", 4096),
    ("y", 4097),
])
def test_same_setup_header_as_qemu(setup_code: bytes, tmp_path: Path, cmdline: str,
                                   initrd_size: int | None) -> None:
    cmd, env = find_qemu()
    accel = accel_for(cmd)
    kernel = bytearray(synthetic_bzimage())
    kernel[0x26C:0x26C + len(setup_code)] = setup_code
    (tmp_path / "bzImage").write_bytes(kernel)
    args = ["-kernel", "bzImage", "-append", cmdline]
    initrd = None
    if initrd_size is not None:
        initrd = bytes((i * 13) & 0xFF for i in range(initrd_size))
        (tmp_path / "initrd").write_bytes(initrd)
        args += ["-initrd", "initrd"]
    run = subprocess.run([*qemu_pc_args(cmd, accel), *args], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    lines = run.stdout.replace("\r", "").split("\n")
    if len(lines) < 2 or len(lines[0]) != 2 * (0x26C - 0x1F1):
        pytest.skip(f"qemu-system-x86_64 ({accel}) did not run the setup code (status {run.returncode}): "
                    f"{run.stderr.strip()[-400:]}")
    assert run.returncode == 1
    qemu_header, qemu_cmdline = bytes.fromhex(lines[0]), lines[1]

    mem = SparseMemory()
    result = lb.load_linux(bytes(kernel), mem.write, pc_e820_map(128 * MiB), cmdline=cmdline, initrd=initrd)
    ours = mem.read(result.zero_page_addr + 0x1F1, 0x26C - 0x1F1)
    assert ours.hex() == qemu_header.hex()
    assert mem.read(lb.SETUP_ADDR + 0x1F1, 0x26C - 0x1F1) == qemu_header
    assert qemu_cmdline == cmdline == mem.cstr(result.cmdline_addr)
