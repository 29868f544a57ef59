"""Arm (AArch64) guest: instruction decoding for ``pyqemu-aarch64``."""
