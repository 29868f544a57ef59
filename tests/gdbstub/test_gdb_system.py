"""The system emulator's gdbstub end to end: ``pyqemu-system-riscv64 -S -gdb unix:SOCKET,server=on,wait=off
-bios none -kernel gdb_target.elf``.  Debian's gdb-multiarch (batch mode) breaks in a function of
``tests/guest/baremetal/gdb_target.c``, steps, prints registers, locals and memory, watches a global, lists
the harts as threads and lets the guest power the machine off (or kills the emulator).  Ctrl-C, detach,
reconnection, single steps, TCP and malformed packets go through the raw protocol."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from .harness import SYSTEM_CMD, RspClient, run_gdb, symbol

pytestmark = pytest.mark.timeout(120)

DONE = "PASS: total\nPASS: watched\nDONE pass=2 fail=0\n"


def _start(emulator, guest, sock, *extra: str, paused: bool = True):
    return emulator(*SYSTEM_CMD, *(["-S"] if paused else []), "-gdb", f"unix:{sock},server=on,wait=off",
                    "-nographic", "-bios", "none", "-kernel", guest, *extra, socket=sock)


def test_break_step_print_and_exit(gdb, bare_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock)
    out = run_gdb(gdb, bare_guest, sock, "break scale", "continue", "next", "step", "stepi",
                  "info registers pc a0", "print product", "print value", "x/4xw &values", "backtrace",
                  "info threads", "delete", "set var release = 1", "continue")
    assert "Breakpoint 1, scale (value=17, factor=3) at" in out
    assert re.search(r"^\d+\s+watched \+= product;$", out, re.M), out
    assert re.search(r"^\d+\s+return product;$", out, re.M), out
    assert re.search(r"^pc\s+0x8[0-9a-f]+\s+0x8[0-9a-f]+ <scale\+\d+>$", out, re.M), out
    assert re.search(r"^a0\s+0x11\s+17$", out, re.M), out
    assert "$1 = 51" in out and "$2 = 17" in out
    assert re.search(r"<values>:\s+0x00000011\s+0x00000022\s+0x00000033\s+0x00000044", out), out
    assert re.search(r"#1 .* in test_main \(\) at .*gdb_target.c:\d+", out), out
    assert re.search(r"^\* 1\s+Thread 1\.1 \(CPU#0 \[running\]\) scale", out, re.M), out
    assert "[Inferior 1 (process 1) exited normally]" in out
    status, stdout, stderr = emu.finish()
    assert (status, stdout) == (0, DONE), stderr


def test_watchpoints(gdb, bare_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock)
    out = run_gdb(gdb, bare_guest, sock, "watch watched", "continue", "continue", "delete",
                  "rwatch values[2]", "continue", "delete", "set var release = 1", "continue")
    assert re.search(r"Old value = 0\s+New value = 51\s+scale \(", out), out
    assert re.search(r"Old value = 51\s+New value = 153\s", out), out
    assert re.search(r"read watchpoint \d+: values\[2\]\s+Value = 51", out), out
    assert "exited normally]" in out
    assert emu.finish()[:2] == (0, DONE)


def test_harts_are_threads(gdb, bare_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock, "-smp", "2")
    out = run_gdb(gdb, bare_guest, sock, "info threads", "thread 2", "info registers pc", "kill")
    assert re.search(r"^\* 1\s+Thread 1\.1 \(CPU#0 \[running\]\)", out, re.M), out
    assert re.search(r"^  2\s+Thread 1\.2 \(CPU#1 \[running\]\)", out, re.M), out
    assert "Switching to thread 2 (Thread 1.2)" in out
    status, _, stderr = emu.finish()
    assert (status, stderr) == (0, "pyqemu-system-riscv64: QEMU: Terminated via GDBstub\n")


def test_interrupt_detach_reconnect(bare_guest, emulator, tmp_path):
    """Connecting stops the running VM; Ctrl-C stops it again after ``c``; after ``D`` it runs on
    without a debugger; a new connection is accepted and can let the guest finish (W00)."""
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock, paused=False)
    c = RspClient(str(sock))
    c.command("qSupported")
    c.no_ack()
    assert c.command("?") == b"T05thread:01;"
    c.send("c")
    time.sleep(1)
    c.send_raw(b"\x03")
    assert c.read_packet() == b"T02thread:01;"
    pc = int.from_bytes(bytes.fromhex(c.command("p20").decode()), "little")
    assert pc in symbol(bare_guest, "test_main")  # the loop waiting for `release`
    assert c.command("vCont;s:1") == b"T05thread:01;"
    assert c.command("D") == b"OK"
    c.close()
    time.sleep(0.5)
    assert emu.running()  # still spinning, waiting for `release`
    c = RspClient(str(sock))
    c.no_ack()  # (the emulator is gone by the time W00 would be acknowledged)
    assert c.command("?") == b"T05thread:01;"
    release = symbol(bare_guest, "release").start
    assert c.command(f"M{release:x},8:0100000000000000") == b"OK"
    assert c.command("c") == b"W00"
    assert emu.finish()[:2] == (0, DONE)


def test_disconnect_lets_the_vm_run(bare_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock)
    c = RspClient(str(sock))
    c.command("qSupported")
    assert c.command(b"Z0,%x,4" % symbol(bare_guest, "scale").start) == b"OK"
    assert c.command("c") == b"T05thread:01;"  # .bss is clear now
    assert c.command(f"M{symbol(bare_guest, 'release').start:x},1:01") == b"OK"
    c.close()  # no detach: the breakpoint goes and the VM runs
    assert emu.finish()[:2] == (0, DONE)


def test_single_step_and_registers(bare_guest, emulator, tmp_path):
    """s / vCont;s run one instruction; G and P write registers; registers outside the g packet
    (CSRs, priv) read through p."""
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock)
    c = RspClient(str(sock))
    regs = c.command("g")
    assert len(regs) == 33 * 16
    assert regs[32 * 16:] == (0x1000).to_bytes(8, "little").hex().encode()  # the reset vector
    assert c.command("s") == b"T05thread:01;"
    assert c.command("p20") == (0x1004).to_bytes(8, "little").hex().encode()
    assert c.command("p1041") == b"0300000000000000"  # priv: M
    assert c.command("pf55") == b"0000000000000000"  # mhartid (65 + 0xf14)
    assert c.command("Pa=2a00000000000000") == b"OK"
    assert c.command("pa") == b"2a00000000000000"
    assert c.command("P20=0010000000000000") == b"OK"
    assert c.command("vCont;s:1") == b"T05thread:01;"
    assert c.command("p20") == (0x1004).to_bytes(8, "little").hex().encode()
    c.send("k")
    assert emu.finish()[0] == 0


def test_malformed_packets(bare_guest, emulator, tmp_path):
    sock = tmp_path / "gdb.sock"
    emu = _start(emulator, bare_guest, sock)
    c = RspClient(str(sock))
    c.send_raw(b"$g#00")  # bad checksum: a nack
    assert c.read_byte() == ord("-")
    for packet, reply in (("m", b"E22"), ("mzz,4", b"E22"), ("M0,2:zz", b"E22"), ("p", b"E22"),
                          ("pfffff", b"E14"), ("Hgzz", b"E22"), ("Hg99", b"E22"), ("Z0,80000000", b"E22"),
                          ("z0,1234,4", b"E22"), ("qXfer:features:read:other.xml:0,10", b"E22"),
                          ("qXfer:features:read", b"E22"), ("vCont;x", b"E22"), ("vUnknown", b""),
                          ("!", b""), ("mffffffffffff0000,8", b"E14"), ("X80000000,4:ab", b"E22"),
                          ("qThreadExtraInfo,7", b"E22"), ("T5", b"E22")):
        assert c.command(packet) == reply, packet
    c.send_raw(b"$" + b"a" * 100000 + b"#00")  # far too long
    assert c.read_byte() == ord("-")
    assert c.command("qC") == b"QC01"
    c.send("k")
    status, _, stderr = emu.finish()
    assert status == 0 and "Traceback" not in stderr


def test_tcp(bare_guest, emulator, tmp_path):
    with socket.socket() as s:  # a free port (released again for the emulator)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emu = emulator(*SYSTEM_CMD, "-S", "-gdb", f"tcp:127.0.0.1:{port}", "-nographic", "-bios", "none",
                   "-kernel", bare_guest)
    for _ in range(300):
        try:
            c = RspClient(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    xml = c.command("qXfer:features:read:target.xml:0,3fff")
    assert xml.startswith(b"l<?xml") and b"org.gnu.gdb.riscv.csr" in xml
    c.send("k")
    assert emu.finish()[0] == 0


@pytest.mark.parametrize(("device", "message"), [
    ("foo:bar", "'foo:bar' is not a valid char driver"),
    ("tcp::", "'tcp::' is not a valid char driver"),
    ("unix:/nonexistent/dir/sock", "Failed to connect to '/nonexistent/dir/sock': No such file or directory"),
    ("unix:/nonexistent/dir/sock,server=on,wait=off",
     "Failed to bind socket to /nonexistent/dir/sock: No such file or directory"),
    ("chardev:nope", 'chardev "nope" not found'),
])
def test_bad_device(device, message):
    proc = subprocess.run([*SYSTEM_CMD, "-nographic", "-bios", "none", "-S", "-gdb", device],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (1, f"pyqemu-system-riscv64: -gdb {device}: {message}\n")


def test_help_lists_the_options():
    out = subprocess.run([*SYSTEM_CMD, "-help"], capture_output=True, text=True, timeout=60).stdout
    assert "\n-gdb dev        accept gdb connection on 'dev'." in out
    assert "\n-s              shorthand for -gdb tcp::1234\n" in out


def test_options():
    from pyqemu.cli.system_main import parse_args
    from pyqemu.gdbstub.system import gdb_chardev_opts

    assert parse_args(["-s"]).gdb == ("tcp::1234", "-s")
    assert parse_args(["-gdb", "unix:/x", "-gdb", "tcp::5"]).gdb == ("tcp::5", "-gdb tcp::5")
    assert gdb_chardev_opts("none") is None
    assert gdb_chardev_opts("tcp:localhost:5,server=off") == {
        "id": "gdb", "backend": "socket", "host": "localhost", "port": "5", "server": "on", "wait": "off",
        "nodelay": "on"}
