"""Hook CPU and wall time beside the floor under it, and 8 create hooks started at once.

Every process here is measured whole (interpreter start to exit): CPU is the child's user +
sys time from `os.wait4`, wall runs from the start to its exit with stdout closed. The floor:
`python -c pass` (start-up alone) and a stdlib-only `sqlite3` enqueue (read stdin, parse it,
one INSERT into a WAL file, reply), the least any Python hook that queues can cost;
`import persistqueue` is shown for context. "worker running": the bench holds the worker
lock, as a busy worker does, so the hook enqueues and exits. "starts one": the data directory
has no worker, so the hook takes the lock and starts one (killed by the bench once it runs).
The machine is shared: the load average is printed, and the floor is measured in the same run.
Targets: the hook <= 45 ms CPU median; 8 Scene.Create.Post hooks started at once
on 2 cores each done within 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench._common import Rig, make_library, note, percentile, populate, print_table
from bench.hook_latency import kill_worker_once_started
from state.lock import WorkerLock

COLUMNS = (
    "process",
    "worker",
    "runs",
    "CPU median ms",
    "CPU p95 ms",
    "wall median ms",
    "wall p95 ms",
    "wall max ms",
    "not queued",
    "target",
    "met",
)
CPU_TARGET_MS = 45.0
BATCH, BATCH_TARGET_MS = 8, 300.0
SQLITE_FLOOR = """
import json, sqlite3, sys, time
args = json.loads(sys.stdin.read())["args"]["hookContext"]
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, data BLOB, ts FLOAT)")
with db:
    db.execute("INSERT INTO q (data, ts) VALUES (?, ?)",
               (json.dumps({"scene_id": args["id"], "hook": args["type"]}).encode(), time.time()))
db.close()
sys.stdout.write('{"output": "queued"}')
"""


@dataclass(frozen=True)
class Run:
    """One whole process: CPU (user + sys) and wall seconds, and what it printed."""

    cpu: float
    wall: float
    stdout: str


def run_process(argv: list[str], payload: bytes, env: dict, cwd: Path) -> Run:
    """Start, feed stdin, read stdout to EOF and reap with wait4 (its own rusage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=cwd, env=env,
    )  # fmt: skip
    proc.stdin.write(payload)
    proc.stdin.close()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Run(usage.ru_utime + usage.ru_stime, wall, out.decode("utf-8", "replace"))


class Hooks:
    """The plugin's hook command, stdin, environment and cwd exactly as the runner builds them."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        runner = rig.runner
        self.argv, _ = runner.manifest.command(runner.manifest.hooks_for("Scene.Update.Post")[0],
                                               runner.python)  # fmt: skip

    def payload(self, trigger: str, scene_id: int) -> bytes:
        fields = None if trigger == "Scene.Create.Post" else ["id", "title"]
        args = self.rig.runner.hook_args(trigger, scene_id, {"id": str(scene_id)}, fields)
        return self.rig.runner.stdin_payload(args)

    def run(self, trigger: str, scene_id: int) -> Run:
        runner = self.rig.runner
        return run_process(self.argv, self.payload(trigger, scene_id),
                           runner._environ(True), runner.cwd)  # noqa: SLF001  # fmt: skip


def row(label: str, worker: str, runs: list[Run], target: str = "-", met=None) -> tuple:
    cpu = [r.cpu * 1000 for r in runs]
    wall = [r.wall * 1000 for r in runs]
    queued = sum(1 for r in runs if '"queued"' in r.stdout) if worker != "-" else None
    return (label, worker, len(runs), statistics.median(cpu), percentile(cpu, 95),
            statistics.median(wall), percentile(wall, 95), max(wall),
            None if queued is None else len(runs) - queued, target, met)  # fmt: skip


def sequential_rows(hooks: Hooks, runs: int, tmp: Path) -> list[tuple]:
    """The floor and the hooks (worker running), interleaved run by run so that a change in
    the machine's load hits them all alike."""
    env = {**os.environ, **hooks.rig.runner.env}
    cwd = hooks.rig.runner.cwd
    payload = hooks.payload("Scene.Update.Post", 1)
    py = sys.executable
    db = str(tmp / "floor.db")
    processes = {
        "python -c pass (floor)": lambda: run_process([py, "-c", "pass"], payload, env, cwd),
        "stdlib sqlite3 enqueue (floor)": lambda: run_process(
            [py, "-c", SQLITE_FLOOR, db], payload, env, cwd
        ),
        "python -c 'import persistqueue'": lambda: run_process(
            [py, "-c", "import persistqueue"], payload, env, cwd
        ),
        "hook Scene.Update.Post": lambda: hooks.run("Scene.Update.Post", 1),
        "hook Scene.Create.Post": lambda: hooks.run("Scene.Create.Post", 1),
    }
    measured: dict[str, list[Run]] = {label: [] for label in processes}
    for _ in range(runs + 1):  # the first round warms the page cache and is dropped
        for label, process in processes.items():
            measured[label].append(process())
    rows = []
    for label, results in measured.items():
        results = results[1:]
        if not label.startswith("hook"):
            rows.append(row(label, "-", results))
            continue
        median = statistics.median(r.cpu for r in results) * 1000
        target = f"CPU median <= {CPU_TARGET_MS:g}"
        rows.append(row(label, "running", results, target, median <= CPU_TARGET_MS))
    return rows


