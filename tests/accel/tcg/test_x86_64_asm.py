"""The x86-64 instruction encoder (:mod:`pyqemu.accel.tcg.backends.x86_64.asm`).

* Every method is encoded over many operand forms (all 16 registers as base, index, destination and
  source, so the rsp/r12 SIB and rbp/r13 displacement cases; displacements 0, small and large of both
  signs; every operand size; immediate edge values) and disassembled with Capstone; the single
  decoded instruction must span the whole encoding and its mnemonic and operands must equal the
  Intel-syntax text built independently here (immediates compared modulo 2**operand size, since
  Capstone prints some signed and some unsigned).
* Exact bytes of a handful of well-known encodings, and the choice of short forms (imm8, mov r32).
* Labels: forward and backward references, rel8 range errors, unbound labels, ``patch_rel32``.
* A randomized stream (fixed seed) of a few thousand instructions decodes to exactly the
  instructions emitted, at exactly the offsets they were emitted at.
"""

from __future__ import annotations

import ctypes
import random
import re

import pytest
from capstone import CS_ARCH_X86, CS_MODE_64, Cs

from pyqemu.accel.tcg.backends.x86_64 import asm
from pyqemu.accel.tcg.backends.x86_64.asm import (
    CL,
    R9,
    R12,
    R13,
    R14,
    R15,
    RAX,
    RBP,
    RBX,
    RCX,
    RDI,
    RDX,
    RSI,
    RSP,
    Assembler,
    Cond,
    Mem,
    invert,
    patch_rel32,
)

MD = Cs(CS_ARCH_X86, CS_MODE_64)

_NAMES = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
R64 = ["r" + n for n in _NAMES] + [f"r{i}" for i in range(8, 16)]
R32 = ["e" + n for n in _NAMES] + [f"r{i}d" for i in range(8, 16)]
R16 = list(_NAMES) + [f"r{i}w" for i in range(8, 16)]
R8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"] + [f"r{i}b" for i in range(8, 16)]
REGNAME = {8: R8, 16: R16, 32: R32, 64: R64}
PTR = {8: "byte ptr ", 16: "word ptr ", 32: "dword ptr ", 64: "qword ptr "}
SIZES = (8, 16, 32, 64)
CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]

DISPS = [0, 1, -1, 9, 10, 127, 128, -128, -129, 0x7FFFFFFF, -0x80000000]
IMMS = [0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 0x7FFF, 0x8000, 0xFFFF, -0x8000,
        2**31 - 1, -(2**31), -(2**31) - 1, 2**31, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64 - 2**31,
        2**64 - 2**31 - 1]  # fmt: skip

# Every base register with every kind of displacement, and every index register with every scale.
MEMS_FULL = [Mem(b, d) for b in range(16) for d in DISPS] + [
    Mem(b, d, i, s) for b in range(16) for i in range(16) if i != RSP
    for s in (1, 2, 4, 8) for d in (0, 8, -0x1000)
]  # fmt: skip
# A smaller set for the instructions encoded at every size: the special bases and indexes.
MEMS = [Mem(b, d) for b in range(16) for d in (0, 8, -0x81)] + [
    Mem(b, d, i, s) for b in (RAX, RSP, RBP, R12, R13, R15) for i in (RAX, RBP, R12, R13, R15)
    for s in (1, 8) for d in (0, -1, 0x12345)
]  # fmt: skip


def reg(r: int, size: int = 64) -> str:
    return REGNAME[size][r]


def num(v: int) -> str:
    """Capstone's style: decimal up to 9, else hex."""
    return str(v) if v <= 9 else hex(v)


def mem(m: Mem, size: int | None = None) -> str:
    s = R64[m.base]
    if m.index is not None:
        s += f" + {R64[m.index]}" + (f"*{m.scale}" if m.scale != 1 else "")
    if m.disp > 0:
        s += f" + {num(m.disp)}"
    elif m.disp < 0:
        s += f" - {num(-m.disp)}"
    return (PTR[size] if size else "") + f"[{s}]"


def opnd(x: int | Mem, size: int) -> str:
    return mem(x, size) if isinstance(x, Mem) else reg(x, size)


def signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def fits_imm(imm: int, size: int) -> bool:
    return size != 64 or -(2**31) <= signed(imm, 64) < 2**31


_INT = re.compile(r"-?(0x[0-9a-f]+|\d+)")


