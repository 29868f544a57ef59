"""The e1000 family as a guest driver sees it: config space, EEPROM, PHY, interrupts, TX and RX rings."""

from __future__ import annotations

import struct
import zlib

import pytest

from pyqemu.exec.memory import AddressSpace, MemoryRegion, RamArena
from pyqemu.hw.net.e1000 import E1000, MODELS, E1000State, ones_complement_sum
from pyqemu.hw.net.nic import default_mac, format_mac, parse_mac
from pyqemu.hw.pci.pci import PCIBus, swizzle_map_irq
from pyqemu.hw.pci.qdev import add_pci_bus
from pyqemu.qom.object import DeviceTree, QomError, device_help, device_type_help

MAC = bytes.fromhex("525400abcdef")
OTHER_MAC = bytes.fromhex("525400000001")
BAR0 = 0xFEB80000
BAR1 = 0xC000
DEVFN = 3 << 3

# registers (SDM chapter 13)
CTRL, STATUS, EECD, EERD, MDIC = 0x0000, 0x0008, 0x0010, 0x0014, 0x0020
ICR, ICS, IMS, IMC, RCTL, TCTL = 0x00C0, 0x00C8, 0x00D0, 0x00D8, 0x0100, 0x0400
RDBAL, RDBAH, RDLEN, RDH, RDT = 0x2800, 0x2804, 0x2808, 0x2810, 0x2818
TDBAL, TDBAH, TDLEN, TDH, TDT = 0x3800, 0x3804, 0x3808, 0x3810, 0x3818
MPC, GPRC, GPTC, GORCL, GORCH, GOTCL, GOTCH, TPR, TPT = (0x4010, 0x4074, 0x4080, 0x4088, 0x408C, 0x4090,
                                                         0x4094, 0x40D0, 0x40D4)
MTA, RAL0, RAH0, VFTA = 0x5200, 0x5400, 0x5404, 0x5600

ICR_TXDW, ICR_TXQE, ICR_LSC, ICR_RXDMT0, ICR_RXO, ICR_RXT0 = 0x01, 0x02, 0x04, 0x10, 0x40, 0x80
RCTL_EN, RCTL_UPE, RCTL_MPE, RCTL_BAM, RCTL_VFE, RCTL_SECRC = 0x02, 0x08, 0x10, 0x8000, 1 << 18, 1 << 26
TCTL_EN = 0x02
CMD_EOP, CMD_IFCS, CMD_RS, CMD_DEXT, CMD_TSE = 1 << 24, 1 << 25, 1 << 27, 1 << 29, 1 << 26
CMD_IC, CMD_VLE = 1 << 26, 1 << 30  # legacy descriptors
CTRL_VME = 1 << 30
CTX_TCP, CTX_IP = 1 << 24, 1 << 25
DTYP_DATA = 1 << 20
POPTS_IXSM, POPTS_TXSM = 1 << 8, 1 << 9

TX_RING, RX_RING, TX_BUFS, RX_BUFS = 0x10000, 0x11000, 0x20000, 0x40000


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)


