"""Every benchmark runs in --quick mode and prints its table of figures (no timing asserted).

The benchmarks measure; this only proves each still runs end to end against the current code
and prints a table with numbers in it (plus the sanity figures a benchmark reports about
itself, such as every hook queued and every scene synced).
"""

from __future__ import annotations

import importlib
import re

import pytest

BENCHMARKS = [
    "hook_latency",
    "hook_cost",
    "end_to_end",
    "full_sync",
    "index",
    "queue",
    "sync_50k",
    "ui_state",
    "verify",
    "activity",
    "house",
    "plex_load",
]
NUMBER = re.compile(r"\d")


def tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The tables a benchmark printed: title -> rows as {column: cell}."""
    found: dict[str, list[dict[str, str]]] = {}
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if not line.startswith("## "):
            continue
        header, rule = lines[at + 1], lines[at + 2]
        spans = [m.span() for m in re.finditer(r"-+", rule)]
        rows = []
        for body in lines[at + 3 :]:
            if not body.strip() or body.startswith(("   ", "##")):
                break
            rows.append(
                {
                    header[a : b if i + 1 < len(spans) else None].strip(): body[
                        a : spans[i + 1][0] if i + 1 < len(spans) else None
                    ].strip()
                    for i, (a, b) in enumerate(spans)
                }
            )
        found[line[3:]] = rows
    return found


@pytest.mark.parametrize("name", BENCHMARKS)
def test_quick_benchmark_prints_its_figures(name, capsys):
    importlib.import_module(f"bench.{name}").main(["--quick"])
    printed = tables(capsys.readouterr().out)
    assert printed, f"{name} printed no table"
    title, rows = next(iter(printed.items()))
    assert title.startswith(f"{name}:")
    assert rows, f"{name}'s table has no rows"
    for row in rows:
        assert sum(bool(NUMBER.search(cell)) for cell in row.values()) >= 2, row
    if "not queued" in rows[0]:
        assert {row["not queued"] for row in rows} <= {"0", "-"}
    if "synced ok" in rows[0]:
        assert all(row["synced ok"] == row["scenes"] for row in rows)


def test_bench_lists_every_benchmark(capsys):
    from bench.__main__ import main

    assert main([]) == 0
    listed = capsys.readouterr().out
    for name in BENCHMARKS:
        assert name in listed
    assert "_common" not in listed
