"""The disk queue and our own tables, on real SQLite files."""

import json
import logging
import sqlite3
import threading

import pytest

from plex.errors import PlexTemporaryError
from state.datadir import DataDir
from state.jobs import ActivityJob, BadJob, ScanJob, SceneJob, job_from_payload
from state.queue import INSERT, JobQueue
from state.store import SCHEMA_VERSION, Failure, ItemState, Store


def test_claim_ack_release_and_resume(tmp_path):
    with JobQueue(tmp_path / "q") as queue:
        for i in range(5):
            queue.enqueue(SceneJob(i, "Scene.Update.Post", 1.0))
        first = queue.claim(2)
        assert [c.job.scene_id for c in first] == [0, 1]
        queue.ack(first[0])
        queue.release(first[1])  # back to the front, untouched
        assert [c.job.scene_id for c in queue.claim(1)] == [1]
        assert queue.in_flight() == 1 and queue.ready() == 3
    reopened = JobQueue(tmp_path / "q")  # auto_resume is off: in-flight stays in flight
    assert reopened.in_flight() == 1
    assert reopened.resume_in_flight() == 1 and reopened.ready() == 4


JOB_KINDS = [
    (SceneJob(12, "Scene.Update.Post", 5.0, cover=True), "scene:12"),
    (SceneJob(12, "Scene.Create.Post", 6.0), "scene:12"),  # the same scene: one key
    (ScanJob("all", 5.0), "scan:all"),
    (ScanJob("studio", 5.0, 3, "Studio.Update.Post"), "scan:studio:3"),
    (ActivityJob(5.0), "activity:import"),
]


@pytest.mark.parametrize(("job", "key"), JOB_KINDS, ids=[k for _, k in JOB_KINDS])
def test_each_kind_of_job_keeps_its_type_and_key_through_the_queue(tmp_path, job, key):
    with JobQueue(tmp_path / "q") as queue:
        queue.enqueue(job)
        [claimed] = queue.claim(5)
        assert type(claimed.job) is type(job) and claimed.job == job and claimed.job.key == key
        assert job_from_payload(json.loads(json.dumps(job.payload()))) == job


@pytest.mark.parametrize(
    "payload",
    [[1, 2], {"scan": "performer"}, {"scan": "nonsense"}, {"scene_id": "x"}, {}, "text"],
)
def test_a_payload_that_is_no_job_is_refused(payload):
    with pytest.raises(BadJob):
        job_from_payload(payload)


def test_a_queued_row_that_is_no_job_is_dropped_not_claimed_forever(tmp_path, caplog):
    with JobQueue(tmp_path / "q") as queue:
        db = sqlite3.connect(tmp_path / "q" / "data.db")
        with db:  # rows written by hand, as someone poking at the file might
            db.execute(INSERT, (b'{"scan": "nonsense"}', 1.0))
            db.execute(INSERT, (b"[1, 2]", 1.0))
        db.close()
        queue.enqueue(SceneJob(4, "Scene.Update.Post", 1.0))
        assert [job.scene_id for job in queue.jobs()] == [4]
        with caplog.at_level(logging.WARNING, logger="plexsync.queue"):
            claimed = queue.claim(5)
        assert [c.job.scene_id for c in claimed] == [4]
        assert "dropped a queued row" in caplog.text
        assert queue.claim(5) == [] and queue.ready() == 0


def test_acked_rows_are_deleted(tmp_path):
    queue = JobQueue(tmp_path / "q")
    for i in range(50):
        queue.enqueue(SceneJob(i, "x", 1.0))
    for claim in queue.claim(50):
        queue.ack(claim)
    queue.compact()
    rows = sqlite3.connect(tmp_path / "q" / "data.db").execute(
        "SELECT COUNT(*) FROM ack_queue_default"
    )
    assert rows.fetchone()[0] == 0


def test_concurrent_enqueue_on_a_fresh_directory_loses_nothing(tmp_path):
    errors = []

    def put(i):
        try:
            with JobQueue(tmp_path / "fresh") as queue:
                queue.enqueue(SceneJob(i, "x", 1.0))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(j.scene_id for j in JobQueue(tmp_path / "fresh").jobs()) == list(range(20))


