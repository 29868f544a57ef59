"""A guest process under user-mode emulation: its address space, translated code, threads, signals,
and the process-level system calls (clone, execve, exit) that need all of them."""

from __future__ import annotations

import bisect
import os
import struct
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..accel.tcg import backends
from ..accel.tcg.backend_python import BUDGET
from ..accel.tcg.cpu_exec import TBCache
from ..accel.tcg.interp import Interpreter
from ..accel.tcg.log import Log
from ..accel.tcg.user_memory import UserMemory
from . import signal as sig
from .elfload import LoadError, check_elf, find_in_sysroot, read_symbols, setup_process
from .memory import AddressSpace
from .syscall import (
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_PARENT_SETTID,
    CLONE_SETTLS,
    CLONE_THREAD,
    CLONE_VM,
    FUTEX_WAKE,
    NoReturn,
    Syscalls,
    host_call,
)

if TYPE_CHECKING:
    from ..gdbstub.user import UserGdbStub

#: carries signal state across a guest execve into the new pyqemu process (removed before the guest
#: sees its environment)
EXEC_STATE_VAR = "_PYQEMU_EXEC_STATE"


@dataclass
class Options:
    """What the command line asked for (kept to re-exec children the same way)."""

    sysroot: str | None = None
    strace: bool = False
    log_items: str = ""
    log_file: str | None = None
    extra_argv: list[str] = field(default_factory=list)  # options to pass on to exec'd guests
    stack_size: int | None = None  # -s
    ignored_signals: int = 0  # inherited across execve, as the kernel does
    blocked_signals: int = 0
    backend: str = field(default_factory=backends.default_name)  # -accel tcg,backend=
    tb_size: int = 0  # -accel tcg,tb-size= (MiB; 0: the default)


class Thread:
    def __init__(self, proc: Process, cpu: Any, tid: int, blocked: int = 0):
        self.proc = proc
        self.cpu = cpu
        self.tid = tid
        self.signals = sig.ThreadSignals(blocked)
        self.clear_child_tid = 0
        self.exited = False


