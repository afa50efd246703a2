"""How many Plex requests may be in flight: a limit that finds what the server can take.

A Plex Media Server keeps its library in one SQLite database: writes take turns, and a poster
upload holds the writer longest (it also makes thumbnails). A fixed number of requests in
flight is wrong both ways: on a slow NAS four writes queue a person's player behind a second
of ours, and four are too few to keep a server 40 ms away busy. So the number adapts.

The rule is TCP Vegas's, counted in requests: requests that take `rtt` while the best seen for
their kind took `best` spent `rtt - best` waiting somewhere, and with `n` requests in flight
about `n * (1 - best / rtt)` of ours are waiting at the server. `rtt` is a running average of
the kind's times and `best` the lowest that average has been: one lucky answer (our CPU and
the network are noisy) would make every later one look queued. While fewer than about a third
of a request wait, the limit grows by one; when more than about half of one wait, it shrinks by
one (both thresholds allow for the timing noise of each request in flight); a sign of
overload (429, 503, a timeout) halves it, and a `Retry-After` holds every request until then.
Under one request waiting on average keeps the writer busy without a queue: a person's
request then waits for the write in progress and at most one more.
Vegas, rather than a gradient limiter (Netflix's Gradient2 scales the limit by the ratio of a
short to a long average latency), because its quantity is the one that matters here: how
many of our writes a person's request would find queued ahead of it. A ratio of latencies
means that only on a server whose latency is all queueing; 40 ms of network makes a queue of
several writes look like a small ratio.

Like is compared with like: the best time is kept per kind of request ("read", "listing",
"write", "poster"), so a poster upload is not mistaken for a metadata write stuck in a queue.
A sample counts only if its request started after the last change of the limit (it then
measured the limit as it is), and only a request that filled the limit may grow it (while
the caller sends fewer, the caller is the bottleneck, not the limit).

The clock is injected; the tests drive the limit step by step with synthetic times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LimitPolicy:
    """The limit's bounds and its thresholds, in requests waiting at the server."""

    low: int = 1
    high: int = 16
    start: int = 2  # low: the first few requests find the level from below, not from a queue
    grow_below: float = 0.3
    shrink_above: float = 0.6  # under one request waiting: the writer stays busy, no queue
    # Each request's time is a little noisy (our own CPU, the network), and n of them add up
    # in the estimate: the thresholds allow this much more per request in flight beyond one.
    noise_per_request: float = 0.15
    smoothing: float = 0.2  # weight of each new time in its kind's running average
    longest_hold: float = 300.0  # a Retry-After beyond this is taken as this

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.start <= self.high:
            raise ValueError(f"limit bounds need 1 <= low <= start <= high, got {self}")

    @classmethod
    def fixed(cls, n: int) -> LimitPolicy:
        """Always `n` in flight (PlexSync's behaviour before the limit adapted)."""
        return cls(low=n, high=n, start=n)


@dataclass(frozen=True)
class Ticket:
    """One request in flight: its kind, when it started, how many were in flight with it."""

    kind: str
    started: float
    in_flight: int
    epoch: int


class ConcurrencyLimit:
    """A limit on requests in flight, shared by the threads of one Plex client."""

    def __init__(
        self, policy: LimitPolicy = LimitPolicy(), clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.limit = policy.start
        self.in_flight = 0
        self.average: dict[str, float] = {}  # kind -> running average of its times
        self.best: dict[str, float] = {}  # kind -> the lowest that average has been
        self.changes: list[tuple[float, int]] = [(clock(), self.limit)]
        self._epoch = 0
        self._held_until = 0.0
        self._room = threading.Condition()

    # -- the calls around a request

    def acquire(self, kind: str) -> Ticket:
        """Wait for room under the limit (and for a Retry-After to pass); take it."""
        with self._room:
            while True:
                hold = self._held_until - self.clock()
                if hold > 0:
                    self._room.wait(hold)
                elif self.in_flight >= self.limit:
                    self._room.wait()
                else:
                    break
            self.in_flight += 1
            return Ticket(kind, self.clock(), self.in_flight, self._epoch)

    def release(
        self,
        ticket: Ticket,
        answered: bool = False,
        overloaded: bool = False,
        retry_after: float = 0.0,
    ) -> None:
        """The request is over. An answer teaches its time; an overload (429, 503, a timeout)
        halves the limit; a Retry-After holds every request until then. Anything else (a 404,
        a refused connection) teaches nothing."""
        with self._room:
            self.in_flight -= 1
            now = self.clock()
            if answered:
                self._learn(ticket, now - ticket.started, now)
            if retry_after > 0:
                until = now + min(retry_after, self.policy.longest_hold)
                self._held_until = max(self._held_until, until)
            if overloaded and ticket.epoch == self._epoch:  # one halving per overload
                self._set(max(self.policy.low, self.limit // 2), now)
            self._room.notify_all()

    def held_for(self) -> float:
        """Seconds a request starting now waits for a Retry-After (0: none)."""
        with self._room:
            return max(0.0, self._held_until - self.clock())

    # -- the rule

    def _learn(self, ticket: Ticket, rtt: float, now: float) -> None:
        if rtt <= 0:
            return  # a clock too coarse to time it
        policy = self.policy
        average = self.average.get(ticket.kind, rtt)
        average += policy.smoothing * (rtt - average)
        self.average[ticket.kind] = average
        best = self.best[ticket.kind] = min(self.best.get(ticket.kind, average), average)
        if ticket.epoch != self._epoch:
            return  # it measured an older limit
        waiting = ticket.in_flight * (1 - best / average)
        noise = policy.noise_per_request * (self.limit - 1)
        full = ticket.in_flight >= self.limit  # else the caller, not the server, held us back
        if waiting > policy.shrink_above + noise and self.limit > policy.low:
            self._set(self.limit - 1, now)
        elif waiting < policy.grow_below + noise / 2 and full and self.limit < policy.high:
            self._set(self.limit + 1, now)

    def _set(self, limit: int, now: float) -> None:
        if limit != self.limit:
            self.limit = limit
            self._epoch += 1
            self.changes.append((now, limit))

    # -- what it did

    def path(self, points: int = 12) -> list[int]:
        """The limit at `points` evenly spaced moments from the first change to now."""
        with self._room:
            changes = list(self.changes)
            now = self.clock()
        start = changes[0][0]
        span = max(now - start, 1e-9)
        out, i = [], 0
        for step in range(points):
            moment = start + span * step / max(points - 1, 1)
            while i + 1 < len(changes) and changes[i + 1][0] <= moment:
                i += 1
            out.append(changes[i][1])
        return out

    def summary(self) -> str:
        """One line for the log: the limit's range and its path over the run."""
        limits = [limit for _, limit in self.changes]
        return (
            f"Plex requests in flight: limit {min(limits)}-{max(limits)} "
            f"({len(limits) - 1} changes), path {' '.join(map(str, self.path()))}"
        )
