"""The GDB remote protocol's commands (QEMU's gdb_handle_packet and its handlers; the GDB manual's
"Packets", "General Query Packets" and "Stop Reply Packets").

The server knows nothing of how the emulator runs: a :class:`DebugTarget` (:mod:`.system` or
:mod:`.user`) lists the threads, reaches registers (through its :class:`~.arch.GdbArch`) and memory,
keeps the breakpoints and acts on resume, Ctrl-C, detach and kill.  Commands are answered at once,
except a resume (``c``, ``s``, ``vCont``): its reply is the stop reply the target sends through
:meth:`GdbServer.report_stop` or :meth:`GdbServer.report_exit` when it stops again.

Supported: ``qSupported`` (``PacketSize``, ``qXfer:features:read``, ``QStartNoAckMode``,
``vContSupported`` and the target's own, e.g. ``qXfer:auxv:read``), ``qXfer``, ``qAttached``, ``qC``,
``qfThreadInfo``/``qsThreadInfo``, ``qThreadExtraInfo``, ``qSymbol``, ``QStartNoAckMode``, ``H``, ``T``,
``?``, ``g``/``G``, ``p``/``P``, ``m``/``M``/``X``, ``c``/``C``/``s``/``S``, ``vCont?``/``vCont``,
``vKill``, ``Z0``-``Z4``/``z0``-``z4`` (a hardware breakpoint, ``Z1``, is a software one here), ``D``
and ``k``.  Malformed packets get ``E22`` (EINVAL), inaccessible memory or registers ``E14`` (EFAULT),
unknown packets the empty reply, which tells GDB they are not supported.  Thread ids are hexadecimal;
with GDB's multiprocess extensions (``multiprocess+``) they are written ``pPID.TID``, all threads being
in process 1 (as in QEMU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .arch import GdbArch
from .points import BREAKPOINT_TYPES
from .points import KINDS as WATCH_KINDS
from .protocol import Event, PacketReader, escape, frame, unescape

#: the largest packet GDB may send (hex), as told in qSupported
PACKET_SIZE = 0x4000
#: GDB's signal numbers (include/gdb/signals.def) for the stops the stubs report
GDB_SIGNAL_INT, GDB_SIGNAL_TRAP = 2, 5
EINVAL, EFAULT = "E22", "E14"
PID = 1

Reply = str | bytes | None
Watch = tuple[str, int] | None  # a watchpoint hit: (stop-reply keyword, watchpoint address)


class DebugTarget(Protocol):
    """What the server needs from the emulator it debugs."""

    arch: GdbArch
    #: qSupported features beyond the server's own (e.g. ``qXfer:auxv:read+``)
    features: tuple[str, ...]

    def threads(self) -> list[int]:
        """The thread ids (> 0), in the order GDB should list them."""
        ...

    def cpu(self, tid: int) -> Any:
        """The vCPU of thread ``tid``, or None."""
        ...

    def thread_info(self, tid: int) -> str: ...

    def read_memory(self, cpu: Any, addr: int, length: int) -> bytes | None:
        """Guest virtual memory as ``cpu`` sees it, or None when some of it is not accessible."""
        ...

    def write_memory(self, cpu: Any, addr: int, data: bytes) -> bool: ...

    def set_breakpoint(self, type_: int, addr: int, length: int, insert: bool) -> bool:
        """Insert or remove a breakpoint (type 0, 1) or watchpoint (2 write, 3 read, 4 access)."""
        ...

    def resume(self, actions: dict[int, tuple[str, int]]) -> None:
        """Run again: each thread with (``"c"`` or ``"s"``, signal to deliver or 0)."""
        ...

    def interrupt(self) -> None:
        """Ctrl-C: stop (the stop reply follows) if running."""
        ...

    def detach(self) -> None: ...

    def kill(self) -> None: ...

    def xfer(self, obj: str, annex: str) -> bytes | None:
        """The contents of a ``qXfer`` object other than the target description, or None."""
        ...


class GdbServer:
    """One GDB connection's protocol state and command dispatcher."""

    def __init__(self, target: DebugTarget, write: Callable[[bytes], None]):
        self.target = target
        self.write = write
        #: where good packets go: :meth:`handle_packet`, unless the stub wants them elsewhere (the
        #: user-mode stub queues them for the guest thread that talks to GDB)
        self.on_packet: Callable[[bytes], None] = self.handle_packet
        self.reader = PacketReader()
        self.no_ack = False
        self.multiprocess = False
        self.cur_tid = 0  # the thread of the last stop
        self.g_tid = 0  # Hg: the thread for registers and memory (0: the current one)
        self.c_tid = 0  # Hc: the thread c and s apply to
        self.last_stop: tuple[int, int, Watch] | None = None
        self._last_sent = b""
        self._commands: dict[str, Callable[[str, bytes], Reply]] = {
            "?": self._status, "g": self._read_registers, "G": self._write_registers,
            "p": self._read_register, "P": self._write_register, "m": self._read_memory,
            "M": self._write_memory, "X": self._write_memory_binary, "H": self._set_thread,
            "T": self._thread_alive, "c": self._continue, "C": self._continue, "s": self._continue,
            "S": self._continue, "v": self._v_packet, "Z": self._breakpoint, "z": self._breakpoint,
            "D": self._detach, "k": self._kill, "q": self._query, "Q": self._query,
        }

    # -- transport ---------------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Bytes from GDB."""
        for event, payload in self.reader.feed(data):
            if event is Event.PACKET:
                if not self.no_ack:
                    self.write(b"+")
                self.on_packet(payload)
            elif event is Event.BAD:
                if not self.no_ack:
                    self.write(b"-")
            elif event is Event.INTERRUPT:
                self.target.interrupt()
            elif not self.no_ack and self._last_sent:
                self.write(self._last_sent)

    def send(self, payload: bytes) -> None:
        self._last_sent = frame(payload)
        self.write(self._last_sent)

    # -- stops -------------------------------------------------------------------------------------
    def stopped(self, tid: int, signal: int = GDB_SIGNAL_TRAP, watch: Watch = None) -> None:
        """Make ``tid`` the current thread after a stop, with the reply ``?`` gives."""
        self.cur_tid = self.g_tid = self.c_tid = tid
        self.last_stop = (tid, signal, watch)

    def _stop_reply(self) -> str:
        tid, signal, watch = self.last_stop or (self.target.threads()[0], GDB_SIGNAL_TRAP, None)
        reply = f"T{signal:02x}"
        if watch is not None:
            reply += f"{watch[0]}:{watch[1]:x};"
        return f"{reply}thread:{self._format_tid(tid)};"

    def report_stop(self, tid: int, signal: int = GDB_SIGNAL_TRAP, watch: Watch = None) -> None:
        """The target stopped after a resume: send the stop reply."""
        self.stopped(tid, signal, watch)
        self.send(self._stop_reply().encode())

    def report_exit(self, status: int | None = None, signal: int | None = None) -> None:
        """The program exited with ``status`` or was killed by ``signal``."""
        self.send(b"X%02x" % signal if signal is not None else b"W%02x" % ((status or 0) & 0xFF))

    # -- commands ----------------------------------------------------------------------------------
    def handle_packet(self, payload: bytes) -> None:
        """Act on one packet and send its reply (if it has one now)."""
        cmd = payload.decode("latin-1")
        handler = self._commands.get(cmd[:1])
        try:
            reply = handler(cmd, payload) if handler is not None else ""
        except (ValueError, IndexError, OverflowError):
            reply = EINVAL
        if reply is not None:
            self.send(reply.encode("latin-1") if isinstance(reply, str) else reply)

    def _thread(self, tid: int) -> int:
        """``tid`` with 0 and -1 (any, all) meaning the current thread."""
        return self.cur_tid if tid in (0, -1) else tid

    def _cpu(self) -> Any:
        cpu = self.target.cpu(self._thread(self.g_tid))
        if cpu is None:
            raise ValueError("no such thread")
        return cpu

    def _status(self, cmd: str, raw: bytes) -> Reply:
        return self._stop_reply()

    def _read_registers(self, cmd: str, raw: bytes) -> Reply:
        cpu = self._cpu()
        arch = self.target.arch
        return "".join((arch.read_register(cpu, n) or b"").hex() for n in arch.g_registers)

    def _write_registers(self, cmd: str, raw: bytes) -> Reply:
        cpu = self._cpu()
        arch = self.target.arch
        data = bytes.fromhex(cmd[1:])
        pos = 0
        for n in arch.g_registers:
            size = len(arch.read_register(cpu, n) or b"")
            if pos + size > len(data):
                break
            arch.write_register(cpu, n, data[pos:pos + size])
            pos += size
        return "OK"

    def _read_register(self, cmd: str, raw: bytes) -> Reply:
        value = self.target.arch.read_register(self._cpu(), int(cmd[1:], 16))
        return EFAULT if value is None else value.hex()

    def _write_register(self, cmd: str, raw: bytes) -> Reply:
        regno, _, value = cmd[1:].partition("=")
        ok = self.target.arch.write_register(self._cpu(), int(regno, 16), bytes.fromhex(value))
        return "OK" if ok else EFAULT

    @staticmethod
    def _addr_length(text: str) -> tuple[int, int]:
        addr, _, length = text.partition(",")
        return int(addr, 16), int(length, 16)

    def _read_memory(self, cmd: str, raw: bytes) -> Reply:
        addr, length = self._addr_length(cmd[1:])
        data = self.target.read_memory(self._cpu(), addr, min(length, PACKET_SIZE // 2))
        return EFAULT if data is None else data.hex()

    def _write_memory(self, cmd: str, raw: bytes) -> Reply:
        where, _, hexdata = cmd[1:].partition(":")
        addr, length = self._addr_length(where)
        data = bytes.fromhex(hexdata)
        if len(data) != length:
            return EINVAL
        return "OK" if self.target.write_memory(self._cpu(), addr, data) else EFAULT

    def _write_memory_binary(self, cmd: str, raw: bytes) -> Reply:
        where, sep, _ = cmd[1:].partition(":")
        addr, length = self._addr_length(where)
        data = unescape(raw[raw.index(b":") + 1:]) if sep else b""
        if len(data) != length:
            return EINVAL
        if not length:
            return "OK"  # GDB probing for X support
        return "OK" if self.target.write_memory(self._cpu(), addr, data) else EFAULT

    def _format_tid(self, tid: int) -> str:
        """A thread id as QEMU writes it (two hex digits at least)."""
        return f"p{PID:02x}.{tid:02x}" if self.multiprocess else f"{tid:02x}"

    @staticmethod
    def _parse_tid(text: str) -> int:
        if text.startswith("p"):  # pPID.TID (multiprocess syntax)
            text = text.partition(".")[2] or "-1"
        return -1 if text == "-1" else int(text, 16)

    def _set_thread(self, cmd: str, raw: bytes) -> Reply:
        op = cmd[1:2]
        tid = self._parse_tid(cmd[2:])
        if op not in ("g", "c"):
            return ""
        if tid not in (0, -1) and tid not in self.target.threads():
            return EINVAL
        if op == "g":
            self.g_tid = tid
        else:
            self.c_tid = tid
        return "OK"

    def _thread_alive(self, cmd: str, raw: bytes) -> Reply:
        return "OK" if self._parse_tid(cmd[1:]) in self.target.threads() else EINVAL

    def _continue(self, cmd: str, raw: bytes) -> Reply:
        """c [addr], C sig[;addr], s [addr], S sig[;addr]: the Hc thread continues or steps, the others
        continue."""
        kind = cmd[0]
        args = cmd[1:]
        signal = 0
        if kind in "CS":
            sig_text, _, args = args.partition(";")
            signal = int(sig_text, 16)
        tid = self._thread(self.c_tid)
        if args:
            cpu = self.target.cpu(tid)
            if cpu is None:
                return EINVAL
            self.target.arch.set_pc(cpu, int(args, 16))
        actions = {t: ("c", 0) for t in self.target.threads()}
        actions[tid] = (kind.lower(), signal)
        self.target.resume(actions)
        return None

    def _v_packet(self, cmd: str, raw: bytes) -> Reply:
        if cmd == "vCont?":
            return "vCont;c;C;s;S"
        if cmd.startswith("vCont;"):
            return self._vcont(cmd[len("vCont;"):])
        if cmd.startswith("vKill"):
            self.send(b"OK")
            self.target.kill()
            return None
        return ""

    def _vcont(self, text: str) -> Reply:
        """vCont;ACTION[:TID];...: each thread takes the first action that names it or no thread.
        Threads no action names continue too (this stub cannot hold some vCPUs while others run)."""
        rules: list[tuple[str, int, int | None]] = []
        for item in text.split(";"):
            action, _, tid_text = item.partition(":")
            kind = action[:1]
            if kind not in ("c", "C", "s", "S") or (kind in "cs" and len(action) != 1):
                return EINVAL
            signal = int(action[1:], 16) if kind in "CS" else 0
            tid = self._parse_tid(tid_text) if tid_text else None
            rules.append((kind.lower(), signal, None if tid in (None, -1) else tid))
        actions: dict[int, tuple[str, int]] = {}
        for t in self.target.threads():
            matching = ((kind, sig) for kind, sig, tid in rules if tid is None or self._thread(tid) == t)
            actions[t] = next(matching, ("c", 0))
        self.target.resume(actions)
        return None

    def _breakpoint(self, cmd: str, raw: bytes) -> Reply:
        type_text, addr_text, length_text = cmd[1:].split(",")[:3]
        type_ = int(type_text)
        if type_ not in BREAKPOINT_TYPES and type_ not in WATCH_KINDS:
            return ""
        length = int(length_text.partition(";")[0], 16)
        ok = self.target.set_breakpoint(type_, int(addr_text, 16), length, cmd[0] == "Z")
        return "OK" if ok else EINVAL

    def _detach(self, cmd: str, raw: bytes) -> Reply:
        self.send(b"OK")
        self.target.detach()
        return None

    def _kill(self, cmd: str, raw: bytes) -> Reply:
        self.target.kill()
        return None

    # -- queries -----------------------------------------------------------------------------------
    def _query(self, cmd: str, raw: bytes) -> Reply:
        name, _, args = cmd.partition(":")
        if name == "qSupported":
            self.multiprocess = "multiprocess+" in args.split(";")
            features = [f"PacketSize={PACKET_SIZE:x}", "qXfer:features:read+", "QStartNoAckMode+",
                        "vContSupported+", *self.target.features]
            if self.multiprocess:
                features.append("multiprocess+")
            return ";".join(features)
        if name == "QStartNoAckMode":
            self.no_ack = True
            return "OK"
        if name == "qAttached":
            return "1"
        if name == "qC":
            return f"QC{self._format_tid(self._thread(0))}"
        if name == "qfThreadInfo":
            return "m" + ",".join(self._format_tid(t) for t in self.target.threads())
        if name == "qsThreadInfo":
            return "l"
        if name.startswith("qThreadExtraInfo,"):
            tid = self._parse_tid(name.partition(",")[2])
            if tid not in self.target.threads():
                return EINVAL
            return self.target.thread_info(tid).encode().hex()
        if name == "qXfer":
            return self._xfer(args)
        if name == "qSymbol":
            return "OK"
        return ""

    def _xfer(self, args: str) -> Reply:
        """qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH"""
        obj, op, annex, span = args.split(":")
        if op != "read":
            return ""
        if obj == "features":
            if annex != "target.xml":
                return EINVAL
            data = self.target.arch.target_xml().encode()
        else:
            data = self.target.xfer(obj, annex)
            if data is None:
                return ""
        offset, length = self._addr_length(span)
        chunk = data[offset:offset + length]
        return (b"l" if offset + length >= len(data) else b"m") + escape(chunk)
