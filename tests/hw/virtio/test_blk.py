"""virtio-blk over virtio-mmio against a raw image opened through the block layer."""

from __future__ import annotations

import errno
import struct

import pytest

from pyqemu.block.backend import BlockBackend
from pyqemu.block.drive import open_drive, parse_drive
from pyqemu.block.errors import BlockError
from pyqemu.block.registry import create_image
from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.blk import (
    VIRTIO_BLK_F_BLK_SIZE,
    VIRTIO_BLK_F_FLUSH,
    VIRTIO_BLK_F_RO,
    VIRTIO_BLK_F_SEG_MAX,
    VIRTIO_BLK_S_IOERR,
    VIRTIO_BLK_S_OK,
    VIRTIO_BLK_S_UNSUPP,
    VIRTIO_BLK_T_DISCARD,
    VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_GET_ID,
    VIRTIO_BLK_T_IN,
    VIRTIO_BLK_T_OUT,
    VirtioBlk,
)
from pyqemu.hw.virtio.device import VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_VERSION_1
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_INDIRECT_DESC

from . import Guest, GuestQueue

MiB = 1 << 20
V1 = 1 << VIRTIO_F_VERSION_1


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / "disk.raw")
    create_image(path, "raw", 1 * MiB, {})
    with open(path, "r+b") as f:
        f.seek(512 * 7)
        f.write(b"sector seven".ljust(512, b"."))
    return path


def blk_guest(image: str, serial: str = "", **drive: str) -> tuple[Guest, GuestQueue, BlockBackend]:
    backend = open_drive(parse_drive({"file": image, "format": "raw", "if": "virtio", **drive}))
    g = Guest(VirtioBlk(backend, serial=serial))
    features = V1 | (1 << VIRTIO_F_INDIRECT_DESC) | (g.device_features() & 0xFFFFFFFF)
    (q,) = g.setup(features, queue_size=32)
    return g, q, backend


def header(rtype: int, sector: int = 0) -> bytes:
    return struct.pack("<IIQ", rtype, 0, sector)


def complete(g: Guest, q: GuestQueue) -> tuple[int, int, bytes]:
    """The one completed request: (status, used length, data before the status byte)."""
    used = q.get_used()
    assert len(used) == 1
    _, n, data = used[0]
    assert g.ack_interrupt() == 1
    return data[-1], n, data[:-1]


