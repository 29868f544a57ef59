"""The device-facing block layer: -drive parsing, BlockBackend, stats, error policy, throttling, AIO."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from pyqemu.block.aio import AioPool
from pyqemu.block.backend import BlockBackend
from pyqemu.block.drive import open_drive, parse_drive
from pyqemu.block.errors import BlockError
from pyqemu.block.registry import create_image, open_image
from pyqemu.block.throttle import NS, ThrottleConfig, ThrottleState

MiB = 1 << 20


@pytest.fixture
def qcow2(tmp_path):
    path = str(tmp_path / "d.qcow2")
    create_image(path, "qcow2", 2 * MiB, {})
    return path


def test_parse_drive_defaults_and_values(qcow2):
    cfg = parse_drive({"file": qcow2, "if": "virtio", "id": "d0", "format": "qcow2", "cache": "none",
                       "aio": "native", "rerror": "stop", "werror": "ignore",
                       "throttling.bps-total": "1000000", "throttling.iops-read": "50",
                       "throttling.iops-read-max": "100"})
    assert (cfg.interface, cfg.id, cfg.cache, cfg.aio, cfg.rerror, cfg.werror) == (
        "virtio", "d0", "none", "native", "stop", "ignore")
    assert cfg.throttle.limits["bps-total"] == 1_000_000
    assert cfg.throttle.bursts["iops-read"] == 100
    plain = parse_drive({"file": qcow2})
    assert (plain.interface, plain.media, plain.cache, plain.rerror, plain.werror) == (
        "ide", "disk", "writeback", "report", "enospc")
    assert parse_drive({"file": qcow2, "media": "cdrom"}).readonly
    assert parse_drive({"bps_wr": "10", "iops": "5"}).throttle.limits["bps-write"] == 10


@pytest.mark.parametrize("options,message", [
    ({"bogus": "1"}, "Invalid parameter 'bogus'"),
    ({"if": "usb2"}, "unsupported bus type 'usb2'"),
    ({"media": "tape"}, "'tape' invalid media"),
    ({"cache": "fast"}, "invalid cache option"),
    ({"aio": "magic"}, "invalid aio option"),
    ({"aio": "native"}, "aio=native was specified, but it requires cache.direct=on"),
    ({"werror": "explode"}, "'explode' invalid write error action"),
    ({"rerror": "enospc"}, "'enospc' invalid read error action"),
    ({"if": "floppy", "werror": "stop"}, "werror is not supported by this bus type"),
    ({"format": "vmdk"}, "'vmdk' invalid format"),
    ({"readonly": "maybe"}, "Parameter 'readonly' expects 'on' or 'off'"),
    ({"throttling.bps-total": "5", "throttling.bps-read": "5"},
     "bps/iops/max total values and read/write values cannot be used at the same time"),
    ({"throttling.iops-total": "-1"}, "bps/iops/maxs values must be 0 or greater"),
])
def test_parse_drive_errors(options, message):
    with pytest.raises(BlockError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_drive(options)


def test_backend_io_and_stats(qcow2):
    blk = open_drive(parse_drive({"file": qcow2, "id": "disk0", "discard": "unmap"}))
    assert blk.get_length() == 2 * MiB
    blk.write(4096, b"a" * 8192)
    assert blk.read(4096, 8192) == b"a" * 8192
    blk.flush()
    blk.discard(0, 64 * 1024)
    with pytest.raises(BlockError):
        blk.read(2 * MiB - 10, 20)
    stats = blk.query_stats()
    assert stats["device"] == "disk0"
    s = stats["stats"]
    assert (s["rd_bytes"], s["wr_bytes"], s["rd_operations"], s["wr_operations"]) == (8192, 8192, 1, 1)
    assert s["flush_operations"] == 1 and s["unmap_operations"] == 1
    assert s["invalid_rd_operations"] == 1 and s["wr_highest_offset"] == 4096 + 8192
    assert s["rd_total_time_ns"] > 0 and s["wr_total_time_ns"] > 0
    assert blk.query()["inserted"]["drv"] == "qcow2"
    blk.close()


def test_readonly_and_cdrom_media(qcow2):
    blk = open_drive(parse_drive({"file": qcow2, "media": "cdrom", "if": "ide"}))
    with pytest.raises(BlockError, match="Permission denied"):
        blk.write(0, b"x")
    blk.eject()
    assert not blk.is_inserted()
    with pytest.raises(BlockError, match="No medium found"):
        blk.read(0, 512)
    blk.insert(open_image(qcow2, readonly=True))
    assert blk.read(0, 512) == bytes(512)
    blk.close()


def test_snapshot_on_leaves_the_image_untouched(qcow2):
    blk = open_drive(parse_drive({"file": qcow2, "snapshot": "on"}))
    blk.write(0, b"temp" * 1024)
    assert blk.read(0, 4) == b"temp"
    blk.close()
    drv = open_image(qcow2, readonly=True)
    assert drv.read(0, 4096) == bytes(4096)
    drv.close()


class FailingDriver:
    """Stands in for a driver whose writes fail with a given errno."""

    def __init__(self, err: int, failures: int = 1) -> None:
        self.err, self.failures = err, failures
        self.size, self.filename, self.format_name = 1 * MiB, "fake", "raw"
        self.written: list[int] = []

    def write(self, offset: int, data: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise BlockError("No space left on device" if self.err == errno.ENOSPC else "Input/output error",
                             self.err)
        self.written.append(offset)

    def read(self, offset: int, length: int) -> bytes:
        raise BlockError("Input/output error", errno.EIO)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_error_policies():
    events = []
    blk = BlockBackend("d", FailingDriver(errno.EIO), werror="report", rerror="ignore")  # type: ignore[arg-type]
    blk.on_error = lambda b, action, is_read, err: events.append((action, is_read, err))
    with pytest.raises(BlockError, match="Input/output error"):
        blk.write(0, b"x")
    assert blk.read(0, 16) == bytes(16)  # rerror=ignore: the guest sees success
    assert events == [("report", False, errno.EIO), ("ignore", True, errno.EIO)]
    stats = blk.stats.to_qmp()
    assert stats["failed_wr_operations"] == 1 and stats["failed_rd_operations"] == 1

    drv = FailingDriver(errno.ENOSPC)
    blk = BlockBackend("d", drv)  # type: ignore[arg-type]  # werror=enospc (default)
    stopped = threading.Event()
    blk.on_stop = stopped.set
    worker = threading.Thread(target=blk.write, args=(512, b"y"))
    worker.start()
    assert stopped.wait(5)  # ENOSPC stops the VM; the request is held
    assert drv.written == []
    blk.resume()  # "cont": the request is retried and succeeds
    worker.join(5)
    assert drv.written == [512]
    assert BlockBackend("d", FailingDriver(errno.EIO)).error_action(False, errno.EIO) == "report"  # type: ignore


def test_throttle_leaky_bucket_with_fake_clock():
    now = [0]
    cfg = ThrottleConfig()
    cfg.limits["bps-write"] = 1000.0  # 1000 B/s, burst 100 B
    state = ThrottleState(cfg, clock=lambda: now[0])
    assert state.compute_wait(True) == 0
    state.account(True, 600)
    assert state.compute_wait(False) == 0  # reads are not limited
    assert state.compute_wait(True) == pytest.approx(0.5 * NS)  # (600-100)/1000 s
    now[0] += NS // 4
    assert state.compute_wait(True) == pytest.approx(0.25 * NS)
    now[0] += NS
    assert state.compute_wait(True) == 0
    slept = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += int(seconds * NS)

    state.account(True, 300)
    state.acquire(True, 10, sleep=fake_sleep)
    assert slept == [pytest.approx(0.2)]


def test_throttled_backend_limits_iops(qcow2):
    blk = open_drive(parse_drive({"file": qcow2, "throttling.iops-total": "100"}))
    start = time.monotonic()
    for i in range(30):
        blk.read(i * 512, 512)
    elapsed = time.monotonic() - start
    blk.close()
    assert 0.15 < elapsed < 2.0  # 30 ops at 100 op/s with a 10-op burst take ~0.2 s


def test_aio_pool_completes_without_blocking(qcow2):
    woken = threading.Event()
    pool = AioPool(workers=2, notify=woken.set)
    blk = open_drive(parse_drive({"file": qcow2, "aio": "threads"}), aio=pool)
    results = []
    blk.aio_write(0, b"z" * 4096, lambda res, err: results.append(("w", err)))
    pool.drain()
    req = blk.aio_read(0, 4096, lambda res, err: results.append(("r", res[:2], err)))
    assert req is not None and req.wait(5) == b"z" * 4096
    assert woken.wait(5)
    pool.drain()
    assert results == [("w", None), ("r", b"zz", None)]
    errors = []
    blk.aio_read(10 * MiB, 1, lambda res, err: errors.append(err))
    pool.drain()
    assert isinstance(errors[0], BlockError)
    blk.close()
    pool.shutdown()
