"""A64 scalar floating point (C3.6 "Floating-point" groups: FMOV, arithmetic, the FMADD family,
compares, conditional select and compare, conversions between FP and integer and between precisions,
rounding) with FPCR rounding modes and FPSR exception flags:
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.
"""

from __future__ import annotations

from collections.abc import Callable

TABLE = """
"""

FORMATS: dict[str, Callable[[int], tuple]] = {}
