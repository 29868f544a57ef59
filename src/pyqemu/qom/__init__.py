"""The QEMU Object Model subset pyqemu uses: device types, properties, buses and the device tree."""