class Rig:
    """A PCI bus with one e1000 on it, RAM at 0 and the driver's register accessors through BAR0."""

    def __init__(self, model: str = "e1000") -> None:
        arena = RamArena(reserve=1 << 24)
        sysmem = MemoryRegion.container_of("system", 1 << 32)
        sysmem.add_subregion(0, MemoryRegion.ram("ram", 0x100000, arena))
        io = MemoryRegion.container_of("io", 0x10000)
        self.mem = AddressSpace("memory", sysmem)
        self.io = AddressSpace("I/O", io)
        self.bus = PCIBus("pci.0", sysmem, io, dma=self.mem)
        self.dev = E1000(MODELS[model], MAC)
        self.bus.plug(self.dev, DEVFN)
        self.dev.config_write(0x10, BAR0, 4)
        self.dev.config_write(0x14, BAR1, 4)
        self.dev.config_write(0x04, 0x07, 2)  # I/O, memory, bus master
        self.sink = Sink()
        self.dev.port.peer = self.sink

    def r(self, offset: int) -> int:
        return self.mem.read(BAR0 + offset, 4)

    def w(self, offset: int, value: int) -> None:
        self.mem.write(BAR0 + offset, value, 4)

    @property
    def irq(self) -> int:
        return self.bus.pirq_level(swizzle_map_irq(DEVFN, 1))

    # -- driver routines ------------------------------------------------------------------------------
    def eeprom_bitbang(self, first: int, count: int) -> list[int]:
        """e1000_read_eeprom for a microwire part: request the EEPROM, select it, then per word the
        opcode 110 and 6 address bits out, 16 data bits in, and a standby cycle; finally release."""
        self.w(EECD, 0x40)  # REQ
        assert self.r(EECD) & 0x80  # GNT
        self.w(EECD, 0x40 | 0x02)  # CS
        words = []
        for addr in range(first, first + count):
            for bit in (1, 1, 0, *((addr >> i) & 1 for i in range(5, -1, -1))):
                di = 0x04 if bit else 0
                self.w(EECD, 0x42 | di)
                self.w(EECD, 0x43 | di)  # rising SK: the EEPROM samples DI
                self.w(EECD, 0x42 | di)
            value = 0
            for _ in range(16):
                self.w(EECD, 0x43)
                value = value << 1 | bool(self.r(EECD) & 0x08)
                self.w(EECD, 0x42)
            words.append(value)
            for bits in (0x40, 0x41, 0x43, 0x42):  # standby: deselect, clock high, select, clock low
                self.w(EECD, bits)
        self.w(EECD, 0)  # release
        return words

    def phy_read(self, reg: int, phy: int = 1) -> int:
        self.w(MDIC, 2 << 26 | phy << 21 | reg << 16)
        value = self.r(MDIC)
        assert value & (1 << 28)  # ready
        return value

    def setup_tx(self, count: int = 8) -> None:
        self.w(TDBAL, TX_RING)
        self.w(TDBAH, 0)
        self.w(TDLEN, count * 16)
        self.w(TDH, 0)
        self.w(TDT, 0)
        self.w(TCTL, TCTL_EN)

    def put_tx(self, index: int, addr: int, lower: int, upper: int = 0) -> None:
        self.mem.write_bytes(TX_RING + 16 * index, struct.pack("<QII", addr, lower, upper))

    def setup_rx(self, count: int = 8, rctl: int = RCTL_EN | RCTL_BAM, tail: int | None = None) -> None:
        for i in range(count):
            self.mem.write_bytes(RX_RING + 16 * i, struct.pack("<QQ", RX_BUFS + 0x800 * i, 0))
        self.w(RDBAL, RX_RING)
        self.w(RDBAH, 0)
        self.w(RDLEN, count * 16)
        self.w(RDH, 0)
        self.w(RDT, count - 1 if tail is None else tail)
        self.w(RCTL, rctl)

    def rx_desc(self, index: int) -> tuple[int, int, int, int, int, int]:
        return struct.unpack("<QHHBBH", self.mem.read_bytes(RX_RING + 16 * index, 16))


@pytest.fixture
def rig() -> Rig:
    return Rig()


def frame_to(dest: bytes, payload: bytes = b"hello, e1000" * 8, ethertype: int = 0x88B5) -> bytes:
    return dest + OTHER_MAC + ethertype.to_bytes(2, "big") + payload


# -- PCI function --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "device_id"), [("e1000", 0x100E), ("e1000-82544gc", 0x100C),
                                                  ("e1000-82545em", 0x100F)])
