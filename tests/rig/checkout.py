"""A throwaway git repository holding a copy of this checkout, for tests that commit, tag
or plant files: the release command and the build are tried there, never on this repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# A fixed identity and no signing, whatever the developer's global git configuration says.
_CONFIG = {
    "user.name": "PlexSync tests",
    "user.email": "tests@plexsync.invalid",
    "commit.gpgsign": "false",
    "tag.gpgsign": "false",
    "core.autocrlf": "false",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its stdout, stripped. Fails the test on a non-zero exit."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def copy_checkout(src: Path, dest: Path, files: list[str] | None = None) -> Path:
    """`dest` as a new repository with one commit: `files`, or every file git would keep
    in `src` (tracked and not ignored, as they are in the working tree now)."""
    if files is None:
        listed = git(src, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        files = [name for name in listed.split("\0") if name and (src / name).is_file()]
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dest / name)
    git(dest, "init", "--quiet", "--initial-branch=main")
    for key, value in _CONFIG.items():
        git(dest, "config", key, value)
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "-m", "copy of the checkout")
    return dest
