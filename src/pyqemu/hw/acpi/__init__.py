"""ACPI firmware tables for the x86 PCs: an AML byte-code builder (:mod:`.aml`) and the RSDP, XSDT, FADT,
FACS, MADT and DSDT builders with their guest-memory layout (:mod:`.tables`)."""
