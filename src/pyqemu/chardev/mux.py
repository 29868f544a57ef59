"""The chardev multiplexer (QEMU chardev/char-mux.c): several frontends sharing one backend.

``-nographic`` and ``-serial mon:stdio`` put the guest's serial port and the monitor on the same
terminal.  Every frontend's output goes to the backend; input goes to the frontend that has the *focus*.
Keystrokes after the escape character Ctrl-A are commands for the mux itself:

========  ===========================================================
C-a h     write the list of commands (``?`` does the same)
C-a x     write ``QEMU: Terminated`` and quit the emulator
C-a s     flush the block devices (the ``flush`` hook)
C-a t     toggle timestamps at the start of each output line
C-a b     send a break to the focused frontend (``CHR_EVENT_BREAK``)
C-a c     move the focus to the next frontend
C-a C-a   send one Ctrl-A to the focused frontend
========  ===========================================================

Any other key after C-a is swallowed.  Each frontend attaches to its own :class:`MuxFrontend` (a
:class:`Chardev`) obtained from :meth:`ChardevMux.add_frontend`.  Like QEMU, a frontend takes the focus
when it installs its handlers, so the last one to attach (the serial port, which machines create after
the monitor) starts with it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev

#: Events beyond base.py's OPENED/CLOSED that the mux sends its frontends.
CHR_EVENT_BREAK = 2
CHR_EVENT_MUX_IN = 3
CHR_EVENT_MUX_OUT = 4

#: The escape character (Ctrl-A; QEMU's -echr changes it).
ESCAPE_CHAR = 0x01
#: Most frontends one mux serves (QEMU's MAX_MUX).
MAX_MUX = 4
#: What C-a x writes before quitting (QEMU's exact bytes, LF before CR).
TERMINATED_MESSAGE = b"QEMU: Terminated\n\r"
#: How much input the mux takes from the backend at a time.
INPUT_CHUNK = 4096

_HELP_ENTRIES = (
    ("h", "show this list of commands"),
    ("x", "quit the emulator"),
    ("s", "flush the disk images (writes back -snapshot data)"),
    ("t", "turn timestamps on console output on or off"),
    ("b", "send a break (magic SysRq)"),
    ("c", "switch the input between the console and the monitor"),
)


def escape_name(char: int) -> str:
    """How the help text names a control character: ``C-a`` for 0x01."""
    if 0 < char < 27:
        return f"C-{chr(ord('a') + char - 1)}"
    return f"0x{char:02x}"


def help_text(escape: int = ESCAPE_CHAR) -> bytes:
    """The mux's command list, as C-a h writes it (CR LF line ends: the terminal is raw)."""
    esc = escape_name(escape)
    lines = [f"{esc} {key}    {what}" for key, what in _HELP_ENTRIES]
    lines.append(f"{esc} {esc}  send {esc} itself to the guest or monitor")
    return ("\r\n" + "".join(line + "\r\n" for line in lines)).encode()


class MuxFrontend(Chardev):
    """The attach point of one frontend on a mux: its output goes to the shared backend, and it
    receives input while it has the focus."""

    def __init__(self, mux: ChardevMux, index: int, id: str):
        super().__init__(id)
        self.mux = mux
        self.index = index

    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        super().set_handlers(can_receive, receive, event)
        if receive is not None:
            self.mux.set_focus(self.index)
            if self.mux.opened:
                self.send_event(CHR_EVENT_OPENED)

    def write(self, data: bytes) -> int:
        return self.mux.write(data)

    def accept_input(self) -> None:
        super().accept_input()
        # input the backend held back while this frontend was full can come now
        self.mux.backend.accept_input()


