"""How translated code reaches guest memory in user mode (QEMU accel/tcg/user-exec.c).

Fast path, inline in the generated Python: a bound check, one byte of the address space's read or
write page table, a check that a multi-byte access stays within that page, and a precompiled
``struct`` call on the flat mapping of the guest address space.
Anything else takes the slow path (:meth:`AddressSpace.ld` / :meth:`AddressSpace.st`): faults for
unmapped, protected or past-EOF pages, and stores into pages holding translated code, which drop the
stale translations and make the region leave after the store (self-modifying code).
"""

from __future__ import annotations

import ctypes
from typing import Any

from .backend_python import in_page, struct_accessors
from .ir import SIGN


class UserMemory:
    """The backend's MemoryModel for a user-mode address space."""

    def __init__(self, space: Any, tbc: Any):
        self.space = space  # linux_user.memory.AddressSpace
        self.tbc = tbc
        self._anchors: tuple[Any, Any] | None = None  # keep the page tables' exported buffers

    def namespace(self) -> dict[str, Any]:
        space = self.space
        ns: dict[str, Any] = {"mm": space.mm, "RP": space.rp, "WP": space.wp, "TOP": space.top}
        ns.update(struct_accessors())

        def lds(cpu: Any, addr: int, memop: int) -> int:
            return space.ld(addr, memop)

        def sts(cpu: Any, addr: int, value: int, memop: int) -> bool:
            return space.st(addr, value, memop)

        ns["LDS"] = lds
        ns["STS"] = sts
        return ns

    def native_layout(self) -> dict[str, Any]:
        """Host addresses a native backend's inline fast path uses: the flat mapping of the address
        space, its read and write page tables (one byte per page), and the number of pages below the
        top."""
        space = self.space
        if self._anchors is None:
            self._anchors = (ctypes.c_char.from_buffer(space.rp), ctypes.c_char.from_buffer(space.wp))
        rp, wp = self._anchors
        return {"kind": "user", "base": space.base, "rp": ctypes.addressof(rp), "wp": ctypes.addressof(wp),
                "npages": space.top >> 12}

    def entry_lines(self) -> list[str]:
        return []

    def load(self, dest: str, addr: str, memop: int) -> str:
        bits = 8 << (memop & 3)
        fast = f"S{bits}(mm, {addr})[0] & M" if memop & SIGN else f"U{bits}(mm, {addr})[0]"
        return (f"{dest} = {fast} if {addr} < TOP and RP[{addr} >> 12]{in_page(addr, memop)} "
                f"else LDS(cpu, {addr}, {memop})")

    def store(self, value: str, addr: str, memop: int) -> tuple[str, str, str]:
        """(fast-path condition, fast store, slow call that is true when translated code was hit)."""
        bits = 8 << (memop & 3)
        return (f"{addr} < TOP and WP[{addr} >> 12]{in_page(addr, memop)}",
                f"P{bits}(mm, {addr}, {value})", f"STS(cpu, {addr}, {value}, {memop})")
