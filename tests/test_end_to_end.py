"""Issue 3 end to end: plexsync.py run exactly as Stash runs it, a real background worker,
the fake Stash and the fake Plex. Real processes, real SQLite, real kill -9."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from state.jobs import SceneJob
from state.lock import WorkerLock
from state.queue import JobQueue
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.waiting import wait_until


def titles(plex, pairs):
    return [plex.item(rk).title for _, rk in pairs]


def worker_pid(data_dir):
    lock = data_dir / "worker.lock"
    if lock.exists() and WorkerLock(lock).running():
        text = lock.read_text().strip()
        return int(text) if text else None
    return None


def worker_idle(data_dir):
    return not WorkerLock(data_dir / "worker.lock").running()


def edit(stash, pairs, prefix):
    for scene_id, _ in pairs:
        stash.update_scene(scene_id, title=f"{prefix} {scene_id}")


def expected(pairs, prefix):
    return [f"{prefix} {scene_id}" for scene_id, _ in pairs]


def test_a_title_edit_in_stash_shows_in_plex(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 3)
    stash.update_scene(pairs[1][0], title="Fixed title ✓")
    result = runner.run_hook(
        "Scene.Update.Post",
        int(pairs[1][0]),
        input={"title": "Fixed title ✓"},
        input_fields=["id", "title"],
    )
    assert (result.output, result.error, result.exit_code) == ("queued", None, 0)
    assert result.breaches == []
    wait_until(lambda: plex.item(pairs[1][1]).title == "Fixed title ✓", timeout=20)
    assert "title" in plex.item(pairs[1][1]).locked
    assert plex.item(pairs[0][1]).title == "scene-00000"  # nothing else touched


def test_updates_touching_no_synced_field_are_dropped(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 1)
    result = runner.run_hook("Scene.Update.Post", int(pairs[0][0]), input_fields=["o_counter"])
    assert result.output == "ignored (no synced field changed)"
    assert not (data_dir / "queue").exists() or JobQueue(data_dir / "queue").ready() == 0


def test_create_and_destroy_hooks(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 2)
    created = runner.run_hook("Scene.Create.Post", int(pairs[0][0]))  # no inputFields on create
    assert created.output == "queued"
    wait_until(lambda: plex.item(pairs[0][1]).title == "Scene 0", timeout=20)
    stash.delete_scene(pairs[0][0])
    gone = runner.run_hook("Scene.Destroy.Post", int(pairs[0][0]))
    assert gone.output == "queued"
    wait_until(lambda: worker_idle(data_dir), timeout=20)
    log = (data_dir / "worker.log").read_text()
    assert f"scene {pairs[0][0]} is not in Stash any more" in log


def test_kill_9_of_the_worker_mid_job_loses_nothing(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 40)
    edit(stash, pairs, "Killed")
    plex.latency = 0.03  # long enough for the worker to be mid-request when it dies
    with JobQueue(data_dir / "queue") as queue:
        for scene_id, _ in pairs:
            queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time()))
    kills = 0
    rng = random.Random(7)
    for _ in range(4):
        runner.run_hook("Scene.Update.Post", int(pairs[0][0]), input_fields=["title"])
        pid = wait_until(lambda: worker_pid(data_dir), timeout=10)
        time.sleep(rng.uniform(0.2, 0.6))
        os.kill(pid, signal.SIGKILL)
        kills += 1
        wait_until(lambda: worker_idle(data_dir), timeout=10)
    assert kills == 4
    plex.latency = 0
    runner.run_hook("Scene.Update.Post", int(pairs[0][0]), input_fields=["title"])
    wait_until(lambda: titles(plex, pairs) == expected(pairs, "Killed"), timeout=30)
    wait_until(lambda: worker_idle(data_dir), timeout=20)
    db = sqlite3.connect(data_dir / "queue" / "data.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    status = runner.run_task("status").output
    assert (status["pending"], status["in_flight"], status["failed"]) == (0, 0, 0)


def test_kill_9_of_hooks_mid_enqueue_keeps_the_queue_intact(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 12)
    edit(stash, pairs, "Hook")
    queued = []
    for index, (scene_id, _) in enumerate(pairs):
        kill_after = 0.0 if index % 3 == 0 else random.Random(index).uniform(0.02, 0.08)
        result = runner.run_hook(
            "Scene.Update.Post", int(scene_id), input_fields=["title"], kill_after=kill_after
        )
        if result.output == "queued":
            queued.append(scene_id)
    final = runner.run_hook("Scene.Update.Post", int(pairs[-1][0]), input_fields=["title"])
    assert final.output == "queued"
    queued.append(pairs[-1][0])
    done = [pair for pair in pairs if pair[0] in queued]
    wait_until(lambda: titles(plex, done) == expected(done, "Hook"), timeout=30)
    wait_until(lambda: worker_idle(data_dir), timeout=20)
    db = sqlite3.connect(data_dir / "queue" / "data.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # a hook killed before it enqueued never took the job: Sync all brings those scenes in
    assert runner.run_task("sync_all").error is None
    assert titles(plex, pairs) == expected(pairs, "Hook")


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_hook_killed_while_it_starts_the_worker_strands_no_job(runner, stash, plex, data_dir):
    """Stash's SIGKILL can land while a hook is in Popen: its worker then holds the lock but
    never gets Stash's connection. The lock as that leaves it: held, its noted holder dead."""
    pairs = add_synced_pair(stash, plex, 2)
    edit(stash, pairs, "Orphan")
    data_dir.mkdir(parents=True)
    orphan = WorkerLock(data_dir / "worker.lock")
    assert orphan.acquire()
    orphan.note_holder(_dead_pid())
    try:
        for scene_id, _ in pairs:
            result = runner.run_hook("Scene.Update.Post", int(scene_id), input_fields=["title"])
            assert result.output == "queued"
    finally:
        orphan.release()  # the orphaned worker leaves
    wait_until(lambda: titles(plex, pairs) == expected(pairs, "Orphan"), timeout=30)


