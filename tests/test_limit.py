"""The adaptive limit on Plex requests in flight (plex/limit.py), driven step by step with an
injected clock and synthetic response times."""

from __future__ import annotations

import heapq
import os
import queue
import signal
import statistics
import threading
import time

import pytest

from plex.limit import ConcurrencyLimit, LimitPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(policy: LimitPolicy | None = None) -> tuple[ConcurrencyLimit, Clock]:
    clock = Clock()
    return ConcurrencyLimit(policy or LimitPolicy(), clock), clock


def round_trip(limit: ConcurrencyLimit, clock: Clock, rtt, kinds=("write",)) -> int:
    """Fill the limit, let `rtt(kind, in_flight)` pass for each request (in the order they
    finish), answer them all; the limit afterwards."""
    n = limit.limit
    tickets = [limit.acquire(kinds[i % len(kinds)]) for i in range(n)]
    started = clock.now
    for ticket in sorted(tickets, key=lambda t: rtt(t.kind, n)):
        clock.now = started + rtt(ticket.kind, n)
        limit.release(ticket, answered=True)
    return limit.limit


def alone(limit: ConcurrencyLimit, clock: Clock, rtt: float) -> None:
    """One request by itself (it teaches its kind's best time, and grows nothing)."""
    ticket = limit.acquire("write")
    clock.now += rtt
    limit.release(ticket, answered=True)


def stream(limit: ConcurrencyLimit, clock: Clock, answer, kinds=("write",), answers=40) -> None:
    """Keep the limit full as a sync's threads do, each answer letting the next request go:
    `answer(kind, n)` says how long a request sent now, with n in flight, takes."""
    flying: list[tuple[float, int, object]] = []
    sent = 0
    for _ in range(answers):
        while limit.room_for(kinds[sent % len(kinds)]):
            ticket = limit.acquire(kinds[sent % len(kinds)])
            heapq.heappush(
                flying, (clock.now + answer(ticket.kind, n=limit.in_flight), sent, ticket)
            )
            sent += 1
        clock.now, _, ticket = heapq.heappop(flying)
        limit.release(ticket, answered=True)
    while flying:
        clock.now, _, ticket = heapq.heappop(flying)
        limit.release(ticket, answered=True)


class OneWriter:
    """A Plex with one database writer (the rig's capacity model, on the injected clock): a
    request arrives `latency` after it is sent, a write waits for the writer in arrival order
    and holds it for its kind's time, a read never waits; the answer comes back at once."""

    def __init__(self, clock: Clock, latency: float, holds: dict[str, float]) -> None:
        self.clock, self.latency, self.holds = clock, latency, holds
        self.free = self.busy = 0.0
        self.waits: list[float] = []  # per write: seconds it waited for the writer
        self.began = clock.now

    def __call__(self, kind: str, n: int) -> float:
        arrives = self.clock.now + self.latency
        hold = self.holds.get(kind, 0.0)
        if not hold:
            return self.latency + 0.0002
        starts = max(arrives, self.free)
        self.free = starts + hold
        self.busy += hold
        self.waits.append(starts - arrives)
        return self.free - self.clock.now

    def utilisation(self) -> float:
        return self.busy / (self.clock.now - self.began)


def queueing_server(capacity: float, service: float = 0.06):
    """A server that works `capacity` requests at once: beyond that, requests wait their turn."""
    return lambda kind, n: service * max(1.0, n / capacity)


def test_grows_one_step_per_window_while_times_stay_at_the_best():
    limit, clock = make()
    path = [round_trip(limit, clock, lambda kind, n: 0.05) for _ in range(40)]
    steps = [b - a for a, b in zip([2, *path], path, strict=False)]
    assert set(steps) == {0, 1}  # one step at a time, never back
    assert path[:6] == [2, 3, 3, 4, 5, 6]  # 4 answers to a decision, then one per request
    assert path[-1] == 16  # and no further: the upper bound
    assert max(path) == 16


