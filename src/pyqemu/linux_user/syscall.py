"""System call emulation for user-mode guests (QEMU linux-user/syscall.c).

Guest file descriptors are host file descriptors.  Calls whose structures are laid out the same for
the guest ABI and the x86-64 host go straight to the host kernel with guest pointers translated to
host pointers (the guest address space is one host mapping); the rest (memory management, signals,
threads, processes, stat structures, /proc/self) are emulated here.  Errors come back as -errno.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import struct
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from ..accel.tcg.backend_python import GuestFault
from . import signal as sig
from . import strace as strace_fmt
from .memory import MAP_FIXED, MMAP_MIN_ADDR, PAGE_SIZE, page_align
from .syscall_nr import HOST_PASSTHROUGH, NAMES

if TYPE_CHECKING:
    from .process import Process, Thread

_libc = ctypes.CDLL(None, use_errno=True)
_host_syscall = _libc.syscall
_host_syscall.restype = ctypes.c_long
_host_syscall.argtypes = [ctypes.c_long] * 7


def host_call(nr: int, *args: int) -> int:
    """A raw host system call with up to six arguments: its result, or -errno."""
    r = _host_syscall(nr, *args, *([0] * (6 - len(args))))
    return -ctypes.get_errno() if r == -1 else r

ENOSYS = errno.ENOSYS
MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 1, 2, 0x20, 0x100000
F_GETFL, F_SETFL = 3, 4


def remap_bits(value: int, pairs: tuple[tuple[int, int], ...], to_host: bool = True) -> int:
    """Translate flag bits that sit elsewhere on the guest than on the host: ``pairs`` holds
    (guest bit, host bit) for each such flag (the others are the same on both)."""
    if not pairs:
        return value
    out = value
    for guest, host in pairs:
        out &= ~(guest | host)
    for guest, host in pairs:
        src, dst = (guest, host) if to_host else (host, guest)
        if value & src:
            out |= dst
    return out
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_SETTLS = 0x4000, 0x8000, 0x10000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
FUTEX_WAKE = 1
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
_TTY_IOCTLS = {0x5401, 0x5402, 0x5403, 0x5404, 0x5413, 0x5414, 0x540F, 0x5410, 0x541B, 0x5421,
               0x540E, 0x5422, 0x5429, 0x5437}
_STAT = struct.Struct("<QQIIIIQQqiiqqQqQqQII")  # asm-generic struct stat (128 bytes)


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _space_locked(handler):
    """Memory-map calls run under the address-space lock: threads share the guest address space."""

    @functools.wraps(handler)
    def locked(self, *args):
        with self.space.lock:
            return handler(self, *args)
    return locked


class NoReturn(Exception):
    """Raised by a handler that already set up the guest registers (rt_sigreturn, execve...)."""


class Syscalls:
    """The system call layer of one guest process."""

    def __init__(self, proc: Process):
        self.proc = proc
        self.space = proc.space
        self.handlers = {nr: getattr(self, "sys_" + name, None) for nr, name in NAMES.items()}
        self.dirs: dict[int, Any] = {}

    # -- helpers -----------------------------------------------------------------------------------
    def hptr(self, addr: int, length: int = 1) -> int:
        """Host address of guest [addr, addr+length) (0 stays NULL); EFAULT when outside the space."""
        if addr == 0:
            return 0
        if not self.space.check(addr, max(length, 1)) or addr < MMAP_MIN_ADDR:
            raise OSError(errno.EFAULT, "bad address")
        return self.space.base + addr

    def path(self, addr: int, sysroot: bool = True) -> str:
        raw = os.fsdecode(self.space.read_cstring(addr))
        if sysroot:
            raw = self.proc.host_path(raw)
        return raw

    @staticmethod
    def _dirfd(fd: int) -> int | None:
        fd = _s32(fd)
        return None if fd == AT_FDCWD else fd

    def _passthrough(self, name: str, args: list[int]) -> int:
        hnr, kinds = HOST_PASSTHROUGH[name]
        hargs = []
        keep = []
        for kind, a in zip(kinds, args, strict=False):
            if kind == "p":
                hargs.append(self.hptr(a))
            elif kind == "s" and a == 0:
                hargs.append(0)
            elif kind == "s":
                b = ctypes.create_string_buffer(os.fsencode(self.path(a)))
                keep.append(b)
                hargs.append(ctypes.addressof(b))
            else:
                hargs.append(_s64(a))
        return host_call(hnr, *hargs)  # the path buffers in ``keep`` live until it returns

    # -- dispatch ----------------------------------------------------------------------------------
    def dispatch(self, th: Thread, nr: int, args: list[int]) -> int | None:
        """Run syscall ``nr``; return the value for a0, or None if registers were set otherwise."""
        name = NAMES.get(nr)
        strace = self.proc.strace
        if strace:
            log = self.proc.log
            shown = args
            if name == "openat":  # the flag names are the generic values
                shown = [*args[:2], remap_bits(args[2], self.proc.arch.OPEN_FLAGS), *args[3:]]
            log.write(strace_fmt.format_call(threading.get_native_id(), nr, name, shown,
                                             self.space.read_cstring))
            log.stream.flush()  # before the call's own output, as qemu's unbuffered stderr
        handler = self.handlers.get(nr) if name else None
        try:
            if handler is not None:
                ret = handler(th, *args[:6])
            elif name in HOST_PASSTHROUGH:
                ret = self._passthrough(name, args)
            else:
                if self.proc.log.enabled("unimp"):
                    self.proc.log.write(f"Unsupported syscall: {nr}\n")
                ret = -ENOSYS
        except NoReturn:
            if strace and name not in ("exit", "exit_group"):
                self.proc.log.write("\n")
            return None
        except OSError as e:
            ret = -(e.errno or errno.EIO)
        except GuestFault:
            ret = -errno.EFAULT
        if strace:
            self.proc.log.write(strace_fmt.format_result(name, ret))
        if ret == -errno.EPIPE and name in ("write", "writev", "pwrite64", "sendto"):
            th.signals.pending.append((sig.SIGPIPE, sig.siginfo(sig.SIGPIPE, sig.SI_USER,
                                                                 pid=os.getpid())))
            self.proc.signals.flag = True
        return ret & ((1 << 64) - 1)

    # -- files -------------------------------------------------------------------------------------
    def sys_openat(self, th, dirfd, pathname, flags, mode, *_):
        path = self.path(pathname)
        special = self.proc.proc_self_file(path)
        if special is not None:
            if isinstance(special, str):
                path = special
            else:
                fd, name = tempfile.mkstemp(prefix="pyqemu-proc-")
                os.unlink(name)
                os.write(fd, special)
                os.lseek(fd, 0, os.SEEK_SET)
                return fd
        flags = remap_bits(flags, self.proc.arch.OPEN_FLAGS)
        fd = os.open(path, _s32(flags), mode & 0o7777, dir_fd=self._dirfd(dirfd))
        if not flags & os.O_CLOEXEC:
            os.set_inheritable(fd, True)  # Python opens close-on-exec by default; the guest did not ask
        return fd

    def sys_close(self, th, fd, *_):
        os.close(_s32(fd))
        return 0

    def sys_write(self, th, fd, buf, count, *_):
        return self._passthrough_write(fd, buf, count)

    def _passthrough_write(self, fd, buf, count):
        return host_call(1, _s64(fd), self.hptr(buf, count), count)

    def _iov(self, iov: int, cnt: int) -> ctypes.Array:
        if cnt > 1024:
            raise OSError(errno.EINVAL, "iovcnt")
        raw = self.space.read(iov, 16 * cnt)
        vec = (ctypes.c_uint64 * (2 * cnt))()
        for i in range(cnt):
            base, length = struct.unpack_from("<QQ", raw, 16 * i)
            vec[2 * i] = self.hptr(base, length) if length else 0
            vec[2 * i + 1] = length
        return vec

    def _iov_call(self, hnr: int, fd: int, iov: int, cnt: int, *extra: int) -> int:
        vec = self._iov(iov, cnt)
        return host_call(hnr, _s64(fd), ctypes.addressof(vec), cnt, *extra)

    def sys_readv(self, th, fd, iov, cnt, *_):
        return self._iov_call(19, fd, iov, cnt)

    def sys_writev(self, th, fd, iov, cnt, *_):
        return self._iov_call(20, fd, iov, cnt)

    def sys_preadv(self, th, fd, iov, cnt, off, *_):
        return self._iov_call(295, fd, iov, cnt, off, 0)

    def sys_pwritev(self, th, fd, iov, cnt, off, *_):
        return self._iov_call(296, fd, iov, cnt, off, 0)

    def _msg_call(self, hnr: int, fd: int, msg: int, flags: int) -> int:
        """sendmsg/recvmsg: struct msghdr has the same layout on both sides but guest pointers."""
        name, namelen, iov, iovlen, control, controllen, mflags = struct.unpack(
            "<QI4xQQQQi4x", self.space.read(msg, 56))
        vec = self._iov(iov, iovlen)
        hmsg = struct.pack("<QI4xQQQQi4x", self.hptr(name, namelen), namelen, ctypes.addressof(vec), iovlen,
                           self.hptr(control, controllen), controllen, mflags)
        buf = ctypes.create_string_buffer(hmsg, 56)
        r = host_call(hnr, _s64(fd), ctypes.addressof(buf), _s64(flags))
        if r < 0:
            return r
        _n, namelen, _i, _l, _c, controllen, mflags = struct.unpack("<QI4xQQQQi4x", buf.raw)
        self.space.write(msg + 8, struct.pack("<I", namelen))
        self.space.write(msg + 40, struct.pack("<Qi", controllen, mflags))
        return r

    def sys_sendmsg(self, th, fd, msg, flags, *_):
        return self._msg_call(46, fd, msg, flags)

    def sys_recvmsg(self, th, fd, msg, flags, *_):
        return self._msg_call(47, fd, msg, flags)

    def _pack_stat(self, st: os.stat_result) -> bytes:
        return _STAT.pack(st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
                          st.st_rdev, 0, st.st_size, st.st_blksize, 0, st.st_blocks,
                          int(st.st_atime), st.st_atime_ns % 10**9, int(st.st_mtime),
                          st.st_mtime_ns % 10**9, int(st.st_ctime), st.st_ctime_ns % 10**9, 0, 0)

    def sys_fstat(self, th, fd, buf, *_):
        self.space.write(buf, self._pack_stat(os.fstat(_s32(fd))))
        return 0

    def sys_newfstatat(self, th, dirfd, pathname, buf, flags, *_):
        path = self.path(pathname)
        if path == "" and flags & AT_EMPTY_PATH:
            st = os.fstat(_s32(dirfd))
        else:
            special = self.proc.proc_self_file(path)
            if isinstance(special, str):
                path = special
            st = os.stat(path, dir_fd=self._dirfd(dirfd),
                         follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
        self.space.write(buf, self._pack_stat(st))
        return 0

    def sys_statx(self, th, dirfd, pathname, flags, mask, buf, *_):
        path = self.path(pathname)
        special = self.proc.proc_self_file(path)
        if isinstance(special, str):
            path = special
        b = ctypes.create_string_buffer(os.fsencode(path))
        return host_call(332, _s64(_s32(dirfd)), ctypes.addressof(b), flags, mask, self.hptr(buf, 256))

    def sys_readlinkat(self, th, dirfd, pathname, buf, size, *_):
        path = self.path(pathname, sysroot=False)
        if path in ("/proc/self/exe", f"/proc/{os.getpid()}/exe"):
            target = os.fsencode(self.proc.exe_path)
        else:
            target = os.fsencode(os.readlink(self.proc.host_path(path), dir_fd=self._dirfd(dirfd)))
        target = target[:size]
        self.space.write(buf, target)
        return len(target)

    def sys_getcwd(self, th, buf, size, *_):
        cwd = os.fsencode(os.getcwd()) + b"\0"
        if len(cwd) > size:
            return -errno.ERANGE
        self.space.write(buf, cwd)
        return len(cwd)

    def sys_fcntl(self, th, fd, cmd, arg, *_):
        if cmd in (5, 6, 7, 36, 37, 38):  # F_GETLK/F_SETLK/F_SETLKW and OFD variants: struct flock
            arg = self.hptr(arg, 32)
        elif cmd == F_SETFL:
            arg = remap_bits(arg, self.proc.arch.OPEN_FLAGS)
        ret = host_call(72, _s64(fd), cmd, _s64(arg))
        if cmd == F_GETFL and ret >= 0:
            ret = remap_bits(ret, self.proc.arch.OPEN_FLAGS, to_host=False)
        return ret

    def sys_ioctl(self, th, fd, req, arg, *_):
        if req & 0xFFFFFFFF in _TTY_IOCTLS:
            harg = self.hptr(arg) if req not in (0x540E, 0x5422) else arg
            return host_call(16, _s64(fd), req, harg)
        if self.proc.log.enabled("unimp"):
            self.proc.log.write(f"Unsupported ioctl: cmd=0x{req:04x}\n")
        return -errno.ENOTTY

    def sys_ppoll(self, th, fds, nfds, tmo, sigmask, sigsetsize, *_):
        return host_call(271, self.hptr(fds, 8 * max(nfds, 1)), nfds, self.hptr(tmo), self.hptr(sigmask),
                         sigsetsize if sigmask else 0)

    def sys_pselect6(self, th, n, rfds, wfds, efds, tmo, *rest):
        return host_call(270, n, self.hptr(rfds), self.hptr(wfds), self.hptr(efds), self.hptr(tmo))

    # -- memory ------------------------------------------------------------------------------------
    @_space_locked
    def sys_brk(self, th, addr, *_):
        sp = self.space
        if addr < sp.brk_start:
            return sp.brk
        old_top, new_top = page_align(sp.brk), page_align(addr)
        if new_top > old_top:
            if not sp.is_free(old_top, new_top - old_top):
                return sp.brk
            sp.map(old_top, new_top - old_top, 3, name="[heap]")
        elif new_top < old_top:
            sp.unmap(new_top, old_top - new_top)
        sp.brk = addr
        return addr

    @_space_locked
    def sys_mmap(self, th, addr, length, prot, flags, fd, offset):
        sp = self.space
        if length == 0 or offset & (PAGE_SIZE - 1):
            return -errno.EINVAL
        length = page_align(length)
        if length > sp.size:
            return -errno.ENOMEM
        if flags & MAP_FIXED:
            if addr & (PAGE_SIZE - 1) or addr < MMAP_MIN_ADDR or not sp.check(addr, length):
                return -errno.EINVAL if addr & (PAGE_SIZE - 1) else -errno.ENOMEM
            start = addr
        else:
            if flags & MAP_FIXED_NOREPLACE and addr and not sp.is_free(addr, length):
                return -errno.EEXIST
            start = sp.find_free(length, addr & ~(PAGE_SIZE - 1))
            if start is None:
                return -errno.ENOMEM
        name = ""
        hfd = -1
        shared = bool(flags & MAP_SHARED)
        dev_ino = (0, 0)
        if not flags & MAP_ANONYMOUS:
            hfd = _s32(fd)
            st = os.fstat(hfd)
            dev_ino = (st.st_dev, st.st_ino)
            try:
                name = os.readlink(f"/proc/self/fd/{hfd}")
            except OSError:
                name = ""
            if shared and not prot & 2:
                shared = False
        file_pages = length
        if hfd >= 0:
            file_pages = min(length, max(0, page_align(st.st_size - offset)))
            if file_pages < length:  # pages past EOF: SIGBUS on access, as Linux does
                sp.map(start + file_pages, length - file_pages, prot, name=name, dev_ino=dev_ino,
                       beyond_eof=True)
        if file_pages == 0:
            return start
        try:
            sp.map(start, file_pages, prot, fd=hfd, offset=offset, name=name, shared=shared, dev_ino=dev_ino)
        except OSError as e:
            if shared and e.errno == errno.EACCES:
                return -errno.EACCES
            raise
        return start

    @_space_locked
    def sys_munmap(self, th, addr, length, *_):
        if addr & (PAGE_SIZE - 1) or length == 0:
            return -errno.EINVAL
        if not self.space.check(addr, page_align(length)):
            return -errno.EINVAL
        self.space.unmap(addr, length)
        return 0

    @_space_locked
    def sys_mprotect(self, th, addr, length, prot, *_):
        if addr & (PAGE_SIZE - 1):
            return -errno.EINVAL
        if not self.space.range_mapped(addr, page_align(length)):
            return -errno.ENOMEM
        self.space.protect(addr, length, prot)
        return 0

    @_space_locked
    def sys_mremap(self, th, old, old_size, new_size, flags, new_addr, *_):
        sp = self.space
        old_size, new_size = page_align(old_size), page_align(new_size)
        if old & (PAGE_SIZE - 1) or new_size == 0:
            return -errno.EINVAL
        vma = sp.find_vma(old)
        if vma is None:
            return -errno.EFAULT
        if new_size <= old_size:
            if new_size < old_size:
                sp.unmap(old + new_size, old_size - new_size)
            return old
        if sp.is_free(old + old_size, new_size - old_size) and not flags & MREMAP_FIXED:
            sp.map(old + old_size, new_size - old_size, vma.prot, name=vma.name)
            return old
        if not flags & MREMAP_MAYMOVE:
            return -errno.ENOMEM
        dest = new_addr if flags & MREMAP_FIXED else sp.find_free(new_size)
        if dest is None:
            return -errno.ENOMEM
        data = sp.read(old, old_size)
        sp.map(dest, new_size, vma.prot, name=vma.name)
        sp.write(dest, data)
        sp.unmap(old, old_size)
        return dest

    def sys_madvise(self, th, addr, length, advice, *_):
        if advice == 4 and self.space.check(addr, length):  # MADV_DONTNEED: anonymous pages read zero
            vma = self.space.find_vma(addr)
            if vma and not vma.name.startswith("/"):
                self.space.mm[addr:addr + page_align(length)] = bytes(page_align(length))
        return 0

    def sys_msync(self, th, addr, length, flags, *_):
        return 0

    def sys_mlock(self, th, *_):
        return 0

    sys_munlock = sys_mlock

    def sys_mincore(self, th, addr, length, vec, *_):
        n = page_align(length) // PAGE_SIZE
        self.space.write(vec, b"\1" * n)
        return 0

    def sys_riscv_flush_icache(self, th, start, end, flags, *_):
        self.proc.tbc.flush()
        return 0

    # -- process -------------------------------------------------------------------------------------
    def sys_exit(self, th, status, *_):
        self.proc.exit_thread(th, status & 0xFF)
        raise NoReturn

    def sys_exit_group(self, th, status, *_):
        self.proc.exit_group(status & 0xFF)
        raise NoReturn

    def sys_set_tid_address(self, th, ptr, *_):
        th.clear_child_tid = ptr
        return th.tid

    def sys_set_robust_list(self, th, head, length, *_):
        return 0

    def sys_rseq(self, th, *_):
        return -ENOSYS

    def sys_riscv_hwprobe(self, th, *_):
        return -ENOSYS

    def sys_clone3(self, th, *_):
        return -ENOSYS

    def sys_prctl(self, th, option, a2, a3, a4, a5, *_):
        if option == 15:  # PR_SET_NAME
            return 0
        if option == 16:  # PR_GET_NAME
            self.space.write(a2, b"pyqemu-guest\0".ljust(16, b"\0"))
            return 0
        if option in (1, 2, 3, 4, 36, 37):  # death signal, dumpable, child subreaper: the host's own
            return host_call(157, option, a2, a3, a4, a5)
        return -errno.EINVAL

    def sys_uname(self, th, buf, *_):
        u = os.uname()
        fields = [u.sysname, u.nodename, u.release, u.version, "riscv64", "(none)"]
        self.space.write(buf, b"".join(os.fsencode(f)[:64].ljust(65, b"\0") for f in fields))
        return 0

    def sys_reboot(self, th, *_):
        return -errno.EPERM

    def sys_futex(self, th, uaddr, op, val, timeout, uaddr2, val3):
        cmd = op & 0x7F
        # FUTEX_WAIT/WAIT_BITSET/LOCK_PI take a timespec pointer; others use the slot as a count
        tmo = self.hptr(timeout, 16) if cmd in (0, 9, 6, 11) else timeout
        addr2 = self.hptr(uaddr2, 4) if cmd in (3, 4, 5, 11, 12) else uaddr2
        return host_call(202, self.hptr(uaddr, 4), op, _s32(val), tmo, addr2, _s32(val3))

    def sys_clone(self, th, flags, newsp, parent_tid, tls, child_tid, *_):
        return self.proc.clone(th, flags, newsp, parent_tid, tls, child_tid)

    def sys_execve(self, th, filename, argv, envp, *_):
        return self.proc.execve(th, filename, argv, envp)

    # -- signals -------------------------------------------------------------------------------------
    def sys_rt_sigaction(self, th, signum, act, oldact, sigsetsize, *_):
        if not 1 <= signum <= sig.NSIG or signum in (sig.SIGKILL, sig.SIGSTOP) and act:
            return -errno.EINVAL
        st = self.proc.signals
        old = st.actions[signum]
        if act:
            handler, flags, mask = struct.unpack("<QQQ", self.space.read(act, 24))
            st.set_action(signum, sig.Action(handler, flags, mask))
        if oldact:
            self.space.write(oldact, struct.pack("<QQQ", old.handler, old.flags, old.mask))
        return 0

    def sys_rt_sigprocmask(self, th, how, set_, oldset, sigsetsize, *_):
        ts = th.signals
        old = ts.blocked
        if set_:
            m = struct.unpack("<Q", self.space.read(set_, 8))[0]
            m &= ~((1 << (sig.SIGKILL - 1)) | (1 << (sig.SIGSTOP - 1)))
            if how == SIG_BLOCK:
                ts.blocked |= m
            elif how == SIG_UNBLOCK:
                ts.blocked &= ~m
            elif how == SIG_SETMASK:
                ts.blocked = m
            else:
                return -errno.EINVAL
            self.proc.signals.flag = True
        if oldset:
            self.space.write(oldset, struct.pack("<Q", old))
        return 0

    def sys_rt_sigpending(self, th, set_, size, *_):
        m = self.proc.signals.pending_mask(th.signals) & th.signals.blocked
        self.space.write(set_, struct.pack("<Q", m))
        return 0

    def sys_rt_sigsuspend(self, th, set_, size, *_):
        mask = struct.unpack("<Q", self.space.read(set_, 8))[0]
        ts = th.signals
        saved = ts.blocked
        ts.blocked = mask
        while self.proc.signals.pending_mask(ts) & ~mask == 0:
            time.sleep(0.001)
        ts.in_sigsuspend_mask = saved
        self.proc.signals.flag = True
        return -errno.EINTR

    def sys_rt_sigtimedwait(self, th, set_, info, timeout, size, *_):
        wanted = struct.unpack("<Q", self.space.read(set_, 8))[0]
        deadline = None
        if timeout:
            s, ns = struct.unpack("<qq", self.space.read(timeout, 16))
            deadline = time.monotonic() + s + ns / 1e9
        st = self.proc.signals
        while True:
            for q in (th.signals.pending, st.host_pending):
                for i, (signum, sinfo) in enumerate(q):
                    if wanted >> (signum - 1) & 1:
                        del q[i]
                        if info:
                            self.space.write(info, sinfo)
                        return signum
            if deadline is not None and time.monotonic() >= deadline:
                return -errno.EAGAIN
            time.sleep(0.001)

    def sys_sigaltstack(self, th, ss, old_ss, *_):
        ts = th.signals
        if old_ss:
            sp_, flags, size = ts.altstack
            if size and sp_ <= th.cpu.R[2] < sp_ + size:
                flags = 1  # SS_ONSTACK
            self.space.write(old_ss, struct.pack("<QiiQ", sp_, flags, 0, size))
        if ss:
            sp_, flags, _pad, size = struct.unpack("<QiiQ", self.space.read(ss, 24))
            ts.altstack = (sp_, flags, size)
        return 0

    def sys_rt_sigreturn(self, th, *_):
        self.proc.arch.restore_sigframe(self.proc, th)
        raise NoReturn

    def sys_kill(self, th, pid, signum, *_):
        pid = _s32(pid)
        if not 0 <= signum <= sig.NSIG:
            return -errno.EINVAL
        if pid == os.getpid():
            if signum:
                self.proc.signals.queue_host(signum, sig.siginfo(signum, sig.SI_USER, pid=os.getpid(),
                                                                 uid=os.getuid()))
            return 0
        os.kill(pid, signum)
        return 0

    def sys_rt_sigqueueinfo(self, th, tgid, signum, info, *_):
        if not 1 <= signum <= sig.NSIG:
            return -errno.EINVAL
        if _s32(tgid) != os.getpid():
            return -errno.EPERM
        data = bytearray(self.space.read(info, 128))
        struct.pack_into("<i", data, 0, signum)
        self.proc.signals.queue_host(signum, bytes(data))
        return 0

    def sys_tkill(self, th, tid, signum, *_):
        return self.sys_tgkill(th, os.getpid(), tid, signum)

    def sys_tgkill(self, th, tgid, tid, signum, *_):
        if not 0 <= signum <= sig.NSIG:
            return -errno.EINVAL
        target = self.proc.threads.get(_s32(tid))
        if _s32(tgid) == os.getpid() and target is not None:
            if signum:
                sig.queue(target.signals.pending,
                      signum, sig.siginfo(signum, sig.SI_TKILL, pid=os.getpid(), uid=os.getuid()))
                self.proc.signals.flag = True
            return 0
        return self._passthrough_tgkill(tgid, tid, signum)

    @staticmethod
    def _passthrough_tgkill(tgid, tid, signum):
        return host_call(234, _s32(tgid), _s32(tid), signum)

