"""KVM memory slots kept in step with the memory API (QEMU accel/kvm/kvm-all.c, kvm_region_commit).

Every RAM or ROM range of the board's flat memory view becomes one KVM memory slot
(``KVM_SET_USER_MEMORY_REGION``, Documentation/virt/kvm/api.rst 4.35) pointing into the machine's
:class:`~pyqemu.exec.memory.RamArena`, so the guest, the devices' DMA and the loaders all see the same
bytes.  ROM is registered read-only where KVM has ``KVM_CAP_READONLY_MEM``: a guest write to it then
leaves KVM_RUN as an MMIO exit, which the memory API ignores, as a ROM does.  Whatever is not RAM or ROM
(device MMIO, holes) has no slot and reaches the vCPU loop as ``KVM_EXIT_MMIO``.

The slots are recomputed whenever the address space's flat view changes (a BAR moved, a region enabled),
deleting the slots that went away before adding the new ones, since KVM refuses overlapping slots.
``dirty_logging`` sets ``KVM_MEM_LOG_DIRTY_PAGES`` on the RAM slots, for migration.
"""

from __future__ import annotations

import ctypes

from pyqemu.accel.kvm import kvm_sys as sys_
from pyqemu.accel.kvm.kvm import VM
from pyqemu.exec.memory import PAGE_SIZE, AddressSpace

#: (guest physical address, size, host address, flags) of one slot
SlotKey = tuple[int, int, int, int]


class MemorySlots:
    """The VM's memory slots for the RAM and ROM of ``space``."""

    def __init__(self, vm: VM, space: AddressSpace, *, readonly_rom: bool | None = None) -> None:
        self.vm = vm
        self.space = space
        if readonly_rom is None:
            readonly_rom = bool(vm.check_extension(sys_.KVM_CAP_READONLY_MEM))
        self.readonly_rom = readonly_rom
        self.dirty_logging = False
        self.slots: dict[SlotKey, int] = {}
        self._free = list(range(vm.check_extension(sys_.KVM_CAP_NR_MEMSLOTS) or 32))[::-1]
        self._anchors: dict[int, tuple[ctypes.c_char, int]] = {}
        space.listeners.append(self.sync)
        self.sync()

    def _host_base(self, arena: object) -> int:
        """The host address of an arena's mapping (pinned for the VM's lifetime)."""
        key = id(arena)
        if key not in self._anchors:
            anchor = ctypes.c_char.from_buffer(arena.mm)  # type: ignore[attr-defined]
            self._anchors[key] = (anchor, ctypes.addressof(anchor))
        return self._anchors[key][1]

    def wanted(self) -> set[SlotKey]:
        out: set[SlotKey] = set()
        for r in self.space.ranges:
            if not r.is_ram:
                continue
            mr = r.region
            start, end = r.start, r.end
            if start % PAGE_SIZE or end % PAGE_SIZE:
                continue  # KVM maps whole pages only; such a sliver stays MMIO
            flags = 0
            if mr.kind == "rom" and self.readonly_rom:
                flags |= sys_.KVM_MEM_READONLY
            elif mr.kind == "ram" and self.dirty_logging:
                flags |= sys_.KVM_MEM_LOG_DIRTY_PAGES
            host = self._host_base(mr.arena) + mr.ram_offset + r.offset
            out.add((start, end - start, host, flags))
        return out

    def sync(self) -> None:
        want = self.wanted()
        for key in [k for k in self.slots if k not in want]:
            slot = self.slots.pop(key)
            self.vm.set_user_memory_region(slot, key[0], key[2], 0, 0)
            self._free.append(slot)
        for key in sorted(want - self.slots.keys()):
            if not self._free:
                raise MemoryError("KVM has no free memory slot left")
            slot = self._free.pop()
            self.vm.set_user_memory_region(slot, key[0], key[2], key[1], key[3])
            self.slots[key] = slot

    def close(self) -> None:
        if self.sync in self.space.listeners:
            self.space.listeners.remove(self.sync)
