"""``-drive`` options (QEMU 2.1 spelling) and turning them into a BlockBackend (blockdev.c).

Input is the dict of already-split ``key=value`` options.  Supported: file, format, if, id,
index, bus, unit, media, readonly, snapshot (a temporary qcow2 overlay), cache, aio, rerror,
werror, discard, serial, and throttling (``throttling.{bps,iops}-{total,read,write}[-max]``,
``throttling.iops-size`` and the legacy ``bps``/``iops_rd``/... spellings).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from pyqemu.block.aio import AioPool
from pyqemu.block.backend import CACHE_MODES, ERROR_ACTIONS, BlockBackend
from pyqemu.block.errors import BlockError
from pyqemu.block.options import parse_bool
from pyqemu.block.registry import DRIVERS, create_image, open_image
from pyqemu.block.throttle import BUCKETS, ThrottleConfig, ThrottleState

INTERFACES = ("ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "none")
ERROR_POLICY_BUSES = ("ide", "scsi", "virtio", "none")
LEGACY_THROTTLE = {
    "bps": "bps-total", "bps_rd": "bps-read", "bps_wr": "bps-write",
    "iops": "iops-total", "iops_rd": "iops-read", "iops_wr": "iops-write",
}
PLAIN_KEYS = {
    "file", "format", "if", "id", "index", "bus", "unit", "media", "readonly", "snapshot", "cache", "aio",
    "rerror", "werror", "discard", "serial", "copy-on-read", "cyls", "heads", "secs", "trans", "addr", "boot",
    "detect-zeroes",
}


@dataclass
class DriveConfig:
    """A validated ``-drive``."""

    file: str | None = None
    format: str | None = None
    interface: str = "ide"
    id: str | None = None
    index: int | None = None
    bus: int | None = None
    unit: int | None = None
    media: str = "disk"
    readonly: bool = False
    snapshot: bool = False
    cache: str = "writeback"
    aio: str = "threads"
    rerror: str = "report"
    werror: str = "enospc"
    discard: str = "ignore"
    serial: str | None = None
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)


def _number(name: str, value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise BlockError(f"Parameter '{name}' expects a number") from None
    return number


def parse_drive(options: dict[str, str]) -> DriveConfig:
    """Validate ``-drive`` options with QEMU's messages; return the configuration."""
    cfg = DriveConfig()
    for key, value in options.items():
        if key in LEGACY_THROTTLE:
            cfg.throttle.limits[LEGACY_THROTTLE[key]] = _number(key, value)
        elif key.endswith("_max") and key[:-4] in LEGACY_THROTTLE:
            cfg.throttle.bursts[LEGACY_THROTTLE[key[:-4]]] = _number(key, value)
        elif key in ("iops_size", "throttling.iops-size"):
            cfg.throttle.iops_size = _number(key, value)
        elif key.startswith("throttling."):
            name = key[len("throttling."):]
            if name in BUCKETS:
                cfg.throttle.limits[name] = _number(key, value)
            elif name.endswith("-max") and name[:-4] in BUCKETS:
                cfg.throttle.bursts[name[:-4]] = _number(key, value)
            else:
                raise BlockError(f"Invalid parameter '{key}'")
        elif key not in PLAIN_KEYS:
            raise BlockError(f"Invalid parameter '{key}'")
    cfg.file = options.get("file") or None
    cfg.id = options.get("id")
    cfg.serial = options.get("serial")
    fmt = options.get("format")
    if fmt is not None:
        if fmt == "?" or fmt == "help":
            raise BlockError("Supported formats: " + " ".join(sorted(DRIVERS)))
        if fmt not in DRIVERS:
            raise BlockError(f"'{fmt}' invalid format")
        cfg.format = fmt
    cfg.interface = options.get("if", "ide")
    if cfg.interface not in INTERFACES:
        raise BlockError(f"unsupported bus type '{cfg.interface}'")
    for key in ("index", "bus", "unit"):
        if key in options:
            setattr(cfg, key, _number(key, options[key]))
    media = options.get("media", "disk")
    if media not in ("disk", "cdrom"):
        raise BlockError(f"'{media}' invalid media")
    cfg.media = media
    cfg.readonly = parse_bool("readonly", options.get("readonly", "off")) or media == "cdrom"
    cfg.snapshot = parse_bool("snapshot", options.get("snapshot", "off"))
    cfg.cache = options.get("cache", "writeback")
    if cfg.cache not in CACHE_MODES:
        raise BlockError("invalid cache option")
    cfg.aio = options.get("aio", "threads")
    if cfg.aio not in ("threads", "native"):
        raise BlockError("invalid aio option")
    if cfg.aio == "native" and cfg.cache not in ("none", "directsync"):
        raise BlockError("aio=native was specified, but it requires cache.direct=on, which was not "
                         "specified.")
    for key, what in (("rerror", "read"), ("werror", "write")):
        if key in options:
            if cfg.interface not in ERROR_POLICY_BUSES:
                raise BlockError(f"{key} is not supported by this bus type")
            if options[key] not in ERROR_ACTIONS or (key == "rerror" and options[key] == "enospc"):
                raise BlockError(f"'{options[key]}' invalid {what} error action")
            setattr(cfg, key, options[key])
    discard = options.get("discard", "ignore")
    if discard not in ("ignore", "off", "unmap", "on"):
        raise BlockError(f"Invalid discard option '{discard}'")
    cfg.discard = "unmap" if discard in ("unmap", "on") else "ignore"
    cfg.throttle.validate()
    return cfg


def _temporary_overlay(path: str, fmt: str) -> str:
    """Create the qcow2 overlay ``snapshot=on`` writes go to; return its path."""
    handle, overlay = tempfile.mkstemp(prefix="pyqemu-snapshot-", suffix=".qcow2")
    os.close(handle)
    create_image(overlay, "qcow2", None, {"backing_file": os.path.abspath(path), "backing_fmt": fmt})
    return overlay


def open_drive(cfg: DriveConfig, name: str = "", aio: AioPool | None = None) -> BlockBackend:
    """Open the medium of a ``-drive`` and wrap it in a BlockBackend."""
    driver = None
    if cfg.file:
        try:
            driver = open_image(cfg.file, cfg.format, readonly=cfg.readonly or cfg.snapshot, cache=cfg.cache)
            if cfg.snapshot:
                fmt = driver.format_name
                driver.close()
                overlay = _temporary_overlay(cfg.file, fmt)
                try:
                    driver = open_image(overlay, "qcow2", cache="unsafe")
                finally:
                    os.unlink(overlay)
        except BlockError as exc:
            raise BlockError(f"could not open disk image {cfg.file}: {exc}", exc.errno) from None
    throttle = ThrottleState(cfg.throttle) if cfg.throttle.enabled() else None
    backend = BlockBackend(name or cfg.id or "", driver, readonly=cfg.readonly and not cfg.snapshot,
                           removable=cfg.media == "cdrom" or cfg.interface == "floppy",
                           rerror=cfg.rerror, werror=cfg.werror, cache=cfg.cache, discard=cfg.discard,
                           throttle=throttle, aio=aio)
    return backend
