"""The disk queue of jobs that are due now: persist-queue's SQLiteAckQueue, within its limits.

Limits of persist-queue we respect: one consumer only (the lock-holding worker); only that
worker resumes in-flight rows (`auto_resume=False` everywhere else, since resuming resets
every in-flight row); `nack` puts a job back at the front at once, so delays live in our own
table; acked rows are deleted (left in place they slow every `get`); opening a brand-new file
from many processes at once can hit a locked database, so the open is retried.

`enqueue` writes the row itself, with the standard library, exactly as persist-queue's `put`
writes it (the same file, table, columns, JSON bytes and status "inited"; the constants below
are checked against the installed persist-queue by tests/test_queue_store.py), and
persist-queue is imported only by the verbs that read the queue, which only the worker and the
tasks use. Why: every hook enqueues, and Stash waits for it on every save. Measured here
(CPU of a fresh interpreter): `import persistqueue` ~60 ms, because its package `__init__`
imports its async queues, hence asyncio, socket and ssl; importing only its SQLite ack-queue
modules (bypassing that `__init__`) still costs ~15 ms, as they import logging, typing and
pickle, and its open makes two connections and counts the table; one INSERT costs ~1 ms.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from state.jobs import BadJob, Job, job_from_payload

TYPE_CHECKING = False  # the hook path imports no typing (entry/hook.py)
if TYPE_CHECKING:
    from os import PathLike

    from persistqueue import SQLiteAckQueue

OPEN_ATTEMPTS = 50
# persist-queue's SQLiteAckQueue(path) with its defaults (name "default", file "data.db") and
# the JSON serializer: sqlbase.SQLiteBase and sqlackqueue.SQLiteAckQueue, persist-queue 1.1.
DB_FILE = "data.db"
TABLE = "`ack_queue_default`"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "_id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB, timestamp FLOAT, status INTEGER)"
)
INSERT = f"INSERT INTO {TABLE} (data, timestamp, status) VALUES (?, ?, 0)"  # 0: "inited"
ACKED = 5  # persist-queue's AckStatus.acked: below it, a job is ready or in flight


class Claimed:
    """A job taken from the queue by the worker; it must be acked or released."""

    # A plain class, not a dataclass: the hook imports this module, and `dataclasses`
    # imports `inspect` (~4 ms).
    __slots__ = ("pqid", "job")

    def __init__(self, pqid: int, job: Job) -> None:
        self.pqid = pqid
        self.job = job

    def __repr__(self) -> str:
        return f"Claimed(pqid={self.pqid}, job={self.job!r})"


class JobQueue:
    """Verbs over the queue directory: enqueue, claim, ack, release."""

    def __init__(self, path: str | PathLike) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = os.fspath(path)
        self._db = _retry_locked(lambda: _connect(self.path))  # a corrupt file raises here
        self._ack_queue: SQLiteAckQueue | None = None

    @property
    def _queue(self) -> SQLiteAckQueue:
        """persist-queue's queue over the same file, opened by the first verb that reads."""
        if self._ack_queue is None:
            self._ack_queue = _retry_locked(lambda: _open(self.path))
        return self._ack_queue

    def enqueue(self, job: Job) -> None:
        """Append a ready job, as persist-queue's `put` would (JSON bytes, now, "inited")."""
        row = (json.dumps(job.payload()).encode("utf-8"), time.time())
        for attempt in range(OPEN_ATTEMPTS):
            try:
                with self._db:
                    self._db.execute(INSERT, row)
                return
            except sqlite3.OperationalError:
                if attempt == OPEN_ATTEMPTS - 1:
                    raise
                _pause()

    def claim(self, limit: int) -> list[Claimed]:
        """Up to `limit` ready jobs, oldest first, marked in flight. A row that is no job
        (written by hand, or damaged) is dropped with a warning: left, it would come back
        at the head of the queue on every claim."""
        from persistqueue.exceptions import Empty

        claimed: list[Claimed] = []
        while len(claimed) < limit:
            try:
                row = self._queue.get(block=False, raw=True)
            except Empty:
                break
            try:
                claimed.append(Claimed(row["pqid"], job_from_payload(row["data"])))
            except BadJob as exc:
                import logging

                logging.getLogger("plexsync.queue").warning("dropped a queued row: %s", exc)
                self._queue.ack(id=row["pqid"])
        return claimed

    def ack(self, claimed: Claimed) -> None:
        self._queue.ack(id=claimed.pqid)

    def release(self, claimed: Claimed) -> None:
        """Back to the front of the queue, untouched (the job keeps its place)."""
        self._queue.nack(id=claimed.pqid)

    def resume_in_flight(self) -> int:
        """Make jobs left in flight by a killed worker ready again (lock holder only)."""
        count = self._queue.unack_count()
        if count:
            self._queue.resume_unack_tasks()
        return count

    def compact(self) -> None:
        """Delete acked rows: left in place they slow every claim."""
        self._queue.clear_acked_data(max_delete=None, keep_latest=None, clear_ack_failed=True)

    def ready(self) -> int:
        """Jobs waiting to be claimed, counted in the file (ready_count() misses new rows,
        which persist-queue stores as 'inited', and qsize() is this process's guess)."""
        return self._queue._count()  # noqa: SLF001

    def in_flight(self) -> int:
        return self._queue.unack_count()

    def jobs(self) -> list[Job]:
        """Every job not yet acked (for inspection; a row that is no job is left out)."""
        return _unacked(self._db)

    def clear(self) -> int:
        """Drop every ready job; returns how many."""
        from persistqueue.exceptions import Empty

        count = 0
        while True:
            try:
                row = self._queue.get(block=False, raw=True)
            except Empty:
                break
            self._queue.ack(id=row["pqid"])
            count += 1
        self.compact()
        return count

    def close(self) -> None:
        if self._ack_queue is not None:
            self._ack_queue.close()
        self._db.close()

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def waiting_jobs(queue_dir: str | PathLike) -> list[Job]:
    """Every job not yet acked, read from the file without persist-queue and without writing
    (the UI's scene-state read: importing persist-queue costs more than its whole answer)."""
    from pathlib import Path

    path = Path(queue_dir, DB_FILE)
    if not path.exists():
        return []
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    try:
        return _unacked(db)
    except sqlite3.OperationalError:  # no table yet: nothing was ever queued
        return []
    finally:
        db.close()


