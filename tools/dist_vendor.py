"""What the lock gives the package: its pure-Python wheels, checked and unpacked into vendor/.

Part of `python -m tools.build_dist` (its docstring tells the whole build). Only the wheels
requirements-lock.txt names are read, each checked against the lock's sha256.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tools import lock as lockfile
from tools.dist_checkout import DROPPED_DIRS, BuildError

VENDOR = "vendor"
LICENSE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.I)


class DownloadError(BuildError):
    """pip could not fetch the runtime dependencies (no network, or no matching wheel)."""


@dataclass(frozen=True)
class Vendored:
    """One dependency unpacked into vendor/."""

    name: str
    version: str


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