def test_a_worker_started_without_a_connection_leaves_at_once_and_keeps_the_queue(data_dir):
    with JobQueue(data_dir / "queue") as queue:
        queue.enqueue(SceneJob(7, "Scene.Update.Post", time.time()))
    proc = subprocess.run(  # stdin closed before anything was written: its hook was killed
        [sys.executable, str(ROOT / "plexsync.py"), "worker", "--data-dir", str(data_dir)],
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "started without Stash's connection" in (data_dir / "worker.log").read_text()
    assert JobQueue(data_dir / "queue").ready() == 1
    assert not WorkerLock(data_dir / "worker.lock").running()


def test_30_hooks_at_once_on_a_fresh_data_dir(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 30)
    edit(stash, pairs, "Burst")
    results = runner.run_hooks_concurrent(
        [("Scene.Update.Post", int(scene_id)) for scene_id, _ in pairs]
    )
    assert [r.exit_code for r in results] == [0] * 30
    assert {r.output for r in results} == {"queued"}
    assert max(r.wall_time for r in results) < 10
    wait_until(lambda: titles(plex, pairs) == expected(pairs, "Burst"), timeout=40)
    wait_until(lambda: worker_idle(data_dir), timeout=20)
    runs = []
    for line in (data_dir / "worker.log").read_text().splitlines():
        match = re.search(r"worker (\d+) (started|releasing the lock)", line)
        if match:
            runs.append(match.group(2))
    # strictly alternating start/release: never two workers holding the lock at once
    assert runs and runs == ["started", "releasing the lock"] * (len(runs) // 2)


def test_plex_refusing_connections_pauses_the_run(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 300)
    edit(stash, pairs, "Outage")
    runner.run_task("sync_all")  # index built, every scene written once
    plex.latency = 0.01
    edit(stash, pairs, "After")
    with JobQueue(data_dir / "queue") as queue:
        for scene_id, _ in pairs:
            queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time()))
    runner.run_hook("Scene.Update.Post", int(pairs[0][0]), input_fields=["title"])
    wait_until(lambda: sum(t.startswith("After") for t in titles(plex, pairs)) > 20, timeout=20)
    plex.reset_log()
    fault = plex.fail("close", seconds=20)  # every connection dropped unanswered
    time.sleep(20)
    attempts_during_outage = fault.hits
    plex.clear_faults()
    back = time.monotonic()
    before = sum(t.startswith("After") for t in titles(plex, pairs))
    wait_until(lambda: sum(t.startswith("After") for t in titles(plex, pairs)) > before, 10)
    resumed_after = time.monotonic() - back
    wait_until(lambda: titles(plex, pairs) == expected(pairs, "After"), timeout=60)
    status = runner.run_task("status").output
    assert status["failed"] == 0 and status["delayed"] == 0
    assert attempts_during_outage <= 20 * 1.5, attempts_during_outage
    assert resumed_after < 5


