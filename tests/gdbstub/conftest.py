"""Fixtures of the gdbstub tests (see :mod:`.harness` for what they drive).

* ``user_guest``: ``tests/guest/gdb/gdb_user.c`` built for riscv64 Linux with debug information;
* ``bare_guest``: ``tests/guest/baremetal/gdb_target.c`` built for the virt board (``-bios none``);
* ``gdb``: the path of ``gdb-multiarch`` (the end-to-end tests skip without it);
* ``emulator``: ``emulator(*argv, socket=PATH)`` starts an emulator and waits until it listens on the unix
  socket ``PATH`` (if given); it is killed at the end of the test if it is still running.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import Emulator, bmbuild, guestbuild


@pytest.fixture(scope="session")
def gdb() -> str:
    path = shutil.which("gdb-multiarch")
    if path is None:
        pytest.skip("gdb-multiarch is not installed (scripts/install-deps.sh installs it)")
    return path


@pytest.fixture(scope="session")
def user_guest() -> Path:
    if not guestbuild.have_cross_compiler():
        pytest.skip(f"{guestbuild.CROSS_CC} with a riscv64 libc is not installed")
    return guestbuild.build(guestbuild.GUEST_DIR / "gdb" / "gdb_user.c")


@pytest.fixture(scope="session")
def aarch64_user_guest() -> Path:
    """``gdb_user.c`` for aarch64 (static, debug info), built with Debian's gcc-aarch64-linux-gnu."""
    cc = "aarch64-linux-gnu-gcc"
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed (scripts/install-deps.sh installs it)")
    source = guestbuild.GUEST_DIR / "gdb" / "gdb_user.c"
    flags = ["-g", "-O0", "-static"]
    key = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    return guestbuild.cached_build(guestbuild.cache_root() / f"aarch64-{key}" / "gdb_user", source.name,
                                   lambda out: [cc, *flags, "-o", str(out), str(source)])


@pytest.fixture(scope="session")
def bare_guest() -> Path:
    if not bmbuild.have_toolchain():
        pytest.skip(f"{guestbuild.CROSS_CC} is not installed")
    return bmbuild.build("gdb_target")


@pytest.fixture
def emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(*argv: str | os.PathLike[str], socket: Path | None = None) -> Emulator:
        emu = Emulator([str(a) for a in argv], socket)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.kill()
