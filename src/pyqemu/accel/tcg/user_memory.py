"""How translated code reaches guest memory in user mode (QEMU accel/tcg/user-exec.c).

Fast path, inline in the generated Python: one range check and a precompiled ``struct`` call on the
flat mapping of the guest address space.  Slow path (out-of-range address): a call that wraps the
address to 64 bits and faults.  Stores also compare the address against the range holding translated
code; a hit calls :meth:`UserMemory.smc`, which invalidates the stale translations (self-modifying
code) and makes the region leave after the store.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from .ir import MASK64, SIGN


class UserMemory:
    """The backend's MemoryModel for a user-mode address space."""

    def __init__(self, space: Any, tbcache_ref: Any):
        self.space = space  # linux_user.memory.AddressSpace
        self.tbc = tbcache_ref  # object with code_lo / code_hi / invalidate_range
        self.low = 0x10000
        self.high = space.size - 8
        self.atomic_lock = threading.Lock()

    def namespace(self) -> dict[str, Any]:
        ns: dict[str, Any] = {"mm": self.space.mm, "TBC": self.tbc}
        for size, (u, s) in enumerate((("B", "b"), ("H", "h"), ("I", "i"), ("Q", "q"))):
            bits = 8 << size
            ns[f"U{bits}"] = struct.Struct("<" + u).unpack_from
            ns[f"S{bits}"] = struct.Struct("<" + s).unpack_from
            ns[f"P{bits}"] = struct.Struct("<" + u).pack_into
        space = self.space

        def lds(cpu: Any, addr: int, memop: int) -> int:
            return space.ld(addr & MASK64, memop)

        def sts(cpu: Any, addr: int, value: int, memop: int) -> None:
            space.st(addr & MASK64, value, memop)

        ns["LDS"] = lds
        ns["STS"] = sts
        ns["SMC"] = self.smc
        return ns

    def entry_lines(self) -> list[str]:
        return ["CLO = TBC.code_lo", "CHI = TBC.code_hi", "CP = TBC.pages"]

    def load(self, dest: str, addr: str, memop: int) -> str:
        bits = 8 << (memop & 3)
        if memop & SIGN:
            fast = f"S{bits}(mm, {addr})[0] & M"
        else:
            fast = f"U{bits}(mm, {addr})[0]"
        return f"{dest} = {fast} if {self.low} <= {addr} < {self.high} else LDS(cpu, {addr}, {memop})"

    def store(self, value: str, addr: str, memop: int) -> str:
        bits = 8 << (memop & 3)
        return (f"P{bits}(mm, {addr}, {value}) if {self.low} <= {addr} < {self.high} "
                f"else STS(cpu, {addr}, {value}, {memop})")

    def smc_check(self, addr: str) -> str:
        return f"CLO <= {addr} < CHI and ({addr} >> 12) in CP and SMC(cpu, {addr})"

    def smc(self, cpu: Any, addr: int) -> bool:
        """A store hit the translated-code range: drop stale translations; True if any were."""
        return self.tbc.invalidate_range(addr & ~7, (addr & ~7) + 8)
