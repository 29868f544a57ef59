"""pyqemu-img: the qemu-img disk image utility (create, info, check, convert, snapshot, resize,
commit, rebase, map, compare, measure, amend) with qemu-img's options, messages and exit codes.
"""

from __future__ import annotations

import getopt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from pyqemu import QEMU_VERSION, __version__
from pyqemu.block.compare import compare
from pyqemu.block.copy import commit, convert, rebase
from pyqemu.block.driver import BLOCK_DATA, FIX_ERRORS, FIX_LEAKS, BlockDriver, CheckResult, ImageInfo
from pyqemu.block.errors import BlockError
from pyqemu.block.measure import Measurement, measure_qcow2, measure_raw
from pyqemu.block.options import split_options
from pyqemu.block.registry import backing_path, create_image, find_format, open_image, probe_format
from pyqemu.block.sizes import SIZE_ERROR, parse_size, size_to_str
from pyqemu.block.status import chain_status, map_extents

PROG = "qemu-img"
HELP_HINT = f"Try '{PROG} --help' for more information"

USAGE = f"""\
{PROG} version {QEMU_VERSION} (pyqemu {__version__}), a disk image utility
usage: {PROG} [standard options] command [command options]

Command syntax:
  amend [-q] [-f fmt] [-t cache] -o options filename
  check [-q] [--output=ofmt] [-r [leaks | all]] [-T src_cache] [-f fmt] filename
  commit [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename
  compare [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] filename1 filename2
  convert [-c] [-p] [-q] [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] [-B backing_file]
          [-o options] [-S sparse_size] filename [filename2 [...]] output_filename
  create [-q] [-f fmt] [-b backing_file] [-F backing_fmt] [-u] [-o options] filename [size]
  info [-f fmt] [--output=ofmt] [--backing-chain] filename
  map [-f fmt] [--output=ofmt] [--start-offset=offset] [--max-length=len] filename
  measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] filename]
  snapshot [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename
  rebase [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename
  resize [-q] [-f fmt] [--preallocation=prealloc] [--shrink] filename [+ | -]size

Supported formats: qcow2 raw
"""


class UsageError(Exception):
    """A command line error: printed with the --help hint, exit status 1."""


class Failure(Exception):
    """A reported failure with an explicit exit status."""

    def __init__(self, message: str | None, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def err(message: str) -> None:
    """Print ``qemu-img: message`` (each line prefixed) to stderr."""
    for line in message.split("\n"):
        sys.stderr.write(f"{PROG}: {line}\n")


def parse_args(args: Sequence[str], short: str, long: Sequence[str] = ()) -> tuple[list[tuple[str, str]],
                                                                                    list[str]]:
    """GNU-style option parsing (options may follow operands) with qemu-img's messages."""
    try:
        return getopt.gnu_getopt(list(args), ":" + short if not short.startswith(":") else short,
                                 list(long))
    except getopt.GetoptError as exc:
        opt = exc.opt
        if "requires argument" in exc.msg:
            raise UsageError(f"option requires an argument -- '{opt}'") from None
        name = f"--{opt}" if len(opt) > 1 else f"-{opt}"
        raise UsageError(f"unrecognized option '{name}'") from None


def output_format(value: str) -> str:
    if value not in ("human", "json"):
        raise Failure("--output must be used with human or json as argument.")
    return value


def print_option_help(fmt: str) -> None:
    cls = find_format(fmt)
    print("Supported options:\n")
    for opt in cls.create_options:
        print(f"  {opt.name}=<{opt.kind}>{' ' * max(1, 22 - len(opt.name) - len(opt.kind))}- {opt.help}")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=4)


