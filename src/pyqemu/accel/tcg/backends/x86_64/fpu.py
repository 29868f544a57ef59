"""Floating-point helpers inlined as host SSE code (none yet: every helper is a call)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir import Helper


def intrinsic(h: Helper) -> Callable[[Any, tuple], bool] | None:
    """The inline emitter for calls of ``h``, if there is one.  It returns False to fall back to a
    plain call for an operand combination it does not handle."""
    return None
