"""RISC-V guest -> IR translator (the counterpart of QEMU's target/riscv/translate.c).

``gen_block(env, pc)`` decodes guest instructions from ``pc`` with the table-driven decoders of
:mod:`.insn32` / :mod:`.insn16` and emits IR into a :class:`~pyqemu.accel.tcg.ir.Block` until a
control-flow change, a page boundary or the block size limit.  Each ``trans_*`` function handles one
instruction (compressed instructions reuse the translator of their 32-bit expansion) and returns
False when the encoding is reserved, which becomes an illegal-instruction exception.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from ...accel.tcg.decodetree import Decoder, parse_table
from ...accel.tcg.ir import MASK64, MO_8, MO_16, MO_32, MO_64, RMW, SIGN, Block, Helper
from . import fpu_translate, insn16, insn32
from .cpu import (
    EXCP_BREAKPOINT,
    EXCP_DEBUG,
    EXCP_FENCE_I,
    EXCP_ILLEGAL_INST,
    EXCP_LOAD_ADDR_MIS,
    EXCP_STORE_ADDR_MIS,
    EXCP_U_ECALL,
    EXCP_WFI,
    EXCP_YIELD,
    RES_NONE,
)
from .csr import MSTATUS_FS, MSTATUS_SD, MSTATUS_SIE, MSTATUS_UXL, SSTATUS_MASK

TARGET_PAGE_SIZE = 4096
MAX_INSNS = 64


class GuestCode(Protocol):
    """What the translator needs from the execution environment.

    ``system`` is false in user mode; in system mode ``priv`` (0 U, 1 S, 3 M) and ``fs`` (mstatus.FS)
    are the translation-time state the block is specialised for.  ``breakpoints`` holds the pcs of a
    debugger's breakpoints (usually empty): the translated code stops before them.
    """

    system: bool
    priv: int
    fs: int
    breakpoints: Collection[int]

    def fetch16(self, pc: int) -> int: ...

    def helpers(self) -> dict[str, Helper]: ...


class DisasContext:
    __slots__ = ("block", "pc", "pc_next", "ended", "insn", "env", "H", "system", "priv")

    def __init__(self, block: Block, env: GuestCode):
        self.block = block
        self.env = env
        self.H = env.helpers()
        self.system = env.system
        self.priv = env.priv if env.system else 0
        self.pc = block.pc
        self.pc_next = block.pc
        self.ended = False
        self.insn = 0

    # operands ---------------------------------------------------------------------------------------
    @staticmethod
    def gpr(r: int) -> int | str:
        return f"x{r}" if r else 0

    def op(self, name: str, rd: int, *src: int | str) -> None:
        """Emit ``name`` writing guest register rd (dropped when rd is x0: pure ops only)."""
        if rd:
            self.block.emit(name, f"x{rd}", *src)

    def tmp(self, name: str, *src: int | str) -> str:
        t = self.block.temp()
        self.block.emit(name, t, *src)
        return t

    def addr(self, rs1: int, imm: int) -> int | str:
        base = self.gpr(rs1)
        if imm == 0:
            return base
        return self.tmp("add", base, imm)

    # control flow -----------------------------------------------------------------------------------
    def exit(self, target: int | str) -> None:
        self.block.emit("exit", target)
        self.ended = True

    def raise_exc(self, code: int, tval: int = 0) -> None:
        self.block.emit("exit_exc", code, self.pc, tval)
        self.ended = True

    def exit_loop(self, target: int | str) -> None:
        """Leave through the exec loop (after a change of privilege, translation or interrupt state)."""
        self.block.emit("exit_loop", target)
        self.ended = True


# --- RV64I ---------------------------------------------------------------------------------------------

def trans_lui(ctx: DisasContext, rd: int, imm: int) -> bool:
    ctx.op("mov", rd, imm)
    return True


def trans_auipc(ctx: DisasContext, rd: int, imm: int) -> bool:
    ctx.op("mov", rd, (ctx.pc + imm) & MASK64)
    return True


def _link(ctx: DisasContext, rd: int) -> None:
    """rd = return address; a call (rd = ra or t0) will likely come back there."""
    ctx.op("mov", rd, ctx.pc_next)
    if rd in (1, 5):
        ctx.block.hints.append(ctx.pc_next)


def trans_jal(ctx: DisasContext, rd: int, imm: int) -> bool:
    _link(ctx, rd)
    ctx.exit((ctx.pc + imm) & MASK64)
    return True


def trans_jalr(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
    target = ctx.tmp("add", ctx.gpr(rs1), imm) if imm else ctx.gpr(rs1)
    target = ctx.tmp("andc", target, 1)
    _link(ctx, rd)
    ctx.exit(target)
    return True


def _branch(cond: str):
    def trans(ctx: DisasContext, rs1: int, rs2: int, imm: int) -> bool:
        b = ctx.block
        taken = b.label()
        b.emit("brcond", ctx.gpr(rs1), ctx.gpr(rs2), cond, taken)
        b.emit("exit", ctx.pc_next)
        b.emit("set_label", taken)
        ctx.exit((ctx.pc + imm) & MASK64)
        return True
    return trans


trans_beq, trans_bne = _branch("eq"), _branch("ne")
trans_blt, trans_bge = _branch("lt"), _branch("ge")
trans_bltu, trans_bgeu = _branch("ltu"), _branch("geu")


def _load(memop: int):
    def trans(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
        a = ctx.addr(rs1, imm)
        if rd:
            ctx.block.emit("ld", f"x{rd}", a, memop)
        else:  # the load still happens (it may fault)
            ctx.block.emit("ld", ctx.block.temp(), a, memop)
        return True
    return trans


trans_lb, trans_lh = _load(MO_8 | SIGN), _load(MO_16 | SIGN)
trans_lw, trans_ld = _load(MO_32 | SIGN), _load(MO_64)
trans_lbu, trans_lhu, trans_lwu = _load(MO_8), _load(MO_16), _load(MO_32)


def _store(memop: int):
    def trans(ctx: DisasContext, rs1: int, rs2: int, imm: int) -> bool:
        ctx.block.emit("st", ctx.gpr(rs2), ctx.addr(rs1, imm), memop)
        return True
    return trans


trans_sb, trans_sh, trans_sw, trans_sd = _store(MO_8), _store(MO_16), _store(MO_32), _store(MO_64)


def _arith_imm(name: str, post: str | None = None):
    def trans(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
        if post is None:
            ctx.op(name, rd, ctx.gpr(rs1), imm)
        else:
            ctx.op(post, rd, ctx.tmp(name, ctx.gpr(rs1), imm))
        return True
    return trans


def _arith(name: str, post: str | None = None):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        if post is None:
            ctx.op(name, rd, ctx.gpr(rs1), ctx.gpr(rs2))
        else:
            ctx.op(post, rd, ctx.tmp(name, ctx.gpr(rs1), ctx.gpr(rs2)))
        return True
    return trans


def _setcond_imm(cond: str):
    def trans(ctx: DisasContext, rd: int, rs1: int, imm: int) -> bool:
        ctx.op("setcond", rd, ctx.gpr(rs1), imm, cond)
        return True
    return trans


def _setcond(cond: str):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        ctx.op("setcond", rd, ctx.gpr(rs1), ctx.gpr(rs2), cond)
        return True
    return trans


def _shift(name: str, width: int):
    """Register shifts: the amount is rs2's low log2(width) bits."""
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        amount = ctx.tmp("and", ctx.gpr(rs2), width - 1)
        src = ctx.gpr(rs1)
        if width == 32:
            src = ctx.tmp("ext32s" if name == "sar" else "ext32u", src)
            ctx.op("ext32s", rd, ctx.tmp(name, src, amount))
        else:
            ctx.op(name, rd, src, amount)
        return True
    return trans


