"""Path index: full build of a 50,000-item section, incremental refresh, lookup cost per scene.

A real PlexClient (plexapi, our session) builds plex/index.py's PathIndex from the fake Plex's
section listing. The client side runs in a child process so its time and memory are its own:
the fake Plex (this process) is not in its tracemalloc peak or RSS. The build is timed once
plainly and once more under tracemalloc (into a second file) for the peak of Python memory;
"RSS growth" is the child's VmHWM after the plain build minus before it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import (
    LATENCIES,
    PLEX_TOKEN,
    ROOT,
    SECTION,
    Busy,
    latency_label,
    make_library,
    note,
    plex_title,
    print_table,
    vm_hwm_kib,
)
from tests.rig.fake_plex import FakePlex

COLUMNS = ("step", "Plex latency", "items", "requests", "time s", "per item", "memory", "notes")


# ---------------------------------------------------------------------------------------------
# child: the plugin's side


def _child(spec: dict) -> None:
    import tracemalloc

    from plex.client import PlexClient
    from plex.index import PathIndex

    def say(message: dict) -> None:
        print(json.dumps(message), flush=True)

    client = PlexClient(spec["url"], spec["token"])
    sections = [s for s in client.sections() if s.key == spec["section"]]
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    # 1. plain build
    before_kib = vm_hwm_kib(os.getpid())
    requests_before = client.requests_made
    index = PathIndex(Path(spec["db"]), client, sections, clock=clock)
    started = time.perf_counter()
    index.rebuild()
    build_s = time.perf_counter() - started
    build = {
        "seconds": build_s,
        "requests": client.requests_made - requests_before,
        "items": index.item_count(),
        "rss_growth_mib": (vm_hwm_kib(os.getpid()) - before_kib) / 1024,
        "db_mib": sum(
            Path(spec["db"] + suffix).stat().st_size / 2**20
            for suffix in ("", "-wal")
            if Path(spec["db"] + suffix).exists()
        ),
    }
    # 2. the same build under tracemalloc, into another file
    traced = PathIndex(Path(spec["db"] + ".traced"), client, sections, clock=clock)
    tracemalloc.start()
    started = time.perf_counter()
    traced.rebuild()
    build["traced_seconds"] = time.perf_counter() - started
    build["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    traced.db.close()
    # 3. open an existing index (every worker run does)
    started = time.perf_counter()
    again = PathIndex(Path(spec["db"]), client, sections, clock=clock)
    build["open_s"] = time.perf_counter() - started
    again.db.close()
    say({"built": build})

    # 4. incremental refresh after the parent added new items
    added = json.loads(sys.stdin.readline())["added"]
    offset[0] = 60.0  # past the incremental rate limit (30 s), well before a full one (1 h)
    requests_before = client.requests_made
    started = time.perf_counter()
    refreshed = index.refresh_after_miss()
    refresh = {
        "seconds": time.perf_counter() - started,
        "requests": client.requests_made - requests_before,
        "refreshed": refreshed,
        "found": sum(1 for path, size in added if index.lookup(path, size)),
        "items": index.item_count(),
    }

    # 5. lookups
    rows = index.db.execute("SELECT path, size FROM parts").fetchall()
    rng = random.Random(3)
    sample = rng.sample(rows, min(spec["lookups"], len(rows)))
    kinds = {
        "exact": [(path, size) for path, size in sample],
        "other case": [(path.upper(), size) for path, size in sample],
        "basename + size": [
            ("/mnt/other/" + path.rsplit("/", 1)[1], size) for path, size in sample
        ],
        "miss": [(f"/nowhere/{i}.mp4", 1) for i in range(len(sample))],
    }
    lookups = {}
    for kind, paths in kinds.items():
        found = 0
        started = time.perf_counter()
        for path, size in paths:
            found += bool(index.lookup(path, size))
        lookups[kind] = {
            "us": (time.perf_counter() - started) / len(paths) * 1e6,
            "found": found,
            "n": len(paths),
        }
    keys = [r[0] for r in index.db.execute("SELECT rating_key FROM items LIMIT 2000")]
    started = time.perf_counter()
    for key in keys:
        index.listed(key)
    listed_us = (time.perf_counter() - started) / len(keys) * 1e6
    say({"refresh": refresh, "lookups": lookups, "listed_us": listed_us})


# ---------------------------------------------------------------------------------------------
# parent: the fake Plex and the table


def run(items: int, new: int, lookups: int, latency: float, paths, tmp: Path) -> list[tuple]:
    plex = FakePlex(token=PLEX_TOKEN).start()
    try:
        plex.add_section("Movies", key=SECTION)
        # a library grown over years: one item every 30 min, the newest an hour ago
        first = int(time.time()) - 3600 - items * 1800
        for n, (path, size) in enumerate(paths[:items]):
            added = first + n * 1800
            plex.add_item(SECTION, plex_title(path), files=[(path, size)], addedAt=added)
        plex.latency = latency
        busy = Busy.wrap(plex, "_respond")
        spec = {
            "url": plex.url,
            "token": PLEX_TOKEN,
            "section": SECTION,
            "db": str(tmp / f"index-{latency}.db"),
            "lookups": lookups,
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.index", "--child", json.dumps(spec)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        plex.reset_log()
        built = json.loads(child.stdout.readline())["built"]
        listing_requests = plex.count("GET", f"/library/sections/{SECTION}/all")
        build_busy = busy.seconds
        added = paths[items : items + new]  # new files Plex scanned after the build
        for path, size in added:
            plex.add_item(SECTION, plex_title(path), files=[(path, size)])
        plex.reset_log()
        busy.reset()
        child.stdin.write(json.dumps({"added": added}) + "\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline())
        child.wait(timeout=60)
        refresh = result["refresh"]
    finally:
        plex.stop()
    label = latency_label(latency)
    rows = [
        (
            "full build",
            label,
            built["items"],
            built["requests"],
            built["seconds"],
            f"{built['seconds'] / built['items'] * 1e6:.0f} us",
            f"RSS +{built['rss_growth_mib']:.1f} MiB",
            f"{listing_requests} listing pages; fake Plex busy {build_busy / 2:.2f} s; "
            f"db {built['db_mib']:.1f} MiB",
        ),
        (
            "full build, tracemalloc",
            label,
            built["items"],
            built["requests"],
            built["traced_seconds"],
            "-",
            f"peak {built['traced_peak_mib']:.1f} MiB",
            "Python allocations of the client process",
        ),
        ("open existing index", label, built["items"], 0, built["open_s"], "-", "-", ""),
        (
            f"refresh after {new} new",
            label,
            refresh["items"],
            refresh["requests"],
            refresh["seconds"],
            "-",
            "-",
            f"new items found after it: {refresh['found']}/{new}; "
            f"fake Plex busy {busy.seconds:.3f} s",
        ),
    ]
    for kind, figures in result["lookups"].items():
        rows.append(
            (
                f"lookup: {kind}",
                label,
                figures["n"],
                0,
                None,
                f"{figures['us']:.0f} us",
                "-",
                f"found {figures['found']}/{figures['n']}",
            )
        )
    rows.append(("listed() fields", label, 2000, 0, None, f"{result['listed_us']:.0f} us", "-", ""))
    return rows


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench index", description=__doc__)
    parser.add_argument("--items", type=int, default=50_000, help="items in the section (50,000)")
    parser.add_argument("--new", type=int, default=100, help="items added before refresh (100)")
    parser.add_argument("--lookups", type=int, default=10_000, help="lookups timed (10,000)")
    parser.add_argument("--quick", action="store_true", help="3,000 items, 5 ms only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args(args)
    if options.child:
        _child(json.loads(options.child))
        return
    latencies = list(LATENCIES)
    if options.quick:
        options.items, options.new, options.lookups, latencies = 3000, 20, 1000, [0.005]
    library = make_library(options.items + options.new, seed=5)
    paths = [(spec.path, spec.size) for spec in library]
    rows = []
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-index-") as tmp:
        for latency in latencies:
            rows.extend(run(options.items, options.new, options.lookups, latency, paths, Path(tmp)))
    print_table(f"index: PathIndex over a {options.items:,}-item section", COLUMNS, rows)
    note("fake Plex busy: the fake's own time answering (the build's figure is halved: the")
    note("parent built the section twice, plain and traced).")


if __name__ == "__main__":  # the child process: python -m bench.index --child SPEC
    main(sys.argv[1:])
