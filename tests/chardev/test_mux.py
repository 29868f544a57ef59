"""The chardev multiplexer: Ctrl-A commands, focus switching, timestamps, input buffering.

This module also defines the test doubles the other chardev tests import: a recording frontend, a
recording backend and :func:`poll_until`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.chardev.mux import (
    CHR_EVENT_BREAK,
    CHR_EVENT_MUX_IN,
    CHR_EVENT_MUX_OUT,
    MAX_MUX,
    TERMINATED_MESSAGE,
    ChardevMux,
    help_text,
)
from pyqemu.core.main_loop import MainLoop

# -- shared test doubles --------------------------------------------------------------------------------


class Frontend:
    """A frontend that records input and events; ``room`` limits how much it takes (None: unlimited)."""

    def __init__(self, chr: Chardev | None = None, room: int | None = None):
        self.data = bytearray()
        self.events: list[int] = []
        self.room = room
        self.chr = chr
        if chr is not None:
            self.attach(chr)

    def attach(self, chr: Chardev) -> None:
        self.chr = chr
        chr.set_handlers(self.can_receive, self.receive, self.events.append)

    def can_receive(self) -> int:
        return 1 << 20 if self.room is None else self.room

    def receive(self, data: bytes) -> None:
        if self.room is not None:
            assert len(data) <= self.room
            self.room -= len(data)
        self.data += data

    def give_room(self, room: int) -> None:
        self.room = room
        assert self.chr is not None
        self.chr.accept_input()


class RecordingBackend(Chardev):
    """A backend that keeps what frontends write; tests feed input with ``deliver``."""

    def __init__(self, id: str = "rec"):
        super().__init__(id)
        self.output = bytearray()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.output += data
        return len(data)

    def close(self) -> None:
        self.closed = True


def poll_until(loop: MainLoop, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll the main loop until ``condition()`` holds (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the timeout")
        loop.poll(0.05)


# -- fixtures -------------------------------------------------------------------------------------------


class MuxSetup:
    def __init__(self) -> None:
        self.backend = RecordingBackend()
        self.quits = 0
        self.flushes = 0
        self.now = 0.0
        self.mux = ChardevMux("mux0", self.backend, quit=self._quit, flush=self._flush,
                              clock=lambda: self.now)
        # the monitor attaches first, the serial port last (and so takes the focus), as machines do
        self.monitor = Frontend(self.mux.add_frontend("monitor"))
        self.serial = Frontend(self.mux.add_frontend("serial"))

    def _quit(self) -> None:
        self.quits += 1

    def _flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def setup() -> MuxSetup:
    return MuxSetup()


# -- tests ------------------------------------------------------------------------------------------------


def test_last_attached_frontend_has_focus(setup: MuxSetup) -> None:
    assert setup.mux.focus == 1
    setup.backend.deliver(b"ls\r")
    assert setup.serial.data == b"ls\r"
    assert setup.monitor.data == b""


def test_output_from_every_frontend_reaches_backend(setup: MuxSetup) -> None:
    assert setup.serial.chr is not None and setup.monitor.chr is not None
    assert setup.serial.chr.write(b"guest\n") == 6
    setup.monitor.chr.write(b"(qemu) ")
    assert setup.backend.output == b"guest\n(qemu) "


def test_ctrl_a_x_quits(setup: MuxSetup) -> None:
    setup.backend.deliver(b"ab\x01x")
    assert setup.quits == 1
    assert setup.backend.output == TERMINATED_MESSAGE == b"QEMU: Terminated\n\r"
    assert setup.serial.data == b"ab"


def test_ctrl_a_x_without_quit_hook_exits() -> None:
    mux = ChardevMux("m", RecordingBackend())
    Frontend(mux.add_frontend())
    with pytest.raises(SystemExit) as exc:
        mux.backend.deliver(b"\x01x")
    assert exc.value.code == 0


def test_ctrl_a_c_switches_focus(setup: MuxSetup) -> None:
    setup.backend.deliver(b"1\x01c2\x01c3")
    assert setup.serial.data == b"13"
    assert setup.monitor.data == b"2"
    assert setup.mux.focus == 1
    assert setup.monitor.events.count(CHR_EVENT_MUX_IN) >= 1
    assert CHR_EVENT_MUX_OUT in setup.serial.events


def test_focus_events_order(setup: MuxSetup) -> None:
    setup.serial.events.clear()
    setup.monitor.events.clear()
    setup.backend.deliver(b"\x01c")
    assert setup.serial.events == [CHR_EVENT_MUX_OUT]
    assert setup.monitor.events == [CHR_EVENT_MUX_IN]


def test_escape_split_across_reads(setup: MuxSetup) -> None:
    setup.backend.deliver(b"\x01")
    assert setup.mux.focus == 1
    setup.backend.deliver(b"c")
    assert setup.mux.focus == 0
    assert setup.serial.data == b"" and setup.monitor.data == b""


def test_ctrl_a_ctrl_a_sends_one_ctrl_a(setup: MuxSetup) -> None:
    setup.backend.deliver(b"\x01\x01")
    assert setup.serial.data == b"\x01"
    setup.backend.deliver(b"\x01\x01\x01\x01z")
    assert setup.serial.data == b"\x01\x01\x01z"


def test_ctrl_c_passes_through(setup: MuxSetup) -> None:
    setup.backend.deliver(b"\x03")
    assert setup.serial.data == b"\x03"


def test_ctrl_a_h_writes_help(setup: MuxSetup) -> None:
    setup.backend.deliver(b"\x01h")
    out = bytes(setup.backend.output)
    assert out == help_text()
    for key in (b"C-a h", b"C-a x", b"C-a s", b"C-a t", b"C-a b", b"C-a c", b"C-a C-a"):
        assert key in out
    assert out.endswith(b"\r\n")
    setup.backend.output.clear()
    setup.backend.deliver(b"\x01?")
    assert setup.backend.output == help_text()
    assert setup.serial.data == b""


def test_ctrl_a_s_flushes_and_b_sends_break(setup: MuxSetup) -> None:
    setup.backend.deliver(b"\x01s\x01b")
    assert setup.flushes == 1
    assert CHR_EVENT_BREAK in setup.serial.events
    assert CHR_EVENT_BREAK not in setup.monitor.events


def test_unknown_command_is_swallowed(setup: MuxSetup) -> None:
    setup.backend.deliver(b"a\x01qb")
    assert setup.serial.data == b"ab"
    assert setup.quits == 0


def test_ctrl_a_t_timestamps(setup: MuxSetup) -> None:
    assert setup.serial.chr is not None
    setup.serial.chr.write(b"plain\n")
    setup.now = 100.0
    setup.backend.deliver(b"\x01t")
    assert setup.mux.timestamps
    setup.serial.chr.write(b"one\n")
    setup.now = 3723.25 + 100.0
    setup.serial.chr.write(b"two")
    setup.serial.chr.write(b" more\nx")
    assert setup.backend.output == (b"plain\n[00:00:00.000] one\n[01:02:03.250] two more\n"
                                    b"[01:02:03.250] x")
    setup.backend.deliver(b"\x01t")
    setup.backend.output.clear()
    setup.serial.chr.write(b"\nraw\n")
    assert setup.backend.output == b"\nraw\n"


def test_input_waits_while_frontend_full_but_commands_still_work() -> None:
    backend = RecordingBackend()
    quits: list[int] = []
    mux = ChardevMux("m", backend, quit=lambda: quits.append(1))
    serial = Frontend(mux.add_frontend(), room=0)
    backend.deliver(b"hello")
    assert serial.data == b""
    serial.give_room(3)
    assert serial.data == b"hel"
    serial.give_room(10)
    assert serial.data == b"hello"
    serial.room = 0
    backend.deliver(b"more\x01x")
    assert quits == [1]


def test_backend_events_reach_all_frontends(setup: MuxSetup) -> None:
    setup.backend.send_event(CHR_EVENT_OPENED)
    assert CHR_EVENT_OPENED in setup.serial.events and CHR_EVENT_OPENED in setup.monitor.events
    late = Frontend(setup.mux.add_frontend())
    assert CHR_EVENT_OPENED in late.events  # attaching to an open mux reports OPENED
    setup.backend.send_event(CHR_EVENT_CLOSED)
    assert CHR_EVENT_CLOSED in setup.serial.events


def test_frontend_limit_and_direct_attach() -> None:
    mux = ChardevMux("m", RecordingBackend())
    for _ in range(MAX_MUX):
        mux.add_frontend()
    with pytest.raises(ValueError):
        mux.add_frontend()
    with pytest.raises(TypeError):
        mux.set_handlers(None, None)


def test_close_closes_backend(setup: MuxSetup) -> None:
    setup.mux.close()
    assert setup.backend.closed
