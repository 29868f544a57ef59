"""The ``stdio`` character device backend (QEMU chardev/char-stdio.c): the emulator's own terminal.

Guest output goes to standard output (descriptor 1), host input is read from standard input
(descriptor 0) through the main loop.  When standard input is a terminal it is switched to a raw-ish
mode for as long as the chardev lives, as QEMU does: no echo, no line editing, no CR/NL translation or
flow control on input, 8-bit characters, while output post-processing stays on so "\\n" still returns
the carriage.  ``signal`` decides what Ctrl-C does:

* ``signal=on`` (the default, e.g. ``-serial stdio``): the terminal keeps generating SIGINT, so Ctrl-C
  stops the emulator;
* ``signal=off`` (what ``-serial mon:stdio`` and ``-nographic`` use): ISIG is cleared and Ctrl-C reaches
  the guest as byte 0x03; the mux's ``Ctrl-A x`` quits instead.

The terminal settings are restored by :meth:`ChardevStdio.close` and, should the process exit without
closing, by an ``atexit`` hook; after a Ctrl-Z suspension (SIGCONT) the console mode is set again.
End of file on standard input stops reading; the VM keeps running.
Only one stdio chardev may exist at a time.
"""

from __future__ import annotations

import atexit
import os
import signal as signals
import termios
from collections.abc import Callable
from typing import Any

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.chardev.file import FdInput, write_all
from pyqemu.chardev.registry import ChardevError
from pyqemu.core.main_loop import MainLoop

_in_use = False


def _raw_attrs(attrs: list, echo: bool, allow_signal: bool) -> list:
    """Terminal attributes (termios.tcgetattr's list) for a console stdin."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    cc = list(cc)
    if not echo:
        iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                   | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
        oflag |= termios.OPOST
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
        cflag &= ~(termios.CSIZE | termios.PARENB)
        cflag |= termios.CS8
        cc[termios.VMIN] = 1
        cc[termios.VTIME] = 0
    if not allow_signal:
        lflag &= ~termios.ISIG
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


class ChardevStdio(Chardev):
    """Standard input/output as a chardev.

    ``in_fd``/``out_fd`` default to 0 and 1; tests pass a pty or pipe instead.  ``signal`` is the
    ``signal=`` option (see the module docstring).
    """

    def __init__(self, id: str, main_loop: MainLoop, signal: bool = True, in_fd: int = 0, out_fd: int = 1):
        global _in_use
        if _in_use:
            raise ChardevError("cannot use stdio by multiple character devices")
        super().__init__(id)
        self.main_loop = main_loop
        self.signal = signal
        self.in_fd = in_fd
        self.out_fd = out_fd
        self._saved_tty: list | None = None
        self._closed = False
        self._open = True
        self._echo = False
        self._old_sigcont: Any = None
        self._sigcont_installed = False
        try:
            if os.isatty(in_fd):
                self._saved_tty = termios.tcgetattr(in_fd)
        except termios.error:
            self._saved_tty = None
        _in_use = True
        atexit.register(self._restore_tty)
        self.set_echo(False)
        if self._saved_tty is not None:
            self._install_sigcont()
        self._input: FdInput | None = FdInput(self, in_fd, main_loop, on_eof=self._on_eof)

    # -- terminal ----------------------------------------------------------------------------------
    @property
    def is_tty(self) -> bool:
        return self._saved_tty is not None

    def set_echo(self, echo: bool) -> None:
        """Switch the terminal between the console mode (``echo=False``) and its cooked settings with
        only ISIG adjusted (``echo=True``; QEMU's chr_set_echo).  No-op when stdin is not a terminal."""
        self._echo = echo
        if self._saved_tty is None:
            return
        try:
            termios.tcsetattr(self.in_fd, termios.TCSANOW, _raw_attrs(self._saved_tty, echo, self.signal))
        except termios.error:
            pass

    def _install_sigcont(self) -> None:
        """Re-apply the console mode when the shell resumes a suspended emulator (it restored its own)."""
        try:
            self._old_sigcont = signals.signal(signals.SIGCONT, self._on_sigcont)
        except (ValueError, OSError):
            return  # not the main thread: no handler
        self._sigcont_installed = True

    def _on_sigcont(self, signum: int, frame: Any) -> None:
        if not self._closed:
            self.set_echo(self._echo)
        old = self._old_sigcont
        if callable(old):
            old(signum, frame)

    def _restore_tty(self) -> None:
        if self._saved_tty is not None:
            try:
                termios.tcsetattr(self.in_fd, termios.TCSANOW, self._saved_tty)
            except (termios.error, OSError):
                pass

    # -- data ----------------------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        if not self._closed:
            write_all(self.out_fd, data)
        return len(data)

    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        super().set_handlers(can_receive, receive, event)
        if event is not None and self._open:
            self.send_event(CHR_EVENT_OPENED)

    def accept_input(self) -> None:
        super().accept_input()
        if self._input is not None:
            self._input.kick()

    def _on_eof(self) -> None:
        self._open = False
        self.send_event(CHR_EVENT_CLOSED)

    def close(self) -> None:
        global _in_use
        if self._closed:
            return
        self._closed = True
        if self._input is not None:
            self._input.close()
            self._input = None
        self._restore_tty()
        atexit.unregister(self._restore_tty)
        if self._sigcont_installed:
            try:
                signals.signal(signals.SIGCONT, self._old_sigcont if self._old_sigcont is not None
                               else signals.SIG_DFL)
            except (ValueError, OSError):
                pass
            self._sigcont_installed = False
        _in_use = False
