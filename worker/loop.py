"""The worker: claim due jobs, attempt each, settle what came of them, pace itself.

One iteration (`Worker.run_once`): due retries go back on the queue, a batch is claimed, the
scene jobs are synced together, each scan or activity job moves one page, and every outcome
is settled. `run` repeats it until idle, waiting while a service is away (Pause) and stopping
on unusable settings (Halt). `worker_run` opens what a run needs, the same for the background
worker and for the tasks.

A step attempts its jobs and says what came of them (a `Settlement`: one `Outcome` per job,
plus the scenes found gone and a scan's new cursor, as data). `_settle` is then the one place
jobs are acked, delayed, dead-lettered, given up or released, in one transaction with what
the step found; `routing.decide`, a pure function, decides each. One story, so one module:
past the 300-line alarm on purpose (it replaced four modules that shared one mutable tally).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from errors import CLASSIFIED, ConfigError, RunWide, TransientError
from plex.errors import PlexAuthError, PlexNotFound
from stash.client import PAGE_SIZE
from state.datadir import DataDir
from state.jobs import ActivityJob, Job, ScanJob, SceneJob
from state.queue import Claimed, JobQueue
from state.store import Store
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

log = logging.getLogger("plexsync.worker")


@dataclass(frozen=True)
class Pacing:
    """How the worker waits: batch size, idle linger, retry horizon, outage probing."""

    batch: int = 200
    linger: float = 2.0  # stay this long when idle, so a burst of saves shares one worker
    poll: float = 0.1  # how often an idle worker looks for new jobs (two cheap queries)
    horizon: float = 900.0  # sleep for retries due within this; later ones wait for a hook
    probe_every: float = 2.0  # while Plex or Stash is away
    max_pause: float = 900.0  # then stop; the next hook or task starts again
    tell_every: float = 10.0  # while paused, say so this often


@dataclass(frozen=True)
class Outcome:
    """What one attempt of a job came to. `claims`: the queue rows it settles (a scan's scenes
    have none); `more`: the job is not finished (a scan with pages left) and keeps its place."""

    job: Job
    error: Exception | None = None
    claims: Sequence[Claimed] = ()
    more: bool = False


@dataclass(frozen=True)
class ScanCursor:
    """Where a scan page left its scan: written with the page's outcomes."""

    job: ScanJob
    from_id: int  # the page covered scene ids (from_id, to_id]; to_id None: to the end
    to_id: int | None
    listed: frozenset[int]  # the ids the page listed (a full scan forgets the others)
    done: int
    total: int
    started_at: float


