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


def test_errors_py_imports_none_of_the_parts():
    assert _imported_packages(ROOT / "errors.py") & set(ORDER) == set()


def test_the_checker_sees_a_wrong_way_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from entry.tasks import sync_all\n    import worker.loop\n")
    assert _imported_packages(sample) >= {"entry", "worker"}
