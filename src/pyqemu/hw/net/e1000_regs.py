"""Register map, bit names and descriptor layouts of the Intel 8254x gigabit controllers, as data.

Source: Intel "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual" (8254x
SDM): chapter 13 (register descriptions: general 13.4, interrupt 13.4.17-21, receive 13.4.22-33,
transmit 13.4.33-46, filters 13.5, statistics 13.7), chapter 3.2/3.3 (receive and transmit descriptor
formats), chapter 5 (EEPROM map) and chapter 8 plus the Marvell 88E1011 PHY registers (13.5.x "PHY
registers").  Only what :mod:`pyqemu.hw.net.e1000` models is listed.
"""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag

#: size of the memory BAR (BAR0) and of the I/O BAR (BAR1, IOADDR/IODATA)
MMIO_SIZE = 0x20000
IO_SIZE = 0x40
IOADDR = 0x00
IODATA = 0x04


class Reg(IntEnum):
    """Offsets of the single registers in BAR0."""

    CTRL = 0x0000
    STATUS = 0x0008
    EECD = 0x0010
    EERD = 0x0014
    CTRL_EXT = 0x0018
    FLA = 0x001C
    MDIC = 0x0020
    FCAL = 0x0028
    FCAH = 0x002C
    FCT = 0x0030
    VET = 0x0038
    ICR = 0x00C0
    ITR = 0x00C4
    ICS = 0x00C8
    IMS = 0x00D0
    IMC = 0x00D8
    RCTL = 0x0100
    FCTTV = 0x0170
    TXCW = 0x0178
    RXCW = 0x0180
    TCTL = 0x0400
    TIPG = 0x0410
    AIT = 0x0458
    LEDCTL = 0x0E00
    PBA = 0x1000
    FCRTL = 0x2160
    FCRTH = 0x2168
    RDFH = 0x2410
    RDFT = 0x2418
    RDFHS = 0x2420
    RDFTS = 0x2428
    RDFPC = 0x2430
    RDBAL = 0x2800
    RDBAH = 0x2804
    RDLEN = 0x2808
    RDH = 0x2810
    RDT = 0x2818
    RDTR = 0x2820
    RXDCTL = 0x2828
    RADV = 0x282C
    RSRPD = 0x2C00
    TXDMAC = 0x3000
    TDFH = 0x3410
    TDFT = 0x3418
    TDFHS = 0x3420
    TDFTS = 0x3428
    TDFPC = 0x3430
    TDBAL = 0x3800
    TDBAH = 0x3804
    TDLEN = 0x3808
    TDH = 0x3810
    TDT = 0x3818
    TIDV = 0x3820
    TXDCTL = 0x3828
    TADV = 0x382C
    RXCSUM = 0x5000
    WUC = 0x5800
    WUFC = 0x5808
    WUS = 0x5810
    MANC = 0x5820
    IPAV = 0x5838


#: register arrays: name -> (first offset, number of 32-bit registers)
MTA = 0x5200
MTA_COUNT = 128
RA = 0x5400
RA_ENTRIES = 16  # RAL/RAH pairs
VFTA = 0x5600
VFTA_COUNT = 128
IP4AT = 0x5840
IP4AT_COUNT = 8
FFLT = 0x5F00
FFLT_COUNT = 8
WUPM = 0x5A00
WUPM_COUNT = 32
ARRAYS: dict[str, tuple[int, int]] = {
    "MTA": (MTA, MTA_COUNT),
    "RA": (RA, 2 * RA_ENTRIES),
    "VFTA": (VFTA, VFTA_COUNT),
    "IP4AT": (IP4AT, IP4AT_COUNT),
    "FFLT": (FFLT, FFLT_COUNT),
    "WUPM": (WUPM, WUPM_COUNT),
}

#: RAH: address valid
RAH_AV = 1 << 31

# -- statistics (13.7): the registers in 0x4000-0x40FC clear when read ---------------------------------
STATS_START = 0x4000
STATS_END = 0x4100