class ChardevMux(Chardev):
    """Multiplexes ``backend`` between up to :data:`MAX_MUX` frontends.

    ``quit`` runs on C-a x (default: ``sys.exit(0)``); ``flush`` runs on C-a s (default: nothing).
    ``clock`` returns seconds for the console timestamps (default: ``time.monotonic``).
    """

    def __init__(self, id: str, backend: Chardev, *, quit: Callable[[], None] | None = None,
                 flush: Callable[[], None] | None = None, escape: int = ESCAPE_CHAR,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(id)
        self.backend = backend
        self.quit = quit
        self.flush = flush
        self.escape = escape
        self.clock = clock
        self.frontends: list[MuxFrontend] = []
        self.focus = -1
        self.opened = False
        self.timestamps = False
        self._timestamps_start: float | None = None
        self._line_start = True
        self._got_escape = False
        backend.set_handlers(self._backend_can_receive, self._backend_receive, self._backend_event)

    # -- frontends ------------------------------------------------------------------------------------
    def add_frontend(self, id: str | None = None) -> MuxFrontend:
        """A new attach point; the frontend calls ``set_handlers`` on it as on any chardev."""
        if len(self.frontends) >= MAX_MUX:
            raise ValueError(f"too many uses of multiplexed chardev '{self.id}'")
        index = len(self.frontends)
        frontend = MuxFrontend(self, index, id or f"{self.id}.{index}")
        self.frontends.append(frontend)
        return frontend

    def set_focus(self, index: int) -> None:
        """Give the input focus to frontend ``index`` (MUX_OUT to the old one, MUX_IN to the new)."""
        if not 0 <= index < len(self.frontends):
            raise IndexError(index)
        if index == self.focus:
            return
        if 0 <= self.focus < len(self.frontends):
            self.frontends[self.focus].send_event(CHR_EVENT_MUX_OUT)
        self.focus = index
        self.frontends[index].send_event(CHR_EVENT_MUX_IN)
        self.backend.accept_input()

    def switch_focus(self) -> None:
        """C-a c: move the focus to the next frontend."""
        if self.frontends:
            self.set_focus((self.focus + 1) % len(self.frontends))

    @property
    def focused(self) -> MuxFrontend | None:
        return self.frontends[self.focus] if 0 <= self.focus < len(self.frontends) else None

    def broadcast_event(self, event: int) -> None:
        for frontend in self.frontends:
            frontend.send_event(event)

    def open(self) -> None:
        """Tell every frontend the mux is open (QEMU does this once the machine is created); frontends
        attaching later get OPENED as they attach.  Nothing happens if the backend already reported
        itself open (stdio and file do as soon as the mux attaches to them)."""
        if not self.opened:
            self.opened = True
            self.broadcast_event(CHR_EVENT_OPENED)

    # -- output ----------------------------------------------------------------------------------------
    def _timestamp(self) -> bytes:
        now = self.clock()
        if self._timestamps_start is None:
            self._timestamps_start = now
        ms = int((now - self._timestamps_start) * 1000)
        secs, ms = divmod(ms, 1000)
        mins, secs = divmod(secs, 60)
        hours, mins = divmod(mins, 60)
        return f"[{hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}] ".encode()

    def write(self, data: bytes) -> int:
        """Frontend output, stamped with the elapsed time at line starts while timestamps are on."""
        if not self.timestamps:
            self.backend.write(data)
            return len(data)
        out = bytearray()
        for byte in data:
            if self._line_start:
                out += self._timestamp()
                self._line_start = False
            out.append(byte)
            if byte == 0x0A:
                self._line_start = True
        self.backend.write(bytes(out))
        return len(data)

    def toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self._timestamps_start = None
        self._line_start = True

    # -- input -----------------------------------------------------------------------------------------
    def _backend_can_receive(self) -> int:
        # always take input so that C-a commands work even while the focused frontend is full; what the
        # frontend cannot take yet waits in its MuxFrontend
        return INPUT_CHUNK

    def _backend_receive(self, data: bytes) -> None:
        passthrough = bytearray()
        for byte in data:
            if self._got_escape:
                self._got_escape = False
                if byte == self.escape:
                    passthrough.append(byte)
                    continue
                self._flush_input(passthrough)
                self._command(byte)
            elif byte == self.escape:
                self._got_escape = True
            else:
                passthrough.append(byte)
        self._flush_input(passthrough)

    def _flush_input(self, buf: bytearray) -> None:
        if buf:
            frontend = self.focused
            if frontend is not None:
                frontend.deliver(bytes(buf))
            buf.clear()

    def _command(self, key: int) -> None:
        char = chr(key)
        if char in "h?":
            self.backend.write(help_text(self.escape))
        elif char == "x":
            self.backend.write(TERMINATED_MESSAGE)
            if self.quit is not None:
                self.quit()
            else:
                sys.exit(0)
        elif char == "s":
            if self.flush is not None:
                self.flush()
        elif char == "b":
            frontend = self.focused
            if frontend is not None:
                frontend.send_event(CHR_EVENT_BREAK)
        elif char == "c":
            self.switch_focus()
        elif char == "t":
            self.toggle_timestamps()

    def _backend_event(self, event: int) -> None:
        if event == CHR_EVENT_OPENED:
            self.opened = True
        elif event == CHR_EVENT_CLOSED:
            self.opened = False
        self.broadcast_event(event)

    # -- chardev interface on the mux itself -------------------------------------------------------------
    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        raise TypeError(f"chardev '{self.id}' is multiplexed: attach frontends with add_frontend()")

    def deliver(self, data: bytes) -> None:
        self._backend_receive(data)

    def close(self) -> None:
        self.backend.close()