def test_config_space_ids(model: str, device_id: int) -> None:
    dev = E1000(MODELS[model], MAC)
    assert dev.config_read(0x00, 2) == 0x8086
    assert dev.config_read(0x02, 2) == device_id
    assert dev.config_read(0x09, 3) == 0x020000
    assert dev.config_read(0x2C, 2) == 0x1AF4 and dev.config_read(0x2E, 2) == 0x1100
    assert dev.config_read(0x3D, 1) == 1  # INTA#
    dev.config_write(0x10, 0xFFFFFFFF, 4)
    assert dev.config_read(0x10, 4) == 0xFFFE0000  # 128 KiB memory
    dev.config_write(0x14, 0xFFFFFFFF, 4)
    assert dev.config_read(0x14, 4) == 0xFFFFFFC1  # 64 bytes of I/O


def test_status_link_up_1000_full(rig: Rig) -> None:
    status = rig.r(STATUS)
    assert status & 0x02 and status & 0x01 and status & 0xC0 == 0x80


def test_io_window_reaches_registers(rig: Rig) -> None:
    rig.io.write(BAR1, STATUS, 4)
    assert rig.io.read(BAR1, 4) == STATUS
    assert rig.io.read(BAR1 + 4, 4) == rig.r(STATUS)
    rig.io.write(BAR1, IMS, 4)
    rig.io.write(BAR1 + 4, ICR_RXT0, 4)
    assert rig.r(IMS) == ICR_RXT0


# -- EEPROM and PHY ------------------------------------------------------------------------------------

def test_eeprom_through_eerd(rig: Rig) -> None:
    words = []
    for addr in range(64):
        rig.w(EERD, addr << 8 | 1)
        value = rig.r(EERD)
        assert value & 0x10  # done
        words.append(value >> 16)
    assert b"".join(w.to_bytes(2, "little") for w in words[:3]) == MAC
    assert sum(words) & 0xFFFF == 0xBABA
    assert words[0x0D] == 0x100E and words[0x0E] == 0x8086
    assert words[0x0A] >> 14 == 0b01  # init control word 1 signature


def test_eeprom_bitbanged_matches(rig: Rig) -> None:
    words = rig.eeprom_bitbang(0, 64)
    assert rig.eeprom_bitbang(0x3F, 1) == [words[0x3F]]
    assert b"".join(w.to_bytes(2, "little") for w in words[:3]) == MAC
    assert sum(words) & 0xFFFF == 0xBABA
    assert words == rig.dev.eeprom


@pytest.mark.parametrize(("model", "phy_id2"), [("e1000", 0x0C20), ("e1000-82544gc", 0x0C30),
                                                ("e1000-82545em", 0x0C20)])
def test_phy_ids(model: str, phy_id2: int) -> None:
    rig = Rig(model)
    assert rig.phy_read(2) & 0xFFFF == 0x0141
    assert rig.phy_read(3) & 0xFFFF == phy_id2


def test_phy_status_and_errors(rig: Rig) -> None:
    bmsr = rig.phy_read(1) & 0xFFFF
    assert bmsr & 0x04 and bmsr & 0x20  # link up, autonegotiation complete
    assert rig.phy_read(10) & 0x3000 == 0x3000  # 1000BASE-T receivers OK
    assert rig.phy_read(1, phy=2) & (1 << 30)  # no PHY at address 2
    rig.w(IMS, 1 << 9)  # MDAC
    rig.w(MDIC, 1 << 29 | 1 << 26 | 1 << 21 | 0 << 16 | 0x8000 | 0x1340)  # reset + restart autoneg
    assert rig.irq == 1 and rig.r(ICR) == 1 << 9
    assert rig.phy_read(0) & 0xFFFF == 0x1140  # self-clearing bits are gone
    rig.w(MDIC, 1 << 26 | 1 << 21 | 2 << 16 | 0xBEEF)
    assert rig.phy_read(2) & 0xFFFF == 0x0141  # the ID registers are read-only


