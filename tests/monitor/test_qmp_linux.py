"""QMP with a real Linux guest: a disk the guest cannot read reports BLOCK_IO_ERROR (``rerror=report``),
and with ``rerror=stop`` pauses the VM in the ``io-error`` state until ``cont``; ``quit`` still ends a VM
stopped that way.  The disks are qcow2 images (made by Debian's ``qemu-img``) whose L1 table was damaged
so that every read of their first cluster fails, as QEMU's qcow2 driver also reports it."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.test_qmp import VM, _client, _event, _hang_up

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 240


def _damaged_qcow2(path: Path) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x55 0 64k", str(path)], check=True, capture_output=True)
    with open(path, "r+b") as f:
        header = f.read(48)
        l1 = struct.unpack(">Q", header[40:48])[0]
        f.seek(l1)
        entry = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1)
        f.write(struct.pack(">Q", entry | 0x200))  # an L2 table offset that is not cluster-aligned


def test_block_io_error_events_and_io_error_stop(guest_file: Callable[[str], Path], tmp_path: Path) -> None:
    if shutil.which("qemu-io") is None:
        pytest.skip("qemu-io (Debian's qemu-utils) is not installed")
    kernel, initrd = guest_file("riscv64/Image"), guest_file("riscv64/initramfs.cpio.gz")
    bad_report, bad_stop = tmp_path / "report.qcow2", tmp_path / "stop.qcow2"
    _damaged_qcow2(bad_report)
    _damaged_qcow2(bad_stop)
    drives = ("-drive", f"file={bad_report},if=virtio,format=qcow2,id=rep,rerror=report",
              "-drive", f"file={bad_stop},if=virtio,format=qcow2,id=halt,rerror=stop")
    boot = ("-m", "256", "-initrd", str(initrd), "-append", "console=ttyS0")
    vm = VM(tmp_path, kernel, *boot, *drives, bios=())

    async def run() -> None:
        c = await _client(vm.qmp_path)
        seen: dict[str, dict] = {}
        while len(seen) < 2:
            event = await _event(c, "BLOCK_IO_ERROR", BOOT_TIMEOUT)
            seen.setdefault(event["data"]["device"], event["data"])
        assert seen["rep"] == {"device": "rep", "node-name": "rep", "operation": "read", "action": "report",
                               "nospace": False, "reason": "Input/output error"}
        assert seen["halt"]["action"] == "stop"
        status = await c.execute("query-status")
        if status["status"] != "io-error":
            await _event(c, "STOP", 60)
            status = await c.execute("query-status")
        assert status == {"running": False, "singlestep": False, "status": "io-error"}
        # cont retries the request, which fails again and stops the VM again
        await c.execute("cont")
        await _event(c, "RESUME", 60)
        await _event(c, "STOP", 60)
        await c.execute("quit")
        assert (await _event(c, "SHUTDOWN", 60))["data"]["reason"] == "host-qmp-quit"
        await _hang_up(c)

    vm.run_until_exit(run, timeout=60)
