"""The aarch64 side of user-mode emulation: system call registers, the exits and faults the generic CPU
loop (:mod:`.cpu_loop`) turns into signals (QEMU linux-user/aarch64/cpu_loop.c), and the rt_sigframe
(linux-user/aarch64/signal.c; Linux arch/arm64/kernel/signal.c, uapi asm/sigcontext.h).

The frame, from the new stack pointer up: ``siginfo`` (128 bytes), ``ucontext`` (flags, link, stack,
sigmask, padding to 1024 bits of mask, then ``sigcontext`` at offset 176: fault_address, x0-x30, sp, pc,
pstate and 4096 bytes of records: an ``fpsimd_context`` (magic 0x46508001, 528 bytes: FPSR, FPCR, V0-V31)
and the terminating null record), then, 16-byte aligned above it, the frame record (x29, x30) that x29
points to so unwinders can walk through the handler.  The handler gets x0 = signal, x1 = &info, x2 =
&uc, and returns through x30 to a trampoline calling rt_sigreturn.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ..target.arm import cpu as acpu
from ..target.arm import translate_a64
from ..target.arm.disas import disas_bytes
from ..target.arm.op_helper import make_helpers  # noqa: F401 - part of the arch interface
from . import memory as mem
from . import signal as sig
from . import translate_env
from .cpu_loop import cpu_loop  # noqa: F401 - part of the arch interface
from .translate_env import UserTranslateEnv, block_translator

if TYPE_CHECKING:
    from .process import Process, Thread

NAME = "aarch64"
ELF_MACHINE = "EM_AARCH64"
#: -cpu models: QEMU's ``max`` (every feature implemented) and ``any``, the same CPU here
CPU_MODELS = ("max", "any")
#: open(2) flags arm64 places differently from the generic (and x86-64 host) values, as (guest, host):
#: O_DIRECTORY, O_NOFOLLOW, O_DIRECT, O_LARGEFILE (Linux arch/arm64/include/uapi/asm/fcntl.h)
OPEN_FLAGS = ((0o40000, 0o200000), (0o100000, 0o400000), (0o200000, 0o40000), (0o400000, 0o100000))
#: AT_HWCAP: what is implemented (Linux uapi asm/hwcap.h): floating point and Advanced SIMD (not their
#: half-precision arithmetic, FPHP/ASIMDHP), the crypto extension (AES with PMULL, SHA-1, SHA-256), LSE
#: atomics and the ID registers through MRS emulation
HWCAP_FP, HWCAP_ASIMD = 1 << 0, 1 << 1
HWCAP_AES, HWCAP_PMULL, HWCAP_SHA1, HWCAP_SHA2 = 1 << 3, 1 << 4, 1 << 5, 1 << 6
HWCAP_ATOMICS = 1 << 8
HWCAP_CPUID = 1 << 11
HWCAP = (HWCAP_FP | HWCAP_ASIMD | HWCAP_AES | HWCAP_PMULL | HWCAP_SHA1 | HWCAP_SHA2 | HWCAP_ATOMICS
         | HWCAP_CPUID)
CPU = acpu.AArch64CPU
GLOBAL_SLOTS = acpu.GLOBAL_SLOTS
SLOT_ICOUNT = acpu.SLOT_ICOUNT

EXCP_SYSCALL = acpu.EXCP_SWI
EXCP_DEBUG = acpu.EXCP_DEBUG
#: system call number in x8, arguments in x0-x5, result in x0; SVC exits at the next instruction
SYSCALL_NR, SYSCALL_ARGS, SYSCALL_RET = 8, (0, 1, 2, 3, 4, 5), 0
SYSCALL_NEXT = 0

_SIGTRAMP_CODE = struct.pack("<II", 0xD2801168, 0xD4000001)  # mov x8, #139 (rt_sigreturn); svc #0
_UC = 128  # ucontext offset in the frame (after siginfo)
_MCONTEXT = _UC + 176  # sigcontext: after flags, link, stack_t and the 1024-bit sigmask area
_RESERVED = _MCONTEXT + 288  # sigcontext.__reserved (16-byte aligned after pstate)
_FPSIMD_MAGIC, _FPSIMD_SIZE = 0x46508001, 528
_FRAME_SIZE = _RESERVED + 4096
_PSTATE_EL0 = 0  # M[3:0] = EL0t

FAULT_SIGNALS = {
    acpu.EXCP_UDEF: (sig.SIGILL, sig.ILL_ILLOPC, "pc"),
    acpu.EXCP_BKPT: (sig.SIGTRAP, sig.TRAP_BRKPT, "pc"),
    acpu.EXCP_UNALIGNED: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    mem.EXCP_INST_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    mem.EXCP_LOAD_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    mem.EXCP_STORE_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    mem.EXCP_LOAD_ACCESS_FAULT: (sig.SIGSEGV, sig.SEGV_ACCERR, "tval"),
    mem.EXCP_STORE_ACCESS_FAULT: (sig.SIGSEGV, sig.SEGV_ACCERR, "tval"),
    mem.EXCP_LOAD_ADDR_MIS: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    mem.EXCP_STORE_ADDR_MIS: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    mem.EXCP_BUS_ADRERR: (sig.SIGBUS, sig.BUS_ADRERR, "tval"),
}


class _TranslateEnv(UserTranslateEnv):
    __slots__ = ()
    features = acpu.DEFAULT_FEATURES


gen_block = block_translator(_TranslateEnv, translate_a64.gen_block)


def disas(space: Any, pc: int, size: int) -> str:
    return disas_bytes(space.read(pc, size), pc)


def set_sp(cpu: Any, sp: int) -> None:
    cpu.R[acpu.SLOT_SP] = sp


def set_tls(cpu: Any, tls: int) -> None:
    cpu.R[acpu.SLOT_TPIDR] = tls


def set_return(cpu: Any, value: int) -> None:
    cpu.R[0] = value


def map_sigtramp(space: Any) -> int:
    return translate_env.map_sigtramp(space, _SIGTRAMP_CODE)


def handle_exit(proc: Process, th: Thread, code: int, pc: int, tval: int) -> bool:
    """No exits besides system calls, debugger stops and faults."""
    return False


def interrupt_log(code: int, pc: int, tval: int) -> str:
    return f"aarch64 exception: code 0x{code:x} pc 0x{pc:016x} value 0x{tval:016x}\n"


def setup_frame(proc: Process, th: Thread, signum: int, info: bytes, act: sig.Action) -> None:
    cpu, R, space = th.cpu, th.cpu.R, proc.space
    sp, on_alt = sig.frame_stack(th.signals, act, R[acpu.SLOT_SP])
    record = (sp - 16) & ~15  # the frame record (x29, x30)
    frame = (record - _FRAME_SIZE) & ~15
    uc = sig.ucontext_head(th.signals, on_alt, _MCONTEXT - _UC)
    mctx = struct.pack("<Q31QQQQ", 0, *(R[i] for i in range(31)), R[acpu.SLOT_SP], cpu.pc,
                       cpu.nzcv | _PSTATE_EL0).ljust(_RESERVED - _MCONTEXT, b"\0")
    fpsimd = struct.pack("<IIII", _FPSIMD_MAGIC, _FPSIMD_SIZE, R[acpu.SLOT_FPSR], R[acpu.SLOT_FPCR])
    fpsimd += struct.pack("<64Q", *(R[acpu.SLOT_V + i] for i in range(64)))
    space.write(frame, info + uc + mctx + fpsimd + bytes(8))  # + the null record ending the list
    space.write(record, struct.pack("<QQ", R[29], R[30]))
    R[acpu.SLOT_SP] = frame
    R[29] = record
    R[30] = proc.sigtramp
    R[0] = signum
    R[1] = frame
    R[2] = frame + _UC
    cpu.pc = act.handler
    sig.enter_handler(proc.signals, th.signals, signum, act)


def restore_sigframe(proc: Process, th: Thread) -> None:
    cpu, R, space = th.cpu, th.cpu.R, proc.space
    frame = R[acpu.SLOT_SP]
    mask = struct.unpack("<Q", space.read(frame + _UC + 40, 8))[0]
    regs = struct.unpack("<Q31QQQQ", space.read(frame + _MCONTEXT, 8 * 35))
    for i in range(31):
        R[i] = regs[1 + i]
    R[acpu.SLOT_SP] = regs[32]
    cpu.pc = regs[33]
    cpu.nzcv = regs[34] & 0xF0000000
    magic, size, fpsr, fpcr = struct.unpack("<IIII", space.read(frame + _RESERVED, 16))
    if magic == _FPSIMD_MAGIC and size == _FPSIMD_SIZE:
        R[acpu.SLOT_FPSR] = fpsr & acpu.FPSR_MASK
        R[acpu.SLOT_FPCR] = fpcr & acpu.FPCR_MASK
        vregs = struct.unpack("<64Q", space.read(frame + _RESERVED + 16, 512))
        for i in range(64):
            R[acpu.SLOT_V + i] = vregs[i]
    sig.restore_mask(proc.signals, th.signals, mask)
