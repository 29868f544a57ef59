"""``make bench``: guest MIPS of pyqemu's linux-user emulators on a CPU-bound guest, side by side with
Debian's qemu-user, for each target (riscv64, aarch64) and each TCG backend this host can run
(python; x86_64 on x86-64 hosts).

The guest is bench/cpubench.c (integer arithmetic, memory, branches, calls, floating point; about 19
million riscv64 instructions at scale 1), cross-compiled with Debian's gcc-<target>-linux-gnu.
pyqemu's guest instruction count comes from the engine's own counter; both emulators are also timed as
whole processes (start-up included), and the ratio of those wall times is reported.  The native
backend also runs larger scales (10 and 100 by default): at scale 1 the comparison would be mostly
Python's start-up (about 0.2 s of imports and warm-up against qemu-user's few milliseconds).  A
target whose emulator cannot run the guest yet says so instead of giving figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..accel.tcg import backends
from ..linux_user.process import ExitProcess, Options, Process

SOURCE = Path(__file__).resolve().parents[3] / "bench" / "cpubench.c"
TARGETS = ("riscv64", "aarch64")


def cross_cc(target: str) -> str:
    return f"{target}-linux-gnu-gcc"


def build(target: str = "riscv64", source: Path = SOURCE) -> Path:
    """Cross-compile the benchmark for ``target`` (cached by content hash)."""
    flags = ["-O2", "-static"]
    key = source.read_bytes() + " ".join(flags).encode() + (b"" if target == "riscv64" else target.encode())
    digest = hashlib.sha256(key).hexdigest()[:16]
    out = Path.home() / ".cache" / "pyqemu" / "bench" / digest / source.stem
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subprocess.run([cross_cc(target), *flags, "-o", str(tmp), str(source)], check=True)
        tmp.rename(out)
    return out


def run_in_process(binary: Path, args: list[str], target: str = "riscv64", backend: str = "python"
                   ) -> tuple[int, float, float, str]:
    """Run under pyqemu in this process: (guest instructions, wall and CPU seconds spent running the
    guest, stdout)."""
    arch = importlib.import_module(f"pyqemu.linux_user.{target}")
    read_fd, write_fd = os.pipe()
    saved = os.dup(1)
    os.dup2(write_fd, 1)
    os.close(write_fd)
    try:
        proc = Process(arch, Options(backend=backend))
        th = proc.load(str(binary), [str(binary), *args], [])
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            arch.cpu_loop(proc, th)
        except ExitProcess:
            pass
        elapsed, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    out = os.read(read_fd, 1 << 16).decode()
    os.close(read_fd)
    return th.cpu.icount, elapsed, cpu_s, out


def wall(cmd: list[str], repeat: int) -> tuple[float, str]:
    best = float("inf")
    out = ""
    for _ in range(repeat):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - start)
        out = r.stdout
    return best, out


def bench_target(target: str, scale: str, repeat: int, backend: str = "python") -> None:
    label = f"pyqemu-{target}"
    if not shutil.which(cross_cc(target)):
        print(f"{label:<19}: {cross_cc(target)} not found (scripts/install-deps.sh installs it)")
        return
    binary = build(target)
    launcher = ("import sys; from pyqemu.linux_user.main import main; "
                f"sys.exit(main(arch_name={target!r}))")
    cmd = [sys.executable, "-c", launcher, "-accel", f"tcg,backend={backend}", str(binary), scale]
    probe = subprocess.run(cmd, capture_output=True, text=True)
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"status {probe.returncode}"
        print(f"{label:<19}: cannot run the guest yet ({reason})")
        return
    insns, exec_s, cpu_s, out = run_in_process(binary, [scale], target, backend)
    py_wall, py_out = wall(cmd, repeat)
    print(f"guest program      : {SOURCE.name} for {target} (scale {scale}), backend {backend}, "
          f"output: {out.strip()}")
    print(f"guest instructions : {insns:,}")
    print(f"{label:<19}: {exec_s:.3f} s wall ({cpu_s:.3f} s CPU) running the guest -> "
          f"{insns / exec_s / 1e6:.2f} guest MIPS ({insns / cpu_s / 1e6:.2f} per CPU second); "
          f"{py_wall:.3f} s wall for the whole process")
    qemu = shutil.which(f"qemu-{target}")
    if qemu:
        q_wall, q_out = wall([qemu, str(binary), scale], repeat)
        same = "same output" if q_out == py_out else "DIFFERENT OUTPUT"
        print(f"{'qemu-' + target:<19}: {q_wall:.3f} s wall -> {insns / q_wall / 1e6:.0f} guest MIPS "
              f"({same})")
        print(f"time ratio pyqemu / qemu-{target} (wall): {py_wall / q_wall:.1f}x")
    else:
        print(f"qemu-{target:<14}: not installed (apt-get install qemu-user); no ratio")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyqemu-bench", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="1", help="benchmark scale on the python backend (default 1)")
    ap.add_argument("--native-scale", default="10,100",
                    help="benchmark scales on the x86_64 backend, comma-separated (default 10,100)")
    ap.add_argument("--backend", choices=backends.NAMES, action="append",
                    help="only these backends (default: every one this host runs)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per emulator; the best is kept")
    ap.add_argument("--target", choices=TARGETS, action="append", help="only these targets (default: all)")
    args = ap.parse_args(argv)
    names = args.backend or backends.available()
    for target in args.target or TARGETS:
        for backend in names:
            for scale in (args.scale if backend == "python" else args.native_scale).split(","):
                bench_target(target, scale, args.repeat, backend)
                print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
