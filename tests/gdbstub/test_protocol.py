"""The remote protocol without GDB or an emulator: packet framing (:mod:`pyqemu.gdbstub.protocol`) and
the command dispatcher (:mod:`pyqemu.gdbstub.server`) against a fake target."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pyqemu.gdbstub.protocol import Event, PacketReader, escape, frame, unescape
from pyqemu.gdbstub.riscv import RiscV64
from pyqemu.gdbstub.server import GdbServer
from pyqemu.target.riscv.cpu import RISCVCPU

# -- framing ---------------------------------------------------------------------------------------------


def test_frame_and_checksum():
    assert frame(b"OK") == b"$OK#9a"
    assert frame(b"") == b"$#00"


def test_escape_round_trip():
    data = bytes(range(256))
    escaped = escape(data)
    assert not set(escaped) & set(b"#$*") and escaped.count(b"}") == 4  # only the escapes themselves
    assert unescape(escaped) == data
    assert escape(b"a}b") == b"a}]b"


def test_reader_splits_the_stream():
    r = PacketReader()
    events = r.feed(b"+$qSupported:multiprocess+#c6\x03$g#67")
    assert events == [(Event.PACKET, b"qSupported:multiprocess+"), (Event.INTERRUPT, b""),
                      (Event.PACKET, b"g")]
    # a packet split across reads, a bad checksum, a nack, and 0x03 inside a packet is data
    assert r.feed(b"$m1,") == []
    assert r.feed(b"2#") == []
    assert r.feed(b"fc") == [(Event.PACKET, b"m1,2")]
    assert r.feed(b"$g#00-") == [(Event.BAD, b""), (Event.NACK, b"")]
    assert r.feed(b"$g#zz") == [(Event.BAD, b"")]
    assert r.feed(frame(b"X0,1:\x03")) == [(Event.PACKET, b"X0,1:\x03")]


def test_reader_drops_overlong_packets():
    assert PacketReader().feed(b"$" + b"a" * 70000 + b"#00") == [(Event.BAD, b"")]


# -- the dispatcher ----------------------------------------------------------------------------------------


class FakeTarget:
    """Two user-mode RISC-V vCPUs and 64 KiB of memory at 0x10000."""

    features = ("qXfer:auxv:read+",)

    def __init__(self) -> None:
        self.arch = RiscV64(system=False)
        self.cpus = {1: RISCVCPU(), 2: RISCVCPU()}
        self.memory = bytearray(0x10000)
        self.calls: list[tuple[Any, ...]] = []

    def threads(self) -> list[int]:
        return list(self.cpus)

    def cpu(self, tid: int) -> Any:
        return self.cpus.get(tid)

    def thread_info(self, tid: int) -> str:
        return f"CPU#{tid - 1}"

    def read_memory(self, cpu: Any, addr: int, length: int) -> bytes | None:
        if not 0x10000 <= addr <= addr + length <= 0x20000:
            return None
        return bytes(self.memory[addr - 0x10000:addr - 0x10000 + length])

    def write_memory(self, cpu: Any, addr: int, data: bytes) -> bool:
        if not 0x10000 <= addr <= addr + len(data) <= 0x20000:
            return False
        self.memory[addr - 0x10000:addr - 0x10000 + len(data)] = data
        return True

    def set_breakpoint(self, type_: int, addr: int, length: int, insert: bool) -> bool:
        self.calls.append(("bp", type_, addr, length, insert))
        return True

    def resume(self, actions: dict[int, tuple[str, int]]) -> None:
        self.calls.append(("resume", actions))

    def interrupt(self) -> None:
        self.calls.append(("interrupt",))

    def detach(self) -> None:
        self.calls.append(("detach",))

    def kill(self) -> None:
        self.calls.append(("kill",))

    def xfer(self, obj: str, annex: str) -> bytes | None:
        return b"AUXV#DATA" if obj == "auxv" else None


@pytest.fixture
def stub():
    target = FakeTarget()
    sent: list[bytes] = []
    server = GdbServer(target, sent.append)
    server.stopped(1)

    def ask(payload: bytes | str) -> bytes | None:
        """Send one packet; the reply's payload (None when there is none yet)."""
        del sent[:]
        server.receive(frame(payload.encode() if isinstance(payload, str) else payload))
        replies = [s for s in sent if s.startswith(b"$")]
        if not replies:
            return None
        assert len(replies) == 1, sent
        return replies[0][1:-3]

    return target, server, sent, ask


