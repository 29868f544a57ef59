"""QMP: the JSON reader, dispatch and schema checks in process, then a real ``pyqemu-system-riscv64``
driven by the PyPI ``qemu.qmp`` client (every command of the interface and the events), by
``qmp-shell``, over ``-qmp unix:``/``-qmp tcp:``/``-mon mode=control``/``-qmp stdio``, with several
monitors at once.  Expected replies are QEMU's (qapi/*.json shapes, its error classes and messages)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cli.system_helpers import build_programs, clean_env, system_cmd

from pyqemu.monitor.qmp import JsonStreamer, QmpError, QmpMonitor
from pyqemu.monitor.qmp_commands import QmpCommands
from pyqemu.monitor.target import MonitorTarget
from pyqemu.qapi import schema as qapi_schema
from pyqemu.qapi.introspect import schema_info

qmp = pytest.importorskip("qemu.qmp")


# -- in process ----------------------------------------------------------------------------------------

def _feed(text: bytes) -> list[Any]:
    return list(JsonStreamer().feed(text))


def test_streamer_splits_values() -> None:
    out = _feed(b'{"execute": "a"}{"execute":\n "b", "x": "}{"}  [1, [2]] ')
    assert out == [{"execute": "a"}, {"execute": "b", "x": "}{"}, [1, [2]]]


def test_streamer_errors_and_recovery() -> None:
    s = JsonStreamer()
    out = list(s.feed(b'{"a": tru} 42 nope {"b": "c\\"}"} }'))
    assert isinstance(out[0], QmpError) and out[0].args[0].startswith("JSON parse error")
    assert out[1] == 42
    assert isinstance(out[2], QmpError)
    assert out[3] == {"b": 'c"}'}
    assert isinstance(out[4], QmpError)  # a stray closing brace
    # 0xFF resets a half-read value
    assert list(s.feed(b'{"half": \xff{"ok": 1}')) == [{"ok": 1}]
    deep = list(s.feed(b"[" * 2000))
    assert isinstance(deep[0], QmpError) and "nesting" in deep[0].args[0]
    assert list(s.feed(b"\xff{'single': 'quoted'}")) == [{"single": "quoted"}]


def test_schema_is_complete() -> None:
    schema = qapi_schema.load()
    commands = QmpCommands(MonitorTarget(machine=None))
    assert set(commands.dispatcher.handlers) == set(schema.commands)
    info = schema_info(schema)
    names = {entry["name"] for entry in info}
    for entry in info:  # every reference resolves within the introspection data
        for key in ("arg-type", "ret-type", "element-type"):
            if key in entry:
                assert entry[key] in names, entry
        for member in entry.get("members", []):
            if "type" in member:
                assert member["type"] in names, entry
    assert {"STOP", "RESUME", "RESET", "SHUTDOWN", "POWERDOWN", "DEVICE_DELETED", "BLOCK_IO_ERROR"} <= names


class _Wire:
    """A chardev stand-in that records what the monitor sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.handlers: Any = None

    def set_handlers(self, *handlers: Any) -> None:
        self.handlers = handlers

    def write(self, data: bytes) -> int:
        assert data.endswith(b"\r\n")
        self.sent.append(json.loads(data))
        return len(data)

    def send(self, obj: Any) -> dict[str, Any]:
        raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.handlers[1](raw)
        return self.sent.pop()


def _session() -> tuple[QmpMonitor, _Wire]:
    wire = _Wire()
    monitor = QmpMonitor(wire, QmpCommands(MonitorTarget(machine=None)).dispatcher)  # type: ignore[arg-type]
    monitor.start()
    monitor._event(0)  # CHR_EVENT_OPENED: the greeting
    assert wire.sent.pop()["QMP"]["version"]["qemu"] == {"major": 2, "minor": 1, "micro": 0}
    return monitor, wire


def _err(reply: dict[str, Any]) -> tuple[str, str]:
    return reply["error"]["class"], reply["error"]["desc"]


