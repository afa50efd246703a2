"""What a Plex item should show, as one PUT: every field written and locked.

`PlexMetadata` is the desired state of one item (built from a Stash scene elsewhere). Its
`fingerprint` is what the sync state remembers, so an unchanged scene costs no write, and
`drift` compares it with what a section listing shows, so a change made in Plex is noticed
at no extra request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

TAG_KINDS = ("genre", "actor", "label", "collection")
TEXT_FIELDS = ("title", "summary", "studio", "originallyAvailableAt")


@dataclass(frozen=True)
class PlexMetadata:
    """The fields PlexSync owns on an item; `tags` holds only the tag kinds it owns."""

    title: str  # "" leaves the Plex title alone
    summary: str
    studio: str
    originallyAvailableAt: str  # noqa: N815 - Plex's own field name
    tags: tuple[tuple[str, tuple[str, ...]], ...]  # ((kind, names), ...)
    rating: float | None = None  # 0-10, only when rating sync is on
    sync_rating: bool = False

    def text_fields(self) -> dict[str, str]:
        fields = {name: getattr(self, name) for name in TEXT_FIELDS}
        if not self.title:
            del fields["title"]
        return fields

    def fingerprint(self) -> str:
        """A short hash of everything that would be written."""
        data = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()[:32]


def edit_params(meta: PlexMetadata) -> dict:
    """The query parameters of the single PUT that writes and locks every owned field.

    A non-empty tag list is sent indexed (`genre[0].tag.tag=…`), which replaces Plex's whole
    list; an empty one is cleared with `genre[].tag=` ("remove associations of this type").
    """
    params: dict[str, str] = {}
    for name, value in meta.text_fields().items():
        params[f"{name}.value"] = value
        params[f"{name}.locked"] = "1"
    for kind, names in meta.tags:
        if names:
            for position, name in enumerate(names):
                params[f"{kind}[{position}].tag.tag"] = name
        else:
            params[f"{kind}[].tag"] = ""
        params[f"{kind}.locked"] = "1"
    return params


def drift(meta: PlexMetadata, shown: dict, complete: bool = False) -> list[str]:
    """Owned fields where Plex shows something other than what we would write.

    Listings cut tag lists short, so there a shown tag we would not write is drift while a
    tag missing from the listing is not; `complete` (full metadata) compares whole lists.
    """
    changed = [
        name for name, value in meta.text_fields().items() if (shown.get(name) or "") != value
    ]
    for kind, names in meta.tags:
        have = set(shown.get(kind) or ())
        if have - set(names) or (complete and have != set(names)):
            changed.append(kind)
    return changed


def unlocked(meta: PlexMetadata, locked: set[str]) -> list[str]:
    """Owned fields Plex has not locked (an agent refresh would revert them)."""
    owned = [*meta.text_fields(), *(kind for kind, _ in meta.tags)]
    return [name for name in owned if name not in locked]
