"""Activity import: requests and wall time to import 10,000 Plex views into Stash, then again.

Runs "Import watch activity from Plex" as Stash runs it, after a full sync of a generated
library, with N views spread over the synced scenes (and some resume points), at each
fake-Plex latency: the first import (every view new), then a second one (nothing new), which
shows what an import costs when there is nothing to do.
"""

from __future__ import annotations

import argparse
import random
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
    "latency",
    "run",
    "views",
    "wall s",
    "views/s",
    "Plex requests",
    "history requests",
    "Plex writes",
    "Stash requests",
    "imported",
    "plays ok",
    "fake Plex s",
    "fake Stash s",
)
DAY = 86400


def add_views(rig: Rig, pairs, views: int, seed: int = 15) -> dict[str, int]:
    """`views` owner views over 90 days, oldest first, on random scenes; plays per scene."""
    rng = random.Random(seed)
    start = int(time.time()) - 90 * DAY
    expected: dict[str, int] = {}
    for n in range(views):
        scene_id, rating_key = pairs[rng.randrange(len(pairs))]
        rig.plex.add_view(rating_key, 1, start + n * (90 * DAY // views))
        expected[scene_id] = expected.get(scene_id, 0) + 1
    for _, rating_key in pairs[:100]:
        rig.plex.set_progress(rating_key, rng.randrange(60_000, 1_800_000))
    return expected


def one_import(rig: Rig, label: str, latency: float, views: int, expected) -> tuple:
    plex_before, history_before = rig.plex.count(), rig.plex.count("GET", "/status/sessions")
    writes_before, stash_before = rig.plex.writes, rig.stash.graphql_requests
    rig.plex_busy.reset()
    rig.stash_busy.reset()
    result = rig.runner.run_task("import_activity", timeout=max(300.0, views * 0.05))
    if result.error:
        raise RuntimeError(f"import_activity failed: {result.error}")
    rig.stop_worker()
    imported = int((result.output.get("activity") or {}).get("views_imported", 0))
    plays_ok = all(len(rig.stash.plays(s)) == n for s, n in expected.items())
    return (
        latency_label(latency),
        label,
        views,
        result.wall_time,
        views / result.wall_time if imported else "-",
        rig.plex.count() - plex_before,
        rig.plex.count("GET", "/status/sessions") - history_before,
        rig.plex.writes - writes_before,
        rig.stash.graphql_requests - stash_before,
        imported,
        "yes" if plays_ok else "NO",
        rig.plex_busy.seconds,
        rig.stash_busy.seconds,
    )


def run(scenes: int, views: int, latency: float, specs) -> list[tuple]:
    with Rig(settings={"skipCovers": True}) as rig:
        pairs = populate(rig.stash, rig.plex, specs, covers=False)
        result = rig.runner.run_task("sync_all", timeout=max(300.0, scenes * 0.2))
        if result.error:
            raise RuntimeError(f"sync_all failed: {result.error}")
        rig.stop_worker()
        expected = add_views(rig, pairs, views)
        rig.plex.latency = latency
        return [
            one_import(rig, "first", latency, views, expected),
            one_import(rig, "second", latency, views, expected),
        ]


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench activity", description=__doc__)
    parser.add_argument("-n", "--views", type=int, default=10_000, help="views (10,000)")
    parser.add_argument("--scenes", type=int, default=2_000, help="synced scenes (2,000)")
    parser.add_argument("--quick", action="store_true", help="500 views, 100 scenes, at 5 ms")
    options = parser.parse_args(args)
    views, scenes = (500, 100) if options.quick else (options.views, options.scenes)
    latencies = [0.005] if options.quick else list(LATENCIES)
    specs = make_library(scenes)
    rows = [row for latency in latencies for row in run(scenes, views, latency, specs)]
    print_table(f"activity: import of {views:,} Plex views into Stash", COLUMNS, rows)
    note("Plex requests: connect, sections, history pages (1,000 views each), resume listing.")
    note("Stash requests: settings, plays read per page, sceneAddPlay batches (100 scenes each),")
    note("resume points; plays ok: every scene has exactly one play per view.")
    note("fake Plex/Stash s: time the in-process fakes spent answering (a cost of the rig:")
    note("graphql-core executing 100 aliased sceneAddPlay fields is most of the wall time).")
