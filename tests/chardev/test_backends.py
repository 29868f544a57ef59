"""The null, file and stdio chardev backends (stdio driven through pipes and a pty, never the real
terminal of the test run)."""

from __future__ import annotations

import os
import signal
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED
from pyqemu.chardev.file import ChardevFile, write_all
from pyqemu.chardev.mux import ChardevMux
from pyqemu.chardev.null import ChardevNull
from pyqemu.chardev.registry import ChardevError
from pyqemu.chardev.stdio import ChardevStdio
from pyqemu.core.main_loop import MainLoop

from .test_mux import Frontend, poll_until


@pytest.fixture
def loop() -> MainLoop:
    return MainLoop()


# -- null ---------------------------------------------------------------------------------------------------


def test_null_discards_output() -> None:
    chr = ChardevNull("n")
    fe = Frontend(chr)
    assert chr.write(b"x" * 100) == 100
    assert fe.data == b""
    chr.close()


# -- file ---------------------------------------------------------------------------------------------------


def test_file_writes_output_and_truncates(tmp_path: Path, loop: MainLoop) -> None:
    out = tmp_path / "serial.log"
    out.write_bytes(b"old contents that must go")
    chr = ChardevFile("f", loop, str(out))
    assert chr.write(b"hello ") == 6
    chr.write(b"world\n")
    assert out.read_bytes() == b"hello world\n"
    chr.close()


def test_file_append(tmp_path: Path, loop: MainLoop) -> None:
    out = tmp_path / "serial.log"
    out.write_bytes(b"first\n")
    chr = ChardevFile("f", loop, str(out), append=True)
    chr.write(b"second\n")
    chr.close()
    assert out.read_bytes() == b"first\nsecond\n"


def test_file_input_is_read_with_flow_control(tmp_path: Path, loop: MainLoop) -> None:
    src = tmp_path / "input.txt"
    payload = bytes(range(256)) * 40
    src.write_bytes(payload)
    chr = ChardevFile("f", loop, str(tmp_path / "out"), in_path=str(src))
    fe = Frontend(chr, room=100)
    for _ in range(20):
        loop.poll(0)
    assert fe.data == payload[:100]  # no more than the frontend has room for
    fe.give_room(len(payload))
    poll_until(loop, lambda: len(fe.data) == len(payload))
    assert fe.data == payload
    for _ in range(5):
        loop.poll(0)  # at end of file reading stops; polling goes on harmlessly
    chr.close()


