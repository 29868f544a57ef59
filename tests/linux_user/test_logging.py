"""``pyqemu-riscv64 -d item[,...] [-D file]`` and ``-strace``: what QEMU's logging shows a user.

The reference is Debian's ``qemu-riscv64``; its log formats are compared by shape (headers, one
line per guest instruction with its address, ``PID name(args) = ret`` system call lines), not byte
for byte: pyqemu's host code is Python, and its IR is its own.

The guest is ``tests/guest/cli/probe.c`` (its header lists its modes).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from pyqemu.accel.tcg.backends.x86_64.backend import host_supported as native_unsupported

#: an instruction line of ``-d in_asm``: ``0x<16 hex digits>:  <encoding>  <mnemonic> <operands>``
IN_ASM_LINE = re.compile(r"^0x([0-9a-f]{16}):\s+([0-9a-f]{4}|[0-9a-f]{8})\s+(\S+)")
#: one ``-strace`` line: ``PID name(args) = result``
STRACE_LINE = re.compile(r"^(\d+) (\w+)\((.*)\) = (.*)$")
ENOSYS = 38


@pytest.fixture(scope="module")
def probe(cli_guest) -> Path:
    return cli_guest("probe")


def entry_point(path: Path) -> int:
    with open(path, "rb") as f:
        return struct.unpack_from("<Q", f.read(64), 24)[0]


def run_logged(run_pyqemu, tmp_path: Path, *args, **kw):
    """Run with ``-D <file>`` prepended; returns (process, log text)."""
    log = tmp_path / "qemu.log"
    proc = run_pyqemu("-D", log, *args, **kw)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, log.read_text() if log.exists() else ""


# ----------------------------------------------------------------------------------------------
# -d in_asm, op, op_opt, out_asm, exec, cpu


def test_in_asm(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "in_asm", probe, "exit", "0")
    assert proc.returncode == 0
    lines = log.splitlines()
    assert any(line.startswith("IN:") for line in lines), log[:2000]
    insns = [m for line in lines if (m := IN_ASM_LINE.match(line))]
    assert len(insns) > 100
    # the first translated block is the program's entry point
    first = next(i for i, line in enumerate(lines) if line.startswith("IN:"))
    m = IN_ASM_LINE.match(lines[first + 1])
    assert m and int(m.group(1), 16) == entry_point(probe), lines[first:first + 3]
    mnemonics = {m.group(3) for m in insns}
    assert {"ecall", "auipc"} <= mnemonics, sorted(mnemonics)
    # every block header is followed by its instructions
    for i, line in enumerate(lines):
        if line.startswith("IN:"):
            assert IN_ASM_LINE.match(lines[i + 1]), lines[i:i + 2]


def test_in_asm_names_functions(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    _, log = run_logged(run_pyqemu, tmp_path, "-d", "in_asm", probe, "exit", "0")
    headers = [line for line in log.splitlines() if line.startswith("IN:")]
    assert headers[0] == "IN: _start"
    assert "IN: main" in headers


def test_op_and_op_opt(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "op,op_opt", probe, "exit", "0")
    assert proc.returncode == 0
    lines = log.splitlines()
    ops = [i for i, line in enumerate(lines) if line == "OP:"]
    opts = [i for i, line in enumerate(lines) if line.startswith("OP after optimization")]
    assert ops and len(ops) == len(opts), log[:2000]
    # each guest instruction starts with a " ---- <pc>" marker, the entry point first
    first_marker = next(line for line in lines if line.startswith(" ---- "))
    assert int(first_marker.split()[1], 16) == entry_point(probe)
    # the body of an OP block is indented IR, the block ends with a blank line
    body = lines[ops[0] + 1:lines.index("", ops[0])]
    assert body and all(line.startswith(" ") for line in body), body


def test_op_only(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    _, log = run_logged(run_pyqemu, tmp_path, "-d", "op", probe, "exit", "0")
    assert "OP:\n" in log
    assert "OP after optimization" not in log
    assert "IN:" not in log


def test_out_asm(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    """The generated host code (here: Python source) of the code that got hot enough to compile."""
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "out_asm", probe, "write", "100")
    assert proc.returncode == 0
    assert proc.stdout == "x" * 99 + "\n"
    assert re.search(r"^OUT: ", log, re.M), log[:2000]
    assert "IN:" not in log and "OP:" not in log


@pytest.mark.skipif(native_unsupported() is not None, reason=str(native_unsupported()))
def test_out_asm_of_the_x86_64_backend(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    """With the native backend, out_asm lists the host code (capstone) of each compiled block, marked
    with the guest instruction each part comes from."""
    proc, log = run_logged(run_pyqemu, tmp_path, "-accel", "tcg,backend=x86_64", "-d", "out_asm", probe,
                           "write", "100")
    assert proc.returncode == 0
    assert proc.stdout == "x" * 99 + "\n"
    assert re.search(r"^OUT: ", log, re.M), log[:2000]
    assert re.search(r"^  -- guest pc 0x[0-9a-f]+, host 0x[0-9a-f]+, \d+ bytes$", log, re.M)
    assert re.search(r"^  ;; guest 0x[0-9a-f]+$", log, re.M)
    assert re.search(r"^0x[0-9a-f]{16}:  sub +qword ptr \[r14\], ", log, re.M)  # the budget check


#: a ``-d exec`` line.  qemu-riscv64: ``Trace 0: 0x7f0c64000100 [00000000/00000000000107a0/00207600/00000000]
#: _start`` (cpu index, host code, cs_base/pc/flags/cflags, symbol); pyqemu leaves out all but the pc.
EXEC_LINE = re.compile(r"^Trace (?:\d+: )?0x[0-9a-f]+ "
                       r"\[(?:[0-9a-f]+/)?([0-9a-f]{16})(?:/[0-9a-f]+/[0-9a-f]+)?\]")


def test_exec(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "exec", probe, "exit", "0")
    assert proc.returncode == 0
    traces = [int(m.group(1), 16) for line in log.splitlines() if (m := EXEC_LINE.match(line))]
    assert traces, log[:2000]
    assert traces[0] == entry_point(probe)
    assert len(traces) > len(set(traces))  # executed blocks are logged each time, not once
    assert "IN:" not in log


def test_exec_line_format(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    _, log = run_logged(run_pyqemu, tmp_path, "-d", "exec", probe, "exit", "0")
    first = log.splitlines()[0]
    assert re.fullmatch(rf"Trace 0: 0x[0-9a-f]+ \[[0-9a-f]{{8}}/{entry_point(probe):016x}/[0-9a-f]{{8}}/"
                        r"[0-9a-f]{8}\] _start", first), first


def test_cpu(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    """Registers before each executed TB, in QEMU's riscv layout."""
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "cpu", probe, "exit", "0")
    assert proc.returncode == 0
    pcs = re.findall(r"^ pc\s+([0-9a-f]{16})$", log, re.M)
    assert pcs and int(pcs[0], 16) == entry_point(probe), log[:2000]
    assert len(pcs) > len(set(pcs))
    first = "\n".join(log.splitlines()[:9])  # the first dump: pc, then x0..x31 four to a line
    for reg in ("x0/zero", "x1/ra", "x2/sp", "x10/a0", "x17/a7", "x31/t6"):
        assert re.search(rf" {re.escape(reg)}\s+[0-9a-f]{{16}}", first), (reg, first)
    assert re.search(r"^ x0/zero\s+0{16}", log, re.M)


