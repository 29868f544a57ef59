"""Build the bare-metal RISC-V test programs of ``tests/guest/baremetal/`` with a content-hash cache.

``build(name)`` links ``<name>.c`` with the shared runtime (``start.S``, ``runtime.c``, ``bm.h``) and the
linker script ``link.ld`` into an ELF that runs on the ``virt`` board with ``-bios none``, and returns
its path.  As in ``tests/guestbuild.py`` (whose cache directory and compiler identification are reused),
the binary is cached under a key that covers every input file, the flags and the compiler's version, and
is written to a temporary file that is renamed into place, so parallel test processes can share it.

Run as a script to build programs by hand::

    python tests/system/bmbuild.py traps irq
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import guestbuild  # noqa: E402

SOURCE_DIR = TESTS_DIR / "guest" / "baremetal"
RUNTIME_SOURCES = ("start.S", "runtime.c")
SHARED_FILES = ("bm.h", "link.ld", *RUNTIME_SOURCES)
FLAGS: tuple[str, ...] = (
    "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2", "-g",
    "-ffreestanding", "-fno-builtin", "-fno-strict-aliasing", "-fno-pic", "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
    "-nostdlib", "-nostartfiles", "-static", "-no-pie",
    "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
    "-Wl,--no-relax", "-Wl,--build-id=none",
)
RECIPE_VERSION = "1"


BuildError = guestbuild.BuildError


def have_toolchain() -> bool:
    try:
        guestbuild.compiler_version()
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def command(name: str, output: Path) -> list[str]:
    sources = [str(SOURCE_DIR / s) for s in (*RUNTIME_SOURCES, f"{name}.c")]
    return [guestbuild.CROSS_CC, *FLAGS, "-I", str(SOURCE_DIR), "-T", str(SOURCE_DIR / "link.ld"),
            "-o", str(output), *sources]


def _key(name: str) -> str:
    h = hashlib.sha256()
    h.update(f"baremetal recipe {RECIPE_VERSION}\0".encode())
    for f in (*SHARED_FILES, f"{name}.c"):
        h.update(f.encode() + b"\0" + (SOURCE_DIR / f).read_bytes() + b"\0")
    h.update("\0".join(FLAGS).encode())
    h.update(b"\0compiler\0" + guestbuild.compiler_version().encode())
    return h.hexdigest()


def build(name: str) -> Path:
    """Build ``tests/guest/baremetal/<name>.c`` (cached) and return the ELF's path."""
    if not (SOURCE_DIR / f"{name}.c").is_file():
        raise ValueError(f"no bare-metal program {name!r} in {SOURCE_DIR}")
    output = guestbuild.cache_root() / f"baremetal-{_key(name)}" / f"{name}.elf"
    return guestbuild.cached_build(output, name, lambda out: command(name, out))


def main(argv: list[str]) -> int:
    for name in argv:
        try:
            print(build(name))
        except BuildError as e:
            print(e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
