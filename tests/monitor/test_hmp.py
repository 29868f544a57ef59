"""The human monitor: commands run through a real ``pyqemu-system-riscv64`` (``-monitor stdio`` with piped
stdin, ``-nographic``'s multiplexed console, and a TCP monitor), plus the expression grammar, the line
editor and the QOM layer in process.  Expected outputs are what QEMU 7.2's monitor prints for the same
guest (the monitor echo is byte for byte QEMU's)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from cli.system_helpers import Session, build_programs, clean_env, system_cmd

from pyqemu.monitor.hmp import CommandError, _Cursor, _Expr, printc
from pyqemu.monitor.readline import ReadLine


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_programs(tmp_path_factory.mktemp("baremetal"))


@pytest.fixture
def session(programs: dict[str, Path], tmp_path: Path):
    s = Session(
        "-M",
        "virt",
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
        cwd=tmp_path,
    )
    yield s
    s.close()


# the first instructions of the "loop" program, as the assembler encodes them
LOOP_WORDS = "0x100002b7 0x04100313 0x00628023 0x05054501"


def test_banner(session: Session) -> None:
    assert session.banner == b"QEMU 2.1.0 monitor - type 'help' for more information\r\n(qemu) "


def test_echo_is_qemus(session: Session) -> None:
    session.send(b"info status\n")
    chunk = session.read_until(b"(qemu) ")
    echo = b"".join(b"\x1b[D" * i + b"info status"[: i + 1] + b"\x1b[K" for i in range(len("info status")))
    assert chunk == echo + b"\r\nVM status: running\r\n(qemu) "


def test_stop_cont_status(session: Session) -> None:
    assert session.cmd("info status") == "VM status: running\n"
    assert session.cmd("stop") == ""
    assert session.cmd("info status") == "VM status: paused\n"
    regs1 = session.cmd("info registers")
    time.sleep(0.2)
    assert session.cmd("info registers") == regs1  # nothing runs while paused
    assert session.cmd("c") == ""
    assert session.cmd("info status") == "VM status: running\n"
    assert session.cmd("s") == ""
    assert session.cmd("info status") == "VM status: paused\n"
    assert session.cmd("cont") == ""
    assert session.quit() == 0


def test_memory_dumps(session: Session) -> None:
    assert session.cmd("x /4x 0x80000000") == f"0000000080000000: {LOOP_WORDS}\n"
    assert session.cmd("xp /4xw 0x80000000") == f"0000000080000000: {LOOP_WORDS}\n"
    assert session.cmd("x/2x 0x80000000") == "0000000080000000: 0x100002b7 0x04100313\n"
    assert session.cmd("x /8xb 0x80000000") == "0000000080000000: 0xb7 0x02 0x00 0x10 0x13 0x03 0x10 0x04\n"
    assert session.cmd("x /20xb 0x80000000") == (
        "0000000080000000: 0xb7 0x02 0x00 0x10 0x13 0x03 0x10 0x04\n"
        "0000000080000008: 0x23 0x80 0x62 0x00 0x01 0x45 0x05 0x05\n"
        "0000000080000010: 0xfd 0xbf 0x00 0x00\n"
    )
    assert session.cmd("xp /2g 0x80000000") == "0000000080000000: 0x04100313100002b7 0x0505450100628023\n"
    assert session.cmd("x /6xh 0x80000000") == "0000000080000000: 0x02b7 0x1000 0x0313 0x0410 0x8023 0x0062\n"
    assert session.cmd("x /4dh 0x80000000") == "0000000080000000:   695  4096   787  1040\n"
    assert session.cmd("x /1dh 0x80000010") == "0000000080000010: 49149\n"  # 'd' does not sign-extend
    assert session.cmd("x /2dg 0x80000000") == "0000000080000000:   292737356186780343   361771215676932131\n"
    assert session.cmd("x /3ub 0x80000000") == "0000000080000000: 183   2   0\n"
    assert session.cmd("x /4ob 0x80000000") == "0000000080000000: 0267  02   0 020\n"
    assert session.cmd("x /2c 0x1000") == "0000000000001000: '\\x97' '\\x02'\n"
    # format and size carry over; 'c' after a halfword size shows count * 2 characters, as QEMU does
    assert session.cmd("x /1xh 0x80000000") == "0000000080000000: 0x02b7\n"
    assert session.cmd("x /2c 0x1000") == "0000000000001000: '\\x97' '\\x02' '\\x00' '\\x00'\n"
    assert session.cmd("x /2xw 0x80000000") == "0000000080000000: 0x100002b7 0x04100313\n"
    assert session.cmd("x 0x80000000+4") == "0000000080000004: 0x04100313\n"
    assert session.cmd("x /0x 0x80000000") == ""


def test_unmapped_memory(session: Session) -> None:
    assert session.cmd("x /2x 0x0") == "0000000000000000: Cannot access memory\n"
    assert session.cmd("xp /2x 0x1000000000") == "0000001000000000: Cannot access memory\n"
    assert session.cmd("x /1 -1") == "ffffffffffffffff: Cannot access memory\n"


def test_disassembly(session: Session) -> None:
    lines = session.cmd("x /3i 0x80000000").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("0x0000000080000000:  100002b7")
    assert "lui" in lines[0] and "addi" in lines[1] and "sb" in lines[2]
    # the 'i' format carries over
    assert len(session.cmd("xp /2 0x80000000").splitlines()) == 2


def test_print(session: Session) -> None:
    assert session.cmd("p 1+2") == "0x3\n"
    assert session.cmd("p /x 255") == "0xff\n"
    assert session.cmd("p /d 0x10") == "16\n"
    assert session.cmd("p -1") == "-1\n"  # the last format (d) carries over
    assert session.cmd("p /u -1") == "18446744073709551615\n"
    assert session.cmd("p /o 8") == "010\n"
    assert session.cmd("p /c 65") == "'A'\n"
    assert session.cmd("p /x 2*3|1") == "0x7\n"
    assert session.cmd("p /d 7/-2") == "-3\n"
    assert session.cmd("p -7%2") == "-1\n"
    assert session.cmd("p 'a'") == "97\n"
    assert session.cmd("p $a0 - $a0") == "0\n"


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("foo", "unknown command: 'foo'\n"),
        ("INFO status", "unknown command: 'INFO'\n"),
        ("info foo", "unknown command: 'info foo'\n"),
        ("x", 'unexpected end of expression\nTry "help x" for more information\n'),
        ("x /z 0x80000000", "invalid char in format: 'z'\nTry \"help x\" for more information\n"),
        ("x /2x foo", "invalid char 'f' in expression\nTry \"help x\" for more information\n"),
        ("x /2x $nosuch", 'unknown register\nTry "help x" for more information\n'),
        (
            "x /1x 0x80000000 0x5",
            'x: extraneous characters at the end of line\nTry "help x" for more information\n',
        ),
        ("x /3 /4 0", "invalid char '/' in expression\nTry \"help x\" for more information\n"),
        ("p 10/0", 'division by zero\nTry "help p" for more information\n'),
        ("p (1", "')' expected\nTry \"help p\" for more information\n"),
        ("p 1<<4", 'print|p: extraneous characters at the end of line\nTry "help p" for more information\n'),
        ("p 99999999999999999999", 'number too large\nTry "help p" for more information\n'),
        (
            "stop foo",
            'stop|s: extraneous characters at the end of line\nTry "help stop" for more information\n',
        ),
        (
            "info status foo",
            'status: extraneous characters at the end of line\nTry "help info status" for more information\n',
        ),
        ("cpu", 'unexpected end of expression\nTry "help cpu" for more information\n'),
        ("cpu 5", "invalid CPU index\n"),
        ("cpu -1", "'cpu' has failed: integer is for 32-bit values\nTry \"help cpu\" for more information\n"),
        ("info registers 1", "CPU#1 not available\n"),
        ("memsave 0x80000000 16", 'memsave: string expected\nTry "help memsave" for more information\n'),
        ("help foo", "unknown command: 'foo'\n"),
        ("help info foo", "unknown command: 'info foo'\n"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_bad_input_keeps_the_monitor(session: Session, line: str, answer: str) -> None:
    assert session.cmd(line) == answer
    assert session.cmd("info status") == "VM status: running\n"


def test_help(session: Session) -> None:
    text = session.cmd("help")
    assert "cont|c  -- resume emulation\n" in text
    assert "x /fmt addr -- virtual memory dump starting at 'addr'\n" in text
    assert "xp /fmt addr -- physical memory dump starting at 'addr'\n" in text
    assert "quit|q  -- quit the emulator\n" in text
    assert text.splitlines() == sorted(text.splitlines())
    assert session.cmd("? stop") == "stop|s  -- stop emulation\n"
    assert session.cmd("help info status") == "info status  -- show the current VM status (running|paused)\n"
    info = session.cmd("info")
    assert info == session.cmd("help info")
    assert "info mtree  -- show memory tree\n" in info
    assert "info registers [-a|vcpu] -- show the cpu registers" in info


def test_info_commands(session: Session) -> None:
    mtree = session.cmd("info mtree")
    assert mtree.startswith(
        "address-space: cpu-memory-0\naddress-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
    )
    assert "    0000000080000000-0000000087ffffff (prio 0, ram): riscv_virt_board.ram\n" in mtree
    assert "    0000000000001000-000000000000ffff (prio 0, rom): riscv_virt_board.mrom\n" in mtree
    session.cmd("stop")
    regs = session.cmd("info registers")
    lines = regs.splitlines()
    assert lines[:2] == ["", "CPU#0"]
    assert lines[2].startswith(" pc       00000000800000")
    assert lines[3] == " mhartid  0000000000000000"
    assert lines[4] == " mstatus  0000000a00000000"
    assert lines[20].startswith(" x0/zero  0000000000000000 x1/ra    ")
    assert " x4/tp    0000000000000000 x5/t0    0000000010000000 x6/t1    0000000000000041" in regs
    assert lines[-1].startswith(" f28/ft8  ")
    assert session.cmd("info registers -a") == regs
    assert session.cmd("info registers 0") == regs
    assert session.cmd("info version") == "2.1.0 (pyqemu 0.1.0)\n"
    cpus = session.cmd("info cpus")
    assert cpus.startswith("* CPU #0: thread_id=")
    assert session.cmd("info name") == ""
    qtree = session.cmd("info qtree")
    assert qtree.startswith('bus: main-system-bus\n  type System\n  dev: goldfish_rtc, id ""\n')
    assert '  dev: virtio-mmio, id ""\n' in qtree
    assert "    bus: virtio-mmio-bus.7\n      type virtio-mmio-bus\n" in qtree
    assert qtree.rstrip().endswith("resetvec = 4096 (0x1000)")


def test_memsave(session: Session, programs: dict[str, Path], tmp_path: Path) -> None:
    assert session.cmd("memsave 0x80000000 16 virt.bin") == ""
    assert session.cmd('pmemsave 0x80000000 16 "phys.bin"') == ""
    image = programs["loop"].read_bytes()
    code = bytes.fromhex("b7020010130310042380620001450505")
    assert code in image
    assert (tmp_path / "virt.bin").read_bytes() == code
    assert (tmp_path / "phys.bin").read_bytes() == code
    assert session.cmd("memsave 0 8 bad.bin") == "Error: Invalid addr 0x0000000000000000/size 8 specified\n"
    assert session.cmd("pmemsave 0 8 zero.bin") == ""  # unassigned memory reads as zeros
    assert (tmp_path / "zero.bin").read_bytes() == bytes(8)
    assert session.cmd("pmemsave 0 8 nodir/z.bin") == (
        "Error: Could not open 'nodir/z.bin': No such file or directory\n"
    )


def test_quit_exit_status(session: Session) -> None:
    assert session.quit() == 0
    assert not session.raw.endswith(b"(qemu) ")


def test_system_reset(programs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "serial.txt"
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        f"file:{out}",
    )
    try:
        deadline = time.monotonic() + 30
        while out.read_bytes() != b"A" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.cmd("system_reset") == ""
        while out.read_bytes() != b"AA" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.read_bytes() == b"AA"  # the guest started again
        assert s.cmd("system_powerdown") == ""  # no power button on this board: nothing happens
        assert s.cmd("info status") == "VM status: running\n"
        assert s.quit() == 0
    finally:
        s.close()


def test_system_reset_with_no_reboot_exits(programs: dict[str, Path]) -> None:
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
        "-no-reboot",
    )
    try:
        s.send(b"system_reset\n")
        assert s.wait() == 0
    finally:
        s.close()


def test_prelaunch(programs: dict[str, Path]) -> None:
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
        "-S",
        "-name",
        "vm0",
    )
    try:
        assert s.cmd("info status") == "VM status: paused (prelaunch)\n"
        regs = s.cmd("info registers")
        assert " pc       0000000000001000\n" in regs  # at the reset vector, nothing ran
        assert s.cmd("info name") == "vm0\n"
        assert s.cmd("cont") == ""
        assert s.cmd("info status") == "VM status: running\n"
        assert s.quit() == 0
    finally:
        s.close()


def test_cpu_selection(programs: dict[str, Path]) -> None:
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
        "-smp",
        "2",
    )
    try:
        assert s.cmd("cpu 1") == ""
        cpus = s.cmd("info cpus").splitlines()
        assert cpus[0].startswith("  CPU #0: thread_id=") and cpus[1].startswith("* CPU #1: thread_id=")
        regs = s.cmd("info registers")
        assert regs.startswith("\nCPU#1\n") and " mhartid  0000000000000001\n" in regs
        assert s.cmd("p $mhartid") == "0x1\n"
    finally:
        s.close()


def test_virtual_addresses_use_the_mmu(programs: dict[str, Path]) -> None:
    """In S-mode with Sv39, x translates through the page table (VA 0x40000000 -> PA 0x80000000), xp not."""
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["sv39"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
    )
    try:
        deadline = time.monotonic() + 30
        while s.cmd("p /x $satp") == "0\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.cmd("p /x $satp") == "0x8000000000080001\n"
        words = s.cmd("xp /2x 0x80000000").split(":")[1]
        assert s.cmd("x /2x 0x40000000") == f"0000000040000000:{words}"
        assert s.cmd("x /2x 0x80000000") == f"0000000080000000:{words}"
        assert s.cmd("x /2x 0x0") == "0000000000000000: Cannot access memory\n"
        assert s.cmd("xp /2x 0x40000000") == "0000000040000000: Cannot access memory\n"
    finally:
        s.close()


def test_device_tree_of_the_command_line(programs: dict[str, Path], tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(bytes(4096))
    s = Session(
        "-bios",
        "none",
        "-kernel",
        programs["loop"],
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-serial",
        "null",
        "-device",
        "virtio-rng-device",
        "-drive",
        f"file={image},format=raw,if=virtio",
        "-chardev",
        "null,id=c0",
        "-device",
        "virtio-serial-device,id=vs",
        "-device",
        "virtconsole,chardev=c0",
    )
    try:
        qtree = s.cmd("info qtree")
        assert (
            '    bus: virtio-mmio-bus.7\n      type virtio-mmio-bus\n      dev: virtio-rng-device, id ""\n'
            in qtree
        )
        assert (
            '    bus: virtio-mmio-bus.6\n      type virtio-mmio-bus\n'
            '      dev: virtio-serial-device, id "vs"\n' in qtree
        )
        assert (
            '        bus: vs.0\n          type virtio-serial-bus\n          dev: virtconsole, id ""\n'
            '            chardev = "c0"\n' in qtree
        )
        # -drive if=virtio devices come after the -device ones, as in QEMU
        assert (
            '    bus: virtio-mmio-bus.5\n      type virtio-mmio-bus\n      dev: virtio-blk-device, id ""\n'
            '        drive = "virtio0"\n' in qtree
        )
        # the guest sees the devices: virtio-mmio DeviceID registers (rng 4, console 3, block 2, empty 0)
        assert s.cmd("xp /1xw 0x10008008") == "0000000010008008: 0x00000004\n"
        assert s.cmd("xp /1xw 0x10007008") == "0000000010007008: 0x00000003\n"
        assert s.cmd("xp /1xw 0x10006008") == "0000000010006008: 0x00000002\n"
        assert s.cmd("xp /1xw 0x10001008") == "0000000010001008: 0x00000000\n"
    finally:
        s.close()


def test_nographic_mux(programs: dict[str, Path]) -> None:
    """-nographic: the console has the input first; C-a c reaches the monitor (banner on first visit), C-a c
    goes back, C-a x quits."""
    s = Session("-bios", "none", "-kernel", programs["loop"], "-nographic", banner=False)
    try:
        assert s.read_until(b"A") == b"A"
        s.send(b"\x01c")
        assert s.read_until(b"(qemu) ") == b"QEMU 2.1.0 monitor - type 'help' for more information\r\n(qemu) "
        assert s.cmd("info status") == "VM status: running\n"
        s.send(b"\x01c")
        assert s.read_until(b"\r\n") == b"\r\n"
        s.send(b"\x01c")
        assert s.read_until(b"(qemu) ") == b"(qemu) "
        assert s.cmd("stop") == ""
        s.send(b"\x01x")
        assert s.wait() == 0
        assert s.raw.endswith(b"QEMU: Terminated\n\r")
    finally:
        s.close()


def test_tcp_monitor(programs: dict[str, Path]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
            "null",
            "-monitor",
            f"tcp:127.0.0.1:{port},server=on,wait=off",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )

    def connect() -> socket.socket:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
                return conn
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def read_until(conn: socket.socket, marker: bytes) -> bytes:
        data = b""
        while marker not in data:
            chunk = conn.recv(4096)
            assert chunk, data
            data += chunk
        return data

    try:
        conn = connect()
        assert (
            read_until(conn, b"(qemu) ")
            == b"QEMU 2.1.0 monitor - type 'help' for more information\r\n(qemu) "
        )
        conn.sendall(b"bogus\r\n")
        assert read_until(conn, b"(qemu) ").endswith(b"\r\nunknown command: 'bogus'\r\n(qemu) ")
        conn.close()
        conn = connect()  # a new client gets a new banner
        assert read_until(conn, b"(qemu) ").startswith(b"QEMU 2.1.0 monitor")
        conn.sendall(b"info status\n")
        assert read_until(conn, b"(qemu) ").endswith(b"VM status: running\r\n(qemu) ")
        conn.sendall(b"quit\n")
        assert proc.wait(30) == 0
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# -- in process --------------------------------------------------------------------------------------------


def _eval(text: str, registers: dict[str, int] | None = None) -> int:
    cur = _Cursor(text)
    value = _Expr(cur, (registers or {}).get).parse()
    assert cur.at_end()
    return value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1+2*3", 7),
        ("2*3|1", 7),
        ("1+2|4", 7),
        ("(1+2)*3", 9),
        ("5 - 3 - 1", 1),
        ("100/10/5", 2),
        ("-1", (1 << 64) - 1),
        ("~0", (1 << 64) - 1),
        ("010", 8),
        ("0x10", 16),
        ("'A'", 65),
        ("7/-2", (1 << 64) - 3),
        ("-7%2", (1 << 64) - 1),
        ("0x7fffffffffffffff+1", 1 << 63),
        ("$pc+4", 0x80000004),
        ("6&3^1", 3),
    ],
)
def test_expressions(text: str, value: int) -> None:
    assert _eval(text, {"pc": 0x80000000}) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of expression"),
        ("1+", "unexpected end of expression"),
        ("(1", "')' expected"),
        ("1/0", "division by zero"),
        ("$x", "unknown register"),
        ("@", "invalid char '@' in expression"),
        ("18446744073709551616", "number too large"),
    ],
)
def test_expression_errors(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _Expr(_Cursor(text), {}.get).parse()


def test_printc() -> None:
    assert [printc(v) for v in (65, 10, 13, 39, 92, 0x97, 0x41424344)] == [
        "'A'",
        "'\\n'",
        "'\\r'",
        "'\\''",
        "'\\\\'",
        "'\\x97'",
        "'\\x41424344'",
    ]


def test_readline_editing() -> None:
    out: list[str] = []
    lines: list[str] = []
    rl = ReadLine(out.append, lines.append)
    rl.feed(b"ab")
    assert "".join(out) == "a\x1b[K\x1b[Dab\x1b[K"
    out.clear()
    rl.feed(b"\x7f")  # backspace
    assert "".join(out) == "\x1b[D\x1b[Da\x1b[K"
    rl.feed(b"x\x1b[Dy\r\n")  # left arrow, insert; CR LF is one Enter
    assert lines == ["ayx"]
    rl.feed(b"\x1b[A\n")  # history
    assert lines == ["ayx", "ayx"]
    rl.feed(b"\x02\x02z\x05w\n")  # Ctrl-B at the start of the line does nothing
    assert lines[-1] == "zw"
    rl.feed(b"abc\x02\x02z\x05w\n")
    assert lines[-1] == "azbcw"
    rl.feed(b"abc\x02\x15\n")  # Ctrl-U deletes up to the cursor
    assert lines[-1] == "c"


def test_block_chardev_and_device_commands(programs: dict[str, Path], tmp_path: Path) -> None:
    """``info block``/``blockstats``/``chardev`` and ``device_add``/``device_del`` (QEMU's wording)."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    s = Session("-M", "virt", "-bios", "none", "-kernel", programs["loop"], "-monitor", "stdio", "-display",
                "none", "-serial", "null", "-drive", f"file={disk},if=virtio,format=raw,id=d0",
                "-chardev", "null,id=extra", "-device", "virtio-serial-device,id=vser", cwd=tmp_path)
    try:
        block = s.cmd("info block")
        assert block.startswith(f"d0: {disk} (raw)\n"
                                "    Attached to:      /machine/peripheral-anon/device[0]\n")
        assert "    Cache mode:       writeback\n" in block
        assert s.cmd("info block nope") == ""
        assert s.cmd("info blockstats") == (
            "d0: rd_bytes=0 wr_bytes=0 rd_operations=0 wr_operations=0 flush_operations=0 wr_total_time_ns=0 "
            "rd_total_time_ns=0 flush_total_time_ns=0 rd_merged=0 wr_merged=0 idle_time_ns=0\n")
        chardevs = s.cmd("info chardev").splitlines()
        assert "extra: filename=null" in chardevs and "serial0: filename=null" in chardevs
        assert s.cmd("device_add virtio-rng-device") == \
            "Error: Bus 'virtio-mmio-bus.5' does not support hotplugging\n"
        assert s.cmd("device_add virtserialport,chardev=extra,name=org.test.hmp,id=p1") == ""
        assert 'name = "org.test.hmp"' in s.cmd("info qtree")
        assert s.cmd("device_add virtserialport,chardev=extra,id=p2") == (
            "Error: Property 'virtserialport.chardev' can't take value 'extra': Device 'extra' is in use\n")
        assert s.cmd("device_del p1") == ""
        assert s.cmd("device_add virtserialport,chardev=extra,id=p2") == ""
        assert s.cmd("device_add nope,id=x") == "Error: 'nope' is not a valid device model name\n"
        assert "name \"virtio-blk-device\", bus virtio-bus" in s.cmd("device_add help")
        assert s.cmd("device_add virtio-blk-device,help").startswith("virtio-blk-device options:\n")
        assert s.cmd("device_del nope") == "Error: Device 'nope' not found\n"
        assert s.cmd("device_add") == ("device_add: missing argument\n"
                                       "Try \"help device_add\" for more information\n")
        assert s.cmd("system_powerdown") == ""
        assert s.quit() == 0
    finally:
        s.close()
