"""ELF loader and initial process stack for user-mode emulation (QEMU linux-user/elfload.c; System V
ABI gABI ch. 5 "Program Loading"; the Linux initial stack: argc, argv, envp, auxv, strings).

Loads ET_EXEC and ET_DYN (PIE) executables and their PT_INTERP dynamic linker, looked up under the
``-L`` sysroot first.  Errors are reported as :class:`LoadError` with a one-line message.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .memory import PAGE_MASK, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, page_align

# auxiliary vector tags (include/uapi/linux/auxvec.h)
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_MINSIGSTKSZ = 23, 25, 26, 31, 51

PIE_BASE = 0x2AAAAAA000
INTERP_BASE_HINT = 0x3FF7F00000
STACK_TOP = 0x3FFFFF0000
STACK_SIZE = 8 << 20


class LoadError(Exception):
    """The program cannot be loaded (message suitable for the user)."""


@dataclass
class ElfInfo:
    path: str
    entry: int
    load_bias: int
    phdr: int
    phnum: int
    phent: int
    start_brk: int
    interp: str | None = None
    segments: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, prot)


@dataclass
class ProcessImage:
    exe: ElfInfo
    interp: ElfInfo | None
    entry: int
    sp: int
    auxv: bytes
    stack_base: int


def _prot(flags: int) -> int:
    prot = PROT_READ if flags & 4 else 0
    prot |= PROT_WRITE if flags & 2 else 0
    return prot | (PROT_EXEC if flags & 1 else 0)


#: e_machine of the targets
ELF_MACHINES = {"EM_RISCV": 243, "EM_AARCH64": 183}


def check_elf(path: str, machine: str) -> None:
    """Raise LoadError unless ``path`` is a loadable 64-bit little-endian ELF for ``machine``."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise LoadError(f"Error while loading {path}: {e.strerror}") from None
    if head[:4] != b"\x7fELF":
        raise LoadError(f"Error while loading {path}: Exec format error")
    if len(head) < 64:
        raise LoadError(f"Error while loading {path}: Exec format error")
    if head[4] != 2 or head[5] != 1 or struct.unpack_from("<H", head, 18)[0] != ELF_MACHINES[machine]:
        raise LoadError(f"Error while loading {path}: Invalid ELF image for this architecture")


def load_elf(space: AddressSpace, path: str, machine: str, *, base_hint: int = 0,
             display_name: str | None = None) -> ElfInfo:
    """Map the PT_LOAD segments of ``path`` into ``space``."""
    check_elf(path, machine)
    name = display_name or path
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise LoadError(f"Error while loading {name}: {e.strerror}") from None
    with f:
        try:
            elf = ELFFile(f)
            if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
                raise LoadError(f"Error while loading {name}: Exec format error")
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            interp = None
            for s in elf.iter_segments():
                if s["p_type"] == "PT_INTERP":
                    interp = s.get_interp_name()
            phoff, phnum, phent = elf["e_phoff"], elf["e_phnum"], elf["e_phentsize"]
            entry = elf["e_entry"]
            is_dyn = elf["e_type"] == "ET_DYN"
            data = [(s["p_vaddr"], s["p_memsz"], s["p_offset"], s["p_filesz"], s["p_flags"]) for s in loads]
            file_size = os.fstat(f.fileno()).st_size
            contents = []
            for _vaddr, memsz, off, filesz, _flags in data:
                if off + filesz > file_size or filesz > memsz:
                    raise LoadError(f"Error while loading {name}: Invalid argument")
                f.seek(off)
                contents.append(f.read(filesz))
        except (ELFError, struct.error, ValueError, KeyError):
            raise LoadError(f"Error while loading {name}: Exec format error") from None
    if not data:
        raise LoadError(f"Error while loading {name}: no loadable segments")
    lo = min(v & PAGE_MASK for v, *_ in data)
    hi = max(page_align(v + m) for v, m, *_ in data)
    bias = 0
    if is_dyn:
        start = space.find_free(hi - lo, base_hint - lo if base_hint else 0)
        if start is None:
            raise LoadError(f"Error while loading {name}: Cannot allocate memory")
        bias = start - lo
    elif not (space.check(lo, hi - lo) and lo >= 0x10000):
        raise LoadError(f"Error while loading {name}: address range not available to the guest")
    space.map(lo + bias, hi - lo, PROT_READ | PROT_WRITE, name=os.path.abspath(path))
    info = ElfInfo(path, entry + bias, bias, 0, phnum, phent, 0, interp)
    for (vaddr, memsz, off, filesz, flags), blob in zip(data, contents, strict=True):
        space.write(vaddr + bias, blob)
        seg_start = (vaddr + bias) & PAGE_MASK
        seg_end = page_align(vaddr + bias + memsz)
        info.segments.append((seg_start, seg_end, _prot(flags)))
        if off <= phoff < off + filesz:
            info.phdr = vaddr + bias + (phoff - off)
    for seg_start, seg_end, prot in info.segments:
        space.protect(seg_start, seg_end - seg_start, prot)
    info.start_brk = hi + bias
    return info