def test_backs_off_when_requests_wait_at_the_server_then_holds_near_its_capacity():
    limit, clock = make(LimitPolicy(start=12))
    alone(limit, clock, 0.06)  # the best a write takes
    stream(limit, clock, queueing_server(capacity=3), answers=400)
    path = [limit for _, limit in limit.changes]
    assert path == list(range(12, 3, -1))  # 12 in flight on a server that does 3: 9 waited
    stream(limit, clock, queueing_server(capacity=3), answers=400)
    assert limit.limit == 4  # about one waiting: the server busy, no queue, and it stays


def test_finds_the_level_from_below_within_a_few_dozen_requests():
    limit, clock = make()
    server = queueing_server(capacity=6)
    requests = 0
    while limit.limit < 6:
        requests += limit.limit
        round_trip(limit, clock, server)
    assert requests <= 40


def test_adapts_when_the_server_slows_mid_run_and_recovers_after():
    limit, clock = make(LimitPolicy(start=8))
    alone(limit, clock, 0.06)
    stream(limit, clock, queueing_server(capacity=8), answers=300)
    assert limit.limit in (8, 9)
    stream(limit, clock, queueing_server(capacity=2), answers=300)  # a library scan takes most
    assert limit.limit in (2, 3)
    stream(limit, clock, queueing_server(capacity=8), answers=300)
    assert limit.limit in (8, 9)


def test_a_requests_share_of_the_writer_is_its_time_beyond_a_reads():
    limit, clock = make()
    alone(limit, clock, 0.06)
    assert limit.share("write") == 0.0  # no read timed yet: the count alone rules
    ticket = limit.acquire("read")
    clock.now += 0.005
    limit.release(ticket, answered=True)
    assert limit.share("write") == pytest.approx(1 - 0.005 / 0.06)
    assert limit.share("read") == limit.share("listing") == 0.0  # reads never hold it
    assert limit.share("poster") == 1.0  # not timed yet: taken as the whole writer
    assert limit.room_for("poster")  # one request always goes


def scene_by_scene(limit, clock, server, scenes):
    """Each scene a metadata write, then its poster; as many scenes at once as the limit lets."""
    ticket = limit.acquire("read")  # connecting: the network's own time
    clock.now += server.latency + 0.0002
    limit.release(ticket, answered=True)
    server.began = clock.now
    stream(limit, clock, server, kinds=("write", "poster"), answers=2 * scenes)


def test_on_a_nas_one_write_at_a_time_keeps_the_writer_busy_and_queues_nobody():
    """5 ms away, 60 ms a write, 250 ms a poster: a second write in flight only waits."""
    limit, clock = make()
    nas = OneWriter(clock, latency=0.005, holds={"write": 0.06, "poster": 0.25})
    scene_by_scene(limit, clock, nas, scenes=150)
    assert nas.utilisation() > 0.9
    settled = nas.waits[20:]
    assert max(settled) == 0.0  # no write of ours ever waited for another
    # Under the count rule alone, two or more in flight: a person waits behind a poster.
    count_only, clock2 = make(LimitPolicy(most_work=float("inf")))
    nas2 = OneWriter(clock2, latency=0.005, holds={"write": 0.06, "poster": 0.25})
    scene_by_scene(count_only, clock2, nas2, scenes=150)
    assert max(nas2.waits[20:]) > 0.2


def test_a_distant_server_gets_enough_in_flight_to_stay_busy_without_a_queue():
    """40 ms away, 4 ms a write, 15 ms a poster: one at a time would leave it idle 80 %."""
    limit, clock = make()
    distant = OneWriter(clock, latency=0.04, holds={"write": 0.004, "poster": 0.015})
    scene_by_scene(limit, clock, distant, scenes=1000)
    assert distant.utilisation() > 0.85
    assert statistics.mean(distant.waits[100:]) < 0.015  # under one poster upload
    assert max(limit for _, limit in limit.changes) >= 6


