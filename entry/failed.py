"""The failed list as the UI and the CLI see it: list it, retry or clear one entry or all."""

from __future__ import annotations

import json
import logging

from entry.context import Context
from state.jobs import SceneJob, job_from_payload

log = logging.getLogger("plexsync.failed")


def failed_list(ctx: Context) -> dict:
    """Every dead letter, newest first: what it was about, why and when it failed."""
    with ctx.data.open_store() as store:
        rows = [dict(row) for row in store.failed()]
    for row in rows:
        job = job_from_payload(json.loads(row.pop("job")))
        row.pop("token", None)  # a token fingerprint: of no use to anyone reading the list
        row["scene_id"] = job.scene_id if isinstance(job, SceneJob) else None
        row["key"] = row["job_key"]
        row["title"] = job.title
    return {"failed": len(rows), "jobs": rows}


def retry_failed(ctx: Context, keys: list[str] | None = None) -> dict:
    """Put the dead-lettered jobs with these keys (all when None) back on the queue."""
    from entry.tasks import process_queued  # a worker runs them (the CLI: this process)

    with ctx.data.open_queue() as queue, ctx.data.open_store() as store:
        count = store.requeue_failed(queue, keys)
    log.info("%d failed sync(s) are back in the queue", count)
    return {"requeued": count, **process_queued(ctx, count)}


def clear_failed(ctx: Context, keys: list[str] | None = None) -> dict:
    """Delete the dead letters with these keys (all when None)."""
    with ctx.data.open_store() as store:
        count = store.clear_failed(keys)
    log.info("cleared %d failed sync(s)", count)
    return {"cleared": count}
