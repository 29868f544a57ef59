"""Command-line tools shipped with pyqemu (pyqemu-img and friends)."""
