"""The hook path: Stash waits for it on every save, so it only enqueues and returns.

It reads Stash's stdin, drops updates that touch no synced field, enqueues one small job,
starts the background worker if none holds the lock, and exits.

The rule of the hook path, stated here once. A hook runs these modules and no others of ours:
plexsync.py, entry/plugin.py, entry/hook.py, errors.py, state/jobs.py, state/datadir.py,
state/queue.py, state/lock.py and worker/spawn.py (logs.py only when the queue file must be
moved aside). At the top they import only the standard library's os, sys, json, time and
sqlite3, and each other; anything heavier (persist-queue, logging, subprocess, pathlib,
typing, dataclasses) is imported inside the function that needs it, which a hook that goes
well never calls. So they use `TYPE_CHECKING = False` instead of importing typing, and plain
classes instead of dataclasses. Why: Stash waits for the hook on every save, and each of those
imports costs milliseconds of a budget measured against a bare sqlite3 INSERT
(`python3 dev.py bench hook_cost`; the costs are listed in bench/README.md).
tests/test_layout.py holds the list; tests/test_hook_light.py proves what a hook loads.
"""

from __future__ import annotations

import json
import time

from state.jobs import RENAME_SCANS, SCENE_HOOKS, SYNCED_INPUT_FIELDS, Job, ScanJob, SceneJob

MAX_STDIN = 10 * 1024 * 1024  # Stash sends a few KiB; anything near this is not from Stash


class BadInput(Exception):
    """Stdin is not what Stash sends; the message says what was wrong."""


def parse_stdin(raw: str) -> tuple[dict, dict]:
    """(server_connection, args) from the one JSON object Stash writes."""
    if not raw.strip():
        raise BadInput("no input on stdin: PlexSync is meant to be run by Stash (or see --help)")
    if len(raw) > MAX_STDIN:
        raise BadInput(f"input on stdin is {len(raw)} bytes, far more than Stash ever sends")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(f"stdin is not JSON ({exc.msg} at position {exc.pos})") from None
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise BadInput(f"stdin is not JSON Stash would send ({exc})") from None
    if not isinstance(payload, dict):
        raise BadInput("stdin JSON is not an object")
    connection = payload.get("server_connection") or {}
    args = payload.get("args")
    if not isinstance(connection, dict) or not isinstance(args, dict):
        raise BadInput("stdin JSON has no 'args' object (is this Stash's plugin input?)")
    return connection, args


def job_for_hook(context: dict, now: float) -> Job | None:
    """The job a hook event asks for, or None when it touches nothing we sync."""
    trigger = context.get("type")
    try:
        object_id = int(context.get("id"))
    except (TypeError, ValueError):
        raise BadInput(f"hook {trigger!r} has no valid object id ({context.get('id')!r})") from None
    if trigger in SCENE_HOOKS:
        fields = context.get("inputFields")
        if trigger == "Scene.Update.Post" and fields and not SYNCED_INPUT_FIELDS & set(fields):
            return None
        cover = not fields or "cover_image" in fields
        return SceneJob(object_id, trigger, now, cover=cover)
    if trigger in RENAME_SCANS:
        return ScanJob(RENAME_SCANS[trigger], now, object_id, trigger)
    raise BadInput(f"hook {trigger!r} is not one PlexSync handles")


def handle_hook(connection: dict, context: dict, start: bool = True) -> str:
    """Enqueue the hook's job and make sure a worker will run; returns a short status."""
    if not isinstance(context, dict):
        raise BadInput("hookContext is not an object")
    job = job_for_hook(context, time.time())
    if job is None:
        return "ignored (no synced field changed)"
    from state.datadir import DataDir, resolve_data_dir  # only when queuing
    from worker.spawn import start_worker_if_idle

    data = DataDir(resolve_data_dir(connection))
    if not _looks_like_sqlite(data.queue_file()):
        from logs import to_stash

        to_stash()  # opening it will move it aside and log why: Stash must see that line
    with data.open_queue() as queue:
        queue.enqueue(job)
    if start:
        start_worker_if_idle(data.root, connection)
    return "queued"


def _looks_like_sqlite(path) -> bool:
    """Whether the queue file is absent or starts as SQLite files do (a cheap look: no open)."""
    try:
        with open(path, "rb") as db:
            return db.read(16) in (b"SQLite format 3\x00", b"")
    except FileNotFoundError:
        return True