class Checker:
    """Encodes cases into one buffer, then disassembles it and compares instruction by instruction.

    Each case must decode to exactly one instruction starting where the case started and ending
    where the next one starts; a wrong length desynchronizes the rest, so only the first failure
    after it is meaningful (the report stops there).
    """

    def __init__(self) -> None:
        self.asm = Assembler()
        self.cases: list[tuple[int, int, str, tuple[str | int, ...], int, int | None]] = []

    def __call__(self, emit, mnemonic: str, *ops: str | int, bits: int = 64, length: int | None = None):
        a = self.asm
        start = len(a.code)
        emit(a)
        self.cases.append((start, len(a.code), mnemonic, ops, bits, length))

    def done(self, minimum: int = 1) -> None:
        assert len(self.cases) >= minimum
        code = self.asm.finish()
        insns = list(MD.disasm_lite(code, 0))
        failures = []
        for k, (start, end, mnemonic, ops, bits, length) in enumerate(self.cases):

            def where() -> str:
                got = insns[k] if k < len(insns) else None  # noqa: B023
                return f"{code[start:end].hex()} -> {got}, expected {mnemonic} {ops}"  # noqa: B023

            if k >= len(insns) or insns[k][0] != start or insns[k][1] != end - start:
                failures.append("bad length: " + where())
                break
            _, n, got_m, got_ops = insns[k]
            if length is not None and length != n:
                failures.append(f"length {n} != {length}: " + where())
            got = [o.strip() for o in got_ops.split(",")] if got_ops else []
            ok = got_m == mnemonic and len(got) == len(ops)
            if ok:
                for g, e in zip(got, ops, strict=True):
                    if isinstance(e, int):
                        ok = bool(_INT.fullmatch(g)) and (int(g, 0) - e) % (1 << bits) == 0
                    else:
                        ok = g == e
                    if not ok:
                        break
            if not ok:
                failures.append(where())
        if not failures and len(insns) != len(self.cases):
            failures.append(f"{len(insns)} instructions decoded for {len(self.cases)} cases")
        head = f"{len(failures)} of {len(self.cases)} wrong:\n"
        assert not failures, head + "\n".join(failures[:20])


@pytest.fixture
def check():
    c = Checker()
    yield c
    c.done()


# ---------------------------------------------------------------------------------------------- moves


def test_mov(check):
    for size in SIZES:
        for d in range(16):
            for s in range(16):
                check(lambda a, d=d, s=s, z=size: a.mov(d, s, z), "mov", reg(d, size), reg(s, size))
        for r in (RAX, RSP, RBP, RSI, R12, R13, R15):
            for m in MEMS_FULL if size == 64 and r in (RAX, R13) else MEMS:
                check(lambda a, r=r, m=m, z=size: a.mov(r, m, z), "mov", reg(r, size), mem(m, size))
                check(lambda a, r=r, m=m, z=size: a.mov(m, r, z), "mov", mem(m, size), reg(r, size))
    with pytest.raises(ValueError):
        Assembler().mov(Mem(RAX), Mem(RCX))
    with pytest.raises(ValueError):
        Assembler().mov(RAX, RCX, 24)


def test_mov_imm_reg(check):
    for r in range(16):
        for imm in IMMS:
            v = imm % 2**64
            for kf in (False, True):
                emit = lambda a, r=r, i=imm, kf=kf: a.mov_imm(r, i, keep_flags=kf)  # noqa: E731
                if v == 0 and not kf:
                    check(emit, "xor", reg(r, 32), reg(r, 32), length=2 + (r >= 8))
                elif v < 2**32:
                    check(emit, "mov", reg(r, 32), v, bits=32, length=5 + (r >= 8))
                elif v >= 2**64 - 2**31:
                    check(emit, "mov", reg(r), v, length=7)
                else:
                    check(emit, "movabs", reg(r), v, length=10)
            for size in (8, 16, 32):
                v = imm % 2**size
                emit = lambda a, r=r, i=imm, z=size: a.mov_imm(r, i, z, keep_flags=True)  # noqa: E731
                check(emit, "mov", reg(r, size), v, bits=size)
                if v == 0 and size == 32:
                    check(lambda a, r=r: a.mov_imm(r, 0, 32), "xor", reg(r, 32), reg(r, 32))
                elif v == 0:  # 8/16-bit writes keep the upper bits: never xor
                    check(lambda a, r=r, z=size: a.mov_imm(r, 0, z), "mov", reg(r, size), 0, bits=size)


def test_mov_imm_mem(check):
    for m in MEMS:
        for imm in IMMS:
            for size in SIZES:
                if fits_imm(imm, size):
                    emit = lambda a, m=m, i=imm, z=size: a.mov_imm(m, i, z)  # noqa: E731
                    check(emit, "mov", mem(m, size), imm, bits=size)
                else:
                    with pytest.raises(ValueError):
                        Assembler().mov_imm(m, imm, size)


