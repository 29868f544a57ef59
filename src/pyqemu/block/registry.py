"""Format registry: probing, opening images with their backing chains, creating images.

Mirrors QEMU's bdrv_find_format/bdrv_probe/bdrv_open/bdrv_img_create for the formats pyqemu
implements (raw, qcow2).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from pyqemu.block.driver import BlockDriver
from pyqemu.block.errors import BlockError
from pyqemu.block.file import HostFile
from pyqemu.block.qcow2.driver import Qcow2
from pyqemu.block.raw import Raw

DRIVERS: dict[str, type[BlockDriver]] = {"qcow2": Qcow2, "raw": Raw}
MAX_CHAIN_DEPTH = 64
PROBE_BYTES = 2048


def find_format(name: str) -> type[BlockDriver]:
    """The driver class for a format name; BlockError "Unknown file format" otherwise."""
    try:
        return DRIVERS[name]
    except KeyError:
        raise BlockError(f"Unknown file format '{name}'", errno.EINVAL) from None


def probe_format(path: str) -> str:
    """Guess the format of the image at ``path`` from its first bytes."""
    file = HostFile(path, readonly=True)
    try:
        head = file.pread_short(0, PROBE_BYTES)
    finally:
        file.close()
    best = max(DRIVERS.values(), key=lambda cls: cls.probe(head, path))
    return best.format_name


def backing_path(image: str, backing: str) -> str:
    """Resolve a backing file name relative to the directory of ``image`` (path_combine)."""
    if os.path.isabs(backing) or "/" not in image:
        return backing
    return os.path.join(os.path.dirname(image), backing)


def open_image(path: str, fmt: str | None = None, readonly: bool = False, *, backing: bool = True,
               cache: str = "writeback", check_mode: bool = False,
               _chain: tuple[str, ...] = ()) -> BlockDriver:
    """Open ``path`` (probing the format unless ``fmt``) and, with ``backing``, its backing chain.

    Errors are BlockError with QEMU's "Could not open 'PATH': REASON" wording; a backing chain
    that leads back to one of its own images is refused instead of followed.
    """
    try:
        name = fmt or probe_format(path)
        drv = find_format(name)(path, readonly=readonly, cache=cache, check_mode=check_mode)
    except BlockError as exc:
        raise BlockError(f"Could not open '{path}': {exc}", exc.errno) from None
    if backing and drv.backing_filename:
        chain = (*_chain, os.path.realpath(path))
        target = backing_path(path, drv.backing_filename)
        problem = None
        if os.path.realpath(target) in chain:
            problem = BlockError(f"Backing file '{target}' creates an infinite loop", errno.ELOOP)
        elif len(chain) > MAX_CHAIN_DEPTH:
            problem = BlockError("Backing file chain too deep", errno.ELOOP)
        if problem is not None:
            drv.close()
            raise BlockError(f"Could not open '{path}': {problem}", problem.errno)
        try:
            drv.backing = open_image(target, drv.backing_format, readonly=True, _chain=chain)
        except BlockError as exc:
            drv.close()
            raise BlockError(f"Could not open backing file: {exc}", exc.errno) from None
    return drv


def create_image(path: str, fmt: str, size: int | None, options: dict[str, str],
                 announce: Callable[[int, dict[str, str]], None] | None = None) -> None:
    """Create an image (qemu-img create): size may come from the backing file when omitted.

    A missing ``backing_fmt`` is probed.  ``announce(size, options)`` is called with the final
    values just before the image is written (qemu-img's "Formatting ..." line).
    """
    cls = find_format(fmt)
    known = {opt.name for opt in cls.create_options}
    for name in options:
        if name not in known:
            raise BlockError(f"Invalid parameter '{name}'", errno.EINVAL)
    backing_file = options.get("backing_file")
    if backing_file:
        resolved = backing_path(path, backing_file)
        base = open_image(resolved, options.get("backing_fmt"), readonly=True, backing=False)
        try:
            if "backing_fmt" not in options:
                options = dict(options, backing_fmt=base.format_name)
            if size is None:
                size = base.size
        finally:
            base.close()
    elif "backing_fmt" in options:
        raise BlockError("Backing format cannot be used without backing file", errno.EINVAL)
    if size is None:
        raise BlockError("Image creation needs a size parameter", errno.EINVAL)
    if announce is not None:
        announce(size, options)
    cls.create(path, size, options)
