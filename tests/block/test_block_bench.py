"""The image conversion bench (``python -m pyqemu.tools.bench_img``, issue 4's ``make bench``) runs."""

from __future__ import annotations

import os

from conftest import HAVE_QEMU

from pyqemu.tools import bench_img


def test_bench_img_small(tmp_path, capsys):
    status = bench_img.main(["--size", "8M", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    for name in ("raw -> qcow2 ", "raw -> qcow2 -c", "qcow2 -> raw"):
        row = next(line for line in lines if line.startswith(name))
        assert row.count("MB/s") == (2 if HAVE_QEMU else 1) and "!" not in row
        if HAVE_QEMU:
            assert row.rstrip().endswith("x")
    assert os.path.getsize(tmp_path / "source.raw") == 8 << 20


def test_bench_source_has_mixed_content(tmp_path):
    path = str(tmp_path / "s.raw")
    bench_img.make_source(path, 32 << 20)
    with open(path, "rb") as f:
        chunks = [f.read(1 << 20) for _ in range(32)]
    zero = bytes(1 << 20)
    assert any(c == zero for c in chunks) and any(c != zero for c in chunks)
    assert len(set(chunks)) > 8  # data, patterns and mixes, not one repeated block
