"""The target-independent part of translating one block (QEMU's accel/tcg/translator.c
``translator_loop``): fetch, stop at a debugger's breakpoint, mark instruction starts, and end the
block at a page boundary or after ``max_insns``.  The target supplies the fetch and the per-instruction
translation."""

from __future__ import annotations

from collections.abc import Callable, Collection

from .ir import Block

TARGET_PAGE_SIZE = 4096


def translator_loop(block: Block, max_insns: int, breakpoints: Collection[int],
                    fetch: Callable[[int], tuple[int, int]], translate: Callable[[int, int, int], bool],
                    debug: Callable[[int], None]) -> None:
    """Fill ``block`` with guest instructions from ``block.pc`` on.

    ``fetch(pc)`` returns (raw instruction, length) or raises the memory model's fault: a fault on the
    first instruction propagates to the caller, one on a later instruction ends the block before it
    (the fault is raised when that instruction is reached).  ``translate(pc, insn, length)`` emits the
    instruction's IR after its ``insn_start`` and returns True when it ended the block.  A breakpoint
    ends the block before its instruction; a block that starts at one is ``debug(pc)`` alone (it emits
    the target's debug exception).  The breakpoints are looked at here only: whoever changes them
    flushes the translations.
    """
    pc = block.pc
    page = pc // TARGET_PAGE_SIZE
    while True:
        if breakpoints and pc in breakpoints:
            if block.n_insns:
                block.emit("exit", pc)
            else:
                debug(pc)
            return
        try:
            insn, length = fetch(pc)
        except Exception:
            if block.n_insns == 0:
                raise
            block.emit("exit", pc)
            return
        block.emit("insn_start", pc)
        block.guest_insns.append((pc, insn))
        block.n_insns += 1
        ended = translate(pc, insn, length)
        block.size = pc + length - block.pc
        if ended:
            return
        pc += length
        if block.n_insns >= max_insns or pc // TARGET_PAGE_SIZE != page:
            block.emit("exit", pc)
            return
