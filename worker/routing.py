"""The one decision point: (error, the job's failure history, now) -> what happens to the job.

Classification is by type only, here and nowhere else:

| error                                   | decision                                    |
|-----------------------------------------|---------------------------------------------|
| none                                    | Done                                        |
| ServiceUnreachable (Plex or Stash)      | Pause the run; the job keeps its place      |
| ConfigError                             | Halt: the job stays queued, the run stops   |
| PlexNotFound                            | RetryAt on the not-found schedule, then DLQ |
|                                         | (or GiveUp quietly for a partial library)   |
| any other TransientError, unknown error | RetryAt on the HTTP schedule, then DLQ      |
| PermanentError (401/403, ambiguous)     | DeadLetter at once                          |

A try a person asked for (Sync now) that fails while an automatic retry waits counts no
attempt and keeps that retry's time: asking must never make the schedule worse.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from config import HTTP_RETRY, NOT_FOUND_RETRY, Backoff
from errors import ConfigError, PermanentError, ServiceUnreachable
from plex.errors import PlexNotFound
from state.store import Failure


@dataclass(frozen=True)
class RetryPolicy:
    """The two retry schedules (from the settings) and the jitter applied to each delay."""

    http: Backoff = HTTP_RETRY
    not_found: Backoff = NOT_FOUND_RETRY
    jitter: float = 0.2  # +-20% so retries of a burst spread out
    drop_not_found: bool = False  # a partial Plex library: never fail a missing file


@dataclass(frozen=True)
class Done:
    """The job succeeded (or had nothing to do): ack it."""


@dataclass(frozen=True)
class Pause:
    """A whole service is away: keep the job, wait until the service answers."""

    service: str


@dataclass(frozen=True)
class Halt:
    """The settings are unusable: keep the job and stop until they are fixed."""

    reason: str


@dataclass(frozen=True)
class RetryAt:
    """Back to the queue at `due_at`."""

    due_at: float
    failure: Failure


@dataclass(frozen=True)
class GiveUp:
    """Stop retrying without failing (a file the user's partial Plex library lacks)."""


@dataclass(frozen=True)
class DeadLetter:
    """Give up: move the job to the dead-letter table with its last error."""

    failure: Failure


Decision = Done | Pause | Halt | RetryAt | DeadLetter | GiveUp


def decide(
    error: BaseException | None,
    history: Failure | None,
    now: float,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
    by_person: bool = False,
) -> Decision:
    """What to do with a job after one attempt (`by_person`: a person asked for it)."""
    if error is None:
        return Done()
    if isinstance(error, ServiceUnreachable):
        return Pause(error.service)
    if isinstance(error, ConfigError):
        return Halt(str(error))
    failure = Failure(
        attempts=(history.attempts if history else 0) + 1,
        first_failed_at=history.first_failed_at if history else now,
    )
    if isinstance(error, PermanentError):
        return DeadLetter(failure)
    if by_person and history is not None and history.due_at is not None:
        return RetryAt(history.due_at, history)
    backoff = policy.not_found if isinstance(error, PlexNotFound) else policy.http
    if backoff.give_up_after is not None and now - failure.first_failed_at >= backoff.give_up_after:
        if policy.drop_not_found and isinstance(error, PlexNotFound):
            return GiveUp()
        return DeadLetter(failure)
    delay = backoff.delay(failure.attempts)
    delay *= 1 + policy.jitter * (2 * rand() - 1)
    return RetryAt(now + delay, failure)
