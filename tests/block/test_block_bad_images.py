"""Damaged or unsupported images (issue 4, "bad input"): a clear one-line error, never a traceback.

Truncated files, damaged header fields, absurd sizes, L1/L2/refcount entries pointing past the end
of the file or at other metadata, corrupt compressed clusters and backing-file loops.  Read-only
use never changes the file (hashed before and after); a write that would land on metadata or
outside the image is refused, and the image marked corrupt as QEMU does.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess

import pytest
from conftest import HAVE_QEMU, QEMU_IO, pyimg, qemu_img, qemu_raw

from pyqemu.block.errors import BlockError
from pyqemu.block.registry import create_image, open_image


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / "x.qcow2")
    create_image(path, "qcow2", 4 << 20, {})
    return path


def patch(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_truncated_header(image):
    with open(image, "r+b") as f:
        f.truncate(50)
    res = pyimg("info", "-f", "qcow2", image)
    assert (res.status, res.err) == (1, f"qemu-img: Could not open '{image}': qcow2 header too short\n")


def test_bad_magic(image):
    patch(image, 0, b"QFIX")
    res = pyimg("info", "-f", "qcow2", image)
    assert res.err == f"qemu-img: Could not open '{image}': Image is not in qcow2 format\n"
    assert "file format: raw" in pyimg("info", image).out  # probing no longer sees qcow2


def test_bad_l1_offset(image):
    patch(image, 40, struct.pack(">Q", 0x30001))
    res = pyimg("check", image)
    expected = f"qemu-img: Could not open '{image}': Active L1 table offset invalid\n"
    assert (res.status, res.err) == (1, expected)


def test_unknown_incompatible_feature(image):
    patch(image, 72, struct.pack(">Q", 1 << 20))
    res = pyimg("info", image)
    assert res.err == (f"qemu-img: Could not open '{image}': Unsupported qcow2 feature(s): "
                       "Unknown incompatible feature: 100000\n")


def test_named_incompatible_feature_uses_feature_table(image):
    drv = open_image(image)
    drv.header.feature_names[(0, 5)] = "shiny"
    drv.close()
    patch(image, 72, struct.pack(">Q", 1 << 5))
    with pytest.raises(BlockError, match=r"Unsupported qcow2 feature\(s\): Unknown incompatible feature: 20"):
        open_image(image)


def test_unknown_version(image):
    patch(image, 4, struct.pack(">I", 4))
    assert "Unsupported qcow2 version 4" in pyimg("info", "-f", "qcow2", image).err


def test_corrupt_bit_refuses_read_write(image):
    patch(image, 72, struct.pack(">Q", 2))
    with pytest.raises(BlockError, match="Image is corrupt; cannot be opened read/write"):
        open_image(image)
    assert "corrupt: true" in pyimg("info", image).out
    assert pyimg("check", "-r", "all", image).status == 0
    assert "corrupt: false" in pyimg("info", image).out


def test_missing_file_and_missing_backing(tmp_path, image):
    missing = str(tmp_path / "nope.qcow2")
    res = pyimg("info", missing)
    reason = f"Could not open '{missing}': No such file or directory"
    expected = f"qemu-img: Could not open '{missing}': {reason}\n"
    assert res.err == expected
    top = str(tmp_path / "top.qcow2")
    create_image(top, "qcow2", 1 << 20, {"backing_file": "x.qcow2"})
    (tmp_path / "x.qcow2").unlink()
    res = pyimg("map", top)
    assert res.status == 1 and "Could not open backing file" in res.err


def test_unknown_header_extension_is_preserved(image):
    drv = open_image(image)
    drv.header.unknown_extensions.append((0x12345678, b"hello"))
    drv.write_header()
    drv.close()
    drv = open_image(image)
    drv.change_backing_file(None, None)
    drv.close()
    drv = open_image(image, readonly=True)
    assert drv.header.unknown_extensions == [(0x12345678, b"hello")]
    drv.close()


def test_out_of_range_io_is_an_error(image):
    drv = open_image(image)
    with pytest.raises(BlockError):
        drv.read(drv.size - 10, 20)
    drv.close()


# -- damaged headers and tables: a one-line error, and the file left as it was ---------------------
CS = 65536


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def data_image(tmp_path):
    """A 4 MiB v3 image with data in guest clusters 0-2: header, reftable at 64k, refblock at 128k,
    L1 at 192k, the L2 table at 256k and the data clusters after it."""
    path = str(tmp_path / "d.qcow2")
    create_image(path, "qcow2", 4 << 20, {})
    drv = open_image(path)
    drv.write(0, b"\x11" * (3 * CS))
    drv.close()
    return path


def layout(path: str) -> dict[str, int]:
    drv = open_image(path, readonly=True)
    try:
        hdr = drv.header
        l2 = drv.map.l1[0] & 0x00FFFFFFFFFFFE00
        return {"l1": hdr.l1_table_offset, "reftable": hdr.refcount_table_offset,
                "refblock": drv.refcounts.table[0], "l2": l2, "data0": drv.map.get(0) & 0x00FFFFFFFFFFFE00}
    finally:
        drv.close()


def read_only_commands(path: str, tmp: str) -> list[list[str]]:
    return [["info", "-f", "qcow2", path], ["info", "--output=json", "-f", "qcow2", path],
            ["check", "-f", "qcow2", path], ["map", "-f", "qcow2", path],
            ["convert", "-f", "qcow2", "-O", "raw", path, tmp], ["compare", "-f", "qcow2", path, path]]


def assert_clean_failure(res, command: str) -> None:
    """A failure as qemu-img reports one: exit status 1 (2 for compare, 2 or 3 for a check that
    found errors or leaks) and ``qemu-img:`` messages -- or check's own report lines."""
    assert "Traceback" not in res.err, res.err
    if command == "check" and res.status in (2, 3):
        return
    assert res.status == (2 if command == "compare" else 1), res
    assert res.err.startswith("qemu-img: ") and res.err.count("\n") == 1, res.err


