"""Verify: Plex requests and wall time to compare N scenes with Plex's full metadata.

Runs "Verify Plex against Stash" as Stash runs it after a full sync, on a realistic generated
library, at each fake-Plex latency. A few items are then edited by hand in the fake Plex so
the report has drifted scenes to find.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench._common import (
    LATENCIES,
    SECTION,
    PeakRSS,
    Rig,
    latency_label,
    make_library,
    note,
    populate,
    print_table,
)

COLUMNS = (
    "latency",
    "scenes",
    "wall s",
    "scenes/s",
    "Plex requests",
    "item reads",
    "req/scene",
    "in sync",
    "drifted",
    "not in Plex",
    "counts add up",
    "peak RSS MiB",
)
EDITED = 5  # items changed by hand in Plex before verifying


def run(n: int, latency: float, specs) -> tuple:
    with Rig(settings={"skipCovers": True}) as rig:
        populate(rig.stash, rig.plex, specs)
        result = rig.runner.run_task("sync_all", timeout=max(300.0, n * 0.2))
        if result.error:
            raise RuntimeError(f"sync_all failed: {result.error}")
        rig.stop_worker()
        for item in rig.plex.items(SECTION)[:EDITED]:
            rig.plex.set_field(item.rating_key, "title", "Edited by hand", locked=False)
        rig.plex.latency = latency
        before = rig.plex.count()
        reads_before = rig.plex.count("GET", "/library/metadata/")
        with PeakRSS(str(rig.plugin_dir)) as rss:
            result = rig.runner.run_task("verify", timeout=max(300.0, n * 0.2))
        if result.error:
            raise RuntimeError(f"verify failed: {result.error}")
        report = result.output
        saved = json.loads(Path(report["report"]).read_text())
        categories = [
            k for k in saved["summary"] if k not in ("scenes", "item_requests", "seconds", "report")
        ]
        requests = rig.plex.count() - before
        return (
            latency_label(latency),
            n,
            result.wall_time,
            n / result.wall_time,
            requests,
            rig.plex.count("GET", "/library/metadata/") - reads_before,
            requests / n,
            int(report["in_sync"]),
            int(report["drifted"]),
            int(report["not_in_plex"]),
            "yes" if sum(int(report[c]) for c in categories) == n else "NO",
            rss.peak_mib("task/hook"),
        )


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench verify", description=__doc__)
    parser.add_argument("-n", "--scenes", type=int, default=10_000, help="scenes (10,000)")
    parser.add_argument("--quick", action="store_true", help="200 scenes at 5 ms")
    options = parser.parse_args(args)
    n = 200 if options.quick else options.scenes
    latencies = [0.005] if options.quick else list(LATENCIES)
    specs = make_library(n)
    rows = [run(n, latency, specs) for latency in latencies]
    print_table(f"verify: Verify Plex against Stash, {n:,} scenes", COLUMNS, rows)
    note("Plex requests: the fresh listing pages plus one full-metadata read per matched item")
    note(
        f"(4 at a time); {EDITED} items were edited by hand in Plex first, so 'drifted' = {EDITED}."
    )
