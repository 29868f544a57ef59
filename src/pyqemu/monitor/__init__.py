"""The monitors: HMP, QEMU's interactive console, and QMP, its JSON control protocol, over the same
target (:mod:`.target`) and commands (:mod:`.qmp_commands`)."""

from pyqemu.monitor.hmp import Monitor
from pyqemu.monitor.qmp import QmpMonitor
from pyqemu.monitor.qmp_commands import QmpCommands, wire_events
from pyqemu.monitor.target import MonitorTarget

__all__ = ["Monitor", "MonitorTarget", "QmpCommands", "QmpMonitor", "wire_events"]
