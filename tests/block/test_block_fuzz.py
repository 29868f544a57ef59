"""Fuzzing (issue 4, "bad input"): mutated qcow2 images only ever give clean errors.

Small valid images -- v2 and v3, several cluster sizes and refcount widths, compressed and zero
clusters, an internal snapshot, a backing file, and one written by qemu-img -- get bit flips,
byte and field overwrites (with values chosen to hit metadata: offsets of other tables, past
the end of the file, unaligned, huge) and truncations in their header and metadata.  Each
mutant is then opened, read, mapped, checked and converted (library and CLI), and written to.
Allowed outcomes: success, a :class:`BlockError`, and for the CLI exit status 1-3 with
``qemu-img:`` messages.  Read-only use must leave the file byte-identical; writing must not grow
it beyond what the writes themselves need.

The 1500 examples are derandomized (the same every run; about 15 s); set
``PYQEMU_FUZZ_EXAMPLES=N`` for a longer campaign with fresh random examples.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

import pytest
from conftest import HAVE_QEMU, pyimg, qemu_img, qemu_io

from pyqemu.block.errors import BlockError
from pyqemu.block.registry import create_image, open_image
from pyqemu.block.status import map_extents

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

EXAMPLES = int(os.environ.get("PYQEMU_FUZZ_EXAMPLES", "0"))
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES or 1500, deadline=None, database=None, derandomize=not EXAMPLES,
    suppress_health_check=list(hypothesis.HealthCheck), print_blob=True)
HEADER_FIELDS = (4, 8, 16, 20, 24, 32, 36, 40, 48, 56, 60, 64, 72, 80, 88, 96, 100)
MASK = 0x00FFFFFFFFFFFE00
SMALL = 8 << 20  # images up to this virtual size are read and converted whole


@dataclass
class Seed:
    """A valid image and where its metadata lives (byte offsets of 8-byte entries, by region)."""

    name: str
    data: bytes
    regions: dict[str, list[int]]
    targets: list[int]  # offsets of metadata structures, as values to plant in entries
    cluster_size: int


def u64(data: bytes, offset: int) -> int:
    return struct.unpack_from(">Q", data, offset)[0] if offset + 8 <= len(data) else 0


def describe(name: str, path: str) -> Seed:
    with open(path, "rb") as f:
        data = f.read()
    cs = 1 << struct.unpack_from(">I", data, 20)[0]
    l1_size, l1_off = struct.unpack_from(">IQ", data, 36)
    rt_off, rt_clusters = struct.unpack_from(">QI", data, 48)
    nb_snap, snap_off = struct.unpack_from(">IQ", data, 60)
    regions: dict[str, list[int]] = {"header": list(HEADER_FIELDS), "extensions": list(range(104, 256, 4)),
                                     "l1": [], "l2": [], "reftable": [], "refblock": [], "snapshots": []}
    targets = [l1_off, rt_off]
    for i in range(l1_size):
        regions["l1"].append(l1_off + 8 * i)
        l2 = u64(data, l1_off + 8 * i) & MASK
        if l2:
            targets.append(l2)
            regions["l2"] += [l2 + 8 * j for j in range(cs // 8) if u64(data, l2 + 8 * j)]
    for i in range(rt_clusters * cs // 8):
        block = u64(data, rt_off + 8 * i)
        if block:
            targets.append(block)
            regions["reftable"].append(rt_off + 8 * i)
            regions["refblock"] += list(range(block, block + 64, 8))
    if nb_snap:
        targets.append(snap_off)
        regions["snapshots"] = list(range(snap_off, snap_off + 96, 4))
    return Seed(name, data, {k: v for k, v in regions.items() if v}, targets, cs)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> tuple[str, list[Seed]]:
    work = tmp_path_factory.mktemp("fuzz")
    out = []
    base = str(work / "base.raw")
    with open(base, "wb") as f:
        f.write(b"\x5a" * (256 << 10))
    specs = [("v3-4k", {"cluster_size": "4096"}), ("v2-4k", {"compat": "0.10", "cluster_size": "4096"}),
             ("v3-512-rc1", {"cluster_size": "512", "refcount_bits": "1"}),
             ("v3-64k-rc64", {"refcount_bits": "64"}),
             ("v3-backing", {"cluster_size": "4096", "backing_file": "base.raw", "backing_fmt": "raw"})]
    for name, opts in specs:
        path = str(work / f"{name}.qcow2")
        create_image(path, "qcow2", 256 << 10, dict(opts))
        drv = open_image(path)
        cs = drv.cluster_size
        for i in range(6):
            drv.write(i * 37_000 % drv.size, bytes([i + 1]) * 9000)
        drv.write_compressed(4 * cs if 5 * cs <= drv.size else 0, b"zip" * (cs // 3) + b"z" * (cs % 3))
        drv.write_zeroes(drv.size // 2, 2 * cs)
        if name.startswith("v3-4k") or name.startswith("v2"):
            drv.snapshot_create("snap")
            drv.write(0, b"after" * 1000)
        drv.close()
        out.append(describe(name, path))
    if HAVE_QEMU:
        tmp, path = str(work / "qemu-src.qcow2"), str(work / "qemu.qcow2")
        qemu_img("create", "-f", "qcow2", "-o", "cluster_size=4096", tmp, "256K", check=True)
        qemu_io(tmp, "write -P 0x41 0 20k", "write -P 0x42 100k 8k", "write -z 200k 8k")
        qemu_img("convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", tmp, path, check=True)
        qemu_img("snapshot", "-c", "s1", path, check=True)
        qemu_io(path, "write -P 0x43 8k 8k")
        out.append(describe("qemu", path))
    return str(work), out


def plant(seed: Seed, size: int, choice: int, raw: int, old: int) -> int:
    """A 64-bit value aimed at metadata handling: another table's offset, past EOF, unaligned..."""
    flags = old & 0xC000000000000001
    kind = choice % 7
    if kind == 0:
        return seed.targets[raw % len(seed.targets)] | flags | (raw & (1 << 63))
    if kind == 1:
        return ((size + seed.cluster_size * (1 + raw % 4096)) & MASK) | flags
    if kind == 2:
        return (old + (raw % 8 + 1) * 512) & 0xFFFFFFFFFFFFFFFF
    if kind == 3:
        return 0
    if kind == 4:
        return old ^ (1 << (raw % 64))
    if kind == 5:
        return (1 << (raw % 64)) | flags
    return raw