def test_file_input_from_a_pipe(loop: MainLoop, tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer_fd: list[int] = []
    opener = threading.Thread(target=lambda: writer_fd.append(os.open(fifo, os.O_WRONLY)))
    opener.start()
    chr = ChardevFile("f", loop, str(tmp_path / "out"), in_path=str(fifo))
    opener.join()
    fe = Frontend(chr)
    os.write(writer_fd[0], b"typed")
    poll_until(loop, lambda: fe.data == b"typed")
    os.close(writer_fd[0])
    for _ in range(5):
        loop.poll(0.01)
    chr.close()


def test_file_open_errors(tmp_path: Path, loop: MainLoop) -> None:
    missing = tmp_path / "nodir" / "out"
    with pytest.raises(ChardevError) as exc:
        ChardevFile("f", loop, str(missing))
    assert str(exc.value) == f"Could not open '{missing}': No such file or directory"
    with pytest.raises(ChardevError, match="Could not open"):
        ChardevFile("f", loop, str(tmp_path / "out"), in_path=str(tmp_path / "absent"))


# -- stdio --------------------------------------------------------------------------------------------------


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, int, int]]:
    """(stdin read end, stdin write end, stdout read end, stdout write end)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    yield in_r, in_w, out_r, out_w
    for fd in (in_r, in_w, out_r, out_w):
        try:
            os.close(fd)
        except OSError:
            pass


def test_stdio_input_output_and_eof(loop: MainLoop, pipes: tuple[int, int, int, int]) -> None:
    in_r, in_w, out_r, out_w = pipes
    chr = ChardevStdio("s", loop, in_fd=in_r, out_fd=out_w)
    try:
        assert not chr.is_tty
        fe = Frontend(chr)
        os.write(in_w, b"abc")
        poll_until(loop, lambda: fe.data == b"abc")
        assert chr.write(b"guest says hi\n") == 14
        assert os.read(out_r, 100) == b"guest says hi\n"
        os.close(in_w)
        poll_until(loop, lambda: CHR_EVENT_CLOSED in fe.events)
        # end of input is not the end of the VM: output still works, polling still works
        chr.write(b"still here")
        assert os.read(out_r, 100) == b"still here"
        loop.poll(0.01)
    finally:
        chr.close()


def test_stdio_from_dev_null(loop: MainLoop, pipes: tuple[int, int, int, int]) -> None:
    _, _, _, out_w = pipes
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        chr = ChardevStdio("s", loop, in_fd=null, out_fd=out_w)
        fe = Frontend(chr)
        poll_until(loop, lambda: CHR_EVENT_CLOSED in fe.events)
        assert fe.data == b""
        chr.close()
    finally:
        os.close(null)


def test_only_one_stdio(loop: MainLoop, pipes: tuple[int, int, int, int]) -> None:
    in_r, _, _, out_w = pipes
    first = ChardevStdio("s", loop, in_fd=in_r, out_fd=out_w)
    with pytest.raises(ChardevError, match="cannot use stdio by multiple character devices"):
        ChardevStdio("t", loop, in_fd=in_r, out_fd=out_w)
    first.close()
    second = ChardevStdio("t", loop, in_fd=in_r, out_fd=out_w)
    second.close()


@pytest.mark.parametrize("signal", [True, False])
def test_stdio_terminal_mode_and_restore(loop: MainLoop, signal: bool) -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        assert before[3] & termios.ECHO and before[3] & termios.ICANON
        chr = ChardevStdio("s", loop, signal=signal, in_fd=slave, out_fd=slave)
        assert chr.is_tty
        raw = termios.tcgetattr(slave)
        assert not raw[3] & (termios.ECHO | termios.ICANON | termios.IEXTEN)
        assert not raw[0] & (termios.ICRNL | termios.IXON)
        assert raw[1] & termios.OPOST
        assert bool(raw[3] & termios.ISIG) is signal
        fe = Frontend(chr)
        os.write(master, b"\x03\r")
        if not signal:
            poll_until(loop, lambda: fe.data == b"\x03\r")  # Ctrl-C and CR reach the guest untouched
        chr.close()
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_write_all_waits_on_a_full_nonblocking_pipe() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    payload = os.urandom(1 << 20)
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            received.extend(os.read(r, 65536))

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        assert write_all(w, payload) == len(payload)
        reader.join(10)
        assert bytes(received) == payload
    finally:
        os.close(r)
        os.close(w)


# -- OPENED on attach, SIGCONT, stdio under a mux ---------------------------------------------------------


def test_attaching_to_open_backends_reports_opened(loop: MainLoop, tmp_path: Path,
                                                   pipes: tuple[int, int, int, int]) -> None:
    f = ChardevFile("f", loop, str(tmp_path / "out"))
    assert Frontend(f).events == [CHR_EVENT_OPENED]
    f.close()
    in_r, _, _, out_w = pipes
    s = ChardevStdio("s", loop, in_fd=in_r, out_fd=out_w)
    assert Frontend(s).events == [CHR_EVENT_OPENED]
    s.close()
    # null is never "open", as in QEMU
    assert Frontend(ChardevNull("n")).events == []


def test_stdio_reapplies_console_mode_on_sigcont(loop: MainLoop) -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        chr = ChardevStdio("s", loop, in_fd=slave, out_fd=slave)
        raw = termios.tcgetattr(slave)
        termios.tcsetattr(slave, termios.TCSANOW, before)  # what a shell does around Ctrl-Z / fg
        os.kill(os.getpid(), signal.SIGCONT)
        deadline = time.monotonic() + 2
        while termios.tcgetattr(slave) != raw and time.monotonic() < deadline:
            time.sleep(0.01)
        assert termios.tcgetattr(slave) == raw
        chr.close()
        assert signal.getsignal(signal.SIGCONT) != chr._on_sigcont
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_nographic_console_on_a_pty(loop: MainLoop) -> None:
    """mon:stdio: a mux over stdio with signal=off; Ctrl-C goes to the guest, C-a c to the monitor,
    C-a x quits."""
    master, slave = os.openpty()
    try:
        quits: list[int] = []
        stdio = ChardevStdio("serial0-base", loop, signal=False, in_fd=slave, out_fd=slave)
        mux = ChardevMux("serial0", stdio, quit=lambda: quits.append(1))
        monitor = Frontend(mux.add_frontend())
        serial = Frontend(mux.add_frontend())
        assert CHR_EVENT_OPENED in serial.events and CHR_EVENT_OPENED in monitor.events
        os.write(master, b"\x03ls\r\x01cinfo\r")
        poll_until(loop, lambda: monitor.data == b"info\r")
        assert serial.data == b"\x03ls\r"
        assert serial.chr is not None
        serial.chr.write(b"guest\n")
        assert os.read(master, 100) == b"guest\r\n"  # OPOST still maps NL to CR NL
        os.write(master, b"\x01x")
        poll_until(loop, lambda: quits == [1])
        assert os.read(master, 100) == b"QEMU: Terminated\r\n\r"
        mux.close()
    finally:
        os.close(master)
        os.close(slave)
