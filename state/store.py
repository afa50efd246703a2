"""Our own SQLite tables: delayed retries, dead letters, per-scene sync state, scan cursors.

The persist-queue file holds only work that is due now. A retry waits here, in `delayed`,
until its time comes; the worker then puts it back on the queue (`requeue_due`: put first,
delete after, so a crash in between repeats the job and never loses it). A job's failure
history (`failures`: attempts, first failure) outlives that move: it is kept until the job
succeeds, is given up, is dead-lettered or is dropped, so backoff doubles and
`failAfterHours` applies. Moves into
`delayed` and `dead_letter` are written before the queue ack for the same reason, and keyed by
job so a repeat is a no-op.

The tables and their upgrades are in state/schema.py. Past the 300-line alarm on purpose: every
verb on state.db's tables lives here, so no other module writes its SQL.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from logs import redact
from state.jobs import Job, job_from_payload
from state.schema import SCHEMA_VERSION, prepare

TYPE_CHECKING = False
if TYPE_CHECKING:
    from state.queue import JobQueue

__all__ = ["SCHEMA_VERSION", "Failure", "ItemState", "Store"]


@dataclass(frozen=True)
class Failure:
    """What we know about a job's earlier failures."""

    attempts: int
    first_failed_at: float
    due_at: float | None = None  # when its retry waiting in `delayed` falls due, if one does


@dataclass(frozen=True)
class ItemState:
    """What we last wrote to one Plex item for one scene."""

    rating_key: str
    fingerprint: str
    cover_key: str  # "<cover version> <digest>" sent, or "<version> over-cap <bytes>" not sent


def over_cap_cover_key(version: str, size: int) -> str:
    """The cover key of a cover left unsent for being over the size cap."""
    return f"{version}{_OVER_CAP}{size}"


def cover_over_cap(cover_key: str | None) -> int | None:
    """The size of a cover left unsent for being over the cap, from its cover key."""
    _, over, size = (cover_key or "").rpartition(_OVER_CAP)
    return int(size) if over and size.isdigit() else None


_OVER_CAP = " over-cap "


