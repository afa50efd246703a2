"""Issue 23, items 3, 4, 5 and 6 without a browser: what Sync now, the PlexSync page and the
tasks say in each state of the setup, through the real plexsync.py as Stash runs it."""

from __future__ import annotations

import re
import time

import yaml

from state.jobs import SceneJob
from state.queue import JobQueue, waiting_jobs
from state.store import Failure, Store
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.waiting import wait_until

SETTING_KEYS = "|".join(yaml.safe_load((ROOT / "PlexSync.yml").read_text())["settings"])
INTERNAL = re.compile(  # a job's key, an operation's name, a setting's key (shown: its name)
    rf"scan:all|sync_all|verify_repair|not in plex|followed background|Error:|\b({SETTING_KEYS})\b"
)


def operation(runner, mode, **args):
    result = runner.run_operation({"mode": mode, **args})
    assert result.error is None, result.error
    return result.output


def sync_now(runner, scene_id):
    return operation(runner, "sync_scenes", scene_ids=[scene_id])


def page_problem(runner):
    page = operation(runner, "overview")
    assert not INTERNAL.search(str(page.get("problem"))), page.get("problem")
    return page.get("problem")


def assert_plain(problem, kind, *words):
    assert problem["kind"] == kind, problem
    assert problem["say"] and problem["do"], problem
    assert "Settings → Plugins → PlexSync" in problem["do"] or "Start Plex" in problem["do"]
    for word in words:
        assert word in problem["say"] + " " + problem["do"], (word, problem)
    assert PLEX_TOKEN not in str(problem)
    assert not INTERNAL.search(str(problem)), problem


def test_sync_now_says_written_when_it_was(runner, stash, plex):
    [(scene_id, rating_key)] = add_synced_pair(stash, plex, 1)
    answer = sync_now(runner, scene_id)
    assert answer["queued"] == 1 and "problem" not in answer
    assert answer["states"][str(scene_id)]["state"] == "synced"
    assert plex.item(rating_key).title == "Scene 0"


def test_sync_now_on_a_missing_file_says_why_and_when_it_tries_again(runner, stash, plex):
    scene_id = stash.add_scene(title="Missing", files=[("/media/new/gone.mp4", 5)])
    state = sync_now(runner, scene_id)["states"][str(scene_id)]
    assert state["state"] == "retrying" and state["due_at"]
    assert "/media/new/gone.mp4" in state["reason"]


def test_sync_now_pressed_again_keeps_the_automatic_retry_as_it_was(runner, stash, plex, data_dir):
    scene_id = stash.add_scene(title="Missing", files=[("/media/new/gone.mp4", 5)])

    def retrying():  # once the worker has settled the press (its job is off the queue)
        if waiting_jobs(data_dir / "queue"):
            return None
        state = operation(runner, "scene_state", scenes=[scene_id])["states"][str(scene_id)]
        return state if state["state"] == "retrying" else None

    operation(runner, "sync_scenes", scene_ids=[scene_id])
    first = wait_until(retrying, timeout=60)
    for _ in range(3):  # a person pressing Sync now again and again
        operation(runner, "sync_scenes", scene_ids=[scene_id])
        assert wait_until(retrying, timeout=60)["due_at"] == first["due_at"]


def test_sync_now_with_a_rejected_token_queues_nothing_and_says_what_to_do(
    runner, stash, plex, data_dir
):
    [(scene_id, _)] = add_synced_pair(stash, plex, 1)
    stash.plugin_settings["PlexSync"]["plexToken"] = "rejected-token-77"
    answer = sync_now(runner, scene_id)
    assert answer["queued"] == 0
    assert_plain(answer["problem"], "token_rejected", "X-Plex-Token")
    assert "rejected-token-77" not in str(answer)
    assert_plain(page_problem(runner), "token_rejected")


def test_sync_now_with_plex_down_queues_and_says_plex_does_not_answer(
    runner, stash, plex, data_dir
):
    [(scene_id, _)] = add_synced_pair(stash, plex, 1)
    plex.down()
    answer = sync_now(runner, scene_id)
    assert answer["queued"] == 1
    assert_plain(answer["problem"], "plex_unreachable", plex.url)
    assert answer["states"][str(scene_id)]["state"] == "queued"
    assert_plain(page_problem(runner), "plex_unreachable", plex.url)


