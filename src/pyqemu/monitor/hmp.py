"""The human monitor, HMP (the behaviour of QEMU 7.2's monitor/hmp.c and hmp-cmds.c for the commands
below), on a character device.

The monitor greets a client with ``QEMU <version> monitor - type 'help' for more information`` and the
``(qemu)`` prompt, echoes and edits what is typed (:mod:`.readline`) and runs each line.  Its output
ends lines with CR LF, whatever the chardev, as QEMU's does.  On a multiplexed chardev (``-nographic``,
``mon:stdio``) it only talks while it has the focus: output is held back meanwhile, leaving the focus
ends the line, getting it back shows the prompt again.

Commands: ``help|? [cmd]``, ``info [subcommand]`` (``block``, ``blockstats``, ``chardev``, ``cpus``,
``mtree``, ``name``, ``qtree``, ``registers [-a|vcpu]``, ``status``, ``version``), ``stop|s``, ``cont|c``,
``system_reset``, ``system_powerdown``, ``quit|q``, ``cpu index``, ``x /fmt addr``, ``xp /fmt addr``,
``print|p /fmt expr``, ``memsave addr size file``, ``pmemsave addr size file``, ``device_add
driver[,prop=value...]`` (``device_add help`` lists the device types) and ``device_del id``.  The
``info`` queries and device and run-state commands go through the QMP commands
(:mod:`.qmp_commands`), as QEMU's HMP does; their errors print as ``Error: message``.

``/fmt`` is ``/[count][format][size]``: format ``x`` (hex), ``d`` (signed), ``u`` (unsigned), ``o``
(octal), ``c`` (characters) or ``i`` (disassembly), size ``b``, ``h``, ``w`` or ``g`` (1, 2, 4, 8 bytes;
``L`` = ``g``).  Format and size carry over to the next command that leaves them out, as in QEMU.
``x`` reads virtual addresses through the current CPU's MMU (see ``cpu``), ``xp`` physical ones.

Expressions (addresses, sizes, ``print``) follow QEMU's grammar and precedence, lowest first: ``+ -``,
then ``& | ^``, then ``* / %``, then unary ``+ - ~``, parentheses, numbers (``0x`` hex, leading ``0``
octal), ``'c'`` and ``$reg``.  QEMU 7.2 knows no RISC-V registers there ("unknown register"); pyqemu
accepts ``$pc``, ``$x0``-``$x31``, ``$f0``-``$f31``, their ABI names and the CSRs ``info registers``
shows.  Bad input prints QEMU's error and ``Try "help CMD" for more information``; the monitor carries
on.  ``system_powerdown`` only sends the POWERDOWN event on this board, as on QEMU's RISC-V ``virt``
(it has no power button the guest could watch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyqemu import QEMU_VERSION, __version__
from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.chardev.mux import CHR_EVENT_MUX_IN, CHR_EVENT_MUX_OUT
from pyqemu.cli.qemu_opts import OptsError, parse_opts
from pyqemu.monitor.qmp import QmpError
from pyqemu.monitor.qmp_commands import QmpCommands
from pyqemu.monitor.readline import ReadLine
from pyqemu.monitor.target import MASK64, MemoryAccessError, MonitorTarget, vcpu_thread_id
from pyqemu.qom.object import device_help, device_type_help

BANNER = f"QEMU {QEMU_VERSION} monitor - type 'help' for more information\n"
VERSION_TEXT = f"{QEMU_VERSION} (pyqemu {__version__})"


class CommandError(Exception):
    """Bad arguments: the message is printed, then a pointer to the command's help."""


class CommandFailed(Exception):
    """The command ran and failed: only the message is printed."""


# -- expressions ---------------------------------------------------------------------------------------

def _signed(value: int) -> int:
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


