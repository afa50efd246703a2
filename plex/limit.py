"""How many Plex requests may be in flight: a limit that finds what the server can take.

A Plex Media Server keeps its library in one SQLite database: writes take turns, and a poster
upload holds the writer longest (it also makes thumbnails). A fixed number of requests in
flight is wrong both ways: on a slow NAS four writes queue a person's player behind a second
of ours, and four are too few to keep a server 40 ms away busy. So the number adapts, and two
rules bound it.

The count: TCP Vegas's rule, counted in requests. By Little's law the requests of ours waiting
at the server are our rate times our mean wait, i.e. (mean in flight) x (mean wait) / (mean
round trip), where a request's wait is its time minus the best its kind has taken. The means
are taken over a window of answers to requests that started under the current limit (sums,
not a mean of per-request ratios: a poster upload's long own time would hide the write queued
behind it). While fewer than about 0.7 of a request wait, and our requests filled the limit,
the limit grows by one; when more than about 1.4 wait, it shrinks by one. A sign of overload
(429, 503, a timeout) halves it, and a `Retry-After` holds every request until then.

The work: each request holds the writer for only part of its round trip; the rest is the
network and the answer. That part is about `1 - base / best` of its kind, where `base` is the
best a read has taken (a read never waits for the writer: it is the network and an answer's
own cost). Our requests in flight add up to the writer time they claim; past about one writer's
worth (`most_work`, with room for misjudged parts) every further request only queues, however
the count rule judges it. This is what a count alone gets wrong: on a NAS, where a write holds
the writer for 60 ms of its 65, two in flight is already one waiting; on a server 40 ms away,
where a write holds it for 4 ms of its 44, it takes about ten to keep it busy. A person's
report then finds at most the write in progress and about one more ahead of it.

Vegas rather than a gradient limiter (Netflix's Gradient2 scales the limit by the ratio of a
short to a long average latency), because its quantity is the one that matters here: how many
of our writes a person's request would find queued ahead of it. A ratio of latencies means that
only on a server whose latency is all queueing; 40 ms of network makes a queue of several
writes look like a small ratio.

Like is compared with like: the best time is kept per kind of request ("read", "listing",
"write", "poster"), as the lowest its running average has been (one lucky answer would make
every later one look queued).

The clock is injected; the tests drive the limit step by step with synthetic times. The
module is a little past the 300-line alarm: its two rules and the line of waiting requests
share every field, and this explanation is a sixth of it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

READS = frozenset({"read", "listing"})  # kinds of request that never wait for the writer


@dataclass(frozen=True)
class LimitPolicy:
    """The limit's bounds, its thresholds (in requests waiting at the server) and the most
    writer time our requests in flight may claim."""

    low: int = 1
    high: int = 16
    start: int = 2  # low: the first few requests find the level from below, not from a queue
    # Loose, because the work rule keeps the queue short where it knows the writer's share:
    # the count is the guard for what that rule cannot see (another client, a scan, a
    # share misjudged), and our own CPU, busy with many requests, reads as a little waiting.
    grow_below: float = 0.7
    shrink_above: float = 1.4
    # In writers: one keeps it busy; the fifth more allows for parts misjudged (a read's own
    # cost counted as network makes every write look lighter than it is, and the reverse).
    most_work: float = 1.2
    lightest: float = 0.05  # no request counts for less of the writer than this
    window: int = 4  # answers per decision at least (and at least one per request allowed)
    smoothing: float = 0.2  # weight of each new time in its kind's running average
    longest_hold: float = 300.0  # a Retry-After beyond this is taken as this

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.start <= self.high:
            raise ValueError(f"limit bounds need 1 <= low <= start <= high, got {self}")

    @classmethod
    def fixed(cls, n: int) -> LimitPolicy:
        """Always `n` in flight (PlexSync's behaviour before the limit adapted)."""
        return cls(low=n, high=n, start=n, most_work=float("inf"))


@dataclass(frozen=True)
class Ticket:
    """One request in flight: its kind, when it started, how many were in flight with it
    (itself included), the limit it started under, the writer time it claims, and how many
    times the limit had been filled before it started."""

    kind: str
    started: float
    in_flight: int
    epoch: int
    work: float = 0.0
    fills: int = 0


@dataclass
class Window:
    """Sums over the answers since the limit last changed (or the window last restarted)."""

    answers: int = 0
    waited: float = 0.0  # seconds beyond each kind's best
    took: float = 0.0  # seconds
    in_flight: int = 0
    filled: int = 0

    def add(self, ticket: Ticket, rtt: float, best: float, filled: bool) -> None:
        self.answers += 1
        self.waited += rtt - best
        self.took += rtt
        self.in_flight += ticket.in_flight
        self.filled += filled

    def queued(self) -> float:
        """Our requests waiting at the server, on average (Little's law, the module says)."""
        return (self.in_flight / self.answers) * max(0.0, self.waited) / self.took


@dataclass
class Waiting:
    """A request waiting for room: its kind, and its ticket once it may go."""

    kind: str
    turn: threading.Condition
    ticket: Ticket | None = None


class ConcurrencyLimit:
    """A limit on requests in flight, shared by the threads of one Plex client."""

    def __init__(
        self, policy: LimitPolicy = LimitPolicy(), clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.limit = policy.start
        self.in_flight = 0
        self.work = 0.0  # the writer time our requests in flight claim, in writers
        self.average: dict[str, float] = {}  # kind -> running average of its times
        self.best: dict[str, float] = {}  # kind -> the lowest that average has been
        self.changes: list[tuple[float, int]] = [(clock(), self.limit)]
        self._window = Window()
        self._fills = 0  # how many times the count has reached the limit
        self._epoch = 0
        self._held_until = 0.0
        self._room = threading.Lock()
        # Requests waiting for room, in arrival order. Each answer hands room to the first of
        # them that fit and wakes only those: waking every waiting thread (up to 16 in a
        # sync's pool) on every answer, to find one or two that may go, cost a fifth more CPU.
        self._waiting: deque[Waiting] = deque()

    # -- the calls around a request

    def acquire(self, kind: str) -> Ticket:
        """Wait for room under the limit (and for a Retry-After to pass), in turn; take it."""
        with self._room:
            waiting = Waiting(kind, threading.Condition(self._room))
            self._waiting.append(waiting)
            self._hand_out()
            try:
                while waiting.ticket is None:
                    hold = self._held_until - self.clock()
                    if hold > 0:  # the first in line times the Retry-After, then hands out
                        waiting.turn.wait(hold)
                        self._hand_out()
                    else:
                        waiting.turn.wait()
            except BaseException:  # interrupted while in line: leave it, or give the room back
                if waiting.ticket is None:
                    self._waiting.remove(waiting)
                else:
                    self._give_back(waiting.ticket)
                self._hand_out()
                raise
            return waiting.ticket

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
            self._give_back(ticket)
            now = self.clock()
            if answered:
                self._learn(ticket, now - ticket.started, now)
            if retry_after > 0:
                until = now + min(retry_after, self.policy.longest_hold)
                self._held_until = max(self._held_until, until)
            if overloaded and ticket.epoch == self._epoch:  # one halving per overload
                self._set(max(self.policy.low, self.limit // 2), now)
            self._hand_out()

    @property
    def waiting(self) -> int:
        """How many requests wait for room."""
        with self._room:
            return len(self._waiting)

    def held_for(self) -> float:
        """Seconds a request starting now waits for a Retry-After (0: none)."""
        with self._room:
            return max(0.0, self._held_until - self.clock())

    def share(self, kind: str) -> float:
        """The part of its round trip a request of `kind` holds the writer, as far as known:
        0 for a read, or while no read has been timed (then the count alone rules), 1 for a
        write whose kind has not been timed yet."""
        base = self.best.get("read")
        if kind in READS or base is None:
            return 0.0
        best = self.best.get(kind)
        if best is None:
            return 1.0
        return min(1.0, max(self.policy.lightest, 1 - base / best))

    def room_for(self, kind: str) -> bool:
        """Whether a request of `kind` would go now (a Retry-After aside)."""
        if self.in_flight == 0:
            return True  # one request always goes, however heavy
        if self.in_flight >= self.limit:
            return False
        return self.work + self.share(kind) <= self.policy.most_work

    # -- the rule

    def _hand_out(self) -> None:
        """Let the waiting requests go that fit now, first come first served: one that does
        not fit holds those behind it (else a poster could wait while writes pass it)."""
        while self._waiting:
            waiting = self._waiting[0]
            if self._held_until > self.clock():
                waiting.turn.notify()  # to wait out the Retry-After
                return
            if not self.room_for(waiting.kind):
                return
            self._waiting.popleft()
            kind = waiting.kind
            work = self.share(kind)
            fills = self._fills
            self.in_flight += 1
            self.work += work
            if self.in_flight >= self.limit:
                self._fills += 1
            waiting.ticket = Ticket(kind, self.clock(), self.in_flight, self._epoch, work, fills)
            waiting.turn.notify()

    def _give_back(self, ticket: Ticket) -> None:
        self.in_flight -= 1
        self.work = self.work - ticket.work if self.in_flight else 0.0  # no float drift

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
        window = self._window
        # Only a request the limit held back from a sibling may grow it: while the caller
        # sends fewer, or the work rule holds them back, the count is not what binds.
        window.add(ticket, rtt, best, filled=self._fills > ticket.fills)
        size = max(self.limit, policy.window)
        if window.answers < size:
            return
        queued = window.queued()
        full = window.filled * 2 >= window.answers
        if queued > policy.shrink_above and self.limit > policy.low:
            self._set(self.limit - 1, now)
        elif queued < policy.grow_below and full and self.limit < policy.high:
            self._set(self.limit + 1, now)
        elif window.answers >= 4 * size:
            self._window = Window()  # a fresh look: the server may have changed

    def _set(self, limit: int, now: float) -> None:
        if limit != self.limit:
            self.limit = limit
            self._epoch += 1
            self._window = Window()
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
        line = (
            f"Plex requests in flight: limit {min(limits)}-{max(limits)} "
            f"({len(limits) - 1} changes), path {' '.join(map(str, self.path()))}"
        )
        with self._room:
            writes = [kind for kind in sorted(self.best) if kind not in READS]
            shares = ", ".join(f"{kind} {self.share(kind):.2f}" for kind in writes)
        if shares:
            line += f"; writer share per request: {shares} (at most {self.policy.most_work:g})"
        return line
