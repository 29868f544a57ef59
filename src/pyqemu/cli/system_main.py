"""``pyqemu-system-riscv64``: the system emulator's command line (QEMU softmmu/vl.c, as QEMU 7.2's
``qemu-system-riscv64`` behaves), running the RISC-V ``virt`` board.

``main(argv)`` parses the options in one pass (syntax errors, ``help`` listings and ``-version`` are
handled as they are met, like QEMU), then builds the VM in QEMU's order: accelerator, CPU and topology
checks, ``-chardev`` backends, monitors, serial ports, drives, the board (firmware, kernel, initrd and
device tree are loaded here), the device tree with ``-device`` and ``-drive if=virtio`` devices,
``-machine dumpdtb=``, and finally the run.  Errors are reported as
``pyqemu-system-riscv64: [-option arg: ]message`` and end the process with status 1.

The exit status is the guest's: the SiFive test device's power-off code, 0 after ``quit``, Ctrl-A x or a
terminating signal (SIGINT, SIGTERM, SIGHUP: "terminating on signal N [from pid P (name)]").
``-no-shutdown`` is accepted and changes nothing: the virt board's only way to power off is the SiFive
test device, which ends QEMU 7.2 whatever ``-no-shutdown`` says.

Choices where pyqemu differs from QEMU 7.2 (there being no graphical display):

* without ``-nographic`` or ``-display`` the display is ``none`` (what a QEMU built without a GUI does),
  and the default serial port and monitor go to a virtual console that is not shown, i.e. nowhere;
* ``virt`` is the default (and only) machine; ``-cpu`` knows ``rv64`` and ``any`` (the same hart) and
  takes no properties;
* ``-drive if=virtio`` attaches a ``virtio-blk-device`` to a free virtio-mmio slot: QEMU 7.2 would
  create a ``virtio-blk-pci`` on the PCIe host bridge, which this board does not model;
* QMP (``-qmp``, ``-qmp-pretty``, ``-mon mode=control``) offers no capabilities (no out-of-band
  execution).
"""

from __future__ import annotations

import calendar
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pyqemu import QEMU_VERSION, __version__
from pyqemu.accel.tcg import backends
from pyqemu.accel.tcg.log import Log, LogError
from pyqemu.accel.tcg.log import help_text as log_help_text
from pyqemu.cli.qemu_opts import OptsError, check_id, parse_bool, parse_opts, parse_size

PROG = "pyqemu-system-riscv64"
MiB = 1 << 20
DEFAULT_RAM_SIZE = 128 * MiB
#: most harts the virt board takes (QEMU 7.2's VIRT_CPUS_MAX)
MAX_CPUS = 512
CPU_MODELS = ("any", "rv64")
MACHINES = (("virt", "RISC-V VirtIO board"),)
#: data directories searched after -L (QEMU's default data directory)
DATA_DIRS = ("/usr/share/qemu",)
DEFAULT_BIOS = "opensbi-riscv64-generic-fw_dynamic.bin"
#: where Debian's opensbi package keeps the same firmware
OPENSBI_FALLBACK = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#: display types QEMU knows, none of which pyqemu has except "none"
QEMU_DISPLAYS = ("gtk", "sdl", "curses", "egl-headless", "spice-app", "dbus", "cocoa", "vnc")
TERMINATING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

USAGE_TEMPLATE = """QEMU emulator version {version} (pyqemu {pyqemu})
usage: {prog} [options] [disk_image]

'disk_image' is a raw hard disk image for IDE hard disk 0

Standard options:
-h or -help     display this help and exit
-version        display version information and exit
-machine [type=]name[,prop[=value][,...]]
                selects emulated machine ('-machine help' for list)
{machine_opts_help}-cpu cpu        select CPU ('-cpu help' for list)
-accel [accel=]accelerator[,prop[=value][,...]]
{accel_help}
-smp [[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,cores=cores][,threads=threads]
                set the number of initial CPUs to 'n' [default=1]
-m [size=]megs[,slots=n,maxmem=size]
                configure guest RAM
                size: initial amount of guest memory (a plain number is in MiB)
-name string1[,process=string2][,debug-threads=on|off]
                set the name of the guest

Block device options:
-hda/-hdb file  use 'file' as hard disk 0/1 image
-drive [file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]
       [,cache=writethrough|writeback|none|directsync|unsafe][,format=f]
       [,snapshot=on|off][,rerror=ignore|stop|report]
       [,werror=ignore|stop|report|enospc][,id=name][,readonly=on|off]
                {drive_help}
-snapshot       write to temporary files instead of disk image files

Device options:
-device driver[,prop[=value][,...]]
                add device (based on driver)
                prop=value,... sets driver properties
                use '-device help' to print all possible drivers
                use '-device driver,help' to print all possible properties
-object TYPENAME[,PROP1=VALUE1,...]
                create a new object of type TYPENAME setting properties
                in the order they are specified.  Note that the 'id'
                property must be set.  These objects are placed in the
                '/objects' path.

Display options:
-display none   select display backend type (pyqemu has no graphical display)
-nographic      disable graphical output and redirect serial I/Os to console

Character device options:
-chardev help
-chardev null,id=id[,mux=on|off]
-chardev socket,id=id[,host=host],port=port[,server=on|off][,wait=on|off][,nodelay=on|off][,mux=on|off]
-chardev socket,id=id,path=path[,server=on|off][,wait=on|off][,mux=on|off]
-chardev file,id=id,path=path[,mux=on|off]
-chardev stdio,id=id[,mux=on|off][,signal=on|off]

Boot Image or Kernel specific:
-bios file      {bios_help}
-kernel bzImage use 'bzImage' as kernel image
-append cmdline use 'cmdline' as kernel command line
-initrd file    use 'file' as initial ram disk
{dtb_help}
Debug/Expert options:
-serial dev     redirect the serial port to char device 'dev'
-monitor dev    redirect the monitor to char device 'dev'
-qmp dev        like -monitor but opens in 'control' mode
-qmp-pretty dev like -qmp but uses pretty JSON formatting
-mon [chardev=]name[,mode=readline|control][,pretty[=on|off]]
-S              freeze CPU at startup (use 'c' to start execution)
-gdb dev        accept gdb connection on 'dev'. (QEMU defaults to starting
                the guest without waiting for gdb to connect; use -S too
                if you want it to not start execution.)
-s              shorthand for -gdb tcp::1234
-d item1,...    enable logging of specified items (use '-d help' for a list of log items)
-D logfile      output log to logfile (default stderr)
-L path         set the directory for the BIOS, VGA BIOS and keymaps
-enable-kvm     enable KVM full virtualization support
-no-reboot      exit instead of rebooting
-no-shutdown    stop before shutdown
-rtc [base=utc|localtime|<datetime>][,clock=host|rt|vm][,driftfix=none|slew]
                set the RTC base and clock

During emulation, the following keys are useful:
When using -nographic, press 'ctrl-a h' to get some help.
"""

