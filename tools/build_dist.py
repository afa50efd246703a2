"""Build the plugin-manager package: `dist/PlexSync.zip` and the source index `dist/index.yml`.

    python -m tools.build_dist [--out dist] [--version X] [--zip-name PlexSync.zip] [--refresh]

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
`<version>-<commit>`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import yaml

from tools import lock as lockfile

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ID = "PlexSync"
MANIFEST = f"{PLUGIN_ID}.yml"
ROOT_FILES = (MANIFEST, "plexsync.py", "errors.py", "LICENSE", "README.md")
OPTIONAL_ROOT_FILES = ("README.md",)  # warned about, not fatal, while the docs are written
PACKAGES = ("plex", "stash", "worker")
VENDOR = "vendor"
DROPPED_DIRS = {"__pycache__", "tests", "test"}
LICENSE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.I)
ZIP_MODE = 0o100644  # a regular file, rw-r--r--: Go's unzip creates files with this mode


class BuildError(Exception):
    """The package cannot be built; the message says why."""


class DownloadError(BuildError):
    """pip could not fetch the runtime dependencies (no network, or no matching wheel)."""


@dataclass(frozen=True)
class Release:
    """What the index says about this build."""

    version: str
    date: datetime  # UTC


@dataclass(frozen=True)
class Vendored:
    """One dependency unpacked into vendor/."""

    name: str
    version: str


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


def plugin_files(root: Path, version: str, warn: Callable[[str], None]) -> dict[str, bytes]:
    """The plugin's own files by zip path: root files and the packages' .py files."""
    files: dict[str, bytes] = {}
    for name in ROOT_FILES:
        path = root / name
        if not path.is_file():
            if name in OPTIONAL_ROOT_FILES:
                warn(f"warning: {name} is missing; the package is built without it")
                continue
            raise BuildError(f"{path} is missing")
        files[name] = path.read_bytes()
    files[MANIFEST] = stamp_manifest(files[MANIFEST], version)
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if DROPPED_DIRS.isdisjoint(relative.parts[:-1]):
                files[relative.as_posix()] = path.read_bytes()
        if f"{package}/__init__.py" not in files:
            raise BuildError(f"{package}/__init__.py is missing")
    for name in ui_files(root):  # what Stash serves at /plugin/PlexSync/javascript and /css
        if not (root / name).is_file():
            raise BuildError(f"{MANIFEST} lists {name} under ui:, but it is missing")
        files[name] = (root / name).read_bytes()
    return files


def ui_files(root: Path) -> list[str]:
    """The manifest's `ui.javascript` and `ui.css` files (URLs are Stash's to fetch, not ours)."""
    ui = read_manifest(root).get("ui") or {}
    names = [*(ui.get("javascript") or []), *(ui.get("css") or [])]
    return [name for name in names if not name.startswith(("http://", "https://"))]


def stamp_manifest(text: bytes, version: str) -> bytes:
    """The manifest with its top-level `version:` set to the release's (Stash shows it)."""
    line = f"version: {json.dumps(version)}".encode()
    stamped, count = re.subn(rb"(?m)^version:[^\r\n]*", lambda _: line, text, count=1)
    if count != 1:
        raise BuildError(f"{MANIFEST} has no top-level version line")
    return stamped


# -- the vendored dependencies


def locked_wheels(
    root: Path, cache: Path, refresh: bool, log: Callable[[str], None]
) -> tuple[list[Path], bytes]:
    """The lock's wheels, each checked against the lock's sha256, and the lock's bytes.

    From the cache when it holds them (with --refresh, never), else fetched by pip."""
    try:
        lock = lockfile.read(root)
        cache.mkdir(parents=True, exist_ok=True)
        found = {pin: None if refresh else lockfile.verified_wheel(pin, cache) for pin in lock.pins}
        missing = [pin for pin, wheel in found.items() if wheel is None]
        if missing:
            _fetch(missing, cache)
            found.update({pin: lockfile.verified_wheel(pin, cache) for pin in missing})
    except lockfile.LockError as exc:
        raise BuildError(str(exc)) from exc
    absent = [f"{pin.name}=={pin.version}" for pin, wheel in found.items() if wheel is None]
    if absent:
        raise DownloadError(f"pip fetched no wheel for {', '.join(absent)}")
    source = f"{len(missing)} fetched by pip" if missing else "all from build/wheels"
    log(f"dependencies: the {len(found)} wheels of {lockfile.LOCK_NAME}, {source}")
    return [found[pin] for pin in lock.pins], (root / lockfile.LOCK_NAME).read_bytes()


def _fetch(pins: list[lockfile.Pin], cache: Path) -> None:
    """Download these pins' wheels in pip's hash-checking mode into the cache."""
    with tempfile.TemporaryDirectory(prefix="plexsync-wheels-") as tmp:
        wanted = Path(tmp) / "wanted.txt"
        # pip reads the pins and their hashes; the header's requirements hash is only a comment
        wanted.write_text(lockfile.render(pins, "-" * 64), encoding="utf-8")
        dest = Path(tmp) / "wheels"
        try:
            lockfile.pip_download(["--no-deps", "--require-hashes", "-r", str(wanted)], dest)
        except lockfile.LockError as exc:
            raise DownloadError(str(exc)) from exc
        for wheel in dest.glob("*.whl"):  # copy, then rename: another build may read it
            partial = cache / f".{wheel.name}.{os.getpid()}"
            shutil.copyfile(wheel, partial)
            partial.replace(cache / wheel.name)


