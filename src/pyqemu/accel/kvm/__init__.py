"""KVM accelerator: runs x86-64 guest code on the host CPU through Linux's /dev/kvm.

Layered like rust-vmm's kvm-bindings / kvm-ioctls: :mod:`.kvm_sys` models the kernel ABI
(``<linux/kvm.h>`` constants, ioctl numbers and structures as ctypes), :mod:`.kvm` wraps it in the
``Kvm`` (system fd) / ``VM`` (VM fd, memory slots, irqchip, PIT) / ``VCPU`` (vCPU fd, register
state, ``KVM_RUN`` with decoded exits) object hierarchy.
"""

from pyqemu.accel.kvm.kvm import VCPU, VM, Kvm, KvmError, kvm_available

__all__ = ["VCPU", "VM", "Kvm", "KvmError", "kvm_available"]
