"""A64 Advanced SIMD (C3.6 "Advanced SIMD": copy/insert/extract, modified immediate, three same,
three different, two-register miscellaneous, across lanes, shift by immediate, permute, extract, table
lookup, and the load/store multiple and single structure forms LD1-LD4/ST1-ST4/LD1R-LD4R):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.
"""

from __future__ import annotations

from collections.abc import Callable

TABLE = """
"""

FORMATS: dict[str, Callable[[int], tuple]] = {}