def test_mac_reset(rig: Rig) -> None:
    rig.w(IMS, 0xFF)
    rig.w(RCTL, RCTL_EN)
    rig.w(RAL0, 0)
    rig.w(CTRL, rig.r(CTRL) | 1 << 26)
    assert not rig.r(CTRL) & (1 << 26)
    assert rig.r(IMS) == 0 and rig.r(RCTL) == 0
    assert rig.r(RAL0) | (rig.r(RAH0) & 0xFFFF) << 32 == int.from_bytes(MAC, "little")
    assert rig.r(RAH0) & (1 << 31)
    assert rig.r(STATUS) & 0x02


def test_interrupt_mask_and_cause(rig: Rig) -> None:
    rig.w(ICS, ICR_RXT0)
    assert rig.irq == 0  # masked
    rig.w(IMS, ICR_RXT0)
    assert rig.irq == 1
    rig.w(IMC, ICR_RXT0)
    assert rig.irq == 0
    rig.w(IMS, ICR_RXT0)
    assert rig.r(ICR) == ICR_RXT0
    assert rig.irq == 0 and rig.r(ICR) == 0


# -- transmit ------------------------------------------------------------------------------------------

def test_tx_two_descriptor_frame(rig: Rig) -> None:
    rig.setup_tx()
    rig.w(IMS, ICR_TXDW)
    frame = frame_to(OTHER_MAC, bytes(range(200)))
    rig.mem.write_bytes(TX_BUFS, frame[:50])
    rig.mem.write_bytes(TX_BUFS + 0x1000, frame[50:])
    rig.put_tx(0, TX_BUFS, 50)
    rig.put_tx(1, TX_BUFS + 0x1000, (len(frame) - 50) | CMD_EOP | CMD_IFCS | CMD_RS)
    rig.w(TDT, 2)
    assert rig.sink.frames == [frame]
    assert rig.r(TDH) == 2
    assert rig.mem.read_bytes(TX_RING + 16 + 12, 1)[0] & 1  # DD written back
    assert rig.irq == 1
    assert rig.r(ICR) & ICR_TXDW
    assert rig.irq == 0


def test_tx_waits_for_enable(rig: Rig) -> None:
    rig.setup_tx()
    rig.w(TCTL, 0)
    rig.mem.write_bytes(TX_BUFS, frame_to(OTHER_MAC))
    rig.put_tx(0, TX_BUFS, 60 | CMD_EOP)
    rig.w(TDT, 1)
    assert rig.sink.frames == []
    rig.w(TCTL, TCTL_EN)
    assert len(rig.sink.frames) == 1


def _udp_frame(payload: bytes) -> tuple[bytearray, bytes, bytes]:
    src, dst = bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2])
    udp_len = 8 + len(payload)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0x1234, 0, 64, 17, 0, src, dst))
    # Linux's CHECKSUM_PARTIAL: the UDP checksum field holds the uncomplemented pseudo-header sum
    pseudo = ones_complement_sum(src + dst + struct.pack(">BBH", 0, 17, udp_len))
    udp = struct.pack(">HHHH", 5000, 6000, udp_len, pseudo) + payload
    return bytearray(OTHER_MAC + MAC + b"\x08\x00" + ip + udp), src, dst


