"""The modern virtio-pci transport, driven the way Linux's virtio_pci_modern drives it: identification,
the vendor capability walk, BAR programming, feature negotiation, queue setup through the common
configuration, notifications, the ISR and INTx, and the PCI configuration access window."""

from __future__ import annotations

import struct

import pytest

from pyqemu.block.drive import open_drive, parse_drive
from pyqemu.block.registry import create_image
from pyqemu.exec.memory import AddressSpace, MemoryRegion
from pyqemu.hw.pci.pci import PCIBus
from pyqemu.hw.pci.qdev import add_pci_bus
from pyqemu.hw.virtio import pci as vp
from pyqemu.hw.virtio.blk import VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk
from pyqemu.hw.virtio.device import (
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_CONFIG_S_NEEDS_RESET,
    VIRTIO_F_VERSION_1,
    VirtioDevice,
)
from pyqemu.hw.virtio.pci_qdev import VirtioPCIState
from pyqemu.hw.virtio.rng import VirtioRng
from pyqemu.hw.virtio.serial import VirtioSerial, VirtioSerialPort
from pyqemu.hw.virtio.virtqueue import VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC
from pyqemu.qom.object import DeviceTree, QomError, lookup_type

from . import GuestQueue, make_arena
from .test_serial import CaptureChardev

RAM_SIZE = 4 << 20
BAR_ADDR = 0x80_0000_0000  # above 4 GiB: both halves of the 64-bit BAR matter
DEVFN = 3 << 3  # slot 3: INTA# swizzles to PIRQ D
V1 = 1 << VIRTIO_F_VERSION_1
DRIVER = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER

PCI_COMMAND_MEMORY = 0x2
PCI_COMMAND_MASTER = 0x4
PCI_STATUS_INTERRUPT = 0x8
PCI_STATUS_CAP_LIST = 0x10


