"""The GDB remote serial protocol server (QEMU's gdbstub.c): lets GDB debug the guest.

* :mod:`.protocol`: packet framing, acknowledgements, escaping;
* :mod:`.server`: the command dispatcher, independent of the emulator it serves;
* :mod:`.arch`, :mod:`.riscv`: what GDB sees of a guest architecture (target description, registers);
* :mod:`.points`: the breakpoint and watchpoint tables both modes share;
* :mod:`.system`: the system emulator's stub (``-s``, ``-gdb DEV``): a main-loop citizen on a chardev,
  one thread per vCPU;
* :mod:`.user`: the linux-user emulator's stub (``-g PORT``): the guest's threads are the threads.

Breakpoints are never written into guest memory: the translator ends a block before a breakpoint's
instruction and raises the debug exception there (translations are flushed whenever the breakpoints
change).  Single steps run one instruction translated afresh, and watched pages are kept off the fast
memory paths so that their accesses reach a check.
"""
