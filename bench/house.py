"""The shape of the source: what a newcomer has to read, and what one scene edit passes through.

Prints source lines per folder, the largest module and function, the broad `except Exception`
handlers, the places that apply a routing decision, and a trace of one title edit of a synced
scene (the real worker, in-process, against the fake Stash and Plex): the functions and
modules of our source it calls and the Plex requests it makes. Not a timing: a count.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench._common import ROOT, print_table

SOURCE_DIRS = ("entry", "plex", "stash", "tools", "worker")
SOURCE_FILES = ("plexsync.py", "errors.py")
# what applies routing.decide's decision to jobs: `settler.settle(...)`, before it `_route(...)`
DECISION_APPLIERS = ("settler.settle", "self._route")


def source_files() -> list[Path]:
    files = [ROOT / name for name in SOURCE_FILES]
    for folder in SOURCE_DIRS:
        files += sorted((ROOT / folder).glob("*.py"))
    return [f for f in files if f.exists()]


def part(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else "(top level)"


def shape(files: list[Path]) -> dict:
    lines, modules_per_part, functions, broad, routes = Counter(), Counter(), [], [], []
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines[part(path)] += len(text.splitlines())
        modules_per_part[part(path)] += 1
        for node in ast.walk(ast.parse(text)):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{where} {node.name}"))
            elif isinstance(node, ast.ExceptHandler) and _is_broad(node.type):
                broad.append(where)
            elif isinstance(node, ast.Call) and _called(node) in DECISION_APPLIERS:
                routes.append(where)
    modules = sorted((len(f.read_text().splitlines()), str(f.relative_to(ROOT))) for f in files)
    return {
        "lines": lines,
        "modules_per_part": modules_per_part,
        "modules": len(files),
        "largest_module": modules[-1],
        "largest_function": max(functions),
        "functions_over_40": sorted(f for f in functions if f[0] > 40),
        "modules_over_300": [m for m in modules if m[0] > 300],
        "broad_excepts": broad,
        "route_sites": routes,
    }


def _called(call: ast.Call) -> str:
    """`owner.method` of a method call (the owner's last name only), else ""."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return ""
    owner = func.value
    name = getattr(owner, "attr", None) or getattr(owner, "id", "")
    return f"{name}.{func.attr}"


def _is_broad(handler_type) -> bool:
    return handler_type is None or getattr(handler_type, "id", "") in ("Exception", "BaseException")


def trace_one_edit() -> dict:
    """Sync a scene, edit its title in Stash, and trace the worker's one iteration for it."""
    from tests.conftest import PLEX_TOKEN, add_synced_pair
    from tests.rig.fake_plex import FakePlex
    from tests.rig.fake_stash import FakeStash
    from tests.rig.stepper import Stepper

    plex = FakePlex(token=PLEX_TOKEN).start()
    plex.add_section("Movies", key="1")
    stash = FakeStash().start()
    settings = {"plexUrl": plex.url, "plexToken": PLEX_TOKEN}
    stash.plugin_settings = {"PlexSync": settings}
    with tempfile.TemporaryDirectory() as tmp:
        scene_id, _ = add_synced_pair(stash, plex, 1)[0]
        s = Stepper(Path(tmp) / "data", stash.server_connection(Path(tmp), Path(tmp)), settings)
        try:
            s.enqueue_scene(scene_id)
            s.worker.run_once()  # the first sync: connects, builds the path index
            stash.update_scene(str(scene_id), title="Edited title")
            s.enqueue_scene(scene_id)
            plex.reset_log()
            calls = _traced(s.worker.run_once)
        finally:
            s.close()
            stash.stop()
            plex.stop()
    ours = {(f, name) for f, name in calls if _is_ours(f)}
    return {
        "functions": len(ours),
        "modules": len({f for f, _ in ours}),
        "plex_requests": len(plex.requests),
        "by_module": Counter(str(Path(f).relative_to(ROOT)) for f, _ in ours),
    }


def _traced(run) -> set[tuple[str, str]]:
    calls: set[tuple[str, str]] = set()

    def profile(frame, event, _arg):
        if event == "call":
            code = frame.f_code
            calls.add((code.co_filename, code.co_qualname))

    import threading

    threading.setprofile(profile)  # the sync's pool of writers too
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return calls


def _is_ours(filename: str) -> bool:
    path = Path(filename)
    try:
        rel = path.relative_to(ROOT)
    except ValueError:
        return False
    return rel.parts[0] in SOURCE_DIRS or rel.name in SOURCE_FILES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same (it is quick)")
    parser.parse_args(argv)
    found = shape(source_files())
    rows = [
        (name, found["modules_per_part"][name], n) for name, n in sorted(found["lines"].items())
    ]
    rows.append(("total", found["modules"], sum(found["lines"].values())))
    print_table("house: source lines per part", ["part", "modules", "source lines"], rows)
    edit = trace_one_edit()
    print_table(
        "house: size, decisions, one title edit",
        ["figure", "value"],
        [
            ("largest module", "{} lines {}".format(*found["largest_module"])),
            ("largest function", "{} lines {}".format(*found["largest_function"])),
            ("modules over 300 lines", str(len(found["modules_over_300"]))),
            ("functions over 40 lines", str(len(found["functions_over_40"]))),
            ("broad except Exception", str(len(found["broad_excepts"]))),
            ("call sites applying a routing decision", str(len(found["route_sites"]))),
            ("one title edit: functions / modules", f"{edit['functions']} / {edit['modules']}"),
            ("one title edit: Plex requests", str(edit["plex_requests"])),
        ],
    )
    for label in ("modules_over_300", "functions_over_40", "broad_excepts", "route_sites"):
        print(f"{label}: " + "; ".join(str(x) for x in found[label]))
    print(
        "one title edit, functions per module: "
        + ", ".join(f"{m} {n}" for m, n in edit["by_module"].most_common())
    )


if __name__ == "__main__":
    main()
