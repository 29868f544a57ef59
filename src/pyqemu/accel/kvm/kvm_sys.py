"""The KVM userspace ABI (``<linux/kvm.h>`` and x86's ``<asm/kvm.h>``) as ctypes.

Models what kvm-bindings models for rust-vmm: the API version, capability numbers, exit reasons,
the ioctl request numbers (built with the kernel's ``_IO``/``_IOR``/``_IOW``/``_IOWR`` encoding from
the argument structure sizes, never hard-coded) and the x86-64 structures passed through them.
Layouts follow Documentation/virt/kvm/api.rst and the uapi headers; the tests compare sizes and
offsets against the kernel's own values.
"""

from __future__ import annotations

import ctypes

# --------------------------------------------------------------------------------------------
# ioctl request encoding (include/uapi/asm-generic/ioctl.h; x86 uses the generic layout)
# --------------------------------------------------------------------------------------------

_IOC_NRBITS = 8
_IOC_TYPEBITS = 8
_IOC_SIZEBITS = 14
_IOC_DIRBITS = 2

_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS
_IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS

_IOC_NONE = 0
_IOC_WRITE = 1
_IOC_READ = 2


def _IOC(direction: int, type_: int, nr: int, size: int) -> int:
    """Encode an ioctl request number the way the kernel's ``_IOC`` macro does."""
    if size >= 1 << _IOC_SIZEBITS:
        raise ValueError(f"ioctl argument size {size} does not fit in {_IOC_SIZEBITS} bits")
    return (
        (direction << _IOC_DIRSHIFT)
        | (type_ << _IOC_TYPESHIFT)
        | (nr << _IOC_NRSHIFT)
        | (size << _IOC_SIZESHIFT)
    )


def _size(arg: type | int) -> int:
    return arg if isinstance(arg, int) else ctypes.sizeof(arg)


def _IO(type_: int, nr: int) -> int:
    """``_IO``: no argument data."""
    return _IOC(_IOC_NONE, type_, nr, 0)


def _IOR(type_: int, nr: int, arg: type | int) -> int:
    """``_IOR``: the kernel writes ``arg`` (a ctypes type or a size) back to userspace."""
    return _IOC(_IOC_READ, type_, nr, _size(arg))


def _IOW(type_: int, nr: int, arg: type | int) -> int:
    """``_IOW``: userspace passes ``arg`` in."""
    return _IOC(_IOC_WRITE, type_, nr, _size(arg))


def _IOWR(type_: int, nr: int, arg: type | int) -> int:
    """``_IOWR``: ``arg`` goes both ways."""
    return _IOC(_IOC_READ | _IOC_WRITE, type_, nr, _size(arg))


# --------------------------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------------------------

KVMIO = 0xAE
KVM_API_VERSION = 12

# capabilities (KVM_CHECK_EXTENSION arguments)
KVM_CAP_IRQCHIP = 0
KVM_CAP_HLT = 1
KVM_CAP_USER_MEMORY = 3
KVM_CAP_SET_TSS_ADDR = 4
KVM_CAP_EXT_CPUID = 7
KVM_CAP_NR_VCPUS = 9
KVM_CAP_NR_MEMSLOTS = 10
KVM_CAP_PIT = 11
KVM_CAP_MP_STATE = 14
KVM_CAP_COALESCED_MMIO = 15
KVM_CAP_SYNC_MMU = 16
KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21
KVM_CAP_USER_NMI = 22
KVM_CAP_IRQ_ROUTING = 25
KVM_CAP_IRQ_INJECT_STATUS = 26
KVM_CAP_MCE = 31
KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30
KVM_CAP_IRQFD = 32
KVM_CAP_PIT2 = 33
KVM_CAP_IOEVENTFD = 36
KVM_CAP_SET_IDENTITY_MAP_ADDR = 37
KVM_CAP_ADJUST_CLOCK = 39
KVM_CAP_INTERNAL_ERROR_DATA = 40
KVM_CAP_VCPU_EVENTS = 41
KVM_CAP_DEBUGREGS = 50
KVM_CAP_ENABLE_CAP = 54
KVM_CAP_XSAVE = 55
KVM_CAP_XCRS = 56
KVM_CAP_MAX_VCPUS = 66
KVM_CAP_TSC_DEADLINE_TIMER = 72
KVM_CAP_KVMCLOCK_CTRL = 76
KVM_CAP_READONLY_MEM = 81
KVM_CAP_MULTI_ADDRESS_SPACE = 118
KVM_CAP_IMMEDIATE_EXIT = 136

