"""PCI: the device/bus core (pci.py), configuration mechanisms (pci_host.py), the i440FX/PIIX3 and
Q35/ICH9 chipsets and their qom device types (qdev.py)."""