def _udp_checksum(src: bytes, dst: bytes, udp: bytes) -> int:
    """The UDP checksum computed from scratch (RFC 768) over a copy with the field zeroed."""
    body = bytearray(udp)
    body[6:8] = b"\0\0"
    if len(body) & 1:
        body.append(0)
    total = sum(src[i] << 8 | src[i + 1] for i in (0, 2)) + sum(dst[i] << 8 | dst[i + 1] for i in (0, 2))
    total += 17 + len(udp) + sum(body[i] << 8 | body[i + 1] for i in range(0, len(body), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF) or 0xFFFF


def test_tx_checksum_offload(rig: Rig) -> None:
    rig.setup_tx()
    frame, src, dst = _udp_frame(b"checksum me!" * 10 + b"x")
    rig.mem.write_bytes(TX_BUFS, frame)
    # context: IP header 14..33, checksum at 24; UDP from 34 to the end, checksum at 40
    context = struct.pack("<BBHBBHIBBH", 14, 24, 33, 34, 40, 0, CMD_DEXT | CTX_IP, 0, 0, 0)
    rig.mem.write_bytes(TX_RING, context)
    rig.put_tx(1, TX_BUFS, len(frame) | CMD_DEXT | DTYP_DATA | CMD_EOP | CMD_RS, POPTS_IXSM | POPTS_TXSM)
    rig.w(TDT, 2)
    (out,) = rig.sink.frames
    assert ones_complement_sum(out[14:34]) == 0xFFFF  # the IP header checksum verifies
    assert struct.unpack(">H", out[40:42])[0] == _udp_checksum(src, dst, out[34:])
    assert out[:40] == frame[:24] + out[24:26] + frame[26:40] and out[42:] == frame[42:]


def test_tx_legacy_checksum_insertion(rig: Rig) -> None:
    rig.setup_tx()
    frame, src, dst = _udp_frame(b"legacy" * 20)
    rig.mem.write_bytes(TX_BUFS, frame[:50])
    rig.mem.write_bytes(TX_BUFS + 0x1000, frame[50:])
    # CSO = 40 (bits 23:16 of the lower dword), CSS = 34 (bits 15:8 of the upper dword), IC
    rig.put_tx(0, TX_BUFS, 50 | 40 << 16 | CMD_IC, 34 << 8)
    rig.put_tx(1, TX_BUFS + 0x1000, (len(frame) - 50) | CMD_EOP | CMD_RS)
    rig.w(TDT, 2)
    (out,) = rig.sink.frames
    assert struct.unpack(">H", out[40:42])[0] == _udp_checksum(src, dst, out[34:])
    assert out[24:26] == b"\0\0"  # only the one checksum


def test_tx_tcp_segmentation(rig: Rig) -> None:
    rig.setup_tx()
    src, dst = bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2])
    payload = bytes(i & 0xFF for i in range(2500))
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 0, 0x100, 0x4000, 64, 6, 0, src, dst)
    pseudo = ones_complement_sum(src + dst + struct.pack(">BBH", 0, 6, 0))  # TSO: length left out
    tcp = struct.pack(">HHIIBBHHH", 1234, 80, 1000, 0, 5 << 4, 0x19, 65535, pseudo, 0)  # FIN|PSH|ACK
    frame = OTHER_MAC + MAC + b"\x08\x00" + ip + tcp + payload
    rig.mem.write_bytes(TX_BUFS, frame)
    ctx = struct.pack("<BBHBBHIBBH", 14, 24, 33, 34, 50, 0,
                      len(payload) | CMD_DEXT | CTX_IP | CTX_TCP | CMD_TSE, 0, 54, 1000)
    rig.mem.write_bytes(TX_RING, ctx)
    rig.put_tx(1, TX_BUFS, len(frame) | CMD_DEXT | DTYP_DATA | CMD_TSE | CMD_EOP | CMD_RS,
               POPTS_IXSM | POPTS_TXSM)
    rig.w(TDT, 2)
    segs = rig.sink.frames
    assert [len(s) - 54 for s in segs] == [1000, 1000, 500]
    assert b"".join(s[54:] for s in segs) == payload
    for n, seg in enumerate(segs):
        assert struct.unpack(">H", seg[16:18])[0] == len(seg) - 14
        assert struct.unpack(">H", seg[18:20])[0] == 0x100 + n
        assert ones_complement_sum(seg[14:34]) == 0xFFFF
        assert struct.unpack(">I", seg[38:42])[0] == 1000 + 1000 * n
        assert seg[47] == (0x19 if n == 2 else 0x10)
        tcp_len = len(seg) - 34
        assert ones_complement_sum(src + dst + struct.pack(">BBH", 0, 6, tcp_len) + seg[34:]) == 0xFFFF