#: QEMU's names for capabilities, used in "kvm does not support KVM_CAP_..." messages.
CAP_NAMES: dict[int, str] = {
    value: name for name, value in globals().items() if name.startswith("KVM_CAP_")
}

# kvm_userspace_memory_region.flags
KVM_MEM_LOG_DIRTY_PAGES = 1 << 0
KVM_MEM_READONLY = 1 << 1

# kvm_run.exit_reason
KVM_EXIT_UNKNOWN = 0
KVM_EXIT_EXCEPTION = 1
KVM_EXIT_IO = 2
KVM_EXIT_HYPERCALL = 3
KVM_EXIT_DEBUG = 4
KVM_EXIT_HLT = 5
KVM_EXIT_MMIO = 6
KVM_EXIT_IRQ_WINDOW_OPEN = 7
KVM_EXIT_SHUTDOWN = 8
KVM_EXIT_FAIL_ENTRY = 9
KVM_EXIT_INTR = 10
KVM_EXIT_SET_TPR = 11
KVM_EXIT_TPR_ACCESS = 12
KVM_EXIT_NMI = 16
KVM_EXIT_INTERNAL_ERROR = 17
KVM_EXIT_SYSTEM_EVENT = 24
KVM_EXIT_IOAPIC_EOI = 26
KVM_EXIT_X86_RDMSR = 29
KVM_EXIT_X86_WRMSR = 30

EXIT_NAMES: dict[int, str] = {
    value: name[len("KVM_EXIT_"):]
    for name, value in globals().items()
    if name.startswith("KVM_EXIT_") and isinstance(value, int)
}

# kvm_run.io.direction
KVM_EXIT_IO_IN = 0
KVM_EXIT_IO_OUT = 1

# kvm_run.internal.suberror
KVM_INTERNAL_ERROR_EMULATION = 1
KVM_INTERNAL_ERROR_SIMUL_EX = 2
KVM_INTERNAL_ERROR_DELIVERY_EV = 3
KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4

# kvm_run.system_event.type
KVM_SYSTEM_EVENT_SHUTDOWN = 1
KVM_SYSTEM_EVENT_RESET = 2
KVM_SYSTEM_EVENT_CRASH = 3

# kvm_pit_config.flags
KVM_PIT_SPEAKER_DUMMY = 1

# --------------------------------------------------------------------------------------------
# structures (x86-64)
# --------------------------------------------------------------------------------------------

u8 = ctypes.c_uint8
u16 = ctypes.c_uint16
u32 = ctypes.c_uint32
u64 = ctypes.c_uint64
s32 = ctypes.c_int32
s64 = ctypes.c_int64


class kvm_regs(ctypes.Structure):
    """General purpose registers (KVM_GET_REGS / KVM_SET_REGS)."""

    _fields_ = [
        (name, u64)
        for name in (
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
            "rip", "rflags",
        )
    ]  # fmt: skip


class kvm_segment(ctypes.Structure):
    """A segment register with its hidden descriptor cache."""

    _fields_ = [
        ("base", u64),
        ("limit", u32),
        ("selector", u16),
        ("type", u8),
        ("present", u8),
        ("dpl", u8),
        ("db", u8),
        ("s", u8),
        ("l", u8),
        ("g", u8),
        ("avl", u8),
        ("unusable", u8),
        ("padding", u8),
    ]


class kvm_dtable(ctypes.Structure):
    """A descriptor table register (GDTR / IDTR)."""

    _fields_ = [("base", u64), ("limit", u16), ("padding", u16 * 3)]


KVM_NR_INTERRUPTS = 256


