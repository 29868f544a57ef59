"""End to end: real firmware and a real kernel on ``pyqemu-system-riscv64 -M virt``.

Debian's OpenSBI and U-Boot, and the team's Linux 6.1 Image with its busybox initramfs (from
``pyqemu-guests``), driven through the serial console the way a user would (``-nographic``, typing on
stdin), with the peers a user would attach (unix sockets for chardevs, the human monitor on a socket).
These are slow (tens of seconds each), so they are marked ``slow``; CI still runs them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli.system_helpers import Session  # tests/ is on sys.path (tests/conftest.py)

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 240  # seconds to the marker; about 25 s here, more on a loaded machine
APPEND = "console=ttyS0 panic=-1"


@pytest.fixture(scope="module")
def linux(guest_file: Callable[[str], Path]) -> tuple[Path, Path]:
    return guest_file("riscv64/Image"), guest_file("riscv64/initramfs.cpio.gz")


def _boot(linux: tuple[Path, Path], *extra: str, append: str = APPEND) -> Session:
    kernel, initrd = linux
    return Session("-M", "virt", "-m", "256", "-nographic", "-kernel", kernel, "-initrd", initrd,
                   "-append", append, *extra, banner=False)


def test_linux_boots_to_user_space_and_powers_off(linux: tuple[Path, Path]) -> None:
    s = _boot(linux)
    try:
        s.read_until(b"OpenSBI v1.1", BOOT_TIMEOUT)
        s.read_until(b"Linux version 6.1", BOOT_TIMEOUT)
        s.read_until(b"GUEST-READY", BOOT_TIMEOUT)
        line = s.read_until(b"\n", 60) + s.read_until(b"\n", 60)
        assert b"riscv64 GNU/Linux" in line
        s.read_until(b"reboot: Power down", 120)
        assert s.wait(60) == 0  # the guest's poweroff ends pyqemu with status 0
    finally:
        s.close()


def test_shell_on_the_serial_console_and_a_virtio_disk(linux: tuple[Path, Path], tmp_path: Path) -> None:
    """Commands typed on the serial line run in the guest's shell; what the guest writes to its
    virtio-blk disk is in the image file afterwards."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    s = _boot(linux, "-drive", f"file={disk},if=none,format=raw,id=d0",
              "-device", "virtio-blk-device,drive=d0", append=APPEND + " shell")
    try:
        s.read_until(b"block: vda", BOOT_TIMEOUT)
        s.read_until(b"'poweroff -f' to leave", 60)
        s.send(b"echo answer-$((6 * 7))\n")
        s.read_until(b"answer-42", 60)
        s.send(b"printf 'written-by-the-guest' | dd of=/dev/vda bs=512 seek=3 conv=sync,fsync"
               b" && echo dd-ok\n")
        s.read_until(b"dd-ok", 60)
        s.send(b"poweroff -f\n")
        assert s.wait(120) == 0
    finally:
        s.close()
    data = disk.read_bytes()
    assert data[3 * 512:3 * 512 + 20] == b"written-by-the-guest"
    assert data[:3 * 512] == bytes(3 * 512)


def test_smp_2_brings_both_harts_online(linux: tuple[Path, Path]) -> None:
    s = _boot(linux, "-smp", "2")
    try:
        s.read_until(b"smp: Brought up 1 node, 2 CPUs", BOOT_TIMEOUT)
        s.read_until(b"cpus: 2", BOOT_TIMEOUT)
        assert s.wait(120) == 0
    finally:
        s.close()


def test_u_boot_prompt_answers_version(guest_file: Callable[[str], Path]) -> None:
    uboot = guest_file("riscv64/u-boot-smode.bin")
    s = Session("-M", "virt", "-m", "256", "-nographic", "-kernel", uboot, banner=False)
    try:
        s.read_until(b"Hit any key to stop autoboot", BOOT_TIMEOUT)
        s.send(b"\n")  # stop the countdown
        s.read_until(b"=> ", 60)
        s.send(b"version\n")
        out = s.read_until(b"=> ", 60)
        assert b"U-Boot 2023.01" in out
        s.send(b"\x01x")  # Ctrl-A x
        assert s.wait(30) == 0
    finally:
        s.close()


