"""The worker: claim due jobs, sync them, route each outcome. `run_once()` is one iteration.

A batch of claimed scene jobs is read from Stash in one query (duplicates collapse, the newest
data wins), each scene is synced, and `_route` applies the decision of `routing.decide`: the
only place that acks, delays, dead-letters or releases a job. A scan job (sync_all, or the
scenes of a renamed performer/studio/tag) handles one page of scenes per iteration and keeps
a cursor in the state file, so a killed run continues where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from errors import ConfigError, PermanentError, ServiceUnreachable, TransientError
from plex.errors import PlexAuthError
from stash.client import PAGE_SIZE
from worker.datadir import DataDir
from worker.jobqueue import Claimed, JobQueue
from worker.jobs import activity_job, job_key, scan_filter, scene_job
from worker.routing import (
    DeadLetter,
    Decision,
    Done,
    GiveUp,
    Halt,
    Pause,
    RetryAt,
    RetryPolicy,
    decide,
)
from worker.services import Services
from worker.store import Store

log = logging.getLogger("plexsync.worker")
RUN_WIDE = (ServiceUnreachable, ConfigError, PlexAuthError)  # never one scene's fault
KNOWN_ERRORS = (TransientError, PermanentError, ConfigError)  # anything else is a bug of ours


@dataclass(frozen=True)
class Pacing:
    """How the worker waits: batch size, idle linger, retry horizon, outage probing."""

    batch: int = 200
    linger: float = 2.0  # stay this long when idle, so a burst of saves shares one worker
    poll: float = 0.1  # how often an idle worker looks for new jobs (two cheap queries)
    horizon: float = 900.0  # sleep for retries due within this; later ones wait for a hook
    probe_every: float = 2.0  # while Plex or Stash is away
    max_pause: float = 900.0  # then stop; the next hook or task starts again


class Worker:
    """Drains the queue of one data directory; only the lock holder may run one."""

    def __init__(
        self,
        data: DataDir,
        queue: JobQueue,
        store: Store,
        services: Services,
        pacing: Pacing = Pacing(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[Worker], None] | None = None,
    ) -> None:
        self.data = data
        self.queue = queue
        self.store = store
        self.services = services
        self.pacing = pacing
        self.clock = clock
        self.sleep = sleep
        self.on_progress = on_progress
        self.tally: Counter[str] = Counter()
        self.stopped: str | None = None  # why the run ended early
        self._retry_policy: RetryPolicy | None = None

    # -- the loop

    def recover(self) -> None:
        """Once per run, lock held: recover jobs a killed worker left in flight."""
        resumed = self.queue.resume_in_flight()
        if resumed:
            log.info("resumed %d job(s) left in flight by an earlier worker", resumed)
        self._restore_token_failures()

    def run(self, drain: bool = False) -> None:
        """Work until idle. drain (tasks): stop as soon as nothing is due now."""
        idle_since = None
        while self.stopped is None:
            if self.run_once():
                idle_since = None
                continue
            if self._queue_activity_import():
                continue
            if drain:
                return
            now = self.clock()
            next_due = self.store.next_due()
            waiting = next_due is not None and next_due - now <= self.pacing.horizon
            idle_since = idle_since or now
            if not waiting and now - idle_since >= self.pacing.linger:
                return
            self.sleep(self.pacing.poll)  # new jobs from hooks wait at most this long

    def run_once(self) -> int:
        """Promote due retries, claim a batch, process it; the number of jobs handled."""
        self._promote_due()
        claimed = self.queue.claim(self.pacing.batch)
        if not claimed:
            return 0
        scenes: dict[int, list[Claimed]] = {}
        scans = []
        for claim in claimed:
            if "scene_id" in claim.job:
                scenes.setdefault(int(claim.job["scene_id"]), []).append(claim)
            else:
                scans.append(claim)
        self._sync_scenes(scenes)
        for claim in scans:
            if self.stopped:
                self.queue.release(claim)
            elif "activity" in claim.job:
                self._activity_step(claim)
            else:
                self._scan_step(claim)
        self.queue.compact()
        if self.on_progress:
            self.on_progress(self)
        return len(claimed)

    # -- scene jobs

    def _sync_scenes(self, claims_by_scene: dict[int, list[Claimed]]) -> None:
        if not claims_by_scene:
            return
        try:
            fresh = self.services.stash.scenes(list(claims_by_scene))
        except Exception as exc:
            self._give_back(claims_by_scene, exc)
            return
        present = [scene_id for scene_id in claims_by_scene if scene_id in fresh]
        errors = dict(
            zip(
                present,
                self._attempt(
                    [
                        (fresh[i], any(c.job.get("cover") for c in claims_by_scene[i]))
                        for i in present
                    ]
                ),
                strict=True,
            )
        )
        pending = dict(claims_by_scene)
        with self.store.transaction():
            for scene_id, claims in claims_by_scene.items():
                del pending[scene_id]
                if scene_id not in fresh:
                    self._drop(scene_id, claims)
                    continue
                decision = self._route(claims[-1].job, errors[scene_id], claims)
                if isinstance(decision, (Pause, Halt)):
                    self._give_back(pending)
                    break
            else:
                return
        self._hold(decision)

    def _attempt(self, batch: list[tuple[dict, bool]]) -> list[Exception | None]:
        """Sync (scene, cover_changed) pairs; the error of each (None: it succeeded)."""
        try:
            results = self.services.syncer.sync_many(batch)
        except Exception as exc:  # connecting failed: every scene shares the error
            results = [exc] * len(batch)
        errors = []
        for (scene, _), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):  # classified by routing.decide
                errors.append(result)
                continue
            self.tally[result] += 1
            level = logging.DEBUG if result == "unchanged" else logging.INFO
            log.log(level, "scene %s: %s", scene["id"], result)
            errors.append(None)
        return errors

    def _drop(self, scene_id: int, claims: list[Claimed]) -> None:
        """The scene is no longer in Stash (deleted, or merged away): forget it."""
        self.store.forget_scene(scene_id)
        for claim in claims:
            self.queue.ack(claim)
        self.tally["deleted"] += 1
        log.info("scene %s is not in Stash any more; its pending sync was dropped", scene_id)

    def _give_back(self, claims_by_scene: dict[int, list[Claimed]], error=None) -> None:
        """Jobs of a batch that were not attempted: release them, or route the batch's error."""
        decision = None
        for claims in claims_by_scene.values():
            if error is None or isinstance(decision, (Pause, Halt)):
                for claim in claims:
                    self.queue.release(claim)
            else:
                decision = self._route(claims[-1].job, error, claims)
        if decision is not None:
            self._hold(decision)

    # -- scan jobs

    def _scan_step(self, claim: Claimed) -> None:
        """One page of a scan: sync its scenes, move the cursor, finish or come back."""
        key = job_key(claim.job)
        try:
            cursor = self._scan_cursor(claim.job, key)
            scenes, left = self.services.stash.scene_page(
                cursor["after_id"], scan_filter(claim.job)
            )
            after, done = cursor["after_id"], cursor["done"]
            total = done + left  # scenes added or deleted meanwhile move the total
            errors = self._attempt([(scene, False) for scene in scenes])
            stop = next((e for e in errors if isinstance(e, RUN_WIDE)), None)
            with self.store.transaction():  # one commit per page, cursor included
                for scene, error in zip(scenes, errors, strict=True):
                    if error is stop is not None:
                        break
                    self._route(scene_job(int(scene["id"]), "scan", self.clock()), error)
                    after, done = int(scene["id"]), done + 1
                if claim.job["scan"] == "all":
                    last = len(scenes) < PAGE_SIZE and stop is None
                    self._forget_unlisted(cursor["after_id"], None if last else after, scenes)
                self.store.save_scan(key, after, total, done, cursor["started_at"])
            if stop is not None:
                raise stop
        except Exception as exc:
            self._hold(self._route(claim.job, exc, [claim]))
            return
        if len(scenes) < PAGE_SIZE:
            self.store.end_scan(key)
            self._route(claim.job, None, [claim])
            log.info("scan %s finished: %d scene(s) checked", key, done)
        else:
            self.queue.release(claim)

    def _forget_unlisted(self, after_id: int, upto_id: int | None, scenes: list[dict]) -> None:
        """Sync all walks every scene: any we hold state for that it skipped is gone."""
        gone = self.store.forget_unlisted(after_id, upto_id, {int(s["id"]) for s in scenes})
        for scene_id in gone:
            self.tally["deleted"] += 1
            log.info("scene %s is not in Stash any more; PlexSync forgot it", scene_id)

    def _scan_cursor(self, job: dict, key: str):
        cursor = self.store.scan(key)
        if cursor is None:
            if job["scan"] == "all":  # a fresh listing: drift in Plex is seen at no extra cost
                self.services.index.rebuild()
            total = self.services.stash.count_scenes(scan_filter(job))
            self.store.save_scan(key, 0, total, 0, self.clock())
            cursor = self.store.scan(key)
        return cursor

    # -- activity import jobs (worker/activity.py)

    def _activity_step(self, claim: Claimed) -> None:
        """One page of a watch-activity import, routed like any job."""
        try:
            finished = self.services.activity.step(self.tally)
        except Exception as exc:
            self._hold(self._route(claim.job, exc, [claim]))
            return
        if finished:
            self._route(claim.job, None, [claim])
        else:
            self.queue.release(claim)

    def _queue_activity_import(self) -> bool:
        """With importActivity on, a run ends with an import, at most every 15 minutes."""
        if self.stopped or not self.services.activity.auto_due(self.clock()):
            return False
        self.queue.enqueue(activity_job(self.clock()))
        return True

    # -- routing

    def _route(self, job: dict, error: Exception | None, claims=()) -> Decision:
        """Apply the decision for one job: the only place jobs are acked, delayed or failed."""
        key = job_key(job)
        now = self.clock()
        if error is not None and not isinstance(error, KNOWN_ERRORS):
            log.error("%s: unexpected error, a PlexSync bug; retrying later", key, exc_info=error)
        history = self.store.failure(key) if error is not None else None
        decision = decide(error, history, now, self._policy())
        if isinstance(decision, (Done, GiveUp)):
            self.store.clear_failure(key)
        if isinstance(decision, GiveUp):
            self.tally["not_in_plex"] += 1
            log.info("%s: %s; given up (your Plex library is partial)", key, error)
        elif isinstance(decision, RetryAt):
            self.store.delay(key, job, decision.due_at, decision.failure, error)
            self.tally["retrying"] += 1
            log.info("%s: %s; retry in %.0f s", key, error, decision.due_at - now)
        elif isinstance(decision, DeadLetter):
            token = self._token_fingerprint() if isinstance(error, PlexAuthError) else ""
            self.store.dead_letter(key, job, decision.failure, error, now, token)
            self.tally["failed"] += 1
            self.services.token_rejected |= isinstance(error, PlexAuthError)
            log.warning("%s failed: %s (moved to the failed list)", key, error)
        if isinstance(decision, (Pause, Halt)):
            for claim in claims:
                self.queue.release(claim)
        else:
            for claim in claims:
                self.queue.ack(claim)
        return decision

    def _policy(self) -> RetryPolicy:
        """The retry policy of this run's settings, built once (the defaults while the
        settings cannot be read: they still decide sensibly)."""
        if self._retry_policy is None:
            try:
                config = self.services.config
            except (ConfigError, TransientError):
                return RetryPolicy()
            self._retry_policy = RetryPolicy(
                http=config.http_retry,
                not_found=config.not_found_retry,
                drop_not_found=config.partial_library,
            )
        return self._retry_policy

    def _hold(self, decision: Decision) -> None:
        """After Pause, wait for the service; after Halt, stop the run."""
        if isinstance(decision, Halt):
            log.error("PlexSync is waiting for its settings: %s", decision.reason)
            self.stopped = "settings"
        elif isinstance(decision, Pause) and not self._wait_for(decision.service):
            self.stopped = f"{decision.service} unreachable"

    def _wait_for(self, service: str) -> bool:
        """Probe a service that is away every few seconds; False after the horizon."""
        log.warning("%s is unreachable; pausing until it answers", service)
        started = self.clock()
        while self.clock() - started < self.pacing.max_pause:
            self.sleep(self.pacing.probe_every)
            if self.services.probe(service):
                log.info("%s answers again after %.0f s; resuming", service, self.clock() - started)
                return True
        return False

    # -- housekeeping

    def _promote_due(self) -> None:
        """Move retries whose time has come back onto the queue (put first, delete after)."""
        due = self.store.due(self.clock())
        for _, job in due:
            self.queue.enqueue(job)
        self.store.undelay([key for key, _ in due])

    def _token_fingerprint(self) -> str:
        try:
            return self.services.config.token_fingerprint()
        except (ConfigError, TransientError):  # unreadable settings: no fingerprint to compare
            return ""

    def _restore_token_failures(self) -> None:
        """Jobs that failed on a rejected token return by themselves once the token changes."""
        if not self.store.has_token_failures():  # no Stash request when none did
            return
        current = self._token_fingerprint()
        if not current:
            return
        back = self.store.failed_jobs(token_other_than=current)
        for row in back:
            self.queue.enqueue(row["job"])
        self.store.drop_failed([row["key"] for row in back])
        if back:
            log.info("the Plex token changed: %d failed job(s) are back in the queue", len(back))

    def remaining(self) -> int:
        return work_left(self.queue, self.store)


def work_left(queue: JobQueue, store: Store) -> int:
    """Work still to do now: queued and in-flight jobs plus the unlisted rest of scans."""
    left = queue.ready() + queue.in_flight()
    for scan in store.scans():
        left += max(0, (scan["total"] or 0) - (scan["done"] or 0))
    return left
