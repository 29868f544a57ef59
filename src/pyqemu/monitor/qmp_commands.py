"""The QMP commands (QEMU's qmp_* functions across monitor/, block/, qom/, softmmu/), acting on one
:class:`~pyqemu.monitor.target.MonitorTarget`, and the wiring of the VM's events to the QMP monitors.

Arguments arrive already checked against the schema (:mod:`pyqemu.qapi`); failures raise
:class:`~pyqemu.monitor.qmp.QmpError` with QEMU's class and message.  HMP uses the query commands
too, as QEMU's hmp_info_* functions do.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from pyqemu import QEMU_VERSION
from pyqemu.block.errors import BlockError
from pyqemu.block.throttle import ThrottleConfig, ThrottleState
from pyqemu.chardev.base import Chardev
from pyqemu.monitor.qmp import QmpDispatcher, QmpError
from pyqemu.monitor.target import MASK64, MemoryAccessError, MonitorTarget, vcpu_thread_id
from pyqemu.qapi.introspect import schema_info
from pyqemu.qom.composition import QomPathError
from pyqemu.qom.object import QomError
from pyqemu.qom.user_objects import ObjectError

#: block_set_io_throttle argument -> throttle bucket
_THROTTLE_ARGS = {"bps": "bps-total", "bps_rd": "bps-read", "bps_wr": "bps-write",
                  "iops": "iops-total", "iops_rd": "iops-read", "iops_wr": "iops-write"}


#: run states ``cont`` refuses until a system reset (QEMU's runstate_needs_reset)
NEEDS_RESET = frozenset({"internal-error", "shutdown", "guest-panicked"})

class CaptureChardev(Chardev):
    """Collects what an HMP monitor prints (``human-monitor-command``)."""

    def __init__(self) -> None:
        super().__init__("qmp-hmp")
        self.output = bytearray()

    def write(self, data: bytes) -> int:
        self.output += data
        return len(data)


class QmpCommands:
    """The command handlers of one VM, registered on a :class:`QmpDispatcher`."""

    def __init__(self, target: MonitorTarget):
        self.target = target
        self.dispatcher = QmpDispatcher()
        for name in self.dispatcher.schema.commands:
            self.dispatcher.register(name, getattr(self, "cmd_" + name.replace("-", "_")))

    @property
    def machine(self) -> Any:
        return self.target.machine

    # -- control ------------------------------------------------------------------------------------------
    def cmd_qmp_capabilities(self, args: dict[str, Any]) -> None:
        """Handled by the session (negotiation state is per monitor)."""

    def cmd_query_version(self, args: dict[str, Any]) -> dict[str, Any]:
        major, minor, micro = (int(x) for x in QEMU_VERSION.split("."))
        return {"qemu": {"major": major, "minor": minor, "micro": micro}, "package": ""}

    def cmd_query_commands(self, args: dict[str, Any]) -> list[dict[str, str]]:
        return [{"name": name} for name in self.dispatcher.handlers]

    def cmd_query_qmp_schema(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return schema_info(self.dispatcher.schema)

    def cmd_quit(self, args: dict[str, Any]) -> None:
        self.machine.request_shutdown(0, "host-qmp-quit")

    # -- run state ----------------------------------------------------------------------------------------
    def cmd_query_status(self, args: dict[str, Any]) -> dict[str, Any]:
        state = self.machine.runstate
        return {"running": state == "running", "singlestep": False, "status": state}

    def cmd_stop(self, args: dict[str, Any]) -> None:
        self.machine.stop()

    def cmd_cont(self, args: dict[str, Any]) -> None:
        if self.machine.runstate in NEEDS_RESET:
            raise QmpError("Resetting the Virtual Machine is required")
        self.machine.cont()
        for backend in self.target.drives:
            backend.resume()

    def cmd_system_reset(self, args: dict[str, Any]) -> None:
        self.machine.request_reset("host-qmp-system-reset")

    def cmd_system_powerdown(self, args: dict[str, Any]) -> None:
        self.machine.request_powerdown()

    # -- the machine --------------------------------------------------------------------------------------
    def cmd_query_name(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.target.name} if self.target.name is not None else {}

    def cmd_query_uuid(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"UUID": self.target.uuid}

    def _cpu_paths(self) -> list[str]:
        for dev in self.target.tree.devices():
            if dev.type_name == "riscv.hart_array":
                return [f"{dev.qom_path}/harts[{i}]" for i in range(len(self.machine.cpus))]
        return [f"/machine/unattached/device[{i}]" for i in range(len(self.machine.cpus))]

    def cmd_query_cpus_fast(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"cpu-index": i, "qom-path": path, "thread-id": vcpu_thread_id(self.machine.cpus[i]),
                 "props": {"core-id": i, "socket-id": 0, "thread-id": 0}, "target": self.target.cpu_ops.ARCH}
                for i, path in enumerate(self._cpu_paths())]

    def cmd_query_hotpluggable_cpus(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        # newest first, as QEMU lists them; every hart of this board is present from the start
        return [{"type": self.target.cpu_type, "vcpus-count": 1, "qom-path": path,
                 "props": {"core-id": i, "socket-id": 0, "thread-id": 0}}
                for i, path in reversed(list(enumerate(self._cpu_paths())))]

    def cmd_query_machines(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        from pyqemu.cli import system_main

        target = system_main.TARGET
        return [{"name": name, "is-default": i == 0, "cpu-max": target.max_cpus_for(name),
                 "hotpluggable-cpus": False, "numa-mem-supported": True, "deprecated": False,
                 "default-cpu-type": self.target.cpu_type, "default-ram-id": target.ram_id}
                for i, (name, _) in enumerate(target.machines)]

    def cmd_query_cpu_definitions(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        from pyqemu.cli import system_main

        return [{"name": name, "typename": typename, "static": False, "deprecated": False}
                for name, typename in system_main.TARGET.cpu_definitions()]

    def cmd_query_kvm(self, args: dict[str, Any]) -> dict[str, bool]:
        return {"enabled": self.target.kvm, "present": self.target.kvm}

    def cmd_query_memory_devices(self, args: dict[str, Any]) -> list[Any]:
        return []  # the virt board has no pluggable memory (pc-dimm, virtio-mem)

    def cmd_human_monitor_command(self, args: dict[str, Any]) -> str:
        from pyqemu.monitor.hmp import Monitor

        capture = CaptureChardev()
        monitor = Monitor(capture, self.target, qmp=self)
        if "cpu-index" in args:
            self._cpu(args)
            monitor.cpu_index = args["cpu-index"]
        monitor.run_command(args["command-line"])
        return capture.output.decode("utf-8", "replace")

    def _cpu(self, args: dict[str, Any]) -> Any:
        index = args.get("cpu-index", 0)
        if not 0 <= index < len(self.machine.cpus):
            raise QmpError(f"Invalid CPU index {index}" if index < 0 else f"CPU '{index}' not found")
        return self.machine.cpus[index]

    def _save(self, args: dict[str, Any], hart: Any | None) -> None:
        size = args["size"]
        if size < 0:
            raise QmpError("Parameter 'size' expects a non-negative value")
        try:
            self.target.save_memory(args["val"] & MASK64, size, args["filename"], hart)
        except MemoryAccessError as exc:
            raise QmpError(str(exc)) from None

    def cmd_memsave(self, args: dict[str, Any]) -> None:
        self._save(args, self._cpu(args))

    def cmd_pmemsave(self, args: dict[str, Any]) -> None:
        self._save(args, None)

    # -- devices and objects ---------------------------------------------------------------------------
    def cmd_device_add(self, args: dict[str, Any]) -> None:
        opts = {}
        for key, value in args.items():
            if isinstance(value, bool):
                value = "on" if value else "off"
            elif isinstance(value, (int, float)):
                value = str(value)
            elif not isinstance(value, str):
                raise QmpError(f"Invalid parameter type for '{key}', expected: string")
            opts[key] = value
        try:
            self.target.tree.device_add(opts)
        except QomError as exc:
            raise QmpError(str(exc)) from None

    def cmd_device_del(self, args: dict[str, Any]) -> None:
        device = args["id"]
        if self.target.tree.find_device(device) is None:
            raise QmpError(f"Device '{device}' not found", "DeviceNotFound")
        try:
            self.target.tree.device_del(device)
        except QomError as exc:
            raise QmpError(str(exc)) from None

    def cmd_object_add(self, args: dict[str, Any]) -> None:
        props = {k: v for k, v in args.items() if k not in ("qom-type", "id", "props")}
        nested = args.get("props", {})
        if not isinstance(nested, dict):
            raise QmpError("Invalid parameter type for 'props', expected: object")
        props.update(nested)
        try:
            self.target.objects.add(args["qom-type"], args["id"], props)
        except ObjectError as exc:
            raise QmpError(str(exc)) from None

    def cmd_object_del(self, args: dict[str, Any]) -> None:
        try:
            self.target.objects.delete(args["id"])
        except ObjectError as exc:
            raise QmpError(str(exc)) from None

    def _resolve(self, path: str) -> Any:
        try:
            return self.target.qom().resolve(path)
        except QomPathError as exc:
            raise QmpError(str(exc), "DeviceNotFound") from None

    def cmd_qom_list(self, args: dict[str, Any]) -> list[dict[str, str]]:
        return self._resolve(args["path"]).listing()

    def cmd_qom_get(self, args: dict[str, Any]) -> Any:
        node = self._resolve(args["path"])
        try:
            return node.property(args["property"]).get()
        except ObjectError as exc:
            raise QmpError(str(exc)) from None

    def cmd_qom_set(self, args: dict[str, Any]) -> None:
        node = self._resolve(args["path"])
        try:
            prop = node.property(args["property"])
            if prop.set is None:
                raise ObjectError(f"Property '{node.type}.{prop.name}' is not writable")
            prop.set(args["value"])
        except ObjectError as exc:
            raise QmpError(str(exc)) from None

    # -- chardevs -----------------------------------------------------------------------------------------
    def cmd_query_chardev(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for label, chardev in self.target.tree.chardevs.items():
            kind = type(chardev).__name__.removeprefix("Chardev").lower()
            filename = getattr(chardev, "filename", None) or kind
            out.append({"label": label, "filename": filename,
                        "frontend-open": chardev.frontend_open})
        return out

    # -- block devices ------------------------------------------------------------------------------------
    def cmd_query_block(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for backend in self.target.drives:
            info = backend.query()
            qdev = self.target.drive_device(backend)
            if qdev is not None:
                info["qdev"] = qdev
            if "inserted" in info:
                limits = backend.throttle.config if backend.throttle is not None else ThrottleConfig()
                for arg, bucket in _THROTTLE_ARGS.items():
                    info["inserted"][arg] = int(limits.limits[bucket])
                    if limits.bursts[bucket]:
                        info["inserted"][f"{arg}_max"] = int(limits.bursts[bucket])
                if limits.iops_size:
                    info["inserted"]["iops_size"] = limits.iops_size
            out.append(info)
        return out

    def cmd_query_blockstats(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for backend in self.target.drives:
            stats = backend.query_stats()
            qdev = self.target.drive_device(backend)
            if qdev is not None:
                stats["qdev"] = qdev
            out.append(stats)
        return out

    def cmd_block_set_io_throttle(self, args: dict[str, Any]) -> None:
        name = args.get("device", args.get("id"))
        if name is None:
            raise QmpError("Need exactly one of 'device' and 'id'")
        backend = self.target.find_drive(name)
        if backend is None:
            raise QmpError(f"Device '{name}' not found", "DeviceNotFound")
        if not backend.is_inserted():
            raise QmpError(f"Device '{name}' has no medium")
        config = ThrottleConfig()
        for arg, bucket in _THROTTLE_ARGS.items():
            config.limits[bucket] = args[arg]
            config.bursts[bucket] = args.get(f"{arg}_max", 0)
        config.iops_size = args.get("iops_size", 0)
        try:
            config.validate()
        except BlockError as exc:
            raise QmpError(str(exc)) from None
        backend.throttle = ThrottleState(config) if config.enabled() else None

    # -- display ------------------------------------------------------------------------------------------
    def cmd_screendump(self, args: dict[str, Any]) -> None:
        raise QmpError("There is no console to take a screendump from")


def wire_events(target: MonitorTarget) -> None:
    """Send the machine's, the device tree's and the drives' events to the QMP monitors."""

    def broadcast(name: str, data: dict[str, Any] | None = None) -> None:
        for monitor in target.qmp_monitors:
            monitor.event(name, data)

    target.machine.event_listeners.append(broadcast)

    def deleted(dev_id: str | None, path: str) -> None:
        data = {"path": path}
        if dev_id is not None:
            data = {"device": dev_id, "path": path}
        broadcast("DEVICE_DELETED", data)

    target.tree.deleted_listeners.append(deleted)
    for backend in target.drives:
        backend.on_error = lambda b, action, is_read, err: broadcast("BLOCK_IO_ERROR", {
            "device": b.name, "node-name": b.name, "operation": "read" if is_read else "write",
            "action": action, "nospace": err == errno.ENOSPC, "reason": os.strerror(err)})
        backend.on_stop = _stop_for_error(target)


def _stop_for_error(target: MonitorTarget) -> Any:
    """A ``werror/rerror=stop`` failure: pause the VM (``io-error``) and keep the main loop going until
    ``cont`` (or quit), so the monitors can act while the failed request waits to be retried."""

    def on_stop() -> bool:
        machine = target.machine
        machine.stop("io-error")
        machine.wait_while_stopped()
        for backend in target.drives:
            backend.resume()
        return machine.shutdown_code is None

    return on_stop