mutation = st.tuples(st.integers(0, 7), st.integers(0, 1 << 16), st.sampled_from(
    ["flip", "byte", "u64", "u64", "u32", "truncate"]), st.integers(0, (1 << 64) - 1), st.integers(0, 255))


def mutate(seed: Seed, mutations: list[tuple[int, int, str, int, int]]) -> bytes:
    data = bytearray(seed.data)
    names = sorted(seed.regions)
    for region_pick, index, op, value, byte in mutations:
        offsets = seed.regions[names[region_pick % len(names)]]
        pos = offsets[index % len(offsets)]
        if op == "truncate":
            del data[max(1, (pos + index) % (len(data) + 1)):]
        elif pos >= len(data):
            continue
        elif op == "flip":
            data[pos + index % 8 if pos + index % 8 < len(data) else pos] ^= 1 << (value % 8)
        elif op == "byte":
            data[pos] = byte
        elif op == "u32" and pos + 4 <= len(data):
            word = value & 0xFFFFFFFF if value % 3 else 0xFFFFFFFF >> (value % 32)
            data[pos:pos + 4] = struct.pack(">I", word)
        elif op == "u64" and pos + 8 <= len(data):
            data[pos:pos + 8] = struct.pack(">Q", plant(seed, len(data), byte, value, u64(data, pos)))
    return bytes(data)


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def exercise_read_only(path: str) -> None:
    """Library read-only use: only BlockError may come out."""
    try:
        drv = open_image(path, "qcow2", readonly=True)
    except BlockError:
        return
    try:
        size = drv.size
        try:
            if size <= SMALL:
                drv.read(0, size)
                map_extents(drv)
            else:
                drv.read(0, 65536)
                drv.read(size - 4096, 4096)
        except BlockError:
            pass
        drv.get_info()
        try:
            drv.check(0, report=lambda _msg: None)
        except BlockError:
            pass
    finally:
        drv.close()


def run_cli(*args: str) -> int:
    res = pyimg(*args)
    assert "Traceback" not in res.err, res.err
    assert res.status in (0, 1, 2, 3), (args, res)
    if res.status and not (args[0] in ("check", "compare") and res.status in (2, 3)):
        # check prints its report lines first; the failure itself is the last line
        last = res.err.splitlines()[-1] if res.err else ""
        assert (res.err if args[0] != "check" else last).startswith("qemu-img: "), (args, res.err)
    return res.status


def exercise_writes(path: str) -> None:
    try:
        drv = open_image(path, "qcow2")
    except BlockError:
        return
    try:
        size = drv.size
        if 0 < size <= SMALL:
            for offset, length in ((0, 5000), (size // 3, 70_000), (size - 512, 512)):
                length = min(length, size - offset)
                try:
                    drv.write(offset, b"\xee" * length)
                except BlockError:
                    pass
            for op in (lambda: drv.write_zeroes(0, min(size, 8192)), lambda: drv.discard(0, min(size, 65536)),
                       lambda: drv.snapshot_create("fuzz"), lambda: drv.read(0, size)):
                try:
                    op()
                except BlockError:
                    pass
    finally:
        try:
            drv.close()
        except BlockError:
            pass


def test_mutated_images_give_clean_errors(seeds):
    work, seed_list = seeds
    target = os.path.join(work, "mutant.qcow2")
    out = os.path.join(work, "out.raw")

    @SETTINGS
    @hypothesis.given(st.integers(0, len(seed_list) - 1), st.lists(mutation, min_size=1, max_size=3))
    def fuzz(seed_index: int, mutations):
        seed = seed_list[seed_index]
        hypothesis.note(f"seed image {seed.name}")
        data = mutate(seed, mutations)
        with open(target, "wb") as f:
            f.write(data)
        before = digest(target)
        exercise_read_only(target)
        for args in (["info", "-f", "qcow2", target], ["check", "-f", "qcow2", target],
                     ["map", "-f", "qcow2", "--output=json", target]):
            run_cli(*args)
        if run_cli("info", "-f", "qcow2", "--output=json", target) == 0:
            drv = open_image(target, "qcow2", readonly=True, backing=False)
            small = drv.size <= SMALL
            drv.close()
            if small:
                run_cli("convert", "-f", "qcow2", "-O", "raw", target, out)
                run_cli("compare", "-f", "qcow2", target, target)
        assert digest(target) == before, "read-only use changed the image"
        exercise_writes(target)
        assert os.path.getsize(target) <= len(data) + 16 * SMALL, "writes went far beyond the image"
        run_cli("check", "-f", "qcow2", "-r", "all", target)

    fuzz()