trans_addi, trans_xori, trans_ori, trans_andi = (_arith_imm("add"), _arith_imm("xor"),
                                                 _arith_imm("or"), _arith_imm("and"))
trans_slti, trans_sltiu = _setcond_imm("lt"), _setcond_imm("ltu")
trans_slli, trans_srli, trans_srai = _arith_imm("shl"), _arith_imm("shr"), _arith_imm("sar")
trans_add, trans_sub, trans_xor = _arith("add"), _arith("sub"), _arith("xor")
trans_or, trans_and = _arith("or"), _arith("and")
trans_slt, trans_sltu = _setcond("lt"), _setcond("ltu")
trans_sll, trans_srl, trans_sra = _shift("shl", 64), _shift("shr", 64), _shift("sar", 64)
trans_addiw = _arith_imm("add", "ext32s")
trans_addw, trans_subw = _arith("add", "ext32s"), _arith("sub", "ext32s")
trans_sllw, trans_srlw, trans_sraw = _shift("shl", 32), _shift("shr", 32), _shift("sar", 32)


def trans_slliw(ctx: DisasContext, rd: int, rs1: int, sh: int) -> bool:
    ctx.op("ext32s", rd, ctx.tmp("shl", ctx.gpr(rs1), sh))
    return True


def trans_srliw(ctx: DisasContext, rd: int, rs1: int, sh: int) -> bool:
    ctx.op("ext32s", rd, ctx.tmp("shr", ctx.tmp("ext32u", ctx.gpr(rs1)), sh))
    return True


