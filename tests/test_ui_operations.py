"""Issue 13 without a browser: the UI's operations run as `runPluginOperation` runs them."""

from __future__ import annotations

import time

import pytest

from entry import operations
from entry.hook import BadInput
from entry.scene_state import _queued
from state.jobs import SceneJob
from state.lock import WorkerLock
from state.queue import TABLE, JobQueue, waiting_jobs
from state.store import Failure, Store
from tests.conftest import PLEX_TOKEN, add_synced_pair
from tests.rig.waiting import wait_until


def open_store(data_dir) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Store(data_dir / "state.db")


def scene_input(stash, scene_id):
    """What the UI sends for a scene: its id, its files' paths and sizes, organized."""
    scene = stash._scenes[int(scene_id)]  # noqa: SLF001 - the UI reads the same via GraphQL
    files = [{"path": f.path, "size": f.size} for f in scene.files]
    return {"id": scene_id, "files": files, "organized": scene.organized}


def states(runner, stash, scene_ids):
    result = runner.run_operation(
        {"mode": "scene_state", "scenes": [scene_input(stash, s) for s in scene_ids]}
    )
    assert result.error is None, result.error
    return result.output


def test_synced_scenes_link_to_plex_web_without_the_token(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 3)
    assert runner.run_task("sync_all").error is None
    stash.plugin_settings["PlexSync"]["plexWebUrl"] = "http://plex.lan:32400/web/index.html"
    plex.reset_log()
    answer = states(runner, stash, [s for s, _ in pairs])
    assert plex.count() == 0  # answered from state.db and the path index
    assert answer["configured"] is True and PLEX_TOKEN not in str(answer)
    for scene_id, rating_key in pairs:
        state = answer["states"][scene_id]
        assert state["state"] == "synced" and state["at"] > time.time() - 300
        [item] = state["items"]
        assert item["rating_key"] == rating_key
        assert item["url"] == (
            "http://plex.lan:32400/web/index.html#!/server/fake-machine-1/details"
            f"?key=%2Flibrary%2Fmetadata%2F{rating_key}"
        )


def test_why_a_scene_is_not_synced(runner, stash, plex):
    plex.add_section("Other", key="2")
    stash.plugin_settings["PlexSync"]["plexLibraries"] = "Movies"
    add_synced_pair(stash, plex, 1)
    missing = stash.add_scene(title="Missing", files=[("/media/new/missing.mp4", 5)])
    plex.add_item("1", "elsewhere", files=[("/old/place/missing.mp4", 99)])
    excluded = stash.add_scene(title="Excluded", files=[("/media/other/x.mp4", 7)])
    plex.add_item("2", "x", files=[("/media/other/x.mp4", 7)])
    no_file = stash.add_scene(title="No file")
    twins = stash.add_scene(title="Twins", files=[("/stash/twin.mp4", 8)])
    plex.add_item("1", "t1", files=[("/a/twin.mp4", 8)])
    plex.add_item("1", "t2", files=[("/b/twin.mp4", 8)])
    runner.run_task("verify")  # builds the path index; writes nothing
    found = states(runner, stash, [missing, excluded, no_file, twins])["states"]
    assert found[missing] == {
        "state": "not_in_plex",
        "looked_for": ["/media/new/missing.mp4"],
        "closest": ["/old/place/missing.mp4"],
    }
    assert found[excluded] == {"state": "excluded", "library": "Other"}
    assert found[no_file] == {"state": "no_file"}
    assert found[twins]["state"] == "ambiguous"
    assert found[twins]["candidates"] == ["/a/twin.mp4", "/b/twin.mp4"]


def test_failed_retrying_queued_and_skipped(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 4)
    (a, _), (b, _), (c, _), (d, _) = pairs
    stash.plugin_settings["PlexSync"]["skipUnorganized"] = True
    now = time.time()
    with open_store(data_dir) as store:
        store.dead_letter(SceneJob(a, "t", now), Failure(3, now), OSError("gone"), now)
        store.delay(SceneJob(b, "t", now), now + 600, Failure(2, now), OSError("busy"))
    with JobQueue(data_dir / "queue") as queue:
        queue.enqueue(SceneJob(c, "t", now))
    found = states(runner, stash, [a, b, c, d])["states"]
    assert (found[a]["state"], found[a]["reason"], found[a]["key"]) == (
        "failed",
        "gone",
        f"scene:{a}",
    )
    assert (found[b]["state"], found[b]["reason"]) == ("retrying", "busy")
    assert found[b]["due_at"] == pytest.approx(now + 600)
    assert found[c] == {"state": "queued"}
    assert found[d]["state"] == "skipped"


