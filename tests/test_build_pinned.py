"""The build ships what the lock pins and what git tracks, or refuses with a clear message.

Each test builds a throwaway copy of this checkout with `python -m tools.build_dist`, as a
developer or the Publish workflow would, with the copy's own build/wheels cache (seeded from
this checkout's, so only a missing wheel is fetched). Skipped without network when a wheel is
missing, except in CI, like tests/test_dist.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.rig.checkout import copy_checkout, git
from tools import build_dist
from tools import lock as lockfile

LOCK = lockfile.read(ROOT)
TENACITY = next(pin for pin in LOCK.pins if pin.name == "tenacity")
DIST_INFO = re.compile(r"vendor/([^/]+)-([^-/]+)\.dist-info/METADATA")
VERSION = yaml.safe_load((ROOT / "PlexSync.yml").read_text())["version"]


@pytest.fixture
def checkout(tmp_path) -> Path:
    repo = copy_checkout(ROOT, tmp_path / "repo")
    cache = repo / "build" / "wheels"
    cache.mkdir(parents=True)
    for wheel in (ROOT / "build" / "wheels").glob("*.whl"):
        shutil.copy2(wheel, cache)
    return repo


def build(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m tools.build_dist` run in the copy, so its ROOT is the copy."""
    command = [sys.executable, "-m", "tools.build_dist", "--out", str(repo / "dist"), *args]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    if done.returncode != 0 and "pip download failed" in done.stderr:
        if os.environ.get("CI"):
            pytest.fail(done.stderr)
        pytest.skip(f"pip could not download the locked wheels (no network?): {done.stderr}")
    return done


