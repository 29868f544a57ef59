"""``make demo``: the best guest pyqemu runs today - a riscv64 Linux shell on pyqemu-system-riscv64.

Boots Debian's OpenSBI, Linux 6.1 and a busybox initramfs on the RISC-V ``virt`` board with ``shell``
on the kernel command line.  From a terminal you land in the guest's shell on the serial console
(``poweroff -f`` leaves; Ctrl-A x quits the emulator, Ctrl-A c switches to the monitor).  Without a
terminal (CI, pipes) a short scripted session is typed into the console instead.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

from .guests import path as guest_path

SCRIPT = [
    "uname -a",
    "cat /proc/cpuinfo | head -n 6",
    "echo $((6 * 7)) | sed 's/^/the answer: /'",
    "ls /bin | wc -l",
    "poweroff -f",
]
PROMPT = b"# "
CURSOR_QUERY = b"\x1b[6n"  # busybox ash asks the terminal where the cursor is before each prompt


def command() -> list[str]:
    kernel, initrd = guest_path("riscv64/Image"), guest_path("riscv64/initramfs.cpio.gz")
    return [sys.executable, "-m", "pyqemu.cli.system_main", "-M", "virt", "-m", "256", "-nographic",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", "console=ttyS0 panic=-1 shell"]


def scripted(cmd: list[str]) -> int:
    """Type SCRIPT into the guest's console, echoing everything it prints."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = list(SCRIPT)
    seen = b""
    shell_up = False  # the initramfs announces its shell before the first prompt
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1.0)[0]:
            continue
        data = os.read(fd, 4096)
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        seen = (seen + data)[-256:]
        shell_up = shell_up or b"'poweroff -f' to leave" in seen
        if pending and shell_up and seen.replace(CURSOR_QUERY, b"").endswith(PROMPT):
            proc.stdin.write(pending.pop(0).encode() + b"\n")
            proc.stdin.flush()
            seen = b""
    return proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    cmd = command()
    print("$ pyqemu-system-riscv64 -M virt -m 256 -nographic -kernel Image -initrd initramfs.cpio.gz "
          "-append 'console=ttyS0 panic=-1 shell'\n", flush=True)
    if sys.stdin.isatty() and sys.stdout.isatty():
        print("Booting takes about half a minute; then type commands into the riscv64 shell "
              "('poweroff -f' leaves, Ctrl-A x quits).\n", flush=True)
        return subprocess.run(cmd).returncode
    return scripted(cmd)


if __name__ == "__main__":
    sys.exit(main())