class PCIGuest:
    """Guest RAM at 0, a PCI bus whose memory space is the system address space, one virtio-pci function,
    and the driver side of virtio_pci_modern.c."""

    def __init__(self, vdev: VirtioDevice, enable: bool = True):
        self.arena = make_arena(16 << 20)
        root = MemoryRegion.container_of("system", 1 << 40)
        root.add_subregion(0, MemoryRegion.ram("ram", RAM_SIZE, self.arena))
        self.mem = AddressSpace("memory", root)
        self.pirq_levels: list[tuple[int, int]] = []
        self.bus = PCIBus("pci.0", root, MemoryRegion.container_of("io", 0x10000), dma=self.mem,
                          set_pirq=lambda pirq, level: self.pirq_levels.append((pirq, level)))
        self.errors: list[str] = []
        vdev.on_error = self.errors.append
        self.vdev = vdev
        self.dev = vp.VirtioPCI(vdev)
        self.bus.plug(self.dev, DEVFN)
        self._next = 0x1000
        self.caps: dict[int, tuple[int, int, int, int]] = {}
        if enable:
            self.find_caps()
            self.program_bar()

    # -- configuration space ----------------------------------------------------------------------
    def cfg_rd(self, offset: int, size: int = 4) -> int:
        return self.bus.config_read(DEVFN, offset, size)

    def cfg_wr(self, offset: int, value: int, size: int = 4) -> None:
        self.bus.config_write(DEVFN, offset, value, size)

    def find_caps(self) -> None:
        """virtio_pci_find_capability: walk the list, note each vendor capability by its cfg_type."""
        assert self.cfg_rd(0x06, 2) & PCI_STATUS_CAP_LIST
        pos = self.cfg_rd(0x34, 1)
        while pos:
            if self.cfg_rd(pos, 1) == 0x09:
                cfg_type, bar = self.cfg_rd(pos + vp.CAP_CFG_TYPE, 1), self.cfg_rd(pos + vp.CAP_BAR, 1)
                offset, length = self.cfg_rd(pos + vp.CAP_OFFSET), self.cfg_rd(pos + vp.CAP_LENGTH)
                self.caps.setdefault(cfg_type, (pos, bar, offset, length))
            pos = self.cfg_rd(pos + 1, 1)

    def program_bar(self) -> None:
        """What firmware or Linux's resource assignment does: size BAR 4, place it, enable decoding."""
        _, bar, _, _ = self.caps[vp.VIRTIO_PCI_CAP_COMMON_CFG]
        reg = 0x10 + 4 * bar
        self.cfg_wr(reg, 0xFFFFFFFF)
        self.cfg_wr(reg + 4, 0xFFFFFFFF)
        size = ((self.cfg_rd(reg) & ~0xF) | self.cfg_rd(reg + 4) << 32) ^ ((1 << 64) - 1)
        self.bar_size = size + 1
        self.cfg_wr(reg, BAR_ADDR & 0xFFFFFFFF)
        self.cfg_wr(reg + 4, BAR_ADDR >> 32)
        self.cfg_wr(0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2)

    def region(self, cfg_type: int) -> int:
        _, bar, offset, _ = self.caps[cfg_type]
        addr = self.dev.bar_address(bar)
        assert addr is not None
        return addr + offset

    # -- the structures in the BAR ------------------------------------------------------------------
    def rd(self, field: int, size: int) -> int:
        return self.mem.read(self.region(vp.VIRTIO_PCI_CAP_COMMON_CFG) + field, size)

    def wr(self, field: int, value: int, size: int) -> None:
        self.mem.write(self.region(vp.VIRTIO_PCI_CAP_COMMON_CFG) + field, value, size)

    def notify_multiplier(self) -> int:
        pos = self.caps[vp.VIRTIO_PCI_CAP_NOTIFY_CFG][0]
        return self.cfg_rd(pos + vp.CAP_NOTIFY_OFF_MULTIPLIER)

    def isr(self) -> int:
        return self.mem.read(self.region(vp.VIRTIO_PCI_CAP_ISR_CFG), 1)

    def device_cfg(self, offset: int, size: int) -> int:
        return self.mem.read(self.region(vp.VIRTIO_PCI_CAP_DEVICE_CFG) + offset, size)

    @property
    def status(self) -> int:
        return self.rd(vp.DEVICE_STATUS, 1)

    @property
    def intx(self) -> int:
        return self.bus.pirq_level(3)

    def device_features(self) -> int:
        self.wr(vp.DEVICE_FEATURE_SELECT, 0, 4)
        low = self.rd(vp.DEVICE_FEATURE, 4)
        self.wr(vp.DEVICE_FEATURE_SELECT, 1, 4)
        return low | self.rd(vp.DEVICE_FEATURE, 4) << 32

    def negotiate(self, wanted: int) -> int:
        self.wr(vp.DEVICE_STATUS, 0, 1)
        assert self.status == 0  # vp_modern_set_status(0) waits for this
        self.wr(vp.DEVICE_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1)
        self.wr(vp.DEVICE_STATUS, DRIVER, 1)
        for sel in (0, 1):
            self.wr(vp.DRIVER_FEATURE_SELECT, sel, 4)
            self.wr(vp.DRIVER_FEATURE, wanted >> (32 * sel) & 0xFFFFFFFF, 4)
        self.wr(vp.DEVICE_STATUS, DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1)
        return self.status

    def setup(self, features: int = V1, queue_size: int = 16, queues: int | None = None) -> list[PCIQueue]:
        assert self.negotiate(features) & VIRTIO_CONFIG_S_FEATURES_OK
        count = self.rd(vp.NUM_QUEUES, 2) if queues is None else queues
        vqs = [PCIQueue(self, i, queue_size) for i in range(count)]
        self.wr(vp.DEVICE_STATUS, self.status | VIRTIO_CONFIG_S_DRIVER_OK, 1)
        return vqs

    # -- guest memory (what GuestQueue needs) -------------------------------------------------------
    def alloc(self, size: int, align: int = 16) -> int:
        addr = (self._next + align - 1) & ~(align - 1)
        self._next = addr + max(size, 1)
        assert self._next <= RAM_SIZE
        return addr

    def put(self, data: bytes, align: int = 16) -> int:
        addr = self.alloc(len(data), align)
        self.mem.write_bytes(addr, data)
        return addr


