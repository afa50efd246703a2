"""The one decision point, as a table: error type x history -> decision."""

import pytest

from config import Backoff
from errors import ConfigError
from plex.errors import (
    PlexAmbiguous,
    PlexAuthError,
    PlexNotFound,
    PlexTemporaryError,
    PlexUnreachable,
)
from stash.errors import StashError, StashUnreachable
from state.store import Failure
from worker.routing import (
    DeadLetter,
    Done,
    GiveUp,
    Halt,
    Pause,
    RetryAt,
    RetryPolicy,
    decide,
)

POLICY = RetryPolicy(
    http=Backoff(30, 1800, 24 * 3600), not_found=Backoff(30, 3600, 24 * 3600), jitter=0.0
)
NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, Done),
        (PlexUnreachable("down"), Pause),
        (StashUnreachable("down"), Pause),
        (ConfigError("no url"), Halt),
        (PlexAuthError(), DeadLetter),
        (PlexAmbiguous("two"), DeadLetter),
        (PlexTemporaryError("503"), RetryAt),
        (PlexNotFound("scanning"), RetryAt),
        (StashError("graphql"), RetryAt),
        (RuntimeError("a bug"), RetryAt),
    ],
)
def test_decision_by_type(error, expected):
    assert isinstance(decide(error, None, NOW, POLICY), expected)


def test_http_errors_back_off_doubling_to_the_cap():
    delays = []
    history = None
    for _ in range(9):
        decision = decide(PlexTemporaryError("500"), history, NOW, POLICY)
        delays.append(decision.due_at - NOW)
        history = decision.failure
    assert delays == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    assert history.attempts == 9 and history.first_failed_at == NOW


def test_http_errors_dead_letter_after_the_horizon():
    history = Failure(attempts=40, first_failed_at=NOW - 24 * 3600)
    decision = decide(PlexTemporaryError("503"), history, NOW, POLICY)
    assert isinstance(decision, DeadLetter) and decision.failure.attempts == 41


def test_not_found_has_its_own_longer_schedule():
    history = Failure(attempts=30, first_failed_at=NOW - 3600)
    decision = decide(PlexNotFound("missing"), history, NOW, POLICY)
    assert isinstance(decision, RetryAt) and decision.due_at - NOW == 3600
    late = Failure(attempts=40, first_failed_at=NOW - 25 * 3600)
    assert isinstance(decide(PlexNotFound("missing"), late, NOW, POLICY), DeadLetter)


def test_a_partial_library_gives_missing_files_up_quietly():
    partial = RetryPolicy(drop_not_found=True, jitter=0.0)
    late = Failure(attempts=40, first_failed_at=NOW - 25 * 3600)
    assert isinstance(decide(PlexNotFound("missing"), late, NOW, partial), GiveUp)
    assert isinstance(decide(PlexTemporaryError("500"), late, NOW, partial), DeadLetter)


def test_jitter_spreads_retries_within_bounds():
    policy = RetryPolicy(jitter=0.2)
    low = decide(PlexTemporaryError("x"), None, NOW, policy, rand=lambda: 0.0)
    high = decide(PlexTemporaryError("x"), None, NOW, policy, rand=lambda: 1.0)
    assert low.due_at - NOW == pytest.approx(24) and high.due_at - NOW == pytest.approx(36)


def test_pause_counts_no_attempt():
    decision = decide(PlexUnreachable("down"), Failure(3, NOW - 10), NOW, POLICY)
    assert decision == Pause("Plex")


def test_a_persons_try_keeps_the_waiting_retry_as_it_was():
    waiting = Failure(3, NOW - 600, due_at=NOW + 800)
    asked = decide(PlexNotFound("scanning"), waiting, NOW, POLICY, by_person=True)
    assert asked == RetryAt(NOW + 800, waiting)  # no attempt counted, the same time
    automatic = decide(PlexNotFound("scanning"), waiting, NOW, POLICY)
    assert automatic == RetryAt(NOW + 240, Failure(4, NOW - 600))
    first = decide(PlexNotFound("scanning"), None, NOW, POLICY, by_person=True)
    assert first == RetryAt(NOW + 30, Failure(1, NOW))  # nothing waits yet: the schedule starts
    rejected = decide(PlexAuthError(), waiting, NOW, POLICY, by_person=True)
    assert isinstance(rejected, DeadLetter)
