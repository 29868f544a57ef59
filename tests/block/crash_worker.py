"""Writer processes for the kill -9 crash test (test_block_crash.py), served by a fork server.

Run as a script, this module is a fork server: for each command line ``IMAGE SEED COUNT CACHE
OPTIONS DELAY_US`` read from stdin it forks a writer that opens IMAGE and performs the
deterministic operations ``plan(SEED, ...)``, waits DELAY_US microseconds, kills the writer with
SIGKILL and reaps it.  Everything goes to stdout, one line each, written unbuffered:

* ``F K`` (from the writer) after a flush returned: operations ``0..K-1`` are durable;
* ``E`` (from the writer) when it got through all operations and closed the image;
* ``Z MESSAGE`` (from the writer) when an operation failed: a bug on a valid image;
* ``X STATUS`` (from the server) once the writer is gone; always the last line of a run.

Forking a warm interpreter keeps each writer's start-up at about a millisecond, so hundreds of
crash points fit in a few seconds.  The test imports ``plan`` and ``sector_bytes`` to know what
each operation wrote.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass

SECTOR = 512
BASE_TAG = 1 << 60  # content of the backing file, for configurations that have one


def sector_bytes(tag: int, sector: int) -> bytes:
    """The 512 bytes that operation ``tag`` writes to guest sector ``sector`` (tag 0: zeros)."""
    if not tag:
        return bytes(SECTOR)
    return struct.pack(">QQ", tag, sector) * (SECTOR // 16)


def run_bytes(tag: int, first: int, count: int) -> bytes:
    """Contents of ``count`` sectors from ``first`` as operation ``tag`` writes them."""
    return b"".join(sector_bytes(tag, s) for s in range(first, first + count))


@dataclass
class Op:
    """One writer operation: kind, byte offset, byte length, and the content tag it writes."""

    kind: str  # write, zero, discard, compress, flush, snapshot, unsnapshot
    offset: int = 0
    length: int = 0
    tag: int = 0

    def sectors(self, size: int, cluster_size: int) -> range:
        """Guest sectors whose content this operation defines."""
        if self.kind in ("write", "zero", "compress"):
            return range(self.offset // SECTOR, (self.offset + self.length) // SECTOR)
        if self.kind == "discard":
            first = -(-self.offset // cluster_size)
            end = self.offset + self.length
            last = end // cluster_size if end < size else -(-size // cluster_size)
            if first >= last:
                return range(0)
            return range(first * cluster_size // SECTOR, min(last * cluster_size, size) // SECTOR)
        return range(0)

    def content(self) -> int:
        """Tag of what the defined sectors read afterwards (0 for zeros)."""
        return self.tag if self.kind in ("write", "compress") else 0


def plan(seed: int, count: int, size: int, cluster_size: int, snapshots: bool) -> list[Op]:
    """The operations writer ``seed`` performs: random writes, zeroing, discards, compressed
    writes, periodic flushes and (when ``snapshots``) internal snapshot create/delete."""
    rnd = random.Random(seed)
    nsectors = size // SECTOR
    cs_sectors = cluster_size // SECTOR
    ops: list[Op] = []
    for i in range(count):
        tag = seed * 100_000 + i + 1
        pick = rnd.random()
        first = rnd.randrange(nsectors)
        scale = rnd.choice((4, 4, cs_sectors, 3 * cs_sectors, 64))
        n = min(rnd.randrange(1, max(2, scale) + 1), nsectors - first)
        if pick < 0.10:
            ops.append(Op("flush"))
        elif pick < 0.58:
            ops.append(Op("write", first * SECTOR, n * SECTOR, tag))
        elif pick < 0.68:
            ops.append(Op("zero", first * SECTOR, n * SECTOR))
        elif pick < 0.76:
            ops.append(Op("discard", first * SECTOR, n * SECTOR))
        elif pick < 0.90:
            cluster = first // cs_sectors * cs_sectors
            length = min(cs_sectors, nsectors - cluster) * SECTOR
            ops.append(Op("compress", cluster * SECTOR, length, tag))
        elif snapshots and pick < 0.93:
            ops.append(Op("snapshot"))
        elif snapshots and pick < 0.96:
            ops.append(Op("unsnapshot"))
        else:
            ops.append(Op("flush"))
    return ops


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def write_ops(image: str, seed: int, count: int, cache: str, snapshots: bool) -> None:
    """The writer: open ``image`` and perform its plan, reporting completed flushes."""
    from pyqemu.block.registry import open_image

    drv = open_image(image, cache=cache)
    cs = drv.cluster_size
    for index, op in enumerate(plan(seed, count, drv.size, cs, snapshots)):
        if op.kind == "write":
            drv.write(op.offset, run_bytes(op.tag, op.offset // SECTOR, op.length // SECTOR))
        elif op.kind == "zero":
            drv.write_zeroes(op.offset, op.length)
        elif op.kind == "discard":
            drv.discard(op.offset, op.length)
        elif op.kind == "compress":
            drv.write_compressed(op.offset, run_bytes(op.tag, op.offset // SECTOR, op.length // SECTOR))
        elif op.kind == "flush":
            drv.flush()
            say(f"F {index + 1}")
        elif op.kind == "snapshot":
            if not drv.snapshot_list():
                drv.snapshot_create(f"s{seed}")
        elif op.kind == "unsnapshot":
            for sn in drv.snapshot_list():
                drv.snapshot_delete(sn.id)
    drv.close()
    say("E")


def serve() -> None:
    """The fork server loop (see the module docstring)."""
    import pyqemu.block.registry  # noqa: F401  (warm the interpreter before forking)

    for line in sys.stdin:
        image, seed, count, cache, snaps, delay_us = line.split()
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                write_ops(image, int(seed), int(count), cache, snaps == "1")
            except BaseException as exc:  # reported to the test, which fails on it
                say("Z " + repr(exc) + " " + traceback.format_exc().replace("\n", " | "))
                status = 1
            finally:
                os._exit(status)
        time.sleep(int(delay_us) / 1e6)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        say(f"X {status}")


if __name__ == "__main__":
    serve()
