"""Guest software for pyqemu's tests and demos, fetched into a user cache outside the repository.

Everything here is third-party software from Debian bookworm: packages are taken with
``apt-get download`` + ``dpkg -x`` (nothing is installed into the system), and what Debian does not
ship for riscv64 (a static busybox) is cross-built from Debian's own source package.  Where the
team's prebuilt files exist (``../shared/guests`` beside the checkout, or ``$PYQEMU_SHARED_GUESTS``)
they are copied instead of rebuilt.

Usage: ``pyqemu-guests fetch`` (idempotent) and ``pyqemu-guests path NAME`` (prints a file's path).
Cache: ``$PYQEMU_GUEST_CACHE`` or ``~/.cache/pyqemu/guests``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def cache_dir() -> Path:
    """The cache folder guest software is kept in."""
    env = os.environ.get("PYQEMU_GUEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pyqemu" / "guests"


def shared_guests() -> Path | None:
    """The team's prebuilt guest folder, when this checkout has one beside it."""
    env = os.environ.get("PYQEMU_SHARED_GUESTS")
    for cand in ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "guests"]:
        if cand.is_dir():
            return cand
    return None


def _run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


def _apt_download(pkg: str, dest: Path) -> Path:
    """Download a .deb (host architecture or arch: all) into dest, unpack it, return the tree."""
    tree = dest / "x" / pkg
    if tree.is_dir():
        return tree
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        _run(["apt-get", "-q", "download", pkg], cwd=debs, stdout=subprocess.DEVNULL)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
    tmp = Path(tempfile.mkdtemp(dir=dest / "x" if (dest / "x").is_dir() else None))
    _run(["dpkg", "-x", str(found[-1]), str(tmp)])
    tree.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(tree)
    return tree


def _install(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.chmod(0o755)
    tmp.rename(dst)


def _build_riscv64_busybox(work: Path) -> Path:
    """Cross-build Debian's busybox (its 'static' config) for riscv64 from the source package."""
    lists = work / "lists" / "partial"
    lists.mkdir(parents=True, exist_ok=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    uri = "http://deb.debian.org/debian"
    srcs = Path("/etc/apt/sources.list.d/debian.sources")
    if srcs.exists():
        for line in srcs.read_text().splitlines():
            if line.startswith("URIs:"):
                uri = line.split()[1]
                break
    (work / "sources.list").write_text(f"deb-src {uri} bookworm main\n")
    opts = [f"-oDir::Etc::SourceList={work}/sources.list", "-oDir::Etc::SourceParts=/nonexistent",
            f"-oDir::State::Lists={work}/lists", f"-oDir::Cache={work}/cache"]
    _run(["apt-get", *opts, "-q", "update"], stdout=subprocess.DEVNULL)
    src_root = work / "src"
    src_root.mkdir(exist_ok=True)
    if not list(src_root.glob("busybox-*/")):
        _run(["apt-get", *opts, "-q", "source", "busybox"], cwd=src_root, stdout=subprocess.DEVNULL)
    src = sorted(p for p in src_root.glob("busybox-*") if p.is_dir())[0]
    build = work / "build"
    build.mkdir(exist_ok=True)
    shutil.copyfile(src / "debian" / "config" / "pkg" / "static", build / ".config")
    make = ["make", "-C", str(src), f"O={build}", "CROSS_COMPILE=riscv64-linux-gnu-"]
    _run(make + ["oldconfig"], input=b"\n" * 1000, stdout=subprocess.DEVNULL)
    _run(make + [f"-j{os.cpu_count() or 1}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return build / "busybox"


def fetch_riscv64_busybox(cache: Path) -> Path:
    dst = cache / "riscv64" / "busybox"
    if dst.exists():
        return dst
    shared = shared_guests()
    if shared and (shared / "riscv64" / "busybox").exists():
        _install(shared / "riscv64" / "busybox", dst)
    else:
        _install(_build_riscv64_busybox(cache / "build-busybox-riscv64"), dst)
    return dst


def fetch_amd64_busybox(cache: Path) -> Path:
    dst = cache / "amd64" / "busybox"
    if not dst.exists():
        _install(_apt_download("busybox-static", cache) / "bin" / "busybox", dst)
    return dst


FETCHERS = {
    "riscv64/busybox": fetch_riscv64_busybox,
    "amd64/busybox": fetch_amd64_busybox,
}


def path(name: str) -> Path:
    """Path of a guest file, fetching it first if needed."""
    cache = cache_dir()
    return FETCHERS[name](cache)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyqemu-guests", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="fetch or build all guest software into the cache")
    p = sub.add_parser("path", help="print the path of one guest file")
    p.add_argument("name", choices=sorted(FETCHERS))
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fetch":
            for name in FETCHERS:
                print(f"{name:24s} {path(name)}")
        else:
            print(path(args.name))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"pyqemu-guests: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
