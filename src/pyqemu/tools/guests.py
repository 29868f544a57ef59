"""Guest software for pyqemu's tests and demos, fetched into a user cache outside the repository.

Everything here is third-party software from Debian bookworm: packages are taken with
``apt-get download`` + ``dpkg -x`` (nothing is installed into the system), and what Debian does not
ship for riscv64 (a static busybox, a small Linux for the ``virt`` board) is cross-built from Debian's
own source packages.  Where the team's prebuilt files exist (``../shared/guests`` beside the checkout,
or ``$PYQEMU_SHARED_GUESTS``) they are copied instead of rebuilt.

Usage: ``pyqemu-guests fetch`` (idempotent), ``pyqemu-guests path NAME`` (prints a file's path,
fetching it first when needed), ``pyqemu-guests list``, and ``pyqemu-guests sysroot ARCH PACKAGE...``
(unpacks Debian packages of a foreign architecture into one tree for ``-L``; prints its path).
Cache: ``$PYQEMU_GUEST_CACHE`` or ``~/.cache/pyqemu/guests``.

Files (``NAME``):

* ``riscv64/busybox``, ``amd64/busybox``, ``arm64/busybox``: Debian's static busybox 1.35 (riscv64:
  cross-built; arm64: the arm64 package, fetched with apt's lists for that architecture);
* ``riscv64/fw_dynamic.bin``, ``riscv64/fw_jump.bin``: OpenSBI, generic platform (``opensbi``);
* ``riscv64/u-boot-smode.bin``: U-Boot ``qemu-riscv64_smode`` (``u-boot-qemu``);
* ``riscv64/Image``, ``riscv64/config``: Linux 6.1 for the ``virt`` board, everything built in
  (``linux-source-6.1``, allnoconfig plus :data:`LINUX_FRAGMENT`; about 12 minutes on two cores);
* ``riscv64/initramfs.cpio.gz``: the riscv64 busybox and :data:`INIT_SCRIPT` as ``/init``;
* ``amd64/bzImage``, ``amd64/config``, ``amd64/modules.tar``: Debian's cloud amd64 kernel
  (``linux-image-cloud-amd64``), its ``.config`` and the modules of :data:`KERNEL_MODULES` it has, with
  their dependencies, in load order (the cloud kernel has no ``e1000``);
* ``amd64/generic/bzImage``, ``amd64/generic/config``, ``amd64/generic/modules.tar``: the same for
  Debian's generic amd64 kernel (``linux-image-amd64``), which has every module of the list.

:func:`module_entries` turns a ``modules.tar`` into initramfs members for :func:`initramfs_entries`.

Files appear atomically (written beside their final name, then renamed), and a cache lock keeps two
fetches from building the same thing at once.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import gzip
import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


class GuestError(OSError):
    """Guest software cannot be provided on this machine (a tool is missing, a build failed, ...).

    An :class:`OSError`, so that callers which skip when guest software is unavailable catch it."""


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


def _say(msg: str) -> None:
    """A progress line (on stderr: stdout carries the paths ``path`` and ``fetch`` print)."""
    print(f"pyqemu-guests: {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


#: Debian package that provides each build tool, for the "please install" message.
TOOL_PACKAGES = {
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg": "dpkg",
    "dpkg-source": "dpkg-dev",
    "make": "make",
    "gcc": "gcc",
    "riscv64-linux-gnu-gcc": "gcc-riscv64-linux-gnu",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "tar": "tar",
    "xz": "xz-utils",
    "perl": "perl",
}


def _need_tools(what: str, tools: Iterable[str]) -> None:
    """Raise :class:`GuestError` naming the Debian packages to install when any tool is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pkgs = " ".join(dict.fromkeys(TOOL_PACKAGES.get(t, t) for t in missing))
        raise GuestError(f"building {what} needs {', '.join(missing)}: apt-get install {pkgs}")


# -- installing files atomically ------------------------------------------------------------------