def test_movzx_movsx(check):
    for d in range(16):
        for s in list(range(16)) + MEMS[:: 3]:
            for ss in (8, 16):
                check(lambda a, d=d, s=s, ss=ss: a.movzx(d, s, ss), "movzx", reg(d, 32), opnd(s, ss))
                for size in (16, 32, 64):
                    if ss < size:
                        check(lambda a, d=d, s=s, ss=ss, z=size: a.movsx(d, s, ss, z), "movsx",
                              reg(d, size), opnd(s, ss))  # fmt: skip
            check(lambda a, d=d, s=s: a.movzx(d, s, 32), "mov", reg(d, 32), opnd(s, 32))
            check(lambda a, d=d, s=s: a.movsx(d, s, 32), "movsxd", reg(d), opnd(s, 32))
    with pytest.raises(ValueError):
        Assembler().movsx(RAX, RCX, 32, 32)


def test_lea(check):
    for d in range(16):
        for size in (16, 32, 64):
            for m in MEMS_FULL if size == 64 and d in (RAX, RSP, R13) else MEMS:
                check(lambda a, d=d, m=m, z=size: a.lea(d, m, z), "lea", reg(d, size), mem(m))
    with pytest.raises(ValueError):
        Assembler().lea(RAX, RCX)


# ---------------------------------------------------------------------------------------------- ALU

ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]


def _meth(name: str) -> str:
    return name + "_" if name in ("or", "and", "not") else name


@pytest.mark.parametrize("op", ALU)
def test_alu(check, op):
    f = _meth(op)
    for size in SIZES:
        for d in range(16):
            for s in range(16):
                check(lambda a, d=d, s=s, z=size: getattr(a, f)(d, s, z), op, reg(d, size), reg(s, size))
        for r in (RAX, RSP, RBP, RDI, R12, R13):
            for m in MEMS:
                check(lambda a, r=r, m=m, z=size: getattr(a, f)(r, m, z), op, reg(r, size), mem(m, size))
                check(lambda a, r=r, m=m, z=size: getattr(a, f)(m, r, z), op, mem(m, size), reg(r, size))
    with pytest.raises(ValueError):
        getattr(Assembler(), f)(Mem(RAX), Mem(RCX))


@pytest.mark.parametrize("op", ALU)
def test_alu_imm(check, op):
    f = op + "_imm"
    for size in SIZES:
        for imm in IMMS:
            if not fits_imm(imm, size):
                with pytest.raises(ValueError):
                    getattr(Assembler(), f)(RAX, imm, size)
                continue
            v = signed(imm, size)
            for d in list(range(16)) + MEMS[::4]:
                emit = lambda a, d=d, i=imm, z=size: getattr(a, f)(d, i, z)  # noqa: E731
                if size == 8:
                    n = None
                elif -128 <= v < 128:  # imm8 form: prefix, REX, opcode, ModRM, imm8
                    n = 3 + (size == 16) + (size == 64 or d >= 8) if isinstance(d, int) else None
                else:
                    n = None
                check(emit, op, opnd(d, size), imm, bits=size, length=n)


def test_alu_short_forms():
    def enc(fn):
        a = Assembler()
        fn(a)
        return a.finish().hex()

    assert enc(lambda a: a.add_imm(RSP, 8)) == "4883c408"
    assert enc(lambda a: a.sub_imm(RSP, 0x1000)) == "4881ec00100000"
    assert enc(lambda a: a.add_imm(RAX, 0x1000)) == "480500100000"
    assert enc(lambda a: a.cmp_imm(RAX, 0x80, 8)) == "3c80"
    assert enc(lambda a: a.and_imm(RAX, 0xFFFF, 16)) == "6683e0ff"
    assert enc(lambda a: a.and_imm(RCX, 0x8000, 16)) == "6681e10080"
    assert enc(lambda a: a.xor_imm(Mem(RSP, 8), -1, 32)) == "83742408ff"
    assert enc(lambda a: a.or_imm(RSI, 1, 8)) == "4080ce01"


def test_test(check):
    for size in SIZES:
        for d in list(range(16)) + MEMS[::2]:
            for s in range(16):
                check(lambda a, d=d, s=s, z=size: a.test(d, s, z), "test", opnd(d, size), reg(s, size))
        for imm in IMMS:
            if not fits_imm(imm, size):
                with pytest.raises(ValueError):
                    Assembler().test_imm(RCX, imm, size)
                continue
            v = signed(imm, size)
            # Narrower forms with identical flags: 0 <= imm < 128 at 8 bits, else positive imm32 at 32 bits.
            esize = 8 if 0 <= v < 128 else 32 if size == 64 and v > 0 else size
            for d in list(range(16)) + MEMS[::4]:
                emit = lambda a, d=d, i=imm, z=size: a.test_imm(d, i, z)  # noqa: E731
                check(emit, "test", opnd(d, esize), v, bits=esize)


