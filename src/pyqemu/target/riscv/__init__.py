"""RISC-V (RV64GC + Zba/Zbb/Zbs) guest: CPU state, decoders, translator to IR, helpers."""