def _write_atomic(dst: Path, data: bytes | None = None, src: Path | None = None, mode: int = 0o644) -> None:
    """Create ``dst`` from bytes or from a file copy: written under a temporary name, then renamed."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                with open(src, "rb") as inp:
                    shutil.copyfileobj(inp, out, 1 << 20)
            else:
                out.write(data or b"")
        tmp.chmod(mode)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _install(src: Path, dst: Path, mode: int = 0o755) -> None:
    _write_atomic(dst, src=src, mode=mode)


# -- Debian packages ---------------------------------------------------------------------------


def _foreign_apt(arch: str, dest: Path) -> list[str]:
    """apt-get options that make this host's apt fetch ``arch`` packages, with private package lists
    and an empty dpkg status (nothing gets installed); the lists are fetched once."""
    state = dest / f"apt-{arch}"
    opts = [f"-oAPT::Architecture={arch}", f"-oAPT::Architectures={arch}",
            f"-oDir::State::Lists={state}/lists", f"-oDir::Cache={state}/cache",
            "-oDir::State::status=/dev/null"]
    if not (state / "lists" / "lock").exists():
        (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        _say(f"fetching Debian's {arch} package lists")
        r = subprocess.run(["apt-get", *opts, "-q", "update"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise GuestError(f"apt-get update for {arch} failed: {r.stderr.strip()}")
    return opts


def _apt_download(pkg: str, dest: Path, arch: str = "") -> Path:
    """Download a .deb (host architecture or arch: all, or the foreign ``arch``) into dest, unpack it,
    return the tree."""
    tree = dest / "x" / (f"{pkg}_{arch}" if arch else pkg)
    if tree.is_dir():
        return tree
    _need_tools(pkg, ["apt-get", "dpkg"])
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    pattern = f"{pkg}_*_{arch}.deb" if arch else f"{pkg}_*.deb"
    found = sorted(debs.glob(pattern))
    if not found:
        _say(f"downloading Debian package {pkg}" + (f" ({arch})" if arch else ""))
        opts = _foreign_apt(arch, dest) if arch else []
        r = subprocess.run(["apt-get", *opts, "-q", "download", pkg], cwd=debs, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        # apt warns on every download as root that it cannot drop privileges: only noise here.
        err = "\n".join(ln for ln in r.stderr.splitlines() if "performed unsandboxed" not in ln)
        found = sorted(debs.glob(pattern))
        if r.returncode or not found:
            raise GuestError(f"apt-get download {pkg} failed: {err.strip() or f'status {r.returncode}'}")
    tree.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{pkg}.", dir=tree.parent))
    try:
        _run(["dpkg", "-x", str(found[-1]), str(tmp)])
        tmp.rename(tree)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tree


def _package_file(pkg: str, inner: str) -> Callable[[Path, Path], None]:
    """A producer that copies ``inner`` out of Debian package ``pkg``."""

    def produce(cache: Path, dst: Path) -> None:
        src = _apt_download(pkg, cache) / inner
        if not src.is_file():
            raise GuestError(f"Debian package {pkg} has no /{inner}")
        _install(src, dst, mode=0o644)

    return produce


# -- busybox ------------------------------------------------------------------------------------


def _build_riscv64_busybox(work: Path) -> Path:
    """Cross-build Debian's busybox (its 'static' config) for riscv64 from the source package."""
    _need_tools("busybox for riscv64", ["apt-get", "dpkg-source", "make", "riscv64-linux-gnu-gcc"])
    _say("busybox: cross-building Debian's busybox for riscv64 (about 1 minute)")
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


def _produce_riscv64_busybox(cache: Path, dst: Path) -> None:
    _install(_build_riscv64_busybox(cache / "build-busybox-riscv64"), dst)


def _produce_amd64_busybox(cache: Path, dst: Path) -> None:
    _install(_apt_download("busybox-static", cache) / "bin" / "busybox", dst)


def _produce_arm64_busybox(cache: Path, dst: Path) -> None:
    _install(_apt_download("busybox-static", cache, "arm64") / "bin" / "busybox", dst)