def fake_wheel(path: Path, name: str, version: str) -> Path:
    """A well-formed pure-Python wheel that is not the one the lock pins."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "PLANTED = True\n")
        info = f"{name}-{version}.dist-info"
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


def test_a_cached_wheel_with_a_hash_the_lock_does_not_list_is_refused(checkout) -> None:
    planted = checkout / "build" / "wheels" / f"tenacity-{TENACITY.version}-py3-none-any.whl"
    fake_wheel(planted, "tenacity", TENACITY.version)
    digest = hashlib.sha256(planted.read_bytes()).hexdigest()
    done = build(checkout)
    assert done.returncode == 1, done.stdout
    assert done.stderr == (
        f"build_dist: {planted}: sha256 {digest} is not in requirements-lock.txt "
        f"(tenacity=={TENACITY.version}); delete it and build again\n"
    )
    assert not (checkout / "dist" / "PlexSync.zip").exists()


def test_an_untracked_source_file_is_refused(checkout) -> None:
    (checkout / "worker" / "stray.py").write_text("print('not in any commit')\n")
    (checkout / "plexsync_local.py").write_text("# beside the package, not shipped: fine\n")
    done = build(checkout)
    assert done.returncode == 1, done.stdout
    assert done.stderr == (
        "build_dist: refusing to ship untracked files: worker/stray.py "
        "(commit them, or move them out of the plugin's folders)\n"
    )
    assert not (checkout / "dist").exists()


def test_wheels_the_lock_does_not_name_are_never_read(checkout) -> None:
    fake_wheel(
        checkout / "build" / "wheels" / "tenacity-9.9.9-py3-none-any.whl", "tenacity", "9.9.9"
    )
    done = build(checkout)
    assert done.returncode == 0, done.stderr
    assert f"tenacity {TENACITY.version}" in done.stdout and "9.9.9" not in done.stdout
    with zipfile.ZipFile(checkout / "dist" / "PlexSync.zip") as archive:
        names = archive.namelist()
        assert b"PLANTED" not in archive.read("vendor/tenacity/__init__.py")
    assert f"vendor/tenacity-{TENACITY.version}.dist-info/METADATA" in names
    assert not [name for name in names if "9.9.9" in name]


def test_the_zip_and_the_index_record_the_lock(checkout) -> None:
    done = build(checkout)
    assert done.returncode == 0, done.stderr
    lock_bytes = (ROOT / "requirements-lock.txt").read_bytes()
    digest = hashlib.sha256(lock_bytes).hexdigest()
    with zipfile.ZipFile(checkout / "dist" / "PlexSync.zip") as archive:
        assert archive.comment == f"requirements-lock.txt sha256: {digest}".encode()
        assert archive.read("vendor/requirements-lock.txt") == lock_bytes
        found = [DIST_INFO.fullmatch(name) for name in archive.namelist()]
    vendored = {lockfile.canonical(m[1]): m[2] for m in found if m}
    assert vendored == {pin.key[0]: pin.version for pin in LOCK.pins}
    index = (checkout / "dist" / "index.yml").read_text()
    assert index.startswith(f"# requirements-lock.txt sha256: {digest}\n- id: PlexSync\n")
    assert f"requirements-lock.txt sha256 {digest}" in done.stdout


def test_a_lock_older_than_requirements_txt_is_refused(checkout) -> None:
    with (checkout / "requirements.txt").open("a") as requirements:
        requirements.write("urllib3<3\n")
    git(checkout, "commit", "--quiet", "-am", "a new requirement")
    done = build(checkout)
    assert (done.returncode, done.stderr) == (
        1,
        "build_dist: requirements-lock.txt was not made from this requirements.txt: "
        "run `python3 dev.py lock`\n",
    )


def test_the_version_names_the_commit_unless_it_is_tagged_as_the_manifest_says(checkout) -> None:
    commit = git(checkout, "rev-parse", "--short=7", "HEAD")
    assert build_dist.release_info(checkout, VERSION).version == f"{VERSION}-{commit}"
    git(checkout, "tag", "v0.0.1")  # another version's tag: still a development build
    assert build_dist.release_info(checkout, VERSION).version == f"{VERSION}-{commit}"
    git(checkout, "tag", "--annotate", f"v{VERSION}", "-m", "release")
    assert build_dist.release_info(checkout, VERSION).version == VERSION
    (checkout / "errors.py").write_text("# an uncommitted change\n", encoding="utf-8")
    assert build_dist.release_info(checkout, VERSION).version == f"{VERSION}-{commit}-dirty"


def test_a_folder_that_is_not_a_git_checkout_is_refused(tmp_path) -> None:
    with pytest.raises(build_dist.BuildError, match="is not a git checkout with a commit"):
        build_dist.release_info(tmp_path, VERSION)


# -- the lock itself


def test_the_lock_is_current_and_in_pips_hash_checking_form() -> None:
    text = (ROOT / "requirements-lock.txt").read_text()
    assert LOCK.requirements_sha256 == lockfile.sha256_of(ROOT / "requirements.txt")
    assert lockfile.render(list(LOCK.pins), LOCK.requirements_sha256) == text
    for pin in LOCK.pins:
        assert f"{pin.name}=={pin.version} \\\n    --hash=sha256:" in text
        assert len(pin.hashes) == 1


def test_pip_fetches_exactly_the_locked_wheels_into_an_empty_cache(tmp_path) -> None:
    try:
        wheels, lock_bytes = build_dist.locked_wheels(ROOT, tmp_path / "cache", False, print)
    except build_dist.DownloadError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no network: {exc}")
    assert lock_bytes == (ROOT / "requirements-lock.txt").read_bytes()
    assert [lockfile.wheel_key(wheel) for wheel in wheels] == [pin.key for pin in LOCK.pins]
    for wheel, pin in zip(wheels, LOCK.pins, strict=True):
        assert lockfile.sha256_of(wheel) in pin.hashes


def test_parse_rejects_what_is_not_a_pin() -> None:
    with pytest.raises(lockfile.LockError, match="line 2 is not `name==version --hash=...`"):
        lockfile.parse("# header\ntenacity>=9 --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(lockfile.LockError, match="pins nothing"):
        lockfile.parse("# only a comment\n")