class PCIQueue(GuestQueue):
    """A split ring set up through the common configuration (vp_modern_find_vq) and kicked through the
    notify region; the ring handling is the shared test driver's (its ``__init__`` programs virtio-mmio
    registers, so it is replaced, not extended)."""

    def __init__(self, guest: PCIGuest, index: int, size: int):
        self.g = guest  # type: ignore[assignment]
        self.index, self.event_idx = index, False
        guest.wr(vp.QUEUE_SELECT, index, 2)
        size = min(size, guest.rd(vp.QUEUE_SIZE, 2))
        assert size and not guest.rd(vp.QUEUE_ENABLE, 2)
        self.size = size
        self.desc = guest.alloc(16 * size)
        self.avail = guest.alloc(6 + 2 * size, 2)
        self.used = guest.alloc(6 + 8 * size, 4)
        self.free, self.avail_idx, self.last_used = list(range(size)), 0, 0
        self.pending = {}
        self.linux_kicks, self.kicks = False, 0
        guest.wr(vp.QUEUE_SIZE, size, 2)
        assert guest.rd(vp.QUEUE_MSIX_VECTOR, 2) == vp.VIRTIO_MSI_NO_VECTOR
        for field, addr in ((vp.QUEUE_DESC_LO, self.desc), (vp.QUEUE_DRIVER_LO, self.avail),
                            (vp.QUEUE_DEVICE_LO, self.used)):
            guest.wr(field, addr & 0xFFFFFFFF, 4)
            guest.wr(field + 4, addr >> 32, 4)
        self.notify_addr = (guest.region(vp.VIRTIO_PCI_CAP_NOTIFY_CFG)
                            + guest.rd(vp.QUEUE_NOTIFY_OFF, 2) * guest.notify_multiplier())
        guest.wr(vp.QUEUE_ENABLE, 1, 2)
        assert guest.rd(vp.QUEUE_ENABLE, 2) == 1

    def kick(self) -> None:
        self.kicks += 1
        self.g.mem.write(self.notify_addr, self.index, 2)



@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / "disk.raw")
    create_image(path, "raw", 1 << 20, {})
    with open(path, "r+b") as f:
        f.seek(512 * 7)
        f.write(b"sector seven".ljust(512, b"."))
    return path


# -- identification and layout --------------------------------------------------------------------------

def blk(image: str) -> VirtioBlk:
    return VirtioBlk(open_drive(parse_drive({"file": image, "format": "raw", "if": "none"})))


@pytest.mark.parametrize("make,device_id,class_code", [
    (lambda image: VirtioRng(), 0x1044, 0x00FF00),
    (blk, 0x1042, 0x018000),
])
def test_identification(image, make, device_id, class_code):
    vdev = make(image)
    g = PCIGuest(vdev, enable=False)
    assert g.cfg_rd(0x00, 2) == 0x1AF4 and g.cfg_rd(0x02, 2) == device_id
    assert g.cfg_rd(0x08, 1) == 1  # revision 1: modern only
    assert g.cfg_rd(0x08) >> 8 == class_code
    assert g.cfg_rd(0x2C, 2) == 0x1AF4 and g.cfg_rd(0x2E, 2) == device_id - 0x1040
    assert g.cfg_rd(0x3D, 1) == 1  # INTA#
    assert all(g.cfg_rd(0x10 + 4 * i) == 0 for i in range(4))  # no legacy I/O BAR
    assert g.cfg_rd(0x20) == 0xC  # BAR 4: 64-bit, prefetchable memory


def test_capabilities_describe_the_bar_layout():
    g = PCIGuest(VirtioRng())
    expected = {
        vp.VIRTIO_PCI_CAP_COMMON_CFG: 0x0000, vp.VIRTIO_PCI_CAP_ISR_CFG: 0x1000,
        vp.VIRTIO_PCI_CAP_DEVICE_CFG: 0x2000, vp.VIRTIO_PCI_CAP_NOTIFY_CFG: 0x3000,
    }
    for cfg_type, offset in expected.items():
        pos, bar, cap_offset, length = g.caps[cfg_type]
        assert (bar, cap_offset, length) == (4, offset, 0x1000)
        cap_len = 20 if cfg_type == vp.VIRTIO_PCI_CAP_NOTIFY_CFG else 16
        assert g.cfg_rd(pos + vp.CAP_LEN, 1) == cap_len
    assert g.notify_multiplier() == 4
    assert g.cfg_rd(g.caps[vp.VIRTIO_PCI_CAP_PCI_CFG][0] + vp.CAP_LEN, 1) == 20
    assert g.bar_size == 0x4000
    assert g.dev.bar_address(4) == BAR_ADDR
    g.cfg_wr(0x04, 0, 2)  # memory decoding off: the BAR goes away
    assert g.dev.bar_address(4) is None and g.mem.read(BAR_ADDR + vp.NUM_QUEUES, 2) != 1


# -- feature negotiation and the device status ----------------------------------------------------------

