"""Issue 5: every task as Stash runs it, the marker hooks, the CLI, and secrets kept secret."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from entry.verify import CATEGORIES
from state.jobs import SceneJob
from state.lock import WorkerLock
from state.queue import JobQueue
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.waiting import wait_until, workers_gone


def titles(plex, pairs):
    return [plex.item(rk).title for _, rk in pairs]


def queue_jobs(data_dir, scene_ids):
    with JobQueue(data_dir / "queue") as queue:
        for scene_id in scene_ids:
            queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time()))


def test_sync_all_moves_the_progress_bar_and_summarises(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 40)
    result = runner.run_task("sync_all")
    assert result.error is None and result.breaches == []
    assert result.output["written"] == 40
    assert result.progress and result.progress[-1] == 1.0
    assert any("Sync all finished" in m for m in result.messages("i"))
    assert titles(plex, pairs) == [f"Scene {i}" for i in range(40)]
    plex.reset_log()
    again = runner.run_task("sync_all")
    assert again.output["unchanged"] == 40 and plex.writes == 0


def test_a_killed_sync_all_is_finished_by_the_background_worker(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 700)  # two pages of scenes
    plex.latency = 0.02
    killed = runner.run_task("sync_all", kill_after=1.5)  # Stash's cancel: SIGKILL
    assert killed.killed
    assert sum(t.startswith("Scene") for t in titles(plex, pairs)) < 700
    plex.latency = 0
    wait_until(lambda: titles(plex, pairs) == [f"Scene {i}" for i in range(700)], timeout=60)
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    status = runner.run_task("status").output
    assert (status["pending"], status["failed"], status["scans"]) == (0, 0, [])


def test_status_reports_counts_worker_and_plex(runner, stash, plex, data_dir):
    add_synced_pair(stash, plex, 2)
    queue_jobs(data_dir, [1, 2])
    result = runner.run_task("status")
    output = result.output
    assert {"pending", "delayed", "in_flight", "failed", "worker"} <= set(output)
    assert (output["pending"], output["worker"]) == (2, "idle")
    assert output["plex"] == {"reachable": True, "name": "Fake Plex", "version": "1.41.0.0"}
    assert result.wall_time < 5
    plex.down()
    down = runner.run_task("status")
    assert down.output["plex"]["reachable"] is False and down.wall_time < 3


def test_a_task_follows_a_running_background_worker(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 60)
    plex.latency = 0.03
    queue_jobs(data_dir, [s for s, _ in pairs])
    runner.run_hook("Scene.Update.Post", int(pairs[0][0]))
    wait_until(lambda: WorkerLock(data_dir / "worker.lock").running(), timeout=10)
    result = runner.run_task("process_queue")
    assert result.output["followed_background_worker"] is True
    assert result.progress
    assert titles(plex, pairs) == [f"Scene {i}" for i in range(60)]


def test_retry_and_clear_failed_and_clear_queue(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 5)
    stash.plugin_settings["PlexSync"]["plexToken"] = "bad-token-123456"
    queue_jobs(data_dir, [s for s, _ in pairs])
    runner.run_task("process_queue")
    assert runner.run_task("status").output["failed"] == 5
    assert runner.run_task("clear_failed").output == {"cleared": 5}
    queue_jobs(data_dir, [s for s, _ in pairs])
    runner.run_task("process_queue")
    workers_gone(data_dir)  # its standby worker too: it would see the new token first
    stash.plugin_settings["PlexSync"]["plexToken"] = PLEX_TOKEN
    for scene_id, _ in pairs:
        stash.update_scene(scene_id, title=f"Retried {scene_id}")
    assert runner.run_task("retry_failed").output == {"requeued": 5}
    wait_until(lambda: titles(plex, pairs) == [f"Retried {s}" for s, _ in pairs], timeout=20)
    # gone, not just off the lock: a worker between its release and its last look at the
    # queue would take the jobs queued next and hold the lock again
    workers_gone(data_dir)
    queue_jobs(data_dir, [s for s, _ in pairs])
    assert runner.run_task("clear_queue").output == {"dropped": 5}
    status = runner.run_task("status").output
    assert (status["pending"], status["failed"]) == (0, 0)


def test_renaming_a_performer_studio_or_tag_reaches_every_scene(runner, stash, plex):
    stash.plugin_settings["PlexSync"]["studioCollections"] = True
    performer = stash.add_performer("Old Name")
    studio = stash.add_studio("Old Studio")
    tag = stash.add_tag("old tag")
    scenes, keys = [], []
    for i in range(4):
        path = f"/r/{i}.mp4"
        keys.append(plex.add_item("1", str(i), files=[(path, 1)]))
        with_all = i < 3
        scenes.append(
            stash.add_scene(
                title=f"R{i}",
                files=[(path, 1)],
                performers=[performer] if with_all else [],
                studio=studio if with_all else None,
                tags=[tag] if with_all else [],
            )
        )
    runner.run_task("sync_all")
    stash.rename_performer(performer, "New Name")
    stash.rename_studio(studio, "New Studio")
    stash.rename_tag(tag, "new tag")
    for trigger, object_id in [
        ("Performer.Update.Post", performer),
        ("Studio.Update.Post", studio),
        ("Tag.Update.Post", tag),
    ]:
        result = runner.run_hook(trigger, int(object_id), input_fields=["name"])
        assert result.output == "queued" and result.wall_time < 5
    wait_until(lambda: all(plex.item(k).actors == ["New Name"] for k in keys[:3]), 20)
    wait_until(lambda: all(plex.item(k).genres == ["new tag"] for k in keys[:3]), 20)
    wait_until(lambda: all(plex.item(k).studio == "New Studio" for k in keys[:3]), 20)
    assert plex.item(keys[0]).collections == ["New Studio"]
    assert plex.item(keys[3]).actors == []


def test_secrets_never_reach_output_logs_or_files(runner, stash, plex, data_dir):
    cookie = stash.server_connection(runner.plugin_dir, data_dir)["SessionCookie"]["Value"]
    pairs = add_synced_pair(stash, plex, 5)
    stash.plugin_settings["PlexSync"]["plexToken"] = "another-secret-token-42"
    outputs = [runner.run_task("sync_all"), runner.run_task("status")]
    stash.plugin_settings["PlexSync"]["plexToken"] = PLEX_TOKEN
    outputs += [
        runner.run_task("retry_failed"),
        runner.run_task("process_queue"),
        runner.run_hook("Scene.Update.Post", int(pairs[0][0])),
        runner.run_task("verify"),
        runner.run_task("status"),
    ]
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    secrets = [PLEX_TOKEN, "another-secret-token-42", cookie]
    for result in outputs:
        for secret in secrets:
            assert secret not in result.stdout_raw and secret not in result.stderr_raw
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, path


def test_verify_reports_and_repairs_drift(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 10)
    stash.add_scene(title="Not in Plex", files=[("/nowhere/x.mp4", 3)])
    runner.run_task("sync_all")
    plex.set_field(pairs[2][1], "title", "Edited in Plex", locked=False)
    result = runner.run_task("verify")
    report = result.output
    assert sum(report[c] for c in CATEGORIES) == report["scenes"] == 11
    assert (report["drifted"], report["not_in_plex"], report["in_sync"]) == (1, 1, 9)
    saved = json.loads(Path(report["report"]).read_text())
    drifted = [s for s in saved["scenes"] if s["status"] == "drifted"]
    assert drifted[0]["fields"] == ["title"] and "title" in drifted[0]["unlocked"]
    assert Path(report["report"]).with_suffix(".html").read_text().startswith("<!doctype")
    repaired = runner.run_task("verify_repair").output
    assert repaired["queued_for_repair"] == 1
    wait_until(lambda: plex.item(pairs[2][1]).title == "Scene 2", timeout=20)
    assert "title" in plex.item(pairs[2][1]).locked


def test_verify_explains_every_unmatched_scene(runner, stash, plex):
    stash.plugin_settings["PlexSync"]["plexLibraries"] = "Movies"
    plex.add_section("Home Videos", agent="tv.plex.agents.none", key="2")
    plex.add_item("2", "home", files=[("/home/clip.mp4", 5)])
    plex.add_item("1", "a", files=[("/one/dup.mp4", 5)])
    plex.add_item("1", "b", files=[("/two/dup.mp4", 5)])
    stash.add_scene(title="Home", files=[("/home/clip.mp4", 5)])
    stash.add_scene(title="Which", files=[("/three/dup.mp4", 5)])
    stash.add_scene(title="Nowhere", files=[("/gone/dup.mp4", 6)])
    stash.add_scene(title="No file")
    report = runner.run_task("verify").output
    assert {c: report[c] for c in ("excluded", "ambiguous", "not_in_plex", "no_file")} == {
        "excluded": 1,
        "ambiguous": 1,
        "not_in_plex": 1,
        "no_file": 1,
    }
    entries = {e["title"]: e for e in json.loads(Path(report["report"]).read_text())["scenes"]}
    assert "'Home Videos'" in entries["Home"]["reason"]
    assert entries["Nowhere"]["plex_paths"] == ["/gone/dup.mp4"]
    assert entries["Nowhere"]["closest"] == ["/one/dup.mp4", "/two/dup.mp4"]


def test_verify_and_sync_all_cover_every_page(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 1200)  # three pages of 500
    synced = runner.run_task("sync_all")
    assert synced.output["written"] == 1200
    report = runner.run_task("verify").output
    assert (report["scenes"], report["in_sync"]) == (1200, 1200)
    assert titles(plex, pairs[-3:]) == ["Scene 1197", "Scene 1198", "Scene 1199"]


def run_cli(*args, env=None, data_dir=None):
    command = [sys.executable, str(ROOT / "plexsync.py"), *args]
    if data_dir is not None:
        command[2:2] = ["--data-dir", str(data_dir)]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_cli_help_and_usage_errors():
    assert "status" in run_cli("--help").stdout and run_cli("--help").returncode == 0
    assert run_cli("frobnicate").returncode == 2


def test_cli_commands_against_stash_and_plex(stash, plex, tmp_path):
    pairs = add_synced_pair(stash, plex, 5)
    stash.require_auth = False
    env = {"STASH_URL": stash.url, "PLEX_URL": plex.url, "PLEX_TOKEN": PLEX_TOKEN}
    synced = run_cli("sync-all", env=env, data_dir=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["written"] == 5
    assert PLEX_TOKEN not in synced.stdout + synced.stderr
    status = run_cli("status", env=env, data_dir=tmp_path)
    assert json.loads(status.stdout)["synced_scenes"] == 5
    bad = {**env, "PLEX_TOKEN": "not-the-token-999"}
    stash.update_scene(pairs[0][0], title="Changed")
    queue_jobs(tmp_path, [pairs[0][0]])
    failed_run = run_cli("process", env=bad, data_dir=tmp_path)
    assert failed_run.returncode == 3
    listing = json.loads(run_cli("failed", "list", env=env, data_dir=tmp_path).stdout)
    assert listing["failed"] == 1 and listing["jobs"][0]["message"] == "Plex rejected the token"
    retried = json.loads(run_cli("failed", "retry", env=env, data_dir=tmp_path).stdout)
    assert retried["requeued"] == 1 and retried["written"] == 1  # processed by the CLI itself
    assert plex.item(pairs[0][1]).title == "Changed"
    processed = run_cli("process", env=env, data_dir=tmp_path)
    assert processed.returncode == 0
    assert json.loads(run_cli("failed", "clear", env=env, data_dir=tmp_path).stdout) == {
        "cleared": 0
    }


def test_cli_finds_the_plugins_data_directory_through_stash(stash, plex, tmp_path):
    stash.require_auth = False
    stash.config_file_path = str(tmp_path / "stash-config" / "config.yml")
    env = {"STASH_URL": stash.url}
    result = run_cli("status", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stash-config" / "plexsync" / "state.db").exists()


def test_cli_without_stash_gives_up_after_max_wait_with_a_clear_line(tmp_path):
    queue_jobs(tmp_path, [1])
    started = time.monotonic()
    result = run_cli(
        "--max-wait", "2", "process", env={"STASH_URL": "http://127.0.0.1:9"}, data_dir=tmp_path
    )
    assert result.returncode == 3 and time.monotonic() - started < 20
    assert "Stash is unreachable" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["stopped"] == "Stash unreachable"
