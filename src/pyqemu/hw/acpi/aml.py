"""A small builder for ACPI Machine Language (AML) byte code, the encoding of a DSDT/SSDT body.

Models the grammar of ACPI 6.x chapter 20 ("ACPI Machine Language Specification"), section 20.2:

* name strings (20.2.2): 4-character ``NameSeg``\\ s padded with ``_``, the root (``\\``) and parent (``^``)
  prefixes, ``DualNamePrefix`` (0x2E) for two segments, ``MultiNamePrefix`` (0x2F) + count for more, and
  ``NullName`` (0x00) for none;
* data objects (20.2.3): ``ZeroOp``/``OneOp``/``OnesOp`` and the ``Byte``/``Word``/``DWord``/``QWord``
  constants, strings, buffers and packages;
* package lengths (20.2.4): 1 to 4 bytes; the first byte's bits 7-6 say how many bytes follow; with one byte
  the length is in bits 5-0, otherwise bits 3-0 hold the low nibble and each following byte the next 8 bits.
  A package length counts itself, except in field lists, where it is a plain bit count;
* named objects and statements (20.2.5): ``Name``, ``Scope``, ``Device``, ``Method``, ``OperationRegion``,
  ``Field``, ``Return``, ``Notify``, ``Store``, ``If``/``Else``, method invocations and a few expressions
  (``And``, ``Or``, ``LEqual``, ``LNot``, ``Index``, ``DerefOf``).

Also the resource data types of ACPI 6.x section 6.4 that ``_CRS``/``_PRS``/``_SRS`` buffers are made of
(a ``ResourceTemplate``): the small I/O port (6.4.2.5) and end tag (6.4.2.9) descriptors and the large
32-bit fixed memory (6.4.3.4), Word/DWord/QWord address space (6.4.3.5.1-3) and extended interrupt
(6.4.3.6) descriptors.

Every builder returns the encoded ``bytes``; nesting is concatenation, so a whole definition block is data.
Where an AML data object is expected, a Python ``int`` is encoded with :func:`integer` (the smallest
encoding) and a ``str`` with :func:`string`; ``bytes`` are taken as already-encoded AML.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum

Aml = bytes
DataLike = int | str | bytes

# -- opcodes (ACPI 6.x, 20.3 "AML Byte Stream Byte Values") ------------------------------------------------

ZERO_OP = 0x00
ONE_OP = 0x01
NAME_OP = 0x08
BYTE_PREFIX = 0x0A
WORD_PREFIX = 0x0B
DWORD_PREFIX = 0x0C
STRING_PREFIX = 0x0D
QWORD_PREFIX = 0x0E
SCOPE_OP = 0x10
BUFFER_OP = 0x11
PACKAGE_OP = 0x12
METHOD_OP = 0x14
DUAL_NAME_PREFIX = 0x2E
MULTI_NAME_PREFIX = 0x2F
EXT_OP_PREFIX = 0x5B
ROOT_CHAR = 0x5C
PARENT_PREFIX_CHAR = 0x5E
LOCAL0_OP = 0x60
ARG0_OP = 0x68
STORE_OP = 0x70
AND_OP = 0x7B
OR_OP = 0x7D
DEREF_OF_OP = 0x83
NOTIFY_OP = 0x86
INDEX_OP = 0x88
LNOT_OP = 0x92
LEQUAL_OP = 0x93
IF_OP = 0xA0
ELSE_OP = 0xA1
RETURN_OP = 0xA4
ONES_OP = 0xFF
# after EXT_OP_PREFIX
EXT_OPREGION_OP = 0x80
EXT_FIELD_OP = 0x81
EXT_DEVICE_OP = 0x82

PKG_LENGTH_MAX = (1 << 28) - 1


class RegionSpace(IntEnum):
    """Operation region address spaces (``RegionSpace`` of ``DefOpRegion``, ACPI 6.x 20.2.5.2)."""

    SYSTEM_MEMORY = 0x00
    SYSTEM_IO = 0x01
    PCI_CONFIG = 0x02
    EMBEDDED_CONTROL = 0x03


class FieldAccess(IntEnum):
    """``AccessType`` in bits 3-0 of ``FieldFlags`` (ACPI 6.x, 20.2.5.2)."""

    ANY = 0
    BYTE = 1
    WORD = 2
    DWORD = 3
    QWORD = 4
    BUFFER = 5


class FieldUpdate(IntEnum):
    """``UpdateRule`` in bits 6-5 of ``FieldFlags``."""

    PRESERVE = 0
    WRITE_AS_ONES = 1
    WRITE_AS_ZEROS = 2


# -- package length ---------------------------------------------------------------------------------------


def _pkg_length_bytes(value: int) -> bytes:
    """Encode ``value`` as it stands (no self-inclusion) in the smallest PkgLength form."""
    if value < 0 or value > PKG_LENGTH_MAX:
        raise ValueError(f"AML package length {value} out of range")
    if value < 0x40:
        return bytes([value])
    follow = 1 if value < (1 << 12) else 2 if value < (1 << 20) else 3
    out = [(follow << 6) | (value & 0x0F)]
    rest = value >> 4
    for _ in range(follow):
        out.append(rest & 0xFF)
        rest >>= 8
    return bytes(out)


def pkg_length(body_len: int) -> bytes:
    """The PkgLength that precedes ``body_len`` bytes of package body (the length counts its own bytes)."""
    for size in (1, 2, 3, 4):
        total = body_len + size
        if len(_pkg_length_bytes(total)) == size:
            return _pkg_length_bytes(total)
    raise ValueError(f"AML package body of {body_len} bytes is too long")


def package_wrap(body: bytes) -> bytes:
    """``PkgLength`` + ``body``."""
    return pkg_length(len(body)) + body


# -- names ------------------------------------------------------------------------------------------------

_LEAD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME = _LEAD | set("0123456789")


def name_seg(seg: str) -> bytes:
    """One 4-byte ``NameSeg`` (a lead character A-Z or ``_``, then A-Z, 0-9 or ``_``), padded with ``_``."""
    if not 1 <= len(seg) <= 4 or seg[0] not in _LEAD or any(c not in _NAME for c in seg):
        raise ValueError(f"invalid AML name segment {seg!r}")
    return seg.ljust(4, "_").encode("ascii")


def name_string(path: str) -> bytes:
    """A ``NameString``: ``"\\\\_SB.PWRB"``, ``"^^FOO"``, ``"_S5"``; ``"\\\\"`` alone is the root."""
    prefix = b""
    rest = path
    if rest.startswith("\\"):
        prefix, rest = bytes([ROOT_CHAR]), rest[1:]
    else:
        while rest.startswith("^"):
            prefix += bytes([PARENT_PREFIX_CHAR])
            rest = rest[1:]
    segs = [name_seg(s) for s in rest.split(".")] if rest else []
    if not segs:
        return prefix + bytes([ZERO_OP])  # NullName
    if len(segs) == 1:
        return prefix + segs[0]
    if len(segs) == 2:
        return prefix + bytes([DUAL_NAME_PREFIX]) + segs[0] + segs[1]
    if len(segs) > 255:
        raise ValueError("too many AML name segments")
    return prefix + bytes([MULTI_NAME_PREFIX, len(segs)]) + b"".join(segs)


# -- data objects -----------------------------------------------------------------------------------------


def zero() -> bytes:
    return bytes([ZERO_OP])


def one() -> bytes:
    return bytes([ONE_OP])


def ones() -> bytes:
    return bytes([ONES_OP])


def byte_const(value: int) -> bytes:
    return bytes([BYTE_PREFIX]) + struct.pack("<B", value)


def word_const(value: int) -> bytes:
    return bytes([WORD_PREFIX]) + struct.pack("<H", value)


def dword_const(value: int) -> bytes:
    return bytes([DWORD_PREFIX]) + struct.pack("<I", value)


def qword_const(value: int) -> bytes:
    return bytes([QWORD_PREFIX]) + struct.pack("<Q", value)


def integer(value: int) -> bytes:
    """The smallest encoding of an unsigned integer, as an ASL compiler emits it (0 and 1 as ``Zero``/``One``;
    ``Ones`` only through :func:`ones`, since its value depends on the table revision)."""
    if value < 0 or value >= 1 << 64:
        raise ValueError(f"AML integer {value} out of range")
    if value == 0:
        return zero()
    if value == 1:
        return one()
    if value <= 0xFF:
        return byte_const(value)
    if value <= 0xFFFF:
        return word_const(value)
    if value <= 0xFFFFFFFF:
        return dword_const(value)
    return qword_const(value)


def string(text: str) -> bytes:
    """A ``String``: ``StringPrefix``, ASCII characters 0x01-0x7F, a NUL."""
    raw = text.encode("ascii")
    if 0 in raw:
        raise ValueError("AML strings cannot hold NUL")
    return bytes([STRING_PREFIX]) + raw + b"\x00"


def data(value: DataLike) -> bytes:
    """An AML data object from a Python value: ``int`` -> :func:`integer`, ``str`` -> :func:`string`,
    ``bytes`` -> as is (already AML)."""
    if isinstance(value, bool):
        raise TypeError("use integer(0/1) rather than bool")
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, str):
        return string(value)
    return bytes(value)


def buffer(content: bytes) -> bytes:
    """``Buffer (n) {bytes}``: ``BufferOp PkgLength BufferSize ByteList``."""
    body = integer(len(content)) + bytes(content)
    return bytes([BUFFER_OP]) + package_wrap(body)


def package(elements: Iterable[DataLike]) -> bytes:
    """``Package (n) {elements}``: ``PackageOp PkgLength NumElements PackageElementList`` (up to 255)."""
    items = [data(e) for e in elements]
    if len(items) > 255:
        raise ValueError("an AML Package holds at most 255 elements (VarPackage is not modelled)")
    body = bytes([len(items)]) + b"".join(items)
    return bytes([PACKAGE_OP]) + package_wrap(body)


def eisa_id(text: str) -> int:
    """The 32-bit compressed EISA id of a 7-character PNP id (``"PNP0C0C"`` -> 0x0C0CD041), as ``EISAID()``
    in ASL: three 5-bit letters and four hex digits, stored big-endian in a little-endian dword."""
    if len(text) != 7 or any(not "A" <= c <= "Z" for c in text[:3]):
        raise ValueError(f"invalid EISA id {text!r}")
    product = int(text[3:], 16)
    vendor = ((ord(text[0]) - 0x40) << 10) | ((ord(text[1]) - 0x40) << 5) | (ord(text[2]) - 0x40)
    big = (vendor << 16) | product
    return int.from_bytes(big.to_bytes(4, "big"), "little")


def eisaid(text: str) -> bytes:
    """``EISAID("PNP0C0C")`` as an AML ``DWordConst``."""
    return dword_const(eisa_id(text))


# -- arguments, locals, expressions -----------------------------------------------------------------------


def local(n: int) -> bytes:
    if not 0 <= n <= 7:
        raise ValueError("Local0-Local7 only")
    return bytes([LOCAL0_OP + n])


def arg(n: int) -> bytes:
    if not 0 <= n <= 6:
        raise ValueError("Arg0-Arg6 only")
    return bytes([ARG0_OP + n])


def name_ref(path: str) -> bytes:
    """A reference to a named object (a ``NameString`` used as a term)."""
    return name_string(path)


def store(value: DataLike, target: bytes) -> bytes:
    """``Store (value, target)``."""
    return bytes([STORE_OP]) + data(value) + target


def and_(a: DataLike, b: DataLike, target: bytes = b"\x00") -> bytes:
    """``And (a, b, target)`` (bitwise); the default target is ``NullName`` (no store)."""
    return bytes([AND_OP]) + data(a) + data(b) + target


def or_(a: DataLike, b: DataLike, target: bytes = b"\x00") -> bytes:
    """``Or (a, b, target)`` (bitwise)."""
    return bytes([OR_OP]) + data(a) + data(b) + target


def index(source: bytes, position: DataLike, target: bytes = b"\x00") -> bytes:
    """``Index (source, position, target)``: a reference to an element of a buffer, package or string
    (storing through it into a buffer writes one byte)."""
    return bytes([INDEX_OP]) + source + data(position) + target


def deref_of(reference: bytes) -> bytes:
    """``DerefOf (reference)``: the value a reference (e.g. an :func:`index`) points to."""
    return bytes([DEREF_OF_OP]) + reference


def lequal(a: DataLike, b: DataLike) -> bytes:
    """``LEqual (a, b)``."""
    return bytes([LEQUAL_OP]) + data(a) + data(b)


def lnot(a: DataLike) -> bytes:
    return bytes([LNOT_OP]) + data(a)


# -- statements and named objects -------------------------------------------------------------------------


def name(path: str, value: DataLike) -> bytes:
    """``Name (path, value)``."""
    return bytes([NAME_OP]) + name_string(path) + data(value)


def scope(path: str, terms: Iterable[bytes] = ()) -> bytes:
    """``Scope (path) {terms}``."""
    return bytes([SCOPE_OP]) + package_wrap(name_string(path) + b"".join(terms))


def device(path: str, terms: Iterable[bytes] = ()) -> bytes:
    """``Device (path) {terms}``."""
    return bytes([EXT_OP_PREFIX, EXT_DEVICE_OP]) + package_wrap(name_string(path) + b"".join(terms))


def method_flags(arg_count: int = 0, serialized: bool = False, sync_level: int = 0) -> int:
    """``MethodFlags``: bits 2-0 argument count, bit 3 serialized, bits 7-4 sync level."""
    if not 0 <= arg_count <= 7 or not 0 <= sync_level <= 15:
        raise ValueError("bad method flags")
    return arg_count | (int(serialized) << 3) | (sync_level << 4)


def method(path: str, arg_count: int = 0, terms: Iterable[bytes] = (), serialized: bool = False,
           sync_level: int = 0) -> bytes:
    """``Method (path, arg_count, Serialized|NotSerialized, sync_level) {terms}``."""
    flags = method_flags(arg_count, serialized, sync_level)
    return bytes([METHOD_OP]) + package_wrap(name_string(path) + bytes([flags]) + b"".join(terms))


def return_(value: DataLike) -> bytes:
    """``Return (value)``."""
    return bytes([RETURN_OP]) + data(value)


def notify(obj: str | bytes, value: DataLike) -> bytes:
    """``Notify (obj, value)``, e.g. ``notify("\\\\_SB.PWRB", 0x80)`` (a power button press)."""
    target = name_string(obj) if isinstance(obj, str) else obj
    return bytes([NOTIFY_OP]) + target + data(value)


def if_(predicate: bytes, terms: Iterable[bytes]) -> bytes:
    """``If (predicate) {terms}``."""
    return bytes([IF_OP]) + package_wrap(predicate + b"".join(terms))


def else_(terms: Iterable[bytes]) -> bytes:
    """``Else {terms}`` (follows an :func:`if_`)."""
    return bytes([ELSE_OP]) + package_wrap(b"".join(terms))


def operation_region(path: str, space: RegionSpace, offset: DataLike, length: DataLike) -> bytes:
    """``OperationRegion (path, space, offset, length)``."""
    return (bytes([EXT_OP_PREFIX, EXT_OPREGION_OP]) + name_string(path) + bytes([int(space)])
            + data(offset) + data(length))


FieldUnit = tuple[str | None, int]
"""One field-list entry: ``(name, bits)`` is a named field, ``(None, bits)`` reserved space (``Offset``)."""


def field(region: str, units: Iterable[FieldUnit], access: FieldAccess = FieldAccess.BYTE,
          lock: bool = False, update: FieldUpdate = FieldUpdate.PRESERVE) -> bytes:
    """``Field (region, access, Lock|NoLock, update) {name, bits, ...}``; entries with ``None`` as the name
    are ``ReservedField``\\ s (they skip bits)."""
    flags = int(access) | (int(lock) << 4) | (int(update) << 5)
    body = name_string(region) + bytes([flags])
    for unit_name, bits in units:
        encoded_bits = _pkg_length_bytes(bits)  # a bit count, not a self-including package length
        body += (bytes([0x00]) if unit_name is None else name_seg(unit_name)) + encoded_bits
    return bytes([EXT_OP_PREFIX, EXT_FIELD_OP]) + package_wrap(body)


def call(path: str, args: Iterable[DataLike] = ()) -> bytes:
    """A ``MethodInvocation``: the method's name followed by its arguments (as many as it declares)."""
    return name_string(path) + b"".join(data(a) for a in args)


