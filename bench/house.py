"""The shape of the source: what a newcomer has to read, and what one scene edit passes through.

Prints the layout (each part's modules) and source lines per part, the largest module and
function, the broad `except Exception` handlers, the places that apply a routing decision,
the modules that know each file format (SQL on its tables, its library, its constants), mypy's
verdict on the engine and the clients when mypy is installed, and a trace of one title edit
of a synced scene from the hook to the PUT (the real hook and worker, in-process, against
the fake Stash and Plex): the functions and modules of our source it calls and the Plex
requests it makes. Not a timing: a count. It reads whichever checkout it runs in, so the
same script measures a before and an after.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench._common import ROOT, print_table

SOURCE_DIRS = ("entry", "plex", "stash", "state", "tools", "worker")
SOURCE_FILES = ("plexsync.py", "errors.py", "config.py", "logs.py", "setting_names.py")
# what applies routing.decide's decision to jobs, in each layout this script has measured
DECISION_APPLIERS = ("settler.settle", "self._route", "self._settle")
# Each file PlexSync keeps, and what in a module shows it knows that file's format.
_SQL = r"\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\s+`?"
FILE_FORMATS = {
    "queue/ (persist-queue)": re.compile(
        r"ack_queue_default|(?:from|import) persistqueue\b"
        r"|(?:jobqueue|state\.queue) import[^\n]*\b(?:TABLE|DB_FILE|ACKED|INSERT|parse_row)\b"
    ),
    "state.db": re.compile(
        _SQL + r"(?:delayed|failures|dead_letter|sync_state|scans|activity_views|meta)\b"
    ),
    "plex_index.db": re.compile(_SQL + r"(?:parts|items|sections)\b"),
    "worker.lock": re.compile(r"fcntl\.flock|msvcrt\.locking"),
    "worker.log": re.compile(r"LOG_EVENT\.match|RotatingFileHandler|FileHandler\("),
}
MYPY_PARTS = ("worker", "state", "plex", "stash")


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


def format_knowers(files: list[Path]) -> dict[str, list[str]]:
    """For each file format, the modules whose text shows they read or write it."""
    found: dict[str, list[str]] = {name: [] for name in FILE_FORMATS}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for name, pattern in FILE_FORMATS.items():
            if pattern.search(text):
                found[name].append(str(path.relative_to(ROOT)))
    return found


def mypy_verdict() -> str:
    """mypy's last line over the engine and the clients (with the settings of pyproject.toml
    when it has them), or why it did not run."""
    parts = [p for p in MYPY_PARTS if (ROOT / p).is_dir()]
    try:
        import mypy  # noqa: F401
    except ImportError:
        return "mypy not installed"
    command = [sys.executable, "-m", "mypy"]
    if "[tool.mypy]" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8"):
        command += ["--ignore-missing-imports", "--python-version", "3.10", *parts]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    return f"{lines[-1] if lines else done.stderr.strip()[:200]} ({', '.join(parts)})"


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
            plex.reset_log()
            calls = _traced(lambda: _hook(s.data.root, scene_id)) | _traced(s.worker.run_once)
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


def _hook(data_dir: str, scene_id) -> None:
    """The hook of a title edit, as Stash runs it (without starting a worker: the worker
    runs here, traced)."""
    from entry.hook import handle_hook

    context = {"id": int(scene_id), "type": "Scene.Update.Post", "inputFields": ["title"]}
    os.environ["PLEXSYNC_DATA_DIR"] = data_dir
    try:
        assert handle_hook({}, context, start=False) == "queued"
    finally:
        del os.environ["PLEXSYNC_DATA_DIR"]


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
    files = source_files()
    found = shape(files)
    by_part: dict[str, list[str]] = {}
    for path in files:
        by_part.setdefault(part(path), []).append(path.name)
    for name, modules in sorted(by_part.items()):
        print(f"layout: {name}: {' '.join(modules)}")
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
            ("hook to PUT, one title edit: functions / modules", _pair(edit)),
            ("one title edit: Plex requests", str(edit["plex_requests"])),
            *[
                (f"modules that know {name}", str(len(knowers)))
                for name, knowers in format_knowers(files).items()
            ],
            ("mypy", mypy_verdict()),
        ],
    )
    for name, knowers in format_knowers(files).items():
        print(f"knows {name}: " + " ".join(knowers))
    for label in ("modules_over_300", "functions_over_40", "broad_excepts", "route_sites"):
        print(f"{label}: " + "; ".join(str(x) for x in found[label]))
    print(
        "one title edit, functions per module: "
        + ", ".join(f"{m} {n}" for m, n in edit["by_module"].most_common())
    )


def _pair(edit: dict) -> str:
    return f"{edit['functions']} / {edit['modules']}"


if __name__ == "__main__":
    main()
