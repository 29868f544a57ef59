"""``-accel kvm``: the VM, its in-kernel irqchip and PIT, and one host thread per vCPU (QEMU
accel/kvm/kvm-all.c kvm_init / kvm_cpu_exec, accel/kvm/kvm-accel-ops.c, target/i386/kvm/kvm.c).

:class:`KvmAccel` opens ``/dev/kvm``, checks the capabilities QEMU 2.1 requires (with QEMU's messages),
creates the VM with the x86 setup QEMU does (identity-map and TSS pages just below the BIOS, the in-kernel
PIC/IOAPIC/LAPIC with QEMU's GSI routing -- ISA IRQ 0 on IOAPIC pin 2, as the MADT's override says -- and
the in-kernel PIT), keeps the memory slots in step with the board's memory (:mod:`.memslots`) and creates
the vCPUs with their CPUID table.

Each vCPU runs ``KVM_RUN`` on a thread of its own, with the GIL released inside the ioctl.  Exits are
handled under the machine's big lock (:attr:`pyqemu.core.machine.Machine.lock`, QEMU's BQL): port I/O
goes to the board's "I/O" address space (unassigned ports read as all ones), MMIO to its memory address
space.  ``KVM_EXIT_SHUTDOWN`` (a triple fault) asks for a guest reset; the ``SYSTEM_EVENT`` exits for
shutdown, reset and crash too.  An internal error, a failed entry or an unknown exit prints QEMU's report
with the register dump and stops the VM in the ``internal-error`` run state, where QEMU 7.2 leaves it.

Stop and continue park and release the vCPU threads: a parked thread waits on a condition of the big lock;
stopping kicks every vCPU out of ``KVM_RUN`` (``immediate_exit`` and a signal) and waits for all of them
to park, as QEMU's pause_all_vcpus does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pyqemu.accel.kvm import kvm_sys as sys_
from pyqemu.accel.kvm.dump import exit_error_message
from pyqemu.accel.kvm.kvm import (
    VCPU,
    FailEntry,
    InternalError,
    Kvm,
    KvmError,
    MmioExit,
    OtherExit,
    Shutdown,
    SystemEvent,
    UnknownExit,
    install_kick_handler,
)
from pyqemu.accel.kvm.memslots import MemorySlots
from pyqemu.exec.memory import AddressSpace

KVM_EXIT_IO = sys_.KVM_EXIT_IO
#: exits the vCPU thread handles from the raw reason, without a decoded record
_FAST_EXITS = frozenset({sys_.KVM_EXIT_IO, sys_.KVM_EXIT_INTR, sys_.KVM_EXIT_HLT})
#: guest-physical pages KVM may use on Intel hosts for real mode (QEMU's pc: just below the BIOS)
IDENTITY_MAP_ADDR = 0xFEFFC000
TSS_ADDR = 0xFEFFD000
#: capabilities without which QEMU 2.1's kvm_init gives up
REQUIRED_CAPS = (sys_.KVM_CAP_USER_MEMORY, sys_.KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
                 sys_.KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, sys_.KVM_CAP_IRQCHIP, sys_.KVM_CAP_IRQ_ROUTING,
                 sys_.KVM_CAP_PIT2, sys_.KVM_CAP_SET_TSS_ADDR, sys_.KVM_CAP_EXT_CPUID, sys_.KVM_CAP_MP_STATE)
IOAPIC_PINS = 24
ISA_IRQS = 16
#: (function, index, flags, eax, ebx, ecx, edx) of one CPUID leaf
CpuidEntry = tuple[int, int, int, int, int, int, int]


def pc_gsi_routes() -> list[tuple[int, int, int]]:
    """QEMU's kvm_pc_setup_irq_routing: GSIs 0-15 on the PICs (0-7 master, 8-15 slave, but not GSI 2,
    the cascade), GSIs 0-23 on the IOAPIC except that GSI 0 (the PIT) arrives at pin 2."""
    routes: list[tuple[int, int, int]] = []
    for gsi in range(ISA_IRQS):
        if gsi == 2:
            continue
        chip = sys_.KVM_IRQCHIP_PIC_MASTER if gsi < 8 else sys_.KVM_IRQCHIP_PIC_SLAVE
        routes.append((gsi, chip, gsi & 7))
    for gsi in range(IOAPIC_PINS):
        if gsi != 2:
            routes.append((gsi, sys_.KVM_IRQCHIP_IOAPIC, 2 if gsi == 0 else gsi))
    return routes


#: MSRs a system reset puts back to what KVM had at VM creation (those KVM has): SYSENTER, MISC_ENABLE, PAT,
#: the MTRR default type, the SYSCALL MSRs, FS/GS/KERNEL_GS bases and KVM's paravirtual MSRs (kvmclock,
#: async page faults, steal time, PV EOI: enable bits off, so a rebooted guest is not written to)
RESET_MSRS = (0x174, 0x175, 0x176, 0x1A0, 0x277, 0x2FF, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,
              0xC0000100, 0xC0000101, 0xC0000102, 0x11, 0x12, 0x4B564D00, 0x4B564D01, 0x4B564D02, 0x4B564D03,
              0x4B564D04)
DR6_RESET, DR7_RESET = 0xFFFF0FF0, 0x400


class PowerOnState:
    """What KVM had when the VM was made -- the in-kernel PICs, IOAPIC and PIT, and per vCPU the local
    APIC, the :data:`RESET_MSRS`, XCR0 -- put back at each system reset (with the debug registers' reset
    values), so that nothing a guest programmed survives a reboot (QEMU's kvm_arch_reset_vcpu and the
    irqchip/PIT resets)."""

    def __init__(self, kvm: Kvm, vm: Any, vcpus: Sequence[VCPU]) -> None:
        self.vm = vm
        self.vcpus = list(vcpus)
        self.chips = [vm.get_irqchip(chip) for chip in (sys_.KVM_IRQCHIP_PIC_MASTER,
                                                       sys_.KVM_IRQCHIP_PIC_SLAVE, sys_.KVM_IRQCHIP_IOAPIC)]
        self.pit = vm.get_pit2()
        known = set(kvm.msr_index_list())
        has_xcrs = bool(kvm.check_extension(sys_.KVM_CAP_XCRS))
        self.per_cpu = [(vcpu.get_lapic(), _readable_msrs(vcpu, [m for m in RESET_MSRS if m in known]),
                         vcpu.get_xcrs() if has_xcrs else None) for vcpu in self.vcpus]

    def restore(self) -> None:
        for chip in self.chips:
            self.vm.set_irqchip(chip)
        self.vm.set_pit2(self.pit)
        for vcpu, (lapic, msrs, xcrs) in zip(self.vcpus, self.per_cpu, strict=True):
            vcpu.set_lapic(lapic)
            if msrs:
                vcpu.set_msrs(msrs)
            if xcrs:
                vcpu.set_xcrs(xcrs)
            vcpu.set_debugregs(sys_.kvm_debugregs(dr6=DR6_RESET, dr7=DR7_RESET))


def _readable_msrs(vcpu: VCPU, indices: Sequence[int]) -> dict[int, int]:
    """The values of those of ``indices`` this vCPU can read (KVM lists some it refuses for a model)."""
    values: dict[int, int] = {}
    for index in indices:
        try:
            values.update(vcpu.get_msrs([index]))
        except KvmError:
            pass
    return values


class KvmVcpuLimit(Exception):  # noqa: N818 - QEMU's message is the point
    """More vCPUs than KVM can run (the message is QEMU's)."""


class KvmCpu:
    """One vCPU and its thread; ``index`` is its APIC id."""

    def __init__(self, accel: KvmAccel, vcpu: VCPU) -> None:
        self.accel = accel
        self.vcpu = vcpu
        self.index = vcpu.index
        self.cpu_index = vcpu.index
        self.thread: threading.Thread | None = None
        #: parked at the accelerator's condition (stopped VM)
        self.parked = False
        #: the initial register state, put back on every system reset (None: KVM's reset state)
        self.reset_state: Callable[[VCPU], None] | None = None


class KvmAccel:
    """The KVM side of a machine: VM, irqchip, PIT, memory slots and vCPU threads."""

    def __init__(self, machine: Any, memory: AddressSpace, io: AddressSpace, smp: int,
                 cpuid: Callable[[int, Kvm], Sequence[CpuidEntry]] | None = None,
                 path: str = "/dev/kvm", warn: Callable[[str], None] | None = None) -> None:
        self.machine = machine
        self.memory = memory
        self.io = io
        self.kvm = Kvm(path)
        self.vm: Any = None
        self.slots: MemorySlots | None = None
        try:
            self.kvm.require(*REQUIRED_CAPS)
            self._check_vcpu_limits(smp, warn)
            self.vm = self.kvm.create_vm()
            self.vm.set_identity_map_addr(IDENTITY_MAP_ADDR)
            self.vm.set_tss_addr(TSS_ADDR)
            self.vm.create_irqchip()
            self.vm.set_gsi_routing(pc_gsi_routes())
            self.vm.create_pit2()
            self.slots = MemorySlots(self.vm, memory)
            self.cpus = [KvmCpu(self, self.vm.create_vcpu(i)) for i in range(smp)]
            if cpuid is not None:
                for cpu in self.cpus:
                    cpu.vcpu.set_cpuid2(_entries(cpuid(cpu.index, self.kvm)))
            self.power_on = PowerOnState(self.kvm, self.vm, [cpu.vcpu for cpu in self.cpus])
        except BaseException:
            self._close_kvm()
            raise
        self.cond = threading.Condition(machine.lock)
        self.paused = True
        self.quit = False
        self._io_read = io.read
        self._io_write = io.write
        self._io_find = io.find

    def _check_vcpu_limits(self, smp: int, warn: Callable[[str], None] | None) -> None:
        """QEMU's kvm_init checks: beyond KVM's recommended vCPU count a warning, beyond its maximum
        :class:`KvmVcpuLimit`."""
        soft = self.kvm.check_extension(sys_.KVM_CAP_NR_VCPUS) or 4
        hard = self.kvm.check_extension(sys_.KVM_CAP_MAX_VCPUS) or soft
        if smp > hard:
            raise KvmVcpuLimit(f"Number of SMP cpus requested ({smp}) exceeds the maximum cpus supported by "
                               f"KVM ({hard})")
        if smp > soft and warn is not None:
            for kind in ("SMP", "hotpluggable"):  # (-smp maxcpus= is the number of vCPUs here)
                warn(f"warning: Number of {kind} cpus requested ({smp}) exceeds the recommended cpus "
                     f"supported by KVM ({soft})")

    # -- interrupts ---------------------------------------------------------------------------------------
    def set_irq(self, gsi: int, level: int) -> None:
        """Drive an input of the in-kernel irqchip (an ISA IRQ or an IOAPIC pin)."""
        self.vm.irq_line(gsi, level)

    # -- the threads --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the vCPU threads (parked until :meth:`resume`); call from the main thread."""
        install_kick_handler()
        for cpu in self.cpus:
            cpu.thread = threading.Thread(target=self._cpu_thread, args=(cpu,), name=f"CPU {cpu.index}/KVM",
                                          daemon=True)
            cpu.thread.start()

    def resume(self) -> None:
        with self.cond:
            self.paused = False
            for cpu in self.cpus:
                cpu.vcpu.set_immediate_exit(False)
            self.cond.notify_all()

    def pause(self) -> None:
        """Stop every vCPU and wait until they are parked (call with or without the big lock)."""
        with self.cond:
            self.paused = True
            me = threading.current_thread()
            running = [c for c in self.cpus if c.thread is not None and c.thread is not me]
            while True:
                running = [c for c in running if c.thread is not None and c.thread.is_alive()
                           and not c.parked]
                if not running:
                    return
                for cpu in running:
                    cpu.vcpu.kick()
                self.cond.wait(0.05)

    def wait_while_stopped(self) -> bool:
        """On a vCPU thread: count as parked (a stop, a reset may go ahead) until the VM runs again or
        shuts down; True.  Elsewhere False: the main loop's thread must keep polling instead."""
        me = threading.current_thread()
        cpu = next((c for c in self.cpus if c.thread is me), None)
        if cpu is None:
            return False
        machine = self.machine
        with self.cond:
            cpu.parked = True
            self.cond.notify_all()
            while not machine.running and machine.shutdown_code is None and not self.quit:
                self.cond.wait(0.1)
            cpu.parked = False
        return True

    def run_paused(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` with every vCPU parked, out of KVM_RUN (their registers can be read), then as before."""
        with self.cond:
            was_paused = self.paused
            self.pause()
            try:
                return fn()
            finally:
                if not was_paused:
                    self.resume()

    def close(self) -> None:
        with self.cond:
            self.quit = True
        self.pause()
        with self.cond:
            self.cond.notify_all()
        for cpu in self.cpus:
            if cpu.thread is not None and cpu.thread is not threading.current_thread():
                cpu.thread.join(timeout=5)
        self._close_kvm()

    def _close_kvm(self) -> None:
        if self.slots is not None:
            self.slots.close()
        if self.vm is not None:
            self.vm.close()
        self.kvm.close()

    def reset_cpus(self) -> None:
        """The power-on state of the in-kernel irqchip, the PIT and every vCPU (call with the vCPUs parked):
        what KVM had when the VM was made, then the board's register state for each vCPU."""
        self.power_on.restore()
        for cpu in self.cpus:
            if cpu.reset_state is not None:
                cpu.reset_state(cpu.vcpu)

    def _park(self, cpu: KvmCpu) -> bool:
        """Wait while the VM is stopped; False when the accelerator is closing."""
        with self.cond:
            while self.paused and not self.quit:
                cpu.parked = True
                self.cond.notify_all()
                self.cond.wait()
            cpu.parked = False
            return not self.quit

    def _cpu_thread(self, cpu: KvmCpu) -> None:
        vcpu = cpu.vcpu
        run_reason = vcpu.run_reason
        io = vcpu.run_struct.io
        page = vcpu.page
        lock = self.cond
        machine = self.machine
        completing = False  # an IN or MMIO read's data is not in the guest until KVM_RUN is entered again
        while True:
            if self.paused or self.quit:
                if completing:  # finish the access before the vCPU's state is looked at or replaced:
                    completing = False  # KVM_RUN with immediate_exit completes it and returns at once
                    vcpu.set_immediate_exit(True)
                    try:
                        run_reason()
                    except KvmError:
                        pass
                if not self._park(cpu):
                    return
            try:
                reason = run_reason()
                ex = None if reason in _FAST_EXITS else vcpu.decode_exit()
            except KvmError as exc:
                with lock:
                    self._internal_error(cpu, f"error: kvm run failed {os.strerror(exc.errno or 0)}\n")
                continue
            if reason == KVM_EXIT_IO:  # the common exit, handled without decoding it into a record
                completing = True
                with lock:
                    try:
                        self._port_io(io.direction == sys_.KVM_EXIT_IO_OUT, io.port, io.size, io.count,
                                      page, io.data_offset)
                    except Exception as exc:  # a device model bug must not kill the vCPU thread silently
                        self._device_error(cpu, exc)
                    if machine.reset_requested or machine.shutdown_code is not None:
                        self.paused = True  # QEMU's cpu_stop_current: not one more guest instruction
                continue
            completing = False
            if ex is None:
                continue
            completing = isinstance(ex, MmioExit)
            with lock:
                try:
                    self._handle_exit(cpu, ex)
                except Exception as exc:
                    self._device_error(cpu, exc)
                if machine.reset_requested or machine.shutdown_code is not None:
                    self.paused = True

    def _device_error(self, cpu: KvmCpu, exc: Exception) -> None:
        print(f"kvm: error while handling an exit of CPU {cpu.index}: {exc!r}", file=sys.stderr, flush=True)
        self._internal_error(cpu, "")

    def _handle_exit(self, cpu: KvmCpu, ex: object) -> None:
        if isinstance(ex, MmioExit):
            if ex.is_write:
                self.memory.write(ex.addr, int.from_bytes(ex.data, "little"), ex.len)
            else:
                ex.data[:] = self.memory.read(ex.addr, ex.len).to_bytes(ex.len, "little")
        elif isinstance(ex, Shutdown):
            self.machine.request_reset("guest-reset")
            self.paused = True
        elif isinstance(ex, SystemEvent):
            if ex.type == sys_.KVM_SYSTEM_EVENT_SHUTDOWN:
                self.machine.request_shutdown(0, "guest-shutdown")
            elif ex.type == sys_.KVM_SYSTEM_EVENT_RESET:
                self.machine.request_reset("guest-reset")
            else:  # a crash the guest reported (pvpanic, Hyper-V crash MSRs): QEMU's default panic action
                self.machine.emit("GUEST_PANICKED", {"action": "pause"})
                self.machine.main_loop.call_soon(lambda: self.machine.stop("guest-panicked"))
            self.paused = True
        elif isinstance(ex, InternalError | FailEntry | UnknownExit | OtherExit):
            self._internal_error(cpu, exit_error_message(ex) or "")

    def _internal_error(self, cpu: KvmCpu, message: str) -> None:
        try:
            dump = cpu.vcpu.dump_state()
        except KvmError:
            dump = ""
        sys.stderr.write(message + dump)
        sys.stderr.flush()
        self.machine.main_loop.call_soon(lambda: self.machine.stop("internal-error"))
        self.paused = True

    def _port_io(self, out: bool, port: int, size: int, count: int, page: memoryview, offset: int) -> None:
        """``count`` IN or OUT accesses of ``size`` bytes at ``port``, data at ``page[offset:]``."""
        if self._io_find(port) is None:  # nothing decodes it: writes vanish, reads float high
            if not out:
                page[offset:offset + size * count] = b"\xff" * (size * count)
            return
        end = offset + size * count
        if out:
            for pos in range(offset, end, size):
                self._io_write(port, int.from_bytes(page[pos:pos + size], "little"), size)
            return
        for pos in range(offset, end, size):
            page[pos:pos + size] = self._io_read(port, size).to_bytes(size, "little")


def _entries(table: Sequence[CpuidEntry]) -> list[sys_.kvm_cpuid_entry2]:
    return [sys_.kvm_cpuid_entry2(function=f, index=i, flags=fl, eax=a, ebx=b, ecx=c, edx=d)
            for f, i, fl, a, b, c, d in table]
