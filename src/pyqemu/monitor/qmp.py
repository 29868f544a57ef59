"""The QMP server (QEMU monitor/qmp.c, qapi/qmp-dispatch.c, qobject/json-streamer.c; the protocol of
docs/interop/qmp-spec.rst) on a character device.

A client that connects gets the greeting ``{"QMP": {"version": ..., "capabilities": []}}`` and must send
``qmp_capabilities`` before anything else.  Input is a stream of JSON objects, each ``{"execute": NAME,
"arguments": {...}, "id": ANY}``; each gets one reply, ``{"return": VALUE}`` or ``{"error": {"class":
CLASS, "desc": TEXT}}``, carrying the request's ``id``.  Asynchronous events ``{"event": NAME, "data":
{...}, "timestamp": {"seconds": S, "microseconds": US}}`` go to every session past negotiation.  Output
lines end in CR LF as QEMU's do.

Bad input never ends the session or the VM: malformed JSON, a value that is not an object, a missing or
mistyped ``execute``, unknown commands and arguments that do not fit the schema each get an error reply
in QEMU's wording; a byte 0xFF or a lexical error resets the JSON reader, as in QEMU.  A client that
goes away mid-command loses its reply; the next client starts a fresh session.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from pyqemu import QEMU_VERSION
from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.qapi import schema as qapi_schema
from pyqemu.qapi.visit import QapiError, check_members

#: QEMU's json-streamer limits
MAX_NESTING = 1024
MAX_TOKEN_SIZE = 64 << 20


class QmpError(Exception):
    """A command failed: ``error_class`` is QMP's ErrorClass (GenericError, CommandNotFound,
    DeviceNotFound...)."""

    def __init__(self, desc: str, error_class: str = "GenericError"):
        super().__init__(desc)
        self.error_class = error_class


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid keyword '{name}'")


class JsonStreamer:
    """Splits a byte stream into complete JSON values (QEMU's streamer: brackets are counted outside
    strings; a value ends when they balance).  :meth:`feed` yields each parsed value, or a
    :class:`QmpError` for text that is not JSON."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.buf = bytearray()
        self.depth = 0
        self.quote = 0  # the open string's quote byte, 0 outside strings
        self.escape = False

    def feed(self, data: bytes) -> Iterator[Any]:
        for byte in data:
            if byte == 0xFF:  # QEMU: a byte that never appears in JSON resets the parser
                self._reset()
                continue
            if self.quote:
                self.buf.append(byte)
                if self.escape:
                    self.escape = False
                elif byte == 0x5C:
                    self.escape = True
                elif byte == self.quote:
                    self.quote = 0
            elif byte in b"{[":
                self.buf.append(byte)
                self.depth += 1
                if self.depth > MAX_NESTING:
                    self._reset()
                    yield QmpError("JSON nesting depth limit exceeded")
                    continue
            elif byte in b"}]":
                self.buf.append(byte)
                self.depth -= 1
                if self.depth <= 0:
                    yield self._parse()
            elif byte in b"\"'":
                self.buf.append(byte)
                self.quote = byte
            elif byte in b" \t\r\n":
                if self.depth == 0 and self.buf:
                    yield self._parse()  # a bare scalar ends at white space
                elif self.buf:
                    self.buf.append(byte)
            else:
                self.buf.append(byte)
            if len(self.buf) > MAX_TOKEN_SIZE:
                self._reset()
                yield QmpError("JSON token size limit exceeded")

    def _parse(self) -> Any:
        text = bytes(self.buf)
        unbalanced = self.depth < 0
        self._reset()
        if unbalanced:
            return QmpError("JSON parse error, expecting value")
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            return QmpError("JSON parse error, invalid UTF-8 sequence in string")
        try:
            return json.loads(decoded, parse_constant=_reject_constant)
        except ValueError as exc:
            single = _single_quoted(decoded)
            if single is not None:
                return single
            detail = str(exc)
            if detail.startswith("invalid keyword"):
                return QmpError(f"JSON parse error, {detail}")
            return QmpError(f"JSON parse error, {detail.split(':')[0].lower()}")
        except RecursionError:
            return QmpError("JSON nesting depth limit exceeded")


def _single_quoted(text: str) -> Any:
    """QEMU's JSON extension: strings may be single-quoted.  Rewrite them as double-quoted strings and
    parse again; None if that does not help."""
    if "'" not in text:
        return None
    out = []
    quote = ""
    escape = False
    for ch in text:
        if quote:
            if escape:
                escape = False
                out.append("'" if ch == "'" else "\\" + ch)
                continue
            if ch == "\\":
                escape = True
                continue
            if ch == quote:
                quote = ""
                out.append('"')
            elif ch == '"' and quote == "'":
                out.append('\\"')
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
            out.append('"')
        else:
            out.append(ch)
    try:
        return json.loads("".join(out), parse_constant=_reject_constant)
    except ValueError:
        return None


def timestamp() -> dict[str, int]:
    now = time.time()
    seconds = int(now)
    return {"seconds": seconds, "microseconds": int((now - seconds) * 1e6)}