#: option name -> takes an argument
OPTIONS: dict[str, bool] = {
    "h": False, "help": False, "version": False, "M": True, "machine": True, "cpu": True, "accel": True,
    "enable-kvm": False, "smp": True, "m": True, "name": True, "hda": True, "hdb": True, "hdc": True,
    "hdd": True, "drive": True, "snapshot": False, "device": True, "display": True, "nographic": False,
    "chardev": True, "bios": True, "kernel": True, "append": True, "initrd": True, "dtb": True,
    "serial": True, "monitor": True, "qmp": True, "qmp-pretty": True, "mon": True, "S": False, "d": True,
    "D": True, "L": True, "gdb": True, "s": False,
    "no-reboot": False, "no-shutdown": False, "rtc": True, "object": True,
}

_MACHINE_PROPS = (
    ("append", "string", "Linux kernel command line"),
    ("dtb", "string", "Linux kernel device tree file"),
    ("dumpdtb", "string", "Dump current dtb to a file and quit"),
    ("firmware", "string", "Firmware image"),
    ("initrd", "string", "Linux kernel initial ramdisk file"),
    ("kernel", "string", "Linux kernel image file"),
)
_ACCEL_PROPS = frozenset({"accel", "thread", "tb-size", "split-wx", "backend"})
_SMP_KEYS = ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")
_LEGACY_SERIAL = ("null", "stdio", "file", "tcp", "unix", "telnet", "mon", "chardev", "none", "vc", "pty",
                  "udp", "pipe", "msmouse", "braille", "tty", "parport")


# -- the target ----------------------------------------------------------------------------------------

class SystemTarget:
    """What differs between the system emulators (``pyqemu-system-riscv64``, ``-x86_64``): program name,
    boards, CPU models, accelerators, firmware and how the board is built.  This one is RISC-V's ``virt``
    under TCG; :mod:`pyqemu.cli.system_x86_64` has the PC's."""

    prog = PROG
    machines: tuple[tuple[str, str], ...] = MACHINES
    machine_props: tuple[tuple[str, str, str], ...] = ()
    #: the board -machine picks when it names none, the one ``-machine help`` marks "(default)"
    default_machine = "virt"
    default_cpu = "rv64"
    default_accel = "tcg"
    accelerators: tuple[str, ...] = ("tcg",)
    max_cpus = MAX_CPUS
    has_dtb = True
    #: whether -gdb/-s can debug this target's vCPUs
    has_gdbstub = True
    accel_help = ("                select accelerator (tcg; use 'help' for a list)\n"
                  "                thread=single|multi, tb-size=n, backend=python|x86_64")
    bios_help = "set the filename for the BIOS ('default': OpenSBI, 'none': no firmware)"
    drive_help = "use 'file' as a drive image (if=virtio: on a free virtio-mmio slot)"
    machine_opts_help = "                dumpdtb=file dump the device tree to 'file' and exit\n"

    def usage(self) -> str:
        return USAGE_TEMPLATE.format(
            version=QEMU_VERSION, pyqemu=__version__, prog=self.prog, accel_help=self.accel_help,
            bios_help=self.bios_help, drive_help=self.drive_help, machine_opts_help=self.machine_opts_help,
            dtb_help="-dtb    file    use 'file' as device tree image\n" if self.has_dtb else "")

    ram_id = "riscv_virt_board.ram"
    cpu_type = "rv64-riscv-cpu"

    def register_device_types(self) -> None:
        from pyqemu.hw.riscv import virt_qdev  # noqa: F401 - registers the board's device types

    def cpu_definitions(self) -> list[tuple[str, str]]:
        """``query-cpu-definitions``: (name, QOM type name) of each -cpu model."""
        return [(name, f"{name}-riscv-cpu") for name in CPU_MODELS]

    def monitor_target_options(self, cfg: Config) -> dict[str, Any]:
        """What :class:`~pyqemu.monitor.target.MonitorTarget` needs to know of this target's vCPUs."""
        return {}

    def cpu_help(self) -> str:
        return "\n".join(CPU_MODELS)

    def check_cpu(self, cfg: Config) -> None:
        _check_cpu(cfg)

    def max_cpus_for(self, machine: str) -> int:
        return self.max_cpus

    def machine_type_name(self, opts: dict[str, str] | None) -> str:
        """The QOM type of the board ``-machine`` picks, as property errors name it."""
        return f"{self.machine_name(opts)}-machine"

    def machine_name(self, opts: dict[str, str] | None) -> str:
        """The board's name in messages (QEMU names the versioned type)."""
        return (opts or {}).get("type", self.machines[0][0])

    def resolve_bios(self, cfg: Config) -> str | None:
        return resolve_bios(cfg.bios, cfg.data_dirs)

    def check_boot_files(self, cfg: Config) -> None:
        _check_boot_files(cfg)

    def check_accel(self, opts: dict[str, str], loc: str | None, cfg: Config) -> None:
        _check_tcg_accel(opts, loc, cfg)

    def create_machine(self, system: System, harts: int, bios: str | None) -> None:
        system.create_virt_machine(harts, bios)

    def create_devices(self, system: System) -> None:
        system.create_virt_devices()

    def virtio_blk_type(self) -> str:
        return "virtio-blk-device"

    def after_machine(self, system: System, cfg: Config, rtc_offset: int) -> int | None:
        """Board-specific steps before the run (``dumpdtb``, the RTC base); a status ends the process."""
        machine = system.machine
        dumpdtb = cfg.machine.get("dumpdtb")
        if dumpdtb:
            try:
                with open(dumpdtb, "wb") as f:
                    f.write(machine.dtb)
            except OSError as exc:
                raise CliError(f"Failed to write dtb to {dumpdtb}: {os.strerror(exc.errno or 0)}") from None
            _report(f"info: dtb dumped to {dumpdtb}. Exiting.")
            return 0
        machine.rtc.tick_offset += rtc_offset
        return None


# -- errors ----------------------------------------------------------------------------------------------