# -- Linux for the riscv64 virt board --------------------------------------------------------------

LINUX_PACKAGE = "linux-source-6.1"

#: Kconfig fragment applied on top of ``allnoconfig``: everything off except what QEMU's ``virt`` board
#: needs, all built in (no modules).  ``allnoconfig`` turns the FPU off, hence ``CONFIG_FPU=y``.
LINUX_FRAGMENT = """\
CONFIG_SOC_VIRT=y
CONFIG_SMP=y
CONFIG_FPU=y
CONFIG_NR_CPUS=8
CONFIG_NONPORTABLE=n
CONFIG_EFI=y
CONFIG_MODULES=n
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_NO_HZ_IDLE=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_BUG=y
CONFIG_MULTIUSER=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_SHMEM=y
CONFIG_TMPFS=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_TTY=y
CONFIG_UNIX98_PTYS=y
CONFIG_RISCV_SBI_V01=y
CONFIG_HVC_RISCV_SBI=y
CONFIG_SERIAL_EARLYCON_RISCV_SBI=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_OF_PLATFORM=y
CONFIG_SERIAL_EARLYCON=y
CONFIG_SIFIVE_PLIC=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_SYSCON=y
CONFIG_POWER_RESET_SYSCON_POWEROFF=y
CONFIG_RTC_CLASS=y
CONFIG_RTC_DRV_GOLDFISH=y
CONFIG_PCI=y
CONFIG_PCI_HOST_GENERIC=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_PCI=y
CONFIG_BLOCK=y
CONFIG_BLK_DEV=y
CONFIG_VIRTIO_BLK=y
CONFIG_EXT4_FS=y
CONFIG_NET=y
CONFIG_INET=y
CONFIG_UNIX=y
CONFIG_NETDEVICES=y
CONFIG_NET_CORE=y
CONFIG_VIRTIO_NET=y
CONFIG_HW_RANDOM=y
CONFIG_HW_RANDOM_VIRTIO=y
"""

#: Tools the kernel build runs (Kconfig needs flex and bison, kernel/time needs bc).
LINUX_TOOLS = ("apt-get", "dpkg", "tar", "xz", "make", "gcc", "riscv64-linux-gnu-gcc", "flex", "bison",
               "bc", "perl")
#: A progress line is printed this often (seconds) while the kernel compiles.
PROGRESS_EVERY = 30.0


def fragment_mismatches(fragment: str, config: str) -> list[str]:
    """The fragment's settings that a generated ``.config`` does not have (as warning texts)."""
    lines = set(config.splitlines())
    out = []
    for line in fragment.splitlines():
        if not line.startswith("CONFIG_"):
            continue
        key, _, value = line.partition("=")
        if value == "n":
            if any(ln.startswith(key + "=") for ln in lines):
                out.append(f"{key} is set")
        elif line not in lines:
            out.append(f"{key}={value} not honoured")
    return out


def _linux_tarball(cache: Path) -> Path:
    """Debian's kernel source tarball: the installed package's, else downloaded and unpacked."""
    installed = Path("/usr/src") / f"{LINUX_PACKAGE}.tar.xz"
    if installed.is_file():
        return installed
    if not (cache / "x" / LINUX_PACKAGE).is_dir():
        _say(f"linux: getting Debian's {LINUX_PACKAGE} (about 140 MB)")
    tarball = _apt_download(LINUX_PACKAGE, cache) / "usr" / "src" / f"{LINUX_PACKAGE}.tar.xz"
    if not tarball.is_file():
        raise GuestError(f"{LINUX_PACKAGE} has no /usr/src/{LINUX_PACKAGE}.tar.xz")
    return tarball


def _linux_source(cache: Path, work: Path) -> Path:
    """The unpacked kernel tree in ``work`` (unpacked once; an interrupted unpack starts over)."""
    src = work / LINUX_PACKAGE
    if src.is_dir():
        return src
    tarball = _linux_tarball(cache)
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / "unpack.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _say(f"linux: unpacking {tarball.name}")
    _run(["tar", "-C", str(tmp), "-xf", str(tarball)])
    (tmp / LINUX_PACKAGE).rename(src)
    tmp.rmdir()
    return src