def trans_sraiw(ctx: DisasContext, rd: int, rs1: int, sh: int) -> bool:
    ctx.op("ext32s", rd, ctx.tmp("sar", ctx.tmp("ext32s", ctx.gpr(rs1)), sh))
    return True


def trans_fence(ctx: DisasContext) -> bool:
    return True  # one vCPU at a time touches memory through sequentially consistent accesses


def trans_pause(ctx: DisasContext) -> bool:
    """A spin-wait hint: in system mode the hart gives the rest of its time slice to the others."""
    if ctx.system:
        ctx.raise_exc(EXCP_YIELD, ctx.pc_next)
    return True


def trans_fence_i(ctx: DisasContext) -> bool:
    if not ctx.system:  # system mode: stores into translated pages already drop the stale code
        ctx.raise_exc(EXCP_FENCE_I, ctx.pc_next)
    return True


def trans_ecall(ctx: DisasContext) -> bool:
    ctx.raise_exc(EXCP_U_ECALL + ctx.priv)  # environment call from U, S or M mode
    return True


def trans_ebreak(ctx: DisasContext) -> bool:
    ctx.raise_exc(EXCP_BREAKPOINT, ctx.pc)
    return True


def trans_illegal(ctx: DisasContext) -> bool:
    return False


# --- privileged instructions (system mode only) --------------------------------------------------------

def _xret(helper: str):
    def trans(ctx: DisasContext) -> bool:
        if not ctx.system:
            return False
        ctx.exit_loop(ctx.tmp("call", ctx.H[helper], ctx.insn))
        return True
    return trans


trans_mret, trans_sret = _xret("mret"), _xret("sret")


def trans_wfi(ctx: DisasContext) -> bool:
    if not ctx.system:
        return False
    ctx.block.emit("call", None, ctx.H["wfi"], ctx.insn)
    ctx.raise_exc(EXCP_WFI, ctx.pc_next)
    return True


def trans_sfence_vma(ctx: DisasContext, rs1: int, rs2: int) -> bool:
    if not ctx.system:
        return False
    ctx.block.emit("call", None, ctx.H["sfence_vma"], ctx.gpr(rs1), ctx.gpr(rs2), rs1, ctx.insn)
    ctx.exit_loop(ctx.pc_next)
    return True


# --- Zicsr (user-level counters and the FP CSRs) -------------------------------------------------------

CSR_FFLAGS, CSR_FRM, CSR_FCSR = 0x001, 0x002, 0x003
CSR_CYCLE, CSR_TIME, CSR_INSTRET = 0xC00, 0xC01, 0xC02
CSR_SSTATUS = 0x100
#: CSRs with no side effects, kept in the state buffer (Privileged spec 4.1.6-4.1.9): their global and
#: the mask of what a write keeps (sepc: IALIGN=16)
STORAGE_CSRS = {0x140: ("sscratch", MASK64), 0x141: ("sepc", MASK64 & ~1), 0x142: ("scause", MASK64),
                0x143: ("stval", MASK64)}