class Stat(IntEnum):
    CRCERRS = 0x4000
    MPC = 0x4010
    RLEC = 0x4040
    PRC64 = 0x405C
    PRC127 = 0x4060
    PRC255 = 0x4064
    PRC511 = 0x4068
    PRC1023 = 0x406C
    PRC1522 = 0x4070
    GPRC = 0x4074
    BPRC = 0x4078
    MPRC = 0x407C
    GPTC = 0x4080
    GORCL = 0x4088
    GORCH = 0x408C
    GOTCL = 0x4090
    GOTCH = 0x4094
    RNBC = 0x40A0
    RUC = 0x40A4
    ROC = 0x40AC
    TORL = 0x40C0
    TORH = 0x40C4
    TOTL = 0x40C8
    TOTH = 0x40CC
    TPR = 0x40D0
    TPT = 0x40D4
    PTC64 = 0x40D8
    PTC127 = 0x40DC
    PTC255 = 0x40E0
    PTC511 = 0x40E4
    PTC1023 = 0x40E8
    PTC1522 = 0x40EC
    MPTC = 0x40F0
    BPTC = 0x40F4


#: 64-bit counters: high register -> low register (reading the low half leaves the count alone,
#: reading the high half resets both)
STAT_PAIRS: dict[int, int] = {
    Stat.GORCH: Stat.GORCL, Stat.GOTCH: Stat.GOTCL, Stat.TORH: Stat.TORL, Stat.TOTH: Stat.TOTL,
}

#: frame size buckets (size including the FCS, upper bound inclusive) of the PRCxx / PTCxx counters
SIZE_BUCKETS = (64, 127, 255, 511, 1023, 1522)
RX_SIZE_STATS = (Stat.PRC64, Stat.PRC127, Stat.PRC255, Stat.PRC511, Stat.PRC1023, Stat.PRC1522)
TX_SIZE_STATS = (Stat.PTC64, Stat.PTC127, Stat.PTC255, Stat.PTC511, Stat.PTC1023, Stat.PTC1522)


# -- bits ----------------------------------------------------------------------------------------------

class Ctrl(IntFlag):
    FD = 1 << 0
    LRST = 1 << 3
    ASDE = 1 << 5
    SLU = 1 << 6
    ILOS = 1 << 7
    FRCSPD = 1 << 11
    FRCDPX = 1 << 12
    RST = 1 << 26
    RFCE = 1 << 27
    TFCE = 1 << 28
    VME = 1 << 30
    PHY_RST = 1 << 31


class Status(IntFlag):
    FD = 1 << 0
    LU = 1 << 1
    SPEED_1000 = 1 << 7
    ASDV_1000 = 1 << 9


class Eecd(IntFlag):
    SK = 1 << 0
    CS = 1 << 1
    DI = 1 << 2
    DO = 1 << 3
    FWE_DIS = 1 << 4
    REQ = 1 << 6
    GNT = 1 << 7
    PRES = 1 << 8


#: EECD bits the driver drives (the rest are status)
EECD_DRIVEN = Eecd.SK | Eecd.CS | Eecd.DI | Eecd.REQ

#: EERD: start (write), done (read), word address in bits 15:8, data in 31:16
EERD_START = 1 << 0
EERD_DONE = 1 << 4
EERD_ADDR_SHIFT = 8
EERD_DATA_SHIFT = 16

#: microwire EEPROM: 3-bit READ opcode, 6 address bits (64-word part)
EEPROM_OPCODE_READ = 0b110
EEPROM_OPCODE_BITS = 3
EEPROM_ADDR_BITS = 6


class Mdic(IntFlag):
    OP_WRITE = 1 << 26
    OP_READ = 2 << 26
    READY = 1 << 28
    INT_EN = 1 << 29
    ERROR = 1 << 30


MDIC_DATA_MASK = 0xFFFF
MDIC_REG_SHIFT = 16
MDIC_PHY_SHIFT = 21
MDIC_OP_MASK = 3 << 26
#: the internal PHY answers at MDIO address 1 only
PHY_ADDR = 1


