"""Character devices (QEMU chardev/char.c): the host end of serial ports and consoles.

A *backend* (stdio, file, socket, null, mux) connects to one *frontend* (a UART, virtio-console, the
monitor).  The frontend writes guest output with :meth:`Chardev.write` and receives host input through
the handlers it installs with :meth:`Chardev.set_handlers`: ``can_receive()`` says how many bytes it can
take now, ``receive(data)`` delivers them.  Input the frontend cannot take yet stays buffered here.
"""

from __future__ import annotations

from collections.abc import Callable

CHR_EVENT_OPENED = 0
CHR_EVENT_CLOSED = 1


class Chardev:
    """Base class of backends.  Subclasses implement :meth:`write` and feed input to :meth:`deliver`."""

    def __init__(self, id: str):
        self.id = id
        self._can_receive: Callable[[], int] | None = None
        self._receive: Callable[[bytes], None] | None = None
        self._event: Callable[[int], None] | None = None
        self._pending = bytearray()

    # -- frontend side --------------------------------------------------------------------------
    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        self._can_receive = can_receive
        self._receive = receive
        self._event = event
        self.accept_input()

    @property
    def frontend_open(self) -> bool:
        """Whether a frontend takes this chardev's input (QMP's ``frontend-open``)."""
        return self._receive is not None

    def write(self, data: bytes) -> int:
        """Send guest output to the host side; returns the bytes taken (all of them by default)."""
        return len(data)

    def accept_input(self) -> None:
        """The frontend can take more input now (QEMU's qemu_chr_fe_accept_input)."""
        self._flush_pending()

    # -- backend side ---------------------------------------------------------------------------
    def deliver(self, data: bytes) -> None:
        """Host input arrived: hand what the frontend can take now, buffer the rest."""
        self._pending += data
        self._flush_pending()

    def _flush_pending(self) -> None:
        while self._pending and self._receive is not None:
            room = self._can_receive() if self._can_receive else len(self._pending)
            if room <= 0:
                return
            chunk = bytes(self._pending[:room])
            del self._pending[:room]
            self._receive(chunk)

    def send_event(self, event: int) -> None:
        if self._event is not None:
            self._event(event)

    def close(self) -> None:
        pass
