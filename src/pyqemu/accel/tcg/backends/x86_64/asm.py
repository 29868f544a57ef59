"""An x86-64 machine-code assembler (encoder) for the JIT backend.

It models the 64-bit mode instruction format of the Intel SDM, volume 2, chapter 2: optional legacy
prefixes (``0x66`` operand-size override for 16-bit operations, ``0xF3`` as a mandatory prefix of
LZCNT/TZCNT/POPCNT), an optional REX prefix ``0100WRXB`` (W: 64-bit operand size; R, X, B: the fourth
bit of ModRM.reg, SIB.index and ModRM.rm/SIB.base/opcode register), the opcode, a ModRM byte
(mod, reg, rm) with optional SIB byte (scale, index, base) and 8- or 32-bit displacement, then an
immediate.  The encoding corner cases it handles:

* ``rsp``/``r12`` as a memory base (rm = 100) always need a SIB byte (index 100 = none);
* ``rbp``/``r13`` as a base with mod 00 would mean RIP-relative / no base, so they always get a
  displacement (a zero disp8 when the displacement is 0);
* ``rsp`` cannot be an index register (``r12`` can, with REX.X);
* the byte registers ``spl``, ``bpl``, ``sil``, ``dil`` (4..7) need a REX prefix (even 0x40),
  without which they would be ``ah``, ``ch``, ``dh``, ``bh`` (never generated here).

Every instruction is appended to :attr:`Assembler.code` (a ``bytearray``).  Branches to
:class:`Label` objects are rel32 (or rel8 for the ``_short`` variants) fields patched when the
label is bound; :meth:`Assembler.finish` checks that every referenced label has been bound.

Operands: an ``int`` is a register number (:data:`RAX` .. :data:`R15`), a :class:`Mem` is a memory
operand ``[base + index*scale + disp]``; ``size`` is the operand size in bits (8, 16, 32, 64).

Scalar SSE floating point (the soft-float intrinsics): ``xmm`` operands are register numbers 0..15 too
(``xmm0`` .. ``xmm15``), encoded in the same ModRM fields; the legacy SSE forms take a mandatory prefix
(``0x66``/``0xF2``/``0xF3``) before REX.  The FMA3 instructions use the three-byte VEX prefix
``C4 [R̄X̄B̄ mmmmm] [W v̄v̄v̄v̄ L pp]`` (map 0F38, pp 01 = 66, W selecting the double-precision form,
register operands only).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple, Protocol

__all__ = [
    "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
    "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
    "CL", "Mem", "Cond", "invert", "Label", "Assembler", "patch_rel32", "WritableBuffer",
]  # fmt: skip

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 = range(16)

#: Shift count marker: shift by ``cl``.
CL = "cl"


class Mem(NamedTuple):
    """A memory operand ``[base + index*scale + disp]`` (``disp`` signed 32-bit, ``index`` not RSP).
    A named tuple: cheap to make and to hash (encodings are memoized by operands)."""

    base: int
    disp: int = 0
    index: int | None = None
    scale: int = 1


class Cond(IntEnum):
    """x86 condition codes (the low nibble of Jcc/SETcc/CMOVcc)."""

    O = 0
    NO = 1
    B = 2
    AE = 3
    E = 4
    NE = 5
    BE = 6
    A = 7
    S = 8
    NS = 9
    P = 10
    NP = 11
    L = 12
    GE = 13
    LE = 14
    G = 15

    def invert(self) -> Cond:
        """The opposite condition."""
        return Cond(self ^ 1)


def invert(c: Cond) -> Cond:
    """The opposite condition of ``c``."""
    return Cond(c ^ 1)


class Label:
    """A position in the code, bound once by :meth:`Assembler.bind`; referenced before or after binding.

    ``pos`` is the bound offset (-1 while unbound); ``refs`` the (field offset, field width) of
    references waiting for the binding.
    """

    __slots__ = ("pos", "refs")

    def __init__(self) -> None:
        self.pos = -1
        self.refs: list[tuple[int, int]] = []

    @property
    def bound(self) -> bool:
        return self.pos >= 0

    def __repr__(self) -> str:
        return f"Label(pos={self.pos})" if self.pos >= 0 else f"Label(unbound, {len(self.refs)} refs)"


class WritableBuffer(Protocol):
    """What :func:`patch_rel32` writes into: ``bytearray``, writable ``memoryview``, ctypes byte arrays."""

    def __setitem__(self, key: slice, value: bytes, /) -> None: ...


def patch_rel32(buf: WritableBuffer, field_offset: int, target_offset: int) -> None:
    """Write rel32 = ``target_offset - (field_offset + 4)`` little-endian at ``buf[field_offset:+4]``.

    ``field_offset`` and ``target_offset`` are offsets in the same buffer (the rel32 field of a
    ``jmp``/``jcc``/``call`` ends its instruction, so the branch goes to ``target_offset``).
    """
    rel = target_offset - (field_offset + 4)
    if not -0x80000000 <= rel <= 0x7FFFFFFF:
        raise ValueError(f"rel32 out of range: {rel}")
    buf[field_offset : field_offset + 4] = (rel & 0xFFFFFFFF).to_bytes(4, "little")


_SCALE = {1: 0, 2: 0x40, 4: 0x80, 8: 0xC0}
_OPSIZE = {8: (b"", 0), 16: (b"\x66", 0), 32: (b"", 0), 64: (b"", 8)}
_BYTE = [bytes((i,)) for i in range(256)]

# ALU group 1 operation numbers (ModRM.reg of 80/81/83, and opcode bits 5..3 of the r/m forms).
_ADD, _OR, _ADC, _SBB, _AND, _SUB, _XOR, _CMP = range(8)
# Shift group 2 operation numbers (ModRM.reg of C0/C1/D0/D1/D2/D3).
_ROL, _ROR, _SHL, _SHR, _SAR = 0, 1, 4, 5, 7

# Scalar SSE arithmetic opcodes (0F xx, prefix F2 for sd, F3 for ss) and FMA3 213-form opcodes (VEX 0F38).
_SSE_ARITH = {"sqrt": 0x51, "add": 0x58, "mul": 0x59, "sub": 0x5C, "div": 0x5E}
_FMA213 = {"madd": 0xA9, "msub": 0xAB, "nmadd": 0xAD, "nmsub": 0xAF}

_NOPS = (
    b"",
    b"\x90",
    b"\x66\x90",
    b"\x0f\x1f\x00",
    b"\x0f\x1f\x40\x00",
    b"\x0f\x1f\x44\x00\x00",
    b"\x66\x0f\x1f\x44\x00\x00",
    b"\x0f\x1f\x80\x00\x00\x00\x00",
    b"\x0f\x1f\x84\x00\x00\x00\x00\x00",
    b"\x66\x0f\x1f\x84\x00\x00\x00\x00\x00",
)


def _opsize(size: int) -> tuple[bytes, int]:
    try:
        return _OPSIZE[size]
    except KeyError:
        raise ValueError(f"bad operand size {size}") from None


def _signed(imm: int, size: int) -> int:
    """``imm`` modulo 2**size as a signed ``size``-bit value."""
    m = 1 << size
    v = imm & (m - 1)
    return v - m if v >> (size - 1) else v


def _alu_imm(imm: int, size: int) -> int:
    """The signed immediate of an imm8/imm16/imm32 operand for an operation of ``size`` bits."""
    v = _signed(imm, size)
    if size == 64 and not -0x80000000 <= v <= 0x7FFFFFFF:
        raise ValueError(f"immediate {imm:#x} does not fit a sign-extended imm32")
    return v


def _immbytes(v: int, size: int) -> bytes:
    """The immediate field for an operand of ``size`` bits (imm32 for 64-bit)."""
    if size == 8:
        return bytes((v & 0xFF,))
    if size == 16:
        return (v & 0xFFFF).to_bytes(2, "little")
    return (v & 0xFFFFFFFF).to_bytes(4, "little")


#: memo of :func:`_encode` (cleared when it grows past _MAX_ENCODINGS)
_ENCODINGS: dict[tuple, bytes] = {}
_MAX_ENCODINGS = 1 << 16


def _encode(pfx: bytes, w: int, opc: bytes, reg: int, rm: int | Mem, force_rex: bool) -> bytes:
    """Prefixes, REX, ``opc``, ModRM (+ SIB, displacement) of :meth:`Assembler._enc`."""
    code = bytearray()
    if pfx:
        code += pfx
    rex = w | (reg & 8) >> 1
    if type(rm) is int:
        rex |= (rm & 8) >> 3
        if rex or force_rex:
            code.append(0x40 | rex)
        code += opc
        code.append(0xC0 | (reg & 7) << 3 | (rm & 7))
        return bytes(code)
    base = rm.base
    index = rm.index
    disp = rm.disp
    rex |= (base & 8) >> 3
    if index is not None:
        rex |= (index & 8) >> 2
    if rex or force_rex:
        code.append(0x40 | rex)
    code += opc
    b = base & 7
    if disp == 0 and b != 5:
        mod = 0
    elif -128 <= disp <= 127:
        mod = 0x40
    elif -0x80000000 <= disp <= 0x7FFFFFFF:
        mod = 0x80
    else:
        raise ValueError(f"displacement {disp:#x} does not fit 32 bits")
    r = (reg & 7) << 3
    if index is None:
        if b == 4:
            code.append(mod | r | 4)
            code.append(0x24)
        else:
            code.append(mod | r | b)
    else:
        if index == RSP:
            raise ValueError("rsp cannot be an index register")
        try:
            ss = _SCALE[rm.scale]
        except KeyError:
            raise ValueError(f"bad scale {rm.scale}") from None
        code.append(mod | r | 4)
        code.append(ss | (index & 7) << 3 | b)
    if mod == 0x40:
        code.append(disp & 0xFF)
    elif mod == 0x80:
        code += (disp & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(code)


class Assembler:
    """Appends x86-64 instructions to :attr:`code`."""

    __slots__ = ("code", "_labels")

    def __init__(self) -> None:
        self.code = bytearray()
        self._labels: list[Label] = []  # labels referenced while unbound

    # ------------------------------------------------------------------ buffer and labels

    def pos(self) -> int:
        return len(self.code)

    def label(self) -> Label:
        return Label()

    def bind(self, label: Label) -> None:
        if label.pos >= 0:
            raise ValueError("label bound twice")
        pos = label.pos = len(self.code)
        code = self.code
        for field, width in label.refs:
            rel = pos - (field + width)
            if width == 1:
                if not -128 <= rel <= 127:
                    raise ValueError(f"short jump out of range ({rel} bytes)")
                code[field] = rel & 0xFF
            else:
                code[field : field + 4] = (rel & 0xFFFFFFFF).to_bytes(4, "little")
        label.refs.clear()

    def offset_of(self, label: Label) -> int:
        if label.pos < 0:
            raise ValueError("label not bound")
        return label.pos

    def finish(self) -> bytes:
        for lab in self._labels:
            if lab.pos < 0 and lab.refs:
                raise ValueError("reference to an unbound label")
        self._labels.clear()
        return bytes(self.code)

    def raw(self, data: bytes) -> None:
        self.code += data

    def _ref(self, target: Label, width: int) -> int:
        """Emit a rel8/rel32 field (the last field of the instruction) for ``target``; its offset."""
        code = self.code
        field = len(code)
        if target.pos >= 0:
            rel = target.pos - (field + width)
            if width == 1:
                if not -128 <= rel <= 127:
                    raise ValueError(f"short jump out of range ({rel} bytes)")
                code.append(rel & 0xFF)
            else:
                code += (rel & 0xFFFFFFFF).to_bytes(4, "little")
        else:
            if not target.refs:
                self._labels.append(target)
            target.refs.append((field, width))
            code += bytes(width)
        return field

    # ------------------------------------------------------------------ encoding core

    def _enc(self, pfx: bytes, w: int, opc: bytes, reg: int, rm: int | Mem, force_rex: bool = False) -> None:
        """Prefixes, REX, ``opc``, ModRM (+ SIB, displacement) for ``reg`` (register or /digit), ``rm``.

        ``w`` is 8 for REX.W, else 0; ``force_rex`` asks for a REX prefix even with no bits set
        (byte registers spl/bpl/sil/dil).  Encodings are memoized: code generation repeats the same
        few operand combinations (guest registers in the state buffer, context words) all the time.
        """
        key = (pfx, w, opc, reg, rm, force_rex)
        enc = _ENCODINGS.get(key)
        if enc is None:
            if len(_ENCODINGS) >= _MAX_ENCODINGS:
                _ENCODINGS.clear()
            enc = _ENCODINGS[key] = _encode(pfx, w, opc, reg, rm, force_rex)
        self.code += enc

    def _sized(self, size: int, opc8: int, opc: int, reg: int, rm: int | Mem, reg_is_reg: bool) -> None:
        """One-byte opcode with a byte form ``opc8`` (size 8) and a full-size form ``opc``."""
        if size == 8:
            force = (reg_is_reg and 4 <= reg <= 7) or (type(rm) is int and 4 <= rm <= 7)
            self._enc(b"", 0, _BYTE[opc8], reg, rm, force)
        else:
            pfx, w = _opsize(size)
            self._enc(pfx, w, _BYTE[opc], reg, rm)

    def _sized0f(self, size: int, pfx0: bytes, opc: bytes, reg: int, rm: int | Mem) -> None:
        """A 16/32/64-bit only instruction with mandatory prefix ``pfx0`` (after 0x66) and opcode ``opc``."""
        if size == 8:
            raise ValueError("8-bit operand size not supported")
        pfx, w = _opsize(size)
        self._enc(pfx + pfx0, w, opc, reg, rm)

    # ------------------------------------------------------------------ moves

    def mov(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        if type(src) is int:
            self._sized(size, 0x88, 0x89, src, dst, True)
        elif type(dst) is int:
            self._sized(size, 0x8A, 0x8B, dst, src, True)
        else:
            raise ValueError("mov: memory to memory")

    def mov_imm(self, dst: int | Mem, imm: int, size: int = 64, keep_flags: bool = False) -> None:
        code = self.code
        if type(dst) is int:
            if size == 64 or size == 32:
                v = imm & 0xFFFFFFFFFFFFFFFF if size == 64 else imm & 0xFFFFFFFF
                if v == 0 and not keep_flags:
                    self._enc(b"", 0, b"\x31", dst, dst)  # xor r32, r32
                elif v <= 0xFFFFFFFF:
                    if dst >= 8:
                        code.append(0x41)
                    code.append(0xB8 | (dst & 7))
                    code += v.to_bytes(4, "little")
                elif v >= 0xFFFFFFFF80000000:
                    self._enc(b"", 8, b"\xc7", 0, dst)
                    code += (v & 0xFFFFFFFF).to_bytes(4, "little")
                else:
                    code.append(0x49 if dst >= 8 else 0x48)
                    code.append(0xB8 | (dst & 7))
                    code += v.to_bytes(8, "little")
            elif size == 16:
                code.append(0x66)
                if dst >= 8:
                    code.append(0x41)
                code.append(0xB8 | (dst & 7))
                code += (imm & 0xFFFF).to_bytes(2, "little")
            elif size == 8:
                if dst >= 8:
                    code.append(0x41)
                elif dst >= 4:
                    code.append(0x40)
                code.append(0xB0 | (dst & 7))
                code.append(imm & 0xFF)
            else:
                raise ValueError(f"bad operand size {size}")
        else:
            v = _alu_imm(imm, size)
            self._sized(size, 0xC6, 0xC7, 0, dst, False)
            code += _immbytes(v, size)

    def movzx(self, dst: int, src: int | Mem, src_size: int) -> None:
        """Zero-extend an 8/16-bit ``src`` into ``dst`` (32-bit form, which zero-extends to 64)."""
        if src_size == 8:
            self._enc(b"", 0, b"\x0f\xb6", dst, src, type(src) is int and 4 <= src <= 7)
        elif src_size == 16:
            self._enc(b"", 0, b"\x0f\xb7", dst, src)
        elif src_size == 32:
            self.mov(dst, src, 32)
        else:
            raise ValueError(f"bad movzx source size {src_size}")

    def movsx(self, dst: int, src: int | Mem, src_size: int, size: int = 64) -> None:
        """Sign-extend an 8/16/32-bit ``src`` into the ``size``-bit ``dst`` (movsxd for 32 -> 64)."""
        if src_size >= size:
            raise ValueError("movsx: source must be narrower than destination")
        pfx, w = _opsize(size)
        if src_size == 8:
            self._enc(pfx, w, b"\x0f\xbe", dst, src, type(src) is int and 4 <= src <= 7)
        elif src_size == 16:
            self._enc(pfx, w, b"\x0f\xbf", dst, src)
        elif src_size == 32:
            self._enc(b"", 8, b"\x63", dst, src)
        else:
            raise ValueError(f"bad movsx source size {src_size}")

    def lea(self, dst: int, src: Mem, size: int = 64) -> None:
        if type(src) is not Mem:
            raise ValueError("lea needs a memory operand")
        self._sized0f(size, b"", b"\x8d", dst, src)

    # ------------------------------------------------------------------ ALU group 1

    def _alu(self, op: int, dst: int | Mem, src: int | Mem, size: int) -> None:
        if type(src) is int:
            self._sized(size, op << 3, op << 3 | 1, src, dst, True)
        elif type(dst) is int:
            self._sized(size, op << 3 | 2, op << 3 | 3, dst, src, True)
        else:
            raise ValueError("ALU operation: memory to memory")

    def _alu_i(self, op: int, dst: int | Mem, imm: int, size: int) -> None:
        v = _alu_imm(imm, size)
        code = self.code
        if size == 8:
            if type(dst) is int and dst == RAX:
                code.append(op << 3 | 4)
            else:
                self._sized(8, 0x80, 0x80, op, dst, False)
            code.append(v & 0xFF)
        elif -128 <= v <= 127:
            pfx, w = _opsize(size)
            self._enc(pfx, w, b"\x83", op, dst)
            code.append(v & 0xFF)
        else:
            pfx, w = _opsize(size)
            if type(dst) is int and dst == RAX:
                code += pfx
                if w:
                    code.append(0x48)
                code.append(op << 3 | 5)
            else:
                self._enc(pfx, w, b"\x81", op, dst)
            code += _immbytes(v, size)

    def add(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_ADD, dst, src, size)

    def or_(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_OR, dst, src, size)

    def adc(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_ADC, dst, src, size)

    def sbb(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_SBB, dst, src, size)

    def and_(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_AND, dst, src, size)

    def sub(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_SUB, dst, src, size)

    def xor(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_XOR, dst, src, size)

    def cmp(self, dst: int | Mem, src: int | Mem, size: int = 64) -> None:
        self._alu(_CMP, dst, src, size)

    def add_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_ADD, dst, imm, size)

    def or_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_OR, dst, imm, size)

    def adc_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_ADC, dst, imm, size)

    def sbb_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_SBB, dst, imm, size)

    def and_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_AND, dst, imm, size)

    def sub_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_SUB, dst, imm, size)

    def xor_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_XOR, dst, imm, size)

    def cmp_imm(self, dst: int | Mem, imm: int, size: int = 64) -> None:
        self._alu_i(_CMP, dst, imm, size)

    def test(self, a: int | Mem, b: int, size: int = 64) -> None:
        self._sized(size, 0x84, 0x85, b, a, True)

    def test_imm(self, a: int | Mem, imm: int, size: int = 64) -> None:
        """TEST ``a``, ``imm``.  A narrower form is used when it sets every flag the same way:
        0 <= imm < 128 -> the 8-bit form; 0 <= imm < 2**31 with size 64 -> the 32-bit form."""
        v = _alu_imm(imm, size)
        if 0 <= v <= 127:
            size = 8
        elif size == 64 and v > 0:
            size = 32
        code = self.code
        if type(a) is int and a == RAX:
            pfx, w = _opsize(size)
            code += pfx
            if w:
                code.append(0x48)
            code.append(0xA8 if size == 8 else 0xA9)
        else:
            self._sized(size, 0xF6, 0xF7, 0, a, False)
        code += _immbytes(v, size)

    # ------------------------------------------------------------------ shifts

    def _shift(self, op: int, dst: int | Mem, count: int | str, size: int) -> None:
        if count == CL:
            self._sized(size, 0xD2, 0xD3, op, dst, False)
        elif type(count) is not int or not 0 <= count <= 255:
            raise ValueError(f"bad shift count {count!r}")
        elif count == 1:
            self._sized(size, 0xD0, 0xD1, op, dst, False)
        else:
            self._sized(size, 0xC0, 0xC1, op, dst, False)
            self.code.append(count)

    def shl(self, dst: int | Mem, count: int | str, size: int = 64) -> None:
        self._shift(_SHL, dst, count, size)

    def shr(self, dst: int | Mem, count: int | str, size: int = 64) -> None:
        self._shift(_SHR, dst, count, size)

    def sar(self, dst: int | Mem, count: int | str, size: int = 64) -> None:
        self._shift(_SAR, dst, count, size)

    def rol(self, dst: int | Mem, count: int | str, size: int = 64) -> None:
        self._shift(_ROL, dst, count, size)

    def ror(self, dst: int | Mem, count: int | str, size: int = 64) -> None:
        self._shift(_ROR, dst, count, size)

    def _dshift(self, opc: int, dst: int | Mem, src: int, count: int | str, size: int) -> None:
        if count == CL:
            self._sized0f(size, b"", bytes((0x0F, opc | 1)), src, dst)
        elif type(count) is not int or not 0 <= count <= 255:
            raise ValueError(f"bad shift count {count!r}")
        else:
            self._sized0f(size, b"", bytes((0x0F, opc)), src, dst)
            self.code.append(count)

    def shld(self, dst: int | Mem, src: int, count: int | str, size: int = 64) -> None:
        self._dshift(0xA4, dst, src, count, size)

    def shrd(self, dst: int | Mem, src: int, count: int | str, size: int = 64) -> None:
        self._dshift(0xAC, dst, src, count, size)

    # ------------------------------------------------------------------ multiply, divide, unary

    def imul(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"", b"\x0f\xaf", dst, src)

    def imul_imm(self, dst: int, src: int | Mem, imm: int, size: int = 64) -> None:
        if size == 8:
            raise ValueError("8-bit operand size not supported")
        v = _alu_imm(imm, size)
        pfx, w = _opsize(size)
        if -128 <= v <= 127:
            self._enc(pfx, w, b"\x6b", dst, src)
            self.code.append(v & 0xFF)
        else:
            self._enc(pfx, w, b"\x69", dst, src)
            self.code += _immbytes(v, size)

    def mul1(self, src: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 4, src, False)

    def imul1(self, src: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 5, src, False)

    def div1(self, src: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 6, src, False)

    def idiv1(self, src: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 7, src, False)

    def not_(self, dst: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 2, dst, False)

    def neg(self, dst: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xF6, 0xF7, 3, dst, False)

    def inc(self, dst: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xFE, 0xFF, 0, dst, False)

    def dec(self, dst: int | Mem, size: int = 64) -> None:
        self._sized(size, 0xFE, 0xFF, 1, dst, False)

    def bswap(self, reg: int, size: int = 64) -> None:
        if size == 64:
            self.code.append(0x49 if reg >= 8 else 0x48)
        elif size == 32:
            if reg >= 8:
                self.code.append(0x41)
        else:
            raise ValueError("bswap: size must be 32 or 64")
        self.code += bytes((0x0F, 0xC8 | (reg & 7)))

    def lzcnt(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"\xf3", b"\x0f\xbd", dst, src)

    def tzcnt(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"\xf3", b"\x0f\xbc", dst, src)

    def popcnt(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"\xf3", b"\x0f\xb8", dst, src)

    def bsf(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"", b"\x0f\xbc", dst, src)

    def bsr(self, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"", b"\x0f\xbd", dst, src)

    def setcc(self, cond: Cond, dst: int | Mem) -> None:
        self._enc(b"", 0, bytes((0x0F, 0x90 | cond)), 0, dst, type(dst) is int and 4 <= dst <= 7)

    def cmovcc(self, cond: Cond, dst: int, src: int | Mem, size: int = 64) -> None:
        self._sized0f(size, b"", bytes((0x0F, 0x40 | cond)), dst, src)

    def cqo(self) -> None:
        self.code += b"\x48\x99"

    def cdq(self) -> None:
        self.code.append(0x99)

    def xchg(self, a: int, b: int, size: int = 64) -> None:
        self._sized(size, 0x86, 0x87, b, a, True)

    # ------------------------------------------------------------------ stack and misc

    def push(self, reg: int) -> None:
        if reg >= 8:
            self.code.append(0x41)
        self.code.append(0x50 | (reg & 7))

    def pop(self, reg: int) -> None:
        if reg >= 8:
            self.code.append(0x41)
        self.code.append(0x58 | (reg & 7))

    def ret(self) -> None:
        self.code.append(0xC3)

    def ud2(self) -> None:
        self.code += b"\x0f\x0b"

    def int3(self) -> None:
        self.code.append(0xCC)

    def nop(self, n: int = 1) -> None:
        """``n`` bytes of NOPs, in as few instructions as possible (up to 9 bytes each)."""
        code = self.code
        while n > 9:
            code += _NOPS[9]
            n -= 9
        if n > 0:
            code += _NOPS[n]

    # ------------------------------------------------------------------ control flow

    def jmp(self, target: Label) -> int:
        self.code.append(0xE9)
        return self._ref(target, 4)

    def jmp_short(self, target: Label) -> None:
        self.code.append(0xEB)
        self._ref(target, 1)

    def jcc(self, cond: Cond, target: Label) -> int:
        self.code += bytes((0x0F, 0x80 | cond))
        return self._ref(target, 4)

    def jcc_short(self, cond: Cond, target: Label) -> None:
        self.code.append(0x70 | cond)
        self._ref(target, 1)

    def jmp_reg(self, reg: int) -> None:
        self._enc(b"", 0, b"\xff", 4, reg)

    def jmp_mem(self, m: Mem) -> None:
        self._enc(b"", 0, b"\xff", 4, m)

    def call_reg(self, reg: int) -> None:
        self._enc(b"", 0, b"\xff", 2, reg)

    def call_mem(self, m: Mem) -> None:
        self._enc(b"", 0, b"\xff", 2, m)

    def jmp_rel32_to(self, target_offset: int) -> int:
        self.code += b"\xe9\x00\x00\x00\x00"
        field = len(self.code) - 4
        patch_rel32(self.code, field, target_offset)
        return field

    def call_rel32_to(self, target_offset: int) -> int:
        self.code += b"\xe8\x00\x00\x00\x00"
        field = len(self.code) - 4
        patch_rel32(self.code, field, target_offset)
        return field

    # ------------------------------------------------------------------ SSE scalar floating point

    def movq_to_xmm(self, xmm: int, src: int | Mem, size: int = 64) -> None:
        """``movq xmm, r/m64`` (size 64) or ``movd xmm, r/m32`` (size 32): the upper lanes are zeroed."""
        if size not in (32, 64):
            raise ValueError("movq/movd: size must be 32 or 64")
        self._enc(b"\x66", 8 if size == 64 else 0, b"\x0f\x6e", xmm, src)

    def movq_from_xmm(self, dst: int | Mem, xmm: int, size: int = 64) -> None:
        """``movq r/m64, xmm`` (size 64) or ``movd r/m32, xmm`` (size 32, zero-extending a register)."""
        if size not in (32, 64):
            raise ValueError("movq/movd: size must be 32 or 64")
        self._enc(b"\x66", 8 if size == 64 else 0, b"\x0f\x7e", xmm, dst)

    def _sse(self, pfx: bytes, opc: int, dst: int, src: int | Mem) -> None:
        self._enc(pfx, 0, bytes((0x0F, opc)), dst, src)

    def sse_arith(self, op: str, dst: int, src: int | Mem, size: int = 64) -> None:
        """Scalar ``op`` in ("add", "sub", "mul", "div", "sqrt"): ``<op>sd`` (size 64) or ``<op>ss`` (32)."""
        if size not in (32, 64):
            raise ValueError("scalar SSE: size must be 32 or 64")
        try:
            opc = _SSE_ARITH[op]
        except KeyError:
            raise ValueError(f"unknown scalar SSE operation {op!r}") from None
        self._sse(b"\xf2" if size == 64 else b"\xf3", opc, dst, src)

    def ucomis(self, a: int, b: int | Mem, size: int = 64) -> None:
        """``ucomisd`` (size 64) / ``ucomiss`` (32): ZF, PF, CF from the unordered compare (PF: NaN)."""
        if size not in (32, 64):
            raise ValueError("ucomis: size must be 32 or 64")
        self._sse(b"\x66" if size == 64 else b"", 0x2E, a, b)

    def ldmxcsr(self, m: Mem) -> None:
        if type(m) is not Mem:
            raise ValueError("ldmxcsr needs a memory operand")
        self._enc(b"", 0, b"\x0f\xae", 2, m)

    def stmxcsr(self, m: Mem) -> None:
        if type(m) is not Mem:
            raise ValueError("stmxcsr needs a memory operand")
        self._enc(b"", 0, b"\x0f\xae", 3, m)

    def _vex(self, mmmmm: int, w: int, pp: int, opc: int, reg: int, vvvv: int, rm: int) -> None:
        """Three-byte VEX (L = 0) with register operands: ``reg`` (ModRM.reg), ``vvvv``, ``rm``."""
        if type(rm) is not int or not (0 <= reg < 16 and 0 <= vvvv < 16 and 0 <= rm < 16):
            raise ValueError("VEX: register operands 0..15 only")
        code = self.code
        code.append(0xC4)
        code.append((~reg & 8) << 4 | 0x40 | (~rm & 8) << 2 | mmmmm)
        code.append(w << 7 | (~vvvv & 15) << 3 | pp)
        code.append(opc)
        code.append(0xC0 | (reg & 7) << 3 | (rm & 7))

    def vfma213(self, kind: str, dst: int, src2: int, src3: int, size: int = 64) -> None:
        """``vf<kind>213sd`` (size 64) / ``...ss`` (32), ``kind`` in ("madd", "msub", "nmadd", "nmsub"):
        ``dst = [-](src2 * dst) [+-] src3`` with a single rounding (x86 naming: nmadd is -(a*b) + c)."""
        if size not in (32, 64):
            raise ValueError("vfma213: size must be 32 or 64")
        try:
            opc = _FMA213[kind]
        except KeyError:
            raise ValueError(f"unknown FMA kind {kind!r}") from None
        self._vex(0b00010, 1 if size == 64 else 0, 0b01, opc, dst, src2, src3)
