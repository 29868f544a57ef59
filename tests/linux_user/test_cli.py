"""The ``pyqemu-riscv64`` command line, as a user sees it (the reference is Debian's ``qemu-riscv64``).

* Bad programs and bad options end with one clear line on stderr and exit status 1, never with a
  Python traceback.
* ``-h``/``-help``, ``-version``, ``-d help`` and ``-cpu help`` print what they promise.
* Options and ``QEMU_*`` variables reach the guest: ``-L``/``QEMU_LD_PREFIX``, ``-E``/``-U``, ``-0``.
* The guest's end is the process's end: exit status, death by SIGILL/SIGSEGV; stdin is the guest's.

The guest programs are ``tests/guest/cli/probe.c`` (see its header for its modes) and the riscv64
busybox.
"""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
from pathlib import Path

import pytest

PROG = "pyqemu-riscv64"
INTERP = "/lib/ld-linux-riscv64-lp64d.so.1"

# ELF header fields (System V gABI): offsets into a 64-bit header
EI_CLASS, EI_DATA, E_TYPE, E_MACHINE = 4, 5, 16, 18
EM_AARCH64 = 183


def assert_one_line_error(proc, *words: str) -> None:
    """Exit status 1, nothing on stdout, one line on stderr naming ``words``, no traceback."""
    err = proc.stderr
    assert "Traceback" not in err, err
    assert proc.returncode == 1, f"exit status {proc.returncode}\nstderr:\n{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got:\n{err}"
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    assert proc.stdout == ""


@pytest.fixture(scope="module")
def probe(cli_guest) -> Path:
    return cli_guest("probe")


