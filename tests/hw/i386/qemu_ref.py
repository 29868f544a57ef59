"""Debian's ``qemu-system-x86_64`` as the reference for the x86 loader tests: the installed one, else the
Debian packages (qemu-system-x86, qemu-system-data, seabios) unpacked into the guest cache with apt-get, as
``pyqemu-guests`` fetches its software.  Tests skip, with the reason, when it cannot be had or run."""

from __future__ import annotations

import os
import shutil

import pytest

from pyqemu.tools import guests


def find_qemu() -> tuple[list[str], dict[str, str]]:
    """The qemu-system-x86_64 command (with its firmware paths) and environment; skip when unavailable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_")}
    installed = shutil.which("qemu-system-x86_64")
    if installed:
        return [installed], env
    if shutil.which("apt-get") is None:
        pytest.skip("qemu-system-x86_64 is not installed and apt-get is not available to fetch Debian's")
    try:
        trees = [guests.debian_package(pkg) for pkg in ("qemu-system-x86", "qemu-system-data", "seabios")]
    except (guests.GuestError, OSError) as exc:
        pytest.skip(f"Debian's qemu-system-x86_64 could not be fetched: {exc}")
    binary = trees[0] / "usr" / "bin" / "qemu-system-x86_64"
    return [str(binary), "-L", str(trees[1] / "usr" / "share" / "qemu"),
            "-L", str(trees[2] / "usr" / "share" / "seabios")], env


def accel_for(cmd: list[str]) -> str:
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "kvm"
    if cmd[0].startswith(str(guests.cache_dir())):
        pytest.skip("/dev/kvm is not usable and Debian's unpacked qemu-system-x86_64 has no TCG module")
    return "tcg"


def qemu_pc_args(cmd: list[str], accel: str, ram_mib: int = 128) -> list[str]:
    """A headless ``pc`` with the UART on stdio and ``isa-debug-exit`` at 0xf4."""
    return [*cmd, "-machine", "pc", "-accel", accel, "-m", str(ram_mib), "-display", "none",
            "-vga", "none", "-nic", "none", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]