def test_compares_like_with_like_a_poster_is_not_a_queued_write():
    limit, clock = make(LimitPolicy(start=4))
    times = {"write": 0.06, "poster": 0.25}
    for _ in range(4):  # each kind's best is learnt
        round_trip(limit, clock, lambda kind, n: times[kind], kinds=("write", "poster"))
    assert limit.limit == 8  # grew every round: neither kind waited
    assert limit.best == pytest.approx({"write": 0.06, "poster": 0.25})
    # A pooled "best" would call every poster upload a write stuck behind three others.
    one_best, clock2 = make(LimitPolicy(start=4))
    for _ in range(4):
        round_trip(one_best, clock2, lambda kind, n: times[kind])
    round_trip(one_best, clock2, lambda kind, n: times["poster"])
    assert one_best.limit < 8  # the same times read as a queue when kinds are not told apart


def test_an_overload_halves_once_and_never_below_the_lower_bound():
    limit, clock = make(LimitPolicy(start=10))
    tickets = [limit.acquire("write") for _ in range(10)]
    for ticket in tickets:  # ten 429s from one burst: one halving, not ten
        limit.release(ticket, overloaded=True)
    assert limit.limit == 5
    for _ in range(10):
        limit.release(limit.acquire("write"), overloaded=True)
    assert limit.limit == 1
    assert limit.in_flight == 0


def test_a_sample_from_before_the_last_change_teaches_nothing():
    limit, clock = make(LimitPolicy(start=4))
    old = [limit.acquire("write") for _ in range(4)]
    limit.release(old[0], overloaded=True)
    assert limit.limit == 2
    clock.now += 5.0  # a very slow answer, but it measured 4 in flight, not 2
    for ticket in old[1:]:
        limit.release(ticket, answered=True)
    assert limit.limit == 2


def test_a_caller_that_does_not_fill_the_limit_does_not_grow_it():
    limit, clock = make(LimitPolicy(start=4))
    for _ in range(10):  # one request at a time, however fast
        ticket = limit.acquire("read")
        clock.now += 0.01
        limit.release(ticket, answered=True)
    assert limit.limit == 4


def test_errors_that_are_no_overload_teach_nothing():
    limit, clock = make(LimitPolicy(start=3))
    for _ in range(5):
        tickets = [limit.acquire("write") for _ in range(3)]
        clock.now += 9.0
        for ticket in tickets:
            limit.release(ticket)  # a 404, a refused connection
    assert limit.limit == 3
    assert limit.best == {}


def test_retry_after_holds_every_request_until_it_passes():
    limit, clock = make()
    limit.release(limit.acquire("write"), overloaded=True, retry_after=30)
    assert limit.held_for() == 30
    clock.now += 29
    assert limit.held_for() == 1
    clock.now += 1
    assert limit.held_for() == 0
    limit.release(limit.acquire("write"), retry_after=10_000)  # a silly header: capped
    assert limit.held_for() == LimitPolicy().longest_hold


def test_acquire_waits_out_a_retry_after_on_the_real_clock():
    limit = ConcurrencyLimit()
    limit.release(limit.acquire("write"), retry_after=0.2)
    held_until = time.perf_counter() + limit.held_for()
    ticket = limit.acquire("write")
    assert ticket.started >= held_until - 0.01


def test_acquire_blocks_while_the_limit_is_full_until_a_request_ends():
    limit = ConcurrencyLimit(LimitPolicy(start=2))
    first, second = limit.acquire("write"), limit.acquire("write")
    got = []
    waiter = threading.Thread(target=lambda: got.append(limit.acquire("write")))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got  # still waiting: two in flight
    limit.release(first, answered=True)
    waiter.join(10)
    assert got and got[0].in_flight == 2
    limit.release(second)
    limit.release(got[0])
    assert limit.in_flight == 0


