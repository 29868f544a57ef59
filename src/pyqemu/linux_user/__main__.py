"""``python -m pyqemu.linux_user``: the same as ``pyqemu-riscv64``."""

import sys

from .main import main_riscv64

sys.exit(main_riscv64())
