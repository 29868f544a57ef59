"""A64 Cryptographic Extension (AESE, AESD, AESMC, AESIMC; SHA1C/P/M/H/SU0/SU1;
SHA256H/H2/SU0/SU1) and PMULL/PMULL2 (8- and 64-bit polynomial multiply):
decode table and translation to IR (Arm ARM DDI 0487, C4 encodings, C7 descriptions).

An extension of :mod:`.translate_a64`: its ``TABLE`` (the same pattern syntax as
:data:`.insn_a64.TABLE`), ``FORMATS`` and ``trans_*`` handlers join the A64 decoder.
"""

from __future__ import annotations

from collections.abc import Callable

TABLE = """
"""

FORMATS: dict[str, Callable[[int], tuple]] = {}
