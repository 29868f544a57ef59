"""Shared helpers for the block tests: run pyqemu-img in-process and the reference qemu-img."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from pyqemu.tools import img

QEMU_IMG = shutil.which("qemu-img") or "/usr/bin/qemu-img"
QEMU_IO = shutil.which("qemu-io") or "/usr/bin/qemu-io"
HAVE_QEMU = os.path.exists(QEMU_IMG)

needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="reference qemu-img not installed")


@dataclass
class Result:
    status: int
    out: str
    err: str


def pyimg(*args: str) -> Result:
    """Run pyqemu-img in this process."""
    out, errs = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(errs):
        status = img.main([str(a) for a in args])
    return Result(status, out.getvalue(), errs.getvalue())


def qemu_img(*args: str, check: bool = False) -> Result:
    """Run the reference qemu-img."""
    proc = subprocess.run([QEMU_IMG, *map(str, args)], capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise AssertionError(f"qemu-img {args} failed: {proc.stderr}")
    return Result(proc.returncode, proc.stdout, proc.stderr)


def qemu_io(image: str, *commands: str, fmt: str = "qcow2") -> None:
    """Run qemu-io commands against an image."""
    args = [QEMU_IO, "-f", fmt]
    for command in commands:
        args += ["-c", command]
    proc = subprocess.run([*args, str(image)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "error" not in proc.stdout.lower(), proc.stdout + proc.stderr


def qemu_info(image: str) -> dict:
    return json.loads(qemu_img("info", "--output=json", image, check=True).out)


def qemu_raw(image: str, dest: str) -> bytes:
    """The guest contents of ``image`` as qemu-img converts them to raw."""
    qemu_img("convert", "-O", "raw", image, dest, check=True)
    with open(dest, "rb") as f:
        return f.read()


def assert_qemu_clean(image: str) -> None:
    res = qemu_img("check", image)
    assert res.status == 0, res.out + res.err
    assert "No errors were found" in res.out
