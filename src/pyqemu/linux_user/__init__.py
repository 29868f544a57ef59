"""Linux user-mode emulation: run a foreign Linux binary on this host (QEMU's linux-user/)."""
