"""Cross-compile RISC-V guest programs for the linux-user tests, with a build cache.

``build(source)`` compiles ``tests/guest/<name>.c`` (or ``.S``) with ``riscv64-linux-gnu-gcc`` and
returns the path of the resulting riscv64 ELF.  Binaries are cached under
``~/.cache/pyqemu/guest-build/<key>/<name>`` (``$XDG_CACHE_HOME`` is honoured), where ``<key>`` is
the SHA-256 of the source text, the full command-line flags and the compiler's ``--version``
output, so editing a program, changing flags or upgrading the toolchain all trigger a rebuild.
Each binary is written to a temporary file in its cache directory and renamed into place, so
concurrent test processes (pytest-xdist, two checkouts) can build the same program safely.

A source file can ask for extra compiler/linker flags with a comment line anywhere in its first
40 lines::

    // build: -pthread -lm
    /* build: -march=rv64gc_zba_zbb_zbs */

The flags are appended after the source file name, so libraries link correctly and options such
as ``-march=`` override the defaults.

Run as a script to build programs by hand::

    python tests/guestbuild.py tests/guest/hello.c [--dynamic]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

CROSS_CC = os.environ.get("PYQEMU_RISCV64_CC", "riscv64-linux-gnu-gcc")
#: Sysroot of the Debian riscv64 cross libc (libc6-dev-riscv64-cross); also the ``-L`` prefix
#: needed to run dynamically linked guests.
SYSROOT = Path("/usr/riscv64-linux-gnu")
BASE_FLAGS: tuple[str, ...] = ("-O2", "-march=rv64gc", "-mabi=lp64d")
#: Bump to invalidate every cached binary when the build recipe changes in a way the flags don't show.
RECIPE_VERSION = "1"
GUEST_DIR = Path(__file__).resolve().parent / "guest"

_BUILD_COMMENT = re.compile(r"^\s*(?://|/\*|#)\s*build:\s*(?P<flags>.*?)\s*(?:\*/)?\s*$")
_SCAN_LINES = 40


class BuildError(RuntimeError):
    """The cross compiler rejected a guest program."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pyqemu" / "guest-build"


@functools.cache
def compiler_version() -> str:
    """The cross compiler's full ``--version`` text (part of the cache key)."""
    out = subprocess.run([CROSS_CC, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@functools.cache
def have_cross_compiler() -> bool:
    """True when riscv64-linux-gnu-gcc and a riscv64 libc to link against are installed."""
    if shutil.which(CROSS_CC) is None:
        return False
    try:
        compiler_version()
        libc = subprocess.run(
            [CROSS_CC, "-print-file-name=libc.a"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    # gcc echoes the bare name back when it cannot find the file in its search path.
    return os.path.isabs(libc) and os.path.exists(libc)


def source_flags(source: Path) -> list[str]:
    """Flags requested by ``build:`` comments in the first lines of ``source``."""
    flags: list[str] = []
    with open(source, encoding="utf-8") as f:
        for lineno, line in enumerate(f):
            if lineno >= _SCAN_LINES:
                break
            m = _BUILD_COMMENT.match(line)
            if m:
                flags.extend(shlex.split(m.group("flags")))
    return flags


def _flag_groups(source: Path, static: bool, extra_flags: Iterable[str]) -> tuple[list[str], list[str]]:
    """(flags placed before the source file, flags placed after it)."""
    before = [*BASE_FLAGS, *(["-static"] if static else [])]
    # Source-requested and extra flags go after the source so ``-l`` libraries resolve its symbols.
    after = [*source_flags(source), *extra_flags]
    return before, after


def build_command(
    source: Path, output: Path, *, static: bool = True, extra_flags: Iterable[str] = ()
) -> list[str]:
    """The full compiler command line used to build ``source`` into ``output``."""
    before, after = _flag_groups(source, static, extra_flags)
    return [CROSS_CC, *before, "-o", str(output), str(source), *after]


def _cache_key(source: Path, flags: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(f"recipe {RECIPE_VERSION}\0".encode())
    h.update(source.name.encode() + b"\0")
    h.update(source.read_bytes())
    h.update(b"\0flags\0" + "\0".join(flags).encode())
    h.update(b"\0compiler\0" + compiler_version().encode())
    return h.hexdigest()


def build(source: Path, *, static: bool = True, extra_flags: Iterable[str] = ()) -> Path:
    """Cross-compile ``source`` (.c or .S) for riscv64 Linux and return the cached binary's path."""
    source = Path(source).resolve()
    if source.suffix not in (".c", ".S"):
        raise ValueError(f"don't know how to build {source.name}: expected a .c or .S file")
    extra_flags = tuple(extra_flags)
    before, after = _flag_groups(source, static, extra_flags)
    out_dir = cache_root() / _cache_key(source, [*before, "<source>", *after])
    return cached_build(out_dir / source.stem, source.name,
                        lambda out: build_command(source, out, static=static, extra_flags=extra_flags))


def cached_build(output: Path, what: str, command: Callable[[Path], list[str]]) -> Path:
    """Run ``command(tmp)`` to produce ``output`` unless it exists: built under a temporary name and
    renamed into place (with ``command.txt`` recording how), so a cache entry is complete or absent."""
    if output.is_file():
        return output
    out_dir = output.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = command(tmp)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise BuildError(
                f"building {what} failed (exit {proc.returncode}):\n  {shlex.join(cmd)}\n{proc.stderr}"
            )
        tmp.chmod(0o755)
        # Record how the binary was made (useful when debugging); written atomically too.
        log_fd, log_tmp = tempfile.mkstemp(prefix=".cmd.", dir=out_dir)
        os.fchmod(log_fd, 0o644)
        with os.fdopen(log_fd, "w") as log:
            log.write(shlex.join(cmd).replace(str(tmp), str(output)) + "\n")
        os.replace(log_tmp, out_dir / "command.txt")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--dynamic", action="store_true", help="link against the shared riscv64 libc")
    args = parser.parse_args(argv)
    if not have_cross_compiler():
        print(f"{CROSS_CC} (with a riscv64 libc) is not installed", file=sys.stderr)
        return 1
    for src in args.sources:
        try:
            print(build(src, static=not args.dynamic))
        except BuildError as e:
            print(e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
