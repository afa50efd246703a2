"""The single-worker lock: an OS file lock the kernel drops when its holder dies (even SIGKILL).

POSIX uses `fcntl.flock`; Windows uses `msvcrt.locking` on the first byte (kept importable
there; not run on Windows here).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

if os.name == "nt":  # pragma: no cover - not run here
    import msvcrt

    def _try_lock(fd: int, blocking: bool = False) -> bool:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not blocking:
                    return False
                time.sleep(0.5)

    def _unlock(fd: int) -> None:
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

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock if it is free; with `blocking`, wait until its holder lets go."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if _try_lock(fd, blocking):
            self._fd = fd
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
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
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def is_free(self) -> bool:
        """True when no process holds the lock (checked by taking and dropping it)."""
        if self.held:
            return False
        if self.acquire():
            self.release()
            return True
        return False
