"""Lookups in the path index file, by SQL alone: no Plex client, no request.

`where_is` is the one answer to "where is this scene in Plex?": the worker's sync and verify
reach it through `PathIndex.where_is`, and the UI's scene-state operation opens the same file
read-only and asks it directly, so all three agree on what "in Plex" means.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plex.paths import basename


@dataclass(frozen=True)
class Match:
    """A Plex item that holds one of the scene's files, and how it was found."""

    section: str
    rating_key: str
    path: str
    how: str  # "exact" | "case" | "basename"


@dataclass(frozen=True)
class Ambiguous:
    """Several Plex files fit the scene's file and none is a better fit."""

    wanted: str
    paths: tuple[str, ...]

    def message(self) -> str:
        listed = ", ".join(self.paths[:5])
        return f"{self.wanted} could be any of {len(self.paths)} Plex files: {listed}"


@dataclass(frozen=True)
class Where:
    """Where a scene's files are in Plex: the items of the synced libraries holding them
    (`sources[i]`: which of the files `matches[i]` holds); else why none do: several files
    fit one of them, or (when asked to explain) a library that is not synced holds one, or
    nothing does and these are the closest names."""

    looked_for: tuple[str, ...]
    matches: tuple[Match, ...] = ()
    sources: tuple[int, ...] = ()
    ambiguous: Ambiguous | None = None
    excluded: str = ""  # the title of the unsynced library holding a file
    closest: tuple[str, ...] = ()


def where_is(
    db: sqlite3.Connection,
    files: Sequence[tuple[str, int | None]],
    synced: tuple[str, ...],
    others: dict[str, str] | None = None,
) -> Where:
    """Where the scene's files ((Plex path, size) each) are in the `synced` sections; a miss
    is explained only when `others` ({key: title} of the listed sections not synced) is given."""
    looked_for = tuple(path for path, _ in files)
    found: dict[str, tuple[Match, int]] = {}
    ambiguous = None
    for at, (path, size) in enumerate(files):
        answer = lookup(db, synced, path, size)
        if isinstance(answer, Ambiguous):
            ambiguous = answer
            continue
        for match in answer:
            found.setdefault(match.rating_key, (match, at))
    if found:
        matches, sources = zip(*found.values(), strict=True)
        return Where(looked_for, matches=tuple(matches), sources=tuple(sources))
    if ambiguous is not None or others is None:
        return Where(looked_for, ambiguous=ambiguous)
    for path, size in files:
        answer = lookup(db, tuple(others), path, size)
        if answer and not isinstance(answer, Ambiguous):
            return Where(looked_for, excluded=others[answer[0].section])
    closest = sorted({name for path in looked_for for name in candidates(db, path)})
    return Where(looked_for, closest=tuple(closest))


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection | None]:
    """The index file opened for reading only (the UI's reads), None when there is none yet;
    closed on leaving."""
    if not path.exists():
        yield None
        return
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    db.row_factory = sqlite3.Row
    try:
        yield db
    finally:
        db.close()


def listed_sections(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every library section the index lists: key, title."""
    return db.execute("SELECT key, title FROM sections").fetchall()


def oldest_listing(db: sqlite3.Connection) -> float | None:
    """When the oldest full listing of a section was made (None: none yet)."""
    return db.execute("SELECT MIN(full_built_at) FROM sections").fetchone()[0]


def lookup(
    db: sqlite3.Connection, section_keys: tuple[str, ...], plex_path: str, size: int | None
) -> list[Match] | Ambiguous:
    """Items of these sections holding this file: exact path, any case, a unique name + size.

    Several different files that fit equally are an `Ambiguous` answer, not a guess."""
    marks = ",".join("?" * len(section_keys))
    base = (
        "SELECT items.section, parts.rating_key, parts.path FROM parts JOIN items "
        f"ON items.rating_key = parts.rating_key WHERE items.section IN ({marks}) AND "
    )
    exact = db.execute(base + "parts.path = ?", (*section_keys, plex_path)).fetchall()
    if exact:
        return _matches(exact, "exact")
    rows = db.execute(base + "parts.path_lower = ?", (*section_keys, plex_path.lower()))
    found = _unique_path(rows.fetchall(), plex_path, "case")
    if found or size is None:  # an Ambiguous answer is truthy
        return found
    rows = db.execute(
        base + "parts.name_lower = ? AND parts.size = ?",
        (*section_keys, basename(plex_path).lower(), size),
    )
    return _unique_path(rows.fetchall(), plex_path, "basename")


def candidates(db: sqlite3.Connection, plex_path: str, limit: int = 3) -> list[str]:
    """Files in any listed section with the same name: the closest things to a miss."""
    rows = db.execute(
        "SELECT path FROM parts WHERE name_lower = ? LIMIT ?",
        (basename(plex_path).lower(), limit),
    )
    return [row[0] for row in rows.fetchall()]


def _matches(rows, how: str) -> list[Match]:
    seen: dict[str, Match] = {}
    for section, rating_key, path in rows:
        seen.setdefault(rating_key, Match(section, rating_key, path, how))
    return list(seen.values())


def _unique_path(rows, wanted: str, how: str) -> list[Match] | Ambiguous:
    paths = sorted({path for _, _, path in rows})
    if len(paths) > 1:
        return Ambiguous(wanted, tuple(paths))
    return _matches(rows, how)
