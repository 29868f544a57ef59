"""The /dev/kvm object hierarchy: ``Kvm`` (system fd), ``VM`` (VM fd) and ``VCPU`` (vCPU fd).

Models what rust-vmm's kvm-ioctls provides on top of the raw ABI in :mod:`.kvm_sys`: safe
wrappers for the system, VM and vCPU ioctls (every failure is a :class:`KvmError`, an ``OSError``
carrying the errno and the name of the ioctl), guest RAM as anonymous host mappings registered
as memory slots, the mmap'ed ``kvm_run`` page, and ``VCPU.run()`` returning one small decoded
record per exit kind (``IoExit``, ``MmioExit``, ``Hlt``, ``Shutdown``, ...). Completing a guest
read (port IN or MMIO load) is done by filling the exit's ``data`` view, or calling
``VCPU.complete_read``, before the next ``run()``.

Messages for an unusable /dev/kvm follow QEMU 2.1's ``kvm_init`` wording.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Self, TypeVar

from pyqemu.accel.kvm import kvm_sys as sys_
from pyqemu.accel.kvm.kvm_sys import (
    kvm_clock_data,
    kvm_cpuid_entry2,
    kvm_dirty_log,
    kvm_fpu,
    kvm_irq_level,
    kvm_pit_config,
    kvm_regs,
    kvm_run,
    kvm_sregs,
    kvm_userspace_memory_region,
)

DEFAULT_DEVICE = "/dev/kvm"

#: Capabilities QEMU 2.1 refuses to start without (``kvm_required_capabilites``).
REQUIRED_CAPABILITIES: tuple[int, ...] = (
    sys_.KVM_CAP_USER_MEMORY,
    sys_.KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
    sys_.KVM_CAP_JOIN_MEMORY_REGIONS_WORKS,
)

#: Signal used to kick a vCPU thread out of KVM_RUN (QEMU's SIG_IPI is SIGUSR1).
KICK_SIGNAL = signal.SIGUSR1

UPGRADE_NOTE = (
    "Please upgrade to at least kernel 2.6.29 or recent kvm-kmod\n"
    "(see http://sourceforge.net/projects/kvm)."
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.restype = ctypes.c_int
#: ioctl(fd, request, 0) with fixed argument types: KVM_RUN, the hot call of every vCPU thread
_run_ioctl = ctypes.CDLL(None, use_errno=True).ioctl
_run_ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong)
_run_ioctl.restype = ctypes.c_int


class KvmError(OSError):
    """A failed KVM ioctl or an unusable /dev/kvm (errno, message naming the ioctl)."""


def _name(request: int) -> str:
    return sys_.IOCTL_NAMES.get(request, f"ioctl {request:#x}")


_S = TypeVar("_S", bound="ctypes._CData")


def _filled(fd: int, request: int, arg: _S) -> _S:
    """``arg`` after the KVM_GET_* ioctl ``request`` has filled it in."""
    _ioctl(fd, request, arg)
    return arg


def _ioctl(fd: int, request: int, arg: int | ctypes._CData | None = None) -> int:
    """ioctl(2) through libc; the GIL is released for the call (KVM_RUN blocks)."""
    if arg is None:
        carg: object = ctypes.c_ulong(0)
    elif isinstance(arg, int):
        carg = ctypes.c_ulong(arg)
    else:
        carg = ctypes.byref(arg)
    ret = _libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(request), carg)
    if ret < 0:
        err = ctypes.get_errno()
        raise KvmError(err, f"{_name(request)} failed: {os.strerror(err)}")
    return ret


# --------------------------------------------------------------------------------------------
# availability
# --------------------------------------------------------------------------------------------


def kvm_available(path: str = DEFAULT_DEVICE) -> str | None:
    """None if KVM can be used through ``path``, else QEMU's reason why not."""
    try:
        kvm = Kvm(path)
    except KvmError as exc:
        return str(exc.strerror)
    kvm.close()
    return None