# -- resource descriptors (ACPI 6.x, 6.4) -----------------------------------------------------------------

RES_IO = 0x47  # small item 0x08, 7 bytes of data
RES_END_TAG = 0x79  # small item 0x0F, 1 byte of data
RES_MEMORY32_FIXED = 0x86
RES_DWORD_ADDRESS = 0x87
RES_WORD_ADDRESS = 0x88
RES_EXTENDED_INTERRUPT = 0x89
RES_QWORD_ADDRESS = 0x8A


class AddressSpaceType(IntEnum):
    """``Resource Type`` of an address space descriptor (6.4.3.5.1, byte 3)."""

    MEMORY = 0
    IO = 1
    BUS_NUMBER = 2


# General flags (byte 4) of an address space descriptor: a bridge's window is a producer (bit 0 clear)
# with a positive decode (bit 1 clear) and both ends fixed (_MIF bit 2, _MAF bit 3).
ADDR_FIXED_WINDOW = 0x0C
# Type-specific flags (byte 5): memory _RW (bit 0) and _MEM (bits 2-1: 0 non-cacheable, 1 cacheable);
# I/O _RNG (bits 1-0: 3 = ISA and non-ISA ports).
MEM_READ_WRITE = 0x01
MEM_CACHEABLE = 0x02
IO_ENTIRE_RANGE = 0x03
# Extended interrupt flags (6.4.3.6, byte 3): consumer (bit 0), _HE edge (bit 1), _LL active-low (bit 2),
# _SHR shared (bit 3).
INT_CONSUMER = 0x01
INT_EDGE = 0x02
INT_ACTIVE_LOW = 0x04
INT_SHARED = 0x08