def test_plex_down_for_real_then_back(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 30)
    runner.run_task("sync_all")
    edit(stash, pairs, "Refused")
    plex.down()
    for scene_id, _ in pairs[:5]:
        runner.run_hook("Scene.Update.Post", int(scene_id), input_fields=["title"])
    time.sleep(4)
    plex.up()
    wait_until(lambda: titles(plex, pairs[:5]) == expected(pairs[:5], "Refused"), timeout=15)
    assert runner.run_task("status").output["failed"] == 0


def test_wrong_token_dead_letters_everything_cheaply_and_recovers(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 20)
    edit(stash, pairs, "Token")
    stash.plugin_settings["PlexSync"]["plexToken"] = "wrong-token-XYZ123"
    with JobQueue(data_dir / "queue") as queue:
        for scene_id, _ in pairs:
            queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time()))
    plex.reset_log()
    result = runner.run_task("process_queue")
    assert result.error is None
    assert plex.count() <= 2  # one connect refused; no request per job
    status = runner.run_task("status")
    assert status.output["failed"] == 20
    assert {f["error"] for f in status.output["recent_failures"]} == {"Plex rejected the token"}
    for text in [result.stdout_raw, result.stderr_raw, status.stdout_raw, status.stderr_raw]:
        assert "wrong-token-XYZ123" not in text and PLEX_TOKEN not in text
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"wrong-token-XYZ123" not in path.read_bytes(), path
    stash.plugin_settings["PlexSync"]["plexToken"] = PLEX_TOKEN
    fixed = runner.run_task("process_queue")
    assert fixed.error is None
    assert titles(plex, pairs) == expected(pairs, "Token")
    assert runner.run_task("status").output["failed"] == 0


def test_unconfigured_plugin_keeps_jobs_waiting(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 3)
    stash.plugin_settings = {}
    for scene_id, _ in pairs:
        assert runner.run_hook("Scene.Update.Post", int(scene_id)).output == "queued"
    wait_until(lambda: worker_idle(data_dir) and (data_dir / "worker.log").exists(), 20)
    status = runner.run_task("status").output
    assert status["configured"] is False and status["failed"] == 0
    assert status["pending"] == 3


@pytest.mark.parametrize("target", ["state.db", "queue/data.db"])
def test_a_corrupt_file_is_moved_aside_and_work_goes_on(runner, stash, plex, data_dir, target):
    pairs = add_synced_pair(stash, plex, 2)
    path = data_dir / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00not sqlite\x00" * 400)
    stash.update_scene(pairs[0][0], title="After corruption")
    result = runner.run_hook("Scene.Update.Post", int(pairs[0][0]), input_fields=["title"])
    assert result.output == "queued" and result.breaches == []
    wait_until(lambda: plex.item(pairs[0][1]).title == "After corruption", timeout=20)
    wait_until(lambda: worker_idle(data_dir), timeout=20)
    logs = result.stderr_raw + (data_dir / "worker.log").read_text()
    assert "was unreadable" in logs and "Sync all" in logs
    assert list(path.parent.glob(f"{path.name}.corrupt-*")) or list(
        data_dir.glob("queue.corrupt-*")
    )
