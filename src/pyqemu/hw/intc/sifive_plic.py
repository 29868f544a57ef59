"""SiFive PLIC as the ``virt`` board maps it at 0xC000000 (QEMU hw/intc/sifive_plic.c configuration).

Register map and semantics from the RISC-V PLIC Specification 1.0.0: chapter 3 "Memory Map",
4 "Interrupt Priorities", 5 "Interrupt Pending Bits", 6 "Interrupt Enables", 7 "Priority
Thresholds", 8 "Interrupt Claim Process", 9 "Interrupt Completion".

* 96 sources (0 is "no interrupt", so 1..95 are usable), 3 priority bits (levels 0..7, WARL: writes
  keep the low 3 bits, like QEMU's virt with VIRT_IRQCHIP_NUM_PRIO_BITS = 3);
* two contexts per hart: 2*hart is its M-mode context (drives MEIP), 2*hart+1 its S-mode one (SEIP);
* priority at 4*source, pending bits at 0x1000, enables at 0x2000 + 0x80*context, threshold at
  0x200000 + 0x1000*context and claim/complete 4 bytes after it.

Sources are level triggered: a source is pending while its input line is high and it is not claimed;
a claim takes it (clearing pending) until the matching completion, after which a still-high line
makes it pending again.  A context's output is high while an enabled, pending source has priority
above the context's threshold.  A claim returns the highest-priority enabled pending source
(priority >= 1, ties to the lowest id) regardless of the threshold, as chapter 8 says (QEMU applies the
threshold there too); a completion for a source not enabled in that context is ignored (chapter 9).
"""

from __future__ import annotations

from pyqemu.exec.memory import MemoryRegion
from pyqemu.hw.core.irq import IRQ, allocate_irqs

NUM_SOURCES = 96
PRIORITY_MASK = 0x7
PLIC_SIZE = 0x600000
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x200000
CONTEXT_STRIDE = 0x1000
SOURCE_BITS = ((1 << NUM_SOURCES) - 1) & ~1  # source 0 does not exist
WORDS = (NUM_SOURCES + 31) // 32


class Plic:
    """The interrupt controller; ``irqs[n]`` is source n's input line, ``mr`` its MMIO region."""

    def __init__(self, num_harts: int, outputs: list[IRQ]):
        if len(outputs) != 2 * num_harts:
            raise ValueError("the PLIC needs an M-mode and an S-mode output per hart")
        self.num_contexts = 2 * num_harts
        self.outputs = outputs
        self.irqs = allocate_irqs(self._set_irq, NUM_SOURCES)
        self.mr = MemoryRegion.io("riscv.sifive.plic", PLIC_SIZE, self)
        self.priority = [0] * NUM_SOURCES
        self.threshold = [0] * self.num_contexts
        self.enable = [0] * self.num_contexts  # bit n: source n
        self.level = 0  # input line levels, bit n: source n
        self.pending = 0  # requests forwarded by the gateways, not yet claimed
        self.claimed = 0
        self.reset()

    def reset(self) -> None:
        """Registers go to 0; input levels stay what the devices drive."""
        self.priority = [0] * NUM_SOURCES
        self.threshold = [0] * self.num_contexts
        self.enable = [0] * self.num_contexts
        self.claimed = 0
        self.pending = self.level & SOURCE_BITS
        for out in self.outputs:
            out.lower()

    # -- interrupt state -------------------------------------------------------------------------------
    def _set_irq(self, source: int, level: int) -> None:
        """The gateway: a high line makes a request, which stays pending until claimed even if the
        line drops; no new request is taken while the source is in service (claimed, not completed)."""
        bit = 1 << source
        self.level = (self.level | bit) if level else (self.level & ~bit)
        if level and not self.claimed & bit:
            self.pending |= bit & SOURCE_BITS
        self._update()

    def _best(self, context: int, floor: int) -> int:
        """The enabled pending source of highest priority above ``floor`` (lowest id on ties), or 0."""
        best, best_priority = 0, floor
        bits = self.pending & self.enable[context]
        while bits:
            low = bits & -bits
            source = low.bit_length() - 1
            if self.priority[source] > best_priority:
                best, best_priority = source, self.priority[source]
            bits ^= low
        return best

    def _update(self) -> None:
        for context, out in enumerate(self.outputs):
            level = int(self._best(context, self.threshold[context]) != 0)
            if out.level != level:
                out.set(level)

    # -- registers --------------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset & 3:
            return 0
        if offset < 4 * NUM_SOURCES:
            return self.priority[offset >> 2]
        if PENDING_BASE <= offset < PENDING_BASE + 4 * WORDS:
            return (self.pending >> (8 * (offset - PENDING_BASE))) & 0xFFFFFFFF
        context, reg = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
        if ENABLE_BASE <= offset < CONTEXT_BASE and context < self.num_contexts and reg < 4 * WORDS:
            return (self.enable[context] >> (8 * reg)) & 0xFFFFFFFF
        context, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if CONTEXT_BASE <= offset and context < self.num_contexts:
            if reg == 0:
                return self.threshold[context]
            if reg == 4:
                return self._claim(context)
        return 0

    def write(self, offset: int, value: int, size: int) -> None:
        if offset & 3:
            return
        value &= 0xFFFFFFFF
        if offset < 4 * NUM_SOURCES:
            if offset:
                self.priority[offset >> 2] = value & PRIORITY_MASK
                self._update()
            return
        context, reg = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
        if ENABLE_BASE <= offset < CONTEXT_BASE and context < self.num_contexts and reg < 4 * WORDS:
            shift = 8 * reg
            bits = (self.enable[context] & ~(0xFFFFFFFF << shift)) | (value << shift)
            self.enable[context] = bits & SOURCE_BITS
            self._update()
            return
        context, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if CONTEXT_BASE <= offset and context < self.num_contexts:
            if reg == 0:
                self.threshold[context] = value & PRIORITY_MASK
                self._update()
            elif reg == 4 and value < NUM_SOURCES and self.enable[context] >> value & 1:
                bit = 1 << value
                self.claimed &= ~bit  # completion: a line still high makes a new request
                if self.level & bit:
                    self.pending |= bit & SOURCE_BITS
                self._update()
        # pending bits are read-only

    def _claim(self, context: int) -> int:
        source = self._best(context, 0)
        if source:
            self.claimed |= 1 << source
            self.pending &= ~(1 << source)
            self._update()
        return source

    # -- migration -----------------------------------------------------------------------------------
    def vmstate(self) -> dict:
        return {"priority": list(self.priority), "threshold": list(self.threshold),
                "enable": list(self.enable), "level": self.level, "pending": self.pending,
                "claimed": self.claimed}

    def load_vmstate(self, state: dict) -> None:
        self.priority = list(state["priority"])
        self.threshold = list(state["threshold"])
        self.enable = list(state["enable"])
        self.level = state["level"]
        self.pending = state["pending"]
        self.claimed = state["claimed"]
        self._update()
