"""Save in Stash -> visible in Plex: latency with the worker cold (started by the hook) and warm.

Each sample changes a scene's title in the fake Stash, runs the Scene.Update.Post hook exactly
as Stash does after a save, and polls the fake Plex (every 5 ms) until the item shows the new
title. "cold": no worker is running, so the time includes the hook starting one (imports,
Stash and Plex connections, the on-disk path index already built). "warm": a worker is
lingering after earlier work (it looks for new jobs every 0.1 s while idle).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench._common import (
    LATENCIES,
    Rig,
    latency_label,
    make_library,
    note,
    populate,
    print_table,
)

COLUMNS = (
    "worker",
    "Plex latency",
    "samples",
    "median ms",
    "max ms",
    "min ms",
    "hook median ms",
    "after hook median ms",
)
POLL = 0.005


def sample(rig: Rig, scene_id: str, rating_key: str, title: str, timeout: float = 30.0):
    """(save -> visible in Plex, hook wall time), seconds."""
    rig.stash.update_scene(scene_id, title=title)
    started = time.perf_counter()
    result = rig.runner.run_hook(
        "Scene.Update.Post",
        int(scene_id),
        input={"id": scene_id, "title": title},
        input_fields=["id", "title"],
    )
    if result.output != "queued":
        raise RuntimeError(f"hook answered {result.output!r} / {result.error!r}")
    deadline = started + timeout
    while rig.plex.item(rating_key).title != title:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"scene {scene_id} did not reach Plex within {timeout} s")
        time.sleep(POLL)
    return time.perf_counter() - started, result.wall_time


def wait_for_worker(rig: Rig, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not rig.worker_running():
        if time.monotonic() > deadline:
            raise RuntimeError("no background worker started")
        time.sleep(0.01)


def row(worker: str, latency: float, samples: list[tuple[float, float]]) -> tuple:
    total = [s * 1000 for s, _ in samples]
    hook = [h * 1000 for _, h in samples]
    return (
        worker,
        latency_label(latency),
        len(samples),
        statistics.median(total),
        max(total),
        min(total),
        statistics.median(hook),
        statistics.median(t - h for t, h in zip(total, hook, strict=True)),
    )


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench end_to_end", description=__doc__)
    parser.add_argument("--cold", type=int, default=8, help="cold samples per latency (8)")
    parser.add_argument("--warm", type=int, default=20, help="warm samples per latency (20)")
    parser.add_argument("--scenes", type=int, default=1000, help="library size (1,000)")
    parser.add_argument("--quick", action="store_true", help="2 cold and 5 warm samples, 5 ms")
    options = parser.parse_args(args)
    latencies = list(LATENCIES)
    if options.quick:
        options.cold, options.warm, options.scenes, latencies = 2, 5, 100, [0.005]
    rows = []
    with Rig() as rig:
        pairs = populate(rig.stash, rig.plex, make_library(options.scenes))
        # first contact builds the path index (kept on disk), as the first sync after install
        sample(rig, *pairs[0], "warm-up")
        rig.end_idle_worker()
        turn = 0
        for latency in latencies:
            rig.plex.latency = latency
            cold = []
            for _ in range(options.cold):
                turn += 1
                scene_id, rating_key = pairs[turn % len(pairs)]
                rig.end_idle_worker()  # instead of waiting out its ~2 s linger
                cold.append(sample(rig, scene_id, rating_key, f"Cold {turn}"))
            rows.append(row("cold (hook starts it)", latency, cold))
            warm = []
            wait_for_worker(rig)
            for _ in range(options.warm):
                turn += 1
                scene_id, rating_key = pairs[turn % len(pairs)]
                if not rig.worker_running():
                    raise RuntimeError("the worker left before a warm sample")
                warm.append(sample(rig, scene_id, rating_key, f"Warm {turn}"))
                time.sleep(0.3)  # a user's next save; well within the worker's linger
            rows.append(row("warm (lingering)", latency, warm))
            rig.end_idle_worker()
    print_table("end_to_end: save in Stash -> visible in Plex", COLUMNS, rows)
    note("after hook: from the hook's exit to the title showing in Plex (polled every 5 ms).")
    note("warm: an idle worker polls the queue every 0.1 s, which bounds the wait for a job.")
