"""Syncing Stash scenes to the Plex items that hold their files, a batch at a time.

Each scene goes through three steps:
- plan (this thread): resolve its items in the path index, compare with what we last wrote
  and with what the listing shows; decide which PUTs and cover checks are needed. Planning
  may itself make requests: a miss refreshes the path index (and with scanMissing asks Plex
  to scan the folder), and an item claimed by another scene asks Stash whether that scene
  still exists.
- execute (a small pool): the PUT per changed item, the rating, the cover fetch and, if its
  content changed, the upload, so a batch's writes overlap instead of waiting for each
  other; once one scene finds Plex unreachable or the token rejected, the run's gate
  (worker/gate.py) closes and the rest of the batch sends nothing.
- record (this thread): remember what was written, in one transaction per batch.

A scene's plan and its writes are the boundary of one job: whatever either raises is that
scene's error (a `SceneResult`), settled by the worker like any other; one that is not a
classified error is a bug of ours, which the worker logs with its traceback.

One story, so one module, a little past the 300-line alarm on purpose: the three steps share
the plan they pass along (`ScenePlan`, `ItemPlan`) and the syncer's state (the gate, the
write pool, the folders asked to scan). Where a scene is in Plex is already `where_is`
(plex/index_lookup.py); `resolve` only adds the worker's reactions to a miss.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from config import PlexSyncConfig
from errors import RunWide
from plex.client import PlexClient
from plex.edits import PlexMetadata, drift, edit_params
from plex.errors import PlexAmbiguous, PlexNotFound
from plex.index import Match, PathIndex
from plex.paths import dirname, suggest_rule
from setting_names import setting
from stash.client import StashClient
from stash.errors import CoverPending
from state.store import ItemState, Store, over_cap_cover_key
from worker import metadata as scenes
from worker.gate import Gate

log = logging.getLogger("plexsync.sync")

MB = 1_000_000
COVER_GRACE = 3600.0  # a scene with no cover this long after Stash created it has none coming


@dataclass(frozen=True)
class SceneResult:
    """What syncing one scene came to: an outcome ('written', 'unchanged', 'skipped') or
    the error that stopped it."""

    outcome: str = ""
    error: Exception | None = None


@dataclass
class ItemPlan:
    """What one Plex item of a scene needs."""

    match: Match
    fingerprint: str
    params: dict | None  # the PUT, when the item needs writing
    cover_url: str  # fetch (and upload if its content changed), when not ""
    cover_version: str
    old_cover_key: str
    wrote: bool = False
    cover_key: str = ""
    cover_missing: bool = False


@dataclass
class ScenePlan:
    """One scene's work; `outcome` is set when nothing needs doing in Plex."""

    scene: dict
    meta: PlexMetadata | None = None
    items: list[ItemPlan] = field(default_factory=list)
    outcome: str | None = None
    error: Exception | None = None

    @property
    def desired(self) -> PlexMetadata:
        """The metadata to write (set whenever the plan has items)."""
        assert self.meta is not None, "a scene with items to write has its metadata"
        return self.meta


