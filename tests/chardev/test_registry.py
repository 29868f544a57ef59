"""Building chardevs from -chardev options and translating the legacy -serial syntax."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pyqemu.chardev.base import Chardev
from pyqemu.chardev.file import ChardevFile
from pyqemu.chardev.mux import ChardevMux
from pyqemu.chardev.null import ChardevNull
from pyqemu.chardev.registry import ChardevError, backend_help_text, create_chardev, parse_serial_spec
from pyqemu.chardev.socket import ChardevSocket
from pyqemu.cli.qemu_opts import parse_opts
from pyqemu.core.main_loop import MainLoop

from .test_mux import Frontend, poll_until


@pytest.fixture
def loop() -> MainLoop:
    return MainLoop()


def chardev(text: str, loop: MainLoop) -> Chardev:
    return create_chardev(parse_opts(text, implied_key="backend"), loop)


# -- -serial legacy syntax -------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,opts,mux", [
    ("stdio", {"id": "serial0", "backend": "stdio"}, False),
    ("mon:stdio", {"id": "serial0", "backend": "stdio", "mux": "on", "signal": "off"}, True),
    ("null", {"id": "serial0", "backend": "null"}, False),
    ("mon:null", {"id": "serial0", "backend": "null", "mux": "on"}, True),
    ("none", {}, False),
    ("file:/tmp/serial,log", {"id": "serial0", "backend": "file", "path": "/tmp/serial,log"}, False),
    ("tcp:127.0.0.1:4444", {"id": "serial0", "backend": "socket", "host": "127.0.0.1", "port": "4444"},
     False),
    ("tcp::4444,server=on,wait=off", {"id": "serial0", "backend": "socket", "host": "", "port": "4444",
                                      "server": "on", "wait": "off"}, False),
    ("tcp:localhost:4444,server,nowait", {"id": "serial0", "backend": "socket", "host": "localhost",
                                          "port": "4444", "server": "on", "wait": "off"}, False),
    ("tcp:[::1]:5555,server", {"id": "serial0", "backend": "socket", "host": "::1", "port": "5555",
                               "server": "on"}, False),
    ("unix:/tmp/s.sock,server,nowait", {"id": "serial0", "backend": "socket", "path": "/tmp/s.sock",
                                        "server": "on", "wait": "off"}, False),
    ("chardev:con0", {"chardev": "con0"}, False),
])
def test_parse_serial_spec(spec: str, opts: dict[str, str], mux: bool) -> None:
    assert parse_serial_spec(spec) == (opts, mux)


def test_parse_serial_spec_label() -> None:
    assert parse_serial_spec("null", label="serial1") == ({"id": "serial1", "backend": "null"}, False)


@pytest.mark.parametrize("spec", ["bogus", "pty", "file:", "tcp:4444", "unix:", "chardev:", "vc:80Cx24C"])
def test_parse_serial_spec_errors(spec: str) -> None:
    with pytest.raises(ChardevError) as exc:
        parse_serial_spec(spec)
    assert str(exc.value) == f"could not connect serial device to character backend '{spec}'"


def test_parse_serial_spec_telnet_refused() -> None:
    with pytest.raises(ChardevError, match="telnet"):
        parse_serial_spec("telnet::4444,server")


# -- create_chardev ----------------------------------------------------------------------------------------


def test_create_null_and_file(loop: MainLoop, tmp_path: Path) -> None:
    null = chardev("null,id=n0", loop)
    assert isinstance(null, ChardevNull) and null.id == "n0"
    out = tmp_path / "out,log"
    f = chardev(f"file,id=f0,path={str(out).replace(',', ',,')}", loop)
    assert isinstance(f, ChardevFile)
    f.write(b"data")
    f.close()
    assert out.read_bytes() == b"data"


def test_create_file_with_input(loop: MainLoop, tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"keys")
    f = chardev(f"file,id=f0,path={tmp_path / 'out'},in={tmp_path / 'in'}", loop)
    fe = Frontend(f)
    poll_until(loop, lambda: fe.data == b"keys")
    f.close()


def test_create_socket_server(loop: MainLoop) -> None:
    s = chardev("socket,id=s0,host=127.0.0.1,port=0,server=on,wait=off,nodelay", loop)
    try:
        assert isinstance(s, ChardevSocket) and s.server and s.nodelay
        fe = Frontend(s)
        client = socket.create_connection(("127.0.0.1", s.port))
        client.sendall(b"ping")
        poll_until(loop, lambda: fe.data == b"ping")
        client.close()
    finally:
        s.close()


def test_create_from_serial_spec(loop: MainLoop) -> None:
    opts, mux_monitor = parse_serial_spec("tcp:127.0.0.1:0,server,nowait")
    s = create_chardev(opts, loop)
    assert isinstance(s, ChardevSocket) and s.id == "serial0" and not mux_monitor
    s.close()


def test_create_mux(loop: MainLoop) -> None:
    quits: list[int] = []
    mux = create_chardev(parse_opts("null,id=con,mux=on", implied_key="backend"), loop,
                         quit=lambda: quits.append(1))
    assert isinstance(mux, ChardevMux) and mux.id == "con"
    assert isinstance(mux.backend, ChardevNull) and mux.backend.id == "con-base"
    Frontend(mux.add_frontend())
    mux.backend.deliver(b"\x01x")
    assert quits == [1]


@pytest.mark.parametrize("text,message", [
    ("foo,id=x", "'foo' is not a valid char driver name"),
    ("pty,id=x", "'pty' is not a valid char driver name"),
    ("null", "chardev: no id specified"),
    ("id=x", 'chardev: "x" missing backend'),
    ("null,id=9x", "Parameter 'id' expects an identifier"),
    ("null,id=x,colour=red", "Invalid parameter 'colour'"),
    ("file,id=x", "chardev: file: no filename given"),
    ("socket,id=x,port=4444", "chardev: socket: no host given"),
    ("socket,id=x,host=localhost", "chardev: socket: no port given"),
    ("socket,id=x,host=localhost,port=1,telnet=on", "chardev: socket: the telnet protocol is not supported"),
    ("socket,id=x,host=localhost,port=1,server=maybe", "Parameter 'server' expects 'on' or 'off'"),
    ("null,id=x,mux=sometimes", "Parameter 'mux' expects 'on' or 'off'"),
])
def test_create_errors(loop: MainLoop, text: str, message: str) -> None:
    with pytest.raises(ChardevError) as exc:
        chardev(text, loop)
    assert str(exc.value).startswith(message)


def test_help(loop: MainLoop, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        chardev("help", loop)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out == backend_help_text() + "\n"
    lines = out.splitlines()
    assert lines[0].startswith("Available chardev backend types:")
    assert [line.strip() for line in lines[1:]] == ["file", "null", "socket", "stdio"]
