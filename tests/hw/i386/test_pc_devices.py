"""The PC's ACPI PM block (hw/acpi/pm.py) and port 0x92 (hw/i386/pc_ports.py), driven through their ports
as a guest's ACPI driver and firmware drive them."""

from __future__ import annotations

from pyqemu.core.clock import NANOSECONDS_PER_SECOND
from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.acpi.pm import PM_TIMER_FREQUENCY, AcpiPm
from pyqemu.hw.acpi.tables import PIIX4_PM
from pyqemu.hw.core.irq import IRQ
from pyqemu.hw.i386.pc_ports import Port92

from ..isa.rig import FakeClock


class Rig:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.sci_levels: list[int] = []
        self.poweroffs = 0
        self.pm = AcpiPm(PIIX4_PM, self.clock, IRQ(lambda n, level: self.sci_levels.append(level)),
                         on_poweroff=self._poweroff)
        self.io_root = MemoryRegion.container_of("io", 0x10000)
        self.pm.map(self.io_root.add_subregion)
        self.io = AddressSpace("I/O", self.io_root)

    def _poweroff(self) -> None:
        self.poweroffs += 1

    @property
    def sci(self) -> int:
        return self.sci_levels[-1]


def test_acpi_enable_through_smi_cmd() -> None:
    r = Rig()
    assert r.io.read(0x604, 2) & 1 == 0
    r.io.write(0xB2, PIIX4_PM.acpi_enable, 1)
    assert r.io.read(0x604, 2) & 1 == 1 and r.io.read(0xB2, 1) == PIIX4_PM.acpi_enable
    r.io.write(0xB3, 0x5A, 1)
    assert r.io.read(0xB3, 1) == 0x5A  # the APM status port is plain storage
    r.io.write(0xB2, PIIX4_PM.acpi_disable, 1)
    assert r.io.read(0x604, 2) & 1 == 0


def test_power_button_raises_the_sci_until_acknowledged() -> None:
    r = Rig()
    r.pm.power_button()
    assert r.sci == 0 and r.io.read(0x600, 2) & 0x100  # status without enable: no SCI
    r.io.write(0xB2, PIIX4_PM.acpi_enable, 1)
    r.io.write(0x602, 0x100, 2)  # PWRBTN_EN
    assert r.sci == 1
    r.io.write(0x600, 0x100, 2)  # write one to clear
    assert r.sci == 0 and r.io.read(0x600, 2) & 0x100 == 0


def test_s5_powers_off_and_other_sleep_types_do_not() -> None:
    r = Rig()
    r.io.write(0x604, (5 << 10) | 0x2000, 2)  # an S3-style type: refused
    assert r.poweroffs == 0 and r.io.read(0x604, 2) & 0x2000 == 0  # SLP_EN reads back 0
    r.io.write(0x604, 0x2000, 2)  # SLP_TYP 0 (\_S5) | SLP_EN
    assert r.poweroffs == 1


def test_pm_timer_counts_at_3_58_mhz_and_sets_tmr_sts_on_bit_23() -> None:
    r = Rig()
    r.clock.t = NANOSECONDS_PER_SECOND
    assert r.io.read(0x608, 4) == PM_TIMER_FREQUENCY
    r.io.write(0xB2, PIIX4_PM.acpi_enable, 1)
    r.io.write(0x602, 1, 2)  # TMR_EN
    assert r.io.read(0x600, 2) & 1 == 0
    r.clock.t = -(-(1 << 23) * NANOSECONDS_PER_SECOND // PM_TIMER_FREQUENCY)
    r.clock.run_timers()
    assert r.io.read(0x600, 2) & 1 and r.sci == 1
    assert r.io.read(0x608, 4) & (1 << 23)


def test_port92_fast_reset_on_a_rising_edge_and_a20() -> None:
    resets, a20 = [], []
    port = Port92(lambda: resets.append(1), a20.append)
    port.write(0, 2, 1)
    assert a20 == [True] and port.read(0, 1) == 2
    port.write(0, 3, 1)
    port.write(0, 3, 1)  # bit 0 already set: no second reset
    assert resets == [1] and port.read(0, 1) == 3
    port.reset()
    assert port.read(0, 1) == 2  # the reset clears bit 0 only
