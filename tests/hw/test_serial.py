"""NS16550A UART register behaviour (pyqemu.hw.char.serial)."""

from __future__ import annotations

import pytest

from pyqemu.chardev.base import Chardev
from pyqemu.chardev.mux import CHR_EVENT_BREAK
from pyqemu.hw.char.serial import Serial16550
from pyqemu.hw.core.irq import allocate_irqs

RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)
FCR = IIR
DLL, DLM = RBR, IER


class FakeChardev(Chardev):
    def __init__(self) -> None:
        super().__init__("fake")
        self.out = bytearray()

    def write(self, data: bytes) -> int:
        self.out += data
        return len(data)


class Line:
    def __init__(self) -> None:
        self.level = 0
        self.irq = allocate_irqs(self._set, 1)[0]

    def _set(self, n: int, level: int) -> None:
        self.level = level


@pytest.fixture
def uart() -> tuple[Serial16550, FakeChardev, Line]:
    chr_, line = FakeChardev(), Line()
    return Serial16550(chr_, line.irq), chr_, line


def test_power_on_state(uart):
    s, _, line = uart
    assert s.read(LSR, 1) == 0x60  # TEMT | THRE: idle transmitter
    assert s.read(IIR, 1) == 0x01
    assert s.read(MSR, 1) == 0xB0
    assert s.read(MCR, 1) == 0x08
    assert (s.read(IER, 1), s.read(LCR, 1), s.read(SCR, 1)) == (0, 0, 0)
    assert line.level == 0
    assert s.mr.name == "serial" and s.mr.size == 0x100


def test_transmit_reaches_chardev(uart):
    s, chr_, _ = uart
    for c in b"hi\n":
        s.write(RBR, c, 1)
    assert chr_.out == b"hi\n"
    assert s.read(LSR, 1) & 0x60 == 0x60


def test_input_sets_dr_and_raises_rda(uart):
    s, chr_, line = uart
    s.write(IER, 0x01, 1)
    chr_.deliver(b"a")
    assert s.read(LSR, 1) & 0x01
    assert line.level == 1
    assert s.read(IIR, 1) == 0x04
    assert s.read(RBR, 1) == ord("a")
    assert not s.read(LSR, 1) & 0x01
    assert line.level == 0
    assert s.read(IIR, 1) == 0x01


def test_rda_raised_when_ier_enabled_later(uart):
    s, chr_, line = uart
    chr_.deliver(b"x")
    assert line.level == 0
    s.write(IER, 0x01, 1)
    assert line.level == 1


def test_without_fifo_one_byte_at_a_time(uart):
    s, chr_, _ = uart
    assert s.can_receive() == 1
    chr_.deliver(b"abc")
    assert s.can_receive() == 0
    assert bytes(s.read(RBR, 1) for _ in range(3)) == b"abc"  # each read pulls the next byte in
    assert not s.read(LSR, 1) & 0x01


def test_fifo_holds_16_bytes(uart):
    s, chr_, line = uart
    s.write(FCR, 0x01, 1)  # enable FIFOs, trigger level 1
    assert s.read(IIR, 1) == 0xC1
    assert s.can_receive() == 16
    data = bytes(range(0x40, 0x40 + 20))
    chr_.deliver(data)
    assert len(s.rx) == 16 and s.can_receive() == 0
    assert not s.read(LSR, 1) & 0x02  # no overrun: the rest waits in the chardev
    s.write(IER, 0x01, 1)
    assert line.level == 1 and s.read(IIR, 1) == 0xC4
    got = bytearray()
    while s.read(LSR, 1) & 0x01:
        got.append(s.read(RBR, 1))
    assert got == data
    assert line.level == 0


def test_fifo_trigger_level_and_timeout(uart):
    s, chr_, line = uart
    s.write(FCR, 0xC1, 1)  # trigger level 14
    s.write(IER, 0x01, 1)
    chr_.deliver(b"abc")
    assert line.level == 1
    assert s.read(IIR, 1) == 0xCC  # character timeout below the trigger level
    chr_.deliver(b"0123456789A")
    assert s.read(IIR, 1) == 0xC4  # 14 bytes: received data available


def test_fcr_receiver_reset_and_fifo_switch_flush(uart):
    s, chr_, _ = uart
    s.write(FCR, 0x01, 1)
    chr_.deliver(b"abc")
    s.write(FCR, 0x03, 1)  # clear the receive FIFO
    assert not s.read(LSR, 1) & 0x01 and not s.rx
    chr_.deliver(b"xy")
    s.write(FCR, 0x00, 1)  # leaving FIFO mode flushes too
    assert s.read(IIR, 1) == 0x01
    assert not s.rx


