"""``pyqemu-system-x86_64 -accel kvm``: small x86 guests on the ``pc`` and ``q35`` boards, run as a user runs
them and, where Debian's ``qemu-system-x86_64`` can be had, side by side with it (same output, same exit
status).

The guests are built here: ``tests/guest/x86/pcguest.c`` (a multiboot kernel, ``gcc -m32
-ffreestanding``; ``-append`` picks the scenario) and ``realmode_bios.S`` (a 64 KiB ``-bios`` image started
at the reset vector, GNU as).  They need a usable ``/dev/kvm``; without one every test here is skipped with
the reason.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyqemu.accel.kvm.kvm import kvm_available

GUEST_DIR = Path(__file__).resolve().parents[1] / "guest" / "x86"
PYQEMU = [sys.executable, "-c", "import sys; from pyqemu.cli.system_x86_64 import main; sys.exit(main())"]
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=1"]
GUEST_DONE = 33  # isa-debug-exit with 0x10: (0x10 << 1) | 1

pytestmark = pytest.mark.skipif(kvm_available() is not None, reason=f"/dev/kvm: {kvm_available()}")


@pytest.fixture(scope="module")
def pcguest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the x86 test kernel")
    out = tmp_path_factory.mktemp("x86") / "pcguest.elf"
    r = subprocess.run([gcc, "-m32", "-ffreestanding", "-fno-pic", "-no-pie", "-fno-stack-protector",
                        "-nostdlib", "-static", "-O2", f"-Wl,-T,{GUEST_DIR / 'pcguest.ld'}",
                        "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-o", str(out),
                        str(GUEST_DIR / "pcguest.c")],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        pytest.skip(f"gcc -m32 cannot build the x86 test kernel: {r.stderr.strip()[:300]}")
    return out


def assemble_flat(source: str, out: Path) -> bytes:
    """A flat 16-bit binary from ``tests/guest/x86/<source>`` (GNU as + ld from binutils)."""
    obj = out.with_suffix(".o")
    subprocess.run(["as", "--32", "-I", str(GUEST_DIR), "-o", str(obj), str(GUEST_DIR / source)], check=True,
                   timeout=60)
    subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0", "--oformat", "binary", "-o", str(out), str(obj)],
                   check=True, timeout=60)
    return out.read_bytes()


@pytest.fixture(scope="module")
def realmode_bios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = tmp_path_factory.mktemp("bios") / "bios.bin"
    assert len(assemble_flat("realmode_bios.S", image)) == 0x10000
    return image


def run_pyqemu(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYQEMU, "-display", "none", "-serial", "stdio", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_qemu(*args: str) -> subprocess.CompletedProcess[str]:
    from tests.hw.i386.qemu_ref import find_qemu

    cmd, env = find_qemu()
    return subprocess.run([*cmd, "-accel", "kvm", "-display", "none", "-vga", "none", "-nic", "none",
                           "-serial", "stdio", *args], capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


SCENARIOS = {
    # -append: (extra options, expected serial output, exit status)
    "hello": ((), "hello: {kernel} hello\n", GUEST_DONE),
    "longmode": ((), "in long mode\n64-bit arithmetic ok\n", GUEST_DONE),
    "lapic": ((), "lapic timer woke the hlt\n", GUEST_DONE),
    "pit": ((), "pit interrupt via ioapic woke the hlt\n", GUEST_DONE),
    "smp": (("-smp", "2"), "cpu 0x00000000 is the bsp\ncpu 0x00000001 online\ncpus online: 0x00000002\n",
            GUEST_DONE),
    "poweroff": ((), "powering off\n", 0),
    "reset": ((), "boot 0x00000000\nboot 0x00000001\n", GUEST_DONE),
    "longmode smp": (("-M", "q35", "-smp", "2"), "cpu 0x00000000 is the bsp\ncpu 0x00000001 online\n"
                     "cpus online: 0x00000002\nin long mode\n64-bit arithmetic ok\n", GUEST_DONE),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_multiboot_guest(pcguest: Path, scenario: str) -> None:
    extra, expected, status = SCENARIOS[scenario]
    r = run_pyqemu("-kernel", str(pcguest), "-append", scenario, *extra, *DEBUG_EXIT)
    assert (r.stdout, r.returncode) == (expected.format(kernel=pcguest), status), r.stderr


@pytest.mark.parametrize("scenario", ["hello", "longmode", "pit", "smp", "poweroff", "reset"])
def test_multiboot_guest_as_under_qemu(pcguest: Path, scenario: str) -> None:
    """The same kernel, options and guest output under Debian's qemu-system-x86_64 (SeaBIOS boots it
    there; pyqemu loads it directly)."""
    extra, _, _ = SCENARIOS[scenario]
    ours = run_pyqemu("-accel", "kvm", "-kernel", str(pcguest), "-append", scenario, *extra, *DEBUG_EXIT)
    theirs = run_qemu("-kernel", str(pcguest), "-append", scenario, *extra, *DEBUG_EXIT)
    assert (ours.stdout, ours.returncode) == (theirs.stdout, theirs.returncode)
    # the CPU model's warnings (features this host's KVM lacks) are QEMU's, word for word
    warnings = [line.split(": ", 1)[1] for line in theirs.stderr.splitlines() if ": warning: " in line]
    assert [line.split(": ", 1)[1] for line in ours.stderr.splitlines() if ": warning: " in line] == warnings


def test_real_mode_firmware_at_the_reset_vector(realmode_bios: Path) -> None:
    ours = run_pyqemu("-bios", str(realmode_bios), *DEBUG_EXIT)
    assert (ours.stdout, ours.returncode) == ("hello from real mode at the reset vector\n", GUEST_DONE)
    theirs = run_qemu("-bios", str(realmode_bios), *DEBUG_EXIT)
    assert (theirs.stdout, theirs.returncode) == (ours.stdout, ours.returncode)


@pytest.fixture(scope="module")
def seabios_dir() -> Path:
    from pyqemu.tools import guests

    try:
        return guests.debian_package("seabios") / "usr" / "share" / "seabios"
    except (guests.GuestError, OSError) as exc:
        pytest.skip(f"Debian's SeaBIOS could not be fetched: {exc}")


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_seabios_boots_a_virtio_disk(seabios_dir: Path, tmp_path: Path, machine: str) -> None:
    """Real firmware on the board: SeaBIOS (Debian's bios-256k.bin, the default -bios) enumerates PCI,
    drives the virtio-blk-pci disk through its virtqueues, loads the boot sector and runs it -- as under
    Debian's qemu-system-x86_64."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(assemble_flat("mbr_boot.S", tmp_path / "mbr.bin").ljust(1 << 20, b"\0"))
    args = ["-M", machine, "-L", str(seabios_dir), "-drive", f"file={disk},format=raw,if=virtio", *DEBUG_EXIT]
    ours = run_pyqemu(*args)
    assert (ours.stdout, ours.returncode) == ("booted from the disk's MBR by the firmware\n", GUEST_DONE), \
        ours.stderr
    theirs = run_qemu(*args)
    assert (theirs.stdout, theirs.returncode) == (ours.stdout, ours.returncode)


def test_q35_config_space_through_ecam(pcguest: Path) -> None:
    """MMIO to a device model: the guest enables the MMCONFIG window through the MCH's PCIEXBAR and reads
    vendor/device ids through it."""
    r = run_pyqemu("-M", "q35", "-kernel", str(pcguest), "-append", "pci ecam", *DEBUG_EXIT)
    assert r.returncode == GUEST_DONE, r.stderr
    assert r.stdout.splitlines() == [
        "pci 00:0x00000000.0x00000000 id 0x29c08086 class 0x00060000",
        "pci 00:0x0000001f.0x00000000 id 0x29188086 class 0x00060100",
        "ecam 00.0 0x29c08086", "ecam 1f.0 0x29188086", "ecam 05.0 0xffffffff"]


def test_pc_pci_functions(pcguest: Path) -> None:
    r = run_pyqemu("-kernel", str(pcguest), "-append", "pci", *DEBUG_EXIT)
    assert r.stdout.splitlines() == [
        "pci 00:0x00000000.0x00000000 id 0x12378086 class 0x00060000",
        "pci 00:0x00000001.0x00000000 id 0x70008086 class 0x00060100"]


def test_pci_devices_seen_by_the_guest(pcguest: Path, tmp_path: Path) -> None:
    """-device and -drive if=virtio put virtio-pci functions and the three e1000 variants on bus 0, where
    the guest's probe finds their real ids and classes."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    r = run_pyqemu("-kernel", str(pcguest), "-append", "pci", *DEBUG_EXIT, "-device", "virtio-rng-pci",
                   "-drive", f"file={disk},format=raw,if=virtio", "-device", "e1000",
                   "-device", "e1000-82544gc", "-device", "e1000-82545em,addr=10")
    assert r.returncode == GUEST_DONE, r.stderr
    assert r.stdout.splitlines()[2:] == [
        "pci 00:0x00000002.0x00000000 id 0x10441af4 class 0x0000ff00",
        "pci 00:0x00000003.0x00000000 id 0x100e8086 class 0x00020000",
        "pci 00:0x00000004.0x00000000 id 0x100c8086 class 0x00020000",
        "pci 00:0x00000005.0x00000000 id 0x10421af4 class 0x00018000",
        "pci 00:0x00000010.0x00000000 id 0x100f8086 class 0x00020000"]


@pytest.mark.parametrize("machine, e1000_slot, e1000_irq, rng_slot", [("pc", 2, 11, 3), ("q35", 1, 10, 2)])
def test_pci_set_up_as_a_firmware_would(pcguest: Path, machine: str, e1000_slot: int, e1000_irq: int,
                                        rng_slot: int) -> None:
    """With -kernel no firmware runs, so the board assigns BARs, routes the PIRQs to IRQs 10/11 and sets the
    interrupt lines as SeaBIOS would; the guest then reaches the e1000's registers through its BAR 0 (its
    STATUS register: link up, full duplex, 1000 Mb/s)."""
    r = run_pyqemu("-M", machine, "-kernel", str(pcguest), "-append", "pcibars", *DEBUG_EXIT,
                   "-device", "e1000", "-device", "virtio-rng-pci")
    assert r.returncode == GUEST_DONE, r.stderr
    assert r.stdout.splitlines() == [
        f"dev 0x{e1000_slot:08x} cmd 0x00000007 irq 0x000001{e1000_irq:02x}",
        "  bar0 0xc0000000", "  bar1 0x0000c001", "  e1000 status 0x00000083",
        f"dev 0x{rng_slot:08x} cmd 0x00000007 irq 0x0000010b", "  bar4 0xc002000c"]


def _qmp(path: str, *commands: str | tuple[str, dict]) -> list[dict]:
    for _ in range(200):
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            break
        except OSError:
            time.sleep(0.05)
    replies = []
    with sock, sock.makefile("rw") as f:
        json.loads(f.readline())  # greeting
        for cmd in ("qmp_capabilities", *commands):
            name, arguments = cmd if isinstance(cmd, tuple) else (cmd, {})
            f.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    replies.append(msg)
                    break
    return replies[1:]


def test_monitor_and_power_button(pcguest: Path, tmp_path: Path) -> None:
    """QMP on a KVM guest: query-kvm, a thread per vCPU, ``info registers`` (QEMU's x86 dump), stop/cont,
    then system_powerdown presses the ACPI power button: the guest takes the SCI through the IOAPIC, sees
    PWRBTN_STS and powers off (status 0)."""
    sock = str(tmp_path / "qmp.sock")
    serial = tmp_path / "serial.txt"
    proc = subprocess.Popen([*PYQEMU, "-display", "none", "-serial", f"file:{serial}", "-smp", "2",
                             "-kernel", str(pcguest), "-append", "powerbutton",
                             "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while b"waiting for the power button" not in (serial.read_bytes() if serial.exists() else b""):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        kvm, cpus, regs, _, status, _ = _qmp(sock, "query-kvm", "query-cpus-fast", (
            "human-monitor-command", {"command-line": "info registers"}), "stop", "query-status", "cont")
        assert kvm["return"] == {"enabled": True, "present": True}
        assert [c["target"] for c in cpus["return"]] == ["x86_64", "x86_64"]
        assert len({c["thread-id"] for c in cpus["return"]}) == 2
        dump = regs["return"].replace("\r\n", "\n")
        assert "\nCPU#0\nEAX=" in dump and "\nCS =0010 00000000 ffffffff 00c09b00 DPL=0 CS32 [-RA]" in dump
        assert status["return"]["status"] == "paused"
        _qmp(sock, "system_powerdown")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert serial.read_text() == "waiting for the power button\nsci: power button pressed\n"


def test_triple_fault(pcguest: Path, tmp_path: Path) -> None:
    """int3 with an empty IDT. Real KVM reports a triple fault (SHUTDOWN): a reset, which -no-reboot turns
    into the end of the run.  This host's kvm_pvm gives up in its instruction emulator instead: QEMU's
    "KVM internal error" report with the register dump, and the VM stopped in ``internal-error`` with the
    monitor still answering -- as QEMU 7.2 does on the same host."""
    sock = str(tmp_path / "qmp.sock")
    proc = subprocess.Popen([*PYQEMU, "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel",
                             str(pcguest), "-append", "triple", "-qmp", f"unix:{sock},server=on,wait=off",
                             *DEBUG_EXIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            status = _qmp(sock, "query-status")[0]["return"]
            if status["status"] != "running":
                break
            time.sleep(0.2)
        if proc.poll() is None:
            assert status == {"status": "internal-error", "singlestep": False, "running": False}
            _qmp(sock, "quit")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert out == "about to triple fault\n"
    if "KVM internal error" in err:
        assert "KVM internal error. Suberror: 1\n" in err and "emulation failure\n" in err
        assert "\nEIP=" in err and "\nCR0=00000011 " in err and "\nCode=" in err
    else:
        assert proc.returncode == 0, err


@pytest.mark.parametrize("args, message", [
    (["-kernel", "/no/such/kernel"],
     "could not open kernel file '/no/such/kernel': No such file or directory"),
    (["-cpu", "Pentium9"], "unable to find CPU model 'Pentium9'"),
    (["-accel", "tcg"], "-accel tcg: invalid accelerator tcg"),
    (["-m", "64T"], "cannot set up guest memory 'pc.ram': Cannot allocate memory"),
    (["-M", "virt"], "unsupported machine type"),
])
def test_bad_input(args: list[str], message: str) -> None:
    r = run_pyqemu(*args, timeout=30)
    assert r.returncode == 1
    assert f"pyqemu-system-x86_64: {message}" in r.stderr
    assert "Traceback" not in r.stderr


def test_listings() -> None:
    r = run_pyqemu("-accel", "help")
    assert r.stdout == "Accelerators supported in QEMU binary:\nkvm\n"
    r = run_pyqemu("-machine", "help")
    assert "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)" in r.stdout
    assert "q35" in r.stdout
    r = run_pyqemu("-cpu", "help")
    assert "Broadwell" in r.stdout and "EPYC" in r.stdout


def test_cpu_model_reaches_the_guest(pcguest: Path) -> None:
    r = run_pyqemu("-cpu", "Broadwell", "-kernel", str(pcguest), "-append", "hello", *DEBUG_EXIT)
    assert r.returncode == GUEST_DONE


def test_without_dev_kvm(pcguest: Path) -> None:
    """No /dev/kvm (an empty /dev in a private mount namespace): QEMU's two lines, status 1."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    script = "mount -t tmpfs none /dev && exec " + " ".join(
        f"'{a}'" for a in [*PYQEMU, "-display", "none", "-accel", "kvm", "-kernel", str(pcguest)])
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                       text=True, timeout=60)
    if "unshare failed" in r.stderr or "mount:" in r.stderr:
        pytest.skip(f"cannot hide /dev/kvm here: {r.stderr.strip()}")
    assert (r.returncode, r.stderr) == (1, "Could not access KVM kernel module: No such file or directory\n"
                                            "pyqemu-system-x86_64: -accel kvm: failed to initialize kvm: "
                                            "No such file or directory\n")
