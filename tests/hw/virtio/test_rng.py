"""virtio-rng: writable buffers come back filled with host entropy."""

from __future__ import annotations

from pyqemu.hw.virtio import mmio as regs
from pyqemu.hw.virtio.device import VIRTIO_F_VERSION_1
from pyqemu.hw.virtio.rng import VirtioRng

from . import Guest

V1 = 1 << VIRTIO_F_VERSION_1


def test_rng_fills_buffers_from_urandom():
    g = Guest(VirtioRng())
    assert g.rd(regs.DEVICE_ID) == 4
    assert g.device_features() & 0xFFFFFF == 0  # no device-specific features
    (q,) = g.setup(V1)
    for _ in range(3):
        q.add(in_lens=[64])
    used = q.get_used()
    assert [n for _, n, _ in used] == [64, 64, 64]
    datas = [d for _, _, d in used]
    assert len(set(datas)) == 3 and all(d != bytes(64) for d in datas)


def test_rng_chain_of_several_buffers_uses_the_entropy_source():
    requested = []

    def entropy(n: int) -> bytes:
        requested.append(n)
        return bytes([0xA5]) * n

    g = Guest(VirtioRng(entropy=entropy))
    (q,) = g.setup(V1)
    q.add(in_lens=[3, 5, 8])
    ((_, n, data),) = q.get_used()
    assert n == 16 and data == b"\xa5" * 16 and requested == [16]
    assert g.ack_interrupt() == 1


def test_rng_readable_only_chain_comes_back_empty():
    g = Guest(VirtioRng(entropy=lambda n: b"\x01" * n))
    (q,) = g.setup(V1)
    q.add(out=[b"junk"])
    ((_, n, _),) = q.get_used()
    assert n == 0 and not g.errors
