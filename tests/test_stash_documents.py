"""Every GraphQL document PlexSync (and stashapp-tools on its behalf) sends is valid against
Stash's real schema, and the fake answered all of them (none was invalid for it either)."""

import pytest

from entry import tasks
from entry.status import status
from entry.verify import verify
from state.jobs import ScanJob, SceneJob
from state.queue import JobQueue
from tests.conftest import add_synced_pair
from tests.rig.real_schema import MISSING_REASON, load_real_schema, validate_against_real_schema


def test_every_document_we_send_is_valid_for_the_real_stash(stash, plex, ctx):
    if load_real_schema() is None:
        pytest.skip(MISSING_REASON)
    pairs = add_synced_pair(stash, plex, 3)
    performer = stash.add_performer("P")
    stash.update_scene(pairs[0][0], performers=[performer])
    tasks.sync_all(ctx)
    with JobQueue(ctx.data.queue_path) as queue:
        queue.enqueue(SceneJob(int(pairs[1][0]), "Scene.Update.Post", 1.0))
        queue.enqueue(SceneJob(99999, "Scene.Update.Post", 1.0))  # deleted: the one-by-one path
        for kind in ("performer", "studio", "tag"):
            queue.enqueue(ScanJob(kind, 1.0, int(performer)))
    tasks.process_queue(ctx)
    status(ctx)
    verify(ctx)
    for _, rk in pairs:  # the activity import: plays, resume points, a deleted scene
        plex.add_view(rk, 1, 1_700_000_000)
    plex.set_progress(pairs[1][1], 60_000, 1_700_000_100)
    stash.delete_scene(pairs[2][0])  # still in sync_state: the one-by-one plays path
    tasks.import_activity(ctx)
    assert stash.plays(pairs[0][0]) == [1_700_000_000] and stash.resume_time(pairs[1][0]) == 60
    sent = stash.documents(valid_only=False)
    assert len(sent) >= 8
    assert sent == stash.documents(valid_only=True)
    for document in sent:
        assert validate_against_real_schema(document) == [], document
