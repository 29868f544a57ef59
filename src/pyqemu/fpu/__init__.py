"""Floating-point unit support: bit-exact IEEE 754 binary32/binary64 arithmetic for the RISC-V F and D
extensions (see :mod:`pyqemu.fpu.softfloat`)."""