def greeting() -> dict[str, Any]:
    major, minor, micro = (int(x) for x in QEMU_VERSION.split("."))
    return {"QMP": {"version": {"qemu": {"micro": micro, "minor": minor, "major": major}, "package": ""},
                    "capabilities": []}}


Handler = Callable[[dict[str, Any]], Any]


class QmpDispatcher:
    """The command table of one VM: names to handlers taking the checked argument dict."""

    def __init__(self) -> None:
        self.schema = qapi_schema.load()
        self.handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        if name not in self.schema.commands:
            raise KeyError(f"command {name!r} is not in the QAPI schema")
        self.handlers[name] = handler

    def dispatch(self, name: str, args: dict[str, Any]) -> Any:
        cmd = self.schema.commands.get(name)
        handler = self.handlers.get(name)
        if cmd is None or handler is None:
            raise QmpError(f"The command {name} has not been found", "CommandNotFound")
        try:
            check_members(self.schema, self.schema.types[cmd.arg_type], args, open_members=cmd.open_args)
        except QapiError as exc:
            raise QmpError(str(exc)) from None
        result = handler(args)
        return {} if result is None and cmd.ret_type is None else result


class QmpMonitor:
    """One QMP monitor on ``chardev``.  :meth:`start` enables it once the machine is built (the
    greeting waits until then, as QEMU's does)."""

    def __init__(self, chardev: Chardev, dispatcher: QmpDispatcher, pretty: bool = False):
        self.chardev = chardev
        self.dispatcher = dispatcher
        self.pretty = pretty
        self.streamer = JsonStreamer()
        self.negotiated = False
        self.opened = False
        self.started = False
        chardev.set_handlers(lambda: 4096, self._receive, self._event)

    def start(self) -> None:
        self.started = True
        if self.opened:
            self.send(greeting())

    # -- output ----------------------------------------------------------------------------------------
    def send(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj, indent=4 if self.pretty else None)
        self.chardev.write((text + "\n").replace("\n", "\r\n").encode())

    def event(self, name: str, data: dict[str, Any] | None) -> None:
        if not self.negotiated:
            return
        msg: dict[str, Any] = {"timestamp": timestamp(), "event": name}
        if data is not None:
            msg["data"] = data
        self.send(msg)

    # -- input -----------------------------------------------------------------------------------------
    def _event(self, event: int) -> None:
        if event == CHR_EVENT_OPENED:
            self.opened = True
            self.negotiated = False
            self.streamer = JsonStreamer()
            if self.started:
                self.send(greeting())
        elif event == CHR_EVENT_CLOSED:
            # as in QEMU, the capabilities stay negotiated: with ``-qmp stdio`` events still go to stdout
            # once stdin is at its end (a socket's chardev drops them until the next client opens it)
            self.opened = False

    def _receive(self, data: bytes) -> None:
        for request in self.streamer.feed(data):
            reply = self.handle(request)
            if reply is not None:
                self.send(reply)

    def handle(self, request: Any) -> dict[str, Any]:
        """The reply to one parsed request (or to a QmpError from the reader)."""
        if isinstance(request, QmpError):
            return _error(request)
        if not isinstance(request, dict):
            return _error(QmpError("QMP input must be a JSON object"))
        ident = request.get("id")
        try:
            result = self._execute(request)
        except QmpError as exc:
            reply = _error(exc)
        else:
            reply = {"return": result}
        if "id" in request:
            reply["id"] = ident
        return reply

    def _execute(self, request: dict[str, Any]) -> Any:
        for key in request:
            if key not in ("execute", "exec-oob", "arguments", "id"):
                raise QmpError(f"QMP input member '{key}' is unexpected")
        if "exec-oob" in request:
            raise QmpError("QMP input member 'exec-oob' is unexpected: Out-Of-Band is not enabled")
        if "execute" not in request:
            raise QmpError("QMP input lacks member 'execute'")
        name = request["execute"]
        if not isinstance(name, str):
            raise QmpError("QMP input member 'execute' must be a string")
        args = request.get("arguments", {})
        if not isinstance(args, dict):
            raise QmpError("QMP input member 'arguments' must be an object")
        if name == "qmp_capabilities":
            if self.negotiated:
                raise QmpError("Capabilities negotiation is already complete, command ignored",
                               "CommandNotFound")
            self.dispatcher.dispatch(name, args)
            for capability in args.get("enable", []):
                raise QmpError(f"Capability '{capability}' not available")
            self.negotiated = True
            return {}
        if not self.negotiated:
            raise QmpError("Expecting capabilities negotiation with 'qmp_capabilities'", "CommandNotFound")
        try:
            return self.dispatcher.dispatch(name, args)
        except QmpError:
            raise
        except Exception as exc:  # a failing command must not take the monitor down
            if os.environ.get("PYQEMU_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            raise QmpError(f"internal error in '{name}': {type(exc).__name__}: {exc}") from None


def _error(exc: QmpError) -> dict[str, Any]:
    return {"error": {"class": exc.error_class, "desc": str(exc)}}
