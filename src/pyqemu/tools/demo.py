"""``make demo``: the best guest pyqemu runs today - Debian's riscv64 busybox under pyqemu-riscv64.

Runs a short scripted shell session (each command is shown, then its output as the riscv64 busybox
printed it) and, when started from a terminal, leaves you at an interactive riscv64 busybox shell
(``exit`` to leave).
"""

from __future__ import annotations

import os
import subprocess
import sys

from .guests import path as guest_path

SCRIPT = r"""
uname -m
echo "hello from a riscv64 shell, emulated by pyqemu"
seq 1 10 | awk '{ s += $1 } END { print "sum of 1..10 =", s }'
printf 'pear\napple\nfig\n' | sort | tr 'a-z' 'A-Z'
echo pyqemu | sha256sum
i=0; while [ $i -lt 3 ]; do i=$((i + 1)); echo "loop $i"; done
"""


def main(argv: list[str] | None = None) -> int:
    busybox = str(guest_path("riscv64/busybox"))
    emulator = [sys.executable, "-m", "pyqemu.linux_user"]
    print(f"$ pyqemu-riscv64 {busybox} sh   # Debian's busybox, built for riscv64\n")
    for line in SCRIPT.strip().splitlines():
        print(f"riscv64$ {line}", flush=True)
        r = subprocess.run([*emulator, busybox, "sh", "-c", line])
        if r.returncode:
            print(f"(exit status {r.returncode})")
    if sys.stdin.isatty():
        print("\nAn interactive riscv64 busybox shell follows; type 'exit' to leave.\n", flush=True)
        return subprocess.run([*emulator, busybox, "sh"], env={**os.environ, "PS1": "riscv64$ "}).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
