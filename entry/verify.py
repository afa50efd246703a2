"""The `verify` task: read every matched item's full metadata and report every gap.

One fresh listing, then one `GET /library/metadata/{rk}` per matched item. Each scene lands
in exactly one category, so the counts add up to the number of scenes:

    in_sync      every owned field, lock and the poster as we would write them
    drifted      Plex shows other values (the fields are named)
    unlocked     values right, but a field is unlocked (an agent refresh would revert it)
    not_in_plex  no synced library has the file (the path we looked for, the closest files)
    excluded     the file is in a Plex library that is not synced
    ambiguous    several Plex files fit and PlexSync will not guess
    no_file      the scene has no file
    skipped      left out by a setting (unorganized)

`repair` forgets what we think Plex holds for drifted and unlocked scenes and queues them,
so the worker writes them again. The report is saved as JSON and as a readable HTML page.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from entry.context import Context
from entry.tasks import process_queued
from logs import progress
from plex.edits import drift, unlocked
from plex.errors import PlexNotFound
from plex.index import parse_listing
from stash.client import PAGE_SIZE
from state.datadir import DataDir
from state.jobs import SceneJob
from worker import metadata as scenes
from worker.services import Services

log = logging.getLogger("plexsync.verify")
READERS = 4  # concurrent metadata reads: bounded, and gentle on Plex
CATEGORIES = (
    "in_sync",
    "drifted",
    "unlocked",
    "not_in_plex",
    "excluded",
    "ambiguous",
    "no_file",
    "skipped",
)


def verify(ctx: Context, repair: bool = False) -> dict:
    """Compare every scene with Plex; returns the summary and where the report was saved."""
    started = time.monotonic()
    with ctx.services() as services:
        link = services.connect()
        link.index.rebuild()
        plex_before = link.plex.requests_made
        entries = list(_check_all(services, ctx.show_progress))
        repaired = _repair(ctx, services, entries) if repair else 0
        plex_requests = link.plex.requests_made - plex_before
    counts = Counter(entry["status"] for entry in entries)
    summary = {
        "scenes": len(entries),
        **{category: counts.get(category, 0) for category in CATEGORIES},
        "item_requests": plex_requests,
        "seconds": round(time.monotonic() - started, 1),
    }
    if repair:
        summary["queued_for_repair"] = repaired
    summary["report"] = str(_save(ctx.data, summary, entries))
    _log_summary(summary, entries)
    if repair:
        summary.update(process_queued(ctx, repaired))
    return summary


def _check_all(services: Services, show_progress: bool):
    """Each scene's entry, a page of Stash scenes at a time; the page's item reads overlap."""
    after, seen = 0, 0
    with ThreadPoolExecutor(READERS, thread_name_prefix="plexsync-verify") as pool:
        while True:
            page, left = services.stash.scene_page(after)
            prepared = [_prepare(services, scene) for scene in page]
            keys = [m.rating_key for p in prepared if isinstance(p, tuple) for m in p[1]]
            shown = dict(zip(keys, pool.map(lambda k: _read(services, k), keys), strict=True))
            for item in prepared:
                yield _compare(services, item, shown) if isinstance(item, tuple) else item
            if page:
                after, seen = int(page[-1]["id"]), seen + len(page)
            if show_progress:
                progress(seen / max(1, seen - len(page) + left))
            if len(page) < PAGE_SIZE:
                return


def _prepare(services: Services, scene: dict):
    """A final entry, or (entry, matches, scene) when the items must be read."""
    entry = {"scene_id": int(scene["id"]), "title": scene.get("title") or ""}
    config = services.config
    if config.options.skip_unorganized and not scene.get("organized"):
        return {**entry, "status": "skipped"}
    files = scenes.files(scene)
    if not files:
        return {**entry, "status": "no_file"}
    where = services.connect().index.where_is(
        [(config.path_map.to_plex(path), size) for path, size in files], explain=True
    )
    entry["plex_paths"] = list(where.looked_for)
    if where.matches:
        return entry, list(where.matches), scene
    if where.ambiguous is not None:
        return {**entry, "status": "ambiguous", "reason": where.ambiguous.message()}
    if where.excluded:
        reason = f"in Plex library {where.excluded!r}, which is not synced"
        return {**entry, "status": "excluded", "reason": reason}
    return {
        **entry,
        "status": "not_in_plex",
        "reason": "no synced Plex library has this file",
        "closest": list(where.closest),
    }


def _read(services: Services, rating_key: str):
    """An item's full metadata (None if Plex no longer has it)."""
    try:
        return next(parse_listing(services.connect().plex.metadata(rating_key)), None)
    except PlexNotFound:
        return None