def read_symbols(path: str, bias: int) -> list[tuple[int, int, str]]:
    """Function symbols of an ELF file as sorted (address, size, name), for log output."""
    out: list[tuple[int, int, str]] = []
    try:
        with open(path, "rb") as f:
            for section in ELFFile(f).iter_sections():
                if section["sh_type"] not in ("SHT_SYMTAB", "SHT_DYNSYM"):
                    continue
                for sym in section.iter_symbols():
                    if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"] and sym.name:
                        out.append((sym["st_value"] + bias, sym["st_size"], sym.name))
    except (OSError, ELFError, ValueError):
        return []
    return sorted(set(out))


def find_in_sysroot(path: str, sysroot: str | None) -> str:
    """QEMU's path(): an absolute path is looked up under the -L prefix first."""
    if sysroot and path.startswith("/"):
        cand = os.path.join(sysroot, path.lstrip("/"))
        if os.path.lexists(cand):
            return cand
    return path


def setup_process(space: AddressSpace, path: str, argv: list[str], envp: list[str], *, machine: str,
                  hwcap: int, sysroot: str | None, execfn: str | None = None,
                  stack_size: int | None = None) -> ProcessImage:
    """Load the program (and its interpreter) and build the initial stack."""
    exe = load_elf(space, path, machine, base_hint=PIE_BASE)
    interp_info = None
    entry = exe.entry
    if exe.interp:
        ipath = find_in_sysroot(exe.interp, sysroot)
        if not os.path.exists(ipath):
            raise LoadError(f"Error while loading {path}: interpreter {exe.interp}: "
                            "No such file or directory")
        interp_info = load_elf(space, ipath, machine, base_hint=INTERP_BASE_HINT, display_name=exe.interp)
        entry = interp_info.entry
    space.brk_start = space.brk = exe.start_brk
    # brk area follows the highest segment, as the kernel does
    size = page_align(stack_size or STACK_SIZE)
    stack_lo = STACK_TOP - size
    if stack_lo < space.mmap_top // 2:
        raise LoadError(f"Error while loading {path}: stack size too large")
    space.map(stack_lo, size, PROT_READ | PROT_WRITE, name="[stack]")
    space.mmap_top = stack_lo - 16 * PAGE_SIZE
    sp, auxv = _build_stack(space, exe, interp_info, argv, envp, hwcap, execfn or path)
    return ProcessImage(exe, interp_info, entry, sp, auxv, stack_lo)


def _build_stack(space: AddressSpace, exe: ElfInfo, interp: ElfInfo | None, argv: list[str],
                 envp: list[str], hwcap: int, execfn: str) -> tuple[int, bytes]:
    p = STACK_TOP

    def push_bytes(b: bytes) -> int:
        nonlocal p
        p -= len(b)
        space.write(p, b)
        return p

    execfn_addr = push_bytes(os.fsencode(execfn) + b"\0")
    env_addrs = [push_bytes(os.fsencode(e) + b"\0") for e in reversed(envp)][::-1]
    arg_addrs = [push_bytes(os.fsencode(a) + b"\0") for a in reversed(argv)][::-1]
    p &= ~15
    random_addr = push_bytes(os.urandom(16))
    p &= ~15
    aux = [
        (AT_PHDR, exe.phdr), (AT_PHENT, exe.phent), (AT_PHNUM, exe.phnum), (AT_PAGESZ, PAGE_SIZE),
        (AT_BASE, interp.load_bias if interp else 0), (AT_FLAGS, 0), (AT_ENTRY, exe.entry),
        (AT_UID, os.getuid()), (AT_EUID, os.geteuid()), (AT_GID, os.getgid()), (AT_EGID, os.getegid()),
        (AT_HWCAP, hwcap), (AT_CLKTCK, 100), (AT_SECURE, 0), (AT_RANDOM, random_addr),
        (AT_HWCAP2, 0), (AT_EXECFN, execfn_addr), (AT_NULL, 0),
    ]
    auxv = b"".join(struct.pack("<QQ", k, v) for k, v in aux)
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    table = struct.pack(f"<{len(words)}Q", *words) + auxv
    p -= len(table)
    p &= ~15
    space.write(p, table)
    return p, auxv
