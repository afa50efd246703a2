"""Jobs: one class per kind, serialised to JSON only at the queue and the state file.

    SceneJob(12, "Scene.Update.Post", 1764131314.2, cover=True)  a scene to sync
    ScanJob("all", now)                                          Sync all, resumable by cursor
    ScanJob("performer", now, 7, "Performer.Update.Post")        the scenes of a renamed object
    ActivityJob(now)                                   Plex watch activity -> Stash, resumable

A job's key names what it is about, so a retry, a dead letter and a fresh hook for the same
scene collapse into one. Standard library only and plain classes (no dataclasses, which
imports inspect, ~4 ms): the hook builds and enqueues a job on every save.
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


KEY_KINDS = ("scene", "scan", "activity")  # what a job's key starts with, before its ':'

# The `hook` of a job a person asked for in Stash's UI (Sync now): its failure leaves the
# automatic retry schedule as it was.
BY_PERSON = "PlexSync UI"


class BadJob(ValueError):
    """A queued row that is no job of ours (written by hand, or damaged)."""


class Job:
    """What every job has: its kind, its key, when it was queued and by which hook."""

    __slots__ = ("enqueued_at", "hook")
    kind = ""

    def __init__(self, enqueued_at: float, hook: str = "") -> None:
        self.enqueued_at = float(enqueued_at)
        self.hook = hook

    @property
    def key(self) -> str:
        raise NotImplementedError

    @property
    def title(self) -> str:
        """What the job is about, as a person names it ("Sync all", never its key)."""
        raise NotImplementedError

    @property
    def by_person(self) -> bool:
        return self.hook == BY_PERSON

    def payload(self) -> dict:
        """What the queue stores (the shape every earlier version stored)."""
        raise NotImplementedError

    def _common(self) -> dict:
        return {"hook": self.hook} if self.hook else {}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.payload() == self.payload()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dicts it replaces

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.payload()!r})"


class SceneJob(Job):
    """A scene to sync; `cover` when the event may have changed the cover (Stash's cover URL
    only changes with the second-precision updated_at, so it cannot tell two edits apart)."""

    __slots__ = ("scene_id", "cover")
    kind = "scene"

    def __init__(self, scene_id: int, hook: str, enqueued_at: float, cover: bool = False) -> None:
        super().__init__(enqueued_at, hook)
        self.scene_id = int(scene_id)
        self.cover = bool(cover)

    @property
    def key(self) -> str:
        return f"scene:{self.scene_id}"

    @property
    def title(self) -> str:
        return f"scene {self.scene_id}"

    def payload(self) -> dict:
        job = {"scene_id": self.scene_id, **self._common(), "enqueued_at": self.enqueued_at}
        if self.cover:
            job["cover"] = True
        return job


class ScanJob(Job):
    """A walk over Stash's scenes, a page per step: every scene ("all"), or those of one
    performer, studio or tag that was renamed."""

    __slots__ = ("scan", "object_id")
    kind = "scan"

    def __init__(
        self, scan: str, enqueued_at: float, object_id: int | None = None, hook: str = ""
    ) -> None:
        super().__init__(enqueued_at, hook)
        self.scan = scan
        self.object_id = None if object_id is None else int(object_id)

    @property
    def key(self) -> str:
        return f"scan:{self.scan}" + ("" if self.object_id is None else f":{self.object_id}")

    @property
    def title(self) -> str:
        return "Sync all" if self.full else f"the scenes of {self.scan} {self.object_id}"

    @property
    def full(self) -> bool:
        """Whether it walks every scene (so a scene it does not list is gone from Stash)."""
        return self.scan == "all"

    def payload(self) -> dict:
        job = {"scan": self.scan, "enqueued_at": self.enqueued_at}
        if self.object_id is not None:
            job["id"] = self.object_id
        return {**job, **self._common()}

    def scene_filter(self) -> dict:
        """The Stash SceneFilterType of the walk (empty: every scene)."""
        value = [str(self.object_id)]
        if self.scan == "performer":
            return {"performers": {"value": value, "modifier": "INCLUDES"}}
        if self.scan == "studio":  # child studios too: their collection names include the parent
            return {"studios": {"value": value, "modifier": "INCLUDES", "depth": -1}}
        if self.scan == "tag":
            return {"tags": {"value": value, "modifier": "INCLUDES"}}
        return {}


class ActivityJob(Job):
    """An import of watch activity from Plex (worker/activity.py), a page per step."""

    __slots__ = ()
    kind = "activity"

    @property
    def key(self) -> str:
        return "activity:import"

    @property
    def title(self) -> str:
        return "watch activity import"

    def payload(self) -> dict:
        return {"activity": "import", "enqueued_at": self.enqueued_at}


def job_from_payload(payload: object) -> Job:
    """The job a stored payload describes; BadJob when it describes none."""
    if not isinstance(payload, dict):
        raise BadJob(f"not a job: {payload!r:.80}")
    try:
        when, hook = payload.get("enqueued_at", 0.0), payload.get("hook", "")
        if "scene_id" in payload:
            return SceneJob(payload["scene_id"], hook, when, payload.get("cover", False))
        if payload.get("activity") == "import":
            return ActivityJob(when)
        scan, object_id = payload.get("scan"), payload.get("id")
        if scan == "all" or scan in ("performer", "studio", "tag") and object_id is not None:
            return ScanJob(scan, when, object_id, hook)
    except (TypeError, ValueError):
        pass
    raise BadJob(f"not a job: {payload!r:.80}")
