"""``pyqemu-system-riscv64``'s command line, run as a real process: help listings, errors (message text
and exit status, as QEMU 7.2's qemu-system-riscv64 prints them, with our program name), -machine
dumpdtb, bare-metal guests on the virt board (UART output, SiFive test power-off status), -nographic's
Ctrl-A x, -no-reboot and termination by signal."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .system_helpers import PROG, Session, build_programs, run_system, system_cmd

SIZE_HINT = (
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
    "and exabytes, respectively.\n"
)


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_programs(tmp_path_factory.mktemp("baremetal"))


@pytest.fixture(scope="session")
def raw_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "disk.raw"
    path.write_bytes(bytes(range(256)) * 64)
    return path


# -- listings --------------------------------------------------------------------------------------


def test_version() -> None:
    res = run_system("-version")
    assert (res.returncode, res.stderr) == (0, "")
    assert re.fullmatch(r"QEMU emulator version 2\.1\.0 \(pyqemu [0-9.]+\)\n", res.stdout)


@pytest.mark.parametrize("option", ["-h", "-help", "--help"])
def test_help(option: str) -> None:
    res = run_system(option)
    assert res.returncode == 0
    assert f"usage: {PROG} [options] [disk_image]" in res.stdout
    for opt in (
        "-machine",
        "-device driver",
        "-drive",
        "-nographic",
        "-monitor dev",
        "-serial dev",
        "-bios",
        "-kernel",
        "-S ",
        "-no-reboot",
    ):
        assert opt in res.stdout


def test_machine_help() -> None:
    res = run_system("-machine", "help")
    assert (res.returncode, res.stdout) == (
        0,
        "Supported machines are:\nvirt                 RISC-V VirtIO board (default)\n",
    )


def test_machine_properties_help() -> None:
    res = run_system("-M", "virt,help")
    assert res.returncode == 0
    assert res.stdout.startswith("virt-machine options:\n")
    assert "  dumpdtb=<string>       - Dump current dtb to a file and quit\n" in res.stdout


def test_cpu_help() -> None:
    res = run_system("-cpu", "help")
    assert (res.returncode, res.stdout) == (0, "any\nrv64\n")


def test_device_help() -> None:
    res = run_system("-device", "help")
    assert res.returncode == 0
    assert res.stdout == (
        'Storage devices:\nname "virtio-blk-device", bus virtio-bus\n\n'
        'Input devices:\nname "virtconsole", bus virtio-serial-bus\n'
        'name "virtio-serial-device", bus virtio-bus\n'
        'name "virtserialport", bus virtio-serial-bus\n\n'
        'Misc devices:\nname "virtio-rng-device", bus virtio-bus\n'
    )


def test_device_type_help() -> None:
    res = run_system("-device", "virtio-blk-device,help")
    assert res.returncode == 0
    assert res.stdout == (
        "virtio-blk-device options:\n"
        "  drive=<str>            - Node name or ID of a block device to use as a backend\n"
        "  event_idx=<bool>       - on/off (default: true)\n"
        "  indirect_desc=<bool>   - on/off (default: true)\n"
        "  queue-size=<uint16>    -  (default: 256)\n"
        "  serial=<str>\n"
    )
    res = run_system("-device", "virtconsole,help")
    assert res.stdout == (
        "virtconsole options:\n"
        "  chardev=<str>          - ID of a chardev to use as a backend\n"
        "  name=<str>\n"
        "  nr=<uint32>            -  (default: 4294967295)\n"
    )
    res = run_system("-device", "virtio-serial-device,help")
    assert res.stdout == (
        "virtio-serial-device options:\n"
        "  emergency-write=<bool> - on/off (default: true)\n"
        "  event_idx=<bool>       - on/off (default: true)\n"
        "  indirect_desc=<bool>   - on/off (default: true)\n"
        "  max_ports=<uint32>     -  (default: 31)\n"
    )


def test_device_help_unknown_type_exits_0() -> None:
    # QEMU reports the error but exits with status 0
    res = run_system("-device", "foo,help")
    assert (res.returncode, res.stdout) == (0, "")
    assert res.stderr == f"{PROG}: -device foo,help: Device 'foo' not found\n"


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (["-accel", "help"], "Accelerators supported in QEMU binary:\ntcg\n"),
        (["-display", "help"], "Available display backend types:\nnone\n"),
    ],
)
def test_other_listings(args: list[str], stdout: str) -> None:
    res = run_system(*args)
    assert (res.returncode, res.stdout) == (0, stdout)


def test_log_help_exits_1() -> None:
    res = run_system("-d", "help")
    assert res.returncode == 1
    assert res.stdout.startswith("Log items (comma separated):\n")
    assert "in_asm" in res.stdout


def test_chardev_help() -> None:
    res = run_system("-chardev", "help")
    assert res.returncode == 0
    assert res.stdout.startswith("Available chardev backend types:")


# -- errors ----------------------------------------------------------------------------------------

ERRORS = [
    (["-foo"], "-foo: invalid option\n"),
    (["-m"], "-m: requires an argument\n"),
    (["-M", "foo"], "unsupported machine type\n", "Use -machine help to list supported machines\n"),
    (["-machine", "virt,foo=bar"], "Property 'virt-machine.foo' not found\n"),
    (["-cpu", "foo"], "unable to find CPU model 'foo'\n"),
    (
        ["-cpu", "rv64,foo=on"],
        "can't apply global rv64-riscv-cpu.foo=on: Property 'rv64-riscv-cpu.foo' not found\n",
    ),
    (["-m", "foo"], "-m foo: Parameter 'size' expects a non-negative number below 2^64\n", SIZE_HINT),
    (["-m", "-5"], "-m -5: Parameter 'size' expects a non-negative number below 2^64\n", SIZE_HINT),
    (["-m", "0.5"], "-m 0.5: Parameter 'size' expects a non-negative number below 2^64\n", SIZE_HINT),
    (["-m", "size=64M,foo=1"], "-m size=64M,foo=1: Invalid parameter 'foo'\n"),
    (["-m", "1G,slots=2"], "slots specified but no max-size\n"),
    (
        ["-m", "2G,maxmem=1G"],
        "invalid value of maxmem: maximum memory size (0x40000000) must be at least the "
        "initial memory size (0x80000000)\n",
    ),
    (["-smp", "foo"], "Parameter 'smp.cpus' expects integer\n"),
    (["-smp", "2,foo=1"], "Parameter 'smp.foo' is unexpected\n"),
    (["-smp", "600"], "Invalid SMP CPUs 600. The max CPUs supported by machine 'virt' is 512\n"),
    (
        ["-smp", "cpus=2,maxcpus=1"],
        "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
        "sockets (1) * cores (1) * threads (1) == maxcpus (1) < smp_cpus (2)\n",
    ),
    (
        ["-smp", "4,sockets=3"],
        "Invalid CPU topology: product of the hierarchy must match maxcpus: "
        "sockets (3) * cores (1) * threads (1) != maxcpus (4)\n",
    ),
    (["-accel", "kvm"], "-accel kvm: invalid accelerator kvm\n"),
    (["-accel", "foo"], "-accel foo: invalid accelerator foo\n"),
    (["-accel", "tcg,foo=1"], "-accel tcg,foo=1: Property 'tcg-accel.foo' not found\n"),
    (["-accel", "tcg,tb-size=big"], "-accel tcg,tb-size=big: Parameter 'tb-size' expects uint32_t\n"),
    (["-accel", "tcg,backend=foo"],
     "-accel tcg,backend=foo: Parameter 'backend' does not accept value 'foo' (python, x86_64)\n"),
    (["-enable-kvm"], "invalid accelerator kvm\n"),
    (["-machine", "virt,accel=kvm"], "invalid accelerator kvm\n"),
    (["-display", "foo"], "-display foo: Parameter 'type' does not accept value 'foo'\n"),
    (["-display", "none,foo"], "-display none,foo: Expected '=' after parameter 'foo'\n"),
    (
        ["-rtc", "base=foo"],
        "invalid datetime format\n",
        "valid formats: '2006-06-17T16:01:21' or '2006-06-17'\n",
    ),
    (["-rtc", "foo=1"], "-rtc foo=1: Invalid parameter 'foo'\n"),
    (["-rtc", "clock=foo"], "invalid option value 'foo'\n"),
    (["-name", "foo=bar"], "-name foo=bar: Invalid parameter 'foo'\n"),
    (["-bios", "nosuchfile"], 'Unable to load the RISC-V firmware "nosuchfile"\n'),
    (["-initrd", "x"], "-initrd only allowed with -kernel option\n"),
    (["-append", "x"], "-append only allowed with -kernel option\n"),
    (
        ["-serial", "foo"],
        "-serial foo: 'foo' is not a valid char driver\n",
        f"{PROG}: -serial foo: could not connect serial device to character backend 'foo'\n",
    ),
    (
        ["-monitor", "foo"],
        "-monitor foo: 'foo' is not a valid char driver\n",
        f"{PROG}: -monitor foo: parse error: foo\n",
    ),
    (["-chardev", "null"], "-chardev null: chardev: no id specified\n"),
    (
        ["-chardev", "null,id=c0", "-chardev", "null,id=c0"],
        "-chardev null,id=c0: Duplicate ID 'c0' for chardev\n",
    ),
    (
        ["-chardev", "null,id=c0", "-serial", "chardev:c1"],
        "-serial chardev:c1: could not connect serial device to character backend 'chardev:c1'\n",
    ),
    (
        ["-chardev", "null,id=c0", "-serial", "chardev:c0", "-monitor", "chardev:c0"],
        "Device 'c0' is in use\n",
    ),
    (["-mon", "foo"], '-mon foo: chardev "foo" not found\n'),
    (
        ["-nographic", "-serial", "stdio"],
        "-serial stdio: cannot use stdio by multiple character devices\n",
        f"{PROG}: -serial stdio: could not connect serial device to character backend 'stdio'\n",
    ),
    (
        ["-nographic", "-monitor", "stdio"],
        "cannot use stdio by multiple character devices\n",
        f"{PROG}: could not connect serial device to character backend 'stdio'\n",
    ),
    (["-device", "foo"], "-device foo: 'foo' is not a valid device model name\n"),
    (["-device", "id=x"], "-device id=x: Parameter 'driver' is missing\n"),
    (
        ["-device", "riscv.sifive.plic"],
        "-device riscv.sifive.plic: Parameter 'driver' expects a pluggable device type\n",
    ),
    (["-device", "virtio-blk-device"], "-device virtio-blk-device: drive property not set\n"),
    (
        ["-device", "virtio-blk-device,drive=nonexist"],
        "-device virtio-blk-device,drive=nonexist: Property "
        "'virtio-blk-device.drive' can't find value 'nonexist'\n",
    ),
    (
        ["-device", "virtio-rng-device,foo=1"],
        "-device virtio-rng-device,foo=1: Property 'virtio-rng-device.foo' not found\n",
    ),
    (
        ["-device", "virtio-rng-device,id=1x"],
        "-device virtio-rng-device,id=1x: Parameter 'id' expects an identifier\n",
        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n",
    ),
    (
        ["-device", "virtio-rng-device,id=r0", "-device", "virtio-rng-device,id=r0"],
        "-device virtio-rng-device,id=r0: Duplicate ID 'r0' for device\n",
    ),
    (["-device", "virtio-rng-device,bus=foo"], "-device virtio-rng-device,bus=foo: Bus 'foo' not found\n"),
    (
        [
            "-device",
            "virtio-rng-device,bus=virtio-mmio-bus.3",
            "-device",
            "virtio-rng-device,bus=virtio-mmio-bus.3",
        ],
        "-device virtio-rng-device,bus=virtio-mmio-bus.3: Bus 'virtio-mmio-bus.3' is full\n",
    ),
    (
        ["-device", "virtio-rng-device,event_idx=maybe"],
        "-device virtio-rng-device,event_idx=maybe: Parameter 'event_idx' expects 'on' or 'off'\n",
    ),
    (
        ["-device", "virtconsole"],
        "-device virtconsole: No 'virtio-serial-bus' bus found for device 'virtconsole'\n",
    ),
    (
        ["-device", "virtio-serial-device", "-device", "virtconsole,chardev=nosuch"],
        "-device virtconsole,chardev=nosuch: Property 'virtconsole.chardev' can't find value 'nosuch'\n",
    ),
    (
        [
            "-chardev",
            "null,id=c0",
            "-serial",
            "chardev:c0",
            "-device",
            "virtio-serial-device",
            "-device",
            "virtconsole,chardev=c0",
        ],
        "-device virtconsole,chardev=c0: Property 'virtconsole.chardev' can't take value 'c0': "
        "Device 'c0' is in use\n",
    ),
    (
        ["-device", "virtio-serial-device", "-device", "virtserialport,nr=0"],
        "-device virtserialport,nr=0: Port number 0 on virtio-serial devices reserved for virtconsole "
        "devices for backward compatibility.\n",
    ),
    (
        ["-device", "virtio-serial-device,max_ports=1", "-device", "virtconsole", "-device", "virtconsole"],
        "-device virtconsole: virtio-serial-bus: Out-of-range port id specified, max. allowed: 0\n",
    ),
    (
        [*(["-device", "virtio-rng-device"] * 9)],
        "-device virtio-rng-device: No 'virtio-bus' bus found for device 'virtio-rng-device'\n",
    ),
    (
        ["-drive", "file=/nonexistent,format=raw"],
        "-drive file=/nonexistent,format=raw: Could not open '/nonexistent': No such file or directory\n",
    ),
    (["-drive", "if=virtio"], "-drive if=virtio: Device needs media, but drive is empty\n"),
    (
        ["-drive", "if=none,id=d0", "-device", "virtio-blk-device,drive=d0"],
        "-device virtio-blk-device,drive=d0: Device needs media, but drive is empty\n",
    ),
    (["foo.img"], "foo.img: Could not open 'foo.img': No such file or directory\n"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: " ".join(case[0])[:60])
def test_errors(case: tuple, programs: dict[str, Path], tmp_path: Path) -> None:
    args, message = case[0], case[1]
    extra = case[2] if len(case) > 2 else ""
    # a guest that powers off at once, so that an option wrongly accepted does not leave it running
    kernel = [] if {"-initrd", "-append"} & set(args) else ["-kernel", programs["pass"]]
    res = run_system("-display", "none", "-bios", "none", *kernel, *args, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stderr == f"{PROG}: {message}{extra}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-device", "virtio-blk-device,drive=d0,queue-size=foo"], "Parameter 'queue-size' expects integer"),
        (
            ["-device", "virtio-blk-device,drive=d0,queue-size=70000"],
            "Parameter 'queue-size' expects uint16_t",
        ),
        (
            ["-device", "virtio-blk-device,drive=d0,queue-size=3"],
            "invalid queue-size property (3), must be a power of 2 (max 1024)",
        ),
        (
            ["-device", "virtio-blk-device,drive=d0,queue-size=2"],
            "invalid queue-size property (2), must be > 2",
        ),
        (
            ["-device", "virtio-blk-device,drive=d0", "-device", "virtio-blk-device,drive=d0"],
            "Drive 'd0' is already in use by another device",
        ),
    ],
)
def test_device_errors_with_drive(
    args: list[str], message: str, programs: dict[str, Path], raw_image: Path
) -> None:
    res = run_system(
        "-display",
        "none",
        "-bios",
        "none",
        "-kernel",
        programs["pass"],
        "-drive",
        f"if=none,id=d0,file={raw_image},format=raw",
        *args,
    )
    assert res.returncode == 1
    assert res.stderr == f"{PROG}: {args[-2]} {args[-1]}: {message}\n"


def test_drive_errors(raw_image: Path, programs: dict[str, Path]) -> None:
    spec = f"if=none,id=d0,file={raw_image},format=raw"
    res = run_system(
        "-display", "none", "-bios", "none", "-kernel", programs["pass"], "-drive", spec, "-drive", spec
    )
    assert (res.returncode, res.stderr) == (1, f"{PROG}: -drive {spec}: Duplicate ID 'd0' for drive\n")
    spec = f"file={raw_image},format=raw,if=ide"
    res = run_system("-display", "none", "-bios", "none", "-kernel", programs["pass"], "-drive", spec)
    assert (res.returncode, res.stderr) == (
        1,
        f"{PROG}: -drive {spec}: machine type does not support if=ide,bus=0,unit=0\n",
    )


def test_probed_raw_image_warns(raw_image: Path, programs: dict[str, Path]) -> None:
    res = run_system(
        "-display",
        "none",
        "-bios",
        "none",
        "-kernel",
        programs["pass"],
        "-drive",
        f"file={raw_image},if=virtio",
    )
    assert res.returncode == 0
    assert res.stderr.startswith(
        f"WARNING: Image format was not specified for '{raw_image}' and probing guessed raw.\n"
    )


def test_missing_kernel() -> None:
    res = run_system("-display", "none", "-kernel", "/nonexistent")
    assert res.returncode == 1
    # the image loader's line first, without the program name, as in QEMU
    assert (
        res.stderr
        == f"/nonexistent: No such file or directory\n{PROG}: could not load kernel '/nonexistent'\n"
    )


@pytest.mark.parametrize("kind", ["empty", "directory"])
def test_unloadable_kernel(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "kernel"
    if kind == "empty":
        path.write_bytes(b"")
    else:
        path.mkdir()
    res = run_system("-display", "none", "-kernel", path)
    assert (res.returncode, res.stderr) == (1, f"{PROG}: could not load kernel '{path}'\n")


def test_unloadable_initrd_dtb_and_firmware(programs: dict[str, Path], tmp_path: Path) -> None:
    base = ["-display", "none", "-bios", "none", "-kernel", programs["pass"]]
    res = run_system(*base, "-initrd", "/nonexistent")
    assert (res.returncode, res.stderr) == (1, f"{PROG}: could not load ramdisk '/nonexistent'\n")
    res = run_system(*base, "-dtb", "/nonexistent")
    assert (res.returncode, res.stderr) == (
        1,
        f"{PROG}: Unable to get size of device tree file '/nonexistent'\n{PROG}: load_device_tree() failed\n",
    )
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    res = run_system("-display", "none", "-bios", empty)
    assert (res.returncode, res.stderr) == (1, f"{PROG}: could not load firmware '{empty}'\n")


def test_firmware_search_path(tmp_path: Path) -> None:
    """-bios default looks in -L directories first: an empty file there is found (and refused)."""
    (tmp_path / "opensbi-riscv64-generic-fw_dynamic.bin").write_bytes(b"")
    res = run_system("-display", "none", "-L", tmp_path)
    expected = f"{PROG}: could not load firmware '{tmp_path / 'opensbi-riscv64-generic-fw_dynamic.bin'}'\n"
    assert (res.returncode, res.stderr) == (1, expected)


# -- accepted options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "0"],
        ["-m", "256"],
        ["-m", "64M"],
        ["-m", "size=1G,maxmem=2G"],
        ["-smp", "2"],
        ["-smp", "2,cpus=3"],
        ["-smp", "4,sockets=2"],
        ["-accel", "tcg"],
        ["-accel", "tcg,thread=single"],
        ["-machine", "virt,accel=tcg"],
        ["-cpu", "rv64"],
        ["-cpu", "any"],
        ["-name", "guest=vm0,debug-threads=on"],
        ["-rtc", "base=utc"],
        ["-rtc", "base=localtime,clock=host"],
        ["-rtc", "base=2006-06-17T16:01:21"],
        ["-no-shutdown"],
        ["-display", "none"],
        ["-monitor", "none"],
        ["-serial", "null"],
        ["-serial", "none"],
        ["-d", "int"],
        ["-snapshot"],
        ["-device", "virtio-rng-device"],
        ["-device", "virtio-serial-device"],
    ],
)
def test_accepted_options(args: list[str], programs: dict[str, Path]) -> None:
    res = run_system("-display", "none", "-bios", "none", "-kernel", programs["pass"], *args)
    assert (res.returncode, res.stderr) == (0, "")


def test_zero_cpus_is_deprecated_but_works(programs: dict[str, Path]) -> None:
    res = run_system("-display", "none", "-bios", "none", "-kernel", programs["pass"], "-smp", "0")
    assert res.returncode == 0
    assert res.stderr == (
        f"{PROG}: warning: Deprecated CPU topology (considered invalid): CPU topology "
        "parameters must be greater than zero\n"
    )


def test_log_file(programs: dict[str, Path], tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    res = run_system(
        "-display", "none", "-bios", "none", "-kernel", programs["pass"], "-d", "in_asm", "-D", log
    )
    assert res.returncode == 0
    assert "0x0000000080000000:" in log.read_text()


# -- dumpdtb ---------------------------------------------------------------------------------------


def test_dumpdtb(programs: dict[str, Path], tmp_path: Path) -> None:
    dtb = tmp_path / "virt.dtb"
    res = run_system(
        "-machine",
        f"virt,dumpdtb={dtb}",
        "-m",
        "256",
        "-smp",
        "2",
        "-kernel",
        programs["pass"],
        "-bios",
        "none",
        "-append",
        "console=ttyS0 quiet",
    )
    assert (res.returncode, res.stdout) == (0, "")
    assert res.stderr == f"{PROG}: info: dtb dumped to {dtb}. Exiting.\n"
    assert dtb.read_bytes()[:4] == b"\xd0\x0d\xfe\xed"
    if shutil.which("dtc") is None:
        pytest.skip("dtc is not installed")
    dts = subprocess.run(
        ["dtc", "-I", "dtb", "-O", "dts", str(dtb)], capture_output=True, text=True, check=True
    ).stdout
    assert 'compatible = "riscv-virtio";' in dts
    assert 'bootargs = "console=ttyS0 quiet";' in dts
    assert "memory@80000000" in dts
    assert "reg = <0x00 0x80000000 0x00 0x10000000>;" in dts  # 256 MiB
    assert "cpu@1 {" in dts and "cpu@2 {" not in dts
    assert dts.count('compatible = "virtio,mmio";') == 8


def test_dumpdtb_without_kernel(tmp_path: Path) -> None:
    dtb = tmp_path / "virt.dtb"
    res = run_system("-M", f"dumpdtb={dtb}", "-bios", "none")
    assert res.returncode == 0
    assert dtb.stat().st_size > 0


# -- running guests --------------------------------------------------------------------------------


def test_bare_metal_hello_nographic(programs: dict[str, Path]) -> None:
    res = run_system("-M", "virt", "-bios", "none", "-kernel", programs["hello"], "-nographic")
    assert (res.returncode, res.stdout, res.stderr) == (7, "Hello from bare metal\n", "")


def test_bare_metal_serial_stdio(programs: dict[str, Path]) -> None:
    res = run_system("-bios", "none", "-kernel", programs["hello"], "-serial", "stdio", "-display", "none")
    assert (res.returncode, res.stdout) == (7, "Hello from bare metal\n")


def test_power_off_pass(programs: dict[str, Path]) -> None:
    res = run_system("-bios", "none", "-kernel", programs["pass"], "-nographic")
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")


def test_serial_to_file(programs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "serial.txt"
    res = run_system(
        "-bios", "none", "-kernel", programs["hello"], "-display", "none", "-serial", f"file:{out}"
    )
    assert (res.returncode, res.stdout) == (7, "")
    assert out.read_text() == "Hello from bare metal\n"


def test_serial_through_chardev(programs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "serial.txt"
    res = run_system(
        "-bios",
        "none",
        "-kernel",
        programs["hello"],
        "-display",
        "none",
        "-chardev",
        f"file,id=c0,path={out}",
        "-serial",
        "chardev:c0",
    )
    assert res.returncode == 7
    assert out.read_text() == "Hello from bare metal\n"


def test_default_display_shows_nothing(programs: dict[str, Path]) -> None:
    """Without -nographic the serial port goes to a console that is not displayed."""
    res = run_system("-bios", "none", "-kernel", programs["hello"])
    assert (res.returncode, res.stdout, res.stderr) == (7, "", "")


def test_serial_input(programs: dict[str, Path]) -> None:
    res = run_system("-bios", "none", "-kernel", programs["echo"], "-nographic", input=b"hi there\nq")
    assert (res.returncode, res.stdout) == (3, "hi there\n")


def test_no_reboot(programs: dict[str, Path], tmp_path: Path) -> None:
    res = run_system("-bios", "none", "-kernel", programs["reboot"], "-nographic", "-no-reboot")
    assert (res.returncode, res.stdout) == (0, "boot\n")


def test_reboot_runs_the_guest_again(programs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "serial.txt"
    proc = subprocess.Popen(
        [
            *system_cmd(),
            "-bios",
            "none",
            "-kernel",
            str(programs["reboot"]),
            "-display",
            "none",
            "-serial",
            f"file:{out}",
        ],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and out.read_text().count("boot\n") >= 3:
                break
            time.sleep(0.1)
        assert out.read_text().count("boot\n") >= 3
    finally:
        proc.terminate()
        proc.wait(30)
        assert proc.stderr is not None
        proc.stderr.close()


def test_ctrl_a_x_quits(programs: dict[str, Path]) -> None:
    session = Session("-bios", "none", "-kernel", programs["loop"], "-nographic", banner=False)
    try:
        session.read_until(b"A")
        session.send(b"\x01x")
        assert session.wait() == 0
        assert session.raw.endswith(b"QEMU: Terminated\n\r")
    finally:
        session.close()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_terminating_signal(signo: int, programs: dict[str, Path]) -> None:
    proc = subprocess.Popen(
        [
            *system_cmd(),
            "-bios",
            "none",
            "-kernel",
            str(programs["loop"]),
            "-display",
            "none",
            "-serial",
            "stdio",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(1) == b"A"  # the guest runs
    proc.send_signal(signo)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert re.fullmatch(
        rf"{PROG}: terminating on signal {int(signo)} from pid {os.getpid()} \(.+\)\n", err.decode()
    ), err


def test_drive_snapshot_leaves_image_alone(
    programs: dict[str, Path], raw_image: Path, tmp_path: Path
) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(raw_image.read_bytes())
    before = image.read_bytes()
    res = run_system(
        "-bios",
        "none",
        "-kernel",
        programs["pass"],
        "-display",
        "none",
        "-snapshot",
        "-drive",
        f"file={image},format=raw,if=virtio",
    )
    assert (res.returncode, res.stderr) == (0, "")
    assert image.read_bytes() == before


def test_default_firmware_boots_kernel(tmp_path: Path) -> None:
    """-bios default: OpenSBI from the data path starts, then the kernel at 0x80200000 in S-mode."""
    from .system_helpers import AS, LD, PROGRAMS, have_cross_binutils

    firmware = (
        "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
        "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
    )
    if not any(os.path.exists(f) for f in firmware):
        pytest.skip("OpenSBI's fw_dynamic.bin is not installed")
    if not have_cross_binutils():
        pytest.skip("no riscv64 binutils")
    src = tmp_path / "hello.S"
    src.write_text(PROGRAMS["hello"])
    subprocess.run([AS, "-o", str(tmp_path / "hello.o"), str(src)], check=True)
    kernel = tmp_path / "hello.elf"
    subprocess.run(
        [
            LD,
            "-N",
            "-Ttext=0x80200000",
            "--no-warn-rwx-segments",
            "-o",
            str(kernel),
            str(tmp_path / "hello.o"),
        ],
        check=True,
    )
    res = run_system("-kernel", kernel, "-nographic", timeout=300)
    assert res.returncode == 7
    assert "OpenSBI v" in res.stdout
    assert "Platform Name             : riscv-virtio,qemu" in res.stdout
    assert res.stdout.endswith("Hello from bare metal\n")


def test_object_option() -> None:
    """``-object``: help listings, QEMU's errors, and an rng backend a device links to."""
    listing = run_system("-object", "help")
    assert listing.returncode == 0
    assert listing.stdout == "List of user creatable objects:\n  rng-builtin\n  rng-random\n"
    assert run_system("-object", "rng-random,help").stdout == "rng-random options:\n  filename=<string>\n"
    cases = [
        (("-object", "rng-random"), "-object rng-random: Parameter 'id' is missing"),
        (("-object", "nope,id=x"), "-object nope,id=x: Parameter 'qom-type' does not accept value 'nope'"),
        (("-object", "rng-random,id=r,filename=/no/such"),
         "-object rng-random,id=r,filename=/no/such: Could not open '/no/such': No such file or directory"),
        (("-object", "rng-builtin,id=r", "-object", "rng-builtin,id=r"),
         "-object rng-builtin,id=r: attempt to add duplicate property 'r' to object (type 'container')"),
        (("-object", "rng-builtin,id=r", "-device", "virtio-rng-device,rng=q"),
         "-device virtio-rng-device,rng=q: Property 'virtio-rng-device.rng' can't find value 'q'"),
    ]
    for args, message in cases:
        result = run_system("-display", "none", *args)
        assert result.returncode == 1
        assert result.stderr == f"{PROG}: {message}\n"
