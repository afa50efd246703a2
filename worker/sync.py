"""Syncing one Stash scene to the Plex items that hold its files.

Resolve (path index, no request), compare with what we last wrote and with what the listing
shows, then at most one PUT per item, a poster upload only when the cover's content changed,
and a rating only when rating sync is on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from errors import TransientError
from plex.client import PlexClient
from plex.edits import PlexMetadata, drift, edit_params
from plex.errors import PlexAmbiguous, PlexNotFound
from plex.index import Match, PathIndex
from plex.paths import dirname, suggest_rule
from stash import scene as scenes
from stash.client import StashClient
from stash.settings import PlexSyncConfig
from worker.store import ItemState, Store

log = logging.getLogger("plexsync.sync")


class CoverPending(TransientError):
    """Stash has no cover for the scene yet (a scan runs hooks before generating it)."""


# A scene without a cover this long after Stash created it has none to wait for.
COVER_GRACE = 3600.0


class SceneSync:
    """Writes scenes to Plex; `sync()` returns what happened or raises a classified error."""

    def __init__(
        self,
        plex: PlexClient,
        index: PathIndex,
        store: Store,
        stash: StashClient,
        config: PlexSyncConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plex = plex
        self.index = index
        self.store = store
        self.stash = stash
        self.config = config
        self.clock = clock
        self.machine = index.machine
        self.writes = 0
        self.posters = 0

    def sync(self, scene: dict, force: bool = False, cover_changed: bool = False) -> str:
        """Bring Plex in line with one scene: 'written', 'unchanged' or 'skipped'."""
        scene_id = int(scene["id"])
        if self.config.options.skip_unorganized and not scene.get("organized"):
            return "skipped"
        if not scenes.files(scene):
            log.info("scene %s has no file, so nothing in Plex can show it", scene_id)
            return "skipped"
        meta = scenes.to_plex(scene, self.config.options)
        previous = self.store.items(scene_id, self.machine)
        states, wrote, cover_missing = [], False, False
        for match in self._owned(scene_id, self.resolve(scene)):
            state, changed, missing = self._sync_item(
                scene, meta, match, previous.get(match.rating_key), force, cover_changed
            )
            states.append(state)
            wrote |= changed
            cover_missing |= missing
        self.store.save_items(scene_id, self.machine, states, self.clock())
        if cover_missing:
            raise CoverPending(f"scene {scene_id} has no cover in Stash yet")
        return "written" if wrote else "unchanged"

    # -- matching

    def resolve(self, scene: dict, refresh: bool = True) -> list[Match]:
        """Every Plex item holding one of the scene's files; a miss refreshes the index once
        (and, if the user asked, asks Plex to scan the folder)."""
        matches, ambiguous = self._lookup(scene)
        if refresh and not matches and not ambiguous and self.index.refresh_after_miss():
            matches, ambiguous = self._lookup(scene)
        if matches:
            return matches
        if ambiguous:
            raise ambiguous
        wanted = [self.config.path_map.to_plex(path) for path, _ in scenes.files(scene)]
        if refresh and self.config.options.scan_missing:
            self._ask_for_scan(wanted[0])
        raise PlexNotFound(f"scene {scene['id']}: {', '.join(wanted)} is not in Plex (yet)")

    def _lookup(self, scene: dict) -> tuple[list[Match], PlexAmbiguous | None]:
        found: dict[str, Match] = {}
        ambiguous = None
        for path, size in scenes.files(scene):
            plex_path = self.config.path_map.to_plex(path)
            try:
                matches = self.index.lookup(plex_path, size)
            except PlexAmbiguous as exc:
                ambiguous = exc
                continue
            for match in matches:
                found.setdefault(match.rating_key, match)
                if match.how == "basename":
                    log.warning(
                        "scene %s matched %s by file name and size only; a pathMap entry "
                        "like %r would match it directly",
                        scene["id"],
                        match.path,
                        suggest_rule(path, match.path),
                    )
        return list(found.values()), ambiguous

    def _owned(self, scene_id: int, matches: list[Match]) -> list[Match]:
        """Leave alone any item another scene already writes to (two scenes, one file)."""
        mine = []
        for match in matches:
            other = self.store.claimed_by(self.machine, match.rating_key, scene_id)
            if other is None:
                mine.append(match)
            else:
                log.warning(
                    "Plex item %s (%s) belongs to scene %s and to scene %s; left alone",
                    match.rating_key,
                    match.path,
                    other,
                    scene_id,
                )
        if not mine:
            raise PlexAmbiguous(f"scene {scene_id}'s Plex items are claimed by another scene")
        return mine

    def _ask_for_scan(self, plex_path: str) -> None:
        for section in self.index.sections:
            self.plex.scan_folder(section.key, dirname(plex_path))

    # -- writing

    def _sync_item(self, scene, meta: PlexMetadata, match: Match, old, force, cover_changed):
        fingerprint = meta.fingerprint()
        listed = self.index.listed(match.rating_key) or {}
        changed = (
            force or old is None or old.fingerprint != fingerprint or bool(drift(meta, listed))
        )
        if changed:
            self._write(meta, match)
        cover_key, missing = self._sync_cover(scene, match, old, cover_changed)
        return ItemState(match.rating_key, fingerprint, cover_key), changed, missing

    def _write(self, meta: PlexMetadata, match: Match) -> None:
        try:
            self.plex.edit(match.section, match.rating_key, edit_params(meta))
            if meta.sync_rating:
                self.plex.rate(match.rating_key, meta.rating)
        except PlexNotFound:
            # The remembered item is gone (deleted, or Plex rebuilt): re-resolve next time.
            self.index.forget(match.rating_key)
            self.store.forget_item(self.machine, match.rating_key)
            raise
        self.writes += 1
        self.index.note_written(match.rating_key, meta)

    def _sync_cover(self, scene: dict, match: Match, old, changed: bool) -> tuple[str, bool]:
        """Upload the cover when its content changed; (cover key to remember, cover missing).

        The URL's version (`?t=`) skips the fetch for a scene whose cover is as it was, unless
        the event says the cover may have changed (`changed`)."""
        url = scenes.cover_url(scene)
        old_key = old.cover_key if old else ""
        if self.config.options.skip_covers or not url:
            return old_key, False
        version = urlsplit(url).query or urlsplit(url).path
        if not changed and old_key.startswith(version + " "):
            return old_key, False  # same cover version as last time: no fetch at all
        data = self.stash.cover(url)
        if not data:
            age = scenes.age_seconds(scene, self.clock())
            return old_key, age is not None and age < COVER_GRACE
        digest = hashlib.sha256(data).hexdigest()[:32]
        if not old_key.endswith(" " + digest):
            self.plex.upload_poster(match.rating_key, data)
            self.posters += 1
        return f"{version} {digest}", False
