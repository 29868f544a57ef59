"""virtio-serial: the virtio console device with multiple ports (virtio 1.2 spec section 5.3 "Console
Device"; the behaviour of QEMU's hw/char/virtio-serial-bus.c and virtio-console.c).

One device carries up to ``max_ports`` ports (5.3.4 ``max_nr_ports``, 31 by default as in QEMU).  Each
port is a byte stream between the driver and a host :class:`~pyqemu.chardev.base.Chardev`; a *console*
port is one the driver turns into a ``hvc`` terminal, a generic port (QEMU's ``virtserialport``) shows
up in Linux as ``/dev/vport<dev>p<id>`` with its name in ``/sys/class/virtio-ports/*/name``.

Queues (5.3.2): ``receiveq0``/``transmitq0`` (0, 1) for port 0, the control queues ``c_ivq``/``c_ovq``
(2, 3), then ``receiveqN``/``transmitqN`` (2N+2, 2N+3) for port N.  All of them exist whatever the driver
uses.  Features (5.3.3): ``VIRTIO_CONSOLE_F_MULTIPORT`` when ``max_ports`` > 1 and
``VIRTIO_CONSOLE_F_EMERG_WRITE`` (QEMU's ``emergency-write``, on by default: a byte the driver writes to
``emerg_wr`` goes to the first connected console); ``VIRTIO_CONSOLE_F_SIZE`` is not offered, so ``cols``
and ``rows`` read 0 and no ``VIRTIO_CONSOLE_RESIZE`` is ever sent (neither does QEMU).

A driver that does not negotiate MULTIPORT sees port 0 only, open from DRIVER_OK on (5.3.6).  With
MULTIPORT the control queues carry ``struct virtio_console_control {le32 id; le16 event; le16 value}``
(5.3.6.2):

* the driver sends ``DEVICE_READY``; the device answers ``DEVICE_ADD`` (Linux: PORT_ADD) for every
  port, and from then on announces ports plugged and unplugged later (``DEVICE_ADD``/``DEVICE_REMOVE``);
* the driver acknowledges a port with ``PORT_READY``; the device answers ``CONSOLE_PORT`` for a console,
  ``PORT_NAME`` (the name and a NUL after the header) for a named port and ``PORT_OPEN`` 1 when the host
  side is connected;
* ``PORT_OPEN`` from the driver says whether a program in the guest has the port open.  It is tracked in
  :attr:`VirtioSerialPort.guest_connected` and gates host input (Linux throws away data that reaches a
  closed port); nothing is forwarded to the chardev, as QEMU's socket chardev does nothing with it either;
* ``PORT_OPEN`` from the device follows the host side: a console port is connected as soon as it has a
  chardev, a generic port while its chardev is open (``CHR_EVENT_OPENED``/``CLOSED``, e.g. a socket
  client).  Guest output on a port whose host side is not connected is thrown away.

Negative answers (``DEVICE_READY`` 0, ``PORT_READY`` 0) and messages for ports that do not exist are
reported through :attr:`~pyqemu.hw.virtio.device.VirtioDevice.on_error` with QEMU's wording, without
breaking the device.  Control messages wait in the device while the driver has no ``c_ivq`` buffers
(QEMU drops them), up to :data:`CONTROL_BACKLOG` of them.

Host input follows the chardev flow-control contract (:mod:`pyqemu.chardev.base`): ``can_receive`` says
yes while the port is open in the guest and has receive buffers; input the buffers cannot take yet waits
in the port; when the driver adds buffers the device delivers it and calls ``chardev.accept_input``.
"""

from __future__ import annotations

import struct
from collections import deque
from functools import partial

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.hw.virtio.device import VIRTIO_ID_CONSOLE, VirtioDevice
from pyqemu.hw.virtio.virtqueue import VirtQueue

VIRTIO_CONSOLE_F_SIZE = 0
VIRTIO_CONSOLE_F_MULTIPORT = 1
VIRTIO_CONSOLE_F_EMERG_WRITE = 2

