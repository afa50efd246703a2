"""Issue 8: a full sync notices what changed on the Plex side, at no extra request."""

from __future__ import annotations

from tests.conftest import add_synced_pair
from tests.rig.waiting import workers_gone


def test_a_rebuilt_plex_library_is_rewritten_then_left_alone(runner, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 30)
    assert runner.run_task("sync_all").output["written"] == 30
    workers_gone(data_dir)  # the task's standby worker, so the next task runs its own sync
    plex.rebuild_library()  # new ratingKeys, metadata gone
    new_keys = [plex.find_by_file(f.files[0]).rating_key for f in plex.items()]
    assert sorted(new_keys) != sorted(rk for _, rk in pairs)
    plex.reset_log()
    rewrite = runner.run_task("sync_all").output
    assert rewrite["written"] == 30
    workers_gone(data_dir)
    assert all(plex.item(k).title.startswith("Scene ") for k in new_keys)
    plex.reset_log()
    again = runner.run_task("sync_all").output
    assert again["unchanged"] == 30 and plex.writes == 0


def test_a_hand_edit_in_plex_is_repaired_by_sync_all_when_the_listing_shows_it(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 10)
    runner.run_task("sync_all")
    plex.set_field(pairs[4][1], "title", "Edited by hand", locked=False)
    plex.set_field(pairs[5][1], "genre", ["Agent added"], locked=False)
    plex.reset_log()
    result = runner.run_task("sync_all").output
    assert result["written"] == 2 and result["unchanged"] == 8
    assert plex.item(pairs[4][1]).title == "Scene 4"
    assert "title" in plex.item(pairs[4][1]).locked
    assert plex.item(pairs[5][1]).genres == []
    listing_and_writes = {(r.method, r.path) for r in plex.requests}
    assert ("GET", "/library/metadata/" + pairs[4][1]) not in listing_and_writes  # no reads


def test_an_agent_refresh_does_not_revert_locked_fields(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 3)
    runner.run_task("sync_all")
    plex.agent_refresh(pairs[0][1])
    assert plex.item(pairs[0][1]).title == "Scene 0"


def test_a_different_plex_server_is_not_unchanged(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 5)
    runner.run_task("sync_all")
    plex.machine_identifier = "a-new-server"
    assert runner.run_task("sync_all").output["written"] == 5
    assert plex.item(pairs[0][1]).title == "Scene 0"
