"""What one iteration of the worker does for each kind of job; each step returns a Settlement.

- scene jobs, a batch at a time: read the scenes from Stash in one query (duplicates
  collapse, the newest data wins), sync them, one outcome per scene;
- a scan (Sync all, or the scenes of a renamed performer/studio/tag): one page of scenes per
  iteration, each synced scene settled as a scene job, the cursor recorded with them, so a
  killed run continues where it stopped;
- an activity import (worker/activity.py): one page of Plex watch history.

Steps only attempt; worker/settle.py decides what happens to the jobs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from errors import RunWide
from stash.client import PAGE_SIZE
from state.jobs import ScanJob, SceneJob
from state.queue import Claimed
from state.store import Store
from worker.services import Services
from worker.settle import Outcome, Settlement

log = logging.getLogger("plexsync.worker")


class Steps:
    """The steps of each job kind, over one run's services and state file."""

    def __init__(
        self,
        services: Services,
        store: Store,
        tally: Counter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.services = services
        self.store = store
        self.tally = tally
        self.clock = clock

    # -- scene jobs

    def scenes(self, claims: list[Claimed]) -> Settlement:
        """Sync the batch's scenes; a scene Stash no longer has (deleted, merged away) is
        forgotten and its jobs done."""
        by_scene: dict[int, list[Claimed]] = {}
        for claim in claims:
            by_scene.setdefault(claim.job.scene_id, []).append(claim)
        fresh = self.services.stash.scenes(list(by_scene))
        present = [scene_id for scene_id in by_scene if scene_id in fresh]
        cover = {i: any(c.job.cover for c in by_scene[i]) for i in present}
        errors = self._sync([(fresh[i], cover[i]) for i in present])
        error_of = dict(zip(present, errors, strict=True))
        gone = [scene_id for scene_id in by_scene if scene_id not in fresh]
        outcomes = [Outcome(c[-1].job, error_of.get(i), c) for i, c in by_scene.items()]
        return Settlement(outcomes, record=lambda: self._forget(gone) if gone else None)

    def _sync(self, batch: list[tuple[dict, bool]]) -> list[Exception | None]:
        """Sync (scene, cover_changed) pairs; each one's error, None where it succeeded."""
        errors = []
        for (scene, _), result in zip(batch, self.services.syncer.sync_many(batch), strict=True):
            if isinstance(result, Exception):
                errors.append(result)
                continue
            self.tally[result] += 1
            level = logging.DEBUG if result == "unchanged" else logging.INFO
            log.log(level, "scene %s: %s", scene["id"], result)
            errors.append(None)
        return errors

    def _forget(self, scene_ids: list[int]) -> None:
        for scene_id in scene_ids:
            self.store.forget_scene(scene_id)
        self._note_gone(scene_ids)

    def _note_gone(self, scene_ids: list[int]) -> None:
        for scene_id in scene_ids:
            self.tally["deleted"] += 1
            log.info("scene %s is not in Stash any more; PlexSync forgot it", scene_id)

    # -- scans

    def scan_page(self, claim: Claimed) -> Settlement:
        """One page: sync its scenes, up to the first run-wide error, and move the cursor."""
        job, key = claim.job, claim.job.key
        cursor = self._cursor(job)
        scenes, left = self.services.stash.scene_page(cursor["after_id"], job.scene_filter())
        errors = self._sync([(scene, False) for scene in scenes])
        stop = next((at for at, e in enumerate(errors) if isinstance(e, RunWide)), None)
        synced = scenes[:stop]
        now = self.clock()
        outcomes = [
            Outcome(SceneJob(int(scene["id"]), "scan", now), error)
            for scene, error in zip(synced, errors, strict=False)
        ]
        finished = stop is None and len(scenes) < PAGE_SIZE
        error = None if stop is None else errors[stop]
        outcomes.append(Outcome(job, error, [claim], more=not finished and error is None))
        after = int(synced[-1]["id"]) if synced else cursor["after_id"]
        done = cursor["done"] + len(synced)

        def record() -> None:
            if job.full:  # it walks every scene: any it skipped is gone
                self._note_gone(
                    self.store.forget_unlisted(
                        cursor["after_id"], None if finished else after, _ids(scenes)
                    )
                )
            if finished:
                self.store.end_scan(key)
                log.info("scan %s finished: %d scene(s) checked", key, done)
            else:  # scenes added or deleted meanwhile move the total
                self.store.save_scan(key, after, cursor["done"] + left, done, cursor["started_at"])

        return Settlement(outcomes, record)

    def _cursor(self, job: ScanJob):
        cursor = self.store.scan(job.key)
        if cursor is None:
            if job.full:  # a fresh listing: drift in Plex is seen at no extra cost
                self.services.index.rebuild()
            total = self.services.stash.count_scenes(job.scene_filter())
            self.store.save_scan(job.key, 0, total, 0, self.clock())
            cursor = self.store.scan(job.key)
        return cursor

    # -- activity imports

    def activity_page(self, claim: Claimed) -> Settlement:
        finished = self.services.activity.step(self.tally)
        return Settlement([Outcome(claim.job, None, [claim], more=not finished)])


def _ids(scenes: list[dict]) -> set[int]:
    return {int(scene["id"]) for scene in scenes}
