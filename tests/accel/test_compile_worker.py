"""Background compilation (``backends/x86_64/compile_worker.py``): regions compiled by the helper process
come out as the exec loop's own compiler makes them, run the same, and survive what can happen while
they are being compiled — their guest code changing, the code cache being flushed, the helper dying.
"""

from __future__ import annotations

import time

import pytest
from test_ir_semantics import EXIT_PC, ICOUNT, SLOTS, FakeCPU, make_space

from pyqemu.accel.tcg.backend_python import BUDGET, CompiledRegion
from pyqemu.accel.tcg.backends.x86_64 import compile_worker, host_supported
from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend
from pyqemu.accel.tcg.backends.x86_64.codegen import BlockCompiler
from pyqemu.accel.tcg.ir import Block, Helper
from pyqemu.accel.tcg.optimize import optimize
from pyqemu.accel.tcg.user_memory import UserMemory

pytestmark = pytest.mark.skipif(host_supported() is not None, reason=str(host_supported()))

FIRST = 0x1000


def _mix(a: int, b: int) -> int:  # a module-level helper: the worker gets the function itself
    return (a * 31 + b) & (2**64 - 1)


def make_blocks(scale: int) -> list[Block]:
    """Three chained blocks: arithmetic, a helper call through a closure and one through a module-level
    function, a branch, and dead code for the worker's optimizer to remove."""
    def twice(cpu: FakeCPU, v: int) -> int:
        return 2 * v

    closure = Helper("twice", twice)
    plain = Helper("mix", _mix, pass_cpu=False, pure=True)
    b0 = Block(FIRST, ops=[("insn_start", FIRST), ("mov", "t1", 5), ("add", "t2", "t1", scale),
                           ("add", "r0", "r0", "t2"), ("mul", "t3", "r1", 3),  # t3: dead
                           ("exit", FIRST + 0x100)], size=4, n_insns=1, ntemps=3, guest_insns=[(FIRST, 0)])
    pc1 = FIRST + 0x100
    b1 = Block(pc1, ops=[("insn_start", pc1), ("call", "t1", closure, "r0"), ("mov", "r1", "t1"),
                         ("call", "r2", plain, "r1", "r0"), ("exit", pc1 + 0x100)],
               size=4, n_insns=1, ntemps=1, guest_insns=[(pc1, 0)])
    pc2 = FIRST + 0x200
    b2 = Block(pc2, ops=[("insn_start", pc2), ("brcond", "r2", 0, "eq", 1), ("xor", "r3", "r2", "r1"),
                         ("set_label", 1), ("exit", EXIT_PC)],
               size=4, n_insns=1, nlabels=1, guest_insns=[(pc2, 0)])
    return [b0, b1, b2]


def expected(scale: int) -> tuple[int, int, int, int]:
    r0 = 5 + scale
    r1 = 2 * r0
    r2 = _mix(r1, r0)
    return r0, r1, r2, r2 ^ r1 if r2 else 0


def new_backend() -> NativeBackend:
    return NativeBackend(SLOTS, UserMemory(make_space(), None), icount_slot=ICOUNT, budget=BUDGET,
                         cache_size=1 << 20)


def _not_here(*args: object, **kwargs: object) -> None:
    raise AssertionError("compiled in the exec loop's thread, not by the worker")


def compile_in_background(backend: NativeBackend, blocks: list[Block], before_answer=None,
                          here: bool = False) -> CompiledRegion | None:
    """Submit ``blocks``, run ``before_answer()`` (if any) while they are compiled, and wait for the
    answer (which must come from the worker unless ``here``)."""
    answers: list[CompiledRegion | None] = []
    if not here:
        backend.compile_region = _not_here  # type: ignore[method-assign]
    assert backend.submit_region(blocks, [b.pc for b in blocks], answers.append)
    if before_answer is not None:
        before_answer()
    deadline = time.monotonic() + 30
    while not answers:
        assert time.monotonic() < deadline, "no answer from the compile worker"
        backend.poll_compiles()
        time.sleep(0.001)
    return answers[0]


def run(region: CompiledRegion) -> FakeCPU:
    cpu = FakeCPU()
    pc = FIRST
    while pc != EXIT_PC:
        pc = region.fn(cpu, cpu.R, pc)
        assert pc >= 0, cpu.exception
    return cpu


@pytest.fixture
def fresh_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compile worker of the test's own (the process-wide one is left as it was)."""
    monkeypatch.setattr(compile_worker, "_worker", None)
    monkeypatch.setattr(compile_worker, "_worker_failed", False)


