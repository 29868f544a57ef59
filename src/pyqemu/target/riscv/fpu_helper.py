"""Soft-float helpers called by translated F/D code: the functions of :mod:`pyqemu.fpu.softfloat`
(raw IEEE bits in, ``(bits, flags)`` out), plus the dynamic rounding-mode check."""

from __future__ import annotations

import functools
from collections.abc import Callable

from ...accel.tcg.backend_python import GuestFault
from ...fpu import softfloat
from .cpu import EXCP_ILLEGAL_INST


def __getattr__(name: str):
    return getattr(softfloat, name)


def with_dynamic_rm(fn: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
    """Wrap ``fn(*args, rm)``: an ``frm`` value above 4 (reserved) raises illegal instruction."""

    @functools.wraps(fn)
    def checked(*args: int) -> tuple[int, int]:
        if args[-1] > 4:
            raise GuestFault(EXCP_ILLEGAL_INST, 0)
        return fn(*args)

    return checked
