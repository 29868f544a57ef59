"""Helpers shared by the guest targets' differential tests against Unicorn (``tests/target/*/``):
assembling test programs with the target's binutils into one image, and running every program on
both emulators (pyqemu several times, so that its IR interpreter runs the code first and its compiled
regions later) and comparing the final states.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

M = (1 << 64) - 1
#: register values that tend to find bugs (signs, carries, shift amounts, 32-bit edges)
EDGE = [0, 1, 2, M, M - 1, 1 << 63, (1 << 63) - 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF80000000,
        0x100000000, 31, 32, 63, 64, 0x8000, 0xFFFF]


class Program(Protocol):
    name: str
    lines: list[str]
    start: int
    end: int


def binutils(prefix: str) -> dict[str, str] | None:
    """Paths of ``as``, ``ld``, ``nm`` and ``objcopy`` for a cross ``prefix`` (None if any is missing)."""
    tools = {tool: shutil.which(prefix + tool) for tool in ("as", "ld", "nm", "objcopy")}
    return tools if all(tools.values()) else None  # type: ignore[return-value]


def assemble(source: str, tmp: Path, tools: dict[str, str], as_flags: Sequence[str],
             text_addr: int) -> tuple[bytes, dict[str, int]]:
    """Assemble and link ``source`` (entry ``_start``) with .text at ``text_addr``: (the .text bytes,
    the symbols' addresses)."""
    (tmp / "t.S").write_text(source + "\n")

    def run(*cmd: object) -> str:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd[0]} failed:\n{r.stderr}"
        return r.stdout

    run(tools["as"], *as_flags, "-o", tmp / "t.o", tmp / "t.S")
    run(tools["ld"], f"-Ttext={text_addr:#x}", "-e", "_start", "-o", tmp / "t.elf", tmp / "t.o")
    run(tools["objcopy"], "-O", "binary", "-j", ".text", tmp / "t.elf", tmp / "t.bin")
    symbols = {}
    for line in run(tools["nm"], tmp / "t.elf").splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)
    return (tmp / "t.bin").read_bytes(), symbols


def link_programs(programs: Sequence[Program], tmp: Path, tools: dict[str, str], as_flags: Sequence[str],
                  text_addr: int, header: Sequence[str], tail: Callable[[Any], list[str]]) -> bytes:
    """Assemble all programs into one image: each is its lines between the labels ``<name>_start`` and
    ``<name>_end``, followed by ``tail(program)`` (the stopping instruction, alignment, data).  Fills in
    the programs' start and end addresses."""
    src = list(header)
    for p in programs:
        src += [f"{p.name}_start:", *(f"  {line}" if not line.endswith(":") else line for line in p.lines),
                f"{p.name}_end:", *tail(p)]
    image, symbols = assemble("\n".join(src), tmp, tools, as_flags, text_addr)
    for p in programs:
        p.start, p.end = symbols[f"{p.name}_start"], symbols[f"{p.name}_end"]
    return image


def compare_runs(programs: Sequence[Program], reference: Callable[[Any], Any],
                 run: Callable[[Any], tuple[tuple, Any]], stop: Callable[[Any], tuple],
                 diff: Callable[[Any, Any, Any], list[str]], runs: int, hot_threshold: int) -> None:
    """Run every program once on the reference and ``runs`` times on pyqemu; each pyqemu run must stop
    as ``stop(program)`` says (``run`` returns (how it stopped, final state)) and ``diff(program, got,
    want)`` must find no difference."""
    failures = []
    for p in programs:
        want = reference(p)
        for n in range(runs):
            stopped, got = run(p)
            bad = diff(p, got, want) if stopped == stop(p) else [f"stopped with {stopped}, not {stop(p)}"]
            if bad:
                failures.append(f"{p.name} (run {n + 1}, {'cold' if n + 1 < hot_threshold else 'hot'}): "
                                f"pyqemu != unicorn: {'; '.join(bad[:6])}\n    " + "\n    ".join(p.lines))
                break
    assert not failures, f"{len(failures)} of {len(programs)} programs differ:\n" + "\n".join(failures[:5])