class _Cursor:
    """A position in the argument text."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_spaces()
        return self.pos >= len(self.text)


class _Expr:
    """QEMU's monitor expression grammar over a cursor (values are 64-bit two's complement)."""

    def __init__(self, cur: _Cursor, register: Callable[[str], int | None]):
        self.cur = cur
        self.register = register

    def parse(self) -> int:
        return self._sum() & MASK64

    def _sum(self) -> int:
        value = self._logic()
        while True:
            self.cur.skip_spaces()
            op = self.cur.peek()
            if op not in ("+", "-") or not op:
                return value
            self.cur.pos += 1
            rhs = self._logic()
            value = (value + rhs if op == "+" else value - rhs) & MASK64

    def _logic(self) -> int:
        value = self._prod()
        while True:
            self.cur.skip_spaces()
            op = self.cur.peek()
            if op not in ("&", "|", "^") or not op:
                return value
            self.cur.pos += 1
            rhs = self._prod()
            value = value & rhs if op == "&" else value | rhs if op == "|" else value ^ rhs

    def _prod(self) -> int:
        value = self._unary()
        while True:
            self.cur.skip_spaces()
            op = self.cur.peek()
            if op not in ("*", "/", "%") or not op:
                return value
            self.cur.pos += 1
            rhs = self._unary()
            if op == "*":
                value = (value * rhs) & MASK64
                continue
            if rhs == 0:
                raise CommandError("division by zero")
            a, b = _signed(value), _signed(rhs)
            quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # C truncates towards 0
            value = (quotient if op == "/" else a - quotient * b) & MASK64

    def _unary(self) -> int:
        cur = self.cur
        cur.skip_spaces()
        ch = cur.peek()
        if ch == "+":
            cur.pos += 1
            return self._unary()
        if ch == "-":
            cur.pos += 1
            return -self._unary() & MASK64
        if ch == "~":
            cur.pos += 1
            return ~self._unary() & MASK64
        if ch == "(":
            cur.pos += 1
            value = self._sum()
            cur.skip_spaces()
            if cur.peek() != ")":
                raise CommandError("')' expected")
            cur.pos += 1
            return value
        if ch == "'":
            text = cur.text
            if cur.pos + 1 >= len(text):
                raise CommandError("unexpected end of expression")
            value = ord(text[cur.pos + 1])
            if cur.pos + 2 >= len(text) or text[cur.pos + 2] != "'":
                raise CommandError("missing terminating ' character")
            cur.pos += 3
            return value
        if ch == "$":
            cur.pos += 1
            start = cur.pos
            while cur.pos < len(cur.text) and (cur.text[cur.pos].isalnum() or cur.text[cur.pos] in "_."):
                cur.pos += 1
            value = self.register(cur.text[start:cur.pos])
            if value is None:
                raise CommandError("unknown register")
            return value & MASK64
        if not ch:
            raise CommandError("unexpected end of expression")
        if ch.isdigit():
            return self._number()
        raise CommandError(f"invalid char '{ch}' in expression")

    def _number(self) -> int:
        """An unsigned number as strtoull(..., 0) reads it."""
        cur = self.cur
        text = cur.text
        start = cur.pos
        if text[start:start + 2].lower() == "0x" and start + 2 < len(text) and text[start + 2] in _HEX:
            end = start + 2
            while end < len(text) and text[end] in _HEX:
                end += 1
            value = int(text[start + 2:end], 16)
        elif text[start] == "0":
            end = start + 1
            while end < len(text) and text[end] in "01234567":
                end += 1
            value = int(text[start:end], 8)
        else:
            end = start
            while end < len(text) and text[end].isdigit():
                end += 1
            value = int(text[start:end])
        if value > MASK64:
            raise CommandError("number too large")
        cur.pos = end
        return value


_HEX = "0123456789abcdefABCDEF"


def printc(value: int) -> str:
    """A character the way the monitor quotes it: ``'A'``, ``'\\n'``, ``'\\x97'``."""
    escapes = {0x27: "\\'", 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r"}
    if value in escapes:
        body = escapes[value]
    elif 32 <= value <= 126:
        body = chr(value)
    else:
        body = f"\\x{value:02x}"
    return f"'{body}'"


def _c_octal(value: int) -> str:
    """C's ``%#o``: a leading 0 unless the value is 0."""
    return f"0{value:o}" if value else "0"