class Icr(IntFlag):
    TXDW = 1 << 0
    TXQE = 1 << 1
    LSC = 1 << 2
    RXSEQ = 1 << 3
    RXDMT0 = 1 << 4
    RXO = 1 << 6
    RXT0 = 1 << 7
    MDAC = 1 << 9


class Rctl(IntFlag):
    EN = 1 << 1
    SBP = 1 << 2
    UPE = 1 << 3
    MPE = 1 << 4
    LPE = 1 << 5
    BAM = 1 << 15
    VFE = 1 << 18
    BSEX = 1 << 25
    SECRC = 1 << 26


RCTL_RDMTS_SHIFT = 8
RCTL_MO_SHIFT = 12
RCTL_BSIZE_SHIFT = 16
#: receive buffer size by RCTL.BSIZE, without and with BSEX
RX_BUFFER_SIZES = ((2048, 1024, 512, 256), (2048, 16384, 8192, 4096))
#: MTA hash: right shift of the last two address bytes (as a little-endian word) for RCTL.MO 0-3
MTA_SHIFTS = (4, 3, 2, 0)


class Tctl(IntFlag):
    EN = 1 << 1
    PSP = 1 << 3


# -- descriptors (SDM 3.2.3 receive, 3.3.3 legacy transmit, 3.3.6-7 context and data) -----------------
DESC_SIZE = 16

#: legacy RX descriptor: buffer address, length, packet checksum, status, errors, special
RX_DESC = struct.Struct("<QHHBBH")
RX_DESC_WB = struct.Struct("<HHBBH")  # the part written back, at offset 8
RX_WB_OFFSET = 8


class RxStatus(IntFlag):
    DD = 1 << 0
    EOP = 1 << 1
    IXSM = 1 << 2
    VP = 1 << 3


#: a transmit descriptor seen as buffer address (or context fields), lower and upper dwords
TX_DESC = struct.Struct("<QII")
#: legacy transmit descriptor: address, length, CSO, CMD, STA, CSS, special
TX_LEGACY = struct.Struct("<QHBBBBH")
#: context descriptor: IPCSS, IPCSO, IPCSE, TUCSS, TUCSO, TUCSE, cmd+paylen, STA, HDRLEN, MSS
TX_CONTEXT = struct.Struct("<BBHBBHIBBH")
TX_STATUS_OFFSET = 12  # STA byte, where DD is written back


class TxCmd(IntFlag):
    """CMD / DCMD / TUCMD bits, as they sit in bits 31:24 of the lower dword."""

    EOP = 1 << 24
    IFCS = 1 << 25
    IC = 1 << 26
    RS = 1 << 27
    RPS = 1 << 28
    DEXT = 1 << 29
    VLE = 1 << 30
    IDE = 1 << 31
    # context descriptor TUCMD
    TCP = 1 << 24
    IP = 1 << 25
    TSE = 1 << 26


TXD_DTYP_MASK = 0xF << 20
TXD_DTYP_CONTEXT = 0 << 20
TXD_DTYP_DATA = 1 << 20
TXD_DATA_LEN_MASK = 0xFFFFF  # DTALEN / PAYLEN
TXD_STA_DD = 1 << 0
#: POPTS, bits 15:8 of the data descriptor's upper dword
TXD_POPTS_IXSM = 1 << 8
TXD_POPTS_TXSM = 1 << 9
TXD_SPECIAL_SHIFT = 16


# -- EEPROM (SDM chapter 5, table 5-2) ------------------------------------------------------------------
EEPROM_WORDS = 64
EEPROM_CHECKSUM_WORD = 0x3F
EEPROM_SUM = 0xBABA


class EepromWord(IntEnum):
    MAC0 = 0x00
    MAC1 = 0x01
    MAC2 = 0x02
    COMPAT = 0x03
    ID_LED = 0x04
    VERSION = 0x05
    PBA0 = 0x08
    PBA1 = 0x09
    INIT_CTRL1 = 0x0A
    SUBSYSTEM_ID = 0x0B
    SUBSYSTEM_VENDOR = 0x0C
    DEVICE_ID = 0x0D
    VENDOR_ID = 0x0E
    INIT_CTRL2 = 0x0F


