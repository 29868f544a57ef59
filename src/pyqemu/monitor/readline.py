"""The monitor's line editor (the behaviour of QEMU's util/readline.c, without completion).

Bytes from the terminal edit one command line; Enter (CR or LF; the LF of a CR LF pair is taken as part
of the same Enter) hands the line to the monitor.  Editing keys: Backspace (BS or DEL) and Delete, the
left/right arrows (and Ctrl-B/Ctrl-F), Home/End (and Ctrl-E; Ctrl-A is the mux's escape character),
Ctrl-U deletes up to the cursor, up/down walk the history.  Other control characters are ignored.

The terminal is redrawn the way QEMU does it, so what the monitor echoes matches QEMU byte for byte:
when the line changed, the cursor goes back to the start of the line (``ESC [ D`` once per column), the
whole line is written, followed by ``ESC [ K`` (clear to the end of the line), and the cursor is moved
back to where the editing point is; a plain cursor movement writes ``ESC [ D`` / ``ESC [ C`` only.
"""

from __future__ import annotations

from collections.abc import Callable

CURSOR_LEFT = "\x1b[D"
CURSOR_RIGHT = "\x1b[C"
CLEAR_EOL = "\x1b[K"
HISTORY_SIZE = 64


class ReadLine:
    """One line editor.  ``output`` writes text to the terminal; ``execute`` receives each entered line
    (without its end-of-line)."""

    def __init__(self, output: Callable[[str], None], execute: Callable[[str], None],
                 prompt: str = "(qemu) "):
        self.output = output
        self.execute = execute
        self.prompt = prompt
        self.history: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Forget the line being edited (a new client, a new prompt)."""
        self.buf = ""
        self.cursor = 0
        self._shown = ""
        self._shown_cursor = 0
        self._esc = ""
        self._after_cr = False
        self._hist_index = len(self.history)

    def show_prompt(self) -> None:
        """Write the prompt and start a fresh line."""
        self.reset()
        self.output(self.prompt)

    # -- terminal update ------------------------------------------------------------------------------
    def _refresh(self) -> None:
        out = []
        if self.buf != self._shown:
            out.append(CURSOR_LEFT * self._shown_cursor)
            out.append(self.buf)
            out.append(CLEAR_EOL)
            out.append(CURSOR_LEFT * (len(self.buf) - self.cursor))
        elif self.cursor != self._shown_cursor:
            delta = self.cursor - self._shown_cursor
            out.append(CURSOR_RIGHT * delta if delta > 0 else CURSOR_LEFT * -delta)
        self._shown = self.buf
        self._shown_cursor = self.cursor
        if out:
            self.output("".join(out))

    # -- input ------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        for byte in data:
            self.handle_byte(byte)

    def handle_byte(self, byte: int) -> None:
        after_cr, self._after_cr = self._after_cr, False
        if self._esc:
            self._escape(chr(byte))
            return
        if byte in (10, 13):
            if byte == 10 and after_cr:
                return
            self._enter()
            self._after_cr = byte == 13
            return
        if byte == 27:
            self._esc = "\x1b"
            return
        if byte in (8, 127):
            if self.cursor > 0:
                self.buf = self.buf[:self.cursor - 1] + self.buf[self.cursor:]
                self.cursor -= 1
        elif byte == 2:  # Ctrl-B
            self.cursor = max(0, self.cursor - 1)
        elif byte == 6:  # Ctrl-F
            self.cursor = min(len(self.buf), self.cursor + 1)
        elif byte == 5:  # Ctrl-E
            self.cursor = len(self.buf)
        elif byte == 21:  # Ctrl-U
            self.buf = self.buf[self.cursor:]
            self.cursor = 0
        elif byte >= 32:
            ch = chr(byte) if byte < 128 else bytes([byte]).decode("latin-1")
            self.buf = self.buf[:self.cursor] + ch + self.buf[self.cursor:]
            self.cursor += 1
        else:
            return
        self._refresh()

    def _escape(self, ch: str) -> None:
        seq = self._esc + ch
        if seq in ("\x1b[", "\x1bO") or (seq.startswith("\x1b[") and (ch.isdigit() or ch == ";")):
            self._esc = seq
            return
        self._esc = ""
        key = seq[2:] if len(seq) > 2 else ""
        if key == "D":
            self.cursor = max(0, self.cursor - 1)
        elif key == "C":
            self.cursor = min(len(self.buf), self.cursor + 1)
        elif key in ("H", "1~", "7~"):
            self.cursor = 0
        elif key in ("F", "4~", "8~"):
            self.cursor = len(self.buf)
        elif key == "3~":
            self.buf = self.buf[:self.cursor] + self.buf[self.cursor + 1:]
        elif key == "A":
            self._history_move(-1)
        elif key == "B":
            self._history_move(1)
        else:
            return
        self._refresh()

    def _history_move(self, step: int) -> None:
        index = self._hist_index + step
        if not 0 <= index <= len(self.history):
            return
        self._hist_index = index
        self.buf = self.history[index] if index < len(self.history) else ""
        self.cursor = len(self.buf)

    def _enter(self) -> None:
        line = self.buf
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-HISTORY_SIZE]
        self.output("\n")
        self.reset()
        self.execute(line)
