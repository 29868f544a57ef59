"""The PC's 8042 keyboard controller ("i8042") at I/O ports 0x60 (data) and 0x64 (status/command).

Modelled after the Intel 8042/IBM PC AT keyboard controller interface as the IBM PC AT Technical
Reference ("Keyboard Controller" section: status register, controller commands, command byte and
output port) describes it, with the PS/2 (8242) auxiliary-port commands, and as QEMU's
hw/input/pckbd.c behaves towards Linux's drivers/input/serio/i8042.c and firmware-less guests:

* 0x64 read: the status register (OBF, IBF never set, SYS, CMD/DATA, keylock open, AUX OBF);
* 0x64 write: a controller command -- 0x20 read / 0x60 write the command byte, 0xA7/0xA8 disable/enable
  the aux port, 0xA9 aux interface test, 0xAA self-test (replies 0x55), 0xAB keyboard interface test,
  0xAD/0xAE disable/enable the keyboard, 0xC0 read the input port, 0xD0/0xD1 read/write the output port,
  0xD2/0xD3 write the keyboard/aux output buffer, 0xD4 write to the aux device, 0xDD/0xDF A20 off/on,
  0xF0-0xFF pulse output lines (0xFE pulses the CPU reset line: the machine resets);
* 0x60 read: the next byte of the output buffer (the last one again when it is empty);
  0x60 write: the argument of a pending command, else a byte for the keyboard.

Writing the output port with bit 0 (the CPU reset line) clear resets the machine too; bit 1 is the A20
gate.  No real input devices are attached: a minimal PS/2 keyboard and mouse answer the commands
drivers probe with (reset, identify, enable, LEDs, rates) so that Linux finds them, but never
produce key or movement data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ
from pyqemu.qom.object import TypeInfo, register_type

from .bus import IsaBus, IsaDeviceState, PortOps

DATA_PORT = 0x60
CMD_PORT = 0x64
KBD_IRQ = 1
MOUSE_IRQ = 12

# status register
STAT_OBF = 0x01
STAT_IBF = 0x02
STAT_SYS = 0x04  # self-test passed (the command byte's SYS bit)
STAT_CMD = 0x08  # the last write went to the command port
STAT_UNLOCKED = 0x10  # keylock switch open
STAT_AUX_OBF = 0x20

# command byte
MODE_KBD_INT = 0x01
MODE_AUX_INT = 0x02
MODE_SYS = 0x04
MODE_DISABLE_KBD = 0x10
MODE_DISABLE_AUX = 0x20
MODE_TRANSLATE = 0x40

# output port
OUT_RESET = 0x01  # CPU reset line (active low)
OUT_A20 = 0x02
OUT_OBF = 0x10
OUT_AUX_OBF = 0x20
OUT_ONES = 0xCC  # lines pulled high on a PC

# controller commands
CMD_READ_MODE = 0x20
CMD_WRITE_MODE = 0x60
CMD_AUX_DISABLE = 0xA7
CMD_AUX_ENABLE = 0xA8
CMD_AUX_TEST = 0xA9
CMD_SELF_TEST = 0xAA
CMD_KBD_TEST = 0xAB
CMD_KBD_DISABLE = 0xAD
CMD_KBD_ENABLE = 0xAE
CMD_READ_INPORT = 0xC0
CMD_READ_OUTPORT = 0xD0
CMD_WRITE_OUTPORT = 0xD1
CMD_WRITE_KBD_OBUF = 0xD2
CMD_WRITE_AUX_OBUF = 0xD3
CMD_WRITE_AUX = 0xD4
CMD_A20_OFF = 0xDD
CMD_A20_ON = 0xDF
CMD_RESET = 0xFE

_CMDS_WITH_ARGUMENT = (CMD_WRITE_MODE, CMD_WRITE_OUTPORT, CMD_WRITE_KBD_OBUF, CMD_WRITE_AUX_OBUF,
                       CMD_WRITE_AUX)

SELF_TEST_OK = 0x55
INPORT_VALUE = 0x80  # keyboard not inhibited

ACK = 0xFA
RESEND = 0xFE
BAT_OK = 0xAA

OUTBUF_MAX = 16  # bytes the controller queues before dropping (a real one holds one; guests drain it)


class _Ps2Keyboard:
    """A keyboard without keys: answers the host commands (the IBM PS/2 keyboard command set)."""

    ARG_CMDS = (0xED, 0xF0, 0xF3)  # set LEDs, select scancode set, set typematic rate: take a byte

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pending: int | None = None
        self.scancode_set = 2
        self.enabled = True

    def command(self, byte: int, translate: bool) -> list[int]:
        if self.pending is not None:
            cmd, self.pending = self.pending, None
            if cmd == 0xF0:
                if byte == 0:  # report the set in use (in the form the translation makes of it)
                    translated = (0x43, 0x41, 0x3F)[self.scancode_set - 1]
                    return [ACK, translated if translate else self.scancode_set]
                if 1 <= byte <= 3:
                    self.scancode_set = byte
            return [ACK]
        if byte in self.ARG_CMDS:
            self.pending = byte
            return [ACK]
        if byte == 0xFF:
            self.reset()
            return [ACK, BAT_OK]
        if byte == 0xF2:  # identify: an MF2 keyboard
            return [ACK, 0xAB, 0x41 if translate else 0x83]
        if byte == 0xEE:
            return [0xEE]
        if byte in (0xF4, 0xF5, 0xF6):
            self.enabled = byte == 0xF4
            return [ACK]
        if 0xF7 <= byte <= 0xFD:
            return [ACK]
        return [RESEND]


class _Ps2Mouse:
    """A mouse that never moves: answers the host commands (the IBM PS/2 mouse command set)."""

    ARG_CMDS = (0xE8, 0xF3)  # set resolution, set sample rate

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pending: int | None = None
        self.resolution = 2
        self.rate = 100
        self.enabled = False

    def command(self, byte: int) -> list[int]:
        if self.pending is not None:
            cmd, self.pending = self.pending, None
            if cmd == 0xE8:
                self.resolution = byte & 3
            else:
                self.rate = byte
            return [ACK]
        if byte in self.ARG_CMDS:
            self.pending = byte
            return [ACK]
        if byte == 0xFF:
            self.reset()
            return [ACK, BAT_OK, 0x00]
        if byte == 0xF2:  # identify: a standard mouse
            return [ACK, 0x00]
        if byte == 0xE9:  # status request
            return [ACK, 0x20 if self.enabled else 0x00, self.resolution, self.rate]
        if byte in (0xF4, 0xF5, 0xF6):
            self.enabled = byte == 0xF4
            if byte == 0xF6:
                self.resolution, self.rate = 2, 100
            return [ACK]
        if byte in (0xE6, 0xE7, 0xEA, 0xEB, 0xF0):
            return [ACK, 0x00, 0x00, 0x00] if byte == 0xEB else [ACK]
        return [RESEND]


class I8042:
    """The controller: ``mr_data`` (port 0x60) and ``mr_cmd`` (port 0x64) are its one-byte regions.

    ``on_reset`` is the machine's reset request (the CPU reset line), ``on_a20`` (optional) hears the
    A20 gate's state; ``kbd_irq``/``aux_irq`` are ISA IRQ 1 and 12.
    """

    def __init__(self, on_reset: Callable[[], None], kbd_irq: IRQ | None = None, aux_irq: IRQ | None = None,
                 on_a20: Callable[[bool], None] | None = None):
        self.on_reset = on_reset
        self.on_a20 = on_a20
        self.kbd_irq = kbd_irq
        self.aux_irq = aux_irq
        self.keyboard = _Ps2Keyboard()
        self.mouse = _Ps2Mouse()
        self.outbuf: deque[tuple[int, bool]] = deque()  # (byte, from the aux port)
        self.mr_data = MemoryRegion.io("i8042-data", 1, PortOps(self.read_data, self.write_data))
        self.mr_cmd = MemoryRegion.io("i8042-cmd", 1, PortOps(self.read_status, self.write_command))
        self.reset()

    def reset(self) -> None:
        self.mode = MODE_KBD_INT | MODE_AUX_INT
        self.status = STAT_CMD | STAT_UNLOCKED
        self.outport = OUT_RESET | OUT_A20 | OUT_ONES
        self.pending_cmd: int | None = None
        self.last_data = 0
        self.outbuf.clear()
        self.keyboard.reset()
        self.mouse.reset()
        self._update_irq()

    # -- output buffer and interrupts ------------------------------------------------------------------
    def _queue(self, byte: int, aux: bool = False) -> None:
        if len(self.outbuf) < OUTBUF_MAX:
            self.outbuf.append((byte & 0xFF, aux))
        self._update_irq()

    def _update_irq(self) -> None:
        self.status &= ~(STAT_OBF | STAT_AUX_OBF)
        kbd = aux = 0
        if self.outbuf:
            from_aux = self.outbuf[0][1]
            self.status |= STAT_OBF | (STAT_AUX_OBF if from_aux else 0)
            if from_aux:
                aux = int(bool(self.mode & MODE_AUX_INT))
            else:
                kbd = int(bool(self.mode & MODE_KBD_INT))
        if self.kbd_irq is not None and self.kbd_irq.level != kbd:
            self.kbd_irq.set(kbd)
        if self.aux_irq is not None and self.aux_irq.level != aux:
            self.aux_irq.set(aux)

    def _set_outport(self, value: int) -> None:
        a20_changed = (value ^ self.outport) & OUT_A20
        self.outport = value & 0xFF
        if a20_changed and self.on_a20 is not None:
            self.on_a20(bool(value & OUT_A20))
        if not value & OUT_RESET:
            self.on_reset()

    def output_port(self) -> int:
        """The output port as command 0xD0 reads it (the buffer-full lines included)."""
        value = self.outport & ~(OUT_OBF | OUT_AUX_OBF)
        if self.status & STAT_OBF:
            value |= OUT_AUX_OBF if self.status & STAT_AUX_OBF else OUT_OBF
        return value

    @property
    def a20_enabled(self) -> bool:
        return bool(self.outport & OUT_A20)

    # -- ports -----------------------------------------------------------------------------------------
    def read_status(self) -> int:
        return self.status

    def read_data(self) -> int:
        if self.outbuf:
            self.last_data = self.outbuf.popleft()[0]
            self._update_irq()
        return self.last_data

    def write_command(self, cmd: int) -> None:
        self.status |= STAT_CMD
        self.pending_cmd = None
        if cmd == CMD_READ_MODE:
            self._queue(self.mode)
        elif cmd in _CMDS_WITH_ARGUMENT:
            self.pending_cmd = cmd
        elif cmd == CMD_AUX_DISABLE:
            self.mode |= MODE_DISABLE_AUX
        elif cmd == CMD_AUX_ENABLE:
            self.mode &= ~MODE_DISABLE_AUX
        elif cmd in (CMD_AUX_TEST, CMD_KBD_TEST):
            self._queue(0x00)  # no clock or data line stuck
        elif cmd == CMD_SELF_TEST:
            self.status |= STAT_SYS
            self._queue(SELF_TEST_OK)
        elif cmd == CMD_KBD_DISABLE:
            self.mode |= MODE_DISABLE_KBD
        elif cmd == CMD_KBD_ENABLE:
            self.mode &= ~MODE_DISABLE_KBD
        elif cmd == CMD_READ_INPORT:
            self._queue(INPORT_VALUE)
        elif cmd == CMD_READ_OUTPORT:
            self._queue(self.output_port())
        elif cmd == CMD_A20_OFF:
            self._set_outport(self.outport & ~OUT_A20)
        elif cmd == CMD_A20_ON:
            self._set_outport(self.outport | OUT_A20)
        elif cmd >= 0xF0:
            if not cmd & OUT_RESET:  # a 0 bit pulses that output line: bit 0 is the CPU reset
                self.on_reset()
        # other commands (0xA1 version, 0xC1/0xC2 input port polling...) are ignored

    def write_data(self, value: int) -> None:
        self.status &= ~STAT_CMD
        cmd, self.pending_cmd = self.pending_cmd, None
        if cmd == CMD_WRITE_MODE:
            self.mode = value
            self.status = (self.status & ~STAT_SYS) | (value & MODE_SYS)
            self._update_irq()
        elif cmd == CMD_WRITE_OUTPORT:
            self._set_outport(value)
        elif cmd == CMD_WRITE_KBD_OBUF:
            self._queue(value)
        elif cmd == CMD_WRITE_AUX_OBUF:
            self._queue(value, aux=True)
        elif cmd == CMD_WRITE_AUX:
            for byte in self.mouse.command(value):
                self._queue(byte, aux=True)
        else:
            self.mode &= ~MODE_DISABLE_KBD  # sending to the keyboard enables its interface
            for byte in self.keyboard.command(value, bool(self.mode & MODE_TRANSLATE)):
                self._queue(byte)

    # -- migration -------------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        return {"mode": self.mode, "status": self.status, "outport": self.outport,
                "pending_cmd": self.pending_cmd, "last_data": self.last_data,
                "outbuf": [list(item) for item in self.outbuf]}

    def load_vmstate(self, state: dict) -> None:
        for name in ("mode", "status", "outport", "pending_cmd", "last_data"):
            setattr(self, name, state[name])
        self.outbuf = deque((byte, bool(aux)) for byte, aux in state["outbuf"])
        self._update_irq()


def create(isa: IsaBus, on_a20: Callable[[bool], None] | None = None) -> I8042:
    """An i8042 on ``isa`` at 0x60/0x64 with IRQ 1 and 12, resetting the bus's machine."""
    machine = isa.machine

    def on_reset() -> None:
        if machine is not None:
            machine.request_reset("guest-reset")

    dev = I8042(on_reset, isa.get_irq(KBD_IRQ), isa.get_irq(MOUSE_IRQ), on_a20)
    isa.map_port(DATA_PORT, dev.mr_data)
    isa.map_port(CMD_PORT, dev.mr_cmd)
    return dev


class I8042State(IsaDeviceState):
    def create_model(self, isa: IsaBus) -> I8042:
        return create(isa)


register_type(TypeInfo("i8042", category="Input devices", bus_type="ISA", cls=I8042State,
                       user_creatable=False))
