"""A Stash scene (as GraphQL returns it, stash/client.py's SCENE_FRAGMENT) -> the Plex metadata
it should have.

Stash is the source of truth: an empty Stash field clears the Plex field (and locks it), so
Plex shows exactly what Stash says. The one exception is an empty title, which leaves Plex's
title alone (Plex would otherwise show an empty row).
"""

from __future__ import annotations

import re
from datetime import datetime

from config import SyncOptions
from plex.edits import PlexMetadata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str | None) -> str:
    """Keep Unicode, tabs and line breaks; remove other control characters."""
    return _CONTROL.sub("", text or "")


def to_plex(scene: dict, options: SyncOptions) -> PlexMetadata:
    """The desired Plex state of every item holding one of the scene's files."""
    studio = scene.get("studio") or {}
    tag_names = _unique(
        t["name"]
        for t in scene.get("tags") or ()
        if t["name"].casefold() not in options.ignore_tags
    )
    tags = [
        ("actor", _unique(p["name"] for p in scene.get("performers") or ())),
        ("label" if options.tags_as_labels else "genre", tag_names),
    ]
    if options.studio_collections:
        parent = (studio.get("parent_studio") or {}).get("name")
        tags.append(("collection", _unique(n for n in (studio.get("name"), parent) if n)))
    rating = scene.get("rating100")
    return PlexMetadata(
        title=clean_text(scene.get("title")).strip(),
        summary=clean_text(scene.get("details")),
        studio=clean_text(studio.get("name")),
        originallyAvailableAt=scene.get("date") or "",
        tags=tuple(sorted(tags)),
        rating=round(rating / 10, 1) if options.sync_rating and rating is not None else None,
        sync_rating=options.sync_rating,
    )


def files(scene: dict) -> list[tuple[str, int | None]]:
    """(path, size) of every file of the scene."""
    return [(f["path"], _int(f.get("size"))) for f in scene.get("files") or () if f.get("path")]


def cover_url(scene: dict) -> str:
    return (scene.get("paths") or {}).get("screenshot") or ""


def age_seconds(scene: dict, now: float) -> float | None:
    """Seconds since Stash created the scene (None if Stash did not say)."""
    text = scene.get("created_at") or ""
    try:
        created = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return now - created.timestamp()


def _unique(names) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in names:
        cleaned = clean_text(name).strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