def test_negotiation_and_protocol_errors() -> None:
    _, wire = _session()
    assert _err(wire.send({"execute": "query-version"})) == (
        "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'")
    assert wire.send({"execute": "qmp_capabilities", "id": 7}) == {"return": {}, "id": 7}
    assert _err(wire.send({"execute": "qmp_capabilities"})) == (
        "CommandNotFound", "Capabilities negotiation is already complete, command ignored")
    assert _err(wire.send({"execute": "no-such", "id": "x"}))[0] == "CommandNotFound"
    assert wire.send({"execute": "no-such", "id": "x"})["id"] == "x"
    assert _err(wire.send([1])) == ("GenericError", "QMP input must be a JSON object")
    assert _err(wire.send({"arguments": {}})) == ("GenericError", "QMP input lacks member 'execute'")
    assert _err(wire.send({"execute": 1})) == ("GenericError", "QMP input member 'execute' must be a string")
    assert _err(wire.send({"execute": "stop", "arguments": []})) == (
        "GenericError", "QMP input member 'arguments' must be an object")
    assert _err(wire.send({"execute": "stop", "bogus": 1})) == (
        "GenericError", "QMP input member 'bogus' is unexpected")
    assert _err(wire.send(b'{"execute": }'))[1].startswith("JSON parse error")


def test_argument_checks() -> None:
    _, wire = _session()
    wire.send({"execute": "qmp_capabilities"})
    cases = [
        ({"execute": "qom-get", "arguments": {"path": "/"}}, "Parameter 'property' is missing"),
        ({"execute": "qom-list", "arguments": {"path": 3}},
         "Invalid parameter type for 'path', expected: string"),
        ({"execute": "qom-list", "arguments": {"path": "/", "x": 1}}, "Parameter 'x' is unexpected"),
        ({"execute": "screendump", "arguments": {"filename": "f", "format": "gif"}},
         "Parameter 'format' does not accept value 'gif'"),
        ({"execute": "pmemsave", "arguments": {"val": "0", "size": 1, "filename": "f"}},
         "Invalid parameter type for 'val', expected: integer"),
        ({"execute": "qmp_capabilities", "arguments": {"enable": "oob"}}, None),
    ]
    for request, message in cases:
        reply = wire.send(request)
        if message is not None:
            assert _err(reply) == ("GenericError", message)


# -- a real VM -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_programs(tmp_path_factory.mktemp("qmp-baremetal"))


