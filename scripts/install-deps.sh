#!/bin/sh
# Installs the Debian packages pyqemu's build, tests and benchmarks use, when missing:
# - cross compilers for guest programs (riscv64, and aarch64 for the coming arm64 guests);
# - gdb-multiarch (drives the gdbstub in tests);
# - reference peers: Debian's qemu-user, qemu-utils and qemu-system-misc (qemu-system-riscv64),
#   busybox-static (native reference output), device-tree-compiler (dtc reads dumped device trees),
#   acpica-tools (iasl/acpiexec decode and run the ACPI tables of the x86 machines);
# - guest firmware: opensbi (the system emulator's default -bios) and u-boot-qemu;
# - build tools: gcc + python3-dev (pylibfdt builds from source), dpkg-dev (guest software from Debian
#   source), flex + bison + bc (the riscv64 kernel, when no prebuilt one is at hand), make, file.
set -eu
PKGS="gdb-multiarch gcc-riscv64-linux-gnu libc6-dev-riscv64-cross gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-utils busybox-static dpkg-dev make file device-tree-compiler opensbi u-boot-qemu qemu-system-misc gcc python3-dev flex bison bc acpica-tools"
missing=
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