class Store:
    """The state database of one data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        try:
            prepare(self.db)
        except (RuntimeError, sqlite3.Error):  # a newer or unreadable file: leave it as it is
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- delayed retries

    def failure(self, job_key: str) -> Failure | None:
        """The job's failures so far (also while its retry is back on the queue)."""
        row = self.db.execute(
            "SELECT f.attempts, f.first_failed_at, d.due_at FROM failures f "
            "LEFT JOIN delayed d USING (job_key) WHERE f.job_key = ? UNION ALL "
            "SELECT attempts, first_failed_at, NULL FROM dead_letter WHERE job_key = ?",
            (job_key, job_key),
        ).fetchone()
        return Failure(row[0], row[1], row[2]) if row else None

    def delay(self, job: Job, due_at: float, failure: Failure, error: Exception) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
            (job.key, failure.attempts, failure.first_failed_at),
        )
        self.db.execute(
            "INSERT OR REPLACE INTO delayed VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                job.key,
                json.dumps(job.payload()),
                due_at,
                failure.attempts,
                failure.first_failed_at,
                type(error).__name__,
                redact(str(error)),  # a message may quote a URL with credentials
            ),
        )

    def due(self, now: float, limit: int = 1000) -> list[tuple[str, Job]]:
        rows = self.db.execute(
            "SELECT job_key, job FROM delayed WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [(key, job_from_payload(json.loads(job))) for key, job in rows.fetchall()]

    def next_due(self) -> float | None:
        return self.db.execute("SELECT MIN(due_at) FROM delayed").fetchone()[0]

    def requeue_due(self, queue: JobQueue, now: float) -> int:
        """Put the retries due by `now` back on the queue; their failure history stays."""
        due = self.due(now)
        return self._requeue(queue, due, "delayed")

    def delayed_entry(self, job_key: str) -> sqlite3.Row | None:
        """The job's waiting retry: due_at, attempts, last_error..., or None."""
        return self.db.execute("SELECT * FROM delayed WHERE job_key = ?", (job_key,)).fetchone()

    def _requeue(self, queue: JobQueue, rows: list[tuple[str, Job]], table: str) -> int:
        """Put first, delete after: a crash in between repeats a job and never loses one."""
        for _, job in rows:
            queue.enqueue(job)
        self.db.executemany(f"DELETE FROM {table} WHERE job_key = ?", [(k,) for k, _ in rows])
        return len(rows)

    def clear_failure(self, job_key: str) -> None:
        """A job succeeded (or was given up): forget its retries, history and dead letter."""
        for table in ("delayed", "failures", "dead_letter"):
            self.db.execute(f"DELETE FROM {table} WHERE job_key = ?", (job_key,))

    # -- dead letters

    def dead_letter(
        self, job: Job, failure: Failure, error: Exception, now: float, token: str = ""
    ) -> None:
        """The only writer of the DLQ; removes the job's delayed row and its progress (a scan's
        or an import's cursor: a retry starts afresh, and an automatic import is not held
        back by a run that will never finish) in the same transaction."""
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO dead_letter VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.key,
                    json.dumps(job.payload()),
                    type(error).__name__,
                    redact(str(error)),  # a message may quote a URL with credentials
                    failure.attempts,
                    failure.first_failed_at,
                    now,
                    token,
                ),
            )
            self.db.execute("DELETE FROM delayed WHERE job_key = ?", (job.key,))
            self.db.execute("DELETE FROM failures WHERE job_key = ?", (job.key,))
            self.db.execute("DELETE FROM scans WHERE job_key = ?", (job.key,))

    def has_token_failures(self) -> bool:
        """Whether any job failed because Plex rejected the token (only those carry one)."""
        row = self.db.execute("SELECT 1 FROM dead_letter WHERE token != '' LIMIT 1").fetchone()
        return row is not None

    def failed(self, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM dead_letter ORDER BY last_failed_at DESC"
        return self.db.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()

    def failed_entry(self, job_key: str) -> sqlite3.Row | None:
        """The job's dead letter: message, attempts, last_failed_at..., or None."""
        return self.db.execute("SELECT * FROM dead_letter WHERE job_key = ?", (job_key,)).fetchone()

    def requeue_failed(
        self, queue: JobQueue, keys: list[str] | None = None, token_other_than: str | None = None
    ) -> int:
        """Put the dead-lettered jobs with these keys (all when None) back on the queue, or
        those that failed on a token other than the given fingerprint; how many."""
        return self._requeue(queue, self._failed_jobs(keys, token_other_than), "dead_letter")

    def clear_failed(self, keys: list[str] | None = None) -> int:
        """Delete the dead letters with these keys (all when None); how many."""
        if keys is None:
            return self.db.execute("DELETE FROM dead_letter").rowcount
        chosen = [(key,) for key, _ in self._failed_jobs(keys)]
        self.db.executemany("DELETE FROM dead_letter WHERE job_key = ?", chosen)
        return len(chosen)

    def _failed_jobs(
        self, keys: list[str] | None = None, token_other_than: str | None = None
    ) -> list[tuple[str, Job]]:
        sql, args = "SELECT job_key, job FROM dead_letter", []
        if token_other_than is not None:
            sql, args = sql + " WHERE token != '' AND token != ?", [token_other_than]
        rows = self.db.execute(sql, args).fetchall()
        wanted = None if keys is None else set(keys)  # the list is short: filter here
        return [
            (key, job_from_payload(json.loads(job)))
            for key, job in rows
            if wanted is None or key in wanted
        ]

    def failed_with(self, error_class: str) -> list[tuple[str, Job]]:
        """The jobs waiting for a retry or in the failed list whose last error was of this
        class, to bring back when a setting that caused it changed (`requeue_failed_with`)."""
        rows = self.db.execute(
            "SELECT job_key, job FROM delayed WHERE error_class = ? UNION "
            "SELECT job_key, job FROM dead_letter WHERE error_class = ?",
            (error_class, error_class),
        ).fetchall()
        return [(key, job_from_payload(json.loads(job))) for key, job in rows]

    def requeue_failed_with(self, queue: JobQueue, error_class: str) -> int:
        """Put the jobs `failed_with` this error class back on the queue, then forget their
        retries and failure history; how many."""
        back = self.failed_with(error_class)
        for _, job in back:
            queue.enqueue(job)
        for key, _ in back:  # put first, delete after
            self.clear_failure(key)
        return len(back)

    def clear_delayed(self) -> int:
        """Drop every scheduled retry (and, with them, every job's failure history)."""
        self.db.execute("DELETE FROM failures")
        return self.db.execute("DELETE FROM delayed").rowcount

    # -- sync state

    def items(self, scene_id: int, machine: str) -> dict[str, ItemState]:
        rows = self.db.execute(
            "SELECT rating_key, fingerprint, cover_key FROM sync_state "
            "WHERE scene_id = ? AND machine = ?",
            (scene_id, machine),
        )
        return {r[0]: ItemState(*r) for r in rows.fetchall()}

    def synced_items(self, scene_id: int) -> list[sqlite3.Row]:
        """Every Plex item (machine, rating_key, synced_at, cover_key) the scene was written to."""
        return self.db.execute(
            "SELECT machine, rating_key, synced_at, cover_key FROM sync_state WHERE scene_id = ?",
            (scene_id,),
        ).fetchall()

    def claimed_by(self, machine: str, rating_key: str, scene_id: int) -> int | None:
        """Another scene that already owns this Plex item, if any."""
        row = self.db.execute(
            "SELECT scene_id FROM sync_state WHERE machine = ? AND rating_key = ? "
            "AND scene_id != ? LIMIT 1",
            (machine, rating_key, scene_id),
        ).fetchone()
        return row[0] if row else None

    def save_items(self, scene_id: int, machine: str, items: list[ItemState], now: float) -> None:
        """Replace what we remember of the scene on this server."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM sync_state WHERE scene_id = ? AND machine = ?", (scene_id, machine)
            )
            self.db.executemany(
                "INSERT INTO sync_state VALUES (?, ?, ?, ?, ?, ?)",
                [(scene_id, machine, i.rating_key, i.fingerprint, i.cover_key, now) for i in items],
            )

    def forget_scene(self, scene_id: int) -> None:
        """The scene is gone from Stash: drop its state, retries and dead letters."""
        key = f"scene:{scene_id}"
        with self.transaction():
            self.db.execute("DELETE FROM sync_state WHERE scene_id = ?", (scene_id,))
            for table in ("delayed", "failures", "dead_letter"):
                self.db.execute(f"DELETE FROM {table} WHERE job_key = ?", (key,))

    def forget_unlisted(self, after_id: int, upto_id: int | None, listed: set[int]) -> list[int]:
        """Forget the scenes with ids in (after_id, upto_id] (no upper bound: None) that a
        full listing of Stash did not return: they were deleted or merged away."""
        rows = self.db.execute(
            "SELECT DISTINCT scene_id FROM sync_state WHERE scene_id > ? AND scene_id <= ?",
            (after_id, upto_id if upto_id is not None else 2**62),
        ).fetchall()
        gone = [row[0] for row in rows if row[0] not in listed]
        for scene_id in gone:
            self.forget_scene(scene_id)
        return gone

    def forget_written(self, scene_id: int) -> None:
        """Forget what we wrote for the scene, so its next sync writes every field again."""
        self.db.execute("DELETE FROM sync_state WHERE scene_id = ?", (scene_id,))

    def forget_item(self, machine: str, rating_key: str) -> None:
        self.db.execute(
            "DELETE FROM sync_state WHERE machine = ? AND rating_key = ?", (machine, rating_key)
        )

    # -- scan cursors

    def scan(self, job_key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM scans WHERE job_key = ?", (job_key,)).fetchone()

    def save_scan(self, job_key: str, after_id: int, total: int, done: int, started: float):
        self.db.execute(
            "INSERT OR REPLACE INTO scans VALUES (?, ?, ?, ?, ?)",
            (job_key, after_id, total, done, started),
        )

    def end_scan(self, job_key: str) -> None:
        self.db.execute("DELETE FROM scans WHERE job_key = ?", (job_key,))

    def scans(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM scans").fetchall()

    # -- counts

    def counts(self) -> dict[str, int]:
        one = self.db.execute
        return {
            "delayed": one("SELECT COUNT(*) FROM delayed").fetchone()[0],
            "failed": one("SELECT COUNT(*) FROM dead_letter").fetchone()[0],
            "synced_scenes": one("SELECT COUNT(DISTINCT scene_id) FROM sync_state").fetchone()[0],
        }

    def transaction(self):
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (the connection runs in autocommit mode otherwise); inside
    an open transaction it adds nothing, so a batch can wrap many small writes in one."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self):
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if self.outer:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
