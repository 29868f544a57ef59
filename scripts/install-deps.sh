#!/bin/sh
# Installs the Debian packages pyqemu's build, tests and benchmarks use, when missing:
# cross compilers for guest programs, Debian's qemu-user / qemu-utils as reference peers,
# busybox-static (native reference output), dpkg-dev (to build guest software from Debian source),
# device-tree-compiler (dtc reads dumped device trees), opensbi (the system emulator's default firmware),
# u-boot-qemu (U-Boot for the virt board), gcc + python3-dev (pylibfdt builds from source), flex + bison + bc
# (the riscv64 kernel build when no prebuilt one is at hand) and qemu-system-misc (Debian's qemu-system-riscv64, the reference
# the tests and `make bench` compare with).
set -eu
PKGS="gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user qemu-utils busybox-static dpkg-dev make file device-tree-compiler opensbi u-boot-qemu qemu-system-misc gcc python3-dev flex bison bc"
missing=
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
