"""Queue costs: enqueue with 0 / 20,000 / 100,000 jobs queued, status with 25,000 failed,
and opening a data directory after 100,000 completed jobs.

"hook process": a real Scene.Update.Post hook as Stash runs it, while the bench holds the
worker lock (so no worker starts and the backlog stays as it is). "in-process": JobQueue
(state/queue.py) opened and written directly. Backlogs are written straight into
persist-queue's table in one transaction (the rows a hook would write), to build them fast.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

from bench._common import Rig, make_library, ms_stats, note, populate, print_table, repeat
from state.datadir import DataDir
from state.jobs import SceneJob
from state.lock import WorkerLock
from state.queue import JobQueue
from state.store import Failure

COLUMNS = ("what", "backlog", "runs", "median ms", "p95 ms", "max ms", "notes")


def fill_queue(path: Path, jobs: int, status: int = 0) -> None:
    """`jobs` scene jobs as persist-queue stores them (status 0: inited, 5: acked)."""
    queue = JobQueue(path)
    table = queue._queue._table_name  # noqa: SLF001 - bulk rows in persist-queue's own table
    queue.close()
    db = sqlite3.connect(path / "data.db")
    now = time.time()
    with db:
        db.executemany(
            f"INSERT INTO {table} (data, timestamp, status) VALUES (?, ?, ?)",
            (
                (
                    json.dumps(
                        SceneJob(i % 50_000 + 1, "Scene.Update.Post", now).payload()
                    ).encode(),
                    now,
                    status,
                )
                for i in range(jobs)
            ),
        )
    db.close()


def hook_runs(rig: Rig, scene_id: str, runs: int) -> list[float]:
    """Wall times of hooks as Stash runs them, with the worker lock held by the bench."""
    lock = WorkerLock(rig.lock_path)
    if not lock.acquire():
        raise RuntimeError("a worker holds the lock")
    try:
        results = rig.runner.run_hooks_sequential(
            [("Scene.Update.Post", int(scene_id), None, ["title"])] * runs
        )
    finally:
        lock.release()
    if any(r.output != "queued" for r in results):
        raise RuntimeError(f"a hook failed: {results[0].error}")
    return [r.wall_time for r in results]


def in_process(path: Path, runs: int) -> dict[str, list[float]]:
    job = SceneJob(1, "Scene.Update.Post", time.time())

    def open_close() -> None:
        JobQueue(path).close()

    def open_enqueue_close() -> None:
        queue = JobQueue(path)
        queue.enqueue(job)
        queue.close()

    queue = JobQueue(path)
    try:
        enqueue = repeat(lambda: queue.enqueue(job), runs)
    finally:
        queue.close()
    return {
        "open": repeat(open_close, runs),
        "enqueue": enqueue,
        "open+enqueue+close": repeat(open_enqueue_close, runs),
    }


def row(what: str, backlog: str, seconds: list[float], notes: str = "") -> tuple:
    return (what, backlog, len(seconds), *ms_stats(seconds), notes)


def drain_like_the_worker(path: Path, batch: int = 200) -> tuple[int, float]:
    """claim a batch, ack each job, compact: as worker/loop.py does; (jobs, seconds)."""
    queue = JobQueue(path)
    done, started = 0, time.perf_counter()
    try:
        while claimed := queue.claim(batch):
            for claim in claimed:
                queue.ack(claim)
            queue.compact()
            done += len(claimed)
    finally:
        queue.close()
    return done, time.perf_counter() - started


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench queue", description=__doc__)
    parser.add_argument("--backlogs", default="0,20000,100000", help="queued jobs (0,20000,100000)")
    parser.add_argument("--failed", type=int, default=25_000, help="failed entries (25,000)")
    parser.add_argument("--completed", type=int, default=100_000, help="completed (100,000)")
    parser.add_argument("--runs", type=int, default=20, help="repeats per figure (20)")
    parser.add_argument("--quick", action="store_true", help="small backlogs, few runs")
    options = parser.parse_args(args)
    backlogs = [int(b) for b in options.backlogs.split(",")]
    runs, status_runs = options.runs, 5
    if options.quick:
        backlogs, runs, status_runs = [0, 2000], 5, 2
        options.failed, options.completed = 500, 2000
    rows = []
    with Rig() as rig:
        pairs = populate(rig.stash, rig.plex, make_library(20))
        scene_id = pairs[0][0]

        # enqueue with a backlog
        for backlog in backlogs:
            rig.fresh_data_dir()
            queue_path = DataDir(rig.data_dir).queue_path
            fill_queue(queue_path, backlog)
            label = f"{backlog:,} queued"
            hook_runs(rig, scene_id, 1)  # warm the page cache
            rows.append(row("hook process (enqueue)", label, hook_runs(rig, scene_id, runs)))
            for what, seconds in in_process(queue_path, runs).items():
                rows.append(row(f"in-process {what}", label, seconds))
            if backlog == max(backlogs):
                status = [rig.runner.run_task("status").wall_time for _ in range(status_runs)]
                rows.append(row("status task", label, status))

        # status with failed entries
        rig.fresh_data_dir()
        status = [rig.runner.run_task("status").wall_time for _ in range(status_runs)]
        rows.append(row("status task", "0 failed", status))
        with DataDir(rig.data_dir).open_store() as store:
            started = time.perf_counter()
            error = RuntimeError("HTTP 503 from Plex: Maintenance")
            for i in range(options.failed):
                job = SceneJob(i + 1, "Scene.Update.Post", time.time())
                store.dead_letter(job, Failure(7, time.time() - 86400), error, 0.0)
            fill_s = time.perf_counter() - started
        results = [rig.runner.run_task("status") for _ in range(status_runs)]
        failed_shown = int(results[-1].output["failed"])  # Stash decodes numbers as floats
        rows.append(
            row(
                "status task",
                f"{options.failed:,} failed",
                [r.wall_time for r in results],
                f"reports failed={failed_shown}; filling took "
                f"{fill_s / options.failed * 1e6:.0f} us/entry (Store.dead_letter)",
            )
        )

        # opening a data directory after many completed jobs
        rig.fresh_data_dir()
        data = DataDir(rig.data_dir)
        data.open_store().close()
        fresh_open = repeat(lambda: (data.open_queue().close(), data.open_store().close()), runs)
        rows.append(row("open queue+store", "fresh data dir", fresh_open))
        fill_queue(data.queue_path, options.completed)
        jobs, drain_s = drain_like_the_worker(data.queue_path)
        size_mib = sum(p.stat().st_size for p in data.queue_path.iterdir()) / 2**20
        opened = repeat(lambda: (data.open_queue().close(), data.open_store().close()), runs)
        rows.append(
            row(
                "open queue+store",
                f"after {options.completed:,} done",
                opened,
                f"queue files {size_mib:.1f} MiB; claim+ack+compact "
                f"{drain_s / max(jobs, 1) * 1e6:.0f} us/job ({jobs:,} jobs, {drain_s:.1f} s)",
            )
        )
        rows.append(
            row(
                "hook process (enqueue)",
                f"after {options.completed:,} done",
                hook_runs(rig, scene_id, runs),
            )
        )
    print_table("queue: enqueue, status and open costs", COLUMNS, rows)
    note("hook process: whole hook as Stash runs it (python start, imports, enqueue, exit).")
    note("issue targets for context: hook median <= 100 ms; status answers within a second.")
