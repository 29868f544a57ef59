"""The ACPI fixed hardware of a PC chipset's power-management function (ACPI 6.5 section 4.8, "ACPI
Hardware Specification"; QEMU hw/acpi/core.c and the PIIX4/ICH9 PM devices).

At the ports the FADT names (:class:`~pyqemu.hw.acpi.tables.PmConfig`):

* ``PM1a_EVT_BLK`` (4 bytes): PM1 status (write-1-to-clear; TMR_STS, PWRBTN_STS, WAK_STS) and enable;
* ``PM1a_CNT_BLK`` (2 bytes): SCI_EN and the sleep request -- SLP_EN with the SLP_TYP of ``\\_S5``
  powers the machine off (``poweroff`` in a guest), any other sleep type is refused as QEMU's machines
  without S3/S4 do;
* ``PM_TMR_BLK`` (4 bytes): the 24-bit power-management timer counting at 3.579545 MHz; TMR_STS is set
  each time its bit 23 changes (4.8.3.3), an SCI when TMR_EN is set;
* ``SMI_CMD`` (the APM control port) and the APM status port after it: the OS writes ``ACPI_ENABLE`` /
  ``ACPI_DISABLE`` to the first to hand the hardware to ACPI (SCI_EN set or cleared, as QEMU's APM hook
  does; there is no SMM firmware); both read back what was written;
* ``GPE0_BLK``: status and enable halves, no events wired yet.

The SCI (ISA IRQ 9, level) is high while an enabled status bit is set.  The power button
(``system_powerdown``) sets PWRBTN_STS.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.core.clock import NANOSECONDS_PER_SECOND, Timer, VirtualClock
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.acpi.tables import S5_SLP_TYP, PmConfig
from pyqemu.hw.core.irq import IRQ

PM_TIMER_FREQUENCY = 3_579_545
TMR_CARRY = 1 << 23  # TMR_STS is set when the timer's bit 23 changes
TMR_STS = 1 << 0
PWRBTN_STS = 1 << 8
WAK_STS = 1 << 15
PM1_STS_MASK = TMR_STS | PWRBTN_STS | (1 << 5) | (1 << 10) | WAK_STS  # TMR, GBL, PWRBTN, RTC, WAK
SCI_EN = 1 << 0
SLP_EN = 1 << 13
SLP_TYP_SHIFT = 10


class _Ops:
    def __init__(self, read: Callable[[int, int], int], write: Callable[[int, int, int], None]):
        self.read = read
        self.write = write


class AcpiPm:
    """PM1 event/control, the PM timer, SMI_CMD and GPE0 of one chipset."""

    def __init__(self, cfg: PmConfig, clock: VirtualClock, sci: IRQ, *,
                 on_poweroff: Callable[[], None]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.sci = sci
        self.on_poweroff = on_poweroff
        self.pm_io = MemoryRegion.io("acpi-pm", 12, _Ops(self._pm_read, self._pm_write))
        self.smi_io = MemoryRegion.io("apm-io", 2, _Ops(self._apm_read, self._apm_write))
        self.tmr_overflow = Timer(clock, self._timer_carry)
        self.gpe_io = MemoryRegion.io("acpi-gpe0", cfg.gpe0_len, _Ops(self._gpe_read, self._gpe_write))
        self.reset()

    def reset(self) -> None:
        self.pm1_sts = 0
        self.pm1_en = 0
        self.pm1_cnt = 0
        self.apm = bytearray(2)  # APM control (SMI_CMD) and status
        self.gpe = bytearray(self.cfg.gpe0_len)
        self.sci.set(0)
        self._arm_timer()

    def map(self, map_port: Callable[[int, MemoryRegion], None]) -> None:
        """Put the blocks at their ports (``map_port`` as :meth:`IsaBus.map_port`)."""
        map_port(self.cfg.pm_base, self.pm_io)
        map_port(self.cfg.smi_cmd, self.smi_io)
        map_port(self.cfg.gpe0_base, self.gpe_io)

    # -- events -----------------------------------------------------------------------------------------
    def _update_sci(self) -> None:
        self.sci.set(1 if self.pm1_sts & self.pm1_en & PM1_STS_MASK and self.pm1_cnt & SCI_EN else 0)

    def power_button(self) -> None:
        self.pm1_sts |= PWRBTN_STS
        self._update_sci()

    def _ticks(self) -> int:
        return self.clock.now() * PM_TIMER_FREQUENCY // NANOSECONDS_PER_SECOND

    def timer(self) -> int:
        return self._ticks() & 0xFFFFFF

    def _arm_timer(self) -> None:
        """The next change of the counter's bit 23 (every 2**23 ticks, about 2.3 s)."""
        carry = (self._ticks() // TMR_CARRY + 1) * TMR_CARRY
        self.tmr_overflow.mod(-(-carry * NANOSECONDS_PER_SECOND // PM_TIMER_FREQUENCY))

    def _timer_carry(self) -> None:
        self.pm1_sts |= TMR_STS
        self._update_sci()
        self._arm_timer()

    # -- registers ----------------------------------------------------------------------------------------
    def _pm_read(self, offset: int, size: int) -> int:
        regs = (self.pm1_sts | self.pm1_en << 16 | self.pm1_cnt << 32 | self.timer() << 64)
        return (regs >> (8 * offset)) & ((1 << (8 * size)) - 1)

    def _pm_write(self, offset: int, value: int, size: int) -> None:
        for i in range(size):
            self._pm_write_byte(offset + i, (value >> (8 * i)) & 0xFF)
        if offset < 6 and offset + size > 4 and self.pm1_cnt & SLP_EN:
            self._sleep()
        self._update_sci()

    def _pm_write_byte(self, offset: int, byte: int) -> None:
        if offset < 2:  # PM1_STS: write one to clear
            self.pm1_sts &= ~(byte << (8 * offset))
        elif offset < 4:
            shift = 8 * (offset - 2)
            self.pm1_en = (self.pm1_en & ~(0xFF << shift)) | byte << shift
        elif offset < 6:
            shift = 8 * (offset - 4)
            self.pm1_cnt = (self.pm1_cnt & ~(0xFF << shift)) | byte << shift

    def _sleep(self) -> None:
        slp_typ = (self.pm1_cnt >> SLP_TYP_SHIFT) & 7
        self.pm1_cnt &= ~SLP_EN
        if slp_typ == S5_SLP_TYP:
            self.on_poweroff()

    def _apm_read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.apm[offset:offset + size].ljust(size, b"\0"), "little")

    def _apm_write(self, offset: int, value: int, size: int) -> None:
        for i in range(size):
            if offset + i < 2:
                self.apm[offset + i] = (value >> (8 * i)) & 0xFF
        if offset == 0:
            if value & 0xFF == self.cfg.acpi_enable:
                self.pm1_cnt |= SCI_EN
            elif value & 0xFF == self.cfg.acpi_disable:
                self.pm1_cnt &= ~SCI_EN
            self._update_sci()

    def _gpe_read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.gpe[offset:offset + size], "little")

    def _gpe_write(self, offset: int, value: int, size: int) -> None:
        half = self.cfg.gpe0_len // 2
        for i in range(size):
            pos = offset + i
            byte = (value >> (8 * i)) & 0xFF
            if pos < half:
                self.gpe[pos] &= ~byte & 0xFF
            elif pos < self.cfg.gpe0_len:
                self.gpe[pos] = byte
