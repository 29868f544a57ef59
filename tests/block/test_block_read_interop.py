"""Images written by the reference qemu-img/qemu-io are read byte for byte like qemu-img reads them."""

from __future__ import annotations

import pytest
from conftest import needs_qemu, qemu_img, qemu_io, qemu_raw

from pyqemu.block.registry import open_image, probe_format

pytestmark = needs_qemu
MiB = 1 << 20


def read_all(path: str) -> bytes:
    drv = open_image(path)
    try:
        return drv.read(0, drv.size)
    finally:
        drv.close()


WRITES = ("write -P 0x11 0 100k", "write -P 0x22 700k 300k", "write -z 1M 128k", "write -P 0x33 1100k 4k",
          "write -P 0x44 3M 64k")


@pytest.mark.parametrize("opts", ["compat=0.10", "compat=1.1", "cluster_size=4096", "cluster_size=512",
                                  "refcount_bits=1", "refcount_bits=8", "refcount_bits=64",
                                  "cluster_size=2M", "lazy_refcounts=on"])
def test_reads_qemu_images(tmp_path, opts):
    image = str(tmp_path / "a.qcow2")
    qemu_img("create", "-f", "qcow2", "-o", opts, image, "4M", check=True)
    qemu_io(image, *WRITES)
    assert probe_format(image) == "qcow2"
    assert read_all(image) == qemu_raw(image, str(tmp_path / "a.raw"))


def test_reads_compressed_and_zero_clusters(tmp_path):
    src = str(tmp_path / "src.qcow2")
    qemu_img("create", "-f", "qcow2", src, "4M", check=True)
    qemu_io(src, "write -P 0x5a 0 1M", "write -P 0x11 1M 300k", "write -P 0x77 2M 10k")
    comp = str(tmp_path / "c.qcow2")
    qemu_img("convert", "-c", "-O", "qcow2", src, comp, check=True)
    qemu_io(comp, "write -z 0 64k", "write -z 2M 8k")
    info = qemu_img("check", "--output=json", comp).out
    assert '"compressed-clusters"' in info
    assert read_all(comp) == qemu_raw(comp, str(tmp_path / "c.raw"))


def test_reads_backing_chain_of_mixed_formats(tmp_path):
    raw = str(tmp_path / "base.raw")
    qemu_img("create", "-f", "raw", raw, "3M", check=True)
    qemu_io(raw, "write -P 1 0 3M", fmt="raw")
    mid = str(tmp_path / "mid.qcow2")
    qemu_img("create", "-f", "qcow2", "-o", "compat=0.10", "-b", raw, "-F", "raw", mid, "4M", check=True)
    qemu_io(mid, "write -P 2 1M 512k", "write -P 9 3M 512k")
    top = str(tmp_path / "top.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top, check=True)
    qemu_io(top, "write -P 3 1200k 4k", "write -z 0 64k", "write -z 3M 8k")
    drv = open_image(top)
    try:
        assert [layer.format_name for layer in drv.chain()] == ["qcow2", "qcow2", "raw"]
    finally:
        drv.close()
    assert read_all(top) == qemu_raw(top, str(tmp_path / "top.raw"))


def test_reads_snapshots_made_by_qemu(tmp_path):
    image = str(tmp_path / "s.qcow2")
    qemu_img("create", "-f", "qcow2", image, "2M", check=True)
    qemu_io(image, "write -P 1 0 1M")
    qemu_img("snapshot", "-c", "first", image, check=True)
    qemu_io(image, "write -P 2 512k 1M")
    qemu_img("snapshot", "-c", "second", image, check=True)
    qemu_io(image, "write -z 0 2M")
    drv = open_image(image)
    try:
        assert [sn.name for sn in drv.snapshot_list()] == ["first", "second"]
        assert drv.read(0, drv.size) == bytes(2 * MiB)
        drv.snapshot_goto("first")
        assert drv.read(0, drv.size) == b"\1" * MiB + bytes(MiB)
    finally:
        drv.close()
    assert qemu_img("check", image).status == 0
    assert read_all(image) == qemu_raw(image, str(tmp_path / "s.raw"))


def test_raw_probe(tmp_path):
    path = tmp_path / "r.img"
    path.write_bytes(b"\xab" * 4096)
    assert probe_format(str(path)) == "raw"
    assert read_all(str(path)) == b"\xab" * 4096
