"""Fixtures shared by the test suites: how to start ``pyqemu-riscv64``, guest software and guest builds.

* ``pyqemu_cmd``: the command line that starts the linux-user emulator (``pyqemu-riscv64``);
* ``run_pyqemu``: run it with arguments in a clean environment, capturing text output;
* ``guest_env``: that environment (no ``QEMU_*`` variables, C locale, UTC);
* ``guest_file``: any file of ``pyqemu.tools.guests`` (kernels, firmware, initramfs);
* ``riscv64_busybox`` / ``amd64_busybox``: Debian's static busybox for riscv64 (the guest) and for
  this host (the reference), from ``pyqemu.tools.guests``;
* ``cli_guest`` / ``cli_guest_dynamic``: build a small C program from ``tests/guest/cli/``.

Each of these skips the test when what it needs (a cross compiler, the guest software) is missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
CLI_GUEST_DIR = TESTS_DIR / "guest" / "cli"
#: Guest runs are killed after this many seconds (a hung emulator must not hang the suite).
RUN_TIMEOUT = 300


def load_guestbuild():
    """tests/guestbuild.py as a module (pytest puts tests/ on sys.path for this conftest)."""
    import guestbuild

    return guestbuild


def clean_env(**extra: str) -> dict[str, str]:
    """The host environment without QEMU_* variables (they change qemu's and pyqemu's behaviour)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_")}
    src = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env.update({"LC_ALL": "C", "TZ": "UTC"})
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def host_signal_dispositions():
    """Give back the host signal dispositions a test changed.

    An emulated process run in the test process installs host handlers for the signals its guest
    catches (SIGCHLD among them); left behind, they would queue the signals of later tests'
    subprocesses into a guest that is gone.
    """
    catchable = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
    saved = {s: signal.getsignal(s) for s in catchable}
    yield
    for s, handler in saved.items():
        if handler is not None and signal.getsignal(s) is not handler:
            signal.signal(s, handler)


@pytest.fixture(scope="session")
def pyqemu_cmd() -> list[str]:
    """The command that starts ``pyqemu-riscv64`` (followed by its options and the program)."""
    return [sys.executable, "-m", "pyqemu.linux_user"]


@pytest.fixture
def guest_env() -> dict[str, str]:
    return clean_env()


@pytest.fixture
def run_pyqemu(pyqemu_cmd: list[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_pyqemu(*args, env=None, input=None, cwd=None)``: run pyqemu-riscv64 with ``args``.

    ``env`` entries are added to :func:`clean_env`; stdout and stderr are captured as text.
    """

    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None, input: str | None = None,
            cwd: str | os.PathLike[str] | None = None,
            timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*pyqemu_cmd, *map(str, args)],
            env=clean_env(**(env or {})),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            cwd=cwd,
            timeout=timeout,
        )

    return run


def _guest_file(name: str) -> Path:
    from pyqemu.tools import guests

    try:
        return guests.path(name)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"guest software {name} is not available: {exc}")


@pytest.fixture(scope="session")
def guest_file() -> Callable[[str], Path]:
    """``guest_file(name)``: a file of ``pyqemu-guests`` (e.g. ``riscv64/Image``), or the test skips."""
    return _guest_file


@pytest.fixture(scope="session")
def riscv64_busybox() -> Path:
    """Debian's busybox 1.35 (static config) for riscv64: the guest."""
    return _guest_file("riscv64/busybox")


@pytest.fixture(scope="session")
def amd64_busybox() -> Path:
    """Debian's busybox-static for amd64, run natively: the reference for the guest busybox."""
    if os.uname().machine != "x86_64":
        pytest.skip("the reference busybox is an amd64 binary")
    return _guest_file("amd64/busybox")


def _builder(static: bool) -> Callable[[str], Path]:
    guestbuild = load_guestbuild()
    if not guestbuild.have_cross_compiler():
        pytest.skip(f"{guestbuild.CROSS_CC} with a riscv64 libc is not installed")

    def build(name: str) -> Path:
        sources = [CLI_GUEST_DIR / f"{name}{suffix}" for suffix in (".c", ".S")]
        source = next((s for s in sources if s.exists()), sources[0])
        return guestbuild.build(source, static=static)

    return build


@pytest.fixture(scope="session")
def cli_guest() -> Callable[[str], Path]:
    """``cli_guest(name)``: the static riscv64 binary built from tests/guest/cli/<name>.c."""
    return _builder(static=True)


@pytest.fixture(scope="session")
def cli_guest_dynamic() -> Callable[[str], Path]:
    """``cli_guest_dynamic(name)``: the same, dynamically linked (needs ``-L`` :data:`riscv64_sysroot`)."""
    return _builder(static=False)


@pytest.fixture(scope="session")
def riscv64_sysroot() -> Path:
    """The riscv64 libc of the cross toolchain: the ``-L`` prefix for dynamically linked guests."""
    sysroot = load_guestbuild().SYSROOT
    if not (sysroot / "lib" / "ld-linux-riscv64-lp64d.so.1").exists():
        pytest.skip(f"no riscv64 dynamic linker under {sysroot}")
    return sysroot
