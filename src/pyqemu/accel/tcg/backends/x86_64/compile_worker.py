"""Background compilation for the x86_64 backend: a helper process turns hot regions into machine code
while the vCPU goes on running them in the IR interpreter (as the compiler threads of HotSpot or V8 do;
with CPython's GIL only another process runs Python code in parallel).

One helper process serves the whole pyqemu process.  A request carries the blocks' IR (each helper as a
small number, described the first time it is used), the address where the code will go and what it
links to (the epilogue, the slow paths, the helpers' native-callable wrappers); the answer carries each
block's machine code, direct-exit sites and instruction map (the worker optimizes its copy of the IR;
the exec loop keeps the IR as translated).  A backend has at most two requests in flight, the second
placed right after the first; the backend places an answer only if its code cache has not moved on
meanwhile (no flush, nothing else placed), since the code is assembled for that address.

The helper is started with ``python -m`` and inherits no file descriptors but its pipes, so it holds
no image locks, sockets or terminals of the VM.  If it cannot be started or dies, the backend compiles
in the exec loop's thread as before.

Wire format: 4-byte little-endian length, then a pickle.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from ...ir import Block, Helper
from .codebuf import aligned

_LEN = struct.Struct("<I")


def _helper_spec(h: Helper) -> tuple:
    """What the helper process needs to know of ``h``: its description, and its function when that
    pickles by reference (the inline FP emitters recognise the reference implementations by identity)."""
    try:
        fn_bytes: bytes | None = pickle.dumps(h.fn)
        pickle.loads(fn_bytes)
    except Exception:  # a closure: called through its address, never inlined
        fn_bytes = None
    return (h.name, fn_bytes, h.reads, h.writes, h.pure, h.pass_cpu, h.accumulate)


def _unavailable(*args: Any) -> None:
    raise RuntimeError("helper called in the compile worker")


#: requests in flight at most: the next one waits in the pipe while the worker compiles one
DEPTH = 2


class CompileWorker:
    """The parent's end of the helper process.  Both pipes are non-blocking: what does not fit into
    the request pipe waits in :attr:`outbuf`, and :meth:`poll` (called often by the exec loop) sends it
    and takes the answers, so neither side ever waits for the other."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.outbuf = bytearray()
        self.inbuf = bytearray()
        self.pid = os.getpid()
        self.alive = True
        #: id(helper) -> (number, helper): helpers described to the process (kept alive with their id)
        self.helper_ids: dict[int, tuple[int, Helper]] = {}
        self.helpers: dict[int, Helper] = {}
        #: what to call with each answer still to come, in order (with None if the process died)
        self.waiting: deque[Callable[[Any], None]] = deque()

    def room(self) -> bool:
        """Whether a backend may send a request now."""
        return self.alive and len(self.waiting) < DEPTH

    def helper_number(self, h: Helper, new: list) -> int:
        entry = self.helper_ids.get(id(h))
        if entry is None or entry[1] is not h:
            n = len(self.helpers)
            entry = self.helper_ids[id(h)] = (n, h)
            self.helpers[n] = h
            new.append((n, _helper_spec(h)))
        return entry[0]

    def submit(self, request: tuple, done: Callable[[Any], None]) -> bool:
        """Send ``request`` (see :func:`compile_request`); ``done(answer)`` is called by a later
        :meth:`poll`."""
        if not self.room():
            return False
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.outbuf += _LEN.pack(len(data))
        self.outbuf += data
        self.waiting.append(done)
        self._send()
        return True

    def poll(self) -> None:
        """Send what is left of the requests, and hand the answers that have come to their requesters."""
        if not self.waiting:
            return
        if self.outbuf:
            self._send()
        try:
            while True:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    self._died()
                    return
                self.inbuf += chunk
        except BlockingIOError:
            pass
        except OSError:
            self._died()
            return
        buf = self.inbuf
        while len(buf) >= 4 and self.waiting:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            answer = pickle.loads(buf[4:4 + n])
            del buf[:4 + n]
            self.waiting.popleft()(answer)

    def _send(self) -> None:
        try:
            sent = os.write(self.wfd, self.outbuf)
        except BlockingIOError:
            return
        except OSError:
            self._died()
            return
        del self.outbuf[:sent]

    def _died(self) -> None:
        self.alive = False
        while self.waiting:
            self.waiting.popleft()(None)


