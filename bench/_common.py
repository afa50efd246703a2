"""Shared pieces of the benchmarks: a realistic library, the rig, tables, peak RSS, timers.

Not a benchmark itself (the leading underscore keeps it out of `python -m bench`'s list).
The fakes run in this process (HTTP servers in threads); the plugin runs as real processes
started exactly as Stash starts them (tests.rig.stash_runner).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
import re
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.rig.fake_plex import FakePlex
from tests.rig.fake_stash import FakeStash
from tests.rig.stash_runner import StashRunner, install_plugin

ROOT = Path(__file__).resolve().parent.parent
PLEX_TOKEN = "bench-plex-token-0123456789abcdef"
SECTION = "1"
LATENCIES = (0.0, 0.005)  # fake Plex latency per request: every figure at 0 ms and 5 ms

# ---------------------------------------------------------------------------------------------
# A realistic library


def _names(text: str) -> list[str]:
    return text.split("|")


_ADJECTIVES = _names(
    "Blue Harbor|Northlight|Velvet|Golden Hour|Silver Coast|Red Canyon|Midnight|Crystal Lake|"
    "Urban|Wild Orchid|Sunset|Evergreen|Polar|Amber|Neon|Ivory|Scarlet|Cobalt|Maple|Saffron"
)
_NOUNS = "Films|Studios|Pictures|Media|Productions|Works|Digital|Cinema|Entertainment|Video"
_FIRST = _names(
    "Anna|Bella|Chloé|Dana|Eva|Fiona|Gina|Hana|Iris|Jade|Kira|Lena|Maya|Nina|Olivia|Paula|"
    "Quinn|Rosa|Sofia|Tara|Uma|Vera|Wendy|Xenia|Yara|Zoë|Aiko|Björk|Carmen|Dolores|Elif|"
    "Freya|Greta|Helena|Inès|Julia|Katja|Lucía|Marta|Noor"
)
_LAST = _names(
    "Adams|Berg|Castillo|Dubois|Eriksson|Fischer|García|Hansen|Ivanova|Jensen|Kowalski|"
    "Larsen|Moreau|Novak|Olsen|Petrov|Quintero|Rossi|Schmidt|Tanaka|Ueda|Vargas|Weber|"
    "Xu|Young|Zielińska|Åberg|Müller|Søndergaard|O'Neill"
)
_TAGS = _names(
    "Outdoor|Indoor|Beach|Pool|Kitchen|Office|Hotel|Garden|Studio|Vintage|Retro|POV|"
    "Interview|Behind The Scenes|Compilation|Solo|Duo|Group|Romantic|Casual|Cosplay|Dance|"
    "Massage|Yoga|Fitness|Lingerie|Stockings|Heels|Blonde|Brunette|Redhead|Tattoo|Piercing|"
    "Natural|Petite|Tall|Curvy|Athletic|Amateur|Professional|4K|HD|VR|60fps|Widescreen|"
    "Black And White|Night|Morning|Summer|Winter|Rain|Snow|Travel|Road Trip|Cabin|Loft|"
    "Penthouse|Rooftop|Balcony|Car|Boat|Forest|Desert|Mountain|Lake|Sauna|Shower|Bathtub|"
    "Bedroom|Living Room|Couch|Library|Classroom|Gym|Spa|Party|Wedding|Costume|Uniform|"
    "Glasses|Long Hair|Short Hair|Braids|Ponytail|Freckles|Smile|Teasing|Slow|Intense|"
    "Playful|Elegant|Artistic|Cinematic|Documentary|Parody|Series|Episode|Pilot|Remastered"
)
_WORDS = _names(
    "afternoon|after|again|alone|amber|arrival|autumn|away|bright|brief|calm|city|close|"
    "coast|cold|dawn|day|deep|distant|dream|early|easy|echo|evening|falling|first|free|"
    "friend|garden|gentle|glow|golden|heart|heat|hidden|high|home|hour|last|late|light|"
    "long|lost|love|moment|morning|new|night|north|ocean|open|paper|quiet|rain|river|road|"
    "room|secret|shadow|silver|simple|slow|soft|south|spring|star|still|stranger|summer|"
    "sun|sweet|tender|time|together|touch|town|velvet|view|warm|water|weekend|west|wild|"
    "window|winter|wish|young"
)


@dataclass(frozen=True)
class SceneSpec:
    """One scene of a generated library, as a user would have it in Stash and Plex."""

    title: str
    details: str
    date: str
    studio: str
    performers: tuple[str, ...]
    tags: tuple[str, ...]
    path: str
    size: int
    rating100: int | None


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 14))]
    return " ".join(words).capitalize() + "."


def make_library(n: int, seed: int = 1) -> list[SceneSpec]:
    """n scenes: a studio, 1-3 performers, 3-8 tags, details of a few hundred chars, a file
    at /data/Studios/<Studio>/<Year>/<Performer> - <Title> (<date>).mp4."""
    rng = random.Random(seed)
    studios = [f"{a} {b}" for a in _ADJECTIVES for b in _names(_NOUNS)]
    rng.shuffle(studios)
    studios = studios[: max(8, min(60, n // 40 or 8))]
    performers = [f"{f} {last}" for f in _FIRST for last in _LAST]
    rng.shuffle(performers)
    performers = performers[: max(20, min(900, n // 12 or 20))]
    specs, paths = [], set()
    for i in range(n):
        studio = rng.choice(studios)
        cast = tuple(rng.sample(performers, rng.randint(1, 3)))
        year = rng.randint(2008, 2025)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 5))).title()
        details = ""
        while len(details) < rng.randint(200, 480):
            details += (" " if details else "") + _sentence(rng)
        path = f"/data/Studios/{studio}/{year}/{cast[0]} - {title} ({date}).mp4"
        if path in paths:
            path = path[:-4] + f" [{i}].mp4"
        paths.add(path)
        specs.append(
            SceneSpec(
                title=title,
                details=details,
                date=date,
                studio=studio,
                performers=cast,
                tags=tuple(rng.sample(_TAGS, rng.randint(3, 8))),
                path=path,
                size=rng.randint(200_000_000, 4_000_000_000),
                rating100=rng.choice((None, 20, 40, 60, 80, 100)),
            )
        )
    return specs


def plex_title(path: str) -> str:
    """What Plex's scanner calls an item before anyone edits it: the file name."""
    return re.split(r"[\\/]", path)[-1].rsplit(".", 1)[0]


