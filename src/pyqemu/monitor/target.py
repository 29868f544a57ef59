"""What the monitors act on, and the operations HMP and QMP share (QEMU implements most HMP commands by
calling the QMP ones; pyqemu's monitors call these).

:class:`MonitorTarget` bundles the VM's machine, device tree, drives, chardevs and user objects.
Memory access for ``x``/``xp``/``memsave``/``pmemsave`` reads guest-physical memory through the address
space (RAM, ROM and device registers) and guest-virtual memory through a CPU's MMU.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from pyqemu.qom.composition import QomView
from pyqemu.qom.object import DeviceTree
from pyqemu.qom.user_objects import ObjectRegistry
from pyqemu.target.riscv import monitor as target_monitor

MASK64 = (1 << 64) - 1
PAGE_SIZE = 4096


def vcpu_thread_id(cpu: Any) -> int:
    """The host thread id a vCPU runs on: its own thread under KVM, the main loop's under TCG."""
    thread = getattr(cpu, "thread", None)
    native = getattr(thread, "native_id", None)
    return native if native is not None else threading.get_native_id()


class MemoryAccessError(Exception):
    """A guest address range could not be read or a file written (the message is QEMU's)."""


@dataclass
class MonitorTarget:
    """One VM as its monitors see it.  ``drives`` are the BlockBackends in ``-drive`` order."""

    machine: Any
    tree: DeviceTree = field(default_factory=DeviceTree)
    name: str | None = None
    uuid: str = "00000000-0000-0000-0000-000000000000"
    drives: list[Any] = field(default_factory=list)
    objects: ObjectRegistry = field(default_factory=ObjectRegistry)
    machine_type: str = "virt"
    machine_props: dict[str, str] = field(default_factory=dict)
    cpu_type: str = "rv64-riscv-cpu"
    #: the vCPUs' side of the monitor: ``dump_registers``, ``register_value``, ``debug_translate``,
    #: ``disas_bytes`` and ``ARCH`` (pyqemu.target.riscv.monitor or pyqemu.target.i386.monitor)
    cpu_ops: Any = target_monitor
    #: KVM accelerates this VM (``query-kvm``)
    kvm: bool = False
    #: QMP monitors, which hear the machine's events
    qmp_monitors: list[Any] = field(default_factory=list)

    def qom(self) -> QomView:
        return QomView(self.tree, self.objects, self.tree.chardevs, f"{self.machine_type}-machine",
                       self.machine_props, self.cpu_type, len(self.machine.cpus))

    def find_drive(self, name: str) -> Any:
        for backend in self.drives:
            if backend.name == name:
                return backend
        return None

    def drive_device(self, backend: Any) -> str | None:
        """The QOM path of the device that uses ``backend``, if any."""
        for dev in self.tree.devices():
            if any(value is backend for value in dev.props.values()):
                return dev.qom_path
        return None

    # -- guest memory -------------------------------------------------------------------------------------
    def phys_read(self, addr: int, length: int) -> bytes | None:
        """Guest-physical bytes, or None if any of them is not backed by RAM, ROM or a device."""
        space = self.machine.space
        end = addr + length
        if end > 1 << 64:
            return None
        out = bytearray()
        pos = addr
        while pos < end:
            r = space.find(pos)
            if r is None:
                return None
            stop = min(end, r.end)
            if r.is_ram:
                out += space.read_bytes(pos, stop - pos)
                pos = stop
                continue
            # device registers: naturally aligned accesses of up to 32 bits, as QEMU's dispatch splits a
            # buffer for devices (virtio-mmio, for one, only answers 32-bit reads)
            while pos < stop:
                size = next(s for s in (4, 2, 1) if pos % s == 0 and pos + s <= stop)
                out += space.read(pos, size).to_bytes(size, "little")
                pos += size
        return bytes(out)

    def virt_read(self, hart: Any, addr: int, length: int) -> bytes | None:
        """Bytes at guest-virtual ``addr`` as ``hart`` sees them, or None."""
        out = bytearray()
        while length > 0:
            chunk = min(length, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            paddr = self.cpu_ops.debug_translate(hart, addr)
            if paddr is None:
                return None
            data = self.phys_read(paddr, chunk)
            if data is None:
                return None
            out += data
            addr = (addr + chunk) & MASK64
            length -= chunk
        return bytes(out)

    def save_memory(self, addr: int, size: int, filename: str, hart: Any | None) -> None:
        """``memsave`` (through ``hart``'s MMU) or ``pmemsave`` (``hart`` None) to ``filename``."""
        try:
            fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise MemoryAccessError(f"Could not open '{filename}': {os.strerror(exc.errno or 0)}") \
                from None
        with os.fdopen(fd, "wb") as f:
            pos = addr
            end = addr + size
            while pos < end:
                n = min(end - pos, PAGE_SIZE - (pos & (PAGE_SIZE - 1)))
                if hart is None:
                    data: bytes | None = self.machine.space.read_bytes(pos & MASK64, n)
                else:
                    data = self.virt_read(hart, pos & MASK64, n)
                if data is None:
                    raise MemoryAccessError(f"Invalid addr 0x{addr & MASK64:016x}/size {size} specified")
                f.write(data)
                pos += n
