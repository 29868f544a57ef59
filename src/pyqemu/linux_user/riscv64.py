"""The riscv64 side of user-mode emulation: the CPU loop that turns guest exceptions into system calls
and signals (QEMU linux-user/riscv/cpu_loop.c) and the rt_sigframe layout (linux-user/riscv/signal.c;
Linux arch/riscv/kernel/signal.c, uapi asm/ucontext.h and asm/sigcontext.h)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ..target.riscv import cpu as rcpu
from ..target.riscv import translate
from ..target.riscv.disas import disas_bytes
from ..target.riscv.op_helper import make_helpers  # noqa: F401 - part of the arch interface
from . import signal as sig
from . import translate_env
from .cpu_loop import cpu_loop  # noqa: F401 - part of the arch interface
from .memory import EXCP_BUS_ADRERR
from .translate_env import UserTranslateEnv, block_translator

if TYPE_CHECKING:
    from .process import Process, Thread

NAME = "riscv64"
ELF_MACHINE = "EM_RISCV"
CPU_MODELS = ("rv64", "max", "any")
#: open(2) flags whose bits differ from the host's: none (riscv64 uses the generic values, as x86-64)
OPEN_FLAGS: tuple[tuple[int, int], ...] = ()
HWCAP = sum(1 << (ord(c) - ord("A")) for c in "IMAFDC")
CPU = rcpu.RISCVCPU
GLOBAL_SLOTS = rcpu.GLOBAL_SLOTS
SLOT_ICOUNT = rcpu.SLOT_ICOUNT

_SIGTRAMP_CODE = struct.pack("<II", 0x08B00893, 0x00000073)  # li a7, 139 (rt_sigreturn); ecall
_UC = 128  # ucontext offset in the frame (after siginfo)
_MCONTEXT = _UC + 176  # uc_mcontext offset (16-byte aligned after 1024-bit sigmask area)
_FRAME_SIZE = _MCONTEXT + 32 * 8 + 528

_FAULT_SIGNALS = {
    rcpu.EXCP_ILLEGAL_INST: (sig.SIGILL, sig.ILL_ILLOPC, "pc"),
    rcpu.EXCP_BREAKPOINT: (sig.SIGTRAP, sig.TRAP_BRKPT, "pc"),
    rcpu.EXCP_INST_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    rcpu.EXCP_LOAD_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    rcpu.EXCP_STORE_PAGE_FAULT: (sig.SIGSEGV, sig.SEGV_MAPERR, "tval"),
    rcpu.EXCP_INST_ACCESS_FAULT: (sig.SIGSEGV, sig.SEGV_ACCERR, "tval"),
    rcpu.EXCP_LOAD_ACCESS_FAULT: (sig.SIGSEGV, sig.SEGV_ACCERR, "tval"),
    rcpu.EXCP_STORE_ACCESS_FAULT: (sig.SIGSEGV, sig.SEGV_ACCERR, "tval"),
    rcpu.EXCP_LOAD_ADDR_MIS: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    rcpu.EXCP_STORE_ADDR_MIS: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    rcpu.EXCP_INST_ADDR_MIS: (sig.SIGBUS, sig.BUS_ADRALN, "tval"),
    EXCP_BUS_ADRERR: (sig.SIGBUS, sig.BUS_ADRERR, "tval"),
}


class _TranslateEnv(UserTranslateEnv):
    __slots__ = ()
    system = False
    priv = 0
    fs = 3


gen_block = block_translator(_TranslateEnv, translate.gen_block)


def disas(space: Any, pc: int, size: int) -> str:
    return disas_bytes(space.read(pc, size), pc)


def set_sp(cpu: Any, sp: int) -> None:
    cpu.R[2] = sp


def set_tls(cpu: Any, tls: int) -> None:
    cpu.R[4] = tls


def set_return(cpu: Any, value: int) -> None:
    cpu.R[10] = value


def map_sigtramp(space: Any) -> int:
    return translate_env.map_sigtramp(space, _SIGTRAMP_CODE)


# -- what the generic CPU loop (cpu_loop.py) asks of this target ------------------------------------

EXCP_SYSCALL = rcpu.EXCP_U_ECALL
EXCP_DEBUG = rcpu.EXCP_DEBUG
#: system call number, arguments and result: a7; a0-a5; a0
SYSCALL_NR, SYSCALL_ARGS, SYSCALL_RET = 17, (10, 11, 12, 13, 14, 15), 10
SYSCALL_NEXT = 4  # the ecall exit reports the ecall
FAULT_SIGNALS = _FAULT_SIGNALS


def handle_exit(proc: Process, th: Thread, code: int, pc: int, tval: int) -> bool:
    """Target exits other than system calls and faults: ``fence.i`` drops the translations."""
    if code == rcpu.EXCP_FENCE_I:
        proc.tbc.flush()
        th.cpu.pc = tval
        return True
    return False


def interrupt_log(code: int, pc: int, tval: int) -> str:
    return f"riscv_cpu_do_interrupt: cause {code} epc 0x{pc:016x} tval 0x{tval:016x}\n"


def setup_frame(proc: Process, th: Thread, signum: int, info: bytes, act: sig.Action) -> None:
    cpu, R, space = th.cpu, th.cpu.R, proc.space
    sp, on_alt = sig.frame_stack(th.signals, act, R[2])
    frame = (sp - _FRAME_SIZE) & ~15
    uc = sig.ucontext_head(th.signals, on_alt, _MCONTEXT - _UC)
    regs = [cpu.pc] + [R[i] for i in range(1, 32)]
    fregs = [R[32 + i] for i in range(32)]
    fcsr = (R[rcpu.SLOT_FRM] << 5) | R[rcpu.SLOT_FFLAGS]
    mctx = struct.pack("<32Q", *regs) + struct.pack("<32QI", *fregs, fcsr).ljust(528, b"\0")
    space.write(frame, info + uc + mctx)
    R[2] = frame
    R[1] = proc.sigtramp
    R[10] = signum
    R[11] = frame
    R[12] = frame + _UC
    cpu.pc = act.handler
    sig.enter_handler(proc.signals, th.signals, signum, act)


def restore_sigframe(proc: Process, th: Thread) -> None:
    cpu, R, space = th.cpu, th.cpu.R, proc.space
    frame = R[2]
    mask = struct.unpack("<Q", space.read(frame + _UC + 40, 8))[0]
    regs = struct.unpack("<32Q", space.read(frame + _MCONTEXT, 256))
    fregs = struct.unpack("<32QI", space.read(frame + _MCONTEXT + 256, 260))
    cpu.pc = regs[0]
    for i in range(1, 32):
        R[i] = regs[i]
    for i in range(32):
        R[32 + i] = fregs[i]
    R[rcpu.SLOT_FFLAGS] = fregs[32] & 0x1F
    R[rcpu.SLOT_FRM] = (fregs[32] >> 5) & 7
    sig.restore_mask(proc.signals, th.signals, mask)
