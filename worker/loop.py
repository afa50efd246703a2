"""The worker loop: claim due jobs, run each kind's step, settle the outcomes, pace itself.

`run_once()` is one iteration: due retries back on the queue, a batch claimed, the scene jobs
synced together (worker/steps.py), each scan or activity job one page, and every outcome
settled by worker/settle.py, the one place jobs are acked, delayed, failed or released. The
loop itself only decides when to run again: at once while there is work, waiting for a
service that is away (Pause), stopping on unusable settings (Halt) or when idle.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from errors import attempted
from plex.errors import PlexNotFound
from worker.datadir import DataDir
from worker.jobqueue import Claimed, JobQueue
from worker.jobs import ActivityJob, ScanJob, SceneJob
from worker.routing import Decision, Halt, Pause
from worker.services import Services
from worker.settle import Settlement, Settler, failed_alike
from worker.steps import Steps
from worker.store import Store

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
        self.settler = Settler(queue, store, services, self.tally, clock)
        self.steps = Steps(services, store, self.tally, clock)

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
        """Promote due retries, claim a batch, run each kind's step and settle its outcomes;
        the number of jobs handled."""
        self._promote_due()
        claimed = self.queue.claim(self.pacing.batch)
        if not claimed:
            return 0
        self._follow_settings()
        scenes = [claim for claim in claimed if isinstance(claim.job, SceneJob)]
        if scenes:  # one batch: their Stash reads and Plex writes are grouped
            self._settle(scenes, lambda: self.steps.scenes(scenes))
        pages = {ScanJob: self.steps.scan_page, ActivityJob: self.steps.activity_page}
        for claim in claimed:
            step = pages.get(type(claim.job))
            if step is None:
                continue
            if self.stopped:
                self.queue.release(claim)
            else:
                self._settle([claim], lambda step=step, claim=claim: step(claim))
        self.queue.compact()
        if self.on_progress:
            self.on_progress(self)
        return len(claimed)

    def _settle(self, claims: list[Claimed], step: Callable[[], Settlement]) -> None:
        """Run a step; settle its outcomes (a step that raised fails its jobs alike)."""
        settlement = attempted(step)
        if isinstance(settlement, Exception):
            settlement = failed_alike(claims, settlement)
        stop = self.settler.settle(settlement)
        if stop is not None:
            self._hold(stop)

    def _queue_activity_import(self) -> bool:
        """With importActivity on, a run ends with an import, at most every 15 minutes."""
        if self.stopped or not self.services.activity.auto_due(self.clock()):
            return False
        self.queue.enqueue(ActivityJob(self.clock()))
        return True

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
        started = told = self.clock()
        while self.clock() - started < self.pacing.max_pause:
            self.sleep(self.pacing.probe_every)
            if self.services.probe(service):
                log.info("%s answers again after %.0f s; resuming", service, self.clock() - started)
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

    # -- housekeeping

    def _promote_due(self) -> None:
        """Move retries whose time has come back onto the queue (put first, delete after)."""
        due = self.store.due(self.clock())
        for _, job in due:
            self.queue.enqueue(job)
        self.store.undelay([key for key, _ in due])

    def _follow_settings(self) -> None:
        """Before a batch: settings a person changed apply from this batch on, and what failed
        because of the old ones comes back (a fixed path map, a new token)."""
        changed = self.services.refresh_settings()
        if not changed:
            return
        log.info("the plugin settings changed; this worker uses the new ones from now on")
        if "token" in changed:
            self._restore_token_failures()
        if "where" in changed:
            back = self.store.failed_with(PlexNotFound.__name__)
            for _, job in back:
                self.queue.enqueue(job)
            for key, _ in back:
                self.store.clear_failure(key)
            if back:
                log.info("%d scene(s) not found in Plex are back in the queue", len(back))

    def _restore_token_failures(self) -> None:
        """Jobs that failed on a rejected token return by themselves once the token changes."""
        if not self.store.has_token_failures():  # no Stash request when none did
            return
        current = self.settler.token_fingerprint()
        if not current:
            return
        back = self.store.failed_jobs(token_other_than=current)
        for _, job in back:
            self.queue.enqueue(job)
        self.store.drop_failed([key for key, _ in back])
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
