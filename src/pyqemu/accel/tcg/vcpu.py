"""A vCPU as the engine sees it (the spirit of QEMU's CPUState): the guest state in one flat buffer of
64-bit slots with a target-defined layout (DESIGN.md) that translated code, helpers, the debugger and
migration all read, and the exception translated code left with."""

from __future__ import annotations

from typing import ClassVar


class VCPU:
    """Base of a target's CPU class, which sets the layout constants below."""

    NSLOTS: ClassVar[int]
    SLOT_PC: ClassVar[int]
    SLOT_ICOUNT: ClassVar[int]
    #: slot -> value a copy for a new thread starts with (e.g. no open exclusive reservation)
    CLONE_RESET: ClassVar[dict[int, int]] = {}
    #: how translated code reports a debugger's breakpoint (the target's EXCP_DEBUG)
    debug_code: ClassVar[int]

    def __init__(self) -> None:
        self.state = bytearray(self.NSLOTS * 8)
        self.R = memoryview(self.state).cast("Q")
        for slot, value in self.CLONE_RESET.items():
            self.R[slot] = value
        self.exception: tuple[int, int, int] | None = None

    @property
    def pc(self) -> int:
        return self.R[self.SLOT_PC]

    @pc.setter
    def pc(self, value: int) -> None:
        self.R[self.SLOT_PC] = value

    @property
    def icount(self) -> int:
        """Guest instructions executed."""
        return self.R[self.SLOT_ICOUNT]

    def copy_from(self, other: VCPU) -> None:
        """Clone register state (for new threads)."""
        self.state[:] = other.state
        for slot, value in self.CLONE_RESET.items():
            self.R[slot] = value
        self.R[self.SLOT_ICOUNT] = 0