def populate(
    stash: FakeStash, plex: FakePlex, specs: Sequence[SceneSpec], covers: bool = True
) -> list[tuple[str, str]]:
    """Put the scenes into Stash and their files into Plex's section; [(scene_id, rk)]."""
    ids: dict[tuple[str, str], str] = {}

    def named(kind: str, name: str) -> str:
        key = (kind, name)
        if key not in ids:
            ids[key] = getattr(stash, f"add_{kind}")(name)
        return ids[key]

    pairs = []
    for spec in specs:
        scene_id = stash.add_scene(
            title=spec.title,
            details=spec.details,
            date=spec.date,
            studio=named("studio", spec.studio),
            performers=[named("performer", p) for p in spec.performers],
            tags=[named("tag", t) for t in spec.tags],
            files=[(spec.path, spec.size)],
            rating100=spec.rating100,
            cover=b"" if covers else None,
        )
        rating_key = plex.add_item(SECTION, plex_title(spec.path), files=[(spec.path, spec.size)])
        pairs.append((scene_id, rating_key))
    return pairs


# ---------------------------------------------------------------------------------------------
# The rig: fake Plex, fake Stash, the plugin installed as Stash installs it


class Rig:
    """Fakes in this process, the plugin run by a StashRunner, a data directory in a temp dir."""

    def __init__(
        self, settings: dict | None = None, tmp: Path | None = None, source: Path = ROOT
    ) -> None:
        self._own_tmp = tmp is None
        self.tmp = Path(tempfile.mkdtemp(prefix="plexsync-bench-")) if tmp is None else tmp
        self.plex = FakePlex(token=PLEX_TOKEN).start()
        self.plex.add_section("Movies", key=SECTION)
        self.stash = FakeStash().start()
        self.stash.plugin_settings = {
            "PlexSync": {"plexUrl": self.plex.url, "plexToken": PLEX_TOKEN, **(settings or {})}
        }
        self.plugin_dir = install_plugin(source, self.tmp / "plugins", name="PlexSync")
        self.plex_busy = Busy.wrap(self.plex, "_respond")
        self.stash_busy = Busy.wrap(self.stash, "_graphql")
        self._runs = 0
        self.data_dir = self.tmp / "data-0"
        self.runner = self._new_runner()

    def _new_runner(self) -> StashRunner:
        connection = self.stash.server_connection(self.plugin_dir, self.tmp / "stash-config")
        return StashRunner(
            self.plugin_dir, connection, env={"PLEXSYNC_DATA_DIR": str(self.data_dir)}
        )

    def fresh_data_dir(self) -> Path:
        """Point the plugin at a new, empty data directory (the old one's worker must be gone)."""
        self.stop_worker()
        self.runner.close()
        self._runs += 1
        self.data_dir = self.tmp / f"data-{self._runs}"
        self.runner = self._new_runner()
        return self.data_dir

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "worker.lock"

    def worker_pid(self) -> int | None:
        """The background worker's pid while one holds the lock."""
        from state.lock import WorkerLock

        if not self.lock_path.exists() or not WorkerLock(self.lock_path).running():
            return None
        with contextlib.suppress(ValueError, OSError):
            return int(self.lock_path.read_text().strip())
        return None

    def worker_running(self) -> bool:
        from state.lock import WorkerLock

        return self.lock_path.exists() and WorkerLock(self.lock_path).running()

    def wait_worker_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.worker_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop_worker(self, timeout: float = 30.0) -> None:
        """Let a background worker finish; SIGKILL it (by its pid) if it outstays `timeout`."""
        if self.wait_worker_idle(timeout):
            return
        pid = self.worker_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait_worker_idle(10)

    def pending(self) -> int:
        """Jobs in the queue, ready or in flight."""
        from state.queue import JobQueue

        if not (self.data_dir / "queue").exists():
            return 0
        queue = JobQueue(self.data_dir / "queue")
        try:
            return queue.ready() + queue.in_flight()
        finally:
            queue.close()

    def end_idle_worker(self, timeout: float = 30.0) -> None:
        """Once the queue is empty, SIGKILL the lingering worker instead of waiting out its
        linger (what it would do next is exit)."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stop_worker(timeout=0)

    def close(self) -> None:
        self.stop_worker()
        self.runner.close()
        self.plex.stop()
        self.stash.stop()
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Busy:
    """Seconds a fake spent answering (its own CPU time under the GIL, latency excluded)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    @classmethod
    def wrap(cls, obj, name: str) -> Busy:
        busy = cls()
        inner = getattr(obj, name)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                with busy._lock:
                    busy.seconds += time.perf_counter() - started
                    busy.calls += 1

        setattr(obj, name, timed)
        return busy

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.calls = 0.0, 0


