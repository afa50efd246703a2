"""Issue 11: faults a review and a fault campaign found, each reproduced through the rig."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import add_synced_pair


@pytest.mark.parametrize("into_lower_id", [True, False])
def test_a_scene_merge_releases_the_deleted_scenes_claim(runner, stash, plex, data_dir, into_lower_id):
    pairs = add_synced_pair(stash, plex, 4)
    assert runner.run_task("sync_all").output["written"] == 4
    (keep, keep_rk), (gone, gone_rk) = (pairs[1], pairs[3]) if into_lower_id else (pairs[3], pairs[1])
    stash.update_scene(keep, title="Merged scene")
    stash.merge_scenes(gone, keep)  # no hook runs, as in Stash
    result = runner.run_task("sync_all")
    assert "left alone" not in result.stderr_raw
    assert plex.item(keep_rk).title == "Merged scene"
    assert plex.item(gone_rk).title == "Merged scene"
    db = sqlite3.connect(data_dir / "state.db")
    owners = {row[0] for row in db.execute("SELECT scene_id FROM sync_state")}
    assert int(gone) not in owners and int(keep) in owners
    plex.reset_log()
    again = runner.run_task("sync_all").output
    assert plex.writes == 0 and again.get("failed") is None, again