# -- receive -------------------------------------------------------------------------------------------

def test_rx_lands_in_buffer(rig: Rig) -> None:
    rig.setup_rx()
    rig.w(IMS, ICR_RXT0)
    frame = frame_to(MAC)
    assert rig.dev.can_receive()
    assert rig.dev.receive(frame)
    buf, length, _csum, status, errors, _special = rig.rx_desc(0)
    assert status & 0x03 == 0x03 and errors == 0  # DD | EOP
    assert length == len(frame) + 4  # the FCS is counted
    stored = rig.mem.read_bytes(buf, length)
    assert stored[:-4] == frame and stored[-4:] == zlib.crc32(frame).to_bytes(4, "little")
    assert rig.r(RDH) == 1
    assert rig.irq == 1
    assert rig.r(ICR) & ICR_RXT0
    assert rig.irq == 0 and rig.r(ICR) == 0


def test_rx_strip_crc_and_runt_padding(rig: Rig) -> None:
    rig.setup_rx(rctl=RCTL_EN | RCTL_SECRC)
    assert rig.dev.receive(MAC + OTHER_MAC + b"\x08\x00")
    assert rig.rx_desc(0)[1] == 60


def test_rx_spans_small_buffers(rig: Rig) -> None:
    rig.setup_rx(rctl=RCTL_EN | 3 << 16)  # 256-byte buffers
    frame = frame_to(MAC, bytes(600))
    assert rig.dev.receive(frame)
    descs = [rig.rx_desc(i) for i in range(3)]
    assert [d[1] for d in descs] == [256, 256, len(frame) + 4 - 512]
    assert [d[3] & 0x03 for d in descs] == [0x01, 0x01, 0x03]
    data = b"".join(rig.mem.read_bytes(d[0], d[1]) for d in descs)
    assert data[:-4] == frame


def test_rx_filter(rig: Rig) -> None:
    rig.setup_rx(rctl=RCTL_EN)
    assert rig.dev.receive(frame_to(OTHER_MAC))  # consumed, but dropped
    assert rig.dev.receive(frame_to(b"\xff" * 6))  # broadcast without BAM
    assert rig.r(RDH) == 0
    rig.w(RCTL, RCTL_EN | RCTL_BAM)
    assert rig.dev.receive(frame_to(b"\xff" * 6))
    assert rig.r(RDH) == 1
    rig.w(RCTL, RCTL_EN | RCTL_UPE)
    assert rig.dev.receive(frame_to(OTHER_MAC))
    assert rig.r(RDH) == 2
    group = bytes.fromhex("01005e0000fb")
    rig.w(RCTL, RCTL_EN)
    assert rig.dev.receive(frame_to(group)) and rig.r(RDH) == 2
    hash_bit = (group[4] | group[5] << 8) >> 4 & 0xFFF  # MO = 0: address bits 47:36
    rig.w(MTA + 4 * (hash_bit >> 5), 1 << (hash_bit & 31))
    assert rig.dev.receive(frame_to(group)) and rig.r(RDH) == 3
    rig.w(RCTL, RCTL_EN | RCTL_MPE)
    assert rig.dev.receive(frame_to(bytes.fromhex("333300000001"))) and rig.r(RDH) == 4
    rig.w(RCTL, RCTL_EN)
    rig.w(RAL0 + 8, int.from_bytes(OTHER_MAC[:4], "little"))
    rig.w(RAH0 + 8, int.from_bytes(OTHER_MAC[4:], "little") | 1 << 31)
    assert rig.dev.receive(frame_to(OTHER_MAC)) and rig.r(RDH) == 5