_ADDRESS_DESCRIPTORS = {2: (RES_WORD_ADDRESS, "H"), 4: (RES_DWORD_ADDRESS, "I"), 8: (RES_QWORD_ADDRESS, "Q")}


def _large(tag: int, payload: bytes) -> bytes:
    return struct.pack("<BH", tag, len(payload)) + payload


def address_space(kind: AddressSpaceType, width: int, minimum: int, maximum: int, type_flags: int = 0,
                  general_flags: int = ADDR_FIXED_WINDOW) -> bytes:
    """A Word (``width`` 2), DWord (4) or QWord (8) address space descriptor for ``[minimum, maximum]``
    (granularity 0, no translation, length ``maximum - minimum + 1``)."""
    tag, fmt = _ADDRESS_DESCRIPTORS[width]
    if not 0 <= minimum <= maximum < 1 << (8 * width):
        raise ValueError(f"bad {width * 8}-bit address range {minimum:#x}-{maximum:#x}")
    payload = struct.pack("<BBB5" + fmt, int(kind), general_flags, type_flags, 0, minimum, maximum, 0,
                          maximum - minimum + 1)
    return _large(tag, payload)


def word_bus_number(minimum: int, maximum: int) -> bytes:
    """``WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)``: a bridge's bus range."""
    return address_space(AddressSpaceType.BUS_NUMBER, 2, minimum, maximum)