def _make_with_progress(cmd: list[str], cwd: Path, log: Path) -> None:
    """Run make, logging everything, with a progress line every :data:`PROGRESS_EVERY` seconds."""
    start = last = time.monotonic()
    built = 0
    recent: collections.deque[str] = collections.deque(maxlen=25)
    with open(log, "w") as logf, subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                                  stderr=subprocess.STDOUT, text=True,
                                                  errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            logf.write(line)
            recent.append(line.rstrip())
            words = line.split()
            if words and words[0] in ("CC", "AS", "LD", "AR", "OBJCOPY", "HOSTCC"):
                built += 1
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                elapsed = int(now - start)
                _say(f"linux: compiling, {elapsed // 60}m{elapsed % 60:02d}s, {built} steps done"
                     f" (now: {' '.join(words[:2])})")
    if proc.returncode:
        tail = "\n".join(recent)
        raise GuestError(f"kernel build failed (status {proc.returncode}; full log {log}):\n{tail}")


def _build_riscv64_linux(cache: Path) -> tuple[Path, Path]:
    """Build Linux for the riscv64 ``virt`` board; return the Image and its .config."""
    _need_tools("Linux for riscv64", LINUX_TOOLS)
    work = cache / "build-linux-riscv64"
    start = time.monotonic()
    src = _linux_source(cache, work)
    fragment = work / "virt.fragment"
    fragment.write_text(LINUX_FRAGMENT)
    make = ["make", "ARCH=riscv", "CROSS_COMPILE=riscv64-linux-gnu-"]
    _say("linux: configuring (allnoconfig + the virt fragment)")
    _run([*make, "-s", "allnoconfig"], cwd=src, env={**os.environ, "KCONFIG_ALLCONFIG": str(fragment)},
         stdout=subprocess.DEVNULL)
    for warning in fragment_mismatches(LINUX_FRAGMENT, (src / ".config").read_text()):
        _say(f"linux: warning: {warning}")
    jobs = os.cpu_count() or 1
    _say(f"linux: compiling Image with {jobs} jobs (about 12 minutes on 2 cores; log: {work / 'build.log'})")
    _make_with_progress([*make, f"-j{jobs}", "Image"], src, work / "build.log")
    elapsed = int(time.monotonic() - start)
    _say(f"linux: built in {elapsed // 60}m{elapsed % 60:02d}s")
    return src / "arch" / "riscv" / "boot" / "Image", src / ".config"


def _produce_riscv64_linux(cache: Path, dst: Path) -> None:
    """Build the kernel and install both files of the pair (a fresh build replaces both)."""
    image, config = _build_riscv64_linux(cache)
    _install(image, cache / "riscv64" / "Image", mode=0o644)
    _install(config, cache / "riscv64" / "config", mode=0o644)
    # The tree and objects are about 2 GB; the downloaded .deb stays in debs/ for a rebuild.
    shutil.rmtree(cache / "build-linux-riscv64", ignore_errors=True)
    shutil.rmtree(cache / "x" / LINUX_PACKAGE, ignore_errors=True)


# -- initramfs images ----------------------------------------------------------------------------

#: ``/init`` of the riscv64 initramfs: prints GUEST-READY, the kernel and the CPUs and block devices,
#: gives a shell when the kernel command line says ``shell``, then powers off.
INIT_SCRIPT = """\
#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo GUEST-READY
uname -a
echo "cpus: $(grep -c ^processor /proc/cpuinfo) block: $(ls /sys/block | tr '\\n' ' ')"
if grep -qw shell /proc/cmdline; then
  echo "pyqemu guest shell: 'poweroff -f' to leave"
  setsid cttyhack sh
fi
poweroff -f
"""

#: Empty directories of the initramfs (busybox --install -s fills the bin ones with links).
INITRAMFS_DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "mnt")


