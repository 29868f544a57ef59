"""``make bench`` (images): ``convert`` throughput of pyqemu-img side by side with qemu-img.

Issue 4's bench: a raw image (1 GiB by default) with mixed content -- random data, holes, written
zeros, repeated patterns and clusters mixing all of them -- is converted to qcow2, to compressed
qcow2 (``-c``) and from qcow2 back to raw, by ``pyqemu-img`` and by the reference ``qemu-img``.
Each conversion is timed as a whole process (start-up included; the best of ``--repeat`` runs
for the uncompressed ones, whose sub-second times are noisy); throughput is virtual bytes per
second, and the ratio is pyqemu's time over qemu-img's (the goal: within 2x for uncompressed
conversions).  Every output is checked against the source with ``qemu-img compare``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pyqemu.block.sizes import parse_size

QEMU_IMG = "/usr/bin/qemu-img"
CHUNK = 1 << 20
CLUSTER = 1 << 16


@dataclass
class Conversion:
    """One conversion of the bench: a name, the source file (and format) and the arguments."""

    name: str
    source: str
    source_fmt: str
    out_fmt: str
    compress: bool = False


def make_source(path: str, size: int, seed: int = 4) -> None:
    """Write a raw image of ``size`` bytes with mixed content, deterministically from ``seed``.

    Per 1 MiB chunk: random data (25%), a hole (25%), written zeros (15%), a repeated 64 KiB
    pattern (20%) or a mix at cluster granularity (15%) whose clusters are data, zeros, pattern,
    or data with zero sectors inside.
    """
    rnd = random.Random(seed)
    pattern = (b"pyqemu bench pattern " * 4096)[:CLUSTER]
    with open(path, "wb") as f:
        f.truncate(size)
        for pos in range(0, size, CHUNK):
            n = min(CHUNK, size - pos)
            pick = rnd.random()
            if pick < 0.25:
                chunk = rnd.randbytes(n)
            elif pick < 0.50:
                continue
            elif pick < 0.65:
                chunk = bytes(n)
            elif pick < 0.85:
                chunk = (pattern * (n // CLUSTER + 1))[:n]
            else:
                parts = []
                for _ in range(0, n, CLUSTER):
                    kind = rnd.randrange(4)
                    if kind == 0:
                        parts.append(rnd.randbytes(CLUSTER))
                    elif kind == 1:
                        parts.append(bytes(CLUSTER))
                    elif kind == 2:
                        parts.append(pattern)
                    else:
                        piece = bytearray(rnd.randbytes(CLUSTER))
                        hole = rnd.randrange(0, CLUSTER, 512)
                        piece[hole:hole + 8192] = bytes(len(piece[hole:hole + 8192]))
                        parts.append(bytes(piece))
                chunk = b"".join(parts)[:n]
            f.seek(pos)
            f.write(chunk)


def run_tool(argv: list[str]) -> float:
    """Run one conversion command; return its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def time_conversion(cmd: list[str], conv: Conversion, src: str, out: str, repeat: int) -> float:
    """Best wall time of ``repeat`` runs of one tool on one conversion (a fresh output each time)."""
    argv = [*cmd, "convert", "-f", conv.source_fmt, "-O", conv.out_fmt, *(["-c"] if conv.compress else [])]
    best = float("inf")
    for _ in range(repeat):
        if os.path.exists(out):
            os.unlink(out)
        best = min(best, run_tool([*argv, src, out]))
    return best


def same_content(qemu_img: str, a: str, b: str) -> bool:
    """True when qemu-img compare finds the guest contents of ``a`` and ``b`` identical."""
    proc = subprocess.run([qemu_img, "compare", a, b], capture_output=True, text=True, check=False)
    return proc.returncode == 0


def mbps(size: int, seconds: float) -> float:
    """Throughput in MB/s (10**6 bytes) of virtual size."""
    return size / seconds / 1e6 if seconds > 0 else float("inf")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the image conversion bench; print a table; return 0 (1 when a tool failed)."""
    parser = argparse.ArgumentParser(prog="python -m pyqemu.tools.bench_img",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", default="1G", help="virtual size of the source image (default 1G)")
    parser.add_argument("--dir", default=None, help="work directory (default: a new temporary directory)")
    parser.add_argument("--qemu-img", default=QEMU_IMG, help=f"reference qemu-img (default {QEMU_IMG})")
    parser.add_argument("--no-compressed", action="store_true", help="skip the compressed conversion")
    parser.add_argument("--no-verify", action="store_true", help="skip comparing outputs with the source")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per uncompressed conversion and tool, best time kept (default 3)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    size = parse_size(args.size)
    if not size:
        parser.error(f"invalid size: {args.size}")
    have_qemu = os.path.exists(args.qemu_img)
    if not have_qemu:
        print(f"bench_img: {args.qemu_img} not found; timing pyqemu-img only", file=sys.stderr)
    pyimg = [sys.executable, "-m", "pyqemu.tools.img"]
    work = args.dir or tempfile.mkdtemp(prefix="pyqemu-bench-img-")
    os.makedirs(work, exist_ok=True)
    status = 0
    try:
        source = os.path.join(work, "source.raw")
        start = time.perf_counter()
        make_source(source, size)
        print(f"source: {size / (1 << 20):.0f} MiB raw image with mixed content "
              f"(made in {time.perf_counter() - start:.1f} s) in {work}")
        tools = [("pyqemu-img", pyimg)] + ([("qemu-img", [args.qemu_img])] if have_qemu else [])
        conversions = [Conversion("raw -> qcow2", source, "raw", "qcow2"),
                       Conversion("raw -> qcow2 -c", source, "raw", "qcow2", compress=True),
                       Conversion("qcow2 -> raw", os.path.join(work, "{tool}.qcow2"), "qcow2", "raw")]
        if args.no_compressed:
            conversions = [c for c in conversions if not c.compress]
        header = f"{'conversion':<18}" + "".join(f"{name:>22}" for name, _ in tools)
        print(header + ("   ratio (pyqemu/qemu)" if have_qemu else ""))
        for conv in conversions:
            times: list[float] = []
            cells = []
            repeat = 1 if conv.compress else args.repeat
            for tool_name, cmd in tools:
                tag = tool_name.replace("-", "_")
                out = os.path.join(work, f"{tag}.{'c.qcow2' if conv.compress else conv.out_fmt}")
                try:
                    seconds = time_conversion(cmd, conv, conv.source.format(tool=tag), out, repeat)
                except RuntimeError as exc:
                    print(f"bench_img: {exc}", file=sys.stderr)
                    status = 1
                    times.append(float("nan"))
                    cells.append(f"{'failed':>22}")
                    continue
                times.append(seconds)
                note = ""
                if have_qemu and not args.no_verify and not same_content(args.qemu_img, source, out):
                    note = "!"
                    status = 1
                cells.append(f"{seconds:7.2f} s {mbps(size, seconds):7.0f} MB/s{note:1}")
            line = f"{conv.name:<18}" + "".join(cells)
            if have_qemu and len(times) == 2 and times[1] > 0:
                line += f"   {times[0] / times[1]:6.2f}x"
            print(line, flush=True)
        if status:
            print("bench_img: some conversions failed or differ from the source (marked !)", file=sys.stderr)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
