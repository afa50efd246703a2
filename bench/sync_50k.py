"""Sync all of 50,000 scenes: it completes, the plugin process's peak RSS, wall time.

The task runs as Stash runs it (one `plexsync.py` process, in-process worker) on a fresh
data directory, covers on (the default settings), fake Plex at 0 ms; target: peak RSS of the
plugin process <= 150 MB. `--unchanged` adds a second run that finds nothing changed.
"""

from __future__ import annotations

import argparse

from bench._common import make_library, note, print_table
from bench.full_sync import COLUMNS, run_variant


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sync_50k", description=__doc__)
    parser.add_argument("-n", "--scenes", type=int, default=50_000, help="scenes (50,000)")
    parser.add_argument("--latency", type=float, default=0.0, help="fake Plex latency, ms (0)")
    parser.add_argument("--fields-only", action="store_true", help="skipCovers on")
    parser.add_argument("--unchanged", action="store_true", help="also a run with no changes")
    parser.add_argument("--quick", action="store_true", help="500 scenes")
    options = parser.parse_args(args)
    n = 500 if options.quick else options.scenes
    phases = ("fresh", "unchanged") if options.unchanged else ("fresh",)
    rows = run_variant(
        n, options.latency / 1000, not options.fields_only, make_library(n, seed=50), phases
    )
    print_table(f"sync_50k: Sync all of {n:,} scenes", COLUMNS, rows)
    peak = max((r[COLUMNS.index("peak RSS MiB")] or 0) for r in rows)
    ok = all(r[COLUMNS.index("synced ok")] == n for r in rows)
    print(f"\ncompleted: {'yes' if ok else 'NO'}; peak RSS {peak:.1f} MiB "
          f"({peak * 1.048576:.1f} MB; target <= 150 MB)")  # fmt: skip
    note("peak RSS: VmHWM of the plugin's task process (polled from /proc).")
