"""virtio-serial: port 0 for drivers without multiport, the control protocol, data on every port,
host open/close, hot-plug and unplug of ports, emergency write."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pyqemu.chardev.base import CHR_EVENT_CLOSED, CHR_EVENT_OPENED, Chardev
from pyqemu.cli.qemu_opts import parse_opts
from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.device import VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_VERSION_1
from pyqemu.hw.virtio.qdev import VirtioMMIOProxy
from pyqemu.hw.virtio.serial import (
    CONTROL,
    VIRTIO_CONSOLE_CONSOLE_PORT,
    VIRTIO_CONSOLE_DEVICE_ADD,
    VIRTIO_CONSOLE_DEVICE_READY,
    VIRTIO_CONSOLE_DEVICE_REMOVE,
    VIRTIO_CONSOLE_F_EMERG_WRITE,
    VIRTIO_CONSOLE_F_MULTIPORT,
    VIRTIO_CONSOLE_F_SIZE,
    VIRTIO_CONSOLE_PORT_NAME,
    VIRTIO_CONSOLE_PORT_OPEN,
    VIRTIO_CONSOLE_PORT_READY,
    VirtioSerial,
    VirtioSerialPort,
)
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX
from pyqemu.qom.object import DeviceState, DeviceTree, QomError

from . import MMIO_BASE, Guest, GuestQueue

V1 = 1 << VIRTIO_F_VERSION_1
MULTIPORT = V1 | (1 << VIRTIO_CONSOLE_F_MULTIPORT)
ADD, REMOVE, READY = VIRTIO_CONSOLE_DEVICE_ADD, VIRTIO_CONSOLE_DEVICE_REMOVE, VIRTIO_CONSOLE_PORT_READY
CONSOLE, OPEN, NAME = VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_NAME


class CaptureChardev(Chardev):
    """A backend that records guest output and the handlers the frontend installed; tests feed input
    with :meth:`deliver` and open/close it with :meth:`send_event`."""

    def __init__(self, id: str = "capture") -> None:
        super().__init__(id)
        self.output = bytearray()
        self.receive_handler: Callable[[bytes], None] | None = None

    def set_handlers(self, can_receive: Callable[[], int] | None, receive: Callable[[bytes], None] | None,
                     event: Callable[[int], None] | None = None) -> None:
        self.receive_handler = receive
        super().set_handlers(can_receive, receive, event)

    def write(self, data: bytes) -> int:
        self.output += data
        return len(data)


def received(rx: GuestQueue) -> bytes:
    return b"".join(data[:n] for _, n, data in rx.get_used())


# -- a driver without VIRTIO_CONSOLE_F_MULTIPORT: port 0 only ---------------------------------------


def console_device(chardev: Chardev | None, **kw: int) -> VirtioSerial:
    dev = VirtioSerial(**kw)
    dev.add_port(VirtioSerialPort(chardev, console=True), 0)
    return dev


def console_guest() -> tuple[Guest, GuestQueue, GuestQueue, CaptureChardev]:
    chr_ = CaptureChardev()
    g = Guest(console_device(chr_))
    rx, tx = g.setup(V1, queues=2)
    return g, rx, tx, chr_


def test_identification_features_and_config():
    g = Guest(VirtioSerial())
    assert g.rd(regs.DEVICE_ID) == 3
    features = g.device_features()
    assert features & (1 << VIRTIO_CONSOLE_F_MULTIPORT) and features & (1 << VIRTIO_CONSOLE_F_EMERG_WRITE)
    assert not features & (1 << VIRTIO_CONSOLE_F_SIZE)
    assert g.rd(regs.CONFIG + 4) == 31  # max_nr_ports
    assert g.rd(regs.CONFIG) == 0  # cols, rows
    sizes = []
    for index in range(65):
        g.wr(regs.QUEUE_SEL, index)
        sizes.append(g.rd(regs.QUEUE_NUM_MAX))
    assert sizes == [128, 128, 32, 32] + [128] * 60 + [0]  # port 0, control, ports 1..30
    single = Guest(VirtioSerial(max_ports=1, emergency_write=False))
    assert single.device_features() & 0xFFFFFF == 0
    assert single.rd(regs.CONFIG + 4) == 1
    with pytest.raises(ValueError):
        VirtioSerial(max_ports=0)


def test_guest_output_goes_to_the_chardev():
    g, _, tx, chr_ = console_guest()
    tx.add([b"Hello, ", b"world\n"])
    tx.add([b"second line\n"])
    assert bytes(chr_.output) == b"Hello, world\nsecond line\n"
    assert [n for _, n, _ in tx.get_used()] == [0, 0]
    assert g.ack_interrupt() == 1


def test_host_input_waits_for_receive_buffers():
    g, rx, _, chr_ = console_guest()
    chr_.deliver(b"typed early")  # no receive buffers yet: stays buffered
    assert rx.used_idx() == 0 and g.irq_level == 0
    rx.add(in_lens=[64])  # the driver adds a buffer and kicks: input flows
    assert received(rx) == b"typed early"
    assert g.ack_interrupt() == 1
    chr_.deliver(b"more")  # no buffer left
    assert rx.used_idx() == 1
    rx.add(in_lens=[64])
    assert received(rx) == b"more"


def test_host_input_is_split_over_small_buffers_and_kept_in_order():
    g, rx, _, chr_ = console_guest()
    for _ in range(2):
        rx.add(in_lens=[4])
    chr_.deliver(b"0123456789abcdef")
    assert received(rx) == b"01234567"
    for _ in range(3):
        rx.add(in_lens=[4])
    assert received(rx) == b"89abcdef"
    chr_.deliver(b"!")
    assert received(rx) == b"!"


def test_input_before_driver_ok_and_reset_drop():
    chr_ = CaptureChardev()
    g = Guest(console_device(chr_))
    g.negotiate(V1)
    rx = GuestQueue(g, 0, 8)
    GuestQueue(g, 1, 8)
    rx.add(in_lens=[32])
    chr_.deliver(b"boot")
    assert rx.used_idx() == 0  # nothing is consumed before DRIVER_OK
    g.driver_ok()
    assert received(rx) == b"boot"
    g.wr(regs.STATUS, 0)
    chr_.deliver(b"after reset")  # the driver is gone: stays in the chardev
    rx2, _ = g.setup(V1, queue_size=8, queues=2)
    rx2.add(in_lens=[32])
    assert received(rx2) == b"after reset"


@pytest.mark.parametrize("with_port", [False, True])
def test_console_without_chardev_or_without_port(with_port: bool):
    g = Guest(console_device(None) if with_port else VirtioSerial())
    rx, tx = g.setup(V1, queues=2)
    tx.add([b"dropped"])
    assert [n for _, n, _ in tx.get_used()] == [0]
    rx.add(in_lens=[8])
    assert rx.get_used() == []


def test_event_idx_driver_that_kicks_only_when_asked():
    """The Linux way: with VIRTIO_F_EVENT_IDX the driver kicks only when avail_event says so."""
    chr_ = CaptureChardev()
    g = Guest(console_device(chr_))
    rx, tx = g.setup(V1 | (1 << VIRTIO_F_EVENT_IDX), queue_size=8, queues=2)
    rx.linux_kicks = tx.linux_kicks = True
    for _ in range(4):
        rx.add(in_lens=[2])
    assert rx.kicks == 1  # avail_event is still 0: only the first buffer was announced
    chr_.deliver(b"abcdefghij")  # fills all four buffers, two bytes wait
    assert received(rx) == b"abcdefgh"
    rx.add(in_lens=[8])  # the device asked for a kick when it ran dry
    assert rx.kicks == 2
    assert received(rx) == b"ij"
    chr_.deliver(b"k")  # no buffer: stays in the chardev
    rx.add(in_lens=[8])
    assert rx.kicks == 3 and received(rx) == b"k"
    for text in (b"one ", b"two ", b"three"):
        tx.add([text])
    assert tx.kicks == 3 and bytes(chr_.output) == b"one two three"


# -- a multiport driver --------------------------------------------------------------------------------

Message = tuple[int, int, int, bytes]


class SerialDriver:
    """The driver side of a multiport device, set up as Linux does it: every queue, a few control
    receive buffers, then DRIVER_OK."""

    def __init__(self, g: Guest, control_buffers: int = 8):
        assert isinstance(g.transport.device, VirtioSerial)
        self.g = g
        self.dev = g.transport.device
        self.start(control_buffers)

    def start(self, control_buffers: int = 8) -> None:
        """Reset the device and set it up (again)."""
        self.queues = self.g.setup(MULTIPORT, queue_size=8)
        self.c_ivq, self.c_ovq = self.queues[2], self.queues[3]
        for _ in range(control_buffers):
            self.c_ivq.add(in_lens=[64])

    def rx(self, port_id: int) -> GuestQueue:
        return self.queues[2 * port_id + 2 if port_id else 0]

    def tx(self, port_id: int) -> GuestQueue:
        return self.queues[2 * port_id + 3 if port_id else 1]

    def send(self, port_id: int, event: int, value: int = 1) -> None:
        self.c_ovq.add([CONTROL.pack(port_id, event, value)])
        assert [n for _, n, _ in self.c_ovq.get_used()] == [0]

    def messages(self) -> list[Message]:
        """Control messages the device sent since the last call (their buffers go back to the ring)."""
        out = []
        for _, n, data in self.c_ivq.get_used():
            out.append((*CONTROL.unpack_from(data), data[CONTROL.size:n]))
            self.c_ivq.add(in_lens=[64])
        return out

    def bring_up(self) -> list[Message]:
        """DEVICE_READY, then PORT_READY for every port announced; returns every answer."""
        self.send(0, VIRTIO_CONSOLE_DEVICE_READY)
        answers = self.messages()
        for port_id, event, _, _ in list(answers):
            if event == ADD:
                self.rx(port_id).add(in_lens=[16])
                self.send(port_id, READY)
                answers += self.messages()
        return answers


def two_ports() -> tuple[SerialDriver, CaptureChardev, CaptureChardev]:
    """A console on port 0 and ``org.test.port0`` on port 2 (its chardev not opened yet)."""
    con, gen = CaptureChardev("con"), CaptureChardev("gen")
    dev = VirtioSerial(max_ports=4)
    dev.add_port(VirtioSerialPort(con, console=True), 0)
    dev.add_port(VirtioSerialPort(gen, name="org.test.port0"), 2)
    return SerialDriver(Guest(dev)), con, gen


def test_device_ready_announces_the_ports_and_port_ready_describes_them():
    drv, _, gen = two_ports()
    assert drv.messages() == []  # nothing before DEVICE_READY
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)
    assert drv.messages() == [(0, ADD, 1, b""), (2, ADD, 1, b"")]
    drv.send(0, READY)
    assert drv.messages() == [(0, CONSOLE, 1, b""), (0, OPEN, 1, b"")]  # a console is connected
    drv.send(2, READY)
    assert drv.messages() == [(2, NAME, 1, b"org.test.port0\0")]  # not connected on the host side
    gen.send_event(CHR_EVENT_OPENED)
    assert drv.messages() == [(2, OPEN, 1, b"")]
    gen.send_event(CHR_EVENT_OPENED)  # no change, no message
    gen.send_event(CHR_EVENT_CLOSED)
    assert drv.messages() == [(2, OPEN, 0, b"")]
    assert not drv.g.errors


def test_data_on_port_0_and_port_n():
    drv, con, gen = two_ports()
    drv.bring_up()
    gen.send_event(CHR_EVENT_OPENED)
    drv.messages()
    gen.deliver(b"to port 2")
    con.deliver(b"to the console")
    assert drv.rx(2).used_idx() == 0 and drv.rx(0).used_idx() == 0  # not open in the guest yet
    drv.send(2, OPEN)
    assert received(drv.rx(2)) == b"to port 2"
    assert drv.rx(0).used_idx() == 0
    drv.send(0, OPEN)  # what Linux does when it makes port 0 a hvc console
    assert received(drv.rx(0)) == b"to the console"
    drv.tx(2).add([b"from port 2"])
    drv.tx(0).add([b"from the console"])
    assert (bytes(gen.output), bytes(con.output)) == (b"from port 2", b"from the console")
    drv.send(2, OPEN, 0)  # the guest program closed the port: input waits in the chardev again
    drv.rx(2).add(in_lens=[16])
    gen.deliver(b"later")
    assert drv.rx(2).get_used() == []
    drv.send(2, OPEN)
    assert received(drv.rx(2)) == b"later"


def test_guest_output_is_dropped_while_the_host_side_is_closed():
    drv, _, gen = two_ports()
    drv.bring_up()
    drv.tx(2).add([b"nobody listens"])
    assert [n for _, n, _ in drv.tx(2).get_used()] == [0] and gen.output == b""
    gen.send_event(CHR_EVENT_OPENED)
    drv.tx(2).add([b"hello"])
    assert gen.output == b"hello"


def test_control_messages_wait_for_control_buffers():
    con = CaptureChardev()
    dev = VirtioSerial(max_ports=4)
    dev.add_port(VirtioSerialPort(con, console=True), 0)
    dev.add_port(VirtioSerialPort(None, name="a"), 1)
    drv = SerialDriver(Guest(dev), control_buffers=0)
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)
    assert drv.c_ivq.used_idx() == 0
    drv.c_ivq.add(in_lens=[64])
    drv.c_ivq.add(in_lens=[64])
    assert drv.messages() == [(0, ADD, 1, b""), (1, ADD, 1, b"")]


def test_hotplug_and_unplug():
    drv, _, _ = two_ports()
    dev = drv.dev
    early = VirtioSerialPort(CaptureChardev("early"), name="org.test.early")
    dev.add_port(early, 1)  # before DEVICE_READY: announced with the others
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)
    assert [(i, e) for i, e, _, _ in drv.messages()] == [(0, ADD), (2, ADD), (1, ADD)]
    hot_chr = CaptureChardev("hot")
    hot = VirtioSerialPort(hot_chr, name="org.test.hot")
    assert dev.free_port_id() == 3
    dev.add_port(hot, 3)
    assert drv.messages() == [(3, ADD, 1, b"")]
    drv.rx(3).add(in_lens=[16])
    drv.send(3, READY)
    assert drv.messages() == [(3, NAME, 1, b"org.test.hot\0")]
    hot_chr.send_event(CHR_EVENT_OPENED)
    drv.send(3, OPEN)
    assert drv.messages() == [(3, OPEN, 1, b"")]
    drv.tx(3).add([b"queued"], kick=False)
    dev.remove_port(hot)
    assert drv.messages() == [(3, REMOVE, 1, b"")]
    assert [n for _, n, _ in drv.tx(3).get_used()] == [0] and hot_chr.output == b""  # dropped
    assert hot_chr.receive_handler is None  # the chardev is let go
    hot_chr.deliver(b"nobody")
    assert drv.rx(3).get_used() == []
    assert dev.free_port_id() == 3
    dev.add_port(VirtioSerialPort(None), 3)  # the number can be used again
    assert drv.messages() == [(3, ADD, 1, b"")]
    with pytest.raises(ValueError):
        dev.remove_port(hot)
    with pytest.raises(ValueError):
        dev.add_port(VirtioSerialPort(), 3)
    with pytest.raises(ValueError):
        dev.add_port(VirtioSerialPort(), 4)


def test_a_device_without_ports():
    dev = VirtioSerial(max_ports=2)
    drv = SerialDriver(Guest(dev))
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)
    assert drv.messages() == []
    dev.add_port(VirtioSerialPort(CaptureChardev(), console=True), 0)
    assert drv.messages() == [(0, ADD, 1, b"")]


def test_driver_failures_and_unknown_ports_are_reported_without_breaking_the_device():
    drv, _, _ = two_ports()
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY, 0)
    drv.send(7, READY)
    drv.send(2, READY, 0)
    drv.c_ovq.add([b"\0\0\0\0"])  # too short: ignored
    assert [n for _, n, _ in drv.c_ovq.get_used()] == [0]
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)  # a later success works
    assert drv.g.errors == [
        "virtio-serial-bus: Guest failure in adding device virtio-serial-bus",
        "virtio-serial-bus: Unexpected port id 7 for device virtio-serial-bus",
        "virtio-serial-bus: Guest failure in adding port 2 for device virtio-serial-bus",
    ]
    assert [(i, e) for i, e, _, _ in drv.messages()] == [(0, ADD), (2, ADD)]
    assert not drv.g.status & VIRTIO_CONFIG_S_NEEDS_RESET


def test_reset_closes_the_ports_until_the_driver_is_back():
    drv, con, _ = two_ports()
    drv.bring_up()
    drv.send(0, OPEN)
    drv.g.wr(regs.STATUS, 0)
    drv.dev.add_port(VirtioSerialPort(None), 1)  # no driver: nothing to announce
    drv.start()
    assert drv.messages() == []  # nor before the new driver's DEVICE_READY
    drv.rx(0).add(in_lens=[16])
    con.deliver(b"x")
    assert drv.rx(0).get_used() == []  # the new driver has not opened port 0
    drv.send(0, OPEN)
    assert received(drv.rx(0)) == b"x"


def test_emergency_write_goes_to_the_first_connected_console():
    con = CaptureChardev()
    dev = VirtioSerial(max_ports=4)
    dev.add_port(VirtioSerialPort(CaptureChardev(), name="not a console"), 1)
    dev.add_port(VirtioSerialPort(con, console=True), 2)
    g = Guest(dev)
    g.wr(regs.CONFIG + 8, ord("!"))  # works before any negotiation
    g.wr(regs.CONFIG + 8, 0)
    assert con.output == b"!"
    quiet = CaptureChardev()
    off = VirtioSerial(max_ports=2, emergency_write=False)
    off.add_port(VirtioSerialPort(quiet, console=True), 0)
    Guest(off).wr(regs.CONFIG + 8, ord("!"))
    assert quiet.output == b""


# -- the QOM types: virtio-serial-device, virtconsole, virtserialport ---------------------------------


class Machine:
    """A device tree whose virtio-mmio slots are test guests' (:attr:`g` the first), with chardevs
    c0..c3."""

    def __init__(self, slots: int = 1) -> None:
        self.tree = DeviceTree()
        self.guests = [Guest() for _ in range(slots)]
        self.g = self.guests[0]
        for g in self.guests:
            proxy = self.tree.add_builtin("virtio-mmio")
            assert isinstance(proxy, VirtioMMIOProxy)
            proxy.attach(g.transport, MMIO_BASE)
        self.chardevs = {f"c{i}": CaptureChardev(f"c{i}") for i in range(4)}
        for chr_id, chardev in self.chardevs.items():
            self.tree.add_chardev(chr_id, chardev)

    def add(self, option: str) -> DeviceState:
        """``-device option`` (or ``device_add option``)."""
        return self.tree.device_add(parse_opts(option, implied_key="driver"))

    def nr(self, dev_id: str) -> int:
        return self.tree.ids[dev_id].props["nr"]


def test_port_numbers_as_qemu_gives_them():
    m = Machine()
    m.add("virtio-serial-device,id=vser0")
    m.add("virtserialport,id=p1,chardev=c1,name=org.qemu.guest_agent.0")
    m.add("virtconsole,id=con0,chardev=c0")  # the first console takes the reserved number 0
    m.add("virtconsole,id=con1")  # a second one takes the next free number
    m.add("virtserialport,id=p5,nr=5")
    m.add("virtserialport,id=p3")
    assert [m.nr(i) for i in ("p1", "con0", "con1", "p5", "p3")] == [1, 0, 2, 5, 3]
    qtree = m.tree.qtree()
    assert ('bus: vser0.0\n          type virtio-serial-bus\n          dev: virtserialport, id "p3"\n'
            '            chardev = ""\n            nr = 3 (0x3)\n            name = ""\n') in qtree
    assert 'chardev = "c1"\n            nr = 1 (0x1)\n            name = "org.qemu.guest_agent.0"\n' in qtree


@pytest.mark.parametrize("max_ports, options, message", [
    (4, ["virtserialport,nr=0"],
     "Port number 0 on virtio-serial devices reserved for virtconsole devices for backward compatibility."),
    (4, ["virtserialport,nr=3", "virtconsole,nr=3"], "virtio-serial-bus: A port already exists at id 3"),
    (4, ["virtserialport,name=org.x", "virtserialport,name=org.x"],
     "virtio-serial-bus: A port already exists by the name org.x"),
    (4, ["virtserialport,nr=4"], "virtio-serial-bus: Out-of-range port id specified, max. allowed: 3"),
    # out of numbers: QEMU's wording depends on whether max_ports fills its bitmap's 32-bit words
    (4, ["virtserialport"] * 4, "virtio-serial-bus: Out-of-range port id specified, max. allowed: 3"),
    (32, ["virtconsole"] * 33, "virtio-serial-bus: Maximum port number reached"),
])
def test_port_errors(max_ports: int, options: list[str], message: str):
    m = Machine()
    m.add(f"virtio-serial-device,max_ports={max_ports}")
    for option in options[:-1]:
        m.add(option)
    with pytest.raises(QomError) as exc:
        m.add(options[-1])
    assert str(exc.value) == message


def test_port_names_are_unique_across_devices():
    m = Machine(slots=2)
    m.add("virtio-serial-device,bus=virtio-mmio-bus.0")
    m.add("virtio-serial-device,bus=virtio-mmio-bus.1")
    m.add("virtserialport,name=org.x,bus=virtio-serial-bus.0")
    with pytest.raises(QomError, match="A port already exists by the name org.x"):
        m.add("virtserialport,name=org.x,bus=virtio-serial-bus.1")


@pytest.mark.parametrize("max_ports, message", [
    ("0", "Maximum number of serial ports not specified"),
    ("512", "maximum ports supported: 511"),
])
def test_max_ports_errors(max_ports: str, message: str):
    with pytest.raises(QomError) as exc:
        Machine().add(f"virtio-serial-device,max_ports={max_ports}")
    assert str(exc.value) == message


def test_hotplug_through_the_device_tree():
    m = Machine()
    m.add("virtio-serial-device,id=vser0,max_ports=4")
    m.add("virtconsole,chardev=c0")
    m.tree.machine_ready = True
    drv = SerialDriver(m.g)
    drv.send(0, VIRTIO_CONSOLE_DEVICE_READY)
    assert drv.messages() == [(0, ADD, 1, b"")]
    deleted: list[tuple[str | None, str]] = []
    m.tree.deleted_listeners.append(lambda dev_id, path: deleted.append((dev_id, path)))

    m.add("virtserialport,chardev=c2,name=org.test.hot,id=hot1")
    assert drv.messages() == [(1, ADD, 1, b"")]
    drv.rx(1).add(in_lens=[16])
    drv.send(1, READY)
    m.chardevs["c2"].send_event(CHR_EVENT_OPENED)
    assert drv.messages() == [(1, NAME, 1, b"org.test.hot\0"), (1, OPEN, 1, b"")]
    drv.tx(1).add([b"hi"])
    assert m.chardevs["c2"].output == b"hi"

    m.tree.device_del("hot1")
    assert drv.messages() == [(1, REMOVE, 1, b"")]
    assert deleted == [("hot1", "/machine/peripheral/hot1")]
    assert m.chardevs["c2"].receive_handler is None
    m.add("virtserialport,chardev=c2,name=org.test.hot,id=hot1")  # chardev, name and number are free
    assert drv.messages() == [(1, ADD, 1, b"")]
    with pytest.raises(QomError, match="does not support hotplugging"):
        m.tree.device_del("vser0")