def test_waiting_requests_go_in_turn_one_per_room_freed():
    limit = ConcurrencyLimit(LimitPolicy.fixed(1))
    held = limit.acquire("write")
    went: queue.Queue = queue.Queue()
    for n in range(5):
        threading.Thread(
            target=lambda n=n: went.put((n, limit.acquire("write"))), daemon=True
        ).start()
        deadline = time.monotonic() + 10
        while limit.waiting < n + 1 and time.monotonic() < deadline:  # in line, in this order
            time.sleep(0.001)
    for n in range(5):
        limit.release(held, answered=True)
        turn, held = went.get(timeout=10)
        assert turn == n
        assert went.empty() and limit.in_flight == 1  # the room freed went to one request
    limit.release(held)
    assert limit.in_flight == 0 and limit.waiting == 0


def test_a_request_interrupted_in_line_leaves_it_and_holds_no_room():
    limit = ConcurrencyLimit(LimitPolicy.fixed(1))
    held = limit.acquire("write")
    backstop = threading.Timer(10, limit.release, (held,))  # a fail, not a hang, if no Ctrl-C
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever ran before
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C in line
        backstop.start()
        with pytest.raises(KeyboardInterrupt):
            limit.acquire("write")
    finally:
        signal.signal(signal.SIGINT, before)
        backstop.cancel()
    assert limit.waiting == 0
    limit.release(held, answered=True)
    assert limit.in_flight == 0
    limit.release(limit.acquire("write"))  # and the next one goes at once


def test_a_heavy_request_first_in_line_is_not_passed_by_lighter_ones():
    limit, clock = make(LimitPolicy(start=16))
    ticket = limit.acquire("read")
    clock.now += 0.005
    limit.release(ticket, answered=True)
    for kind, rtt in (("write", 0.01), ("poster", 0.1)):  # shares 0.5 and 0.95
        ticket = limit.acquire(kind)
        clock.now += rtt
        limit.release(ticket, answered=True)
    writing = limit.acquire("write")
    went: queue.Queue = queue.Queue()
    for kind in ("poster", "write"):
        threading.Thread(target=lambda k=kind: went.put(limit.acquire(k)), daemon=True).start()
        deadline = time.monotonic() + 10
        while limit.waiting < (1 if kind == "poster" else 2) and time.monotonic() < deadline:
            time.sleep(0.001)
    assert limit.waiting == 2  # a write would fit beside the first (1.0), but waits its turn
    limit.release(writing, answered=True)
    assert went.get(timeout=10).kind == "poster"
    assert limit.waiting == 1  # poster 0.95 + write 0.5 is over the most work


def test_a_fixed_policy_keeps_its_number_whatever_happens():
    limit, clock = make(LimitPolicy.fixed(4))
    for rtt in (lambda kind, n: 0.05, queueing_server(capacity=1)):
        for _ in range(10):
            assert round_trip(limit, clock, rtt) == 4


@pytest.mark.parametrize("bounds", [(0, 1, 1), (2, 1, 4), (1, 5, 4)])
def test_bounds_must_make_sense(bounds):
    low, start, high = bounds
    with pytest.raises(ValueError, match="limit bounds"):
        LimitPolicy(low=low, start=start, high=high)


def test_path_and_summary_tell_what_the_limit_did():
    limit, clock = make(LimitPolicy(start=2))
    clock.now += 1
    round_trip(limit, clock, lambda kind, n: 0.0)  # a zero time (a coarse clock) teaches nothing
    assert limit.limit == 2
    for _ in range(5):
        clock.now += 1
        round_trip(limit, clock, lambda kind, n: 0.1)
    clock.now += 1
    assert limit.limit == 5
    path = limit.path(points=5)
    assert path[0] == 2 and path[-1] == 5 and path == sorted(path)
    assert "limit 2-5 (3 changes)" in limit.summary()
