"""Issue 23, item 1: a running worker follows the settings a person changes, before its next
batch, and brings back what the old settings made fail. Real processes against the fake
servers, and the worker stepped with an injected clock (tests/rig/stepper.py)."""

from __future__ import annotations

import pytest

from state.lock import WorkerLock
from tests.conftest import PLEX_TOKEN
from tests.rig.stepper import Stepper
from tests.rig.waiting import wait_until


def delayed_row(data_dir, key):
    from state.store import Store

    with Store(data_dir / "state.db") as store:
        return store.db.execute("SELECT * FROM delayed WHERE job_key = ?", (key,)).fetchone()


def test_a_path_map_fixed_while_a_worker_runs_is_used_by_the_next_sync_now(
    runner, stash, plex, data_dir
):
    # Stash and Plex see the same file under different roots (sizes differ, so no fallback
    # by name and size finds it): without the right path map the file is not in Plex.
    scene = stash.add_scene(title="Mapped", files=[("/stash/videos/a.mp4", 10)])
    rating_key = plex.add_item("1", "a", files=[("/plex/videos/a.mp4", 11)])
    assert runner.run_hook("Scene.Update.Post", int(scene), input_fields=["title"]).error is None
    wait_until(lambda: delayed_row(data_dir, f"scene:{scene}"), timeout=30)
    lock = WorkerLock(data_dir / "worker.lock")
    assert lock.running()  # it lingers: the retry is due within its horizon

    stash.plugin_settings["PlexSync"]["pathMap"] = "/stash=>/plex"
    answer = runner.run_operation({"mode": "sync_scenes", "scene_ids": [scene]})
    assert answer.error is None, answer.error
    assert answer.output["worker_started"] is False  # the worker that failed it does it
    wait_until(lambda: plex.item(rating_key).title == "Mapped", timeout=30)
    assert delayed_row(data_dir, f"scene:{scene}") is None


@pytest.fixture
def saved(stash, plex):
    """The settings as saved in Stash, which the stepped worker reads (none given to it)."""
    settings = {"plexUrl": plex.url, "plexToken": PLEX_TOKEN}
    stash.plugin_settings = {"PlexSync": settings}
    return settings


@pytest.fixture
def stepper(tmp_path, stash, saved):
    s = Stepper(tmp_path / "data", stash.server_connection(tmp_path, tmp_path), None)
    yield s
    s.close()


def test_a_lowered_fail_after_hours_applies_to_the_next_retry(stepper, stash, saved):
    scene = stash.add_scene(title="Never in Plex", files=[("/media/nowhere/a.mp4", 10)])
    key = f"scene:{scene}"
    stepper.enqueue_scene(scene)
    stepper.worker.run_once()
    stepper.clock.now += 3 * 3600  # three hours of retries later (24 h is the default)
    stepper.store.db.execute("UPDATE delayed SET due_at = ?", (stepper.clock(),))
    saved["failAfterHours"] = 2
    stepper.worker.run_once()
    assert stepper.delayed(key) is None
    assert stepper.dead(key) is not None, "the new failAfterHours was ignored"


def test_a_new_token_brings_back_what_the_old_one_failed_within_the_run(
    stepper, stash, plex, saved
):
    paths = [f"/media/t/{i}.mp4" for i in range(3)]
    scenes = [stash.add_scene(title=f"Token {i}", files=[(p, 5)]) for i, p in enumerate(paths)]
    items = [plex.add_item("1", f"t{i}", files=[(p, 5)]) for i, p in enumerate(paths)]
    saved["plexToken"] = "a-rejected-token-42"
    for scene in scenes[:2]:
        stepper.enqueue_scene(scene)
    stepper.worker.run_once()
    assert all(stepper.dead(f"scene:{s}") for s in scenes[:2])
    saved["plexToken"] = PLEX_TOKEN
    stepper.enqueue_scene(scenes[2])  # the next batch: the worker sees the new token first
    stepper.worker.run_once()
    stepper.worker.run_once()  # the two failed ones, back on the queue
    assert [plex.item(rk).title for rk in items] == ["Token 0", "Token 1", "Token 2"]
    assert not any(stepper.dead(f"scene:{s}") for s in scenes)


def test_a_fixed_path_map_brings_back_failed_and_waiting_not_found_scenes(
    stepper, stash, plex, saved
):
    waiting = stash.add_scene(title="Waiting", files=[("/stash/w.mp4", 1)])
    failed = stash.add_scene(title="Failed", files=[("/stash/f.mp4", 2)])
    other = stash.add_scene(title="Other", files=[("/stash/o.mp4", 3)])
    items = [plex.add_item("1", n, files=[(f"/plex/{n}.mp4", 9)]) for n in ("w", "f", "o")]
    saved["failAfterHours"] = 1
    stepper.enqueue_scene(failed)
    stepper.worker.run_once()
    stepper.clock.now += 2 * 3600
    stepper.store.db.execute("UPDATE delayed SET due_at = ?", (stepper.clock(),))
    stepper.worker.run_once()
    assert stepper.dead(f"scene:{failed}") is not None
    stepper.enqueue_scene(waiting)
    stepper.worker.run_once()
    assert stepper.delayed(f"scene:{waiting}") is not None
    saved["pathMap"] = "/stash=>/plex"
    stepper.enqueue_scene(other)
    stepper.worker.run_once()
    stepper.worker.run_once()
    assert [plex.item(rk).title for rk in items] == ["Waiting", "Failed", "Other"]
    assert stepper.dead(f"scene:{failed}") is None and stepper.delayed(f"scene:{waiting}") is None


def test_the_settings_are_read_when_asked_and_no_attribute_asks_stash(tmp_path, stash, saved):
    """Issue 19: reading `config` makes no request; `read_settings()` is the one that does."""
    from state.datadir import DataDir
    from worker.services import Services

    data = DataDir(tmp_path / "data")
    connection = stash.server_connection(tmp_path, tmp_path)
    with data.open_store() as store, Services(data, store, connection) as services:
        asked = stash.graphql_requests  # none yet: every request counts
        with pytest.raises(RuntimeError, match=r"read_settings\(\) was not called"):
            services.config  # noqa: B018 - the attribute read is the point
        assert stash.graphql_requests == asked
        assert services.read_settings() == frozenset()  # the first read: nothing "changed"
        assert stash.count("PlexSyncSettings") == 1
        first = services.config
        reads = stash.graphql_requests
        saved["pathMap"] = "/stash=>/plex"
        assert services.config is first and stash.graphql_requests == reads
        assert services.read_settings() == frozenset({"where"})
        assert stash.count("PlexSyncSettings") == 2
        assert services.config.path_map != first.path_map
