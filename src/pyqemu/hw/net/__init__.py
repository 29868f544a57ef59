"""Network interface cards (QEMU hw/net): the NIC/backend interface and the Intel e1000 family."""
