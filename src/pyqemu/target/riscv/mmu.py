"""Virtual-memory translation for a hart: Bare, Sv39 and Sv48 page walks with A/D updates and PMP
(RISC-V Privileged spec, sections 4.3-4.5 and 3.7), and a page-walk cache of superpage leaves and
last-level tables that lives until the TLB is flushed.  This is the softmmu TLB's fill function."""

from __future__ import annotations

from typing import Any

from ...accel.tcg.backend_python import GuestFault
from ...accel.tcg.softmmu import ACCESS_FETCH, ACCESS_STORE, PROT_EXEC, PROT_READ, PROT_WRITE
from .cpu import (
    EXCP_INST_ACCESS_FAULT,
    EXCP_INST_PAGE_FAULT,
    EXCP_LOAD_ACCESS_FAULT,
    EXCP_LOAD_PAGE_FAULT,
    EXCP_STORE_ACCESS_FAULT,
    EXCP_STORE_PAGE_FAULT,
)
from .pmp import PMP_R, PMP_W, PMP_X

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48 = 0, 8, 9
LEVELS = {SATP_MODE_SV39: 3, SATP_MODE_SV48: 4}
PHYS_BITS = 56
PPN_MASK = (1 << 44) - 1

PAGE_FAULT = {0: EXCP_LOAD_PAGE_FAULT, 1: EXCP_STORE_PAGE_FAULT, 2: EXCP_INST_PAGE_FAULT}
ACCESS_FAULT = {0: EXCP_LOAD_ACCESS_FAULT, 1: EXCP_STORE_ACCESS_FAULT, 2: EXCP_INST_ACCESS_FAULT}
_PMP_NEED = {0: PMP_R, 1: PMP_W, 2: PMP_X}

# MMU index layout: bits 0-1 effective privilege, bit 2 mstatus.SUM, bit 3 mstatus.MXR
MMU_SUM, MMU_MXR = 4, 8


#: the page-walk cache (``SoftMMU.walks``) has an entry per 2 MiB of virtual space walked: the leaf
#: PTE of a superpage (its address, value, level), or the base of the last-level table (None, base, 0)
WALK_SPAN = 21


def fill(hart: Any, vaddr: int, access: int, idx: int, size: int = 1) -> tuple[int, int, bool]:
    """Translate ``vaddr`` for an ``access`` of ``size`` bytes in MMU index ``idx``:
    (physical page, prot, whole_page)."""
    priv = idx & 3
    mode = hart.satp >> 60
    if priv == 3 or mode == SATP_MODE_BARE:
        if vaddr >> PHYS_BITS:
            raise GuestFault(ACCESS_FAULT[access], vaddr)
        ppage = vaddr & ~0xFFF
        prot = PROT_READ | PROT_WRITE | PROT_EXEC
        return _pmp(hart, ppage, vaddr, access, priv, prot, size)
    levels = LEVELS[mode]
    va_bits = 12 + 9 * levels
    top = vaddr >> (va_bits - 1)
    if top != 0 and top != (1 << (65 - va_bits)) - 1:
        raise GuestFault(PAGE_FAULT[access], vaddr)  # not sign-extended
    walks = hart.mmu.walks
    span = vaddr >> WALK_SPAN
    cached = walks.get(span)
    accessed = PTE_A | (PTE_D if access == ACCESS_STORE else 0)
    if cached is not None and cached[0] is not None and cached[1] & accessed == accessed:
        pte_addr, pte, level = cached  # (a leaf whose A/D bits need no update: else read it afresh)
    elif cached is not None and cached[0] is None:
        pte_addr, pte, level = _walk(hart, vaddr, access, cached[1], 0, walks)
    else:
        pte_addr, pte, level = _walk(hart, vaddr, access, (hart.satp & PPN_MASK) << 12, levels - 1, walks)
    ppn = (pte >> 10) & PPN_MASK
    if ppn & ((1 << (9 * level)) - 1):
        raise GuestFault(PAGE_FAULT[access], vaddr)  # misaligned superpage
    if pte & PTE_U:
        if priv == 1 and (access == ACCESS_FETCH or not idx & MMU_SUM):
            raise GuestFault(PAGE_FAULT[access], vaddr)
    elif priv == 0:
        raise GuestFault(PAGE_FAULT[access], vaddr)
    readable = bool(pte & PTE_R or (idx & MMU_MXR and pte & PTE_X))
    if access == ACCESS_FETCH:
        ok = pte & PTE_X
    elif access == ACCESS_STORE:
        ok = pte & PTE_W
    else:
        ok = readable
    if not ok:
        raise GuestFault(PAGE_FAULT[access], vaddr)
    want = pte | accessed
    if want != pte:
        hart.space.write(pte_addr, want, 8)  # hardware A/D update
        pte = want
        if level:
            walks[span] = (pte_addr, pte, level)
    prot = (PROT_READ if readable else 0) | (PROT_EXEC if pte & PTE_X else 0)
    if pte & PTE_W and pte & PTE_D:
        prot |= PROT_WRITE
    ppage = (ppn << 12) | (vaddr & ((1 << (12 + 9 * level)) - 1) & ~0xFFF)
    return _pmp(hart, ppage, vaddr, access, priv, prot, size)


def _walk(hart: Any, vaddr: int, access: int, base: int, top: int,
          walks: dict[int, tuple[int | None, int, int]]) -> tuple[int, int, int]:
    """Walk the page tables from the table at ``base`` (of level ``top``) to the leaf of ``vaddr``:
    (its address, its value, its level); remembers the superpage leaf or last-level table met."""
    space = hart.space
    pmp = hart.pmp
    for level in range(top, -1, -1):
        pte_addr = base + ((vaddr >> (12 + 9 * level)) & 0x1FF) * 8
        if not pmp.check(pte_addr, 8, PMP_R, 1)[0]:
            raise GuestFault(ACCESS_FAULT[access], vaddr)
        if space.find(pte_addr) is None:
            raise GuestFault(ACCESS_FAULT[access], vaddr)
        pte = space.read(pte_addr, 8)
        if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W or pte >> 54:
            raise GuestFault(PAGE_FAULT[access], vaddr)
        if pte & (PTE_R | PTE_X):  # a leaf
            if level:
                walks[vaddr >> WALK_SPAN] = (pte_addr, pte, level)
            return pte_addr, pte, level
        if level == 0:
            break
        base = ((pte >> 10) & PPN_MASK) << 12
        if level == 1:
            walks[vaddr >> WALK_SPAN] = (None, base, 0)
    raise GuestFault(PAGE_FAULT[access], vaddr)


def _pmp(hart: Any, ppage: int, vaddr: int, access: int, priv: int, prot: int,
         size: int) -> tuple[int, int, bool]:
    pmp = hart.pmp
    if not pmp.active and priv == 3:
        return ppage, prot, True
    paddr = ppage | (vaddr & 0xFFF)
    ok, whole = pmp.check(paddr, size, _PMP_NEED[access], priv)
    if not ok:
        raise GuestFault(ACCESS_FAULT[access], vaddr)
    # keep only the permissions PMP also grants for the rest of the page
    for need, bit in ((PMP_R, PROT_READ), (PMP_W, PROT_WRITE), (PMP_X, PROT_EXEC)):
        if prot & bit and not pmp.check(paddr, 1, need, priv)[0]:
            prot &= ~bit
    return ppage, prot, whole