# ----------------------------------------------------------------------------------------------
# where the log goes


def test_log_goes_to_stderr_by_default(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-d", "in_asm", probe, "args")
    assert proc.returncode == 0
    assert "IN:" in proc.stderr
    assert proc.stdout == f"argc=2\nargv[0]={probe}\nargv[1]=args\n"


def test_log_file(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    """-D sends the log to the file; stderr stays clean, stdout is the guest's."""
    proc, log = run_logged(run_pyqemu, tmp_path, "-d", "in_asm,op", probe, "args")
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert proc.stdout == f"argc=2\nargv[0]={probe}\nargv[1]=args\n"
    assert "IN:" in log and "OP:" in log


def test_log_file_is_replaced(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    (tmp_path / "qemu.log").write_text("OLD CONTENTS\n")
    _, log = run_logged(run_pyqemu, tmp_path, "-d", "in_asm", probe, "exit", "0")
    assert "OLD CONTENTS" not in log and "IN:" in log


def test_log_environment_variables(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    """QEMU_LOG and QEMU_LOG_FILENAME work like -d and -D."""
    log = tmp_path / "env.log"
    proc = run_pyqemu(probe, "exit", "0", env={"QEMU_LOG": "in_asm", "QEMU_LOG_FILENAME": str(log)})
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "IN:" in log.read_text()


def test_log_file_in_missing_directory(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-d", "in_asm", "-D", tmp_path / "no" / "such" / "dir.log", probe, "exit", "0")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "dir.log" in proc.stderr


def test_unknown_log_item(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-d", "in_asm,bogus", probe, "args")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "argc=" not in proc.stdout  # the guest did not run
    listing = proc.stdout + proc.stderr  # qemu-riscv64 prints the list on stdout
    assert "Log items (comma separated):" in listing
    for item in ("in_asm", "op", "out_asm", "unimp", "strace"):
        assert re.search(rf"^{item}\s", listing, re.M), listing


# ----------------------------------------------------------------------------------------------
# -d unimp


def test_unimp_reports_unknown_syscall(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-d", "unimp", probe, "syscall", "4000")
    assert proc.returncode == 0
    assert proc.stdout == f"syscall 4000 returned {-ENOSYS}\n"
    assert "Unsupported syscall: 4000" in proc.stderr.splitlines()


def test_unknown_syscall_is_quiet_without_unimp(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "syscall", "4000")
    assert proc.stdout == f"syscall 4000 returned {-ENOSYS}\n"
    assert proc.stderr == ""


# ----------------------------------------------------------------------------------------------
# -strace


def strace_lines(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := STRACE_LINE.match(line))]


def test_strace_shape(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    missing = tmp_path / "missing-file"
    proc = run_pyqemu("-strace", probe, "open", missing)
    assert proc.returncode == 0
    assert proc.stdout == "open returned -1 errno 2\ndone\n"
    calls = strace_lines(proc.stderr)
    assert calls, proc.stderr
    assert {int(m.group(1)) for m in calls} == {int(calls[0].group(1))}  # one process
    names = [m.group(2) for m in calls]
    assert "brk" in names
    # openat(AT_FDCWD,"<path>",O_RDONLY...) = -1 errno=2 (No such file or directory)
    opens = [m for m in calls if m.group(2) == "openat" and f'"{missing}"' in m.group(3)]
    assert len(opens) == 1, proc.stderr
    assert opens[0].group(4) == "-1 errno=2 (No such file or directory)"
    # write(1,0x...,5) = 5 for the guest's write(1, "done\n", 5)
    writes = [m for m in calls if m.group(2) == "write"]
    assert any(re.fullmatch(r"1,0x[0-9a-f]+,5", m.group(3)) and m.group(4) == "5" for m in writes), writes


def test_strace_does_not_mix_with_stdout(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-strace", probe, "args")
    assert proc.stdout == f"argc=2\nargv[0]={probe}\nargv[1]=args\n"
    assert "write(1," in proc.stderr


def test_strace_environment_variable(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "exit", "0", env={"QEMU_STRACE": "1"})
    assert "exit_group(0)" in proc.stderr


def test_strace_names_flags(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    missing = tmp_path / "missing-file"
    proc = run_pyqemu("-strace", probe, "open", missing)
    line = next(line for line in proc.stderr.splitlines() if f'"{missing}"' in line)
    expected = f'openat(AT_FDCWD,"{missing}",O_RDONLY) = -1 errno=2 (No such file or directory)'
    assert line.split(" ", 1)[1] == expected


def test_strace_large_results_are_decimal(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-strace", probe, "write", "5000")
    assert len(proc.stdout) == 5000
    writes = [m for m in strace_lines(proc.stderr) if m.group(2) == "write"]
    assert writes and writes[-1].group(4) == "5000", proc.stderr


def test_strace_ends_with_a_complete_line(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-strace", probe, "exit", "3")
    assert proc.returncode == 3
    assert re.search(r"^\d+ exit_group\(3\)\n\Z", proc.stderr, re.M), proc.stderr[-200:]


def test_strace_goes_to_the_log_file(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    proc, log = run_logged(run_pyqemu, tmp_path, "-strace", probe, "exit", "0")
    assert proc.stderr == ""
    assert "exit_group(0)" in log


def test_strace_log_item(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-d", "strace", probe, "exit", "0")
    assert "exit_group(0)" in proc.stderr
