"""End to end: Debian's amd64 Linux kernel on ``pyqemu-system-x86_64 -accel kvm`` (``pc`` and ``q35``).

The kernel is Debian's generic amd64 build (``amd64/generic/*`` of ``pyqemu-guests``: the cloud kernel has
no ``e1000`` driver), started with ``-kernel``/``-initrd``/``-append`` as a user would, with two vCPUs, the
Broadwell CPU model, a virtio-blk disk and an e1000 NIC.  The initramfs is built here: Debian's static
busybox, the kernel's virtio and e1000 modules and an ``/init`` (:data:`INIT`) that prints what the guest
sees (CPUs online, PCI functions, CPUID flags, the disk, the NIC's link and driver) and powers off.

An unmodified Linux kernel needs hardware virtualization (Intel VT-x or AMD-V behind ``kvm_intel`` /
``kvm_amd``); on a host whose ``/dev/kvm`` is the software nested hypervisor ``kvm_pvm`` it does not get
through its early boot, so the boots are skipped there with the reason.  The initramfs test runs wherever
the guest software can be fetched.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pyqemu.accel.kvm.kvm import hardware_virtualization_missing
from pyqemu.hw.i386.linux_boot import parse_setup_header
from pyqemu.tools import guests

PYQEMU = [sys.executable, "-c", "import sys; from pyqemu.cli.system_x86_64 import main; sys.exit(main())"]
BOOT_TIMEOUT = 300  # seconds for the whole run; a few seconds with hardware virtualization
MARKER = "PC-LINUX-READY"
#: written by the host at sector 0 for the guest to read, and by the guest at sector 8 for the host
HOST_PATTERN = "HOST-WROTE-THIS-0123456789"
GUEST_PATTERN = "GUEST-WROTE-THIS-9876543210"
GUEST_SECTOR = 8

#: ``/init``: mount, quieten the kernel's console log (its lines would interleave with these), load the
#: modules of /etc/modules in order, print what the guest sees, power off.
INIT = f"""\
#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo 1 > /proc/sys/kernel/printk
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
echo {MARKER}
echo "cpus-online: $(cat /sys/devices/system/cpu/online)"
for d in /sys/bus/pci/devices/*; do
  v=$(cat $d/vendor); i=$(cat $d/device); echo "pci: ${{v#0x}}:${{i#0x}}"
done
grep -m1 '^flags' /proc/cpuinfo
echo "disk-read: $(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c {len(HOST_PATTERN)})"
printf '{GUEST_PATTERN}' | dd of=/dev/vda bs=512 seek={GUEST_SECTOR} conv=sync,fsync 2>/dev/null
sync; echo 3 > /proc/sys/vm/drop_caches
back=$(dd if=/dev/vda bs=512 skip={GUEST_SECTOR} count=1 2>/dev/null | head -c {len(GUEST_PATTERN)})
echo "disk-readback: $back"
ip link set eth0 up
for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && break; sleep 1; done
echo "carrier: $(cat /sys/class/net/eth0/carrier)"
echo "driver: $(basename $(readlink /sys/class/net/eth0/device/driver))"
poweroff -f
"""

#: PCI functions (vendor:device) each board must show besides the two devices of the command line
BOARD_PCI = {"pc": {"8086:1237", "8086:7000"}, "q35": {"8086:29c0", "8086:2918"}}
DEVICE_PCI = {"1af4:1042", "8086:100e"}  # virtio-blk-pci (modern), e1000


def pack_initrd(busybox: Path, modules_tar: Path, dst: Path) -> Path:
    """The test's initramfs (gzip'd newc cpio) in ``dst``: busybox, the modules of a ``modules.tar`` of
    ``pyqemu-guests``, and :data:`INIT`."""
    guests.pack_initramfs(busybox, dst, INIT, guests.module_entries(modules_tar))
    return dst


@pytest.fixture(scope="module")
def initrd(amd64_busybox: Path, guest_file: Callable[[str], Path],
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack_initrd(amd64_busybox, guest_file("amd64/generic/modules.tar"),
                       tmp_path_factory.mktemp("pc-linux") / "initramfs.cpio.gz")


# -- the initramfs (runs wherever the guest software can be fetched) ---------------------------------------


def test_initramfs_holds_init_and_the_modules(initrd: Path, amd64_busybox: Path,
                                              guest_file: Callable[[str], Path], tmp_path: Path) -> None:
    """busybox's own cpio unpacks the archive: /init, busybox, and each module of /etc/modules after what
    it depends on, built for the kernel the boots use."""
    busybox = amd64_busybox
    data = gzip.decompress(initrd.read_bytes())
    subprocess.run([str(busybox), "cpio", "-i", "-d"], input=data, cwd=tmp_path, capture_output=True,
                   check=True, timeout=60)
    assert (tmp_path / "init").read_text() == INIT and (tmp_path / "init").stat().st_mode & 0o111
    assert (tmp_path / "bin" / "busybox").read_bytes() == busybox.read_bytes()
    order = (tmp_path / "etc" / "modules").read_text().split()
    for name in ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
                 "virtio_blk", "virtio_rng", "e1000"):
        assert name in order, name
    for pos, name in enumerate(order):
        ko = (tmp_path / "lib" / "modules" / f"{name}.ko").read_bytes()
        info = guests.modinfo(ko)
        assert info["name"] == name
        for dep in filter(None, info.get("depends", "").split(",")):
            assert order.index(dep) < pos, f"{name} is loaded before {dep}"
    # built for that kernel: the vermagic names the release of the bzImage's version string
    release = parse_setup_header(guest_file("amd64/generic/bzImage").read_bytes()).kernel_version.split()[0]
    assert guests.modinfo((tmp_path / "lib/modules/e1000.ko").read_bytes())["vermagic"].split()[0] == release
    subprocess.run([str(busybox), "sh", "-n", str(tmp_path / "init")], check=True, timeout=60)


# -- the boots (hardware virtualization only) ---------------------------------------------------------------


MISSING = hardware_virtualization_missing()


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))  # before the guest software is fetched
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_linux_with_smp_virtio_blk_and_e1000(machine: str, initrd: Path, guest_file: Callable[[str], Path],
                                             tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(HOST_PATTERN.encode().ljust(1 << 20, b"\0"))
    kernel = guest_file("amd64/generic/bzImage")
    r = subprocess.run([*PYQEMU, "-M", machine, "-accel", "kvm", "-m", "512", "-smp", "2", "-nographic",
                        "-no-reboot", "-cpu", "Broadwell", "-kernel", str(kernel),
                        "-initrd", str(initrd), "-append", "console=ttyS0 panic=-1",
                        "-drive", f"file={disk},format=raw,if=virtio", "-device", "e1000"],
                       capture_output=True, text=True, errors="replace", timeout=BOOT_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.replace("\r\n", "\n")
    print(out[-6000:], r.stderr[-2000:], sep="\n")
    assert MARKER in out, f"no {MARKER} (status {r.returncode})"
    before, _, after = out.partition(MARKER)
    assert not re.findall(r"insmod \S+ failed", before), "a module did not load"
    lines = after.splitlines()

    def value(key: str) -> str:
        """What the guest printed after ``key:`` (or after ``key`` and tabs, as /proc/cpuinfo does)."""
        found = [ln.split(":", 1)[1].strip() for ln in lines if ln.split(":", 1)[0].strip() == key]
        assert found, f"the guest printed no {key!r}"
        return found[0]

    assert value("cpus-online") == "0-1"
    pci = {ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("pci:")}
    assert BOARD_PCI[machine] | DEVICE_PCI <= pci, pci
    flags = value("flags").split()
    assert {"avx2", "bmi2"} <= set(flags), "Broadwell features qemu64 lacks"
    assert value("disk-read") == HOST_PATTERN
    assert value("disk-readback") == GUEST_PATTERN
    assert value("carrier") == "1"
    assert value("driver") == "e1000"
    assert r.returncode == 0
    data = disk.read_bytes()
    assert data[GUEST_SECTOR * 512:(GUEST_SECTOR + 1) * 512] == GUEST_PATTERN.encode().ljust(512, b"\0")
