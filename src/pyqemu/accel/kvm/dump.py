"""QEMU's reports for a stopped KVM vCPU: the x86 register dump and the KVM exit error messages.

Models QEMU 2.1's ``x86_cpu_dump_state`` (target-i386/helper.c, as printed by ``info registers``
and after a KVM internal error) from KVM's ``kvm_regs`` / ``kvm_sregs``, including the segment
cache descriptions and the ``Code=`` line, and the messages of ``kvm_cpu_exec`` /
``kvm_handle_internal_error`` for INTERNAL_ERROR, FAIL_ENTRY and unknown exits.
"""

from __future__ import annotations

from collections.abc import Callable

from pyqemu.accel.kvm import kvm_sys as sys_
from pyqemu.accel.kvm.kvm_sys import kvm_regs, kvm_segment, kvm_sregs

DUMP_CODE_BYTES_TOTAL = 50
DUMP_CODE_BYTES_BACKWARD = 20

_SYS_TYPE_NAMES = (
    ("Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate", "IntGate16", "TrapGate16",
     "Reserved", "TSS32-avl", "Reserved", "TSS32-busy", "CallGate32", "Reserved", "IntGate32", "TrapGate32"),
    ("<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
     "Reserved", "TSS64-avl", "Reserved", "TSS64-busy", "CallGate64", "Reserved", "IntGate64", "TrapGate64"),
)

_EFLAGS_LETTERS = (("D", 0x400), ("O", 0x800), ("S", 0x80), ("Z", 0x40), ("A", 0x10), ("P", 0x4), ("C", 0x1))

CR0_PE = 1 << 0
EFER_LMA = 1 << 10


def segment_flags(seg: kvm_segment) -> int:
    """The descriptor attribute word QEMU keeps in SegmentCache.flags (as QEMU's kvm.c get_seg)."""
    present = 1 if seg.present and not seg.unusable else 0
    return ((seg.type << 8) | (seg.s << 12) | (seg.dpl << 13) | (present << 15) | (seg.avl << 20)
            | (seg.l << 21) | (seg.db << 22) | (seg.g << 23))


def _seg_line(name: str, seg: kvm_segment, cs64: bool, pe: bool, lma: bool) -> str:
    flags = segment_flags(seg) & 0x00FFFF00
    if cs64:
        line = f"{name:<3s}={seg.selector:04x} {seg.base:016x} {seg.limit:08x} {flags:08x}"
    else:
        line = f"{name:<3s}={seg.selector:04x} {seg.base & 0xFFFFFFFF:08x} {seg.limit:08x} {flags:08x}"
    if not pe or not flags & (1 << 15):
        return line
    line += f" DPL={seg.dpl} "
    if seg.s:
        if seg.type & 0x8:  # code
            line += "CS64" if seg.l else ("CS32" if seg.db else "CS16")
            line += " [" + ("C" if seg.type & 4 else "-") + ("R" if seg.type & 2 else "-")
        else:
            line += "DS  " if seg.db or lma else "DS16"
            line += " [" + ("E" if seg.type & 4 else "-") + ("W" if seg.type & 2 else "-")
        line += ("A" if seg.type & 1 else "-") + "]"
    else:
        line += _SYS_TYPE_NAMES[1 if lma else 0][seg.type & 0xF]
    return line


