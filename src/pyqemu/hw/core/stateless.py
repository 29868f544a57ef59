"""Devices with no state of their own (QEMU's devices without a VMStateDescription, such as its test
finishers): nothing to reset, nothing for migration to save or load."""

from __future__ import annotations


class Stateless:
    """Mixed into such a device: the reset and vmstate hooks every device offers, doing nothing."""

    def reset(self) -> None:
        pass

    def vmstate(self) -> dict:
        return {}

    def load_vmstate(self, state: dict) -> None:
        pass
