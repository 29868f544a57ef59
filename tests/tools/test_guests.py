"""pyqemu-guests: names and paths, copying from the shared folder, idempotence, the riscv64 initramfs,
Debian's amd64 kernels and their modules.

Nothing here downloads or builds: the shared folder and the unpacked Debian packages are faked in
temporary folders, and subprocesses are forbidden where the tool must not need any.
"""

from __future__ import annotations

import gzip
import shutil
import stat
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyqemu.tools import guests

REFERENCE = Path("/work/shared/guests")
ALL = list(guests.GUESTS)
AMD64_KERNELS = ["amd64/bzImage", "amd64/config", "amd64/modules.tar", "amd64/generic/bzImage",
                 "amd64/generic/config", "amd64/generic/modules.tar"]
SHARED_NAMES = ["riscv64/busybox", "riscv64/Image", "riscv64/config", "riscv64/initramfs.cpio.gz",
                *AMD64_KERNELS]
#: Where the tool finds each packaged file inside the unpacked Debian package trees (cache/x/PKG).
PACKAGED = {
    "riscv64/fw_dynamic.bin": "opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
    "riscv64/fw_jump.bin": "opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin",
    "riscv64/u-boot-smode.bin": "u-boot-qemu/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin",
    "amd64/busybox": "busybox-static/bin/busybox",
    "arm64/busybox": "busybox-static_arm64/bin/busybox",
}


def content(name: str) -> bytes:
    return f"dummy {name}\n".encode()


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(cache, shared): an empty cache, and a shared folder holding dummies of the team's prebuilt files."""
    cache, shared = tmp_path / "cache", tmp_path / "shared"
    for name in SHARED_NAMES:
        (shared / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / name).write_bytes(content(name))
        (shared / name).chmod(0o444)
    # Debian packages as if downloaded and unpacked already (cache/x/PKG is what _apt_download returns).
    for name, inner in PACKAGED.items():
        f = cache / "x" / inner
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content(name))
    monkeypatch.setenv("PYQEMU_GUEST_CACHE", str(cache))
    monkeypatch.setenv("PYQEMU_SHARED_GUESTS", str(shared))
    return cache, shared


@pytest.fixture
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def snapshot(cache: Path) -> dict[str, tuple[int, int]]:
    return {n: ((cache / n).stat().st_ino, (cache / n).stat().st_mtime_ns) for n in ALL}


# -- names and paths ----------------------------------------------------------------------------


def test_catalogue_names() -> None:
    for name in ("riscv64/Image", "riscv64/config", "riscv64/initramfs.cpio.gz", "riscv64/fw_dynamic.bin",
                 "riscv64/fw_jump.bin", "riscv64/u-boot-smode.bin", "riscv64/busybox", "amd64/busybox",
                 "arm64/busybox", *AMD64_KERNELS):
        assert name in guests.GUESTS
    # the kernel build, the slow one, comes last in a fetch
    assert ALL[-2:] == ["riscv64/Image", "riscv64/config"]


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYQEMU_GUEST_CACHE", str(tmp_path / "c"))
    assert guests.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PYQEMU_GUEST_CACHE")
    assert guests.cache_dir() == Path.home() / ".cache" / "pyqemu" / "guests"


