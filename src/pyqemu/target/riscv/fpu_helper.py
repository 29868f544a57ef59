"""Soft-float helpers called by translated F/D code: adapters from RISC-V register values to
:mod:`pyqemu.fpu.softfloat` (which works on raw IEEE bit patterns and returns ``(bits, flags)``)."""

from __future__ import annotations

import importlib


def __getattr__(name: str):
    return getattr(importlib.import_module("pyqemu.fpu.softfloat"), name)
