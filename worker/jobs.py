"""Job shapes (JSON in the queue) and their keys. Standard library only: the hook imports it.

    {"scene_id": 12, "hook": "Scene.Update.Post", "enqueued_at": 1764131314.2, "cover": true}
    {"scan": "all", "enqueued_at": ...}                            sync_all, resumable by cursor
    {"scan": "performer", "id": 7, "hook": "Performer.Update.Post", "enqueued_at": ...}
    {"activity": "import", "enqueued_at": ...}          Plex watch activity -> Stash, resumable

A job's key names what it is about, so a retry, a dead letter and a fresh hook for the same
scene collapse into one.
"""

from __future__ import annotations

# Scene.Update.Post inputFields that can change what we write; an update touching none of
# them (play counts, markers, stash ids...) is dropped by the hook.
SYNCED_INPUT_FIELDS = frozenset(
    {
        "title",
        "details",
        "date",
        "rating100",
        "organized",
        "studio_id",
        "performer_ids",
        "tag_ids",
        "cover_image",
        "files",
        "primary_file_id",
    }
)
SCENE_HOOKS = ("Scene.Create.Post", "Scene.Update.Post", "Scene.Destroy.Post")

# hook trigger of a renamed object -> the scan that finds its scenes
RENAME_SCANS = {
    "Performer.Update.Post": "performer",
    "Studio.Update.Post": "studio",
    "Tag.Update.Post": "tag",
    "Tag.Merge.Post": "tag",
}


def scene_job(scene_id: int, hook: str, now: float, cover: bool = False) -> dict:
    """A scene to sync; `cover` when the event may have changed the cover (Stash's cover URL
    only changes with the second-precision updated_at, so it cannot tell two edits apart)."""
    job = {"scene_id": int(scene_id), "hook": hook, "enqueued_at": now}
    if cover:
        job["cover"] = True
    return job


def scan_job(scan: str, now: float, object_id: int | None = None, hook: str = "") -> dict:
    job = {"scan": scan, "enqueued_at": now}
    if object_id is not None:
        job["id"] = int(object_id)
    if hook:
        job["hook"] = hook
    return job


def activity_job(now: float) -> dict:
    """An import of watch activity from Plex (worker/activity.py)."""
    return {"activity": "import", "enqueued_at": now}


def job_kind(job: dict) -> str:
    """ "scene", "scan" or "activity": the one place a job's kind is read from its shape."""
    if "scene_id" in job:
        return "scene"
    return "activity" if "activity" in job else "scan"


def job_key(job: dict) -> str:
    kind = job_kind(job)
    if kind == "activity":
        return f"activity:{job['activity']}"
    if kind == "scene":
        return f"scene:{job['scene_id']}"
    if "id" in job:
        return f"scan:{job['scan']}:{job['id']}"
    return f"scan:{job['scan']}"


def scan_filter(job: dict) -> dict:
    """The Stash SceneFilterType of a scan job (empty: every scene)."""
    kind = job["scan"]
    if kind == "performer":
        return {"performers": {"value": [str(job["id"])], "modifier": "INCLUDES"}}
    if kind == "studio":  # child studios too: their collection names include the parent
        return {"studios": {"value": [str(job["id"])], "modifier": "INCLUDES", "depth": -1}}
    if kind == "tag":
        return {"tags": {"value": [str(job["id"])], "modifier": "INCLUDES"}}
    return {}
