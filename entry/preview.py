"""The preview before a first Sync all: what it would write, and what is already as Stash has it.

Read-only: one fresh listing of the synced libraries, Stash's scenes a page at a time, and the
same matching and comparison the sync plans with (the listing's values, so tag lists cut short
by Plex are compared as the sync compares them). Each scene lands in one count:

    would_write     Plex shows other values than Stash's (an example says which)
    already_match   Plex already shows Stash's values
    not_in_plex     no synced library has the file (after pathMap)
    ambiguous       several Plex files fit and PlexSync will not guess
    skipped         no file, or left out by a setting
"""

from __future__ import annotations

from collections import Counter

from entry.context import Context
from plex.edits import drift
from plex.errors import PlexAmbiguous, PlexNotFound
from stash.client import PAGE_SIZE
from worker import metadata as scenes
from worker.services import Services

EXAMPLES = 5
COUNTS = ("would_write", "already_match", "not_in_plex", "ambiguous", "skipped")


def preview(ctx: Context) -> dict:
    """Counts per outcome and a few examples of what would change; writes nothing."""
    counts: Counter = Counter()
    examples: dict[str, list] = {"would_write": [], "not_in_plex": [], "ambiguous": []}
    with ctx.services() as services:
        services.connect().index.rebuild()
        after = 0
        while True:
            page, _ = services.stash.scene_page(after)
            for scene in page:
                outcome, example = _outcome(services, scene)
                counts[outcome] += 1
                if example and len(examples[outcome]) < EXAMPLES:
                    examples[outcome].append(example)
            if len(page) < PAGE_SIZE:
                break
            after = int(page[-1]["id"])
    return {
        "scenes": sum(counts.values()),
        **{name: counts.get(name, 0) for name in COUNTS},
        "examples": examples,
    }


def _outcome(services: Services, scene: dict) -> tuple[str, dict | None]:
    config = services.config
    title = scene.get("title") or ""
    if config.options.skip_unorganized and not scene.get("organized"):
        return "skipped", None
    files = scenes.files(scene)
    if not files:
        return "skipped", None
    try:
        matches = services.connect().syncer.resolve(scene, refresh=False)
    except PlexAmbiguous as exc:
        return "ambiguous", {"scene_id": int(scene["id"]), "title": title, "why": str(exc)}
    except PlexNotFound:
        wanted = config.path_map.to_plex(files[0][0])
        return "not_in_plex", {"scene_id": int(scene["id"]), "title": title, "looked_for": wanted}
    meta = scenes.to_plex(scene, config.options)
    for match in matches:
        listed = services.connect().index.listed(match.rating_key) or {}
        changed = drift(meta, listed)
        if changed:
            return "would_write", {
                "scene_id": int(scene["id"]),
                "plex_title": listed.get("title", ""),
                "stash_title": meta.title or listed.get("title", ""),
                "fields": changed,
            }
    return "already_match", None