_worker: CompileWorker | None = None
_worker_failed = False


def worker() -> CompileWorker | None:
    """This process's compile worker, started on first use (None if it cannot run)."""
    global _worker, _worker_failed
    if _worker is not None and _worker.alive and _worker.pid == os.getpid():
        return _worker
    if _worker_failed or (_worker is not None and _worker.pid == os.getpid()):
        return None  # it could not start, or it died: compile in the exec loop from now on
    try:
        _worker = CompileWorker()
    except OSError:
        _worker_failed = True
        return None
    return _worker


def current() -> CompileWorker | None:
    """The worker this process started (None if none is running)."""
    return _worker if _worker is not None and _worker.pid == os.getpid() else None


def _forget_after_fork() -> None:
    """A forked child shares the parent's pipes: it must not talk to the parent's worker."""
    global _worker
    if _worker is not None:
        for fd in (_worker.wfd, _worker.rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        _worker.alive = False
        _worker = None


os.register_at_fork(after_in_child=_forget_after_fork)


# -- the helper process ------------------------------------------------------------------------------------
def compile_request(request: tuple, helpers: dict[int, Helper], ends: dict[int, int]) -> tuple[int, list]:
    """Compile one request ``(owner, links, slots, new helpers, helper addresses, base, blocks)``.

    ``links`` are the :class:`~.codegen.Runtime` fields but the callback; ``new`` describes helpers not
    sent before as ``(number, spec)``; the addresses map ``(helper number, nargs)`` to the helper's
    native-callable wrapper.  The code goes at ``base``, or (None) right after the code of the
    ``owner``'s previous request.  Each block is ``(pc, size, n_insns, ntemps, nlabels, guest_insns,
    hints, optimized, ops)`` with every call's helper given as its number.  The answer is the base used
    and ``(code, sites, insns)`` per block."""
    from ...optimize import optimize
    from .codegen import BlockCompiler, Runtime

    owner, links, slots, new, addresses, base, blocks = request
    for n, (name, fn_bytes, reads, writes, pure, pass_cpu, accumulate) in new:
        try:
            fn = pickle.loads(fn_bytes) if fn_bytes is not None else _unavailable
        except Exception:  # its module cannot be imported here (a test's, say): just not inlined
            fn = _unavailable
        helpers[n] = Helper(name, fn, reads, writes, pure, pass_cpu, accumulate)
    number = {id(h): n for n, h in helpers.items()}
    rt = Runtime(callback=lambda h, nargs: addresses[number[id(h)], nargs], **links)
    out = []
    start = addr = ends[owner] if base is None else base
    for pc, size, n_insns, ntemps, nlabels, guest_insns, hints, optimized, ops in blocks:
        ops = [("call", op[1], helpers[op[2]], *op[3:]) if op[0] == "call" else op for op in ops]
        b = Block(pc, ops, size, n_insns, ntemps, nlabels, guest_insns, hints, optimized=optimized)
        if not optimized:
            optimize(b)
        c = BlockCompiler(b, addr, rt, slots).compile()
        out.append((c.code, c.sites, c.insns))
        addr += aligned(len(c.code))
    ends[owner] = addr
    return start, out


def serve(inp: Any, out: Any) -> None:
    """The helper process's loop: answer requests until the parent closes the pipe.  An answer is what
    :func:`compile_request` returns, or a string (the traceback of a failure)."""
    helpers: dict[int, Helper] = {}
    ends: dict[int, int] = {}  # owner -> where its next code goes
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        (n,) = _LEN.unpack(head)
        request = pickle.loads(inp.read(n))
        try:
            answer: Any = compile_request(request, helpers, ends)
        except Exception:
            answer = traceback.format_exc()
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LEN.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C in the terminal is for the VM, which stops us
    serve(sys.stdin.buffer, sys.stdout.buffer)