HEADER_DAMAGE = [
    # (offset, struct format, value, message)
    (4, ">I", 1, "Unsupported qcow2 version 1"),
    (20, ">I", 8, "Unsupported cluster size: 2^8"),
    (20, ">I", 22, "Unsupported cluster size: 2^22"),
    (24, ">Q", 1 << 63, "Image is too big"),
    (24, ">Q", 1 << 62, "Image is too big"),
    (24, ">Q", 1 << 40, "L1 table is too small"),
    (32, ">I", 1, "Unsupported encryption method: 1"),
    (36, ">I", 1 << 31, "Active L1 table too large"),
    (40, ">Q", 0, "Active L1 table offset invalid"),
    (40, ">Q", 1 << 40, "Active L1 table offset invalid"),
    (48, ">Q", 0x10200, "Invalid reference count table offset"),
    (48, ">Q", 1 << 45, "Invalid reference count table offset"),
    (56, ">I", 0, "Image does not contain a reference count table"),
    (56, ">I", 1 << 30, "Reference count table too large"),
    (56, ">I", 100, "Invalid reference count table offset"),
    (60, ">I", 1 << 31, "Snapshot table too large"),
    (60, ">I", 1, "Snapshot table offset invalid"),
    (96, ">I", 7, "Reference count entry width too large; may not exceed 64 bits"),
    (100, ">I", 50, "qcow2 header too short"),
    (100, ">I", 1 << 20, "qcow2 header exceeds cluster size"),
    (8, ">QI", (60000, 5000), "Backing file name too long"),
    (104, ">II", (0x1234, 1 << 30), "Invalid extension length"),
]


@pytest.mark.parametrize("offset,fmt,value,message", HEADER_DAMAGE,
                         ids=[f"{m}@{o}" for o, _f, _v, m in HEADER_DAMAGE])
def test_damaged_header_field(tmp_path, data_image, offset, fmt, value, message):
    patch(data_image, offset, struct.pack(fmt, *(value if isinstance(value, tuple) else (value,))))
    before = digest(data_image)
    for args in read_only_commands(data_image, str(tmp_path / "out.raw")):
        res = pyimg(*args)
        assert res.status == (2 if args[0] == "compare" else 1), (args, res)
        assert res.err == f"qemu-img: Could not open '{data_image}': {message}\n", (args, res.err)
    with pytest.raises(BlockError, match=re.escape(message)):
        open_image(data_image, "qcow2")
    assert digest(data_image) == before


@pytest.mark.parametrize("length", [0, 3, 8, 71, 72, 103, 104, CS, 2 * CS + 100, 4 * CS - 8])
def test_truncated_image(tmp_path, data_image, length):
    with open(data_image, "r+b") as f:
        f.truncate(length)
    before = digest(data_image)
    failed = 0
    for args in read_only_commands(data_image, str(tmp_path / "out.raw")):
        res = pyimg(*args)
        if res.status:
            assert_clean_failure(res, args[0])
            failed += 1
    assert failed, "a truncated image went unnoticed"
    assert digest(data_image) == before


def test_snapshot_l1_table_outside_the_file(tmp_path, data_image):
    drv = open_image(data_image)
    drv.snapshot_create("one")
    table = drv.header.snapshots_offset
    drv.close()
    patch(data_image, table, struct.pack(">Q", 1 << 40))
    res = pyimg("snapshot", "-l", data_image)
    assert res.err == f"qemu-img: Could not open '{data_image}': Snapshot L1 table offset invalid\n"


