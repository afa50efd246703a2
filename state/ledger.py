"""The ledger of Plex views, in state.db: what each view became, so none is imported twice.

A view is keyed by (Plex server, historyKey). Its row is written, as `pending`, in the same
transaction that moves the import's page cursor, before anything is sent to Stash; the play is
then added and the row marked `done`. A crash in between leaves `pending` rows, which the next
step reconciles against the scene's `play_history` in Stash (which holds the times) before
adding anything. Beside the key, a view is also known by what it means, (scene, account,
viewedAt): a history renumbered by a Plex database rebuild or restore cannot add a play twice.

States: pending, done (the play is in Stash), unmapped (no synced scene holds the item),
duplicate (the same view under another key), gone (the scene was deleted from Stash),
unreadable (the entry held no view: counted once), future (dated past now and a margin: a
wrong clock; such a row is looked at again each time Plex lists it, and is replaced once its
date has come).
The tables are new in this release and additive (older releases ignore them), so they are
created here, on first use, without a schema version step. Standard library only.
"""

from __future__ import annotations

import json
from collections import Counter

from state.store import Store

PENDING, DONE, UNMAPPED, DUPLICATE, GONE = "pending", "done", "unmapped", "duplicate", "gone"
UNREADABLE, FUTURE = "unreadable", "future"
CHUNK = 500  # keys per IN list: SQLite before 3.32 allows 999 variables in a statement
_SCHEMA = """
CREATE TABLE IF NOT EXISTS activity_views (
    machine TEXT NOT NULL, history_key TEXT NOT NULL, account_id INTEGER, viewed_at INTEGER,
    rating_key TEXT, scene_id INTEGER, state TEXT NOT NULL, recorded_at REAL,
    PRIMARY KEY (machine, history_key));
CREATE INDEX IF NOT EXISTS activity_views_scene ON activity_views(scene_id, viewed_at);
CREATE INDEX IF NOT EXISTS activity_views_state ON activity_views(state, scene_id);
"""
LAST_RUN = "activity.last_run"
AUTO_AT = "activity.auto_at"