def _recv_until(sock: socket.socket, marker: bytes, timeout: float = 60) -> bytes:
    """What a peer of the VM reads up to and including ``marker``."""
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError(f"no {marker!r} in {data!r}")
        data += chunk
    return data


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 30
    while True:
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_virtio_serial_ports_and_hotplug(linux: tuple[Path, Path], guest_file: Callable[[str], Path],
                                         tmp_path: Path) -> None:
    """A named virtserialport appears in the guest's /sys/class/virtio-ports and carries data both ways
    through a unix socket, a virtconsole becomes a hvc terminal, and ``device_add``/``device_del`` on the
    human monitor hot-plug another port."""
    if "CONFIG_VIRTIO_CONSOLE=y" not in guest_file("riscv64/config").read_text().splitlines():
        pytest.skip("the riscv64 guest kernel was built without CONFIG_VIRTIO_CONSOLE")
    sock0, sock1, sock2 = (tmp_path / f"ch{i}.sock" for i in range(3))
    mon = tmp_path / "mon.sock"
    s = _boot(linux, "-device", "virtio-serial-device,id=vser0",
              "-chardev", f"socket,id=ch0,path={sock0},server=on,wait=off",
              "-device", "virtconsole,chardev=ch0,id=con0",
              "-chardev", f"socket,id=ch1,path={sock1},server=on,wait=off",
              "-device", "virtserialport,chardev=ch1,name=org.test.port0,id=port1",
              "-chardev", f"socket,id=ch2,path={sock2},server=on,wait=off",
              "-monitor", f"unix:{mon},server=on,wait=off", append=APPEND + " shell")
    peers: list[socket.socket] = []

    def sh(command: str, tag: str, timeout: float = 60) -> str:
        """Run ``command`` in the guest's shell; its output (the echoed line holds no ``tag-42``)."""
        s.send(f"{command}; echo {tag}-$((6 * 7))\n".encode())
        return s.read_until(f"{tag}-42".encode(), timeout).decode("utf-8", "replace")

    def hmp(command: str) -> str:
        monitor.sendall(command.encode() + b"\n")
        return _recv_until(monitor, b"(qemu) ").decode("utf-8", "replace")

    def port_of(name: str) -> str:
        """Shell code that waits for the port called ``name`` and sets P to its /dev node."""
        return (f"until grep -qs {name} /sys/class/virtio-ports/*/name; do sleep 1; done; "
                f"P=/dev/$(grep -l {name} /sys/class/virtio-ports/*/name | cut -d/ -f5)")

    try:
        s.read_until(b"'poweroff -f' to leave", BOOT_TIMEOUT)
        out = sh(f"{port_of('org.test.port0')}; cat /sys/class/virtio-ports/*/name; echo port=$P", "names")
        assert "\norg.test.port0\r\n" in out and "port=/dev/vport" in out
        host1 = _connect(sock1)
        peers.append(host1)
        sh("echo from-the-guest > $P", "wrote")
        assert _recv_until(host1, b"\n") == b"from-the-guest\n"
        host1.sendall(b"to-the-guest\n")  # waits in pyqemu until the guest opens the port
        assert "\nto-the-guest\r\n" in sh("head -n 1 $P", "read")
        console = _connect(sock0)  # the console port is a hvc terminal (hvc0 is the SBI console)
        peers.append(console)
        sh("echo via-hvc > /dev/hvc1", "console")
        assert _recv_until(console, b"\n") == b"via-hvc\r\n"

        monitor = _connect(mon)
        peers.append(monitor)
        _recv_until(monitor, b"(qemu) ")
        assert "Error" not in hmp("device_add virtserialport,chardev=ch2,name=org.test.hot,id=hot1")
        out = sh(f"{port_of('org.test.hot')}; echo count=$(ls /sys/class/virtio-ports | wc -l)", "hot")
        assert "count=3" in out
        host2 = _connect(sock2)
        peers.append(host2)
        sh("echo hot-data > $P", "hot-wrote")
        assert _recv_until(host2, b"\n") == b"hot-data\n"

        assert "Error" not in hmp("device_del hot1")
        out = sh("while grep -qs org.test.hot /sys/class/virtio-ports/*/name; do sleep 1; done; "
                 "echo count=$(ls /sys/class/virtio-ports | wc -l); test -e $P || echo node-removed", "gone")
        assert "count=2" in out and "\nnode-removed" in out
        s.send(b"poweroff -f\n")
        assert s.wait(120) == 0
    finally:
        for peer in peers:
            peer.close()
        s.close()