class SceneSync:
    """Writes scenes to Plex; results are outcomes ('written', 'unchanged', 'skipped') or
    classified exceptions for the worker's router."""

    def __init__(
        self,
        plex: PlexClient,
        index: PathIndex,
        store: Store,
        stash: StashClient,
        config: PlexSyncConfig,
        gate: Gate,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plex = plex
        self.index = index
        self.store = store
        self.stash = stash
        self.config = config
        self.clock = clock
        self.machine = index.machine
        # Threads enough for the most requests Plex's limit ever lets through: the limit, not
        # the pool, decides how many are in flight (plex/limit.py).
        self._pool = ThreadPoolExecutor(plex.limit.policy.high, thread_name_prefix="plexsync-write")
        self.gate = gate
        self._scanned: set[str] = set()

    def sync(self, scene: dict, force: bool = False, cover_changed: bool = False) -> str:
        """Sync one scene; raises its error."""
        (result,) = self.sync_many([(scene, cover_changed)], force)
        if result.error is not None:
            raise result.error
        return result.outcome

    def sync_many(self, batch: list[tuple[dict, bool]], force: bool = False) -> list[SceneResult]:
        """Sync (scene, cover_changed) pairs; one result per scene, in order."""
        self.gate.open()  # a new batch tries again (a rejected token stays rejected)
        plans = [self._plan(scene, force, cover_changed) for scene, cover_changed in batch]
        list(self._pool.map(self._execute, [p for p in plans if p.items and not p.error]))
        with self.store.transaction():
            results = [self._record(plan) for plan in plans]
        self.index.save_written()
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- plan --------------------------------------------------------------------------------

    def _plan(self, scene: dict, force: bool, cover_changed: bool) -> ScenePlan:
        """The scene's plan; whatever goes wrong while planning is this scene's error alone."""
        plan = ScenePlan(scene)
        try:
            self._fill_plan(plan, force, cover_changed)
        except Exception as exc:  # one job's boundary (the module docstring says why)
            plan.error = exc
            plan.items = []
        return plan

    def _fill_plan(self, plan: ScenePlan, force: bool, cover_changed: bool) -> None:
        scene = plan.scene
        scene_id = int(scene["id"])
        if self.config.options.skip_unorganized and not scene.get("organized"):
            plan.outcome = "skipped"
            return
        if not scenes.files(scene):
            log.info("scene %s has no file, so nothing in Plex can show it", scene_id)
            plan.outcome = "skipped"
            return
        matches = self._owned(scene_id, self.resolve(scene))
        plan.meta = scenes.to_plex(scene, self.config.options)
        previous = self.store.items(scene_id, self.machine)
        for match in matches:
            plan.items.append(
                self._plan_item(plan, match, previous.get(match.rating_key), force, cover_changed)
            )

    def _plan_item(self, plan: ScenePlan, match: Match, old, force, cover_changed) -> ItemPlan:
        meta = plan.desired
        fingerprint = meta.fingerprint()
        listed = self.index.listed(match.rating_key) or {}
        changed = force or old is None or old.fingerprint != fingerprint or drift(meta, listed)
        url = scenes.cover_url(plan.scene)
        old_key = old.cover_key if old else ""
        version = urlsplit(url).query or urlsplit(url).path
        check_cover = bool(url) and not self.config.options.skip_covers
        # The URL's version (`?t=`) spares the fetch for a cover that is as it was, unless the
        # event said the cover may have changed (its version has 1 s resolution).
        if check_cover and not cover_changed and old_key.startswith(version + " "):
            check_cover = False
        return ItemPlan(
            match=match,
            fingerprint=fingerprint,
            params=edit_params(meta) if changed else None,
            cover_url=url if check_cover else "",
            cover_version=version,
            old_cover_key=old_key,
            cover_key=old_key,
        )

    def resolve(self, scene: dict, refresh: bool = True) -> list[Match]:
        """Every Plex item holding one of the scene's files (`PathIndex.where_is`); a miss
        refreshes the index once (and, if the user asked, asks Plex to scan the folder)."""
        stash_paths = scenes.files(scene)
        files = [(self.config.path_map.to_plex(path), size) for path, size in stash_paths]
        where = self.index.where_is(files)
        if (
            refresh
            and not where.matches
            and not where.ambiguous
            and self.index.refresh_after_miss()
        ):
            where = self.index.where_is(files)
        for match, source in zip(where.matches, where.sources, strict=True):
            if match.how == "basename":
                log.warning(
                    "scene %s matched %s by file name and size only; a %s rule like %r "
                    "would match it directly",
                    scene["id"],
                    match.path,
                    setting("pathMap"),
                    suggest_rule(stash_paths[source][0], match.path),
                )
        if where.matches:
            return list(where.matches)
        if where.ambiguous is not None:
            raise PlexAmbiguous(where.ambiguous.message())
        folder = dirname(where.looked_for[0])
        if refresh and self.config.options.scan_missing and folder not in self._scanned:
            self._scanned.add(folder)  # once per folder per run, however many files miss
            for section in self.index.sections:
                self.plex.scan_folder(section.key, folder)
        raise PlexNotFound(
            f"scene {scene['id']}: {', '.join(where.looked_for)} is not in Plex (yet)"
        )

    def _owned(self, scene_id: int, matches: list[Match]) -> list[Match]:
        """Leave alone any item another scene already writes to (two scenes, one file); a
        claim of a scene Stash no longer has (merged away: no hook runs) is released."""
        mine = []
        for match in matches:
            other = self.store.claimed_by(self.machine, match.rating_key, scene_id)
            if other is not None and not self.stash.scenes([other]):
                log.info("scene %s is not in Stash any more; its Plex items are free", other)
                self.store.forget_scene(other)
                other = None
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

    # -- execute (pool threads: HTTP only) -----------------------------------------------------

    def _execute(self, plan: ScenePlan) -> None:
        try:
            self.gate.check()  # Plex is away or refused the token: send nothing more
            self._write(plan)
        except Exception as exc:  # one job's boundary (the module docstring says why)
            plan.error = exc
            if isinstance(exc, RunWide):
                self.gate.close(exc)

    def _write(self, plan: ScenePlan) -> None:
        cover = None
        for item in plan.items:
            if item.params is not None:
                self.plex.edit(item.match.section, item.match.rating_key, item.params)
                if plan.desired.sync_rating:
                    self.plex.rate(item.match.rating_key, plan.desired.rating)
                item.wrote = True
            if item.cover_url:
                cover = self.stash.cover(item.cover_url) if cover is None else cover
                self._sync_cover(plan, item, cover)

    def _sync_cover(self, plan: ScenePlan, item: ItemPlan, data: bytes | None) -> None:
        if not data:
            age = scenes.age_seconds(plan.scene, self.clock())
            item.cover_missing = age is not None and age < COVER_GRACE
            return
        cap = self.config.options.max_cover_bytes
        if len(data) > cap:  # Plex refuses it: the fields are written, the poster left as it is
            log.warning(
                "scene %s: its cover (%.1f MB) is over the %.1f MB cap for covers "
                "(%s); Plex keeps its poster",
                plan.scene["id"],
                len(data) / MB,
                cap / MB,
                setting("maxCoverMB"),
            )
            item.cover_key = over_cap_cover_key(item.cover_version, len(data))
            return
        digest = hashlib.sha256(data).hexdigest()[:32]
        if not item.old_cover_key.endswith(" " + digest):
            self.plex.upload_poster(item.match.rating_key, data)
        item.cover_key = f"{item.cover_version} {digest}"

    # -- record ----------------------------------------------------------------------------------

    def _record(self, plan: ScenePlan) -> SceneResult:
        """Remember what was written; what came of the scene."""
        if plan.outcome:
            return SceneResult(plan.outcome)
        scene_id = int(plan.scene["id"])
        if plan.error is not None and not plan.items:
            return SceneResult(error=plan.error)
        if isinstance(plan.error, PlexNotFound):
            # A remembered item is gone (deleted, or Plex rebuilt): re-resolve next time.
            for item in plan.items:
                if not item.wrote:
                    self.index.forget(item.match.rating_key)
                    self.store.forget_item(self.machine, item.match.rating_key)
        done = [i for i in plan.items if plan.error is None or i.wrote]
        for item in done:
            if item.wrote:
                self.index.note_written(item.match.rating_key, plan.desired)
        if plan.error is not None:
            return SceneResult(error=plan.error)
        states = [ItemState(i.match.rating_key, i.fingerprint, i.cover_key) for i in done]
        self.store.save_items(scene_id, self.machine, states, self.clock())
        if any(item.cover_missing for item in plan.items):
            return SceneResult(error=CoverPending(f"scene {scene_id} has no cover in Stash yet"))
        return SceneResult("written" if any(item.wrote for item in plan.items) else "unchanged")
