"""IR optimizer: constant folding and propagation, copy propagation, branch folding and dead-code
elimination over one translation block (the spirit of QEMU's tcg/optimize.c).

Guest-register writes are never removed or moved, so the guest state at any op that can fault is
exactly the state after the previous guest instruction (precise exceptions).
"""

from __future__ import annotations

from .ir import FOLD, PURE_OPS, Block, Helper, eval_cond, is_global, is_temp

# ops whose operands (after the name) are: destination first, then sources
_DEST_FIRST = PURE_OPS | {"ld"}

_IDENTITY_RIGHT = {"add": 0, "sub": 0, "or": 0, "xor": 0, "shl": 0, "shr": 0, "sar": 0,
                   "rotl": 0, "rotr": 0, "mul": 1, "divu": 1}


def _sources(op: tuple) -> list:
    name = op[0]
    if name in _DEST_FIRST:
        if name == "ld":
            return [op[2]]
        if name == "setcond":
            return [op[2], op[3]]
        if name == "movcond":
            return [op[2], op[3], op[5], op[6]]
        return list(op[2:])
    if name == "st":
        return [op[1], op[2]]
    if name == "call":
        return list(op[3:])
    if name == "brcond":
        return [op[1], op[2]]
    if name in ("exit", "exit_loop"):
        return [op[1]]
    return []


def _replace_sources(op: tuple, fn) -> tuple:
    name = op[0]
    if name == "ld":
        return (name, op[1], fn(op[2]), op[3])
    if name == "setcond":
        return (name, op[1], fn(op[2]), fn(op[3]), op[4])
    if name == "movcond":
        return (name, op[1], fn(op[2]), fn(op[3]), op[4], fn(op[5]), fn(op[6]))
    if name in PURE_OPS:
        return (name, op[1], *[fn(v) for v in op[2:]])
    if name == "st":
        return (name, fn(op[1]), fn(op[2]), op[3])
    if name == "call":
        return (name, op[1], op[2], *[fn(v) for v in op[3:]])
    if name == "brcond":
        return (name, fn(op[1]), fn(op[2]), op[3], op[4])
    if name in ("exit", "exit_loop"):
        return (name, fn(op[1]))
    return op


def _dest(op: tuple):
    name = op[0]
    if name in _DEST_FIRST or name == "call":
        return op[1]
    return None


def fold(block: Block) -> None:
    """Forward pass: propagate constants and copies, fold pure ops and constant branches."""
    known: dict[str, int] = {}  # name -> constant value
    copies: dict[str, str] = {}  # temp -> the name it copies
    out: list[tuple] = []
    dead = False  # after an unconditional br or an exit: skip ops until the next label

    def value(v):
        if isinstance(v, str):
            if v in known:
                return known[v]
            return copies.get(v, v)
        return v

    def kill(name: str) -> None:
        known.pop(name, None)
        copies.pop(name, None)
        for t in [t for t, s in copies.items() if s == name]:
            del copies[t]

    for op in block.ops:
        name = op[0]
        if dead:
            if name != "set_label":
                continue
            dead = False
        if name == "insn_start":  # (a third of all ops: the quick way)
            out.append(op)
            continue
        if name == "set_label":
            # values may differ on the paths that meet here
            known.clear()
            copies.clear()
            out.append(op)
            continue
        op = _replace_sources(op, value)
        name = op[0]
        if name in PURE_OPS:
            d = op[1]
            srcs = op[2:]
            if name == "setcond":
                a, b, c = srcs
                if isinstance(a, int) and isinstance(b, int):
                    op = ("mov", d, int(eval_cond(c, a, b)))
            elif name == "movcond":
                a, b, c, v, w = srcs
                if isinstance(a, int) and isinstance(b, int):
                    op = ("mov", d, v if eval_cond(c, a, b) else w)
            elif all(isinstance(s, int) for s in srcs):
                op = ("mov", d, FOLD[name](*srcs))
            elif name in _IDENTITY_RIGHT and srcs[1] == _IDENTITY_RIGHT[name]:
                op = ("mov", d, srcs[0])
            elif name in ("and", "mul") and 0 in srcs:
                op = ("mov", d, 0)
            kill(d)
            if op[0] == "mov":
                src = op[2]
                if isinstance(src, int):
                    known[d] = src
                elif is_temp(d) and src != d:
                    copies[d] = src
            out.append(op)
            continue
        if name == "brcond":
            a, b, c, lab = op[1:]
            if isinstance(a, int) and isinstance(b, int):
                if eval_cond(c, a, b):
                    out.append(("br", lab))
                    dead = True
                continue
            out.append(op)
            continue
        if name == "br":
            out.append(op)
            dead = True
            continue
        d = _dest(op)
        if d is not None:
            kill(d)
        if name == "call":
            helper: Helper = op[2]
            if "*" in helper.writes:
                for g in [g for g in known if is_global(g)]:
                    kill(g)
                for t in [t for t, s in copies.items() if is_global(s)]:
                    del copies[t]
            else:
                for g in helper.writes:
                    kill(g)
            if helper.accumulate:
                kill(helper.accumulate)
        out.append(op)
        if name in ("exit", "exit_loop", "exit_exc"):
            # nothing after an exit is reachable until the next label
            dead = True
    block.ops = out


