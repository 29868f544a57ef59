"""The CPUID feature flags QEMU names, modelled as data.

Each *feature word* is one CPUID output register (leaf, subleaf, register) holding up to 32 flags; the
names per bit are QEMU's property spellings (``sse4.1``, ``lahf-lm``, ``fxsr-opt`` ...). From the words
this module derives the flat table ``FEATURES``: name -> :class:`FeatureBit` (leaf, subleaf, register, bit),
plus the aliases QEMU accepts for historical spellings (``sse4_1``, ``lahf_lm``, ``sse3``, ``xd`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

REGISTERS = ("EAX", "EBX", "ECX", "EDX")


class FeatureBit(NamedTuple):
    """Where one named flag lives: CPUID leaf (EAX input), subleaf (ECX input), output register, bit."""

    leaf: int
    subleaf: int
    register: str
    bit: int

    @property
    def mask(self) -> int:
        return 1 << self.bit


@dataclass(frozen=True)
class FeatureWord:
    """One CPUID output register with the names of its bits (None: unnamed or not settable)."""

    key: str
    leaf: int
    subleaf: int
    register: str
    names: dict[int, str]

    @property
    def location(self) -> tuple[int, int, str]:
        return (self.leaf, self.subleaf, self.register)


def _word(key: str, leaf: int, subleaf: int, register: str, names: str) -> FeatureWord:
    """Build a word from a compact ``"bit:name bit:name ..."`` listing."""
    table: dict[int, str] = {}
    for item in names.split():
        bit, name = item.split(":", 1)
        table[int(bit)] = name
    return FeatureWord(key, leaf, subleaf, register, table)


# The order here is the order in which QEMU reports unavailable features.
FEATURE_WORDS: tuple[FeatureWord, ...] = (
    _word("1_EDX", 0x1, 0, "EDX", """
        0:fpu 1:vme 2:de 3:pse 4:tsc 5:msr 6:pae 7:mce 8:cx8 9:apic 11:sep 12:mtrr 13:pge 14:mca
        15:cmov 16:pat 17:pse36 18:pn 19:clflush 21:ds 22:acpi 23:mmx 24:fxsr 25:sse 26:sse2 27:ss
        28:ht 29:tm 30:ia64 31:pbe"""),
    _word("1_ECX", 0x1, 0, "ECX", """
        0:pni 1:pclmulqdq 2:dtes64 3:monitor 4:ds-cpl 5:vmx 6:smx 7:est 8:tm2 9:ssse3 10:cid
        12:fma 13:cx16 14:xtpr 15:pdcm 17:pcid 18:dca 19:sse4.1 20:sse4.2 21:x2apic 22:movbe
        23:popcnt 24:tsc-deadline 25:aes 26:xsave 28:avx 29:f16c 30:rdrand 31:hypervisor"""),
    _word("7_0_EBX", 0x7, 0, "EBX", """
        0:fsgsbase 1:tsc-adjust 3:bmi1 4:hle 5:avx2 7:smep 8:bmi2 9:erms 10:invpcid 11:rtm 14:mpx
        16:avx512f 17:avx512dq 18:rdseed 19:adx 20:smap 21:avx512ifma 22:pcommit 23:clflushopt
        24:clwb 25:intel-pt 26:avx512pf 27:avx512er 28:avx512cd 29:sha-ni 30:avx512bw 31:avx512vl"""),
    _word("7_0_ECX", 0x7, 0, "ECX", """
        1:avx512vbmi 2:umip 3:pku 5:waitpkg 6:avx512vbmi2 8:gfni 9:vaes 10:vpclmulqdq 11:avx512vnni
        12:avx512bitalg 14:avx512-vpopcntdq 16:la57 22:rdpid 25:cldemote 27:movdiri 28:movdir64b"""),
    _word("7_0_EDX", 0x7, 0, "EDX", """
        2:avx512-4vnniw 3:avx512-4fmaps 4:fsrm 8:avx512-vp2intersect 10:md-clear 14:serialize
        16:tsx-ldtrk 18:pconfig 22:amx-bf16 23:avx512-fp16 24:amx-tile 25:amx-int8 26:spec-ctrl
        27:stibp 28:flush-l1d 29:arch-capabilities 30:core-capability 31:ssbd"""),
    _word("8000_0001_EDX", 0x80000001, 0, "EDX", """
        11:syscall 20:nx 22:mmxext 25:fxsr-opt 26:pdpe1gb 27:rdtscp 29:lm 30:3dnowext 31:3dnow"""),
    _word("8000_0001_ECX", 0x80000001, 0, "ECX", """
        0:lahf-lm 1:cmp-legacy 2:svm 3:extapic 4:cr8legacy 5:abm 6:sse4a 7:misalignsse
        8:3dnowprefetch 9:osvw 10:ibs 11:xop 12:skinit 13:wdt 15:lwp 16:fma4 17:tce 19:nodeid-msr
        21:tbm 22:topoext 23:perfctr-core 24:perfctr-nb"""),
    _word("8000_0007_EDX", 0x80000007, 0, "EDX", "8:invtsc"),
    _word("8000_0008_EBX", 0x80000008, 0, "EBX", """
        0:clzero 2:xsaveerptr 9:wbnoinvd 12:ibpb 14:ibrs 15:amd-stibp 24:amd-ssbd 25:virt-ssbd
        26:amd-no-ssb"""),
    _word("KVM", 0x40000001, 0, "EAX", """
        0:kvmclock 1:kvm-nopiodelay 2:kvm-mmu 4:kvm-asyncpf 5:kvm-steal-time 6:kvm-pv-eoi
        7:kvm-pv-unhalt 9:kvm-pv-tlb-flush 10:kvm-asyncpf-vmexit 11:kvm-pv-ipi 12:kvm-poll-control
        13:kvm-pv-sched-yield 24:kvmclock-stable-bit"""),
    _word("SVM", 0x8000000A, 0, "EDX", """
        0:npt 1:lbrv 2:svm-lock 3:nrip-save 4:tsc-scale 5:vmcb-clean 6:flushbyasid 7:decodeassists
        10:pause-filter 12:pfthreshold 13:avic 15:v-vmsave-vmload 16:vgif"""),
    _word("XSAVE", 0xD, 1, "EAX", "0:xsaveopt 1:xsavec 2:xgetbv1 3:xsaves"),
    _word("6_EAX", 0x6, 0, "EAX", "2:arat"),
)

WORDS_BY_KEY: dict[str, FeatureWord] = {w.key: w for w in FEATURE_WORDS}

FEATURES: dict[str, FeatureBit] = {
    name: FeatureBit(w.leaf, w.subleaf, w.register, bit)
    for w in FEATURE_WORDS
    for bit, name in sorted(w.names.items())
}

# Names that set more than one bit: QEMU names both KVM clocksource bits (0 and 3) "kvmclock".
EXTRA_BITS: dict[str, tuple[FeatureBit, ...]] = {
    "kvmclock": (FeatureBit(0x40000001, 0, "EAX", 3),),
}

# Old spellings QEMU still accepts, after '_' has been turned into '-' (QEMU's feat2prop).
ALIASES: dict[str, str] = {
    "sse3": "pni",
    "pclmuldq": "pclmulqdq",
    "sse4-1": "sse4.1",
    "sse4-2": "sse4.2",
    "xd": "nx",
    "ffxsr": "fxsr-opt",
    "i64": "lm",
}

# Flags that exist in CPUID but QEMU keeps out of "max"/"host" while the CPU is migratable.
UNMIGRATABLE: frozenset[str] = frozenset({"invtsc"})


def word_of(name: str) -> FeatureWord:
    """The feature word that holds canonical flag ``name``."""
    fb = FEATURES[name]
    for w in FEATURE_WORDS:
        if w.location == (fb.leaf, fb.subleaf, fb.register):
            return w
    raise KeyError(name)


def canonical_name(name: str) -> str | None:
    """QEMU's property name for a user-written flag (``lahf_lm`` -> ``lahf-lm``), or None if unknown."""
    prop = name.replace("_", "-")
    if prop in FEATURES:
        return prop
    target = ALIASES.get(prop)
    if target is not None:
        return target
    if name in FEATURES:  # names with a real '_' would survive here (none at present)
        return name
    return None


def bits_of(name: str) -> tuple[FeatureBit, ...]:
    """Every bit that canonical flag ``name`` controls."""
    return (FEATURES[name],) + EXTRA_BITS.get(name, ())


def all_flag_names() -> list[str]:
    """Every canonical flag name, sorted as ``-cpu help`` lists them."""
    return sorted(FEATURES)


def bit_name(word: FeatureWord, bit: int) -> str | None:
    """The flag name of ``bit`` in ``word``, including bits only reachable through a multi-bit name."""
    name = word.names.get(bit)
    if name is not None:
        return name
    for extra, bits in EXTRA_BITS.items():
        if FeatureBit(word.leaf, word.subleaf, word.register, bit) in bits:
            return extra
    return None


def register_mask(names: set[str] | frozenset[str], leaf: int, subleaf: int, register: str) -> int:
    """The register value that enables ``names`` within one (leaf, subleaf, register)."""
    value = 0
    for name in names:
        for fb in bits_of(name):
            if (fb.leaf, fb.subleaf, fb.register) == (leaf, subleaf, register):
                value |= fb.mask
    return value