def test_worker_code_is_what_the_exec_loop_would_make_and_runs(fresh_worker: None) -> None:
    backend = new_backend()
    blocks = make_blocks(7)
    region = compile_in_background(backend, blocks)
    assert region is not None and compile_worker.current() is not None
    for b in blocks:
        host = backend.entries[b.pc]
        code = backend.code.read(host, len(backend.blocks[host][1].code))
        optimize(b)  # the worker's optimizer ran on its copy (the dead mul goes)
        assert code == BlockCompiler(b, host, backend.runtime, backend.slots).compile().code
    assert not any(op[0] == "mul" for op in blocks[0].ops)
    cpu = run(region)
    assert tuple(cpu.R[SLOTS[f"r{i}"]] for i in range(4)) == expected(7)
    assert cpu.R[ICOUNT] == 3


def test_second_request_goes_after_the_first(fresh_worker: None) -> None:
    """Two requests in flight: the second's code is placed right after the first's."""
    backend = new_backend()
    first, second = make_blocks(1), [Block(pc, ops=b.ops, size=b.size, n_insns=b.n_insns, ntemps=b.ntemps,
                                           nlabels=b.nlabels, guest_insns=b.guest_insns)
                                     for pc, b in zip((0x5000, 0x5100, 0x5200), make_blocks(2), strict=True)]
    answers: list[CompiledRegion | None] = []
    assert backend.submit_region(first, [b.pc for b in first], answers.append)
    assert backend.submit_region(second, [b.pc for b in second], answers.append)
    assert not backend.compile_room()  # two deep
    deadline = time.monotonic() + 30
    while len(answers) < 2:
        assert time.monotonic() < deadline
        backend.poll_compiles()
        time.sleep(0.001)
    assert all(a is not None for a in answers)
    assert backend.entries[0x5000] > backend.entries[FIRST + 0x200]
    assert tuple(run(answers[0]).R[SLOTS[f"r{i}"]] for i in range(4)) == expected(1)  # type: ignore[arg-type]


def test_block_invalidated_while_compiling_is_left_out(fresh_worker: None) -> None:
    backend = new_backend()
    blocks = make_blocks(3)
    region = compile_in_background(backend, blocks, lambda: backend.invalidate([FIRST + 0x100]))
    assert region is not None
    assert FIRST + 0x100 not in backend.entries
    assert FIRST in backend.entries and FIRST + 0x200 in backend.entries
    cpu = FakeCPU()
    assert region.fn(cpu, cpu.R, FIRST) == FIRST + 0x100  # it leaves where the dropped block was


def test_flush_while_compiling_drops_the_answer(fresh_worker: None) -> None:
    backend = new_backend()
    region = compile_in_background(backend, make_blocks(3), backend.flush)
    assert region is None
    assert not backend.entries


def test_dead_worker_region_is_compiled_here(fresh_worker: None) -> None:
    backend = new_backend()
    blocks = make_blocks(4)

    def kill() -> None:
        w = compile_worker.current()
        assert w is not None
        w.proc.kill()
        w.proc.wait()

    region = compile_in_background(backend, blocks, kill, here=True)
    assert region is not None
    assert tuple(run(region).R[SLOTS[f"r{i}"]] for i in range(4)) == expected(4)
    # from now on regions are compiled in the exec loop's thread, at once
    assert compile_worker.worker() is None
    answers: list[CompiledRegion | None] = []
    more = [Block(0x9000, ops=[("insn_start", 0x9000), ("exit", EXIT_PC)], size=4, n_insns=1,
                  guest_insns=[(0x9000, 0)])]
    assert backend.submit_region(more, [0x9000], answers.append)
    assert answers and answers[0] is not None and 0x9000 in backend.entries


def test_helpers_are_described_once(fresh_worker: None) -> None:
    """A helper is described to the worker the first time a request uses it, then named by number."""
    backend = new_backend()
    blocks = make_blocks(1)
    compile_in_background(backend, blocks)
    w = compile_worker.current()
    assert w is not None and len(w.helpers) == 2
    new: list = []
    numbers = {w.helper_number(op[2], new) for b in blocks for op in b.ops if op[0] == "call"}
    assert not new and numbers == {0, 1}
    w.helper_number(Helper("other", _mix, pass_cpu=False), new)
    assert [n for n, _ in new] == [2]
    assert new[0][1][1] is not None  # a module-level function travels as itself


def test_answers_for_a_finished_machine_do_not_block_the_next(fresh_worker: None) -> None:
    """A machine that ends with requests in flight never takes their answers; another backend polling
    the worker takes them off (their requester gets them) and then has room for its own."""
    gone, taken = new_backend(), []
    for scale in (1, 2):
        blocks = make_blocks(scale)
        assert gone.submit_region(blocks, [b.pc for b in blocks], taken.append)
    backend = new_backend()
    assert not backend.compile_room()
    deadline = time.monotonic() + 30
    while len(taken) < 2:
        assert time.monotonic() < deadline
        backend.poll_compiles()
        time.sleep(0.001)
    assert backend.compile_room()
    region = compile_in_background(backend, make_blocks(5))
    assert region is not None
    assert tuple(run(region).R[SLOTS[f"r{i}"]] for i in range(4)) == expected(5)