def test_unknown_name(dirs, no_subprocess, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown guest file 'riscv64/nope'"):
        guests.path("riscv64/nope")
    assert guests.main(["path", "riscv64/nope"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "unknown guest file 'riscv64/nope'" in err and "riscv64/Image" in err


def test_path_of_a_cached_file(dirs, no_subprocess, capsys: pytest.CaptureFixture[str]) -> None:
    cache, _ = dirs
    (cache / "riscv64").mkdir(parents=True)
    (cache / "riscv64" / "Image").write_bytes(b"cached")
    assert guests.path("riscv64/Image") == cache / "riscv64" / "Image"
    assert guests.main(["path", "riscv64/Image"]) == 0
    assert capsys.readouterr().out == f"{cache / 'riscv64' / 'Image'}\n"
    assert (cache / "riscv64" / "Image").read_bytes() == b"cached"


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert guests.main(["list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ALL


# -- fetching -------------------------------------------------------------------------------------


def test_path_copies_from_the_shared_folder(dirs, no_subprocess, capsys) -> None:
    cache, _ = dirs
    for name in ("riscv64/Image", "riscv64/initramfs.cpio.gz", "riscv64/fw_jump.bin"):
        assert guests.main(["path", name]) == 0
        assert capsys.readouterr().out == f"{cache / name}\n"
        assert (cache / name).read_bytes() == content(name)
    # the kernel and its config come as a pair
    assert (cache / "riscv64" / "config").read_bytes() == content("riscv64/config")


def test_fetch_fills_the_cache_then_does_nothing(dirs, no_subprocess, capsys) -> None:
    cache, _ = dirs
    assert guests.main(["fetch"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split() for line in out] == [[n, str(cache / n)] for n in ALL]
    for name in ALL:
        assert (cache / name).read_bytes() == content(name), name
        mode = stat.S_IMODE((cache / name).stat().st_mode)
        assert mode == (0o755 if name.endswith("busybox") else 0o644), name
    assert not [p for p in cache.rglob("*.tmp")], "temporary files left behind"
    before = snapshot(cache)
    assert guests.main(["fetch"]) == 0
    assert snapshot(cache) == before


def test_fetch_reports_failures_and_goes_on(dirs, monkeypatch, capsys) -> None:
    cache, shared = dirs
    (shared / "riscv64" / "Image").chmod(0o644)
    (shared / "riscv64" / "Image").unlink()

    def no_build(cache: Path) -> tuple[Path, Path]:
        raise guests.GuestError("no kernel today")

    monkeypatch.setattr(guests, "_build_riscv64_linux", no_build)
    assert guests.main(["fetch"]) == 1
    out, err = capsys.readouterr()
    assert "riscv64/Image: no kernel today" in err
    assert "riscv64/initramfs.cpio.gz" in out
    assert (cache / "riscv64" / "fw_dynamic.bin").exists()
    assert not (cache / "riscv64" / "Image").exists()


def test_kernel_pair_is_built_together(dirs, monkeypatch, tmp_path: Path) -> None:
    """With only half of the pair in the shared folder, both files come from one build, once."""
    cache, shared = dirs
    (shared / "riscv64" / "config").chmod(0o644)
    (shared / "riscv64" / "config").unlink()
    built = tmp_path / "built"
    built.mkdir()
    (built / "Image").write_bytes(b"built Image")
    (built / ".config").write_bytes(b"CONFIG_SOC_VIRT=y\n")
    calls = []

    def fake_build(c: Path) -> tuple[Path, Path]:
        calls.append(c)
        return built / "Image", built / ".config"

    monkeypatch.setattr(guests, "_build_riscv64_linux", fake_build)
    assert guests.path("riscv64/config").read_bytes() == b"CONFIG_SOC_VIRT=y\n"
    assert guests.path("riscv64/Image").read_bytes() == b"built Image"
    assert calls == [cache]


def test_shared_folder_beside_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYQEMU_SHARED_GUESTS", str(tmp_path))
    assert guests.shared_guests() == tmp_path
    monkeypatch.delenv("PYQEMU_SHARED_GUESTS")
    default = guests.REPO_ROOT.parent / "shared" / "guests"
    assert guests.shared_guests() == (default if default.is_dir() else None)


def test_missing_build_tools_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    missing = ("flex", "riscv64-linux-gnu-gcc")
    monkeypatch.setattr(shutil, "which", lambda t: None if t in missing else real_which(t))
    with pytest.raises(guests.GuestError) as info:
        guests._need_tools("Linux for riscv64", guests.LINUX_TOOLS)
    assert "apt-get install gcc-riscv64-linux-gnu flex" in str(info.value)
    assert isinstance(info.value, OSError)  # the test fixtures skip on OSError


def test_make_progress_and_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(guests, "PROGRESS_EVERY", 0.0)
    script = "for f in a b c; do echo \"  CC      kernel/$f.o\"; done"
    guests._make_with_progress(["sh", "-c", script], tmp_path, tmp_path / "ok.log")
    err = capsys.readouterr().err
    assert "linux: compiling" in err and "3 steps done" in err
    assert (tmp_path / "ok.log").read_text().count("CC") == 3
    with pytest.raises(guests.GuestError, match=r"(?s)status 2.*kernel/x.c:1: error"):
        guests._make_with_progress(["sh", "-c", "echo kernel/x.c:1: error; exit 2"], tmp_path,
                                   tmp_path / "bad.log")


def test_fragment_mismatches() -> None:
    fragment = "CONFIG_A=y\nCONFIG_B=n\nCONFIG_C=8\n# comment\n"
    assert guests.fragment_mismatches(fragment, "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=8\n") == []
    assert guests.fragment_mismatches(fragment, "CONFIG_B=y\nCONFIG_C=4\n") == [
        "CONFIG_A=y not honoured", "CONFIG_B is set", "CONFIG_C=8 not honoured"]


def test_kernel_fragment_matches_the_reference_script() -> None:
    script = REFERENCE / "build-riscv64-kernel.sh"
    if not script.exists():
        pytest.skip("no reference scripts")
    text = script.read_text()
    frag = text.split("<<'FRAG'\n", 1)[1].split("\nFRAG\n", 1)[0] + "\n"
    assert guests.LINUX_FRAGMENT == frag


# -- the riscv64 initramfs ------------------------------------------------------------------------


def parse_newc(data: bytes) -> list[tuple[str, int, int, bytes]]:
    """(name, mode, nlink, data) of each member, checking the format as the kernel's unpacker does."""
    out, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701", f"bad magic at {pos}"
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, uid, gid, nlink, mtime, size, _, _, _, _, namesize, check = f
        assert (uid, gid, check) == (0, 0, 0)
        name = data[pos + 110:pos + 110 + namesize]
        assert name.endswith(b"\0")
        pos = (pos + 110 + namesize + 3) & ~3
        body = data[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == b"TRAILER!!!\0":
            assert not data[pos:].strip(b"\0")  # GNU cpio pads to 512-byte blocks
            return out
        out.append((name[:-1].decode(), mode, nlink, body))


EXPECTED_NAMES = [".", "bin", "bin/busybox", "bin/sh", "dev", "init", "mnt", "proc", "sbin", "sys", "tmp",
                  "usr", "usr/bin", "usr/sbin"]


def test_newc_archive_layout() -> None:
    members = parse_newc(guests.newc_archive(guests.initramfs_entries(b"\x7fELF busybox")))
    assert [m[0] for m in members] == EXPECTED_NAMES
    by_name = {m[0]: m for m in members}
    assert by_name["init"][1] == stat.S_IFREG | 0o755
    assert by_name["init"][3].decode() == guests.INIT_SCRIPT
    assert by_name["bin/busybox"][3] == b"\x7fELF busybox"
    assert by_name["bin/sh"][1] == stat.S_IFLNK | 0o777 and by_name["bin/sh"][3] == b"busybox"
    assert by_name["usr"][2] == 4 and by_name["bin"][2] == 2  # nlink counts subdirectories
    for name in ("proc", "sys", "dev", "tmp", "mnt", "sbin", "usr/bin", "usr/sbin"):
        assert by_name[name][1] == stat.S_IFDIR | 0o755


def cpio_lister() -> list[str]:
    if shutil.which("cpio"):
        return ["cpio"]
    if shutil.which("busybox"):
        return ["busybox", "cpio"]
    pytest.skip("neither cpio nor busybox is installed")


def test_initramfs_is_packed_from_busybox(dirs, tmp_path: Path) -> None:
    """Without a shared initramfs, the cache's busybox is packed; cpio lists and extracts the result."""
    cache, shared = dirs
    (shared / "riscv64" / "initramfs.cpio.gz").chmod(0o644)
    (shared / "riscv64" / "initramfs.cpio.gz").unlink()
    packed = guests.path("riscv64/initramfs.cpio.gz")
    data = gzip.decompress(packed.read_bytes())
    cpio = cpio_lister()
    listing = subprocess.run([*cpio, "-t"], input=data, capture_output=True, check=True).stdout.decode()
    assert sorted(listing.split()) == sorted(EXPECTED_NAMES)
    out = tmp_path / "root"
    out.mkdir()
    subprocess.run([*cpio, "-i", "-d"], input=data, cwd=out, capture_output=True, check=True)
    assert (out / "init").read_text() == guests.INIT_SCRIPT
    assert (out / "init").stat().st_mode & 0o111
    assert (out / "bin" / "busybox").read_bytes() == content("riscv64/busybox")
    assert (out / "bin" / "sh").readlink() == Path("busybox")
    # the same busybox gives the same bytes
    first = packed.read_bytes()
    guests.pack_initramfs(cache / "riscv64" / "busybox", tmp_path / "again.cpio.gz")
    assert (tmp_path / "again.cpio.gz").read_bytes() == first


def test_init_script() -> None:
    lines = guests.INIT_SCRIPT.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "echo GUEST-READY" in lines and "uname -a" in lines
    assert any(ln.startswith('echo "cpus: ') and "block: " in ln for ln in lines)
    assert "if grep -qw shell /proc/cmdline; then" in lines
    assert lines[-1] == "poweroff -f"
    assert lines.index("echo GUEST-READY") < lines.index("uname -a") < lines.index("poweroff -f")
    subprocess.run(["sh", "-n"], input=guests.INIT_SCRIPT.encode(), check=True)


def test_init_script_matches_the_reference() -> None:
    script = REFERENCE / "build-riscv64-initramfs.sh"
    if not script.exists():
        pytest.skip("no reference scripts")
    heredoc = script.read_text().split("<<'INIT'\n", 1)[1].split("\nINIT\n", 1)[0] + "\n"
    assert guests.INIT_SCRIPT == heredoc
    prebuilt = REFERENCE / "riscv64" / "initramfs.cpio.gz"
    if prebuilt.exists():
        members = {m[0]: m for m in parse_newc(gzip.decompress(prebuilt.read_bytes()))}
        assert members["init"][3].decode() == guests.INIT_SCRIPT
        assert sorted(members) == EXPECTED_NAMES


# -- Debian's amd64 kernels and their modules ------------------------------------------------------------


def fake_module(name: str, depends: str) -> bytes:
    """A little-endian ELF64 relocatable object whose only contents are .modinfo and the section names."""
    modinfo = f"license=GPL\0depends={depends}\0name={name}\0vermagic=6.1.0-test SMP\0".encode()
    names = b"\0.modinfo\0.shstrtab\0"
    shoff = 64 + len(modinfo) + len(names)
    header = (b"\x7fELF\x02\x01\x01".ljust(16, b"\0")
              + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2))
    sections = [bytes(64),
                struct.pack("<IIQQQQIIQQ", 1, 1, 2, 0, 64, len(modinfo), 0, 0, 1, 0),
                struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, 64 + len(modinfo), len(names), 0, 0, 1, 0)]
    return header + modinfo + names + b"".join(sections)


#: file name -> depends= of the fake modules (virtio-rng.ko is module virtio_rng, as in Debian's tree)
FAKE_MODULES = {
    "drivers/virtio/virtio_ring.ko": "",
    "drivers/virtio/virtio.ko": "virtio_ring",
    "drivers/virtio/virtio_pci_modern_dev.ko": "",
    "drivers/virtio/virtio_pci_legacy_dev.ko": "",
    "drivers/virtio/virtio_pci.ko": "virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio",
    "drivers/block/virtio_blk.ko": "virtio,virtio_ring",
    "drivers/char/hw_random/virtio-rng.ko": "virtio,virtio_ring",
    "drivers/net/ethernet/intel/e1000/e1000.ko": "",
    "drivers/net/virtio_net.ko": "net_failover,virtio,virtio_ring",
}


def fake_modules(root: Path, leave_out: tuple[str, ...] = ()) -> Path:
    for path, depends in FAKE_MODULES.items():
        name = Path(path).name.removesuffix(".ko").replace("-", "_")
        if name not in leave_out:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(fake_module(name, depends))
    return root


def test_modinfo_of_a_module() -> None:
    info = guests.modinfo(fake_module("virtio_blk", "virtio,virtio_ring"))
    assert info == {"license": "GPL", "depends": "virtio,virtio_ring", "name": "virtio_blk",
                    "vermagic": "6.1.0-test SMP"}
    with pytest.raises(guests.GuestError, match="ELF64"):
        guests.modinfo(b"\x7fELF\x01\x01" + bytes(64))


def test_modules_in_load_order(tmp_path: Path) -> None:
    root = fake_modules(tmp_path)
    order = [ko.name for ko in guests.modules_in_load_order(root, guests.KERNEL_MODULES)]
    assert order == ["virtio_ring.ko", "virtio_pci_modern_dev.ko", "virtio_pci_legacy_dev.ko", "virtio.ko",
                     "virtio_pci.ko", "virtio_blk.ko", "virtio-rng.ko", "e1000.ko"]
    # a wanted module the kernel does not have as a module (built in, not configured) is left out
    assert "e1000.ko" not in [ko.name for ko in guests.modules_in_load_order(
        fake_modules(tmp_path / "cloud", leave_out=("e1000",)), guests.KERNEL_MODULES)]
    # a dependency that is missing is an error
    with pytest.raises(guests.GuestError, match="virtio_net needs net_failover"):
        guests.modules_in_load_order(root, ["virtio-net"])


def test_amd64_kernel_from_the_debian_package(dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the shared files, the kernel, its config and its modules come from one Debian package (the
    -unsigned build apt-cache names), and the unpacked tree is removed afterwards."""
    cache, shared = dirs
    for name in AMD64_KERNELS[:3]:
        (shared / name).chmod(0o644)
    (shared / "amd64" / "modules.tar").unlink()  # the shared folder has no modules: the trio is produced
    pkg = "linux-image-6.1.0-9-cloud-amd64"
    asked = []

    def apt_cache(*args: str) -> subprocess.CompletedProcess[str]:
        asked.append(args)
        if args == ("depends", "linux-image-cloud-amd64"):
            return subprocess.CompletedProcess(args, 0, f"linux-image-cloud-amd64\n  Depends: {pkg}\n", "")
        return subprocess.CompletedProcess(args, 0 if args == ("show", f"{pkg}-unsigned") else 100, "", "")

    monkeypatch.setattr(guests, "_apt_cache", apt_cache)
    tree = cache / "x" / f"{pkg}-unsigned"  # as _apt_download leaves it
    (tree / "boot").mkdir(parents=True)
    (tree / "boot" / "vmlinuz-6.1.0-9-cloud-amd64").write_bytes(b"bzImage")
    (tree / "boot" / "config-6.1.0-9-cloud-amd64").write_bytes(b"# CONFIG_E1000 is not set\n")
    fake_modules(tree / "lib" / "modules" / "6.1.0-9-cloud-amd64" / "kernel", leave_out=("e1000",))
    assert guests.path("amd64/config").read_bytes() == b"# CONFIG_E1000 is not set\n"
    assert (cache / "amd64" / "bzImage").read_bytes() == b"bzImage"
    assert asked == [("depends", "linux-image-cloud-amd64"), ("show", f"{pkg}-unsigned")]
    assert not tree.exists()
    with tarfile.open(cache / "amd64" / "modules.tar") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["virtio_ring.ko", "virtio_pci_modern_dev.ko",
                                             "virtio_pci_legacy_dev.ko", "virtio.ko", "virtio_pci.ko",
                                             "virtio_blk.ko", "virtio_rng.ko"]
        assert {(m.uid, m.gid, m.mtime, m.mode) for m in members} == {(0, 0, 0, 0o644)}
        data = tar.extractfile("virtio_rng.ko").read()
    assert guests.modinfo(data)["name"] == "virtio_rng"


def test_kernel_package_names(monkeypatch: pytest.MonkeyPatch) -> None:
    def apt_cache(*args: str) -> subprocess.CompletedProcess[str]:
        out = "linux-image-amd64\n  Depends: linux-image-6.1.0-9-amd64\n" if args[0] == "depends" else ""
        return subprocess.CompletedProcess(args, 0 if args[0] == "depends" else 100, out, "")

    monkeypatch.setattr(guests, "_apt_cache", apt_cache)
    assert guests.debian_kernel_package("amd64") == "linux-image-6.1.0-9-amd64"  # no -unsigned build
    monkeypatch.setattr(guests, "_apt_cache", lambda *a: subprocess.CompletedProcess(a, 0, "", ""))
    with pytest.raises(guests.GuestError, match="no kernel package behind linux-image-amd64"):
        guests.debian_kernel_package("amd64")


def test_modules_in_an_initramfs(tmp_path: Path) -> None:
    tar_path = tmp_path / "modules.tar"
    kos = guests.modules_in_load_order(fake_modules(tmp_path / "tree"), ["virtio_blk", "e1000"])
    guests._pack_modules(kos, tar_path)
    extra = guests.module_entries(tar_path)
    members = {m[0]: m for m in parse_newc(guests.newc_archive(
        guests.initramfs_entries(b"busybox", "#!/bin/sh\n", extra)))}
    assert sorted(members) == sorted([*EXPECTED_NAMES, "etc", "etc/modules", "lib", "lib/modules",
                                      "lib/modules/virtio_ring.ko", "lib/modules/virtio.ko",
                                      "lib/modules/virtio_blk.ko", "lib/modules/e1000.ko"])
    assert members["etc/modules"][3] == b"virtio_ring\nvirtio\nvirtio_blk\ne1000\n"
    assert members["lib/modules/e1000.ko"][3] == fake_module("e1000", "")
    assert members["lib/modules"][1] == stat.S_IFDIR | 0o755 and members["lib"][2] == 3
