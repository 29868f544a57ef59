"""The RISC-V ``virt`` board's devices in the QOM device tree (what QEMU's hw/riscv/virt.c creates, as
``info qtree`` shows it), and where ``-device`` plugs virtio devices.

:func:`populate` adds the board's built-in devices to a :class:`~pyqemu.qom.object.DeviceTree`, in the
order QEMU's virt board creates them (``info qtree`` lists the newest first): the hart array, the ACLINT
software-interrupt and timer devices, the PLIC, the SiFive test device, the eight ``virtio-mmio``
transports (each with its ``virtio-mmio-bus.N``), the NS16550A (``serial-mm``) and the Goldfish RTC.
None of them is user-creatable.  Property values describe pyqemu's models, which is why some differ
from QEMU's (e.g. ``force-legacy = false``: pyqemu's virtio-mmio is the modern version 2 transport).
"""

from __future__ import annotations

from typing import Any

from pyqemu.hw.intc import riscv_aclint, sifive_plic
from pyqemu.hw.virtio import qdev as virtio_qdev  # noqa: F401 - registers the virtio types
from pyqemu.hw.virtio.qdev import VirtioMMIOProxy
from pyqemu.qom.object import DeviceState, DeviceTree, Property, TypeInfo, register_type

from . import virt


class SysBusDevice(DeviceState):
    """A board device on the system bus: its MMIO windows and GPIO lines, for ``info qtree``."""

    mmio: tuple[tuple[int, int], ...] = ()
    gpio: tuple[str, ...] = ()

    def qtree_head(self) -> list[str]:
        return list(self.gpio)

    def qtree_extra(self) -> list[str]:
        return [f"mmio {base:016x}/{size:016x}" for base, size in self.mmio]


def _sysbus(name: str, *props: Property) -> None:
    register_type(TypeInfo(name, parent="sys-bus-device", user_creatable=False, cls=SysBusDevice,
                           properties=props))


_sysbus("riscv.hart_array", Property("num-harts", "uint32", 1), Property("hartid-base", "uint32", 0),
        Property("cpu-type", "str"), Property("resetvec", "uint64", virt.MROM[0]))
_sysbus("riscv.aclint.swi", Property("hartid-base", "uint32", 0), Property("num-harts", "uint32", 1))
_sysbus("riscv.aclint.mtimer", Property("hartid-base", "uint32", 0), Property("num-harts", "uint32", 1),
        Property("timebase-freq", "uint32", virt.TIMEBASE))
_sysbus("riscv.sifive.plic", Property("hart-config", "str"), Property("num-sources", "uint32", 0),
        Property("priority-base", "uint32", 4), Property("pending-base", "uint32", sifive_plic.PENDING_BASE),
        Property("enable-base", "uint32", sifive_plic.ENABLE_BASE),
        Property("enable-stride", "uint32", sifive_plic.ENABLE_STRIDE),
        Property("context-base", "uint32", sifive_plic.CONTEXT_BASE),
        Property("context-stride", "uint32", sifive_plic.CONTEXT_STRIDE),
        Property("aperture-size", "uint32", sifive_plic.PLIC_SIZE))
_sysbus("riscv.sifive.test")
_sysbus("serial-mm", Property("regshift", "uint8", 0), Property("chardev", "chr"))
_sysbus("goldfish_rtc")


def _add(tree: DeviceTree, type_name: str, mmio: tuple[tuple[int, int], ...] = (),
         gpio: tuple[str, ...] = (), **props: Any) -> DeviceState:
    dev = tree.add_builtin(type_name, **props)
    assert isinstance(dev, SysBusDevice)
    dev.mmio = mmio
    dev.gpio = gpio
    return dev


def populate(tree: DeviceTree, machine: virt.VirtMachine) -> None:
    """Add ``machine``'s built-in devices to ``tree`` and connect its virtio-mmio buses to the slots."""
    harts = len(machine.cpus)
    soc = _add(tree, "riscv.hart_array", **{"num-harts": harts, "cpu-type": "rv64-riscv-cpu"})
    soc.qom_path = "/machine/soc0"  # QEMU's virt board names its (first) hart array soc0
    clint = virt.CLINT[0]
    _add(tree, "riscv.aclint.swi", mmio=((clint, riscv_aclint.SWI_SIZE),),
         gpio=(f'gpio-out "" {harts}',), **{"num-harts": harts})
    _add(tree, "riscv.aclint.mtimer",
         mmio=((clint + riscv_aclint.MTIMER_BASE, riscv_aclint.CLINT_SIZE - riscv_aclint.MTIMER_BASE),),
         gpio=(f'gpio-out "" {harts}',), **{"num-harts": harts})
    _add(tree, "riscv.sifive.plic", mmio=((virt.PLIC[0], virt.PLIC[1]),),
         gpio=(f'gpio-in "" {sifive_plic.NUM_SOURCES}', f'gpio-out "" {2 * harts}'),
         **{"hart-config": "MS", "num-sources": sifive_plic.NUM_SOURCES})
    _add(tree, "riscv.sifive.test", mmio=(virt.TEST,))
    for i, transport in enumerate(machine.virtio):
        dev = tree.add_builtin("virtio-mmio")
        assert isinstance(dev, VirtioMMIOProxy)
        dev.attach(transport, virt.VIRTIO[0] + i * virt.VIRTIO[1])
    _add(tree, "serial-mm", mmio=((virt.UART0[0], virt.UART0[1]),), gpio=('gpio-out "sysbus-irq" 1',),
         chardev=machine.cfg.serial)
    _add(tree, "goldfish_rtc", mmio=(virt.RTC,), gpio=('gpio-out "sysbus-irq" 1',))
