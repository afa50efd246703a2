"""The UI's scene-state operation for a page of scene cards, as `runPluginOperation` runs it.

One `plexsync.py` process per call, started exactly as Stash starts an operation (stdin with
server_connection and args, no hookContext); wall time from process start to exit with stdout
closed, which is how long the page's badges wait. The library is synced first (so the states
come from state.db) and five scenes have files Plex lacks (their state comes from the path
index, with the closest names looked up). Target: 40 scenes answer within
300 ms, process start included, with no Plex request.
"""

from __future__ import annotations

import argparse
import os
import statistics

from bench._common import Rig, make_library, ms_stats, note, populate, print_table
from bench.runner_overhead import bare_python

COLUMNS = ("page", "library", "calls", "median ms", "p95 ms", "max ms", "cpu ms",
           "Plex requests", "states", "target", "met")  # fmt: skip
TARGET_MS = 300


def page_args(rig: Rig, ids: list[str]) -> dict:
    """What the UI sends for a page of cards: ids with their files' paths and sizes."""
    scenes = []
    for scene_id in ids:
        scene = rig.stash._scenes[int(scene_id)]  # noqa: SLF001 - what the cards already hold
        files = [{"path": f.path, "size": f.size} for f in scene.files]
        scenes.append({"id": scene_id, "files": files, "organized": scene.organized})
    return {"mode": "scene_state", "scenes": scenes}


def measure(rig: Rig, ids: list[str], calls: int) -> tuple:
    args = page_args(rig, ids)
    rig.runner.run_operation(args)  # warm the page cache, as a browsing user's would be
    rig.plex.reset_log()
    results, cpu = [], []
    for _ in range(calls):
        before = _children_cpu()
        results.append(rig.runner.run_operation(args))
        cpu.append(_children_cpu() - before)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"scene_state failed: {errors[0]}")
    median, p95, top = ms_stats([r.wall_time for r in results])
    kinds = sorted({s["state"] for s in results[-1].output["states"].values()})
    cpu_ms = round(statistics.median(cpu) * 1000, 1) if cpu[0] >= 0 else "-"
    return median, p95, top, cpu_ms, rig.plex.count(), "/".join(kinds)


def synced_library(rig: Rig, size: int) -> list[str]:
    """A synced library plus five scenes whose files Plex lacks; the ids, those five first."""
    pairs = populate(rig.stash, rig.plex, make_library(size))
    rig.runner.run_task("sync_all")
    missing = [rig.stash.add_scene(title="New", files=[(f"/new/{i}.mp4", i)]) for i in range(5)]
    rig.stop_worker()
    return missing + [scene_id for scene_id, _ in pairs]


def _children_cpu() -> float:
    """User + system seconds of the finished child processes (-1 where the OS cannot say)."""
    times = os.times()
    if os.name == "nt":  # Windows does not count children's time
        return -1.0
    return times.children_user + times.children_system


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ui_state", description=__doc__)
    parser.add_argument("-n", "--calls", type=int, default=30, help="calls per row (30)")
    parser.add_argument("--library", type=int, default=2000, help="scenes in Stash (2000)")
    parser.add_argument("--quick", action="store_true", help="a few calls, a small library")
    options = parser.parse_args(args)
    if options.quick:
        options.calls, options.library = 5, 200
    rows = []
    floor = ms_stats(bare_python(max(5, options.calls // 3)))
    floor_row = ("python -c pass (floor)", "-", max(5, options.calls // 3), *floor)
    rows.append((*floor_row, "-", "-", "-", "-", None))
    with Rig() as rig:
        page_ids = synced_library(rig, options.library)
        for size in (1, 40, 200):
            median, p95, top, cpu, requests, kinds = measure(rig, page_ids[:size], options.calls)
            met = median <= TARGET_MS and p95 <= TARGET_MS if size == 40 else None
            target = f"<= {TARGET_MS} ms" if size == 40 else "-"
            timing = (median, p95, top, cpu, requests, kinds, target, met)
            rows.append((f"{size} cards", options.library, options.calls, *timing))
    print_table(
        "ui_state: scene_state for a page of cards, as Stash runs an operation", COLUMNS, rows
    )
    note("wall time per call: process start to exit with stdout closed (what the badges wait).")
    note("answered from state.db, the queue file and the path index; Plex requests must be 0.")
    note("one Stash request per call: the saved plugin settings (path map, libraries, web URL).")
    note("cpu ms: the process's own user+system time (median), which other load cannot inflate;")
    if hasattr(os, "getloadavg"):
        note(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