#: initialization control word 1: signature 01b in bits 15:14, load subsystem IDs (bit 1)
EEPROM_INIT_CTRL1 = 0x4000 | 1 << 1
#: initialization control word 2: PAUSE and ASM_DIR advertised (bits 13:12), i.e. full flow control
EEPROM_INIT_CTRL2 = 0x3000
#: ID LED settings "use the defaults" (0xFFFF)
EEPROM_ID_LED_DEFAULT = 0xFFFF


# -- PHY (Marvell 88E1011-style, MII registers 0-15 plus vendor 16-31) ----------------------------------
class Phy(IntEnum):
    CTRL = 0x00
    STATUS = 0x01
    ID1 = 0x02
    ID2 = 0x03
    AUTONEG_ADV = 0x04
    LP_ABILITY = 0x05
    AUTONEG_EXP = 0x06
    T1000_CTRL = 0x09
    T1000_STATUS = 0x0A
    EXT_STATUS = 0x0F
    M88_SPEC_CTRL = 0x10
    M88_SPEC_STATUS = 0x11
    M88_EXT_SPEC_CTRL = 0x14


PHY_REGS = 32

# PHY_CTRL (BMCR)
MII_CR_SPEED_1000 = 1 << 6
MII_CR_FULL_DUPLEX = 1 << 8
MII_CR_RESTART_AUTONEG = 1 << 9
MII_CR_AUTONEG_EN = 1 << 12
MII_CR_RESET = 1 << 15
MII_CR_SELF_CLEARING = MII_CR_RESTART_AUTONEG | MII_CR_RESET

# PHY_STATUS (BMSR)
MII_SR_EXTENDED_CAPS = 1 << 0
MII_SR_LINK_STATUS = 1 << 2
MII_SR_AUTONEG_CAPS = 1 << 3
MII_SR_AUTONEG_COMPLETE = 1 << 5
MII_SR_PREAMBLE_SUPPRESS = 1 << 6
MII_SR_EXTENDED_STATUS = 1 << 8
MII_SR_10T_HD = 1 << 11
MII_SR_10T_FD = 1 << 12
MII_SR_100X_HD = 1 << 13
MII_SR_100X_FD = 1 << 14
MII_SR_LINK_BITS = MII_SR_LINK_STATUS | MII_SR_AUTONEG_COMPLETE

# link partner ability (what the emulated switch port offers)
LPA_10T_HD = 1 << 5
LPA_10T_FD = 1 << 6
LPA_100TX_HD = 1 << 7
LPA_100TX_FD = 1 << 8
LPA_PAUSE = 1 << 10
LPA_ASM_DIR = 1 << 11
LPA_ACK = 1 << 14

# 1000BASE-T status: local and remote receiver OK, partner 1000 half/full capable
SR_1000T_LP_HD = 1 << 10
SR_1000T_LP_FD = 1 << 11
SR_1000T_REMOTE_RX_OK = 1 << 12
SR_1000T_LOCAL_RX_OK = 1 << 13

# extended status: 1000BASE-T half/full capable
EXT_1000T_HD = 1 << 12
EXT_1000T_FD = 1 << 13

# M88 PHY specific status: link, speed/duplex resolved, full duplex, 1000 Mb/s
M88_SSR_LINK = 1 << 10
M88_SSR_RESOLVED = 1 << 11
M88_SSR_FULL_DUPLEX = 1 << 13
M88_SSR_SPEED_1000 = 2 << 14

PHY_ID1_MARVELL = 0x0141
#: PHY_ID2 by model: the 82544 carries an 88E1000 (ID 0x01410C30), the 82540/82545 an 88E1011 (0x01410C20)
PHY_ID2_88E1000 = 0x0C30
PHY_ID2_88E1011 = 0x0C20

