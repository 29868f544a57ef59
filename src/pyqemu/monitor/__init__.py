"""The human monitor (HMP): QEMU's interactive console for inspecting and controlling the VM."""

from pyqemu.monitor.hmp import Monitor, MonitorTarget

__all__ = ["Monitor", "MonitorTarget"]