def test_rx_ring_full(rig: Rig) -> None:
    rig.setup_rx(count=8, tail=2)
    rig.w(IMS, ICR_RXO | ICR_RXDMT0)
    assert rig.dev.receive(frame_to(MAC))
    assert rig.r(ICR) & ICR_RXDMT0  # one descriptor left: below the half-ring threshold
    assert rig.dev.receive(frame_to(MAC))
    assert not rig.dev.can_receive()
    assert not rig.dev.receive(frame_to(MAC))
    assert rig.r(RDH) == 2
    assert rig.r(ICR) & ICR_RXO
    assert rig.r(MPC) == 1
    woken = []
    rig.dev.port.rx_ready.append(lambda: woken.append(True))
    rig.w(RDT, 5)
    assert woken and rig.dev.can_receive()


def test_rx_needs_enable_and_bus_master(rig: Rig) -> None:
    rig.setup_rx(rctl=0)
    assert not rig.dev.can_receive() and not rig.dev.receive(frame_to(MAC))
    rig.w(RCTL, RCTL_EN)
    rig.dev.config_write(0x04, 0x03, 2)
    assert not rig.dev.can_receive()


def test_vlan_tag_insertion_and_stripping(rig: Rig) -> None:
    rig.w(CTRL, rig.r(CTRL) | CTRL_VME)
    rig.setup_tx()
    frame = frame_to(OTHER_MAC)
    rig.mem.write_bytes(TX_BUFS, frame)
    rig.put_tx(0, TX_BUFS, len(frame) | CMD_EOP | CMD_VLE, 0x0123 << 16)
    rig.w(TDT, 1)
    assert rig.sink.frames == [frame[:12] + b"\x81\x00\x01\x23" + frame[12:]]
    rig.setup_rx(rctl=RCTL_EN | RCTL_SECRC)
    assert rig.dev.receive(MAC + OTHER_MAC + b"\x81\x00\x00\x45" + frame[12:])
    buf, length, _, status, _, special = rig.rx_desc(0)
    assert status & 0x08 and special == 0x45  # VP
    assert rig.mem.read_bytes(buf, length) == MAC + OTHER_MAC + frame[12:]


def test_vlan_filter(rig: Rig) -> None:
    rig.setup_rx(rctl=RCTL_EN | RCTL_VFE)
    tagged = MAC + OTHER_MAC + b"\x81\x00\x00\x45" + bytes(60)
    assert rig.dev.receive(tagged) and rig.r(RDH) == 0  # VLAN 0x45 is not in the table
    rig.w(VFTA + 4 * (0x45 >> 5), 1 << (0x45 & 31))
    assert rig.dev.receive(tagged) and rig.r(RDH) == 1
    assert rig.dev.receive(frame_to(MAC)) and rig.r(RDH) == 2  # untagged frames are not filtered


def test_tx_lost_while_link_down(rig: Rig) -> None:
    rig.setup_tx()
    rig.dev.set_link(False)
    rig.mem.write_bytes(TX_BUFS, frame_to(OTHER_MAC))
    rig.put_tx(0, TX_BUFS, 60 | CMD_EOP | CMD_RS)
    rig.w(TDT, 1)
    assert rig.sink.frames == [] and rig.r(TDH) == 1  # the descriptor is still completed


# -- statistics and link ---------------------------------------------------------------------------------

def test_statistics_clear_on_read(rig: Rig) -> None:
    rig.setup_rx()
    rig.setup_tx()
    frame = frame_to(MAC, bytes(100))
    rig.dev.receive(frame)
    rig.mem.write_bytes(TX_BUFS, frame)
    rig.put_tx(0, TX_BUFS, len(frame) | CMD_EOP)
    rig.w(TDT, 1)
    octets = len(frame) + 4
    assert (rig.r(GPRC), rig.r(TPR), rig.r(GPTC), rig.r(TPT)) == (1, 1, 1, 1)
    assert (rig.r(GPRC), rig.r(TPR), rig.r(GPTC), rig.r(TPT)) == (0, 0, 0, 0)
    assert rig.r(GORCL) == octets and rig.r(GORCL) == octets  # the low half alone does not clear
    assert rig.r(GORCH) == 0
    assert rig.r(GORCL) == 0
    assert rig.r(GOTCH) == 0 and rig.r(GOTCL) == 0  # reading the high half cleared the pair


