"""The device tree of the RISC-V ``virt`` board, as QEMU 7.2's hw/riscv/virt.c describes it.

The guest (OpenSBI, U-Boot, Linux) learns the machine from this flattened device tree (the Devicetree
Specification, v0.4; bindings in Linux's ``Documentation/devicetree/bindings``: ``riscv/cpus.yaml``,
``interrupt-controller/sifive,plic-1.0.0.yaml``, ``timer/sifive,clint.yaml``, ``power/reset/syscon-*``,
``rtc/google,goldfish-rtc``, ``virtio/mmio.yaml``, ``serial/8250.yaml``).

Only devices the board has are described: RAM, the harts with their local interrupt controllers, the
CLINT, the PLIC, the NS16550A UART, the SiFive test device (with the ``syscon-poweroff`` and
``syscon-reboot`` nodes that use it), the Goldfish RTC and the virtio-mmio transports.  Nodes, properties
and phandles come out in the order and numbering of ``qemu-system-riscv64 -M virt,dumpdtb=...``, so the
two trees can be diffed.  One addition: each hart's ``riscv,cpu-intc`` node gets ``#address-cells = <0>``
(an interrupt provider needs it; ``dtc`` warns about QEMU's tree without it).

Phandles, as QEMU numbers them for one socket of N harts: harts are visited from N-1 down to 0, each
taking one phandle for its ``cpu@`` node and the next for its interrupt controller; then the PLIC (2N+1)
and the test device (2N+2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import libfdt

#: The ``riscv,isa`` string of QEMU 7.2's default rv64 CPU.
QEMU_RV64_ISA = "rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc"

# Local interrupt numbers of a hart (the mip/mie bits), used in interrupts-extended.
IRQ_M_SOFT = 3
IRQ_M_TIMER = 7
IRQ_S_EXT = 9
IRQ_M_EXT = 11


def _virtio_default() -> list[tuple[int, int, int]]:
    return [(0x10001000 + i * 0x1000, 0x1000, 1 + i) for i in range(8)]


@dataclass
class VirtFdtConfig:
    """What the tree describes.  Defaults are QEMU 7.2's virt memory map and interrupt numbers."""

    ram_base: int = 0x80000000
    ram_size: int = 128 << 20
    num_harts: int = 1
    isa: str = QEMU_RV64_ISA
    #: "riscv,sv39", "riscv,sv48", "riscv,sv32" or "riscv,none"
    mmu_type: str = "riscv,sv48"
    timebase: int = 10_000_000
    #: kernel command line: ``/chosen/bootargs`` (left out when empty)
    cmdline: str = ""
    #: (start, end) of the initrd in guest memory, or None
    initrd: tuple[int, int] | None = None
    #: (addr, size, plic irq) of each virtio-mmio transport
    virtio_mmio: list[tuple[int, int, int]] = field(default_factory=_virtio_default)
    #: (addr, size, plic irq, clock-frequency)
    uart: tuple[int, int, int, int] = (0x10000000, 0x100, 10, 3686400)
    #: (addr, size, number of interrupt sources)
    plic: tuple[int, int, int] = (0xC000000, 0x600000, 96)
    #: (addr, size)
    clint: tuple[int, int] = (0x2000000, 0x10000)
    #: (addr, size) of the SiFive test (poweroff/reboot) device
    test: tuple[int, int] = (0x100000, 0x1000)
    #: (addr, size, plic irq) of the Goldfish RTC
    rtc: tuple[int, int, int] = (0x101000, 0x1000, 11)
    #: ``/chosen/rng-seed`` (QEMU passes 32 random bytes each boot); left out when None
    rng_seed: bytes | None = None
    #: ``/chosen/stdout-path``; None means the UART node
    stdout_path: str | None = None