# -- control events (5.3.6.2) ----------------------------------------------------------------------
VIRTIO_CONSOLE_DEVICE_READY = 0
VIRTIO_CONSOLE_DEVICE_ADD = 1
VIRTIO_CONSOLE_DEVICE_REMOVE = 2
VIRTIO_CONSOLE_PORT_READY = 3
VIRTIO_CONSOLE_CONSOLE_PORT = 4
VIRTIO_CONSOLE_RESIZE = 5
VIRTIO_CONSOLE_PORT_OPEN = 6
VIRTIO_CONSOLE_PORT_NAME = 7

#: ``struct virtio_console_control``
CONTROL = struct.Struct("<IHH")
#: configuration space: ``le16 cols; le16 rows; le32 max_nr_ports; le32 emerg_wr``
CONFIG_SIZE = 12
CONFIG_MAX_NR_PORTS = 4
CONFIG_EMERG_WR = 8

DEFAULT_MAX_PORTS = 31
#: two queues per port plus the control pair within QEMU's 1024 queues
MAX_SUPPORTED_PORTS = 1024 // 2 - 1
DATA_QUEUE_SIZE = 128
CONTROL_QUEUE_SIZE = 32
#: control messages kept while the driver has no control receive buffers
CONTROL_BACKLOG = 256
#: the most host input taken in one go (the rest waits in the chardev)
RX_CHUNK = 4096


class VirtioSerialPort:
    """The host side of one port: a console or a generic port, optionally named, wired to a chardev (or
    to nothing: output dropped, no input).  :meth:`VirtioSerial.add_port` gives it its :attr:`id`."""

    def __init__(self, chardev: Chardev | None = None, name: str | None = None, console: bool = False):
        self.chardev = chardev
        self.name = name
        self.console = console
        self.id = -1
        #: the host end is there: a console with a chardev, a generic port whose chardev is open
        self.host_connected = False
        #: a program in the guest has the port open (the driver's PORT_OPEN)
        self.guest_connected = False
        #: host input taken from the chardev that did not fit the driver's buffers yet
        self.rx_pending = bytearray()