def hardware_virtualization_missing(path: str = DEFAULT_DEVICE) -> str | None:
    """None when ``path`` is KVM on Intel VT-x or AMD-V (``kvm_intel``/``kvm_amd`` loaded), else why not.

    Small guests run on any working /dev/kvm; an unmodified Linux kernel needs the real thing, which a
    software nested hypervisor such as ``kvm_pvm`` is not.
    """
    reason = kvm_available(path)
    if reason is not None:
        return f"{path}: {reason}"
    try:
        modules = set(os.listdir("/sys/module"))
    except OSError:
        modules = set()
    if modules & {"kvm_intel", "kvm_amd"}:
        return None
    if "kvm_pvm" in modules:
        return (f"{path} is kvm_pvm, a software nested hypervisor: an unmodified Linux kernel does not boot "
                "under it (this needs Intel VT-x or AMD-V: kvm_intel or kvm_amd)")
    return f"{path} is not backed by Intel VT-x or AMD-V (neither kvm_intel nor kvm_amd is loaded)"


def install_kick_handler() -> None:
    """Install a no-op handler for KICK_SIGNAL so that it interrupts KVM_RUN instead of the process.

    Must be called from the main thread (a Python restriction on ``signal.signal``).
    """
    if signal.getsignal(KICK_SIGNAL) in (signal.SIG_DFL, signal.SIG_IGN, None):
        signal.signal(KICK_SIGNAL, lambda signum, frame: None)


# --------------------------------------------------------------------------------------------
# guest memory
# --------------------------------------------------------------------------------------------


class GuestMemory:
    """An anonymous, private host mapping used as guest RAM (one KVM memory slot)."""

    def __init__(self, size: int) -> None:
        if size <= 0 or size % mmap.PAGESIZE:
            raise ValueError(f"guest memory size {size:#x} must be a positive multiple of the page size")
        self.size = size
        self._mmap = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._anchor = ctypes.c_char.from_buffer(self._mmap)
        self.host_addr: int = ctypes.addressof(self._anchor)
        self.view = memoryview(self._mmap)

    def write(self, offset: int, data: bytes) -> None:
        self.view[offset:offset + len(data)] = data

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.view[offset:offset + size])

    def close(self) -> None:
        if self._mmap.closed or not hasattr(self, "_anchor"):
            return
        self.view.release()
        self.__dict__.pop("_anchor", None)
        try:
            self._mmap.close()
        except BufferError:  # someone still holds a view: the mapping goes with the last one
            pass


# --------------------------------------------------------------------------------------------
# decoded exits
# --------------------------------------------------------------------------------------------


@dataclass
class VcpuExit:
    """Base of the decoded KVM_RUN exits; ``reason`` is the raw KVM_EXIT_* value."""

    reason: int = field(init=False, default=sys_.KVM_EXIT_UNKNOWN)

    @property
    def name(self) -> str:
        return sys_.EXIT_NAMES.get(self.reason, f"exit {self.reason}")


@dataclass
class IoExit(VcpuExit):
    """Port I/O: ``count`` items of ``size`` bytes.

    For OUT, ``data`` is a copy of what the guest wrote; for IN it is a writable view of the kvm_run
    page that the host fills before the next run (valid only until then).
    """

    port: int
    size: int
    direction: int
    count: int
    data: bytes | memoryview
    reason: int = field(init=False, default=sys_.KVM_EXIT_IO)

    @property
    def is_write(self) -> bool:
        return self.direction == sys_.KVM_EXIT_IO_OUT


@dataclass
class MmioExit(VcpuExit):
    """An access outside every memory slot.

    For a write ``data`` is a copy of the ``len`` bytes stored; for a read it is a writable view the
    host fills before the next run.
    """

    addr: int
    data: bytes | memoryview
    len: int
    is_write: bool
    reason: int = field(init=False, default=sys_.KVM_EXIT_MMIO)


