"""The failed list as the UI and the CLI see it: list it, retry or clear one entry or all."""

from __future__ import annotations

import json
import logging

from entry.context import Context
from worker.jobs import Job, ScanJob, SceneJob, job_from_payload

log = logging.getLogger("plexsync.failed")


def failed_list(ctx: Context) -> dict:
    """Every dead letter, newest first: what it was about, why and when it failed."""
    store = ctx.data.open_store()
    try:
        rows = [dict(row) for row in store.failed()]
    finally:
        store.close()
    for row in rows:
        job = job_from_payload(json.loads(row.pop("job")))
        row.pop("token", None)  # a token fingerprint: of no use to anyone reading the list
        row["scene_id"] = job.scene_id if isinstance(job, SceneJob) else None
        row["key"] = row["job_key"]
        row["title"] = title(job)
    return {"failed": len(rows), "jobs": rows}


def title(job: Job) -> str:
    """What a job was about, as a person names it ("Sync all", never "scan:all")."""
    if isinstance(job, SceneJob):
        return f"scene {job.scene_id}"
    if isinstance(job, ScanJob):
        return "Sync all" if job.full else f"the scenes of {job.scan} {job.object_id}"
    return "watch activity import"


def retry_failed(ctx: Context, keys: list[str] | None = None) -> dict:
    """Put the dead-lettered jobs with these keys (all when None) back on the queue."""
    from entry.tasks import process_queued  # a worker runs them (the CLI: this process)

    queue = ctx.data.open_queue()
    store = ctx.data.open_store()
    try:
        rows = _chosen(store, keys)
        for _, job in rows:
            queue.enqueue(job)
        store.drop_failed([key for key, _ in rows])  # put first, delete after
    finally:
        queue.close()
        store.close()
    log.info("%d failed sync(s) are back in the queue", len(rows))
    return {"requeued": len(rows), **process_queued(ctx, len(rows))}


def clear_failed(ctx: Context, keys: list[str] | None = None) -> dict:
    """Delete the dead letters with these keys (all when None)."""
    store = ctx.data.open_store()
    try:
        if keys is None:
            count = store.clear_failed()
        else:
            chosen = [key for key, _ in _chosen(store, keys)]
            store.drop_failed(chosen)
            count = len(chosen)
    finally:
        store.close()
    log.info("cleared %d failed sync(s)", count)
    return {"cleared": count}


def _chosen(store, keys: list[str] | None) -> list[tuple[str, Job]]:
    """The dead letters (key, job) with these keys (all when None): the list is short."""
    rows = store.failed_jobs()
    if keys is None:
        return rows
    wanted = set(keys)
    return [(key, job) for key, job in rows if key in wanted]