def _unacked(db: sqlite3.Connection) -> list[Job]:
    rows = db.execute(f"SELECT data FROM {TABLE} WHERE status < ?", (ACKED,)).fetchall()
    return [job for job in map(parse_row, rows) if job is not None]


def parse_row(row: tuple) -> Job | None:
    """The job of a queue row (its `data` column), None when it holds none."""
    try:
        return job_from_payload(json.loads(bytes(row[0]).decode("utf-8")))
    except (BadJob, ValueError):
        return None


def _connect(path: str) -> sqlite3.Connection:
    """Our connection to the queue file, set up as persist-queue sets up its own."""
    db = sqlite3.connect(os.path.join(path, DB_FILE), timeout=30, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(CREATE)
        db.commit()
    except sqlite3.Error:  # a corrupt or locked file: do not leak the connection
        db.close()
        raise
    return db


def _open(path: str) -> SQLiteAckQueue:
    from persistqueue import SQLiteAckQueue
    from persistqueue.serializers import json as json_serializer

    return SQLiteAckQueue(
        str(path),
        auto_resume=False,
        multithreading=True,
        serializer=json_serializer,
        timeout=30,
    )


def _retry_locked(open_):
    """open_(), again after a moment while the file is locked (a new file being created)."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return open_()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                raise
            _pause()
    raise AssertionError("unreachable")


def _pause() -> None:
    import random  # here: only a contended open or write needs it

    time.sleep(0.01 + random.random() * 0.05)
