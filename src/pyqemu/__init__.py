"""pyqemu: a machine emulator and virtualizer written in Python, modelled on QEMU 2.1."""

__version__ = "0.1.0"
QEMU_VERSION = "2.1.0"
