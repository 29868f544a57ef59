"""Damaged or unsupported images give QEMU's one-line errors, never a traceback."""

from __future__ import annotations

import struct

import pytest
from conftest import pyimg

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
