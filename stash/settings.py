"""Plugin settings -> one frozen `PlexSyncConfig`, validated once.

Stash returns only the keys a user has saved, and its UI shows an unsaved BOOLEAN/NUMBER/STRING
as false/0/"", so an absent, empty or zero value always means the documented default, and every
boolean is phrased so that false is the safe choice. The community PlexSync plugin's keys
(`plexHost`, `plexPort`) are read as fallbacks for `plexUrl`.

Every setting in PlexSync.yml maps to exactly one field here (a test checks both ways).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from errors import ConfigError
from plex.paths import PathMap
from plex.timeouts import Timeouts


@dataclass(frozen=True)
class Backoff:
    """Delays for one kind of retry: first, doubling to cap, given up after give_up_after."""

    first: float
    cap: float
    give_up_after: float | None  # seconds since the first failure; None = never

    def delay(self, attempts: int) -> float:
        """Delay before the next try after `attempts` failures (jitter is added by the caller)."""
        return min(self.cap, self.first * (2 ** max(0, attempts - 1)))


HOURS = 3600.0
# The two retry schedules (DESIGN §4), stated once: `failAfterHours` sets their horizon.
HTTP_RETRY = Backoff(30, 1800, 24 * HOURS)  # Plex answered an error: 30 s doubling to 30 min
NOT_FOUND_RETRY = Backoff(30, 3600, 24 * HOURS)  # Plex may still be scanning: up to 1 h


@dataclass(frozen=True)
class SyncOptions:
    """Optional mappings, each off unless the user turns it on."""

    tags_as_labels: bool = False
    studio_collections: bool = False
    sync_rating: bool = False
    skip_unorganized: bool = False
    ignore_tags: frozenset[str] = frozenset()
    skip_covers: bool = False
    scan_missing: bool = False
    max_cover_bytes: int = 10_000_000  # Plex refuses an upload over about 10 MB


# Plex's hosted web app opens any server the signed-in user can reach, whatever plexUrl is.
PLEX_WEB_DEFAULT = "https://app.plex.tv/desktop"


@dataclass(frozen=True)
class PlexSyncConfig:
    """Everything the worker needs to know about the user's choices."""

    plex_url: str = ""
    plex_token: str = field(default="", repr=False)
    libraries: tuple[str, ...] = ()
    path_map: PathMap = PathMap()
    timeouts: Timeouts = Timeouts()
    verify_tls: bool = True
    http_retry: Backoff = HTTP_RETRY
    not_found_retry: Backoff = NOT_FOUND_RETRY
    partial_library: bool = False  # files missing from Plex are given up quietly, not failed
    options: SyncOptions = SyncOptions()
    plex_web_url: str = PLEX_WEB_DEFAULT  # the browser's Plex address, for Open-in-Plex links
    import_activity: bool = False  # Plex -> Stash plays and resume points, opt-in (DESIGN §8)
    activity_accounts: tuple[str, ...] = ()  # Plex account names or ids; empty: the owner

    @property
    def configured(self) -> bool:
        return bool(self.plex_url and self.plex_token)

    def token_fingerprint(self) -> str:
        """Tells tokens apart without storing one (token failures retry when it changes)."""
        return hashlib.sha256(b"plexsync-token:" + self.plex_token.encode()).hexdigest()[:16]


LEGACY_KEYS = ("plexHost", "plexPort")


def load_config(settings: dict | None) -> PlexSyncConfig:
    """Build the config from saved plugin settings; ConfigError lists every problem at once."""
    reading = _Reading(settings or {})
    for key, (path, reader) in SETTINGS.items():  # in table order: the url before the token
        reading.values[path] = reader(reading, key)
    if reading.problems:
        raise ConfigError("; ".join(reading.problems))
    return _config(reading.values)


@dataclass
class _Reading:
    """One pass over the saved settings: the values read so far and every problem found."""

    settings: dict
    problems: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # field path -> value

    def text(self, key: str) -> str:
        return _text(self.settings.get(key))


