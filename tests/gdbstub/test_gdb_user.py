"""The linux-user gdbstub end to end: ``pyqemu-riscv64 -g SOCKET prog`` waits for GDB before the guest's
first instruction; Debian's gdb-multiarch (batch mode) breaks in a function of ``tests/guest/gdb/gdb_user.c``,
steps, prints registers, locals and memory, watches a global and lets the program exit.  Ctrl-C, single
steps, memory writes, auxv and kill go through the raw protocol."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from .harness import USER_CMD, RspClient, run_gdb, symbol

AARCH64_CMD = [sys.executable, "-c", "import sys; from pyqemu.linux_user.main import main_aarch64; "
               "sys.exit(main_aarch64())"]

pytestmark = pytest.mark.timeout(120)


def test_break_step_print_and_exit(gdb, user_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = emulator(*USER_CMD, "-g", sock, user_guest, socket=sock)
    out = run_gdb(gdb, user_guest, sock, "break add", "continue", "next", "step", "stepi",
                  "info registers pc a0", "print sum", "print counter", "x/4xw &array", "backtrace",
                  "delete", "continue")
    assert "Breakpoint 1, add (a=10, b=0) at" in out
    assert re.search(r"^\d+\s+counter \+= sum;$", out, re.M), out
    assert re.search(r"^\d+\s+return sum;$", out, re.M), out
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <add\+\d+>$", out, re.M), out
    assert re.search(r"^a0\s+0xa\s+10$", out, re.M), out
    assert "$1 = 10" in out
    assert "$2 = 10" in out
    assert re.search(r"<array>:\s+0x0000000a\s+0x00000014\s+0x0000001e\s+0x00000028", out), out
    assert re.search(r"#1 .* in main \(.*\) at .*gdb_user.c:\d+", out), out
    assert "exited normally]" in out
    status, stdout, stderr = emu.finish()
    assert (status, stdout) == (0, "total 106 counter 106\n"), stderr
    assert "Traceback" not in stderr


def test_aarch64_break_step_print_and_exit(gdb, aarch64_user_guest, emulator, tmp_path):
    """The same session on ``pyqemu-aarch64``: AArch64's target description, registers and stepping."""
    sock = tmp_path / "gdb.sock"
    emu = emulator(*AARCH64_CMD, "-g", sock, aarch64_user_guest, socket=sock)
    out = run_gdb(gdb, aarch64_user_guest, sock, "break add", "continue", "next", "stepi",
                  "info registers pc x0 cpsr", "print sum", "x/4xw &array", "backtrace", "p $v0.d",
                  "delete", "continue")
    assert "Breakpoint 1, add (a=10, b=0) at" in out
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <add\+\d+>$", out, re.M), out
    assert re.search(r"^cpsr\s+0x[0-9a-f]+", out, re.M), out
    assert "$1 = 10" in out
    assert re.search(r"<array>:\s+0x0000000a\s+0x00000014\s+0x0000001e\s+0x00000028", out), out
    assert re.search(r"#1 .* in main \(.*\) at .*gdb_user.c:\d+", out), out
    assert "$2 = {0, 0}" in out
    assert "exited normally]" in out
    status, stdout, stderr = emu.finish()
    assert (status, stdout) == (0, "total 106 counter 106\n"), stderr


def test_watchpoints(gdb, user_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = emulator(*USER_CMD, "-g", sock, user_guest, socket=sock)
    out = run_gdb(gdb, user_guest, sock, "break main", "continue", "watch counter", "continue", "continue",
                  "delete", "rwatch array[2]", "continue", "delete", "continue")
    assert re.search(r"Old value = 0\s+New value = 10\s", out), out
    assert re.search(r"Old value = 10\s+New value = 31\s", out), out
    assert re.search(r"read watchpoint \d+: array\[2\]\s+Value = 30", out), out
    assert "exited normally]" in out
    assert emu.finish()[:2] == (0, "total 106 counter 106\n")


def test_interrupt_step_write_and_exit(user_guest, emulator, tmp_path):
    """Raw protocol: Ctrl-C stops the spinning guest (SIGINT), a vCont step moves one instruction, an X
    write releases the loop and the exit is reported as W00."""
    sock = tmp_path / "gdb.sock"
    emu = emulator(*USER_CMD, "-g", sock, user_guest, "spin", socket=sock)
    c = RspClient(str(sock))
    assert b"qXfer:auxv:read+" in c.command("qSupported:multiprocess+")
    c.no_ack()
    stop = c.command("?")
    tid = re.fullmatch(rb"T05thread:(p01\.[0-9a-f]+);", stop).group(1).decode()
    assert c.command("qfThreadInfo") == f"m{tid}".encode()
    assert c.command("qXfer:auxv:read::0,1000").startswith(b"l")
    c.send("vCont;c")
    time.sleep(2)
    c.send_raw(b"\x03")
    assert c.read_packet() == f"T02thread:{tid};".encode()
    pc = int.from_bytes(bytes.fromhex(c.command("p20").decode()), "little")
    assert c.command(f"vCont;s:{tid}") == f"T05thread:{tid};".encode()
    assert int.from_bytes(bytes.fromhex(c.command("p20").decode()), "little") != pc
    release = symbol(user_guest, "release").start
    assert c.command(b"X%x,4:\x01\x00\x00\x00" % release) == b"OK"
    assert c.command(f"m{release:x},4") == b"01000000"
    assert c.command("c") == b"W00"
    status, stdout, _ = emu.finish()
    assert (status, stdout) == (0, "total 106 counter 106\n")


def test_kill(user_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = emulator(*USER_CMD, "-g", sock, user_guest, socket=sock)
    c = RspClient(str(sock))
    c.command("qSupported")
    c.send("k")
    status, stdout, stderr = emu.finish()
    assert (status, stdout) == (0, "")
    assert stderr == "pyqemu-riscv64: QEMU: Terminated via GDBstub\n"


@pytest.mark.parametrize("detach", [True, False])
def test_detach_or_disconnect_lets_the_program_run(user_guest, emulator, tmp_path, detach):
    sock = tmp_path / "gdb.sock"
    emu = emulator(*USER_CMD, "-g", sock, user_guest, socket=sock)
    c = RspClient(str(sock))
    c.command("qSupported")
    assert c.command(b"Z0,%x,4" % symbol(user_guest, "add").start) == b"OK"
    if detach:
        assert c.command("D") == b"OK"
    c.close()
    assert emu.finish()[:2] == (0, "total 106 counter 106\n")


def test_cannot_listen(user_guest, tmp_path):
    proc = subprocess.run([*USER_CMD, "-g", tmp_path / "no" / "such" / "dir", user_guest],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == (f"bind socket: No such file or directory\n"
                           f"pyqemu: could not open gdbserver on {tmp_path}/no/such/dir\n")


def test_option_and_environment():
    from pyqemu.linux_user.main import USAGE, parse_args

    assert "\n-g port              QEMU_GDB          wait gdb connection to 'port'\n" in USAGE
    assert parse_args(["-g", "1234", "prog"], {})[0]["g"] == ["1234"]
    assert parse_args(["prog"], {"QEMU_GDB": "/tmp/sock"})[0]["g"] == ["/tmp/sock"]
