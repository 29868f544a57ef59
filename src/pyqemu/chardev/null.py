"""The ``null`` character device backend (QEMU chardev/char-null.c): output vanishes, no input arrives.

``-serial null`` and ``-chardev null,id=ID`` give a frontend a backend to talk to without connecting it
to anything on the host.
"""

from __future__ import annotations

from pyqemu.chardev.base import Chardev


class ChardevNull(Chardev):
    """Discards everything the frontend writes and never delivers input."""

    def write(self, data: bytes) -> int:
        return len(data)
