"""Creating character devices from the command line (QEMU chardev/char.c: qemu_chr_new_from_opts and
qemu_chr_parse_compat).

* :func:`create_chardev` builds a backend from ``-chardev BACKEND,id=ID,...`` options (as
  :func:`pyqemu.cli.qemu_opts.parse_opts` returns them with ``implied_key="backend"``); ``mux=on``
  wraps it in a :class:`~pyqemu.chardev.mux.ChardevMux`.
* :func:`parse_serial_spec` translates the legacy one-word syntax of ``-serial`` (also ``-monitor``):
  ``stdio``, ``mon:stdio``, ``null``, ``none``, ``file:PATH``, ``tcp:HOST:PORT[,server=on,wait=off]``,
  ``unix:PATH[,server=on...]``, ``chardev:ID`` into such options.

Supported backends: null, file, stdio, socket.  ``-chardev help`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyqemu.cli.qemu_opts import OptsError, check_id, parse_bool, parse_number, parse_opts

if TYPE_CHECKING:
    from pyqemu.chardev.base import Chardev
    from pyqemu.core.main_loop import MainLoop

__all__ = ["BACKENDS", "ChardevError", "backend_help_text", "create_chardev", "parse_serial_spec"]


class ChardevError(OptsError):
    """A chardev cannot be created: bad options, or the host resource failed (file, socket...)."""


#: The backend types pyqemu implements, in ``-chardev help`` order.
BACKENDS = ("file", "null", "socket", "stdio")

#: Parameters the -chardev option list knows (QEMU accepts these for every backend and ignores those the
#: backend does not use); anything else is an "Invalid parameter".
_KNOWN_PARAMS = frozenset({
    "backend", "id", "mux", "signal", "path", "in", "input-path", "append", "host", "port", "to",
    "ipv4", "ipv6", "localaddr", "localport", "server", "wait", "delay", "nodelay", "reconnect", "telnet",
    "tn3270", "websocket", "tls-creds", "tls-authz", "logfile", "logappend", "logtimestamp", "fd",
    "name", "debug", "size", "chardev", "width", "height", "cols", "rows", "abstract", "tight",
})


def backend_help_text() -> str:
    """What ``-chardev help`` prints."""
    return "Available chardev backend types: " + "".join(f"\n  {name}" for name in BACKENDS)


def _bool(opts: dict[str, str], name: str, default: bool) -> bool:
    value = opts.get(name)
    return default if value is None else parse_bool(name, value)


def create_chardev(opts: dict[str, str], main_loop: MainLoop, *, quit: Callable[[], None] | None = None,
                   flush: Callable[[], None] | None = None,
                   info: Callable[[str], None] | None = None) -> Chardev:
    """Build the chardev ``opts`` describes.

    ``quit``/``flush`` are the C-a x / C-a s hooks of a ``mux=on`` chardev; ``info`` receives the socket
    server's "waiting for connection" notice (default: stderr).  ``backend=help`` prints the list of
    backends and exits with status 0, as QEMU does.  Errors raise :class:`ChardevError` with QEMU's
    wording.
    """
    backend = opts.get("backend")
    id = opts.get("id")
    if backend is not None and backend in ("help", "?"):
        print(backend_help_text())
        raise SystemExit(0)
    if id is None:
        raise ChardevError("chardev: no id specified")
    try:
        check_id(id)
    except OptsError as exc:
        raise ChardevError(str(exc), exc.hint) from None
    if backend is None:
        raise ChardevError(f'chardev: "{id}" missing backend')
    for key in opts:
        if key not in _KNOWN_PARAMS:
            raise ChardevError(f"Invalid parameter '{key}'")
    if backend not in BACKENDS:
        raise ChardevError(f"'{backend}' is not a valid char driver name")
    try:
        mux = _bool(opts, "mux", False)
        if opts.get("logfile"):
            raise ChardevError("chardev: the 'logfile' option is not supported by pyqemu")
        chr = _create_backend(backend, f"{id}-base" if mux else id, opts, main_loop, info)
    except ChardevError:
        raise
    except OptsError as exc:
        raise ChardevError(str(exc), exc.hint) from None
    if not mux:
        return chr
    from pyqemu.chardev.mux import ChardevMux

    return ChardevMux(id, chr, quit=quit, flush=flush)


def _create_backend(backend: str, id: str, opts: dict[str, str], main_loop: MainLoop,
                    info: Callable[[str], None] | None) -> Chardev:
    if backend == "null":
        from pyqemu.chardev.null import ChardevNull

        return ChardevNull(id)
    if backend == "file":
        from pyqemu.chardev.file import ChardevFile

        path = opts.get("path")
        if not path:
            raise ChardevError("chardev: file: no filename given")
        in_path = opts.get("in", opts.get("input-path"))
        return ChardevFile(id, main_loop, path, in_path=in_path or None, append=_bool(opts, "append", False))
    if backend == "stdio":
        from pyqemu.chardev.stdio import ChardevStdio

        return ChardevStdio(id, main_loop, signal=_bool(opts, "signal", True))
    assert backend == "socket"
    from pyqemu.chardev.socket import ChardevSocket

    if _bool(opts, "telnet", False) or _bool(opts, "tn3270", False):
        raise ChardevError("chardev: socket: the telnet protocol is not supported by pyqemu")
    if _bool(opts, "websocket", False) or opts.get("tls-creds"):
        raise ChardevError("chardev: socket: websocket and TLS are not supported by pyqemu")
    if opts.get("reconnect") and parse_number("reconnect", opts["reconnect"]) != 0:
        raise ChardevError("chardev: socket: 'reconnect' is not supported by pyqemu")
    server = _bool(opts, "server", False)
    wait = _bool(opts, "wait", True)
    # QEMU 2.x spells it "nodelay" -> delay=off; later versions also take nodelay=on
    nodelay = _bool(opts, "nodelay", False) or not _bool(opts, "delay", True)
    path = opts.get("path")
    if path is not None:
        return ChardevSocket(id, main_loop, path=path, server=server, wait=wait, info=info)
    host = opts.get("host")
    if host is None:
        raise ChardevError("chardev: socket: no host given")
    port = opts.get("port")
    if not port:
        raise ChardevError("chardev: socket: no port given")
    return ChardevSocket(id, main_loop, host=host, port=port, server=server, wait=wait, nodelay=nodelay,
                         info=info)


def parse_serial_spec(spec: str, label: str = "serial0") -> tuple[dict[str, str], bool]:
    """Translate a legacy ``-serial``/``-monitor`` argument into ``(opts, mux_monitor)``.

    ``opts`` is for :func:`create_chardev` with ``id=label``; ``mon:`` adds ``mux=on`` (and, for
    ``mon:stdio``, ``signal=off`` so that Ctrl-C reaches the guest) and sets ``mux_monitor``: the
    caller attaches the monitor to the resulting mux as well.  Two special results have no backend:
    ``none`` gives ``{}`` (no device at all) and ``chardev:ID`` gives ``{"chardev": ID}`` (use the
    existing -chardev ``ID``).
    """
    error = ChardevError(f"could not connect serial device to character backend '{spec}'")
    rest = spec
    mux_monitor = False
    if rest.startswith("chardev:"):
        target = rest[len("chardev:"):]
        if not target:
            raise error
        return {"chardev": target}, False
    if rest == "none":
        return {}, False
    opts: dict[str, str] = {"id": label}
    if rest.startswith("mon:"):
        rest = rest[len("mon:"):]
        mux_monitor = True
        opts["mux"] = "on"
        if rest == "stdio":
            opts["signal"] = "off"
    try:
        if rest in ("null", "stdio"):
            opts["backend"] = rest
        elif rest.startswith("file:") and len(rest) > len("file:"):
            opts.update(backend="file", path=rest[len("file:"):])
        elif rest.startswith("tcp:"):
            address, _, extra = rest[len("tcp:"):].partition(",")
            host, port = _split_host_port(address)
            if not port:
                raise error
            opts.update(parse_opts(extra))
            opts.update(backend="socket", host=host, port=port)
        elif rest.startswith("unix:"):
            unix = parse_opts(rest[len("unix:"):], implied_key="path")
            if not unix.get("path"):
                raise error
            opts.update(unix)
            opts["backend"] = "socket"
        elif rest.startswith("telnet:"):
            raise ChardevError("chardev: socket: the telnet protocol is not supported by pyqemu")
        else:
            raise error
    except OptsError as exc:
        if isinstance(exc, ChardevError):
            raise
        raise ChardevError(str(exc), exc.hint) from None
    return opts, mux_monitor


def _split_host_port(address: str) -> tuple[str, str]:
    """``HOST:PORT`` (HOST may be empty or a bracketed IPv6 address) into its parts."""
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
        if not sep:
            return address, ""
        return host, port
    host, sep, port = address.rpartition(":")
    if not sep:
        return "", ""
    return host, port
