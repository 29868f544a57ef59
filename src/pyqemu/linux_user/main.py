"""``pyqemu-riscv64`` and ``pyqemu-aarch64``: run a riscv64 or aarch64 Linux program on this host (QEMU
linux-user/main.c).

Command line as qemu-user's: ``pyqemu-ARCH [options] program [arguments...]`` with the same options and
QEMU_* environment variables.  The target's module (:mod:`.riscv64`, :mod:`.aarch64`) supplies the CPU,
translator, system call registers and signal frames.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading

from .. import QEMU_VERSION, __version__
from ..accel.tcg import backends
from ..accel.tcg.log import LogError, help_text
from .elfload import LoadError
from .process import EXEC_STATE_VAR, Options, Process

USAGE = """usage: {prog} [options] program [arguments...]
Linux CPU emulator (compiled for {arch} emulation)

Options and associated environment variables:

Argument             Env-variable      Description
-h                                     print this help
-help
-g port              QEMU_GDB          wait gdb connection to 'port'
-L path              QEMU_LD_PREFIX    set the elf interpreter prefix to 'path'
-s size              QEMU_STACK_SIZE   set the stack size to 'size' bytes
-cpu model           QEMU_CPU          select CPU (-cpu help for list)
-E var=value         QEMU_SET_ENV      sets targets environment variable (see below)
-U var               QEMU_UNSET_ENV    unsets targets environment variable (see below)
-0 argv0             QEMU_ARGV0        forces target process argv[0] to be 'argv0'
-d item[,...]        QEMU_LOG          enable logging of specified items (use '-d help' for a list of items)
-D logfile           QEMU_LOG_FILENAME write logs to 'logfile' (default stderr)
-strace              QEMU_STRACE       log system calls
-accel tcg[,backend=B][,tb-size=N]     TCG backend python or x86_64 (x86-64 hosts' default), cache MiB
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
    "D": (True, "QEMU_LOG_FILENAME"), "g": (True, "QEMU_GDB"), "strace": (False, "QEMU_STRACE"),
    "version": (False, "QEMU_VERSION"), "accel": (True, None),
}


def _die(prog: str, msg: str) -> int:
    print(f"{prog}: {msg}", file=sys.stderr)
    return 1


class UsageError(Exception):
    """A bad option value: qemu-user prints its usage and exits with status 1."""


class OptionError(Exception):
    """An unknown option or a missing argument: qemu-user prints one line and exits with status 1."""


def _accel_options(values: list[str]) -> tuple[str, int]:
    """The TCG backend and code cache size (MiB, 0: default) ``-accel tcg[,backend=NAME][,tb-size=N]``
    asks for."""
    backend = backends.default_name()
    tb_size = 0
    for value in values:
        accel, *props = value.split(",")
        if accel != "tcg":
            raise OptionError(f"invalid accelerator {accel}")
        for prop in props:
            key, _, val = prop.partition("=")
            if key == "backend":
                backend = val
            elif key == "tb-size":
                try:
                    tb_size = backends.parse_tb_size(val)
                except backends.BackendError as e:
                    raise OptionError(f"-accel {value}: {e}") from None
            else:
                raise OptionError(f"-accel {value}: Property 'tcg-accel.{key}' not found")
    try:
        backends.check(backend)
    except backends.BackendError as e:
        raise OptionError(f"-accel tcg,backend={backend}: {e}") from None
    return backend, tb_size


