"""GDB remote serial protocol framing (the GDB manual, "Remote Protocol" > "Overview"; QEMU's
gdb_read_byte and put_packet in gdbstub.c).

A packet is ``$payload#cs``, ``cs`` being the sum of the payload's bytes modulo 256 in two hex digits.
The receiver answers ``+`` (good) or ``-`` (send it again) until both sides have agreed on no-ack mode
(``QStartNoAckMode``).  Outside a packet, the byte 0x03 asks the running target to stop (Ctrl-C).
Binary data (the ``X`` packet, ``qXfer`` replies) escapes ``#``, ``$``, ``}`` and ``*`` as ``}``
followed by the byte XOR 0x20.  GDB does not run-length encode what it sends, and this side never does.
"""

from __future__ import annotations

from enum import Enum

INTERRUPT = 0x03
ESCAPE = 0x7D
_SPECIAL = frozenset(b"#$}*")
#: a packet longer than this is dropped (GDB keeps to the PacketSize it was told, see the server)
MAX_PACKET = 1 << 16


class Event(Enum):
    PACKET = "packet"  # a packet with a good checksum: acknowledge it and act on it
    BAD = "bad"  # a packet with a bad checksum (or too long): ask for it again
    INTERRUPT = "interrupt"  # Ctrl-C
    NACK = "nack"  # GDB asks for our last packet again


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def frame(payload: bytes) -> bytes:
    """``payload`` as a packet on the wire."""
    return b"$" + payload + b"#%02x" % checksum(payload)


def escape(data: bytes) -> bytes:
    """Binary data for a packet."""
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Binary data from a packet (a trailing lone escape byte is dropped)."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == ESCAPE:
            nxt = next(it, None)
            if nxt is not None:
                out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


class PacketReader:
    """Splits the byte stream from GDB into events (:class:`Event`, payload)."""

    def __init__(self) -> None:
        self._payload = bytearray()
        self._digits = bytearray()
        self._state = _IDLE
        self._too_long = False

    def feed(self, data: bytes) -> list[tuple[Event, bytes]]:
        events: list[tuple[Event, bytes]] = []
        for b in data:
            if self._state == _IDLE:
                if b == ord("$"):
                    self._state = _PAYLOAD
                    self._payload.clear()
                    self._too_long = False
                elif b == INTERRUPT:
                    events.append((Event.INTERRUPT, b""))
                elif b == ord("-"):
                    events.append((Event.NACK, b""))
                # "+" acknowledgements and line noise are ignored
            elif self._state == _PAYLOAD:
                if b == ord("#"):
                    self._state = _CHECKSUM
                    self._digits.clear()
                elif len(self._payload) < MAX_PACKET:
                    self._payload.append(b)
                else:
                    self._too_long = True
            else:
                self._digits.append(b)
                if len(self._digits) == 2:
                    self._state = _IDLE
                    events.append(self._finish())
        return events

    def _finish(self) -> tuple[Event, bytes]:
        payload = bytes(self._payload)
        try:
            good = int(self._digits, 16) == checksum(payload) and not self._too_long
        except ValueError:
            good = False
        return (Event.PACKET, payload) if good else (Event.BAD, b"")


_IDLE, _PAYLOAD, _CHECKSUM = 0, 1, 2