def eliminate_dead_code(block: Block) -> None:
    """Backward pass: delete pure ops (and pure helper calls) whose temp result is never used."""
    live: set[str] = set()
    out: list[tuple] = []
    for op in reversed(block.ops):
        name = op[0]
        if name == "insn_start":
            out.append(op)
            continue
        d = _dest(op)
        removable = name in PURE_OPS or (name == "call" and op[2].pure)
        if d is not None and is_temp(d) and d not in live and removable:
            continue
        if name == "mov" and op[1] == op[2]:
            continue
        if d is not None:
            live.discard(d)
        for s in _sources(op):
            if isinstance(s, str):
                live.add(s)
        out.append(op)
    out.reverse()
    block.ops = out


def eliminate_dead_global_writes(block: Block) -> bool:
    """Drop pure writes to a global that is written again before anything could observe it; True if
    any went.

    Observers: any op that may fault or leave the block (ld, st, call, exits) and control flow, since
    the guest state must be exact there.
    """
    overwritten: set[str] = set()
    out: list[tuple] = []
    for op in reversed(block.ops):
        name = op[0]
        if name in PURE_OPS:
            d = op[1]
            if is_global(d) and d in overwritten:
                continue
            if is_global(d):
                overwritten.add(d)
            for s in _sources(op):
                if isinstance(s, str):
                    overwritten.discard(s)
        elif name != "insn_start":
            overwritten.clear()
        out.append(op)
    out.reverse()
    changed = len(out) != len(block.ops)
    block.ops = out
    return changed


def merge_moves(block: Block) -> None:
    """Rewrite ``op t, ...; mov g, t`` into ``op g, ...`` when t has no other use."""
    uses: dict[str, int] = {}
    for op in block.ops:
        for s in _sources(op):
            if is_temp(s):
                uses[s] = uses.get(s, 0) + 1
    out: list[tuple] = []
    for op in block.ops:
        if (op[0] == "mov" and is_temp(op[2]) and uses.get(op[2]) == 1 and out
                and out[-1][0] in PURE_OPS and out[-1][1] == op[2]):
            prev = out.pop()
            out.append((prev[0], op[1], *prev[2:]))
            continue
        out.append(op)
    block.ops = out


def remove_unused_labels(block: Block) -> bool:
    """Drop labels no branch targets any more (after branch folding).  True if any went."""
    used = {op[1] for op in block.ops if op[0] == "br"} | {op[4] for op in block.ops if op[0] == "brcond"}
    ops = [op for op in block.ops if op[0] != "set_label" or op[1] in used]
    changed = len(ops) != len(block.ops)
    block.ops = ops
    return changed


def optimize(block: Block) -> None:
    """Run all passes over a block."""
    fold(block)
    if remove_unused_labels(block):
        fold(block)  # code after an unconditional jump now runs on to the next live label: dead
    eliminate_dead_code(block)
    if eliminate_dead_global_writes(block):
        eliminate_dead_code(block)  # the sources of the writes that went may be dead now
    merge_moves(block)
    block.optimized = True
