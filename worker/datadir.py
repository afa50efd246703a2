"""Where PlexSync keeps its data, outside the plugin folder so no upgrade or reinstall loses it.

`PLEXSYNC_DATA_DIR` if set, else `<Stash's config dir>/plexsync` (server_connection.Dir), else
`~/.stash/plexsync`. A corrupt queue or state file is moved aside (what it held is lost, and
the log says so and suggests "Sync all") and the plugin starts fresh.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from worker.spawn import LOCK_NAME
from worker.store import Store

if TYPE_CHECKING:
    from worker.jobqueue import JobQueue

log = logging.getLogger("plexsync.data")


def resolve_data_dir(server_connection: dict | None = None, explicit: str | None = None) -> Path:
    """The data directory for this Stash."""
    chosen = explicit or os.environ.get("PLEXSYNC_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser()
    stash_dir = (server_connection or {}).get("Dir")
    if stash_dir:
        return Path(stash_dir) / "plexsync"
    return Path.home() / ".stash" / "plexsync"


class DataDir:
    """The files of one data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.queue_path = path / "queue"
        self.state_path = path / "state.db"
        self.index_path = path / "plex_index.db"
        self.lock_path = path / LOCK_NAME
        self.log_path = path / "worker.log"
        self.reports_path = path / "reports"

    def open_queue(self) -> JobQueue:
        from worker.jobqueue import JobQueue  # persist-queue: not for the UI's quick reads

        try:
            return JobQueue(self.queue_path)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            self._move_aside(self.queue_path, exc)
            return JobQueue(self.queue_path)

    def open_store(self) -> Store:
        try:
            return Store(self.state_path)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            for suffix in ("-wal", "-shm"):
                Path(f"{self.state_path}{suffix}").unlink(missing_ok=True)
            self._move_aside(self.state_path, exc)
            return Store(self.state_path)

    def _move_aside(self, path: Path, exc: Exception) -> None:
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(target)
        log.error(
            "%s was unreadable (%s) and was moved to %s; what it held is lost: "
            "run the 'Sync all scenes to Plex' task to bring Plex up to date",
            path.name,
            exc,
            target.name,
        )