def test_the_queue_read_agrees_with_persist_queue(data_dir, tmp_path):
    with JobQueue(data_dir / "queue") as queue:
        for scene_id in (3, 5, 8):
            queue.enqueue(SceneJob(scene_id, "t", 0))
        [claimed] = queue.claim(1)
        queue.ack(claimed)
        assert queue._queue._table_name == TABLE  # noqa: SLF001
        listed = {job.scene_id for job in queue.jobs()}
        assert waiting_jobs(data_dir / "queue") == queue.jobs()
    with Store(tmp_path / "state.db") as store:
        assert _queued(data_dir / "queue", store) == (listed, None) == ({5, 8}, None)


def test_not_configured_is_quiet(runner, stash):
    stash.plugin_settings = {}
    scene = stash.add_scene(title="A", files=[("/m/a.mp4", 1)])
    answer = states(runner, stash, [scene])
    assert answer["configured"] is False and answer["problem"]["kind"] == "not_configured"
    assert answer["states"][scene] == {"state": "unknown"}


def test_sync_now_forces_a_write_and_starts_a_worker(runner, stash, plex, data_dir):
    [(scene_id, rating_key)] = add_synced_pair(stash, plex, 1)
    runner.run_task("sync_all")
    plex.set_field(rating_key, "title", "Changed in Plex")  # the fingerprint still matches
    stash.update_scene(scene_id, details="Edited in Stash")
    result = runner.run_operation({"mode": "sync_scenes", "scene_ids": [scene_id]})
    assert result.error is None and result.output["queued"] == 1
    wait_until(lambda: plex.item(rating_key).summary == "Edited in Stash", timeout=30)
    assert plex.item(rating_key).title == "Scene 0"
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=30)
    assert states(runner, stash, [scene_id])["states"][scene_id]["state"] == "synced"


def test_failed_entries_retry_and_clear_one_or_all(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 3)
    with open_store(data_dir) as store:
        for scene_id, _ in pairs:
            job = SceneJob(scene_id, "t", 1)
            store.dead_letter(job, Failure(1, 1), OSError("no"), 2)
    listing = runner.run_operation({"mode": "failed_list"}).output
    assert listing["failed"] == 3 and {j["scene_id"] for j in listing["jobs"]} == {1, 2, 3}
    assert "token" not in listing["jobs"][0]
    one = runner.run_operation({"mode": "retry_failed", "keys": ["scene:1"]})
    assert one.output == {"requeued": 1}
    wait_until(lambda: plex.item(pairs[0][1]).title == "Scene 0", timeout=30)
    assert runner.run_operation({"mode": "clear_failed", "keys": ["scene:2"]}).output == {
        "cleared": 1
    }
    assert runner.run_operation({"mode": "clear_failed"}).output == {"cleared": 1}
    assert runner.run_operation({"mode": "failed_list"}).output["failed"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"mode": "frobnicate"}, "unknown operation 'frobnicate'; expected one of sync_all"),
        ({}, "unknown operation None"),
        ({"mode": "scene_state"}, "scene_state: argument 'scenes' is required"),
        ({"mode": "scene_state", "scenes": []}, "'scenes' must be a non-empty list"),
        ({"mode": "scene_state", "scenes": ["x"]}, "'x' is not a scene id"),
        ({"mode": "sync_scenes", "scene_ids": [1], "force": 1}, "unknown argument(s) force"),
        ({"mode": "retry_failed", "keys": [3]}, "must list failed-entry keys"),
        ({"mode": "status", "scenes": [1]}, "status: unknown argument(s) scenes"),
    ],
)
def test_bad_operations_get_a_clear_error(runner, args, message):
    result = runner.run_operation(args)
    assert result.output is None and message in result.error
    assert result.exit_code == 1


def test_the_table_covers_every_task_and_cli_command():
    from entry.cli import build_parser, command_words

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    covered = {op.cli[0] for op in operations.TABLE if op.cli}
    assert covered == set(commands) - {"worker"}
    for op in operations.TABLE:  # each entry's words parse back to that entry
        if op.cli:
            assert operations.by_cli(command_words(parser.parse_args(list(op.cli)))) == op
    with pytest.raises(BadInput):
        operations.validate(operations.find("sync_scenes"), {"scene_ids": [True]})
    assert operations.validate(operations.find("sync_scenes"), {"scene_ids": ["4", 5.0]}) == {
        "scene_ids": [4, 5]
    }


def test_overview_shows_runs_failures_and_the_last_verify(runner, stash, plex):
    add_synced_pair(stash, plex, 2)
    runner.run_task("sync_all")
    runner.run_task("verify")
    page = runner.run_operation({"mode": "overview"}).output
    assert [run["task"] for run in page["last_runs"]] == ["verify", "sync_all"]
    assert page["last_runs"][1]["result"]["written"] == 2
    assert page["last_verify"]["in_sync"] == 2 and page["failed_jobs"] == []
    assert page["plex"]["reachable"] is True and PLEX_TOKEN not in str(page)
    report = runner.run_operation({"mode": "verify_report"}).output
    assert report["html"].startswith("<!doctype html>") and "2 scenes checked" in report["html"]
