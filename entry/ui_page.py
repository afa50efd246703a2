"""Operations behind Stash's UI that are not the quick scene-state read: Sync now, the
PlexSync page's overview, the last verify report, and the record of the last task runs."""

from __future__ import annotations

import json
import time

from entry import diagnosis
from entry.context import Context
from entry.scene_state import read_config, scene_state
from state.jobs import BY_PERSON, SceneJob
from worker.spawn import start_worker_if_idle

RUNS_KEY = "ui_last_runs"
RUNS_KEPT = 10
SYNC_NOW_WAIT = 10.0  # Sync now answers with the result within this; the tab follows after


def sync_scenes(ctx: Context, scene_ids: list[int]) -> dict:
    """Sync now: queue these scenes with a forced write (what we wrote before is forgotten,
    so the worker writes every field again), make sure a worker runs, and say what happened:
    each scene's state once the worker has tried it ("queued" while it has not, within
    SYNC_NOW_WAIT), or the problem that stops the sync (entry/diagnosis.py). With Plex away
    the scenes are queued all the same: they go out when Plex answers."""
    problem = _sync_now_problem(ctx)
    if problem is not None and problem.kind != "plex_unreachable":
        return {"queued": 0, "problem": problem.as_dict()}
    with ctx.data.open_store() as store, ctx.data.open_queue() as queue:
        for scene_id in scene_ids:
            store.forget_written(scene_id)
            queue.enqueue(SceneJob(scene_id, BY_PERSON, time.time(), cover=True))
        started = start_worker_if_idle(ctx.data.path, ctx.connection)
        if problem is None:
            _wait_while_queued(ctx, queue, set(scene_ids))
    answer = {"queued": len(scene_ids), "worker_started": started}
    if problem is not None:
        answer["problem"] = problem.as_dict()
    states = scene_state(ctx, [{"id": scene_id, "files": None} for scene_id in scene_ids])
    answer["states"] = states["states"]
    return answer


def _sync_now_problem(ctx: Context):
    """What stops a sync now: settings missing or invalid, a token Plex refuses, Plex away."""
    from plex.client import probe
    from plex.identity import ClientIdentity, plugin_version

    config, problem = diagnosis.config_problem(lambda: read_config(ctx))
    if problem is None:
        identity = ClientIdentity(ctx.data.client_identifier(), plugin_version())
        _, problem = diagnosis.plex_problem(config, probe, identity)
    return problem


def _wait_while_queued(ctx: Context, queue, scene_ids: set[int]) -> None:
    """Until the worker has tried every one of these scenes, or SYNC_NOW_WAIT has passed."""
    deadline = time.monotonic() + SYNC_NOW_WAIT
    while time.monotonic() < deadline:
        queued = {job.scene_id for job in queue.jobs() if isinstance(job, SceneJob)}
        if queued.isdisjoint(scene_ids):
            return
        ctx.sleep(0.2)


def overview(ctx: Context) -> dict:
    """Everything the PlexSync page shows, in one process: status, failures, runs, verify."""
    from entry.failed import failed_list
    from entry.status import status

    result = status(ctx)
    result["failed_jobs"] = failed_list(ctx)["jobs"]
    result["last_runs"] = [{**run, "title": _title(run["task"])} for run in last_runs(ctx)]
    result["last_verify"] = _last_verify(ctx)
    return result


def _title(task: str) -> str:
    """An operation as the page names it: its task's name in Stash ("Sync all scenes to
    Plex", never "sync_all")."""
    from entry.operations import OPERATIONS

    op = OPERATIONS.get(task)
    if op is None:
        return task
    return op.task or op.help[0].upper() + op.help[1:]


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
    """Remember a task run for the PlexSync page (newest first, a few kept), with what it
    came to in words (`said`)."""
    run = {"task": name, "started": started, "seconds": round(time.time() - started, 1)}
    if error is not None:
        run["error"] = error
        run["said"] = f"failed: {error}"
    elif isinstance(result, dict):
        # counts and seconds; not flags, paths or nested reports
        run["result"] = {k: v for k, v in result.items() if _is_number(v)}
        run["said"] = run_summary(result)
    with ctx.data.open_store() as store, store.transaction():
        runs = json.loads(store.get_meta(RUNS_KEY) or "[]")
        store.set_meta(RUNS_KEY, json.dumps([run, *runs][:RUNS_KEPT]))


# A run's counts as the page says them (the rest: the key with spaces).
COUNT_WORDS = {
    "retrying": "to retry later",
    "not_in_plex": "left out (Plex does not have the file)",
    "deleted": "gone from Stash",
    "requeued": "back in the queue",
}
STOPPED_WORDS = {
    "settings": "it waits for settings that work",
    "Plex unreachable": "Plex does not answer",
    "Stash unreachable": "Stash does not answer",
}


def run_summary(result: dict) -> str:
    """One plain sentence for what a task run did."""
    if result.get("problem"):
        return f"{result['problem']['say']} The work stays queued."
    if result.get("followed_background_worker"):
        return "The background worker was already at it; this run followed it to the end."
    counts = [
        f"{value} {COUNT_WORDS.get(key, key.replace('_', ' '))}"
        for key, value in result.items()
        if _is_number(value) and value and key != "seconds"
    ]
    said = ", ".join(counts) or "nothing to do"
    if result.get("stopped"):
        stopped = result["stopped"]
        said += f"; stopped early: {STOPPED_WORDS.get(stopped, stopped)}"
    return said[0].upper() + said[1:] + "."


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def last_runs(ctx: Context) -> list[dict]:
    with ctx.data.open_store() as store:
        return json.loads(store.get_meta(RUNS_KEY) or "[]")


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