def format_x86_state(regs: kvm_regs, sregs: kvm_sregs, *, halted: bool = False,
                     debugregs: tuple[int, ...] = (0, 0, 0, 0, 0xFFFF0FF0, 0x400),
                     read_code: Callable[[int], int | None] | None = None) -> str:
    """QEMU's ``info registers`` text for one x86-64 vCPU.

    ``debugregs`` is (DR0..DR3, DR6, DR7); ``read_code(linear_address)`` returns a byte or None and,
    when given, adds the ``Code=`` line QEMU prints after a KVM error.
    """
    lma = bool(sregs.efer & EFER_LMA)
    cs64 = lma and bool(sregs.cs.l)
    pe = bool(sregs.cr0 & CR0_PE)
    fl = regs.rflags
    flagstr = "".join(c if fl & bit else "-" for c, bit in _EFLAGS_LETTERS)
    tail = f"[{flagstr}] CPL={sregs.ss.dpl} II=0 A20=1 SMM=0 HLT={int(halted)}"
    out: list[str] = []
    if cs64:
        r = regs
        out.append(f"RAX={r.rax:016x} RBX={r.rbx:016x} RCX={r.rcx:016x} RDX={r.rdx:016x}")
        out.append(f"RSI={r.rsi:016x} RDI={r.rdi:016x} RBP={r.rbp:016x} RSP={r.rsp:016x}")
        out.append(f"R8 ={r.r8:016x} R9 ={r.r9:016x} R10={r.r10:016x} R11={r.r11:016x}")
        out.append(f"R12={r.r12:016x} R13={r.r13:016x} R14={r.r14:016x} R15={r.r15:016x}")
        out.append(f"RIP={r.rip:016x} RFL={fl & 0xFFFFFFFF:08x} {tail}")
    else:
        def w(v: int) -> str:
            return f"{v & 0xFFFFFFFF:08x}"

        r = regs
        out.append(f"EAX={w(r.rax)} EBX={w(r.rbx)} ECX={w(r.rcx)} EDX={w(r.rdx)}")
        out.append(f"ESI={w(r.rsi)} EDI={w(r.rdi)} EBP={w(r.rbp)} ESP={w(r.rsp)}")
        out.append(f"EIP={w(r.rip)} EFL={w(fl)} {tail}")
    for name in ("es", "cs", "ss", "ds", "fs", "gs"):
        out.append(_seg_line(name.upper(), getattr(sregs, name), cs64, pe, lma))
    out.append(_seg_line("LDT", sregs.ldt, cs64, pe, lma))
    out.append(_seg_line("TR", sregs.tr, cs64, pe, lma))
    dr = debugregs
    if lma:
        out.append(f"GDT=     {sregs.gdt.base:016x} {sregs.gdt.limit:08x}")
        out.append(f"IDT=     {sregs.idt.base:016x} {sregs.idt.limit:08x}")
        out.append(f"CR0={sregs.cr0 & 0xFFFFFFFF:08x} CR2={sregs.cr2:016x} CR3={sregs.cr3:016x} "
                   f"CR4={sregs.cr4 & 0xFFFFFFFF:08x}")
    else:
        out.append(f"GDT=     {sregs.gdt.base & 0xFFFFFFFF:08x} {sregs.gdt.limit:08x}")
        out.append(f"IDT=     {sregs.idt.base & 0xFFFFFFFF:08x} {sregs.idt.limit:08x}")
        out.append(f"CR0={sregs.cr0 & 0xFFFFFFFF:08x} CR2={sregs.cr2 & 0xFFFFFFFF:08x} "
                   f"CR3={sregs.cr3 & 0xFFFFFFFF:08x} CR4={sregs.cr4 & 0xFFFFFFFF:08x}")
    # qemu-system-x86_64 prints DRn with TARGET_FMT_lx (16 digits) in every mode
    out.append("".join(f"DR{i}={dr[i]:016x} " for i in range(4)))
    out.append(f"DR6={dr[4]:016x} DR7={dr[5]:016x}")
    out.append(f"EFER={sregs.efer:016x}")
    if read_code is not None:
        eip = regs.rip if cs64 else regs.rip & 0xFFFFFFFF
        base = (sregs.cs.base if cs64 else sregs.cs.base & 0xFFFFFFFF) + eip
        offs = min(eip, DUMP_CODE_BYTES_BACKWARD)
        parts = []
        for i in range(DUMP_CODE_BYTES_TOTAL):
            byte = read_code(base - offs + i)
            text = "??" if byte is None else f"{byte:02x}"
            parts.append(f"<{text}>" if i == offs else text)
        out.append("Code=" + " ".join(parts))
    return "\n".join(out) + "\n"


def exit_error_message(ex: object, *, internal_error_data: bool = True) -> str | None:
    """QEMU's stderr text for a KVM exit that stops the VM, or None for an ordinary exit."""
    from pyqemu.accel.kvm.kvm import FailEntry, InternalError, OtherExit, UnknownExit

    if isinstance(ex, InternalError):
        text = f"KVM internal error. Suberror: {ex.suberror}\n"
        if internal_error_data:
            text += "".join(f"extra data[{i}]: 0x{v:016x}\n" for i, v in enumerate(ex.data))
        if ex.suberror == sys_.KVM_INTERNAL_ERROR_EMULATION:
            text += "emulation failure\n"
        return text
    if isinstance(ex, FailEntry):
        return f"KVM: entry failed, hardware error 0x{ex.hardware_entry_failure_reason:x}\n"
    if isinstance(ex, UnknownExit):
        return f"KVM: unknown exit, hardware reason {ex.hardware_exit_reason:x}\n"
    if isinstance(ex, OtherExit):
        return f"KVM: unknown exit reason {ex.reason}\n"
    return None
