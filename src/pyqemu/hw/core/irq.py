"""Interrupt lines between devices (QEMU hw/core/irq.c): a line calls its sink with a level."""

from __future__ import annotations

from collections.abc import Callable


class IRQ:
    """One input line of a sink: ``set(level)`` calls ``handler(n, level)``."""

    __slots__ = ("handler", "n", "level")

    def __init__(self, handler: Callable[[int, int], None], n: int = 0):
        self.handler = handler
        self.n = n
        self.level = 0

    def set(self, level: int) -> None:
        self.level = level
        self.handler(self.n, level)

    def raise_(self) -> None:
        self.set(1)

    def lower(self) -> None:
        self.set(0)

    def pulse(self) -> None:
        self.set(1)
        self.set(0)


def allocate_irqs(handler: Callable[[int, int], None], count: int) -> list[IRQ]:
    """``count`` input lines numbered 0..count-1, all feeding ``handler``."""
    return [IRQ(handler, n) for n in range(count)]