class CliError(Exception):
    """A fatal command-line or setup error: ``loc`` is the option it concerns (``-device foo``), ``hint``
    extra lines printed as they are, ``before`` lines printed first (each with the program name)."""

    def __init__(self, message: str, loc: str | None = None, hint: str | None = None,
                 before: tuple[str, ...] = (), plain: tuple[str, ...] = ()):
        super().__init__(message)
        self.loc = loc
        self.hint = hint
        self.before = before
        self.plain = plain


class Exit(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Leave with ``status`` (help listings, -version, dumpdtb)."""

    def __init__(self, status: int = 0):
        super().__init__(status)
        self.status = status


def _report(message: str, loc: str | None = None) -> None:
    prog = TARGET.prog
    prefix = f"{prog}: {loc}: " if loc else f"{prog}: "
    print(prefix + message, file=sys.stderr, flush=True)


def _fail(exc: OptsError, loc: str | None = None) -> NoReturn:
    raise CliError(str(exc), loc, exc.hint) from None


# -- the option scan -----------------------------------------------------------------------------------

@dataclass
class Config:
    """Everything the command line asked for."""

    machine: dict[str, str] = field(default_factory=dict)
    cpu: str = "rv64"
    accel: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    tcg_backend: str = field(default_factory=backends.default_name)  # -accel tcg,backend=
    tb_size: int = 0  # -accel tcg,tb-size= (MiB; 0: the default)
    ram_size: int = DEFAULT_RAM_SIZE
    smp: str | None = None
    name: str | None = None
    drives: list[tuple[dict[str, str], str]] = field(default_factory=list)
    snapshot: bool = False
    devices: list[tuple[dict[str, str], str]] = field(default_factory=list)
    objects: list[tuple[dict[str, str], str]] = field(default_factory=list)
    display: str | None = None
    nographic: bool = False
    chardevs: list[tuple[dict[str, str], str]] = field(default_factory=list)
    bios: str | None = None
    kernel: str | None = None
    append: str | None = None
    initrd: str | None = None
    dtb: str | None = None
    serials: list[str] = field(default_factory=list)
    #: -monitor / -qmp / -qmp-pretty: (spec, loc, mode, pretty)
    monitors: list[tuple[str, str | None, str, bool]] = field(default_factory=list)
    mons: list[tuple[dict[str, str], str]] = field(default_factory=list)
    start_paused: bool = False
    gdb: tuple[str, str] | None = None  # -gdb / -s: (device, loc)
    log_items: list[str] = field(default_factory=list)
    log_file: str | None = None
    data_dirs: list[str] = field(default_factory=list)
    no_reboot: bool = False
    no_shutdown: bool = False
    rtc: dict[str, str] = field(default_factory=dict)


def _machine_help() -> str:
    lines = ["Supported machines are:"]
    for name, desc in TARGET.machines:
        lines.append(f"{name:<20} {desc}{' (default)' if name == TARGET.default_machine else ''}")
    return "\n".join(lines)


def _machine_props_help(opts: dict[str, str]) -> str:
    lines = [f"{TARGET.machine_type_name(opts)} options:"]
    for name, type_, desc in TARGET.machine_props or _MACHINE_PROPS:
        lines.append(f"  {name + '=<' + type_ + '>':<22} - {desc}")
    return "\n".join(lines)


def _parse_ram(arg: str, loc: str) -> int:
    try:
        opts = parse_opts(arg, implied_key="size")
    except OptsError as exc:
        _fail(exc, loc)
    for key in opts:
        if key not in ("size", "slots", "maxmem"):
            raise CliError(f"Invalid parameter '{key}'", loc)

    def megs(name: str, text: str) -> int:
        try:
            if text.strip().isdigit():
                return parse_size(name, text.strip() + "M")
            return parse_size(name, text)
        except OptsError as exc:
            _fail(exc, loc)

    size = megs("size", opts["size"]) if "size" in opts else DEFAULT_RAM_SIZE
    if size == 0:
        size = DEFAULT_RAM_SIZE
    size = (size + 8191) & ~8191
    if "slots" in opts and "maxmem" not in opts:
        raise CliError("slots specified but no max-size")
    if "maxmem" in opts:
        maxmem = megs("maxmem", opts["maxmem"])
        if maxmem < size:
            raise CliError(f"invalid value of maxmem: maximum memory size (0x{maxmem:x}) must be at least "
                           f"the initial memory size (0x{size:x})")
    return size


def _parse_display(arg: str, loc: str) -> str:
    kind, _, rest = arg.partition(",")
    if kind in ("help", "?"):
        print("Available display backend types:\nnone")
        raise Exit(0)
    if kind != "none" and kind not in QEMU_DISPLAYS:
        raise CliError(f"Parameter 'type' does not accept value '{kind}'", loc)
    for item in filter(None, rest.split(",")):
        if "=" not in item:
            raise CliError(f"Expected '=' after parameter '{item}'", loc)
    return kind


def _device_option(arg: str, loc: str) -> dict[str, str]:
    from pyqemu.qom.object import QomError, device_help, device_type_help

    TARGET.register_device_types()
    try:
        opts = parse_opts(arg, implied_key="driver")
    except OptsError as exc:
        _fail(exc, loc)
    driver = opts.get("driver")
    if driver in ("help", "?"):
        print(device_help())
        raise Exit(0)
    if opts.get("help") == "on" or opts.get("?") == "on":
        if driver is None:
            print(device_help())
            raise Exit(0)
        try:
            print(device_type_help(driver))
        except QomError as exc:
            _report(str(exc), loc)
        raise Exit(0)
    return opts


def _object_option(arg: str, loc: str) -> dict[str, str]:
    from pyqemu.qom.user_objects import ObjectError, object_help, object_type_help

    try:
        opts = parse_opts(arg, implied_key="qom-type")
    except OptsError as exc:
        _fail(exc, loc)
    qom_type = opts.get("qom-type", "")
    if qom_type in ("help", "?"):
        print(object_help(), end="")
        raise Exit(0)
    if opts.get("help") == "on":
        try:
            print(object_type_help(qom_type), end="")
        except ObjectError as exc:
            raise CliError(str(exc), loc) from None
        raise Exit(0)
    return opts


def _accel_option(arg: str, loc: str) -> dict[str, str]:
    try:
        opts = parse_opts(arg, implied_key="accel")
    except OptsError as exc:
        _fail(exc, loc)
    if opts.get("accel") in ("help", "?"):
        print("Accelerators supported in QEMU binary:\n" + "\n".join(TARGET.accelerators))
        raise Exit(0)
    return opts


def parse_args(argv: list[str]) -> Config:
    """One pass over the command line (QEMU's first loop over the options)."""
    cfg = Config(cpu=TARGET.default_cpu)
    i = 0
    while i < len(argv):
        raw = argv[i]
        i += 1
        if not raw.startswith("-") or raw == "-":
            cfg.drives.append(({"file": raw, "index": "0", "media": "disk", "if": "ide"}, raw))
            continue
        name = raw[2:] if raw.startswith("--") else raw[1:]
        if name not in OPTIONS:
            raise CliError("invalid option", raw)
        arg = ""
        if OPTIONS[name]:
            if i >= len(argv):
                raise CliError("requires an argument", raw)
            arg = argv[i]
            i += 1
        loc = f"-{name} {arg}" if OPTIONS[name] else f"-{name}"
        _apply_option(cfg, name, arg, loc)
    return cfg


def _apply_option(cfg: Config, name: str, arg: str, loc: str) -> None:
    if name in ("h", "help"):
        print(TARGET.usage(), end="")
        raise Exit(0)
    if name == "version":
        print(f"QEMU emulator version {QEMU_VERSION} (pyqemu {__version__})")
        raise Exit(0)
    if name in ("M", "machine"):
        try:
            opts = parse_opts(arg, implied_key="type")
        except OptsError as exc:
            _fail(exc, loc)
        if opts.get("type") in ("help", "?"):
            print(_machine_help())
            raise Exit(0)
        if opts.get("help") == "on":
            print(_machine_props_help(opts))
            raise Exit(0)
        cfg.machine.update(opts)
    elif name == "cpu":
        if arg in ("help", "?"):
            print(TARGET.cpu_help())
            raise Exit(0)
        cfg.cpu = arg
    elif name == "accel":
        cfg.accel.append((_accel_option(arg, loc), loc))
    elif name == "enable-kvm":
        cfg.accel.append(({"accel": "kvm"}, None))
    elif name == "m":
        cfg.ram_size = _parse_ram(arg, loc)
    elif name == "smp":
        cfg.smp = arg
    elif name == "name":
        try:
            opts = parse_opts(arg, implied_key="guest")
        except OptsError as exc:
            _fail(exc, loc)
        for key in opts:
            if key not in ("guest", "process", "debug-threads"):
                raise CliError(f"Invalid parameter '{key}'", loc)
        if "debug-threads" in opts:
            try:
                parse_bool("debug-threads", opts["debug-threads"])
            except OptsError as exc:
                _fail(exc, loc)
        cfg.name = opts.get("guest")
    elif name in ("hda", "hdb", "hdc", "hdd"):
        index = "abcd".index(name[-1])
        cfg.drives.append(({"file": arg, "index": str(index), "media": "disk", "if": "ide"}, loc))
    elif name == "drive":
        try:
            cfg.drives.append((parse_opts(arg), loc))
        except OptsError as exc:
            _fail(exc, loc)
    elif name == "snapshot":
        cfg.snapshot = True
    elif name == "device":
        cfg.devices.append((_device_option(arg, loc), loc))
    elif name == "object":
        cfg.objects.append((_object_option(arg, loc), loc))
    elif name == "display":
        cfg.display = _parse_display(arg, loc)
    elif name == "nographic":
        cfg.nographic = True
    elif name == "chardev":
        try:
            cfg.chardevs.append((parse_opts(arg, implied_key="backend"), loc))
        except OptsError as exc:
            _fail(exc, loc)
    elif name in ("bios", "kernel", "append", "initrd", "dtb"):
        setattr(cfg, name, arg)
    elif name == "serial":
        cfg.serials.append(arg)
    elif name in ("monitor", "qmp", "qmp-pretty"):
        mode = "readline" if name == "monitor" else "control"
        cfg.monitors.append((arg, loc, mode, name == "qmp-pretty"))
    elif name == "mon":
        try:
            cfg.mons.append((parse_opts(arg, implied_key="chardev"), loc))
        except OptsError as exc:
            _fail(exc, loc)
    elif name == "S":
        cfg.start_paused = True
    elif name in ("gdb", "s"):
        from pyqemu.gdbstub.system import DEFAULT_DEVICE

        cfg.gdb = (arg if name == "gdb" else DEFAULT_DEVICE, loc)
    elif name == "d":
        items = [item.strip() for item in arg.split(",")]
        if "help" in items or "?" in items:
            print("Log items (comma separated):\n" + log_help_text())
            raise Exit(1)
        try:
            Log(arg)
        except LogError as exc:
            print(str(exc))
            raise Exit(1) from None
        cfg.log_items.append(arg)
    elif name == "D":
        cfg.log_file = arg
    elif name == "L":
        cfg.data_dirs.append(arg)
    elif name == "no-reboot":
        cfg.no_reboot = True
    elif name == "no-shutdown":
        cfg.no_shutdown = True
    elif name == "rtc":
        try:
            opts = parse_opts(arg, implied_key="base")
        except OptsError as exc:
            _fail(exc, loc)
        for key in opts:
            if key not in ("base", "clock", "driftfix"):
                raise CliError(f"Invalid parameter '{key}'", loc)
        cfg.rtc.update(opts)


# -- checks after the scan ------------------------------------------------------------------------------

def _merge_machine_options(cfg: Config) -> None:
    mtype = cfg.machine.get("type", TARGET.machines[0][0])
    if mtype not in dict(TARGET.machines):
        raise CliError("unsupported machine type", hint="Use -machine help to list supported machines")
    known = {name for name, _, _ in TARGET.machine_props or _MACHINE_PROPS} | {"type", "accel"}
    for key in cfg.machine:
        if key not in known:
            raise CliError(f"Property '{TARGET.machine_type_name(cfg.machine)}.{key}' not found")
    if "firmware" in cfg.machine and cfg.bios is None:
        cfg.bios = cfg.machine["firmware"]
    for key in ("kernel", "initrd", "append", "dtb"):
        if key in cfg.machine and getattr(cfg, key) is None:
            setattr(cfg, key, cfg.machine[key])
    if "accel" in cfg.machine:
        accels = cfg.machine["accel"].split(":")
        usable = [a for a in accels if a in TARGET.accelerators]
        # QEMU falls back along the list
        cfg.accel.append(({"accel": usable[0] if usable else accels[0]}, None))


def _check_accel(cfg: Config) -> None:
    for opts, loc in cfg.accel:
        accel = opts.get("accel", TARGET.default_accel)
        if accel not in TARGET.accelerators:
            raise CliError(f"invalid accelerator {accel}", loc)
        TARGET.check_accel(opts, loc, cfg)


def _check_tcg_accel(opts: dict[str, str], loc: str | None, cfg: Config) -> None:
    for key in opts:
        if key not in _ACCEL_PROPS:
            raise CliError(f"Property 'tcg-accel.{key}' not found", loc)
    if "thread" in opts and opts["thread"] not in ("single", "multi"):
        raise CliError(f"Parameter 'thread' does not accept value '{opts['thread']}'", loc)
    try:
        if "backend" in opts:
            backends.check(opts["backend"])
            cfg.tcg_backend = opts["backend"]
        if "tb-size" in opts:
            cfg.tb_size = backends.parse_tb_size(opts["tb-size"])
    except backends.BackendError as exc:
        raise CliError(str(exc), loc) from None


def _check_cpu(cfg: Config) -> None:
    model, _, props = cfg.cpu.partition(",")
    if model not in CPU_MODELS:
        raise CliError(f"unable to find CPU model '{model}'")
    if props:
        first = props.split(",")[0]
        key = first.partition("=")[0]
        raise CliError(f"can't apply global {model}-riscv-cpu.{first}: Property '{model}-riscv-cpu.{key}' "
                       f"not found")


def parse_smp(text: str | None, cfg_machine: dict[str, str] | None = None) -> int:
    """The number of harts ``-smp`` asks for, with QEMU 7.2's checks and messages."""
    if text is None:
        return 1
    try:
        opts = parse_opts(text, implied_key="cpus")
    except OptsError as exc:
        _fail(exc)
    values: dict[str, int] = {}
    zero = False
    for key, value in opts.items():
        if key not in _SMP_KEYS:
            raise CliError(f"Parameter 'smp.{key}' is unexpected")
        if not value.isdigit():
            raise CliError(f"Parameter 'smp.{key}' expects integer")
        n = int(value)
        if n == 0:
            zero = True
            continue
        values[key] = n
    if zero:
        _report("warning: Deprecated CPU topology (considered invalid): CPU topology parameters must be "
                "greater than zero")
    for key in ("dies", "clusters"):
        if values.get(key, 1) != 1:
            raise CliError(f"{key} not supported by this machine's CPU topology")
    cpus = values.get("cpus")
    maxcpus = values.get("maxcpus")
    sockets = values.get("sockets")
    cores = values.get("cores")
    threads = values.get("threads", 1)
    total = maxcpus or cpus
    if total is None:
        total = (sockets or 1) * (cores or 1) * threads
    if cores is None:
        cores = max(1, total // ((sockets or 1) * threads))
    if sockets is None:
        sockets = max(1, total // (cores * threads))
    product = sockets * cores * threads
    maxcpus = maxcpus or cpus or product
    cpus = cpus or maxcpus
    topology = f"sockets ({sockets}) * cores ({cores}) * threads ({threads})"
    if product != maxcpus:
        raise CliError(f"Invalid CPU topology: product of the hierarchy must match maxcpus: {topology} != "
                       f"maxcpus ({maxcpus})")
    if maxcpus < cpus:
        raise CliError(f"Invalid CPU topology: maxcpus must be equal to or greater than smp: {topology} == "
                       f"maxcpus ({maxcpus}) < smp_cpus ({cpus})")
    machine = TARGET.machine_name(cfg_machine)
    limit = TARGET.max_cpus_for(machine)
    for n in (cpus, maxcpus):
        if n > limit:
            raise CliError(f"Invalid SMP CPUs {n}. The max CPUs supported by machine '{machine}' is {limit}")
    return cpus


def find_data_file(name: str, dirs: list[str]) -> str | None:
    """QEMU's qemu_find_file: the name as a path, then each data directory."""
    if os.access(name, os.R_OK) and not os.path.isdir(name):
        return name
    for d in (*dirs, *DATA_DIRS):
        path = os.path.join(d, name)
        if os.access(path, os.R_OK) and not os.path.isdir(path):
            return path
    return None


def resolve_bios(bios: str | None, dirs: list[str]) -> str | None:
    """The firmware file to load (None for ``-bios none``)."""
    if bios == "none":
        return None
    name = DEFAULT_BIOS if bios in (None, "default") else bios
    path = find_data_file(name, dirs)
    if path is None and name == DEFAULT_BIOS and os.access(OPENSBI_FALLBACK, os.R_OK):
        path = OPENSBI_FALLBACK
    if path is None:
        raise CliError(f'Unable to load the RISC-V firmware "{name}"')
    if os.path.getsize(path) == 0:
        raise CliError(f"could not load firmware '{path}'")
    return path


def check_kernel_options(cfg: Config) -> None:
    """-append and -initrd need a -kernel."""
    if cfg.append is not None:
        raise CliError("-append only allowed with -kernel option")
    if cfg.initrd is not None:
        raise CliError("-initrd only allowed with -kernel option")


def _check_boot_files(cfg: Config) -> None:
    if cfg.dtb is not None and not (os.path.isfile(cfg.dtb) and os.access(cfg.dtb, os.R_OK)):
        raise CliError("load_device_tree() failed",
                       before=(f"Unable to get size of device tree file '{cfg.dtb}'",))
    if cfg.kernel is None:
        check_kernel_options(cfg)
        return
    try:
        os.close(os.open(cfg.kernel, os.O_RDONLY))
    except OSError as exc:
        # QEMU's image loader reports the failed open on a line of its own first
        raise CliError(f"could not load kernel '{cfg.kernel}'",
                       plain=(f"{cfg.kernel}: {os.strerror(exc.errno or 0)}",)) from None
    if not os.path.isfile(cfg.kernel) or os.path.getsize(cfg.kernel) == 0:
        raise CliError(f"could not load kernel '{cfg.kernel}'")
    if cfg.initrd is not None and not (os.path.isfile(cfg.initrd) and os.access(cfg.initrd, os.R_OK)):
        raise CliError(f"could not load ramdisk '{cfg.initrd}'")


def rtc_offset_ns(opts: dict[str, str]) -> int:
    """How far ``-rtc base=`` moves the RTC from the host's UTC clock, in nanoseconds."""
    for key, allowed in (("clock", ("host", "rt", "vm")), ("driftfix", ("none", "slew"))):
        if key in opts and opts[key] not in allowed:
            raise CliError(f"invalid option value '{opts[key]}'")
    base = opts.get("base", "utc")
    if base == "utc":
        return 0
    if base == "localtime":
        now = time.time()
        return int((calendar.timegm(time.localtime(now)) - int(now)) * 1_000_000_000)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            start = calendar.timegm(time.strptime(base, fmt))
        except ValueError:
            continue
        return int((start - time.time()) * 1_000_000_000)
    raise CliError("invalid datetime format", hint="valid formats: '2006-06-17T16:01:21' or '2006-06-17'")


# -- signals ---------------------------------------------------------------------------------------------

def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0")[0]
    except OSError:
        return "<unknown process>"
    return os.path.basename(argv0.decode("utf-8", "replace")) or "<unknown process>"


class SignalWatcher:
    """Receives SIGINT, SIGTERM and SIGHUP on a thread of its own (blocked everywhere else, so the
    sender's pid is known) and asks the main loop to shut down, as QEMU's termsig handler does."""

    def __init__(self) -> None:
        self.old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING_SIGNALS)
        self.handler: Callable[[int, int], None] | None = None
        self._pending: tuple[int, int] | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._wait, name="signals", daemon=True).start()

    def _wait(self) -> None:
        while True:  # every signal is a new request (none stays pending, blocked, for ever)
            info = signal.sigwaitinfo(set(TERMINATING_SIGNALS))
            with self._lock:
                if self.handler is not None:
                    self.handler(info.si_signo, info.si_pid)
                else:
                    self._pending = (info.si_signo, info.si_pid)

    def set_handler(self, handler: Callable[[int, int], None]) -> None:
        with self._lock:
            self.handler = handler
            if self._pending is not None:
                handler(*self._pending)

    def restore(self) -> None:
        """Unblock the signals again (for callers of :func:`main` that go on running), dropping any that
        arrived after the first: unblocked, they would kill the process."""
        pending = signal.sigpending() & set(TERMINATING_SIGNALS)
        while pending and signal.sigtimedwait(pending, 0) is not None:
            pending = signal.sigpending() & set(TERMINATING_SIGNALS)
        signal.pthread_sigmask(signal.SIG_SETMASK, self.old_mask)


def termination_message(signo: int, pid: int) -> str:
    if pid:
        return f"terminating on signal {signo} from pid {pid} ({_process_name(pid)})"
    return f"terminating on signal {signo}"


# -- building the VM -------------------------------------------------------------------------------------

class System:
    """The VM being assembled: chardevs, monitors, drives, the board and its device tree."""

    def __init__(self, cfg: Config):
        from pyqemu.core.main_loop import MainLoop
        from pyqemu.qom.object import DeviceTree
        from pyqemu.qom.user_objects import ObjectRegistry

        self.cfg = cfg
        self.main_loop = MainLoop()
        self.tree = DeviceTree()
        self.chardevs: list[Any] = []
        self.drives: list[Any] = []
        self.machine: Any = None
        self.monitor_chardevs: list[tuple[Any, str, bool]] = []  # (chardev, mode, pretty)
        self.monitors: list[Any] = []
        self.objects = ObjectRegistry()
        self.tree.objects = self.objects
        self.serial: Any = None
        self.virtio_drives: list[tuple[str, str, str | None]] = []  # (drive id, loc, serial)
        self.log: Log | None = None

    # -- chardevs ----------------------------------------------------------------------------------------
    def _quit(self) -> None:
        if self.machine is not None:
            self.machine.request_shutdown(0, "host-qmp-quit")

    def _flush_drives(self) -> None:
        from pyqemu.block.errors import BlockError

        for backend in self.drives:
            try:
                backend.flush()
            except BlockError:
                pass

    def _create_chardev(self, opts: dict[str, str], loc: str | None) -> Any:
        from pyqemu.chardev.registry import ChardevError, create_chardev

        try:
            chardev = create_chardev(opts, self.main_loop, quit=self._quit, flush=self._flush_drives)
        except ChardevError as exc:
            _fail(exc, loc)
        self.chardevs.append(chardev)
        return chardev

    def create_objects(self) -> None:
        from pyqemu.qom.user_objects import ObjectError

        for opts, loc in self.cfg.objects:
            opts = dict(opts)
            qom_type = opts.pop("qom-type", "")
            obj_id = opts.pop("id", None)
            if obj_id is None:
                raise CliError("Parameter 'id' is missing", loc)
            try:
                self.objects.add(qom_type, obj_id, opts)
            except ObjectError as exc:
                raise CliError(str(exc), loc) from None

    def create_chardevs(self) -> None:
        for opts, loc in self.cfg.chardevs:
            chr_id = opts.get("id")
            if chr_id is not None and chr_id in self.tree.chardevs:
                raise CliError(f"Duplicate ID '{chr_id}' for chardev", loc)
            chardev = self._create_chardev(opts, loc)
            self.tree.add_chardev(opts["id"], chardev)

    def _claim(self, chr_id: str) -> Any:
        from pyqemu.qom.object import QomError

        try:
            return self.tree.claim_chardev(None, None, chr_id)
        except QomError as exc:
            message = str(exc)
            if "is in use" in message:
                message = f"Device '{chr_id}' is in use"
            raise CliError(message) from None

    def _legacy_chardev(self, spec: str, label: str, loc: str | None, kind: str) -> tuple[Any, bool]:
        """A -serial/-monitor spec as a chardev: (chardev or None, whether ``mon:`` muxes a monitor)."""
        from pyqemu.chardev.registry import ChardevError, parse_serial_spec

        backend = spec.split(":", 1)[0]
        if backend == "vc" or spec.startswith("vc:"):
            return None, False  # a virtual console of a display pyqemu does not have
        if backend not in _LEGACY_SERIAL and not spec.startswith("/dev/"):
            second = (f"could not connect serial device to character backend '{spec}'" if kind == "serial"
                      else f"parse error: {spec}")
            raise CliError(second, loc, before=(f"'{backend}' is not a valid char driver",))
        try:
            opts, mux_monitor = parse_serial_spec(spec, label)
        except ChardevError as exc:
            _fail(exc, loc)
        if not opts:
            return None, False
        if "chardev" in opts and len(opts) == 1:
            if opts["chardev"] not in self.tree.chardevs:
                raise CliError(f"could not connect serial device to character backend '{spec}'", loc)
            return self._claim(opts["chardev"]), False
        from pyqemu.chardev.registry import create_chardev

        try:
            chardev = create_chardev(opts, self.main_loop, quit=self._quit, flush=self._flush_drives)
        except ChardevError as exc:
            if kind == "serial":
                raise CliError(f"could not connect serial device to character backend '{spec}'", loc,
                               before=(str(exc),)) from None
            _fail(exc, loc)
        self.chardevs.append(chardev)
        self.tree.add_chardev(label, chardev)
        return chardev, mux_monitor

    def create_monitors_and_serials(self) -> None:
        cfg = self.cfg
        serials = list(cfg.serials)
        monitors = list(cfg.monitors)
        if cfg.nographic:
            default_serial, default_monitor = not serials, not monitors and not cfg.mons
            if default_serial and default_monitor:
                serials = ["mon:stdio"]
                serial_locs: list[str | None] = [None]
            else:
                serial_locs = [f"-serial {s}" for s in serials]
                if default_serial:
                    serials, serial_locs = ["stdio"], [None]
                if default_monitor:
                    monitors = [("stdio", None, "readline", False)]
        else:
            serial_locs = [f"-serial {s}" for s in serials]
        for i, (spec, loc, mode, pretty) in enumerate(monitors):
            label = "compat_monitor0" if i == 0 else f"compat_monitor{i}"
            chardev, _ = self._legacy_chardev(spec, label, loc, "monitor")
            if chardev is not None:
                self.monitor_chardevs.append((self._frontend(chardev), mode, pretty))
        for opts, loc in cfg.mons:
            mode = opts.get("mode", "readline")
            if mode not in ("readline", "control"):
                raise CliError(f"Parameter 'mode' does not accept value '{mode}'", loc)
            try:
                pretty = parse_bool("pretty", opts.get("pretty", "off"))
            except OptsError as exc:
                _fail(exc, loc)
            chr_id = opts.get("chardev", "")
            if chr_id not in self.tree.chardevs:
                raise CliError(f'chardev "{chr_id}" not found', loc)
            self.monitor_chardevs.append((self._claim(chr_id), mode, pretty))
        for i, (spec, loc) in enumerate(zip(serials, serial_locs, strict=True)):
            chardev, mux_monitor = self._legacy_chardev(spec, f"serial{i}", loc, "serial")
            if i != 0 or chardev is None:
                continue  # the board has one UART: later serial ports are created but unused
            if mux_monitor:
                self.monitor_chardevs.append((chardev.add_frontend(), "readline", False))
                self.serial = chardev.add_frontend()
            else:
                self.serial = self._frontend(chardev)

    @staticmethod
    def _frontend(chardev: Any) -> Any:
        add = getattr(chardev, "add_frontend", None)
        return add() if add is not None else chardev

    # -- drives -----------------------------------------------------------------------------------------
    def create_drives(self) -> None:
        from pyqemu.block.drive import open_drive, parse_drive
        from pyqemu.block.errors import BlockError

        counters: dict[str, int] = {}
        for opts, loc in self.cfg.drives:
            opts = dict(opts)
            if self.cfg.snapshot and "snapshot" not in opts:
                opts["snapshot"] = "on"
            try:
                dcfg = parse_drive(opts)
            except BlockError as exc:
                raise CliError(str(exc), loc) from None
            drive_id = dcfg.id
            if drive_id is not None:
                try:
                    check_id(drive_id)
                except OptsError as exc:
                    _fail(exc, loc)
                if drive_id in self.tree.drives:
                    raise CliError(f"Duplicate ID '{drive_id}' for drive", loc)
            iface = dcfg.interface
            index = dcfg.index if dcfg.index is not None else counters.get(iface, 0)
            counters[iface] = index + 1
            if drive_id is None:
                drive_id = f"{iface}{index}" if iface in ("virtio", "none") else f"{iface}0-hd{index}"
            if dcfg.file:
                self._check_image(dcfg.file, loc)
            try:
                backend = open_drive(dcfg, drive_id)
            except BlockError as exc:
                message = str(exc)
                prefix = f"could not open disk image {dcfg.file}: "
                message = message[len(prefix):] if message.startswith(prefix) else message
                raise CliError(message, loc) from None
            self.drives.append(backend)
            if dcfg.file and dcfg.format is None and getattr(backend.driver, "format_name", "") == "raw":
                print(f"WARNING: Image format was not specified for '{dcfg.file}' and probing guessed raw.\n"
                      "         Automatically detecting the format is dangerous for raw images, write "
                      "operations on block 0 will be restricted.\n"
                      "         Specify the 'raw' format explicitly to remove the restrictions.",
                      file=sys.stderr)
            if iface not in ("virtio", "none"):
                bus = dcfg.bus or 0
                unit = dcfg.unit if dcfg.unit is not None else index
                raise CliError(f"machine type does not support if={iface},bus={bus},unit={unit}", loc)
            self.tree.add_drive(drive_id, backend)
            if iface == "virtio":
                self.virtio_drives.append((drive_id, loc, dcfg.serial))

    @staticmethod
    def _check_image(path: str, loc: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CliError(f"Could not open '{path}': {os.strerror(exc.errno or 0)}", loc) from None
        os.close(fd)

    # -- the board ----------------------------------------------------------------------------------------
    def create_virt_machine(self, harts: int, bios: str | None) -> None:
        from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine

        cfg = self.cfg
        try:
            self.log = Log(",".join(cfg.log_items), cfg.log_file)
        except OSError as exc:
            raise CliError(f"could not open log file '{cfg.log_file}': {os.strerror(exc.errno or 0)}") \
                from None
        vcfg = VirtConfig(ram_size=cfg.ram_size, smp=harts, bios=bios, kernel=cfg.kernel,
                          initrd=cfg.initrd, append=cfg.append or "", dtb=cfg.dtb, serial=self.serial,
                          log=self.log, main_loop=self.main_loop, tcg_backend=cfg.tcg_backend,
                          tb_size=cfg.tb_size)
        try:
            self.machine = VirtMachine(vcfg)
        except (MemoryError, OverflowError) as exc:
            raise CliError("cannot set up guest memory 'riscv_virt_board.ram': Cannot allocate memory") \
                from exc
        except OSError as exc:
            if exc.errno == 12:
                raise CliError("cannot set up guest memory 'riscv_virt_board.ram': Cannot allocate memory") \
                    from None
            raise CliError(f"{exc.filename or 'boot image'}: {os.strerror(exc.errno or 0)}") from None
        except ValueError as exc:
            detail = str(exc)
            for prefix, what, path in (("kernel ", "kernel", cfg.kernel), ("firmware ", "firmware", bios),
                                       ("initrd ", "ramdisk", cfg.initrd)):
                if detail.startswith(prefix):
                    raise CliError(f"could not load {what} '{path}'", before=(detail,)) from None
            raise CliError(detail) from None
        self.machine.no_reboot = cfg.no_reboot

    def create_virt_devices(self) -> None:
        from pyqemu.hw.riscv import virt_qdev

        virt_qdev.populate(self.tree, self.machine)
        self.add_devices()

    def add_devices(self) -> None:
        """The ``-device`` options and the ``-drive if=virtio`` disks, on a populated tree."""
        from pyqemu.qom.object import QomError

        self.machine.reset_handlers.append(self.tree.reset)
        for opts, loc in self.cfg.devices:
            try:
                self.tree.device_add(opts)
            except OptsError as exc:
                _fail(exc, loc)
        for drive_id, loc, serial in self.virtio_drives:
            opts = {"driver": TARGET.virtio_blk_type(), "drive": drive_id}
            if serial:
                opts["serial"] = serial
            try:
                self.tree.device_add(opts)
            except QomError as exc:
                _fail(exc, loc)

    def create_monitor_objects(self) -> None:
        from pyqemu.chardev.mux import MuxFrontend
        from pyqemu.monitor import Monitor, MonitorTarget, QmpCommands, QmpMonitor, wire_events

        cfg = self.cfg
        props = {"append": cfg.append or "", "dtb": cfg.dtb or "", "dumpdtb": "",
                 "firmware": cfg.bios or "", "initrd": cfg.initrd or "", "kernel": cfg.kernel or ""}
        target = MonitorTarget(self.machine, tree=self.tree, name=cfg.name, drives=self.drives,
                               objects=self.objects, machine_props=props,
                               **TARGET.monitor_target_options(cfg))
        commands = QmpCommands(target)
        for chardev, mode, pretty in self.monitor_chardevs:
            if mode == "control":
                monitor: Any = QmpMonitor(chardev, commands.dispatcher, pretty=pretty)
                target.qmp_monitors.append(monitor)
            else:
                monitor = Monitor(chardev, target, commands)
            self.monitors.append(monitor)
        wire_events(target)
        self.tree.machine_ready = True
        if isinstance(self.serial, MuxFrontend):
            # the monitor took the focus when it attached; as in QEMU the guest's console starts with it
            self.serial.mux.set_focus(self.serial.index)

    def close(self) -> None:
        from pyqemu.block.errors import BlockError

        self.objects.close()
        close = getattr(self.machine, "close", None)
        if close is not None:
            close()
        for chardev in reversed(self.chardevs):
            try:
                chardev.close()
            except OSError:
                pass
        for backend in self.drives:
            try:
                backend.close()
            except BlockError:
                pass
        if self.log is not None and self.log.stream not in (sys.stderr, sys.stdout):
            self.log.stream.close()


def _run(cfg: Config, watcher: SignalWatcher) -> int:
    from pyqemu.chardev.mux import ChardevMux

    _merge_machine_options(cfg)
    _check_accel(cfg)
    TARGET.check_cpu(cfg)
    if cfg.gdb is not None and not TARGET.has_gdbstub:
        raise CliError("the gdbstub cannot debug the vCPUs of this emulator yet (pyqemu)", cfg.gdb[1])
    harts = parse_smp(cfg.smp, cfg.machine)
    TARGET.check_boot_files(cfg)
    bios = TARGET.resolve_bios(cfg)
    rtc_offset = rtc_offset_ns(cfg.rtc)
    system = System(cfg)
    try:
        system.create_objects()
        system.create_chardevs()
        system.create_monitors_and_serials()
        system.create_drives()
        TARGET.create_machine(system, harts, bios)
        TARGET.create_devices(system)
        machine = system.machine
        status = TARGET.after_machine(system, cfg, rtc_offset)
        if status is not None:
            return status
        if cfg.start_paused:
            machine.stop("prelaunch")
        system.create_monitor_objects()
        if cfg.gdb is not None:
            _start_gdbstub(system, *cfg.gdb)

        def on_signal(signo: int, pid: int) -> None:
            def stop() -> None:
                _report(termination_message(signo, pid))
                machine.request_shutdown(0, "host-signal")

            system.main_loop.call_soon(stop)

        watcher.set_handler(on_signal)
        for monitor in system.monitors:
            monitor.start()
        for chardev in system.chardevs:
            if isinstance(chardev, ChardevMux):
                chardev.open()  # QEMU opens muxes once the machine is ready
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
        return machine.run()
    finally:
        system.close()


def _start_gdbstub(system: System, spec: str, loc: str) -> None:
    """QEMU's gdbserver_start: serve GDB on the chardev ``-gdb spec`` describes."""
    from pyqemu.chardev.registry import ChardevError, create_chardev
    from pyqemu.gdbstub.system import SystemGdbStub, gdb_chardev_opts

    try:
        opts = gdb_chardev_opts(spec)
        if opts is None:
            return
        if "chardev" in opts:
            if opts["chardev"] not in system.tree.chardevs:
                raise ChardevError(f"chardev \"{opts['chardev']}\" not found")
            chardev = system._claim(opts["chardev"])
        else:
            chardev = create_chardev(opts, system.main_loop)
            system.chardevs.append(chardev)
    except ChardevError as exc:
        _fail(exc, loc)
    SystemGdbStub(system.machine, chardev, _report)


#: the system emulator being run (set by :func:`main`)
TARGET = SystemTarget()


def main(argv: list[str] | None = None, target: SystemTarget | None = None) -> int:
    global TARGET
    TARGET = target if target is not None else SystemTarget()
    argv = list(sys.argv[1:] if argv is None else argv)
    watcher: SignalWatcher | None = None
    try:
        cfg = parse_args(argv)
        watcher = SignalWatcher()
        return _run(cfg, watcher)
    except Exit as exc:
        return exc.status
    except CliError as exc:
        sys.stdout.flush()
        for line in exc.plain:
            print(line, file=sys.stderr)
        for line in exc.before:
            _report(line, exc.loc)
        if str(exc):
            _report(str(exc), exc.loc)
        if exc.hint:
            print(exc.hint, file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
        if watcher is not None:
            watcher.restore()


if __name__ == "__main__":
    sys.exit(main())
