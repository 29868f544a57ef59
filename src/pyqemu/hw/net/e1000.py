"""The Intel 8254x gigabit Ethernet controllers (QEMU hw/net/e1000.c): 82540EM (``e1000``), 82544GC copper
(``e1000-82544gc``) and 82545EM copper (``e1000-82545em``), as Linux's e1000 driver programs them.

Per Intel's "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual" (8254x SDM):

* PCI function (SDM 4.1): BAR0 is the 128 KiB register space, BAR1 a 64-byte I/O window whose IOADDR
  register selects the register IODATA reaches.
* Registers (chapter 13): CTRL (RST self-clearing, SLU), STATUS (link, 1000 Mb/s, full duplex), the
  EEPROM through EECD (microwire bit-banging) or EERD, the PHY through MDIC, interrupt cause and mask
  (ICR read-to-clear, ICS, IMS, IMC; the INTx line is ICR & IMS != 0), receive and transmit control and
  rings, the address filters (RAL/RAH, MTA) and the statistics (read-to-clear; a 64-bit pair resets
  when its high half is read).
* Transmit (chapter 3.3): legacy descriptors, context and data descriptors gathered up to EOP, IP and
  TCP/UDP checksum insertion (POPTS IXSM/TXSM with the context's IPCSS/IPCSO/IPCSE and
  TUCSS/TUCSO/TUCSE), TCP segmentation (TSE with HDRLEN/MSS), VLAN tag insertion (VLE with CTRL.VME),
  short-frame padding (TCTL.PSP), the legacy descriptor's single checksum (IC with CSS/CSO of the
  first descriptor); RS writes DD back and raises TXDW, a pass over the ring ends with TXQE.
* Receive (chapter 3.2): the unicast/multicast/broadcast/promiscuous filter, frames spread over the
  ring's buffers (RCTL.BSIZE/BSEX), legacy descriptors written back with DD, EOP, IXSM (no checksum
  offload) and the length including the FCS unless RCTL.SECRC, the VLAN filter (RCTL.VFE, VFTA) and
  tag stripping with CTRL.VME;
  RXT0 per frame, RXDMT0 at the RCTL.RDMTS threshold, RXO and a missed-packet count when the ring has
  no room.  Interrupt moderation (ITR, RDTR, RADV, TIDV, TADV) is accepted and ignored: every event
  interrupts at once.  EEPROM writes are not modelled (reads only).

Frames reach the backend through :class:`~pyqemu.hw.net.nic.NicPort` without an FCS, as in QEMU.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import astuple, dataclass, field

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.net import e1000_regs as r
from pyqemu.hw.net.e1000_regs import Ctrl, Eecd, Icr, Mdic, Phy, Rctl, Reg, RxStatus, Stat, Tctl, TxCmd
from pyqemu.hw.net.nic import NicPort, default_mac, format_mac, parse_mac
from pyqemu.hw.pci.pci import PCI_CLASS_NETWORK_ETHERNET, PCI_VENDOR_ID_INTEL, PCIDevice
from pyqemu.hw.pci.qdev import PCIDeviceState
from pyqemu.qom.object import Property, QomError, TypeInfo, register_type

__all__ = ["E1000", "E1000Model", "E1000State", "MODELS", "build_eeprom", "ones_complement_sum"]

#: what QEMU's PCI devices carry as subsystem (Red Hat / QEMU)
SUBSYSTEM_VENDOR_ID = 0x1AF4
SUBSYSTEM_ID = 0x1100
#: the controllers' PCI revision as QEMU presents them
REVISION = 0x03
#: largest frame taken without RCTL.LPE (a VLAN-tagged maximum frame; the FCS is not counted, as in QEMU)
MAX_STANDARD_FRAME = 1522
MIN_FRAME = 60  # without FCS
MAX_FRAME = 16384
ETH_HLEN = 14
FCS_LEN = 4
BROADCAST = b"\xff" * 6


@dataclass(frozen=True)
class E1000Model:
    """One member of the family: its ``-device`` name, PCI device ID and PHY (ID register 2)."""

    type_name: str
    device_id: int
    phy_id2: int


MODELS: dict[str, E1000Model] = {m.type_name: m for m in (
    E1000Model("e1000", 0x100E, r.PHY_ID2_88E1011),
    E1000Model("e1000-82544gc", 0x100C, r.PHY_ID2_88E1000),
    E1000Model("e1000-82545em", 0x100F, r.PHY_ID2_88E1011),
)}


def build_eeprom(mac: bytes, device_id: int) -> list[int]:
    """The 64-word EEPROM image: MAC address, IDs, init control words and the checksum word that makes
    the sum of all words 0xBABA (SDM 5.6)."""
    words = [0] * r.EEPROM_WORDS
    for i in range(3):
        words[r.EepromWord.MAC0 + i] = mac[2 * i] | mac[2 * i + 1] << 8
    words[r.EepromWord.ID_LED] = r.EEPROM_ID_LED_DEFAULT
    words[r.EepromWord.INIT_CTRL1] = r.EEPROM_INIT_CTRL1
    words[r.EepromWord.SUBSYSTEM_ID] = SUBSYSTEM_ID
    words[r.EepromWord.SUBSYSTEM_VENDOR] = SUBSYSTEM_VENDOR_ID
    words[r.EepromWord.DEVICE_ID] = device_id
    words[r.EepromWord.VENDOR_ID] = PCI_VENDOR_ID_INTEL
    words[r.EepromWord.INIT_CTRL2] = r.EEPROM_INIT_CTRL2
    words[r.EEPROM_CHECKSUM_WORD] = (r.EEPROM_SUM - sum(words)) & 0xFFFF
    return words


def ones_complement_sum(data: bytes | bytearray, start: int = 0) -> int:
    """The 16-bit one's complement sum of ``data`` (big-endian words, odd tail zero-padded) plus
    ``start``, folded."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    total = start + sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _put_checksum(buf: bytearray, css: int, cso: int, cse: int, extra: int = 0) -> None:
    """Store the complemented sum of the bytes from ``css`` through ``cse`` (0: to the end) plus ``extra``
    at ``cso`` (nothing when the offsets do not fit the frame)."""
    end = cse + 1 if cse else len(buf)
    if css >= end or cso + 2 > len(buf):
        return
    value = ~ones_complement_sum(buf[css:end], extra) & 0xFFFF
    buf[cso:cso + 2] = (value or 0xFFFF).to_bytes(2, "big")


