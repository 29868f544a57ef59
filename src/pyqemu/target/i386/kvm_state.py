"""x86 vCPU register state in KVM's terms: the power-on (RESET) state and the loaders' boot state.

* :func:`reset_vcpu` puts a vCPU in the state the Intel SDM Vol. 3A, 10.1.1 "Processor State After
  Reset" gives (QEMU's x86_cpu_reset): real mode, CS.selector F000h with base FFFF0000h and IP FFF0h so
  the first fetch is at FFFFFFF0h, EDX the CPUID family/model/stepping signature, CR0 60000010h, the
  LAPIC enabled at FEE00000h with the BSP flag on the boot processor only.  With the in-kernel LAPIC the
  application processors wait for INIT/SIPI (``KVM_MP_STATE_UNINITIALIZED``).
* :func:`load_cpu_state` loads a :class:`~pyqemu.hw.i386.x86_boot.CpuState` (what the multiboot and Linux
  loaders return for the boot vCPU) into ``kvm_regs``/``kvm_sregs``.
"""

from __future__ import annotations

from pyqemu.accel.kvm import kvm_sys as sys_
from pyqemu.accel.kvm.kvm import VCPU
from pyqemu.hw.i386.x86_boot import CpuState, Segment

APIC_DEFAULT_BASE = 0xFEE00000
MSR_IA32_APICBASE_BSP = 1 << 8
MSR_IA32_APICBASE_ENABLE = 1 << 11
CR0_RESET = 0x60000010  # CD | NW | ET
REG_NAMES = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def _set_segment(seg: sys_.kvm_segment, value: Segment) -> None:
    seg.selector, seg.base, seg.limit, seg.type = value.selector, value.base, value.limit, value.type
    for name in ("present", "dpl", "db", "s", "l", "g", "avl", "unusable"):
        setattr(seg, name, getattr(value, name))


def apic_base(bsp: bool) -> int:
    return APIC_DEFAULT_BASE | MSR_IA32_APICBASE_ENABLE | (MSR_IA32_APICBASE_BSP if bsp else 0)


def reset_vcpu(vcpu: VCPU, signature: int, bsp: bool) -> None:
    """The RESET state of one processor (``signature``: CPUID.1:EAX, which EDX holds after reset)."""
    regs = sys_.kvm_regs(rdx=signature, rip=0xFFF0, rflags=2)
    sregs = vcpu.get_sregs()
    for name in ("es", "ss", "ds", "fs", "gs"):
        _set_segment(getattr(sregs, name), Segment(0, limit=0xFFFF, type=3, g=0))
    _set_segment(sregs.cs, Segment(0xF000, base=0xFFFF0000, limit=0xFFFF, type=0xB, g=0))
    _set_segment(sregs.ldt, Segment(0, limit=0xFFFF, type=2, s=0, g=0))
    _set_segment(sregs.tr, Segment(0, limit=0xFFFF, type=0xB, s=0, g=0))
    sregs.gdt.base = sregs.idt.base = 0
    sregs.gdt.limit = sregs.idt.limit = 0xFFFF
    sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.cr8, sregs.efer = CR0_RESET, 0, 0, 0, 0, 0
    sregs.apic_base = apic_base(bsp)
    for i in range(len(sregs.interrupt_bitmap)):
        sregs.interrupt_bitmap[i] = 0
    vcpu.set_sregs(sregs)
    vcpu.set_regs(regs)
    vcpu.set_fpu(sys_.kvm_fpu(fcw=0x37F, mxcsr=0x1F80))
    vcpu.set_mp_state(sys_.KVM_MP_STATE_RUNNABLE if bsp else sys_.KVM_MP_STATE_UNINITIALIZED)


def load_cpu_state(vcpu: VCPU, state: CpuState) -> None:
    """Enter the guest where a kernel loader says (the boot processor, after :func:`reset_vcpu`)."""
    regs = sys_.kvm_regs(rip=state.rip, rflags=state.rflags)
    for name in REG_NAMES:
        setattr(regs, name, state.reg(name))
    sregs = vcpu.get_sregs()
    for name in ("cs", "ds", "es", "fs", "gs", "ss", "tr"):
        _set_segment(getattr(sregs, name), getattr(state, name))
    _set_segment(sregs.ldt, state.ldt)
    sregs.gdt.base, sregs.gdt.limit = state.gdt_base, state.gdt_limit
    sregs.idt.base, sregs.idt.limit = state.idt_base, state.idt_limit
    sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer = state.cr0, state.cr3, state.cr4, state.efer
    vcpu.set_sregs(sregs)
    vcpu.set_regs(regs)
