"""The `status` task: counts, the worker, recent failures, whether Plex answers. Fast even when
Plex is down: its probe has a short timeout of its own and no retries."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import datetime

from entry import diagnosis
from entry.context import Context
from errors import CLASSIFIED
from logs import LOG_EVENT, redact
from plex.client import probe
from plex.index_lookup import oldest_listing, open_read_only
from state.jobs import job_from_payload
from state.ledger import activity_status
from state.lock import WorkerLock
from worker.services import identity_of
from worker.settings import read_config

log = logging.getLogger("plexsync.status")
RECENT = 5


def status(ctx: Context) -> dict:
    """The status as data (Stash shows it as the task output) and a summary in the log."""
    with ctx.data.open_queue() as queue, ctx.data.open_store() as store:
        running = WorkerLock(ctx.data.lock_path).running()
        in_flight = queue.in_flight()
        counts = store.counts()
        result = {
            "pending": queue.ready() + (0 if running else in_flight),
            "delayed": counts["delayed"],
            "in_flight": in_flight if running else 0,
            "failed": counts["failed"],
            "worker": "running" if running else "idle",
            "synced_scenes": counts["synced_scenes"],
            "next_retry": _when(store.next_due()),
            "recent_failures": [
                {
                    "job": row["job_key"],
                    "title": job_from_payload(json.loads(row["job"])).title,
                    "error": row["message"],
                    "at": _when(row["last_failed_at"]),
                }
                for row in store.failed(RECENT)
            ],
            "scans": [
                {"scan": s["job_key"], "done": s["done"], "total": s["total"]}
                for s in store.scans()
            ],
            "activity": activity_status(store),
        }
    result.update(_plex_status(ctx))
    result["index_age_s"] = _index_age(ctx)
    result["worker_problems"] = _worker_problems(ctx)
    result["data_dir_problems"] = ctx.data.problems()
    _log_summary(result)
    return result


def _plex_status(ctx: Context) -> dict:
    """Whether PlexSync is configured, whether Plex answers, and the one problem in the way
    (entry/diagnosis.py), if there is one."""
    read = {}

    def settings():
        read["config"], read["token"] = read_config(
            ctx.data, ctx.connection, ctx.settings, ctx.overrides
        )
        return read["config"]

    try:
        config, problem = diagnosis.config_problem(settings)
    except CLASSIFIED as exc:  # Stash did not give the settings
        return {"configured": False, "plex": {"reachable": False, "error": redact(str(exc))}}
    signed = {"plex_token": read.get("token", {"source": None})}
    if config is None or not config.configured:
        error = redact(problem.say) if config is None else "not configured"
        plex = {"reachable": False, "error": error}
        return {"configured": False, "plex": plex, "problem": _shown(problem), **signed}
    info, problem = diagnosis.plex_problem(config, probe, identity_of(ctx.data))
    if problem is None:
        problem = _paths_problem(ctx, config)
    if info is None:
        plex = {"reachable": False, "error": redact(problem.say)}
    else:
        plex = {"reachable": True, "name": info.name, "version": info.version}
    answer = {"configured": True, "plex": plex, **signed}
    if problem is not None:
        answer["problem"] = _shown(problem)
    return answer


def _paths_problem(ctx: Context, config) -> diagnosis.Problem | None:
    with ctx.data.open_store() as store:
        try:
            return diagnosis.not_found_problem(store, ctx.data.index_path, config, ctx.connection)
        except CLASSIFIED:  # Stash did not answer: nothing to say about the paths
            return None


def _shown(problem: diagnosis.Problem) -> dict:
    return {key: redact(text) for key, text in problem.as_dict().items()}


def _index_age(ctx: Context) -> float | None:
    try:
        with open_read_only(ctx.data.index_path) as db:
            if db is None:
                return None
            built = oldest_listing(db)
    except sqlite3.DatabaseError:
        return None
    return round(time.time() - built) if built else None


def _worker_problems(ctx: Context, lines: int = 5) -> list[str]:
    """The last warnings and errors of the detached worker's own log."""
    if not ctx.data.log_path.exists() or ctx.data.log_path.is_symlink():
        return []
    with open(ctx.data.log_path, encoding="utf-8", errors="replace") as handle:
        handle.seek(max(0, ctx.data.log_path.stat().st_size - 64_000))
        found = [line.strip() for line in handle if LOG_EVENT.match(line)]
    return [redact(line)[:500] for line in found[-lines:]]


def _server_named(token: dict) -> str:
    return f" (server {token['server']!r})" if token.get("server") else ""


def _when(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp).isoformat(timespec="seconds") if timestamp else None


def _log_summary(result: dict) -> None:
    plex = result["plex"]
    log.info(
        "PlexSync: %d pending, %d delayed, %d in flight, %d failed; worker %s; %d scenes synced",
        result["pending"],
        result["delayed"],
        result["in_flight"],
        result["failed"],
        result["worker"],
        result["synced_scenes"],
    )
    token = result.get("plex_token") or {}
    if token.get("source"):
        log.info("Plex token from: %s%s", token["source"], _server_named(token))
    if result.get("problem"):
        log.warning("%(say)s %(do)s", result["problem"])
    elif plex["reachable"]:
        log.info("Plex answers: %s (version %s)", plex["name"], plex["version"])
    else:
        log.warning("PlexSync could not read its settings: %s", plex["error"])
    if result["next_retry"]:
        log.info("next retry at %s", result["next_retry"])
    if result["index_age_s"] is not None:
        log.info("path index built %d s ago", result["index_age_s"])
    activity = result["activity"]
    if activity["last_run"]:
        log.info(
            "watch activity last imported at %s: %d view(s) imported, %d skipped (item not synced)",
            activity["last_run"],
            activity["views_imported"],
            activity["views_unmapped"],
        )
    for failure in result["recent_failures"]:
        log.info("failed %s at %s: %s", failure["title"], failure["at"], failure["error"])
    for line in result["worker_problems"]:
        log.info("worker log: %s", line)
    for problem in result["data_dir_problems"]:
        log.warning("%s", problem)
