"""Sync all: wall time, scenes/s, requests and writes per scene, peak RSS, fresh vs unchanged.

The "Sync all scenes to Plex" task runs as Stash runs it (`plexsync.py`, Stash's stdin) against
the fake Plex and fake Stash of this process, on a realistic generated library. Each variant
(fields only = the skipCovers setting; with covers) and each fake-Plex latency gets a fresh data
directory: the first run writes every scene, the second finds nothing changed.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from bench._common import (
    LATENCIES,
    ROOT,
    SECTION,
    PeakRSS,
    Rig,
    checkout,
    latency_label,
    make_library,
    note,
    populate,
    print_table,
    profile_task,
)

COLUMNS = (
    "plugin",
    "variant",
    "latency",
    "run",
    "scenes",
    "wall s",
    "scenes/s",
    "b2b limit/s",
    "% of limit",
    "Plex req/scene",
    "PUT/scene",
    "writes",
    "posters",
    "Stash GQL/scene",
    "cover GETs",
    "peak RSS MiB",
    "plugin CPU s",
    "fake Plex s",
    "fake Stash s",
    "synced ok",
)


def _counters(rig: Rig) -> dict:
    plex, stash = rig.plex, rig.stash
    with stash._lock:  # noqa: SLF001 - the fake's own lock guards its request log
        covers = sum(1 for r in stash.requests if r.path.endswith("/screenshot"))
    return {
        "plex": plex.count(),
        "put": plex.count("PUT", "/library/sections/"),
        "posters": sum(1 for r in list(plex.requests) if r.path.endswith("/posters")),
        "writes": plex.writes,
        "gql": stash.graphql_requests,
        "covers": covers,
    }


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _synced_ok(rig: Rig, specs) -> int:
    """How many Plex items show their scene's title (a check that the run really synced)."""
    titles = {item.files[0]: item.title for item in rig.plex.items(SECTION)}
    return sum(1 for spec in specs if titles.get(spec.path) == spec.title)


def run_variant(
    n: int,
    latency: float,
    covers: bool,
    specs,
    phases=("fresh", "unchanged"),
    plugin: tuple[str, Path] = ("this checkout", ROOT),
) -> list[tuple]:
    """Sync all on a fresh data directory, then again with nothing changed; one row each."""
    settings = None if covers else {"skipCovers": True}
    rows = []
    with Rig(settings=settings, source=plugin[1]) as rig:
        populate(rig.stash, rig.plex, specs)
        rig.plex.latency = latency
        per_scene_min = 2 if covers else 1
        limit = 1 / (latency * per_scene_min) if latency else None
        for phase in phases:
            before = _counters(rig)
            rig.plex_busy.reset()
            rig.stash_busy.reset()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            with PeakRSS(str(rig.plugin_dir)) as rss:
                result = rig.runner.run_task("sync_all", timeout=max(300.0, n * 0.2))
            cpu = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(children)
            rig.stop_worker()
            after = _counters(rig)
            delta = {k: after[k] - before[k] for k in after}
            if result.error:
                raise RuntimeError(f"sync_all failed: {result.error}\n{result.stderr_raw[-2000:]}")
            wall = result.wall_time
            rate = n / wall
            rows.append(
                (
                    plugin[0],
                    "with covers" if covers else "fields only",
                    latency_label(latency),
                    phase,
                    n,
                    wall,
                    rate,
                    limit if phase == "fresh" else None,
                    100 * rate / limit if limit and phase == "fresh" else None,
                    delta["plex"] / n,
                    delta["put"] / n,
                    delta["writes"],
                    delta["posters"],
                    delta["gql"] / n,
                    delta["covers"],
                    rss.peak_mib("task/hook"),
                    cpu,
                    rig.plex_busy.seconds,
                    rig.stash_busy.seconds,
                    _synced_ok(rig, specs),
                )
            )
    return rows


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench full_sync", description=__doc__)
    parser.add_argument("-n", "--scenes", type=int, default=10_000, help="scenes (10,000)")
    parser.add_argument(
        "--latency",
        type=float,
        action="append",
        help="fake Plex latency in ms (repeatable; default 0 and 5)",
    )
    parser.add_argument(
        "--variant", choices=("fields", "covers"), action="append", help="default: both"
    )
    parser.add_argument("--quick", action="store_true", help="200 scenes, 5 ms, fields only")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also run the plugin as it was at this commit, each variant side by side",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="instead: run one fresh sync_all (first variant and latency) under cProfile",
    )
    options = parser.parse_args(args)
    n = 200 if options.quick else options.scenes
    latencies = [ms / 1000 for ms in options.latency] if options.latency else list(LATENCIES)
    variants = options.variant or ["fields", "covers"]
    if options.quick:
        latencies = latencies if options.latency else [0.005]
        variants = options.variant or ["fields"]
    specs = make_library(n)
    if options.profile:
        settings = None if variants[0] == "covers" else {"skipCovers": True}
        with Rig(settings=settings) as rig:
            populate(rig.stash, rig.plex, specs)
            rig.plex.latency = latencies[0]
            profile_task(rig, "sync_all", Path(options.profile).resolve())
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="plexsync-before-") as tmp:
        plugins = [(options.before, checkout(options.before, Path(tmp)))] if options.before else []
        plugins.append(("this checkout", ROOT))
        for variant in variants:
            for latency in latencies:
                for plugin in plugins:
                    rows.extend(run_variant(n, latency, variant == "covers", specs, plugin=plugin))
    print_table(f"full_sync: Sync all of {n:,} scenes", COLUMNS, rows)
    note("b2b limit: back-to-back requests at the fake's latency (1 per scene, 2 with covers).")
    note("Plex req/scene counts every request (listing pages, connect, edits, posters);")
    note("writes: every PUT/POST/DELETE Plex received (edits, posters, ratings).")
    note("plugin CPU s: user + sys of the task process that ran the sync (less moved by")
    note("other work on the machine than its wall time).")
    note("fake Plex/Stash s: time the in-process fakes spent answering (a cost of the rig).")
    note("targets: <= 1.05 Plex req/scene (+1 poster per changed cover), >= 75% of the b2b")
    note("limit, <= 0.02 Stash GQL/scene; unchanged: 0 writes, 10,000 scenes in <= 20 s.")
