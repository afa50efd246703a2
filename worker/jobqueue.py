"""The disk queue of jobs that are due now: persist-queue's SQLiteAckQueue, within its limits.

Measured limits we respect (DESIGN §3): one consumer only (the lock-holding worker); only
that worker resumes in-flight rows (`auto_resume=False` everywhere else, since resuming resets
every in-flight row); `nack` puts a job back at the front at once, so delays live in our own
table; acked rows are deleted (left in place they slow every `get`); opening a brand-new file
from many processes at once can hit a locked database, so the open is retried.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from persistqueue import SQLiteAckQueue
from persistqueue.exceptions import Empty
from persistqueue.serializers import json as json_serializer

log = logging.getLogger("plexsync.queue")
OPEN_ATTEMPTS = 50


@dataclass(frozen=True)
class Claimed:
    """A job taken from the queue by the worker; it must be acked or released."""

    pqid: int
    job: dict


class JobQueue:
    """Verbs over the queue directory: enqueue, claim, ack, release."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._queue = _open(path)

    def enqueue(self, job: dict) -> None:
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._queue.put(job)
                return
            except sqlite3.OperationalError:
                if attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 + random.random() * 0.05)

    def claim(self, limit: int) -> list[Claimed]:
        """Up to `limit` ready jobs, oldest first, marked in flight."""
        claimed = []
        for _ in range(limit):
            try:
                row = self._queue.get(block=False, raw=True)
            except Empty:
                break
            claimed.append(Claimed(row["pqid"], row["data"]))
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

    def jobs(self) -> list[dict]:
        """Every job not yet acked (for clear/inspection)."""
        rows = self._queue._getter.execute(  # noqa: SLF001 - persist-queue has no public listing
            f"SELECT data FROM {self._queue._table_name} WHERE status < 5"
        )
        return [json_serializer.loads(row[0]) for row in rows.fetchall()]

    def clear(self) -> int:
        """Drop every ready job; returns how many."""
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
        self._queue.close()


def _open(path: Path) -> SQLiteAckQueue:
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return SQLiteAckQueue(
                str(path),
                auto_resume=False,
                multithreading=True,
                serializer=json_serializer,
                timeout=30,
            )
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.01 + random.random() * 0.05)
    raise AssertionError("unreachable")
