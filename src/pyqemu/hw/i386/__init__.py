"""The x86 (i386 / x86-64) PC hardware: direct-boot kernel loaders (multiboot v1, Linux boot protocol)."""
