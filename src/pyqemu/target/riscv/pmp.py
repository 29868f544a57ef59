"""Physical memory protection (RISC-V Privileged spec, section 3.7): 16 entries, checked on the
physical address of every access that is not cached in the TLB."""

from __future__ import annotations

PMP_R, PMP_W, PMP_X, PMP_L = 0x01, 0x02, 0x04, 0x80
A_OFF, A_TOR, A_NA4, A_NAPOT = 0, 1, 2, 3
NUM_ENTRIES = 16
ADDR_MASK = (1 << 54) - 1  # pmpaddr holds bits 55:2 of a 56-bit physical address


class PMP:
    def __init__(self) -> None:
        self.cfg = [0] * NUM_ENTRIES
        self.addr = [0] * NUM_ENTRIES
        self.ranges: list[tuple[int, int, int] | None] = [None] * NUM_ENTRIES  # (start, end, cfg)
        self.active = False
        #: (4 KiB page, need, priv) -> verdict, for pages no entry splits (page walks read PTEs often)
        self._pages: dict[tuple[int, int, int], bool] = {}

    # -- CSRs ----------------------------------------------------------------------------------------
    def read_cfg(self, reg: int) -> int:
        """pmpcfg``reg`` (RV64: even registers, 8 entries each)."""
        base = reg * 4
        return sum(self.cfg[base + i] << (8 * i) for i in range(8))

    def write_cfg(self, reg: int, value: int) -> None:
        base = reg * 4
        for i in range(8):
            if self.cfg[base + i] & PMP_L:
                continue
            c = (value >> (8 * i)) & 0x9F
            if c & (PMP_W | PMP_R) == PMP_W:  # W without R is reserved
                c &= ~PMP_W
            self.cfg[base + i] = c
        self._update()

    def read_addr(self, i: int) -> int:
        return self.addr[i]

    def write_addr(self, i: int, value: int) -> None:
        if self.cfg[i] & PMP_L:
            return
        nxt = i + 1
        if nxt < NUM_ENTRIES and self.cfg[nxt] & PMP_L and (self.cfg[nxt] >> 3) & 3 == A_TOR:
            return  # locked as the top of a locked TOR range
        self.addr[i] = value & ADDR_MASK
        self._update()

    def _update(self) -> None:
        prev = 0
        for i in range(NUM_ENTRIES):
            c = self.cfg[i]
            a = self.addr[i]
            mode = (c >> 3) & 3
            rng: tuple[int, int, int] | None = None
            if mode == A_TOR:
                if a << 2 > prev:
                    rng = (prev, a << 2, c)
            elif mode == A_NA4:
                rng = (a << 2, (a << 2) + 4, c)
            elif mode == A_NAPOT:
                ones = (~a & (a + 1)).bit_length() - 1  # trailing ones of pmpaddr
                size = 1 << (ones + 3)
                start = (a & ~((1 << ones) - 1)) << 2
                rng = (start, start + size, c)
            self.ranges[i] = rng
            prev = a << 2
        self.active = any(r is not None for r in self.ranges)
        self._pages.clear()

    # -- checks --------------------------------------------------------------------------------------
    def check(self, addr: int, size: int, need: int, priv: int) -> tuple[bool, bool]:
        """(allowed, whole page): whether ``need`` (PMP_R/W/X) at [addr, addr+size) is allowed in
        privilege ``priv``, and whether the verdict holds for the whole 4 KiB page."""
        if not self.active:
            return priv == 3, True  # entries are implemented: S/U need a matching one
        end = addr + size
        page = addr & ~0xFFF
        key = (page, need, priv)
        known = self._pages.get(key)
        if known is not None and end <= page + 0x1000:
            return known, True
        allowed, whole = self._check(addr, end, page, need, priv)
        if whole and end <= page + 0x1000:
            self._pages[key] = allowed
        return allowed, whole

    def _check(self, addr: int, end: int, page: int, need: int, priv: int) -> tuple[bool, bool]:
        page_end = page + 0x1000
        whole = True
        for rng in self.ranges:
            if rng is None:
                continue
            start, stop, c = rng
            if start < page_end and stop > page and not (start <= page and page_end <= stop):
                whole = False  # this entry splits the page: decide access by access
            if start <= addr and end <= stop:
                if priv == 3 and not c & PMP_L:
                    return True, whole
                return bool(c & need == need), whole
            if start < end and addr < stop:
                return False, False  # partially covered: fails
        return priv == 3, whole
