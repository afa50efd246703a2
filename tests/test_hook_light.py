"""The light hook: what it imports, and the queue rows it writes without persist-queue's code.

The hook writes persist-queue's rows itself (state/queue.py says why); these tests hold
that writing to persist-queue's own: the same table, the same bytes, readable both ways.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import persistqueue
from persistqueue import SQLiteAckQueue
from persistqueue.serializers import json as json_serializer

from state import queue as jobqueue
from state.jobs import ScanJob, SceneJob
from state.lock import WorkerLock
from state.queue import JobQueue
from tests.conftest import ROOT
from tests.rig.stash_runner import parse_stderr, parse_stdout
from worker.spawn import WORKER_NICE, start_worker

JOBS = [
    SceneJob(12, "Scene.Update.Post", 1764131314.25, cover=True),
    ScanJob("performer", 1764131315.5, 7, "Performer.Update.Post"),
    SceneJob(3, "Ünïcødé “quotes” 日本語", 0.0),  # the JSON of non-ASCII text, byte for byte
]


def persist_queue(path) -> SQLiteAckQueue:
    return SQLiteAckQueue(str(path), auto_resume=False, serializer=json_serializer)


def rows(path) -> list[tuple]:
    db = sqlite3.connect(path / "data.db")
    try:
        return db.execute(
            "SELECT _id, data, typeof(data), typeof(timestamp), status FROM ack_queue_default"
        ).fetchall()
    finally:
        db.close()


def test_the_queue_constants_are_persist_queues_own(tmp_path):
    queue = persist_queue(tmp_path / "q")
    assert queue.db_file_name == jobqueue.DB_FILE
    assert queue._table_name == jobqueue.TABLE
    assert queue._sql_create == jobqueue.CREATE
    assert queue._sql_insert == jobqueue.INSERT
    assert jobqueue.INSERT.endswith(f"VALUES (?, ?, {persistqueue.AckStatus.inited})")
    assert int(persistqueue.AckStatus.acked) == jobqueue.ACKED
    queue.close()


def test_enqueue_writes_the_rows_persist_queues_put_writes(tmp_path):
    theirs, ours = persist_queue(tmp_path / "theirs"), JobQueue(tmp_path / "ours")
    for job in JOBS:
        theirs.put(job.payload())
        ours.enqueue(job)
    theirs.close()
    ours.close()
    assert rows(tmp_path / "ours") == rows(tmp_path / "theirs")
    assert [r[1] for r in rows(tmp_path / "ours")] == [
        json_serializer.dumps(j.payload()) for j in JOBS
    ]
    schema = "SELECT sql FROM sqlite_master ORDER BY name"
    for name in ("ours", "theirs"):
        db = sqlite3.connect(tmp_path / name / "data.db")
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        if name == "ours":
            ours_schema = db.execute(schema).fetchall()
        else:
            assert db.execute(schema).fetchall() == ours_schema
        db.close()


def test_rows_read_back_both_ways(tmp_path):
    ours = JobQueue(tmp_path / "q")
    for job in JOBS:
        ours.enqueue(job)
    ours.close()
    theirs = persist_queue(tmp_path / "q")  # persist-queue reads what enqueue wrote
    first = theirs.get(block=False, raw=True)
    assert first["data"] == JOBS[0].payload()
    theirs.nack(id=first["pqid"])
    theirs.put({"scene_id": 99})
    theirs.close()
    reopened = JobQueue(tmp_path / "q")  # and the worker's verbs read both kinds of row
    assert [c.job for c in reopened.claim(10)] == [*JOBS, SceneJob(99, "", 0.0)]
    assert reopened.ready() == 0 and reopened.in_flight() == 4
    reopened.close()


def _hook_modules(tmp_path, trigger="Scene.Create.Post") -> tuple[dict, list[str]]:
    """Run the hook as plexsync.py does, in a fresh interpreter; (its reply, modules loaded)."""
    payload = {"server_connection": {}, "args": {"hookContext": {"id": 3, "type": trigger}}}
    code = (
        "import io, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from entry.plugin import run_from_stash\n"
        f"run_from_stash({json.dumps(payload)!r})\n"
        "print('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        timeout=20,
        env={"PLEXSYNC_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    reply, loaded = proc.stdout.decode().strip().rsplit("\n", 1)
    return json.loads(reply), json.loads(loaded)


def test_a_hook_imports_neither_persist_queue_nor_logging(tmp_path):
    (tmp_path / "data").mkdir()
    lock = WorkerLock(tmp_path / "data" / "worker.lock")  # a worker is running
    assert lock.acquire()
    try:
        reply, loaded = _hook_modules(tmp_path)
    finally:
        lock.release()
    assert reply == {"output": "queued"}
    heavy = {"persistqueue", "logging", "asyncio", "subprocess", "dataclasses", "typing", "random"}
    heavy |= {"pathlib", "urllib", "ipaddress"}  # pathlib imports the other two (worker/spawn.py)
    assert sorted(m for m in loaded if m.split(".")[0] in heavy) == []
    assert [c.job.scene_id for c in JobQueue(tmp_path / "data" / "queue").claim(5)] == [3]


def test_a_hook_that_finds_a_corrupt_queue_says_so_to_stash(tmp_path):
    queue_dir = tmp_path / "data" / "queue"
    queue_dir.mkdir(parents=True)
    (queue_dir / "data.db").write_bytes(b"\x00not sqlite\x00" * 400)
    lock = WorkerLock(tmp_path / "data" / "worker.lock")
    assert lock.acquire()
    try:
        context = {"id": 4, "type": "Scene.Create.Post"}
        payload = {"server_connection": {}, "args": {"hookContext": context}}
        proc = subprocess.run(
            [sys.executable, str(ROOT / "plexsync.py")],
            input=json.dumps(payload).encode(),
            capture_output=True,
            timeout=20,
            env={"PLEXSYNC_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
        )
    finally:
        lock.release()
    assert parse_stdout(proc.stdout.decode())[0] == "queued"
    log = parse_stderr(proc.stderr, is_task=False)
    assert not log.unprefixed
    assert any(level == "e" and "was unreadable" in text for level, text in log.log)
    assert [c.job.scene_id for c in JobQueue(queue_dir).claim(5)] == [4]


def test_the_worker_a_hook_starts_runs_behind_stash(tmp_path):
    (tmp_path / "data").mkdir()
    lock = WorkerLock(tmp_path / "data" / "worker.lock")
    assert lock.acquire()
    pid = start_worker(tmp_path / "data", {}, lock=lock)  # as a hook does: the lock goes too
    try:
        assert os.getpriority(os.PRIO_PROCESS, pid) == WORKER_NICE
        autogroup = Path(f"/proc/{pid}/autogroup")
        with contextlib.suppress(OSError):  # no autogroups here, or the worker is done
            assert autogroup.read_text().split()[-1] == str(WORKER_NICE)
    finally:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
            time.sleep(0.05)  # our child: an empty queue, so it exits; reap it
