"""The PC's CMOS real-time clock: a Motorola MC146818A at I/O ports 0x70 (index) and 0x71 (data), IRQ 8.

Registers follow the Motorola MC146818A datasheet ("Address Map", "Time, Calendar and Alarm
Locations", "Register A" to "Register D") as QEMU's hw/rtc/mc146818rtc.c presents them:

* port 0x70 (write): bits 6:0 select one of the 128 CMOS bytes; bit 7 is the PC's NMI mask (not part
  of the index; kept in :attr:`Mc146818Rtc.nmi_disabled`).  Reads of 0x70 return 0xFF.
* 0x00-0x09: seconds, seconds alarm, minutes, minutes alarm, hours, hours alarm, day of week (1 =
  Sunday), day of month, month, year -- in BCD or binary (register B's DM bit) and, for the hours,
  24 h or 12 h with bit 7 = PM (register B's 24/12 bit); an alarm byte with bits 7:6 set matches any
  value;  0x32: the century (the IBM PC AT's location), same format.
* register A (0x0A): UIP (read-only, set during the last 244 us before each update), the divider
  (010 = time base running; 11x holds the divider chain in reset, and the first update after leaving
  reset comes half a second later) and the periodic rate;
* register B (0x0B): SET (freezes the clock so the guest can write the time), PIE, AIE, UIE, SQWE, DM,
  24/12, DSE;  register C (0x0C): IRQF, PF, AF, UF, cleared by reading it (which lowers the IRQ);
  register D (0x0D): VRT (the battery is good).
* 0x0E-0x7F: battery-backed CMOS memory; the board stores its configuration there (QEMU's pc board
  layout: :meth:`Mc146818Rtc.set_ram_size`, :func:`pc_cmos_init`).

The clock starts at the host's UTC time and then advances with the virtual clock (it stands still
while the VM is stopped).  Periodic, alarm and update-ended interrupts set their register C flag and
raise the IRQ when enabled in register B; the update-ended flag is also set for guests that poll
register C with UIE off.  Daylight saving (DSE) is not applied.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime

from pyqemu.core.clock import Timer, VirtualClock
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ
from pyqemu.qom.object import Property, QomError, TypeInfo, register_type

from .bus import IsaBus, IsaDeviceState, PortOps

INDEX_PORT = 0x70
DATA_PORT = 0x71
RTC_IRQ = 8
CMOS_SIZE = 128
NS = 1_000_000_000

SECONDS, SECONDS_ALARM, MINUTES, MINUTES_ALARM, HOURS, HOURS_ALARM = 0, 1, 2, 3, 4, 5
DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR = 6, 7, 8, 9
REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
CENTURY = 0x32  # IBM PC AT location
TIME_REGS = (SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY)

REG_A_UIP = 0x80
REG_A_DV = 0x70
DV_32K = 0x20  # 32.768 kHz time base, divider chain running
REG_B_SET = 0x80
REG_B_PIE = 0x40
REG_B_AIE = 0x20
REG_B_UIE = 0x10
REG_B_SQWE = 0x08
REG_B_DM = 0x04  # binary (1) or BCD (0) data
REG_B_24H = 0x02
REG_C_IRQF = 0x80
REG_C_PF = 0x40
REG_C_AF = 0x20
REG_C_UF = 0x10
REG_D_VRT = 0x80
ALARM_DONT_CARE = 0xC0

UIP_WINDOW_NS = 244_000  # UIP goes high this long before each update
KiB = 1 << 10
MiB = 1 << 20


def _to_bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def _from_bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


class Mc146818Rtc:
    """The RTC and its CMOS memory.  ``mr_index``/``mr_data`` are its one-byte regions (0x70/0x71).

    ``base_time`` (seconds since the epoch, UTC) is the time at creation; default: the host's clock.
    """

    def __init__(self, clock: VirtualClock, irq: IRQ, base_time: float | None = None):
        self.clock = clock
        self.irq = irq
        self.cmos = bytearray(CMOS_SIZE)
        start = time.time_ns() if base_time is None else int(base_time * NS)
        self.offset = start - clock.now()  # RTC ns since the epoch = virtual time + offset
        self.index = 0
        self.nmi_disabled = False
        self.update_timer = Timer(clock, self._update_tick)
        self.periodic_timer = Timer(clock, self._periodic_tick)
        self.mr_index = MemoryRegion.io("rtc-index", 1, PortOps(self.read_index, self.write_index))
        self.mr_data = MemoryRegion.io("rtc", 1, PortOps(self.read_data, self.write_data))
        self.cmos[REG_A] = 0x26  # 32.768 kHz time base, 1024 Hz periodic rate
        self.cmos[REG_B] = REG_B_24H
        self.cmos[REG_D] = REG_D_VRT
        self.seen_second = self.now() // NS
        self.reset()

    def reset(self) -> None:
        """Interrupt enables and flags go (QEMU's RTC reset); the time and CMOS memory stay."""
        self.cmos[REG_B] &= ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE)
        self.cmos[REG_C] = 0
        self.irq.lower()
        self._rearm()

    # -- time ------------------------------------------------------------------------------------------
    def running(self) -> bool:
        """Does the clock advance (SET clear, divider chain running)?"""
        return not self.cmos[REG_B] & REG_B_SET and (self.cmos[REG_A] & REG_A_DV) == DV_32K

    def now(self) -> int:
        """The RTC's time in ns since the epoch (that of the frozen registers while stopped)."""
        return self.clock.now() + self.offset

    def _encode(self, value: int) -> int:
        return value if self.cmos[REG_B] & REG_B_DM else _to_bcd(value)

    def _decode(self, value: int) -> int:
        return value if self.cmos[REG_B] & REG_B_DM else _from_bcd(value)

    def _encode_hours(self, hour: int) -> int:
        if self.cmos[REG_B] & REG_B_24H:
            return self._encode(hour)
        pm = 0x80 if hour >= 12 else 0
        return self._encode(hour % 12 or 12) | pm

    def _decode_hours(self, value: int) -> int:
        if self.cmos[REG_B] & REG_B_24H:
            return self._decode(value & 0x7F) % 24
        hour = self._decode(value & 0x7F) % 12
        return hour + 12 if value & 0x80 else hour

    def _latch(self) -> None:
        """Write the current time into the time registers."""
        t = datetime.fromtimestamp(self.now() // NS, UTC)
        regs = self.cmos
        regs[SECONDS] = self._encode(t.second)
        regs[MINUTES] = self._encode(t.minute)
        regs[HOURS] = self._encode_hours(t.hour)
        regs[DAY_OF_WEEK] = self._encode((t.weekday() + 1) % 7 + 1)
        regs[DAY_OF_MONTH] = self._encode(t.day)
        regs[MONTH] = self._encode(t.month)
        regs[YEAR] = self._encode(t.year % 100)
        regs[CENTURY] = self._encode(t.year // 100)

    def _set_from_registers(self, fraction_ns: int = 0) -> None:
        """Make the time registers' contents the current time, ``fraction_ns`` into its second."""
        regs = self.cmos
        try:
            year = self._decode(regs[CENTURY]) * 100 + self._decode(regs[YEAR])
            seconds = calendar.timegm((year, self._decode(regs[MONTH]), self._decode(regs[DAY_OF_MONTH]),
                                       self._decode_hours(regs[HOURS]), self._decode(regs[MINUTES]),
                                       self._decode(regs[SECONDS]), 0, 0, 0))
            datetime.fromtimestamp(seconds, UTC)  # out of range values fail here
        except (ValueError, OverflowError):
            return  # nonsense in the registers: the clock keeps its time
        self.offset = seconds * NS + fraction_ns - self.clock.now()
        self.seen_second = seconds

    def set_time(self, seconds: float) -> None:
        """Host side: set the clock to ``seconds`` since the epoch (UTC)."""
        self.offset = int(seconds * NS) - self.clock.now()
        self.seen_second = self.now() // NS
        if not self.running():
            self._latch()
        self._rearm()

    # -- interrupts ------------------------------------------------------------------------------------
    def _raise(self, flags: int) -> None:
        self.cmos[REG_C] |= flags
        if self.cmos[REG_C] & self.cmos[REG_B] & (REG_C_PF | REG_C_AF | REG_C_UF):
            if not self.cmos[REG_C] & REG_C_IRQF:
                self.cmos[REG_C] |= REG_C_IRQF
                self.irq.raise_()

    def _alarm_matches(self) -> bool:
        t = datetime.fromtimestamp(self.now() // NS, UTC)
        for reg, value in ((SECONDS_ALARM, t.second), (MINUTES_ALARM, t.minute)):
            alarm = self.cmos[reg]
            if alarm & ALARM_DONT_CARE != ALARM_DONT_CARE and self._decode(alarm) != value:
                return False
        alarm = self.cmos[HOURS_ALARM]
        return alarm & ALARM_DONT_CARE == ALARM_DONT_CARE or self._decode_hours(alarm) == t.hour

    def _periodic_ns(self) -> int:
        """The periodic interrupt's period (0: off).  Rates 1 and 2 repeat rates 8 and 9, as on a
        32.768 kHz time base."""
        rate = self.cmos[REG_A] & 0x0F
        if rate == 0 or (self.cmos[REG_A] & REG_A_DV) != DV_32K:
            return 0
        if rate <= 2:
            rate += 7
        return (1 << (rate - 1)) * NS // 32768

    def _rearm(self) -> None:
        """Arm the timers the enabled interrupts need."""
        if self.running() and self.cmos[REG_B] & (REG_B_UIE | REG_B_AIE):
            self.update_timer.mod(self.clock.now() + NS - self.now() % NS)
        else:
            self.update_timer.delete()
        period = self._periodic_ns()
        if period and self.cmos[REG_B] & REG_B_PIE:
            if not self.periodic_timer.pending:
                self.periodic_timer.mod(self.clock.now() + period)
        else:
            self.periodic_timer.delete()

    def _update_tick(self) -> None:
        self.seen_second = self.now() // NS
        flags = REG_C_UF
        if self._alarm_matches():
            flags |= REG_C_AF
        self._raise(flags)
        self._rearm()

    def _periodic_tick(self) -> None:
        self._raise(REG_C_PF)
        period = self._periodic_ns()
        if period and self.cmos[REG_B] & REG_B_PIE:
            self.periodic_timer.mod(self.clock.now() + period)

    # -- ports -----------------------------------------------------------------------------------------
    def read_index(self) -> int:
        return 0xFF

    def write_index(self, value: int) -> None:
        self.index = value & 0x7F
        self.nmi_disabled = bool(value & 0x80)

    def read_data(self) -> int:
        return self.read_cmos(self.index)

    def write_data(self, value: int) -> None:
        self.write_cmos(self.index, value)

    def read_cmos(self, index: int) -> int:
        """Read CMOS byte ``index`` as the guest sees it."""
        index &= 0x7F
        if index in TIME_REGS:
            if self.running():
                self._latch()
            return self.cmos[index]
        if index == REG_A:
            value = self.cmos[REG_A] & ~REG_A_UIP
            if self.running() and self.now() % NS >= NS - UIP_WINDOW_NS:
                value |= REG_A_UIP
            return value
        if index == REG_C:
            value = self.cmos[REG_C]
            second = self.now() // NS
            if self.running() and not self.update_timer.pending and second != self.seen_second:
                value |= REG_C_UF  # an update happened since the guest last looked
            self.seen_second = second
            self.cmos[REG_C] = 0
            self.irq.lower()
            return value
        return self.cmos[index]

    def write_cmos(self, index: int, value: int) -> None:
        """Write CMOS byte ``index`` as the guest does."""
        index &= 0x7F
        value &= 0xFF
        if index in TIME_REGS:
            if self.running():
                self._latch()
                self.cmos[index] = value
                self._set_from_registers()
                self._rearm()
            else:
                self.cmos[index] = value
        elif index in (SECONDS_ALARM, MINUTES_ALARM, HOURS_ALARM):
            self.cmos[index] = value
        elif index == REG_A:
            was_running = self.running()
            if was_running:
                self._latch()
            if (value ^ self.cmos[REG_A]) & 0x7F:
                self.periodic_timer.delete()  # a new rate or time base: restart the period
            self.cmos[REG_A] = value & ~REG_A_UIP
            self._transition(was_running)
        elif index == REG_B:
            was_running = self.running()
            if was_running:
                self._latch()
            if value & REG_B_SET:
                value &= ~REG_B_UIE  # no update interrupts while the clock is being set
            resuming = not was_running and not value & REG_B_SET and (self.cmos[REG_A] & REG_A_DV) == DV_32K
            if resuming:
                self._set_from_registers()  # in the format they were written in
            self.cmos[REG_B] = value
            if was_running and not self.running():
                self._latch()  # frozen, in the new format
            self._rearm()
            self._raise(0)  # a newly enabled interrupt whose flag is already set
        elif index in (REG_C, REG_D):
            pass  # read-only
        else:
            self.cmos[index] = value

    def _transition(self, was_running: bool) -> None:
        """After a register A write: the divider chain stopped or started again."""
        running = self.running()
        if was_running and not running:
            self._latch()  # the registers hold the time from now on
        elif running and not was_running:
            self._set_from_registers(NS // 2)  # the first update comes half a second later
        self._rearm()

    # -- the board's CMOS contents ---------------------------------------------------------------------
    def set_ram_size(self, below_4g: int, above_4g: int = 0) -> None:
        """Store the memory sizes in QEMU's pc board layout (``below_4g``/``above_4g`` in bytes):
        0x15/0x16 base memory in KiB (640), 0x17/0x18 and 0x30/0x31 memory above 1 MiB in KiB (at most
        65535), 0x34/0x35 memory above 16 MiB below 4 GiB in 64 KiB units (at most 65535), 0x5B-0x5D
        memory above 4 GiB in 64 KiB units."""
        base = min(below_4g // KiB, 640)
        extended = min(max(below_4g - MiB, 0) // KiB, 0xFFFF)
        above_16m = min(max(below_4g - 16 * MiB, 0) // (64 * KiB), 0xFFFF)
        high = above_4g // (64 * KiB)
        for index, value, nbytes in ((0x15, base, 2), (0x17, extended, 2), (0x30, extended, 2),
                                     (0x34, above_16m, 2), (0x5B, high, 3)):
            for i in range(nbytes):
                self.cmos[index + i] = (value >> (8 * i)) & 0xFF

    # -- migration -------------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        """The time is saved as its value, so it carries on from there whatever the clock reads on load."""
        return {"cmos": bytes(self.cmos), "time": self.now(), "index": self.index,
                "nmi_disabled": int(self.nmi_disabled), "irq": self.irq.level}

    def load_vmstate(self, state: dict) -> None:
        self.cmos[:] = state["cmos"]
        self.offset = state["time"] - self.clock.now()
        self.seen_second = self.now() // NS
        self.index = state["index"]
        self.nmi_disabled = bool(state["nmi_disabled"])
        self.irq.set(state["irq"])
        self.periodic_timer.delete()
        self._rearm()


#: CMOS bytes QEMU's pc board sets besides the memory sizes
EQUIPMENT = 0x14  # installed equipment (bit 0 floppies, bit 1 FPU, bit 2 PS/2 mouse, bits 7:6 floppies - 1)
FLOPPY_TYPES = 0x10
SMP_CPUS = 0x5F  # number of CPUs - 1 (a Bochs/SeaBIOS convention)


def pc_cmos_init(rtc: Mc146818Rtc, below_4g: int, above_4g: int = 0, smp_cpus: int = 1,
                 floppies: int = 0) -> None:
    """Fill ``rtc``'s CMOS memory the way QEMU's pc board does (pc_cmos_init): memory sizes, CPU count,
    floppy types (none known here: 0) and the equipment byte (FPU, PS/2 mouse, floppy count)."""
    rtc.set_ram_size(below_4g, above_4g)
    rtc.cmos[SMP_CPUS] = (smp_cpus - 1) & 0xFF
    rtc.cmos[FLOPPY_TYPES] = 0
    equipment = 0x02 | 0x04  # FPU present, PS/2 mouse installed
    if floppies:
        equipment |= 0x01 | ((min(floppies, 4) - 1) << 6)
    rtc.cmos[EQUIPMENT] = equipment


def create(isa: IsaBus, clock: VirtualClock, base_time: float | None = None,
           iobase: int = INDEX_PORT, irq: int = RTC_IRQ) -> Mc146818Rtc:
    """An RTC on ``isa`` (ports ``iobase`` and ``iobase + 1``, IRQ ``irq``)."""
    rtc = Mc146818Rtc(clock, isa.get_irq(irq), base_time)
    isa.map_port(iobase, rtc.mr_index)
    isa.map_port(iobase + 1, rtc.mr_data)
    return rtc


class RtcState(IsaDeviceState):
    """``mc146818rtc``: runs on the bus's virtual clock."""

    def create_model(self, isa: IsaBus) -> Mc146818Rtc:
        if isa.clock is None:
            raise QomError("mc146818rtc: the ISA bus has no clock")
        return create(isa, isa.clock, iobase=self.props["iobase"])


register_type(TypeInfo("mc146818rtc", category="Misc devices", bus_type="ISA", cls=RtcState,
                       user_creatable=False,
                       properties=(Property("iobase", "uint32", INDEX_PORT),)))