class Progress:
    """qemu-img -p progress output: "    (NN.NN/100%)" rewritten in place."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = -1.0
        if enabled:
            self(0.0)

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        percent = min(100.0, fraction * 100.0)
        if percent - self.last >= 1.0 or (percent == 100.0 and self.last != 100.0):
            self.last = percent
            sys.stdout.write(f"    ({percent:.2f}/100%)\r")
            sys.stdout.flush()

    def finish(self) -> None:
        if self.enabled:
            self(1.0)
            sys.stdout.write("\n")
            sys.stdout.flush()


# -- create ------------------------------------------------------------------------------------
def formatting_line(filename: str, fmt: str, size: int, options: dict[str, str]) -> str:
    parts = [f"Formatting '{filename}', fmt={fmt}"]
    if fmt == "qcow2":
        parts.append(f"cluster_size={parse_size(options.get('cluster_size', '65536'))}")
        parts.append("extended_l2=off")
        if "preallocation" in options:
            parts.append(f"preallocation={options['preallocation']}")
        parts.append("compression_type=zlib")
    parts.append(f"size={size}")
    for key in ("backing_file", "backing_fmt", "compat"):
        if key in options:
            parts.append(f"{key}={options[key]}")
    if fmt == "qcow2":
        parts.append(f"lazy_refcounts={options.get('lazy_refcounts', 'off')}")
        parts.append(f"refcount_bits={options.get('refcount_bits', '16')}")
    elif "preallocation" in options:
        parts.append(f"preallocation={options['preallocation']}")
    return " ".join(parts)


def cmd_create(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "F:b:f:ho:qu")
    fmt, quiet, specs = "raw", False, []
    backing = backing_fmt = None
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-b":
            backing = val
        elif opt == "-F":
            backing_fmt = val
        elif opt == "-o":
            specs.append(val)
        elif opt == "-q":
            quiet = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if specs and "help" in split_options(specs):
        print_option_help(fmt)
        return 0
    if not rest:
        raise UsageError("Expecting image file name")
    if len(rest) > 2:
        raise UsageError("Unexpected argument: " + rest[2])
    filename = rest[0]
    size: int | None = None
    options = split_options(specs)
    if len(rest) == 2:
        size = parse_size(rest[1])
        if size is None:
            raise Failure(SIZE_ERROR)
    elif "size" in options:
        size = parse_size(options["size"])
        if size is None:
            raise Failure(SIZE_ERROR)
    options.pop("size", None)
    if backing is not None:
        options["backing_file"] = backing
    if backing_fmt is not None:
        options["backing_fmt"] = backing_fmt
    def announce(final_size: int, final_options: dict[str, str]) -> None:
        if not quiet:
            print(formatting_line(filename, fmt, final_size, final_options))

    try:
        create_image(filename, fmt, size, options, announce)
    except BlockError as exc:
        raise Failure(f"{filename}: {exc}") from None
    return 0


# -- info --------------------------------------------------------------------------------------
def info_dict(info: ImageInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if info.snapshots:
        out["snapshots"] = [snapshot_dict(sn) for sn in info.snapshots]
    if info.backing_format:
        out["backing-filename-format"] = info.backing_format
    out["virtual-size"] = info.virtual_size
    out["filename"] = info.filename
    if info.cluster_size is not None:
        out["cluster-size"] = info.cluster_size
    out["format"] = info.format
    out["actual-size"] = info.actual_size
    if info.format_specific is not None:
        out["format-specific"] = {"type": info.format, "data": info.format_specific}
    if info.backing_filename:
        out["full-backing-filename"] = info.full_backing_filename
        out["backing-filename"] = info.backing_filename
    out["dirty-flag"] = info.dirty
    return out


def snapshot_dict(sn: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sn.icount is not None:
        out["icount"] = sn.icount
    out.update({"vm-clock-nsec": sn.vm_clock_nsec % 10**9, "name": sn.name, "date-sec": sn.date_sec,
                "date-nsec": sn.date_nsec, "vm-clock-sec": sn.vm_clock_nsec // 10**9, "id": sn.id,
                "vm-state-size": sn.vm_state_size})
    return out


def snapshot_table_lines(snapshots: list[Any]) -> list[str]:
    lines = ["Snapshot list:",
             f"{'ID':<9} {'TAG':<17} {'VM SIZE':>7}{'DATE':>20}{'VM CLOCK':>13}{'ICOUNT':>11}"]
    for sn in snapshots:
        date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sn.date_sec))
        secs, nsec = divmod(sn.vm_clock_nsec, 10**9)
        clock = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{nsec // 10**6:03d}"
        icount = "" if sn.icount is None else str(sn.icount)
        lines.append(f"{sn.id:<9} {sn.name:<17} {size_to_str(sn.vm_state_size):>7}{date:>20}{clock:>13}"
                     f"{icount:>11}")
    return lines


def info_human(info: ImageInfo) -> str:
    lines = [f"image: {info.filename}", f"file format: {info.format}",
             f"virtual size: {size_to_str(info.virtual_size)} ({info.virtual_size} bytes)",
             f"disk size: {size_to_str(info.actual_size)}"]
    if info.cluster_size is not None:
        lines.append(f"cluster_size: {info.cluster_size}")
    if info.backing_filename:
        line = f"backing file: {info.backing_filename}"
        if info.full_backing_filename != info.backing_filename:
            line += f" (actual path: {info.full_backing_filename})"
        lines.append(line)
        if info.backing_format:
            lines.append(f"backing file format: {info.backing_format}")
    if info.dirty:
        lines.append("cleanly shut down: no")
    if info.snapshots:
        lines.extend(snapshot_table_lines(info.snapshots))
    if info.format_specific:
        lines.append("Format specific information:")
        for key, value in info.format_specific.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"    {key.replace('-', ' ')}: {text}")
    return "\n".join(lines)


def image_info(filename: str, fmt: str | None) -> ImageInfo:
    drv = open_image(filename, fmt, readonly=True, backing=False)
    try:
        info = drv.get_info()
    finally:
        drv.close()
    if info.backing_filename:
        info.full_backing_filename = backing_path(filename, info.backing_filename)
    return info


def cmd_info(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "f:hU", ("output=", "backing-chain", "force-share", "image-opts"))
    fmt, output, chain = None, "human", False
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "--output":
            output = output_format(val)
        elif opt == "--backing-chain":
            chain = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    infos = [image_info(rest[0], fmt)]
    seen = {os.path.realpath(rest[0])}
    while chain and infos[-1].backing_filename:
        path = infos[-1].full_backing_filename or ""
        if os.path.realpath(path) in seen:
            raise Failure(f"Backing file '{path}' creates an infinite loop.")
        seen.add(os.path.realpath(path))
        infos.append(image_info(path, infos[-1].backing_format))
    if output == "json":
        if chain:
            print(dumps([info_dict(i) for i in infos]))
        else:
            print(dumps(info_dict(infos[0])))
    else:
        print("\n\n".join(info_human(i) for i in infos))
    return 0


# -- check -------------------------------------------------------------------------------------
def check_dict(res: CheckResult, filename: str, fmt: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if res.image_end_offset:
        out["image-end-offset"] = res.image_end_offset
    if res.compressed_clusters:
        out["compressed-clusters"] = res.compressed_clusters
    if res.total_clusters:
        out["total-clusters"] = res.total_clusters
    if res.corruptions:
        out["corruptions"] = res.corruptions
    out["check-errors"] = res.check_errors
    if res.leaks:
        out["leaks"] = res.leaks
    if res.leaks_fixed:
        out["leaks-fixed"] = res.leaks_fixed
    if res.corruptions_fixed:
        out["corruptions-fixed"] = res.corruptions_fixed
    if res.allocated_clusters:
        out["allocated-clusters"] = res.allocated_clusters
    out["filename"] = filename
    out["format"] = fmt
    if res.fragmented_clusters:
        out["fragmented-clusters"] = res.fragmented_clusters
    return out


def check_human(res: CheckResult) -> str:
    lines: list[str] = []
    if not (res.corruptions or res.leaks or res.check_errors):
        lines.append("No errors were found on the image.")
    else:
        if res.corruptions:
            lines += ["", f"{res.corruptions} errors were found on the image.",
                      "Data may be corrupted, or further writes to the image may corrupt it."]
        if res.leaks:
            lines += ["", f"{res.leaks} leaked clusters were found on the image.",
                      "This means waste of disk space, but no harm to data."]
        if res.check_errors:
            lines += ["", f"{res.check_errors} internal errors have occurred during the check."]
    if res.total_clusters and res.allocated_clusters:
        alloc = res.allocated_clusters
        lines.append(f"{alloc}/{res.total_clusters} = {alloc * 100.0 / res.total_clusters:.2f}% allocated, "
                     f"{res.fragmented_clusters * 100.0 / alloc:.2f}% fragmented, "
                     f"{res.compressed_clusters * 100.0 / alloc:.2f}% compressed clusters")
    if res.image_end_offset:
        lines.append(f"Image end offset: {res.image_end_offset}")
    return "\n".join(lines)


def cmd_check(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "f:hr:T:qU", ("output=", "repair=", "force-share", "image-opts"))
    fmt, output, fix, quiet = None, "human", 0, False
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "--output":
            output = output_format(val)
        elif opt in ("-r", "--repair"):
            if val == "leaks":
                fix = FIX_LEAKS
            elif val == "all":
                fix = FIX_LEAKS | FIX_ERRORS
            else:
                raise UsageError(f"Unknown option value for -r (expecting 'leaks' or 'all'): {val}")
        elif opt == "-q":
            quiet = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    filename = rest[0]
    drv = open_image(filename, fmt, readonly=not fix, backing=False, check_mode=True)
    try:
        try:
            res = drv.check(fix)
        except BlockError as exc:
            if exc.errno == 95:
                raise Failure(str(exc), 63) from None
            raise Failure(f"Check failed: {exc}") from None
        if res.leaks_fixed or res.corruptions_fixed:
            if output == "human" and not quiet:
                print("The following inconsistencies were found and repaired:\n\n"
                      f"    {res.leaks_fixed} leaked clusters\n    {res.corruptions_fixed} corruptions\n\n"
                      "Double checking the fixed image now...")
            fixed = res
            res = drv.check(0)
            res.leaks_fixed, res.corruptions_fixed = fixed.leaks_fixed, fixed.corruptions_fixed
        fmt_name = drv.format_name
    finally:
        drv.close()
    if output == "json":
        print(dumps(check_dict(res, filename, fmt_name)))
    elif not quiet:
        print(check_human(res))
    if res.check_errors:
        return 1
    if res.corruptions:
        return 2
    if res.leaks:
        return 3
    return 0


# -- convert -----------------------------------------------------------------------------------
def cmd_convert(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "hf:O:B:co:s:l:S:pt:T:qnm:WU", ("force-share", "image-opts",
                                                                  "target-image-opts"))
    fmt, out_fmt, backing, compress, specs = None, "raw", None, False, []
    min_sparse, show_progress, quiet, skip_create, cache = 4096, False, False, False, "unsafe"
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-O":
            out_fmt = val
        elif opt == "-B":
            backing = val
        elif opt == "-c":
            compress = True
        elif opt == "-o":
            specs.append(val)
        elif opt == "-S":
            sparse = parse_size(val)
            if sparse is None or sparse % 512:
                raise Failure("Invalid buffer size for sparse output specified. Valid sizes are multiples of "
                              "512 up to 16777216. Select 0 to disable sparse detection (fully allocates "
                              "output).")
            min_sparse = sparse
        elif opt == "-p":
            show_progress = True
        elif opt == "-q":
            quiet = True
        elif opt == "-n":
            skip_create = True
        elif opt == "-t":
            cache = val
        elif opt == "-h":
            print(USAGE)
            return 0
    options = split_options(specs)
    if "help" in options:
        print_option_help(out_fmt)
        return 0
    if len(rest) < 2:
        raise Failure("Must specify image file name")
    *src_names, out_name = rest
    out_cls = find_format(out_fmt)
    if compress and not out_cls.supports_compression:
        raise Failure("Compression not supported for this file format")
    if backing is not None:
        options["backing_file"] = backing
    sources: list[BlockDriver] = []
    target: BlockDriver | None = None
    try:
        for name in src_names:
            sources.append(open_image(name, fmt, readonly=True))
        total = sum(src.size for src in sources)
        if not skip_create:
            try:
                create_image(out_name, out_fmt, total, options)
            except BlockError as exc:
                raise Failure(f"{out_name}: error while converting {out_fmt}: {exc}") from None
        target = open_image(out_name, out_fmt, cache=cache)
        progress = Progress(show_progress and not quiet)
        convert(sources, target, compress=compress, min_sparse=min_sparse, target_is_new=not skip_create,
                progress=progress)
        progress.finish()
    finally:
        for src in sources:
            src.close()
        if target is not None:
            target.close()
    return 0


# -- snapshot ----------------------------------------------------------------------------------
def cmd_snapshot(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "la:c:d:f:hqU", ("force-share", "image-opts"))
    action: tuple[str, str] | None = None
    fmt = None
    for opt, val in opts:
        if opt in ("-l", "-a", "-c", "-d"):
            if action is not None:
                raise UsageError("Cannot mix '-l', '-a', '-c', '-d'")
            action = (opt, val)
        elif opt == "-f":
            fmt = val
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    op, name = action or ("-l", "")
    drv = open_image(rest[0], fmt, readonly=op == "-l", backing=False)
    try:
        if op == "-l":
            snapshots = drv.snapshot_list()
            if snapshots:
                print("\n".join(snapshot_table_lines(snapshots)))
        elif op == "-c":
            _snapshot_op(drv.snapshot_create, name, "create")
        elif op == "-a":
            _snapshot_op(drv.snapshot_goto, name, "apply")
        else:
            _snapshot_op(drv.snapshot_delete, name, "delete")
    finally:
        drv.close()
    return 0


def _snapshot_op(func: Callable[[str], None], name: str, verb: str) -> None:
    try:
        func(name)
    except BlockError as exc:
        raise Failure(f"Could not {verb} snapshot '{name}': {exc}") from None


# -- resize ------------------------------------------------------------------------------------
def cmd_resize(args: Sequence[str]) -> int:
    if len(args) < 2:
        raise UsageError("Not enough arguments")
    size_arg = args[-1]
    opts, rest = parse_args(args[:-1], "f:hqU", ("shrink", "preallocation=", "force-share", "image-opts"))
    fmt, quiet, shrink, prealloc = None, False, False, "off"
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-q":
            quiet = True
        elif opt == "--shrink":
            shrink = True
        elif opt == "--preallocation":
            prealloc = val
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting image file name and size")
    relative = size_arg[0] if size_arg[:1] in ("+", "-") else ""
    value = parse_size(size_arg[1:] if relative else size_arg)
    if value is None:
        raise Failure("Invalid size specified. You may use k, M, G, T, P or E suffixes for\n"
                      "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.")
    drv = open_image(rest[0], fmt, backing=False)
    try:
        current = drv.size
        new = current + value if relative == "+" else current - value if relative == "-" else value
        if new <= 0:
            raise Failure("New image size must be positive")
        if new < current and not shrink:
            raise Failure("Use the --shrink option to perform a shrink operation.\nwarning: Shrinking an "
                          "image will delete all data beyond the shrunken image's end. Before performing "
                          "such an operation, make sure there is no important data there.")
        try:
            drv.truncate(new, shrink=shrink, prealloc=prealloc)
        except BlockError as exc:
            raise Failure(f"Error resizing image: {exc}") from None
    finally:
        drv.close()
    if not quiet:
        print("Image resized.")
    return 0


# -- commit ------------------------------------------------------------------------------------
def cmd_commit(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "f:ht:b:dpqr:", ("object=", "image-opts"))
    fmt, base_name, drop, show_progress, quiet = None, None, False, False, False
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-b":
            base_name = val
        elif opt == "-d":
            drop = True
        elif opt == "-p":
            show_progress = True
        elif opt == "-q":
            quiet = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    top = open_image(rest[0], fmt, readonly=False)
    base: BlockDriver | None = None
    try:
        if top.backing is None:
            raise Failure("Image does not have a backing file")
        layer = top.backing
        if base_name is not None:
            while layer is not None and layer.filename != base_name:
                layer = layer.backing
            if layer is None:
                raise Failure(f"Did not find '{base_name}' in the backing chain of '{rest[0]}'")
        base = open_image(layer.filename, layer.format_name, readonly=False)
        progress = Progress(show_progress and not quiet)
        commit(top, base, progress)
        progress.finish()
        if not drop and base_name is None:
            top.make_empty()
    finally:
        if base is not None:
            base.close()
        top.close()
    if not quiet:
        print("Image committed.")
    return 0


# -- rebase ------------------------------------------------------------------------------------
def cmd_rebase(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "hf:F:b:upt:T:qUc", ("force-share", "image-opts", "object="))
    fmt, new_fmt, new_name, unsafe, show_progress, quiet = None, None, None, False, False, False
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-F":
            new_fmt = val
        elif opt == "-b":
            new_name = val
        elif opt == "-u":
            unsafe = True
        elif opt == "-p":
            show_progress = True
        elif opt == "-q":
            quiet = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    if new_name is None and not unsafe:
        raise UsageError("Must specify backing file (-b) or use unsafe mode (-u)")
    filename = rest[0]
    drv = open_image(filename, fmt, readonly=False, backing=not unsafe)
    new_backing: BlockDriver | None = None
    try:
        if new_name and new_fmt is None:
            try:
                new_fmt = probe_format(backing_path(filename, new_name))
            except BlockError:
                if not unsafe:
                    raise
        if not unsafe:
            if new_name:
                try:
                    new_backing = open_image(backing_path(filename, new_name), new_fmt, readonly=True)
                except BlockError as exc:
                    raise Failure(f"Could not open new backing file '{new_name}': {exc}") from None
                if any(os.path.realpath(node.filename) == os.path.realpath(filename)
                       for node in new_backing.chain()):
                    raise Failure(f"Backing file '{new_name}' creates an infinite loop.")
            progress = Progress(show_progress and not quiet)
            rebase(drv, new_backing, progress)
            progress.finish()
        drv.change_backing_file(new_name or None, new_fmt if new_name else None)
    finally:
        if new_backing is not None:
            new_backing.close()
        drv.close()
    return 0


# -- map ---------------------------------------------------------------------------------------
def cmd_map(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "f:hU", ("output=", "start-offset=", "max-length=", "force-share",
                                            "image-opts"))
    fmt, output, start, length = None, "human", 0, None
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "--output":
            output = output_format(val)
        elif opt in ("--start-offset", "--max-length"):
            number = parse_size(val)
            if number is None:
                raise Failure(f"Invalid {opt[2:].replace('-', ' ')}: '{val}'")
            if opt == "--start-offset":
                start = number
            else:
                length = number
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    drv = open_image(rest[0], fmt, readonly=True)
    try:
        entries = map_extents(drv, start, length)
    finally:
        drv.close()
    if output == "json":
        lines = []
        for e in entries:
            text = (f'{{ "start": {e.start}, "length": {e.length}, "depth": {e.depth}, '
                    f'"present": {str(e.present).lower()}, "zero": {str(e.zero).lower()}, '
                    f'"data": {str(e.data).lower()}')
            if e.offset is not None:
                text += f', "offset": {e.offset}'
            lines.append(text + "}")
        print("[" + ",\n".join(lines) + "]")
        return 0
    print(f"{'Offset':<16}{'Length':<16}{'Mapped to':<16}File")
    for e in entries:
        if e.compressed:
            raise Failure("File contains external, encrypted or compressed clusters.")
        if e.data and e.offset is not None:
            print(f"{_hex(e.start):<16}{_hex(e.length):<16}{_hex(e.offset):<16}{e.filename}")
    return 0


def _hex(value: int) -> str:
    return f"{value:#x}" if value else "0"


# -- compare -----------------------------------------------------------------------------------
def cmd_compare(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "hf:F:T:pqsU", ("force-share", "image-opts", "object="))
    fmt1 = fmt2 = None
    strict = show_progress = quiet = False
    for opt, val in opts:
        if opt == "-f":
            fmt1 = val
        elif opt == "-F":
            fmt2 = val
        elif opt == "-s":
            strict = True
        elif opt == "-p":
            show_progress = True
        elif opt == "-q":
            quiet = True
        elif opt == "-h":
            print(USAGE)
            return 0
    if len(rest) != 2:
        raise UsageError("Expecting two image file names")
    if fmt2 is None:
        fmt2 = fmt1
    drives: list[BlockDriver] = []
    try:
        try:
            drives.append(open_image(rest[0], fmt1, readonly=True))
            drives.append(open_image(rest[1], fmt2, readonly=True))
        except BlockError as exc:
            raise Failure(str(exc), 2) from None
        progress = Progress(show_progress and not quiet)
        try:
            result = compare(drives[0], drives[1], strict, progress)
        except BlockError as exc:
            raise Failure(str(exc), 2) from None
        progress.finish()
    finally:
        for drv in drives:
            drv.close()
    out: list[str] = []
    if result.strict_reason:
        out.append(f"Strict mode: {result.strict_reason}")
    else:
        if result.size_mismatch:
            out.append("Warning: Image size mismatch!")
        if result.identical:
            out.append("Images are identical.")
        else:
            out.append(f"Content mismatch at offset {result.mismatch_offset}!")
    if not quiet:
        print("\n".join(out))
    return 0 if result.identical else 1


# -- measure -----------------------------------------------------------------------------------
def cmd_measure(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "hf:O:o:l:U", ("size=", "output=", "force-share", "image-opts",
                                                 "object="))
    fmt, out_fmt, size_arg, output, specs = None, "raw", None, "human", []
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-O":
            out_fmt = val
        elif opt == "-o":
            specs.append(val)
        elif opt == "--size":
            size_arg = parse_size(val)
            if size_arg is None:
                raise Failure("Invalid image size specified. Must be between 0 and 9223372036854775807.")
        elif opt == "--output":
            output = output_format(val)
        elif opt == "-h":
            print(USAGE)
            return 0
    if size_arg is not None and rest:
        raise Failure("--size N cannot be used together with a filename.")
    if size_arg is None and len(rest) != 1:
        raise Failure("Either --size N or one filename must be specified.")
    find_format(out_fmt)
    options = split_options(specs)
    cluster_size = parse_size(options.get("cluster_size", "65536")) or 65536
    refcount_bits = int(options.get("refcount_bits", "16"))
    if size_arg is not None:
        virtual, allocated = size_arg, 0
    else:
        drv = open_image(rest[0], fmt, readonly=True)
        try:
            virtual = drv.size
            allocated = _allocated_bytes(drv, cluster_size)
        finally:
            drv.close()
    if out_fmt == "qcow2":
        result: Measurement = measure_qcow2(virtual, allocated, cluster_size, refcount_bits)
    else:
        result = measure_raw(virtual)
    with_bitmaps = out_fmt == "qcow2" and size_arg is None
    if output == "json":
        doc: dict[str, int] = {"required": result.required, "fully-allocated": result.fully_allocated}
        if with_bitmaps:
            doc["bitmaps"] = 0
        print(dumps(doc))
    else:
        print(f"required size: {result.required}\nfully allocated size: {result.fully_allocated}")
        if with_bitmaps:
            print("bitmaps size: 0")
    return 0


def _allocated_bytes(drv: BlockDriver, cluster_size: int) -> int:
    total = 0
    pos = 0
    while pos < drv.size:
        status, _depth, _layer = chain_status(drv, pos, drv.size - pos)
        if status.flags & BLOCK_DATA:
            first = pos // cluster_size
            last = (pos + status.length - 1) // cluster_size
            total += (last - first + 1) * cluster_size
        pos += status.length
    return total


# -- amend -------------------------------------------------------------------------------------
def cmd_amend(args: Sequence[str]) -> int:
    opts, rest = parse_args(args, "ho:f:t:pqU", ("force-share", "image-opts", "object="))
    fmt, specs = None, []
    for opt, val in opts:
        if opt == "-f":
            fmt = val
        elif opt == "-o":
            specs.append(val)
        elif opt == "-h":
            print(USAGE)
            return 0
    if not specs:
        raise UsageError("Must specify options (-o)")
    if len(rest) != 1:
        raise UsageError("Expecting one image file name")
    options = split_options(specs)
    drv = open_image(rest[0], fmt, readonly=False)
    try:
        if "help" in options:
            print_option_help(drv.format_name)
            return 0
        try:
            drv.amend(options)
        except BlockError as exc:
            sys.stderr.write(f"{PROG}: {exc}\n")  # qemu-img prefixes only the first line here
            return 1
    finally:
        drv.close()
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "amend": cmd_amend, "check": cmd_check, "commit": cmd_commit, "compare": cmd_compare,
    "convert": cmd_convert, "create": cmd_create, "info": cmd_info, "map": cmd_map,
    "measure": cmd_measure, "rebase": cmd_rebase, "resize": cmd_resize, "snapshot": cmd_snapshot,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of pyqemu-img; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        err("Not enough arguments")
        sys.stderr.write(HELP_HINT + "\n")
        return 1
    command, rest = args[0], args[1:]
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command in ("-V", "--version"):
        print(f"{PROG} version {QEMU_VERSION} (pyqemu {__version__})")
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        err(f"Command not found: {command}")
        sys.stderr.write(HELP_HINT + "\n")
        return 1
    try:
        return handler(rest)
    except UsageError as exc:
        err(str(exc))
        sys.stderr.write(HELP_HINT + "\n")
        return 1
    except Failure as exc:
        if str(exc):
            err(str(exc))
        return exc.status
    except BlockError as exc:
        err(str(exc))
        return 1
    except OSError as exc:
        err(exc.strerror or str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
