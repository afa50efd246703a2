"""A Plex that tires: the fake Plex's capacity model (a knob, off by default).

A real Plex Media Server keeps its library in one SQLite database, so writes take turns: each
holds the one writer for a while, a poster upload longer (it also makes thumbnails), while
reads go on side by side. With `FakePlex.capacity = Capacity(write=0.06, poster=0.25)`:

* every PUT, POST and DELETE, and a player's `/:/timeline` report, waits for the writer, in
  arrival order, and holds it for `write` seconds (`poster` for a poster upload) before it is
  answered; reads never wait for it;
* `FakePlex.latency` still applies to every request, overlapping freely (the network);
* `FakePlex.load` records, per client (`X-Plex-Client-Identifier`), the seconds it held the
  writer and its requests in flight (in each tenth of a second: the most at once, and the
  mean), and for the server the most writes that were ever waiting for the writer at once.
  `load.reset()` starts over.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

WRITE_METHODS = ("PUT", "POST", "DELETE")
TICK = 0.1  # seconds: the resolution of the in-flight record
TIMELINE = "/:/timeline"


@dataclass(frozen=True)
class Capacity:
    """Seconds the one database writer is held per write and per poster upload."""

    write: float = 0.06
    poster: float = 0.25

    def hold(self, method: str, path: str) -> float:
        """How long this request holds the writer (0: a read, which never waits for it)."""
        if method in WRITE_METHODS and path.endswith("/posters"):
            return self.poster
        if method in WRITE_METHODS or path == TIMELINE:
            return self.write
        return 0.0


class ServerLoad:
    """The writer, taken in turn, and what the server saw of each client."""

    def __init__(self, sleep: Callable[[float], None], clock=time.perf_counter) -> None:
        self._sleep = sleep
        self._clock = clock
        self._turns = threading.Condition()
        self._next = 0  # the ticket the next write draws
        self._serving = 0  # the ticket holding the writer (or next to)
        self._in_flight: Counter[str] = Counter()  # state, not a record: reset() keeps it
        self.reset()

    def reset(self) -> None:
        """Forget what was recorded; measure from now."""
        with self._turns:
            self.since = self._clock()
            self.busy: Counter[str] = Counter()  # client -> seconds it held the writer
            self.most_waiting = 0  # writes waiting for the writer at once, the one writing aside
            self.peaks: dict[str, dict[int, int]] = defaultdict(dict)  # client -> tick -> most
            # client -> tick -> in flight x seconds (over TICK: the mean in flight in that tick)
            self.area: dict[str, Counter[int]] = defaultdict(Counter)
            self._changed: dict[str, float] = {}

    def utilisation(self, client: str | None = None) -> float:
        """The share of the time since `reset()` the writer was held (by `client`, or anyone)."""
        with self._turns:
            held = self.busy[client] if client is not None else sum(self.busy.values())
            return held / max(self._clock() - self.since, 1e-9)

    @contextmanager
    def visit(self, client: str):
        """One request of `client`, from its arrival to its answer (for the in-flight count)."""
        self._count(client, +1)
        try:
            yield
        finally:
            self._count(client, -1)

    def _count(self, client: str, step: int) -> None:
        with self._turns:
            now = self._clock()
            changed = max(self._changed.get(client, now), self.since)
            self.area[client][int((changed - self.since) / TICK)] += self._in_flight[client] * (
                now - changed
            )
            self._changed[client] = now
            self._in_flight[client] += step
            tick = int((now - self.since) / TICK)
            peaks = self.peaks[client]
            peaks[tick] = max(peaks.get(tick, 0), self._in_flight[client])

    def write(self, seconds: float, client: str) -> None:
        """Wait for the writer (arrival order), hold it `seconds`, let the next one have it."""
        with self._turns:
            ticket = self._next
            self._next += 1
            self.most_waiting = max(self.most_waiting, self._next - self._serving - 1)
            while self._serving != ticket:
                self._turns.wait()
        started = self._clock()
        try:
            self._sleep(seconds)
        finally:
            with self._turns:
                self.busy[client] += self._clock() - started
                self._serving += 1
                self._turns.notify_all()
