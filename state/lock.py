"""The single-worker lock: an OS file lock the kernel drops when its holder dies (even SIGKILL).

Only processes that will drain the queue take it: a worker, a task, or a hook handing it
straight to the worker it starts (the child inherits the locked descriptor, so there is no
moment between the two at which another hook could start a second worker). Anyone who only
wants to know whether a worker runs asks `running()`, which never touches the lock: a probe
holding it for an instant would make a concurrent hook believe a worker is running.

POSIX uses `fcntl.flock`; Windows uses `msvcrt.locking` on one byte past the pid (kept
importable there; not run on Windows or macOS here).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # the hook path imports no typing (entry/hook.py)
if TYPE_CHECKING:
    from os import PathLike

LOCK_NAME = "worker.lock"  # in the data directory (DataDir.lock_path)

if sys.platform == "win32":  # pragma: no cover - not run here
    import msvcrt

    # msvcrt locks bytes from the file position, and other processes cannot read locked
    # bytes: lock one byte far past the pid that `running()` reads from the start, at a fixed
    # offset, so locking and unlocking name the same byte whatever was written in between.
    _LOCK_OFFSET = 1 << 30

    def _try_lock(fd: int, blocking: bool = False) -> bool:
        while True:
            try:
                os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not blocking:
                    return False
                time.sleep(0.5)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int, blocking: bool = False) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class WorkerLock:
    """At most one holder at a time across all processes using the same data directory."""

    def __init__(self, path: str | PathLike) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock if it is free; with `blocking`, wait until its holder lets go."""
        if self._fd is not None:
            return True
        # never through a symbolic link planted in the data directory
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        if _try_lock(fd, blocking):
            self._fd = fd
            self.note_holder(os.getpid())
            return True
        os.close(fd)
        return False

    def acquire_soon(self, within: float = 0.25, pause: float = 0.05) -> bool:
        """Take the lock, trying for a moment: hooks and `status` hold it for an instant to
        see whether a worker runs, and a standby worker lets go of it within a moment."""
        deadline = time.monotonic() + within
        while not self.acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # nobody holds it now, whoever reads the file
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def adopt(self, fd: int) -> bool:
        """Take over a locked descriptor inherited from the hook that started us."""
        if not _try_lock(fd):  # re-locking our own open file description always succeeds
            os.close(fd)
            return False
        self._fd = fd
        self.note_holder(os.getpid())
        return True

    def note_holder(self, pid: int) -> None:
        """Write who holds the lock, for `running()` (a hook writes its child's pid)."""
        fd = self._fd
        assert fd is not None, "only the holder notes who holds the lock"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(pid).encode())

    @property
    def fd(self) -> int | None:
        """The locked descriptor, for a child process to inherit (`hand_over` after)."""
        return self._fd

    def hand_over(self, pid: int) -> None:
        """A child that inherited `fd` holds the lock now: name it, and close our copy
        without unlocking (the lock belongs to the open file, which the child keeps open)."""
        self.note_holder(pid)
        fd, self._fd = self._fd, None
        assert fd is not None
        os.close(fd)

    def running(self) -> bool:
        """Whether a live process holds the lock, judged from the pid it wrote (no locking)."""
        pid = self._noted()
        return pid > 0 and _alive(pid)

    def orphaned(self) -> bool:
        """Whether the noted holder is gone: asked while the lock is held, that is a worker
        whose hook was killed before handing the lock over. An empty note is not: it is a
        holder taking or leaving the lock this instant."""
        pid = self._noted()
        return pid > 0 and not _alive(pid)

    def _noted(self) -> int:
        try:
            with open(self.path, encoding="ascii", errors="replace") as holder:
                return int(holder.read().strip() or 0)
        except (OSError, ValueError):
            return 0


def _alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - not run here
        return True  # no cheap check; a stale pid only makes status say "running"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers kill(0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False
