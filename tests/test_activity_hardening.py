"""Issue 22: a Plex history that lies (future dates, damaged entries, no end) cannot stop or
swamp the watch-activity import. Through the whole rig, as tests/test_activity.py."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from state.datadir import DataDir
from state.ledger import ActivityLedger
from tests.conftest import PLEX_TOKEN
from tests.test_activity import (
    HOUR,
    NOW,
    all_plays,
    import_activity,
    save_settings,
    synced_library,
)

YEAR_2100 = 4102444800
HISTORY = "/status/sessions/history/all"


def ledger_rows(data_dir, where="1"):
    with sqlite3.connect(data_dir / "state.db") as db:
        return db.execute(f"SELECT history_key, state FROM activity_views WHERE {where}").fetchall()


def progress_rows(data_dir):
    with sqlite3.connect(data_dir / "state.db") as db:
        return db.execute("SELECT job_key FROM scans").fetchall()


def test_a_future_view_is_skipped_and_later_views_still_come(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, rk1) = pairs
    alice, bob = plex.add_account("alice"), plex.add_account("bob")
    save_settings(stash, activityAccounts="1, alice")
    plex.add_view(rk0, 1, YEAR_2100)  # the owner's, from a server whose clock was wrong
    plex.add_view(rk1, bob, YEAR_2100)  # an account not imported: must not move a cursor
    plex.add_view(rk0, 1, NOW - 2 * HOUR)
    first = import_activity(runner)
    assert (first["views_imported"], first["views_future"]) == (1, 1)
    assert all_plays(stash, pairs) == {s0: [NOW - 2 * HOUR], s1: []}
    later = int(time.time()) - 60
    plex.add_view(rk0, 1, later)
    plex.add_view(rk1, alice, later)
    second = import_activity(runner)
    assert second["views_imported"] == 2  # before: 0, every cursor at 2100
    assert all_plays(stash, pairs) == {s0: [NOW - 2 * HOUR, later], s1: [later]}


def test_a_future_resume_point_is_not_taken(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, rk1) = pairs
    plex.set_progress(rk0, 60_000, at=YEAR_2100)
    import_activity(runner)
    assert stash.resume_time(s0) == 0  # a point "viewed in 2100" is no point
    plex.set_progress(rk1, 90_000, at=int(time.time()) - 60)
    import_activity(runner)
    assert stash.resume_time(s1) == 90  # before: the resumed cursor sat in 2100


@pytest.mark.parametrize(
    "shown",
    [
        {"viewedAt": "soon"},
        {"accountID": "someone"},
        {"viewedAt": "253402300800"},  # year 10000: past what a date can hold
        {"viewedAt": "-5"},
    ],
)
def test_a_damaged_entry_is_skipped_and_counted_and_the_rest_imported(runner, stash, plex, shown):
    pairs = synced_library(runner, stash, plex, 2)
    (s0, rk0), (s1, rk1) = pairs
    plex.add_view(rk0, 1, NOW - 3 * HOUR, shown=shown)
    plex.add_view(rk1, 1, NOW - 2 * HOUR)
    output = import_activity(runner)
    assert output["views_imported"] == 1
    assert output["views_unreadable"] + output["views_future"] == 1
    assert all_plays(stash, pairs) == {s0: [], s1: [NOW - 2 * HOUR]}
    status = runner.run_task("status").output
    assert status["failed"] == 0 and status["delayed"] == 0
    plex.add_view(rk0, 1, NOW - HOUR)
    assert import_activity(runner)["views_imported"] == 1  # and the next import runs


def test_an_import_that_fails_for_good_clears_its_progress_and_can_be_retried(
    runner, stash, plex, data_dir
):
    pairs = synced_library(runner, stash, plex, 1)
    plex.add_view(pairs[0][1], 1, NOW - HOUR)
    plex.fail(401, path_prefix=HISTORY)  # the token rejected: the failed list at once
    runner.run_task("import_activity")
    status = runner.run_task("status").output
    assert status["failed"] == 1 and status["recent_failures"][0]["job"] == "activity:import"
    assert progress_rows(data_dir) == []  # before: its row stayed, no automatic import again
    plex.clear_faults()
    listed = runner.run_operation({"mode": "failed_list"}).output
    assert [job["key"] for job in listed["jobs"]] == ["activity:import"]
    retried = runner.run_operation({"mode": "retry_failed", "keys": ["activity:import"]})
    assert retried.error is None and retried.output["requeued"] == 1  # before: refused
    assert import_activity(runner)["views_imported"] == 1
    assert stash.plays(pairs[0][0]) == [NOW - HOUR]
    assert PLEX_TOKEN not in json.dumps(status)


def test_clear_failed_accepts_the_activity_entry(runner, stash, plex):
    synced_library(runner, stash, plex, 1)
    plex.fail(401, path_prefix=HISTORY)
    runner.run_task("import_activity")
    cleared = runner.run_operation({"mode": "clear_failed", "keys": ["activity:import"]})
    assert cleared.error is None and cleared.output["cleared"] == 1


@pytest.mark.skipif(not hasattr(sqlite3.Connection, "setlimit"), reason="Python 3.11+")
def test_known_views_are_looked_up_past_sqlites_variable_limit(tmp_path):
    with DataDir(tmp_path / "data").open_store() as store:
        # SQLite before 3.32 allows 999 variables in a statement (later builds 32,766 or more)
        store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        ledger = ActivityLedger(store, "machine")
        keys = [f"/status/sessions/history/{n}" for n in range(5_000)]
        assert ledger.known(keys) == set()  # before: "too many SQL variables"


def test_a_history_that_never_ends_is_read_to_a_cap(runner, stash, plex, data_dir):
    synced_library(runner, stash, plex, 1)
    stranger = plex.add_item("1", "not in stash", files=[("/media/other/x.mp4", 5)])
    plex.flood_history(stranger)  # every page: 1,000 new views
    plex.reset_log()
    result = runner.run_task("import_activity", timeout=300)  # before: never finished
    assert result.error is None
    pages = plex.count("GET", HISTORY)
    assert 1 < pages <= 101
    assert len(ledger_rows(data_dir)) <= 101_000


def test_a_history_that_repeats_itself_stops(runner, stash, plex, data_dir):
    pairs = synced_library(runner, stash, plex, 1)
    for n in range(1_000):  # a full page
        plex.add_view(pairs[0][1], 1, NOW - 2 * HOUR + n)
    plex.fail("endless", path_prefix=HISTORY)  # page 1 again and again, "of 10^9"
    plex.reset_log()
    result = runner.run_task("import_activity", timeout=120)  # before: 10^6 pages
    assert result.error is None
    assert plex.count("GET", HISTORY) <= 5
    status = runner.run_task("status").output
    assert status["delayed"] + status["failed"] == 1  # retried later, like a bad listing


def test_a_resume_listing_that_repeats_itself_stops(runner, stash, plex):
    pairs = synced_library(runner, stash, plex, 1)
    plex.set_progress(pairs[0][1], 60_000, at=NOW - HOUR)
    plex.fail("endless", path_prefix="/library/sections/1/all")  # page 1 again, "of 10^9"
    plex.reset_log()
    result = runner.run_task("import_activity", timeout=120)  # before: 10^9 pages
    assert result.error is None
    assert plex.count("GET", "/library/sections/1/all") <= 5


def test_views_of_libraries_not_synced_are_not_kept(runner, stash, plex, data_dir):
    pairs = synced_library(runner, stash, plex, 1)
    plex.add_section("Elsewhere", key="2")
    other = plex.add_item("2", "elsewhere", files=[("/media/elsewhere/y.mp4", 5)])
    save_settings(stash, plexLibraries="Movies")
    plex.add_view(other, 1, NOW - HOUR)
    plex.add_view(pairs[0][1], 1, NOW - HOUR)
    output = import_activity(runner)
    assert (output["views_imported"], output["views_unmapped"]) == (1, 0)
    assert len(ledger_rows(data_dir)) == 1  # before: the other library's view was kept
