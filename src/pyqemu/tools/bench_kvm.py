"""``make bench`` (KVM part): ``pyqemu-system-x86_64 -accel kvm`` side by side with Debian's
``qemu-system-x86_64 -accel kvm``.

Where the host has hardware virtualization, the figure is the wall time from process start to the Linux
marker line (``GUEST-READY``, Debian's amd64 kernel and the busybox initramfs) for each, and pyqemu's
resident memory beyond the guest's RAM.  Elsewhere (a software nested hypervisor such as kvm_pvm, where
Linux does not boot) it is the rate of small-guest exits: bench/kvm_exits.c does 200,000 port writes
that nothing decodes, each a round trip from the guest through the VMM's exit handling and back, timed
between two serial markers so start-up is left out.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..accel.kvm.kvm import hardware_virtualization_missing, kvm_available
from . import guests
from .bench_boot import marker_times

REPO = Path(__file__).resolve().parents[3]
EXIT_GUEST = REPO / "bench" / "kvm_exits.c"
EXITS = 200_000
LINKER_SCRIPT = "ENTRY(_start)\nSECTIONS {\n  . = 0x100000;\n  .text : { KEEP(*(.multiboot)) *(.text*) }\n" \
                "  .rodata : { *(.rodata*) }\n  .data : { *(.data*) }\n  .bss : { *(.bss*) *(COMMON) }\n}\n"
PYQEMU = [sys.executable, "-m", "pyqemu.cli.system_x86_64"]
COMMON = ["-display", "none", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]


def build_exit_guest() -> Path:
    """gcc -m32 the exit benchmark into a multiboot kernel (cached by content hash)."""
    digest = hashlib.sha256(EXIT_GUEST.read_bytes() + LINKER_SCRIPT.encode()).hexdigest()[:16]
    out = Path.home() / ".cache" / "pyqemu" / "bench" / digest / "kvm_exits.elf"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        script = out.with_name("kvm_exits.ld")
        script.write_text(LINKER_SCRIPT)
        tmp = out.with_suffix(".tmp")
        subprocess.run(["gcc", "-m32", "-O2", "-ffreestanding", "-fno-pic", "-no-pie", "-fno-stack-protector",
                        "-nostdlib", "-static", f"-Wl,-T,{script}", "-Wl,--build-id=none",
                        "-Wl,--no-warn-rwx-segments", "-o", str(tmp), str(EXIT_GUEST)], check=True)
        tmp.rename(out)
    return out


def debian_qemu() -> list[str] | None:
    """Debian's qemu-system-x86_64 (installed, else unpacked into the guest cache), or None."""
    installed = shutil.which("qemu-system-x86_64")
    if installed:
        return [installed]
    try:
        trees = [guests.debian_package(pkg) for pkg in ("qemu-system-x86", "qemu-system-data", "seabios")]
    except (guests.GuestError, OSError):
        return None
    return [str(trees[0] / "usr/bin/qemu-system-x86_64"), "-L", str(trees[1] / "usr/share/qemu"),
            "-L", str(trees[2] / "usr/share/seabios")]


def bench_exits(qemu: list[str] | None) -> None:
    kernel = str(build_exit_guest())
    print(f"guest              : bench/kvm_exits.c, {EXITS:,} port writes to an undecoded port (-accel kvm)")
    rows = [("pyqemu-system-x86_64", [*PYQEMU, "-accel", "kvm", *COMMON, "-kernel", kernel])]
    if qemu is not None:
        rows.append(("qemu-system-x86_64", [*qemu, "-accel", "kvm", "-vga", "none", "-nic", "none", *COMMON,
                                            "-kernel", kernel]))
    rates = {}
    for label, cmd in rows:
        begin, end = marker_times(cmd, (b"START", b"END"))
        rates[label] = EXITS / (end - begin)
        print(f"{label:<19}: {end - begin:.3f} s for the loop -> {rates[label]:,.0f} exits/s "
              f"(process start to START: {begin:.2f} s)")
    if len(rates) == 2:
        ratio = rates["qemu-system-x86_64"] / rates["pyqemu-system-x86_64"]
        print(f"qemu-system-x86_64 handles {ratio:.1f}x as many exits per second")
    else:
        print("qemu-system-x86_64 : not available (Debian's package could not be fetched)")


def bench_linux(qemu: list[str] | None) -> None:
    kernel = guests.path("amd64/bzImage")
    initrd = Path(tempfile.mkdtemp(prefix="pyqemu-bench-")) / "initramfs.cpio.gz"
    guests.pack_initramfs(guests.path("amd64/busybox"), initrd)  # prints GUEST-READY, powers off
    print(f"guest              : Debian's amd64 cloud kernel ({kernel}) + busybox initramfs, -smp 2 -m 512")
    args = ["-m", "512", "-smp", "2", "-nographic", "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1"]
    rows = [("pyqemu-system-x86_64", [*PYQEMU, "-accel", "kvm", *args])]
    if qemu is not None:
        rows.append(("qemu-system-x86_64", [*qemu, "-accel", "kvm", *args]))
    for label, cmd in rows:
        rss: list[int] = []
        (ready,) = marker_times(cmd, (b"GUEST-READY",), rss)
        print(f"{label:<19}: {ready:.2f} s wall to GUEST-READY, resident {rss[0] / 1024:.0f} MiB "
              f"(guest RAM 512 MiB, of which the guest touched part)")


def main(argv: list[str] | None = None) -> int:
    print("== KVM: pyqemu-system-x86_64 -accel kvm ==")
    reason = kvm_available()
    if reason is not None:
        print(f"skipped: /dev/kvm: {reason}")
        return 0
    if shutil.which("gcc") is None:
        print("skipped: gcc is not installed (it builds the benchmark guest)")
        return 0
    qemu = debian_qemu()
    missing = hardware_virtualization_missing()
    if missing is None:
        bench_linux(qemu)
    else:
        print(f"Linux boot not measured: {missing}")
    bench_exits(qemu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