def test_thre_interrupt_and_iir_read_clears_it(uart):
    s, _, line = uart
    s.write(IER, 0x02, 1)
    assert line.level == 1
    assert s.read(IIR, 1) == 0x02
    assert line.level == 0
    assert s.read(IIR, 1) == 0x01
    s.write(RBR, ord("z"), 1)  # the byte leaves at once: THR empty again
    assert line.level == 1
    s.write(IER, 0x00, 1)
    assert line.level == 0


def test_rda_has_priority_over_thre(uart):
    s, chr_, line = uart
    s.write(IER, 0x03, 1)
    chr_.deliver(b"q")
    assert s.read(IIR, 1) == 0x04
    s.read(RBR, 1)
    assert s.read(IIR, 1) == 0x02
    assert line.level == 0


def test_dlab_switches_to_divisor_latch(uart):
    s, _, _ = uart
    s.write(IER, 0x05, 1)
    s.write(LCR, 0x83, 1)
    assert (s.read(DLL, 1), s.read(DLM, 1)) == (0x0C, 0x00)  # 9600 baud at reset
    s.write(DLL, 0x01, 1)
    s.write(DLM, 0x02, 1)
    assert (s.read(DLL, 1), s.read(DLM, 1)) == (0x01, 0x02)
    assert s.divider == 0x0201
    s.write(LCR, 0x03, 1)
    assert s.read(IER, 1) == 0x05
    assert s.read(LCR, 1) == 0x03


def test_loopback(uart):
    s, chr_, _ = uart
    s.write(MCR, 0x1A, 1)  # LOOP | OUT2 | RTS
    assert s.read(MSR, 1) & 0xF0 == 0x90  # DCD | CTS: Linux's 8250 loopback probe
    s.write(MCR, 0x15, 1)  # LOOP | OUT1 | DTR
    assert s.read(MSR, 1) & 0xF0 == 0x60  # RI | DSR
    s.write(RBR, ord("L"), 1)
    assert chr_.out == b""
    assert s.read(LSR, 1) & 0x01 and s.read(RBR, 1) == ord("L")
    chr_.deliver(b"h")  # the serial input is disconnected while looping back
    assert not s.read(LSR, 1) & 0x01
    s.write(MCR, 0x08, 1)
    assert s.read(LSR, 1) & 0x01 and s.read(RBR, 1) == ord("h")


def test_overrun_is_a_line_status_interrupt(uart):
    s, _, line = uart
    s.write(MCR, 0x10, 1)
    s.write(IER, 0x05, 1)
    s.write(RBR, ord("1"), 1)
    s.write(RBR, ord("2"), 1)  # RBR still full: overrun, the new byte replaces it
    assert line.level == 1
    assert s.read(IIR, 1) == 0x06  # line status outranks received data
    assert s.read(LSR, 1) & 0x03 == 0x03
    assert not s.read(LSR, 1) & 0x02  # reading LSR cleared OE
    assert s.read(IIR, 1) == 0x04
    assert s.read(RBR, 1) == ord("2")


def test_break_is_a_nul_with_line_status(uart):
    s, chr_, line = uart
    s.write(IER, 0x04, 1)
    chr_.send_event(CHR_EVENT_BREAK)
    assert line.level == 1
    assert s.read(IIR, 1) == 0x06
    assert s.read(LSR, 1) & 0x11 == 0x11  # BI | DR
    assert line.level == 0  # reading LSR acknowledged the break
    assert s.read(RBR, 1) == 0
    assert not s.read(LSR, 1) & 0x11


def test_scratch_register(uart):
    s, _, _ = uart
    s.write(SCR, 0xA5, 1)
    assert s.read(SCR, 1) == 0xA5


def test_regshift_and_no_chardev():
    line = Line()
    s = Serial16550(None, line.irq, regshift=2)
    s.write(4 * SCR, 0x5A, 4)
    assert s.read(4 * SCR, 4) == 0x5A
    assert s.read(4 * LSR, 4) == 0x60
    s.write(4 * IER, 0x02, 4)
    s.write(0, ord("x"), 4)  # nowhere to send it, but still accepted
    assert line.level == 1


def test_reset_and_vmstate(uart):
    s, chr_, line = uart
    s.write(FCR, 0x01, 1)
    s.write(IER, 0x01, 1)
    s.write(SCR, 0x11, 1)
    chr_.deliver(b"ab")
    state = s.vmstate()
    other_line = Line()
    other = Serial16550(FakeChardev(), other_line.irq)
    other.load_vmstate(state)
    assert other_line.level == 1
    assert other.read(SCR, 1) == 0x11
    assert bytes([other.read(RBR, 1), other.read(RBR, 1)]) == b"ab"
    s.reset()
    assert line.level == 0
    assert s.read(LSR, 1) == 0x60 and s.read(IIR, 1) == 0x01 and s.read(SCR, 1) == 0
