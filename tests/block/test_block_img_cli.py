"""pyqemu-img sub-commands checked against the reference qemu-img."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import assert_qemu_clean, needs_qemu, pyimg, qemu_img, qemu_info, qemu_io, qemu_raw

pytestmark = needs_qemu
MiB = 1 << 20


def make_source(tmp_path, name="src.qcow2", size="4M"):
    path = str(tmp_path / name)
    qemu_img("create", "-f", "qcow2", path, size, check=True)
    qemu_io(path, "write -P 0x11 0 300k", "write -P 0x22 1M 64k", "write -z 2M 64k", "write -P 0x33 3M 1k")
    return path


@pytest.mark.parametrize("opts", [[], ["-o", "compat=0.10"], ["-o", "cluster_size=4k,refcount_bits=8"],
                                  ["-o", "preallocation=metadata"], ["-o", "preallocation=full"],
                                  ["-o", "preallocation=falloc,lazy_refcounts=on"]])
def test_create_matches_qemu(tmp_path, opts):
    path = str(tmp_path / "n.qcow2")
    res = pyimg("create", "-f", "qcow2", *opts, path, "3M")
    assert res.status == 0, res.err
    assert res.out.startswith(f"Formatting '{path}', fmt=qcow2 cluster_size=")
    assert_qemu_clean(path)
    mine, ref = json.loads(pyimg("info", "--output=json", path).out), qemu_info(path)
    for key in ("virtual-size", "format", "cluster-size"):
        assert mine[key] == ref[key]
    assert mine["format-specific"] == ref["format-specific"]
    assert qemu_raw(path, str(tmp_path / "n.raw")) == bytes(3 * MiB)


def test_create_formatting_line_and_info_human_match_qemu(tmp_path):
    ours, theirs = str(tmp_path / "ours.qcow2"), str(tmp_path / "theirs.qcow2")
    res = pyimg("create", "-f", "qcow2", ours, "64M")
    ref = qemu_img("create", "-f", "qcow2", theirs, "64M")
    assert res.out.replace(ours, "X") == ref.out.replace(theirs, "X")
    mine = pyimg("info", ours).out.replace(ours, "X").splitlines()
    want = qemu_img("info", theirs).out.replace(theirs, "X").splitlines()
    skip = ("disk size",)
    assert [ln for ln in mine if not ln.startswith(skip)] == [ln for ln in want if not ln.startswith(skip)]


def test_create_raw_and_sizes(tmp_path):
    path = str(tmp_path / "r.img")
    res = pyimg("create", "-f", "raw", path, "1.5M")
    assert res.out == f"Formatting '{path}', fmt=raw size=1572864\n"
    assert os.path.getsize(path) == 1572864
    assert qemu_info(path)["format"] == "raw"
    bad = pyimg("create", "-f", "qcow2", path, "12Q")
    assert bad.status == 1 and bad.err.startswith("qemu-img: Invalid image size specified.")
    no_size = pyimg("create", "-f", "qcow2", path)
    assert no_size.err == f"qemu-img: {path}: Image creation needs a size parameter\n"
    assert pyimg("create", "-f", "foo", path, "1M").err == f"qemu-img: {path}: Unknown file format 'foo'\n"


def test_create_with_backing_and_info_chain(tmp_path):
    base = make_source(tmp_path, "base.qcow2")
    top = str(tmp_path / "top.qcow2")
    assert pyimg("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top).status == 0
    ref = qemu_info(top)
    assert ref["backing-filename"] == "base.qcow2" and ref["virtual-size"] == 4 * MiB
    assert ref["backing-filename-format"] == "qcow2"
    chain = json.loads(pyimg("info", "--backing-chain", "--output=json", top).out)
    ref_chain = json.loads(qemu_img("info", "--backing-chain", "--output=json", top).out)
    for mine, theirs in zip(chain, ref_chain, strict=True):
        for key in ("filename", "virtual-size", "format", "backing-filename", "full-backing-filename"):
            assert mine.get(key) == theirs.get(key)
    assert qemu_img("compare", top, base).status == 0


@pytest.mark.parametrize("args", [["-O", "qcow2"], ["-O", "qcow2", "-c"], ["-O", "raw"],
                                  ["-O", "qcow2", "-o", "compat=0.10,cluster_size=512"],
                                  ["-O", "qcow2", "-S", "0"]])
def test_convert_output_equals_source(tmp_path, args):
    src = make_source(tmp_path)
    dst = str(tmp_path / "dst.img")
    res = pyimg("convert", *args, src, dst)
    assert res.status == 0, res.err
    if "raw" not in args:
        assert_qemu_clean(dst)
    assert qemu_img("compare", src, dst).status == 0
    if "-c" in args:
        assert '"compressed-clusters"' in qemu_img("check", "--output=json", dst).out


def test_convert_with_backing_and_progress(tmp_path):
    base = make_source(tmp_path, "base.qcow2")
    top = str(tmp_path / "top.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", base, "-F", "qcow2", top, check=True)
    qemu_io(top, "write -P 0x44 512k 1M", "write -z 0 64k")
    out = str(tmp_path / "out.qcow2")
    res = pyimg("convert", "-p", "-O", "qcow2", "-B", base, "-o", "backing_fmt=qcow2", top, out)
    assert res.status == 0, res.err
    assert "(100.00/100%)" in res.out
    assert_qemu_clean(out)
    assert qemu_info(out)["backing-filename"] == base
    assert qemu_img("compare", top, out).status == 0
    # two sources are concatenated
    cat = str(tmp_path / "cat.raw")
    assert pyimg("convert", "-O", "raw", base, top, cat).status == 0
    with open(cat, "rb") as f:
        data = f.read()
    assert data == qemu_raw(base, str(tmp_path / "b.raw")) + qemu_raw(top, str(tmp_path / "t.raw"))


def test_check_reports_and_repairs_leaks(tmp_path):
    image = make_source(tmp_path)
    leaked = -(-os.path.getsize(image) // 65536)
    with open(image, "r+b") as f:  # a referenced-by-nobody cluster with refcount 1: a leak
        f.truncate((leaked + 1) * 65536)
        f.seek(0x20000 + 2 * leaked)
        f.write(b"\x00\x01")
    ref = qemu_img("check", image)
    mine = pyimg("check", image)
    assert mine.status == ref.status == 3
    assert mine.out == ref.out
    assert mine.err == ref.err
    js = json.loads(pyimg("check", "--output=json", image).out)
    assert js["leaks"] == 1 and js["check-errors"] == 0
    fixed = pyimg("check", "-r", "leaks", image)
    assert fixed.status == 0
    assert fixed.out.startswith("The following inconsistencies were found and repaired:\n\n"
                                "    1 leaked clusters")
    assert_qemu_clean(image)


def test_check_reports_and_repairs_corruption(tmp_path):
    image = make_source(tmp_path)
    with open(image, "r+b") as f:  # drop the L2 table's refcount (cluster 4) to 0
        f.seek(0x20000 + 2 * 4)
        f.write(b"\x00\x00")
    ref = qemu_img("check", image)
    mine = pyimg("check", image)
    assert mine.status == ref.status == 2
    assert "ERROR cluster 4 refcount=0 reference=1" in mine.err
    assert pyimg("check", "-r", "all", image).status == 0
    assert_qemu_clean(image)


def test_check_usage_errors(tmp_path):
    raw = str(tmp_path / "r.img")
    pyimg("create", "-q", "-f", "raw", raw, "1M")
    res = pyimg("check", raw)
    assert (res.status, res.err) == (63, "qemu-img: This image format does not support checks\n")
    res = pyimg("check", "-r", "bad", raw)
    assert res.status == 1 and "Unknown option value for -r" in res.err
    assert pyimg("check").err.startswith("qemu-img: Expecting one image file name\n")
    bad_output = pyimg("info", "--output=xml", raw)
    assert bad_output.err == "qemu-img: --output must be used with human or json as argument.\n"
    assert pyimg("bogus").err.startswith("qemu-img: Command not found: bogus")
    assert pyimg("info", "--bogus", raw).err.startswith("qemu-img: unrecognized option '--bogus'")


def test_snapshot_commands(tmp_path):
    image = make_source(tmp_path)
    assert pyimg("snapshot", "-c", "s1", image).status == 0
    qemu_io(image, "write -P 0x99 0 1M")
    assert pyimg("snapshot", "-c", "s2", image).status == 0
    mine = pyimg("snapshot", "-l", image).out.splitlines()
    ref = qemu_img("snapshot", "-l", image).out.splitlines()
    assert mine[:2] == ref[:2]
    rows = [["1", "s1"], ["2", "s2"]]
    assert [ln.split()[:2] for ln in mine[2:]] == [ln.split()[:2] for ln in ref[2:]] == rows
    assert pyimg("snapshot", "-a", "s1", image).status == 0
    assert qemu_raw(image, str(tmp_path / "a.raw"))[:MiB] == b"\x11" * 300 * 1024 + bytes(MiB - 300 * 1024)
    res = pyimg("snapshot", "-d", "nope", image)
    assert (res.status, res.err) == (1, "qemu-img: Could not delete snapshot 'nope': snapshot not found\n")
    res = pyimg("snapshot", "-a", "nope", image)
    assert res.err == ("qemu-img: Could not apply snapshot 'nope': Failed to load snapshot: "
                       "No such file or directory\n")
    assert pyimg("snapshot", "-d", "s1", image).status == 0
    assert_qemu_clean(image)


def test_resize(tmp_path):
    image = make_source(tmp_path)
    assert pyimg("resize", image, "+4M").out == "Image resized.\n"
    assert qemu_info(image)["virtual-size"] == 8 * MiB
    res = pyimg("resize", image, "1M")
    assert res.status == 1 and res.err.startswith("qemu-img: Use the --shrink option")
    assert pyimg("resize", "--shrink", image, "-6M").status == 0
    assert qemu_info(image)["virtual-size"] == 2 * MiB
    assert_qemu_clean(image)
    raw = str(tmp_path / "r.img")
    pyimg("create", "-q", "-f", "raw", raw, "1M")
    assert pyimg("resize", "-f", "raw", raw, "3M").status == 0
    assert os.path.getsize(raw) == 3 * MiB


def test_commit_and_rebase(tmp_path):
    base = make_source(tmp_path, "base.qcow2")
    top = str(tmp_path / "top.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top, check=True)
    qemu_io(top, "write -P 0x55 200k 1M", "write -z 3M 64k")
    expected = qemu_raw(top, str(tmp_path / "e.raw"))
    assert pyimg("commit", top).out == "Image committed.\n"
    assert_qemu_clean(base)
    assert qemu_raw(base, str(tmp_path / "b.raw")) == expected
    assert qemu_raw(top, str(tmp_path / "t.raw")) == expected
    # rebase onto an unrelated image keeps the guest view
    other = make_source(tmp_path, "other.qcow2")
    qemu_io(other, "write -P 0x66 0 4M")
    qemu_io(top, "write -P 0x77 3M 4k")
    expected = qemu_raw(top, str(tmp_path / "e2.raw"))
    assert pyimg("rebase", "-b", "other.qcow2", "-F", "qcow2", top).status == 0
    assert qemu_info(top)["backing-filename"] == "other.qcow2"
    assert_qemu_clean(top)
    assert qemu_raw(top, str(tmp_path / "t2.raw")) == expected
    assert pyimg("rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", top).status == 0
    assert qemu_info(top)["backing-filename"] == "base.qcow2"
    assert pyimg("rebase", top).err.startswith("qemu-img: Must specify backing file (-b) or use unsafe mode")


def test_map_matches_qemu(tmp_path):
    base = make_source(tmp_path, "base.qcow2")
    top = str(tmp_path / "top.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", base, "-F", "qcow2", top, check=True)
    qemu_io(top, "write -P 2 512k 1M")
    assert pyimg("map", "--output=json", top).out == qemu_img("map", "--output=json", top).out
    assert pyimg("map", top).out == qemu_img("map", top).out


def test_compare_exit_codes(tmp_path):
    a = make_source(tmp_path, "a.qcow2")
    b = str(tmp_path / "b.raw")
    qemu_img("convert", "-O", "raw", a, b, check=True)
    assert pyimg("compare", a, b).out == "Images are identical.\n"
    qemu_io(b, "write -P 1 3000 10", fmt="raw")
    res = pyimg("compare", a, b)
    ref = qemu_img("compare", a, b)
    assert (res.status, res.out) == (ref.status, ref.out) == (1, "Content mismatch at offset 2560!\n")
    small = str(tmp_path / "s.qcow2")
    qemu_img("create", "-f", "qcow2", small, "8M", check=True)
    empty = str(tmp_path / "e.qcow2")
    qemu_img("create", "-f", "qcow2", empty, "4M", check=True)
    res = pyimg("compare", empty, small)
    assert (res.status, res.out) == (0, "Warning: Image size mismatch!\nImages are identical.\n")
    assert pyimg("compare", "-s", empty, small).out == "Strict mode: Image size mismatch!\n"
    assert pyimg("compare", a, str(tmp_path / "missing")).status == 2


def test_measure_matches_qemu(tmp_path):
    src = make_source(tmp_path)
    for args in (["--size", "1G", "-O", "qcow2"], ["-O", "qcow2", src], ["-O", "raw", src],
                 ["--output=json", "--size", "100M", "-O", "qcow2", "-o", "cluster_size=4k"]):
        assert pyimg("measure", *args).out == qemu_img("measure", *args).out


def test_amend(tmp_path):
    image = make_source(tmp_path)
    assert pyimg("amend", "-o", "compat=0.10", image).status == 0
    assert qemu_info(image)["format-specific"]["data"]["compat"] == "0.10"
    assert_qemu_clean(image)
    assert pyimg("amend", "-o", "compat=1.1,lazy_refcounts=on", image).status == 0
    data = qemu_info(image)["format-specific"]["data"]
    assert data["compat"] == "1.1" and data["lazy-refcounts"] is True
    assert_qemu_clean(image)
    assert pyimg("amend", image).err.startswith("qemu-img: Must specify options (-o)")


def test_module_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    path = str(tmp_path / "m.qcow2")
    proc = subprocess.run([sys.executable, "-m", "pyqemu.tools.img", "create", "-f", "qcow2", path, "1M"],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("Formatting")
    proc = subprocess.run([sys.executable, "-m", "pyqemu.tools.img", "info", str(tmp_path / "nope")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("qemu-img: Could not open")
