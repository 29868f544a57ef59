"""virtio-blk, the virtio block device (virtio 1.2 spec section 5.2).

One request queue.  Each request is a chain: a 16-byte device-readable header ``{le32 type;
le32 reserved; le64 sector}``, the data (device-readable for writes, device-writable for reads, in
512-byte sectors whatever ``blk_size`` says) and a final device-writable status byte (5.2.6).

Offered features: ``SEG_MAX``, ``BLK_SIZE``, ``FLUSH`` and ``RO`` for a read-only drive; discard and
write zeroes are not offered.  Requests: ``IN``, ``OUT``, ``FLUSH``, ``GET_ID`` (the serial, 20 bytes,
zero padded); any other type completes with ``VIRTIO_BLK_S_UNSUPP``.  A request beyond the end of the
disk, a write to a read-only drive or a failure the drive's error policy reports completes with
``VIRTIO_BLK_S_IOERR``.  A request without room for the header or the status byte breaks the device
(``DEVICE_NEEDS_RESET``).

I/O is synchronous through the :class:`~pyqemu.block.backend.BlockBackend`, which applies the drive's
rerror/werror policy: ``report`` gives IOERR here, ``ignore`` completes the request as if it succeeded
and ``stop`` holds the request until the VM is resumed.
"""

from __future__ import annotations

import struct

from pyqemu.block.backend import BlockBackend
from pyqemu.block.errors import BlockError
from pyqemu.hw.virtio.device import VIRTIO_ID_BLOCK, VirtioDevice
from pyqemu.hw.virtio.virtqueue import VirtQueue, VirtQueueElement

# -- feature bits (5.2.3) -----------------------------------------------------------------------------
VIRTIO_BLK_F_SIZE_MAX = 1
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_GEOMETRY = 4
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9
VIRTIO_BLK_F_TOPOLOGY = 10
VIRTIO_BLK_F_CONFIG_WCE = 11
VIRTIO_BLK_F_MQ = 12
VIRTIO_BLK_F_DISCARD = 13
VIRTIO_BLK_F_WRITE_ZEROES = 14

# -- request types and status values (5.2.6) ----------------------------------------------------------
VIRTIO_BLK_T_IN = 0
VIRTIO_BLK_T_OUT = 1
VIRTIO_BLK_T_FLUSH = 4
VIRTIO_BLK_T_GET_ID = 8
VIRTIO_BLK_T_GET_LIFETIME = 10
VIRTIO_BLK_T_DISCARD = 11
VIRTIO_BLK_T_WRITE_ZEROES = 13
VIRTIO_BLK_T_SECURE_ERASE = 14

VIRTIO_BLK_S_OK = 0
VIRTIO_BLK_S_IOERR = 1
VIRTIO_BLK_S_UNSUPP = 2

VIRTIO_BLK_ID_BYTES = 20
SECTOR_SIZE = 512
#: config space up to and including the write-zeroes fields (5.2.4)
CONFIG_SIZE = 60
DEFAULT_QUEUE_SIZE = 256

_HEADER = struct.Struct("<IIQ")


class VirtioBlk(VirtioDevice):
    """A virtio disk in front of a BlockBackend."""

    def __init__(self, backend: BlockBackend, serial: str = "", queue_size: int = DEFAULT_QUEUE_SIZE):
        features = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH)
        if backend.readonly:
            features |= 1 << VIRTIO_BLK_F_RO
        super().__init__("virtio-blk", VIRTIO_ID_BLOCK, CONFIG_SIZE, features)
        self.backend = backend
        self.serial = serial
        self.seg_max = queue_size - 2  # room for the header and the status descriptors
        self.vq = self.add_queue(queue_size, self._handle_requests)

    # -- configuration space (5.2.4) --------------------------------------------------------------
    def capacity(self) -> int:
        """Disk size in 512-byte sectors."""
        return self.backend.get_length() // SECTOR_SIZE

    def get_config(self) -> bytes:
        cfg = bytearray(CONFIG_SIZE)
        struct.pack_into("<Q", cfg, 0, self.capacity())
        struct.pack_into("<I", cfg, 12, self.seg_max)
        struct.pack_into("<I", cfg, 20, SECTOR_SIZE)  # blk_size
        cfg[32] = 1 if self.backend.cache != "writethrough" else 0  # writeback (meaningful with CONFIG_WCE)
        struct.pack_into("<H", cfg, 34, 1)  # num_queues
        return bytes(cfg)

    # -- requests (5.2.6) ---------------------------------------------------------------------------
    def _handle_requests(self, vq: VirtQueue) -> None:
        done = False
        while (elem := vq.pop()) is not None:
            written = self._handle_request(elem)
            if written is None:  # the device broke
                return
            vq.push(elem, written)
            done = True
        if done:
            self.notify(vq)

    def _handle_request(self, elem: VirtQueueElement) -> int | None:
        """Carry out one request; returns the bytes written to its in buffers (None: device broken)."""
        in_size = elem.in_size
        if elem.out_size < _HEADER.size or in_size < 1:
            self.error("missing headers")
            return None
        rtype, _, sector = _HEADER.unpack(elem.read_out(0, _HEADER.size))
        data_in = in_size - 1  # the last writable byte is the status
        status = VIRTIO_BLK_S_OK
        written = 0
        if rtype == VIRTIO_BLK_T_IN:
            if not self._range_ok(sector, data_in):
                status = VIRTIO_BLK_S_IOERR
            else:
                try:
                    data = self.backend.read(sector * SECTOR_SIZE, data_in)
                except BlockError:
                    status = VIRTIO_BLK_S_IOERR
                else:
                    written = elem.write_in(data)
        elif rtype == VIRTIO_BLK_T_OUT:
            length = elem.out_size - _HEADER.size
            if self.backend.readonly or not self._range_ok(sector, length):
                status = VIRTIO_BLK_S_IOERR
            else:
                try:
                    self.backend.write(sector * SECTOR_SIZE, elem.read_out(_HEADER.size, length))
                except BlockError:
                    status = VIRTIO_BLK_S_IOERR
        elif rtype == VIRTIO_BLK_T_FLUSH:
            try:
                self.backend.flush()
            except BlockError:
                status = VIRTIO_BLK_S_IOERR
        elif rtype == VIRTIO_BLK_T_GET_ID:
            ident = self.serial.encode("utf-8", "replace")[:VIRTIO_BLK_ID_BYTES]
            ident = ident.ljust(VIRTIO_BLK_ID_BYTES, b"\0")[:data_in]
            written = elem.write_in(ident)
        else:
            status = VIRTIO_BLK_S_UNSUPP
        elem.write_in(bytes([status]), in_size - 1)
        return written + 1

    def _range_ok(self, sector: int, length: int) -> bool:
        """Whole sectors, all inside the disk."""
        if length % SECTOR_SIZE:
            return False
        return sector + length // SECTOR_SIZE <= self.capacity()
