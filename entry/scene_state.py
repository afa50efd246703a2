"""The `scene_state` operation: what PlexSync knows about a list of scenes, for Stash's UI.

Answered from the state database, the queue file and the path index alone: no Plex request
and no stashapi, so a page of 40 scene cards gets its badges in one short process. The UI
passes what it already holds about each scene (file paths and sizes, `organized`), which is
all the path index needs to say why a scene that never synced is not in Plex.

One state per scene, the first that applies:

    failed      in the failed list (the stored reason)
    retrying    waiting for a retry (when, and why)
    queued      a sync is waiting in the queue (or a Sync all has not reached it yet)
    synced      written to these Plex items (when)
    skipped     left out by a setting (unorganized)
    no_file     the scene has no file
    ambiguous   several Plex files fit (the candidates)
    excluded    the file is in a Plex library that is not synced
    not_in_plex no synced library has the file (the paths looked for, the closest names)
    not_synced  Plex has the file, but PlexSync has not written it yet
    unknown     nothing to go on yet (no path index, or the UI sent no files)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from entry import diagnosis
from entry.context import Context
from plex.index_lookup import listed_sections, open_read_only, where_is
from setting_names import setting
from state.jobs import ScanJob, SceneJob
from state.queue import waiting_jobs
from state.store import Store, cover_over_cap

WHERE_STATES = ("not_in_plex", "ambiguous", "excluded")  # why a failing scene may be failing


def scene_state(ctx: Context, scenes: list[dict]) -> dict:
    """{"configured", "plex_web", "states": {scene id: state}} for the given scenes, and the
    settings' problem (entry/diagnosis.py) while they are missing or invalid."""
    from config import PlexSyncConfig

    config, problem = diagnosis.config_problem(lambda: read_config(ctx))
    config = config or PlexSyncConfig()  # invalid: what the stored states say still holds
    answer = {"configured": problem is None, "plex_web": config.plex_web_url}
    if problem is not None:
        answer["problem"] = problem.as_dict()
    with ctx.data.open_store() as store, open_read_only(ctx.data.index_path) as index:
        queued, scan_after = _queued(ctx.data.queue_path, store)
        libraries = _libraries(index, config)
        found = {}
        for scene in scenes:
            state = _stored_state(store, scene["id"], queued, scan_after)
            if state is None:
                state = _index_state(index, libraries, config, scene)
            elif state["state"] in ("failed", "retrying"):  # say what the index shows too
                where = _index_state(index, libraries, config, scene)
                if where["state"] in WHERE_STATES:
                    state.update({k: v for k, v in where.items() if k != "state"})
            if state["state"] == "synced":
                _add_links(state, config.plex_web_url)
            found[str(scene["id"])] = state
    answer["states"] = found
    return answer


def read_config(ctx: Context):
    """The settings, read with one standard-library request (no stashapi)."""
    from config import load_config
    from stash.quick import plugin_settings
    from state.signin import settings_with, stored_server

    settings = ctx.settings if ctx.settings is not None else plugin_settings(ctx.connection)
    return load_config(settings_with({**settings, **ctx.overrides}, stored_server(ctx.data)))


def _stored_state(store: Store, scene_id: int, queued: set, scan_after: int | None):
    key = f"scene:{scene_id}"
    row = store.failed_entry(key)
    if row:
        return {
            "state": "failed",
            "key": key,
            "reason": row["message"],
            "attempts": row["attempts"],
            "at": row["last_failed_at"],
        }
    row = store.delayed_entry(key)
    if row:
        return {
            "state": "retrying",
            "reason": row["last_error"],
            "attempts": row["attempts"],
            "due_at": row["due_at"],
        }
    if scene_id in queued:
        return {"state": "queued"}
    if scan_after is not None and scene_id > scan_after:
        return {"state": "queued", "by": "Sync all"}
    rows = store.synced_items(scene_id)
    if rows:
        items = [{"machine": r["machine"], "rating_key": r["rating_key"]} for r in rows]
        state = {"state": "synced", "at": max(r["synced_at"] for r in rows), "items": items}
        unsent = [size for r in rows if (size := cover_over_cap(r["cover_key"])) is not None]
        if unsent:
            state["reason"] = (
                f"the cover ({max(unsent) / 1e6:.1f} MB) is over the size cap for covers "
                f"({setting('maxCoverMB')}), so it was not sent; the other fields were written"
            )
        return state
    return None


def _queued(queue_dir: Path, store: Store) -> tuple[set[int], int | None]:
    """Scene ids waiting in the queue, and where a Sync all under way has got to."""
    queued: set[int] = set()
    full_scan = None
    for job in waiting_jobs(queue_dir):
        if isinstance(job, SceneJob):
            queued.add(job.scene_id)
        elif isinstance(job, ScanJob) and job.full:
            full_scan = 0
    scan = store.scan("scan:all")
    if scan is not None:
        full_scan = int(scan["after_id"] or 0)
    return queued, full_scan


def _libraries(index: sqlite3.Connection | None, config) -> tuple[tuple[str, ...], dict]:
    """(keys of the synced sections, {key: title} of the other listed ones), as the worker
    chooses them: the named libraries, or every movie-type one the index lists."""
    if index is None:
        return (), {}
    sections = listed_sections(index)
    wanted = {t.casefold() for t in config.libraries}
    synced = tuple(s["key"] for s in sections if not wanted or s["title"].casefold() in wanted)
    return synced, {s["key"]: s["title"] for s in sections if s["key"] not in synced}


def _index_state(index: sqlite3.Connection | None, libraries: tuple, config, scene: dict) -> dict:
    files = scene.get("files")
    if config.options.skip_unorganized and scene.get("organized") is False:
        return {"state": "skipped", "reason": "not organized (Skip unorganized scenes is on)"}
    if files == []:
        return {"state": "no_file"}
    if index is None or files is None:
        return {"state": "unknown"}
    synced, others = libraries
    paths = [(config.path_map.to_plex(f["path"]), f.get("size")) for f in files]
    where = where_is(index, paths, synced, others)
    if where.matches:
        return {"state": "not_synced", "rating_key": where.matches[0].rating_key}
    if where.ambiguous is not None:
        return {"state": "ambiguous", "candidates": list(where.ambiguous.paths)}
    if where.excluded:
        return {"state": "excluded", "library": where.excluded}
    return {
        "state": "not_in_plex",
        "looked_for": list(where.looked_for),
        "closest": list(where.closest),
    }


def _add_links(state: dict, plex_web: str) -> None:
    for item in state["items"]:
        item["url"] = plex_item_url(plex_web, item["machine"], item["rating_key"])


def plex_item_url(plex_web: str, machine: str, rating_key: str) -> str:
    """Plex Web's page for one item of one server (no token: the browser signs in itself)."""
    key = quote(f"/library/metadata/{rating_key}", safe="")
    # Plex Web's own forms: https://app.plex.tv/desktop/#!/…, http://pms:32400/web/index.html#!/…
    page = plex_web if plex_web.endswith(".html") else plex_web + "/"
    return f"{page}#!/server/{quote(machine, safe='')}/details?key={key}"
