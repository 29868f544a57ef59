"""The x86-64 host backend: IR -> x86-64 machine code (:mod:`.backend`; encoder :mod:`.asm`, register
allocator :mod:`.regalloc`, instruction selection :mod:`.codegen`, inline FP :mod:`.fpu`, code cache
:mod:`.codebuf`, fault reports :mod:`.fault`, background compilation :mod:`.compile_worker`)."""

from __future__ import annotations

import functools
import platform


@functools.cache
def host_supported() -> str | None:
    """None if this host can run the backend's code, else why not."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the x86_64 backend needs an x86-64 host (this one is {platform.machine()})"
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    missing = [f for f in ("popcnt", "abm", "bmi1") if f not in flags]
    return f"host CPU lacks {', '.join(missing)}" if missing else None