def test_feature_negotiation():
    g = PCIGuest(VirtioRng())
    features = g.device_features()
    assert features & V1 and features & (1 << VIRTIO_F_INDIRECT_DESC) and features & (1 << VIRTIO_F_EVENT_IDX)
    g.wr(vp.DEVICE_FEATURE_SELECT, 2, 4)
    assert g.rd(vp.DEVICE_FEATURE, 4) == 0 and g.rd(vp.DEVICE_FEATURE_SELECT, 4) == 2
    assert g.negotiate(V1 | (1 << 5)) == DRIVER  # bit 5 was not offered: FEATURES_OK does not stick
    assert g.negotiate(1 << VIRTIO_F_EVENT_IDX) == DRIVER  # no VERSION_1: refused
    assert g.negotiate(V1 | (1 << VIRTIO_F_EVENT_IDX)) == DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
    assert g.vdev.has_feature(VIRTIO_F_EVENT_IDX)
    g.wr(vp.DRIVER_FEATURE_SELECT, 1, 4)
    assert g.rd(vp.DRIVER_FEATURE, 4) == 1  # VERSION_1 reads back
    g.wr(vp.DRIVER_FEATURE_SELECT, 0, 4)
    g.wr(vp.DRIVER_FEATURE, 0, 4)  # too late: FEATURES_OK is set
    assert g.vdev.has_feature(VIRTIO_F_EVENT_IDX)


def test_common_config_queue_fields_and_reset():
    g = PCIGuest(VirtioRng())
    g.negotiate(V1)
    assert g.rd(vp.NUM_QUEUES, 2) == 1
    assert g.rd(vp.MSIX_CONFIG, 2) == vp.VIRTIO_MSI_NO_VECTOR
    g.wr(vp.MSIX_CONFIG, 0, 2)  # no MSI-X: the vector does not stick, the driver uses INTx
    assert g.rd(vp.MSIX_CONFIG, 2) == vp.VIRTIO_MSI_NO_VECTOR
    g.wr(vp.QUEUE_SELECT, 1, 2)  # no such queue: size 0 tells the driver
    assert g.rd(vp.QUEUE_SIZE, 2) == 0 and g.rd(vp.QUEUE_ENABLE, 2) == 0
    g.wr(vp.QUEUE_SELECT, 0, 2)
    assert g.rd(vp.QUEUE_SIZE, 2) == 8 and g.rd(vp.QUEUE_NOTIFY_OFF, 2) == 0
    g.wr(vp.QUEUE_SIZE, 6, 2)  # not a power of two: ignored
    g.wr(vp.QUEUE_SIZE, 4, 2)
    g.wr(vp.QUEUE_DESC_LO, 0x1000, 4)
    g.wr(vp.QUEUE_DESC_HI, 0x2, 4)
    g.mem.write(g.region(vp.VIRTIO_PCI_CAP_COMMON_CFG) + vp.QUEUE_DRIVER_LO, 0x3_0000_2000, 8)  # one access
    g.wr(vp.QUEUE_DEVICE_LO, 0x3000, 4)
    g.wr(vp.QUEUE_ENABLE, 1, 2)
    vq = g.vdev.queues[0]
    assert (vq.num, vq.desc, vq.avail, vq.used, vq.ready) == (4, 0x2_0000_1000, 0x3_0000_2000, 0x3000, True)
    assert g.rd(vp.QUEUE_DESC_HI, 4) == 2 and g.rd(vp.QUEUE_SIZE, 2) == 4
    gen = g.rd(vp.CONFIG_GENERATION, 1)
    g.vdev.notify_config()
    assert g.rd(vp.CONFIG_GENERATION, 1) == (gen + 1) & 0xFF
    g.wr(vp.DEVICE_STATUS, 0, 1)  # reset
    assert g.status == 0 and g.rd(vp.QUEUE_ENABLE, 2) == 0 and g.rd(vp.QUEUE_SIZE, 2) == 8
    assert g.rd(vp.DEVICE_FEATURE_SELECT, 4) == 0 and g.vdev.driver_features == 0


def test_queue_enable_zero_breaks_the_device():
    g = PCIGuest(VirtioRng())
    g.setup()
    g.wr(vp.QUEUE_ENABLE, 0, 2)
    assert g.status & VIRTIO_CONFIG_S_NEEDS_RESET
    assert g.errors == ["virtio-rng: wrong value for queue_enable 0"]


# -- requests, notifications, interrupts ----------------------------------------------------------------