def test_identification_and_config(image):
    g, _, _ = blk_guest(image)
    assert g.rd(regs.DEVICE_ID) == 2
    features = g.device_features()
    for bit in (VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH):
        assert features & (1 << bit)
    assert not features & (1 << VIRTIO_BLK_F_RO)
    capacity = g.rd(0x100) | (g.rd(0x104) << 32)  # a 64-bit field read as two 32-bit halves
    assert capacity == MiB // 512
    assert g.rd(0x100 + 12) == 254  # seg_max: queue size 256 less header and status
    assert g.rd(0x100 + 20) == 512  # blk_size
    assert g.rd(0x101, 1) == (MiB // 512) >> 8  # byte access to config space
    assert g.rd(0x100 + 34, 2) == 1  # num_queues
    assert g.rd(0x100 + 0x100) == 0  # beyond the config space


def test_read_write_flush_get_id_round_trip(image):
    g, q, backend = blk_guest(image, serial="pyqemu-disk-0")
    q.add([header(VIRTIO_BLK_T_IN, 7)], [1024, 1])
    status, n, data = complete(g, q)
    assert status == VIRTIO_BLK_S_OK and n == 1025
    assert data[:12] == b"sector seven" and data[512:] == bytes(512)

    payload = bytes(range(256)) * 6  # three sectors, split over two buffers
    q.add([header(VIRTIO_BLK_T_OUT, 100), payload[:1000], payload[1000:]], [1])
    status, n, _ = complete(g, q)
    assert status == VIRTIO_BLK_S_OK and n == 1
    assert backend.read(100 * 512, len(payload)) == payload

    q.add([header(VIRTIO_BLK_T_IN, 100)], [700, 836, 1])  # read back through two in buffers
    status, _, data = complete(g, q)
    assert status == VIRTIO_BLK_S_OK and data == payload

    q.add([header(VIRTIO_BLK_T_FLUSH)], [1])
    assert complete(g, q)[0] == VIRTIO_BLK_S_OK
    assert backend.query_stats()["stats"]["flush_operations"] == 1

    q.add([header(VIRTIO_BLK_T_GET_ID)], [20, 1])
    status, n, data = complete(g, q)
    assert status == VIRTIO_BLK_S_OK and n == 21
    assert data == b"pyqemu-disk-0".ljust(20, b"\0")
    backend.close()
    with open(image, "rb") as f:
        f.seek(100 * 512)
        assert f.read(len(payload)) == payload


def test_get_id_truncates_long_serials(image):
    g, q, _ = blk_guest(image, serial="S" * 30)
    q.add([header(VIRTIO_BLK_T_GET_ID)], [20, 1])
    assert complete(g, q)[2] == b"S" * 20


def test_indirect_request(image):
    g, q, _ = blk_guest(image)
    q.add([header(VIRTIO_BLK_T_IN, 7)], [512, 1], indirect=True)
    status, n, data = complete(g, q)
    assert status == VIRTIO_BLK_S_OK and n == 513 and data.startswith(b"sector seven")


@pytest.mark.parametrize("rtype,sector,out,in_lens", [
    (VIRTIO_BLK_T_IN, MiB // 512, [], [512, 1]),  # first sector past the end
    (VIRTIO_BLK_T_IN, MiB // 512 - 1, [], [1024, 1]),  # runs past the end
    (VIRTIO_BLK_T_OUT, MiB // 512 - 1, [b"x" * 1024], [1]),
    (VIRTIO_BLK_T_IN, 1 << 62, [], [512, 1]),  # a sector number that overflows as a byte offset
    (VIRTIO_BLK_T_IN, 0, [], [100, 1]),  # not whole sectors
])
def test_out_of_range_requests_give_ioerr(image, rtype, sector, out, in_lens):
    g, q, _ = blk_guest(image)
    q.add([header(rtype, sector), *out], in_lens)
    status, n, _ = complete(g, q)
    assert status == VIRTIO_BLK_S_IOERR and n == 1
    assert not g.errors and not g.status & VIRTIO_CONFIG_S_NEEDS_RESET


def test_unsupported_requests(image):
    g, q, _ = blk_guest(image)
    for rtype in (VIRTIO_BLK_T_DISCARD, 0x1234):
        q.add([header(rtype), b"\0" * 16], [1])
        assert complete(g, q)[0] == VIRTIO_BLK_S_UNSUPP


def test_read_only_drive(image):
    g, q, _ = blk_guest(image, readonly="on")
    assert g.device_features() & (1 << VIRTIO_BLK_F_RO)
    q.add([header(VIRTIO_BLK_T_OUT, 0), b"y" * 512], [1])
    assert complete(g, q)[0] == VIRTIO_BLK_S_IOERR
    q.add([header(VIRTIO_BLK_T_IN, 7)], [512, 1])
    assert complete(g, q)[0] == VIRTIO_BLK_S_OK
    with open(image, "rb") as f:
        assert f.read(512) == bytes(512)


def test_missing_headers_break_the_device(image):
    g, q, _ = blk_guest(image)
    q.add([b"short"], [1])
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    assert g.errors == ["virtio-blk: missing headers"]
    g2, q2, _ = blk_guest(image)
    q2.add([header(VIRTIO_BLK_T_IN, 0)], [])  # no status byte
    assert g2.status & VIRTIO_CONFIG_S_NEEDS_RESET


class FailingDriver:
    """A medium whose reads and writes fail with EIO."""

    size, filename, format_name = 1 * MiB, "fake", "raw"

    def read(self, offset: int, length: int) -> bytes:
        raise BlockError("Input/output error", errno.EIO)

    def write(self, offset: int, data: bytes) -> None:
        raise BlockError("Input/output error", errno.EIO)

    def flush(self) -> None:
        raise BlockError("Input/output error", errno.EIO)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("policy,expected", [("report", VIRTIO_BLK_S_IOERR), ("ignore", VIRTIO_BLK_S_OK)])
def test_error_policy(policy, expected):
    backend = BlockBackend("d", FailingDriver(), rerror=policy, werror=policy)  # type: ignore[arg-type]
    g = Guest(VirtioBlk(backend))
    (q,) = g.setup(V1)
    q.add([header(VIRTIO_BLK_T_IN, 0)], [512, 1])
    assert complete(g, q)[0] == expected
    q.add([header(VIRTIO_BLK_T_OUT, 0), b"z" * 512], [1])
    assert complete(g, q)[0] == expected
    q.add([header(VIRTIO_BLK_T_FLUSH)], [1])
    assert complete(g, q)[0] == expected


def test_several_requests_in_one_kick(image):
    g, q, _ = blk_guest(image)
    for sector in (0, 7, 9):
        q.add([header(VIRTIO_BLK_T_IN, sector)], [512, 1], kick=False)
    q.kick()
    used = q.get_used()
    assert [d[-1] for _, _, d in used] == [VIRTIO_BLK_S_OK] * 3
    assert used[1][2].startswith(b"sector seven")
    assert g.irq_levels == [1]