@dataclass
class Hlt(VcpuExit):
    reason: int = field(init=False, default=sys_.KVM_EXIT_HLT)


@dataclass
class Shutdown(VcpuExit):
    """Triple fault (or other shutdown condition) of the guest."""

    reason: int = field(init=False, default=sys_.KVM_EXIT_SHUTDOWN)


@dataclass
class Intr(VcpuExit):
    """KVM_RUN was interrupted by a signal (or immediate_exit was set): nothing to emulate."""

    reason: int = field(init=False, default=sys_.KVM_EXIT_INTR)


@dataclass
class SystemEvent(VcpuExit):
    type: int
    flags: int
    data: tuple[int, ...] = ()
    reason: int = field(init=False, default=sys_.KVM_EXIT_SYSTEM_EVENT)


@dataclass
class FailEntry(VcpuExit):
    hardware_entry_failure_reason: int
    cpu: int
    reason: int = field(init=False, default=sys_.KVM_EXIT_FAIL_ENTRY)


@dataclass
class InternalError(VcpuExit):
    suberror: int
    data: tuple[int, ...]
    reason: int = field(init=False, default=sys_.KVM_EXIT_INTERNAL_ERROR)


@dataclass
class Hypercall(VcpuExit):
    nr: int
    args: tuple[int, ...]
    longmode: bool
    reason: int = field(init=False, default=sys_.KVM_EXIT_HYPERCALL)


@dataclass
class UnknownExit(VcpuExit):
    hardware_exit_reason: int
    reason: int = field(init=False, default=sys_.KVM_EXIT_UNKNOWN)


@dataclass
class OtherExit(VcpuExit):
    """An exit reason this layer does not decode (the raw kvm_run stays readable)."""

    raw_reason: int

    def __post_init__(self) -> None:
        self.reason = self.raw_reason


# --------------------------------------------------------------------------------------------
# Kvm / VM / VCPU
# --------------------------------------------------------------------------------------------


class _Fd:
    fd: int

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown, half-built object
            pass

    def check_extension(self, cap: int) -> int:
        """KVM_CHECK_EXTENSION: 0 if ``cap`` is missing, else a positive (often meaningful) value."""
        return _ioctl(self.fd, sys_.KVM_CHECK_EXTENSION, cap)

    def require(self, *caps: int) -> None:
        """Raise QEMU's "kvm does not support KVM_CAP_..." error for the first missing capability."""
        for cap in caps:
            if not self.check_extension(cap):
                name = sys_.CAP_NAMES.get(cap, f"capability {cap}")
                raise KvmError(errno.EINVAL, f"kvm does not support {name}\n{UPGRADE_NOTE}")


class Kvm(_Fd):
    """The /dev/kvm system handle."""

    def __init__(self, path: str = DEFAULT_DEVICE) -> None:
        self.fd = -1
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise KvmError(exc.errno, f"Could not access KVM kernel module: {exc.strerror}") from exc
        version = self.api_version()
        if version != sys_.KVM_API_VERSION:
            self.close()
            msg = "kvm version too old" if version < sys_.KVM_API_VERSION else "kvm version not supported"
            raise KvmError(errno.EINVAL, msg)
        self.path = path

    def api_version(self) -> int:
        return _ioctl(self.fd, sys_.KVM_GET_API_VERSION)

    def vcpu_mmap_size(self) -> int:
        return _ioctl(self.fd, sys_.KVM_GET_VCPU_MMAP_SIZE)

    def supported_cpuid(self, max_entries: int = 256) -> list[kvm_cpuid_entry2]:
        """KVM_GET_SUPPORTED_CPUID, growing the buffer while the kernel says E2BIG."""
        return self._cpuid(sys_.KVM_GET_SUPPORTED_CPUID, max_entries)

    def emulated_cpuid(self, max_entries: int = 256) -> list[kvm_cpuid_entry2]:
        return self._cpuid(sys_.KVM_GET_EMULATED_CPUID, max_entries)

    def _cpuid(self, request: int, n: int) -> list[kvm_cpuid_entry2]:
        while True:
            buf = sys_.cpuid2_struct(n)()
            buf.nent = n
            try:
                _ioctl(self.fd, request, buf)
            except KvmError as exc:
                if exc.errno == errno.E2BIG and n < 65536:
                    n *= 2
                    continue
                raise
            return [kvm_cpuid_entry2.from_buffer_copy(buf.entries[i]) for i in range(buf.nent)]

    def msr_index_list(self) -> list[int]:
        """KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores."""
        n = 64
        while True:
            buf = (ctypes.c_uint32 * (n + 1))()
            buf[0] = n
            try:
                _ioctl(self.fd, sys_.KVM_GET_MSR_INDEX_LIST, buf)
            except KvmError as exc:
                if exc.errno == errno.E2BIG:
                    n = max(buf[0], n * 2)
                    continue
                raise
            return list(buf[1:1 + buf[0]])

    def create_vm(self, machine_type: int = 0) -> VM:
        return VM(self, _ioctl(self.fd, sys_.KVM_CREATE_VM, machine_type))