def wheel_identity(wheel: Path) -> Vendored:
    """Name and version from a wheel's file name (`name-version[-build]-py-abi-platform`)."""
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"{wheel.name} is not a wheel file name")
    if parts[-1] != "any" or parts[-2] != "none":
        raise BuildError(f"{wheel.name} is not a pure-Python wheel")
    return Vendored(parts[0], parts[1])


def vendor_files(
    wheels: list[Path], warn: Callable[[str], None]
) -> tuple[dict[str, bytes], list[Vendored]]:
    """The wheels' runtime files under vendor/, by zip path, and what was vendored."""
    files: dict[str, bytes] = {}
    owners: dict[str, str] = {}
    vendored = []
    for wheel in wheels:
        identity = wheel_identity(wheel)
        vendored.append(identity)
        with zipfile.ZipFile(wheel) as archive:
            for entry in archive.infolist():
                target = _vendor_path(entry.filename, warn)
                if target is None:
                    continue
                data = archive.read(entry)
                if target.endswith(".dist-info/METADATA"):
                    data = _metadata_headers(data)
                if target in owners and files[target] != data:
                    raise BuildError(f"{wheel.name} and {owners[target]} both ship {target}")
                files[target], owners[target] = data, wheel.name
    return files, vendored


def _vendor_path(name: str, warn: Callable[[str], None]) -> str | None:
    """Where a wheel entry goes under vendor/, or None when it is not needed at run time."""
    if name.endswith("/"):
        return None
    path = PurePosixPath(name)
    top = path.parts[0]
    if top.endswith(".data"):  # purelib/platlib install into site-packages; the rest do not
        if len(path.parts) < 3 or path.parts[1] not in ("purelib", "platlib"):
            return None
        path = PurePosixPath(*path.parts[2:])
    elif top.endswith(".dist-info"):
        keep = path.name == "METADATA" or LICENSE_NAME.match(path.name) or "licenses" in path.parts
        return f"{VENDOR}/{name}" if keep else None
    if not DROPPED_DIRS.isdisjoint(path.parts[:-1]) or path.name == "conftest.py":
        return None
    if path.suffix in (".pyc", ".pyo", ".exe"):
        return None
    if path.suffix in (".yml", ".yaml"):  # Stash would load it as a plugin manifest
        warn(f"warning: dropped {name} from vendor/ (Stash loads every .yml in plugins)")
        return None
    return f"{VENDOR}/{path.as_posix()}"


def _metadata_headers(data: bytes) -> bytes:
    """A METADATA file without its long description: importlib.metadata reads the headers."""
    head, _, _ = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    return head + b"\n"


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
) -> BuildResult:
    """Build the zip and the index into `out` (wheels cached in `cache`, default build/wheels)."""
    manifest = read_manifest(root)
    release = release_info(root, str(manifest["version"]), version)
    files = plugin_files(root, release.version, log)
    refuse_untracked(root, sorted(files))
    wheels, lock_bytes = locked_wheels(root, cache or root / "build" / "wheels", refresh, log)
    vendored_files, vendored = vendor_files(wheels, log)
    files.update(vendored_files)
    files[f"{VENDOR}/{lockfile.LOCK_NAME}"] = lock_bytes
    lock_sha256 = hashlib.sha256(lock_bytes).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / zip_name
    partial = zip_path.with_name(zip_path.name + ".partial")
    comment = f"{lockfile.LOCK_NAME} sha256: {lock_sha256}".encode()
    names = write_zip(partial, files, release.date, comment)
    check_contents(names)
    partial.replace(zip_path)
    sha256 = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    index_path = out / "index.yml"
    index = index_yaml(manifest, release, zip_name, sha256, lock_sha256)
    index_path.write_text(index, encoding="utf-8", newline="\n")
    return BuildResult(zip_path, index_path, release, vendored, names, sha256, lock_sha256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_dist", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output folder (dist)")
    parser.add_argument("--version", help="the release's version (default: manifest-commit)")
    parser.add_argument("--zip-name", default=f"{PLUGIN_ID}.zip", help="zip file name")
    parser.add_argument("--refresh", action="store_true", help="ask the index, not the cache")
    args = parser.parse_args(argv)
    try:
        result = build(Path(args.out), args.version, args.zip_name, refresh=args.refresh)
    except BuildError as exc:
        print(f"build_dist: {exc}", file=sys.stderr)
        return 1
    plugin = sum(1 for name in result.files if not name.startswith(f"{VENDOR}/"))
    print(f"{result.zip_path}: {result.size / 1024:.0f} KiB, {len(result.files)} files")
    print(f"  version {result.release.version}, dated {result.release.date:%Y-%m-%d %H:%M:%S}")
    print(f"  {plugin} plugin files; vendored:")
    for item in result.vendored:
        print(f"    {item.name} {item.version}")
    print(f"  {lockfile.LOCK_NAME} sha256 {result.lock_sha256}")
    print(f"{result.index_path}: sha256 {result.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
