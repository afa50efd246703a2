"""The detached background worker: lock, drain, linger, exit; never two at once.

Lost wake-ups are impossible: a hook enqueues first and then tries the lock, while the
worker releases the lock first and then looks at the queue, so one of the two always sees
the other's work.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from logs import to_file
from state.datadir import DataDir
from state.lock import WorkerLock

log = logging.getLogger("plexsync.worker")


def run_background(
    data_dir: Path,
    connection: dict,
    settings: dict | None = None,
    standby: bool = False,
    lock_fd: int | None = None,
) -> int:
    """Work while there is work; 0 when done or when another worker holds the lock.

    The lock comes first, before the heavy imports: a worker that finds it taken costs little.
    `lock_fd` is the lock a hook handed over; a `standby` worker waits for the lock (its
    holder, a task, may be killed) and does not linger, being there for leftovers only."""
    data = DataDir(data_dir)
    lock = WorkerLock(data.lock_path)
    if lock_fd is not None:
        lock.adopt(lock_fd)
    elif standby:
        lock.acquire(blocking=True)
        if not _anything_left(data):  # the task finished it all: let the next task in now
            lock.release()
            return 0
    linger = 0.0 if standby else None
    while lock.acquire_soon():
        log.info("worker %d started", os.getpid())
        try:
            stopped = _one_run(data, connection, settings, linger)
        finally:
            log.info("worker %d releasing the lock", os.getpid())
            lock.release()
        if stopped:
            return 0
        with data.open_queue() as queue:
            if not queue.ready():
                return 0
    return 0


def _anything_left(data: DataDir) -> bool:
    """Whether a job, retry or full sync is pending, read without the worker's imports: a
    task's standby worker usually finds nothing, and the next task waits for it to leave."""
    with data.open_queue() as queue, data.open_store() as store:
        return bool(queue.jobs() or store.counts()["delayed"] or store.scans())


def _one_run(
    data: DataDir, connection: dict, settings: dict | None, linger: float | None
) -> str | None:
    """One run under the lock; why it stopped early, if it did."""
    from worker import loop  # the heavy imports, only once the lock is ours

    pacing = loop.Pacing() if linger is None else loop.Pacing(linger=linger)
    try:
        with loop.worker_run(data, connection, settings, pacing=pacing) as worker:
            worker.run()
    except Exception:  # the process boundary: whatever it was, the queue keeps the work
        log.exception("worker crashed; the queue is intact and the next hook restarts it")
        return "crashed"
    if worker.tally:
        log.info("worker run done: %s", dict(worker.tally))
    if worker.stopped:
        log.warning("worker stopped early: %s", worker.stopped)
    return worker.stopped


def main(data_dir: str, standby: bool = False, lock_fd: int | None = None) -> int:
    """`plexsync.py worker --data-dir D [--standby | --lock-fd N]`, with Stash's connection
    JSON on stdin."""
    path = Path(data_dir)
    to_file(DataDir(path).private_path("worker.log"))
    raw = sys.stdin.read()
    if not raw.strip():  # whoever starts a worker writes at least "{}"
        # The hook that started us was killed (Stash's SIGKILL) before it handed over Stash's
        # connection: without it no Stash request can succeed. Leave at once, the lock with
        # us: the next hook starts a worker that has it (one that comes while we are still
        # here leaves a standby worker, spawn.py).
        log.warning("worker: started without Stash's connection (its hook was killed); leaving")
        return 0
    try:
        connection = json.loads(raw)
    except ValueError:
        log.error("worker: the connection details on stdin were not JSON")
        return 2
    return run_background(path, connection, standby=standby, lock_fd=lock_fd)
