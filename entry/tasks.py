"""Stash tasks and CLI commands: sync all, process the queue, clear the queue.

A task that can take the worker lock runs the worker in-process, draining what is due now
with Stash's progress bar moving; it never waits for a far-off retry. It first starts a
standby background worker that waits for the lock: when the task ends, or is killed by
Stash's cancel, that worker keeps the retries and finishes anything left (a killed sync_all
included). A task that finds the background worker running reports its progress instead.
"""

from __future__ import annotations

import logging
import time

from entry.context import Context
from entry.diagnosis import Problem, plex_problem
from errors import CLASSIFIED
from logs import progress
from state.jobs import ActivityJob, ScanJob
from state.lock import WorkerLock
from worker.loop import Pacing, Worker, work_left, worker_run
from worker.spawn import start_worker, start_worker_if_idle

log = logging.getLogger("plexsync.task")
LEFT_QUEUED = "a background worker sends it when Plex answers (this task does not wait for it)."


def sync_all(ctx: Context) -> dict:
    """Queue a full scan (one resumable job) and drive the queue to empty."""
    job = ScanJob("all", time.time())
    with ctx.data.open_queue() as queue, ctx.data.open_store() as store:
        running = store.scan(job.key) is not None or any(j.key == job.key for j in queue.jobs())
        if running:
            log.info("a full sync is already under way; continuing it")
        else:
            queue.enqueue(job)
    return process_queue(ctx, title="Sync all")


def import_activity(ctx: Context) -> dict:
    """Queue a watch-activity import (one resumable job), drive the queue, report the import."""
    from state.ledger import last_run

    job = ActivityJob(time.time())
    with ctx.data.open_queue() as queue:
        if not any(j.key == job.key for j in queue.jobs()):
            queue.enqueue(job)
    summary = process_queue(ctx, title="Import watch activity")
    with ctx.data.open_store() as store:
        summary["activity"] = last_run(store)
    return summary


def process_queue(ctx: Context, title: str = "Process queue") -> dict:
    """Drain what is due now (in-process, or by watching the background worker)."""
    started = time.monotonic()
    lock = WorkerLock(ctx.data.lock_path)
    if not lock.acquire_soon(within=1.5):  # an idle standby worker exits within that
        return _watch_background(ctx, title, started)
    if ctx.start_background:  # takes over when we are done or killed: retries, the rest
        start_worker(ctx.data.path, ctx.connection, standby=True)
    try:
        tally, stopped, problem = _drain(ctx)
    finally:
        lock.release()
    summary = {**tally, "seconds": round(time.monotonic() - started, 1)}
    if stopped:
        summary["stopped"] = stopped
    if problem is not None:
        summary["problem"] = problem.as_dict()
    parts = ", ".join(f"{v} {k}" for k, v in sorted(tally.items())) or "nothing to do"
    log.info("%s finished in %.1f s: %s", title, summary["seconds"], parts)
    return summary


def _drain(ctx: Context) -> tuple[dict, str | None, Problem | None]:
    """Run the worker until nothing is due now: its tally, why it stopped early, and the
    problem that kept it from starting (Plex away: the work stays queued)."""
    done_before = [0]

    def report(worker: Worker) -> None:
        done = sum(worker.tally.values())
        if ctx.show_progress and done != done_before[0]:
            done_before[0] = done
            progress(done / max(1, done + worker.remaining()))

    pacing = Pacing(max_pause=ctx.max_pause)
    with worker_run(
        ctx.data, ctx.connection, ctx.settings, ctx.overrides, pacing, on_progress=report
    ) as worker:
        away = _plex_away(worker) if ctx.start_background else None
        if away is not None:  # Stash runs one job at a time: never hold it for an away Plex
            log.warning("%s The work stays queued; %s", away.say, LEFT_QUEUED)
            return {}, "Plex unreachable", away
        worker.run(drain=True)
        return dict(worker.tally), worker.stopped, None


def _plex_away(worker: Worker) -> Problem | None:
    """The problem, when Plex does not answer at all before the run starts (one quick probe);
    None otherwise, unreadable settings included: the run itself says why, at once."""
    from plex.client import probe

    try:
        config = worker.services.config
    except CLASSIFIED:
        return None
    if not config.configured:
        return None
    _, problem = plex_problem(config, probe, worker.services.identity)
    return problem if problem is not None and problem.kind == "plex_unreachable" else None


def _watch_background(ctx: Context, title: str, started: float) -> dict:
    """The background worker holds the lock: follow its progress until nothing is due."""
    log.info("the background worker is running; following its progress")
    lock = WorkerLock(ctx.data.lock_path)
    first = None
    with ctx.data.open_queue() as queue, ctx.data.open_store() as store:
        while lock.running():
            left = work_left(queue, store)
            first = first or max(left, 1)
            if ctx.show_progress:
                progress(1 - left / max(first, left, 1))
            if left == 0:
                break
            ctx.sleep(1.0)
    log.info("%s: the background worker has done what was due", title)
    return {"followed_background_worker": True, "seconds": round(time.monotonic() - started, 1)}


def process_queued(ctx: Context, queued: int) -> dict:
    """Work just queued by a task or command. Under Stash a background worker takes it and
    the task returns at once; the command line, which leaves nothing running behind it,
    processes it itself, with its own settings (its --plex-url/--plex-token included)."""
    if not queued:
        return {}
    if ctx.start_background:
        start_worker_if_idle(ctx.data.path, ctx.connection)
        return {}
    return process_queue(ctx)


def clear_queue(ctx: Context) -> dict:
    """Drop every queued and delayed sync (and any full sync under way)."""
    lock = WorkerLock(ctx.data.lock_path)
    if not lock.acquire():
        raise RuntimeError("the background worker is running; try again when it has finished")
    try:
        with ctx.data.open_queue() as queue, ctx.data.open_store() as store:
            queue.resume_in_flight()
            dropped = queue.clear() + store.clear_delayed()
            for scan in store.scans():
                store.end_scan(scan["job_key"])
    finally:
        lock.release()
    log.info("dropped %d pending sync(s)", dropped)
    return {"dropped": dropped}
