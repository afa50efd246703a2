"""Where PlexSync keeps its data, outside the plugin folder so no upgrade or reinstall loses it.

`PLEXSYNC_DATA_DIR` if set, else `<Stash's config dir>/plexsync` (server_connection.Dir), else
`~/.stash/plexsync`. A corrupt queue or state file is moved aside (what it held is lost, and
the log says so and suggests "Sync all") and the plugin starts fresh.

What it holds (scene titles, file paths, failures) is nobody else's business: the folder is
created 0700 and every file in it 0600, and nothing is written through a symbolic link
planted in it (`private_path`, `write_private`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from errors import DataDirError
from worker.spawn import LOCK_NAME

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which the hook needn't
if TYPE_CHECKING:
    from worker.jobqueue import JobQueue
    from worker.store import Store


def resolve_data_dir(server_connection: dict | None = None, explicit: str | None = None) -> Path:
    """The data directory for this Stash."""
    chosen = explicit or os.environ.get("PLEXSYNC_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser()
    stash_dir = (server_connection or {}).get("Dir")
    if stash_dir:
        return Path(stash_dir) / "plexsync"
    return Path.home() / ".stash" / "plexsync"


PRIVATE_UMASK = 0o077
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where planting links needs admin


class DataDir:
    """The files of one data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Every file this process creates is in here: SQLite's, persist-queue's, the log's,
        # the reports'. A umask is the one setting that reaches all of them.
        os.umask(PRIVATE_UMASK)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(path, exc.strerror or str(exc)) from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise DataDirError(path, "PlexSync may not write there")
        self.queue_path = path / "queue"
        self.state_path = path / "state.db"
        self.index_path = path / "plex_index.db"
        self.lock_path = path / LOCK_NAME
        self.log_path = path / "worker.log"
        self.reports_path = path / "reports"

    def private_path(self, name: str) -> Path:
        """A path in the data directory that is not a symbolic link (one planted here would
        send our writes wherever it points)."""
        path = self.path / name
        if path.is_symlink():
            raise DataDirError(
                self.path,
                f"{name} in it is a symbolic link, which PlexSync "
                "does not write through; delete the link",
            )
        return path

    def write_private(self, name: str, text: str) -> Path:
        """Write a file of ours (UTF-8, 0600, never through a link)."""
        path = self.private_path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NO_FOLLOW, 0o600)
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        return path

    def problems(self) -> list[str]:
        """What makes this data directory unsafe (for status to say)."""
        found = []
        mode = self.path.stat().st_mode & 0o777
        if os.name != "nt" and mode & 0o022:
            found.append(
                f"the data directory {self.path} is writable by other users (mode {mode:o}): "
                "anyone on this machine could change PlexSync's queue; run chmod 700 on it"
            )
        names = (self.queue_path, self.state_path, self.index_path, self.lock_path)
        for path in (*names, self.log_path, self.reports_path):
            if path.is_symlink():
                found.append(
                    f"{path.name} in the data directory is a symbolic link, which PlexSync "
                    "does not write through: delete it"
                )
        return found

    def open_queue(self) -> JobQueue:
        from worker.jobqueue import JobQueue  # persist-queue: not for the UI's quick reads

        self.private_path(self.queue_path.name)
        try:
            return JobQueue(self.queue_path)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            self._move_aside(self.queue_path, exc)
            return JobQueue(self.queue_path)

    def open_store(self) -> Store:
        from worker.store import Store  # not at the top: the hook opens only the queue

        self.private_path(self.state_path.name)
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
        import logging  # here, not at the top: a hook that goes well never imports it

        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(target)
        logging.getLogger("plexsync.data").error(
            "%s was unreadable (%s) and was moved to %s; what it held is lost: "
            "run the 'Sync all scenes to Plex' task to bring Plex up to date",
            path.name,
            exc,
            target.name,
        )