def test_rng_request_raises_and_isr_read_lowers_intx():
    g = PCIGuest(VirtioRng(entropy=lambda n: b"\xa5" * n))
    (q,) = g.setup()
    assert g.intx == 0
    q.add(in_lens=[16])
    ((_, n, data),) = q.get_used()
    assert (n, data) == (16, b"\xa5" * 16)
    assert g.intx == 1 and g.pirq_levels == [(3, 1)]
    assert g.cfg_rd(0x06, 2) & PCI_STATUS_INTERRUPT
    assert g.isr() == 1  # read to clear: the line drops
    assert g.intx == 0 and g.pirq_levels == [(3, 1), (3, 0)]
    assert not g.cfg_rd(0x06, 2) & PCI_STATUS_INTERRUPT
    assert g.isr() == 0
    g.vdev.notify_config()  # configuration change: ISR bit 1
    assert g.intx == 1 and g.isr() == 2 and g.intx == 0


def test_each_queue_is_notified_at_its_own_offset():
    chardev = CaptureChardev()
    vdev = VirtioSerial()
    vdev.add_port(VirtioSerialPort(chardev, console=True), 0)
    g = PCIGuest(vdev)
    g.wr(vp.QUEUE_SELECT, 5, 2)
    assert g.rd(vp.QUEUE_NOTIFY_OFF, 2) == 5
    rx, tx = g.setup(V1, queues=2)  # no MULTIPORT: port 0's receive and transmit queues
    assert tx.notify_addr == g.region(vp.VIRTIO_PCI_CAP_NOTIFY_CFG) + 4
    tx.add([b"hello from the guest"])
    assert bytes(chardev.output) == b"hello from the guest"
    assert [n for _, n, _ in tx.get_used()] == [0]
    assert rx.kicks == 0 and g.isr() == 1


def test_intx_disable_masks_the_pin():
    g = PCIGuest(VirtioRng())
    (q,) = g.setup()
    g.cfg_wr(0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x400, 2)
    q.add(in_lens=[4])
    assert g.intx == 0 and g.cfg_rd(0x06, 2) & PCI_STATUS_INTERRUPT
    g.cfg_wr(0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2)
    assert g.intx == 1


def test_clearing_bus_master_stops_the_device():
    g = PCIGuest(VirtioRng())
    (q,) = g.setup()
    g.cfg_wr(0x04, PCI_COMMAND_MEMORY, 2)
    assert not g.status & VIRTIO_CONFIG_S_DRIVER_OK
    q.add(in_lens=[4])
    assert q.get_used() == [] and g.intx == 0


def test_system_reset():
    g = PCIGuest(VirtioRng())
    (q,) = g.setup()
    q.add(in_lens=[4])
    assert g.intx == 1
    g.bus.reset()
    assert g.intx == 0 and g.vdev.status == 0 and not g.vdev.queues[0].ready
    assert g.dev.bar_address(4) is None and g.cfg_rd(0x20) == 0xC


def test_blk_read_write_through_the_block_layer(image):
    g = PCIGuest(blk(image))
    backend = g.vdev.backend
    assert g.device_cfg(0, 4) | g.device_cfg(4, 4) << 32 == (1 << 20) // 512  # capacity
    assert g.mem.read(g.region(vp.VIRTIO_PCI_CAP_DEVICE_CFG), 8) == (1 << 20) // 512
    (q,) = g.setup(V1, queue_size=32)
    q.add([struct.pack("<IIQ", VIRTIO_BLK_T_IN, 0, 7)], [512, 1])
    ((_, n, data),) = q.get_used()
    assert n == 513 and data[-1] == VIRTIO_BLK_S_OK and data.startswith(b"sector seven")
    assert g.isr() == 1 and g.intx == 0
    q.add([struct.pack("<IIQ", VIRTIO_BLK_T_OUT, 0, 9), b"written by the guest".ljust(512, b"!")], [1])
    ((_, n, data),) = q.get_used()
    assert (n, data) == (1, bytes([VIRTIO_BLK_S_OK]))
    backend.close()
    with open(image, "rb") as f:
        f.seek(512 * 9)
        assert f.read(20) == b"written by the guest"


# -- the PCI configuration access capability (4.1.4.9) -------------------------------------------------