@dataclass(frozen=True)
class CpioEntry:
    name: str  # without a leading "/" or "./"
    mode: int  # file type and permission bits
    data: bytes = b""  # file contents, or a symbolic link's target


def newc_archive(entries: Iterable[CpioEntry], mtime: int = 0) -> bytes:
    """A cpio archive in the "newc" (SVR4, no CRC) format the kernel unpacks, owned by root."""
    out = io.BytesIO()
    entries = list(entries)
    subdirs: dict[str, int] = {}
    for e in entries:
        if stat.S_ISDIR(e.mode) and e.name != ".":
            parent = e.name.rpartition("/")[0] or "."
            subdirs[parent] = subdirs.get(parent, 0) + 1

    def put(ino: int, mode: int, nlink: int, mtime: int, name: str, data: bytes) -> None:
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(raw), 0)
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + raw)
        out.write(b"\0" * (-out.tell() % 4) + data)
        out.write(b"\0" * (-out.tell() % 4))

    for ino, e in enumerate(entries, start=1):
        nlink = 2 + subdirs.get(e.name, 0) if stat.S_ISDIR(e.mode) else 1
        put(ino, e.mode, nlink, mtime, e.name, e.data)
    put(0, 0, 1, 0, "TRAILER!!!", b"")
    return out.getvalue()


def initramfs_entries(busybox: bytes, init: str = INIT_SCRIPT,
                      extra: Iterable[CpioEntry] = ()) -> list[CpioEntry]:
    """An initramfs: busybox as /bin/busybox (and /bin/sh), /init, empty directories and ``extra``
    (e.g. :func:`module_entries`), sorted so that directories come before what they hold."""
    entries = [CpioEntry(".", stat.S_IFDIR | 0o755)]
    entries += [CpioEntry(d, stat.S_IFDIR | 0o755) for d in INITRAMFS_DIRS]
    entries += [
        CpioEntry("bin/busybox", stat.S_IFREG | 0o755, busybox),
        CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        CpioEntry("init", stat.S_IFREG | 0o755, init.encode()),
        *extra,
    ]
    return sorted(entries, key=lambda e: e.name)


def pack_initramfs(busybox: Path, dst: Path, init: str = INIT_SCRIPT,
                   extra: Iterable[CpioEntry] = ()) -> None:
    """Write ``dst`` (gzip'd newc cpio) of :func:`initramfs_entries`; the same bytes every time for the same
    inputs."""
    archive = newc_archive(initramfs_entries(busybox.read_bytes(), init, extra))
    _write_atomic(dst, gzip.compress(archive, compresslevel=9, mtime=0), mode=0o644)


def _produce_riscv64_initramfs(cache: Path, dst: Path) -> None:
    pack_initramfs(_ensure(cache, "riscv64/busybox"), dst)


# -- Debian's amd64 kernels and their modules ----------------------------------------------------

#: Kernel modules the amd64 ``modules.tar`` files carry (by module name, ``-`` and ``_`` alike), each with
#: the modules it depends on: virtio-pci (modern and legacy), virtio-blk, virtio-rng and the e1000 NIC.
KERNEL_MODULES = ("virtio_pci", "virtio_blk", "virtio_rng", "e1000")


