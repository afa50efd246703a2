"""The lock file: exactly which wheels the plugin zip vendors, each with its sha256.

    python -m tools.lock        (or `python3 dev.py lock`): rewrite requirements-lock.txt

requirements.txt says which versions the plugin works with; requirements-lock.txt says which
files a build puts in vendor/: one pure-Python (`py3-none-any`) wheel per distribution, as pip
resolves requirements.txt for the oldest supported Python, in pip's hash-checking form, so
`pip download --no-deps --require-hashes -r requirements-lock.txt` fetches the same bytes.
Its header carries requirements.txt's sha256: a build can tell that the lock is older than
the requirements it was made from, and says so instead of shipping something else.
Standard library only, so it runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = "requirements-lock.txt"
# The oldest Python the plugin supports (pyproject's requires-python): wheels must suit it.
MIN_PYTHON = "3.10"
PIP_TIMEOUT = 600
PURE_WHEELS = (
    "--disable-pip-version-check",
    "--only-binary=:all:",
    *("--platform", "any", "--python-version", MIN_PYTHON),
    *("--implementation", "py", "--abi", "none"),
)
_HEADER_SHA = re.compile(r"^# requirements\.txt sha256: ([0-9a-f]{64})$", re.M)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)((?:\s+--hash=sha256:[0-9a-f]{64})+)$")


class LockError(Exception):
    """The lock is missing, malformed, out of date, or a wheel does not match it."""


@dataclass(frozen=True)
class Pin:
    """One locked distribution: `name==version` and the sha256 of its wheel."""

    name: str
    version: str
    hashes: frozenset[str]

    @property
    def key(self) -> tuple[str, str]:
        return canonical(self.name), self.version


@dataclass(frozen=True)
class Lock:
    pins: tuple[Pin, ...]
    requirements_sha256: str | None


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it (`stashapp_tools` is `stashapp-tools`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_key(wheel: Path) -> tuple[str, str] | None:
    """(name, version) from a wheel's file name, or None when it is no wheel's name."""
    parts = wheel.name[: -len(".whl")].split("-") if wheel.name.endswith(".whl") else []
    return (canonical(parts[0]), parts[1]) if len(parts) in (5, 6) else None


def parse(text: str) -> Lock:
    """Read a lock written by `render` (or by hand in the same form)."""
    found = _HEADER_SHA.search(text)
    logical = re.sub(r"\\\r?\n", " ", text)
    pins = []
    for number, line in enumerate(logical.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if not match:
            raise LockError(f"{LOCK_NAME}: line {number} is not `name==version --hash=...`")
        hashes = frozenset(re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
        pins.append(Pin(match.group(1), match.group(2), hashes))
    if not pins:
        raise LockError(f"{LOCK_NAME} pins nothing")
    return Lock(tuple(pins), found.group(1) if found else None)


def render(pins: list[Pin], requirements_sha256: str) -> str:
    """The lock file's text: a header that says where it comes from, then sorted pins."""
    lines = [
        "# The exact wheels `python3 dev.py dist` vendors into PlexSync.zip: pure-Python",
        f"# (py3-none-any) wheels resolved for Python {MIN_PYTHON}, with their sha256.",
        "# Generated from requirements.txt by `python3 dev.py lock`; do not edit by hand.",
        f"# requirements.txt sha256: {requirements_sha256}",
    ]
    for pin in sorted(pins, key=lambda p: p.key):
        hashes = [f"--hash=sha256:{digest}" for digest in sorted(pin.hashes)]
        lines.append(f"{pin.name}=={pin.version} \\")
        lines += [f"    {option} \\" for option in hashes[:-1]]
        lines.append(f"    {hashes[-1]}")
    return "\n".join(lines) + "\n"


def read(root: Path) -> Lock:
    """The repository's lock, checked against its requirements.txt."""
    path = root / LOCK_NAME
    if not path.is_file():
        raise LockError(f"{LOCK_NAME} is missing: run `python3 dev.py lock`")
    lock = parse(path.read_text(encoding="utf-8"))
    wanted = sha256_of(root / "requirements.txt")
    if lock.requirements_sha256 != wanted:
        raise LockError(
            f"{LOCK_NAME} was not made from this requirements.txt: run `python3 dev.py lock`"
        )
    return lock


def verified_wheel(pin: Pin, folder: Path) -> Path | None:
    """The wheel for `pin` in `folder`, or None if there is none; a wrong hash is an error.

    Refusing rather than fetching again: a cached wheel that changed is worth a look."""
    for wheel in sorted(folder.glob("*.whl")):
        if wheel_key(wheel) != pin.key:
            continue
        digest = sha256_of(wheel)
        if digest not in pin.hashes:
            raise LockError(
                f"{wheel}: sha256 {digest} is not in {LOCK_NAME} "
                f"({pin.name}=={pin.version}); delete it and build again"
            )
        return wheel
    return None


def pip_download(arguments: list[str], dest: Path) -> None:
    """Run `pip download` for pure-Python wheels into `dest`; its error tail on failure."""
    command = [sys.executable, "-m", "pip", "download", *PURE_WHEELS, *arguments, "-d", str(dest)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LockError(f"pip could not run: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise LockError(f"pip download failed (exit {done.returncode}):\n{tail}")


def generate(requirements: Path) -> str:
    """Resolve requirements.txt from the package index and render the lock for it."""
    with tempfile.TemporaryDirectory(prefix="plexsync-lock-") as tmp:
        pip_download(["-r", str(requirements)], Path(tmp))
        pins = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            pins.append(Pin(canonical(name), version, frozenset({sha256_of(wheel)})))
    if not pins:
        raise LockError("pip download produced no wheel")
    return render(pins, sha256_of(requirements))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__)
    parser.add_argument("--root", default=str(ROOT), help="the repository (default: this one)")
    root = Path(parser.parse_args(argv).root)
    try:
        text = generate(root / "requirements.txt")
    except LockError as exc:
        print(f"lock: {exc}", file=sys.stderr)
        return 1
    partial = root / f".{LOCK_NAME}.partial"
    partial.write_text(text, encoding="utf-8", newline="\n")
    partial.replace(root / LOCK_NAME)  # whole or not at all
    print(f"{root / LOCK_NAME}: {len(parse(text).pins)} wheels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