def test_l1_entry_beyond_end_of_file(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["l1"], struct.pack(">Q", (1 << 40) | 1 << 63))
    before, size = digest(data_image), os.path.getsize(data_image)
    res = pyimg("convert", "-O", "raw", data_image, str(tmp_path / "o.raw"))
    assert res.status == 1
    assert res.err == ("qemu-img: qcow2: Image is corrupt: L2 table offset 0x10000000000 beyond the end of "
                       "the image file\n")
    res = pyimg("check", data_image)
    assert res.status == 2 and "exceeding the end of the file" in res.out + res.err
    assert digest(data_image) == before
    drv = open_image(data_image)
    with pytest.raises(BlockError, match="Marking image as corrupt: L2 table offset 0x10000000000") as exc:
        drv.write(0, b"x" * 100)
    assert exc.value.errno == 5
    with pytest.raises(BlockError, match="Image is corrupt; cannot be written"):
        drv.write(CS * 40, b"x")
    drv.close()
    assert os.path.getsize(data_image) == size  # nothing written out there
    with pytest.raises(BlockError, match="Image is corrupt; cannot be opened read/write"):
        open_image(data_image)
    if HAVE_QEMU:
        assert "corrupt: true" in qemu_img("info", data_image).out


def test_l2_entry_beyond_end_of_file(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["l2"] + 8, struct.pack(">Q", (1 << 40) | 1 << 63))
    before, size = digest(data_image), os.path.getsize(data_image)
    drv = open_image(data_image, readonly=True)
    data = drv.read(0, 3 * CS)  # like QEMU, a data cluster past EOF reads as zeros
    drv.close()
    assert data == b"\x11" * CS + bytes(CS) + b"\x11" * CS
    if HAVE_QEMU:
        assert qemu_raw(data_image, str(tmp_path / "q.raw"))[:3 * CS] == data
    assert digest(data_image) == before
    drv = open_image(data_image)
    with pytest.raises(BlockError, match="Data cluster offset 0x10000000000 beyond the end of the image"):
        drv.write(CS + 10, b"y" * 10)
    drv.close()
    assert os.path.getsize(data_image) == size


@pytest.mark.parametrize("target,what", [("reftable", "refcount table"), ("refblock", "refcount block"),
                                         ("l1", "active L1 table"), ("l2", "active L2 table")])
def test_l2_entry_pointing_at_metadata(tmp_path, data_image, target, what):
    lay = layout(data_image)
    patch(data_image, lay["l2"] + 8, struct.pack(">Q", lay[target] | 1 << 63))
    before = digest(data_image)
    for args in read_only_commands(data_image, str(tmp_path / "out.raw")):
        res = pyimg(*args)
        if res.status:
            assert_clean_failure(res, args[0])
    assert digest(data_image) == before
    with open(data_image, "rb") as f:
        f.seek(lay[target])
        metadata = f.read(CS)
    drv = open_image(data_image)
    with pytest.raises(BlockError) as exc:
        drv.write(CS + 512, b"z" * 512)
    drv.close()
    assert str(exc.value) == (f"qcow2: Marking image as corrupt: Preventing invalid write on metadata "
                              f"(overlaps with {what}); further corruption events will be suppressed")
    with open(data_image, "rb") as f:
        f.seek(lay[target])
        assert f.read(CS) == metadata
    assert "corrupt: true" in pyimg("info", data_image).out
    if HAVE_QEMU and target == "reftable":
        # qemu-io refuses the same write with the same words
        copy = str(tmp_path / "copy.qcow2")
        with open(copy, "wb") as f:
            f.write(bytearray(open(data_image, "rb").read()))
        patch(copy, 72, struct.pack(">Q", 0))
        proc = subprocess.run([QEMU_IO, "-c", "write 65536 512", copy], capture_output=True, text=True)
        assert str(exc.value) in proc.stderr


def test_refcount_table_entry_pointing_at_l1(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["reftable"], struct.pack(">Q", lay["l1"]))
    with open(data_image, "rb") as f:
        f.seek(lay["l1"])
        l1 = f.read(CS)
    drv = open_image(data_image)
    with pytest.raises(BlockError, match=r"overlaps with active L1 table"):
        drv.write(10 * CS, b"w" * CS)  # needs a new cluster: a refcount update into the L1 table
    drv.close()
    with open(data_image, "rb") as f:
        f.seek(lay["l1"])
        assert f.read(CS) == l1


