"""Plugin settings -> one frozen `PlexSyncConfig`, validated once.

Stash returns only the keys a user has saved, and its UI shows an unsaved BOOLEAN/NUMBER/STRING
as false/0/"", so an absent, empty or zero value always means the documented default, and every
boolean is phrased so that false is the safe choice. The community PlexSync plugin's keys
(`plexHost`, `plexPort`) are read as fallbacks for `plexUrl`.

Every setting in PlexSync.yml maps to exactly one field here (a test checks both ways).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
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


# setting key -> the PlexSyncConfig field (or nested field) it sets: the one place for both.
SETTING_FIELDS = {
    "plexUrl": "plex_url",
    "plexToken": "plex_token",
    "plexLibraries": "libraries",
    "pathMap": "path_map",
    "connectTimeout": "timeouts.connect",
    "readTimeout": "timeouts.read",
    "failAfterHours": "http_retry.give_up_after",
    "partialLibrary": "partial_library",
    "allowInsecureTls": "verify_tls",
    "scanMissing": "options.scan_missing",
    "skipCovers": "options.skip_covers",
    "tagsAsLabels": "options.tags_as_labels",
    "studioCollections": "options.studio_collections",
    "syncRating": "options.sync_rating",
    "skipUnorganized": "options.skip_unorganized",
    "ignoreTags": "options.ignore_tags",
    "plexWebUrl": "plex_web_url",
    "importActivity": "import_activity",
    "activityAccounts": "activity_accounts",
}
LEGACY_KEYS = ("plexHost", "plexPort")


def load_config(settings: dict | None) -> PlexSyncConfig:
    """Build the config from saved plugin settings; ConfigError lists every problem at once."""
    settings = settings or {}
    problems: list[str] = []
    url = _plex_url(settings, problems)
    token = _text(settings.get("plexToken"))
    if url and not token:
        problems.append("plexToken is empty: copy your X-Plex-Token into the plugin settings")
    try:
        path_map = PathMap.parse(_text(settings.get("pathMap")))
    except ConfigError as exc:
        problems.append(str(exc))
        path_map = PathMap()
    connect = _seconds(settings, "connectTimeout", Timeouts.connect, problems)
    read = _seconds(settings, "readTimeout", Timeouts.read, problems)
    default_hours = HTTP_RETRY.give_up_after / HOURS
    give_up = _seconds(settings, "failAfterHours", default_hours, problems) * HOURS
    web = _web_url(_text(settings.get("plexWebUrl")), problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return PlexSyncConfig(
        plex_url=url,
        plex_token=token,
        libraries=tuple(_names(settings.get("plexLibraries"))),
        path_map=path_map,
        timeouts=Timeouts(connect=connect, read=read),
        verify_tls=not _flag(settings.get("allowInsecureTls")),
        http_retry=replace(HTTP_RETRY, give_up_after=give_up),
        not_found_retry=replace(NOT_FOUND_RETRY, give_up_after=give_up),
        partial_library=_flag(settings.get("partialLibrary")),
        options=SyncOptions(
            tags_as_labels=_flag(settings.get("tagsAsLabels")),
            studio_collections=_flag(settings.get("studioCollections")),
            sync_rating=_flag(settings.get("syncRating")),
            skip_unorganized=_flag(settings.get("skipUnorganized")),
            ignore_tags=frozenset(n.casefold() for n in _names(settings.get("ignoreTags"))),
            skip_covers=_flag(settings.get("skipCovers")),
            scan_missing=_flag(settings.get("scanMissing")),
        ),
        plex_web_url=web,
        import_activity=_flag(settings.get("importActivity")),
        activity_accounts=tuple(_names(settings.get("activityAccounts"))),
    )


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