def _csr(kind: str, imm: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, csr: int) -> bool:
        src: int | str = rs1 if imm else ctx.gpr(rs1)
        writes = kind == "w" or rs1 != 0
        if ctx.system and csr not in (CSR_FFLAGS, CSR_FRM, CSR_FCSR):
            op = 3 if not writes else {"w": 0, "s": 1, "c": 2}[kind]
            if csr in STORAGE_CSRS and ctx.priv >= 1:
                _storage_csr(ctx, op, rd, csr, src)
            elif (csr == CSR_SSTATUS and op in (1, 2) and ctx.priv >= 1
                    and not (isinstance(src, int) and src & ~MSTATUS_SIE)):
                _sstatus_sie(ctx, op, rd, src)
            else:
                _csr_helper(ctx, op, rd, csr, src)
            return True
        if csr in (CSR_CYCLE, CSR_TIME, CSR_INSTRET):
            if writes:
                return False
            ctx.op("call", rd, ctx.H["rdtime" if csr == CSR_TIME else "rdinstret"])
            return True
        if csr not in (CSR_FFLAGS, CSR_FRM, CSR_FCSR):
            return False
        if ctx.system and not _fp_enabled(ctx):
            return False
        if csr == CSR_FFLAGS:
            old = ctx.tmp("mov", "fflags")
        elif csr == CSR_FRM:
            old = ctx.tmp("mov", "frm")
        else:
            old = ctx.tmp("or", ctx.tmp("shl", "frm", 5), "fflags")
        if writes:
            if kind == "w":
                new = src
            elif kind == "s":
                new = ctx.tmp("or", old, src)
            else:
                new = ctx.tmp("andc", old, src)
            if csr in (CSR_FFLAGS, CSR_FCSR):
                ctx.block.emit("and", "fflags", new, 0x1F)
            if csr == CSR_FRM:
                ctx.block.emit("and", "frm", new, 7)
            elif csr == CSR_FCSR:
                ctx.block.emit("and", "frm", ctx.tmp("shr", new, 5), 7)
        ctx.op("mov", rd, old)
        return True
    return trans


def _storage_csr(ctx: DisasContext, op: int, rd: int, csr: int, src: int | str) -> None:
    """A CSR that only stores what is written (masked), in the state buffer: read and written here."""
    name, mask = STORAGE_CSRS[csr]
    old = ctx.tmp("mov", name)
    if op != 3:
        new = src if op == 0 else ctx.tmp("or" if op == 1 else "andc", old, src)
        if mask != MASK64:
            new = ctx.tmp("and", new, mask)
        ctx.block.emit("mov", name, new)
    ctx.op("mov", rd, old)


def _csr_helper(ctx: DisasContext, op: int, rd: int, csr: int, src: int | str) -> None:
    """A CSR access (op 0 write, 1 set, 2 clear, 3 read) through the helper; a write leaves the
    block if privilege, translation or interrupt state changed (the helper sets csr_leave)."""
    ctx.op("mov", rd, ctx.tmp("call", ctx.H["csr"], csr, src, op, ctx.insn))
    if op != 3:
        stay = ctx.block.label()
        ctx.block.emit("brcond", "csr_leave", 0, "eq", stay)
        ctx.block.emit("exit_loop", ctx.pc_next)
        ctx.block.emit("set_label", stay)


def _sstatus_sie(ctx: DisasContext, op: int, rd: int, src: int | str) -> None:
    """csrrs/csrrc (op 1/2, or their immediate forms) on sstatus from S or M mode, changing at most
    SIE: the operating system's interrupt enable and disable, tens of thousands of times in a boot.
    Done here on mstatus in the state buffer, unless other bits are to change or enabling would let
    a pending interrupt in (mip & mie): then through the helper."""
    block = ctx.block
    slow = block.label()
    needs_helper = not isinstance(src, int)
    if needs_helper:
        block.emit("brcond", ctx.tmp("andc", src, MSTATUS_SIE), 0, "ne", slow)
    old = ctx.tmp("mov", "mstatus")
    new = ctx.tmp("or" if op == 1 else "andc", old, src)
    if op == 1 and src != 0:
        write = block.label()
        block.emit("brcond", ctx.tmp("andc", new, old), 0, "eq", write)
        block.emit("brcond", "irq_pending", 0, "ne", slow)
        block.emit("set_label", write)
        needs_helper = True
    block.emit("mov", "mstatus", new)
    if rd:  # what sstatus reads as: the S-mode fields, UXL, and SD when FS is Dirty
        view = ctx.tmp("and", ctx.tmp("or", old, MSTATUS_UXL), SSTATUS_MASK & ~MSTATUS_SD)
        dirty = ctx.tmp("setcond", ctx.tmp("and", old, MSTATUS_FS), MSTATUS_FS, "eq")
        ctx.op("or", rd, view, ctx.tmp("shl", dirty, 63))
    if needs_helper:
        done = block.label()
        block.emit("br", done)
        block.emit("set_label", slow)
        _csr_helper(ctx, op, rd, CSR_SSTATUS, src)
        block.emit("set_label", done)