class VM:
    """A running emulator; ``qmp_path`` is its first QMP socket."""

    def __init__(self, tmp: Path, kernel: Path, *extra: str, bios: tuple[str, ...] = ("-bios", "none")):
        self.qmp_path = str(tmp / "qmp.sock")
        self.proc = subprocess.Popen(
            [*system_cmd(), "-M", "virt", *bios, "-kernel", str(kernel), "-display", "none",
             "-serial", "null", "-qmp", f"unix:{self.qmp_path},server=on,wait=off", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
            env=clean_env())
        deadline = time.monotonic() + 60
        while not os.path.exists(self.qmp_path):
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def run_until_exit(self, scenario: Callable[[], Awaitable[None]], timeout: float = 30) -> None:
        """Run the client ``scenario``, which ends the VM; it must exit with status 0."""
        try:
            asyncio.run(scenario())
            assert self.proc.wait(timeout=timeout) == 0
        finally:
            self.close()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        _, self.stderr = self.proc.communicate(timeout=30)
        return self.proc.returncode


async def _client(path: str | tuple[str, int]) -> Any:
    client = qmp.QMPClient("test")
    await client.connect(path)
    return client


async def _hang_up(*clients: Any) -> None:
    """Disconnect from a VM that may already have closed the connection."""
    for client in clients:
        try:
            await client.disconnect()
        except EOFError:
            pass


async def _event(client: Any, name: str, timeout: float = 20) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        async for event in client.events:
            if event["event"] == name:
                return dict(event)
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(wait(), timeout)


async def _fails(client: Any, cmd: str, args: dict[str, Any] | None = None) -> tuple[str, str]:
    with pytest.raises(qmp.ExecuteError) as info:
        await client.execute(cmd, args or {})
    error = info.value.error.error
    return error.class_, error.desc


def test_every_command_through_qemu_qmp(programs: dict[str, Path], tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    vm = VM(tmp_path, programs["loop"], "-name", "guest1", "-drive", f"file={disk},if=virtio,format=raw",
            "-chardev", "null,id=spare")

    async def run() -> None:
        c = await _client(vm.qmp_path)
        assert c.greeting.QMP.capabilities == []
        commands = {x["name"] for x in await c.execute("query-commands")}
        assert {"query-status", "device_add", "qom-get", "block_set_io_throttle"} <= commands
        schema = await c.execute("query-qmp-schema")
        assert {e["name"] for e in schema if e["meta-type"] == "command"} == commands
        assert await c.execute("query-version") == {"qemu": {"major": 2, "minor": 1, "micro": 0},
                                                    "package": ""}
        assert await c.execute("query-name") == {"name": "guest1"}
        assert await c.execute("query-uuid") == {"UUID": "00000000-0000-0000-0000-000000000000"}
        assert await c.execute("query-kvm") == {"enabled": False, "present": False}
        assert await c.execute("query-status") == {"running": True, "singlestep": False, "status": "running"}
        cpus = await c.execute("query-cpus-fast")
        assert cpus[0]["cpu-index"] == 0 and cpus[0]["qom-path"] == "/machine/soc0/harts[0]"
        assert cpus[0]["target"] == "riscv64"
        hot = await c.execute("query-hotpluggable-cpus")
        assert hot[0]["type"] == "rv64-riscv-cpu" and hot[0]["vcpus-count"] == 1
        machines = await c.execute("query-machines")
        assert machines[0]["name"] == "virt" and machines[0]["is-default"]
        assert {d["name"] for d in await c.execute("query-cpu-definitions")} >= {"rv64"}
        assert await c.execute("query-memory-devices") == []
        blocks = await c.execute("query-block")
        assert blocks[0]["device"] == "virtio0" and blocks[0]["inserted"]["file"] == str(disk)
        assert blocks[0]["inserted"]["drv"] == "raw" and blocks[0]["qdev"].startswith("/machine/peripheral")
        stats = await c.execute("query-blockstats")
        assert stats[0]["device"] == "virtio0" and stats[0]["stats"]["rd_operations"] == 0
        chardevs = {x["label"]: x for x in await c.execute("query-chardev")}
        assert chardevs["compat_monitor0"]["filename"].startswith("connected:unix:")
        assert "spare" in chardevs
        # throttling
        await c.execute("block_set_io_throttle", {"device": "virtio0", "bps": 1000000, "bps_rd": 0,
                                                  "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0})
        assert (await c.execute("query-block"))[0]["inserted"]["bps"] == 1000000
        assert await _fails(c, "block_set_io_throttle", {"device": "nope", "bps": 0, "bps_rd": 0, "bps_wr": 0,
                                                         "iops": 0, "iops_rd": 0, "iops_wr": 0}) == (
            "DeviceNotFound", "Device 'nope' not found")
        mixed = {"device": "virtio0", "bps": 5, "bps_rd": 5, "bps_wr": 0, "iops": 0, "iops_rd": 0,
                 "iops_wr": 0}
        assert (await _fails(c, "block_set_io_throttle", mixed))[1] == \
            "bps/iops/max total values and read/write values cannot be used at the same time"
        # run state and its events
        await c.execute("stop")
        assert (await _event(c, "STOP"))["event"] == "STOP"
        assert (await c.execute("query-status"))["status"] == "paused"
        await c.execute("cont")
        await _event(c, "RESUME")
        await c.execute("system_reset")
        reset = await _event(c, "RESET")
        assert reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
        await c.execute("system_powerdown")
        await _event(c, "POWERDOWN")
        # HMP through QMP
        out = await c.execute("human-monitor-command", {"command-line": "info status"})
        assert out == "VM status: running\r\n"
        regs = await c.execute("human-monitor-command", {"command-line": "info registers", "cpu-index": 0})
        assert " pc " in regs
        bad_cpu = {"command-line": "info registers", "cpu-index": 5}
        assert await _fails(c, "human-monitor-command", bad_cpu) == ("GenericError", "CPU '5' not found")
        # memory
        await c.execute("pmemsave", {"val": 0x80000000, "size": 64, "filename": str(tmp_path / "p.bin")})
        await c.execute("memsave", {"val": 0x80000000, "size": 64, "filename": str(tmp_path / "v.bin")})
        assert (tmp_path / "p.bin").read_bytes()[:4] == bytes.fromhex("b7020010")  # lui t0, 0x10000
        assert (tmp_path / "p.bin").read_bytes() == (tmp_path / "v.bin").read_bytes()
        assert (await _fails(c, "pmemsave", {"val": 0, "size": 1, "filename": "/nonexistent/dir/f"}))[1] == \
            "Could not open '/nonexistent/dir/f': No such file or directory"
        # devices: the virtio-mmio buses are not hot-pluggable (as in QEMU)
        assert await _fails(c, "device_add", {"driver": "virtio-rng-device"}) == (
            "GenericError", "Bus 'virtio-mmio-bus.6' does not support hotplugging")
        assert await _fails(c, "device_add", {"driver": "nope"}) == (
            "GenericError", "'nope' is not a valid device model name")
        assert await _fails(c, "device_del", {"id": "nope"}) == ("DeviceNotFound", "Device 'nope' not found")
        # QOM
        top = {p["name"]: p["type"] for p in await c.execute("qom-list", {"path": "/"})}
        assert top["machine"] == "child<virt-machine>" and top["chardevs"] == "child<container>"
        assert await c.execute("qom-get", {"path": "/machine", "property": "type"}) == "virt-machine"
        assert await c.execute("qom-get", {"path": "/machine", "property": "kernel"}) == str(programs["loop"])
        await c.execute("qom-set", {"path": "/machine", "property": "append", "value": "quiet"})
        assert await c.execute("qom-get", {"path": "/machine", "property": "append"}) == "quiet"
        blk = blocks[0]["qdev"]
        props = {p["name"]: p["type"] for p in await c.execute("qom-list", {"path": blk})}
        assert props["drive"] == "str" and props["queue-size"] == "uint16" and props["realized"] == "bool"
        assert await c.execute("qom-get", {"path": blk, "property": "drive"}) == "virtio0"
        assert await c.execute("qom-get", {"path": blk, "property": "queue-size"}) == 256
        assert (await _fails(c, "qom-set", {"path": blk, "property": "queue-size", "value": 8}))[1].endswith(
            "after it was realized")
        assert await _fails(c, "qom-get", {"path": "/nowhere", "property": "type"}) == (
            "DeviceNotFound", "Device '/nowhere' not found")
        assert (await _fails(c, "qom-get", {"path": "/machine", "property": "nope"}))[1] == \
            "Property 'virt-machine.nope' not found"
        # objects
        await c.execute("object-add", {"qom-type": "rng-random", "id": "rng0", "filename": "/dev/urandom"})
        await c.execute("object-add", {"qom-type": "rng-builtin", "id": "rng1"})
        assert await c.execute("qom-get", {"path": "rng0", "property": "filename"}) == "/dev/urandom"
        assert await c.execute("qom-get", {"path": "/objects/rng1", "property": "type"}) == "rng-builtin"
        late = {"path": "/objects/rng0", "property": "filename", "value": "/x"}
        assert (await _fails(c, "qom-set", late))[1] == \
            "Property 'rng-random.filename' can't be set after the object is created"
        assert (await _fails(c, "object-add", {"qom-type": "nope", "id": "x"}))[1] == \
            "Parameter 'qom-type' does not accept value 'nope'"
        assert (await _fails(c, "object-add", {"qom-type": "rng-random", "id": "rng0"}))[1].startswith(
            "attempt to add duplicate property 'rng0'")
        missing = {"qom-type": "rng-random", "id": "r2", "filename": "/no/such"}
        assert (await _fails(c, "object-add", missing))[1] == \
            "Could not open '/no/such': No such file or directory"
        await c.execute("object-del", {"id": "rng0"})
        assert (await _fails(c, "object-del", {"id": "rng0"}))[1] == "object 'rng0' not found"
        assert await _fails(c, "screendump", {"filename": str(tmp_path / "s.ppm")}) == (
            "GenericError", "There is no console to take a screendump from")
        # quit: the reply, then SHUTDOWN, then the connection closes
        await c.execute("quit")
        shutdown = await _event(c, "SHUTDOWN")
        assert shutdown["data"] == {"guest": False, "reason": "host-qmp-quit"}
        await _hang_up(c)

    vm.run_until_exit(run, timeout=30)


def test_guest_shutdown_event_and_several_monitors(programs: dict[str, Path], tmp_path: Path) -> None:
    """Two QMP monitors (unix and tcp) and an HMP one; both QMP clients hear the guest's SHUTDOWN."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    vm = VM(tmp_path, programs["loop"], "-S", "-chardev",
            f"socket,id=q2,host=127.0.0.1,port={port},server=on,wait=off", "-mon", "chardev=q2,mode=control",
            "-monitor",
            f"unix:{tmp_path / 'hmp.sock'},server=on,wait=off")

    async def run() -> None:
        a = await _client(vm.qmp_path)
        b = await _client(("127.0.0.1", port))
        assert (await a.execute("query-status"))["status"] == "prelaunch"
        await b.execute("cont")
        for client in (a, b):
            await _event(client, "RESUME")
        assert (await a.execute("query-status"))["status"] == "running"
        # the HMP monitor's quit reaches both QMP clients as a SHUTDOWN event
        hmp = socket.socket(socket.AF_UNIX)
        hmp.connect(str(tmp_path / "hmp.sock"))
        hmp.sendall(b"quit\n")
        for client in (a, b):
            event = await _event(client, "SHUTDOWN")
            assert event["data"]["reason"] == "host-qmp-quit"
        hmp.close()
        await _hang_up(a, b)

    vm.run_until_exit(run, timeout=30)


def test_qmp_stdio_and_guest_poweroff(programs: dict[str, Path], tmp_path: Path) -> None:
    """``-qmp stdio``: raw JSON lines in and out; the guest's power-off is a guest SHUTDOWN."""
    proc = subprocess.Popen(
        [*system_cmd(), "-M", "virt", "-bios", "none", "-kernel", str(programs["pass"]), "-S", "-display",
         "none", "-serial", "null", "-qmp", "stdio"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=clean_env())
    requests = (b'{"execute": "qmp_capabilities"}\n{"execute": "query-status", "id": 1}\n'
                b'{"execute": "cont", "id": 2}\n')
    out, err = proc.communicate(requests, timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.decode().split("\r\n") if line]
    assert "QMP" in lines[0]
    assert lines[1] == {"return": {}}
    assert lines[2] == {"return": {"running": False, "singlestep": False, "status": "prelaunch"}, "id": 1}
    # as in QEMU, cont's RESUME event goes out before its reply
    assert lines[3]["event"] == "RESUME" and lines[4] == {"return": {}, "id": 2}
    events = [x["event"] for x in lines if "event" in x]
    assert events == ["RESUME", "SHUTDOWN"]
    assert lines[-1]["data"] == {"guest": True, "reason": "guest-shutdown"}


def test_qmp_shell(programs: dict[str, Path], tmp_path: Path) -> None:
    shell = shutil.which("qmp-shell", path=os.path.dirname(sys.executable)) or shutil.which("qmp-shell")
    if shell is None:
        pytest.skip("qmp-shell (from the qemu.qmp package) is not installed")
    vm = VM(tmp_path, programs["loop"])
    try:
        script = "query-status\nqom-get path=/machine property=type\nstop\nquery-status\n"
        result = subprocess.run([shell, vm.qmp_path], input=script, capture_output=True, text=True,
                                timeout=60)
        assert '"status": "running"' in result.stdout
        assert '"return": "virt-machine"' in result.stdout
        assert '"status": "paused"' in result.stdout
    finally:
        vm.close()


def test_bad_options(programs: dict[str, Path], tmp_path: Path) -> None:
    result = subprocess.run([*system_cmd(), "-M", "virt", "-bios", "none", "-kernel", str(programs["loop"]),
                             "-display", "none", "-serial", "null", "-chardev", "null,id=c", "-mon",
                             "chardev=c,mode=json"], capture_output=True, text=True, timeout=60,
                            env=clean_env())
    assert result.returncode == 1
    assert "-mon chardev=c,mode=json: Parameter 'mode' does not accept value 'json'" in result.stderr


def test_fuzz_qmp_and_hmp(programs: dict[str, Path], tmp_path: Path) -> None:
    """Random bytes, truncated JSON and random HMP lines: every monitor stays up and the VM runs."""
    import random

    rng = random.Random(1234)
    hmp_path = tmp_path / "hmp.sock"
    vm = VM(tmp_path, programs["loop"], "-monitor", f"unix:{hmp_path},server=on,wait=off")
    valid = [b'{"execute": "qmp_capabilities"}', b'{"execute": "query-status"}',
             b'{"execute": "qom-list", "arguments": {"path": "/machine"}}',
             b'{"execute": "human-monitor-command", "arguments": {"command-line": "info qtree"}}',
             b'{"execute": "device_add", "arguments": {"driver": "virtconsole"}}']
    hmp_words = ["info", "x", "xp", "/10i", "$pc", "device_add", "device_del", "help", "p", "(", ")", "0x",
                 "memsave", "cpu", "9", "-", "'a'", "info block", "info chardev", "virtio-rng-device", ",",
                 "="]
    try:
        q = socket.socket(socket.AF_UNIX)
        q.connect(vm.qmp_path)
        h = socket.socket(socket.AF_UNIX)
        h.connect(str(hmp_path))
        replies = bytearray()

        def drain() -> None:  # a client reads its replies while it sends
            while chunk := q.recv(65536):
                replies.extend(chunk)
                if b'"id": "end"' in replies:
                    return

        import threading

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        for i in range(400):
            msg = rng.choice(valid)
            kind = i % 4
            if kind == 0:
                msg = msg[:rng.randrange(len(msg))]
            elif kind == 1:
                msg = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            elif kind == 2:
                pos = rng.randrange(len(msg))
                msg = msg[:pos] + bytes([rng.randrange(32, 127)]) + msg[pos + 1:]
            q.sendall(msg + b"\n")
            line = " ".join(rng.choice(hmp_words) for _ in range(rng.randrange(1, 6)))
            h.sendall(line.encode() + b"\n")
        q.sendall(b'\xff{"execute": "qmp_capabilities"}{"execute": "query-status", "id": "end"}\n')
        reader.join(60)
        assert b'"id": "end"' in replies
        assert vm.proc.poll() is None
        q.close()
        h.close()

        async def after() -> None:  # a fresh client still gets a working session
            c = await _client(vm.qmp_path)
            assert (await c.execute("query-status"))["running"]
            await c.disconnect()

        asyncio.run(after())
    finally:
        vm.close()
    assert b"Traceback" not in vm.stderr


def test_pretty_output() -> None:
    """``-qmp-pretty`` / ``pretty=on``: indented JSON, lines still ending in CR LF."""
    wire = _Wire()
    out: list[bytes] = []
    wire.write = lambda data: out.append(data) or len(data)  # type: ignore[method-assign]
    dispatcher = QmpCommands(MonitorTarget(machine=None)).dispatcher
    monitor = QmpMonitor(wire, dispatcher, pretty=True)  # type: ignore[arg-type]
    monitor.start()
    monitor._event(0)
    text = out[-1].decode()
    assert text.startswith("{\r\n    \"QMP\": {\r\n") and text.endswith("}\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert json.loads(text)["QMP"]["capabilities"] == []


def test_hotplug_device_deleted_and_object_links(programs: dict[str, Path], tmp_path: Path) -> None:
    """Ports plug into a virtio-serial bus at run time; device_del sends DEVICE_DELETED and frees the
    chardev; an object a device links to cannot be deleted."""
    vm = VM(tmp_path, programs["loop"], "-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", "virtio-rng-device,rng=rng0,id=rng", "-device", "virtio-serial-device,id=vser0",
            "-chardev", "null,id=c1")

    async def run() -> None:
        c = await _client(vm.qmp_path)
        assert await c.execute("qom-get", {"path": "/machine/peripheral/rng", "property": "rng"}) == \
            "/objects/rng0"
        assert await _fails(c, "object-del", {"id": "rng0"}) == (
            "GenericError", "object 'rng0' is in use, can not be deleted")
        for _ in range(2):  # the chardev is free again once the port is gone
            await c.execute("device_add", {"driver": "virtserialport", "chardev": "c1", "name": "org.test.0",
                                           "id": "port1", "bus": "vser0.0"})
            assert await c.execute("qom-get", {"path": "port1", "property": "name"}) == "org.test.0"
            assert "port1" in await c.execute("human-monitor-command", {"command-line": "info qtree"})
            await c.execute("device_del", {"id": "port1"})
            deleted = await _event(c, "DEVICE_DELETED")
            assert deleted["data"] == {"device": "port1", "path": "/machine/peripheral/port1"}
            assert await _fails(c, "qom-list", {"path": "/machine/peripheral/port1"}) == (
                "DeviceNotFound", "Device '/machine/peripheral/port1' not found")
        assert await _fails(c, "device_del", {"id": "vser0"}) == (
            "GenericError", "Bus 'virtio-mmio-bus.6' does not support hotplugging")
        await c.disconnect()

    try:
        asyncio.run(run())
    finally:
        vm.close()


def test_clients_that_hang_up_mid_command(programs: dict[str, Path], tmp_path: Path) -> None:
    """Clients that close right after a request (before its reply) or half-way through a JSON value: the
    VM and the monitor carry on and the next client gets a fresh session."""
    vm = VM(tmp_path, programs["loop"])
    try:
        for request in (b'{"execute": "qmp_capabilities"}{"execute": "query-qmp-schema"}',
                        b'{"execute": "qmp_capabilities"}{"execute": "human-monitor-command", "argu',
                        b'{"execute": "qmp_capabilities"}{"execute": "stop"}'):
            for _ in range(3):
                s = socket.socket(socket.AF_UNIX)
                s.connect(vm.qmp_path)
                s.sendall(request)
                s.close()
        time.sleep(0.5)
        assert vm.proc.poll() is None

        async def check() -> None:
            c = await _client(vm.qmp_path)
            # whether a request of a client already gone ran is up to timing (as with QEMU)
            assert (await c.execute("query-status"))["status"] in ("running", "paused")
            await c.execute("cont")
            assert (await c.execute("query-status"))["status"] == "running"
            await c.disconnect()

        asyncio.run(check())
    finally:
        vm.close()
    assert b"Traceback" not in vm.stderr
