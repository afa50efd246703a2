"""Polling helpers for tests that wait on a background process (a bound, never a timing goal)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 30.0, every: float = 0.05):
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:.0f} s: {condition}")
        time.sleep(every)


def background_workers(data_dir) -> list[int]:
    """Pids of PlexSync workers of this data directory still alive, standby ones included
    (they wait for the lock, so the lock file cannot tell). Linux: read from /proc."""
    import os
    from pathlib import Path

    wanted = str(data_dir).encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            b"worker" in argv
            and wanted in argv
            and state != b"Z"
            and int(entry.name) != os.getpid()
        ):
            found.append(int(entry.name))
    return found


def workers_gone(data_dir, timeout: float = 30.0) -> None:
    """Wait until no PlexSync worker of this data directory runs or waits for the lock."""
    import os

    if not os.path.isdir("/proc"):  # elsewhere only the lock can tell
        from state.lock import WorkerLock

        lock = WorkerLock(data_dir / "worker.lock")
        wait_until(lambda: not lock.running(), timeout=timeout)
        return
    wait_until(lambda: not background_workers(data_dir), timeout=timeout)