class kvm_sregs(ctypes.Structure):
    """Special registers (KVM_GET_SREGS / KVM_SET_SREGS)."""

    _fields_ = [
        ("cs", kvm_segment),
        ("ds", kvm_segment),
        ("es", kvm_segment),
        ("fs", kvm_segment),
        ("gs", kvm_segment),
        ("ss", kvm_segment),
        ("tr", kvm_segment),
        ("ldt", kvm_segment),
        ("gdt", kvm_dtable),
        ("idt", kvm_dtable),
        ("cr0", u64),
        ("cr2", u64),
        ("cr3", u64),
        ("cr4", u64),
        ("cr8", u64),
        ("efer", u64),
        ("apic_base", u64),
        ("interrupt_bitmap", u64 * ((KVM_NR_INTERRUPTS + 63) // 64)),
    ]


class kvm_fpu(ctypes.Structure):
    """x87 / SSE state in FXSAVE terms (KVM_GET_FPU / KVM_SET_FPU)."""

    _fields_ = [
        ("fpr", (u8 * 16) * 8),
        ("fcw", u16),
        ("fsw", u16),
        ("ftwx", u8),
        ("pad1", u8),
        ("last_opcode", u16),
        ("last_ip", u64),
        ("last_dp", u64),
        ("xmm", (u8 * 16) * 16),
        ("mxcsr", u32),
        ("pad2", u32),
    ]


class kvm_msr_entry(ctypes.Structure):
    _fields_ = [("index", u32), ("reserved", u32), ("data", u64)]


class kvm_msrs(ctypes.Structure):
    """Header of KVM_GET_MSRS / KVM_SET_MSRS; ``nmsrs`` kvm_msr_entry follow it."""

    _fields_ = [("nmsrs", u32), ("pad", u32)]


class kvm_msr_list(ctypes.Structure):
    """Header of KVM_GET_MSR_INDEX_LIST; ``nmsrs`` u32 indices follow it."""

    _fields_ = [("nmsrs", u32)]


class kvm_cpuid_entry2(ctypes.Structure):
    _fields_ = [
        ("function", u32),
        ("index", u32),
        ("flags", u32),
        ("eax", u32),
        ("ebx", u32),
        ("ecx", u32),
        ("edx", u32),
        ("padding", u32 * 3),
    ]


KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0


class kvm_cpuid2(ctypes.Structure):
    """Header of KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2; ``nent`` kvm_cpuid_entry2 follow it."""

    _fields_ = [("nent", u32), ("padding", u32)]


def msrs_struct(n: int) -> type[ctypes.Structure]:
    """A ``kvm_msrs`` with room for ``n`` entries (the flexible array made concrete)."""
    return type(f"kvm_msrs_{n}", (ctypes.Structure,),
                {"_fields_": [("nmsrs", u32), ("pad", u32), ("entries", kvm_msr_entry * n)]})


def cpuid2_struct(n: int) -> type[ctypes.Structure]:
    """A ``kvm_cpuid2`` with room for ``n`` entries."""
    return type(f"kvm_cpuid2_{n}", (ctypes.Structure,),
                {"_fields_": [("nent", u32), ("padding", u32), ("entries", kvm_cpuid_entry2 * n)]})


class kvm_userspace_memory_region(ctypes.Structure):
    """A guest memory slot (KVM_SET_USER_MEMORY_REGION)."""

    _fields_ = [
        ("slot", u32),
        ("flags", u32),
        ("guest_phys_addr", u64),
        ("memory_size", u64),
        ("userspace_addr", u64),
    ]


class kvm_dirty_log(ctypes.Structure):
    """KVM_GET_DIRTY_LOG: one bit per page of ``slot``, written to ``dirty_bitmap``."""

    _fields_ = [("slot", u32), ("padding1", u32), ("dirty_bitmap", u64)]


class kvm_pit_config(ctypes.Structure):
    _fields_ = [("flags", u32), ("pad", u32 * 15)]


class _irq_or_status(ctypes.Union):
    _fields_ = [("irq", u32), ("status", s32)]


class kvm_irq_level(ctypes.Structure):
    """KVM_IRQ_LINE: ``irq`` is a GSI of the in-kernel irqchip, ``level`` 0 or 1."""

    _anonymous_ = ("u",)
    _fields_ = [("u", _irq_or_status), ("level", u32)]


# GSI routing (KVM_SET_GSI_ROUTING): where each GSI of the in-kernel irqchip goes
KVM_IRQ_ROUTING_IRQCHIP = 1
KVM_IRQ_ROUTING_MSI = 2
KVM_IRQCHIP_PIC_MASTER = 0
KVM_IRQCHIP_PIC_SLAVE = 1
KVM_IRQCHIP_IOAPIC = 2


class kvm_irq_routing_irqchip(ctypes.Structure):
    _fields_ = [("irqchip", u32), ("pin", u32)]


class kvm_irq_routing_msi(ctypes.Structure):
    _fields_ = [("address_lo", u32), ("address_hi", u32), ("data", u32), ("devid", u32)]


class _irq_routing_u(ctypes.Union):
    _fields_ = [("irqchip", kvm_irq_routing_irqchip), ("msi", kvm_irq_routing_msi), ("pad", u32 * 8)]


class kvm_irq_routing_entry(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("gsi", u32), ("type", u32), ("flags", u32), ("pad", u32), ("u", _irq_routing_u)]


class kvm_irq_routing(ctypes.Structure):
    """Header of KVM_SET_GSI_ROUTING's argument; ``entries`` follow (see :func:`irq_routing_struct`)."""

    _fields_ = [("nr", u32), ("flags", u32)]


def irq_routing_struct(n: int) -> type[ctypes.Structure]:
    class _Routing(ctypes.Structure):
        _fields_ = [("nr", u32), ("flags", u32), ("entries", kvm_irq_routing_entry * n)]
    return _Routing


class kvm_interrupt(ctypes.Structure):
    _fields_ = [("irq", u32)]


KVM_MP_STATE_RUNNABLE = 0
KVM_MP_STATE_UNINITIALIZED = 1
KVM_MP_STATE_INIT_RECEIVED = 2
KVM_MP_STATE_HALTED = 3
KVM_MP_STATE_SIPI_RECEIVED = 4


class kvm_mp_state(ctypes.Structure):
    _fields_ = [("mp_state", u32)]


class kvm_lapic_state(ctypes.Structure):
    """KVM_GET_LAPIC / KVM_SET_LAPIC: the local APIC's register page (``bytes(state.regs)``)."""

    _fields_ = [("regs", u8 * 1024)]


class kvm_irqchip(ctypes.Structure):
    """KVM_GET_IRQCHIP / KVM_SET_IRQCHIP: the state of one in-kernel chip (``chip_id``: PIC master 0,
    slave 1, IOAPIC 2), kept here as its raw 512 bytes."""

    _fields_ = [("chip_id", u32), ("pad", u32), ("chip", u8 * 512)]


class kvm_pit_channel_state(ctypes.Structure):
    _fields_ = [("count", u32), ("latched_count", u16), ("count_latched", u8), ("status_latched", u8),
                ("status", u8), ("read_state", u8), ("write_state", u8), ("write_latch", u8),
                ("rw_mode", u8), ("mode", u8), ("bcd", u8), ("gate", u8), ("count_load_time", s64)]


class kvm_pit_state2(ctypes.Structure):
    """KVM_GET_PIT2 / KVM_SET_PIT2: the in-kernel i8254's three channels."""

    _fields_ = [("channels", kvm_pit_channel_state * 3), ("flags", u32), ("reserved", u32 * 9)]


class kvm_xsave(ctypes.Structure):
    """KVM_GET_XSAVE / KVM_SET_XSAVE: the vCPU's XSAVE area (legacy region, header, extended states)."""

    _fields_ = [("region", u32 * 1024)]


class kvm_xcr(ctypes.Structure):
    _fields_ = [("xcr", u32), ("reserved", u32), ("value", u64)]


class kvm_xcrs(ctypes.Structure):
    """KVM_GET_XCRS / KVM_SET_XCRS: the extended control registers (XCR0)."""

    _fields_ = [("nr_xcrs", u32), ("flags", u32), ("xcrs", kvm_xcr * 16), ("padding", u64 * 16)]


class kvm_clock_data(ctypes.Structure):
    _fields_ = [
        ("clock", u64),
        ("flags", u32),
        ("pad0", u32),
        ("realtime", u64),
        ("host_tsc", u64),
        ("pad", u32 * 4),
    ]


class kvm_translation(ctypes.Structure):
    """KVM_TRANSLATE: guest linear -> guest physical through the vCPU's current paging mode."""

    _fields_ = [
        ("linear_address", u64),
        ("physical_address", u64),
        ("valid", u8),
        ("writeable", u8),
        ("usermode", u8),
        ("pad", u8 * 5),
    ]


class kvm_debugregs(ctypes.Structure):
    _fields_ = [("db", u64 * 4), ("dr6", u64), ("dr7", u64), ("flags", u64), ("reserved", u64 * 9)]


class kvm_enable_cap(ctypes.Structure):
    _fields_ = [("cap", u32), ("flags", u32), ("args", u64 * 4), ("pad", u8 * 64)]


# ---- struct kvm_run, the vCPU's shared page ------------------------------------------------


class kvm_run_hw(ctypes.Structure):
    _fields_ = [("hardware_exit_reason", u64)]


class kvm_run_fail_entry(ctypes.Structure):
    _fields_ = [("hardware_entry_failure_reason", u64), ("cpu", u32)]


class kvm_run_ex(ctypes.Structure):
    _fields_ = [("exception", u32), ("error_code", u32)]


class kvm_run_io(ctypes.Structure):
    """KVM_EXIT_IO: ``count`` items of ``size`` bytes at ``kvm_run + data_offset``."""

    _fields_ = [
        ("direction", u8),
        ("size", u8),
        ("port", u16),
        ("count", u32),
        ("data_offset", u64),
    ]


class kvm_run_mmio(ctypes.Structure):
    _fields_ = [("phys_addr", u64), ("data", u8 * 8), ("len", u32), ("is_write", u8)]


class kvm_run_hypercall(ctypes.Structure):
    _fields_ = [("nr", u64), ("args", u64 * 6), ("ret", u64), ("longmode", u32), ("pad", u32)]


class kvm_run_internal(ctypes.Structure):
    _fields_ = [("suberror", u32), ("ndata", u32), ("data", u64 * 16)]


class _system_event_data(ctypes.Union):
    _fields_ = [("flags", u64), ("data", u64 * 16)]


class kvm_run_system_event(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("type", u32), ("ndata", u32), ("u", _system_event_data)]


class kvm_run_msr(ctypes.Structure):
    _fields_ = [("error", u8), ("pad", u8 * 7), ("reason", u32), ("index", u32), ("data", u64)]


class kvm_run_exit(ctypes.Union):
    """The per-exit-reason union of kvm_run (256 bytes)."""

    _fields_ = [
        ("hw", kvm_run_hw),
        ("fail_entry", kvm_run_fail_entry),
        ("ex", kvm_run_ex),
        ("io", kvm_run_io),
        ("mmio", kvm_run_mmio),
        ("hypercall", kvm_run_hypercall),
        ("internal", kvm_run_internal),
        ("system_event", kvm_run_system_event),
        ("msr", kvm_run_msr),
        ("padding", ctypes.c_char * 256),
    ]


class kvm_run(ctypes.Structure):
    """The mmap'ed vCPU communication page (its first 2352 bytes; I/O data follows)."""

    _anonymous_ = ("exit",)
    _fields_ = [
        ("request_interrupt_window", u8),
        ("immediate_exit", u8),
        ("padding1", u8 * 6),
        ("exit_reason", u32),
        ("ready_for_interrupt_injection", u8),
        ("if_flag", u8),
        ("flags", u16),
        ("cr8", u64),
        ("apic_base", u64),
        ("exit", kvm_run_exit),
        ("kvm_valid_regs", u64),
        ("kvm_dirty_regs", u64),
        ("s", ctypes.c_char * 2048),
    ]


# --------------------------------------------------------------------------------------------
# ioctl request numbers
# --------------------------------------------------------------------------------------------

# system ioctls (on the /dev/kvm fd)
KVM_GET_API_VERSION = _IO(KVMIO, 0x00)
KVM_CREATE_VM = _IO(KVMIO, 0x01)
KVM_GET_MSR_INDEX_LIST = _IOWR(KVMIO, 0x02, kvm_msr_list)
KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03)
KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04)
KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, kvm_cpuid2)
KVM_GET_EMULATED_CPUID = _IOWR(KVMIO, 0x09, kvm_cpuid2)

