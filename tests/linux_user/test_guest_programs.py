"""End-to-end tests: real riscv64 Linux programs (tests/guest/) under an emulator.

Every entry of ``PROGRAMS`` is cross-compiled (see tests/guestbuild.py) and run

* under pyqemu's linux-user emulator, ``python -m pyqemu.linux_user [-L sysroot] prog args``
  (``test_pyqemu``); an entry with a ``pyqemu_gap`` is an expected failure (strict: it must fail,
  so a fixed gap shows up);
* under the reference ``qemu-riscv64`` (``test_qemu_reference``), to show that the expected
  files are right.

Both runs must print exactly ``tests/guest/<expected>.expected`` on stdout and end with the
expected status (a negative status means "killed by that signal"; an emulator that reports it
shell-style as 128 + signal is accepted too).

Extra emulator arguments for debugging pyqemu runs (e.g. ``-strace`` or ``-d in_asm -D log``)
can be given in the environment variable ``PYQEMU_GUEST_ARGS``.

To (re)generate expected files from qemu-riscv64 (each program is run twice and must agree)::

    python tests/linux_user/test_guest_programs.py --regen [name ...]
"""

from __future__ import annotations

import difflib
import functools
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
GUEST_DIR = TESTS_DIR / "guest"


if str(TESTS_DIR) not in sys.path:  # also run as a script (--regen)
    sys.path.insert(0, str(TESTS_DIR))
import guestbuild  # noqa: E402


@dataclass(frozen=True)
class GuestProgram:
    name: str  # tests/guest/<name>.c or <name>.S
    args: tuple[str, ...] = ()  # "{tmp}" is replaced by a fresh empty directory
    expected_exit: int = 0  # negative: must die of that signal
    static: bool = True  # False: dynamically linked, run with -L <sysroot>
    pyqemu_gap: str = ""  # a known pyqemu limitation that makes this program fail (expected failure)
    slow: bool = False
    expected: str = ""  # stem of the .expected file when it differs from name
    needs_guest_exec: bool = False  # the guest execve()s riscv64 binaries

    @property
    def expected_path(self) -> Path:
        return GUEST_DIR / f"{self.expected or self.name}.expected"

    @property
    def source(self) -> Path:
        for suffix in (".c", ".S"):
            path = GUEST_DIR / f"{self.name}{suffix}"
            if path.exists():
                return path
        raise FileNotFoundError(f"no source for guest program {self.name!r} in {GUEST_DIR}")

    @property
    def id(self) -> str:
        return f"{self.expected or self.name}-{'static' if self.static else 'dynamic'}"


PROGRAMS: list[GuestProgram] = [
    GuestProgram("asm_hello"),
    GuestProgram("asm_compressed"),
    GuestProgram("hello", expected_exit=3),
    GuestProgram("hello", expected_exit=3, static=False),
    GuestProgram("args_env", args=("alpha", "beta gamma", "")),
    GuestProgram("int_ops"),
    GuestProgram("float_ops"),
    GuestProgram("float_ops", static=False),
    GuestProgram("atomics"),
    GuestProgram("memory"),
    GuestProgram("files", args=("{tmp}",)),
    GuestProgram("files", args=("{tmp}",), static=False),
    GuestProgram("time"),
    GuestProgram("process_ids"),
    GuestProgram("signals"),
    GuestProgram("threads"),
    GuestProgram("threads", static=False),
    GuestProgram("fork_wait"),
    GuestProgram("sockets"),
    GuestProgram("exec", needs_guest_exec=True),
    GuestProgram("selfmod"),
    GuestProgram("fatal_signal", expected_exit=-6),
    GuestProgram("illegal_insn_unhandled", expected_exit=-4),
    GuestProgram("compute", args=("1",)),
    GuestProgram("compute", args=("30",), expected="compute_30", slow=True),
]

#: Environment variables every guest sees (args_env checks PYQEMU_GUEST_VAR).
GUEST_ENV = {"PYQEMU_GUEST_VAR": "hello-env", "LC_ALL": "C"}
QEMU_TIMEOUT = 60
PYQEMU_TIMEOUT = 120  # the slowest program needs a few seconds; a hang must not eat the CI budget

if not guestbuild.have_cross_compiler():
    pytest.skip(
        f"{guestbuild.CROSS_CC} with a riscv64 libc is not installed "
        "(apt install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)",
        allow_module_level=True,
    )


def _params(runner: str) -> list:
    params = []
    for prog in PROGRAMS:
        marks = [pytest.mark.slow] if prog.slow else []
        if runner == "pyqemu" and prog.pyqemu_gap:
            marks.append(pytest.mark.xfail(reason=prog.pyqemu_gap, strict=True))
        params.append(pytest.param(prog, marks=marks, id=prog.id))
    return params


