"""`python3 dev.py release X.Y.Z`, run as a command on a throwaway copy of the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.rig.checkout import copy_checkout, git
from tools import release

FILES = ["PlexSync.yml", "pyproject.toml", "CHANGELOG.md", "README.md"]
DATE = "2026-12-24"
FORK = "some-owner/PlexSync"


@pytest.fixture
def repo(tmp_path) -> Path:
    """The release's files of this checkout, committed in a repository of their own, whose
    origin is a fork's (the changelog links to it)."""
    repo = copy_checkout(ROOT, tmp_path / "repo", FILES)
    git(repo, "remote", "add", "origin", f"https://github.com/{FORK}.git")
    return repo


def run_release(repo: Path, *words: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tools.release", "--root", str(repo), "--date", DATE]
    return subprocess.run([*command, *words], cwd=ROOT, capture_output=True, text=True)


def test_release_bumps_moves_the_changelog_commits_and_tags(repo) -> None:
    before = (repo / "CHANGELOG.md").read_text()
    unreleased = release.notes(before.replace("## [Unreleased]", "## [next]"), "next")
    done = run_release(repo, "1.1.0")
    assert done.returncode == 0, done.stderr
    assert "git push origin HEAD v1.1.0" in done.stdout
    assert yaml.safe_load((repo / "PlexSync.yml").read_text())["version"] == "1.1.0"
    assert 'version = "1.1.0"' in (repo / "pyproject.toml").read_text()
    after = (repo / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [1.1.0] - {DATE}\n\n" in after
    assert release.notes(after, "1.1.0") == unreleased
    assert f"[Unreleased]: https://github.com/{FORK}/compare/v1.1.0...HEAD" in after
    assert f"[1.1.0]: https://github.com/{FORK}/releases/tag/v1.1.0" in after
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s") == "Release 1.1.0"
    assert git(repo, "tag", "--points-at", "HEAD") == "v1.1.0"
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == ["CHANGELOG.md", "PlexSync.yml", "pyproject.toml"]
    notes = run_release(repo, "notes", "1.1.0")
    assert notes.returncode == 0 and notes.stdout == unreleased


def test_the_next_release_links_from_the_previous_one(repo) -> None:
    assert run_release(repo, "1.1.0").returncode == 0
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text().replace(
        "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n\n- Something.\n", 1
    )
    changelog.write_text(text)
    git(repo, "commit", "--quiet", "-am", "a fix")
    done = run_release(repo, "1.1.1")
    assert done.returncode == 0, done.stderr
    after = changelog.read_text()
    assert f"[1.1.1]: https://github.com/{FORK}/compare/v1.1.0...v1.1.1" in after
    assert f"[1.1.0]: https://github.com/{FORK}/releases/tag/v1.1.0" in after
    assert after.count("[Unreleased]: ") == 1
    assert release.notes(after, "1.1.1") == "### Fixed\n\n- Something.\n"
    assert release.notes(after, "1.1.0").startswith("Nothing has been released yet")


@pytest.mark.parametrize("dirt", ["modified", "untracked"])
def test_a_dirty_tree_is_refused_and_left_alone(repo, dirt) -> None:
    if dirt == "modified":
        (repo / "README.md").write_text("edited\n")
    else:
        (repo / "notes.txt").write_text("not committed\n")
    head = git(repo, "rev-parse", "HEAD")
    done = run_release(repo, "1.1.0")
    assert done.returncode == 1
    assert done.stderr.startswith("release: the working tree is not clean; commit or stash first:")
    assert ("README.md" if dirt == "modified" else "notes.txt") in done.stderr
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "tag") == ""
    assert yaml.safe_load((repo / "PlexSync.yml").read_text())["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.1", "'1.1' is not a version like 1.2.3"),
        ("v1.1.0", "'v1.1.0' is not a version like 1.2.3"),
        ("0.9.0", "0.9.0 is older than PlexSync.yml's version 1.0.0"),
    ],
)
def test_a_bad_version_is_refused(repo, version, message) -> None:
    done = run_release(repo, version)
    assert (done.returncode, done.stderr) == (1, f"release: {message}\n")
    assert git(repo, "log", "--format=%s") == "copy of the checkout"


def test_a_tagged_version_or_an_empty_unreleased_section_is_refused(repo) -> None:
    assert run_release(repo, "1.0.0").returncode == 0  # the manifest's own: the first release
    again = run_release(repo, "1.0.0")
    assert (again.returncode, again.stderr) == (1, "release: v1.0.0 is already tagged\n")
    empty = run_release(repo, "1.0.1")
    assert empty.returncode == 1
    assert empty.stderr == (
        "release: CHANGELOG.md's Unreleased section is empty: write what changed first\n"
    )
    assert git(repo, "tag") == "v1.0.0"


def test_the_changelog_starts_in_keep_a_changelog_form() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    assert text.count("## [Unreleased]") == 1
    assert "### Added" in release.notes(text.replace("[Unreleased]", "[next]"), "next")
