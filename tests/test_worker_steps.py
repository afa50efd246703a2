"""The worker driven one iteration at a time with an injected clock (tests/rig/stepper.py):
retry schedules walked over simulated days, against real SQLite and the fake servers."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import PLEX_TOKEN
from tests.rig.stepper import Stepper, Stop
from worker.loop import Pacing


@pytest.fixture
def settings(plex):
    return {"plexUrl": plex.url, "plexToken": PLEX_TOKEN}


@pytest.fixture
def stepper(tmp_path, stash, settings):
    made = []

    def make(**extra):
        connection = stash.server_connection(tmp_path, tmp_path)
        made.append(Stepper(tmp_path / "data", connection, {**settings, **extra}))
        return made[-1]

    yield make
    for s in made:
        s.close()


def walk_retries(s: Stepper, key: str, until_gone: bool = True, max_steps: int = 200):
    """Run the job each time its retry falls due; the delays seen, in order."""
    delays = []
    for _ in range(max_steps):
        s.worker.run_once()
        row = s.delayed(key)
        if row is None or row["due_at"] is None:
            break
        delays.append(row["due_at"] - s.clock())
        s.clock.now = row["due_at"]
    return delays


def assert_doubling(delays, first, cap, jitter=0.2):
    for n, delay in enumerate(delays):
        expected = min(cap, first * 2**n)
        assert expected * (1 - jitter) <= delay <= expected * (1 + jitter), (n, delays)


def test_a_missing_file_backs_off_doubling_and_fails_after_failafterhours(stepper, stash):
    scene = stash.add_scene(title="Never in Plex", files=[("/media/nowhere/a.mp4", 10)])
    s = stepper()
    s.enqueue_scene(scene)
    delays = walk_retries(s, f"scene:{scene}")
    print("not-found delays (s):", [round(d) for d in delays])
    assert len(delays) >= 8
    assert_doubling(delays, 30, 3600)
    dead = s.dead(f"scene:{scene}")
    assert dead is not None, "the job never reached the failed list"
    assert dead["attempts"] == len(delays) + 1
    assert dead["last_failed_at"] - dead["first_failed_at"] >= 24 * 3600


def test_an_http_error_backs_off_on_its_own_schedule(stepper, stash, plex):
    path = "/media/x/err.mp4"
    scene = stash.add_scene(title="Errors", files=[(path, 10)])
    plex.add_item("1", "err", files=[(path, 10)])
    plex.fail(500, method="PUT")
    s = stepper(failAfterHours=6)
    s.enqueue_scene(scene)
    delays = walk_retries(s, f"scene:{scene}")
    print("HTTP-error delays (s):", [round(d) for d in delays])
    assert_doubling(delays, 30, 1800)
    assert max(delays) >= 1800 * 0.8
    assert s.dead(f"scene:{scene}") is not None


def test_a_partial_library_gives_up_quietly_after_failafterhours(stepper, stash):
    scene = stash.add_scene(title="Not in this Plex", files=[("/media/nowhere/b.mp4", 10)])
    s = stepper(partialLibrary=True, failAfterHours=2)
    s.enqueue_scene(scene)
    delays = walk_retries(s, f"scene:{scene}")
    assert_doubling(delays, 30, 3600)
    assert s.dead(f"scene:{scene}") is None
    assert s.delayed(f"scene:{scene}") is None
    assert s.worker.tally["not_in_plex"] == 1


def test_a_worker_whose_only_work_is_a_far_retry_exits(stepper, stash):
    scene = stash.add_scene(title="Never in Plex", files=[("/media/nowhere/c.mp4", 10)])
    s = stepper()
    s.clock.limit = s.clock.now + 3 * 24 * 3600
    s.enqueue_scene(scene)
    try:
        s.worker.run()
    except Stop:
        pytest.fail("the worker never went idle: its retries never backed off past the horizon")
    assert s.delayed(f"scene:{scene}")["due_at"] - s.clock() > Pacing().horizon


def test_a_malformed_scene_fails_alone_and_the_bug_is_logged(stepper, stash, plex, caplog):
    pairs = []
    for i in range(3):
        path = f"/media/m/{i}.mp4"
        pairs.append((stash.add_scene(title=f"Good {i}", files=[(path, 1)]), path))
        plex.add_item("1", f"m{i}", files=[(path, 1)])
    bad = stash.add_scene(title="Bad", files=[("/media/m/bad.mp4", 1)])
    plex.add_item("1", "bad", files=[("/media/m/bad.mp4", 1)])
    stash.update_scene(bad, rating100=5)
    s = stepper(syncRating=True)
    s.services.connect()  # before the malformed data arrives
    original = s.services.stash.scenes

    def with_a_bad_scene(ids):
        found = original(ids)
        if int(bad) in found:
            found[int(bad)]["rating100"] = "five"  # a value our mapping cannot handle: a bug
        return found

    s.services.stash.scenes = with_a_bad_scene
    for scene_id in [p[0] for p in pairs] + [bad]:
        s.enqueue_scene(scene_id)
    with caplog.at_level(logging.ERROR):
        s.worker.run_once()
    for scene_id, path in pairs:
        assert plex.find_by_file(path).title == f"Good {int(scene_id) - 1}"
    assert s.worker.stopped is None, "a bug of ours stopped the run as if the settings were wrong"
    row = s.delayed(f"scene:{bad}")
    assert row is not None and row["due_at"] - s.clock() == pytest.approx(30, rel=0.21)
    assert "Traceback" in caplog.text and "TypeError" in caplog.text


def test_sync_now_on_a_missing_file_leaves_the_automatic_retry_as_it_was(stepper, stash):
    from state.jobs import BY_PERSON, SceneJob

    scene = stash.add_scene(title="Not in Plex", files=[("/media/nowhere/p.mp4", 10)])
    key = f"scene:{scene}"
    s = stepper()
    s.enqueue_scene(scene)
    s.worker.run_once()
    first = dict(s.delayed(key))
    for _ in range(4):  # a person pressing Sync now again and again
        s.clock.now += 5
        s.queue.enqueue(SceneJob(int(scene), BY_PERSON, s.clock(), cover=True))
        s.worker.run_once()
        row = s.delayed(key)
        assert (row["due_at"], row["attempts"]) == (first["due_at"], first["attempts"])
    s.clock.now = first["due_at"]  # the automatic retry still counts
    s.worker.run_once()
    assert s.delayed(key)["attempts"] == first["attempts"] + 1


def test_a_paused_run_says_what_it_waits_for(stepper, stash, plex, caplog):
    path = "/media/w/wait.mp4"
    scene = stash.add_scene(title="Waits", files=[(path, 1)])
    plex.add_item("1", "wait", files=[(path, 1)])
    s = stepper()
    s.worker.pacing = Pacing(max_pause=30)
    s.services.connect()  # while Plex is up
    plex.down()
    s.enqueue_scene(scene)
    with caplog.at_level(logging.INFO, logger="plexsync.worker"):
        s.worker.run_once()
    said = [r.getMessage() for r in caplog.records if "waiting for Plex" in r.getMessage()]
    assert said and said[0] == "waiting for Plex to answer (10 s of 30 s); the work stays queued"
    assert s.worker.stopped == "Plex unreachable" and s.dead(f"scene:{scene}") is None