def _patched(src: Path, dst: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(src.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    dst.write_bytes(bytes(data))
    dst.chmod(0o755)
    return dst


# ----------------------------------------------------------------------------------------------
# Programs that cannot be run


def _text_file(tmp: Path, probe: Path) -> Path:
    path = tmp / "script.txt"
    path.write_text("echo this is not an ELF file\n")
    path.chmod(0o755)
    return path


def _empty_file(tmp: Path, probe: Path) -> Path:
    path = tmp / "empty"
    path.write_bytes(b"")
    path.chmod(0o755)
    return path


def _truncated_elf(tmp: Path, probe: Path) -> Path:
    path = tmp / "truncated"
    path.write_bytes(probe.read_bytes()[:100])
    path.chmod(0o755)
    return path


def _truncated_segments(tmp: Path, probe: Path) -> Path:
    """Headers intact, but the file ends inside the first segment."""
    path = tmp / "truncated_segments"
    path.write_bytes(probe.read_bytes()[:5000])
    path.chmod(0o755)
    return path


def _x86_64_elf(tmp: Path, probe: Path) -> Path:
    for cand in ("/bin/true", "/usr/bin/true"):
        if os.path.exists(cand):
            with open(cand, "rb") as f:
                head = f.read(20)
            if head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, E_MACHINE)[0] == 62:
                return Path(cand)
    pytest.skip("no x86-64 ELF /bin/true on this host")


def _arm64_elf(tmp: Path, probe: Path) -> Path:
    return _patched(probe, tmp / "arm64", E_MACHINE, "<H", EM_AARCH64)


def _riscv32_elf(tmp: Path, probe: Path) -> Path:
    return _patched(probe, tmp / "riscv32", EI_CLASS, "B", 1)  # ELFCLASS32


def _big_endian_elf(tmp: Path, probe: Path) -> Path:
    return _patched(probe, tmp / "big_endian", EI_DATA, "B", 2)  # ELFDATA2MSB


def _relocatable_elf(tmp: Path, probe: Path) -> Path:
    return _patched(probe, tmp / "object.o", E_TYPE, "<H", 1)  # ET_REL


def _missing_file(tmp: Path, probe: Path) -> Path:
    return tmp / "does-not-exist"


def _directory(tmp: Path, probe: Path) -> Path:
    path = tmp / "a-directory"
    path.mkdir()
    return path


BAD_PROGRAMS = {
    "text-file": (_text_file, ""),
    "empty-file": (_empty_file, ""),
    "truncated-elf-header": (_truncated_elf, ""),
    "truncated-elf-segments": (_truncated_segments, ""),
    "x86_64-elf": (_x86_64_elf, ""),
    "arm64-elf": (_arm64_elf, ""),
    "riscv32-elf": (_riscv32_elf, ""),
    "big-endian-elf": (_big_endian_elf, ""),
    "relocatable-elf": (_relocatable_elf, ""),
    "missing-file": (_missing_file, "No such file or directory"),
    "directory": (_directory, ""),
}


@pytest.mark.parametrize("case", sorted(BAD_PROGRAMS))
def test_program_that_cannot_be_loaded(case: str, probe: Path, tmp_path: Path, run_pyqemu) -> None:
    make, reason = BAD_PROGRAMS[case]
    program = make(tmp_path, probe)
    proc = run_pyqemu(program, "args")
    assert_one_line_error(proc, PROG, str(program), reason)


def test_program_without_read_permission(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    program = tmp_path / "unreadable"
    program.write_bytes(probe.read_bytes())
    program.chmod(0o111)
    if os.access(program, os.R_OK):
        pytest.skip("running as root: the file is readable anyway")
    proc = run_pyqemu(program, "args")
    assert_one_line_error(proc, PROG, str(program), "Permission denied")


def test_program_without_execute_permission(probe: Path, tmp_path: Path, run_pyqemu) -> None:
    program = tmp_path / "not-executable"
    program.write_bytes(probe.read_bytes())
    program.chmod(0o644)
    proc = run_pyqemu(program, "exit", "7")
    assert_one_line_error(proc, PROG, str(program), "Permission denied")


def test_dynamic_program_without_its_interpreter(cli_guest_dynamic, run_pyqemu) -> None:
    """No -L: the riscv64 dynamic linker is not on the host, so the program cannot start."""
    if os.path.exists(INTERP):
        pytest.skip(f"this host has {INTERP}")
    program = cli_guest_dynamic("probe")
    proc = run_pyqemu(program, "args")
    assert_one_line_error(proc, PROG, INTERP)


def test_dynamic_program_with_a_wrong_prefix(cli_guest_dynamic, tmp_path: Path, run_pyqemu) -> None:
    if os.path.exists(INTERP):
        pytest.skip(f"this host has {INTERP}")
    proc = run_pyqemu("-L", tmp_path, cli_guest_dynamic("probe"), "args")
    assert_one_line_error(proc, PROG, INTERP)


# ----------------------------------------------------------------------------------------------
# Bad options


def test_unknown_option(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-bogus", probe, "args")
    assert_one_line_error(proc, "'bogus'")


@pytest.mark.parametrize("option", ["-L", "-d", "-D", "-cpu", "-E", "-U", "-0", "-s"])
def test_option_missing_its_argument(option: str, run_pyqemu) -> None:
    proc = run_pyqemu(option)
    assert_one_line_error(proc, f"'{option.lstrip('-')}'")


@pytest.mark.parametrize("value,message", [
    ("kvm", "invalid accelerator kvm"),
    ("tcg,backend=foo",
     "-accel tcg,backend=foo: Parameter 'backend' does not accept value 'foo' (python, x86_64)"),
    ("tcg,bar=1", "-accel tcg,bar=1: Property 'tcg-accel.bar' not found"),
    ("tcg,tb-size=big", "-accel tcg,tb-size=big: Parameter 'tb-size' expects uint32_t"),
])
def test_bad_accelerator(value: str, message: str, probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-accel", value, probe, "args")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"pyqemu-riscv64: {message}"]


@pytest.mark.parametrize("accel", ["tcg,backend=python", "tcg,backend=x86_64",
                                   "tcg,backend=x86_64,tb-size=1"])
def test_accel_selects_the_backend(accel: str, probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-accel", accel, probe, "exit", "7")
    assert proc.returncode == 7, proc.stderr


def test_unknown_cpu_model(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-cpu", "pentium", probe, "args")
    assert_one_line_error(proc, "'pentium'")


def test_no_program(run_pyqemu) -> None:
    proc = run_pyqemu()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "program" in proc.stderr
    assert proc.stdout == ""


def test_bad_stack_size(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-s", "lots", probe, "args")
    assert proc.returncode == 1
    assert "argc=" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_set_env_without_value(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-E", "NOVALUE", probe, "env", "NOVALUE")
    assert proc.returncode == 1
    assert "NOVALUE" not in proc.stdout
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------------------
# Help and information


@pytest.mark.parametrize("option", ["-h", "-help"])
def test_help(option: str, run_pyqemu) -> None:
    proc = run_pyqemu(option)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"usage: {PROG} [options] program [arguments...]"
    for opt in ("-L path", "-cpu model", "-E var=value", "-U var", "-0 argv0", "-d item", "-D logfile",
                "-strace", "-version"):
        assert any(line.startswith(opt) for line in lines), f"{opt} not in usage:\n{proc.stdout}"
    assert proc.stderr == ""


def test_help_ignores_the_program(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-h", probe, "exit", "9")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage:")


def test_version(run_pyqemu) -> None:
    proc = run_pyqemu("-version")
    assert proc.returncode == 0, proc.stderr
    assert re.match(rf"{PROG} version \d+\.\d+\.\d+", proc.stdout), proc.stdout
    assert proc.stderr == ""


def test_log_item_help(run_pyqemu) -> None:
    proc = run_pyqemu("-d", "help")
    # qemu-riscv64 7.2 exits with status 1 after "-d help"; either is fine for a user
    assert proc.returncode in (0, 1)
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Log items (comma separated):"
    items = {line.split()[0] for line in lines[1:] if line.strip()}
    assert {"in_asm", "op", "op_opt", "out_asm", "exec", "unimp", "strace"} <= items


def test_cpu_help(run_pyqemu) -> None:
    proc = run_pyqemu("-cpu", "help")
    assert proc.returncode in (0, 1)  # qemu-riscv64 7.2 exits with 1 here
    assert "Traceback" not in proc.stderr
    assert "rv64" in proc.stdout.split()


@pytest.mark.parametrize("model", ["rv64", "max", "any"])
def test_cpu_model_accepted(model: str, probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-cpu", model, probe, "exit", "0")
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------------------------------
# What reaches the guest


def test_prefix_option_for_dynamic_program(cli_guest_dynamic, riscv64_sysroot: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-L", riscv64_sysroot, cli_guest_dynamic("probe"), "args", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2:] == ["argv[1]=args", "argv[2]=x"]


def test_ld_prefix_environment_variable(cli_guest_dynamic, riscv64_sysroot: Path, run_pyqemu) -> None:
    """QEMU_LD_PREFIX works like -L."""
    proc = run_pyqemu(cli_guest_dynamic("probe"), "exit", "42", env={"QEMU_LD_PREFIX": str(riscv64_sysroot)})
    assert proc.returncode == 42, proc.stderr


def test_set_and_unset_environment(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-E", "NEWVAR=new value", "-E", "KEPT=changed", "-U", "GONE",
                      probe, "env", "NEWVAR", "KEPT", "GONE", "OTHER",
                      env={"KEPT": "original", "GONE": "here", "OTHER": "untouched"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["NEWVAR=new value", "KEPT=changed", "GONE is unset",
                                        "OTHER=untouched"]


def test_guest_environment_is_inherited(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "env", "PYQEMU_TEST_VAR", env={"PYQEMU_TEST_VAR": "a=b c"})
    assert proc.stdout == "PYQEMU_TEST_VAR=a=b c\n"


def test_set_and_unset_several_variables_at_once(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-E", "A=1,B=2", "-U", "C,D", probe, "env", "A", "B", "C", "D",
                      env={"C": "c", "D": "d"})
    assert proc.stdout.splitlines() == ["A=1", "B=2", "C is unset", "D is unset"]


def test_set_env_environment_variables(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "env", "A", "B", "C",
                      env={"QEMU_SET_ENV": "A=1,B=2", "QEMU_UNSET_ENV": "C", "C": "c"})
    assert proc.stdout.splitlines() == ["A=1", "B=2", "C is unset"]


def test_argv0(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu("-0", "my-name", probe, "args", "one")
    assert proc.stdout.splitlines() == ["argc=3", "argv[0]=my-name", "argv[1]=args", "argv[2]=one"]


def test_argv0_environment_variable(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "args", env={"QEMU_ARGV0": "from-env"})
    assert proc.stdout.splitlines()[1] == "argv[0]=from-env"


def test_default_argv0_is_the_program_path(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "args", "", "two words")
    assert proc.stdout.splitlines() == ["argc=4", f"argv[0]={probe}", "argv[1]=args", "argv[2]=",
                                        "argv[3]=two words"]


def test_options_after_the_program_belong_to_the_guest(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "args", "-d", "in_asm", "-strace")
    assert proc.stdout.splitlines()[3:] == ["argv[2]=-d", "argv[3]=in_asm", "argv[4]=-strace"]
    assert proc.stderr == ""


@pytest.mark.parametrize("status", [0, 1, 42, 255, 256 + 7])
def test_exit_status(status: int, probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "exit", str(status))
    assert proc.returncode == status % 256
    assert proc.stderr == ""


def test_illegal_instruction_kills_with_sigill(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "illegal")
    assert proc.returncode == -4, proc.stderr
    assert proc.stdout == "executing an illegal instruction\n"
    assert "uncaught target signal 4 (Illegal instruction)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_store_to_non_canonical_address_kills_with_sigsegv(probe: Path, run_pyqemu) -> None:
    proc = run_pyqemu(probe, "store", "7ff0000000000000")
    assert proc.returncode == -11, proc.stderr
    assert proc.stdout == "storing\n"
    assert "uncaught target signal 11 (Segmentation fault)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_store_to_unmapped_address_kills_with_sigsegv(probe: Path, run_pyqemu) -> None:
    """An address inside the guest's address space where nothing is mapped (below the stack)."""
    proc = run_pyqemu(probe, "store", "3ff0000000")
    assert proc.returncode == -11, proc.stderr
    assert proc.stdout == "storing\n"
    assert "uncaught target signal 11 (Segmentation fault)" in proc.stderr


def test_guest_killing_itself(riscv64_busybox: Path, run_pyqemu) -> None:
    proc = run_pyqemu(riscv64_busybox, "sh", "-c", "echo before; kill -TERM $$; echo after")
    assert proc.returncode == -signal.SIGTERM
    assert proc.stdout == "before\n"


def _start_and_signal(cmd: list[str], env: dict[str, str], sig: int) -> tuple[int, str]:
    """Start a guest that prints "ready" when it is ready, send it ``sig``; (status, rest of stdout)."""
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=env) as p:
        try:
            assert p.stdout.readline() == "ready\n"
            p.send_signal(sig)
            rest = p.stdout.read()
            return p.wait(timeout=60), rest
        finally:
            if p.poll() is None:
                p.kill()


def test_host_signal_reaches_the_guest(pyqemu_cmd, riscv64_busybox: Path, guest_env) -> None:
    """A signal sent to pyqemu is the guest's: default action (death) ..."""
    cmd = [*pyqemu_cmd, str(riscv64_busybox), "sh", "-c", "echo ready; exec sleep 60"]
    status, _ = _start_and_signal(cmd, guest_env, signal.SIGTERM)
    assert status == -signal.SIGTERM


def test_host_signal_runs_the_guest_handler(pyqemu_cmd, riscv64_busybox: Path, guest_env) -> None:
    """... or the guest's handler (a shell trap)."""
    script = "trap 'kill $!; echo caught TERM; exit 3' TERM; sleep 60 & echo ready; wait"
    cmd = [*pyqemu_cmd, str(riscv64_busybox), "sh", "-c", script]
    status, rest = _start_and_signal(cmd, guest_env, signal.SIGTERM)
    assert (status, rest) == (3, "caught TERM\n")


def test_stdin_is_the_guests(riscv64_busybox: Path, run_pyqemu) -> None:
    text = "first line\nsecond line\n" + "x" * 10000 + "\n"
    proc = run_pyqemu(riscv64_busybox, "cat", input=text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == text


def test_stdin_through_a_guest_pipeline(riscv64_busybox: Path, run_pyqemu) -> None:
    proc = run_pyqemu(riscv64_busybox, "sh", "-c", "cat - | tr a-z A-Z; wc -l", input="abc\ndef\n")
    assert proc.stdout == "ABC\nDEF\n0\n"