def _compare(services: Services, prepared: tuple, shown: dict) -> dict:
    entry, matches, scene = prepared
    config = services.config
    meta = scenes.to_plex(scene, config.options)
    state = services.store.items(int(scene["id"]), services.connect().index.machine)
    wants_poster = scenes.cover_url(scene) and not config.options.skip_covers
    fields, locks, items = set(), set(), []
    for match in matches:
        item = shown.get(match.rating_key)
        if item is None:
            fields.add("missing item")
            continue
        changed = drift(meta, item.fields, complete=True)
        if wants_poster and (not item.thumb or match.rating_key not in state):
            changed.append("poster")
        fields.update(changed)
        locks.update(unlocked(meta, item.locked))
        items.append(match.rating_key)
    entry["rating_keys"] = items
    if fields:
        return {**entry, "status": "drifted", "fields": sorted(fields), "unlocked": sorted(locks)}
    if locks:
        return {**entry, "status": "unlocked", "unlocked": sorted(locks)}
    return {**entry, "status": "in_sync"}


def _repair(ctx: Context, services: Services, entries: list[dict]) -> int:
    """Forget what we wrote for drifted/unlocked scenes and queue them for a fresh write."""
    broken = [e for e in entries if e["status"] in ("drifted", "unlocked")]
    with ctx.data.open_queue() as queue:
        for entry in broken:
            for rating_key in entry.get("rating_keys", []):
                services.store.forget_item(services.connect().index.machine, rating_key)
            queue.enqueue(SceneJob(entry["scene_id"], "verify", time.time()))
    return len(broken)


def _save(data: DataDir, summary: dict, entries: list[dict]) -> Path:
    data.private_path(data.reports_path.name).mkdir(mode=0o700, exist_ok=True)
    name = f"{data.reports_path.name}/verify-{time.strftime('%Y%m%d-%H%M%S')}"
    report = json.dumps({"summary": summary, "scenes": entries}, indent=1, ensure_ascii=False)
    path = data.write_private(f"{name}.json", report)
    data.write_private(f"{name}.html", _html(summary, entries))
    return path


def _html(summary: dict, entries: list[dict]) -> str:
    rows = "\n".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            e["scene_id"],
            html.escape(e["title"]),
            e["status"],
            html.escape(
                "; ".join(
                    filter(
                        None,
                        [
                            ", ".join(e.get("fields", [])) and "differs: " + ", ".join(e["fields"]),
                            e.get("unlocked") and "unlocked: " + ", ".join(e["unlocked"]),
                            e.get("reason", ""),
                            e.get("plex_paths")
                            and e["status"] == "not_in_plex"
                            and "looked for: " + ", ".join(e["plex_paths"]),
                            e.get("closest") and "closest: " + ", ".join(e["closest"]),
                        ],
                    )
                )
            ),
        )
        for e in entries
        if e["status"] != "in_sync"
    )
    counts = "".join(f"<li>{k}: {summary[k]}</li>" for k in CATEGORIES)
    return (
        # The page opens as a Blob with Stash's origin: the escaping above is what keeps it
        # inert, and this policy keeps it so should an escape ever be missed (no script, no
        # request anywhere; only the inline style below).
        "<!doctype html><meta charset=utf-8>"
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<title>PlexSync verify report</title>"
        "<style>body{font-family:sans-serif}td{padding:2px 8px;border-bottom:1px solid #ddd}"
        "</style><h1>PlexSync verify report</h1>"
        f"<p>{summary['scenes']} scenes checked in {summary['seconds']} s.</p><ul>{counts}</ul>"
        "<table><tr><th>scene</th><th>title</th><th>status</th><th>details</th></tr>"
        f"{rows}</table>"
    )


def _log_summary(summary: dict, entries: list[dict]) -> None:
    log.info(
        "verify: %d scenes: %s",
        summary["scenes"],
        ", ".join(f"{summary[c]} {c}" for c in CATEGORIES if summary[c]),
    )
    for entry in [e for e in entries if e["status"] != "in_sync"][:20]:
        detail = entry.get("fields") or entry.get("unlocked") or entry.get("reason") or ""
        log.info("scene %s: %s %s", entry["scene_id"], entry["status"], detail)
    log.info("full report: %s (and .html)", summary["report"])
