"""Block layer errors, carrying QEMU-style one-line messages (without the tool prefix)."""

from __future__ import annotations

import errno as _errno
import os


class BlockError(Exception):
    """An error reported to the user exactly as ``str(exc)``.

    ``errno`` is set when the failure maps onto a POSIX error (used for ``-errno`` style
    results and for the rerror/werror policy of the block backend).
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


def os_error_message(exc: OSError) -> str:
    """Return the strerror text QEMU would print for ``exc``."""
    code = exc.errno if exc.errno is not None else _errno.EIO
    return os.strerror(code)
