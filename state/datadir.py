"""Where PlexSync keeps its data, outside the plugin folder so no upgrade or reinstall loses it.

`PLEXSYNC_DATA_DIR` if set, else `<Stash's config dir>/plexsync` (server_connection.Dir), else
`~/.stash/plexsync`. A corrupt queue or state file is moved aside (what it held is lost, and
the log says so and suggests "Sync all") and the plugin starts fresh.

What it holds (scene titles, file paths, failures) is nobody else's business: the folder is
created 0700 and every file in it 0600, and nothing is written through a symbolic link
planted in it (`private_path`, `write_private`).

The hook's path (`resolve_data_dir`, `DataDir()`, `root`, `queue_file`, `open_queue`) keeps
to os.path; the `Path` attributes the rest of PlexSync uses are built on first use (why:
worker/spawn.py).
"""

from __future__ import annotations

import os
import sqlite3
import time

from errors import DataDirError
from state.lock import LOCK_NAME

TYPE_CHECKING = False  # the hook path imports no typing (entry/hook.py)
if TYPE_CHECKING:
    from os import PathLike
    from pathlib import Path

    from state.queue import JobQueue
    from state.store import Store

QUEUE_DIR = "queue"


def _read_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(200).strip()
    except FileNotFoundError:
        return ""


def resolve_data_dir(server_connection: dict | None = None, explicit: str | None = None) -> str:
    """The data directory for this Stash."""
    chosen = explicit or os.environ.get("PLEXSYNC_DATA_DIR")
    if chosen:
        return os.path.expanduser(chosen)
    stash_dir = (server_connection or {}).get("Dir")
    if stash_dir:
        return os.path.join(stash_dir, "plexsync")
    return os.path.join(os.path.expanduser("~"), ".stash", "plexsync")


PRIVATE_UMASK = 0o077
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where planting links needs admin


class DataDir:
    """The files of one data directory."""

    def __init__(self, path: str | PathLike) -> None:
        self.root = os.fspath(path)
        # Every file this process creates is in here: SQLite's, persist-queue's, the log's,
        # the reports'. A umask is the one setting that reaches all of them.
        os.umask(PRIVATE_UMASK)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise DataDirError(self.root, exc.strerror or str(exc)) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise DataDirError(self.root, "PlexSync may not write there")

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.root)

    queue_path = property(lambda self: self.path / QUEUE_DIR)
    state_path = property(lambda self: self.path / "state.db")
    index_path = property(lambda self: self.path / "plex_index.db")
    lock_path = property(lambda self: self.path / LOCK_NAME)
    log_path = property(lambda self: self.path / "worker.log")
    reports_path = property(lambda self: self.path / "reports")
    client_id_name = "plex_client_id"

    def client_identifier(self) -> str:
        """The identifier PlexSync gives Plex (X-Plex-Client-Identifier): made once, kept here,
        so Plex sees one device however often the plugin or its container is replaced."""
        import contextlib  # here: the hook imports this module, never this method
        import uuid

        path = self._private(self.client_id_name)
        kept = _read_line(path)
        if kept:
            return kept
        # Written aside and linked into place: the first of two processes at once wins, and
        # neither ever reads a half-written file.
        new = str(uuid.uuid4())
        draft = self.write_private(f"{self.client_id_name}.{new}", new + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: the last of the two wins
            os.replace(draft, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(draft)
        return _read_line(path)

    def queue_file(self) -> str:
        """The queue's SQLite file."""
        from state.queue import DB_FILE

        return os.path.join(self.root, QUEUE_DIR, DB_FILE)

    def private_path(self, name: str) -> Path:
        """A path in the data directory that is not a symbolic link (one planted here would
        send our writes wherever it points)."""
        self._private(name)
        return self.path / name

    def _private(self, name: str) -> str:
        path = os.path.join(self.root, name)
        if os.path.islink(path):
            raise DataDirError(
                self.root,
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
        if os.path.islink(self.root.rstrip("/\\") or self.root):
            found.append(
                f"the data directory {self.path} is a symbolic link to "
                f"{os.path.realpath(self.root)}: PlexSync follows it there; if that is not "
                "meant, set PLEXSYNC_DATA_DIR to a folder of your own"
            )
        owner = getattr(self.path.stat(), "st_uid", None)
        if os.name != "nt" and owner not in (None, os.geteuid()):
            found.append(
                f"the data directory {self.path} is owned by another user (uid {owner}), who "
                "can change PlexSync's queue and state: give it to the user Stash runs as"
            )
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
        from state.queue import JobQueue  # persist-queue: not for the UI's quick reads

        queue_dir = self._private(QUEUE_DIR)
        try:
            return JobQueue(queue_dir)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            self._move_aside(self.queue_path, exc)
            return JobQueue(queue_dir)

    def open_store(self) -> Store:
        from state.store import Store  # not at the top: the hook opens only the queue

        self.private_path(self.state_path.name)
        try:
            return Store(self.state_path)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            for suffix in ("-wal", "-shm"):
                self.path.joinpath(f"{self.state_path.name}{suffix}").unlink(missing_ok=True)
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