def _cells(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def _reg(addr: int, size: int) -> bytes:
    """A ``reg`` entry with #address-cells = #size-cells = 2."""
    return _cells(addr >> 32, addr & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF)


def _strings(*values: str) -> bytes:
    return b"".join(v.encode() + b"\0" for v in values)


def _addr_cell(value: int) -> bytes:
    """One cell when the value fits (what QEMU 7.2 writes for the initrd bounds), two otherwise."""
    if value < 1 << 32:
        return _cells(value)
    return _cells(value >> 32, value & 0xFFFFFFFF)


def uart_node_path(cfg: VirtFdtConfig) -> str:
    return f"/soc/serial@{cfg.uart[0]:x}"


class _Writer:
    """FdtSw with short names for the property kinds used here."""

    def __init__(self) -> None:
        self.sw = libfdt.FdtSw(8192)
        self.sw.finish_reservemap()

    def begin(self, name: str) -> None:
        self.sw.begin_node(name)

    def end(self) -> None:
        self.sw.end_node()

    def raw(self, name: str, value: bytes) -> None:
        self.sw.property(name, value)

    def u32(self, name: str, *values: int) -> None:
        self.sw.property(name, _cells(*values))

    def string(self, name: str, *values: str) -> None:
        self.sw.property(name, _strings(*values))

    def empty(self, name: str) -> None:
        self.sw.property(name, b"")

    def blob(self) -> bytes:
        fdt = self.sw.as_fdt()
        fdt.pack()
        return bytes(fdt.as_bytearray()[:fdt.totalsize()])


def build_virt_fdt(cfg: VirtFdtConfig) -> bytes:
    """The flattened device tree (DTB, packed) describing the board ``cfg`` describes."""
    n = cfg.num_harts
    if n < 1:
        raise ValueError("the virt board needs at least one hart")
    cpu_ph = [2 * (n - 1 - i) + 1 for i in range(n)]
    intc_ph = [p + 1 for p in cpu_ph]
    plic_ph = 2 * n + 1
    test_ph = 2 * n + 2

    w = _Writer()
    w.begin("")
    w.u32("#address-cells", 2)
    w.u32("#size-cells", 2)
    w.string("compatible", "riscv-virtio")
    w.string("model", "riscv-virtio,qemu")

    # /chosen
    w.begin("chosen")
    if cfg.initrd is not None:
        start, end = cfg.initrd
        w.raw("linux,initrd-end", _addr_cell(end))
        w.raw("linux,initrd-start", _addr_cell(start))
    if cfg.rng_seed is not None:
        w.raw("rng-seed", cfg.rng_seed)
    if cfg.cmdline:
        w.string("bootargs", cfg.cmdline)
    w.string("stdout-path", cfg.stdout_path if cfg.stdout_path is not None else uart_node_path(cfg))
    w.end()

    # the test device as power-off and reboot controller
    for name, compat, value in (("poweroff", "syscon-poweroff", 0x5555), ("reboot", "syscon-reboot", 0x7777)):
        w.begin(name)
        w.u32("value", value)
        w.u32("offset", 0)
        w.u32("regmap", test_ph)
        w.string("compatible", compat)
        w.end()

    w.begin(f"memory@{cfg.ram_base:x}")
    w.string("device_type", "memory")
    w.raw("reg", _reg(cfg.ram_base, cfg.ram_size))
    w.end()

    # /cpus
    w.begin("cpus")
    w.u32("#address-cells", 1)
    w.u32("#size-cells", 0)
    w.u32("timebase-frequency", cfg.timebase)
    for i in range(n):
        w.begin(f"cpu@{i}")
        w.u32("phandle", cpu_ph[i])
        w.string("device_type", "cpu")
        w.u32("reg", i)
        w.string("status", "okay")
        w.string("compatible", "riscv")
        w.string("riscv,isa", cfg.isa)
        w.string("mmu-type", cfg.mmu_type)
        w.begin("interrupt-controller")
        w.u32("#address-cells", 0)
        w.u32("#interrupt-cells", 1)
        w.empty("interrupt-controller")
        w.string("compatible", "riscv,cpu-intc")
        w.u32("phandle", intc_ph[i])
        w.end()
        w.end()
    w.begin("cpu-map")
    w.begin("cluster0")
    for i in range(n):
        w.begin(f"core{i}")
        w.u32("cpu", cpu_ph[i])
        w.end()
    w.end()
    w.end()
    w.end()

    # /soc
    w.begin("soc")
    w.u32("#address-cells", 2)
    w.u32("#size-cells", 2)
    w.string("compatible", "simple-bus")
    w.empty("ranges")

    addr, size, irq = cfg.rtc
    w.begin(f"rtc@{addr:x}")
    w.u32("interrupts", irq)
    w.u32("interrupt-parent", plic_ph)
    w.raw("reg", _reg(addr, size))
    w.string("compatible", "google,goldfish-rtc")
    w.end()

    addr, size, irq, clock = cfg.uart
    w.begin(f"serial@{addr:x}")
    w.u32("interrupts", irq)
    w.u32("interrupt-parent", plic_ph)
    w.u32("clock-frequency", clock)
    w.raw("reg", _reg(addr, size))
    w.string("compatible", "ns16550a")
    w.end()

    addr, size = cfg.test
    w.begin(f"test@{addr:x}")
    w.u32("phandle", test_ph)
    w.raw("reg", _reg(addr, size))
    w.string("compatible", "sifive,test1", "sifive,test0", "syscon")
    w.end()

    for addr, size, irq in sorted(cfg.virtio_mmio, reverse=True):
        w.begin(f"virtio_mmio@{addr:x}")
        w.u32("interrupts", irq)
        w.u32("interrupt-parent", plic_ph)
        w.raw("reg", _reg(addr, size))
        w.string("compatible", "virtio,mmio")
        w.end()

    addr, size, ndev = cfg.plic
    w.begin(f"plic@{addr:x}")
    w.u32("phandle", plic_ph)
    w.u32("riscv,ndev", ndev)
    w.raw("reg", _reg(addr, size))
    w.u32("interrupts-extended",
          *[c for i in range(n) for c in (intc_ph[i], IRQ_M_EXT, intc_ph[i], IRQ_S_EXT)])
    w.empty("interrupt-controller")
    w.string("compatible", "sifive,plic-1.0.0", "riscv,plic0")
    w.u32("#address-cells", 0)
    w.u32("#interrupt-cells", 1)
    w.end()

    addr, size = cfg.clint
    w.begin(f"clint@{addr:x}")
    w.u32("interrupts-extended",
          *[c for i in range(n) for c in (intc_ph[i], IRQ_M_SOFT, intc_ph[i], IRQ_M_TIMER)])
    w.raw("reg", _reg(addr, size))
    w.string("compatible", "sifive,clint0", "riscv,clint0")
    w.end()

    w.end()  # soc
    w.end()  # root
    return w.blob()