class VirtioSerial(VirtioDevice):
    """A virtio console device with up to ``max_ports`` ports (1 gives QEMU's single-port console)."""

    def __init__(self, max_ports: int = DEFAULT_MAX_PORTS, emergency_write: bool = True):
        if not 1 <= max_ports <= MAX_SUPPORTED_PORTS:
            raise ValueError(f"max_ports must be 1..{MAX_SUPPORTED_PORTS}, not {max_ports}")
        features = 1 << VIRTIO_CONSOLE_F_MULTIPORT if max_ports > 1 else 0
        if emergency_write:
            features |= 1 << VIRTIO_CONSOLE_F_EMERG_WRITE
        super().__init__("virtio-serial", VIRTIO_ID_CONSOLE, CONFIG_SIZE, features)
        self.max_ports = max_ports
        struct.pack_into("<I", self.config, CONFIG_MAX_NR_PORTS, max_ports)
        #: how the messages name the device's bus (QEMU's "virtio-serial0.0"); set by the QOM layer
        self.bus_name = "virtio-serial-bus"
        self.ports: dict[int, VirtioSerialPort] = {}
        self.rx_queues: list[VirtQueue] = []
        self.tx_queues: list[VirtQueue] = []
        self._add_port_queues(0)
        self.c_ivq = self.add_queue(CONTROL_QUEUE_SIZE, lambda vq: self._flush_control())
        self.c_ovq = self.add_queue(CONTROL_QUEUE_SIZE, self._handle_control)
        for port_id in range(1, max_ports):
            self._add_port_queues(port_id)
        self._driver_ready = False  # DEVICE_READY received: ports are announced as they come and go
        self._control_out: deque[bytes] = deque()

    def _add_port_queues(self, port_id: int) -> None:
        self.rx_queues.append(self.add_queue(DATA_QUEUE_SIZE, partial(self._handle_rx, port_id)))
        self.tx_queues.append(self.add_queue(DATA_QUEUE_SIZE, partial(self._handle_tx, port_id)))

    @property
    def multiport(self) -> bool:
        return self.has_feature(VIRTIO_CONSOLE_F_MULTIPORT)

    # -- ports ------------------------------------------------------------------------------------
    def free_port_id(self) -> int | None:
        """The lowest free port number other than 0 (reserved for a console, as in QEMU), or None."""
        return next((i for i in range(1, self.max_ports) if i not in self.ports), None)

    def add_port(self, port: VirtioSerialPort, port_id: int) -> None:
        """Plug ``port`` in as number ``port_id`` (free and below ``max_ports``) and connect its chardev;
        a driver that is up hears of it (hot-plug)."""
        with self.lock:
            if port_id in self.ports or not 0 <= port_id < self.max_ports:
                raise ValueError(f"port id {port_id} is taken or out of range")
            port.id = port_id
            port.host_connected = port.console and port.chardev is not None
            port.guest_connected = False
            port.rx_pending.clear()
            self.ports[port_id] = port
            if self._driver_ready:
                self._send_control(port_id, VIRTIO_CONSOLE_DEVICE_ADD, 1)
            if port.chardev is not None:
                # generic ports follow the chardev's open state; a console is connected while it exists
                event = None if port.console else partial(self._chardev_event, port)
                port.chardev.set_handlers(partial(self._can_receive, port), partial(self._receive, port),
                                          event)

    def remove_port(self, port: VirtioSerialPort) -> None:
        """Unplug ``port``: what the guest queued for it is dropped, the driver gets DEVICE_REMOVE and
        the chardev is let go."""
        with self.lock:
            if self.ports.get(port.id) is not port:
                raise ValueError("port is not plugged into this device")
            del self.ports[port.id]
            self._discard(self.tx_queues[port.id])
            port.rx_pending.clear()
            port.guest_connected = port.host_connected = False
            if self._driver_ready:
                self._send_control(port.id, VIRTIO_CONSOLE_DEVICE_REMOVE, 1)
            if port.chardev is not None:
                port.chardev.set_handlers(None, None, None)

    def _is_plugged(self, port: VirtioSerialPort) -> bool:
        return self.ports.get(port.id) is port

    def _guest_open(self, port: VirtioSerialPort) -> bool:
        """May host input go to ``port`` now?  Without MULTIPORT port 0 is open while the driver is."""
        if not self.is_driver_ok() or not self._is_plugged(port):
            return False
        return port.guest_connected if self.multiport else port.id == 0

    # -- control queues ---------------------------------------------------------------------------
    def _send_control(self, port_id: int, event: int, value: int, payload: bytes = b"") -> None:
        """Queue a control message for the driver (only a MULTIPORT driver has control queues)."""
        if not self.is_driver_ok() or not self.multiport or len(self._control_out) >= CONTROL_BACKLOG:
            return
        self._control_out.append(CONTROL.pack(port_id, event, value) + payload)
        self._flush_control()

    def _flush_control(self) -> None:
        """Move waiting control messages into the driver's control receive buffers."""
        vq = self.c_ivq
        done = False
        while self._control_out:
            elem = vq.pop()
            if elem is None:
                break
            vq.push(elem, elem.write_in(self._control_out.popleft()))
            done = True
        if done:
            self.notify(vq)

    def _handle_control(self, vq: VirtQueue) -> None:
        done = False
        while (elem := vq.pop()) is not None:
            message = elem.read_out()
            vq.push(elem, 0)
            done = True
            if len(message) >= CONTROL.size:  # shorter ones are ignored, as QEMU does
                self._control_message(*CONTROL.unpack_from(message))
        if done:
            self.notify(vq)

    def _control_message(self, port_id: int, event: int, value: int) -> None:
        """One control message from the driver."""
        if event == VIRTIO_CONSOLE_DEVICE_READY:
            if not value:
                self.on_error(f"virtio-serial-bus: Guest failure in adding device {self.bus_name}")
                return
            self._driver_ready = True
            for known in list(self.ports):
                self._send_control(known, VIRTIO_CONSOLE_DEVICE_ADD, 1)
            return
        port = self.ports.get(port_id)
        if port is None:
            self.on_error(f"virtio-serial-bus: Unexpected port id {port_id} for device {self.bus_name}")
            return
        if event == VIRTIO_CONSOLE_PORT_READY:
            if not value:
                self.on_error(f"virtio-serial-bus: Guest failure in adding port {port_id} for device "
                              f"{self.bus_name}")
                return
            if port.console:
                self._send_control(port_id, VIRTIO_CONSOLE_CONSOLE_PORT, 1)
            if port.name:
                self._send_control(port_id, VIRTIO_CONSOLE_PORT_NAME, 1, port.name.encode() + b"\0")
            if port.host_connected:
                self._send_control(port_id, VIRTIO_CONSOLE_PORT_OPEN, 1)
        elif event == VIRTIO_CONSOLE_PORT_OPEN:
            port.guest_connected = bool(value)
            if port.guest_connected:
                self._flush_rx(port)
                self._accept_input(port)
        # the other events only go from the device to the driver: ignored

    # -- host side of a port ----------------------------------------------------------------------
    def _chardev_event(self, port: VirtioSerialPort, event: int) -> None:
        """A generic port's chardev opened or closed: tell the driver (PORT_OPEN)."""
        if event not in (CHR_EVENT_OPENED, CHR_EVENT_CLOSED):
            return
        connected = event == CHR_EVENT_OPENED
        with self.lock:
            if not self._is_plugged(port) or port.host_connected == connected:
                return
            port.host_connected = connected
            if not connected:
                self._discard(self.tx_queues[port.id])  # nobody is there to read it
            self._send_control(port.id, VIRTIO_CONSOLE_PORT_OPEN, int(connected))

    def _can_receive(self, port: VirtioSerialPort) -> int:
        with self.lock:
            if port.rx_pending or not self._guest_open(port):
                return 0
            vq = self.rx_queues[port.id]
            if vq.is_empty():
                # make sure the driver kicks when it adds buffers, then look once more
                vq.set_notification(True)
                if vq.is_empty():
                    return 0
            return RX_CHUNK

    def _receive(self, port: VirtioSerialPort, data: bytes) -> None:
        with self.lock:
            port.rx_pending += data
            self._flush_rx(port)

    def _flush_rx(self, port: VirtioSerialPort) -> None:
        """Move the port's pending input into the driver's receive buffers."""
        if not self._guest_open(port):
            return
        vq = self.rx_queues[port.id]
        done = False
        while port.rx_pending:
            elem = vq.pop()
            if elem is None:
                break
            n = elem.write_in(port.rx_pending)
            del port.rx_pending[:n]
            vq.push(elem, n)
            done = True
        if done:
            self.notify(vq)

    def _accept_input(self, port: VirtioSerialPort) -> None:
        """Let the chardev send more once the pending input is delivered."""
        if port.chardev is not None and not port.rx_pending and self._guest_open(port):
            port.chardev.accept_input()

    def _handle_rx(self, port_id: int, vq: VirtQueue) -> None:
        """The driver added receive buffers to a port: deliver what waits, then take more."""
        port = self.ports.get(port_id)
        if port is not None:
            self._flush_rx(port)
            self._accept_input(port)

    # -- guest -> host ----------------------------------------------------------------------------
    def _handle_tx(self, port_id: int, vq: VirtQueue) -> None:
        port = self.ports.get(port_id)
        if port is None or not port.host_connected or port.chardev is None:
            self._discard(vq)
            return
        done = False
        while (elem := vq.pop()) is not None:
            data = elem.read_out()
            vq.push(elem, 0)
            done = True
            if data:
                port.chardev.write(data)
        if done:
            self.notify(vq)

    def _discard(self, vq: VirtQueue) -> None:
        """Return everything queued on ``vq`` unread."""
        done = False
        while (elem := vq.pop()) is not None:
            vq.push(elem, 0)
            done = True
        if done:
            self.notify(vq)

    # -- configuration space ----------------------------------------------------------------------
    def config_write(self, offset: int, data: bytes) -> None:
        """``emerg_wr`` (5.3.4): the byte written goes to the first console whose host side is there.  As in
        QEMU it works whenever the feature is offered: early boot code writes it before any negotiation."""
        if offset != CONFIG_EMERG_WR or not data[0]:
            return
        if not self.host_has_feature(VIRTIO_CONSOLE_F_EMERG_WRITE):
            return
        console = next((p for p in self.ports.values() if p.console and p.host_connected), None)
        if console is not None and console.chardev is not None:
            console.chardev.write(data[:1])

    # -- lifecycle --------------------------------------------------------------------------------
    def device_reset(self) -> None:
        """The driver is gone: every port is closed on its side, nothing is announced until it is back."""
        self._driver_ready = False
        self._control_out.clear()
        for port in self.ports.values():
            port.guest_connected = False
            port.rx_pending.clear()