trans_csrrw, trans_csrrs, trans_csrrc = _csr("w", False), _csr("s", False), _csr("c", False)
trans_csrrwi, trans_csrrsi, trans_csrrci = _csr("w", True), _csr("s", True), _csr("c", True)

# --- M -------------------------------------------------------------------------------------------------

trans_mul, trans_mulh = _arith("mul"), _arith("mulsh")
trans_mulhsu, trans_mulhu = _arith("mulsuh"), _arith("muluh")
trans_div, trans_divu, trans_rem, trans_remu = _arith("divs"), _arith("divu"), _arith("rems"), _arith("remu")
trans_mulw = _arith("mul", "ext32s")


def _div32(name: str, ext: str):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        a = ctx.tmp(ext, ctx.gpr(rs1))
        b = ctx.tmp(ext, ctx.gpr(rs2))
        ctx.op("ext32s", rd, ctx.tmp(name, a, b))
        return True
    return trans


trans_divw, trans_remw = _div32("divs", "ext32s"), _div32("rems", "ext32s")
trans_divuw, trans_remuw = _div32("divu", "ext32u"), _div32("remu", "ext32u")

# --- A: in system mode the atomics are IR (the harts take turns on one host thread, so a load and a
# store in one block are atomic; the LR/SC reservation is the address and the value loaded, in the
# state); in user mode, where guest threads are host threads, helpers do them under the atomic lock ---

#: AMO -> the IR op computing the new value from the old one and rs2 (None: rs2 itself)
_AMO_IR = {"swap": None, "add": "add", "xor": "xor", "and": "and", "or": "or", "min": "min", "max": "max",
           "minu": "minu", "maxu": "maxu"}


def _aligned(ctx: DisasContext, addr: int | str, memop: int, code: int) -> None:
    """Raise ``code`` (address misaligned) unless ``addr`` is aligned to the access size."""
    b = ctx.block
    aligned = b.label()
    b.emit("brcond", ctx.tmp("and", addr, (1 << (memop & 3)) - 1), 0, "eq", aligned)
    b.emit("exit_exc", code, ctx.pc, addr)
    b.emit("set_label", aligned)


def _amo(op: str, memop: int):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        if not ctx.system:
            ctx.op("mov", rd, ctx.tmp("call", ctx.H[f"amo_{op}"], ctx.gpr(rs1), ctx.gpr(rs2), memop))
            return True
        b = ctx.block
        addr, value = ctx.gpr(rs1), ctx.gpr(rs2)
        _aligned(ctx, addr, memop, EXCP_STORE_ADDR_MIS)
        if op == "sc":  # succeeds (rd 0) if the reserved address still holds the value loaded
            raw = ctx.tmp("ld", addr, (memop & ~SIGN) | RMW)
            ok = ctx.tmp("and", ctx.tmp("setcond", "res_addr", addr, "eq"),
                         ctx.tmp("setcond", "res_val", raw, "eq"))
            b.emit("mov", "res_addr", RES_NONE)
            failed = b.label()
            b.emit("brcond", ok, 0, "eq", failed)
            b.emit("st", value, addr, memop & ~SIGN)
            b.emit("set_label", failed)
            ctx.op("xor", rd, ok, 1)
            return True
        old = ctx.tmp("ld", addr, memop | RMW)  # a .w value comes sign-extended, as the result wants
        if _AMO_IR[op] is not None:
            if memop & 3 == 2 and op in ("min", "max", "minu", "maxu"):
                value = ctx.tmp("ext32s", value)  # compared as 32-bit values, like the old one
            value = ctx.tmp(_AMO_IR[op], old, value)
        b.emit("st", value, addr, memop & ~SIGN)
        ctx.op("mov", rd, old)
        return True
    return trans


