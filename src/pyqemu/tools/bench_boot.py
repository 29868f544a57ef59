"""``make bench`` (system part): wall time from start to the Linux marker line on the RISC-V virt board.

pyqemu-system-riscv64 (on each TCG backend this host runs) and Debian's qemu-system-riscv64 boot the
same OpenSBI, kernel, initramfs and command line, in turns; each is timed from process start to the
moment ``GUEST-READY`` appears on its serial console, and the ratios of the best times (the least
disturbed by the rest of the machine) are reported.
pyqemu's boot is also counted in guest instructions (its own counter, read in-process), which gives
its guest MIPS over the boot.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import time

from ..accel.tcg import backends
from .guests import path as guest_path

MARKER = b"GUEST-READY"
APPEND = "console=ttyS0 panic=-1"
TIMEOUT = 600.0
RUNS = 3


def boot_args(firmware: str, kernel: str, initrd: str) -> list[str]:
    return ["-M", "virt", "-m", "256", "-nographic", "-bios", firmware, "-kernel", kernel, "-initrd", initrd,
            "-append", APPEND]


def time_to_marker(cmd: list[str]) -> float:
    """Seconds from starting ``cmd`` until MARKER is on its stdout (the process is then killed)."""
    return marker_times(cmd, (MARKER,))[0]


def _rss_kib(pid: int) -> int:
    """VmRSS of process ``pid`` in KiB (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def marker_times(cmd: list[str], markers: tuple[bytes, ...], rss: list[int] | None = None,
                 timeout: float = TIMEOUT) -> list[float]:
    """Seconds from starting ``cmd`` until each of ``markers`` in turn is on its stdout (then the process
    is killed); ``rss`` receives the process's resident KiB at the last marker."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen, times = b"", []
    try:
        for marker in markers:
            while marker not in seen:
                left = timeout - (time.perf_counter() - start)
                if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                    raise TimeoutError(f"{cmd[0]}: no {marker.decode()} within {timeout:.0f} s")
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    raise RuntimeError(f"{cmd[0]} exited before {marker.decode()}")
                seen += data
            times.append(time.perf_counter() - start)
            seen = seen[seen.index(marker) + len(marker):]
        if rss is not None:
            rss.append(_rss_kib(proc.pid))
        return times
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def count_instructions(firmware: str, kernel: str, initrd: str) -> int:
    """Boot in this process up to the marker and return the guest instructions executed."""
    from ..chardev.base import Chardev
    from ..hw.riscv.virt import VirtConfig, VirtMachine

    class Console(Chardev):
        def __init__(self) -> None:
            super().__init__("serial0")
            self.tail = b""

        def write(self, data: bytes) -> int:
            self.tail = self.tail[-64:] + data
            if MARKER in self.tail:
                machine.request_shutdown(0)
            return len(data)

    machine = VirtMachine(VirtConfig(ram_size=256 << 20, bios=firmware, kernel=kernel, initrd=initrd,
                                     append=APPEND, serial=Console(), tcg_backend="x86_64"
                                     if "x86_64" in backends.available() else "python"))
    machine.run()
    return sum(cpu.icount for cpu in machine.cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyqemu-bench-boot", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=RUNS, help="boots of each emulator (the best counts)")
    opts = ap.parse_args(argv)
    firmware = str(guest_path("riscv64/fw_dynamic.bin"))
    kernel = str(guest_path("riscv64/Image"))
    initrd = str(guest_path("riscv64/initramfs.cpio.gz"))
    args = boot_args(firmware, kernel, initrd)
    insns = count_instructions(firmware, kernel, initrd)
    print("boot to the Linux marker (OpenSBI + Linux 6.1 + busybox initramfs, -m 256, one hart); "
          f"about {insns / 1e6:.0f} million guest instructions (counted in-process); best of {opts.runs} "
          "boots each, taken in turns")
    commands = {f"pyqemu-system-riscv64 ({backend:>6})": [sys.executable, "-m", "pyqemu.cli.system_main",
                                                          "-accel", f"tcg,backend={backend}", *args]
                for backend in backends.available()}
    qemu = shutil.which("qemu-system-riscv64")
    if qemu is not None:
        commands["qemu-system-riscv64"] = [qemu, *args]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(opts.runs):
        for name, cmd in commands.items():
            if name.startswith("pyqemu") and "python" in name and times[name]:
                continue  # (one boot of the slow backend is enough)
            times[name].append(time_to_marker(cmd))
    best = {name: min(t) for name, t in times.items()}
    for name, t in best.items():
        mips = f" -> {insns / t / 1e6:.2f} guest MIPS" if name.startswith("pyqemu") else ""
        print(f"{name:<31}: {t:7.2f} s wall{mips}")
    if qemu is None:
        print("qemu-system-riscv64   : not installed (apt-get install qemu-system-misc); no ratio")
        return 0
    for name, t in best.items():
        if name.startswith("pyqemu"):
            print(f"time ratio {name} / qemu-system-riscv64 (wall): {t / best['qemu-system-riscv64']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