def _config(values: dict[str, Any]) -> PlexSyncConfig:
    """The config from field paths: `timeouts.read` goes into the Timeouts, and so on."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, _, name = path.partition(".")
        if name:
            nested.setdefault(head, {})[name] = value
        else:
            top[head] = value
    give_up = nested["http_retry"]["give_up_after"]  # one horizon for both schedules
    return PlexSyncConfig(
        **top,
        timeouts=Timeouts(**nested["timeouts"]),
        http_retry=replace(HTTP_RETRY, give_up_after=give_up),
        not_found_retry=replace(NOT_FOUND_RETRY, give_up_after=give_up),
        options=SyncOptions(**nested["options"]),
    )


# -- how each setting is read: (reading, key) -> the field's value


def _read_url(reading: _Reading, key: str) -> str:
    return _plex_url(reading.settings, reading.problems)


def _read_token(reading: _Reading, key: str) -> str:
    token = reading.text(key)
    if reading.values["plex_url"] and not token:  # a bad url is its own problem, not this one
        reading.problems.append(
            "plexToken is empty: copy your X-Plex-Token into the plugin settings"
        )
    return token


def _read_path_map(reading: _Reading, key: str) -> PathMap:
    try:
        return PathMap.parse(reading.text(key))
    except ConfigError as exc:
        reading.problems.append(str(exc))
        return PathMap()


def _read_duration(default: float, unit: float = 1.0) -> Callable[[_Reading, str], float]:
    """A reader of a duration saved in `unit`s (seconds, or HOURS), returned in seconds; an
    absent, empty or zero value means `default` (in seconds: the field's own default)."""
    return lambda reading, key: (
        _seconds(reading.settings, key, default / unit, reading.problems) * unit
    )


def _read_flag(reading: _Reading, key: str) -> bool:
    return _flag(reading.settings.get(key))


def _read_unflag(reading: _Reading, key: str) -> bool:
    """A setting phrased so that false is safe, for a field phrased the other way round."""
    return not _read_flag(reading, key)


def _read_names(reading: _Reading, key: str) -> tuple[str, ...]:
    return tuple(_names(reading.settings.get(key)))


def _read_tags(reading: _Reading, key: str) -> frozenset[str]:
    return frozenset(n.casefold() for n in _names(reading.settings.get(key)))


def _read_web_url(reading: _Reading, key: str) -> str:
    return _web_url(reading.text(key), reading.problems)


def _read_megabytes(reading: _Reading, key: str) -> int:
    """A size saved in MB (10^6 bytes), returned in bytes; absent, empty or 0: the default."""
    default = SyncOptions.max_cover_bytes
    return round(_seconds(reading.settings, key, default / 1e6, reading.problems) * 1e6)


# setting key -> (the PlexSyncConfig field or nested field it sets, how it is read): the one
# place for both. The defaults are the fields' own: each reader falls back to them.
SETTINGS: dict[str, tuple[str, Callable[[_Reading, str], Any]]] = {
    "plexUrl": ("plex_url", _read_url),
    "plexToken": ("plex_token", _read_token),
    "plexLibraries": ("libraries", _read_names),
    "pathMap": ("path_map", _read_path_map),
    "connectTimeout": ("timeouts.connect", _read_duration(Timeouts.connect)),
    "readTimeout": ("timeouts.read", _read_duration(Timeouts.read)),
    "failAfterHours": ("http_retry.give_up_after", _read_duration(HTTP_RETRY.give_up_after, HOURS)),
    "partialLibrary": ("partial_library", _read_flag),
    "allowInsecureTls": ("verify_tls", _read_unflag),
    "scanMissing": ("options.scan_missing", _read_flag),
    "skipCovers": ("options.skip_covers", _read_flag),
    "maxCoverMB": ("options.max_cover_bytes", _read_megabytes),
    "tagsAsLabels": ("options.tags_as_labels", _read_flag),
    "studioCollections": ("options.studio_collections", _read_flag),
    "syncRating": ("options.sync_rating", _read_flag),
    "skipUnorganized": ("options.skip_unorganized", _read_flag),
    "ignoreTags": ("options.ignore_tags", _read_tags),
    "plexWebUrl": ("plex_web_url", _read_web_url),
    "importActivity": ("import_activity", _read_flag),
    "activityAccounts": ("activity_accounts", _read_names),
}
SETTING_FIELDS = {key: path for key, (path, _) in SETTINGS.items()}


def _plex_url(settings: dict, problems: list[str]) -> str:
    url = _text(settings.get("plexUrl"))
    if not url and _text(settings.get("plexHost")):
        host = _text(settings.get("plexHost"))
        port = _text(settings.get("plexPort")) or "32400"
        url = host if "://" in host else f"http://{host}:{port}"
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            f"plexUrl {url!r} needs a scheme and a host, e.g. http://192.168.1.10:32400"
        )
        return ""
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        problems.append(f"plexUrl {url!r} has an invalid port")
        return ""
    return url.rstrip("/")


def _web_url(url: str, problems: list[str]) -> str:
    if not url:
        return PLEX_WEB_DEFAULT
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"plexWebUrl {url!r} needs a scheme and a host, e.g. {PLEX_WEB_DEFAULT}")
        return PLEX_WEB_DEFAULT
    return url.rstrip("/")


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _names(value) -> list[str]:
    return [name.strip() for name in _text(value).split(",") if name.strip()]


def _seconds(settings: dict, key: str, default: float, problems: list[str]) -> float:
    raw = settings.get(key)
    if raw in (None, "", 0, "0"):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        problems.append(f"{key} must be a number, not {raw!r}")
        return default
    if value < 0:
        problems.append(f"{key} must not be negative (got {value:g})")
        return default
    return value