class VM(_Fd):
    """A KVM virtual machine: memory slots, in-kernel irqchip and PIT, vCPUs."""

    def __init__(self, kvm: Kvm, fd: int) -> None:
        self.kvm = kvm
        self.fd = fd
        self.memory: dict[int, GuestMemory] = {}
        self._slot_base: dict[int, int] = {}
        self.vcpus: list[VCPU] = []

    def set_user_memory_region(self, slot: int, guest_phys_addr: int, userspace_addr: int,
                               memory_size: int, flags: int = 0) -> None:
        """KVM_SET_USER_MEMORY_REGION (``memory_size`` 0 deletes the slot).

        ``flags`` takes KVM_MEM_LOG_DIRTY_PAGES (dirty logging) and KVM_MEM_READONLY.
        """
        region = kvm_userspace_memory_region(slot=slot, flags=flags, guest_phys_addr=guest_phys_addr,
                                             memory_size=memory_size, userspace_addr=userspace_addr)
        _ioctl(self.fd, sys_.KVM_SET_USER_MEMORY_REGION, region)

    def add_memory(self, slot: int, guest_phys_addr: int, size: int, flags: int = 0) -> GuestMemory:
        """Allocate anonymous host memory and map it at ``guest_phys_addr`` as ``slot``."""
        mem = GuestMemory(size)
        try:
            self.set_user_memory_region(slot, guest_phys_addr, mem.host_addr, size, flags)
        except KvmError:
            mem.close()
            raise
        self.memory[slot] = mem
        self._slot_base[slot] = guest_phys_addr
        return mem

    def read_phys(self, addr: int, size: int) -> bytes | None:
        """Guest-physical bytes from the memory slots (None if not all inside one slot)."""
        for slot, mem in self.memory.items():
            base = self._slot_base[slot]
            if base <= addr and addr + size <= base + mem.size:
                return mem.read(addr - base, size)
        return None

    def get_dirty_log(self, slot: int, memory_size: int) -> bytes:
        """KVM_GET_DIRTY_LOG: one bit per page, pages written since the last call (slot needs LOG_DIRTY)."""
        pages = (memory_size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        bitmap = (ctypes.c_uint64 * max(1, (pages + 63) // 64))()
        log = kvm_dirty_log(slot=slot, dirty_bitmap=ctypes.addressof(bitmap))
        _ioctl(self.fd, sys_.KVM_GET_DIRTY_LOG, log)
        return bytes(bitmap)[:(pages + 7) // 8]

    def create_irqchip(self) -> None:
        """KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and per-vCPU LAPICs (before vCPUs)."""
        _ioctl(self.fd, sys_.KVM_CREATE_IRQCHIP)

    def create_pit2(self, flags: int = sys_.KVM_PIT_SPEAKER_DUMMY) -> None:
        _ioctl(self.fd, sys_.KVM_CREATE_PIT2, kvm_pit_config(flags=flags))

    def set_tss_addr(self, addr: int) -> None:
        """KVM_SET_TSS_ADDR: three pages of guest physical space KVM may use (Intel real mode)."""
        _ioctl(self.fd, sys_.KVM_SET_TSS_ADDR, addr)

    def set_identity_map_addr(self, addr: int) -> None:
        _ioctl(self.fd, sys_.KVM_SET_IDENTITY_MAP_ADDR, ctypes.c_uint64(addr))

    def irq_line(self, irq: int, level: int) -> None:
        """KVM_IRQ_LINE: drive GSI ``irq`` of the in-kernel irqchip to ``level``."""
        _ioctl(self.fd, sys_.KVM_IRQ_LINE, kvm_irq_level(irq=irq, level=level))

    def set_gsi_routing(self, routes: Iterable[tuple[int, int, int]]) -> None:
        """KVM_SET_GSI_ROUTING: replace the routing table with ``(gsi, irqchip, pin)`` entries."""
        entries = list(routes)
        buf = sys_.irq_routing_struct(len(entries))()
        buf.nr = len(entries)
        for i, (gsi, chip, pin) in enumerate(entries):
            e = buf.entries[i]
            e.gsi, e.type = gsi, sys_.KVM_IRQ_ROUTING_IRQCHIP
            e.irqchip.irqchip, e.irqchip.pin = chip, pin
        _ioctl(self.fd, sys_.KVM_SET_GSI_ROUTING, buf)

    def get_irqchip(self, chip_id: int) -> sys_.kvm_irqchip:
        """KVM_GET_IRQCHIP: the state of the in-kernel PIC master (0), PIC slave (1) or IOAPIC (2)."""
        return _filled(self.fd, sys_.KVM_GET_IRQCHIP, sys_.kvm_irqchip(chip_id=chip_id))

    def set_irqchip(self, chip: sys_.kvm_irqchip) -> None:
        _ioctl(self.fd, sys_.KVM_SET_IRQCHIP, chip)

    def get_pit2(self) -> sys_.kvm_pit_state2:
        return _filled(self.fd, sys_.KVM_GET_PIT2, sys_.kvm_pit_state2())

    def set_pit2(self, state: sys_.kvm_pit_state2) -> None:
        _ioctl(self.fd, sys_.KVM_SET_PIT2, state)

    def get_clock(self) -> kvm_clock_data:
        return _filled(self.fd, sys_.KVM_GET_CLOCK, kvm_clock_data())

    def set_clock(self, clock: int) -> None:
        _ioctl(self.fd, sys_.KVM_SET_CLOCK, kvm_clock_data(clock=clock))

    def create_vcpu(self, index: int) -> VCPU:
        fd = _ioctl(self.fd, sys_.KVM_CREATE_VCPU, index)
        vcpu = VCPU(self, fd, index)
        self.vcpus.append(vcpu)
        return vcpu

    def close(self) -> None:
        for vcpu in getattr(self, "vcpus", ()):
            vcpu.close()
        for mem in getattr(self, "memory", {}).values():
            mem.close()
        super().close()


class VCPU(_Fd):
    """A virtual CPU: register state through ioctls, KVM_RUN through the shared kvm_run page."""

    def __init__(self, vm: VM, fd: int, index: int) -> None:
        self.vm = vm
        self.fd = fd
        self.index = index
        size = vm.kvm.vcpu_mmap_size()
        self._run_mmap = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.run_struct: kvm_run = kvm_run.from_buffer(self._run_mmap)
        self._page = memoryview(self._run_mmap)
        #: the kvm_run page as bytes (exit data lives at offsets the exit gives)
        self.page = self._page
        self.last_exit: VcpuExit | None = None

    # ---- registers -------------------------------------------------------------------------

    def get_regs(self) -> kvm_regs:
        return _filled(self.fd, sys_.KVM_GET_REGS, kvm_regs())

    def set_regs(self, regs: kvm_regs) -> None:
        _ioctl(self.fd, sys_.KVM_SET_REGS, regs)

    def get_sregs(self) -> kvm_sregs:
        return _filled(self.fd, sys_.KVM_GET_SREGS, kvm_sregs())

    def set_sregs(self, sregs: kvm_sregs) -> None:
        _ioctl(self.fd, sys_.KVM_SET_SREGS, sregs)

    def get_fpu(self) -> kvm_fpu:
        return _filled(self.fd, sys_.KVM_GET_FPU, kvm_fpu())

    def set_fpu(self, fpu: kvm_fpu) -> None:
        _ioctl(self.fd, sys_.KVM_SET_FPU, fpu)

    def get_msrs(self, indices: Iterable[int]) -> dict[int, int]:
        """KVM_GET_MSRS for ``indices``; raises if KVM could not read all of them."""
        idx = list(indices)
        buf = sys_.msrs_struct(len(idx))()
        buf.nmsrs = len(idx)
        for i, index in enumerate(idx):
            buf.entries[i].index = index
        got = _ioctl(self.fd, sys_.KVM_GET_MSRS, buf)
        if got != len(idx):
            raise KvmError(errno.EINVAL, f"KVM_GET_MSRS: MSR {idx[got]:#x} is not supported")
        return {e.index: e.data for e in buf.entries}

    def set_msrs(self, values: Mapping[int, int]) -> None:
        buf = sys_.msrs_struct(len(values))()
        buf.nmsrs = len(values)
        items = list(values.items())
        for i, (index, value) in enumerate(items):
            buf.entries[i].index = index
            buf.entries[i].data = value
        done = _ioctl(self.fd, sys_.KVM_SET_MSRS, buf)
        if done != len(items):
            raise KvmError(errno.EINVAL, f"KVM_SET_MSRS: MSR {items[done][0]:#x} could not be set")

    def set_cpuid2(self, entries: Iterable[kvm_cpuid_entry2]) -> None:
        ents = list(entries)
        buf = sys_.cpuid2_struct(len(ents))()
        buf.nent = len(ents)
        for i, e in enumerate(ents):
            buf.entries[i] = e
        _ioctl(self.fd, sys_.KVM_SET_CPUID2, buf)

    def get_lapic(self) -> sys_.kvm_lapic_state:
        """KVM_GET_LAPIC: the in-kernel local APIC's 1 KiB register page (APIC register layout)."""
        return _filled(self.fd, sys_.KVM_GET_LAPIC, sys_.kvm_lapic_state())

    def set_lapic(self, state: sys_.kvm_lapic_state) -> None:
        _ioctl(self.fd, sys_.KVM_SET_LAPIC, state)

    def get_xsave(self) -> sys_.kvm_xsave:
        """KVM_GET_XSAVE: the x87/SSE/AVX... state in XSAVE layout (needs KVM_CAP_XSAVE)."""
        return _filled(self.fd, sys_.KVM_GET_XSAVE, sys_.kvm_xsave())

    def set_xsave(self, area: sys_.kvm_xsave) -> None:
        _ioctl(self.fd, sys_.KVM_SET_XSAVE, area)

    def get_xcrs(self) -> dict[int, int]:
        """KVM_GET_XCRS: extended control register number -> value (XCR0 is 0; needs KVM_CAP_XCRS)."""
        xcrs = sys_.kvm_xcrs()
        _ioctl(self.fd, sys_.KVM_GET_XCRS, xcrs)
        return {xcrs.xcrs[i].xcr: xcrs.xcrs[i].value for i in range(xcrs.nr_xcrs)}

    def set_xcrs(self, values: Mapping[int, int]) -> None:
        xcrs = sys_.kvm_xcrs(nr_xcrs=len(values))
        for i, (xcr, value) in enumerate(values.items()):
            xcrs.xcrs[i].xcr, xcrs.xcrs[i].value = xcr, value
        _ioctl(self.fd, sys_.KVM_SET_XCRS, xcrs)

    def get_mp_state(self) -> int:
        """KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE, _UNINITIALIZED (an AP waiting for INIT/SIPI), ..."""
        state = sys_.kvm_mp_state()
        _ioctl(self.fd, sys_.KVM_GET_MP_STATE, state)
        return state.mp_state

    def set_mp_state(self, mp_state: int) -> None:
        _ioctl(self.fd, sys_.KVM_SET_MP_STATE, sys_.kvm_mp_state(mp_state=mp_state))

    def set_debugregs(self, dregs: sys_.kvm_debugregs) -> None:
        _ioctl(self.fd, sys_.KVM_SET_DEBUGREGS, dregs)

    def get_debugregs(self) -> sys_.kvm_debugregs:
        return _filled(self.fd, sys_.KVM_GET_DEBUGREGS, sys_.kvm_debugregs())

    def translate(self, linear_address: int) -> int | None:
        """KVM_TRANSLATE: the guest physical address of ``linear_address``, or None if unmapped."""
        tr = sys_.kvm_translation(linear_address=linear_address)
        _ioctl(self.fd, sys_.KVM_TRANSLATE, tr)
        return tr.physical_address if tr.valid else None

    def dump_state(self, code: bool = True) -> str:
        """QEMU's register dump (``info registers`` / after a KVM error), with the Code= line."""
        from pyqemu.accel.kvm.dump import format_x86_state

        regs, sregs = self.get_regs(), self.get_sregs()
        try:
            d = self.get_debugregs()
            dr: tuple[int, ...] = (*d.db, d.dr6, d.dr7)
        except KvmError:
            dr = (0, 0, 0, 0, 0xFFFF0FF0, 0x400)

        def read_code(linear: int) -> int | None:
            try:
                phys = self.translate(linear)
            except KvmError:
                phys = None
            data = None if phys is None else self.vm.read_phys(phys, 1)
            return None if data is None else data[0]

        return format_x86_state(regs, sregs, halted=isinstance(self.last_exit, Hlt), debugregs=dr,
                                read_code=read_code if code else None)

    def get_cpuid2(self, max_entries: int = 256) -> list[kvm_cpuid_entry2]:
        buf = sys_.cpuid2_struct(max_entries)()
        buf.nent = max_entries
        _ioctl(self.fd, sys_.KVM_GET_CPUID2, buf)
        return [kvm_cpuid_entry2.from_buffer_copy(buf.entries[i]) for i in range(buf.nent)]

    # ---- running ---------------------------------------------------------------------------

    def run(self) -> VcpuExit:
        """KVM_RUN once and decode why the vCPU came back (the GIL is released meanwhile)."""
        self._thread = threading.get_ident()
        try:
            _ioctl(self.fd, sys_.KVM_RUN)
        except KvmError as exc:
            if exc.errno in (errno.EINTR, errno.EAGAIN):
                self.run_struct.immediate_exit = 0
                self.last_exit = Intr()
                return self.last_exit
            raise
        self.last_exit = self._decode()
        return self.last_exit

    def run_reason(self) -> int:
        """KVM_RUN once and return the raw exit reason (KVM_EXIT_INTR when a signal or ``immediate_exit``
        ended it), leaving the exit undecoded in :attr:`run_struct`: the vCPU threads' fast path.
        :meth:`decode_exit` makes the record :meth:`run` would have returned."""
        self._thread = threading.get_ident()
        if _run_ioctl(self.fd, sys_.KVM_RUN, 0) < 0:
            err = ctypes.get_errno()
            if err in (errno.EINTR, errno.EAGAIN):
                self.run_struct.immediate_exit = 0
                return sys_.KVM_EXIT_INTR
            raise KvmError(err, f"KVM_RUN failed: {os.strerror(err)}")
        return self.run_struct.exit_reason

    def decode_exit(self) -> VcpuExit:
        """The decoded record of the exit :meth:`run_reason` left."""
        self.last_exit = self._decode()
        return self.last_exit

    def _decode(self) -> VcpuExit:
        r = self.run_struct
        reason = r.exit_reason
        if reason == sys_.KVM_EXIT_IO:
            io = r.io
            n = io.size * io.count
            view = self._page[io.data_offset:io.data_offset + n]
            return IoExit(port=io.port, size=io.size, direction=io.direction, count=io.count,
                          data=bytes(view) if io.direction == sys_.KVM_EXIT_IO_OUT else view)
        if reason == sys_.KVM_EXIT_MMIO:
            m = r.mmio
            off = sys_.kvm_run.exit.offset + sys_.kvm_run_mmio.data.offset
            view = self._page[off:off + m.len]
            return MmioExit(addr=m.phys_addr, data=bytes(view) if m.is_write else view, len=m.len,
                            is_write=bool(m.is_write))
        if reason == sys_.KVM_EXIT_HLT:
            return Hlt()
        if reason == sys_.KVM_EXIT_SHUTDOWN:
            return Shutdown()
        if reason == sys_.KVM_EXIT_INTR:
            return Intr()
        if reason == sys_.KVM_EXIT_SYSTEM_EVENT:
            ev = r.system_event
            return SystemEvent(type=ev.type, flags=ev.flags, data=tuple(ev.data[:min(ev.ndata, 16)]))
        if reason == sys_.KVM_EXIT_FAIL_ENTRY:
            fe = r.fail_entry
            return FailEntry(hardware_entry_failure_reason=fe.hardware_entry_failure_reason, cpu=fe.cpu)
        if reason == sys_.KVM_EXIT_INTERNAL_ERROR:
            ie = r.internal
            return InternalError(suberror=ie.suberror, data=tuple(ie.data[:min(ie.ndata, 16)]))
        if reason == sys_.KVM_EXIT_HYPERCALL:
            hc = r.hypercall
            return Hypercall(nr=hc.nr, args=tuple(hc.args), longmode=bool(hc.longmode))
        if reason == sys_.KVM_EXIT_UNKNOWN:
            return UnknownExit(hardware_exit_reason=r.hw.hardware_exit_reason)
        return OtherExit(raw_reason=reason)

    def complete_read(self, value: bytes | int) -> None:
        """Supply the data of the last IN / MMIO-read exit (bytes, or an int stored little-endian)."""
        ex = self.last_exit
        if not isinstance(ex, IoExit | MmioExit) or ex.is_write:
            raise ValueError(f"last exit {ex!r} is not a read awaiting data")
        n = len(ex.data)
        data = value.to_bytes(n, "little") if isinstance(value, int) else bytes(value)
        if len(data) != n:
            raise ValueError(f"read of {n} bytes completed with {len(data)}")
        ex.data[:] = data

    def set_immediate_exit(self, flag: bool) -> None:
        """Make the next KVM_RUN return at once with EINTR (used to kick a vCPU)."""
        self.run_struct.immediate_exit = int(flag)

    def kick(self) -> None:
        """Make ``run()`` return ``Intr`` soon, from any thread (QEMU's qemu_cpu_kick).

        Sets ``immediate_exit`` (covers a vCPU about to enter KVM_RUN) and sends KICK_SIGNAL to the
        thread last seen in ``run()`` (interrupts one inside it). Needs :func:`install_kick_handler`.
        """
        self.run_struct.immediate_exit = 1
        thread = getattr(self, "_thread", None)
        if thread is not None:
            signal.pthread_kill(thread, KICK_SIGNAL)

    def close(self) -> None:
        if getattr(self, "fd", -1) < 0:
            return
        self.last_exit = None
        self._page.release()
        del self.run_struct
        try:
            self._run_mmap.close()
        except BufferError:  # a decoded exit's data view is still alive; unmapped with it
            pass
        super().close()
