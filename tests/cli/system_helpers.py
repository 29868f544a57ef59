"""Helpers for the tests of ``pyqemu-system-riscv64`` and its monitor.

* :func:`system_cmd`: how to start the emulator (the console script next to this Python, or the module);
* :func:`run_system`: run it to completion with captured text output;
* :func:`build_programs`: tiny bare-metal guests, assembled with ``riscv64-linux-gnu-as``/``ld`` into a
  directory (linked with ``-N`` at 0x80000000, so there is nothing outside RAM to load);
* :class:`Session`: a running emulator whose monitor is on its standard input/output, driven command by
  command (the monitor's echo and prompt are stripped from the answers).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROG = "pyqemu-system-riscv64"
RUN_TIMEOUT = 120
AS = "riscv64-linux-gnu-as"
LD = "riscv64-linux-gnu-ld"

#: guest programs: name -> assembly source
PROGRAMS = {
    # prints a line on the UART, then powers off with exit code 7 through the SiFive test device
    "hello": r"""
    .globl _start
_start:
    li t0, 0x10000000
    la t1, msg
1:  lbu t2, 0(t1)
    beqz t2, 2f
    sb t2, 0(t0)
    addi t1, t1, 1
    j 1b
2:  li t0, 0x100000
    li t1, 0x00073333
    sw t1, 0(t0)
3:  j 3b
msg: .asciz "Hello from bare metal\n"
""",
    # powers off with status 0 ("pass")
    "pass": r"""
    .globl _start
_start:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
""",
    # prints 'A', then counts in a0 forever
    "loop": r"""
    .globl _start
_start:
    li t0, 0x10000000
    li t1, 'A'
    sb t1, 0(t0)
    li a0, 0
1:  addi a0, a0, 1
    j 1b
""",
    # prints "boot\n", then asks the SiFive test device for a reset
    "reboot": r"""
    .globl _start
_start:
    li t0, 0x10000000
    li t1, 'b'
    sb t1, 0(t0)
    li t1, 'o'
    sb t1, 0(t0)
    sb t1, 0(t0)
    li t1, 't'
    sb t1, 0(t0)
    li t1, '\n'
    sb t1, 0(t0)
    li t0, 0x100000
    li t1, 0x7777
    sw t1, 0(t0)
1:  j 1b
""",
    # echoes UART input back, upper-cased letters stay as they are; 'q' powers off with status 3
    "echo": r"""
    .globl _start
_start:
    li t0, 0x10000000
1:  lbu t1, 5(t0)
    andi t1, t1, 1
    beqz t1, 1b
    lbu t2, 0(t0)
    li t3, 'q'
    beq t2, t3, 2f
    sb t2, 0(t0)
    j 1b
2:  li t0, 0x100000
    li t1, 0x00033333
    sw t1, 0(t0)
3:  j 3b
""",
    # enters S-mode with Sv39: VA 0x40000000 and 0x80000000 both map the gigapage at PA 0x80000000
    "sv39": r"""
    .globl _start
_start:
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    la t0, root
    li t1, (0x80000 << 10) | 0xcf
    sd t1, 8(t0)
    sd t1, 16(t0)
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x800
    csrs mstatus, t0
    la t0, s_entry
    csrw mepc, t0
    mret
s_entry:
    li a0, 0x1234
1:  j 1b
    .data
    .balign 4096
root: .zero 4096
""",
}


def system_cmd() -> list[str]:
    """The command that starts the system emulator."""
    script = Path(sys.executable).parent / PROG
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from pyqemu.cli.system_main import main; sys.exit(main())"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_")}
    env.update({"LC_ALL": "C", "TZ": "UTC"})
    return env


def run_system(
    *args: str | os.PathLike[str],
    input: bytes | None = None,
    timeout: float = RUN_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the emulator with ``args`` to completion; stdout and stderr as text."""
    proc = subprocess.run(
        [*system_cmd(), *map(str, args)],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        env=clean_env(),
        cwd=cwd,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def have_cross_binutils() -> bool:
    return shutil.which(AS) is not None and shutil.which(LD) is not None


def build_programs(directory: Path) -> dict[str, Path]:
    """Assemble and link every program of :data:`PROGRAMS` into ``directory``."""
    if not have_cross_binutils():
        pytest.skip(f"{AS}/{LD} are not installed")
    out = {}
    for name, source in PROGRAMS.items():
        src = directory / f"{name}.S"
        obj = directory / f"{name}.o"
        elf = directory / f"{name}.elf"
        src.write_text(source)
        subprocess.run([AS, "-march=rv64gc", "-o", str(obj), str(src)], check=True, capture_output=True)
        subprocess.run(
            [LD, "-N", "-Ttext=0x80000000", "--no-warn-rwx-segments", "-o", str(elf), str(obj)],
            check=True,
            capture_output=True,
        )
        out[name] = elf
    return out


_ESCAPES = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
PROMPT = b"(qemu) "


class Session:
    """The emulator running with its monitor on stdin/stdout (``-monitor stdio``, or ``-nographic``
    when ``args`` say so)."""

    def __init__(
        self, *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None, banner: bool = True
    ):
        self.proc = subprocess.Popen(
            [*system_cmd(), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=cwd,
        )
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.raw = b""
        self.err = ""
        self._pos = 0
        if banner:
            self.banner = self.read_until(PROMPT)

    def read_until(self, marker: bytes, timeout: float = 30) -> bytes:
        """Output from the last read up to and including ``marker``."""
        deadline = time.monotonic() + timeout
        while marker not in self.raw[self._pos :]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {marker!r} in {self.raw[self._pos :]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                data = os.read(self.fd, 65536)
                if not data:
                    raise EOFError(f"emulator exited; output so far: {self.raw[self._pos :]!r}")
                self.raw += data
        end = self.raw.index(marker, self._pos) + len(marker)
        chunk = self.raw[self._pos : end]
        self._pos = end
        return chunk

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def cmd(self, line: str, timeout: float = 30) -> str:
        """Run one monitor command; its output with LF line ends, without echo and prompt."""
        self.send(line.encode() + b"\n")
        chunk = self.read_until(PROMPT, timeout)
        # the echo ends with the CR LF that Enter writes
        _, _, answer = chunk.partition(b"\r\n")
        answer = answer[: -len(PROMPT)]
        return _ESCAPES.sub(b"", answer).decode("utf-8", "replace").replace("\r\n", "\n")

    def quit(self, timeout: float = 30) -> int:
        self.send(b"quit\n")
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the emulator to exit; the rest of its output is appended to :attr:`raw`."""
        try:
            status = self.proc.wait(timeout)
            assert self.proc.stdout is not None
            self.raw += self.proc.stdout.read()
            self.err = self.stderr()
            return status
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode("utf-8", "replace")
