"""The socket chardev on real sockets: TCP on 127.0.0.1 (ephemeral ports) and unix sockets, driven by a
MainLoop polled from the test."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED
from pyqemu.chardev.registry import ChardevError
from pyqemu.chardev.socket import ChardevSocket
from pyqemu.core.main_loop import MainLoop

from .test_mux import Frontend, poll_until


@pytest.fixture
def loop() -> MainLoop:
    return MainLoop()


def recv_exactly(sock: socket.socket, size: int, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_tcp_server_accepts_delivers_and_survives_disconnect(loop: MainLoop) -> None:
    chr = ChardevSocket("s", loop, host="127.0.0.1", port=0, server=True, wait=False)
    try:
        assert chr.port and chr.port > 0
        assert chr.filename == f"disconnected:tcp:127.0.0.1:{chr.port},server=on"
        fe = Frontend(chr)
        # output while nobody is connected is dropped but reported as written
        assert chr.write(b"lost") == 4

        client = socket.create_connection(("127.0.0.1", chr.port))
        poll_until(loop, lambda: chr.connected)
        assert fe.events == [CHR_EVENT_OPENED]
        assert chr.filename.startswith("connected:tcp:")
        client.sendall(b"input from client")
        poll_until(loop, lambda: fe.data == b"input from client")
        chr.write(b"guest output")
        assert recv_exactly(client, 12) == b"guest output"

        client.close()
        poll_until(loop, lambda: not chr.connected)
        assert fe.events == [CHR_EVENT_OPENED, CHR_EVENT_CLOSED]
        # the VM keeps going: writes with no client are dropped, nothing raises
        for _ in range(3):
            assert chr.write(b"x" * 1000) == 1000
            loop.poll(0)

        second = socket.create_connection(("127.0.0.1", chr.port))
        poll_until(loop, lambda: chr.connected)
        second.sendall(b"again")
        poll_until(loop, lambda: fe.data == b"input from clientagain")
        chr.write(b"hello second")
        assert recv_exactly(second, 12) == b"hello second"
        second.close()
        poll_until(loop, lambda: not chr.connected)
    finally:
        chr.close()


def test_writing_to_a_vanished_peer_does_not_raise(loop: MainLoop) -> None:
    chr = ChardevSocket("s", loop, host="127.0.0.1", port=0, server=True, wait=False)
    try:
        fe = Frontend(chr)
        client = socket.create_connection(("127.0.0.1", chr.port))
        poll_until(loop, lambda: chr.connected)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # RST
        time.sleep(0.05)
        for _ in range(5):
            assert chr.write(b"y" * 10000) == 10000
        poll_until(loop, lambda: not chr.connected)
        assert CHR_EVENT_CLOSED in fe.events
    finally:
        chr.close()


def test_one_client_at_a_time(loop: MainLoop) -> None:
    chr = ChardevSocket("s", loop, host="127.0.0.1", port=0, server=True, wait=False)
    try:
        fe = Frontend(chr)
        first = socket.create_connection(("127.0.0.1", chr.port))
        poll_until(loop, lambda: chr.connected)
        waiting = socket.create_connection(("127.0.0.1", chr.port))  # sits in the backlog
        waiting.sendall(b"queued")
        first.sendall(b"first")
        poll_until(loop, lambda: fe.data == b"first")
        for _ in range(5):
            loop.poll(0.01)
        assert fe.data == b"first"
        first.close()
        poll_until(loop, lambda: fe.data == b"firstqueued")
        waiting.close()
    finally:
        chr.close()


def test_nodelay(loop: MainLoop) -> None:
    chr = ChardevSocket("s", loop, host="127.0.0.1", port=0, server=True, wait=False, nodelay=True)
    try:
        client = socket.create_connection(("127.0.0.1", chr.port))
        poll_until(loop, lambda: chr.connected)
        assert chr.conn is not None
        assert chr.conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        client.close()
    finally:
        chr.close()


def test_unix_server_wait_blocks_until_a_client_connects(loop: MainLoop, tmp_path: Path) -> None:
    path = str(tmp_path / "console.sock")
    clients: list[socket.socket] = []

    def connect_later() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
            except OSError:
                s.close()
                time.sleep(0.02)
                continue
            clients.append(s)
            return

    notices: list[str] = []
    thread = threading.Thread(target=connect_later)
    thread.start()
    chr = ChardevSocket("s", loop, path=path, server=True, wait=True, info=notices.append)
    thread.join()
    try:
        assert notices == [f"QEMU waiting for connection on: disconnected:unix:{path},server=on"]
        assert chr.connected
        fe = Frontend(chr)
        clients[0].sendall(b"hi")
        poll_until(loop, lambda: fe.data == b"hi")
        chr.write(b"ok")
        assert recv_exactly(clients[0], 2) == b"ok"
        clients[0].close()
        poll_until(loop, lambda: not chr.connected)
    finally:
        chr.close()
    assert not Path(path).exists()


def test_tcp_client_mode(loop: MainLoop) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    chr = ChardevSocket("c", loop, host="127.0.0.1", port=str(port))
    try:
        peer, _ = listener.accept()
        assert chr.connected
        fe = Frontend(chr)
        peer.sendall(b"from server")
        poll_until(loop, lambda: fe.data == b"from server")
        chr.write(b"to server")
        assert recv_exactly(peer, 9) == b"to server"
        peer.close()
        poll_until(loop, lambda: not chr.connected)
        assert chr.write(b"dropped") == 7
    finally:
        chr.close()
        listener.close()


def test_connect_refused(loop: MainLoop) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ChardevError) as exc:
        ChardevSocket("c", loop, host="127.0.0.1", port=port)
    assert str(exc.value) == f"Failed to connect to '127.0.0.1:{port}': Connection refused"


def test_bind_in_use(loop: MainLoop) -> None:
    first = ChardevSocket("a", loop, host="127.0.0.1", port=0, server=True, wait=False)
    try:
        with pytest.raises(ChardevError, match="Failed to bind socket: Address already in use"):
            ChardevSocket("b", loop, host="127.0.0.1", port=first.port, server=True, wait=False)
    finally:
        first.close()
