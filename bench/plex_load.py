"""Sync all against a Plex that tires: writer busy, writes queued, the limit, a person's wait.

The fake Plex gets its capacity model (tests/rig/fake_plex_capacity.py: one database writer
that every write holds in turn, a poster upload longer; reads side by side; a network latency
that overlaps freely), and a person watches while "Sync all" (with covers) runs: their player
reports its position every 250 ms (`/:/timeline`, a write) and they open a library page every
5 s (tests/rig/plex_viewer.py). Each server runs the plugin as it was (`--before`, a commit:
four requests in flight, always) and as it is (this checkout: the adaptive limit), one after
the other, each on a fresh rig.

Per run: scenes/s and writes/s; the writer's busy share over the write phase (everyone's, and
ours alone); the most writes ever waiting for the writer at once; our requests in flight as the
server saw them (the most at once in each tenth of the write phase) and the limit's path as
the plugin logged it; the person's timeline report while idle and during the sync.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    PLEX_TOKEN,
    ROOT,
    SECTION,
    Rig,
    checkout,
    make_library,
    note,
    percentile,
    populate,
    print_table,
)
from tests.rig.fake_plex_capacity import TICK, Capacity
from tests.rig.plex_viewer import CLIENT_ID, Viewer

BEFORE = "14dc6d8"  # main before issue 21: four Plex requests in flight, whatever the server
IDLE_SECONDS = 5.0
_LIMIT_LINE = re.compile(
    r"Plex requests in flight: limit (\S+) \((\d+) changes\), path ([\d ]+)"
    r"(?:; writer share per request: ([^(]+)\()?"
)


@dataclass(frozen=True)
class Server:
    name: str
    write_ms: float | None  # None: no capacity limit (today's full_sync fake)
    poster_ms: float | None
    latency_ms: float
    scenes: int

    @property
    def capacity(self) -> Capacity | None:
        if self.write_ms is None:
            return None
        return Capacity(write=self.write_ms / 1000, poster=self.poster_ms / 1000)

    @property
    def label(self) -> str:
        if self.write_ms is None:
            return f"{self.name} (no limit / {self.latency_ms:g} ms)"
        return f"{self.name} ({self.write_ms:g}/{self.poster_ms:g}/{self.latency_ms:g} ms)"


SERVERS = (
    Server("NAS", 60, 250, 5, 150),
    Server("desktop", 4, 15, 1, 1000),
    Server("distant desktop", 4, 15, 40, 1000),
    Server("unlimited", None, None, 5, 1000),
)


def ms(values: list[float], pct: float) -> float | None:
    return percentile(values, pct) * 1000 if values else None


def _ours(rig: Rig) -> list:
    return [
        r for r in list(rig.plex.requests) if r.headers.get("X-Plex-Client-Identifier") != CLIENT_ID
    ]


def _in_flight_path(rig: Rig, ours: set[str], start: float, end: float, points: int = 10) -> str:
    """Our requests in flight on average, as the server saw them, in each tenth of [start,
    end] (seconds since the load's reset)."""
    area: dict[int, float] = {}
    for client in ours:
        for tick, value in rig.plex.load.area.get(client, {}).items():
            area[tick] = area.get(tick, 0.0) + value
    span = max(end - start, TICK)
    out = []
    for step in range(points):
        lo, hi = start + span * step / points, start + span * (step + 1) / points
        inside = sum(v for tick, v in area.items() if lo <= (tick + 0.5) * TICK < hi)
        out.append(f"{inside / max(hi - lo, TICK):.1f}")
    return " ".join(out)


def _limit_path(rig: Rig, result) -> str:
    """What the plugin logged of its limit (the task's log and the worker's file)."""
    text = "\n".join(message for _, message in result.log)
    log_file = rig.data_dir / "worker.log"
    if log_file.exists():
        text += "\n" + log_file.read_text(encoding="utf-8", errors="replace")
    found = _LIMIT_LINE.findall(text)
    if not found:
        return "fixed"
    span, changes, path, shares = found[-1]
    shares = f"; shares {shares.strip()}" if shares else ""
    return f"{path.strip()} ({span}, {changes} changes){shares}"


def run(server: Server, plugin: str, source: Path, specs, idle_for: float) -> tuple[tuple, tuple]:
    with Rig(source=source) as rig:
        pairs = populate(rig.stash, rig.plex, specs)
        rig.plex.latency = server.latency_ms / 1000
        rig.plex.capacity = server.capacity
        watched = pairs[0][1]
        with Viewer(rig.plex.url, PLEX_TOKEN, watched, SECTION) as viewer:
            time.sleep(idle_for)
            idle = viewer.take()
            rig.plex.load.reset()
            reset_at = time.perf_counter()
            rig.plex.reset_log()
            result = rig.runner.run_task("sync_all", timeout=max(600.0, len(specs) * 1.0))
            during = viewer.take()
            rig.stop_worker()
        if result.error:
            raise RuntimeError(f"sync_all failed: {result.error}\n{result.stderr_raw[-2000:]}")
        ours = _ours(rig)
        writes = [r for r in ours if r.method in ("PUT", "POST", "DELETE")]
        posters = [r for r in writes if r.path.endswith("/posters")]
        clients = {r.headers.get("X-Plex-Client-Identifier", "") for r in ours}
        row = [server.label, plugin, len(specs), result.wall_time, len(specs) / result.wall_time]
        if writes:
            first = min(r.time for r in writes)
            last = max(r.time for r in writes)
            phase = max(last - first, 1e-9)
            row.append(len(writes) / phase)
        else:
            first = last = phase = None
            row.append(None)
        load = rig.plex.load
        if server.capacity is not None and phase:
            busy_ours = sum(load.busy[c] for c in clients)
            busy_all = busy_ours + load.busy[CLIENT_ID]
            row += [100 * min(1.0, busy_all / phase), 100 * min(1.0, busy_ours / phase)]
            row.append(load.most_waiting)
        else:
            row += [None, None, None]
        offset = time.time() - time.perf_counter()  # record times are wall clock
        start = (first - offset - reset_at) if first else 0.0
        end = (last - offset - reset_at) if last else 0.0
        row.append(_in_flight_path(rig, clients, start, end) if server.capacity else "-")
        row.append(_limit_path(rig, result))
        row += [len(posters)]
        timeline_idle, timeline = idle.get("timeline", []), during.get("timeline", [])
        idle_median = ms(timeline_idle, 50)
        target = idle_median + 2 * (server.poster_ms or 0) if idle_median is not None else None
        p95 = ms(timeline, 95)
        person = (
            server.label,
            plugin,
            ms(timeline_idle, 50),
            ms(timeline_idle, 95),
            ms(timeline_idle, 100),
            len(timeline),
            ms(timeline, 50),
            p95,
            ms(timeline, 100),
            ms(during.get("page", []), 100),
            target if server.capacity else None,
            (p95 <= target) if server.capacity and p95 is not None else None,
            viewer.failures,
        )
        return tuple(row), person


COLUMNS = (
    "server (write/poster/latency)",
    "plugin",
    "scenes",
    "wall s",
    "scenes/s",
    "writes/s",
    "writer busy %",
    "ours %",
    "most waiting",
    "mean in flight (server, per tenth)",
    "limit path (plugin's log)",
    "posters",
)
PERSON = (
    "server (write/poster/latency)",
    "plugin",
    "idle p50",
    "idle p95",
    "idle max",
    "reports",
    "during p50",
    "during p95",
    "during max",
    "page max",
    "target p95",
    "met",
    "failed",
)


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench plex_load", description=__doc__)
    parser.add_argument(
        "--before", default=BEFORE, help=f"the commit to compare (default {BEFORE})"
    )
    parser.add_argument("--no-before", action="store_true", help="this checkout only")
    parser.add_argument(
        "--server", action="append", choices=[s.name for s in SERVERS], help="default: all"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="scenes per server x this")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the scenes, 1 s idle, this checkout only"
    )
    options = parser.parse_args(args)
    scale = options.scale * (0.1 if options.quick else 1.0)
    idle = 1.0 if options.quick else IDLE_SECONDS
    servers = [s for s in SERVERS if not options.server or s.name in options.server]
    rows, people = [], []
    with tempfile.TemporaryDirectory(prefix="plexsync-before-") as tmp:
        compare = not (options.no_before or options.quick)
        plugins = [(options.before, checkout(options.before, Path(tmp)))] if compare else []
        plugins.append(("this checkout", ROOT))
        for server in servers:
            specs = make_library(max(10, int(server.scenes * scale)))
            for name, source in plugins:
                row, person = run(server, name, source, specs, idle)
                rows.append(row)
                people.append(person)
    print_table("plex_load: Sync all (with covers) against a Plex with one writer", COLUMNS, rows)
    note("writes/s, writer busy %: over the write phase (our first write to our last);")
    note("busy counts everyone (our writes and the person's timeline reports), ours only ours;")
    note("most waiting: writes waiting for the writer at once, the one writing aside;")
    note("mean in flight: our requests in flight on average in each tenth of the write phase,")
    note("as the server saw them (the limit's path is what the plugin logged).")
    print_table(
        "plex_load: the person's timeline report (ms), idle and during Sync all", PERSON, people
    )
    note("target (issue 21): during p95 <= idle median + two poster uploads; writer busy")
    note(">= 85% on the NAS and the distant desktop, >= 70% on the desktop; the unlimited")
    note("server's scenes/s no lower than before.")