# VM ioctls
KVM_CREATE_VCPU = _IO(KVMIO, 0x41)
KVM_GET_DIRTY_LOG = _IOW(KVMIO, 0x42, kvm_dirty_log)
KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, kvm_userspace_memory_region)
KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47)
KVM_SET_IDENTITY_MAP_ADDR = _IOW(KVMIO, 0x48, u64)
KVM_CREATE_IRQCHIP = _IO(KVMIO, 0x60)
KVM_IRQ_LINE = _IOW(KVMIO, 0x61, kvm_irq_level)
KVM_IRQ_LINE_STATUS = _IOWR(KVMIO, 0x67, kvm_irq_level)
KVM_SET_GSI_ROUTING = _IOW(KVMIO, 0x6A, kvm_irq_routing)
KVM_GET_IRQCHIP = _IOWR(KVMIO, 0x62, kvm_irqchip)
KVM_SET_IRQCHIP = _IOR(KVMIO, 0x63, kvm_irqchip)  # (sic: declared _IOR in <linux/kvm.h>)
KVM_GET_PIT2 = _IOR(KVMIO, 0x9F, kvm_pit_state2)
KVM_SET_PIT2 = _IOW(KVMIO, 0xA0, kvm_pit_state2)
KVM_SET_CLOCK = _IOW(KVMIO, 0x7B, kvm_clock_data)
KVM_GET_CLOCK = _IOR(KVMIO, 0x7C, kvm_clock_data)
KVM_CREATE_PIT2 = _IOW(KVMIO, 0x77, kvm_pit_config)
KVM_ENABLE_CAP = _IOW(KVMIO, 0xA3, kvm_enable_cap)

