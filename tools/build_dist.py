"""Build the plugin-manager package: `dist/PlexSync.zip` and the source index `dist/index.yml`.

    python -m tools.build_dist [--out dist] [--version X] [--zip-name PlexSync.zip] [--refresh]
                               [--url https://github.com/OWNER/REPOSITORY]

Stash's plugin manager (pkg/pkg) reads a source index: a YAML list of packages with `id`,
`name`, `metadata`, `version`, `date` ("YYYY-MM-DD HH:MM:SS", UTC; an installed package is
upgradable when the index's date is later), `path` (of the zip, relative to the index) and
`sha256` (checked before installing). It unpacks the zip into `<plugins>/<id>/`; an upgrade
deletes the files the old zip installed and unpacks the new one.

So the zip holds everything the plugin needs on a Python with nothing but the standard library:
the runtime dependencies are unpacked from pure-Python wheels into `vendor/`, which plexsync.py
puts first on sys.path. Stash loads every `.yml` under its plugins folder, so the zip holds
exactly one (the manifest) and a `.yml`/`.yaml` file of a dependency is dropped. Entries are
sorted, stamped with the commit's time and mode 0644, so a clean checkout builds the same bytes.

What is vendored comes from the lock (tools/lock.py, `requirements-lock.txt`), never from
requirements.txt's ranges: each locked wheel is taken from the cache `build/wheels` when a file
of that name and version is there, else fetched by pip in hash-checking mode. A wheel whose
sha256 the lock does not list is refused, a wheel the lock does not name is never read, and the
lock itself ships as `vendor/requirements-lock.txt` with its sha256 in the zip's comment and in
index.yml. Only files git tracks are shipped: an untracked source file is refused (a tracked
file with uncommitted changes is built, with `-dirty` in the version). A commit tagged
`v<manifest version>` builds as that plain version (a release); any other as
`<version>-<commit>`. `--url` sets the shipped manifest's `url:` (the Publish workflow passes
the repository it runs in; the repository itself names no address). A symbolic link among the
shipped files is refused: git keeps the link, so the zip would hold what it points at.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from tools import lock as lockfile

# The checkout's side (the plugin's files, the version) and the lock's (vendor/) are their own
# modules; their names stay importable from here, where the tests and other callers import them.
from tools.dist_checkout import (
    DROPPED_DIRS,
    MANIFEST,
    OPTIONAL_ROOT_FILES,
    PACKAGES,
    PLUGIN_ID,
    ROOT_FILES,
    BuildError,
    Release,
    plugin_files,
    read_manifest,
    refuse_untracked,
    release_info,
    stamp_manifest,
    ui_files,
)
from tools.dist_vendor import (
    LICENSE_NAME,
    VENDOR,
    DownloadError,
    Vendored,
    locked_wheels,
    vendor_files,
    wheel_identity,
)

__all__ = [
    "DROPPED_DIRS",
    "LICENSE_NAME",
    "MANIFEST",
    "OPTIONAL_ROOT_FILES",
    "PACKAGES",
    "PLUGIN_ID",
    "ROOT",
    "ROOT_FILES",
    "VENDOR",
    "ZIP_MODE",
    "BuildError",
    "BuildResult",
    "DownloadError",
    "Release",
    "Vendored",
    "build",
    "check_contents",
    "index_yaml",
    "locked_wheels",
    "main",
    "plugin_files",
    "read_manifest",
    "refuse_untracked",
    "release_info",
    "stamp_manifest",
    "ui_files",
    "vendor_files",
    "wheel_identity",
    "write_zip",
]

ROOT = Path(__file__).resolve().parent.parent
ZIP_MODE = 0o100644  # a regular file, rw-r--r--: Go's unzip creates files with this mode


@dataclass(frozen=True)
class BuildResult:
    zip_path: Path
    index_path: Path
    release: Release
    vendored: list[Vendored]
    files: list[str]  # the zip's entries, in order
    sha256: str
    lock_sha256: str

    @property
    def size(self) -> int:
        return self.zip_path.stat().st_size


# -- the package and the index


def write_zip(path: Path, files: dict[str, bytes], date: datetime, comment: bytes) -> list[str]:
    """Write the zip: sorted entries, one timestamp, mode 0644, no directory entries."""
    stamp = max(date, datetime(1980, 1, 1, tzinfo=timezone.utc)).timetuple()[:6]
    names = sorted(files)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.comment = comment
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = ZIP_MODE << 16
            archive.writestr(info, files[name])
    return names


def check_contents(names: list[str]) -> None:
    """What must hold whatever the dependencies ship: one .yml, no caches, no tests."""
    manifests = [n for n in names if n.endswith((".yml", ".yaml"))]
    if manifests != [MANIFEST]:
        raise BuildError(f"the package must hold exactly one .yml ({MANIFEST}), not {manifests}")
    for name in names:
        parts = PurePosixPath(name).parts
        if not DROPPED_DIRS.isdisjoint(parts) or name.endswith((".pyc", ".pyo")):
            raise BuildError(f"the package must not hold {name}")


def index_yaml(
    manifest: dict, release: Release, zip_name: str, sha256: str, lock_sha256: str
) -> str:
    """The source index Stash's plugin manager reads (strings JSON-quoted: valid YAML).

    The lock's hash is a comment: Stash's index has no field for it."""
    q = json.dumps
    return (
        f"# {lockfile.LOCK_NAME} sha256: {lock_sha256}\n"
        f"- id: {PLUGIN_ID}\n"
        f"  name: {q(str(manifest['name']))}\n"
        f"  metadata:\n"
        f"    description: {q(str(manifest['description']).strip())}\n"
        f"  version: {q(release.version)}\n"
        f"  date: {q(release.date.strftime('%Y-%m-%d %H:%M:%S'))}\n"
        f"  path: {q(zip_name)}\n"
        f"  sha256: {q(sha256)}\n"
    )


def build(
    out: Path,
    version: str | None = None,
    zip_name: str = f"{PLUGIN_ID}.zip",
    root: Path = ROOT,
    refresh: bool = False,
    log: Callable[[str], None] = print,
    cache: Path | None = None,
    url: str | None = None,
) -> BuildResult:
    """Build the zip and the index into `out` (wheels cached in `cache`, default build/wheels)."""
    manifest = read_manifest(root)
    release = release_info(root, str(manifest["version"]), version)
    files = plugin_files(root, release.version, log, url)
    refuse_untracked(root, sorted(files))
    wheels, lock_bytes = locked_wheels(root, cache or root / "build" / "wheels", refresh, log)
    vendored_files, vendored = vendor_files(wheels, log)
    files.update(vendored_files)
    files[f"{VENDOR}/{lockfile.LOCK_NAME}"] = lock_bytes
    lock_sha256 = hashlib.sha256(lock_bytes).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / zip_name
    names = _write_checked_zip(zip_path, files, release.date, lock_sha256)
    sha256 = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    index_path = out / "index.yml"
    index = index_yaml(manifest, release, zip_name, sha256, lock_sha256)
    index_path.write_text(index, encoding="utf-8", newline="\n")
    return BuildResult(zip_path, index_path, release, vendored, names, sha256, lock_sha256)


def _write_checked_zip(
    zip_path: Path, files: dict[str, bytes], date: datetime, lock_sha256: str
) -> list[str]:
    """Write the zip beside its final name and move it there only once its entries pass
    check_contents: a refused build never leaves a zip an index could point at."""
    partial = zip_path.with_name(zip_path.name + ".partial")
    comment = f"{lockfile.LOCK_NAME} sha256: {lock_sha256}".encode()
    names = write_zip(partial, files, date, comment)
    check_contents(names)
    partial.replace(zip_path)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_dist", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output folder (dist)")
    parser.add_argument("--version", help="the release's version (default: manifest-commit)")
    parser.add_argument("--zip-name", default=f"{PLUGIN_ID}.zip", help="zip file name")
    parser.add_argument("--refresh", action="store_true", help="ask the index, not the cache")
    parser.add_argument("--url", help="the manifest's url: the repository the release is from")
    args = parser.parse_args(argv)
    try:
        result = build(
            Path(args.out), args.version, args.zip_name, refresh=args.refresh, url=args.url
        )
    except BuildError as exc:
        print(f"build_dist: {exc}", file=sys.stderr)
        return 1
    _report(result)
    return 0


def _report(result: BuildResult) -> None:
    """What was built, for the person who ran the build."""
    plugin = sum(1 for name in result.files if not name.startswith(f"{VENDOR}/"))
    print(f"{result.zip_path}: {result.size / 1024:.0f} KiB, {len(result.files)} files")
    print(f"  version {result.release.version}, dated {result.release.date:%Y-%m-%d %H:%M:%S}")
    print(f"  {plugin} plugin files; vendored:")
    for item in result.vendored:
        print(f"    {item.name} {item.version}")
    print(f"  {lockfile.LOCK_NAME} sha256 {result.lock_sha256}")
    print(f"{result.index_path}: sha256 {result.sha256}")


if __name__ == "__main__":
    sys.exit(main())