def test_a_url_without_a_scheme_is_named_as_the_problem_everywhere(runner, stash, plex):
    [(scene_id, _)] = add_synced_pair(stash, plex, 1)
    stash.plugin_settings["PlexSync"]["plexUrl"] = plex.url.split("://", 1)[1]
    answer = sync_now(runner, scene_id)
    assert answer["queued"] == 0
    assert_plain(answer["problem"], "settings_invalid", '"Plex server URL"', "http://")
    states = operation(runner, "scene_state", scenes=[scene_id])
    assert states["configured"] is False
    assert_plain(states["problem"], "settings_invalid", '"Plex server URL"', "http://")
    assert_plain(page_problem(runner), "settings_invalid", '"Plex server URL"', "http://")


def test_not_configured_says_what_to_enter(runner, stash):
    stash.plugin_settings = {}
    scene_id = stash.add_scene(title="A", files=[("/m/a.mp4", 1)])
    states = operation(runner, "scene_state", scenes=[scene_id])
    assert states["configured"] is False
    assert_plain(states["problem"], "not_configured", "Plex server URL", "Plex token")
    assert_plain(sync_now(runner, scene_id)["problem"], "not_configured")
    assert_plain(page_problem(runner), "not_configured")


def test_a_wrong_path_map_is_named_with_the_rule_that_fixes_it(runner, stash, plex):
    add_synced_pair(stash, plex, 1)
    missing = stash.add_scene(title="Elsewhere", files=[("/stash/videos/a.mp4", 5)])
    plex.add_item("1", "a", files=[("/plex/videos/a.mp4", 6)])
    sync_now(runner, missing)
    assert_plain(page_problem(runner), "path_map_wrong", "/plex/videos/a.mp4", "/stash=>/plex")


def test_sync_all_with_plex_down_says_so_at_once_and_leaves_the_work_queued(
    runner, stash, plex, data_dir
):
    add_synced_pair(stash, plex, 3)
    plex.down()
    # Without the check it waits out its pause (2 minutes) before it gives the queue back.
    result = runner.run_task("sync_all", timeout=60)
    assert result.error is None, result.error
    assert result.output["problem"]["kind"] == "plex_unreachable"
    assert any("Plex does not answer" in m and "stays queued" in m for m in result.messages("w"))
    with JobQueue(data_dir / "queue") as queue:
        assert [job.key for job in queue.jobs()] == ["scan:all"]
    [run] = operation(runner, "overview")["last_runs"]
    assert run["title"] == "Sync all scenes to Plex" and "stays queued" in run["said"]
    assert not INTERNAL.search(run["said"] + run["title"])


def test_page_names_runs_and_failed_entries_in_words(runner, stash, plex, data_dir):
    from state.jobs import ScanJob
    from state.store import Failure, Store

    add_synced_pair(stash, plex, 2)
    runner.run_task("sync_all")
    with Store(data_dir / "state.db") as store:
        store.dead_letter(ScanJob("all", 1), Failure(1, 1), OSError("Plex rejected the token"), 2)
    page = operation(runner, "overview")
    [failed] = page["failed_jobs"]
    assert failed["title"] == "Sync all"
    [run] = page["last_runs"]
    assert run["said"] == "2 written." and run["title"] == "Sync all scenes to Plex"


JOB_KEY = re.compile(r"\b(scene|scan|activity):[a-z0-9]")  # scene:12, scan:all, activity:import


def test_the_task_log_names_jobs_in_words(runner, stash, plex, data_dir):
    add_synced_pair(stash, plex, 1)
    missing = stash.add_scene(title="Missing", files=[("/media/new/gone.mp4", 5)])
    ran = runner.run_task("sync_all")
    assert ran.error is None, ran.error
    with Store(data_dir / "state.db") as store:  # a dead letter, as a worker leaves one
        now = time.time()
        error = RuntimeError("Plex answered 500 three times")
        store.dead_letter(SceneJob(missing, "t", now), Failure(3, now), error, now)
    shown = runner.run_task("status")
    said = [message for result in (ran, shown) for _, message in result.log]
    assert any(f"scene {missing}" in m and "retry in" in m for m in said), said
    assert any(m.startswith("Sync all: ") and "scene(s) checked" in m for m in said), said
    assert any(f"failed scene {missing} at" in m for m in said), said
    assert [m for m in said if JOB_KEY.search(m) or INTERNAL.search(m)] == []
