"""``-strace``: guest system calls printed the way qemu-user prints them (QEMU linux-user/strace.c):
``PID name(args) = result``, with paths quoted, well-known flag words spelled out, errors as
``-1 errno=N (text)`` and addresses returned by the memory calls in hex."""

from __future__ import annotations

import os
from collections.abc import Callable

from .syscall_nr import ARG_KINDS

AT_FDCWD = -100
_OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
               (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o40000, "O_DIRECT"),
               (0o100000, "O_LARGEFILE"), (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"),
               (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"), (0o4010000, "O_SYNC"),
               (0o10000000, "O_PATH")]
_PROT = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")]
_MAP = [(0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x100, "MAP_GROWSDOWN"), (0x800, "MAP_DENYWRITE"),
        (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
        (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"),
        (0x40000, "MAP_HUGETLB"), (0x100000, "MAP_FIXED_NOREPLACE")]
_MAP_TYPE = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}
#: calls whose result is an address
_ADDRESS_RESULT = {"mmap", "mremap", "brk"}
#: argument positions holding a directory fd of the *at calls
_DIRFD_CALLS = {"openat", "mkdirat", "unlinkat", "mknodat", "newfstatat", "readlinkat", "faccessat",
                "faccessat2", "fchmodat", "fchownat", "utimensat", "statx", "renameat", "renameat2",
                "linkat", "symlinkat"}


def _s64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _flags(value: int, table: list[tuple[int, str]], base: str | None = None) -> str:
    words = [base] if base else []
    rest = value
    for bit, word in table:
        if value & bit == bit:
            words.append(word)
            rest &= ~bit
    if rest:
        words.append(hex(rest))
    return "|".join(words) if words else "0"


def _open_flags(v: int) -> str:
    return _flags(v & ~3, _OPEN_FLAGS, ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[v & 3])


def _prot(v: int) -> str:
    return _flags(v, _PROT) if v else "PROT_NONE"


def _map_flags(v: int) -> str:
    return _flags(v & ~3, _MAP, _MAP_TYPE.get(v & 3, hex(v & 3)))


#: per call, the argument index -> formatter for the arguments qemu prints symbolically
_SYMBOLIC: dict[str, dict[int, Callable[[int], str]]] = {
    "openat": {2: _open_flags, 3: lambda mode: f"{mode:#o}"},
    "mmap": {2: _prot, 3: _map_flags},
    "mprotect": {2: _prot},
}


def format_call(pid: int, nr: int, name: str | None, args: list[int],
                read_cstring: Callable[[int], bytes]) -> str:
    """The part of the line before the result."""
    if name is None:
        return f"{pid} Unknown syscall {nr}"
    parts = []
    symbolic = _SYMBOLIC.get(name, {})
    if name == "openat" and not args[2] & 0o20100100:  # the mode only matters with O_CREAT/O_TMPFILE
        args = args[:3]
    for i, (kind, a) in enumerate(zip(ARG_KINDS.get(name, ""), args, strict=False)):
        if i in symbolic:
            parts.append(symbolic[i](a))
        elif i in (0, 2) and name in _DIRFD_CALLS and kind == "i" and a & 0xFFFFFFFF == AT_FDCWD & 0xFFFFFFFF:
            parts.append("AT_FDCWD")
        elif kind == "s" and a:
            try:
                parts.append('"' + os.fsdecode(read_cstring(a)) + '"')
            except Exception:  # noqa: BLE001 - an unreadable path is shown as its address
                parts.append(hex(a))
        elif kind in ("p", "s"):
            parts.append(f"{a:#x}" if a else "NULL")
        else:
            parts.append(str(_s64(a)))
    text = f"{pid} {name}({','.join(parts)})"
    if name in ("exit", "exit_group"):
        text += "\n"  # these never return
    return text


def format_result(name: str | None, ret: int) -> str:
    ret = _s64(ret)
    if -4096 < ret < 0:
        return f" = -1 errno={-ret} ({os.strerror(-ret)})\n"
    if name in _ADDRESS_RESULT:
        return f" = {ret:#x}\n"
    return f" = {ret}\n"