def test_ack_and_no_ack_mode(stub):
    target, server, sent, ask = stub
    assert ask("qSupported:multiprocess+") == (b"PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;"
                                               b"vContSupported+;qXfer:auxv:read+;multiprocess+")
    assert sent[0] == b"+"
    assert ask("QStartNoAckMode") == b"OK"
    ask("?")
    assert b"+" not in sent
    sent.clear()
    server.receive(b"$g#00")  # a bad checksum: no "-" either
    assert sent == []


def test_nack_resends(stub):
    target, server, sent, ask = stub
    ask("qC")
    sent.clear()
    server.receive(b"-")
    assert sent == [frame(b"QC01")]


def test_threads_and_stop_replies(stub):
    target, server, sent, ask = stub
    assert ask("?") == b"T05thread:01;"
    assert ask("qfThreadInfo") == b"m01,02"
    assert ask("qsThreadInfo") == b"l"
    assert ask("qC") == b"QC01"
    assert ask("qAttached") == b"1"
    assert ask("qThreadExtraInfo,2") == b"CPU#1".hex().encode()
    assert ask("T2") == b"OK" and ask("T3") == b"E22"
    ask("qSupported:multiprocess+")
    assert ask("qfThreadInfo") == b"mp01.01,p01.02"
    server.report_stop(2, 5, ("watch", 0x1234))
    assert sent[-1] == frame(b"T05watch:1234;thread:p01.02;")
    assert ask("qC") == b"QCp01.02"
    server.report_exit(status=3)
    assert sent[-1] == frame(b"W03")
    server.report_exit(signal=11)
    assert sent[-1] == frame(b"X0b")


def test_registers(stub):
    target, server, sent, ask = stub
    cpu1, cpu2 = target.cpus[1], target.cpus[2]
    cpu1.set_x(10, 0x1122)
    cpu1.pc = 0x10000
    regs = ask("g")
    assert len(regs) == 33 * 16
    assert regs[10 * 16:11 * 16] == b"2211000000000000"
    assert ask("p20") == b"0000010000000000"
    assert ask("Hg2") == b"OK"
    assert ask("Pa=0100000000000000") == b"OK"
    assert cpu2.x(10) == 1 and cpu1.x(10) == 0x1122
    assert ask("P0=0500000000000000") == b"OK" and cpu2.x(0) == 0  # x0 stays zero
    assert ask("G" + "00" * 8 * 5 + "07" + "00" * 7) == b"OK"  # a short G writes what it holds
    assert cpu2.x(5) == 7
    assert ask("p42") == b"00000000"  # fflags, 32 bits
    assert ask("P43=05000000") == b"OK" and ask("p44") == b"a0000000"  # frm -> fcsr
    assert ask("p341") == b"E14"  # no CSRs in user mode
    assert ask("Hg0") == b"OK" and ask("pa") == b"2211000000000000"
    assert ask("Hc-1") == b"OK" and ask("Hx1") == b""


def test_memory(stub):
    target, server, sent, ask = stub
    assert ask("M10010,4:01020304") == b"OK"
    assert ask("m10010,6") == b"010203040000"
    assert ask(b"X10020,3:}\x03}]a") == b"OK"
    assert target.memory[0x20:0x23] == b"#}a"
    assert ask("X10020,0:") == b"OK"
    assert ask("m0,4") == b"E14" and ask("M0,1:00") == b"E14"
    assert ask("M10010,2:00") == b"E22"  # length and data disagree