def checkout(rev: str, into: Path) -> Path:
    """This repository's files at commit `rev` (`git archive`) in `into`: an older plugin to
    run side by side with this checkout, on the same machine, in the same run."""
    import io
    import subprocess
    import tarfile

    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


# ---------------------------------------------------------------------------------------------
# Peak RSS of plugin processes


def vm_hwm_kib(pid: int | str) -> int | None:
    """Peak resident set size of a live process (VmHWM), KiB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class PeakRSS:
    """Polls /proc for processes whose command line contains `marker` (the plugin folder) and
    keeps each one's VmHWM (its peak RSS so far): a process's peak is read before it exits."""

    def __init__(self, marker: str, every: float = 0.02) -> None:
        self.marker = marker.encode()
        self.every = every
        self.peaks: dict[int, tuple[str, int]] = {}  # pid -> (command kind, peak KiB)
        self._seen: dict[int, float] = {}  # pid -> when it was last seen not to be ours
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _kind(self, pid: int) -> str | None:
        """ "worker", "task/hook" or None. Read again at every sample: a process just forked
        shows its parent's command line until it execs (a hook's child becomes a worker)."""
        now = time.monotonic()
        cached = self._seen.get(pid)
        if cached is not None and now - cached < 0.25:
            return None  # not ours a moment ago
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            return None
        if self.marker not in b" ".join(argv):
            self._seen[pid] = now
            return None
        self._seen.pop(pid, None)
        return "worker" if b"worker" in argv else "task/hook"

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)
        self.sample()

    def sample(self) -> None:
        with self._lock:
            self._sample()

    def pids(self, kind: str | None = None) -> set[int]:
        """Processes seen so far (of one kind)."""
        with self._lock:
            return {pid for pid, (k, _) in self.peaks.items() if kind is None or k == kind}

    def _sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            kind = self._kind(pid)
            if kind is None:
                continue
            peak = vm_hwm_kib(pid)
            if peak is None:
                continue
            old_kind, old_peak = self.peaks.get(pid, (kind, 0))
            # an exec replaces the address space, and VmHWM starts again with it
            self.peaks[pid] = (kind, peak if old_kind != kind else max(old_peak, peak))

    def peak_mib(self, kind: str | None = None) -> float | None:
        with self._lock:
            values = [kib for k, kib in self.peaks.values() if kind is None or k == kind]
        return max(values) / 1024 if values else None


# ---------------------------------------------------------------------------------------------
# Statistics and tables


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms_stats(seconds: Sequence[float]) -> tuple[float, float, float]:
    """(median, p95, max) in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return statistics.median(ms), percentile(ms, 95), max(ms)


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "-"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 0.1:
            return f"{value:.2f}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """A small aligned table: text columns left, numbers right."""
    cells = [[fmt(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) if rows else False
        for i in range(len(columns))
    ]
    widths = [max([len(columns[i])] + [len(row[i]) for row in cells]) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(f"\n## {title}")
    print(line(columns))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def note(text: str) -> None:
    print(f"   {text}")


@dataclass
class Stopwatch:
    """Wall time of a block: `with Stopwatch() as sw: ...; sw.seconds`."""

    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._started


def repeat(fn: Callable[[], object], times: int) -> list[float]:
    """Wall time of `times` calls of fn, each alone."""
    out = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def latency_label(latency: float) -> str:
    return f"{latency * 1000:g} ms"


# ---------------------------------------------------------------------------------------------
# Profiling a plugin process


def profile_task(rig: Rig, mode: str, out: Path, top: int = 30, sort: str = "tottime") -> float:
    """Run a task as Stash would (same stdin, env, cwd) but under cProfile; print the top
    functions and return the wall time. The profile is kept in `out` for snakeviz/pstats."""
    import pstats
    import subprocess
    import sys

    runner = rig.runner
    payload = runner.stdin_payload(runner.task_args(mode))
    env = {**os.environ, **runner.env}
    parent = str(runner.plugin_dir.parent)
    env["PYTHONPATH"] = parent if "PYTHONPATH" not in env else env["PYTHONPATH"] + ":" + parent
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), str(rig.plugin_dir / "plexsync.py")]
    started = time.perf_counter()
    done = subprocess.run(argv, input=payload, capture_output=True, cwd=runner.cwd, env=env)
    wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"profiled {mode} failed: {done.stderr.decode()[-2000:]}")
    print(f"\n## cProfile of {mode}: {wall:.2f} s wall (profile in {out})")
    pstats.Stats(str(out)).sort_stats(sort).print_stats(top)
    return wall