# ---------------------------------------------------------------------------------------------- shifts


@pytest.mark.parametrize("op", ["shl", "shr", "sar", "rol", "ror"])
def test_shifts(check, op):
    for size in SIZES:
        for d in list(range(16)) + MEMS[::3]:
            for count in (0, 1, 2, 7, 31, 63, CL):
                n = None
                if count == 1 and isinstance(d, int):
                    n = 2 + (size == 16) + (size == 64 or d >= 8 or (size == 8 and d >= 4))
                c = "cl" if count == CL else count
                check(lambda a, d=d, c=count, z=size: getattr(a, op)(d, c, z), op, opnd(d, size), c, length=n)
    for bad in (-1, 256, "al"):
        with pytest.raises(ValueError):
            getattr(Assembler(), op)(RAX, bad)


@pytest.mark.parametrize("op", ["shld", "shrd"])
def test_double_shifts(check, op):
    for size in (16, 32, 64):
        for d in list(range(16)) + MEMS[::3]:
            for s in range(16):
                for count in (1, 13, CL):
                    c = "cl" if count == CL else count
                    check(lambda a, d=d, s=s, c=count, z=size: getattr(a, op)(d, s, c, z), op,
                          opnd(d, size), reg(s, size), c)  # fmt: skip
    with pytest.raises(ValueError):
        getattr(Assembler(), op)(RAX, RCX, 1, 8)


# ------------------------------------------------------------------------------------ mul, div, unary


def test_imul(check):
    for size in (16, 32, 64):
        for d in range(16):
            for s in list(range(16)) + MEMS[::3]:
                check(lambda a, d=d, s=s, z=size: a.imul(d, s, z), "imul", reg(d, size), opnd(s, size))
                for imm in (0, 1, -1, 127, 128, -128, -129, 2**31 - 1, -(2**31), 2**32 - 1):
                    if not fits_imm(imm, size) or d not in (RAX, RBP, R12, R15):
                        continue
                    check(lambda a, d=d, s=s, i=imm, z=size: a.imul_imm(d, s, i, z), "imul",
                          reg(d, size), opnd(s, size), imm, bits=size)  # fmt: skip
    with pytest.raises(ValueError):
        Assembler().imul_imm(RAX, RCX, 2**32 - 1)


@pytest.mark.parametrize(
    "meth,mnem",
    [("mul1", "mul"), ("imul1", "imul"), ("div1", "div"), ("idiv1", "idiv"), ("neg", "neg"), ("not_", "not"),
     ("inc", "inc"), ("dec", "dec")],
)  # fmt: skip
def test_unary(check, meth, mnem):
    for size in SIZES:
        for d in list(range(16)) + MEMS:
            check(lambda a, d=d, z=size: getattr(a, meth)(d, z), mnem, opnd(d, size))


@pytest.mark.parametrize("op", ["lzcnt", "tzcnt", "popcnt", "bsf", "bsr"])
def test_bit_scan(check, op):
    for size in (16, 32, 64):
        for d in range(16):
            for s in list(range(16)) + MEMS[::3]:
                check(lambda a, d=d, s=s, z=size: getattr(a, op)(d, s, z), op, reg(d, size), opnd(s, size))


def test_bswap_xchg_misc(check):
    for r in range(16):
        for size in (32, 64):
            check(lambda a, r=r, z=size: a.bswap(r, z), "bswap", reg(r, size))
        check(lambda a, r=r: a.push(r), "push", reg(r), length=1 + (r >= 8))
        check(lambda a, r=r: a.pop(r), "pop", reg(r), length=1 + (r >= 8))
        for s in range(16):
            for size in SIZES:
                check(lambda a, r=r, s=s, z=size: a.xchg(r, s, z), "xchg", reg(r, size), reg(s, size))
    check(lambda a: a.cqo(), "cqo")
    check(lambda a: a.cdq(), "cdq")
    check(lambda a: a.ret(), "ret")
    check(lambda a: a.ud2(), "ud2")
    check(lambda a: a.int3(), "int3")
    with pytest.raises(ValueError):
        Assembler().bswap(RAX, 16)