def _lr(memop: int):
    def trans(ctx: DisasContext, rd: int, rs1: int) -> bool:
        if not ctx.system:
            ctx.op("mov", rd, ctx.tmp("call", ctx.H["lr"], ctx.gpr(rs1), memop))
            return True
        addr = ctx.gpr(rs1)
        _aligned(ctx, addr, memop, EXCP_LOAD_ADDR_MIS)
        raw = ctx.tmp("ld", addr, memop & ~SIGN)
        ctx.block.emit("mov", "res_addr", addr)
        ctx.block.emit("mov", "res_val", raw)
        ctx.op("ext32s" if memop & SIGN else "mov", rd, raw)
        return True
    return trans


for _w, _mo in (("w", MO_32 | SIGN), ("d", MO_64)):
    globals()[f"trans_lr_{_w}"] = _lr(_mo)
    globals()[f"trans_sc_{_w}"] = _amo("sc", _mo)
    for _op in ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"):
        globals()[f"trans_amo{_op}_{_w}"] = _amo(_op, _mo)

# --- Zba / Zbb / Zbs -----------------------------------------------------------------------------------


def _shadd(n: int, uw: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        a = ctx.gpr(rs1)
        if uw:
            a = ctx.tmp("ext32u", a)
        if n:
            a = ctx.tmp("shl", a, n)
        ctx.op("add", rd, a, ctx.gpr(rs2))
        return True
    return trans


trans_add_uw = _shadd(0, True)
trans_sh1add, trans_sh2add, trans_sh3add = _shadd(1, False), _shadd(2, False), _shadd(3, False)
trans_sh1add_uw, trans_sh2add_uw, trans_sh3add_uw = _shadd(1, True), _shadd(2, True), _shadd(3, True)


def trans_slli_uw(ctx: DisasContext, rd: int, rs1: int, sh: int) -> bool:
    ctx.op("shl", rd, ctx.tmp("ext32u", ctx.gpr(rs1)), sh)
    return True


def _unary(name: str, pre: str | None = None, post: str | None = None):
    def trans(ctx: DisasContext, rd: int, rs1: int) -> bool:
        v = ctx.gpr(rs1)
        if pre:
            v = ctx.tmp(pre, v)
        if post:
            ctx.op(post, rd, ctx.tmp(name, v))
        else:
            ctx.op(name, rd, v)
        return True
    return trans


trans_andn, trans_orn, trans_xnor = _arith("andc"), _arith("orc"), _arith("xnor")
trans_clz, trans_ctz, trans_cpop = _unary("clz"), _unary("ctz"), _unary("cpop")
trans_cpopw = _unary("cpop", pre="ext32u")
trans_max, trans_maxu, trans_min, trans_minu = _arith("max"), _arith("maxu"), _arith("min"), _arith("minu")
trans_sext_b, trans_sext_h, trans_zext_h = _unary("ext8s"), _unary("ext16s"), _unary("ext16u")
trans_orc_b, trans_rev8 = _unary("orcb"), _unary("bswap64")


def trans_clzw(ctx: DisasContext, rd: int, rs1: int) -> bool:
    ctx.op("sub", rd, ctx.tmp("clz", ctx.tmp("ext32u", ctx.gpr(rs1))), 32)
    return True


def trans_ctzw(ctx: DisasContext, rd: int, rs1: int) -> bool:
    ctx.op("ctz", rd, ctx.tmp("or", ctx.gpr(rs1), 1 << 32))
    return True


def _rot(name: str, width: int, imm: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        amount = rs2 if imm else ctx.tmp("and", ctx.gpr(rs2), width - 1)
        if width == 32:
            ctx.op("ext32s", rd, ctx.tmp(name + "32", ctx.gpr(rs1), amount))
        else:
            ctx.op(name, rd, ctx.gpr(rs1), amount)
        return True
    return trans


trans_rol, trans_ror, trans_rori = _rot("rotl", 64, False), _rot("rotr", 64, False), _rot("rotr", 64, True)
trans_rolw, trans_rorw, trans_roriw = _rot("rotl", 32, False), _rot("rotr", 32, False), _rot("rotr", 32, True)


def _bitop(kind: str, imm: bool):
    def trans(ctx: DisasContext, rd: int, rs1: int, rs2: int) -> bool:
        if imm:
            bit: int | str = 1 << rs2
            index: int | str = rs2
        else:
            index = ctx.tmp("and", ctx.gpr(rs2), 63)
            bit = ctx.tmp("shl", 1, index)
        a = ctx.gpr(rs1)
        if kind == "clr":
            ctx.op("andc", rd, a, bit)
        elif kind == "inv":
            ctx.op("xor", rd, a, bit)
        elif kind == "set":
            ctx.op("or", rd, a, bit)
        else:
            ctx.op("and", rd, ctx.tmp("shr", a, index), 1)
        return True
    return trans


trans_bclr, trans_bclri = _bitop("clr", False), _bitop("clr", True)
trans_bext, trans_bexti = _bitop("ext", False), _bitop("ext", True)
trans_binv, trans_binvi = _bitop("inv", False), _bitop("inv", True)
trans_bset, trans_bseti = _bitop("set", False), _bitop("set", True)


# --- decoders ------------------------------------------------------------------------------------------

def _fp_enabled(ctx: DisasContext) -> bool:
    """System mode: FP instructions are illegal while mstatus.FS is Off; otherwise they mark the FP
    state Dirty (so the kernel knows to save it)."""
    fs = ctx.env.fs
    if fs == 0:
        return False
    if fs != 3:
        ctx.block.emit("call", None, ctx.H["mark_fs_dirty"])
    return True


def _handlers() -> dict[str, object]:
    h = {name[6:]: fn for name, fn in globals().items() if name.startswith("trans_")}
    h.update(fpu_translate.HANDLERS)
    return h


_H32 = _handlers()
DECODE32 = Decoder(parse_table(insn32.TABLE, 32), insn32.FORMATS, _H32, group_mask=0x7F)
DECODE16 = Decoder(parse_table(insn16.TABLE, 16), insn16.FORMATS,
                   {c: _H32[n] for c, n in insn16.EXPANDS_TO.items()}, group_mask=0xE003)
_FP_HANDLERS = frozenset(fpu_translate.HANDLERS.values())


def decode(insn: int):
    """Decode one raw instruction (16 or 32 bits): (handler, args, name) or None."""
    if insn & 3 == 3:
        return DECODE32.decode(insn)
    return DECODE16.decode(insn & 0xFFFF)


def gen_block(env: GuestCode, pc: int, max_insns: int = MAX_INSNS) -> Block:
    """Translate guest code at ``pc`` into one IR block.

    Fetch faults on the first instruction propagate to the caller; a fault on a later instruction ends
    the block before it (the fault is raised when that instruction is reached).

    A debugger breakpoint (QEMU's check in translator_loop) ends the block before its instruction; a
    block that starts at one raises EXCP_DEBUG without running anything.  The breakpoints are looked
    at here only: whoever changes them flushes the translations.
    """
    block = Block(pc)
    ctx = DisasContext(block, env)
    page = pc // TARGET_PAGE_SIZE
    breakpoints = env.breakpoints
    while True:
        if breakpoints and ctx.pc in breakpoints:
            if block.n_insns:
                block.emit("exit", ctx.pc)
            else:
                ctx.raise_exc(EXCP_DEBUG)
            break
        try:
            lo = env.fetch16(ctx.pc)
            insn = lo
            if lo & 3 == 3:
                insn |= env.fetch16(ctx.pc + 2) << 16
        except Exception:
            if block.n_insns == 0:
                raise
            block.emit("exit", ctx.pc)
            break
        length = 4 if insn & 3 == 3 else 2
        ctx.insn = insn
        ctx.pc_next = ctx.pc + length
        block.emit("insn_start", ctx.pc)
        block.guest_insns.append((ctx.pc, insn))
        block.n_insns += 1
        d = decode(insn)
        if d is not None and ctx.system and d[0] in _FP_HANDLERS and not _fp_enabled(ctx):
            d = None
        if d is None or not d[0](ctx, *d[1]):
            ctx.raise_exc(EXCP_ILLEGAL_INST, insn)
        block.size = ctx.pc_next - pc
        if ctx.ended:
            break
        ctx.pc = ctx.pc_next
        if block.n_insns >= max_insns or ctx.pc // TARGET_PAGE_SIZE != page:
            block.emit("exit", ctx.pc)
            break
    return block
