"""What the gdbstub tests drive: emulators listening for GDB, GDB in batch mode, and a minimal remote
protocol client.

* :class:`Emulator` starts ``pyqemu-system-riscv64`` (:data:`SYSTEM_CMD`) or ``pyqemu-riscv64``
  (:data:`USER_CMD`) and waits until its stub listens on a unix socket;
* :func:`run_gdb` runs ``gdb-multiarch -batch`` against a stub;
* :class:`RspClient` speaks the protocol itself (what GDB in batch mode cannot do: Ctrl-C at a chosen
  time, malformed packets, detaching without ending the session).

Every stub listens on a unix socket in the test's temporary directory, so the tests can run in parallel.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile

TESTS_DIR = Path(__file__).resolve().parent.parent
if str(TESTS_DIR / "system") not in sys.path:
    sys.path.insert(0, str(TESTS_DIR / "system"))

import bmbuild  # noqa: E402, F401 - re-exported for the fixtures
import guestbuild  # noqa: E402
from cli.system_helpers import clean_env, system_cmd  # noqa: E402

GDB_TIMEOUT = 60


class Emulator:
    """A running emulator, its output captured."""

    def __init__(self, argv: list[str], socket_path: Path | None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env(), text=True, errors="replace")
        deadline = time.monotonic() + 30
        while socket_path is not None and not socket_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate(timeout=10)
                raise AssertionError(f"the emulator did not listen on {socket_path}:\n{out}\n{err}")
            time.sleep(0.02)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the emulator to exit: (status, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


SYSTEM_CMD = system_cmd()
USER_CMD = [sys.executable, "-m", "pyqemu.linux_user"]


def symbol(elf: Path, name: str) -> range:
    """The addresses of symbol ``name`` in ``elf`` (``.start`` is its address)."""
    with open(elf, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return range(sym["st_value"], sym["st_value"] + sym["st_size"])


def run_gdb(gdb: str, elf: Path, target: str | Path, *commands: str) -> str:
    """GDB's output (stdout and stderr) for ``commands`` after ``target remote TARGET``."""
    # the sources by name too: a cached guest binary may have been built from another checkout
    sources = f"{guestbuild.GUEST_DIR / 'gdb'}:{guestbuild.GUEST_DIR / 'baremetal'}"
    argv = [gdb, "-batch", "-nx", "-ex", "set confirm off", "-ex", f"directory {sources}", str(elf),
            "-ex", f"target remote {target}"]
    for command in commands:
        argv += ["-ex", command]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=GDB_TIMEOUT, env=clean_env())
    return proc.stdout + proc.stderr

class RspClient:
    """One connection to a gdbstub (acknowledgement mode; ``no_ack()`` turns it off)."""

    def __init__(self, address: str | tuple[str, int], timeout: float = 30.0):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        deadline = time.monotonic() + timeout
        while True:  # a unix socket's file appears when the stub binds, a moment before it listens
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(address)
                break
            except ConnectionRefusedError:
                self.sock.close()
                if family != socket.AF_UNIX or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.acks = True

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: str | bytes) -> None:
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        self.send_raw(b"$" + data + b"#%02x" % (sum(data) & 0xFF))

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the stub closed the connection")
        self.buf += chunk

    def read_byte(self) -> int:
        while not self.buf:
            self._fill()
        b, self.buf = self.buf[0], self.buf[1:]
        return b

    def read_packet(self) -> bytes:
        """The next packet's payload (acks before it are skipped; the packet is acknowledged)."""
        while True:
            while b"$" not in self.buf:
                self._fill()
            start = self.buf.index(b"$")
            while b"#" not in self.buf[start:] or len(self.buf) < self.buf.index(b"#", start) + 3:
                self._fill()
            end = self.buf.index(b"#", start)
            payload = self.buf[start + 1:end]
            cs = int(self.buf[end + 1:end + 3], 16)
            self.buf = self.buf[end + 3:]
            assert cs == sum(payload) & 0xFF, payload
            if self.acks:
                self.send_raw(b"+")
            return payload

    def command(self, payload: str | bytes) -> bytes:
        """Send a packet and return the reply's payload."""
        self.send(payload)
        return self.read_packet()

    def no_ack(self) -> None:
        assert self.command("QStartNoAckMode") == b"OK"
        self.acks = False
        self.buf = self.buf.lstrip(b"+")

    def wait_closed(self, timeout: float = 30.0) -> bool:
        """Whether the stub closes the connection within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(4096):
                    return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False
