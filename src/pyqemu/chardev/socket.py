"""The ``socket`` character device backend (QEMU chardev/char-socket.c): a TCP or unix stream socket.

* ``server=on``: listen on ``host:port`` (or the unix ``path``) and serve one client at a time.  With
  ``wait=on`` (the default for servers) creating the chardev blocks until the first client connects,
  after announcing ``QEMU waiting for connection on: disconnected:tcp:HOST:PORT,server=on`` on stderr.
  When the client goes away the frontend gets ``CHR_EVENT_CLOSED`` and the next client is accepted.
* ``server=off``: connect to ``host:port``/``path`` at creation; losing the peer later closes the
  connection for good (``reconnect=`` is not modelled).

A peer that disconnects never stops the VM: while no client is connected, guest output is dropped (the
frontend is told it was written).  Frontends get ``CHR_EVENT_OPENED`` when a client connects.
``nodelay`` sets TCP_NODELAY on the connection.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
import sys
from collections.abc import Callable

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.chardev.registry import ChardevError
from pyqemu.core.main_loop import MainLoop

READ_CHUNK = 4096
#: output queued for a slow peer before writes start waiting for it
MAX_BUFFERED = 1 << 20


def _print_info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ChardevSocket(Chardev):
    """A stream socket chardev.  Give ``port`` (with ``host``; "" or None means every local address)
    for TCP, or ``path`` for a unix socket.

    ``info`` receives the "waiting for connection" notice (default: printed to stderr).  The bound
    address of a TCP server, useful with ``port=0``, is :attr:`port`.
    """

    def __init__(self, id: str, main_loop: MainLoop, *, host: str | None = None,
                 port: str | int | None = None, path: str | None = None, server: bool = False,
                 wait: bool = True, nodelay: bool = False,
                 info: Callable[[str], None] | None = None):
        super().__init__(id)
        if path is None and port is None:
            raise ChardevError("chardev: socket: no port given")
        self.main_loop = main_loop
        self.is_unix = path is not None
        self.host = host or ""
        self.port: int | None = None
        self.path = path
        self.server = server
        self.nodelay = nodelay
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self._out = bytearray()
        self._watching_output = False
        self._closed = False
        self._listening = False
        self._created_path = False
        if not self.is_unix:
            self.port = self._port_number(port)
        if server:
            self._listen()
            if wait:
                (info or _print_info)(f"QEMU waiting for connection on: {self.filename}")
                self._accept(block=True)
            if self.conn is None:
                self._watch_listener()
        else:
            self._connect()

    # -- addresses -----------------------------------------------------------------------------------
    @staticmethod
    def _port_number(port: str | int | None) -> int:
        if isinstance(port, int):
            return port
        if not port:
            raise ChardevError("chardev: socket: no port given")
        if port.isdigit():
            return int(port)
        try:
            return socket.getservbyname(port, "tcp")
        except OSError:
            raise ChardevError(f"Service '{port}' not found") from None

    @property
    def address_text(self) -> str:
        if self.is_unix:
            return f"unix:{self.path}"
        host = self.host or "0.0.0.0"
        if ":" in host:
            host = f"[{host}]"
        return f"tcp:{host}:{self.port}"

    @property
    def filename(self) -> str:
        """QEMU's description of the chardev's state, e.g. ``disconnected:tcp:127.0.0.1:4444,server=on``."""
        state = "connected" if self.conn is not None else "disconnected"
        return f"{state}:{self.address_text}" + (",server=on" if self.server else "")

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def _addrinfo(self, passive: bool) -> list[tuple]:
        host = self.host or None
        if host is not None and host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            return socket.getaddrinfo(host, self.port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                      socket.AI_PASSIVE if passive else 0)
        except socket.gaierror as exc:
            raise ChardevError(f"address resolution failed for {self.host}:{self.port}: {exc.strerror}") \
                from exc

    # -- server side ----------------------------------------------------------------------------------
    def _listen(self) -> None:
        if self.is_unix:
            assert self.path is not None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            try:
                sock.bind(self.path)
            except OSError as exc:
                sock.close()
                raise ChardevError(f"Failed to bind socket to {self.path}: {os.strerror(exc.errno or 0)}") \
                    from exc
            self._created_path = True
        else:
            sock = None
            last: OSError | None = None
            infos = self._addrinfo(passive=True)
            # with no host prefer IPv4's 0.0.0.0, as QEMU's default does
            infos.sort(key=lambda info: info[0] != socket.AF_INET)
            for family, type_, proto, _, addr in infos:
                candidate = socket.socket(family, type_, proto)
                candidate.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    candidate.bind(addr)
                except OSError as exc:
                    candidate.close()
                    last = exc
                    continue
                sock = candidate
                break
            if sock is None:
                reason = os.strerror(last.errno or 0) if last is not None else "no address"
                raise ChardevError(f"Failed to bind socket: {reason}")
            self.port = sock.getsockname()[1]
        sock.listen(1)
        sock.setblocking(False)
        self.listener = sock

    def _watch_listener(self) -> None:
        if self.listener is not None and not self._listening and not self._closed:
            self.main_loop.add_reader(self.listener.fileno(), self._on_listener)
            self._listening = True

    def _unwatch_listener(self) -> None:
        if self.listener is not None and self._listening:
            self.main_loop.remove_reader(self.listener.fileno())
            self._listening = False

    def _on_listener(self) -> None:
        self._accept(block=False)

    def _accept(self, block: bool) -> None:
        assert self.listener is not None
        if block:
            self.listener.setblocking(True)
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        finally:
            if block:
                self.listener.setblocking(False)
        # one client at a time: later ones wait in the backlog until this one leaves
        self._unwatch_listener()
        self._attach(conn)

    # -- client side ------------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self.is_unix:
            assert self.path is not None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                raise ChardevError(f"Failed to connect to '{self.path}': {os.strerror(exc.errno or 0)}") \
                    from exc
            self._attach(sock)
            return
        last: OSError | None = None
        for family, type_, proto, _, addr in self._addrinfo(passive=False):
            sock = socket.socket(family, type_, proto)
            try:
                sock.connect(addr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            self._attach(sock)
            return
        reason = os.strerror(last.errno or 0) if last is not None else "no address"
        raise ChardevError(f"Failed to connect to '{self.host}:{self.port}': {reason}")

    # -- connection -------------------------------------------------------------------------------------
    def _attach(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if self.nodelay and conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        self.main_loop.add_reader(conn.fileno(), self._on_readable)
        self.send_event(CHR_EVENT_OPENED)

    def disconnect(self) -> None:
        """Drop the current client (a server then waits for the next one)."""
        conn = self.conn
        if conn is None:
            return
        self.conn = None
        self.main_loop.remove_reader(conn.fileno())
        self.main_loop.remove_writer(conn.fileno())
        self._out.clear()
        self._watching_output = False
        conn.close()
        self.send_event(CHR_EVENT_CLOSED)
        if self.server:
            self._watch_listener()

    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        super().set_handlers(can_receive, receive, event)
        # attaching while a client is already connected (server with wait=on, client mode) reports it
        if event is not None and self.conn is not None:
            self.send_event(CHR_EVENT_OPENED)

    def _on_readable(self) -> None:
        if self.conn is None:
            return
        try:
            data = self.conn.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.disconnect()
            return
        self.deliver(data)

    def write(self, data: bytes) -> int:
        """Queue output and send what the peer takes now; the rest goes out as the socket drains (the
        main loop watches it).  Past :data:`MAX_BUFFERED` bytes the write waits for the peer, as QEMU's
        blocking chardev write does."""
        if self.conn is None:
            return len(data)
        self._out += data
        self._flush()
        while self.conn is not None and len(self._out) > MAX_BUFFERED:
            select.select([], [self.conn], [], 1.0)
            self._flush()
        return len(data)

    def _flush(self) -> None:
        conn = self.conn
        while conn is not None and self._out:
            try:
                sent = conn.send(self._out, socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ETIMEDOUT):
                    raise
                self.disconnect()
                return
            del self._out[:sent]
        if conn is None:
            return
        if self._out and not self._watching_output:
            self.main_loop.add_writer(conn.fileno(), self._flush)
            self._watching_output = True
        elif not self._out and self._watching_output:
            self.main_loop.remove_writer(conn.fileno())
            self._watching_output = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.conn is not None:
            conn, self.conn = self.conn, None
            self.main_loop.remove_reader(conn.fileno())
            self.main_loop.remove_writer(conn.fileno())
            if self._out:  # what is still queued (a monitor's last reply and events) goes out first
                with contextlib.suppress(OSError):
                    conn.settimeout(1.0)
                    conn.sendall(self._out)
            conn.close()
        if self.listener is not None:
            self._unwatch_listener()
            self.listener.close()
            self.listener = None
        if self._created_path and self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
