"""NS16550A UART, the ``virt`` board's console (QEMU hw/char/serial.c behaviour).

Registers follow the National Semiconductor PC16550D datasheet, section 8 "Registers" (the register
summary table; line control and status, FIFO control with its receiver trigger levels, the interrupt
identification register's priority table, interrupt enable, modem control/status incl. loopback, and
the scratchpad; the divisor latch DLL/DLM is reached with LCR.DLAB).

As in QEMU, the line is ideal: a THR write goes straight to the chardev, so LSR.THRE|TEMT never drop
and a THRE interrupt is pending again right after each write.  The receiver's character timeout is
immediate too: with FIFOs on, data below the trigger level reports IIR "character timeout" (0x0C)
at once, data at or above it "received data available" (0x04); drivers handle both the same way.
Modem lines are fixed at DCD|DSR|CTS (no modem-status interrupts); loopback echoes THR into the
receiver and maps MCR's outputs onto MSR's inputs.  A break from the chardev (the mux's C-a b) is
received as a NUL with LSR.BI, a receiver line status interrupt like an overrun.
"""

from __future__ import annotations

from pyqemu.chardev.base import Chardev
from pyqemu.chardev.mux import CHR_EVENT_BREAK
from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ

FIFO_SIZE = 16
TRIGGER_LEVELS = (1, 4, 8, 14)  # FCR bits 7:6

IER_RDI = 0x01  # received data available (and character timeout)
IER_THRI = 0x02  # transmitter holding register empty
IER_RLSI = 0x04  # receiver line status

IIR_NO_INT = 0x01
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_RLSI = 0x06
IIR_CTI = 0x0C
IIR_FIFO_ENABLED = 0xC0

FCR_FE = 0x01
FCR_RFR = 0x02  # clear the receive FIFO
FCR_XFR = 0x04  # clear the transmit FIFO
FCR_STORED = 0xC9  # FE, DMA mode, trigger level

LCR_DLAB = 0x80

MCR_OUT2 = 0x08
MCR_LOOP = 0x10

LSR_DR = 0x01
LSR_OE = 0x02
LSR_BI = 0x10
LSR_LINE_STATUS = LSR_OE | LSR_BI  # the conditions that raise the line status interrupt
LSR_THRE = 0x20
LSR_TEMT = 0x40

MSR_IDLE = 0xB0  # DCD | DSR | CTS