def test_link_down_and_up(rig: Rig) -> None:
    rig.w(IMS, ICR_LSC)
    rig.dev.set_link(False)
    assert not rig.r(STATUS) & 0x02
    assert not rig.phy_read(1) & 0x04
    assert rig.irq == 1 and rig.r(ICR) & ICR_LSC
    assert not rig.dev.can_receive()
    rig.dev.set_link(True)
    assert rig.r(STATUS) & 0x02 and rig.phy_read(1) & 0x04
    assert rig.r(ICR) & ICR_LSC


# -- MAC addresses ---------------------------------------------------------------------------------------

def test_mac_parsing() -> None:
    assert parse_mac("52:54:00:12:34:56") == bytes.fromhex("525400123456")
    assert parse_mac("52-54-00-AB-cd-EF") == bytes.fromhex("525400abcdef")
    for bad in ("xyz", "52:54:00:12:34", "52:54:00:12:34:567", "5:54:00:12:34:56", "52:54:00:12:34:5g"):
        assert parse_mac(bad) is None
    first, second = default_mac(), default_mac()
    assert first[:5] == bytes.fromhex("5254001234") and second[5] == (first[5] + 1) & 0xFF
    assert format_mac(MAC) == "52:54:00:ab:cd:ef"


# -- device tree and migration ----------------------------------------------------------------------------

def test_device_types_and_mac_property() -> None:
    tree = DeviceTree()
    bus = add_pci_bus(tree.add_builtin("i440FX-pcihost"), Rig().bus)
    dev = tree.device_add({"driver": "e1000-82545em", "mac": "52:54:00:00:00:42", "addr": "05"})
    assert isinstance(dev, E1000State) and isinstance(dev.model, E1000) and dev.parent_bus is bus
    assert dev.model.devfn == 5 << 3 and dev.model.config_read(0x02, 2) == 0x100F
    assert dev.model.eeprom[:3] == [0x5452, 0x0000, 0x4200]
    assert "class Ethernet controller, addr 00:05.0, pci id 8086:100f (sub 1af4:1100)" in tree.qtree()
    assert 'mac = "52:54:00:00:00:42"' in tree.qtree()
    auto = tree.device_add({"driver": "e1000"})
    assert auto.model.mac[:5] == bytes.fromhex("5254001234")
    assert auto.props["mac"] == format_mac(auto.model.mac)
    with pytest.raises(QomError, match=r"^Property 'e1000.mac' doesn't take value 'xyz'$"):
        tree.device_add({"driver": "e1000", "mac": "xyz"})
    listing = device_help()
    for name in ("e1000", "e1000-82544gc", "e1000-82545em"):
        assert f'name "{name}", bus PCI, desc "Intel Gigabit Ethernet"' in listing
    help_text = device_type_help("e1000")
    assert "mac=<str>" in help_text and "netdev=<str>" in help_text


def test_vmstate_round_trip(rig: Rig) -> None:
    rig.setup_rx()
    rig.setup_tx()
    rig.w(IMS, ICR_RXT0)
    rig.dev.receive(frame_to(MAC))
    state = rig.dev.vmstate()
    other = E1000(MODELS["e1000"], MAC)
    other.load_vmstate(state)
    for offset in (CTRL, STATUS, IMS, RCTL, TCTL, RDBAL, RDLEN, RDH, RDT, TDLEN, RAL0, RAH0):
        assert other.mmio_read(offset, 4) == rig.dev.mmio_read(offset, 4)
    assert other.mmio_read(ICR, 4) & ICR_RXT0
    assert other.config_read(0x10, 4) == BAR0
