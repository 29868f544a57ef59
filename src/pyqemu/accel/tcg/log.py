"""QEMU-style ``-d item[,item...]`` logging (``-D file`` redirects it), as in QEMU's util/log.c."""

from __future__ import annotations

import sys
from typing import TextIO

LOG_ITEMS = {
    "out_asm": "show generated host assembly code for each compiled TB (here: generated Python)",
    "in_asm": "show target assembly code for each compiled TB",
    "op": "show micro ops for each compiled TB",
    "op_opt": "show micro ops after optimization",
    "int": "show interrupts/exceptions in short format",
    "exec": "show trace before each executed TB (lots of logs)",
    "cpu": "show CPU registers before entering a TB (lots of logs)",
    "unimp": "log unimplemented functionality",
    "guest_errors": "log when the guest OS does something invalid (eg accessing a non-existent register)",
    "page": "dump pages at beginning of user mode emulation",
    "strace": "log every user-mode syscall, its input, and its result",
}

#: the items logged for each translation block
PER_BLOCK = frozenset({"out_asm", "in_asm", "op", "op_opt", "exec", "cpu"})


class LogError(ValueError):
    pass


class Log:
    """The set of enabled log items and the stream they go to."""

    def __init__(self, items: str = "", filename: str | None = None):
        self.items: set[str] = set()
        self.stream: TextIO = sys.stderr
        if items:
            self.set_items(items)
        if filename:
            self.stream = open(filename, "w", buffering=1)  # noqa: SIM115 - lives as long as the log

    def set_items(self, spec: str) -> None:
        for item in spec.split(","):
            item = item.strip()
            if item == "all":
                self.items |= set(LOG_ITEMS)
            elif item in LOG_ITEMS:
                self.items.add(item)
            elif item:
                raise LogError(f"Log items (comma separated):\n{help_text()}")

    def enabled(self, item: str) -> bool:
        return item in self.items

    def per_block(self) -> bool:
        """Whether something is logged for each translation block (so all code must run as blocks)."""
        return bool(self.items & PER_BLOCK)

    def write(self, text: str) -> None:
        self.stream.write(text)


def help_text() -> str:
    return "\n".join(f"{k:<12} {v}" for k, v in LOG_ITEMS.items())
