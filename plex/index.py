"""The path index: every Media/Part file of the synced sections -> its Plex item, on disk.

Built from the section listing (`/library/sections/{id}/all?type=1`, 1,000 items a page), so
finding a scene's item costs no request at all. It lives in its own SQLite file: lookups are
indexed queries (no 50,000-entry dict in memory), it survives between worker runs, and a
corrupt file is simply deleted and rebuilt. A miss triggers a rate-limited refresh: first an
incremental listing (`addedAt>>=`), then, if the file is still missing and the last full
build is old enough, a full one. If Plex ignores the filter, the answer is a full listing and
is treated as one, so the index is right whichever way Plex behaves.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plex.client import PlexClient, Section
from plex.edits import PlexMetadata
from plex.errors import PlexAmbiguous
from plex.index_lookup import Ambiguous, Match, Where, candidates, lookup, where_is
from plex.paging import check_page
from plex.paths import basename, normalize

__all__ = ["Match", "PathIndex", "parse_listing", "open_index_db"]

PAGE_SIZE = 1000
TAG_ELEMENTS = {"Genre": "genre", "Role": "actor", "Label": "label", "Collection": "collection"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sections (
    key TEXT PRIMARY KEY, title TEXT, machine TEXT, full_built_at REAL,
    refreshed_at REAL, max_added_at INTEGER, items INTEGER);
CREATE TABLE IF NOT EXISTS items (
    rating_key TEXT PRIMARY KEY, section TEXT, listed TEXT, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS parts (
    rating_key TEXT, path TEXT, path_lower TEXT, name_lower TEXT, size INTEGER);
CREATE INDEX IF NOT EXISTS parts_path ON parts(path);
CREATE INDEX IF NOT EXISTS parts_lower ON parts(path_lower);
CREATE INDEX IF NOT EXISTS parts_name ON parts(name_lower, size);
CREATE INDEX IF NOT EXISTS parts_item ON parts(rating_key);
CREATE INDEX IF NOT EXISTS items_section ON items(section);
"""


@dataclass(frozen=True)
class IndexPolicy:
    """How often a miss may cost a listing: one refresh serves every job waiting on a path."""

    incremental_every: float = 30.0
    full_every: float = 3600.0


@dataclass
class ListedItem:
    """What a section listing says about one item (tag lists may be cut short)."""

    rating_key: str
    added_at: int
    updated_at: int
    fields: dict = field(default_factory=dict)
    parts: list[tuple[str, int]] = field(default_factory=list)
    locked: set[str] = field(default_factory=set)
    thumb: str = ""


def parse_listing(container) -> Iterator[ListedItem]:
    """The items of one listing page (Video elements with Media/Part children)."""
    for video in container.iter("Video"):
        item = ListedItem(
            rating_key=video.get("ratingKey", ""),
            added_at=int(video.get("addedAt") or 0),
            updated_at=int(video.get("updatedAt") or 0),
        )
        item.fields = {
            "title": video.get("title", ""),
            "summary": video.get("summary", ""),
            "studio": video.get("studio", ""),
            "originallyAvailableAt": video.get("originallyAvailableAt", ""),
        }
        for element, kind in TAG_ELEMENTS.items():
            item.fields[kind] = [tag.get("tag", "") for tag in video.findall(element)]
        item.locked = {f.get("name", "") for f in video.findall("Field") if f.get("locked") == "1"}
        item.thumb = video.get("thumb", "")
        for part in video.iter("Part"):
            if part.get("file"):
                item.parts.append((normalize(part.get("file")), int(part.get("size") or 0)))
        yield item


