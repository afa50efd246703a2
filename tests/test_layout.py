"""The folders are the parts, and imports point one way (docs/architecture.md):

    plexsync.py -> entry -> worker -> stash -> config -> plex -> state -> logs -> errors.py

Read from the source with `ast`, function-level (lazy) imports included: a lazy import that
points the wrong way couples the parts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# each may import only those after it; a folder is a package, config and logs are modules
ORDER = ["entry", "worker", "stash", "config", "plex", "state", "logs"]


def _sources(part: str) -> list[Path]:
    folder = ROOT / part
    return sorted(folder.glob("*.py")) if folder.is_dir() else [ROOT / f"{part}.py"]


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ORDER)
def test_a_part_imports_only_the_parts_below_it(package):
    above = set(ORDER[: ORDER.index(package)])
    wrong = {
        path.relative_to(ROOT).as_posix(): sorted(_imported_packages(path) & above)
        for path in _sources(package)
    }
    assert {name: found for name, found in wrong.items() if found} == {}


@pytest.mark.parametrize("neutral", ["errors.py", "setting_names.py"])
def test_the_neutral_modules_import_none_of_the_parts(neutral):
    """Every part may import these two, so they import none of ours."""
    assert _imported_packages(ROOT / neutral) & (set(ORDER) | {"errors", "setting_names"}) == set()


def test_the_checker_sees_a_wrong_way_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from entry.tasks import sync_all\n    import worker.loop\n")
    assert _imported_packages(sample) >= {"entry", "worker"}


# The hook path's modules (the rule is stated in entry/hook.py's docstring) and what they may
# import at their top: each other and these standard modules; heavier ones inside functions.
HOOK_PATH = {
    "plexsync.py",
    "entry/__init__.py",
    "entry/plugin.py",
    "entry/hook.py",
    "errors.py",
    "state/__init__.py",
    "state/jobs.py",
    "state/datadir.py",
    "state/queue.py",
    "state/lock.py",
    "worker/__init__.py",
    "worker/spawn.py",
}
HOOK_STANDARD = {"__future__", "os", "sys", "json", "time", "sqlite3", "fcntl", "msvcrt"}


def _module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _top_imports(path: Path) -> set[str]:
    """Modules imported when `path` is imported: its top level, `if` blocks included, but
    not function bodies nor `if TYPE_CHECKING:` blocks."""
    found: set[str] = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                body += node.body + node.orelse
        elif isinstance(node, ast.Try):
            body += node.body + node.orelse + node.finalbody
    return found


def test_the_hook_path_imports_only_itself_and_light_standard_modules():
    ours = {_module_name(path) for path in HOOK_PATH}
    wrong = {path: sorted(_top_imports(ROOT / path) - ours - HOOK_STANDARD) for path in HOOK_PATH}
    assert {path: found for path, found in wrong.items() if found} == {}


def test_the_hook_path_checker_sees_a_heavy_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom dataclasses import dataclass\nTYPE_CHECKING = False\n"
        "if TYPE_CHECKING:\n    import typing\nif os.name:\n    import logging\n"
        "def f():\n    import subprocess\n"
    )
    assert _top_imports(sample) == {"os", "dataclasses", "logging"}