def test_delay_promote_and_dead_letter_are_keyed_and_repeatable(tmp_path):
    store = Store(tmp_path / "state.db")
    job = SceneJob(7, "Scene.Update.Post", 1.0)
    key = job.key
    error = PlexTemporaryError("HTTP 503")
    store.delay(job, 100.0, Failure(1, 50.0), error)
    store.delay(job, 160.0, Failure(2, 50.0), error)  # a repeat replaces, never doubles
    assert store.due(99.0) == [] and store.next_due() == 160.0
    assert store.due(200.0) == [(key, job)]
    assert store.failure(key) == Failure(2, 50.0, due_at=160.0)  # the retry still waiting
    store.dead_letter(job, Failure(3, 50.0), error, 300.0)
    store.dead_letter(job, Failure(3, 50.0), error, 300.0)
    assert store.counts()["failed"] == 1 and store.counts()["delayed"] == 0
    row = store.failed()[0]
    assert (row["error_class"], row["message"], row["attempts"]) == (
        "PlexTemporaryError",
        "HTTP 503",
        3,
    )
    assert (row["first_failed_at"], row["last_failed_at"]) == (50.0, 300.0)
    store.clear_failure(key)
    assert store.counts()["failed"] == 0


def test_sync_state_and_forgetting_a_scene(tmp_path):
    store = Store(tmp_path / "state.db")
    store.save_items(1, "m1", [ItemState("101", "fp", "")], 5.0)
    store.save_items(1, "m2", [ItemState("9", "fp2", "")], 5.0)
    assert store.items(1, "m1") == {"101": ItemState("101", "fp", "")}
    assert store.claimed_by("m1", "101", 2) == 1 and store.claimed_by("m1", "101", 1) is None
    store.delay(SceneJob(1, "x", 1), 9.0, Failure(1, 1.0), ValueError("x"))
    store.forget_scene(1)
    assert store.items(1, "m1") == {} and store.counts()["delayed"] == 0


def test_scan_cursor_survives_reopen(tmp_path):
    with Store(tmp_path / "state.db") as store:
        key = ScanJob("all", 1.0).key
        store.save_scan(key, 500, 1200, 500, 1.0)
    again = Store(tmp_path / "state.db")
    assert dict(again.scan(key)) == {
        "job_key": "scan:all",
        "after_id": 500,
        "total": 1200,
        "done": 500,
        "started_at": 1.0,
    }


def test_schema_version_is_written_from_the_first_release(tmp_path):
    store = Store(tmp_path / "state.db")
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_corrupt_files_are_moved_aside_and_the_plugin_starts_fresh(tmp_path, caplog):
    data = DataDir(tmp_path / "data")
    data.state_path.write_bytes(b"this is not a database" * 100)
    (data.queue_path).mkdir()
    (data.queue_path / "data.db").write_bytes(b"garbage" * 500)
    with data.open_store() as store, data.open_queue() as queue:
        queue.enqueue(SceneJob(1, "x", 1.0))
        assert store.counts()["failed"] == 0 and queue.ready() == 1
    moved = sorted(p.name for p in (tmp_path / "data").iterdir() if "corrupt" in p.name)
    assert len(moved) == 2
    assert "Sync all" in caplog.text and "moved to" in caplog.text


def test_an_idle_worker_waits_for_a_due_retry_without_spinning(tmp_path, stash):
    """Linger 0 (a standby worker) with a retry due soon: it sleeps in polls, then runs it."""
    from worker.loop import Pacing, Worker
    from worker.services import Services

    data = DataDir(tmp_path / "data")
    now = [1000.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    with (
        data.open_queue() as queue,
        data.open_store() as store,
        Services(data, store, stash.server_connection(tmp_path, tmp_path)) as services,
    ):
        # the retry's scene no longer exists in Stash, so running it needs no Plex at all
        store.delay(SceneJob(77, "x", 1.0), 1001.0, Failure(1, 990.0), ValueError("x"))
        worker = Worker(
            data, queue, store, services, Pacing(linger=0.0), clock=lambda: now[0], sleep=sleep
        )
        worker.recover()  # as every run starts (worker_run)
        worker.run()
    assert worker.tally["deleted"] == 1
    assert sleeps and min(sleeps) > 0 and len(sleeps) <= 11
