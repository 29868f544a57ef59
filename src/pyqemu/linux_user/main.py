"""``pyqemu-riscv64``: run a riscv64 Linux program on this host (QEMU linux-user/main.c).

Command line as qemu-user's: ``pyqemu-riscv64 [options] program [arguments...]`` with the same options
and QEMU_* environment variables.
"""

from __future__ import annotations

import os
import sys
import threading

from .. import QEMU_VERSION, __version__
from ..accel.tcg.log import LogError, help_text
from .elfload import LoadError
from .process import EXEC_STATE_VAR, Options, Process

USAGE = """usage: {prog} [options] program [arguments...]
Linux CPU emulator (compiled for {arch} emulation)

Options and associated environment variables:

Argument             Env-variable      Description
-h                                     print this help
-help
-L path              QEMU_LD_PREFIX    set the elf interpreter prefix to 'path'
-s size              QEMU_STACK_SIZE   set the stack size to 'size' bytes
-cpu model           QEMU_CPU          select CPU (-cpu help for list)
-E var=value         QEMU_SET_ENV      sets targets environment variable (see below)
-U var               QEMU_UNSET_ENV    unsets targets environment variable (see below)
-0 argv0             QEMU_ARGV0        forces target process argv[0] to be 'argv0'
-d item[,...]        QEMU_LOG          enable logging of specified items (use '-d help' for a list of items)
-D logfile           QEMU_LOG_FILENAME write logs to 'logfile' (default stderr)
-strace              QEMU_STRACE       log system calls
-version             QEMU_VERSION      display version information and exit

Defaults:
QEMU_LD_PREFIX  = {prefix}
QEMU_STACK_SIZE = 8388608 byte

You can use -E and -U options or the QEMU_SET_ENV and
QEMU_UNSET_ENV environment variables to set and unset
environment variables for the target process.
"""

# option -> (takes an argument, environment variable)
OPTIONS = {
    "h": (False, None), "help": (False, None), "L": (True, "QEMU_LD_PREFIX"),
    "s": (True, "QEMU_STACK_SIZE"), "cpu": (True, "QEMU_CPU"), "E": (True, "QEMU_SET_ENV"),
    "U": (True, "QEMU_UNSET_ENV"), "0": (True, "QEMU_ARGV0"), "d": (True, "QEMU_LOG"),
    "D": (True, "QEMU_LOG_FILENAME"), "strace": (False, "QEMU_STRACE"), "version": (False, "QEMU_VERSION"),
}
CPU_MODELS = ("rv64", "max", "any")


def _die(prog: str, msg: str) -> int:
    print(f"{prog}: {msg}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None, arch_name: str = "riscv64") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = f"pyqemu-{arch_name}"
    default_prefix = "/etc/qemu-binfmt/" + arch_name
    opts: dict[str, list[str]] = {}
    for name, (_has_arg, env) in OPTIONS.items():
        if env and env in os.environ and name not in ("E", "U", "version"):
            opts.setdefault(name, []).append(os.environ[env] if _has_arg else "")
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        raw = argv[i]
        i += 1
        if raw == "--":
            break
        name = raw.lstrip("-")
        if name not in OPTIONS:
            return _die(prog, f"unknown option '{name}'")
        has_arg, _env = OPTIONS[name]
        value = ""
        if has_arg:
            if i >= len(argv):
                return _die(prog, f"option '{name}' needs an argument")
            value = argv[i]
            i += 1
        opts.setdefault(name, []).append(value)
    if "h" in opts or "help" in opts:
        print(USAGE.format(prog=prog, arch=arch_name, prefix=opts.get("L", [default_prefix])[-1]))
        return 0
    if "version" in opts:
        print(f"{prog} version {QEMU_VERSION} (pyqemu {__version__})")
        return 0
    if "cpu" in opts and opts["cpu"][-1] not in CPU_MODELS:
        if opts["cpu"][-1] == "help":
            print("\n".join(f"  {m}" for m in CPU_MODELS))
            return 0
        return _die(prog, f"unable to find CPU model '{opts['cpu'][-1]}'")
    if "d" in opts and "help" in opts["d"][-1].split(","):
        print("Log items (comma separated):\n" + help_text())
        return 0
    if i >= len(argv):
        print(USAGE.format(prog=prog, arch=arch_name, prefix=default_prefix), file=sys.stderr)
        return 1
    program = argv[i]
    guest_args = argv[i + 1:]
    extra: list[str] = []
    for key in ("L", "d", "D"):
        for v in opts.get(key, []):
            extra += [f"-{key}", v]
    if "strace" in opts:
        extra.append("-strace")
    options = Options(sysroot=opts.get("L", [None])[-1], strace="strace" in opts,
                      log_items=opts.get("d", [""])[-1], log_file=opts.get("D", [None])[-1], extra_argv=extra)
    env = dict(os.environ)
    ignored = blocked = 0
    state = env.pop(EXEC_STATE_VAR, "")
    if state:
        ignored, blocked = (int(x, 16) for x in state.split(":"))
    options.ignored_signals, options.blocked_signals = ignored, blocked
    for e in opts.get("E", []):
        k, _, v = e.partition("=")
        env[k] = v
    for u in opts.get("U", []):
        env.pop(u, None)
    envp = [f"{k}={v}" for k, v in env.items()]
    guest_argv = [opts["0"][-1] if "0" in opts else program, *guest_args]

    from . import riscv64

    try:
        proc = Process(riscv64, options)
    except LogError as e:
        print(str(e), file=sys.stderr)
        return 1
    except OSError as e:
        return _die(prog, f"{e.filename or ''}: {e.strerror}" if e.filename else str(e))
    if not os.path.exists(program):
        return _die(prog, f"Error while loading {program}: No such file or directory")
    try:
        th = proc.load(program, guest_argv, envp)
    except LoadError as e:
        return _die(prog, str(e))
    threading.stack_size(64 << 20)
    sys.setrecursionlimit(10000)
    status = proc.run(th)
    proc.flush()
    return status


def main_riscv64() -> int:
    return main(arch_name="riscv64")


if __name__ == "__main__":
    sys.exit(main_riscv64())
