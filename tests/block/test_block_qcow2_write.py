"""qcow2 writes made here: random I/O against a model, snapshots, lazy refcounts; judged by qemu-img.

Crash safety (kill -9 of writers) is tested in test_block_crash.py.
"""

from __future__ import annotations

import random

import pytest
from conftest import assert_qemu_clean, needs_qemu, pyimg, qemu_img, qemu_raw

from pyqemu.block.errors import BlockError
from pyqemu.block.registry import create_image, open_image

pytestmark = needs_qemu
SIZE = 4 << 20


def random_io(drv, model: bytearray, rnd: random.Random, ops: int) -> None:
    size = len(model)
    for _ in range(ops):
        op = rnd.random()
        off = rnd.randrange(size)
        n = rnd.randrange(1, min(200_000, size - off) + 1)
        if op < 0.55:
            data = bytes([rnd.randrange(1, 256)]) * n
            drv.write(off, data)
            model[off:off + n] = data
        elif op < 0.7:
            drv.write_zeroes(off, n)
            model[off:off + n] = bytes(n)
        elif op < 0.82:
            cs = drv.cluster_size
            off = off // cs * cs
            n = min(cs, size - off)
            data = (bytes([rnd.randrange(256)]) * 200 + rnd.randbytes(64)).ljust(n, b"\0")[:n]
            drv.write_compressed(off, data)
            model[off:off + n] = data
        elif op < 0.9:
            drv.discard(off, n)
            model[off:off + n] = drv.read(off, n)
        else:
            assert drv.read(off, n) == model[off:off + n]


@pytest.mark.parametrize("seed,opts", [
    (1, {}), (2, {"compat": "0.10"}), (3, {"cluster_size": "4096"}), (4, {"refcount_bits": "1"}),
    (5, {"refcount_bits": "64", "cluster_size": "512"}), (6, {"lazy_refcounts": "on"}),
    (7, {"refcount_bits": "2", "cluster_size": "1024"}),
])
def test_random_io_matches_model(tmp_path, seed, opts):
    image = str(tmp_path / "a.qcow2")
    create_image(image, "qcow2", SIZE, dict(opts))
    model = bytearray(SIZE)
    drv = open_image(image)
    random_io(drv, model, random.Random(seed), 150)
    assert drv.read(0, SIZE) == model
    drv.close()
    raw = tmp_path / "model.raw"
    raw.write_bytes(model)
    assert_qemu_clean(image)
    assert qemu_img("compare", image, str(raw)).status == 0


def test_writes_over_backing_chain(tmp_path):
    base = str(tmp_path / "base.qcow2")
    qemu_img("create", "-f", "qcow2", base, "4M", check=True)
    drv = open_image(base)
    drv.write(0, b"\x01" * SIZE)
    drv.close()
    top = str(tmp_path / "top.qcow2")
    assert pyimg("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top).status == 0
    model = bytearray(b"\x01" * SIZE)
    drv = open_image(top)
    random_io(drv, model, random.Random(11), 80)
    drv.close()
    assert_qemu_clean(top)
    assert qemu_raw(top, str(tmp_path / "top.raw")) == model


def test_snapshots_roundtrip_with_qemu(tmp_path):
    image = str(tmp_path / "s.qcow2")
    create_image(image, "qcow2", SIZE, {})
    rnd = random.Random(5)
    model = bytearray(SIZE)
    drv = open_image(image)
    random_io(drv, model, rnd, 40)
    drv.snapshot_create("one")
    saved_one = bytes(model)
    random_io(drv, model, rnd, 40)
    drv.snapshot_create("two")
    saved_two = bytes(model)
    random_io(drv, model, rnd, 40)
    drv.close()
    assert_qemu_clean(image)
    listing = qemu_img("snapshot", "-l", image).out
    assert "one" in listing and "two" in listing
    assert pyimg("snapshot", "-a", "one", image).status == 0
    assert_qemu_clean(image)
    assert qemu_raw(image, str(tmp_path / "1.raw")) == saved_one
    qemu_img("snapshot", "-a", "two", image, check=True)
    drv = open_image(image)
    assert drv.read(0, SIZE) == saved_two
    drv.snapshot_delete("one")
    drv.close()
    assert_qemu_clean(image)
    assert pyimg("snapshot", "-d", "two", image).status == 0
    assert_qemu_clean(image)
    assert qemu_raw(image, str(tmp_path / "2.raw")) == saved_two
    res = pyimg("check", image)
    assert res.status == 0, res.out + res.err


def test_lazy_refcounts_dirty_image_is_repaired_on_open(tmp_path):
    image = str(tmp_path / "l.qcow2")
    create_image(image, "qcow2", SIZE, {"lazy_refcounts": "on"})
    drv = open_image(image)
    drv.write(0, b"x" * 300_000)
    drv.file.close()  # simulate a crash: no clean close, deferred refcounts never written
    info = pyimg("info", "--output=json", image)
    assert '"dirty-flag": true' in info.out
    assert "cleanly shut down: no" in pyimg("info", image).out
    drv = open_image(image)  # read-write open repairs and clears the dirty bit
    assert drv.read(0, 300_000) == b"x" * 300_000
    drv.close()
    assert_qemu_clean(image)


def test_failed_snapshot_changes_nothing(tmp_path):
    image = str(tmp_path / "r1.qcow2")
    create_image(image, "qcow2", SIZE, {"refcount_bits": "1"})
    drv = open_image(image)
    drv.write(0, b"d" * 100_000)
    with pytest.raises(BlockError, match="Refcount overflow"):
        drv.snapshot_create("no room")  # 1-bit refcounts cannot count a second reference
    drv.close()
    assert_qemu_clean(image)
    drv = open_image(image, readonly=True)
    assert drv.snapshot_list() == [] and drv.read(0, 100_000) == b"d" * 100_000
    drv.close()


def test_snapshot_operations_run_under_the_dirty_bit(tmp_path, monkeypatch):
    image = str(tmp_path / "s.qcow2")
    create_image(image, "qcow2", SIZE, {"cluster_size": "4096"})
    drv = open_image(image)
    drv.write(0, b"a" * 200_000)
    drv.snapshot_create("one")
    assert not drv.header.incompatible_features & 1  # cleared once the operation is complete

    def crash(_drv, _name):  # stands for a process killed half-way through
        _drv.refcounts.update(_drv.map.get(0) >> 12, 1, +1)
        raise KeyboardInterrupt

    monkeypatch.setattr("pyqemu.block.qcow2.snapshots.delete", crash)
    with pytest.raises(KeyboardInterrupt):
        drv.snapshot_delete("one")
    drv.close()
    assert '"dirty-flag": true' in pyimg("info", "--output=json", image).out
    drv = open_image(image)  # repaired on open
    drv.close()
    assert_qemu_clean(image)
    assert '"dirty-flag": false' in pyimg("info", "--output=json", image).out