@dataclass
class _TxContext:
    """The offload parameters of the last context descriptor."""

    ipcss: int = 0
    ipcso: int = 0
    ipcse: int = 0
    tucss: int = 0
    tucso: int = 0
    tucse: int = 0
    cmd_len: int = 0  # TUCMD and PAYLEN
    hdr_len: int = 0
    mss: int = 0


@dataclass
class _TxFrame:
    """A frame being gathered from data descriptors."""

    data: bytearray = field(default_factory=bytearray)
    started: bool = False
    popts: int = 0  # POPTS of the first data descriptor
    tse: bool = False
    legacy_csum: tuple[int, int] | None = None  # (CSS, CSO) of a first legacy descriptor with IC


_Reader = Callable[[int], int]
_Writer = Callable[[int, int], None]


class _Window:
    """MemoryRegion ops from a pair of functions."""

    def __init__(self, read: Callable[[int, int], int], write: Callable[[int, int, int], None]):
        self.read = read
        self.write = write


class E1000(PCIDevice):
    """One 8254x controller.  ``port`` connects it to a backend; it is a
    :class:`~pyqemu.hw.net.nic.NetClient` (``can_receive``, ``receive``, ``set_link``)."""

    def __init__(self, model: E1000Model = MODELS["e1000"], mac: bytes | None = None) -> None:
        super().__init__(model.type_name, vendor_id=PCI_VENDOR_ID_INTEL, device_id=model.device_id,
                         class_code=PCI_CLASS_NETWORK_ETHERNET, revision=REVISION,
                         subsystem_vendor_id=SUBSYSTEM_VENDOR_ID, subsystem_id=SUBSYSTEM_ID)
        self.model = model
        self.mac = mac if mac is not None else default_mac()
        self.port = NicPort()
        self.link_up = True
        self.eeprom = build_eeprom(self.mac, model.device_id)
        self.regs = [0] * (r.MMIO_SIZE // 4)
        self.phy = [0] * r.PHY_REGS
        self.ioaddr = 0
        self.mmio = MemoryRegion.io("e1000-mmio", r.MMIO_SIZE, _Window(self.mmio_read, self.mmio_write))
        self.io = MemoryRegion.io("e1000-io", r.IO_SIZE, _Window(self._io_read, self._io_write))
        self.register_bar(0, self.mmio)
        self.register_bar(1, self.io, io=True)
        self._readers, self._writers = self._dispatch_tables()
        self._mac_reset()

    # -- register dispatch ---------------------------------------------------------------------------
    def _dispatch_tables(self) -> tuple[dict[int, _Reader], dict[int, _Writer]]:
        plain = set(r.PLAIN_REGS) | {Reg.CTRL, Reg.STATUS, Reg.EECD, Reg.EERD, Reg.MDIC, Reg.IMS, Reg.RCTL,
                                     Reg.TCTL, Reg.RDLEN, Reg.RDH, Reg.RDT, Reg.TDLEN, Reg.TDH, Reg.TDT}
        for base, count in r.ARRAYS.values():
            plain.update(range(base, base + 4 * count, 4))
        readers: dict[int, _Reader] = dict.fromkeys(plain, self._read_plain)
        readers.update(dict.fromkeys(range(r.STATS_START, r.STATS_END, 4), self._read_stat))
        readers.update(dict.fromkeys(r.STAT_PAIRS.values(), self._read_plain))  # cleared with the high half
        readers[Reg.ICR] = self._read_icr
        readers[Reg.EECD] = self._read_eecd
        writers: dict[int, _Writer] = dict.fromkeys(plain - {Reg.STATUS}, self._write_plain)
        writers.update({
            Reg.CTRL: self._write_ctrl, Reg.EECD: self._write_eecd, Reg.EERD: self._write_eerd,
            Reg.MDIC: self._write_mdic, Reg.ICR: self._write_icr, Reg.ICS: self._write_ics,
            Reg.IMS: self._write_ims, Reg.IMC: self._write_imc, Reg.RCTL: self._write_rctl,
            Reg.TCTL: self._write_tctl, Reg.RDLEN: self._write_ring_len, Reg.TDLEN: self._write_ring_len,
            Reg.RDH: self._write_ring_index, Reg.TDH: self._write_ring_index, Reg.RDT: self._write_rdt,
            Reg.TDT: self._write_tdt,
        })
        return readers, writers

    def reg(self, offset: int) -> int:
        """The stored value of a register, without read side effects."""
        return self.regs[offset >> 2]

    def mmio_read(self, offset: int, size: int) -> int:
        """A guest read from BAR0 (sub-dword reads see part of the dword; 8 bytes are two dwords)."""
        if size == 8:
            return self.mmio_read(offset, 4) | self.mmio_read(offset + 4, 4) << 32
        base = offset & ~3
        reader = self._readers.get(base)
        value = reader(base) if reader is not None else 0
        return value >> (8 * (offset & 3)) & ((1 << (8 * size)) - 1)

    def mmio_write(self, offset: int, value: int, size: int) -> None:
        """A guest write to BAR0 (narrow writes merge with the stored dword)."""
        if size == 8:
            self.mmio_write(offset, value & 0xFFFFFFFF, 4)
            self.mmio_write(offset + 4, value >> 32, 4)
            return
        base = offset & ~3
        writer = self._writers.get(base)
        if writer is None:
            return
        if size < 4:
            shift = 8 * (offset & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            value = self.regs[base >> 2] & ~mask | (value << shift) & mask
        writer(base, value & 0xFFFFFFFF)

    def _io_read(self, offset: int, size: int) -> int:
        if offset == r.IOADDR:
            return self.ioaddr
        if offset == r.IODATA:
            return self.mmio_read(self.ioaddr & (r.MMIO_SIZE - 4), 4)
        return 0

    def _io_write(self, offset: int, value: int, size: int) -> None:
        if offset == r.IOADDR:
            self.ioaddr = value
        elif offset == r.IODATA:
            self.mmio_write(self.ioaddr & (r.MMIO_SIZE - 4), value, 4)

    def _read_plain(self, offset: int) -> int:
        return self.regs[offset >> 2]

    def _write_plain(self, offset: int, value: int) -> None:
        self.regs[offset >> 2] = value

    # -- reset and link ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset: PCI header and the whole MAC and PHY."""
        super().reset()
        self._mac_reset()

    def _mac_reset(self) -> None:
        self.regs = [0] * (r.MMIO_SIZE // 4)
        for offset, value in r.REG_RESET.items():
            self.regs[offset >> 2] = value
        self.regs[r.RA >> 2] = int.from_bytes(self.mac[:4], "little")
        self.regs[(r.RA >> 2) + 1] = int.from_bytes(self.mac[4:], "little") | r.RAH_AV
        phy = r.phy_defaults(self.model.phy_id2)
        self.phy = [phy.get(i, 0) for i in range(r.PHY_REGS)]
        self._ee_reset_serial()
        self._tx_ctx = _TxContext()
        self._tx_frame = _TxFrame()
        self._apply_link()
        self.set_irq(0)

    def vmstate(self) -> dict:
        """The device's state for migration and snapshots."""
        ctx, frame = self._tx_ctx, self._tx_frame
        return {
            "config": bytes(self.config), "regs": [[4 * i, v] for i, v in enumerate(self.regs) if v],
            "phy": list(self.phy), "link_up": self.link_up, "ioaddr": self.ioaddr,
            "eeprom_serial": [self._ee_bits, self._ee_shift, self._ee_reading, self._ee_addr, self._ee_out],
            "tx_context": list(astuple(ctx)),
            "tx_frame": [bytes(frame.data), frame.started, frame.popts, frame.tse, frame.legacy_csum],
        }

    def load_vmstate(self, state: dict) -> None:
        self.config[:] = state["config"]
        self.regs = [0] * (r.MMIO_SIZE // 4)
        for offset, value in state["regs"]:
            self.regs[offset >> 2] = value
        self.phy = list(state["phy"])
        self.link_up = state["link_up"]
        self.ioaddr = state["ioaddr"]
        (self._ee_bits, self._ee_shift, self._ee_reading, self._ee_addr,
         self._ee_out) = state["eeprom_serial"]
        self._tx_ctx = _TxContext(*state["tx_context"])
        data, started, popts, tse, legacy_csum = state["tx_frame"]
        self._tx_frame = _TxFrame(bytearray(data), started, popts, tse, legacy_csum)
        self.update_mappings()
        self._update_irq()

    def set_link(self, up: bool) -> None:
        """The cable was (un)plugged: PHY and STATUS.LU follow, a change raises LSC."""
        changed = up != self.link_up
        self.link_up = up
        self._apply_link()
        if changed:
            self._set_cause(Icr.LSC)
        if up:
            self.port.notify_rx_ready()

    def _apply_link(self) -> None:
        """PHY status and STATUS.LU after the link state changed (no interrupt)."""
        up = self.link_up
        self.phy[Phy.STATUS] = self.phy[Phy.STATUS] & ~r.MII_SR_LINK_BITS | (r.MII_SR_LINK_BITS if up else 0)
        self.phy[Phy.M88_SPEC_STATUS] = (self.phy[Phy.M88_SPEC_STATUS] & ~r.M88_SSR_LINK
                                         | (r.M88_SSR_LINK if up else 0))
        self._update_status(raise_lsc=False)

    def _update_status(self, raise_lsc: bool) -> None:
        """STATUS.LU: the PHY has link and the MAC is told to use it (CTRL.SLU)."""
        lu = self.link_up and bool(self.reg(Reg.CTRL) & Ctrl.SLU)
        old = self.reg(Reg.STATUS)
        self.regs[Reg.STATUS >> 2] = old & ~r.Status.LU | (r.Status.LU if lu else 0)
        if raise_lsc and bool(old & r.Status.LU) != lu:
            self._set_cause(Icr.LSC)

    def _write_ctrl(self, offset: int, value: int) -> None:
        if value & Ctrl.RST:
            self._mac_reset()
            return
        self.regs[Reg.CTRL >> 2] = value
        self._update_status(raise_lsc=True)

    # -- interrupts ----------------------------------------------------------------------------------
    def _set_cause(self, bits: int) -> None:
        self.regs[Reg.ICR >> 2] |= bits
        self._update_irq()

    def _update_irq(self) -> None:
        self.set_irq(1 if self.reg(Reg.ICR) & self.reg(Reg.IMS) else 0)

    def _read_icr(self, offset: int) -> int:
        value = self.reg(Reg.ICR)
        self.regs[Reg.ICR >> 2] = 0
        self._update_irq()
        return value

    def _write_icr(self, offset: int, value: int) -> None:
        self.regs[Reg.ICR >> 2] &= ~value
        self._update_irq()

    def _write_ics(self, offset: int, value: int) -> None:
        self._set_cause(value)

    def _write_ims(self, offset: int, value: int) -> None:
        self.regs[Reg.IMS >> 2] |= value
        self._update_irq()

    def _write_imc(self, offset: int, value: int) -> None:
        self.regs[Reg.IMS >> 2] &= ~value
        self._update_irq()

    # -- EEPROM --------------------------------------------------------------------------------------
    def _ee_reset_serial(self) -> None:
        self._ee_bits = 0
        self._ee_shift = 0
        self._ee_reading = False
        self._ee_addr = 0
        self._ee_out = -1  # index of the data bit on DO; -1 is the dummy zero after the address

    def _read_eecd(self, offset: int) -> int:
        value = self.reg(Reg.EECD) | Eecd.PRES | Eecd.FWE_DIS
        if value & Eecd.REQ:
            value |= Eecd.GNT
        if self._ee_reading and value & Eecd.CS and self._ee_out >= 0:
            word = self.eeprom[(self._ee_addr + self._ee_out // 16) % r.EEPROM_WORDS]
            if word >> (15 - self._ee_out % 16) & 1:
                value |= Eecd.DO
        return value

    def _write_eecd(self, offset: int, value: int) -> None:
        old = self.reg(Reg.EECD)
        value &= r.EECD_DRIVEN
        self.regs[Reg.EECD >> 2] = value
        if not value & Eecd.CS:
            self._ee_reset_serial()
        elif value & Eecd.SK and not old & Eecd.SK:
            self._ee_clock(bool(value & Eecd.DI))

    def _ee_clock(self, di: bool) -> None:
        """A rising SK edge: shift a command bit in, or move the output to the next data bit."""
        if self._ee_reading:
            self._ee_out += 1
            return
        self._ee_shift = self._ee_shift << 1 | di
        self._ee_bits += 1
        if self._ee_bits == r.EEPROM_OPCODE_BITS + r.EEPROM_ADDR_BITS:
            if self._ee_shift >> r.EEPROM_ADDR_BITS == r.EEPROM_OPCODE_READ:
                self._ee_reading = True
                self._ee_addr = self._ee_shift & (r.EEPROM_WORDS - 1)
                self._ee_out = -1

    def _write_eerd(self, offset: int, value: int) -> None:
        if not value & r.EERD_START:
            self.regs[Reg.EERD >> 2] = value & ~r.EERD_DONE
            return
        addr = value >> r.EERD_ADDR_SHIFT & 0xFF
        data = self.eeprom[addr] if addr < r.EEPROM_WORDS else 0
        self.regs[Reg.EERD >> 2] = data << r.EERD_DATA_SHIFT | addr << r.EERD_ADDR_SHIFT | r.EERD_DONE

    # -- PHY -----------------------------------------------------------------------------------------
    def _write_mdic(self, offset: int, value: int) -> None:
        phy_addr = value >> r.MDIC_PHY_SHIFT & 0x1F
        reg = value >> r.MDIC_REG_SHIFT & 0x1F
        op = value & r.MDIC_OP_MASK
        if phy_addr != r.PHY_ADDR or op not in (Mdic.OP_READ, Mdic.OP_WRITE):
            value |= Mdic.ERROR
        elif op == Mdic.OP_READ:
            value = value & ~r.MDIC_DATA_MASK | self.phy[reg]
        elif reg not in r.PHY_READ_ONLY:
            data = value & r.MDIC_DATA_MASK
            self.phy[reg] = data & ~r.MII_CR_SELF_CLEARING if reg == Phy.CTRL else data
        self.regs[Reg.MDIC >> 2] = value | Mdic.READY
        if value & Mdic.INT_EN:
            self._set_cause(Icr.MDAC)

    # -- rings ---------------------------------------------------------------------------------------
    def _write_ring_len(self, offset: int, value: int) -> None:
        self.regs[offset >> 2] = value & r.RDLEN_MASK

    def _write_ring_index(self, offset: int, value: int) -> None:
        self.regs[offset >> 2] = value & r.RING_INDEX_MASK

    def _ring(self, bal: int) -> tuple[int, int]:
        """(base address, descriptor count) of the ring whose RDBAL/TDBAL is at ``bal``."""
        i = bal >> 2
        base = (self.regs[i + 1] << 32 | self.regs[i]) & ~0xF
        return base, self.regs[i + 2] // r.DESC_SIZE

    def _dma_ok(self) -> bool:
        return self.dma is not None and self.bus_master()

    def _write_rdt(self, offset: int, value: int) -> None:
        self._write_ring_index(offset, value)
        if self.can_receive():
            self.port.notify_rx_ready()

    def _write_rctl(self, offset: int, value: int) -> None:
        self.regs[Reg.RCTL >> 2] = value
        if self.can_receive():
            self.port.notify_rx_ready()

    def _write_tdt(self, offset: int, value: int) -> None:
        self._write_ring_index(offset, value)
        self._start_xmit()

    def _write_tctl(self, offset: int, value: int) -> None:
        self.regs[Reg.TCTL >> 2] = value
        self._start_xmit()

    # -- statistics ----------------------------------------------------------------------------------
    def _read_stat(self, offset: int) -> int:
        value = self.regs[offset >> 2]
        self.regs[offset >> 2] = 0
        low = r.STAT_PAIRS.get(offset)
        if low is not None:
            self.regs[low >> 2] = 0
        return value

    def _count(self, stat: int, n: int = 1) -> None:
        i = stat >> 2
        self.regs[i] = min(self.regs[i] + n, 0xFFFFFFFF)

    def _count64(self, low: int, n: int) -> None:
        i = low >> 2
        total = min((self.regs[i + 1] << 32 | self.regs[i]) + n, (1 << 64) - 1)
        self.regs[i], self.regs[i + 1] = total & 0xFFFFFFFF, total >> 32

    def _count_frame(self, frame: bytes, good: int, octets: int, total_octets: int,
                     sizes: tuple[int, ...], bcast: int, mcast: int, total: int) -> None:
        """Count one good frame (``frame`` without FCS) in a direction's counters."""
        length = len(frame) + FCS_LEN
        for stat in (good, total):
            self._count(stat)
        self._count64(octets, length)
        self._count64(total_octets, length)
        for bound, stat in zip(r.SIZE_BUCKETS, sizes, strict=True):
            if length <= bound:
                self._count(stat)
                break
        if frame[:6] == BROADCAST:
            self._count(bcast)
        elif frame[0] & 1:
            self._count(mcast)

    # -- transmit ------------------------------------------------------------------------------------
    def _start_xmit(self) -> None:
        """Process descriptors from TDH up to TDT."""
        if not self.reg(Reg.TCTL) & Tctl.EN or not self._dma_ok():
            return
        base, count = self._ring(Reg.TDBAL)
        if count == 0:
            return
        assert self.dma is not None
        cause = Icr.TXQE
        for _ in range(count):  # a TDT outside the ring must not loop forever
            head = self.reg(Reg.TDH)
            if head == self.reg(Reg.TDT):
                break
            addr = base + r.DESC_SIZE * head
            raw = self.dma.read_bytes(addr, r.DESC_SIZE)
            buf, lower, upper = r.TX_DESC.unpack(raw)
            self._tx_descriptor(buf, lower, upper, raw)
            if lower & (TxCmd.RS | TxCmd.RPS):
                status = raw[r.TX_STATUS_OFFSET] & 0xF0 | r.TXD_STA_DD
                self.dma.write_bytes(addr + r.TX_STATUS_OFFSET, bytes([status]))
                cause |= Icr.TXDW
            self.regs[Reg.TDH >> 2] = (head + 1) % count
        self._set_cause(cause)

    def _tx_descriptor(self, buf: int, lower: int, upper: int, raw: bytes) -> None:
        assert self.dma is not None
        frame = self._tx_frame
        if lower & TxCmd.DEXT:
            dtyp = lower & r.TXD_DTYP_MASK
            if dtyp == r.TXD_DTYP_CONTEXT:
                (ipcss, ipcso, ipcse, tucss, tucso, tucse, cmd_len, _sta, hdr_len,
                 mss) = r.TX_CONTEXT.unpack(raw)
                self._tx_ctx = _TxContext(ipcss, ipcso, ipcse, tucss, tucso, tucse, cmd_len, hdr_len, mss)
                return
            if dtyp != r.TXD_DTYP_DATA:
                return
            length = lower & r.TXD_DATA_LEN_MASK
            if not frame.started:
                frame.popts = upper
                frame.tse = bool(lower & TxCmd.TSE)
        else:
            _, length, cso, _, _, css, _ = r.TX_LEGACY.unpack(raw)
            if not frame.started and lower & TxCmd.IC:
                frame.legacy_csum = (css, cso)
        frame.started = True
        if length:
            frame.data += self.dma.read_bytes(buf, length)
        if lower & TxCmd.EOP:
            vlan_on = lower & TxCmd.VLE and self.reg(Reg.CTRL) & Ctrl.VME
            vlan = upper >> r.TXD_SPECIAL_SHIFT if vlan_on else None
            self._tx_frame = _TxFrame()
            if frame.tse:
                self._tx_segments(frame, vlan)
            else:
                self._tx_offload(frame.data, frame.popts)
                if frame.legacy_csum is not None:
                    _put_checksum(frame.data, frame.legacy_csum[0], frame.legacy_csum[1], 0)
                self._tx_send(frame.data, vlan)

    def _tx_offload(self, data: bytearray, popts: int, l4_extra: int = 0) -> None:
        ctx = self._tx_ctx
        if popts & r.TXD_POPTS_IXSM:
            _put_checksum(data, ctx.ipcss, ctx.ipcso, ctx.ipcse)
        if popts & r.TXD_POPTS_TXSM:
            _put_checksum(data, ctx.tucss, ctx.tucso, ctx.tucse, l4_extra)

    def _tx_segments(self, frame: _TxFrame, vlan: int | None) -> None:
        """TCP segmentation: each segment is the header template plus up to MSS payload bytes, with IP
        length and ID, TCP sequence number and flags (or UDP length) and both checksums fixed up; the
        driver's pseudo-header sum excludes the length, which is added per segment."""
        ctx = self._tx_ctx
        header = bytes(frame.data[:ctx.hdr_len])
        payload = bytes(frame.data[ctx.hdr_len:])
        mss = ctx.mss or len(payload) or 1
        is_ipv4 = bool(ctx.cmd_len & TxCmd.IP)
        is_tcp = bool(ctx.cmd_len & TxCmd.TCP)
        ip, l4 = ctx.ipcss, ctx.tucss
        offsets = range(0, max(len(payload), 1), mss)
        for n, off in enumerate(offsets):
            seg = bytearray(header + payload[off:off + mss])
            if is_ipv4:
                struct.pack_into(">H", seg, ip + 2, len(seg) - ip)
                ip_id = struct.unpack_from(">H", seg, ip + 4)[0]
                struct.pack_into(">H", seg, ip + 4, (ip_id + n) & 0xFFFF)
            else:
                struct.pack_into(">H", seg, ip + 4, len(seg) - ip - 40)
            if is_tcp:
                seq = struct.unpack_from(">I", seg, l4 + 4)[0]
                struct.pack_into(">I", seg, l4 + 4, (seq + off) & 0xFFFFFFFF)
                if off + mss < len(payload):
                    seg[l4 + 13] &= ~0x09  # FIN and PSH only on the last segment
            else:
                struct.pack_into(">H", seg, l4 + 4, len(seg) - l4)
            self._tx_offload(seg, frame.popts, len(seg) - l4)
            self._tx_send(seg, vlan)

    def _tx_send(self, frame: bytearray, vlan: int | None) -> None:
        """Hand a finished frame to the backend (with the link down it is lost, as on a cable)."""
        if not self.link_up:
            return
        if vlan is not None:
            frame[12:12] = struct.pack(">HH", self.reg(Reg.VET) & 0xFFFF, vlan & 0xFFFF)
        if self.reg(Reg.TCTL) & Tctl.PSP and len(frame) < MIN_FRAME:
            frame += bytes(MIN_FRAME - len(frame))
        data = bytes(frame)
        self._count_frame(data, Stat.GPTC, Stat.GOTCL, Stat.TOTL, r.TX_SIZE_STATS, Stat.BPTC, Stat.MPTC,
                          Stat.TPT)
        self.port.transmit(data)

    # -- receive -------------------------------------------------------------------------------------
    def _rx_free(self) -> int:
        """Descriptors the guest has handed to the device (RDH up to, not including, RDT)."""
        _, count = self._ring(Reg.RDBAL)
        if count == 0:
            return 0
        head, tail = self.reg(Reg.RDH), self.reg(Reg.RDT)
        if head >= count or tail >= count:
            return 0
        return (tail - head) % count

    def can_receive(self) -> bool:
        """Link up, receiver enabled, bus mastering allowed and at least one free descriptor."""
        return (self.link_up and bool(self.reg(Reg.RCTL) & Rctl.EN) and self._dma_ok()
                and self._rx_free() > 0)

    def _rx_accepts(self, frame: bytes) -> bool:
        """The VLAN filter (RCTL.VFE: a tagged frame's VLAN must be set in VFTA) and the destination
        address filter (SDM 3.2.1)."""
        rctl = self.reg(Reg.RCTL)
        if rctl & Rctl.VFE and int.from_bytes(frame[12:14], "big") == self.reg(Reg.VET) & 0xFFFF:
            vid = int.from_bytes(frame[14:16], "big") & 0xFFF
            if not self.regs[(r.VFTA >> 2) + (vid >> 5)] >> (vid & 31) & 1:
                return False
        dest = frame[:6]
        if dest[0] & 1:
            if rctl & Rctl.MPE or (dest == BROADCAST and rctl & Rctl.BAM):
                return True
            shift = r.MTA_SHIFTS[rctl >> r.RCTL_MO_SHIFT & 3]
            bit = (dest[4] | dest[5] << 8) >> shift & 0xFFF
            if self.regs[(r.MTA >> 2) + (bit >> 5)] >> (bit & 31) & 1:
                return True
        elif rctl & Rctl.UPE:
            return True
        for n in range(r.RA_ENTRIES):
            i = (r.RA >> 2) + 2 * n
            high = self.regs[i + 1]
            if high & r.RAH_AV and dest == (self.regs[i] | (high & 0xFFFF) << 32).to_bytes(6, "little"):
                return True
        return False

    def _rx_buffer_size(self) -> int:
        rctl = self.reg(Reg.RCTL)
        return r.RX_BUFFER_SIZES[1 if rctl & Rctl.BSEX else 0][rctl >> r.RCTL_BSIZE_SHIFT & 3]

    def receive(self, frame: bytes) -> bool:
        """A frame from the wire.  True: consumed (stored in the ring, or dropped by the filter or for
        its size); False: not taken (receiver off, link down, or no room in the ring: RXO is raised and
        the frame counted as missed)."""
        rctl = self.reg(Reg.RCTL)
        if not (self.link_up and rctl & Rctl.EN and self._dma_ok()):
            return False
        if len(frame) < ETH_HLEN:
            return True
        limit = MAX_FRAME if rctl & Rctl.LPE else MAX_STANDARD_FRAME
        if len(frame) > limit:
            self._count(Stat.ROC)
            return True
        if not self._rx_accepts(frame):
            return True
        if len(frame) < MIN_FRAME:
            frame = frame + bytes(MIN_FRAME - len(frame))
        wire = frame
        status = RxStatus.DD | RxStatus.IXSM
        special = 0
        vet = (self.reg(Reg.VET) & 0xFFFF).to_bytes(2, "big")
        if self.reg(Reg.CTRL) & Ctrl.VME and frame[12:14] == vet:
            special = int.from_bytes(frame[14:16], "big")
            frame = frame[:12] + frame[16:]
            status |= RxStatus.VP
        data = frame if rctl & Rctl.SECRC else frame + zlib.crc32(frame).to_bytes(4, "little")
        bufsize = self._rx_buffer_size()
        if self._rx_free() < -(-len(data) // bufsize):
            self._count(Stat.RNBC)
            self._count(Stat.MPC)
            self._set_cause(Icr.RXO)
            return False
        self._count_frame(wire, Stat.GPRC, Stat.GORCL, Stat.TORL, r.RX_SIZE_STATS, Stat.BPRC, Stat.MPRC,
                          Stat.TPR)
        self._rx_store(data, bufsize, status, special)
        cause = Icr.RXT0
        _, count = self._ring(Reg.RDBAL)
        if self._rx_free() <= count >> ((rctl >> r.RCTL_RDMTS_SHIFT & 3) + 1):
            cause |= Icr.RXDMT0
        self._set_cause(cause)
        return True

    def _rx_store(self, data: bytes, bufsize: int, status: int, special: int) -> None:
        """Write ``data`` into the buffers of the descriptors from RDH on and write them back."""
        assert self.dma is not None
        base, count = self._ring(Reg.RDBAL)
        for pos in range(0, len(data), bufsize):
            head = self.reg(Reg.RDH)
            addr = base + r.DESC_SIZE * head
            buf = r.RX_DESC.unpack(self.dma.read_bytes(addr, r.DESC_SIZE))[0]
            chunk = data[pos:pos + bufsize]
            if buf:
                self.dma.write_bytes(buf, chunk)
            if pos + bufsize >= len(data):
                wb = r.RX_DESC_WB.pack(len(chunk), 0, status | RxStatus.EOP, 0, special)
            else:
                wb = r.RX_DESC_WB.pack(len(chunk), 0, status & ~RxStatus.VP, 0, 0)
            self.dma.write_bytes(addr + r.RX_WB_OFFSET, wb)
            self.regs[Reg.RDH >> 2] = (head + 1) % count


# -- QOM types ----------------------------------------------------------------------------------------------

class E1000State(PCIDeviceState):
    """``e1000``, ``e1000-82544gc`` or ``e1000-82545em`` in the device tree; ``mac`` is checked as it is
    set, and without it the NIC gets the next automatic address."""

    model: E1000 | None = None

    def set_property(self, name: str, text: str) -> None:
        if name == "mac" and parse_mac(text) is None:
            raise QomError(f"Property '{self.type_name}.mac' doesn't take value '{text}'")
        super().set_property(name, text)

    def create_model(self) -> E1000:
        text = self.props.get("mac")
        model = E1000(MODELS[self.type_name], parse_mac(text) if text else None)
        self.props["mac"] = format_mac(model.mac)  # ``info qtree`` shows the address given out
        return model


_PROPERTIES = (
    Property("mac", "str", description="Ethernet 6-byte MAC Address, example: 52:54:00:12:34:56"),
    Property("netdev", "str", description="ID of a netdev to use as a backend"),
)
for _model in MODELS.values():
    register_type(TypeInfo(_model.type_name, parent="pci-device", category="Network devices", bus_type="PCI",
                           description="Intel Gigabit Ethernet", properties=_PROPERTIES, cls=E1000State))
