"""Prepare a release, or print one's notes.

    python3 dev.py release X.Y.Z [--date YYYY-MM-DD]   (python -m tools.release X.Y.Z)
    python -m tools.release notes X.Y.Z

`release` refuses a working tree with uncommitted changes or untracked files, a version that
is not X.Y.Z, older than the manifest's or already tagged, and a CHANGELOG.md whose
"Unreleased" section is empty. Then it sets `version:` in PlexSync.yml (and pyproject.toml),
moves the Unreleased entries under `## [X.Y.Z] - <date, UTC>` with an empty Unreleased above,
updates the compare links (to the repository of the `origin` remote: a fork's own), commits
"Release X.Y.Z" and tags it vX.Y.Z. It pushes nothing: it prints the push that publishes the
release (the Publish workflow runs on the tag).
`notes` prints a version's changelog entries; the Publish workflow uses them for the GitHub
release. Standard library only: the workflow runs it without a virtual environment.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "PlexSync.yml"
CHANGELOG = "CHANGELOG.md"
PYPROJECT = "pyproject.toml"
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n(.*?)(?=^## \[|^\[[^\]]+\]: |\Z)", re.M | re.S)


class ReleaseError(Exception):
    """The release cannot be prepared; the message says why and what to do."""


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def manifest_field(text: str, field: str) -> str:
    """A top-level scalar of the manifest (`version`, `url`), without quotes."""
    found = re.search(rf"(?m)^{field}:[ \t]*(\S[^\r\n]*)$", text)
    if not found:
        raise ReleaseError(f"{MANIFEST} has no top-level {field}: line")
    return found.group(1).strip().strip("\"'")


_REMOTE = re.compile(
    r"(?:https://(?:[^@/]+@)?|ssh://git@|git@)([\w.-]+)[/:]([\w./-]+?)(?:\.git)?/?"
)


def repository_url(root: Path) -> str:
    """The web address of the repository the release is made in, from its `origin` remote
    (a fork links its changelog to itself), without any credentials the remote holds."""
    remote = _git(root, "remote", "get-url", "origin")
    found = _REMOTE.fullmatch(remote)
    if not found:
        raise ReleaseError("the origin remote is not a repository address to link the changelog to")
    return f"https://{found.group(1)}/{found.group(2)}"


def set_version(text: str, pattern: str, line: str, name: str) -> str:
    changed, count = re.subn(pattern, lambda _: line, text, count=1, flags=re.M)
    if count != 1:
        raise ReleaseError(f"{name} has no version line to change")
    return changed


def move_unreleased(text: str, version: str, date: str, repo_url: str, previous: str | None) -> str:
    """CHANGELOG.md with the Unreleased entries under `## [version] - date`, links updated."""
    found = _UNRELEASED.search(text)
    if not found:
        raise ReleaseError(f"{CHANGELOG} has no '## [Unreleased]' section")
    entries = found.group(1).strip()
    if not entries:
        raise ReleaseError(f"{CHANGELOG}'s Unreleased section is empty: write what changed first")
    section = f"## [Unreleased]\n\n## [{version}] - {date}\n\n{entries}\n\n"
    text = text[: found.start()] + section + text[found.end() :]
    text = re.sub(r"(?m)^\[Unreleased\]: .*\n?", "", text)
    since = f"compare/v{previous}...v{version}" if previous else f"releases/tag/v{version}"
    links = f"[Unreleased]: {repo_url}/compare/v{version}...HEAD\n[{version}]: {repo_url}/{since}\n"
    first_link = re.search(r"(?m)^\[[^\]]+\]: ", text)
    if first_link:
        return text[: first_link.start()] + links + text[first_link.start() :]
    return text.rstrip("\n") + "\n\n" + links


def notes(text: str, version: str) -> str:
    """The entries of one released version."""
    found = re.search(
        rf"(?ms)^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## \[|^\[[^\]]+\]: |\Z)", text
    )
    if not found or not found.group(1).strip():
        raise ReleaseError(f"{CHANGELOG} has no entries for {version}")
    return found.group(1).strip() + "\n"


def prepare(root: Path, version: str, date: str) -> str:
    """Bump, move the changelog, commit and tag; returns the tag."""
    if not VERSION.match(version):
        raise ReleaseError(f"{version!r} is not a version like 1.2.3")
    status = _git(root, "status", "--porcelain", "--untracked-files=all")
    if status:
        shown = "\n  ".join(status.splitlines()[:10])
        raise ReleaseError(f"the working tree is not clean; commit or stash first:\n  {shown}")
    manifest = (root / MANIFEST).read_text(encoding="utf-8")
    current = manifest_field(manifest, "version")
    if VERSION.match(current) and _key(version) < _key(current):
        raise ReleaseError(f"{version} is older than {MANIFEST}'s version {current}")
    tags = [t[1:] for t in _git(root, "tag", "--list", "v*").split() if VERSION.match(t[1:])]
    if version in tags:
        raise ReleaseError(f"v{version} is already tagged")
    previous = max(tags, key=_key) if tags else None
    repo_url = repository_url(root)
    changelog = (root / CHANGELOG).read_text(encoding="utf-8")
    edits = {
        CHANGELOG: move_unreleased(changelog, version, date, repo_url, previous),
        MANIFEST: set_version(manifest, r"^version:[^\r\n]*", f"version: {version}", MANIFEST),
    }
    if (root / PYPROJECT).exists():
        pyproject = (root / PYPROJECT).read_text(encoding="utf-8")
        line = f'version = "{version}"'
        edits[PYPROJECT] = set_version(pyproject, r'^version = "[^"\r\n]*"', line, PYPROJECT)
    for name, text in edits.items():
        (root / name).write_text(text, encoding="utf-8", newline="\n")
    _git(root, "commit", "--quiet", "-m", f"Release {version}", "--", *edits)
    _git(root, "tag", "--annotate", f"v{version}", "-m", f"PlexSync {version}")
    return f"v{version}"


def main(argv: list[str] | None = None) -> int:
    usage = "python3 dev.py release [--date YYYY-MM-DD] X.Y.Z | notes X.Y.Z"
    parser = argparse.ArgumentParser("python3 dev.py release", usage=usage, description=__doc__)
    parser.add_argument("--root", default=str(ROOT), help="the repository (default: this one)")
    parser.add_argument("--date", help="the release date, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("words", nargs="+", metavar="VERSION", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        if args.words[0] == "notes" and len(args.words) == 2:
            print(notes((root / CHANGELOG).read_text(encoding="utf-8"), args.words[1]), end="")
            return 0
        if len(args.words) != 1:
            parser.error("give one version, or `notes` and a version")
        date = args.date or datetime.now(timezone.utc).strftime("%Y-%m-%d")
        tag = prepare(root, args.words[0], date)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"Committed and tagged {tag}. Check it (git show), then publish it:")
    print(f"  git push origin HEAD {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
