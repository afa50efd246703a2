"""The fake Plex's capacity model (tests/rig/fake_plex_capacity.py) on its own, and the viewer
probe that plays a person watching: plain HTTP requests, ordering rather than timing."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.rig.fake_plex import FakePlex
from tests.rig.fake_plex_capacity import Capacity
from tests.rig.plex_viewer import CLIENT_ID, Viewer


@pytest.fixture
def fake():
    with FakePlex() as server:
        server.add_section("Movies", key="1")
        yield server
        assert server.errors == []


def send(fake, method, path, client="a", body=b"", **params):
    headers = {"X-Plex-Token": fake.token, "X-Plex-Client-Identifier": client}
    answer = requests.request(
        method, fake.url + path, headers=headers, params=params, data=body, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer


def at_once(*calls):
    """Start each call in its own thread, a moment apart (in this order); the order they end."""
    done, lock = [], threading.Lock()

    def run(name, fn):
        fn()
        with lock:
            done.append(name)

    threads = []
    for name, fn in calls:
        thread = threading.Thread(target=run, args=(name, fn))
        thread.start()
        threads.append(thread)
        thread.join(0.03)  # arrival order is the order given
    for thread in threads:
        thread.join(30)
    return done


def edit(fake, rk, title, client="a"):
    return lambda: send(
        fake, "PUT", "/library/sections/1/all", client, type=1, id=rk, **{"title.value": title}
    )


def test_off_by_default_nothing_waits_and_nothing_is_recorded(fake):
    rk = fake.add_item("1", "x", files=["/data/Movies/x.mp4"])
    at_once(*[(n, edit(fake, rk, f"t{n}")) for n in range(3)])
    assert fake.capacity is None
    assert fake.load.busy == {} and fake.load.most_waiting == 0 and not fake.load.peaks


def test_writes_take_turns_at_the_one_writer_in_arrival_order(fake):
    fake.capacity = Capacity(write=0.5, poster=0.5)  # long turns: all four arrive during the first
    keys = [fake.add_item("1", f"x{n}", files=[f"/data/Movies/x{n}.mp4"]) for n in range(4)]
    order = at_once(*[(n, edit(fake, rk, f"t{n}")) for n, rk in enumerate(keys)])
    assert order == [0, 1, 2, 3]
    assert fake.load.most_waiting == 3  # the other three waited while the first wrote
    assert fake.load.busy["a"] >= 2.0  # four turns of 0.5 s
    assert max(fake.load.peaks["a"].values()) == 4  # all four were in flight at once
    assert [fake.item(rk).title for rk in keys] == ["t0", "t1", "t2", "t3"]


def test_a_poster_holds_the_writer_longer_and_reads_never_wait_for_it(fake):
    fake.capacity = Capacity(write=0.05, poster=0.6)
    rk = fake.add_item("1", "x", files=["/data/Movies/x.mp4"])
    poster = lambda: send(fake, "POST", f"/library/metadata/{rk}/posters", "p", b"jpeg")  # noqa: E731
    read = lambda: send(fake, "GET", f"/library/metadata/{rk}", "r")  # noqa: E731
    order = at_once(("poster", poster), ("read", read), ("write", edit(fake, rk, "t", "w")))
    assert order == ["read", "poster", "write"]  # the read passed; the write waited its turn
    assert fake.load.busy["p"] > fake.load.busy["w"] > 0
    assert "r" not in fake.load.busy
    assert fake.item(rk).poster == b"jpeg"


def test_a_players_timeline_report_is_a_write_and_sets_the_resume_point(fake):
    fake.capacity = Capacity(write=0.3, poster=0.3)
    rk = fake.add_item("1", "x", files=["/data/Movies/x.mp4"])
    timeline = lambda: send(fake, "GET", "/:/timeline", "v", ratingKey=rk, time=4000)  # noqa: E731
    order = at_once(("edit", edit(fake, rk, "t")), ("timeline", timeline))
    assert order == ["edit", "timeline"]  # it queued behind our write
    assert fake.item(rk).view_offset == 4000
    assert fake.load.busy["v"] > 0


def test_utilisation_and_reset(fake):
    fake.capacity = Capacity(write=0.2)
    rk = fake.add_item("1", "x", files=["/data/Movies/x.mp4"])
    edit(fake, rk, "t")()
    assert fake.load.busy["a"] >= 0.2 and 0 < fake.load.utilisation("a") <= 1
    fake.load.reset()
    assert fake.load.utilisation() == 0 and fake.load.most_waiting == 0


def test_a_status_fault_can_carry_retry_after(fake):
    fake.fail(429, count=1, retry_after=7)
    answer = requests.get(fake.url + "/", headers={"X-Plex-Token": fake.token}, timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"


def test_the_viewer_reports_its_position_and_opens_pages_recording_each_time(fake):
    fake.capacity = Capacity(write=0.01)
    rk = fake.add_item("1", "x", files=["/data/Movies/x.mp4"])
    with Viewer(fake.url, fake.token, rk, "1", every=0.05, page_every=0.2) as viewer:
        while len(viewer.times["timeline"]) < 8 or not viewer.times["page"]:
            threading.Event().wait(0.05)
        times = viewer.take()
    assert viewer.failures == 0
    assert all(t > 0 for t in times["timeline"] + times["page"])
    assert fake.item(rk).view_offset >= 8 * 50
    assert fake.load.busy[CLIENT_ID] > 0  # its reports held the writer, as a player's do
