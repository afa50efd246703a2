"""Operations behind Stash's UI that are not the quick scene-state read: Sync now, the
PlexSync page's overview, the last verify report, and the record of the last task runs."""

from __future__ import annotations

import json
import time

from entry.context import Context
from state.jobs import BY_PERSON, SceneJob
from worker.spawn import start_worker_if_idle

RUNS_KEY = "ui_last_runs"
RUNS_KEPT = 10


def sync_scenes(ctx: Context, scene_ids: list[int]) -> dict:
    """Queue these scenes with a forced write (what we wrote before is forgotten, so the
    worker writes every field again) and make sure a worker runs."""
    store = ctx.data.open_store()
    queue = ctx.data.open_queue()
    try:
        for scene_id in scene_ids:
            store.forget_written(scene_id)
            queue.enqueue(SceneJob(scene_id, BY_PERSON, time.time(), cover=True))
    finally:
        queue.close()
        store.close()
    started = start_worker_if_idle(ctx.data.path, ctx.connection)
    return {"queued": len(scene_ids), "worker_started": started}


def overview(ctx: Context) -> dict:
    """Everything the PlexSync page shows, in one process: status, failures, runs, verify."""
    from entry.failed import failed_list
    from entry.status import status

    result = status(ctx)
    result["failed_jobs"] = failed_list(ctx)["jobs"]
    result["last_runs"] = last_runs(ctx)
    result["last_verify"] = _last_verify(ctx)
    return result


def verify_report(ctx: Context) -> dict:
    """The newest verify report's HTML page (the browser cannot read our data folder)."""
    newest = _newest_report(ctx)
    if newest is None:
        raise LookupError("no verify report yet: run Verify first")
    return {
        "name": newest.with_suffix(".html").name,
        "html": newest.with_suffix(".html").read_text(),
    }


def record_run(ctx: Context, name: str, started: float, result, error: str | None) -> None:
    """Remember a task run for the PlexSync page (newest first, a few kept)."""
    run = {"task": name, "started": started, "seconds": round(time.time() - started, 1)}
    if error is not None:
        run["error"] = error
    elif isinstance(result, dict):
        numbers = (int, float)  # counts and seconds; not paths, not nested reports
        run["result"] = {k: v for k, v in result.items() if isinstance(v, numbers)}
    store = ctx.data.open_store()
    try:
        with store.transaction():
            runs = json.loads(store.get_meta(RUNS_KEY) or "[]")
            store.set_meta(RUNS_KEY, json.dumps([run, *runs][:RUNS_KEPT]))
    finally:
        store.close()


def last_runs(ctx: Context) -> list[dict]:
    store = ctx.data.open_store()
    try:
        return json.loads(store.get_meta(RUNS_KEY) or "[]")
    finally:
        store.close()


def _newest_report(ctx: Context):
    folder = ctx.data.reports_path
    reports = sorted(folder.glob("verify-*.json")) if folder.exists() else []
    return reports[-1] if reports else None


def _last_verify(ctx: Context) -> dict | None:
    newest = _newest_report(ctx)
    if newest is None:
        return None
    summary = json.loads(newest.read_text())["summary"]
    return {"name": newest.name, **{k: v for k, v in summary.items() if k != "report"}}
