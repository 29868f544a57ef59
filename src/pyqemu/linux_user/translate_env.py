"""What a target's translator sees of a user-mode process (the user-mode side of QEMU's translator
environment): instruction fetch from the guest address space, the memory helpers, and the debugger's
breakpoints; plus the pieces every target module wires the same way (block translation for the TB
cache, the signal-return trampoline page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..accel.tcg.backend_python import GuestFault
from ..accel.tcg.cpu_exec import GuestFetchFault
from ..accel.tcg.ir import Block
from .memory import PROT_EXEC, PROT_READ

if TYPE_CHECKING:
    from .process import Process


class UserTranslateEnv:
    """The translator's view of ``proc``; targets subclass it with their translation-time constants."""

    __slots__ = ("space", "_helpers", "breakpoints")

    def __init__(self, proc: Process, breakpoints: frozenset[int]):
        self.space = proc.space
        self._helpers = proc.helpers
        self.breakpoints = breakpoints

    def fetch16(self, pc: int) -> int:
        return self.space.fetch16(pc)

    def fetch32(self, pc: int) -> int:
        return self.space.fetch32(pc)

    def helpers(self) -> dict:
        return self._helpers


def block_translator(env_class: type[UserTranslateEnv], gen_block: Callable[..., Block]
                     ) -> Callable[[Process, int, bool], Block]:
    """The ``gen_block(proc, pc, single_step)`` a target module offers the TB cache: ``single_step``
    translates the one instruction at ``pc`` without the debugger's breakpoint checks; a fetch fault
    becomes :class:`GuestFetchFault`."""

    def translate(proc: Process, pc: int, single_step: bool = False) -> Block:
        try:
            if single_step:
                return gen_block(env_class(proc, frozenset()), pc, 1)
            return gen_block(env_class(proc, proc.breakpoints), pc)
        except GuestFault as f:
            raise GuestFetchFault(f.code, f.tval) from None

    return translate


def map_sigtramp(space: Any, code: bytes) -> int:
    """Map a signal-return trampoline (a page of its own, like the kernel's vDSO) holding ``code``."""
    addr = space.find_free(4096)
    space.map(addr, 4096, PROT_READ | PROT_EXEC, name="[vdso]")
    space.write(addr, code)
    return addr
