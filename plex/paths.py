"""File paths as Plex sees them: normalisation and the user's Stash -> Plex prefix map.

Paths differ between Stash and Plex for ordinary reasons: Docker mounts, Windows drive letters
and backslashes, the `\\\\?\\` long-path prefix, Unicode NFD from macOS filesystems, case, and
trailing slashes. Both sides are normalised the same way before any comparison.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from errors import ConfigError
from setting_names import setting

_DRIVE = re.compile(r"^([a-zA-Z]):(/|$)")


def normalize(path: str) -> str:
    """One spelling per file: `/` separators, NFC, upper-case drive, no long-path prefix."""
    path = unicodedata.normalize("NFC", path.strip())
    path = path.replace("\\", "/")
    if path.startswith("//?/UNC/"):
        path = "//" + path[len("//?/UNC/") :]
    elif path.startswith("//?/"):
        path = path[len("//?/") :]
    unc = path.startswith("//")
    path = re.sub(r"/{2,}", "/", path)
    if unc:
        path = "/" + path
    path = _DRIVE.sub(lambda m: m.group(1).upper() + ":" + m.group(2), path)
    if len(path) > 1 and path.endswith("/") and not _DRIVE.fullmatch(path):
        path = path.rstrip("/") or "/"
    return path


def basename(path: str) -> str:
    """The file name of a normalised path."""
    return path.rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    """The folder of a normalised path."""
    head = path.rsplit("/", 1)[0]
    return head or "/"


@dataclass(frozen=True)
class PathMap:
    """Ordered `stashPrefix => plexPrefix` rules; the longest matching prefix wins."""

    rules: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> PathMap:
        """Read the `pathMap` setting: pairs `a=>b` separated by `;` (empty means none)."""
        rules = []
        for number, pair in enumerate(p for p in (text or "").split(";") if p.strip()):
            stash, sep, plex = pair.partition("=>")
            if not sep or not stash.strip() or not plex.strip() or "=>" in plex:
                raise ConfigError(
                    f"{setting('pathMap')} rule {number + 1} ({pair.strip()!r}) is not "
                    "stashPrefix=>plexPrefix: write each rule as Stash's folder, =>, Plex's "
                    "folder, rules separated by semicolons, e.g. /data=>/media"
                )
            rules.append((normalize(stash), normalize(plex)))
        rules.sort(key=lambda rule: len(rule[0]), reverse=True)
        return cls(tuple(rules))

    def to_plex(self, stash_path: str) -> str:
        """The normalised path Plex should report for a Stash file."""
        path = normalize(stash_path)
        for stash_prefix, plex_prefix in self.rules:
            if _under(path, stash_prefix):
                rest = path[len(stash_prefix) :].lstrip("/")
                # rstrip: a rule onto "/" gives "/a.mp4", not "//a.mp4" (a share's spelling)
                return normalize(f"{plex_prefix.rstrip('/')}/{rest}") if rest else plex_prefix
        return path


def _under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or inside it (whole path components, any case on drives)."""
    if prefix in ("/", ""):
        return path.startswith("/")
    if _DRIVE.match(prefix):
        path, prefix = path.lower(), prefix.lower()
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def suggest_rule(stash_path: str, plex_path: str) -> str:
    """The pathMap rule that would have mapped one file directly (longest common tail kept)."""
    stash_parts = normalize(stash_path).split("/")
    plex_parts = normalize(plex_path).split("/")
    common = 0
    while (
        common < min(len(stash_parts), len(plex_parts)) - 1
        and stash_parts[-1 - common].lower() == plex_parts[-1 - common].lower()
    ):
        common += 1
    stash_prefix = "/".join(stash_parts[: len(stash_parts) - common]) or "/"
    plex_prefix = "/".join(plex_parts[: len(plex_parts) - common]) or "/"
    return f"{stash_prefix}=>{plex_prefix}"