@dataclass
class Settlement:
    """What a step found: each job's outcome, the scenes Stash no longer has, a scan's move."""

    outcomes: list[Outcome]
    gone: list[int] = field(default_factory=list)
    cursor: ScanCursor | None = None


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
        self.tally: Counter[str] = Counter()  # what this run did, by kind: the task's summary
        self.stopped: str | None = None  # why the run ended early

    # -- the loop

    def recover(self) -> None:
        """Once per run, lock held: read the settings, recover jobs a killed worker left in
        flight and failures of a token since replaced."""
        self.services.read_settings()
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
        """Promote due retries, claim a batch, attempt and settle each kind's jobs; the number
        of jobs handled."""
        self.store.requeue_due(self.queue, self.clock())
        claimed = self.queue.claim(self.pacing.batch)
        if not claimed:
            return 0
        self._follow_settings()
        scenes = [claim for claim in claimed if isinstance(claim.job, SceneJob)]
        if scenes:  # one batch: their Stash reads and Plex writes are grouped
            self._execute(scenes, self._scenes)
        for claim in claimed:
            if isinstance(claim.job, SceneJob):
                continue
            if self.stopped:
                self.queue.release(claim)
            elif isinstance(claim.job, ScanJob):
                self._execute([claim], self._scan_page)
            elif isinstance(claim.job, ActivityJob):
                self._execute([claim], self._activity_page)
        self.queue.compact()
        if self.on_progress:
            self.on_progress(self)
        return len(claimed)

    def _execute(self, claims: list[Claimed], step: Callable[[list[Claimed]], Settlement]) -> None:
        """The one execute path: attempt a step over its jobs, settle what came of it, then
        wait or stop if the settlement said so."""
        try:
            settlement = step(claims)
        except Exception as exc:  # a job's boundary: every job the step held fails alike
            settlement = _failed_alike(claims, exc)
        stop = self._settle(settlement)
        if isinstance(stop, Halt):
            log.error("PlexSync is waiting for its settings: %s", stop.reason)
            self.stopped = "settings"
        elif isinstance(stop, Pause) and not self._wait_for(stop.service):
            self.stopped = f"{stop.service} unreachable"

    def _wait_for(self, service: str) -> bool:
        """Probe a service that is away every few seconds; False after the horizon."""
        log.warning("%s is unreachable; pausing until it answers", service)
        started = told = self.clock()
        while self.clock() - started < self.pacing.max_pause:
            self.sleep(self.pacing.probe_every)
            if self.services.probe(service):
                log.info("%s answers again after %.0f s; resuming", service, self.clock() - started)
                # read again before the batch goes on: they may have changed meanwhile, or
                # Stash may not have answered the first read
                self._follow_settings()
                return True
            if (
                self.clock() - told >= self.pacing.tell_every
            ):  # what a progress bar at rest waits for
                told = self.clock()
                log.info(
                    "waiting for %s to answer (%.0f s of %.0f s); the work stays queued",
                    service,
                    told - started,
                    self.pacing.max_pause,
                )
        return False

    # -- the steps: each attempts its jobs and says what came of them

    def _scenes(self, claims: list[Claimed]) -> Settlement:
        """Sync the batch's scenes, read fresh from Stash in one query (duplicate jobs
        collapse, the newest data wins); a scene Stash no longer has is forgotten."""
        by_scene: dict[int, list[Claimed]] = {}
        for claim in claims:
            by_scene.setdefault(_scene_job(claim.job).scene_id, []).append(claim)
        fresh = self.services.stash.scenes(list(by_scene))
        present = [scene_id for scene_id in by_scene if scene_id in fresh]
        cover = {i: any(_scene_job(c.job).cover for c in by_scene[i]) for i in present}
        errors = self._sync([(fresh[i], cover[i]) for i in present])
        error_of = dict(zip(present, errors, strict=True))
        gone = [scene_id for scene_id in by_scene if scene_id not in fresh]
        outcomes = [Outcome(c[-1].job, error_of.get(i), c) for i, c in by_scene.items()]
        return Settlement(outcomes, gone=gone)

    def _scan_page(self, claims: list[Claimed]) -> Settlement:
        """One page of a scan: sync its scenes up to the first run-wide error, and say where
        the cursor moves (each synced scene is settled as a scene job)."""
        (claim,) = claims
        job = claim.job
        assert isinstance(job, ScanJob)
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
        moved = ScanCursor(
            job,
            from_id=cursor["after_id"],
            to_id=None if finished else after,
            listed=frozenset(int(scene["id"]) for scene in scenes),
            done=cursor["done"] + len(synced),
            total=cursor["done"] + left,  # scenes added or deleted meanwhile move the total
            started_at=cursor["started_at"],
        )
        return Settlement(outcomes, cursor=moved)

    def _cursor(self, job: ScanJob):
        cursor = self.store.scan(job.key)
        if cursor is None:
            if job.full:  # a fresh listing: drift in Plex is seen at no extra cost
                self.services.connect().index.rebuild()
            total = self.services.stash.count_scenes(job.scene_filter())
            self.store.save_scan(job.key, 0, total, 0, self.clock())
            cursor = self.store.scan(job.key)
        return cursor

    def _activity_page(self, claims: list[Claimed]) -> Settlement:
        """One page of Plex watch history (worker/activity.py)."""
        (claim,) = claims
        finished = self.services.activity.step(self.tally)
        return Settlement([Outcome(claim.job, None, [claim], more=not finished)])

    def _sync(self, batch: list[tuple[dict, bool]]) -> list[Exception | None]:
        """Sync (scene, cover_changed) pairs; each one's error, None where it succeeded."""
        errors: list[Exception | None] = []
        results = self.services.connect().syncer.sync_many(batch)
        for (scene, _), result in zip(batch, results, strict=True):
            if result.error is not None:
                errors.append(result.error)
                continue
            self.tally[result.outcome] += 1
            level = logging.DEBUG if result.outcome == "unchanged" else logging.INFO
            log.log(level, "scene %s: %s", scene["id"], result.outcome)
            errors.append(None)
        return errors

    # -- settling: the one place a decision is applied to the jobs

    def _settle(self, settlement: Settlement) -> Pause | Halt | None:
        """Write what the step found and apply each outcome's decision, in one transaction;
        the first Pause or Halt keeps the rest queued, untouched, and is returned."""
        stop: Pause | Halt | None = None
        with self.store.transaction():
            self._forget(settlement.gone)
            if settlement.cursor is not None:
                self._move_cursor(settlement.cursor)
            for outcome in settlement.outcomes:
                if stop is not None or outcome.more:
                    self._release(outcome.claims)
                    continue
                decision = self._apply(outcome)
                if isinstance(decision, (Pause, Halt)):
                    stop = decision
        return stop

    def _apply(self, outcome: Outcome) -> Decision:
        key, job, error, now = outcome.job.key, outcome.job, outcome.error, self.clock()
        about = _about(job, error)  # the log names the job as a person does, not by its key
        if error is not None and not isinstance(error, CLASSIFIED):
            log.error("%s: unexpected error, a PlexSync bug; retrying later", about, exc_info=error)
        history = self.store.failure(key) if error is not None else None
        decision = decide(error, history, now, self._policy(), by_person=job.by_person)
        if isinstance(decision, (Done, GiveUp)):
            self.store.clear_failure(key)
        if isinstance(decision, GiveUp):
            self.tally["not_in_plex"] += 1
            log.info("%s; given up (your Plex library is partial)", about)
        elif isinstance(decision, RetryAt):
            assert error is not None
            self.store.delay(job, decision.due_at, decision.failure, error)
            self.tally["retrying"] += 1
            log.info("%s; retry in %.0f s", about, decision.due_at - now)
        elif isinstance(decision, DeadLetter):
            assert error is not None
            rejected = isinstance(error, PlexAuthError)
            token = self._token_fingerprint() if rejected else ""
            self.store.dead_letter(job, decision.failure, error, now, token)
            self.tally["failed"] += 1
            if rejected:  # no more Plex requests with that token
                self.services.gate.close(error)
            log.warning("%s (moved to the failed list)", about)
        if isinstance(decision, (Pause, Halt)):
            self._release(outcome.claims)
        else:
            for claim in outcome.claims:
                self.queue.ack(claim)
        return decision

    def _forget(self, scene_ids: Sequence[int]) -> None:
        for scene_id in scene_ids:
            self.store.forget_scene(scene_id)
        self._note_gone(scene_ids)

    def _note_gone(self, scene_ids: Sequence[int]) -> None:
        for scene_id in scene_ids:
            self.tally["deleted"] += 1
            log.info("scene %s is not in Stash any more; PlexSync forgot it", scene_id)

    def _move_cursor(self, cursor: ScanCursor) -> None:
        key = cursor.job.key
        if cursor.job.full:  # it walks every scene: any it skipped is gone
            listed = set(cursor.listed)
            self._note_gone(self.store.forget_unlisted(cursor.from_id, cursor.to_id, listed))
        if cursor.to_id is None:
            self.store.end_scan(key)
            log.info("%s: %d scene(s) checked", cursor.job.title, cursor.done)
        else:
            self.store.save_scan(key, cursor.to_id, cursor.total, cursor.done, cursor.started_at)

    def _release(self, claims: Sequence[Claimed]) -> None:
        for claim in claims:
            self.queue.release(claim)

    def _policy(self) -> RetryPolicy:
        """The retry policy of the run's settings as they are now (the defaults while the
        settings cannot be read: they still decide sensibly)."""
        try:
            return self.services.retry_policy
        except (ConfigError, TransientError):
            return RetryPolicy()

    def _token_fingerprint(self) -> str:
        try:
            return self.services.config.token_fingerprint()
        except (ConfigError, TransientError):  # unreadable settings: no fingerprint to compare
            return ""

    # -- housekeeping

    def _queue_activity_import(self) -> bool:
        """With importActivity on, a run ends with an import, at most every 15 minutes."""
        if self.stopped or not self.services.activity.auto_due(self.clock()):
            return False
        self.queue.enqueue(ActivityJob(self.clock()))
        return True

    def _follow_settings(self) -> None:
        """Before a batch: settings a person changed apply from this batch on, and what failed
        because of the old ones comes back (a fixed path map, a new token)."""
        changed = self.services.read_settings()
        if not changed:
            return
        log.info("the plugin settings changed; this worker uses the new ones from now on")
        if "token" in changed:
            self._restore_token_failures()
        if "where" in changed:
            back = self.store.requeue_failed_with(self.queue, PlexNotFound.__name__)
            if back:
                log.info("%d scene(s) not found in Plex are back in the queue", back)

    def _restore_token_failures(self) -> None:
        """Jobs that failed on a rejected token return by themselves once the token changes."""
        if not self.store.has_token_failures():  # no Stash request when none did
            return
        current = self._token_fingerprint()
        if not current:
            return
        back = self.store.requeue_failed(self.queue, token_other_than=current)
        if back:
            log.info("the Plex token changed: %d failed job(s) are back in the queue", back)

    def remaining(self) -> int:
        return work_left(self.queue, self.store)


