"""ISA devices of the PC (x86 ``pc``/``q35`` machines), reached through the I/O port address space."""
