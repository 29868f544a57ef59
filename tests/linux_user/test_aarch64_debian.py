"""Dynamically linked Debian arm64 programs under ``pyqemu-aarch64 -L SYSROOT``: each sysroot is
Debian's arm64 packages (libc6, libssl3 and openssl; gzip; python3.11) unpacked by ``pyqemu-guests
sysroot`` (never installed).  ``openssl
dgst -sha256``/``-sha1`` and ``openssl enc -aes-128-cbc`` must print what the host's openssl prints on
the same input, and a ``-d in_asm`` trace shows that the crypto instructions (SHA256H, SHA1C, AESE) are
the code that ran, which they are only because AT_HWCAP advertises them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyqemu.tools import guests

pytestmark = pytest.mark.slow

LAUNCH = [sys.executable, "-c",
          "import sys; from pyqemu.linux_user.main import main_aarch64; sys.exit(main_aarch64())"]
KEY, IV = "000102030405060708090a0b0c0d0e0f", "0f0e0d0c0b0a09080706050403020100"


@pytest.fixture(scope="module")
def sysroot() -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("the host's openssl (the reference) is not installed")
    try:
        return guests.sysroot("arm64", ["libc6", "libssl3", "openssl"])
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"Debian's arm64 packages could not be fetched: {exc}")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openssl") / "input.bin"
    path.write_bytes(bytes((i * 131 + i // 7) & 0xFF for i in range(200_000)))
    return path


def _guest(sysroot: Path, *args: str, log: Path | None = None) -> bytes:
    trace = ["-d", "in_asm", "-D", str(log)] if log else []
    result = subprocess.run([*LAUNCH, "-L", str(sysroot), *trace, str(sysroot / "usr/bin/openssl"), *args],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _host(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], capture_output=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("digest,insn", [("-sha256", "sha256h"), ("-sha1", "sha1c")])
def test_dgst(sysroot: Path, data: Path, tmp_path: Path, digest: str, insn: str) -> None:
    log = tmp_path / "in_asm.log"
    assert _guest(sysroot, "dgst", digest, str(data), log=log) == _host("dgst", digest, str(data))
    assert f" {insn} " in log.read_text()


def test_enc_aes_128_cbc(sysroot: Path, data: Path, tmp_path: Path) -> None:
    log = tmp_path / "in_asm.log"
    args = ("enc", "-aes-128-cbc", "-K", KEY, "-iv", IV, "-in", str(data))
    assert _guest(sysroot, *args, log=log) == _host(*args)
    assert " aese " in log.read_text()


def test_gzip_round_trip(data: Path, tmp_path: Path) -> None:
    """Debian's arm64 gzip -9 compresses what the host's gzip decompresses, and the reverse."""
    root = guests.sysroot("arm64", ["libc6", "gzip"])
    gzip = [*LAUNCH, "-L", str(root), str(root / "bin/gzip")]
    packed = subprocess.run([*gzip, "-9", "-c", str(data)], capture_output=True, check=True,
                            timeout=300).stdout
    assert subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True).stdout == \
        data.read_bytes()
    host_packed = subprocess.run(["gzip", "-9", "-c", str(data)], capture_output=True, check=True).stdout
    assert subprocess.run([*gzip, "-dc"], input=host_packed, capture_output=True, check=True,
                          timeout=300).stdout == data.read_bytes()


def test_python3_runs_a_script() -> None:
    """Debian's arm64 python3.11 (with its site module, zlib and the minimal standard library)."""
    root = guests.sysroot("arm64", ["libc6", "zlib1g", "libexpat1", "python3.11-minimal",
                                    "libpython3.11-minimal"])
    script = ("import sys, zlib\nd = zlib.compress(b'pyqemu' * 1000)\n"
              "print(len(d), zlib.decompress(d)[:6].decode(), sys.platform, sum(i * i for i in range(1000)))")
    result = subprocess.run([*LAUNCH, "-L", str(root), str(root / "usr/bin/python3.11"), "-c", script],
                            capture_output=True, text=True, timeout=600)
    expected = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout
    assert (result.returncode, result.stdout) == (0, expected), result.stderr