# -- commands ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    names: str  #: "print|p"
    params: str  #: "/fmt expr" (shown by help)
    help: str
    handler: str  #: method name on Monitor
    args: tuple[str, ...] = ()  #: argument kinds: fmt, expr, int, str, opt_rest, regs

    @property
    def aliases(self) -> list[str]:
        return self.names.split("|")

    def help_line(self, prefix: str = "") -> str:
        return f"{prefix}{self.names} {self.params} -- {self.help}"


COMMANDS = (
    Command("cont|c", "", "resume emulation", "cmd_cont"),
    Command("cpu", "index", "set the default CPU", "cmd_cpu", ("int",)),
    Command("device_add", "driver[,prop=value][,...]", "add device, like -device on the command line",
            "cmd_device_add", ("rest",)),
    Command("device_del", "device", "remove device", "cmd_device_del", ("str",)),
    Command("help|?", "[cmd]", "show the help", "cmd_help", ("opt_rest",)),
    Command("info", "[subcommand]", "show various information about the system state", "cmd_info"),
    Command("memsave", "addr size file",
            "save to disk virtual memory dump starting at 'addr' of size 'size'", "cmd_memsave",
            ("expr", "int", "str")),
    Command("pmemsave", "addr size file",
            "save to disk physical memory dump starting at 'addr' of size 'size'", "cmd_pmemsave",
            ("expr", "int", "str")),
    Command("print|p", "/fmt expr", "print expression value (use $reg for CPU register access)",
            "cmd_print", ("fmt", "expr")),
    Command("quit|q", "", "quit the emulator", "cmd_quit"),
    Command("stop|s", "", "stop emulation", "cmd_stop"),
    Command("system_powerdown", "", "send system power down event", "cmd_system_powerdown"),
    Command("system_reset", "", "reset the system", "cmd_system_reset"),
    Command("x", "/fmt addr", "virtual memory dump starting at 'addr'", "cmd_x", ("fmt", "expr")),
    Command("xp", "/fmt addr", "physical memory dump starting at 'addr'", "cmd_xp", ("fmt", "expr")),
)

INFO_COMMANDS = (
    Command("block", "[-n] [-v] [device]", "show info of one block device or all block devices "
            "(-n: show named nodes; -v: show details)", "info_block", ("opt_rest",)),
    Command("blockstats", "", "show block device statistics", "info_blockstats"),
    Command("chardev", "", "show the character devices", "info_chardev"),
    Command("cpus", "", "show infos for each CPU", "info_cpus"),
    Command("mtree", "", "show memory tree", "info_mtree"),
    Command("name", "", "show the current VM name", "info_name"),
    Command("qtree", "", "show device tree", "info_qtree"),
    Command("registers", "[-a|vcpu]",
            "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; "
            "show the current CPU's registers if no argument is specified)", "info_registers", ("regs",)),
    Command("status", "", "show the current VM status (running|paused)", "info_status"),
    Command("version", "", "show the version of QEMU", "info_version"),
)


def _find(table: tuple[Command, ...], name: str) -> Command | None:
    for cmd in table:
        if name in cmd.aliases:
            return cmd
    return None


def _command_name(cur: _Cursor) -> str:
    """A command name: up to white space or '/' (so ``x/4x addr`` works)."""
    cur.skip_spaces()
    start = cur.pos
    while cur.pos < len(cur.text) and not cur.text[cur.pos].isspace() and cur.text[cur.pos] != "/":
        cur.pos += 1
    return cur.text[start:cur.pos]


@dataclass
class _Format:
    count: int
    format: str
    size: int


# -- the monitor ---------------------------------------------------------------------------------------

