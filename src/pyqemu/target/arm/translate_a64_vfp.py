"""A64 Advanced SIMD floating point (the vector and scalar-SIMD forms of FP arithmetic, compares,
conversions, rounding and reductions):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.
"""

from __future__ import annotations

from collections.abc import Callable

TABLE = """
"""

FORMATS: dict[str, Callable[[int], tuple]] = {}