class Serial16550:
    """One UART: ``mr`` is its MMIO region ("serial", 0x100 bytes; register i at ``i << regshift``)."""

    def __init__(self, chardev: Chardev | None, irq: IRQ, regshift: int = 0):
        self.chardev = chardev
        self.irq = irq
        self.regshift = regshift
        self.mr = MemoryRegion.io("serial", 0x100, self)
        self.rx = bytearray()  # receive FIFO (capacity 1 while FIFOs are off: that is RBR)
        self.reset()
        if chardev is not None:
            chardev.set_handlers(self.can_receive, self.receive, self.event)

    def reset(self) -> None:
        self.divider = 0x0C  # 9600 baud from 1.8432 MHz
        self.rbr = 0
        self.ier = 0
        self.iir = IIR_NO_INT
        self.fcr = 0
        self.lcr = 0
        self.mcr = MCR_OUT2
        self.lsr = LSR_TEMT | LSR_THRE
        self.scr = 0
        self.thr_ipending = False
        self.rx.clear()
        self.irq.lower()
        if self.chardev is not None:
            self.chardev.accept_input()

    # -- interrupts ------------------------------------------------------------------------------
    def _fifo_enabled(self) -> bool:
        return bool(self.fcr & FCR_FE)

    def _update_irq(self) -> None:
        """Recompute IIR from the sources in priority order and drive the line."""
        if self.ier & IER_RLSI and self.lsr & LSR_LINE_STATUS:
            iir = IIR_RLSI
        elif self.ier & IER_RDI and self.rx:
            below = self._fifo_enabled() and len(self.rx) < TRIGGER_LEVELS[self.fcr >> 6]
            iir = IIR_CTI if below else IIR_RDI
        elif self.ier & IER_THRI and self.thr_ipending:
            iir = IIR_THRI
        else:
            iir = IIR_NO_INT
        self.iir = iir
        level = int(iir != IIR_NO_INT)
        if self.irq.level != level:
            self.irq.set(level)

    # -- receive side (chardev frontend) -----------------------------------------------------------
    def _capacity(self) -> int:
        return FIFO_SIZE if self._fifo_enabled() else 1

    def can_receive(self) -> int:
        """Free receive FIFO space (RBR empty: 1 when FIFOs are off); nothing while in loopback."""
        return 0 if self.mcr & MCR_LOOP else self._capacity() - len(self.rx)

    def receive(self, data: bytes) -> None:
        for byte in data:
            if len(self.rx) < self._capacity():
                self.rx.append(byte)
            else:
                self.lsr |= LSR_OE
                if not self._fifo_enabled():
                    self.rx[0] = byte  # RBR is overwritten; a full FIFO keeps its contents
        if self.rx:
            self.lsr |= LSR_DR
        self._update_irq()

    def event(self, event: int) -> None:
        if event == CHR_EVENT_BREAK:
            self.lsr |= LSR_BI
            self.receive(b"\0")

    # -- registers -----------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        reg = (offset >> self.regshift) & 7
        if reg == 0:
            if self.lcr & LCR_DLAB:
                return self.divider & 0xFF
            if self.rx:
                self.rbr = self.rx.pop(0)
            if not self.rx:
                self.lsr &= ~(LSR_DR | LSR_BI)
            self._update_irq()
            if self.chardev is not None and not self.mcr & MCR_LOOP:
                self.chardev.accept_input()
            return self.rbr
        if reg == 1:
            return self.divider >> 8 if self.lcr & LCR_DLAB else self.ier
        if reg == 2:
            value = self.iir | (IIR_FIFO_ENABLED if self._fifo_enabled() else 0)
            if self.iir == IIR_THRI:
                self.thr_ipending = False
                self._update_irq()
            return value
        if reg == 3:
            return self.lcr
        if reg == 4:
            return self.mcr
        if reg == 5:
            value = self.lsr
            if value & LSR_LINE_STATUS:
                self.lsr &= ~LSR_LINE_STATUS
                self._update_irq()
            return value
        if reg == 6:
            if self.mcr & MCR_LOOP:  # RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD
                return ((self.mcr & 0x0C) << 4) | ((self.mcr & 0x02) << 3) | ((self.mcr & 0x01) << 5)
            return MSR_IDLE
        return self.scr

    def write(self, offset: int, value: int, size: int) -> None:
        reg = (offset >> self.regshift) & 7
        value &= 0xFF
        if reg == 0:
            if self.lcr & LCR_DLAB:
                self.divider = (self.divider & 0xFF00) | value
            elif self.mcr & MCR_LOOP:
                self.thr_ipending = True
                self.receive(bytes((value,)))
            else:
                if self.chardev is not None:
                    self.chardev.write(bytes((value,)))
                self.thr_ipending = True
                self._update_irq()
        elif reg == 1:
            if self.lcr & LCR_DLAB:
                self.divider = (self.divider & 0x00FF) | (value << 8)
                return
            changed = self.ier ^ value
            self.ier = value & 0x0F
            if changed & IER_THRI:
                self.thr_ipending = bool(self.ier & IER_THRI)  # THR is always empty
            self._update_irq()
        elif reg == 2:
            if (value ^ self.fcr) & FCR_FE:
                value |= FCR_RFR | FCR_XFR  # switching FIFO mode flushes both FIFOs
            if value & FCR_RFR:
                self.rx.clear()
                self.lsr &= ~(LSR_DR | LSR_BI)
            if value & FCR_XFR:
                self.thr_ipending = True
            self.fcr = value & FCR_STORED
            self._update_irq()
            if value & FCR_RFR and self.chardev is not None:
                self.chardev.accept_input()
        elif reg == 3:
            self.lcr = value
        elif reg == 4:
            leaving_loop = self.mcr & MCR_LOOP and not value & MCR_LOOP
            self.mcr = value & 0x1F
            if leaving_loop and self.chardev is not None:
                self.chardev.accept_input()
        elif reg == 7:
            self.scr = value
        # LSR and MSR are read-only

    # -- migration -----------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        return {"divider": self.divider, "rbr": self.rbr, "ier": self.ier, "fcr": self.fcr,
                "lcr": self.lcr, "mcr": self.mcr, "lsr": self.lsr, "scr": self.scr,
                "thr_ipending": int(self.thr_ipending), "rx": bytes(self.rx)}

    def load_vmstate(self, state: dict) -> None:
        for name in ("divider", "rbr", "ier", "fcr", "lcr", "mcr", "lsr", "scr"):
            setattr(self, name, state[name])
        self.thr_ipending = bool(state["thr_ipending"])
        self.rx[:] = state["rx"]
        self._update_irq()