# vCPU ioctls
KVM_RUN = _IO(KVMIO, 0x80)
KVM_GET_REGS = _IOR(KVMIO, 0x81, kvm_regs)
KVM_SET_REGS = _IOW(KVMIO, 0x82, kvm_regs)
KVM_GET_SREGS = _IOR(KVMIO, 0x83, kvm_sregs)
KVM_SET_SREGS = _IOW(KVMIO, 0x84, kvm_sregs)
KVM_TRANSLATE = _IOWR(KVMIO, 0x85, kvm_translation)
KVM_INTERRUPT = _IOW(KVMIO, 0x86, kvm_interrupt)
KVM_GET_MSRS = _IOWR(KVMIO, 0x88, kvm_msrs)
KVM_SET_MSRS = _IOW(KVMIO, 0x89, kvm_msrs)
KVM_GET_FPU = _IOR(KVMIO, 0x8C, kvm_fpu)
KVM_SET_FPU = _IOW(KVMIO, 0x8D, kvm_fpu)
KVM_GET_LAPIC = _IOR(KVMIO, 0x8E, kvm_lapic_state)
KVM_SET_LAPIC = _IOW(KVMIO, 0x8F, kvm_lapic_state)
KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, kvm_cpuid2)
KVM_GET_CPUID2 = _IOWR(KVMIO, 0x91, kvm_cpuid2)
KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, kvm_mp_state)
KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, kvm_mp_state)
KVM_NMI = _IO(KVMIO, 0x9A)
KVM_GET_XSAVE = _IOR(KVMIO, 0xA4, kvm_xsave)
KVM_SET_XSAVE = _IOW(KVMIO, 0xA5, kvm_xsave)
KVM_GET_XCRS = _IOR(KVMIO, 0xA6, kvm_xcrs)
KVM_SET_XCRS = _IOW(KVMIO, 0xA7, kvm_xcrs)
KVM_GET_DEBUGREGS = _IOR(KVMIO, 0xA1, kvm_debugregs)
KVM_SET_DEBUGREGS = _IOW(KVMIO, 0xA2, kvm_debugregs)

#: ioctl number -> name, for error messages (every KVM_* constant whose type byte is KVMIO).
IOCTL_NAMES: dict[int, str] = {
    value: name
    for name, value in globals().items()
    if name.startswith("KVM_") and isinstance(value, int) and (value >> _IOC_TYPESHIFT) & 0xFF == KVMIO
}
