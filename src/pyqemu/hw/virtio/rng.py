"""virtio-rng, the entropy device (virtio 1.2 spec section 5.4).

One request queue of device-writable buffers (5.4.2); the device fills each with random bytes from the
host (5.4.6) and returns it.  No feature bits, no configuration space.  The host source is
``os.urandom`` unless another one is given.  QEMU's ``max-bytes``/``period`` rate limit is not
modelled: every buffer is filled as soon as the driver makes it available.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pyqemu.hw.virtio.device import VIRTIO_ID_RNG, VirtioDevice
from pyqemu.hw.virtio.virtqueue import VirtQueue

DEFAULT_QUEUE_SIZE = 8
#: at most this many bytes per buffer are filled (larger buffers come back partly filled)
MAX_CHUNK = 64 * 1024


class VirtioRng(VirtioDevice):
    """Random numbers for the guest (``/dev/hwrng``)."""

    def __init__(self, entropy: Callable[[int], bytes] = os.urandom, queue_size: int = DEFAULT_QUEUE_SIZE):
        super().__init__("virtio-rng", VIRTIO_ID_RNG)
        self.entropy = entropy
        self.vq = self.add_queue(queue_size, self._handle_requests)

    def _handle_requests(self, vq: VirtQueue) -> None:
        done = False
        while (elem := vq.pop()) is not None:
            size = min(elem.in_size, MAX_CHUNK)
            written = elem.write_in(self.entropy(size)) if size else 0
            vq.push(elem, written)
            done = True
        if done:
            self.notify(vq)
