"""Accelerators: the TCG-style translation engine (tcg) and, later, KVM."""