def test_resume_commands(stub):
    target, server, sent, ask = stub
    assert ask("vCont?") == b"vCont;c;C;s;S"
    assert ask("c") is None
    assert target.calls[-1] == ("resume", {1: ("c", 0), 2: ("c", 0)})
    assert ask("Hc2") == b"OK"
    assert ask("s10040") is None
    assert target.calls[-1] == ("resume", {1: ("c", 0), 2: ("s", 0)})
    assert target.cpus[2].pc == 0x10040
    assert ask("C0b") is None
    assert target.calls[-1] == ("resume", {1: ("c", 0), 2: ("c", 11)})
    assert ask("vCont;s:2;c") is None
    assert target.calls[-1] == ("resume", {1: ("c", 0), 2: ("s", 0)})
    assert ask("vCont;C02:p01.01;c:-1") is None
    assert target.calls[-1] == ("resume", {1: ("c", 2), 2: ("c", 0)})
    assert ask("vCont;r10,20") == b"E22"
    server.receive(b"\x03")
    assert target.calls[-1] == ("interrupt",)


def test_breakpoints_detach_kill(stub):
    target, server, sent, ask = stub
    assert ask("Z0,10040,4") == b"OK"
    assert ask("z1,10040,2") == b"OK"
    assert ask("Z2,10100,8") == b"OK"
    assert ask("Z4,10100,8;X1,0") == b"OK"
    assert ask("Z7,0,0") == b""
    assert [c[1:] for c in target.calls] == [(0, 0x10040, 4, True), (1, 0x10040, 2, False),
                                             (2, 0x10100, 8, True), (4, 0x10100, 8, True)]
    assert ask("D") == b"OK" and target.calls[-1] == ("detach",)
    assert ask("vKill;1") == b"OK" and target.calls[-1] == ("kill",)
    assert ask("k") is None and target.calls[-1] == ("kill",)


def test_xfer(stub):
    target, server, sent, ask = stub
    first = ask("qXfer:features:read:target.xml:0,40")
    assert first.startswith(b"m<?xml") and len(first) == 0x41
    xml = b""
    offset = 0
    while True:
        chunk = ask(f"qXfer:features:read:target.xml:{offset:x},100")
        xml += chunk[1:]
        offset += len(chunk) - 1
        if chunk[:1] == b"l":
            break
    assert xml == target.arch.target_xml().encode()
    assert ask("qXfer:auxv:read::0,100") == b"lAUXV}\x03DATA"
    assert ask("qXfer:auxv:read::5,2") == b"mDA"
    assert ask("qXfer:exec-file:read::0,100") == b""
    assert ask("qXfer:features:write:target.xml:0,10") == b""


def test_unknown_and_malformed_packets(stub):
    target, server, sent, ask = stub
    for packet in ("", "!", "vMustReplyEmpty", "qTStatus", "qOffsets", "bc", "Q"):
        assert ask(packet) == b"", packet
    for packet in ("m", "mx,1", "p", "pq", "Hgx", "Z0", "Z0,1", "zz", "C", "Sx", "X1,2", "M1,1",
                   "qXfer:features:read", "qXfer:features:read:target.xml:0", "qThreadExtraInfo,zz"):
        assert ask(packet) == b"E22", packet
    assert ask("qSymbol::") == b"OK"


# -- the RISC-V description ------------------------------------------------------------------------------


@pytest.mark.parametrize("system", [False, True])
def test_target_description(system):
    root = ET.fromstring(RiscV64(system).target_xml())
    assert root.find("architecture").text == "riscv:rv64"
    features = {f.get("name"): f for f in root.iter("feature")}
    expected = {"org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu"}
    if system:
        expected |= {"org.gnu.gdb.riscv.csr", "org.gnu.gdb.riscv.virtual"}
    assert set(features) == expected
    regs = {r.get("name"): int(r.get("regnum")) for r in root.iter("reg")}
    assert regs["zero"] == 0 and regs["fp"] == 8 and regs["pc"] == 32
    assert regs["ft0"] == 33 and regs["ft11"] == 64 and regs["fcsr"] == 68
    if system:
        assert regs["mstatus"] == 65 + 0x300 and regs["priv"] == 4161 and regs["satp"] == 65 + 0x180
    assert len(set(regs.values())) == len(regs)