class PathIndex:
    """Lookups by path over the synced sections of one Plex server."""

    def __init__(
        self,
        path: Path,
        client: PlexClient,
        sections: list[Section],
        policy: IndexPolicy = IndexPolicy(),
        other_sections: Sequence[Section] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self.sections = sections  # synced: lookups answer from these only
        # every section is listed, so a file in a library the user did not choose can be
        # told apart from a file Plex does not have at all
        self.listed_sections = [*sections, *other_sections]
        self._policy = policy
        self._clock = clock
        self.db = open_index_db(path)
        self.machine = client.connect().machine_identifier
        self._forget_other_servers()

    def _forget_other_servers(self) -> None:
        stale = self.db.execute(
            "SELECT 1 FROM sections WHERE machine != ? LIMIT 1", (self.machine,)
        ).fetchone()
        if stale:
            with self.db:
                for table in ("sections", "items", "parts"):
                    self.db.execute(f"DELETE FROM {table}")

    # -- lookups

    def lookup(
        self, plex_path: str, size: int | None, sections: list[Section] | None = None
    ) -> list[Match]:
        """Items holding this file: exact path, then any case, then a unique name + size."""
        keys = tuple(s.key for s in (self.sections if sections is None else sections))
        found = lookup(self.db, keys, plex_path, size)
        if isinstance(found, Ambiguous):
            raise PlexAmbiguous(found.message())
        return found

    def where_is(self, files: Sequence[tuple[str, int | None]], explain: bool = False) -> Where:
        """Where these files ((Plex path, size) each) are in the synced sections; with
        `explain`, a miss says which other library holds one, or the closest names."""
        synced = tuple(s.key for s in self.sections)
        others = {s.key: s.title for s in self.listed_sections if s not in self.sections}
        return where_is(self.db, files, synced, others if explain else None)

    def candidates(self, plex_path: str, limit: int = 3) -> list[str]:
        """Files in any listed section with the same name: the closest things to a miss."""
        return candidates(self.db, plex_path, limit)

    def listed(self, rating_key: str) -> dict | None:
        """The fields the last listing showed for an item."""
        row = self.db.execute("SELECT listed FROM items WHERE rating_key = ?", (rating_key,))
        found = row.fetchone()
        return json.loads(found[0]) if found else None

    def note_written(self, rating_key: str, meta: PlexMetadata) -> None:
        """Keep the listed fields in step with what we just wrote (no drift on stale data)."""
        listed = self.listed(rating_key) or {}
        listed.update(meta.text_fields())
        listed.update({kind: list(names) for kind, names in meta.tags})
        self.db.execute(
            "UPDATE items SET listed = ? WHERE rating_key = ?",
            (json.dumps(listed, ensure_ascii=False), rating_key),
        )  # saved by the caller, once per batch (`save_written`)

    def save_written(self) -> None:
        """Commit what `note_written` noted since the last save: one transaction per batch."""
        self.db.commit()

    def forget(self, rating_key: str) -> None:
        """Drop an item Plex no longer has (a 404 on it)."""
        with self.db:
            self.db.execute("DELETE FROM parts WHERE rating_key = ?", (rating_key,))
            self.db.execute("DELETE FROM items WHERE rating_key = ?", (rating_key,))

    def files(self) -> Iterator[tuple[str, int]]:
        """(path, size) of every file in the synced sections."""
        keys = tuple(section.key for section in self.sections)
        rows = self.db.execute(
            "SELECT parts.path, parts.size FROM parts JOIN items ON items.rating_key = "
            f"parts.rating_key WHERE items.section IN ({','.join('?' * len(keys))})",
            keys,
        )
        yield from rows

    def item_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    # -- building

    def refresh_after_miss(self) -> bool:
        """Catch up with Plex after a lookup missed; False when the rate limit says not yet."""
        now = self._clock()
        refreshed = False
        for section in self.listed_sections:
            row = self._section_row(section.key)
            if row is None or now - (row["full_built_at"] or 0) >= self._policy.full_every:
                self._list(section, since=None)
                refreshed = True
            elif now - (row["refreshed_at"] or 0) >= self._policy.incremental_every:
                # one second back: Plex's filter is strict and addedAt has 1 s resolution
                self._list(section, since=max(0, (row["max_added_at"] or 0) - 1))
                refreshed = True
        return refreshed

    def rebuild(self) -> None:
        """List every section in full (sync_all and verify start with a fresh listing)."""
        for section in self.listed_sections:
            self._list(section, since=None)

    def _list(self, section: Section, since: int | None) -> None:
        """Page through a section, all of it or what was added since `since`."""
        filters = {"addedAt>>": since} if since else None
        now = self._clock()
        full = since is None
        seen: set[str] = set()
        max_added = 0
        start, total = 0, None
        with self.db:
            while total is None or start < total:
                page = self._client.list_page(section.key, start, PAGE_SIZE, filters)
                items = list(parse_listing(page))
                total = int(page.get("totalSize") or page.get("size") or len(items))
                _check_page(section, start, total, items, seen)
                if since and any(item.added_at < since for item in items):
                    full = True  # Plex ignored the filter: this is the whole section
                self._store(section.key, items)
                seen.update(item.rating_key for item in items)
                max_added = max([max_added, *(item.added_at for item in items)])
                start += len(items)
                if not items:
                    break
            if full:
                self._drop_unseen(section.key, seen)
            self._record(section, now, full, max_added)

    def _store(self, section_key: str, items: list[ListedItem]) -> None:
        keys = [(item.rating_key,) for item in items]
        self.db.executemany("DELETE FROM parts WHERE rating_key = ?", keys)
        self.db.executemany(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
            [
                (i.rating_key, section_key, json.dumps(i.fields, ensure_ascii=False), i.updated_at)
                for i in items
            ],
        )
        self.db.executemany(
            "INSERT INTO parts VALUES (?, ?, ?, ?, ?)",
            [
                (i.rating_key, path, path.lower(), basename(path).lower(), size)
                for i in items
                for path, size in i.parts
            ],
        )

    def _drop_unseen(self, section_key: str, seen: set[str]) -> None:
        known = self.db.execute("SELECT rating_key FROM items WHERE section = ?", (section_key,))
        gone = [(key,) for (key,) in known.fetchall() if key not in seen]
        self.db.executemany("DELETE FROM parts WHERE rating_key = ?", gone)
        self.db.executemany("DELETE FROM items WHERE rating_key = ?", gone)

    def _record(self, section: Section, now: float, full: bool, max_added: int) -> None:
        row = self._section_row(section.key)
        count = self.db.execute(
            "SELECT COUNT(*) FROM items WHERE section = ?", (section.key,)
        ).fetchone()[0]
        built = now if full else (row["full_built_at"] if row else None)
        added = max_added if full else max(max_added, (row["max_added_at"] or 0) if row else 0)
        self.db.execute(
            "INSERT OR REPLACE INTO sections VALUES (?, ?, ?, ?, ?, ?, ?)",
            (section.key, section.title, self.machine, built, now, added, count),
        )

    def _section_row(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM sections WHERE key = ?", (key,)).fetchone()


def _check_page(section: Section, start: int, total: int, items, seen: set[str]) -> None:
    """Stop paging through a listing that cannot be right (a broken or hostile server)."""
    check_page(f"library {section.title!r}", start, total, [i.rating_key for i in items], seen)


def open_index_db(path: Path) -> sqlite3.Connection:
    """Open (or create) the index file; a corrupt one is deleted, since it can be rebuilt."""
    for attempt in range(2):
        try:
            db = sqlite3.connect(path, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            return db
        except sqlite3.DatabaseError:
            if attempt:
                raise
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    raise AssertionError("unreachable")
