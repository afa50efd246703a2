"""What the Stash runner itself costs: the tiny plugin's echo hook, sequential and concurrent."""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.rig.stash_runner import StashRunner, install_plugin

TINY = Path(__file__).resolve().parent.parent / "tests" / "rig" / "tiny_plugin"
HOOK = ("Scene.Update.Post", 1, {"id": "1", "title": "Bench"}, ["title"])


def summary(label: str, seconds: list[float]) -> str:
    """One line: count, median, p95 and max in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{label:34} n={len(ms):3}  median {statistics.median(ms):7.1f} ms"
        f"  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"
    )


def bare_python(runs: int) -> list[float]:
    """Wall time of `python -c pass`: the floor under any Python plugin."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return times


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench runner_overhead", description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=50, help="sequential runs (50)")
    parser.add_argument("-c", "--concurrent", type=int, default=30, help="concurrent hooks (30)")
    options = parser.parse_args(args)
    with tempfile.TemporaryDirectory() as tmp:
        plugin_dir = install_plugin(TINY, Path(tmp) / "plugins")
        with StashRunner(plugin_dir) as runner:
            runner.run_hook(*HOOK)  # warm the page cache
            sequential = runner.run_hooks_sequential([HOOK] * options.runs)
            started = time.perf_counter()
            concurrent = runner.run_hooks_concurrent([HOOK] * options.concurrent)
            batch = time.perf_counter() - started
    print(summary("python -c pass", bare_python(options.runs)))
    print(summary("echo hook, sequential", [r.wall_time for r in sequential]))
    print(summary("echo hook, all started at once", [r.wall_time for r in concurrent]))
    print(f"{'concurrent batch, first start to last':34} {batch * 1000:7.1f} ms")
