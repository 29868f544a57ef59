"""The RISC-V ``virt`` board (QEMU hw/riscv/virt.c): QEMU's memory map, so firmware and kernels built
for QEMU's virt machine run unmodified.

=================  ===========  =======  ===================================
device             base         size     interrupts (PLIC source)
=================  ===========  =======  ===================================
mask ROM           0x1000       0xf000   reset vector, fw_dynamic_info
SiFive test        0x100000     0x1000   power off / reboot
Goldfish RTC       0x101000     0x1000   11
CLINT              0x2000000    0x10000  MSIP / MTIP of every hart
PLIC               0xc000000    0x600000 MEIP / SEIP of every hart
NS16550A UART      0x10000000   0x100    10
virtio-mmio 0..7   0x10001000   0x1000   1..8
RAM                0x80000000   -m
=================  ===========  =======  ===================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ...accel.tcg import backends
from ...accel.tcg.interp import Interpreter
from ...accel.tcg.log import Log
from ...accel.tcg.softmmu import CodePages, SoftMMUMemory
from ...accel.tcg.tb_system import SystemTBCache
from ...core.machine import Machine
from ...exec.memory import AddressSpace, MemoryRegion, RamArena
from ...target.riscv import csr as C
from ...target.riscv import hart as H
from ...target.riscv import translate
from ...target.riscv.cpu import GLOBAL_SLOTS, SLOT_ICOUNT
from ...target.riscv.native_interp import NativeInterpreter
from ..char.serial import Serial16550
from ..core.irq import IRQ
from ..intc.riscv_aclint import Clint
from ..intc.sifive_plic import Plic
from ..misc.sifive_test import SifiveTest
from ..rtc.goldfish_rtc import GoldfishRTC
from ..virtio.mmio import VirtioMMIO
from . import boot
from .virt_fdt import VirtFdtConfig, build_virt_fdt

MROM = (0x1000, 0xF000)
TEST = (0x100000, 0x1000)
RTC = (0x101000, 0x1000)
CLINT = (0x2000000, 0x10000)
PLIC = (0xC000000, 0x600000)
UART0 = (0x10000000, 0x100)
VIRTIO = (0x10001000, 0x1000)
VIRTIO_COUNT = 8
DRAM_BASE = 0x80000000
UART0_IRQ, RTC_IRQ, VIRTIO_IRQ = 10, 11, 1
PLIC_NDEV = 0x60
TIMEBASE = 10_000_000
ISA = "rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc"
#: instructions a region runs before it returns to the exec loop (which then sees interrupts); the
#: x86_64 backend's code can be made to leave early, on an interrupt (see RISCVHart.request_exit)
REGION_BUDGET, NATIVE_REGION_BUDGET = 1 << 13, 1 << 16


@dataclass
class VirtConfig:
    ram_size: int = 128 << 20
    smp: int = 1
    bios: str | None = None  # path, or None for -bios none
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    dtb: str | None = None
    serial: Any = None  # Chardev of the first UART
    log: Log = field(default_factory=Log)
    main_loop: Any = None  # MainLoop the chardevs were created with (None: the machine makes one)
    tcg_backend: str = field(default_factory=backends.default_name)  # -accel tcg,backend=
    tb_size: int = 0  # -accel tcg,tb-size= (MiB of native code cache; 0: the default)


class VirtMachine(Machine):
    """Builds the board from a :class:`VirtConfig`; :meth:`Machine.run` runs it."""

    def __init__(self, cfg: VirtConfig):
        super().__init__(cfg.main_loop)
        self.cfg = cfg
        self.arena = RamArena(max(1 << 34, cfg.ram_size * 2))
        self.sysmem = MemoryRegion.container_of("system", 1 << 64)
        self.space = AddressSpace("memory", self.sysmem)
        self.ram = MemoryRegion.ram("riscv_virt_board.ram", cfg.ram_size, self.arena)
        self.sysmem.add_subregion(DRAM_BASE, self.ram)
        self.mrom = MemoryRegion.rom("riscv_virt_board.mrom", MROM[1], self.arena)
        self.sysmem.add_subregion(MROM[0], self.mrom)
        self._create_cpus()
        self._create_devices()
        self.dtb = b""  # the device tree as loaded at the last reset
        self.reset_handlers.append(self._reset)
        self._reset()

    # -- construction ------------------------------------------------------------------------------
    def _create_cpus(self) -> None:
        code = CodePages()
        memory = SoftMMUMemory(self.arena.mm)
        backend = backends.make(self.cfg.tcg_backend, GLOBAL_SLOTS, memory, icount_slot=SLOT_ICOUNT,
                                budget=NATIVE_REGION_BUDGET if self.cfg.tcg_backend == "x86_64"
                                else REGION_BUDGET, tb_size=self.cfg.tb_size)
        interp = Interpreter(GLOBAL_SLOTS, memory, icount_slot=SLOT_ICOUNT)
        self.tbc = SystemTBCache(H.gen_block, backend, interp, self.cfg.log, code, H.disas, background=True)
        if backend.name == "x86_64" and not self.cfg.log.per_block():  # cold code runs in machine code too
            fast = NativeInterpreter(backend, translate.decode)
            fast.on_hot = self.tbc.heat
            self.tbc.fast = fast
        self.space.ram_write_hooks.append(self.tbc.invalidate_range)
        self.clint: Clint | None = None
        kick = [False]
        for i in range(self.cfg.smp):
            hart = H.RISCVHart(i, self.space, code, self._read_time)
            hart.kick = kick
            if backend.name == "x86_64":
                hart.leave_flags = H.FLAGS_TRANSLATED
                hart.request_exit = backend.request_exit
            self.cpus.append(hart)
            self.tbc.cpus.append(hart)

    def _read_time(self) -> int:
        assert self.clint is not None
        return self.clint.mtime()

    def _create_devices(self) -> None:
        harts = self.cpus

        def line(hart: Any, bit: int) -> IRQ:
            return IRQ(lambda n, level: hart.set_irq_line(bit, level))

        self.clint = Clint(self.clock, len(harts), [line(h, C.IRQ_M_SOFT) for h in harts],
                           [line(h, C.IRQ_M_TIMER) for h in harts], timebase_freq=TIMEBASE)
        self.sysmem.add_subregion(CLINT[0], self.clint.mr)
        for h in harts:
            h.attach_timer(self.clock, self.clint.deadline_ns)
        outputs = []
        for h in harts:
            outputs += [line(h, C.IRQ_M_EXT), line(h, C.IRQ_S_EXT)]
        self.plic = Plic(len(harts), outputs)
        self.sysmem.add_subregion(PLIC[0], self.plic.mr)
        self.uart = Serial16550(self.cfg.serial, self.plic.irqs[UART0_IRQ])
        self.sysmem.add_subregion(UART0[0], self.uart.mr)
        self.test = SifiveTest(self.request_shutdown, self.request_reset)
        self.sysmem.add_subregion(TEST[0], self.test.mr)
        self.rtc = GoldfishRTC(self.clock, self.plic.irqs[RTC_IRQ])
        self.sysmem.add_subregion(RTC[0], self.rtc.mr)
        self.virtio: list[VirtioMMIO] = []
        for i in range(VIRTIO_COUNT):
            t = VirtioMMIO(self.space, self.plic.irqs[VIRTIO_IRQ + i])
            self.sysmem.add_subregion(VIRTIO[0] + i * VIRTIO[1], t.mr)
            self.virtio.append(t)
        self.devices: list[Any] = [self.clint, self.plic, self.uart, self.test, self.rtc, *self.virtio]

    def plug_virtio(self, device: Any) -> None:
        """Attach a virtio device to the highest free virtio-mmio slot (as QEMU's -device does)."""
        for t in reversed(self.virtio):
            if t.device is None:
                t.plug(device)
                return
        raise ValueError("no free virtio-mmio slot")

    def _device_tree(self, initrd: tuple[int, int] | None) -> bytes:
        """The ``-dtb`` file, or the generated tree describing this board (and where the initrd is)."""
        cfg = self.cfg
        if cfg.dtb:
            with open(cfg.dtb, "rb") as f:
                return f.read()
        fdt_cfg = VirtFdtConfig(
            ram_base=DRAM_BASE, ram_size=cfg.ram_size, num_harts=cfg.smp, isa=ISA, mmu_type="riscv,sv48",
            timebase=TIMEBASE, cmdline=cfg.append, initrd=initrd,
            virtio_mmio=[(VIRTIO[0] + i * VIRTIO[1], VIRTIO[1], VIRTIO_IRQ + i) for i in range(VIRTIO_COUNT)],
            uart=(UART0[0], UART0[1], UART0_IRQ, 3686400), plic=(PLIC[0], PLIC[1], PLIC_NDEV),
            clint=CLINT, test=TEST, rtc=(RTC[0], RTC[1], RTC_IRQ), rng_seed=os.urandom(32),
            stdout_path=f"/soc/serial@{UART0[0]:x}")
        return build_virt_fdt(fdt_cfg)

    # -- boot --------------------------------------------------------------------------------------
    def _load_boot_images(self) -> None:
        cfg = self.cfg
        space = self.space
        firmware_end = DRAM_BASE
        if cfg.bios:
            _, firmware_end = boot.load_firmware(space, cfg.bios, DRAM_BASE)
        kernel_entry = 0
        initrd = None
        if cfg.kernel:
            kernel_start = boot.kernel_start_addr(firmware_end) if cfg.bios else DRAM_BASE
            kernel_entry, kernel_end = boot.load_kernel(space, cfg.kernel, kernel_start)
            if cfg.initrd:
                initrd = boot.load_initrd(space, cfg.initrd, DRAM_BASE, cfg.ram_size, kernel_entry,
                                          kernel_end)
        self.dtb = self._device_tree(initrd)
        fdt_addr = boot.fdt_load_addr(DRAM_BASE, cfg.ram_size)
        boot.load_fdt(space, self.dtb, fdt_addr)
        boot.setup_mask_rom(space, DRAM_BASE, fdt_addr, kernel_entry, rom_size=MROM[1])

    def _reset(self) -> None:
        """Power-on state: devices, harts at the reset vector, boot images (re)loaded as QEMU's ROM
        blobs are."""
        self._load_boot_images()
        for dev in self.devices:
            dev.reset()
        for hart in self.cpus:
            hart.reset()
            hart.pc = MROM[0]
