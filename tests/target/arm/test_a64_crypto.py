"""The A64 Cryptographic Extension and PMULL (:mod:`pyqemu.target.arm.translate_a64_crypto`).

* Differential: random programs of random words of every crypto pattern (registers mostly from a
  small set, so results feed later instructions) from random V registers, against Unicorn 2's
  ``UC_CPU_ARM64_MAX`` (QEMU 5's ``max`` CPU: AES with PMULL, SHA1, SHA256), through the harness of
  ``test_differential_unicorn`` (cold and hot code).
* Known answers: AES-128 encryption (AESE/AESMC rounds) and decryption (AESD/AESIMC with the
  equivalent inverse cipher's round keys computed by AESIMC in the guest) of the FIPS-197 Appendix B
  example, and SHA-256 and SHA-1 of "abc" (FIPS 180-4 examples) against hashlib, each an assembly
  routine run on pyqemu.  Round keys and message words are prepared in Python; W + K goes through
  memory and integer adds (no Advanced SIMD arithmetic needed).
"""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import pytest

from pyqemu.accel.tcg.decodetree import parse_table
from pyqemu.target.arm import translate_a64_crypto
from pyqemu.target.arm.cpu import EXCP_BKPT, AArch64CPU
from pyqemu.target.arm.crypto_helper import SBOX
from pyqemu.target.arm.translate_a64 import decoder

from . import test_differential_unicorn as diff
from .harness import CODE, DATA, Machine, assemble, needs_binutils

ARCH = "armv8-a+crypto"
PATTERNS = parse_table(translate_a64_crypto.TABLE, 32)
REG_FIELDS = (0, 5, 16)  # Rd, Rn, Rm


# --- differential against Unicorn -----------------------------------------------------------------------

def crypto_word(rng: random.Random) -> str:
    p = rng.choice(PATTERNS)
    word = p.match | (rng.getrandbits(32) & ~p.mask)
    for lo in REG_FIELDS:
        if not p.mask >> lo & 31 and rng.random() < 0.7:
            word = word & ~(31 << lo) | rng.randrange(6) << lo
    return f".inst {word:#010x}"


@needs_binutils
@pytest.mark.skipif(diff.unicorn is None, reason="pip package 'unicorn' not installed")
def test_crypto_matches_unicorn(tmp_path: Path) -> None:
    rng = random.Random(f"{diff.SEED}-crypto")
    programs = [diff.Program(f"crypto{n}", [crypto_word(rng) for _ in range(rng.randrange(1, 12))],
                             regs=diff.random_regs(rng),
                             vregs={i: rng.choice((rng.getrandbits(128), rng.getrandbits(64), (1 << 128) - 1))
                                    for i in range(32)})
                for n in range(300)]
    diff.differential(programs, tmp_path)


def test_names_are_prefixed() -> None:
    """The extension's pattern, format and handler names can't shadow the other tables' ones."""
    handlers = [n for n in vars(translate_a64_crypto) if n.startswith("trans_")]
    names = [p.name for p in PATTERNS] + [p.fmt for p in PATTERNS] + list(translate_a64_crypto.FORMATS)
    assert all(n.startswith("cr_") for n in names)
    assert all(n.startswith("trans_cr_") for n in handlers)
    assert {p.name for p in PATTERNS} == {n[6:] for n in handlers}


def test_reserved_sizes_are_not_crypto() -> None:
    """AES and SHA with size != 00 and PMULL with size 01 or 10 are reserved."""
    for word in (0x4E684800, 0x4EA84800, 0x5E420020, 0x5E680820, 0x0E62E020, 0x4EA2E020):
        d = decoder().decode(word)
        assert d is None or not d[2].startswith("cr_"), hex(word)


# --- known answers ----------------------------------------------------------------------------------------

def run(source: list[str], tmp: Path, vregs: dict[int, int], xregs: tuple[int, int] = (0, 0),
        memory: bytes = b"") -> AArch64CPU:
    """Assemble ``source`` and a final ``brk #0``, run it from V registers ``vregs``, X0 and X1 =
    ``xregs`` and ``memory`` at DATA, cold and then hot: the final CPU."""
    image, _ = assemble("\n".join([*source, "brk #0"]), tmp, ARCH)
    machine = Machine(image, hot_threshold=2)
    machine.space.write(DATA, memory)
    for _ in range(3):
        cpu = AArch64CPU()
        for i, value in vregs.items():
            cpu.set_v(i, value)
        cpu.set_x(0, xregs[0])
        cpu.set_x(1, xregs[1])
        assert machine.run(cpu, CODE) == (EXCP_BKPT, CODE + len(image) - 4, 0)
    return cpu


def le128(data: bytes) -> int:
    return int.from_bytes(data, "little")


