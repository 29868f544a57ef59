"""TCG backends: what turns IR blocks into something that runs.

``python`` (:mod:`pyqemu.accel.tcg.backend_python`, IR -> Python source, portable: the reference) and
``x86_64`` (:mod:`.x86_64`, IR -> host machine code on x86-64 hosts).  ``-accel tcg,backend=NAME``
selects one.  Without it the ``PYQEMU_TCG_BACKEND`` environment variable names the default (how CI runs
the suite on each backend), else it is ``x86_64`` where the host can run it and ``python`` elsewhere.
"""

from __future__ import annotations

import os
from typing import Any

NAMES = ("python", "x86_64")
ENV_DEFAULT = "PYQEMU_TCG_BACKEND"


class BackendError(ValueError):
    pass


def parse_tb_size(value: str) -> int:
    """The value of ``-accel tcg,tb-size=`` (MiB), or BackendError with QEMU's kind of message."""
    try:
        size = int(value, 0)
    except ValueError:
        size = -1
    if not 0 <= size < 1 << 32:
        raise BackendError("Parameter 'tb-size' expects uint32_t")
    return size


def default_name() -> str:
    from .x86_64 import host_supported

    return os.environ.get(ENV_DEFAULT) or ("x86_64" if host_supported() is None else "python")


def check(name: str) -> None:
    """Raise :class:`BackendError` (a QEMU-style message) if backend ``name`` can't run here."""
    if name not in NAMES:
        raise BackendError(f"Parameter 'backend' does not accept value '{name}' (python, x86_64)")
    if name == "x86_64":
        from .x86_64 import host_supported

        why = host_supported()
        if why is not None:
            raise BackendError(f"backend x86_64 is not available: {why}")


def available() -> list[str]:
    """The backends this host can run."""
    out = []
    for name in NAMES:
        try:
            check(name)
        except BackendError:
            continue
        out.append(name)
    return out


def make(name: str, slots: dict[str, int], memory: Any, *, icount_slot: int, budget: int,
         tb_size: int = 0) -> Any:
    """The backend ``name`` compiling blocks over the state slots ``slots`` and ``memory``;
    ``tb_size``: the size of a native code cache in MiB (QEMU's tb-size; 0: the default)."""
    check(name)
    if name == "x86_64":
        from .x86_64.backend import NativeBackend

        size = {"cache_size": tb_size << 20} if tb_size else {}
        return NativeBackend(slots, memory, icount_slot=icount_slot, budget=budget, **size)
    from ..backend_python import PythonBackend

    return PythonBackend(slots, memory, icount_slot=icount_slot, budget=budget)