@contextmanager
def worker_run(
    data: DataDir,
    connection: dict | None,
    settings: dict | None = None,
    overrides: dict | None = None,
    pacing: Pacing | None = None,
    on_progress: Callable[[Worker], None] | None = None,
) -> Iterator[Worker]:
    """A recovered worker over `data`, closed with everything it opened: the same run for
    the background worker and for the tasks. Only the lock holder may open one."""
    with ExitStack() as opened:
        queue = opened.enter_context(data.open_queue())
        store = opened.enter_context(data.open_store())
        services = opened.enter_context(Services(data, store, connection, settings, overrides))
        worker = Worker(data, queue, store, services, pacing or Pacing(), on_progress=on_progress)
        worker.recover()
        yield worker


def work_left(queue: JobQueue, store: Store) -> int:
    """Work still to do now: queued and in-flight jobs plus the unlisted rest of scans."""
    left = queue.ready() + queue.in_flight()
    for scan in store.scans():
        left += max(0, (scan["total"] or 0) - (scan["done"] or 0))
    return left


def _failed_alike(claims: Sequence[Claimed], error: Exception) -> Settlement:
    """A step that raised: every job it held has the same outcome, its error."""
    by_job: dict[str, list[Claimed]] = {}
    for claim in claims:
        by_job.setdefault(claim.job.key, []).append(claim)
    return Settlement([Outcome(group[-1].job, error, group) for group in by_job.values()])


def _scene_job(job: Job) -> SceneJob:
    assert isinstance(job, SceneJob)  # claimed as a scene job by run_once
    return job


def _about(job: Job, error: BaseException | None) -> str:
    """'scene 12: <the error>' for the log, the title said once where the error says it."""
    said = str(error)
    return said if said.startswith(f"{job.title}:") else f"{job.title}: {said}"
