"""Play history and resume points in Stash: read them, add plays, set resume points.

`sceneAddPlay(id, times)` adds one play per time given (with no times Stash adds one at *now*,
so it is never sent an empty list); `sceneSaveActivity(id, resume_time)` sets the resume point
and leaves the play duration alone when `playDuration` is not given. Stash stores a play's time
to the second and prints it in its own time zone, so times are compared as epoch seconds.
Several scenes share one request through GraphQL aliases; Stash runs each field in its own
transaction, so a request cut short leaves some scenes done and others not, and the caller's
reconciliation against `play_history` copes with either.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from stash.client import StashClient
from stash.errors import StashError

PLAY_FIELDS = "id play_history resume_time last_played_at"
BATCH = 100  # scenes per mutation request


@dataclass(frozen=True)
class PlayState:
    """What Stash knows of a scene's watching."""

    plays: Counter  # epoch second -> plays at that second
    resume_time: float
    last_played_at: int  # epoch s; 0 when never played


def epoch(text: str) -> int:
    """Stash's RFC3339 time -> epoch seconds (any offset; `Z` too, for Python 3.10)."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def timestamp(seconds: int) -> str:
    """Epoch seconds -> an RFC3339 Timestamp for Stash."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def play_states(stash: StashClient, ids: list[int]) -> dict[int, PlayState]:
    """The play state of each scene, in one query; scenes no longer in Stash are absent."""
    if not ids:
        return {}
    try:
        data = stash.call(
            "query PlexSyncPlays($ids: [ID!]) { findScenes(ids: $ids) {"
            f" scenes {{ {PLAY_FIELDS} }} }} }}",
            {"ids": [str(i) for i in ids]},
        )
        scenes = data["findScenes"]["scenes"]
    except StashError:  # one deleted scene fails the whole batch: ask for each alone
        scenes = [s for i in ids if (s := _one(stash, i)) is not None]
    return {int(s["id"]): _state(s) for s in scenes}


def _one(stash: StashClient, scene_id: int) -> dict | None:
    data = stash.call(
        f"query PlexSyncPlay($id: ID) {{ findScene(id: $id) {{ {PLAY_FIELDS} }} }}",
        {"id": str(scene_id)},
    )
    return data["findScene"]


def _state(scene: dict) -> PlayState:
    last = scene.get("last_played_at")
    return PlayState(
        plays=Counter(epoch(t) for t in scene.get("play_history") or []),
        resume_time=float(scene.get("resume_time") or 0),
        last_played_at=epoch(last) if last else 0,
    )


def add_plays(stash: StashClient, plays: dict[int, list[int]]) -> None:
    """Add plays at the given epoch seconds, per scene."""
    wanted = [(scene_id, times) for scene_id, times in plays.items() if times]
    for first in range(0, len(wanted), BATCH):
        chunk = wanted[first : first + BATCH]
        _mutate(
            stash,
            "PlexSyncAddPlays",
            [
                ("sceneAddPlay", {"id": ("ID!", str(s)), "times": ("[Timestamp!]", _times(t))})
                for s, t in chunk
            ],
            "{ count }",
        )


def save_resume(stash: StashClient, resume: dict[int, float]) -> None:
    """Set each scene's resume point (seconds; 0 clears it)."""
    items = sorted(resume.items())
    for first in range(0, len(items), BATCH):
        _mutate(
            stash,
            "PlexSyncResume",
            [
                ("sceneSaveActivity", {"id": ("ID!", str(s)), "resume_time": ("Float", float(r))})
                for s, r in items[first : first + BATCH]
            ],
            "",
        )


def _times(seconds: list[int]) -> list[str]:
    return [timestamp(t) for t in seconds]


def _mutate(stash: StashClient, name: str, fields: list[tuple[str, dict]], selection: str):
    """One request running `fields` as aliased mutations; every argument is a variable."""
    params, calls, variables = [], [], {}
    for n, (field, args) in enumerate(fields):
        passed = []
        for arg, (kind, value) in args.items():
            var = f"{arg}{n}"
            params.append(f"${var}: {kind}")
            passed.append(f"{arg}: ${var}")
            variables[var] = value
        calls.append(f"m{n}: {field}({', '.join(passed)}) {selection}")
    stash.call(f"mutation {name}({', '.join(params)}) {{ {' '.join(calls)} }}", variables)
