"""The interface between a NIC model and a network backend (the device side of QEMU's net/net.c
NetClientState / NICState), and MAC address handling for the ``mac`` property.

Frames cross it as whole Ethernet frames without the frame check sequence, as QEMU passes them:

* a backend (user, socket, tap, hub port...) is a :class:`NetPeer`: the NIC calls ``send(frame)`` for each
  frame the guest transmits;
* a NIC model is a :class:`NetClient`: the backend asks ``can_receive()`` before delivering, calls
  ``receive(frame)`` (True: the NIC consumed it, delivered or filtered out; False: it had no room and
  the backend should keep the frame queued), and ``set_link(up)`` when the cable is (un)plugged
  (``set_link`` in the monitor).  A NIC tells its port's ``rx_ready`` listeners when the guest has
  given it buffers again, so a backend can flush what it queued.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

__all__ = ["NetClient", "NetPeer", "NicPort", "default_mac", "format_mac", "parse_mac"]


class NetPeer(Protocol):
    """A network backend as a NIC sees it."""

    def send(self, frame: bytes) -> None: ...


class NetClient(Protocol):
    """What a NIC model offers the backend it is connected to."""

    def can_receive(self) -> bool: ...
    def receive(self, frame: bytes) -> bool: ...
    def set_link(self, up: bool) -> None: ...


class NicPort:
    """The backend side a NIC model holds: its peer (None: frames go nowhere) and the listeners told
    when the NIC can receive again."""

    def __init__(self) -> None:
        self.peer: NetPeer | None = None
        self.rx_ready: list[Callable[[], None]] = []

    def transmit(self, frame: bytes) -> None:
        if self.peer is not None:
            self.peer.send(frame)

    def notify_rx_ready(self) -> None:
        for listener in self.rx_ready:
            listener()


_MAC_RE = re.compile(r"[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}")
#: the first address QEMU hands out to NICs without ``mac=`` (the last byte counts up per NIC)
_DEFAULT_MAC = bytes.fromhex("525400123456")
_default_macs_given = 0


def parse_mac(text: str) -> bytes | None:
    """Six bytes from "xx:xx:xx:xx:xx:xx" (':' or '-' between two-digit hex bytes), None if malformed."""
    if not _MAC_RE.fullmatch(text):
        return None
    return bytes(int(text[i:i + 2], 16) for i in range(0, 17, 3))


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def default_mac() -> bytes:
    """The next automatic address: 52:54:00:12:34:56, then ...:57 and so on, one per NIC."""
    global _default_macs_given
    mac = bytearray(_DEFAULT_MAC)
    mac[5] = (mac[5] + _default_macs_given) & 0xFF
    _default_macs_given += 1
    return bytes(mac)