class ExitProcess(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class Process:
    def __init__(self, arch: Any, opts: Options):
        self.arch = arch
        self.opts = opts
        self.strace = opts.strace
        self.log = Log(opts.log_items, opts.log_file)
        self.space = AddressSpace()
        self.signals = sig.SignalState(opts.ignored_signals)
        self.threads: dict[int, Thread] = {}
        self.exe_path = ""
        self.auxv = b""
        self.sigtramp = 0
        self.atomic_lock = threading.Lock()
        #: the debugger's breakpoints (see the translator) and the gdbstub itself, once ``-g`` started one
        self.breakpoints: frozenset[int] = frozenset()
        self.gdb: UserGdbStub | None = None
        self.tbc = TBCache(lambda pc, single_step=False: arch.gen_block(self, pc, single_step),
                           None, self.log,  # type: ignore[arg-type]
                           disas=lambda pc, size: arch.disas(self.space, pc, size), symbol=self.symbol)
        self.symbols: list[tuple[int, int, str]] = []
        memory = UserMemory(self.space, self.tbc)
        self.tbc.backend = backends.make(opts.backend, arch.GLOBAL_SLOTS, memory,
                                         icount_slot=arch.SLOT_ICOUNT, budget=BUDGET, tb_size=opts.tb_size)
        self.tbc.interp = Interpreter(arch.GLOBAL_SLOTS, memory, icount_slot=arch.SLOT_ICOUNT)
        self.space.on_code_change = self.tbc.invalidate_range
        self.tbc.page_listener = self.space.protect_code_page
        self.helpers = arch.make_helpers(self.space, self.atomic_lock)
        self.syscalls = Syscalls(self)

    # -- paths -----------------------------------------------------------------------------------
    def host_path(self, path: str) -> str:
        return find_in_sysroot(path, self.opts.sysroot)

    def proc_self_file(self, path: str) -> str | bytes | None:
        """Guest view of /proc/self files: a host path to open instead, or generated contents."""
        for prefix in ("/proc/self/", f"/proc/{os.getpid()}/"):
            if path.startswith(prefix):
                rest = path[len(prefix):]
                if rest == "exe":
                    return self.exe_path
                if rest == "maps":
                    return self.maps_text().encode()
                if rest == "auxv":
                    return self.auxv
        return None

    def maps_text(self) -> str:
        lines = []
        for v in self.space.vmas:
            dev, ino = v.dev_ino
            name = v.name
            tail = f"  {name}" if name else ""
            line = (f"{v.start:08x}-{v.end:08x} {v.perms()} {v.offset:08x} "
                    f"{os.major(dev):02x}:{os.minor(dev):02x} ")
            lines.append(f"{line}{ino:<10d}{tail}".rstrip())
        return "\n".join(lines) + "\n"

    def symbol(self, pc: int) -> str:
        """The function containing ``pc``, or "" (for -d in_asm / exec)."""
        i = bisect.bisect_right(self.symbols, (pc, 1 << 64, "")) - 1
        if i >= 0:
            addr, size, name = self.symbols[i]
            if addr <= pc < addr + max(size, 1):
                return name
        return ""

    # -- start -----------------------------------------------------------------------------------
    def load(self, path: str, argv: list[str], envp: list[str]) -> Thread:
        self.exe_path = os.path.abspath(path)
        if os.path.isdir(path):
            raise LoadError(f"Error while loading {path}: Is a directory")
        if os.path.exists(path) and not os.access(path, os.X_OK):
            raise LoadError(f"Error while loading {path}: Permission denied")
        image = setup_process(self.space, path, argv, envp, machine=self.arch.ELF_MACHINE,
                              hwcap=self.arch.HWCAP, sysroot=self.opts.sysroot,
                              stack_size=self.opts.stack_size)
        self.auxv = image.auxv
        if self.log.items & {"in_asm", "exec"}:
            self.symbols = read_symbols(path, image.exe.load_bias)
            if image.interp:
                self.symbols = sorted(self.symbols + read_symbols(image.interp.path, image.interp.load_bias))
        self.sigtramp = self.arch.map_sigtramp(self.space)
        cpu = self.arch.CPU()
        cpu.pc = image.entry
        self.arch.set_sp(cpu, image.sp)
        th = Thread(self, cpu, threading.get_native_id(), self.opts.blocked_signals)
        self.threads[th.tid] = th
        if self.log.enabled("page"):
            self.log.write(f"guest address space:\n{self.maps_text()}\nstart_code entry 0x{image.entry:x}\n")
        return th

    def run(self, th: Thread) -> int:
        """Run the main thread; returns the process exit status (or dies by a signal).  An attached
        debugger gets control before the first instruction."""
        try:
            if self.gdb is not None:
                self.gdb.handlesig(th, 0)
            self.arch.cpu_loop(self, th)
        except ExitProcess as e:
            return e.status
        except Exception as e:  # an emulator bug: report it the way QEMU's cpu_abort does
            self.internal_error(th, e)
        except ThreadExit:
            # the main thread called exit() while others run on: the process lives until the last
            # thread exits (its exit_thread ends the process) or one calls exit_group
            threading.Event().wait()
        return 0

    # -- threads and processes ---------------------------------------------------------------------
    def exit_thread(self, th: Thread, status: int) -> None:
        if len([t for t in self.threads.values() if not t.exited]) <= 1:
            self.exit_group(status)
        th.exited = True
        self.threads.pop(th.tid, None)
        if th.clear_child_tid:
            self.space.write(th.clear_child_tid, b"\0\0\0\0")
            host_call(202, self.space.base + th.clear_child_tid, FUTEX_WAKE, 1)
        raise ThreadExit()

    def exit_group(self, status: int) -> None:
        if self.gdb is not None:
            self.gdb.report_exit(status=status)
        self.flush()
        if threading.current_thread() is threading.main_thread():
            raise ExitProcess(status)
        os._exit(status)

    def flush(self) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            self.log.stream.flush()
        except (OSError, ValueError):
            pass

    def internal_error(self, th: Thread, exc: BaseException) -> None:
        """End the process after a bug in pyqemu itself (QEMU: "qemu: fatal: ..." then abort)."""
        self.flush()
        print(f"pyqemu: fatal: internal error at guest pc 0x{th.cpu.pc:x}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        print(th.cpu.dump(), file=sys.stderr)
        if os.environ.get("PYQEMU_DEBUG"):
            traceback.print_exception(exc)
        else:
            print("(set PYQEMU_DEBUG=1 to see the Python traceback)", file=sys.stderr)
        sys.stderr.flush()
        os._exit(134)

    def clone(self, th: Thread, flags: int, newsp: int, parent_tid: int, tls: int, child_tid: int) -> int:
        if flags & CLONE_VM and flags & CLONE_THREAD:
            return self._clone_thread(th, flags, newsp, parent_tid, tls, child_tid)
        if flags & CLONE_VM and not flags & 0x4000:  # CLONE_VM without VFORK: shared-memory process
            return -22
        self.flush()
        pid = os.fork()
        if pid == 0:
            if self.gdb is not None:
                self.gdb.forget()  # the child runs on undebugged, as the kernel's ptrace would have it
            me = threading.get_native_id()
            cpu = th.cpu
            self.threads = {me: th}
            th.tid = me
            if flags & CLONE_CHILD_SETTID and child_tid:
                self.space.write(child_tid, struct.pack("<i", me))
            if flags & CLONE_CHILD_CLEARTID:
                th.clear_child_tid = child_tid
            if newsp:
                self.arch.set_sp(cpu, newsp)
            if flags & CLONE_SETTLS:
                self.arch.set_tls(cpu, tls)
            return 0
        if flags & CLONE_PARENT_SETTID and parent_tid:
            self.space.write(parent_tid, struct.pack("<i", pid))
        return pid

    def _clone_thread(self, th: Thread, flags: int, newsp: int, parent_tid: int, tls: int,
                      child_tid: int) -> int:
        cpu = self.arch.CPU()
        cpu.copy_from(th.cpu)
        cpu.pc = th.cpu.pc  # the parent's pc is already past the ecall
        self.arch.set_sp(cpu, newsp)
        self.arch.set_return(cpu, 0)
        if flags & CLONE_SETTLS:
            self.arch.set_tls(cpu, tls)
        started = threading.Event()
        box: dict[str, Thread] = {}

        def body() -> None:
            child = Thread(self, cpu, threading.get_native_id(), th.signals.blocked)
            if flags & CLONE_CHILD_CLEARTID:
                child.clear_child_tid = child_tid
            self.threads[child.tid] = child
            box["t"] = child
            if flags & CLONE_CHILD_SETTID and child_tid:
                self.space.write(child_tid, struct.pack("<i", child.tid))
            if flags & CLONE_PARENT_SETTID and parent_tid:
                self.space.write(parent_tid, struct.pack("<i", child.tid))
            started.set()
            try:
                self.arch.cpu_loop(self, child)
            except ThreadExit:
                pass
            except ExitProcess as e:
                os._exit(e.status)
            except Exception as e:
                self.internal_error(child, e)

        # guest threads share one interpreter: hand it over more often than Python's default 5 ms,
        # so that a thread spinning on a lock does not hold up the one that owns it for long
        sys.setswitchinterval(0.0005)
        t = threading.Thread(target=body, daemon=True)
        t.start()
        started.wait()
        return box["t"].tid

    def execve(self, th: Thread, filename: int, argv_p: int, envp_p: int) -> int:
        space = self.space
        path = os.fsdecode(space.read_cstring(filename))

        def strings(p: int) -> list[bytes]:
            out = []
            while p:
                a = struct.unpack("<Q", space.read(p, 8))[0]
                if not a:
                    break
                out.append(space.read_cstring(a))
                p += 8
            return out

        argv = strings(argv_p)
        envp = strings(envp_p)
        if path in ("/proc/self/exe", f"/proc/{os.getpid()}/exe"):
            path = self.exe_path
        host = self.host_path(path)
        if not os.path.exists(host):
            return -2
        if not os.access(host, os.X_OK) or os.path.isdir(host):
            return -13
        guest_elf = True
        try:
            check_elf(host, self.arch.ELF_MACHINE)
        except LoadError:
            guest_elf = False
        self.flush()
        if guest_elf:
            start = ("import sys; from pyqemu.linux_user.main import main; "
                     f"sys.exit(main(arch_name={self.arch.NAME!r}))")
            cmd = [sys.executable, "-c", start, *self.opts.extra_argv, "-0",
                   os.fsdecode(argv[0]) if argv else path, host, *[os.fsdecode(a) for a in argv[1:]]]
            env = {os.fsdecode(k): os.fsdecode(v) for k, _, v in (e.partition(b"=") for e in envp)}
            env.update({k: v for k, v in os.environ.items() if k.startswith("PYTHON")})
            env[EXEC_STATE_VAR] = f"{self.signals.ignored_mask():x}:{th.signals.blocked:x}"
            os.execve(sys.executable, cmd, env)
        try:
            os.execve(host, argv or [path.encode()], {k: v for k, _, v in (e.partition(b"=") for e in envp)})
        except OSError as e:
            return -(e.errno or 8)
        raise NoReturn


class ThreadExit(Exception):
    pass
