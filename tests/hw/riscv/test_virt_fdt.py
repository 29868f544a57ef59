"""Tests of pyqemu.hw.riscv.virt_fdt: the virt board's device tree.

The blob is decompiled with ``dtc`` (which must not warn: bad phandles, interrupt properties and unit
addresses are all checked by it) and, where ``qemu-system-riscv64`` is installed, compared node by node
and property by property with QEMU 7.2's own tree (``-M virt,dumpdtb=``) for the same ``-m``/``-smp``,
leaving out the devices this board does not have.
"""

from __future__ import annotations

import fnmatch
import shutil
import struct
import subprocess
from pathlib import Path

import libfdt
import pytest

from pyqemu.hw.riscv import boot
from pyqemu.hw.riscv.virt_fdt import VirtFdtConfig, build_virt_fdt
from pyqemu.tools import guests

DTC = shutil.which("dtc")
QEMU = shutil.which("qemu-system-riscv64")
GUESTS = guests.cache_dir() / "riscv64"  # filled by `pyqemu-guests fetch` (make test does it)
QEMU_FW = Path("/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin")
MiB = 1 << 20

#: Nodes of QEMU's tree for devices this board does not (yet) have.
NOT_IMPLEMENTED = ["/pmu", "/fw-cfg@*", "/flash@*", "/platform-bus@*", "/soc/pci@*"]
SEED = bytes(range(32))
CPU_INTC = "/cpus/cpu@*/interrupt-controller"