def parse_size(text: str) -> int:
    """A size with an optional k/M/G suffix (qemu-user's -s)."""
    units = {"k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30}
    mult = units.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in units else text
    if not digits.isdigit() or int(digits) == 0:
        raise UsageError(f"invalid stack size '{text}'")
    return int(digits) * mult


def _env_changes(sets: list[str], unsets: list[str]) -> tuple[dict[str, str], list[str]]:
    """-E var=value[,var=value] and -U var[,var] (also QEMU_SET_ENV / QEMU_UNSET_ENV)."""
    new: dict[str, str] = {}
    for item in (x for spec in sets for x in spec.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"invalid environment setting '{item}'")
        new[key] = value
    return new, [u for spec in unsets for u in spec.split(",") if u]


def parse_args(argv: list[str], environ: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """QEMU_* variables first, then options up to the program name."""
    opts: dict[str, list[str]] = {}
    for name, (has_arg, env) in OPTIONS.items():
        if env and env in environ and name != "version":
            opts.setdefault(name, []).append(environ[env] if has_arg else "")
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        raw = argv[i]
        i += 1
        if raw == "--":
            break
        name = raw.lstrip("-")
        if name not in OPTIONS:
            raise OptionError(f"unknown option '{name}'")
        has_arg, _env = OPTIONS[name]
        value = ""
        if has_arg:
            if i >= len(argv):
                raise OptionError(f"missing argument for option '{name}'")
            value = argv[i]
            i += 1
        opts.setdefault(name, []).append(value)
    return opts, argv[i:]


def main(argv: list[str] | None = None, arch_name: str = "riscv64") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = f"pyqemu-{arch_name}"
    default_prefix = "/etc/qemu-binfmt/" + arch_name
    arch = importlib.import_module(f".{arch_name}", __package__)
    env = dict(os.environ)
    exec_state = env.pop(EXEC_STATE_VAR, "")
    try:
        opts, rest = parse_args(argv, env)
        if "h" in opts or "help" in opts:
            print(USAGE.format(prog=prog, arch=arch_name, prefix=opts.get("L", [default_prefix])[-1]))
            return 0
        if "version" in opts:
            print(f"{prog} version {QEMU_VERSION} (pyqemu {__version__})")
            return 0
        if opts.get("accel", [""])[-1] in ("help", "?"):
            print("Accelerators supported in QEMU binary:\ntcg")
            return 0
        if "cpu" in opts and opts["cpu"][-1] not in arch.CPU_MODELS:
            if opts["cpu"][-1] == "help":
                print("\n".join(f"  {m}" for m in arch.CPU_MODELS))
                return 0
            return _die(prog, f"unable to find CPU model '{opts['cpu'][-1]}'")
        log_items = ",".join(opts.get("d", []))
        if "help" in log_items.split(","):
            print("Log items (comma separated):\n" + help_text())
            return 0
        stack_size = parse_size(opts["s"][-1]) if "s" in opts else None
        backend, tb_size = _accel_options(opts.get("accel", []))
        env_set, env_unset = _env_changes(opts.get("E", []), opts.get("U", []))
    except OptionError as e:
        return _die(prog, str(e))
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        print(USAGE.format(prog=prog, arch=arch_name, prefix=default_prefix), file=sys.stderr)
        return 1
    if not rest:
        return _die(prog, "no user program specified")
    program, guest_args = rest[0], rest[1:]
    strace = "strace" in opts or "strace" in log_items.split(",")
    extra: list[str] = []
    for key in ("L", "d", "D", "s", "accel"):
        for v in opts.get(key, []):
            extra += [f"-{key}", v]
    if strace:
        extra.append("-strace")
    options = Options(sysroot=opts.get("L", [None])[-1], strace=strace, log_items=log_items,
                      log_file=opts.get("D", [None])[-1], extra_argv=extra, stack_size=stack_size,
                      backend=backend, tb_size=tb_size)
    if exec_state:
        options.ignored_signals, options.blocked_signals = (int(x, 16) for x in exec_state.split(":"))
    env.update(env_set)
    for u in env_unset:
        env.pop(u, None)
    envp = [f"{k}={v}" for k, v in env.items()]
    guest_argv = [opts["0"][-1] if "0" in opts else program, *guest_args]

    try:
        proc = Process(arch, options)
    except LogError as e:
        print(str(e), file=sys.stderr)
        return 1
    except OSError as e:
        return _die(prog, f"{e.filename}: {e.strerror}" if e.filename else str(e))
    try:
        th = proc.load(program, guest_argv, envp)
    except LoadError as e:
        return _die(prog, str(e))
    if "g" in opts:
        from ..gdbstub.user import GdbserverError, UserGdbStub

        address = opts["g"][-1]
        try:
            proc.gdb = UserGdbStub(proc, address, prog)
        except GdbserverError as e:
            print(e, file=sys.stderr)
            return _die("pyqemu", f"could not open gdbserver on {address}")
        proc.gdb.wait_for_gdb()
    threading.stack_size(64 << 20)
    sys.setrecursionlimit(10000)
    status = proc.run(th)
    proc.flush()
    return status


def main_riscv64() -> int:
    return main(arch_name="riscv64")


def main_aarch64() -> int:
    return main(arch_name="aarch64")


if __name__ == "__main__":
    sys.exit(main_riscv64())
