"""The x86-64 host backend: an instruction encoder (:mod:`.asm`) for generating host code from IR."""