def test_setcc_cmovcc(check):
    for c in Cond:
        for d in list(range(16)) + MEMS[::3]:
            check(lambda a, c=c, d=d: a.setcc(c, d), "set" + CC[c], opnd(d, 8))
        for d in range(16) if c in (Cond.E, Cond.G) else (RAX, R9):
            for s in list(range(16)) + MEMS[::9]:
                for size in (16, 32, 64):
                    check(lambda a, c=c, d=d, s=s, z=size: a.cmovcc(c, d, s, z), "cmov" + CC[c],
                          reg(d, size), opnd(s, size))  # fmt: skip


def test_cond_invert():
    for c in Cond:
        assert invert(c) == c.invert() == Cond(c ^ 1)
        assert invert(invert(c)) is c
    assert invert(Cond.E) is Cond.NE
    assert Cond.L.invert() is Cond.GE


def test_nop():
    for n in range(0, 40):
        a = Assembler()
        a.nop(n)
        code = a.finish()
        assert len(code) == n
        insns = list(MD.disasm(code, 0))
        assert [i.mnemonic for i in insns] == ["nop"] * ((n + 8) // 9)
        assert sum(i.size for i in insns) == n


def test_indirect_branches(check):
    for r in range(16):
        check(lambda a, r=r: a.jmp_reg(r), "jmp", reg(r))
        check(lambda a, r=r: a.call_reg(r), "call", reg(r))
    for m in MEMS:
        check(lambda a, m=m: a.jmp_mem(m), "jmp", mem(m, 64))
        check(lambda a, m=m: a.call_mem(m), "call", mem(m, 64))


# ---------------------------------------------------------------------------------------------- SSE, FMA3

XMM = [f"xmm{i}" for i in range(16)]


def test_movq_movd(check):
    for x in range(16):
        for r in list(range(16)) + MEMS[::4]:
            for size in (32, 64):
                m = "movq" if size == 64 else "movd"
                check(lambda a, x=x, r=r, z=size: a.movq_to_xmm(x, r, z), m, XMM[x], opnd(r, size))
                check(lambda a, x=x, r=r, z=size: a.movq_from_xmm(r, x, z), m, opnd(r, size), XMM[x])
    with pytest.raises(ValueError):
        Assembler().movq_to_xmm(0, RAX, 16)
    with pytest.raises(ValueError):
        Assembler().movq_from_xmm(RAX, 0, 8)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt"])
def test_sse_scalar_arith(check, op):
    for d in range(16):
        for s in range(16):
            check(lambda a, d=d, s=s: a.sse_arith(op, d, s), op + "sd", XMM[d], XMM[s])
            check(lambda a, d=d, s=s: a.sse_arith(op, d, s, 32), op + "ss", XMM[d], XMM[s])
        for m in MEMS[::5]:
            check(lambda a, d=d, m=m: a.sse_arith(op, d, m), op + "sd", XMM[d], mem(m, 64))
            check(lambda a, d=d, m=m: a.sse_arith(op, d, m, 32), op + "ss", XMM[d], mem(m, 32))
    with pytest.raises(ValueError):
        Assembler().sse_arith(op, 0, 1, 16)
    with pytest.raises(ValueError):
        Assembler().sse_arith("max", 0, 1)


def test_ucomis_and_mxcsr(check):
    for d in range(16):
        for s in list(range(16)) + MEMS[::7]:
            check(lambda a, d=d, s=s: a.ucomis(d, s), "ucomisd", XMM[d],
                  XMM[s] if isinstance(s, int) else mem(s, 64))
            check(lambda a, d=d, s=s: a.ucomis(d, s, 32), "ucomiss", XMM[d],
                  XMM[s] if isinstance(s, int) else mem(s, 32))
    for m in MEMS_FULL[::3]:
        check(lambda a, m=m: a.ldmxcsr(m), "ldmxcsr", mem(m, 32))
        check(lambda a, m=m: a.stmxcsr(m), "stmxcsr", mem(m, 32))
    with pytest.raises(ValueError):
        Assembler().ldmxcsr(RAX)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Assembler().stmxcsr(RAX)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Assembler().ucomis(0, 1, 16)


@pytest.mark.parametrize("kind", ["madd", "msub", "nmadd", "nmsub"])
def test_vfma213(check, kind):
    for d in range(16):
        for s2 in range(16):
            for s3 in (0, 3, 7, 8, 12, 15):
                check(lambda a, d=d, s2=s2, s3=s3: a.vfma213(kind, d, s2, s3), f"vf{kind}213sd",
                      XMM[d], XMM[s2], XMM[s3])
                check(lambda a, d=d, s2=s2, s3=s3: a.vfma213(kind, d, s2, s3, 32), f"vf{kind}213ss",
                      XMM[d], XMM[s2], XMM[s3])
    with pytest.raises(ValueError):
        Assembler().vfma213(kind, 0, 1, 2, 16)
    with pytest.raises(ValueError):
        Assembler().vfma213("madd", 0, 1, Mem(RAX))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Assembler().vfma213("fms", 0, 1, 2)


# ---------------------------------------------------------------------------------------------- exact bytes


@pytest.mark.parametrize(
    "emit,hexbytes",
    [
        (lambda a: a.mov(RAX, RBX), "4889d8"),
        (lambda a: a.mov(RAX, Mem(RSP)), "488b0424"),
        (lambda a: a.mov(RAX, Mem(R13)), "498b4500"),
        (lambda a: a.mov(RAX, Mem(RBP)), "488b4500"),
        (lambda a: a.mov(RAX, Mem(R12, 8)), "498b442408"),
        (lambda a: a.mov(Mem(RBP, -8), RDI), "48897df8"),
        (lambda a: a.mov(RAX, Mem(RBX, 0x100, R12, 8)), "4a8b84e300010000"),
        (lambda a: a.mov(RCX, Mem(R13, 0, RAX, 4), 32), "418b4c8500"),
        (lambda a: a.mov(Mem(RDI), RSI, 8), "408837"),
        (lambda a: a.mov(Mem(RAX), RAX, 16), "668900"),
        (lambda a: a.mov_imm(RAX, 0), "31c0"),
        (lambda a: a.mov_imm(RAX, 0, keep_flags=True), "b800000000"),
        (lambda a: a.mov_imm(R15, -1), "49c7c7ffffffff"),
        (lambda a: a.mov_imm(RAX, 0xFFFFFFFF), "b8ffffffff"),
        (lambda a: a.mov_imm(RAX, 0x123456789), "48b88967452301000000"),
        (lambda a: a.mov_imm(Mem(RSP, 16), -2), "48c7442410feffffff"),
        (lambda a: a.mov_imm(RSI, 0x80, 8), "40b680"),
        (lambda a: a.movzx(RAX, RSI, 8), "400fb6c6"),
        (lambda a: a.movsx(RAX, RCX, 32), "4863c1"),
        (lambda a: a.lea(RAX, Mem(RAX, 0, RAX, 2)), "488d0440"),
        (lambda a: a.setcc(Cond.E, RDI), "400f94c7"),
        (lambda a: a.test_imm(RDI, 1), "40f6c701"),
        (lambda a: a.test(RAX, RAX), "4885c0"),
        (lambda a: a.shl(RAX, CL), "48d3e0"),
        (lambda a: a.sar(RDX, 63), "48c1fa3f"),
        (lambda a: a.imul_imm(RAX, RCX, 10), "486bc10a"),
        (lambda a: a.push(R12), "4154"),
        (lambda a: a.pop(RBP), "5d"),
        (lambda a: a.call_reg(RAX), "ffd0"),
        (lambda a: a.jmp_mem(Mem(R14, 0x10)), "41ff6610"),
        (lambda a: a.bswap(R12, 32), "410fcc"),
        (lambda a: a.lzcnt(RAX, RCX, 32), "f30fbdc1"),
        (lambda a: a.popcnt(RAX, RCX, 16), "66f30fb8c1"),
        (lambda a: a.ret(), "c3"),
        (lambda a: a.ud2(), "0f0b"),
        (lambda a: a.movq_to_xmm(0, RAX), "66480f6ec0"),
        (lambda a: a.movq_from_xmm(R12, 1, 32), "66410f7ecc"),
        (lambda a: a.sse_arith("add", 0, 1), "f20f58c1"),
        (lambda a: a.sse_arith("sqrt", 9, 2, 32), "f3440f51ca"),
        (lambda a: a.ucomis(0, 0), "660f2ec0"),
        (lambda a: a.ldmxcsr(Mem(RSP, 8)), "0fae542408"),
        (lambda a: a.stmxcsr(Mem(RSP, 8)), "0fae5c2408"),
        (lambda a: a.vfma213("madd", 0, 1, 2), "c4e2f1a9c2"),
        (lambda a: a.vfma213("nmsub", 9, 14, 3, 32), "c46209afcb"),
    ],
)
def test_exact_bytes(emit, hexbytes):
    a = Assembler()
    emit(a)
    assert a.finish().hex() == hexbytes


def test_bad_operands():
    with pytest.raises(ValueError):
        Assembler().mov(RAX, Mem(RAX, 0, RSP))  # rsp is not an index
    with pytest.raises(ValueError):
        Assembler().mov(RAX, Mem(RAX, 0, RCX, 3))
    with pytest.raises(ValueError):
        Assembler().mov(RAX, Mem(RAX, 2**31))
    with pytest.raises(ValueError):
        Assembler().mov_imm(Mem(RAX), 2**31)
    with pytest.raises(ValueError):
        Assembler().imul(RAX, RCX, 8)


# ---------------------------------------------------------------------------------------------- labels


def _dis(code: bytes) -> list[tuple[int, str, str]]:
    return [(i.address, i.mnemonic, i.op_str) for i in MD.disasm(code, 0)]


def test_labels_forward_and_backward():
    a = Assembler()
    top = a.label()
    a.bind(top)
    fwd = a.label()
    f1 = a.jmp(fwd)
    assert f1 == 1
    f2 = a.jcc(Cond.NE, fwd)
    assert f2 == 7
    a.jmp_short(fwd)
    a.jcc_short(Cond.L, fwd)
    a.nop(3)
    a.bind(fwd)
    assert a.offset_of(fwd) == a.pos() == 18
    a.jmp(top)
    a.jcc(Cond.B, top)
    a.jmp_short(top)
    a.jcc_short(Cond.G, top)
    code = a.finish()
    assert code[:5].hex() == "e90d000000"
    assert _dis(code) == [
        (0, "jmp", "0x12"), (5, "jne", "0x12"), (11, "jmp", "0x12"), (13, "jl", "0x12"),
        (15, "nop", "dword ptr [rax]"),
        (18, "jmp", "0"), (23, "jb", "0"), (29, "jmp", "0"), (31, "jg", "0"),
    ]  # fmt: skip


def test_short_jump_range():
    # Forward: +127 fits, +128 does not (checked at bind).
    for dist, ok in ((127, True), (128, False)):
        a = Assembler()
        lab = a.label()
        a.jmp_short(lab)
        a.nop(dist)
        if ok:
            a.bind(lab)
            assert a.finish()[:2].hex() == "eb7f"
        else:
            with pytest.raises(ValueError):
                a.bind(lab)
    # Backward: -128 fits, -129 does not (checked at emission).
    for dist, ok in ((126, True), (127, False)):
        a = Assembler()
        lab = a.label()
        a.bind(lab)
        a.nop(dist)
        if ok:
            a.jcc_short(Cond.E, lab)
            assert a.finish()[-2:].hex() == "7480"
        else:
            with pytest.raises(ValueError):
                a.jcc_short(Cond.E, lab)


def test_unbound_labels():
    a = Assembler()
    lab = a.label()
    a.jmp(lab)
    with pytest.raises(ValueError):
        a.finish()
    with pytest.raises(ValueError):
        a.offset_of(lab)
    a.bind(lab)
    assert a.finish() == b"\xe9\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        a.bind(lab)
    # A label never referenced need not be bound.
    b = Assembler()
    b.label()
    b.ret()
    assert b.finish() == b"\xc3"


def test_rel32_to_and_patch():
    a = Assembler()
    a.nop(10)
    f = a.jmp_rel32_to(0)
    assert f == 11
    g = a.call_rel32_to(100)
    assert g == 16
    code = a.finish()
    assert _dis(code)[-2:] == [(10, "jmp", "0"), (15, "call", "0x64")]
    buf = bytearray(code)
    patch_rel32(buf, f, 40)
    assert _dis(bytes(buf))[-2][2] == "0x28"
    mv = memoryview(bytearray(code))
    patch_rel32(mv, g, 3)
    assert _dis(bytes(mv))[-1][2] == "3"
    arr = (ctypes.c_ubyte * len(code)).from_buffer_copy(code)
    patch_rel32(arr, f, 0x1000)
    assert _dis(bytes(arr))[-2][2] == "0x1000"
    with pytest.raises(ValueError):
        patch_rel32(bytearray(8), 0, 2**32)


# ---------------------------------------------------------------------------------------------- randomized


def test_randomized_stream():
    rng = random.Random(20261126)

    def r() -> int:
        return rng.randrange(16)

    def m() -> Mem:
        idx = rng.choice([None, None] + [i for i in range(16) if i != RSP])
        disp = rng.choice([0, rng.randrange(-128, 128), rng.randrange(-(2**31), 2**31)])
        return Mem(r(), disp, idx, rng.choice((1, 2, 4, 8)))

    def rm() -> int | Mem:
        return r() if rng.random() < 0.5 else m()

    def sz(*choices: int) -> int:
        return rng.choice(choices or SIZES)

    def imm32() -> int:
        return rng.choice([rng.randrange(-128, 128), rng.randrange(-(2**31), 2**31), 0, -1])

    labels = [asm.Label() for _ in range(50)]
    gens = [
        lambda a: a.mov(r(), rm(), sz()),
        lambda a: a.mov(m(), r(), sz()),
        lambda a: a.mov_imm(r(), rng.randrange(2**64), sz(), keep_flags=rng.random() < 0.5),
        lambda a: a.mov_imm(rm(), imm32(), sz()),
        lambda a: a.movzx(r(), rm(), sz(8, 16, 32)),
        lambda a: a.movsx(r(), rm(), sz(8, 16, 32)),
        lambda a: a.lea(r(), m(), sz(16, 32, 64)),
        lambda a: getattr(a, rng.choice(["add", "or_", "adc", "sbb", "and_", "sub", "xor", "cmp"]))(
            r(), rm(), sz()),
        lambda a: getattr(a, rng.choice(["add", "or_", "adc", "sbb", "and_", "sub", "xor", "cmp"]))(
            m(), r(), sz()),
        lambda a: getattr(a, rng.choice(["add_imm", "sub_imm", "and_imm", "cmp_imm", "xor_imm"]))(
            rm(), imm32(), sz()),
        lambda a: a.test(rm(), r(), sz()),
        lambda a: a.test_imm(rm(), imm32(), sz()),
        lambda a: getattr(a, rng.choice(["shl", "shr", "sar", "rol", "ror"]))(
            rm(), rng.choice([CL, 1, rng.randrange(64)]), sz()),
        lambda a: getattr(a, rng.choice(["shld", "shrd"]))(rm(), r(), rng.choice([CL, 5]), sz(16, 32, 64)),
        lambda a: a.imul(r(), rm(), sz(16, 32, 64)),
        lambda a: a.imul_imm(r(), rm(), imm32(), sz(16, 32, 64)),
        lambda a: getattr(a, rng.choice(["mul1", "imul1", "div1", "idiv1", "neg", "not_", "inc", "dec"]))(
            rm(), sz()),
        lambda a: a.bswap(r(), sz(32, 64)),
        lambda a: getattr(a, rng.choice(["lzcnt", "tzcnt", "popcnt", "bsf", "bsr"]))(
            r(), rm(), sz(16, 32, 64)),
        lambda a: a.setcc(Cond(rng.randrange(16)), rm()),
        lambda a: a.cmovcc(Cond(rng.randrange(16)), r(), rm(), sz(16, 32, 64)),
        lambda a: a.xchg(r(), r(), sz()),
        lambda a: rng.choice([a.cqo, a.cdq, a.ret, a.ud2, a.int3])(),
        lambda a: a.push(r()),
        lambda a: a.pop(r()),
        lambda a: a.nop(rng.randrange(1, 10)),
        lambda a: a.jmp_reg(r()),
        lambda a: a.call_mem(m()),
        lambda a: a.jmp(rng.choice(labels)),
        lambda a: a.jcc(Cond(rng.randrange(16)), rng.choice(labels)),
        lambda a: a.call_rel32_to(rng.randrange(a.pos() + 1)),
        lambda a: a.movq_to_xmm(r(), rm(), sz(32, 64)),
        lambda a: a.movq_from_xmm(rm(), r(), sz(32, 64)),
        lambda a: a.sse_arith(rng.choice(["add", "sub", "mul", "div", "sqrt"]), r(), rm(), sz(32, 64)),
        lambda a: a.ucomis(r(), rm(), sz(32, 64)),
        lambda a: rng.choice([a.ldmxcsr, a.stmxcsr])(m()),
        lambda a: a.vfma213(rng.choice(["madd", "msub", "nmadd", "nmsub"]), r(), r(), r(), sz(32, 64)),
    ]  # fmt: skip
    a = Assembler()
    starts = []
    for _ in range(4000):
        if rng.random() < 0.02:
            lab = rng.choice(labels)
            if lab.pos < 0:
                a.bind(lab)
        starts.append(a.pos())
        rng.choice(gens)(a)
    for lab in labels:
        if lab.pos < 0:
            a.bind(lab)
    code = a.finish()
    insns = list(MD.disasm(code, 0))
    assert [i.address for i in insns] == starts
    assert sum(i.size for i in insns) == len(code)
    for i in insns:  # every branch lands where its label was bound
        if i.mnemonic.startswith("j") and i.op_str and _INT.fullmatch(i.op_str):
            assert int(i.op_str, 0) in {lab.pos for lab in labels}


def test_module_constants():
    assert (asm.RAX, asm.RSP, asm.RBP, asm.R8, asm.R15) == (0, 4, 5, 8, 15)
    assert asm.CL == "cl"
    assert RSI == 6 and R12 == 12 and R13 == 13