def aes128_round_keys(key: bytes) -> list[int]:
    """FIPS-197 5.2 KeyExpansion, each round key as the 128-bit register value."""
    words = [key[i:i + 4] for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = words[i - 1]
        if i % 4 == 0:
            t = bytes(SBOX[b] for b in t[1:] + t[:1])
            t = bytes([t[0] ^ rcon]) + t[1:]
            rcon = (rcon << 1) ^ (0x11B if rcon & 0x80 else 0)
        words.append(bytes(a ^ b for a, b in zip(words[i - 4], t, strict=True)))
    return [le128(b"".join(words[i:i + 4])) for i in range(0, 44, 4)]


FIPS197_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
FIPS197_PLAIN = bytes.fromhex("3243f6a8885a308d313198a2e0370734")
FIPS197_CIPHER = bytes.fromhex("3925841d02dc09fbdc118597196a0b32")


@needs_binutils
def test_aes128_fips197(tmp_path: Path) -> None:
    """v1..v11: round keys 0..10.  v0 encrypts the plaintext (the final XOR with round key 10 in
    Python); v12 decrypts the ciphertext with v13..v21 = InvMixColumns of round keys 1..9 (the final
    XOR with round key 0 in Python)."""
    keys = aes128_round_keys(FIPS197_KEY)
    source = []
    for r in range(1, 10):
        source += [f"aese v0.16b, v{r}.16b", "aesmc v0.16b, v0.16b"]
    source.append("aese v0.16b, v10.16b")
    source += [f"aesimc v{12 + r}.16b, v{r + 1}.16b" for r in range(1, 10)]
    source.append("aesd v12.16b, v11.16b")
    for r in range(9, 0, -1):
        source += ["aesimc v12.16b, v12.16b", f"aesd v12.16b, v{12 + r}.16b"]
    vregs = {0: le128(FIPS197_PLAIN), 12: le128(FIPS197_CIPHER)}
    vregs.update({r + 1: k for r, k in enumerate(keys)})
    cpu = run(source, tmp_path, vregs)
    assert (cpu.v(0) ^ keys[10]).to_bytes(16, "little") == FIPS197_CIPHER
    assert (cpu.v(12) ^ keys[0]).to_bytes(16, "little") == FIPS197_PLAIN


KSCRATCH, SCRATCH = DATA, DATA + 0x800  # the round constants (x0 walks them), W + K (x1)


def wk_lines(w: int) -> list[str]:
    """v16 = the words of v<w> + the next four round constants at x0 (through memory)."""
    lines = [f"str q{w}, [x1]"]
    for off in (0, 8):
        lines += [f"ldp w2, w3, [x1, #{off}]", "ldp w4, w5, [x0], #8", "add w2, w2, w4", "add w3, w3, w5",
                  f"stp w2, w3, [x1, #{off}]"]
    return [*lines, "ldr q16, [x1]"]


def padded_words(message: bytes) -> list[int]:
    """The message padded to one 512-bit block (FIPS 180-4 5.1.1), as 16 big-endian words."""
    block = message + b"\x80" + bytes(55 - len(message)) + struct.pack(">Q", 8 * len(message))
    return list(struct.unpack(">16I", block))


def pack_words(words: list[int]) -> int:
    return sum(w << 32 * i for i, w in enumerate(words))


def unpack_words(v: int) -> list[int]:
    return [v >> 32 * i & 0xFFFFFFFF for i in range(4)]


def message_vregs(message: bytes) -> dict[int, int]:
    """v4..v7: the message words W0..W15."""
    w = padded_words(message)
    return {4 + i: pack_words(w[4 * i:4 * i + 4]) for i in range(4)}


SHA256_K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2]
SHA256_H = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]


@needs_binutils
def test_sha256_abc(tmp_path: Path) -> None:
    """One block: v0 = abcd, v1 = efgh, v4..v7 the schedule; 16 groups of four rounds."""
    source = []
    for i in range(16):
        w0, w1, w2, w3 = (4 + (i + k) % 4 for k in range(4))
        source += [*wk_lines(w0), "str q0, [x1, #16]", "ldr q2, [x1, #16]",
                   "sha256h q0, q1, v16.4s", "sha256h2 q1, q2, v16.4s"]
        if i < 12:
            source += [f"sha256su0 v{w0}.4s, v{w1}.4s", f"sha256su1 v{w0}.4s, v{w2}.4s, v{w3}.4s"]
    vregs = {0: pack_words(SHA256_H[:4]), 1: pack_words(SHA256_H[4:]), **message_vregs(b"abc")}
    cpu = run(source, tmp_path, vregs, (KSCRATCH, SCRATCH), struct.pack("<64I", *SHA256_K))
    state = unpack_words(cpu.v(0)) + unpack_words(cpu.v(1))
    digest = struct.pack(">8I", *((h + s) & 0xFFFFFFFF for h, s in zip(SHA256_H, state, strict=True)))
    assert digest == hashlib.sha256(b"abc").digest()


SHA1_K = (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6)
SHA1_H = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]


@needs_binutils
def test_sha1_abc(tmp_path: Path) -> None:
    """One block: v0 = abcd, e alternating between s1 and s3 (SHA1H computes the next one), v4..v7
    the schedule; 20 groups of four rounds (SHA1C, SHA1P, SHA1M, SHA1P)."""
    source = []
    for i in range(20):
        w0, w1, w2, w3 = (4 + (i + k) % 4 for k in range(4))
        e, e_next = (1, 3) if i % 2 == 0 else (3, 1)
        source += [*wk_lines(w0), f"sha1h s{e_next}, s0", f"sha1{'cpmp'[i // 5]} q0, s{e}, v16.4s"]
        if i < 16:
            source += [f"sha1su0 v{w0}.4s, v{w1}.4s, v{w2}.4s", f"sha1su1 v{w0}.4s, v{w3}.4s"]
    vregs = {0: pack_words(SHA1_H[:4]), 1: SHA1_H[4], **message_vregs(b"abc")}
    constants = [k for k in SHA1_K for _ in range(20)]
    cpu = run(source, tmp_path, vregs, (KSCRATCH, SCRATCH), struct.pack("<80I", *constants))
    state = unpack_words(cpu.v(0)) + [cpu.v(1) & 0xFFFFFFFF]
    digest = struct.pack(">5I", *((h + s) & 0xFFFFFFFF for h, s in zip(SHA1_H, state, strict=True)))
    assert digest == hashlib.sha1(b"abc").digest()
