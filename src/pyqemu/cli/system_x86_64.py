"""``pyqemu-system-x86_64``: the PC system emulator's command line (QEMU 7.2's ``qemu-system-x86_64``), on the
option parser of :mod:`pyqemu.cli.system_main`, running the ``pc`` and ``q35`` boards of
:mod:`pyqemu.hw.i386.pc` under KVM.

The accelerator is KVM: pyqemu translates no x86 code, so this program is what a QEMU built without TCG is
-- ``-accel help`` lists ``kvm`` only, ``-accel tcg`` is an invalid accelerator, and without ``-accel`` KVM is
used.  When ``/dev/kvm`` cannot be opened the messages are QEMU's ("Could not access KVM kernel module: ...",
"failed to initialize kvm: ...") and the status 1.

``-cpu`` takes the models of :mod:`pyqemu.target.i386.cpu_models` with ``+feat``/``-feat``/``feat=on|off``;
``-cpu help`` lists them.  Without ``-kernel`` the vCPUs start in the firmware (``-bios``, by default
SeaBIOS's ``bios-256k.bin`` from the data directories); with ``-kernel`` the board loads a multiboot or
bzImage kernel itself.  ``-drive if=virtio`` becomes a ``virtio-blk-pci``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pyqemu.cli import system_main as sm
from pyqemu.cli.system_main import CliError, Config, System, SystemTarget

PROG = "pyqemu-system-x86_64"
MACHINES = (
    ("pc", "Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)"),
    ("pc-i440fx-7.2", "Standard PC (i440FX + PIIX, 1996)"),
    ("q35", "Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)"),
    ("pc-q35-7.2", "Standard PC (Q35 + ICH9, 2009)"),
)
#: -machine value -> (board, QEMU's versioned type name)
BOARDS = {"pc": ("pc", "pc-i440fx-7.2"), "pc-i440fx-7.2": ("pc", "pc-i440fx-7.2"),
          "q35": ("q35", "pc-q35-7.2"), "pc-q35-7.2": ("q35", "pc-q35-7.2")}
MAX_CPUS = {"pc": 255, "q35": 288}
MACHINE_PROPS = (
    ("append", "string", "Linux kernel command line"),
    ("firmware", "string", "Firmware image"),
    ("initrd", "string", "Linux kernel initial ramdisk file"),
    ("kernel", "string", "Linux kernel image file"),
)
KVM_ACCEL_PROPS = frozenset({"accel", "kernel-irqchip"})
MIN_RAM = 2 << 20  # conventional memory, the BIOS area and some RAM above 1 MiB


def _host_memory() -> int:
    """RAM plus swap of the host: the most guest RAM a non-overcommitting allocation can get."""
    total = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "SwapTotal"):
                    total += int(rest.split()[0]) * 1024
    except OSError:
        return 1 << 62
    return total


class X86Target(SystemTarget):
    prog = PROG
    machines = MACHINES
    machine_props = MACHINE_PROPS
    default_machine = "pc-i440fx-7.2"
    default_cpu = "qemu64"
    default_accel = "kvm"
    accelerators = ("kvm",)
    has_dtb = False
    has_gdbstub = False
    accel_help = ("                select accelerator (kvm; use 'help' for a list)\n"
                  "                kernel-irqchip=on")
    bios_help = "set the filename for the BIOS (default: SeaBIOS's bios-256k.bin)"
    drive_help = "use 'file' as a drive image (if=virtio: a virtio-blk-pci)"
    machine_opts_help = ""
    ram_id = "pc.ram"
    cpu_type = "qemu64-x86_64-cpu"

    def cpu_definitions(self) -> list[tuple[str, str]]:
        from pyqemu.target.i386.cpu_models import MODELS

        return [(m.name, f"{m.name}-x86_64-cpu") for m in MODELS]

    def monitor_target_options(self, cfg: Config) -> dict[str, Any]:
        from pyqemu.target.i386 import monitor

        return {"cpu_ops": monitor, "kvm": True, "machine_type": self.machine_name(cfg.machine),
                "cpu_type": f"{cfg.cpu.split(',')[0]}-x86_64-cpu"}

    def register_device_types(self) -> None:
        from pyqemu.hw.i386 import pc_qdev  # noqa: F401 - registers the board's device types

    def cpu_help(self) -> str:
        from pyqemu.target.i386.cpu_models import cpu_help

        return cpu_help().rstrip("\n")

    def check_cpu(self, cfg: Config) -> None:
        from pyqemu.target.i386.cpu_models import CpuModelError, parse_cpu_option, resolve

        try:
            resolve(parse_cpu_option(cfg.cpu))
        except CpuModelError as exc:
            raise CliError(str(exc)) from None

    def machine_name(self, opts: dict[str, str] | None) -> str:
        return BOARDS[(opts or {}).get("type", "pc")][1]

    def max_cpus_for(self, machine: str) -> int:
        return MAX_CPUS["q35" if "q35" in machine else "pc"]

    def check_accel(self, opts: dict[str, str], loc: str | None, cfg: Config) -> None:
        for key in opts:
            if key not in KVM_ACCEL_PROPS:
                raise CliError(f"Property 'kvm-accel.{key}' not found", loc)
        irqchip = opts.get("kernel-irqchip", "on")
        if irqchip not in ("on", "split", "off"):
            raise CliError(f"Parameter 'kernel-irqchip' does not accept value '{irqchip}'", loc)
        if irqchip != "on":
            raise CliError(f"kernel-irqchip={irqchip} is not supported by pyqemu (only 'on')", loc)

    def resolve_bios(self, cfg: Config) -> str | None:
        from pyqemu.hw.i386.pc import default_bios

        if cfg.bios is not None:
            path = sm.find_data_file(cfg.bios, cfg.data_dirs)
            if path is None:
                raise CliError("", plain=(f"qemu: could not load PC BIOS '{cfg.bios}'",))
            return path
        if cfg.kernel is not None:
            return None  # the board loads the kernel itself
        path = default_bios(cfg.data_dirs)
        if path is None:
            raise CliError("", plain=("qemu: could not load PC BIOS 'bios-256k.bin'",))
        return path

    def create_machine(self, system: System, harts: int, bios: str | None) -> None:
        from pyqemu.accel.kvm.accel import KvmVcpuLimit
        from pyqemu.accel.kvm.kvm import KvmError
        from pyqemu.hw.i386.pc import PcBootError, PcConfig, PcMachine
        from pyqemu.target.i386.cpu_models import CpuModelError

        cfg = system.cfg
        accel_loc = next((loc for _, loc in cfg.accel if loc), None)
        board = BOARDS[cfg.machine.get("type", "pc")][0]
        if cfg.ram_size < MIN_RAM:
            raise CliError(f"invalid RAM size: the PC boards of pyqemu need at least {MIN_RAM >> 20} MiB")
        if cfg.ram_size > _host_memory():
            raise CliError("cannot set up guest memory 'pc.ram': Cannot allocate memory")
        pcfg = PcConfig(machine=board, ram_size=cfg.ram_size, smp=harts, cpu=cfg.cpu, bios=bios,
                        kernel=cfg.kernel, initrd=cfg.initrd, append=cfg.append or "",
                        serials=[system.serial] if system.serial is not None else [],
                        main_loop=system.main_loop, warn=lambda line: sm._report(line),
                        accel_warn=lambda line: sm._report(line, accel_loc))
        try:
            system.machine = PcMachine(pcfg)
        except KvmError as exc:
            raise CliError(f"failed to initialize kvm: {os.strerror(exc.errno or 0)}", accel_loc,
                           plain=(str(exc.strerror),)) from None
        except KvmVcpuLimit as exc:  # QEMU prints it as it is and exits
            raise CliError("", plain=(str(exc),)) from None
        except CpuModelError as exc:
            raise CliError(str(exc), before=tuple(exc.warnings)) from None
        except PcBootError as exc:  # the loaders' own lines, as QEMU's x86 loaders print them
            text = str(exc)
            raise CliError("", plain=(text if text.startswith("qemu: ") else f"qemu: {text}",)) from None
        except OSError as exc:
            raise CliError(f"{exc.filename or 'boot image'}: {os.strerror(exc.errno or 0)}") from None
        system.machine.no_reboot = cfg.no_reboot
        system.machine.no_shutdown = cfg.no_shutdown

    def create_devices(self, system: System) -> None:
        from pyqemu.hw.i386 import pc_qdev

        pc_qdev.populate(system.tree, system.machine)
        system.add_devices()
        system.machine.machine_done()

    def virtio_blk_type(self) -> str:
        return "virtio-blk-pci"

    def check_boot_files(self, cfg: Config) -> None:
        """QEMU's x86 loader messages (hw/i386/x86.c) for -kernel/-initrd files that cannot be read."""
        if cfg.kernel is None:
            sm.check_kernel_options(cfg)
            return
        for path, what in ((cfg.kernel, "could not open kernel file"), (cfg.initrd, "could not open initrd")):
            if path is None:
                continue
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise CliError(f"{what} '{path}': {os.strerror(exc.errno or 0)}") from None

    def after_machine(self, system: System, cfg: Config, rtc_offset: int) -> int | None:
        system.machine.rtc.offset += rtc_offset
        return None


def main(argv: list[str] | None = None) -> int:
    return sm.main(argv, X86Target())


if __name__ == "__main__":
    sys.exit(main())
