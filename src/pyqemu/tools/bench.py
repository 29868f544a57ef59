"""``make bench``: guest MIPS of pyqemu-riscv64 on a CPU-bound guest, side by side with qemu-riscv64.

The guest is bench/cpubench.c (integer arithmetic, memory, branches, calls, floating point; about 19
million riscv64 instructions), cross-compiled with Debian's gcc-riscv64-linux-gnu.  pyqemu's guest
instruction count comes from the engine's own counter; both emulators are also timed as whole
processes (start-up included), and the ratio of those wall times is reported.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..linux_user import riscv64
from ..linux_user.process import ExitProcess, Options, Process

SOURCE = Path(__file__).resolve().parents[3] / "bench" / "cpubench.c"
CROSS_CC = "riscv64-linux-gnu-gcc"


def build(source: Path = SOURCE) -> Path:
    """Cross-compile the benchmark (cached by content hash)."""
    flags = ["-O2", "-static"]
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    out = Path.home() / ".cache" / "pyqemu" / "bench" / digest / source.stem
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subprocess.run([CROSS_CC, *flags, "-o", str(tmp), str(source)], check=True)
        tmp.rename(out)
    return out


def run_in_process(binary: Path, args: list[str]) -> tuple[int, float, float, str]:
    """Run under pyqemu in this process: (guest instructions, wall and CPU seconds spent running the
    guest, stdout)."""
    read_fd, write_fd = os.pipe()
    saved = os.dup(1)
    os.dup2(write_fd, 1)
    os.close(write_fd)
    try:
        proc = Process(riscv64, Options())
        th = proc.load(str(binary), [str(binary), *args], [])
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            riscv64.cpu_loop(proc, th)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyqemu-bench", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="1", help="benchmark scale argument (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per emulator; the best is kept")
    args = ap.parse_args(argv)
    if not shutil.which(CROSS_CC):
        print(f"pyqemu-bench: {CROSS_CC} not found (apt-get install gcc-riscv64-linux-gnu)", file=sys.stderr)
        return 1
    binary = build()
    insns, exec_s, cpu_s, out = run_in_process(binary, [args.scale])
    py_wall, py_out = wall([sys.executable, "-m", "pyqemu.linux_user", str(binary), args.scale], args.repeat)
    print(f"guest program      : {SOURCE.name} (scale {args.scale}), output: {out.strip()}")
    print(f"guest instructions : {insns:,}")
    print(f"pyqemu-riscv64     : {exec_s:.3f} s wall ({cpu_s:.3f} s CPU) running the guest -> "
          f"{insns / exec_s / 1e6:.2f} guest MIPS ({insns / cpu_s / 1e6:.2f} per CPU second); "
          f"{py_wall:.3f} s wall for the whole process")
    qemu = shutil.which("qemu-riscv64")
    if qemu:
        q_wall, q_out = wall([qemu, str(binary), args.scale], args.repeat)
        same = "same output" if q_out == py_out else "DIFFERENT OUTPUT"
        print(f"qemu-riscv64       : {q_wall:.3f} s wall -> {insns / q_wall / 1e6:.0f} guest MIPS ({same})")
        print(f"time ratio pyqemu / qemu-riscv64 (wall): {py_wall / q_wall:.1f}x")
    else:
        print("qemu-riscv64       : not installed (apt-get install qemu-user); no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
