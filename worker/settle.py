"""Settling a batch: each job's outcome goes through `Settler.settle`, the one place that acks,
delays, dead-letters, gives up or releases a job.

A step of the worker (worker/steps.py) returns a `Settlement`: one `Outcome` per job it
handled, in order, and what it must record in the same transaction (a scan's cursor, the
scenes Stash no longer has). `routing.decide` turns each outcome into a decision; the first
Pause or Halt keeps the rest of the settlement queued, untouched, and is returned for the
worker to wait or stop.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from errors import CLASSIFIED, ConfigError, TransientError
from plex.errors import PlexAuthError
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
class Outcome:
    """What one attempt of a job came to. `claims`: the queue rows it settles (a scan's scenes
    have none); `more`: the job is not finished (a scan with pages left) and keeps its place."""

    job: dict
    error: Exception | None = None
    claims: Sequence[Claimed] = ()
    more: bool = False


@dataclass
class Settlement:
    outcomes: list[Outcome]
    record: Callable[[], None] | None = None  # written in the same transaction


def failed_alike(claims: Sequence[Claimed], error: Exception) -> Settlement:
    """A step that raised: every job it held has the same outcome, its error."""
    by_job: dict[str, list[Claimed]] = {}
    for claim in claims:
        by_job.setdefault(claim.job.key, []).append(claim)
    return Settlement([Outcome(group[-1].job, error, group) for group in by_job.values()])


class Settler:
    """Applies decisions to the queue and the state file; counts them in `tally`."""

    def __init__(
        self,
        queue: JobQueue,
        store: Store,
        services: Services,
        tally: Counter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.store = store
        self.services = services
        self.tally = tally
        self.clock = clock

    def settle(self, settlement: Settlement) -> Pause | Halt | None:
        """Apply every outcome in one transaction; the Pause or Halt that stopped it, if any."""
        stop = None
        with self.store.transaction():
            if settlement.record is not None:
                settlement.record()
            for outcome in settlement.outcomes:
                if stop is not None or outcome.more:
                    self._release(outcome.claims)
                    continue
                decision = self.apply(outcome)
                if isinstance(decision, (Pause, Halt)):
                    stop = decision
        return stop

    def apply(self, outcome: Outcome) -> Decision:
        key = outcome.job.key
        error, now = outcome.error, self.clock()
        if error is not None and not isinstance(error, CLASSIFIED):
            log.error("%s: unexpected error, a PlexSync bug; retrying later", key, exc_info=error)
        history = self.store.failure(key) if error is not None else None
        decision = decide(error, history, now, self.policy(), by_person=outcome.job.by_person)
        if isinstance(decision, (Done, GiveUp)):
            self.store.clear_failure(key)
        if isinstance(decision, GiveUp):
            self.tally["not_in_plex"] += 1
            log.info("%s: %s; given up (your Plex library is partial)", key, error)
        elif isinstance(decision, RetryAt):
            self.store.delay(outcome.job, decision.due_at, decision.failure, error)
            self.tally["retrying"] += 1
            log.info("%s: %s; retry in %.0f s", key, error, decision.due_at - now)
        elif isinstance(decision, DeadLetter):
            self._dead_letter(key, outcome, decision, now)
        if isinstance(decision, (Pause, Halt)):
            self._release(outcome.claims)
        else:
            for claim in outcome.claims:
                self.queue.ack(claim)
        return decision

    def _dead_letter(self, key: str, outcome: Outcome, decision: DeadLetter, now: float) -> None:
        rejected = isinstance(outcome.error, PlexAuthError)
        token = self.token_fingerprint() if rejected else ""
        self.store.dead_letter(outcome.job, decision.failure, outcome.error, now, token)
        self.tally["failed"] += 1
        self.services.token_rejected |= rejected  # no more Plex requests with that token
        log.warning("%s failed: %s (moved to the failed list)", key, outcome.error)

    def _release(self, claims: Sequence[Claimed]) -> None:
        for claim in claims:
            self.queue.release(claim)

    def policy(self) -> RetryPolicy:
        """The retry policy of the run's settings as they are now (the defaults while the
        settings cannot be read: they still decide sensibly)."""
        try:
            return self.services.retry_policy
        except (ConfigError, TransientError):
            return RetryPolicy()

    def token_fingerprint(self) -> str:
        try:
            return self.services.config.token_fingerprint()
        except (ConfigError, TransientError):  # unreadable settings: no fingerprint to compare
            return ""