def test_pci_cfg_window_reaches_the_common_config():
    g = PCIGuest(VirtioRng())
    g.negotiate(V1)
    pos = g.caps[vp.VIRTIO_PCI_CAP_PCI_CFG][0]
    data = pos + vp.CAP_PCI_CFG_DATA

    def window(offset: int, length: int, bar: int = 4) -> None:
        g.cfg_wr(pos + vp.CAP_BAR, bar, 1)
        g.cfg_wr(pos + vp.CAP_OFFSET, offset)
        g.cfg_wr(pos + vp.CAP_LENGTH, length)

    window(vp.NUM_QUEUES, 2)
    assert g.cfg_rd(data, 2) == 1
    window(vp.DEVICE_STATUS, 1)
    assert g.cfg_rd(data, 1) == DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
    window(vp.DEVICE_FEATURE_SELECT, 4)
    g.cfg_wr(data, 1)  # a write through the window
    assert g.rd(vp.DEVICE_FEATURE_SELECT, 4) == 1
    window(vp.DEVICE_FEATURE, 4)
    assert g.cfg_rd(data) == 1  # VERSION_1, bit 32
    window(vp.QUEUE_SIZE, 2, bar=0)  # another BAR: nothing happens
    assert g.cfg_rd(data) == 1
    window(vp.ISR_OFFSET, 3)  # not 1, 2 or 4 bytes: nothing happens
    assert g.cfg_rd(data) == 1


# -- the -device types --------------------------------------------------------------------------------

def pci_tree() -> tuple[DeviceTree, PCIBus]:
    root = MemoryRegion.container_of("system", 1 << 40)
    bus = PCIBus("pci.0", root, MemoryRegion.container_of("io", 0x10000), dma=AddressSpace("memory", root))
    tree = DeviceTree()
    add_pci_bus(tree.add_builtin("i440FX-pcihost"), bus)
    return tree, bus


def test_device_types_are_listed_like_their_virtio_device_counterparts():
    for name, category in (("virtio-blk-pci", "Storage devices"), ("virtio-rng-pci", "Misc devices"),
                           ("virtio-serial-pci", "Input devices")):
        info = lookup_type(name)
        assert info is not None and info.category == category and info.bus_type == "PCI"
        assert info.user_creatable and not info.abstract


def test_virtio_blk_pci(image):
    tree, bus = pci_tree()
    tree.add_drive("disk0", blk(image).backend)
    dev = tree.device_add({"driver": "virtio-blk-pci", "drive": "disk0", "addr": "5", "serial": "s1"})
    assert isinstance(dev, VirtioPCIState) and dev.model is bus.get(5 << 3)
    assert dev.model.get_word(0x02) == 0x1042 and dev.props["addr"] == 5 << 3
    assert dev.backend is not None and dev.backend.type_name == "virtio-blk-device"
    assert dev.backend.props["serial"] == "s1"
    qtree = tree.qtree()
    assert "bus: virtio-bus" in qtree and "type virtio-pci-bus" in qtree and 'drive = "disk0"' in qtree
    with pytest.raises(QomError, match="No 'virtio-bus' bus found"):
        tree.device_add({"driver": "virtio-rng-device"})  # the proxy's bus holds its own device
    with pytest.raises(QomError, match="^drive property not set$"):
        tree.device_add({"driver": "virtio-blk-pci"})
    with pytest.raises(QomError, match="slot 5 function 0 not available for virtio-rng-pci"):
        tree.device_add({"driver": "virtio-rng-pci", "addr": "05.0"})


def test_virtio_rng_pci_works_after_system_reset():
    tree, bus = pci_tree()
    dev = tree.device_add({"driver": "virtio-rng-pci", "event_idx": "off"})
    assert isinstance(dev, VirtioPCIState) and isinstance(dev.model, vp.VirtioPCI)
    vdev = dev.model.vdev
    assert isinstance(vdev, VirtioRng) and not vdev.host_has_feature(VIRTIO_F_EVENT_IDX)
    assert vdev.dma is bus.dma
    vdev.status = VIRTIO_CONFIG_S_ACKNOWLEDGE
    tree.reset()
    assert vdev.status == 0


def test_virtio_serial_pci_ports():
    tree, _ = pci_tree()
    dev = tree.device_add({"driver": "virtio-serial-pci", "id": "vs0", "max_ports": "4"})
    tree.device_add({"driver": "virtconsole", "bus": "vs0.0"})  # QEMU names the port bus after the proxy
    tree.device_add({"driver": "virtserialport", "name": "org.test.0"})
    assert isinstance(dev, VirtioPCIState) and isinstance(dev.model, vp.VirtioPCI)
    vdev = dev.model.vdev
    assert isinstance(vdev, VirtioSerial) and vdev.max_ports == 4 and sorted(vdev.ports) == [0, 1]
