"""End to end: real firmware and a real kernel on ``pyqemu-system-riscv64 -M virt``.

Debian's OpenSBI and U-Boot, and the team's Linux 6.1 Image with its busybox initramfs (from
``pyqemu-guests``), driven through the serial console the way a user would (``-nographic``, typing on
stdin).  These are slow (tens of seconds each), so they are marked ``slow``; CI still runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli.system_helpers import Session  # tests/ is on sys.path (tests/conftest.py)

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 240  # seconds to the marker; about 25 s here, more on a loaded machine
APPEND = "console=ttyS0 panic=-1"


@pytest.fixture(scope="module")
def linux(guest_file: Callable[[str], Path]) -> tuple[Path, Path]:
    return guest_file("riscv64/Image"), guest_file("riscv64/initramfs.cpio.gz")


def _boot(linux: tuple[Path, Path], *extra: str, append: str = APPEND) -> Session:
    kernel, initrd = linux
    return Session("-M", "virt", "-m", "256", "-nographic", "-kernel", kernel, "-initrd", initrd,
                   "-append", append, *extra, banner=False)


def test_linux_boots_to_user_space_and_powers_off(linux: tuple[Path, Path]) -> None:
    s = _boot(linux)
    try:
        s.read_until(b"OpenSBI v1.1", BOOT_TIMEOUT)
        s.read_until(b"Linux version 6.1", BOOT_TIMEOUT)
        s.read_until(b"GUEST-READY", BOOT_TIMEOUT)
        line = s.read_until(b"\n", 60) + s.read_until(b"\n", 60)
        assert b"riscv64 GNU/Linux" in line
        s.read_until(b"reboot: Power down", 120)
        assert s.wait(60) == 0  # the guest's poweroff ends pyqemu with status 0
    finally:
        s.close()


def test_shell_on_the_serial_console_and_a_virtio_disk(linux: tuple[Path, Path], tmp_path: Path) -> None:
    """Commands typed on the serial line run in the guest's shell; what the guest writes to its
    virtio-blk disk is in the image file afterwards."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    s = _boot(linux, "-drive", f"file={disk},if=none,format=raw,id=d0",
              "-device", "virtio-blk-device,drive=d0", append=APPEND + " shell")
    try:
        s.read_until(b"block: vda", BOOT_TIMEOUT)
        s.read_until(b"'poweroff -f' to leave", 60)
        s.send(b"echo answer-$((6 * 7))\n")
        s.read_until(b"answer-42", 60)
        s.send(b"printf 'written-by-the-guest' | dd of=/dev/vda bs=512 seek=3 conv=sync,fsync"
               b" && echo dd-ok\n")
        s.read_until(b"dd-ok", 60)
        s.send(b"poweroff -f\n")
        assert s.wait(120) == 0
    finally:
        s.close()
    data = disk.read_bytes()
    assert data[3 * 512:3 * 512 + 20] == b"written-by-the-guest"
    assert data[:3 * 512] == bytes(3 * 512)


def test_smp_2_brings_both_harts_online(linux: tuple[Path, Path]) -> None:
    s = _boot(linux, "-smp", "2")
    try:
        s.read_until(b"smp: Brought up 1 node, 2 CPUs", BOOT_TIMEOUT)
        s.read_until(b"cpus: 2", BOOT_TIMEOUT)
        assert s.wait(120) == 0
    finally:
        s.close()


def test_u_boot_prompt_answers_version(guest_file: Callable[[str], Path]) -> None:
    uboot = guest_file("riscv64/u-boot-smode.bin")
    s = Session("-M", "virt", "-m", "256", "-nographic", "-kernel", uboot, banner=False)
    try:
        s.read_until(b"Hit any key to stop autoboot", BOOT_TIMEOUT)
        s.send(b"\n")  # stop the countdown
        s.read_until(b"=> ", 60)
        s.send(b"version\n")
        out = s.read_until(b"=> ", 60)
        assert b"U-Boot 2023.01" in out
        s.send(b"\x01x")  # Ctrl-A x
        assert s.wait(30) == 0
    finally:
        s.close()