def word_io(minimum: int, maximum: int) -> bytes:
    """``WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)``: an I/O window."""
    return address_space(AddressSpaceType.IO, 2, minimum, maximum, IO_ENTIRE_RANGE)


def memory_window(minimum: int, maximum: int, cacheable: bool = False) -> bytes:
    """A read/write memory window, ``DWordMemory`` when it ends below 4 GiB, ``QWordMemory`` otherwise."""
    flags = MEM_READ_WRITE | (MEM_CACHEABLE if cacheable else 0)
    return address_space(AddressSpaceType.MEMORY, 4 if maximum < 1 << 32 else 8, minimum, maximum, flags)


def io_port(minimum: int, maximum: int, alignment: int, length: int) -> bytes:
    """``IO (Decode16, minimum, maximum, alignment, length)`` (6.4.2.5)."""
    return struct.pack("<BBHHBB", RES_IO, 1, minimum, maximum, alignment, length)


def memory32_fixed(base: int, length: int, writable: bool = True) -> bytes:
    """``Memory32Fixed (ReadWrite|ReadOnly, base, length)`` (6.4.3.4)."""
    return _large(RES_MEMORY32_FIXED, struct.pack("<BII", int(writable), base, length))


def interrupt(irqs: Iterable[int], flags: int = INT_CONSUMER | INT_SHARED) -> bytes:
    """``Interrupt (...) {irqs}``, the extended interrupt descriptor (6.4.3.6); the default ``flags`` are
    ResourceConsumer, Level, ActiveHigh, Shared.  The first interrupt number is at byte offset 5."""
    numbers = list(irqs)
    if not 1 <= len(numbers) <= 255:
        raise ValueError("an interrupt descriptor lists 1-255 interrupts")
    return _large(RES_EXTENDED_INTERRUPT, struct.pack(f"<BB{len(numbers)}I", flags, len(numbers), *numbers))


INTERRUPT_NUMBER_OFFSET = 5
"""Byte offset of the first interrupt number in an :func:`interrupt` descriptor."""


def resource_template(descriptors: Iterable[bytes]) -> bytes:
    """``ResourceTemplate () {descriptors}``: a Buffer of the descriptors and an end tag (checksum 0, which
    means "treat as valid")."""
    return buffer(b"".join(descriptors) + bytes([RES_END_TAG, 0]))