def modinfo(ko: bytes) -> dict[str, str]:
    """The ``key=value`` strings of a kernel module's ``.modinfo`` section (a little-endian ELF64 object,
    as on amd64); a key given twice keeps its last value."""
    if ko[:6] != b"\x7fELF\x02\x01":
        raise GuestError("not a little-endian ELF64 kernel module")
    shoff = struct.unpack_from("<Q", ko, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)
    # (sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size) of each section header
    headers = [struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in headers:
        start = names_at + name
        if ko[start:ko.index(b"\0", start)] == b".modinfo":
            pairs = (item.decode(errors="replace").partition("=")
                     for item in ko[offset:offset + size].split(b"\0") if item)
            return {key: value for key, _, value in pairs}
    return {}


def _module_name(ko: Path) -> str:
    return ko.name.removesuffix(".ko").replace("-", "_")


def modules_in_load_order(modules_dir: Path, wanted: Iterable[str]) -> list[Path]:
    """The ``.ko`` files under ``modules_dir`` for the ``wanted`` module names and everything they depend
    on (``depends=`` of their modinfo), each after its dependencies.  Wanted modules the tree does not
    have (built in, or not configured) are left out; a missing dependency is an error."""
    files = {_module_name(ko): ko for ko in sorted(modules_dir.rglob("*.ko"))}
    order: list[Path] = []
    done: set[str] = set()

    def visit(name: str, needed_by: str | None) -> None:
        if name in done:
            return
        done.add(name)
        ko = files.get(name)
        if ko is None:
            if needed_by:
                raise GuestError(f"kernel module {needed_by} needs {name}, which {modules_dir} does not have")
            return
        for dep in filter(None, modinfo(ko.read_bytes()).get("depends", "").split(",")):
            visit(dep.replace("-", "_"), name)
        order.append(ko)

    for name in wanted:
        visit(name.replace("-", "_"), None)
    return order


def _pack_modules(kos: list[Path], dst: Path) -> None:
    """Write ``dst``: a tar of the modules as ``NAME.ko`` in the given (load) order, owned by root,
    dated 0 (the same bytes for the same modules)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for ko in kos:
            data = ko.read_bytes()
            info = tarfile.TarInfo(f"{_module_name(ko)}.ko")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    _write_atomic(dst, out.getvalue(), mode=0o644)


def module_entries(modules_tar: Path) -> list[CpioEntry]:
    """Initramfs members for a ``modules.tar``: ``/lib/modules/NAME.ko`` for each module, and
    ``/etc/modules`` naming them one a line in load order (``insmod`` them in that order)."""
    with tarfile.open(modules_tar) as tar:
        mods = [(m.name, f.read()) for m in tar.getmembers() if m.isfile() and (f := tar.extractfile(m))]
    entries = [CpioEntry(d, stat.S_IFDIR | 0o755) for d in ("etc", "lib", "lib/modules")]
    entries += [CpioEntry(f"lib/modules/{name}", stat.S_IFREG | 0o644, data) for name, data in mods]
    order = "".join(f"{name.removesuffix('.ko')}\n" for name, _ in mods)
    entries.append(CpioEntry("etc/modules", stat.S_IFREG | 0o644, order.encode()))
    return entries


def _apt_cache(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["apt-cache", *args], capture_output=True, text=True)


def debian_kernel_package(flavour: str) -> str:
    """The versioned package behind Debian's ``linux-image-FLAVOUR`` (e.g. ``cloud-amd64``), its
    ``-unsigned`` build when there is one (the same kernel without its Secure Boot signature)."""
    _need_tools(f"Debian's {flavour} kernel", ["apt-cache"])
    meta = f"linux-image-{flavour}"
    deps = _apt_cache("depends", meta).stdout.splitlines()
    pkg = next((ln.split()[1] for ln in deps if ln.strip().startswith("Depends: linux-image-")), None)
    if pkg is None:
        raise GuestError(f"apt-cache knows no kernel package behind {meta} (apt-get update?)")
    return f"{pkg}-unsigned" if _apt_cache("show", f"{pkg}-unsigned").returncode == 0 else pkg


def _debian_kernel(flavour: str, folder: str) -> Callable[[Path, Path], None]:
    """A producer of ``folder/bzImage``, ``folder/config`` and ``folder/modules.tar`` from Debian's
    ``linux-image-FLAVOUR`` (all three at once, so that they belong together)."""

    def produce(cache: Path, dst: Path) -> None:
        pkg = debian_kernel_package(flavour)
        tree = _apt_download(pkg, cache)
        try:
            kernels, configs = sorted(tree.glob("boot/vmlinuz-*")), sorted(tree.glob("boot/config-*"))
            modules = sorted(tree.glob("lib/modules/*/kernel"))
            if not (kernels and configs and modules):
                raise GuestError(f"Debian package {pkg} has no boot/vmlinuz-*, boot/config-* or modules")
            _pack_modules(modules_in_load_order(modules[0], KERNEL_MODULES), cache / folder / "modules.tar")
            _install(configs[0], cache / folder / "config", mode=0o644)
            _install(kernels[0], cache / folder / "bzImage", mode=0o644)
        finally:
            # The unpacked tree is 100-400 MB; the .deb stays in debs/ for another run.
            shutil.rmtree(tree, ignore_errors=True)

    return produce


# -- the catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuestFile:
    name: str  # path inside the cache, e.g. "riscv64/Image"
    about: str
    produce: Callable[[Path, Path], None]  # (cache, destination): make the file when not in the shared folder
    mode: int = 0o644
    #: Files that must come from the same place: copied from the shared folder only when all are there.
    group: tuple[str, ...] = ()


_LINUX = ("riscv64/Image", "riscv64/config")
_AMD64_CLOUD = ("amd64/bzImage", "amd64/config", "amd64/modules.tar")
_AMD64_GENERIC = ("amd64/generic/bzImage", "amd64/generic/config", "amd64/generic/modules.tar")
_amd64_cloud = _debian_kernel("cloud-amd64", "amd64")
_amd64_generic = _debian_kernel("amd64", "amd64/generic")

GUESTS: dict[str, GuestFile] = {
    g.name: g
    for g in (
        GuestFile("riscv64/busybox", "Debian's busybox 1.35 (static config), cross-built for riscv64",
                  _produce_riscv64_busybox, mode=0o755),
        GuestFile("amd64/busybox", "Debian's busybox-static for this host", _produce_amd64_busybox,
                  mode=0o755),
        GuestFile("arm64/busybox", "Debian's busybox-static for arm64", _produce_arm64_busybox, mode=0o755),
        GuestFile("riscv64/fw_dynamic.bin", "OpenSBI, generic platform, fw_dynamic (Debian's opensbi)",
                  _package_file("opensbi", "usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin")),
        GuestFile("riscv64/fw_jump.bin", "OpenSBI, generic platform, fw_jump (Debian's opensbi)",
                  _package_file("opensbi", "usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")),
        GuestFile("riscv64/u-boot-smode.bin", "U-Boot qemu-riscv64_smode, an S-mode payload (u-boot-qemu)",
                  _package_file("u-boot-qemu", "usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")),
        GuestFile("riscv64/initramfs.cpio.gz", "riscv64 busybox + /init (GUEST-READY, optional shell)",
                  _produce_riscv64_initramfs),
        GuestFile("amd64/bzImage", "Debian's cloud amd64 kernel (linux-image-cloud-amd64)", _amd64_cloud,
                  group=_AMD64_CLOUD),
        GuestFile("amd64/config", "the .config of amd64/bzImage", _amd64_cloud, group=_AMD64_CLOUD),
        GuestFile("amd64/modules.tar", "amd64/bzImage's virtio modules, in load order (it has no e1000)",
                  _amd64_cloud, group=_AMD64_CLOUD),
        GuestFile("amd64/generic/bzImage", "Debian's generic amd64 kernel (linux-image-amd64)",
                  _amd64_generic, group=_AMD64_GENERIC),
        GuestFile("amd64/generic/config", "the .config of amd64/generic/bzImage", _amd64_generic,
                  group=_AMD64_GENERIC),
        GuestFile("amd64/generic/modules.tar",
                  "amd64/generic/bzImage's virtio and e1000 modules, in load order", _amd64_generic,
                  group=_AMD64_GENERIC),
        # Last: building it from source takes minutes.
        GuestFile("riscv64/Image", "Linux 6.1 for the virt board (built from linux-source-6.1)",
                  _produce_riscv64_linux, group=_LINUX),
        GuestFile("riscv64/config", "the .config riscv64/Image was built with", _produce_riscv64_linux,
                  group=_LINUX),
    )
}


def _lookup(name: str) -> GuestFile:
    try:
        return GUESTS[name]
    except KeyError:
        raise ValueError(f"unknown guest file {name!r} (known: {', '.join(GUESTS)})") from None


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """Hold the cache's lock (another process fetching into the same cache waits)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _ensure(cache: Path, name: str) -> Path:
    """Provide ``cache/name`` (the cache lock is held): copy it from the shared folder, or produce it."""
    guest = _lookup(name)
    dst = cache / name
    if dst.exists():
        return dst
    shared = shared_guests()
    members = guest.group or (name,)
    if shared and all((shared / m).is_file() for m in members):
        for m in members:  # all of a group, so that its files match
            _install(shared / m, cache / m, mode=GUESTS[m].mode)
    else:
        guest.produce(cache, dst)
    if not dst.exists():
        raise GuestError(f"{name} was not produced")
    return dst


def path(name: str) -> Path:
    """Path of a guest file, fetching it first if needed (:class:`ValueError` for an unknown name)."""
    _lookup(name)
    cache = cache_dir()
    dst = cache / name
    if dst.exists():
        return dst
    with _cache_lock(cache):
        return _ensure(cache, name)


def debian_package(pkg: str) -> Path:
    """Debian's package ``pkg`` for this host unpacked into the guest cache (nothing is installed): the
    root of its tree (e.g. Debian's qemu-system-x86_64, a reference for tests and ``make bench``)."""
    cache = cache_dir()
    with _cache_lock(cache):
        return _apt_download(pkg, cache)


def sysroot(arch: str, packages: list[str]) -> Path:
    """A sysroot for ``-L``: Debian's ``arch`` ``packages`` unpacked together (never installed), in
    ``cache/sysroot-ARCH-KEY`` where KEY names the package set."""
    cache = cache_dir()
    key = hashlib.sha256(" ".join(sorted(packages)).encode()).hexdigest()[:12]
    root = cache / f"sysroot-{arch}-{key}"
    if root.is_dir():
        return root
    with _cache_lock(cache):
        if root.is_dir():
            return root
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=cache))
        try:
            for pkg in packages:
                shutil.copytree(_apt_download(pkg, cache, arch), tmp, symlinks=True, dirs_exist_ok=True)
            tmp.rename(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return root


def fetch() -> list[tuple[str, Path | Exception]]:
    """Provide every guest file; returns (name, path or the error that stopped it) in catalogue order."""
    results: list[tuple[str, Path | Exception]] = []
    cache = cache_dir()
    with _cache_lock(cache):
        for name in GUESTS:
            try:
                results.append((name, _ensure(cache, name)))
            except (OSError, subprocess.CalledProcessError) as exc:
                results.append((name, exc))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyqemu-guests", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="fetch or build all guest software into the cache")
    sub.add_parser("list", help="list the guest files and what they are")
    p = sub.add_parser("path", help="print the path of one guest file (fetching it when needed)",
                       epilog=f"NAME is one of: {', '.join(GUESTS)}")
    p.add_argument("name", metavar="NAME")
    r = sub.add_parser("sysroot", help="print the path of a sysroot of Debian packages (for -L)")
    r.add_argument("arch", help="Debian architecture, e.g. arm64")
    r.add_argument("packages", nargs="+", metavar="PACKAGE")
    args = ap.parse_args(argv)
    if args.cmd == "sysroot":
        try:
            print(sysroot(args.arch, args.packages))
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"pyqemu-guests: sysroot: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.cmd == "list":
        for g in GUESTS.values():
            print(f"{g.name:28s} {g.about}")
        return 0
    if args.cmd == "fetch":
        status = 0
        for name, res in fetch():
            if isinstance(res, Exception):
                print(f"pyqemu-guests: {name}: {res}", file=sys.stderr)
                status = 1
            else:
                print(f"{name:28s} {res}")
        return status
    try:
        print(path(args.name))
    except ValueError as exc:
        print(f"pyqemu-guests: {exc}", file=sys.stderr)
        return 1
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"pyqemu-guests: {args.name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