# ----------------------------------------------------------------------------------------------
# Running programs


@functools.cache
def guest_binary(source: Path, static: bool) -> Path:
    return guestbuild.build(source, static=static)


def _guest_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # QEMU_* variables (QEMU_LD_PREFIX, QEMU_STRACE, ...) would change qemu-riscv64's behaviour.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_")}
    env.update(GUEST_ENV)
    env.update(extra or {})
    return env


def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass
class Runner:
    name: str
    command: list[str]  # emulator command line, before [-L sysroot] prog args
    env: dict[str, str]
    timeout: float
    wrapper: list[str] | None = None  # e.g. a binfmt_misc sandbox, prepended when needed

    def run(self, prog: GuestProgram, workdir: Path) -> subprocess.CompletedProcess[bytes]:
        binary = guest_binary(prog.source, prog.static)
        sysroot = [] if prog.static else ["-L", str(guestbuild.SYSROOT)]
        scratch = workdir / "scratch"
        args = []
        for a in prog.args:
            if "{tmp}" in a:
                scratch.mkdir(exist_ok=True)
                a = a.replace("{tmp}", str(scratch))
            args.append(a)
        cmd = [*self.command, *sysroot, str(binary), *args]
        if prog.needs_guest_exec and self.wrapper:
            cmd = [*self.wrapper, *cmd]
        return subprocess.run(
            cmd,
            cwd=workdir,
            env={**self.env, "TMPDIR": str(workdir)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=self.timeout,
            preexec_fn=_no_core_dumps,
        )


def _status_ok(returncode: int, expected: int) -> bool:
    if returncode == expected:
        return True
    return expected < 0 and returncode == 128 - expected


def check_run(runner: Runner, prog: GuestProgram, workdir: Path) -> None:
    expected = prog.expected_path.read_bytes()
    proc = runner.run(prog, workdir)
    stderr = proc.stderr.decode(errors="replace")
    if proc.stdout != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.decode(errors="replace").splitlines(keepends=True),
                proc.stdout.decode(errors="replace").splitlines(keepends=True),
                fromfile=str(prog.expected_path.relative_to(REPO_ROOT)),
                tofile=f"{runner.name} stdout",
            )
        )
        pytest.fail(
            f"{prog.id}: stdout differs under {runner.name} (exit status {proc.returncode})\n"
            f"{diff}\nstderr:\n{stderr[-4000:]}",
            pytrace=False,
        )
    assert _status_ok(proc.returncode, prog.expected_exit), (
        f"{prog.id}: exit status {proc.returncode} under {runner.name}, expected {prog.expected_exit}\n"
        f"stderr:\n{stderr[-4000:]}"
    )


# ----------------------------------------------------------------------------------------------
# qemu-riscv64 and guest execve()

QEMU_RISCV64 = shutil.which("qemu-riscv64") or "/usr/bin/qemu-riscv64"
_RISCV64_ELF_MAGIC = "7f454c460201010000000000000000000200f300"
_BINFMT_REGISTER = (
    r":pyqemu-test-riscv64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00"
    r":\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:{interp}:"
)


def _host_binfmt_has_riscv64() -> bool:
    root = Path("/proc/sys/fs/binfmt_misc")
    try:
        entries = [p for p in root.iterdir() if p.name not in ("register", "status")]
        return any(
            "enabled" in (text := p.read_text()) and _RISCV64_ELF_MAGIC in text.replace(" ", "")
            for p in entries
        )
    except OSError:
        return False


@functools.cache
def binfmt_sandbox(interpreter: str) -> list[str] | None:
    """A command prefix that runs a command with riscv64 ELF binaries handled by ``interpreter``.

    qemu-riscv64 implements a guest execve() of a riscv64 binary by asking the host kernel to
    run it, which only works with a binfmt_misc handler.  When the host has none, use a private
    binfmt_misc instance in a new user + mount namespace (Linux >= 6.7); nothing changes
    outside the sandbox.  Returns None if that is impossible.
    """
    if _host_binfmt_has_riscv64():
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    script = (
        "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && "
        f"printf '%s' '{_BINFMT_REGISTER.format(interp=interpreter)}' > /proc/sys/fs/binfmt_misc/register && "
        'exec "$@"'
    )
    prefix = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "binfmt-sandbox"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if probe.returncode == 0 else None


# ----------------------------------------------------------------------------------------------
# Fixtures and tests