def test_zero_refcount_on_l1_table_is_not_reallocated(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["refblock"] + 2 * (lay["l1"] // CS), struct.pack(">H", 0))
    with open(data_image, "rb") as f:
        f.seek(lay["l1"])
        l1 = f.read(CS)
    res = pyimg("check", data_image)
    assert res.status == 2 and "ERROR cluster 3 refcount=0 reference=1" in res.err
    drv = open_image(data_image)
    with pytest.raises(BlockError, match=r"overlaps with active L1 table"):
        drv.write(10 * CS, b"w" * CS)  # allocation finds "free" cluster 3, the L1 table
    drv.close()
    with open(data_image, "rb") as f:
        f.seek(lay["l1"])
        assert f.read(CS) == l1
    assert pyimg("check", "-r", "all", data_image).status == 0  # repairable: clean afterwards
    if HAVE_QEMU:
        assert qemu_img("check", data_image).status == 0


def test_refcount_block_beyond_end_of_file(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["reftable"], struct.pack(">Q", 1 << 40))
    size = os.path.getsize(data_image)
    drv = open_image(data_image, readonly=True)
    assert drv.read(0, CS) == b"\x11" * CS
    drv.close()
    drv = open_image(data_image)
    with pytest.raises(BlockError, match="Refblock offset 0x10000000000 beyond the end of the image file"):
        drv.write(10 * CS, b"w" * CS)
    drv.close()
    assert os.path.getsize(data_image) == size


def test_unaligned_data_cluster(tmp_path, data_image):
    lay = layout(data_image)
    patch(data_image, lay["l2"] + 8, struct.pack(">Q", (lay["data0"] + 512) | 1 << 63))
    drv = open_image(data_image, readonly=True)
    with pytest.raises(BlockError, match=r"Image is corrupt: Cluster allocation offset 0x\w+ unaligned"):
        drv.read(CS, 10)
    drv.close()


def test_corrupt_compressed_cluster_is_an_io_error(tmp_path, data_image):
    drv = open_image(data_image)
    drv.write_compressed(5 * CS, b"compressible" * 5000 + bytes(CS - 60000))
    drv.close()
    lay = layout(data_image)
    with open(data_image, "rb") as f:
        f.seek(lay["l2"] + 5 * 8)
        entry = struct.unpack(">Q", f.read(8))[0]
    host = entry & ((1 << 62) - 1) & ((1 << 54) - 1)
    patch(data_image, host, b"\xff" * 64)
    res = pyimg("convert", "-O", "raw", data_image, str(tmp_path / "o.raw"))
    assert (res.status, res.err) == (1, "qemu-img: Input/output error\n")


# -- backing file loops ----------------------------------------------------------------------------
# (qemu-img 7.2 itself never returns from `convert` on such a chain, so it is not run here)
@pytest.fixture
def loop_images(tmp_path):
    a, b, s = (str(tmp_path / n) for n in ("a.qcow2", "b.qcow2", "s.qcow2"))
    create_image(b, "qcow2", 1 << 20, {})
    create_image(a, "qcow2", 1 << 20, {"backing_file": "b.qcow2", "backing_fmt": "qcow2"})
    create_image(s, "qcow2", 1 << 20, {})
    for path, backing in ((b, "a.qcow2"), (s, "s.qcow2")):
        drv = open_image(path, backing=False)
        drv.change_backing_file(backing, "qcow2")
        drv.close()
    return a, b, s


def test_backing_file_loops(tmp_path, loop_images):
    a, b, s = loop_images
    before = [digest(p) for p in loop_images]
    with pytest.raises(BlockError, match=f"Backing file '{re.escape(a)}' creates an infinite loop") as exc:
        open_image(a)
    assert exc.value.errno == 40
    with pytest.raises(BlockError, match=f"Could not open '{re.escape(s)}': Backing file '{re.escape(s)}' "
                                         "creates an infinite loop"):
        open_image(s, readonly=True)
    for path in (a, s):
        res = pyimg("info", "--backing-chain", path)
        assert res.status == 1 and res.err.endswith("creates an infinite loop.\n"), res.err
        for args in (["map", path], ["convert", "-O", "raw", path, str(tmp_path / "o.raw")],
                     ["compare", path, path], ["commit", path], ["check", path]):
            res = pyimg(*args)
            if args[0] == "check":  # check looks at one image only
                assert res.status == 0, res
                continue
            assert res.status == (2 if args[0] == "compare" else 1), (args, res)
            assert res.err.count("\n") == 1 and "creates an infinite loop" in res.err, (args, res.err)
    assert [digest(p) for p in loop_images] == before


def test_rebase_refuses_to_make_a_loop(tmp_path):
    base, top = str(tmp_path / "base.qcow2"), str(tmp_path / "top.qcow2")
    create_image(base, "qcow2", 1 << 20, {})
    create_image(top, "qcow2", 1 << 20, {"backing_file": "base.qcow2", "backing_fmt": "qcow2"})
    before = digest(base)
    res = pyimg("rebase", "-b", "top.qcow2", "-F", "qcow2", base)
    assert (res.status, res.err) == (1, "qemu-img: Backing file 'top.qcow2' creates an infinite loop.\n")
    assert digest(base) == before