#: PHY registers the guest cannot change
PHY_READ_ONLY = frozenset({Phy.STATUS, Phy.ID1, Phy.ID2, Phy.LP_ABILITY, Phy.AUTONEG_EXP, Phy.T1000_STATUS,
                           Phy.EXT_STATUS, Phy.M88_SPEC_STATUS})


def phy_defaults(phy_id2: int) -> dict[int, int]:
    """Power-on values of the PHY registers (link up, autonegotiated 1000 Mb/s full duplex)."""
    return {
        Phy.CTRL: MII_CR_AUTONEG_EN | MII_CR_FULL_DUPLEX | MII_CR_SPEED_1000,
        Phy.STATUS: (MII_SR_EXTENDED_CAPS | MII_SR_LINK_STATUS | MII_SR_AUTONEG_CAPS | MII_SR_AUTONEG_COMPLETE
                     | MII_SR_PREAMBLE_SUPPRESS | MII_SR_EXTENDED_STATUS | MII_SR_10T_HD | MII_SR_10T_FD
                     | MII_SR_100X_HD | MII_SR_100X_FD),
        Phy.ID1: PHY_ID1_MARVELL,
        Phy.ID2: phy_id2,
        Phy.AUTONEG_ADV: 0x01E1,  # 802.3 selector, 10/100 half/full
        Phy.LP_ABILITY: (LPA_ACK | LPA_PAUSE | LPA_ASM_DIR | LPA_100TX_FD | LPA_100TX_HD | LPA_10T_FD
                         | LPA_10T_HD),
        Phy.AUTONEG_EXP: 0x0001,  # link partner can autonegotiate
        Phy.T1000_CTRL: 0x0300,  # advertise 1000BASE-T half and full duplex
        Phy.T1000_STATUS: SR_1000T_LOCAL_RX_OK | SR_1000T_REMOTE_RX_OK | SR_1000T_LP_FD | SR_1000T_LP_HD,
        Phy.EXT_STATUS: EXT_1000T_FD | EXT_1000T_HD,
        Phy.M88_SPEC_STATUS: M88_SSR_SPEED_1000 | M88_SSR_FULL_DUPLEX | M88_SSR_RESOLVED | M88_SSR_LINK,
    }


# -- MAC register reset values (registers not named read 0 after reset) --------------------------------
REG_RESET: dict[int, int] = {
    Reg.CTRL: Ctrl.SLU | Ctrl.FD | Ctrl.ASDE,
    Reg.STATUS: Status.FD | Status.LU | Status.SPEED_1000 | Status.ASDV_1000,
    Reg.LEDCTL: 0x07068302,
    Reg.PBA: 0x00100030,  # 48 KiB receive, 16 KiB transmit packet buffer
    Reg.VET: 0x8100,
    Reg.TIPG: 0x00602008,
}

#: registers that only store what the guest writes (no side effects; some are read-only holders)
PLAIN_REGS = frozenset({
    Reg.CTRL_EXT, Reg.FLA, Reg.FCAL, Reg.FCAH, Reg.FCT, Reg.VET, Reg.ITR, Reg.FCTTV, Reg.TXCW, Reg.RXCW,
    Reg.TIPG, Reg.AIT, Reg.LEDCTL, Reg.PBA, Reg.FCRTL, Reg.FCRTH, Reg.RDFH, Reg.RDFT, Reg.RDFHS,
    Reg.RDFTS, Reg.RDFPC, Reg.RDBAL, Reg.RDBAH, Reg.RDTR, Reg.RXDCTL, Reg.RADV, Reg.RSRPD, Reg.TXDMAC,
    Reg.TDFH, Reg.TDFT, Reg.TDFHS, Reg.TDFTS, Reg.TDFPC, Reg.TDBAL, Reg.TDBAH, Reg.TIDV,
    Reg.TXDCTL, Reg.TADV, Reg.RXCSUM, Reg.WUC, Reg.WUFC, Reg.WUS, Reg.MANC, Reg.IPAV,
})
#: descriptor ring lengths are multiples of 128 bytes; ring indexes are 16 bits
RDLEN_MASK = 0xFFF80
RING_INDEX_MASK = 0xFFFF