@pytest.fixture(scope="session")
def pyqemu_runner() -> Runner:
    src = str(REPO_ROOT / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    extra = shlex.split(os.environ.get("PYQEMU_GUEST_ARGS", ""))
    return Runner(
        name="pyqemu",
        command=[sys.executable, "-m", "pyqemu.linux_user", *extra],
        env=_guest_env({"PYTHONPATH": pythonpath}),
        timeout=PYQEMU_TIMEOUT,
    )


@pytest.fixture(scope="session")
def qemu_runner() -> Runner:
    if not os.access(QEMU_RISCV64, os.X_OK):
        pytest.skip(
            "qemu-riscv64 is not installed (apt install qemu-user); it only validates the .expected files"
        )
    return Runner(name="qemu-riscv64", command=[QEMU_RISCV64], env=_guest_env(), timeout=QEMU_TIMEOUT)


@pytest.mark.parametrize("prog", _params("pyqemu"))
def test_pyqemu(prog: GuestProgram, pyqemu_runner: Runner, tmp_path: Path) -> None:
    # pyqemu must implement guest execve() itself (no binfmt_misc help), so no wrapper here.
    check_run(pyqemu_runner, prog, tmp_path)


@pytest.mark.parametrize("prog", _params("qemu"))
def test_qemu_reference(prog: GuestProgram, qemu_runner: Runner, tmp_path: Path) -> None:
    runner = qemu_runner
    if prog.needs_guest_exec:
        wrapper = binfmt_sandbox(runner.command[0])
        if wrapper is None:
            pytest.skip(
                "qemu-riscv64 needs a binfmt_misc handler for riscv64 ELF files to execve() guest "
                "binaries; the host has none and no private one could be set up (needs unshare and "
                "Linux >= 6.7 user-namespaced binfmt_misc)"
            )
        runner = Runner(runner.name, runner.command, runner.env, runner.timeout, wrapper=wrapper)
    check_run(runner, prog, tmp_path)


def test_program_list_is_complete() -> None:
    """Every guest source has a PROGRAMS entry, and every entry has its source and expected file."""
    sources = {p.stem for p in GUEST_DIR.iterdir() if p.suffix in (".c", ".S")}
    listed = {p.name for p in PROGRAMS}
    assert sources - listed == set(), "guest programs missing from PROGRAMS"
    for prog in PROGRAMS:
        assert prog.source.exists()
        assert prog.expected_path.exists(), f"missing {prog.expected_path.name}"
    ids = [p.id for p in PROGRAMS]
    assert len(ids) == len(set(ids)), "duplicate PROGRAMS entries"
    used = {p.expected_path.name for p in PROGRAMS}
    stray = {p.name for p in GUEST_DIR.glob("*.expected")} - used
    assert stray == set(), "unused .expected files"


def test_source_build_flags() -> None:
    assert guestbuild.source_flags(GUEST_DIR / "threads.c") == ["-pthread"]
    assert guestbuild.source_flags(GUEST_DIR / "asm_hello.S") == ["-nostdlib", "-static"]
    assert "-march=rv64gc_zba_zbb_zbs" in guestbuild.source_flags(GUEST_DIR / "int_ops.c")


# ----------------------------------------------------------------------------------------------
# Regenerating expected files


def _regen(names: list[str]) -> int:
    runner = Runner(name="qemu-riscv64", command=[QEMU_RISCV64], env=_guest_env(), timeout=QEMU_TIMEOUT)
    status = 0
    outputs: dict[str, bytes] = {}
    for prog in PROGRAMS:
        if names and prog.name not in names and prog.expected not in names:
            continue
        wrapper = binfmt_sandbox(QEMU_RISCV64) if prog.needs_guest_exec else None
        if prog.needs_guest_exec and wrapper is None:
            print(f"{prog.id}: skipped (no binfmt_misc for guest execve)")
            continue
        run_with = Runner(runner.name, runner.command, runner.env, runner.timeout, wrapper=wrapper)
        results = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run_with.run(prog, Path(tmp)))
        a, b = results
        if a.stdout != b.stdout or a.returncode != b.returncode:
            print(f"{prog.id}: NOT deterministic, expected file left alone")
            status = 1
            continue
        if not _status_ok(a.returncode, prog.expected_exit):
            print(f"{prog.id}: exit status {a.returncode}, expected {prog.expected_exit}")
            print(a.stderr.decode(errors="replace"))
            status = 1
            continue
        key = prog.expected_path.name
        if key in outputs:
            if outputs[key] != a.stdout:
                print(f"{prog.id}: output differs from the other build of {key}")
                status = 1
            continue
        outputs[key] = a.stdout
        prog.expected_path.write_bytes(a.stdout)
        print(f"{prog.id}: wrote {prog.expected_path.name} ({len(a.stdout.splitlines())} lines)")
    return status


if __name__ == "__main__":
    argv = sys.argv[1:]
    if not argv or argv[0] != "--regen":
        print(__doc__)
        sys.exit(2)
    sys.exit(_regen(argv[1:]))