def with_lock_held(rig: Rig, fn):
    """Run fn while the bench holds the worker lock (a worker is running, as hooks see it)."""
    lock = WorkerLock(rig.lock_path)
    rig.data_dir.mkdir(parents=True, exist_ok=True)
    if not lock.acquire_soon(within=5):
        raise RuntimeError("a worker holds the lock")
    try:
        return fn()
    finally:
        lock.release()


def at_once(hooks: Hooks, ids: list[str]) -> list[Run]:
    """Scene.Create.Post hooks all started together (as a scan's workers start them)."""
    barrier = threading.Barrier(len(ids))
    results: list[Run | None] = [None] * len(ids)

    def one(index: int, scene_id: str) -> None:
        barrier.wait()
        results[index] = hooks.run("Scene.Create.Post", int(scene_id))

    threads = [threading.Thread(target=one, args=item) for item in enumerate(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def batch_row(label: str, worker: str, rounds: list[list[Run]]) -> tuple:
    runs = [r for batch in rounds for r in batch]
    slowest = max(r.wall for r in runs) * 1000
    target = f"{BATCH} at once, each <= {BATCH_TARGET_MS:.0f} ms wall"
    return row(f"{label} ({len(rounds)} rounds)", worker, runs, target, slowest <= BATCH_TARGET_MS)


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench hook_cost", description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=25, help="runs of each process (25)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 8 at once (5)")
    parser.add_argument("--quick", action="store_true", help="a few runs of each")
    options = parser.parse_args(args)
    if options.quick:
        options.runs, options.rounds = 5, 1
    n = options.runs
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hook-cost-") as tmp, Rig() as rig:
        ids = [scene_id for scene_id, _ in populate(rig.stash, rig.plex, make_library(BATCH))]
        hooks = Hooks(rig)
        hooks.run("Scene.Create.Post", int(ids[0]))  # creates the queue and starts a worker
        kill_worker_once_started(rig)
        rows = with_lock_held(rig, lambda: sequential_rows(hooks, n, Path(tmp)))
        cold = []
        for _ in range(max(3, n // 5)):
            rig.fresh_data_dir()
            cold.append(hooks.run("Scene.Create.Post", int(ids[0])))
            kill_worker_once_started(rig)
        rows.append(row("hook Scene.Create.Post", "starts one", cold))
        rounds = [with_lock_held(rig, lambda: at_once(hooks, ids)) for _ in range(options.rounds)]
        rows.append(batch_row("hook Scene.Create.Post", "running", rounds))
        rounds = []
        for _ in range(options.rounds):
            rig.fresh_data_dir()
            rounds.append(at_once(hooks, ids))
            kill_worker_once_started(rig, 3)
        rows.append(batch_row("hook Scene.Create.Post", "none (one starts)", rounds))
    load_after = os.getloadavg()
    print_table("hook_cost: whole hook processes beside the floor", COLUMNS, rows)
    note("CPU: user + sys of the process itself (os.wait4); wall: start to exit, stdout read.")
    note(f"floor and hooks measured in the same run; {os.cpu_count()} CPUs; load average "
         f"{'/'.join(f'{x:.2f}' for x in load_before)} before, "
         f"{'/'.join(f'{x:.2f}' for x in load_after)} after (1/5/15 min).")  # fmt: skip
    note("'none (one starts)': a fresh data dir; the hook that takes the lock starts the worker,")
    note("whose start-up shares the 2 cores with the other hooks (killed once it has started).")