class ActivityLedger:
    """The views of one Plex server (its machine identifier) in one state file."""

    def __init__(self, store: Store, machine: str) -> None:
        self.store = store
        self.db = store.db
        self.machine = machine
        if not self.db.in_transaction:  # executescript would commit an open transaction
            self.db.executescript(_SCHEMA)

    # -- recording views

    def known(self, history_keys: list[str]) -> set[str]:
        """The keys already recorded for good (a view dated in the future is not)."""
        found: set[str] = set()
        for at in range(0, len(history_keys), CHUNK):
            chunk = history_keys[at : at + CHUNK]
            rows = self.db.execute(
                "SELECT history_key FROM activity_views WHERE machine = ? AND state != ? "
                f"AND history_key IN ({','.join('?' * len(chunk))})",
                (self.machine, FUTURE, *chunk),
            )
            found.update(row[0] for row in rows.fetchall())
        return found

    def scene_of(self, rating_key: str) -> int | None:
        """The Stash scene PlexSync synced to this Plex item, if any."""
        row = self.db.execute(
            "SELECT scene_id FROM sync_state WHERE machine = ? AND rating_key = ? LIMIT 1",
            (self.machine, rating_key),
        ).fetchone()
        return row[0] if row else None

    def same_view(self, scene_id: int, account_id: int, viewed_at: int) -> bool:
        """The view is already recorded under another key (a renumbered history)."""
        row = self.db.execute(
            "SELECT 1 FROM activity_views WHERE scene_id = ? AND account_id = ? AND viewed_at = ?"
            " AND state IN (?, ?) LIMIT 1",
            (scene_id, account_id, viewed_at, PENDING, DONE),
        ).fetchone()
        return row is not None

    def record(self, view, scene_id: int | None, state: str, now: float) -> None:
        """Record a view's fate; a row already there stays, unless it was dated in the future."""
        self.db.execute(
            "INSERT INTO activity_views VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (machine, history_key) DO UPDATE SET viewed_at = excluded.viewed_at, "
            "account_id = excluded.account_id, rating_key = excluded.rating_key, "
            "scene_id = excluded.scene_id, state = excluded.state, "
            "recorded_at = excluded.recorded_at WHERE activity_views.state = ?",
            (
                self.machine,
                view.history_key,
                view.account_id,
                view.viewed_at,
                view.rating_key,
                scene_id,
                state,
                now,
                FUTURE,
            ),
        )

    def record_unreadable(self, history_keys: list[str], now: float) -> None:
        """Entries that held no view: kept by key only, so each is counted once."""
        self.db.executemany(
            "INSERT OR IGNORE INTO activity_views (machine, history_key, state, recorded_at) "
            "VALUES (?, ?, ?, ?)",
            [(self.machine, key, UNREADABLE, now) for key in history_keys],
        )

    def remappable(self) -> list[tuple[int, int, int, str]]:
        """Unmapped views whose item PlexSync has synced since: (scene, account, viewedAt,
        historyKey) each, for the caller to record anew."""
        rows = self.db.execute(
            "SELECT s.scene_id, v.account_id, v.viewed_at, v.history_key FROM activity_views v "
            "JOIN sync_state s ON s.machine = v.machine AND s.rating_key = v.rating_key "
            "WHERE v.state = ? AND v.machine = ? GROUP BY v.history_key",
            (UNMAPPED, self.machine),
        )
        return rows.fetchall()

    def restate(self, history_key: str, scene_id: int, state: str, now: float) -> None:
        self.db.execute(
            "UPDATE activity_views SET scene_id = ?, state = ?, recorded_at = ? "
            "WHERE machine = ? AND history_key = ?",
            (scene_id, state, now, self.machine, history_key),
        )

    # -- applying them

    def pending(self) -> dict[int, Counter]:
        """Scenes with pending views: scene -> views per viewedAt second."""
        rows = self.db.execute(
            "SELECT scene_id, viewed_at FROM activity_views WHERE state = ? AND machine = ?",
            (PENDING, self.machine),
        )
        found: dict[int, Counter] = {}
        for scene_id, viewed_at in rows.fetchall():
            found.setdefault(scene_id, Counter())[viewed_at] += 1
        return found

    def ours(self, scene_id: int) -> Counter:
        """Views of the scene that are (or are about to be) plays in Stash, per second."""
        rows = self.db.execute(
            "SELECT viewed_at FROM activity_views WHERE scene_id = ? AND state IN (?, ?)",
            (scene_id, PENDING, DONE),
        )
        return Counter(row[0] for row in rows.fetchall())

    def settle(self, scene_ids: list[int], state: str) -> int:
        """Pending views of these scenes become `state`; how many did."""
        count = 0
        for scene_id in scene_ids:
            count += self.db.execute(
                "UPDATE activity_views SET state = ? WHERE state = ? AND machine = ? "
                "AND scene_id = ?",
                (state, PENDING, self.machine, scene_id),
            ).rowcount
        return count

    # -- cursors and results

    def cursor(self, name: str) -> int:
        return int(self.store.get_meta(f"activity.{name}:{self.machine}") or 0)

    def advance(self, name: str, value: int) -> None:
        if value > self.cursor(name):
            self.store.set_meta(f"activity.{name}:{self.machine}", str(int(value)))

    def counted_since(self, started: float) -> Counter:
        """Views recorded since `started`, per state."""
        rows = self.db.execute(
            "SELECT state, COUNT(*) FROM activity_views WHERE machine = ? AND recorded_at >= ? "
            "GROUP BY state",
            (self.machine, started),
        )
        return Counter(dict(rows.fetchall()))


def save_last_run(store: Store, result: dict) -> None:
    store.set_meta(LAST_RUN, json.dumps(result))


def last_run(store: Store) -> dict | None:
    raw = store.get_meta(LAST_RUN)
    return json.loads(raw) if raw else None


def activity_status(store: Store) -> dict:
    """For status: when the last import ran, what it imported and skipped; totals."""
    table = store.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'activity_views'"
    ).fetchone()
    totals: Counter = Counter()
    if table:
        rows = store.db.execute("SELECT state, COUNT(*) FROM activity_views GROUP BY state")
        totals.update(dict(rows.fetchall()))
    run = last_run(store) or {}
    return {
        "last_run": run.get("at"),
        "views_imported": run.get("views_imported", 0),
        "views_unmapped": run.get("views_unmapped", 0),
        "resume_points": run.get("resume_points", 0),
        "total_views_imported": totals[DONE],
        "total_views_unmapped": totals[UNMAPPED],
    }
