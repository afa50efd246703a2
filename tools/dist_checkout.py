"""What the checkout gives the package: the plugin's own files, and the release's version and date.

Part of `python -m tools.build_dist` (its docstring tells the whole build); the vendored
dependencies are tools/dist_vendor.py's, the zip and the index tools/build_dist.py's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from tools import lock as lockfile

PLUGIN_ID = "PlexSync"
MANIFEST = f"{PLUGIN_ID}.yml"
ROOT_FILES = (
    MANIFEST,
    "plexsync.py",
    "errors.py",
    "config.py",
    "logs.py",
    "setting_names.py",
    "LICENSE",
    "README.md",
)
OPTIONAL_ROOT_FILES = ("README.md",)  # warned about, not fatal, while the docs are written
PACKAGES = ("entry", "plex", "stash", "state", "worker")
DROPPED_DIRS = {"__pycache__", "tests", "test"}


class BuildError(Exception):
    """The package cannot be built; the message says why."""


@dataclass(frozen=True)
class Release:
    """What the index says about this build."""

    version: str
    date: datetime  # UTC


# -- the release: version and date


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def release_info(root: Path, base_version: str, override: str | None = None) -> Release:
    """The version and date the index gives this build.

    The manifest's version on a commit tagged `v<version>`, else `<version>-<short commit>`;
    uncommitted changes add `-dirty` and date the build now, a clean tree is dated by its
    commit. SOURCE_DATE_EPOCH, when set, fixes the date (reproducible builds)."""
    commit = _git(root, "rev-parse", "--short=7", "HEAD")
    if not commit:
        raise BuildError(f"{root} is not a git checkout with a commit: the build ships commits")
    stamp = _git(root, "log", "-1", "--format=%ct")
    dirty = bool(_git(root, "status", "--porcelain", "--", *_shipped(root)))
    tags = (_git(root, "tag", "--points-at", "HEAD") or "").split()
    version = base_version
    if dirty or f"v{base_version}" not in tags:
        version += f"-{commit}" + ("-dirty" if dirty else "")
    if os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = os.environ["SOURCE_DATE_EPOCH"]
    elif dirty:  # built from files no commit holds: newer than the commit
        stamp = None
    moment = datetime.fromtimestamp(int(stamp), timezone.utc) if stamp else _now()
    return Release(override or version, moment.replace(microsecond=0))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _shipped(root: Path) -> list[str]:
    """The checkout paths the package is made of (for the dirty-tree check)."""
    shipped = (*ROOT_FILES, *PACKAGES, "ui", "requirements.txt", lockfile.LOCK_NAME)
    return [name for name in shipped if (root / name).exists()]


def refuse_untracked(root: Path, names: list[str]) -> None:
    """Every file the zip takes from the checkout must be one git tracks.

    An untracked file would ship in a package whose version names a commit without it."""
    listed = _git(root, "ls-files", "-z", "--", *names)
    if listed is None:
        raise BuildError(f"git could not list the files of {root}")
    untracked = sorted(set(names) - set(listed.split("\0")))
    if untracked:
        raise BuildError(
            f"refusing to ship untracked files: {', '.join(untracked)} "
            "(commit them, or move them out of the plugin's folders)"
        )


# -- the plugin's own files


def read_manifest(root: Path) -> dict:
    """The plugin manifest's top-level keys."""
    data = yaml.safe_load((root / MANIFEST).read_text(encoding="utf-8")) or {}
    for key in ("name", "description", "version"):
        if not data.get(key):
            raise BuildError(f"{MANIFEST} has no {key!r}")
    return data


def plugin_files(
    root: Path, version: str, warn: Callable[[str], None], url: str | None = None
) -> dict[str, bytes]:
    """The plugin's own files by zip path: root files and the packages' .py files; the
    manifest stamped with the release's version (and `url`, when given)."""
    found = _root_files(root, warn)
    for package in PACKAGES:
        found.extend(_package_files(root, package))
    for name in ui_files(root):  # what Stash serves at /plugin/PlexSync/javascript and /css
        if not (root / name).is_file():
            raise BuildError(f"{MANIFEST} lists {name} under ui:, but it is missing")
        found.append(name)
    refuse_symlinks(root, found)  # before reading any: a link may point at a device
    files = {name: (root / name).read_bytes() for name in found}
    files[MANIFEST] = stamp_manifest(files[MANIFEST], version, url)
    return files


def refuse_symlinks(root: Path, names: list[str]) -> None:
    """No shipped file may be a symbolic link, or sit in a linked folder: git keeps only the
    link, so the zip would hold whatever it points at (a file of the build machine) under a
    version that names a clean commit."""
    linked = sorted(name for name in names if _through_link(root, name))
    if linked:
        raise BuildError(
            f"refusing to ship symbolic links: {', '.join(linked)} (a link ships what it "
            "points at, which no commit holds; commit the file itself)"
        )


def _through_link(root: Path, name: str) -> bool:
    path = root
    for part in Path(name).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _root_files(root: Path, warn: Callable[[str], None]) -> list[str]:
    """The files at the top of the plugin's folder that are there, by name."""
    names = []
    for name in ROOT_FILES:
        path = root / name
        if not path.is_file():
            if name in OPTIONAL_ROOT_FILES:
                warn(f"warning: {name} is missing; the package is built without it")
                continue
            raise BuildError(f"{path} is missing")
        names.append(name)
    return names


def _package_files(root: Path, package: str) -> list[str]:
    """One package's .py files by zip path, without caches and tests."""
    names = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root)
        if DROPPED_DIRS.isdisjoint(relative.parts[:-1]):
            names.append(relative.as_posix())
    if f"{package}/__init__.py" not in names:
        raise BuildError(f"{package}/__init__.py is missing")
    return names


def ui_files(root: Path) -> list[str]:
    """The manifest's `ui.javascript` and `ui.css` files (URLs are Stash's to fetch, not ours)."""
    ui = read_manifest(root).get("ui") or {}
    names = [*(ui.get("javascript") or []), *(ui.get("css") or [])]
    return [name for name in names if not name.startswith(("http://", "https://"))]


def stamp_manifest(text: bytes, version: str, url: str | None = None) -> bytes:
    """The manifest with its top-level `version:` set to the release's (Stash shows it), and
    with `url:` set to the repository the release is built from, when given: the repository
    names no address of its own, so a fork's package points at the fork."""
    line = f"version: {json.dumps(version)}".encode()
    if url:
        line += f"\nurl: {json.dumps(url)}".encode()
        text = re.sub(rb"(?m)^url:[^\r\n]*\r?\n", b"", text)
    stamped, count = re.subn(rb"(?m)^version:[^\r\n]*", lambda _: line, text, count=1)
    if count != 1:
        raise BuildError(f"{MANIFEST} has no top-level version line")
    return stamped