class Monitor:
    """An HMP monitor on ``chardev`` acting on ``target``.  Call :meth:`start` once the machine is
    built: the banner waits for it (and, on a mux, for the focus)."""

    def __init__(self, chardev: Chardev, target: MonitorTarget, qmp: QmpCommands | None = None):
        self.chardev = chardev
        self.target = target
        self.qmp = qmp if qmp is not None else QmpCommands(target)
        self.rl = ReadLine(self.print, self.execute)
        self.cpu_index = 0
        self.last_format = "x"
        self.last_size = 4
        self.quitting = False
        self.started = False
        self.opened = False
        self.mux_out = False
        self.greeted = False
        self._held: list[str] = []
        chardev.set_handlers(self._can_receive, self._receive, self._event)

    # -- terminal side ---------------------------------------------------------------------------------
    def print(self, text: str) -> None:
        """Output to the client (LF becomes CR LF); held back while a mux gives the focus elsewhere."""
        if not text:
            return
        if self.mux_out:
            self._held.append(text)
            return
        self.chardev.write(text.replace("\n", "\r\n").encode("utf-8", "replace"))

    def start(self) -> None:
        self.started = True
        if self.opened:
            self._greet()

    def _greet(self) -> None:
        self.print(BANNER)
        self.greeted = True
        if not self.mux_out:
            self.rl.show_prompt()

    def _event(self, event: int) -> None:
        if event == CHR_EVENT_OPENED:
            self.opened = True
            self.rl.reset()
            if self.started:
                self._greet()
        elif event == CHR_EVENT_CLOSED:
            self.opened = False
            self.rl.reset()
        elif event == CHR_EVENT_MUX_IN:
            self.mux_out = False
            held, self._held = self._held, []
            self.print("".join(held))
            if self.greeted and not self.quitting:
                self.rl.show_prompt()
        elif event == CHR_EVENT_MUX_OUT:
            if self.greeted and not self.mux_out:
                self.print("\n")
            self.mux_out = True

    def _can_receive(self) -> int:
        return 0 if self.quitting else 4096

    def _receive(self, data: bytes) -> None:
        for byte in data:
            if self.quitting:
                return
            self.rl.handle_byte(byte)

    # -- running commands ------------------------------------------------------------------------------
    def execute(self, line: str) -> None:
        """Run one command line, then show the prompt again (unless it was ``quit``)."""
        try:
            self.run_command(line)
        except Exception as exc:  # the monitor survives whatever a command does
            self.print(f"Error: {type(exc).__name__}: {exc}\n")
        if not self.quitting:
            self.rl.show_prompt()

    def run_command(self, line: str) -> None:
        cur = _Cursor(line)
        name = _command_name(cur)
        if not name:
            return
        cmd = _find(COMMANDS, name)
        if cmd is None:
            self.print(f"unknown command: '{name}'\n")
            return
        path = name
        label = cmd.names
        if cmd.names == "info":
            sub = _command_name(cur)
            if not sub:
                self._help_list(INFO_COMMANDS, "info ")
                return
            cmd = _find(INFO_COMMANDS, sub)
            if cmd is None:
                self.print(f"unknown command: 'info {sub}'\n")
                return
            path = f"info {sub}"
            label = cmd.names
        try:
            args = self._parse_args(cmd, label, cur)
            getattr(self, cmd.handler)(*args)
        except CommandError as exc:
            self.print(f"{exc}\nTry \"help {path}\" for more information\n")
        except CommandFailed as exc:
            self.print(f"{exc}\n")

    def _parse_args(self, cmd: Command, label: str, cur: _Cursor) -> list[Any]:
        args: list[Any] = []
        for kind in cmd.args:
            cur.skip_spaces()
            if kind == "fmt":
                args.append(self._parse_format(cur))
            elif kind in ("expr", "int"):
                value = _Expr(cur, self._register).parse()
                if kind == "int":
                    if value >> 32:
                        raise CommandError(f"'{cmd.aliases[0]}' has failed: integer is for 32-bit values")
                args.append(value)
            elif kind == "str":
                args.append(self._parse_string(cur, label))
            elif kind in ("opt_rest", "rest"):
                rest = cur.text[cur.pos:].strip()
                cur.pos = len(cur.text)
                if kind == "rest" and not rest:
                    raise CommandError(f"{label}: missing argument")
                args.append(rest or None)
            elif kind == "regs":
                if cur.text.startswith("-a", cur.pos) and (cur.pos + 2 == len(cur.text)
                                                           or cur.text[cur.pos + 2].isspace()):
                    cur.pos += 2
                    args.append("all")
                elif cur.at_end():
                    args.append(None)
                else:
                    value = _Expr(cur, self._register).parse()
                    if value >> 32:
                        raise CommandError(f"'{label}' has failed: integer is for 32-bit values")
                    args.append(value)
        if not cur.at_end():
            raise CommandError(f"{label}: extraneous characters at the end of line")
        return args

    @staticmethod
    def _parse_string(cur: _Cursor, label: str) -> str:
        text = cur.text
        if cur.at_end():
            raise CommandError(f"{label}: string expected")
        if text[cur.pos] == '"':
            end = text.find('"', cur.pos + 1)
            if end < 0:
                raise CommandError(f"{label}: unterminated string literal")
            value = text[cur.pos + 1:end]
            cur.pos = end + 1
            return value
        start = cur.pos
        while cur.pos < len(text) and not text[cur.pos].isspace():
            cur.pos += 1
        return text[start:cur.pos]

    def _parse_format(self, cur: _Cursor) -> _Format:
        text = cur.text
        if cur.peek() != "/":
            return _Format(1, self.last_format, self.last_size)
        cur.pos += 1
        start = cur.pos
        while cur.pos < len(text) and text[cur.pos].isdigit():
            cur.pos += 1
        count = int(text[start:cur.pos]) if cur.pos > start else 1
        fmt: str | None = None
        size: int | None = None
        sizes = {"b": 1, "h": 2, "w": 4, "g": 8, "L": 8}
        while cur.pos < len(text):
            ch = text[cur.pos]
            if ch in "oduxic":
                fmt = ch
            elif ch in sizes:
                size = sizes[ch]
            else:
                break
            cur.pos += 1
        if cur.pos < len(text) and not text[cur.pos].isspace():
            raise CommandError(f"invalid char in format: '{text[cur.pos]}'")
        self.last_format = fmt or self.last_format
        self.last_size = size or self.last_size
        return _Format(count, self.last_format, self.last_size)

    # -- helpers ---------------------------------------------------------------------------------------
    @property
    def machine(self) -> Any:
        return self.target.machine

    def cpu(self) -> Any:
        cpus = self.machine.cpus
        if not 0 <= self.cpu_index < len(cpus):
            self.cpu_index = 0
        return cpus[self.cpu_index]

    def _register(self, name: str) -> int | None:
        return self.target.cpu_ops.register_value(self.cpu(), name)

    def _phys_read(self, addr: int, length: int) -> bytes | None:
        return self.target.phys_read(addr, length)

    def _virt_read(self, addr: int, length: int) -> bytes | None:
        return self.target.virt_read(self.cpu(), addr, length)

    def _qmp(self, name: str, /, **args: Any) -> Any:
        """Run a QMP command; its error is the command's failure (printed as ``Error: ...``)."""
        try:
            return self.qmp.dispatcher.dispatch(name, args)
        except QmpError as exc:
            raise CommandFailed(f"Error: {exc}") from None

    def _help_list(self, table: tuple[Command, ...], prefix: str = "") -> None:
        for cmd in sorted(table, key=lambda c: c.names):
            self.print(cmd.help_line(prefix) + "\n")

    # -- command handlers ------------------------------------------------------------------------------
    def cmd_help(self, topic: str | None) -> None:
        if topic is None:
            self._help_list(COMMANDS)
            return
        words = topic.split()
        cmd = _find(COMMANDS, words[0])
        if cmd is None:
            self.print(f"unknown command: '{words[0]}'\n")
            return
        if cmd.names == "info":
            if len(words) == 1:
                self._help_list(INFO_COMMANDS, "info ")
                return
            sub = _find(INFO_COMMANDS, words[1])
            if sub is None:
                self.print(f"unknown command: 'info {words[1]}'\n")
                return
            self.print(sub.help_line("info ") + "\n")
            return
        self.print(cmd.help_line() + "\n")

    def cmd_info(self) -> None:
        """``info`` without a subcommand (run_command dispatches the subcommands itself)."""
        self._help_list(INFO_COMMANDS, "info ")

    def cmd_cont(self) -> None:
        self._qmp("cont")

    def cmd_stop(self) -> None:
        self._qmp("stop")

    def cmd_quit(self) -> None:
        self.quitting = True
        self._qmp("quit")

    def cmd_system_reset(self) -> None:
        self._qmp("system_reset")

    def cmd_system_powerdown(self) -> None:
        self._qmp("system_powerdown")

    def cmd_device_add(self, spec: str) -> None:
        if spec in ("help", "?"):
            self.print(device_help() + "\n")
            return
        try:
            opts = parse_opts(spec, implied_key="driver")
        except OptsError as exc:
            raise CommandFailed(f"Error: {exc}") from None
        if opts.get("help") == "on" or opts.get("driver") in ("help", "?"):
            try:
                self.print(device_type_help(opts["driver"]) + "\n")
            except OptsError as exc:
                raise CommandFailed(f"Error: {exc}") from None
            return
        self._qmp("device_add", **opts)

    def cmd_device_del(self, device: str) -> None:
        self._qmp("device_del", id=device)

    def cmd_cpu(self, index: int) -> None:
        if not 0 <= index < len(self.machine.cpus):
            raise CommandFailed("invalid CPU index")
        self.cpu_index = index

    def cmd_print(self, fmt: _Format, value: int) -> None:
        f = fmt.format
        if f == "o":
            text = _c_octal(value)
        elif f == "x":
            text = f"0x{value:x}" if value else "0"
        elif f == "u":
            text = str(value)
        elif f == "c":
            text = printc(value)
        else:
            text = str(_signed(value))
        self.print(text + "\n")

    def cmd_x(self, fmt: _Format, addr: int) -> None:
        self._memory_dump(fmt, addr, physical=False)

    def cmd_xp(self, fmt: _Format, addr: int) -> None:
        self._memory_dump(fmt, addr, physical=True)

    def _memory_dump(self, fmt: _Format, addr: int, physical: bool) -> None:
        read = self._phys_read if physical else self._virt_read
        if fmt.format == "i":
            self._disassemble(fmt.count, addr, read)
            return
        wsize = fmt.size
        remaining = wsize * fmt.count
        line_size = 8 if wsize == 1 else 16
        if fmt.format == "c":
            wsize = 1
        width = {"o": -(-wsize * 8 // 3), "u": -(-wsize * 80 // 33), "d": -(-wsize * 80 // 33)}
        digits = width.get(fmt.format, 0)
        while remaining > 0:
            n = min(remaining, line_size)
            data = read(addr, n)
            if data is None:
                self.print(f"{addr:016x}: Cannot access memory\n")
                return
            items = []
            for i in range(0, n, wsize):
                v = int.from_bytes(data[i:i + wsize], "little")
                if fmt.format == "o":
                    items.append(_c_octal(v).rjust(digits))
                elif fmt.format == "u":
                    items.append(str(v).rjust(digits))
                elif fmt.format == "d":
                    items.append(str(_signed(v)).rjust(digits))
                elif fmt.format == "c":
                    items.append(printc(v))
                else:
                    items.append(f"0x{v:0{wsize * 2}x}")
            self.print(f"{addr:016x}:" + "".join(" " + item for item in items) + "\n")
            addr = (addr + n) & MASK64
            remaining -= n

    def _disassemble(self, count: int, addr: int, read: Callable[[int, int], bytes | None]) -> None:
        if count <= 0:
            return
        code = b""
        # the longest instruction is 4 bytes; take what can be read of count * 4
        for length in (count * 4, count * 2):
            data = read(addr, length)
            if data is not None:
                code = data
                break
        if not code:
            self.print(f"{addr:016x}: Cannot access memory\n")
            return
        lines = self.target.cpu_ops.disas_bytes(code, addr, self.cpu()).splitlines()[:count]
        self.print("".join(line + "\n" for line in lines))

    def _save(self, addr: int, size: int, filename: str, physical: bool) -> None:
        try:
            self.target.save_memory(addr, size, filename, None if physical else self.cpu())
        except MemoryAccessError as exc:
            raise CommandFailed(f"Error: {exc}") from None

    def cmd_memsave(self, addr: int, size: int, filename: str) -> None:
        self._save(addr, size, filename, physical=False)

    def cmd_pmemsave(self, addr: int, size: int, filename: str) -> None:
        self._save(addr, size, filename, physical=True)

    # -- info ------------------------------------------------------------------------------------------
    def info_status(self) -> None:
        state = self.machine.runstate
        if state not in ("running", "paused"):
            state = f"paused ({state})"
        self.print(f"VM status: {state}\n")

    def info_block(self, which: str | None) -> None:
        words = (which or "").split()
        device = next((w for w in words if not w.startswith("-")), None)
        for info in self._qmp("query-block"):
            if device is not None and info["device"] != device:
                continue
            inserted = info.get("inserted")
            if inserted is None:
                self.print(f"{info['device']}: [not inserted]\n")
            else:
                flags = ", read-only" if inserted["ro"] else ""
                self.print(f"{info['device']}: {inserted['file']} ({inserted['drv']}{flags})\n")
            if "qdev" in info:
                self.print(f"    Attached to:      {info['qdev']}\n")
            if info["removable"]:
                self.print(f"    Removable device: {'' if info['locked'] else 'not '}locked, tray "
                           f"{'open' if info.get('tray_open') else 'closed'}\n")
            if inserted is None:
                continue
            backend = self.target.find_drive(info["device"])
            cache = getattr(backend, "cache", "writeback")
            mode = "writethrough" if cache in ("writethrough", "directsync") else "writeback"
            mode += ", direct" if cache in ("none", "directsync") else ""
            mode += ", ignore flushes" if cache == "unsafe" else ""
            self.print(f"    Cache mode:       {mode}\n")
            if "backing_file" in inserted:
                self.print(f"    Backing file:     {inserted['backing_file']} (chain depth: "
                           f"{inserted['backing_file_depth']})\n")
            limits = ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")
            if any(inserted[k] for k in limits):
                self.print("    I/O throttling:   " + " ".join(f"{k}={inserted[k]}" for k in limits) + "\n")
            self.print("\n")

    def info_blockstats(self) -> None:
        keys = ("rd_bytes", "wr_bytes", "rd_operations", "wr_operations", "flush_operations",
                "wr_total_time_ns", "rd_total_time_ns", "flush_total_time_ns", "rd_merged", "wr_merged",
                "idle_time_ns")
        for entry in self._qmp("query-blockstats"):
            stats = entry["stats"]
            self.print(f"{entry['device']}:" + "".join(f" {k}={stats.get(k, 0)}" for k in keys) + "\n")

    def info_chardev(self) -> None:
        for entry in self._qmp("query-chardev"):
            self.print(f"{entry['label']}: filename={entry['filename']}\n")

    def info_version(self) -> None:
        self.print(VERSION_TEXT + "\n")

    def info_name(self) -> None:
        if self.target.name:
            self.print(self.target.name + "\n")

    def info_cpus(self) -> None:
        for i, cpu in enumerate(self.machine.cpus):
            mark = "*" if i == self.cpu_index else " "
            self.print(f"{mark} CPU #{i}: thread_id={vcpu_thread_id(cpu)}\n")

    def info_registers(self, which: str | int | None) -> None:
        cpus = self.machine.cpus
        if which == "all":
            indexes = list(range(len(cpus)))
        elif which is None:
            indexes = [self.cpu_index if self.cpu_index < len(cpus) else 0]
        else:
            assert isinstance(which, int)
            if which >= len(cpus):
                raise CommandFailed(f"CPU#{which} not available")
            indexes = [which]
        for i in indexes:
            self.print(f"\nCPU#{i}\n" + self.target.cpu_ops.dump_registers(cpus[i]))

    def info_mtree(self) -> None:
        lines = "".join(f"address-space: cpu-memory-{i}\n" for i in range(len(self.machine.cpus)))
        self.print(lines + self.machine.space.mtree() + "\n")

    def info_qtree(self) -> None:
        self.print(self.target.tree.qtree())
