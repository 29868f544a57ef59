"""Named x86 CPU models for ``-cpu`` and the KVM CPUID table built from them.

Models QEMU's ``builtin_x86_defs`` subset (qemu64, Haswell, Broadwell, Broadwell-noTSX, Skylake-Client,
Skylake-Server, EPYC) plus ``max``/``host`` (everything the accelerator supports) as data; the ``-cpu``
option syntax ``NAME[,+feat][,-feat][,feat=on|off][,feat][,prop=value]`` with QEMU's precedence and error
messages; the ``-cpu help`` listing; and :func:`build_cpuid`, which filters the requested flags against
the accelerator's supported CPUID (KVM_GET_SUPPORTED_CPUID) with QEMU's per-bit warning and produces the
entries for KVM_SET_CPUID2 as plain ``(function, index, flags, eax, ebx, ecx, edx)`` tuples.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pyqemu import QEMU_VERSION
from pyqemu.target.i386.cpuid_features import (
    FEATURE_WORDS,
    FEATURES,
    UNMIGRATABLE,
    FeatureWord,
    all_flag_names,
    bit_name,
    canonical_name,
    register_mask,
)

CpuidEntry = tuple[int, int, int, int, int, int, int]
"""(function, index, flags, eax, ebx, ecx, edx), the fields of ``struct kvm_cpuid_entry2``."""

KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1
KVM_CPUID_FLAG_STATEFUL_FUNC = 2
KVM_CPUID_FLAG_STATE_READ_NEXT = 4

VENDOR_INTEL = "GenuineIntel"
VENDOR_AMD = "AuthenticAMD"
KVM_SIGNATURE = "KVMKVMKVM\0\0\0"
KVM_CPUID_SIGNATURE = 0x40000000
KVM_CPUID_FEATURES = 0x40000001


class CpuModelError(Exception):
    """A ``-cpu`` problem, with QEMU's message; ``warnings`` holds any lines to print before it."""

    def __init__(self, message: str, warnings: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.warnings = list(warnings)


# --------------------------------------------------------------------------------------------
# model definitions
# --------------------------------------------------------------------------------------------


def _flags(*groups: str) -> frozenset[str]:
    names = frozenset(n for g in groups for n in g.split())
    unknown = names - set(FEATURES)
    assert not unknown, unknown
    return names


PPRO = "fpu de pse tsc msr mce cx8 pge cmov pat fxsr mmx sse sse2 pae sep apic"
FULL_1_EDX = PPRO + " vme clflush pse36 mca mtrr"
HASWELL_1_ECX = ("pni pclmulqdq ssse3 fma cx16 pcid sse4.1 sse4.2 x2apic movbe popcnt tsc-deadline aes "
                 "xsave avx f16c rdrand")
HASWELL_7_EBX = "fsgsbase bmi1 hle avx2 smep bmi2 erms invpcid rtm"
INTEL_EXT = "syscall nx rdtscp lm"


@dataclass(frozen=True)
class X86CPUModel:
    """One ``-cpu`` model: identity (vendor, family/model/stepping, model-id), CPUID limits and flags."""

    name: str
    vendor: str
    family: int
    model: int
    stepping: int
    model_id: str
    level: int
    xlevel: int
    features: frozenset[str]
    accel_max: bool = False  # "max"/"host": every flag the accelerator supports
    description: str | None = None  # text for -cpu help when it is not the model-id

    @property
    def signature(self) -> int:
        return encode_signature(self.family, self.model, self.stepping)


_BROADWELL = _flags(FULL_1_EDX, HASWELL_1_ECX, HASWELL_7_EBX, "rdseed adx smap", INTEL_EXT,
                    "lahf-lm abm 3dnowprefetch xsaveopt arat")
_SKYLAKE_CLIENT = _BROADWELL | _flags("mpx xsavec xgetbv1")

MODELS: tuple[X86CPUModel, ...] = (
    X86CPUModel(
        "qemu64", VENDOR_AMD, 6, 6, 3, f"QEMU Virtual CPU version {QEMU_VERSION}", 0xD, 0x8000000A,
        _flags(PPRO, "mtrr clflush mca pse36", "pni cx16", "lm syscall nx", "lahf-lm svm"),
    ),
    X86CPUModel(
        "Haswell", VENDOR_INTEL, 6, 60, 4, "Intel Core Processor (Haswell)", 0xD, 0x80000008,
        _flags(FULL_1_EDX, HASWELL_1_ECX, HASWELL_7_EBX, INTEL_EXT, "lahf-lm abm xsaveopt arat"),
    ),
    X86CPUModel(
        "Broadwell", VENDOR_INTEL, 6, 61, 2, "Intel Core Processor (Broadwell)", 0xD, 0x80000008,
        _BROADWELL,
    ),
    X86CPUModel(
        "Broadwell-noTSX", VENDOR_INTEL, 6, 61, 2, "Intel Core Processor (Broadwell, no TSX)", 0xD,
        0x80000008, _BROADWELL - {"hle", "rtm"},
    ),
    X86CPUModel(
        "Skylake-Client", VENDOR_INTEL, 6, 94, 3, "Intel Core Processor (Skylake)", 0xD, 0x80000008,
        _SKYLAKE_CLIENT,
    ),
    X86CPUModel(
        "Skylake-Server", VENDOR_INTEL, 6, 85, 4, "Intel Xeon Processor (Skylake)", 0xD, 0x80000008,
        _SKYLAKE_CLIENT | _flags("pdpe1gb clwb clflushopt avx512f avx512dq avx512bw avx512cd avx512vl pku"),
    ),
    X86CPUModel(
        "EPYC", VENDOR_AMD, 23, 1, 2, "AMD EPYC Processor", 0xD, 0x8000001E,
        _flags(FULL_1_EDX,
               "pni pclmulqdq monitor ssse3 fma cx16 sse4.1 sse4.2 movbe popcnt aes xsave avx f16c rdrand",
               "fsgsbase bmi1 avx2 smep bmi2 rdseed adx smap clflushopt sha-ni",
               "syscall nx mmxext fxsr-opt pdpe1gb rdtscp lm",
               "lahf-lm svm cr8legacy abm sse4a misalignsse 3dnowprefetch osvw",
               "npt nrip-save xsaveopt xsavec xgetbv1 arat"),
    ),
    X86CPUModel(
        "host", "", 0, 0, 0, "", 0xD, 0x80000008, frozenset(), accel_max=True,
        description="KVM processor with all supported host features (only available in KVM mode)",
    ),
    X86CPUModel(
        "max", "", 0, 0, 0, "", 0xD, 0x80000008, frozenset(), accel_max=True,
        description="Enables all features supported by the accelerator in the current host",
    ),
)

MODELS_BY_NAME: dict[str, X86CPUModel] = {m.name: m for m in MODELS}

# What QEMU changes on every named model when KVM is the accelerator (its kvm_default_props).
KVM_DEFAULTS: dict[str, bool] = {
    "kvmclock": True,
    "kvm-nopiodelay": True,
    "kvm-asyncpf": True,
    "kvm-steal-time": True,
    "kvm-pv-eoi": True,
    "kvmclock-stable-bit": True,
    "x2apic": True,
    "acpi": False,
    "monitor": False,
    "svm": False,
}


def find_model(name: str) -> X86CPUModel:
    """The model called ``name`` (case-sensitive, as QEMU's type lookup is)."""
    model = MODELS_BY_NAME.get(name)
    if model is None:
        raise CpuModelError(f"unable to find CPU model '{name}'")
    return model


# --------------------------------------------------------------------------------------------
# signature / strings
# --------------------------------------------------------------------------------------------


def encode_signature(family: int, model: int, stepping: int) -> int:
    """CPUID.1:EAX from family/model/stepping, with the extended family and model fields."""
    value = stepping & 0xF
    value |= (model & 0xF) << 4 | ((model >> 4) & 0xF) << 16
    if family > 0xF:
        value |= 0xF << 8 | ((family - 0xF) & 0xFF) << 20
    else:
        value |= family << 8
    return value


def decode_signature(eax: int) -> tuple[int, int, int]:
    """(family, model, stepping) from CPUID.1:EAX."""
    family = (eax >> 8) & 0xF
    model = (eax >> 4) & 0xF
    if family == 0xF:
        family += (eax >> 20) & 0xFF
    if family >= 6:
        model |= ((eax >> 16) & 0xF) << 4
    return family, model, eax & 0xF


def string_registers(text: str, size: int) -> list[int]:
    """``text`` as little-endian 32-bit words, NUL-padded (truncated) to ``size`` bytes."""
    raw = text.encode("latin-1", "replace")[:size].ljust(size, b"\0")
    return list(struct.unpack(f"<{size // 4}I", raw))


def vendor_registers(vendor: str) -> tuple[int, int, int]:
    """(EBX, EDX, ECX) of leaf 0 for a 12-character vendor string."""
    ebx, edx, ecx = string_registers(vendor, 12)
    return ebx, edx, ecx


def model_id_registers(model_id: str) -> list[CpuidEntry]:
    """Leaves 0x80000002..4 carrying the 48-byte processor brand string."""
    words = string_registers(model_id, 48)
    return [(0x80000002 + i, 0, 0, *words[4 * i:4 * i + 4]) for i in range(3)]  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# -cpu parsing
# --------------------------------------------------------------------------------------------

# Non-flag properties: integer ones with their (minimum, maximum), then booleans and strings.
_INT_PROPS: dict[str, tuple[int, int]] = {
    "family": (0, 0xFF + 0xF),
    "model": (0, 0xFF),
    "stepping": (0, 0xF),
    "level": (0, 0xFFFFFFFF),
    "xlevel": (0, 0xFFFFFFFF),
}
_BOOL_PROPS = ("check", "enforce", "migratable")
_STR_PROPS = ("vendor", "model-id")


@dataclass
class CpuConfig:
    """A parsed ``-cpu`` option: the model plus the user's changes, not yet filtered."""

    model: X86CPUModel
    props: dict[str, bool] = field(default_factory=dict)  # feat=on|off and bare feat, last one wins
    plus: set[str] = field(default_factory=set)
    minus: set[str] = field(default_factory=set)
    overrides: dict[str, Any] = field(default_factory=dict)  # family, model-id, vendor, level, ...
    check: bool = True
    enforce: bool = False
    migratable: bool = True


def _parse_bool(name: str, value: str) -> bool:
    if value in ("on", "yes", "true"):
        return True
    if value in ("off", "no", "false"):
        return False
    raise CpuModelError(f"Parameter '{name}' expects 'on' or 'off'")


def is_help_request(text: str) -> bool:
    """``-cpu help`` / ``-cpu ?``: QEMU prints :func:`cpu_help` and exits 0."""
    return text in ("help", "?")


def parse_cpu_option(text: str) -> CpuConfig:
    """Parse ``NAME[,+feat][,-feat][,feat=on|off][,feat][,prop=value]`` as QEMU's x86 ``-cpu`` does."""
    name, _, rest = text.partition(",")
    config = CpuConfig(find_model(name))
    for item in filter(None, rest.split(",")):
        if item[0] in "+-":
            flag = canonical_name(item[1:])
            if flag is None:
                raise CpuModelError(f"CPU feature {item[1:]} not found")
            (config.plus if item[0] == "+" else config.minus).add(flag)
            continue
        key, eq, value = item.partition("=")
        key = key.replace("_", "-")
        if not eq:
            value = "on"
        flag = canonical_name(key)
        if flag is not None:
            config.props[flag] = _parse_bool(key, value)
        elif key in _BOOL_PROPS:
            setattr(config, key, _parse_bool(key, value))
        elif key in _INT_PROPS:
            config.overrides[key] = _parse_int(key, value)
        elif key in _STR_PROPS:
            if key == "vendor" and len(value) != 12:
                raise CpuModelError(f"Property '.vendor' doesn't take value '{value}'")
            config.overrides[key] = value
        else:
            raise CpuModelError(f"Property '.{key}' not found")
    return config


def _parse_int(name: str, value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise CpuModelError(f"Parameter '{name}' expects an int64 value") from None
    low, high = _INT_PROPS[name]
    if not low <= number <= high:
        raise CpuModelError(
            f"Property .{name} doesn't take value {number} (minimum: {low}, maximum: {high})")
    return number


# --------------------------------------------------------------------------------------------
# -cpu help
# --------------------------------------------------------------------------------------------


def _wrap_flags(names: Iterable[str], width: int = 75) -> list[str]:
    lines: list[str] = []
    line = ""
    for name in names:
        if line and len(line) + 1 + len(name) >= width:
            lines.append(line)
            line = ""
        line = f"{line} {name}" if line else f"  {name}"
    if line:
        lines.append(line)
    return lines


def cpu_help() -> str:
    """The ``-cpu help`` text: one ``x86 NAME  MODEL-ID`` line per model, then the flag names."""
    named = sorted((m for m in MODELS if not m.accel_max), key=lambda m: m.name)
    special = [m for m in MODELS if m.accel_max]
    out = [f"x86 {m.name:>16}  {(m.description or m.model_id):<48}" for m in named + special]
    out += ["", "Recognized CPUID flags:"]
    out += _wrap_flags(all_flag_names())
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# supported-CPUID table helpers
# --------------------------------------------------------------------------------------------


def _as_tuple(entry: Any) -> CpuidEntry:
    if isinstance(entry, tuple):
        return entry  # type: ignore[return-value]
    return (entry.function, entry.index, entry.flags, entry.eax, entry.ebx, entry.ecx, entry.edx)


class SupportedCpuid:
    """Lookup over an accelerator's supported CPUID table (tuples or ``kvm_cpuid_entry2`` objects)."""

    def __init__(self, entries: Iterable[Any]) -> None:
        self.table: dict[tuple[int, int], CpuidEntry] = {}
        for raw in entries:
            entry = _as_tuple(raw)
            self.table[(entry[0], entry[1])] = entry

    def get(self, leaf: int, subleaf: int = 0) -> CpuidEntry | None:
        entry = self.table.get((leaf, subleaf))
        if entry is None:
            base = self.table.get((leaf, 0))
            if base is not None and not base[2] & KVM_CPUID_FLAG_SIGNIFCANT_INDEX:
                entry = base
        return entry

    def reg(self, leaf: int, subleaf: int, register: str) -> int:
        entry = self.get(leaf, subleaf)
        if entry is None:
            return 0
        return entry[3 + "EAX EBX ECX EDX".split().index(register)]

    def word(self, word: FeatureWord) -> int:
        """Supported bits of one feature word, with the bits QEMU itself provides under KVM added."""
        value = self.reg(word.leaf, word.subleaf, word.register)
        if word.key == "1_ECX":
            value |= FEATURES["hypervisor"].mask
        elif word.key == "KVM":
            value |= FEATURES["kvmclock-stable-bit"].mask
        return value


# --------------------------------------------------------------------------------------------
# resolving the final model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedCpu(X86CPUModel):
    """The model after host lookup, KVM defaults and the user's changes: what the guest will see."""

    phys_bits: int = 40
    virt_bits: int = 48


def _host_brand() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def resolve(config: CpuConfig | X86CPUModel | str, supported: SupportedCpuid | None = None,
            *, kvm: bool = True) -> ResolvedCpu:
    """Apply host identity (for host/max), KVM defaults, ``feat=``, then ``+feat``, then ``-feat``."""
    if isinstance(config, str):
        config = parse_cpu_option(config)
    elif isinstance(config, X86CPUModel):
        config = CpuConfig(config)
    model = config.model
    sup = supported or SupportedCpuid(())
    phys_bits, virt_bits = 40, 48
    if model.accel_max:
        features = {
            name for name in FEATURES
            if FEATURES[name].mask & sup.word(_word_for(name))
            and not (config.migratable and name in UNMIGRATABLE)
        }
        leaf0 = sup.get(0)
        vendor = (struct.pack("<3I", leaf0[4], leaf0[6], leaf0[5]).decode("latin-1")
                  if leaf0 else VENDOR_INTEL)
        family, mdl, stepping = decode_signature(sup.reg(1, 0, "EAX"))
        brand = b"".join(struct.pack("<4I", *sup.get(leaf)[3:]) for leaf in range(0x80000002, 0x80000005)
                         if sup.get(leaf)).rstrip(b"\0").decode("latin-1").strip()
        model_id = brand or _host_brand()
        sizes = sup.reg(0x80000008, 0, "EAX")
        if sizes:
            phys_bits, virt_bits = sizes & 0xFF, (sizes >> 8) & 0xFF
        base = replace(model, vendor=vendor, family=family, model=mdl, stepping=stepping,
                       model_id=model_id)
    else:
        features = set(model.features) | {"hypervisor"}
        if kvm:
            for name, on in KVM_DEFAULTS.items():
                (features.add if on else features.discard)(name)
        base = model
    for name, on in config.props.items():
        (features.add if on else features.discard)(name)
    features |= config.plus
    features -= config.minus
    ov = config.overrides
    keys = {"vendor": "vendor", "family": "family", "model": "model", "stepping": "stepping",
            "model_id": "model-id", "level": "level", "xlevel": "xlevel"}
    identity = {f.name: getattr(base, f.name) for f in fields(X86CPUModel)}
    identity.update({name: ov[key] for name, key in keys.items() if key in ov})
    identity["features"] = frozenset(features)
    return ResolvedCpu(**identity, phys_bits=phys_bits, virt_bits=virt_bits)


def _word_for(name: str) -> FeatureWord:
    fb = FEATURES[name]
    return next(w for w in FEATURE_WORDS if w.location == (fb.leaf, fb.subleaf, fb.register))


# --------------------------------------------------------------------------------------------
# filtering
# --------------------------------------------------------------------------------------------


def unavailable_warning(word: FeatureWord, bit: int, accel: str = "host") -> str:
    """QEMU's line for one requested flag the accelerator lacks."""
    name = bit_name(word, bit)
    leaf = f"{word.leaf:02X}H"
    return (f"warning: {accel} doesn't support requested feature: "
            f"CPUID.{leaf}:{word.register}{'.' + name if name else ''} [bit {bit}]")


def filter_features(cpu: ResolvedCpu, supported: SupportedCpuid,
                    accel: str = "host") -> tuple[dict[str, int], list[str]]:
    """Per feature word, the register value left after dropping unsupported bits, and the warnings."""
    words: dict[str, int] = {}
    warnings: list[str] = []
    for word in FEATURE_WORDS:
        requested = register_mask(cpu.features, *word.location)
        available = supported.word(word)
        missing = requested & ~available
        for bit in range(32):
            if missing >> bit & 1:
                warnings.append(unavailable_warning(word, bit, accel))
        words[word.key] = requested & available
    return words, warnings


# --------------------------------------------------------------------------------------------
# CPUID table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cache:
    """A fixed cache description used for leaves 2, 4 and 0x80000005/6."""

    level: int
    kind: int  # 1 data, 2 instruction, 3 unified
    size_kib: int
    ways: int
    line: int
    descriptor: int  # leaf 2 descriptor byte

    @property
    def sets(self) -> int:
        return self.size_kib * 1024 // (self.ways * self.line)


CACHES: tuple[Cache, ...] = (
    Cache(1, 1, 32, 8, 64, 0x2C),    # L1D 32 KiB 8-way
    Cache(1, 2, 32, 8, 64, 0x30),    # L1I 32 KiB 8-way
    Cache(2, 3, 2048, 8, 64, 0x7D),  # L2 2 MiB 8-way (descriptor 7DH says exactly that)
)

# AMD's CPUID 0x80000006 associativity encoding.
AMD_ASSOC = {0: 0, 1: 1, 2: 2, 4: 4, 8: 6, 16: 8, 32: 0xA, 48: 0xB, 64: 0xC, 96: 0xD, 128: 0xE}

# XSAVE state components: index -> (flag needed, size, standard offset); 0 and 1 come with xsave itself.
XSAVE_COMPONENTS: dict[int, tuple[str | None, int, int]] = {
    0: (None, 160, 0),
    1: (None, 256, 160),
    2: ("avx", 256, 576),
    3: ("mpx", 64, 960),
    4: ("mpx", 64, 1024),
    5: ("avx512f", 64, 1088),
    6: ("avx512f", 512, 1152),
    7: ("avx512f", 1024, 1664),
    9: ("pku", 8, 2688),
}
XSAVE_LEGACY_AND_HEADER = 576


def _cpuid4(cache: Cache, cores: int, threads: int) -> tuple[int, int, int, int]:
    shared = threads if cache.level < 3 else cores * threads
    eax = cache.kind | cache.level << 5 | 1 << 8 | (shared - 1) << 14 | (cores - 1) << 26
    ebx = (cache.line - 1) | 0 << 12 | (cache.ways - 1) << 22
    return eax, ebx, cache.sets - 1, 1 if cache.level > 1 else 0


def _amd_l1(cache: Cache) -> int:
    return (cache.size_kib & 0xFF) << 24 | (cache.ways & 0xFF) << 16 | 1 << 8 | cache.line


def _xsave_leaf(cpu: ResolvedCpu, words: dict[str, int], sup: SupportedCpuid) -> list[CpuidEntry]:
    flag = KVM_CPUID_FLAG_SIGNIFCANT_INDEX
    if not words["1_ECX"] & FEATURES["xsave"].mask:
        return [(0xD, 0, flag, 0, 0, 0, 0), (0xD, 1, flag, 0, 0, 0, 0)]
    sup_mask = sup.reg(0xD, 0, "EAX") | sup.reg(0xD, 0, "EDX") << 32
    enabled_names = {name for key in words for name in _names_in(key, words[key])}
    layout: dict[int, tuple[int, int]] = {}
    for index, (need, size, offset) in XSAVE_COMPONENTS.items():
        if need is not None and need not in enabled_names:
            continue
        if index >= 2 and not sup_mask >> index & 1:
            continue
        entry = sup.get(0xD, index) if index >= 2 else None
        if entry is not None and entry[3]:
            size, offset = entry[3], entry[4]
        layout[index] = (size, offset)
    mask = sum(1 << i for i in layout)
    area = max([XSAVE_LEGACY_AND_HEADER] + [offset + size for i, (size, offset) in layout.items() if i >= 2])
    entries: list[CpuidEntry] = [
        (0xD, 0, flag, mask & 0xFFFFFFFF, area, area, mask >> 32),
        (0xD, 1, flag, words["XSAVE"], 0, 0, 0),
    ]
    entries += [(0xD, i, flag, size, offset, 0, 0) for i, (size, offset) in sorted(layout.items()) if i >= 2]
    return entries


def _names_in(key: str, value: int) -> list[str]:
    word = next(w for w in FEATURE_WORDS if w.key == key)
    return [name for bit, name in word.names.items() if value >> bit & 1]


def build_cpuid(model: CpuConfig | X86CPUModel | ResolvedCpu | str, supported: Iterable[Any], *,
                apic_id: int = 0, cores: int = 1, threads: int = 1,
                accel: str = "host") -> tuple[list[CpuidEntry], list[str]]:
    """The guest CPUID table for KVM_SET_CPUID2 and QEMU's warnings for requested-but-missing flags.

    ``supported`` is the accelerator's table (KVM_GET_SUPPORTED_CPUID) as tuples or entry objects.
    With ``enforce`` set, missing flags raise :class:`CpuModelError` carrying the warnings instead.
    """
    sup = supported if isinstance(supported, SupportedCpuid) else SupportedCpuid(supported)
    config = parse_cpu_option(model) if isinstance(model, str) else model
    cpu = config if isinstance(config, ResolvedCpu) else resolve(config, sup)
    words, warnings = filter_features(cpu, sup, accel)
    if isinstance(config, CpuConfig):
        if config.enforce and warnings:
            raise CpuModelError(f"{accel.capitalize()} doesn't support requested features", warnings)
        if not config.check:
            warnings = []

    idx = KVM_CPUID_FLAG_SIGNIFCANT_INDEX
    logical = cores * threads
    vendor = vendor_registers(cpu.vendor)
    ext_edx = words["8000_0001_EDX"]
    if cpu.vendor == VENDOR_AMD:  # AMD mirrors most of leaf 1 EDX into 0x80000001 EDX
        ext_edx |= words["1_EDX"] & 0x0183F3FF

    basic: dict[int, list[CpuidEntry]] = {
        0: [(0, 0, 0, cpu.level, vendor[0], vendor[2], vendor[1])],
        1: [(1, 0, 0, cpu.signature,
             (apic_id & 0xFF) << 24 | (logical << 16 if logical > 1 else 0) | 8 << 8,
             words["1_ECX"], words["1_EDX"] | (FEATURES["ht"].mask if logical > 1 else 0))],
        2: [(2, 0, KVM_CPUID_FLAG_STATEFUL_FUNC | KVM_CPUID_FLAG_STATE_READ_NEXT, 1, 0, 0,
             CACHES[0].descriptor << 16 | CACHES[1].descriptor << 8 | CACHES[2].descriptor)],
        4: [(4, i, idx, *_cpuid4(c, cores, threads)) for i, c in enumerate(CACHES)]  # type: ignore[misc]
        + [(4, len(CACHES), idx, 0, 0, 0, 0)],
        5: [(5, 0, 0, 0, 0, 3, 0)] if words["1_ECX"] & FEATURES["monitor"].mask else [(5, 0, 0, 0, 0, 0, 0)],
        6: [(6, 0, 0, words["6_EAX"], 0, 0, 0)],
        7: [(7, 0, idx, 0, words["7_0_EBX"], words["7_0_ECX"], words["7_0_EDX"])],
        0xB: [(0xB, 0, idx, 0, threads, 0x100, apic_id),
              (0xB, 1, idx, (threads - 1).bit_length() + (cores - 1).bit_length(), logical, 0x201, apic_id),
              (0xB, 2, idx, 0, 0, 2, apic_id)],
        0xD: _xsave_leaf(cpu, words, sup),
    }
    entries: list[CpuidEntry] = []
    for leaf in range(0, min(cpu.level, 0x1F) + 1):
        entries += basic.get(leaf, [(leaf, 0, 0, 0, 0, 0, 0)])

    kvm_sig = string_registers(KVM_SIGNATURE, 12)
    entries.append((KVM_CPUID_SIGNATURE, 0, 0, KVM_CPUID_FEATURES, *kvm_sig))  # type: ignore[arg-type]
    entries.append((KVM_CPUID_FEATURES, 0, 0, words["KVM"], 0, 0, 0))

    l1d, l1i, l2 = CACHES
    svm = bool(words["8000_0001_ECX"] & FEATURES["svm"].mask)
    lm = bool(words["8000_0001_EDX"] & FEATURES["lm"].mask)
    extended: dict[int, list[CpuidEntry]] = {
        0x80000000: [(0x80000000, 0, 0, cpu.xlevel, vendor[0], vendor[2], vendor[1])],
        0x80000001: [(0x80000001, 0, 0, cpu.signature, 0, words["8000_0001_ECX"], ext_edx)],
        0x80000005: [(0x80000005, 0, 0, 0x01FF01FF, 0x01FF01FF, _amd_l1(l1d), _amd_l1(l1i))],
        0x80000006: [(0x80000006, 0, 0, 0, 0,
                      l2.size_kib << 16 | AMD_ASSOC.get(l2.ways, 0xF) << 12 | 1 << 8 | l2.line, 0)],
        0x80000007: [(0x80000007, 0, 0, 0, 0, 0, words["8000_0007_EDX"])],
        0x80000008: [(0x80000008, 0, 0, (cpu.virt_bits << 8 | cpu.phys_bits) if lm else 0x24,
                      words["8000_0008_EBX"], (logical - 1) if cpu.vendor == VENDOR_AMD else 0, 0)],
        0x8000000A: [(0x8000000A, 0, 0, 1, 0x10, 0, words["SVM"]) if svm
                     else (0x8000000A, 0, 0, 0, 0, 0, 0)],
    }
    for brand in model_id_registers(cpu.model_id):
        extended[brand[0]] = [brand]
    for leaf in range(0x80000000, max(cpu.xlevel, 0x80000000) + 1):
        entries += extended.get(leaf, [(leaf, 0, 0, 0, 0, 0, 0)])
    return entries, warnings
