"""The engine's intermediate representation, modelled on TCG ops (QEMU tcg/README).

A translation block is a flat list of ops.  Each op is a tuple ``(name, *operands)``.  Operands are:

* ``int``  - a 64-bit constant (always stored unsigned, 0 <= value < 2**64);
* ``str``  - a named value: a *global* (a guest register that lives in the CPU state buffer, e.g.
  ``"x5"``, ``"f3"``, ``"fflags"``) or a *temp* (``"t17"``, local to the block; names start with ``t``);
* for a few ops, extra immediate arguments (conditions, memops, labels, helper objects).

All arithmetic is on unsigned 64-bit values; results are reduced modulo 2**64.  Division ops are total:
``x / 0`` gives all ones and ``x % 0`` gives ``x``; signed ``MIN / -1`` gives ``MIN`` and remainder 0.

Op set (``d`` destination, ``a``/``b`` sources):

=================  ==========================================================================
mov d a            copy
add sub mul        wrap-around arithmetic
and or xor andc orc xnor    bitwise (andc = a & ~b)
shl shr sar        shifts by b (0..63; the frontend masks)
rotl rotr          64-bit rotates; rotl32 rotr32 rotate the low 32 bits, result zero-extended
mulsh muluh mulsuh high 64 bits of the 128-bit product (signed*signed, unsigned*unsigned, s*u)
divs divu rems remu total division (see above)
min max minu maxu  signed / unsigned minimum and maximum
neg not            unary
clz ctz cpop       count leading / trailing zeros (64 for 0), population count
bswap64 orcb       byte reverse; OR-combine each byte (Zbb orc.b)
ext8s ext16s ext32s ext8u ext16u ext32u   sign / zero extension of the low bits
setcond d a b c    d = 1 if (a c b) else 0, c in COND
movcond d a b c v w   d = v if (a c b) else w
ld d addr memop    guest load; memop = log2(size) | SIGN [| RMW: the load of a read-modify-write,
                   checked as a store in system mode (faults as one, takes the write fast path)]
st v addr memop    guest store; one that hits translated code makes the block leave for the next
                   instruction once its own instruction is done (the rest of it still runs)
call d helper args...  call a helper (d may be None); see Helper
insn_start pc      start of the guest instruction at pc (exceptions restore this pc)
set_label L / br L / brcond a b c L   forward-only control flow within a block
exit pc            leave the block for guest pc (const: chainable; value: indirect lookup)
exit_loop pc       leave for guest pc through the exec loop, never chained (e.g. after a mode change):
                   the region returns as if with exception -1 at pc
exit_exc code pc   raise guest exception ``code`` at guest pc
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MASK64 = (1 << 64) - 1
SIGN = 4  # memop flag: sign-extend the loaded value
RMW = 8  # memop flag of ``ld``: an atomic read-modify-write's load (see the op table)
MO_8, MO_16, MO_32, MO_64 = 0, 1, 2, 3

COND = ("eq", "ne", "lt", "ge", "ltu", "geu")
NEGATE_COND = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "ltu": "geu", "geu": "ltu"}

BINARY_OPS = frozenset(
    "add sub mul and or xor andc orc xnor shl shr sar rotl rotr rotl32 rotr32 "
    "mulsh muluh mulsuh divs divu rems remu min max minu maxu".split()
)
UNARY_OPS = frozenset(
    "mov neg not clz ctz cpop bswap64 orcb ext8s ext16s ext32s ext8u ext16u ext32u".split()
)
#: ops that have no effect beyond writing their destination (safe to delete when it is dead)
PURE_OPS = BINARY_OPS | UNARY_OPS | {"setcond", "movcond"}


@dataclass(frozen=True)
class Helper:
    """A function translated code may call.

    ``fn`` is called as ``fn(cpu, *args)`` (or ``fn(*args)`` when ``pass_cpu`` is false).
    ``reads`` / ``writes`` name the globals the helper uses
    through the CPU state buffer besides its arguments; the backend writes those back before the call
    and reloads them afterwards.  ``"*"`` means all globals.  A helper may raise a guest exception.
    """

    name: str
    fn: Callable[..., Any]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    pure: bool = False  # no side effects: may be deleted when its result is unused
    pass_cpu: bool = True  # call as fn(cpu, *args) rather than fn(*args)
    accumulate: str | None = None  # fn returns (value, bits): bits are OR-ed into this global


@dataclass
class Block:
    """The IR of one translation block."""

    pc: int
    ops: list[tuple] = field(default_factory=list)
    size: int = 0  # guest bytes covered
    n_insns: int = 0
    ntemps: int = 0
    nlabels: int = 0
    guest_insns: list[tuple[int, int]] = field(default_factory=list)  # (pc, raw encoding)
    #: guest pcs the frontend expects to run soon after this block although no direct exit names
    #: them (e.g. the return address of a call): region formation takes them in
    hints: list[int] = field(default_factory=list)
    #: the interpreter's threaded code for this block, built on its first cold run
    threaded: Any = None
    optimized: bool = False

    # -- builder API ---------------------------------------------------------------------------------
    def temp(self) -> str:
        self.ntemps += 1
        return f"t{self.ntemps}"

    def label(self) -> int:
        self.nlabels += 1
        return self.nlabels

    def emit(self, *op: Any) -> None:
        self.ops.append(op)

    def binop(self, name: str, a: int | str, b: int | str) -> str:
        d = self.temp()
        self.ops.append((name, d, a, b))
        return d

    def unop(self, name: str, a: int | str) -> str:
        d = self.temp()
        self.ops.append((name, d, a))
        return d


def is_temp(v: object) -> bool:
    return isinstance(v, str) and v[0] == "t"


def is_global(v: object) -> bool:
    return isinstance(v, str) and v[0] != "t"


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def eval_cond(cond: str, a: int, b: int) -> bool:
    if cond == "eq":
        return a == b
    if cond == "ne":
        return a != b
    if cond == "ltu":
        return a < b
    if cond == "geu":
        return a >= b
    if cond == "lt":
        return signed(a) < signed(b)
    return signed(a) >= signed(b)


def _div(a: int, b: int, is_signed: bool, rem: bool) -> int:
    if b == 0:
        return a if rem else MASK64
    if is_signed:
        sa, sb = signed(a), signed(b)
        q = abs(sa) // abs(sb)
        if (sa < 0) != (sb < 0):
            q = -q
        r = sa - q * sb
        return (r if rem else q) & MASK64
    return a % b if rem else a // b


def _rot32(a: int, n: int, left: bool) -> int:
    a &= 0xFFFFFFFF
    n &= 31
    if not left:
        n = (32 - n) & 31
    return ((a << n) | (a >> (32 - n))) & 0xFFFFFFFF


def _orcb(a: int) -> int:
    r = 0
    for i in range(8):
        if (a >> (8 * i)) & 0xFF:
            r |= 0xFF << (8 * i)
    return r


#: reference semantics of every pure op, used by the optimizer for constant folding and by tests
FOLD: dict[str, Callable[..., int]] = {
    "mov": lambda a: a,
    "add": lambda a, b: (a + b) & MASK64,
    "sub": lambda a, b: (a - b) & MASK64,
    "mul": lambda a, b: (a * b) & MASK64,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "andc": lambda a, b: a & ~b & MASK64,
    "orc": lambda a, b: (a | ~b) & MASK64,
    "xnor": lambda a, b: ~(a ^ b) & MASK64,
    "shl": lambda a, b: (a << b) & MASK64,
    "shr": lambda a, b: a >> b,
    "sar": lambda a, b: (signed(a) >> b) & MASK64,
    "rotl": lambda a, b: ((a << (b & 63)) | (a >> ((64 - b) & 63))) & MASK64 if b & 63 else a,
    "rotr": lambda a, b: ((a >> (b & 63)) | (a << ((64 - b) & 63))) & MASK64 if b & 63 else a,
    "rotl32": lambda a, b: _rot32(a, b, True),
    "rotr32": lambda a, b: _rot32(a, b, False),
    "mulsh": lambda a, b: ((signed(a) * signed(b)) >> 64) & MASK64,
    "muluh": lambda a, b: (a * b) >> 64,
    "mulsuh": lambda a, b: ((signed(a) * b) >> 64) & MASK64,
    "divs": lambda a, b: _div(a, b, True, False),
    "divu": lambda a, b: _div(a, b, False, False),
    "rems": lambda a, b: _div(a, b, True, True),
    "remu": lambda a, b: _div(a, b, False, True),
    "min": lambda a, b: a if signed(a) < signed(b) else b,
    "max": lambda a, b: a if signed(a) > signed(b) else b,
    "minu": lambda a, b: min(a, b),
    "maxu": lambda a, b: max(a, b),
    "neg": lambda a: -a & MASK64,
    "not": lambda a: ~a & MASK64,
    "clz": lambda a: 64 - a.bit_length(),
    "ctz": lambda a: (a & -a).bit_length() - 1 if a else 64,
    "cpop": lambda a: a.bit_count(),
    "bswap64": lambda a: int.from_bytes(a.to_bytes(8, "little"), "big"),
    "orcb": _orcb,
    "ext8s": lambda a: ((a & 0xFF) ^ 0x80) - 0x80 & MASK64,
    "ext16s": lambda a: ((a & 0xFFFF) ^ 0x8000) - 0x8000 & MASK64,
    "ext32s": lambda a: ((a & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000 & MASK64,
    "ext8u": lambda a: a & 0xFF,
    "ext16u": lambda a: a & 0xFFFF,
    "ext32u": lambda a: a & 0xFFFFFFFF,
}


def format_op(op: tuple) -> str:
    """One op as text, for ``-d op`` logs."""

    def fmt(v: object) -> str:
        if isinstance(v, int):
            return f"$0x{v:x}"
        if isinstance(v, Helper):
            return v.name
        return str(v)

    name = op[0]
    if name == "insn_start":
        return f" ---- {op[1]:016x}"
    if name in ("set_label", "br"):
        return f" {name} $L{op[1]}"
    if name == "brcond":
        return f" brcond {fmt(op[1])},{fmt(op[2])},{op[3]},$L{op[4]}"
    return f" {name} " + ",".join(fmt(v) for v in op[1:])