def decompile(blob: bytes, tmp_path: Path) -> tuple[str, str]:
    """(dts text, dtc's warnings) of a blob."""
    if DTC is None:
        pytest.skip("dtc is not installed")
    f = tmp_path / "t.dtb"
    f.write_bytes(blob)
    res = subprocess.run([DTC, "-I", "dtb", "-O", "dts", str(f)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout, res.stderr


def walk(blob: bytes) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """Every node of a tree in order: (path, [(property, value), ...])."""
    fdt = libfdt.Fdt(bytearray(blob))
    out: list[tuple[str, list[tuple[str, bytes]]]] = []

    def visit(node: int, path: str) -> None:
        props = []
        off = fdt.first_property_offset(node, (libfdt.NOTFOUND,))
        while off >= 0:
            prop = fdt.get_property_by_offset(off)
            props.append((prop.name, bytes(prop)))
            off = fdt.next_property_offset(off, (libfdt.NOTFOUND,))
        out.append((path or "/", props))
        child = fdt.first_subnode(node, (libfdt.NOTFOUND,))
        while child >= 0:
            visit(child, f"{path}/{fdt.get_name(child)}")
            child = fdt.next_subnode(child, (libfdt.NOTFOUND,))

    visit(0, "")
    return out


def cells(value: bytes) -> list[int]:
    return list(struct.unpack(f">{len(value) // 4}I", value))


def config(ram_mib: int = 256, harts: int = 2, **kw) -> VirtFdtConfig:
    return VirtFdtConfig(ram_size=ram_mib * MiB, num_harts=harts, rng_seed=SEED, **kw)


# -- the tree on its own ----------------------------------------------------------------------------------

@pytest.mark.parametrize("harts", [1, 2, 4, 8])
def test_dtc_accepts_without_warnings(harts: int, tmp_path: Path):
    blob = build_virt_fdt(config(harts=harts, cmdline="console=ttyS0", initrd=(0x88200000, 0x882E8989)))
    _, warnings = decompile(blob, tmp_path)
    assert warnings == ""


def test_dts_text(tmp_path: Path):
    text, _ = decompile(build_virt_fdt(config(cmdline="console=ttyS0 earlycon",
                                              initrd=(0x88200000, 0x882E8989))), tmp_path)
    for line in [
        'compatible = "riscv-virtio";',
        'model = "riscv-virtio,qemu";',
        'bootargs = "console=ttyS0 earlycon";',
        'stdout-path = "/soc/serial@10000000";',
        "linux,initrd-start = <0x88200000>;",
        "linux,initrd-end = <0x882e8989>;",
        "memory@80000000 {",
        'device_type = "memory";',
        "reg = <0x00 0x80000000 0x00 0x10000000>;",
        "timebase-frequency = <0x989680>;",
        "cpu@0 {", "cpu@1 {",
        'riscv,isa = "rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc";',
        'mmu-type = "riscv,sv48";',
        'compatible = "riscv,cpu-intc";',
        "cpu-map {", "cluster0 {", "core0 {", "core1 {",
        'compatible = "simple-bus";',
        "clint@2000000 {",
        'compatible = "sifive,clint0\\0riscv,clint0";',
        "interrupts-extended = <0x04 0x03 0x04 0x07 0x02 0x03 0x02 0x07>;",
        "plic@c000000 {",
        'compatible = "sifive,plic-1.0.0\\0riscv,plic0";',
        "interrupts-extended = <0x04 0x0b 0x04 0x09 0x02 0x0b 0x02 0x09>;",
        "riscv,ndev = <0x60>;",
        "serial@10000000 {",
        'compatible = "ns16550a";',
        "interrupts = <0x0a>;",
        "test@100000 {",
        'compatible = "sifive,test1\\0sifive,test0\\0syscon";',
        "rtc@101000 {",
        'compatible = "google,goldfish-rtc";',
        'compatible = "syscon-poweroff";',
        'compatible = "syscon-reboot";',
        "value = <0x5555>;",
        "value = <0x7777>;",
        "regmap = <0x06>;",
        "virtio_mmio@10001000 {", "virtio_mmio@10008000 {",
    ]:
        assert line in text, line
    for absent in ["pci@", "flash@", "fw-cfg@", "platform-bus@", "pmu {"]:
        assert absent not in text
    # QEMU lists the virtio transports from the highest address down
    positions = [text.index(f"virtio_mmio@1000{i}000") for i in range(8, 0, -1)]
    assert positions == sorted(positions)


def test_phandles_resolve():
    blob = build_virt_fdt(config(harts=4))
    fdt = libfdt.Fdt(bytearray(blob))
    nodes = dict(walk(blob))

    def target(ph: int) -> str:
        return fdt.get_path(fdt.node_offset_by_phandle(ph))

    phandles = [cells(dict(props)["phandle"])[0] for _, props in nodes.items() if "phandle" in dict(props)]
    assert sorted(phandles) == list(range(1, 2 * 4 + 3))  # unique, dense, from 1
    for hart in range(4):
        core = cells(dict(nodes[f"/cpus/cpu-map/cluster0/core{hart}"])["cpu"])[0]
        assert target(core) == f"/cpus/cpu@{hart}"
    for dev, expect in (("/soc/clint@2000000", [3, 7]), ("/soc/plic@c000000", [11, 9])):
        ext = cells(dict(nodes[dev])["interrupts-extended"])
        assert len(ext) == 4 * 4
        for hart in range(4):
            pairs = ext[hart * 4:hart * 4 + 4]
            assert target(pairs[0]) == target(pairs[2]) == f"/cpus/cpu@{hart}/interrupt-controller"
            assert [pairs[1], pairs[3]] == expect
    for path, props in nodes.items():
        p = dict(props)
        if "interrupt-parent" in p:
            assert target(cells(p["interrupt-parent"])[0]) == "/soc/plic@c000000", path
        if "regmap" in p:
            assert target(cells(p["regmap"])[0]) == "/soc/test@100000", path


def test_options():
    cfg = VirtFdtConfig(ram_base=0x80000000, ram_size=8 << 30, num_harts=1, isa="rv64imac",
                        mmu_type="riscv,sv39", initrd=(0x100000000, 0x100001000),
                        virtio_mmio=[(0x10001000, 0x1000, 1)],
                        stdout_path="/soc/serial@10000000:115200")
    nodes = dict(walk(build_virt_fdt(cfg)))
    chosen = dict(nodes["/chosen"])
    assert "bootargs" not in chosen and "rng-seed" not in chosen
    assert cells(chosen["linux,initrd-start"]) == [1, 0]  # above 4 GiB: two cells
    assert chosen["stdout-path"] == b"/soc/serial@10000000:115200\0"
    assert cells(dict(nodes["/memory@80000000"])["reg"]) == [0, 0x80000000, 2, 0]
    assert dict(nodes["/cpus/cpu@0"])["mmu-type"] == b"riscv,sv39\0"
    assert dict(nodes["/cpus/cpu@0"])["riscv,isa"] == b"rv64imac\0"
    assert [p for p in nodes if "virtio" in p] == ["/soc/virtio_mmio@10001000"]
    with pytest.raises(ValueError):
        build_virt_fdt(VirtFdtConfig(num_harts=0))


def test_blob_is_packed():
    blob = build_virt_fdt(config())
    fdt = libfdt.Fdt(bytearray(blob))
    assert fdt.totalsize() == len(blob) < boot.FDT_MAX_SIZE
    assert fdt.version() == 17 and fdt.last_comp_version() == 16


# -- against QEMU ---------------------------------------------------------------------------------------

def qemu_dtb(tmp_path: Path, *args: str) -> bytes:
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is not installed: no comparison with QEMU's tree")
    out = tmp_path / "qemu.dtb"
    res = subprocess.run([QEMU, "-M", f"virt,dumpdtb={out}", "-display", "none", "-serial", "none", *args],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and out.exists(), res.stderr
    return out.read_bytes()


def comparable(tree: list[tuple[str, list[tuple[str, bytes]]]], ours: bool):
    """Drop what differs by design: nodes of devices we lack, the random seed's value, and the
    ``#address-cells`` we add to the harts' interrupt controllers."""
    out = []
    for path, props in tree:
        if any(fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat + "/*") for pat in NOT_IMPLEMENTED):
            continue
        kept = []
        for name, value in props:
            if name == "rng-seed":
                value = bytes(len(value))
            if ours and name == "#address-cells" and fnmatch.fnmatch(path, CPU_INTC):
                continue
            kept.append((name, value))
        out.append((path, kept))
    return out


@pytest.mark.parametrize("ram_mib, harts", [(256, 2), (128, 1), (512, 4), (4096, 8)])
def test_same_tree_as_qemu(ram_mib: int, harts: int, tmp_path: Path):
    theirs = comparable(walk(qemu_dtb(tmp_path, "-m", str(ram_mib), "-smp", str(harts))), ours=False)
    mine = comparable(walk(build_virt_fdt(config(ram_mib, harts))), ours=True)
    assert [p for p, _ in mine] == [p for p, _ in theirs]
    for (path, a), (_, b) in zip(mine, theirs, strict=True):
        assert a == b, path


def test_same_chosen_as_qemu_with_kernel(tmp_path: Path):
    """With -kernel/-initrd/-append; the initrd bounds come from the boot helpers' placement rule."""
    image, initrd = GUESTS / "Image", GUESTS / "initramfs.cpio.gz"
    for f in (image, initrd, QEMU_FW):
        if not f.exists():
            pytest.skip(f"{f} is not installed")
    cmdline = "console=ttyS0 rdinit=/sbin/init"
    theirs = comparable(walk(qemu_dtb(tmp_path, "-m", "256", "-smp", "2", "-kernel", str(image),
                                      "-initrd", str(initrd), "-append", cmdline)), ours=False)
    kernel = boot.kernel_start_addr(0x80000000 + QEMU_FW.stat().st_size)
    start = boot.initrd_start_addr(256 * MiB, kernel)
    cfg = config(256, 2, cmdline=cmdline, initrd=(start, start + initrd.stat().st_size))
    mine = comparable(walk(build_virt_fdt(cfg)), ours=True)
    assert mine == theirs
    assert cells(dict(dict(mine)["/chosen"])["linux,initrd-start"]) == [0x88200000]
