"""``pyqemu-aarch64`` end to end, ahead of FP/AdvSIMD: a freestanding aarch64 program
(``tests/guest/aarch64/freestanding.c``, built with ``-mgeneral-regs-only`` so it needs no FP/SIMD)
makes system calls, takes a signal in an SA_SIGINFO handler and returns through rt_sigreturn with its
registers intact, exits with a status, or dies of SIGILL at an UDF.  Debian's ``qemu-aarch64`` runs the
same binary as the reference."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guestbuild import cache_root, cached_build

SOURCE = Path(__file__).resolve().parents[1] / "guest" / "aarch64" / "freestanding.c"
CC = "aarch64-linux-gnu-gcc"
FLAGS = ("-O2", "-static", "-nostdlib", "-ffreestanding", "-mgeneral-regs-only", "-fno-stack-protector")
EXPECTED = "signal 10 info 10 registers kept\n"


@pytest.fixture(scope="module")
def program() -> Path:
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} is not installed (scripts/install-deps.sh installs it)")
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    return cached_build(cache_root() / f"aarch64-{key}" / SOURCE.stem, SOURCE.name,
                        lambda out: [CC, *FLAGS, "-o", str(out), str(SOURCE)])


def _run(cmd: list[str], program: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, str(program), *args], capture_output=True, text=True, timeout=120)


EMULATORS = {
    "pyqemu": [sys.executable, "-c", "import sys; from pyqemu.linux_user.main import main_aarch64; "
               "sys.exit(main_aarch64())"],
    "qemu": ["qemu-aarch64"],
}


@pytest.mark.parametrize("emulator", EMULATORS)
def test_syscalls_signal_frame_and_exit(program: Path, emulator: str) -> None:
    if emulator == "qemu" and shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 (Debian's qemu-user) is not installed")
    result = _run(EMULATORS[emulator], program)
    assert (result.returncode, result.stdout) == (42, "args 1\n" + EXPECTED), result.stderr
    killed = _run(EMULATORS[emulator], program, "udf")
    assert killed.stdout == "args 2\n" + EXPECTED
    assert killed.returncode in (-4, 128 + 4)
    assert "uncaught target signal 4 (Illegal instruction)" in killed.stderr


def test_wrong_architecture_is_refused(program: Path) -> None:
    """An aarch64 binary under pyqemu-riscv64 is refused as qemu-user refuses it; -cpu help lists the
    aarch64 models."""
    result = _run([sys.executable, "-m", "pyqemu.linux_user"], program)
    assert result.returncode == 1
    assert "Invalid ELF image for this architecture" in result.stderr
    listing = subprocess.run([*EMULATORS["pyqemu"], "-cpu", "help"], capture_output=True, text=True)
    assert listing.stdout.split() == ["max", "any"]
