"""Issue 15: watch activity flows Plex -> Stash, each view once, through the whole rig.

plexsync.py runs as Stash runs it (tasks) or from a shell (CLI), against the fake Plex (real
plexapi client) and the fake Stash (GraphQL validated against Stash's schema)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from state.lock import WorkerLock
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.waiting import wait_until, workers_gone

HOUR = 3600
NOW = int(time.time())


def worker_gone():
    """Wait for the standby worker a task leaves behind, so the next task runs its own job."""
    workers_gone(Path(os.environ["PLEXSYNC_DATA_DIR"]))


def synced_library(runner, stash, plex, n):
    pairs = add_synced_pair(stash, plex, n)
    assert runner.run_task("sync_all").output["written"] == n
    worker_gone()
    return pairs


def save_settings(stash, **settings):
    stash.plugin_settings["PlexSync"].update(settings)


def import_activity(runner):
    """Run the task; what the import reported (its last-run record, not the task's tally)."""
    result = runner.run_task("import_activity")
    assert result.error is None and result.breaches == [], result.error
    worker_gone()
    return result.output["activity"] or {}


def all_plays(stash, pairs):
    return {scene_id: stash.plays(scene_id) for scene_id, _ in pairs}


def test_owner_views_only_by_default_then_the_accounts_named(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 3)
    alice = plex.add_account("alice")
    (s0, rk0), (s1, rk1), (s2, _) = pairs
    plex.add_view(rk0, 1, NOW - 5 * HOUR)
    plex.add_view(rk0, 1, NOW - 2 * HOUR)
    plex.add_view(rk1, alice, NOW - 30 * 86400)  # long before the owner's views: outside 7 days
    plex.reset_log()
    output = import_activity(runner)
    assert output["views_imported"] == 2
    assert all_plays(stash, pairs) == {s0: [NOW - 5 * HOUR, NOW - 2 * HOUR], s1: [], s2: []}
    assert plex.writes == 0  # it never writes to Plex
    assert plex.count("GET", "/accounts") == 0  # no names to look up
    save_settings(stash, activityAccounts="Alice, 1")
    output = import_activity(runner)
    assert output["views_imported"] == 1 and plex.count("GET", "/accounts") == 1
    assert all_plays(stash, pairs) == {
        s0: [NOW - 5 * HOUR, NOW - 2 * HOUR],
        s1: [NOW - 30 * 86400],
        s2: [],
    }
    save_settings(stash, activityAccounts=str(alice))  # by id: only alice's from now on
    plex.add_view(rk0, 1, NOW - HOUR)
    plex.add_view(rk1, alice, NOW - HOUR)
    import_activity(runner)
    assert stash.plays(s0) == [NOW - 5 * HOUR, NOW - 2 * HOUR]
    assert stash.plays(s1) == [NOW - 30 * 86400, NOW - HOUR]
    assert plex.writes == 0


def test_a_second_import_adds_nothing_and_costs_one_history_request(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 20)
    for n, (_, rk) in enumerate(pairs):
        plex.add_view(rk, 1, NOW - 30 * 86400 + n * HOUR)  # a month ago: outside the window
    assert import_activity(runner)["views_imported"] == 20
    before = all_plays(stash, pairs)
    plex.reset_log()
    stash.reset_log()
    again = import_activity(runner)
    assert again["views_imported"] == 0 and all_plays(stash, pairs) == before
    assert plex.count("GET", "/status/sessions/history/all") == 1
    assert stash.count("PlexSyncAddPlays") == stash.count("PlexSyncPlays") == 0
    assert plex.writes == 0
    status = runner.run_task("status").output["activity"]
    assert status["views_imported"] == 0 and status["total_views_imported"] == 20
    assert status["last_run"]


def test_a_view_plex_reports_late_is_imported_once(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, rk1) = pairs
    plex.add_view(rk0, 1, NOW - HOUR)
    import_activity(runner)
    plex.add_view(rk1, 1, NOW - 2 * 86400)  # older than the last import, reported now
    assert import_activity(runner)["views_imported"] == 1
    import_activity(runner)
    assert all_plays(stash, pairs) == {s0: [NOW - HOUR], s1: [NOW - 2 * 86400]}


def test_an_unmapped_view_is_skipped_and_counted(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 1)
    stranger = plex.add_item("1", "not in stash", files=[("/media/other/x.mp4", 5)])
    plex.add_view(stranger, 1, NOW - HOUR)
    plex.add_view(pairs[0][1], 1, NOW - HOUR)
    output = import_activity(runner)
    assert (output["views_imported"], output["views_unmapped"]) == (1, 1)
    assert import_activity(runner)["views_unmapped"] == 0  # counted once
    status = runner.run_task("status")
    assert status.output["activity"]["total_views_unmapped"] == 1
    assert any("skipped (item not synced)" in m for m in status.messages("i"))


def test_a_plex_rebuild_adds_nothing(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 5)
    for n, (_, rk) in enumerate(pairs):
        plex.add_view(rk, 1, NOW - (n + 1) * HOUR)
    import_activity(runner)
    before = all_plays(stash, pairs)
    plex.rebuild_library()  # new ratingKeys, the same history
    assert import_activity(runner)["views_imported"] == 0
    assert runner.run_task("sync_all").output["written"] == 5  # sync_state: the new keys
    worker_gone()
    assert import_activity(runner)["views_imported"] == 0
    plex.renumber_history()  # even under new historyKeys the views are known
    assert import_activity(runner)["views_imported"] == 0
    plex.rebuild_library()  # again, renumbered, imported before the Sync all maps the new keys
    plex.renumber_history()
    assert import_activity(runner)["views_unmapped"] == 5
    assert runner.run_task("sync_all").output["written"] == 5
    worker_gone()
    assert import_activity(runner)["views_imported"] == 0
    assert all_plays(stash, pairs) == before


def test_views_skipped_before_the_first_sync_are_imported_once_it_maps_them(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 3)
    for n, (_, rk) in enumerate(pairs):
        plex.add_view(rk, 1, NOW - 40 * 86400 + n)
    assert import_activity(runner)["views_unmapped"] == 3  # nothing synced yet
    runner.run_task("sync_all")
    worker_gone()
    assert import_activity(runner)["views_imported"] == 3
    assert import_activity(runner)["views_imported"] == 0
    assert all_plays(stash, pairs) == {s: [NOW - 40 * 86400 + n] for n, (s, _) in enumerate(pairs)}


def test_resume_points_come_over_and_a_finished_view_clears_them(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, rk1) = pairs
    plex.set_progress(rk0, 754_000, NOW - HOUR)
    assert import_activity(runner)["resume_points"] == 1
    assert stash.resume_time(s0) == 754.0 and stash.plays(s0) == []
    plex.add_view(rk0, 1, NOW - 60)  # finished in Plex: no stale resume point in Stash
    import_activity(runner)
    assert stash.resume_time(s0) == 0 and stash.plays(s0) == [NOW - 60]
    stash.add_play(s1, NOW)  # watched in Stash after Plex stopped: Stash's point stays
    stash.set_resume_time(s1, 30)
    plex.set_progress(rk1, 900_000, NOW - HOUR)
    import_activity(runner)
    assert stash.resume_time(s1) == 30


def run_cli(data_dir, stash, *args, kill_after=None):
    env = {**os.environ, "PLEXSYNC_DATA_DIR": str(data_dir), "STASH_URL": stash.url}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "plexsync.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill_after is not None:
        time.sleep(kill_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_kill_9_at_any_moment_then_import_again_every_view_once(stash, plex, tmp_path):
    stash.require_auth = False
    stash.plugin_settings["PlexSync"]["activityAccounts"] = "1, 2"
    pairs = add_synced_pair(stash, plex, 150)
    code, _, err = run_cli(tmp_path, stash, "sync-all")
    assert code == 0, err
    expected = Counter()
    rng = random.Random(15)
    for n in range(2500):  # three pages of history
        scene_id, rk = pairs[rng.randrange(len(pairs))]
        at = NOW - 20 * 86400 + n * 60
        plex.add_view(rk, 1 + n % 2, at)
        expected[(scene_id, at)] += 1
    stash.latency, plex.latency = 0.2, 0.02  # a slow Stash: kills land mid-import
    killed = 0
    for delay in (0.7, 1.3, 1.9, 2.5, 3.1, 3.7, 4.3):
        code, _, _ = run_cli(tmp_path, stash, "import-activity", kill_after=delay)
        killed += code == -signal.SIGKILL
    assert killed >= 3
    # the window between "play added in Stash" and "marked done": Stash already has them
    db = sqlite3.connect(tmp_path / "state.db")
    recorded = db.execute("SELECT COUNT(*) FROM activity_views").fetchone()[0]
    under_way = db.execute("SELECT COUNT(*) FROM scans").fetchone()[0]
    assert recorded > 0 and (under_way or recorded == 2500)
    with db:
        db.execute("UPDATE activity_views SET state = 'pending' WHERE state = 'done'")
    db.close()
    stash.latency = plex.latency = 0
    code, out, err = run_cli(tmp_path, stash, "import-activity")
    assert code == 0, err
    assert json.loads(out)["activity"]["views_imported"] <= 2500
    got = Counter((s, t) for s, _ in pairs for t in stash.plays(s))
    assert got == expected
    status = json.loads(run_cli(tmp_path, stash, "status")[1])
    assert status["scans"] == [] and status["activity"]["total_views_imported"] == 2500


@pytest.mark.parametrize("service", ["Stash", "Plex"])
def test_a_service_unreachable_mid_import_pauses_and_resumes(runner, stash, plex, service):
    pairs = synced_library(runner, stash, plex, 50)
    for n in range(2200):
        plex.add_view(pairs[n % 50][1], 1, NOW - 20 * 86400 + n * 60)
    outage, server = (_stash_outage, stash) if service == "Stash" else (_plex_outage, plex)
    thread = threading.Thread(target=outage, args=(server, 3.0), daemon=True)
    thread.start()
    result = runner.run_task("import_activity")
    thread.join()
    assert result.error is None and "stopped" not in result.output
    assert result.output["activity"]["views_imported"] == 2200
    assert any(f"{service} is unreachable; pausing" in m for m in result.messages("w"))
    assert sum(len(p) for p in all_plays(stash, pairs).values()) == 2200
    assert runner.run_task("status").output["failed"] == 0


def _plex_outage(plex, seconds):
    wait_until(lambda: plex.count("GET", "/status/sessions/history/all") >= 1, every=0.005)
    plex.down()
    time.sleep(seconds)
    plex.up()


def _stash_outage(stash, seconds):
    wait_until(lambda: stash.count("PlexSyncAddPlays") >= 1, timeout=60, every=0.005)
    stash.down()
    time.sleep(seconds)
    stash.up()


def test_10000_views_in_bounded_requests(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 400)
    for n in range(10_000):
        plex.add_view(pairs[n % 400][1], 1, NOW - 60 * 86400 + n * 30)
    plex.reset_log()
    stash.reset_log()
    result = runner.run_task("import_activity")
    assert result.output["activity"]["views_imported"] == 10_000
    assert len(result.progress) >= 5 and result.progress == sorted(result.progress)
    assert plex.count("GET", "/status/sessions/history/all") == 10  # pages of 1,000
    assert plex.count() <= 10 + 5  # + connect, sections, resume listing
    # per page: plays read + writes, and the settings read again before each step
    assert stash.graphql_requests <= 10 * (1 + 4 + 1) + 10
    assert sum(len(p) for p in all_plays(stash, pairs).values()) == 10_000


def test_import_runs_by_itself_at_the_end_of_a_worker_run_when_on(runner, stash, plex, data_dir):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, _) = pairs
    plex.add_view(rk0, 1, NOW - HOUR)
    stash.update_scene(s1, title="Edited")
    runner.run_hook("Scene.Update.Post", int(s1), input_fields=["title"])
    wait_until(lambda: plex.item(pairs[1][1]).title == "Edited", timeout=20)
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    assert stash.plays(s0) == []  # off by default
    save_settings(stash, importActivity=True)
    runner.run_hook("Scene.Update.Post", int(s1), input_fields=["title"])
    wait_until(lambda: stash.plays(s0) == [NOW - HOUR], timeout=20)
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    plex.reset_log()
    runner.run_hook("Scene.Update.Post", int(s1), input_fields=["title"])  # within 15 min
    time.sleep(1.0)
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    assert plex.count("GET", "/status/sessions/history/all") == 0


@pytest.mark.parametrize("names", ["nobody"])
def test_an_unknown_account_name_fails_the_import_with_a_clear_message(runner, stash, plex, names):
    synced_library(runner, stash, plex, 1)
    save_settings(stash, activityAccounts=names)
    result = runner.run_task("import_activity")
    assert result.error is None
    status = runner.run_task("status").output
    assert status["failed"] == 1
    failure = status["recent_failures"][0]
    assert failure["job"] == "activity:import" and "no account 'nobody'" in failure["error"]
    assert "name one it has (alice, fake)" in failure["error"] or "has (fake)" in failure["error"]
    assert PLEX_TOKEN not in json.dumps(status)
